"""Learned priors vs the best classical methods (issue 17): Levin synthetic, BSD68/Kodak24 with
unseen kernels per family (incl. 1x1), colour, CPU seconds per megapixel.

Protocol (every method gets the true noise σ; nothing is tuned on the test images)
--------
1. **Levin synthetic** (comparable with published learned methods): Levin's 4 sharp images
   (8-bit values as intensities, as in the papers) x 8 kernels, ``valid`` blur, Gaussian σ =
   2.55/255 and 7.65/255 (seeded); PSNR on the 15-px interior and on the full observed frame.
2. **BSD68 / Kodak24, unseen kernels** (linear light, gray): image ``i`` with kernel ``i mod n``
   of each family of the project's banks (``camera_shake``, ``mixed``, ``defocus``; training draws
   fresh kernels from the generators with other seeds) and the 1x1 identity, ``valid`` blur,
   σ ∈ {0.01, 0.03}; PSNR on the observed frame. Kodak24 uses the central 256 x 256 crop.
3. **Colour** (CBSD68, linear light): camera-shake kernels, σ = 0.01; joint colour PnP vs the
   gray model per channel vs ``hqs-hl``; *false colour* = mean |c - mean_c| of the restored
   image on pixels whose sharp value is neutral (channel spread < 0.01), minus the same on the
   sharp image (0 = no false colour).
4. **Speed**: CPU seconds per megapixel (512 x 512 gray, 25 px kernel), side by side in one run.

Targets (issue 17): Levin interior >= 33.2 / 29.5 dB; BSD68 σ=0.01 best learned >= best
classical + 1.5 dB; never below ``hqs-hl`` by > 0.3 dB on any family incl. 1x1; <= 1 s/MP.

Run::

    python benchmarks/learned_nonblind.py [--data ../shared/data] [--out bench_out/learned_nonblind.json]
        [--sections levin,bsd68,kodak24,colour,speed] [--limit 12] [--methods hqs-hl,wiener,pnp-drunet,...]

``--methods`` also takes ``pnp-drunet/x8-last`` (pnp-drunet with the x8 self-ensemble on its last
iteration, ``ensemble=1``). The colour section puts pnp-drunet's colour modes side by side:
``pnp-drunet/joint`` (the 3-channel denoiser: ``--colour-denoiser`` or the shipped one),
``pnp-drunet/opponent`` (the gray denoiser on opponent planes) and ``pnp-drunet/gray-per-channel``.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from hybrid_deblur.analysis.nonblind import to_jsonable, write_text_atomic  # noqa: E402

CLASSICAL = ("hqs-hl", "hqs-tv", "wiener")
LEARNED = ("pnp-drunet", "pnp-drunet-fast", "pnp-drunet-lite", "unrolled-pnp", "unrolled-hqs", "deep-wiener", "unrolled-rl")
STEMS = {"pnp-drunet": "drunet_gray", "pnp-drunet-fast": "drunet_gray", "pnp-drunet-lite": "drunet_lite_gray",
         "unrolled-pnp": "unrolled_pnp_gray", "unrolled-hqs": "unrolled_hqs_gray",
         "deep-wiener": "deep_wiener_gray", "unrolled-rl": "unrolled_rl_gray"}
FAMILIES = ("camera_shake", "mixed", "defocus", "identity")
#: method -> extra options (``--denoiser`` / ``--unrolled-pnp`` weight files)
OPTIONS: dict[str, dict] = {}
TARGETS = {"levin_interior": {2.55: 33.2, 7.65: 29.5}, "bsd_gain": 1.5, "harm": 0.3, "s_per_mp": 1.0}


def default_methods() -> list[str]:
    from hybrid_deblur.analysis.registry import NOT_DEFAULT
    from hybrid_deblur.learned.weights import shipped_weights

    have = shipped_weights()
    return list(CLASSICAL) + [m for m in LEARNED if STEMS[m] in have and m not in NOT_DEFAULT]


def _family_kernels(fam: str) -> list[np.ndarray]:
    if fam == "identity":
        return [np.ones((1, 1))]
    from hybrid_deblur.analysis.nonblind import load_kernels

    return [k for _, k in load_kernels(fam)]


def _observe(x: np.ndarray, k: np.ndarray, sigma: float, seed: int):
    """``valid`` blur + Gaussian noise; the sharp pixels aligned with ``y``."""
    from hybrid_deblur.physics import Blur

    y = Blur(k, "valid")(x) if k.size > 1 else x + 0
    y = y + sigma * np.random.default_rng(seed).standard_normal(y.shape)
    o = [kk - 1 - kk // 2 for kk in k.shape]
    return y, x[..., o[0]:o[0] + y.shape[-2], o[1]:o[1] + y.shape[-1]]


def _restore(method: str, y, k, sigma):
    from hybrid_deblur.analysis.registry import restore

    opts = dict(OPTIONS.get(method, {}))
    if method.endswith("/torch"):  # the denoiser on the torch engine (default: onnxruntime when installed)
        method = method[: -len("/torch")]
        opts = dict(OPTIONS.get(method, {}), engine="torch")
    if method == "pnp-drunet-lite/float32":  # the lite denoiser in float32 (a CPU without native bf16)
        method, opts = "pnp-drunet-lite", dict(OPTIONS.get("pnp-drunet-lite", {}), denoiser_precision="float32")
    if method == "pnp-drunet/x8-last":  # the x8 self-ensemble on the last iteration
        method, opts = "pnp-drunet", dict(OPTIONS.get("pnp-drunet", {}), ensemble=1)
    if method in ("pnp-drunet/gray-per-channel", "pnp-drunet/opponent"):
        from hybrid_deblur.learned.pnp import get_denoiser

        method, opts = "pnp-drunet", {"model": get_denoiser(1, weights=OPTIONS.get("pnp-drunet", {}).get("weights")),
                                      "colour": method.split("/")[1].replace("gray-", "")}
    if method == "pnp-drunet/joint":  # the 3-channel denoiser (--colour-denoiser, or the shipped one)
        from hybrid_deblur.learned.pnp import get_denoiser

        method, opts = "pnp-drunet", {"model": get_denoiser(3, weights=OPTIONS.get("colour", {}).get("weights")),
                                      "colour": "joint"}
    t0 = time.perf_counter()
    x = restore(y, k, method=method, boundary="auto", sigma=sigma, **opts)
    return np.asarray(x, dtype=np.float64), time.perf_counter() - t0


def _psnr(x, ref, border=0):
    from hybrid_deblur.metrics import psnr

    return float(psnr(np.clip(x, 0, 1), ref, border=border))


def _mean_rows(rows, keys=("psnr",)) -> dict:
    out: dict = {}
    for r in rows:
        d = out.setdefault(r["method"], {"n": 0, **{k: 0.0 for k in keys}, "time_s": 0.0})
        d["n"] += 1
        for k in keys + ("time_s",):
            d[k] += r[k]
    return {m: {k: (v / d["n"] if k != "n" else v) for k, v in d.items()} for m, d in out.items()}


def levin_synthetic(data: Path, methods, progress=True, kernels_used=range(1, 9), sigmas=(2.55, 7.65)) -> dict:
    from hybrid_deblur.io import imread

    sharp = [imread(data / "levin2009" / "sharp" / f"im{i}.png", linear=False, gray=True) for i in range(1, 5)]
    kernels = {j: np.load(data / "levin2009" / "kernels" / f"levin_k{j}.npy") for j in kernels_used}
    out = {}
    for s255 in sigmas:
        rows = []
        for i, x in enumerate(sharp):
            for j, k in kernels.items():
                j -= 1
                y, ref = _observe(x, k, s255 / 255, seed=1000 * i + j)
                for m in methods:
                    xh, t = _restore(m, y, k, s255 / 255)
                    rows.append({"method": m, "image": i + 1, "kernel": j + 1, "time_s": t,
                                 "psnr": _psnr(xh, ref, 15), "psnr_full": _psnr(xh, ref)})
            if progress:
                print(f"  levin sigma={s255}/255 image {i + 1}/4 done", file=sys.stderr, flush=True)
        out[str(s255)] = {"summary": _mean_rows(rows, ("psnr", "psnr_full")), "rows": rows}
    return out


def family_suite(folder: Path, methods, sigmas, limit, crop=None, progress=True) -> dict:
    from hybrid_deblur.analysis.nonblind import load_images

    imgs = [a for _, a in load_images(folder, linear=True, gray=True, limit=limit)]
    if crop:
        imgs = [a[(a.shape[0] - crop) // 2:(a.shape[0] + crop) // 2, (a.shape[1] - crop) // 2:(a.shape[1] + crop) // 2]
                for a in imgs]
    out = {}
    for fam in FAMILIES:
        ks = _family_kernels(fam)
        for s in sigmas:
            rows = []
            for i, x in enumerate(imgs):
                k = ks[i % len(ks)]
                y, ref = _observe(x, k, s, seed=7919 * i + 13)
                rows.append({"method": "input", "time_s": 0.0,
                             "psnr": _psnr(y, ref) if k.size == 1 else float("nan")})
                for m in methods:
                    xh, t = _restore(m, y, k, s)
                    rows.append({"method": m, "image": i, "time_s": t, "psnr": _psnr(xh, ref)})
            out[f"{fam}/{s}"] = {"summary": _mean_rows(rows), "rows": rows}
            if progress:
                print(f"  {folder.name} {fam} sigma={s} done", file=sys.stderr, flush=True)
    return out


def colour_suite(folder: Path, methods, limit, progress=True) -> dict:
    from hybrid_deblur.analysis.nonblind import load_images

    imgs = [a for _, a in load_images(folder, linear=True, gray=False, limit=limit)]
    ks = _family_kernels("camera_shake")
    rows = []
    for i, x in enumerate(imgs):
        k = ks[(3 * i) % len(ks)]
        y, ref = _observe(x, k, 0.01, seed=31 * i + 5)
        neutral = (ref.max(0) - ref.min(0)) < 0.01

        def chroma(a):
            return float(np.abs(a - a.mean(0, keepdims=True)).mean(0)[neutral].mean()) if neutral.any() else 0.0

        for m in methods:
            xh, t = _restore(m, y, k, 0.01)
            rows.append({"method": m, "image": i, "time_s": t, "psnr": _psnr(xh, ref),
                         "false_colour": chroma(np.clip(xh, 0, 1)) - chroma(ref)})
        if progress:
            print(f"  colour image {i + 1}/{len(imgs)} done", file=sys.stderr, flush=True)
    return {"summary": _mean_rows(rows, ("psnr", "false_colour")), "rows": rows}


def speed(methods, size=512, ksize=25, repeats=2) -> dict:
    """CPU seconds per megapixel, side by side in this run (repeats interleaved across methods).

    With onnxruntime installed (the default denoiser engine then), ``pnp-drunet`` and
    ``pnp-drunet-fast`` are also timed with the denoiser on the torch engine (``/torch``);
    on a CPU with native bf16 (where ``pnp-drunet-lite`` runs its denoiser in bfloat16) the lite
    method is also timed in float32 (``pnp-drunet-lite/float32``).
    """
    from hybrid_deblur.learned.denoiser_onnx import onnx_available
    from hybrid_deblur.psf import trajectory_motion

    y = np.random.default_rng(0).random((size, size))
    k = trajectory_motion(size=ksize, seed=3)
    if onnx_available():
        methods = list(methods) + [m + "/torch" for m in methods if m in ("pnp-drunet", "pnp-drunet-fast")]
    from hybrid_deblur.learned.denoiser_data import cpu_has_bf16

    if "pnp-drunet-lite" in methods and cpu_has_bf16():
        methods = list(methods) + ["pnp-drunet-lite/float32"]
    for m in methods:
        _restore(m, y, k, 0.01)  # warm-up
    ts: dict = {m: [] for m in methods}
    for _ in range(repeats):
        for m in methods:
            ts[m].append(_restore(m, y, k, 0.01)[1])
    out = {}
    for m in methods:
        med = float(np.median(ts[m]))
        out[m] = {"median_s": med, "s_per_megapixel": med / (size * size / 1e6)}
    out["load_average"] = list(os.getloadavg())
    out["cpu_count"] = os.cpu_count()
    return out


def _table(summary: dict, title: str, cols=("psnr",)) -> str:
    lines = [f"### {title}", "", "| method | " + " | ".join(cols) + " | time/img [s] | n |",
             "|---|" + "---|" * (len(cols) + 2)]
    for m, d in summary.items():
        lines.append(f"| {m} | " + " | ".join(f"{d[c]:.3f}" for c in cols) + f" | {d['time_s']:.2f} | {d['n']} |")
    return "\n".join(lines)


def targets(report: dict, methods) -> dict:
    learned = [m for m in methods if m.split("/")[0] in LEARNED]
    cl = [m for m in methods if m in CLASSICAL]
    t: dict = {}
    for s, sec in report.get("levin_synthetic", {}).items():
        summ = sec["summary"]
        if learned:
            best = max(learned, key=lambda m: summ[m]["psnr"])
            goal = TARGETS["levin_interior"][float(s)]
            t[f"levin_interior_{s}"] = {"method": best, "psnr": summ[best]["psnr"],
                                        "full": summ[best]["psnr_full"], "target": goal,
                                        "met": summ[best]["psnr"] >= goal}
    for name in ("bsd68", "kodak24"):
        sec = report.get(name, {})
        for key, d in sec.items():
            summ = d["summary"]
            if not learned or not cl:
                continue
            bl = max(learned, key=lambda m: summ[m]["psnr"])
            bc = max(cl, key=lambda m: summ[m]["psnr"])
            entry = {"best_learned": bl, "best_classical": bc,
                     "gain_db": summ[bl]["psnr"] - summ[bc]["psnr"]}
            if "hqs-hl" in summ:
                entry["worst_learned_vs_hqs_hl"] = {m: summ[m]["psnr"] - summ["hqs-hl"]["psnr"] for m in learned}
                entry["best_learned_vs_hqs_hl"] = summ[bl]["psnr"] - summ["hqs-hl"]["psnr"]
                entry["no_harm_met"] = entry["best_learned_vs_hqs_hl"] >= -TARGETS["harm"]
            if key.endswith("/0.01"):
                entry["gain_met"] = entry["gain_db"] >= TARGETS["bsd_gain"]
            t[f"{name}/{key}"] = entry
    sp = report.get("speed", {})
    for m in learned:
        if m in sp:
            t[f"speed/{m}"] = {"s_per_megapixel": sp[m]["s_per_megapixel"], "target": TARGETS["s_per_mp"],
                               "met": sp[m]["s_per_megapixel"] <= TARGETS["s_per_mp"]}
    return t


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--data", default=str(ROOT / ".." / "shared" / "data"))
    ap.add_argument("--out", default="bench_out/learned_nonblind.json")
    ap.add_argument("--methods", default=None, help="comma-separated (default: classical + shipped learned)")
    ap.add_argument("--sections", default="levin,bsd68,kodak24,colour,speed")
    ap.add_argument("--sigmas", default="0.01,0.03")
    ap.add_argument("--limit", type=int, default=12, help="images per set and family (BSD68/Kodak24/CBSD68)")
    ap.add_argument("--threads", type=int, default=2, help="torch threads")
    ap.add_argument("--levin-kernels", default="1,2,3,4,5,6,7,8", help="Levin kernels used (subset: say so)")
    ap.add_argument("--levin-sigmas", default="2.55,7.65", help="Levin noise levels (x/255)")
    ap.add_argument("--denoiser", default=None, help="denoiser weights for pnp-drunet (default: shipped)")
    ap.add_argument("--lite-denoiser", default=None, help="denoiser weights for pnp-drunet-lite (default: shipped)")
    ap.add_argument("--speed-repeats", type=int, default=2, help="interleaved repeats of the speed section")
    ap.add_argument("--unrolled-pnp", default=None, help="weights for unrolled-pnp (default: shipped)")
    ap.add_argument("--colour-denoiser", default=None,
                    help="3-channel denoiser weights for the pnp-drunet/joint colour row (default: shipped)")
    ap.add_argument("--no-progress", dest="progress", action="store_false")
    args = ap.parse_args(argv)
    if args.denoiser:
        OPTIONS["pnp-drunet"] = OPTIONS["pnp-drunet-fast"] = {"weights": args.denoiser}
    if args.lite_denoiser:
        OPTIONS["pnp-drunet-lite"] = {"weights": args.lite_denoiser}
    if args.unrolled_pnp:
        OPTIONS["unrolled-pnp"] = {"weights": args.unrolled_pnp}
    if args.colour_denoiser:
        OPTIONS["colour"] = {"weights": args.colour_denoiser}

    import torch

    torch.set_num_threads(args.threads)
    data, out = Path(args.data), Path(args.out)
    methods = [m.strip() for m in (args.methods or ",".join(default_methods())).split(",") if m.strip()]
    sections = [s.strip() for s in args.sections.split(",") if s.strip()]
    sigmas = [float(v) for v in args.sigmas.split(",")]
    report: dict = {"methods": methods, "data": str(data), "limit": args.limit,
                    "protocol": __doc__.split("Run::")[0].strip()}
    md = ["## Learned priors vs classical (issue 17)", ""]
    if "levin" in sections:
        report["levin_synthetic"] = levin_synthetic(
            data, methods, args.progress, [int(v) for v in args.levin_kernels.split(",")],
            [float(v) for v in args.levin_sigmas.split(",")])
        report["levin_kernels"] = args.levin_kernels
        for s, sec in report["levin_synthetic"].items():
            md += [_table(sec["summary"], f"Levin synthetic (4 x 8, valid), sigma={s}/255: interior 15 px | full",
                          ("psnr", "psnr_full")), ""]
            print(md[-2], flush=True)
    for name, crop in (("bsd68", None), ("kodak24", 256)):
        if name in sections:
            report[name] = family_suite(data / name, methods, sigmas, args.limit, crop, args.progress)
            for key, sec in report[name].items():
                md += [_table(sec["summary"], f"{name} gray ({'centre 256^2, ' if crop else ''}first "
                                              f"{args.limit}), {key.replace('/', ', sigma=')}"), ""]
                print(md[-2], flush=True)
    if "colour" in sections:
        cm = [m for m in methods if m in ("hqs-hl", "pnp-drunet", "unrolled-pnp")]
        if "pnp-drunet" in cm:  # the default beside each colour mode (joint needs a colour model)
            from hybrid_deblur.learned.weights import shipped_weights

            joint = "colour" in OPTIONS or "drunet_color" in shipped_weights()
            cm += (["pnp-drunet/joint"] if joint else []) + ["pnp-drunet/opponent", "pnp-drunet/gray-per-channel"]
        report["colour"] = colour_suite(data / "cbsd68", cm, min(args.limit, 8), args.progress)
        md += [_table(report["colour"]["summary"], "CBSD68 colour, camera shake, sigma=0.01",
                      ("psnr", "false_colour")), ""]
        print(md[-2], flush=True)
    if "speed" in sections:
        report["speed"] = speed([m for m in methods if m.split("/")[0] in LEARNED or m == "hqs-hl"],
                                repeats=args.speed_repeats)
        sp = report["speed"]
        md += ["### CPU seconds per megapixel (512^2 gray, 25 px kernel, "
               f"{args.threads} threads, load {sp['load_average'][0]:.1f} on {sp['cpu_count']} cores)", "",
               "| method | s / MP |", "|---|---|"]
        md += [f"| {m} | {v['s_per_megapixel']:.2f} |" for m, v in sp.items() if isinstance(v, dict)]
        md.append("")
    report["targets"] = targets(report, methods)
    md += ["### Targets", ""] + [f"- {k}: {json.dumps(to_jsonable(v))}" for k, v in report["targets"].items()]
    out.parent.mkdir(parents=True, exist_ok=True)
    write_text_atomic(out, json.dumps(to_jsonable(report), indent=2))
    write_text_atomic(out.with_suffix(".md"), "\n".join(md) + "\n")
    print("\n".join(md[-len(report["targets"]) - 2:]))
    return 0


if __name__ == "__main__":
    sys.exit(main())
