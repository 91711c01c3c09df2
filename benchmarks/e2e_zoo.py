"""End-to-end zoo beside the classical, hybrid and blind methods (issue 12).

For every zoo model with weights (shipped in ``hybrid_deblur/learned/weights/e2e`` or
found in ``--weights-dir/<name>/<stem>.pt``, e.g. a GPU training output):

* **cost** — parameters, GMACs per megapixel (``torch.utils.flop_counter.FlopCounterMode``
  on a 256² colour input, MACs = FLOPs / 2, scaled to 10⁶ pixels), CPU milliseconds per
  megapixel (512² colour, median of 3 after a warm-up, the threads torch uses here), and
  the training steps / minutes / hardware of its model card;
* **synthetic suite** — BSD68 (gray) and Kodak24 (colour) centre crops, ``valid`` blur
  with kernels the models never saw (the ``camera_shake`` and ``defocus`` banks of
  ``kernels/``; training used a pool drawn from other seeds), Gaussian σ = 0.01, through
  the non-blind harness (:mod:`hybrid_deblur.analysis.nonblind`; PSNR/SSIM in linear
  light on the field of view). Beside them: the blurred input, the classical solvers
  ``wiener`` and ``hqs-tv`` and the hybrid ``unrolled-hqs`` with the **true** kernel, and
  the **blind** pipeline (:func:`hybrid_deblur.estimate.estimate_kernel` with
  ``restore=True``: kernel estimate + HQS-TV), which like the zoo gets no kernel;
* **GoPro** — the Flower pair of ``gopro_samples`` (real, non-uniform blur): PSNR/SSIM
  in sRGB on the full 1280×720 frame for the zoo, and on a 384² crop for every method
  incl. the blind pipeline; a figure of the crop through every model;
* the seed's **three-level check** per model: PSNR > 28 dB, SSIM > 0.85 (synthetic
  suite means) and the inference time.

Usage::

    python benchmarks/e2e_zoo.py [--weights-dir /work/gpu_results/zoo] [--n 6] [--crop 192]

Writes ``bench_out/e2e_zoo/{results.json, table.md, gopro_crop.png}`` and prints the tables.
"""

from __future__ import annotations

import argparse
import json
import math
import os
import statistics
import sys
import time
from functools import partial
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))


def _write(path: Path, text: str) -> None:
    tmp = path.with_suffix(path.suffix + ".tmp")
    tmp.write_text(text)
    os.replace(tmp, path)


def find_models(weights_dir: str | None, names: list[str] | None) -> dict[str, Path]:
    """Registry name -> weight file (``--weights-dir`` first, then the shipped weights)."""
    from hybrid_deblur.learned.e2e.restore import SHIPPED, shipped_e2e

    have = shipped_e2e()
    out = {}
    for name, stem in SHIPPED.items():
        if names and name not in names and name[4:] not in names:
            continue
        cand = []
        if weights_dir:
            cand += [Path(weights_dir) / name[4:] / f"{stem}.pt", Path(weights_dir) / f"{stem}.pt"]
        if stem in have:
            cand.append(have[stem])
        for c in cand:
            if c.is_file():
                out[name] = c
                break
    return out


def cost(model, threads: int) -> dict:
    import torch
    from torch.utils.flop_counter import FlopCounterMode

    from hybrid_deblur.learned.e2e import count_parameters

    torch.set_num_threads(threads)
    c = int(model.config.get("channels", 3))
    x = torch.rand(1, c, 256, 256)
    with torch.no_grad():
        fc = FlopCounterMode(display=False)
        with fc:
            model(x)
    gmacs = fc.get_total_flops() / 2 / 1e9 * (1e6 / (256 * 256))
    x = torch.rand(1, c, 512, 512)
    ts = []
    with torch.no_grad():
        model(x)
        for _ in range(3):
            t0 = time.perf_counter()
            model(x)
            ts.append(time.perf_counter() - t0)
    ms_mp = statistics.median(ts) * 1e3 / (512 * 512 / 1e6)
    return {"params": count_parameters(model), "gmacs_per_mp": gmacs, "cpu_ms_per_mp": ms_mp,
            "threads": threads}


def crops(folder: Path, n: int, size: int, gray: bool) -> list[tuple[str, np.ndarray]]:
    from hybrid_deblur.analysis.nonblind_cases import load_images

    out = []
    for name, im in load_images(str(folder), gray=gray, limit=n):
        h, w = im.shape[-2:]
        s = min(size, h, w)
        i, j = (h - s) // 2, (w - s) // 2
        out.append((name, np.ascontiguousarray(im[..., i:i + s, j:j + s])))
    return out


def unseen_kernels(n: int) -> list[tuple[str, np.ndarray]]:
    from hybrid_deblur.analysis.nonblind_cases import load_kernels

    shake = load_kernels("camera_shake")
    defocus = load_kernels("defocus")
    shake = [k for k in shake if k[1].shape[-1] <= 31]
    pick = shake[:: max(1, len(shake) // max(1, n - n // 4))][: n - n // 4]
    return pick + defocus[:: max(1, len(defocus) // max(1, n // 4))][: n // 4]


def per_channel(fn, y, psf, **kw):
    """``fn`` on each channel of a (C, H, W) image (a gray image directly)."""
    y = np.asarray(y)
    return fn(y, psf, **kw) if y.ndim == 2 else np.stack([fn(c, psf, **kw) for c in y])


def blind(case) -> np.ndarray:
    from hybrid_deblur.estimate import estimate_kernel

    _, rep = estimate_kernel(case.y, restore=True)
    return np.asarray(rep.restored)


def srgb_metrics(x: np.ndarray, ref: np.ndarray) -> dict:
    from hybrid_deblur import metrics as M
    from hybrid_deblur.physics.degrade import encode_gamma

    xs = np.asarray(encode_gamma(np.clip(x, 0, 1), "srgb"))
    rs = np.asarray(encode_gamma(np.clip(ref, 0, 1), "srgb"))
    return {"psnr": float(M.psnr(xs, rs)), "ssim": float(M.ssim(xs, rs))}


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--data", default=str(ROOT.parent / "shared" / "data"))
    ap.add_argument("--weights-dir", default=None)
    ap.add_argument("--models", default="", help="comma-separated zoo names (default: all with weights)")
    ap.add_argument("--n", type=int, default=6, help="images per set (BSD68, Kodak24)")
    ap.add_argument("--crop", type=int, default=192)
    ap.add_argument("--kernels", type=int, default=8)
    ap.add_argument("--gopro-crop", type=int, default=384)
    ap.add_argument("--no-blind", action="store_true")
    ap.add_argument("--reuse", default=None,
                    help="results.json of an earlier run with the same data options: its classical, "
                         "hybrid and blind rows (and the cost rows of the same weight files) are reused")
    ap.add_argument("--threads", type=int, default=int(os.environ.get("OMP_NUM_THREADS", "2")))
    ap.add_argument("--out", default=str(ROOT / "bench_out" / "e2e_zoo"))
    a = ap.parse_args(argv)
    import torch

    from hybrid_deblur.analysis import nonblind as NB
    from hybrid_deblur.analysis.nonblind_cases import synthesize_cases
    from hybrid_deblur.analysis.registry import get_method
    from hybrid_deblur.io import imread
    from hybrid_deblur.learned.e2e.restore import load_e2e, restore_with
    from hybrid_deblur.learned.weights import read_card

    torch.set_num_threads(a.threads)
    out = Path(a.out)
    out.mkdir(parents=True, exist_ok=True)
    data = Path(a.data)
    names = [m.strip() for m in a.models.split(",") if m.strip()] or None
    paths = find_models(a.weights_dir, names)
    if not paths:
        print("no zoo weights found (ship some or pass --weights-dir): baselines only")
    reuse = json.loads(Path(a.reuse).read_text()) if a.reuse else {}
    if reuse:
        same = all(reuse["config"].get(k) == getattr(a, k) for k in ("n", "crop", "kernels", "gopro_crop"))
        if not same:
            raise SystemExit(f"--reuse {a.reuse!r} was run with other data options")
    models = {n: load_e2e(p) for n, p in paths.items()}
    res: dict = {"config": vars(a), "models": {}, "synthetic": {}, "gopro": {}}
    for n, m in models.items():
        old_m = (reuse.get("models") or {}).get(n)
        if old_m and old_m.get("weights") == str(paths[n]) and old_m.get("threads") == a.threads:
            res["models"][n] = old_m  # same weight file and threads: its cost row is reused
            continue
        card = read_card(paths[n])
        tr = card.get("training", {})
        res["models"][n] = {"weights": str(paths[n]), **cost(m, a.threads),
                            "train_steps": tr.get("steps"), "train_minutes": tr.get("minutes"),
                            "train_hardware": (card.get("hardware") or {}).get("gpu") or
                            (card.get("hardware") or {}).get("cpu"),
                            "val_psnr": (card.get("validation") or {}).get("val_psnr")}
        print(f"{n}: {res['models'][n]}", flush=True)

    # ------------------------------------------------------------------ synthetic suite
    ks = unseen_kernels(a.kernels)
    e2e_fns = {n: partial(get_method(n), model=m) for n, m in models.items()}
    base = NB.resolve_methods(["blurred", "wiener", "hqs-tv", "unrolled-hqs"])
    for k in ("wiener", "hqs-tv"):  # classical solvers: colour channel by channel
        base[k] = partial(per_channel, base[k])
    all_cases = {}
    for tag, folder, gray in (("bsd68", data / "bsd68", True), ("kodak24", data / "kodak24", False)):
        imgs = crops(folder, a.n, a.crop, gray)
        cases = all_cases[tag] = synthesize_cases(imgs, ks, noise=0.01, boundary="valid", seed=0,
                                                  pairing="cycle")
        t0 = time.perf_counter()
        old = (reuse.get("synthetic") or {}).get(tag, {})
        todo = {**{k: v for k, v in base.items() if k not in old}, **e2e_fns}
        r = NB.evaluate_cases(cases, todo, boundary="valid", progress=False,
                              tuning="oracle")  # nothing here is tuned (no scikit-image baselines)
        summ = {**old, **r.summary()}
        res["synthetic"][tag] = {k: {q: v[q] for q in ("n", "mean_psnr", "mean_ssim", "mean_time_s")}
                                 for k, v in summ.items()}
        print(f"[{tag}] {len(cases)} cases in {time.perf_counter() - t0:.0f} s", flush=True)
        _write(out / "results.json", json.dumps(res, indent=1, default=str))  # partial results

    # ------------------------------------------------------------------ GoPro pair
    gp = data / "gopro_samples" / "pairs"
    g, outs = {}, {}
    if (gp / "Flower_blur1.png").is_file():
        yb = imread(str(gp / "Flower_blur1.png"), linear=True, dtype=np.float32)
        xs = imread(str(gp / "Flower_sharp1.png"), linear=True, dtype=np.float32)
        s = a.gopro_crop
        h, w = yb.shape[-2:]
        i0, j0 = (h - s) // 2, (w - s) // 2
        crop = (..., slice(i0, i0 + s), slice(j0, j0 + s))
        g = {"full": {"blurred": srgb_metrics(yb, xs)}, "crop": {"blurred": srgb_metrics(yb[crop], xs[crop])},
             "crop_box": [int(i0), int(j0), int(s)]}
        outs = {"blurred": yb[crop], "sharp": xs[crop]}
        for n, m in models.items():
            t0 = time.perf_counter()
            o = restore_with(m, yb, tile=512 if "restormer" in n else None)
            g["full"][n] = {**srgb_metrics(o, xs), "seconds": time.perf_counter() - t0}
            g["crop"][n] = srgb_metrics(o[crop], xs[crop])
            outs[n] = o[crop]
        old = ((reuse.get("gopro") or {}).get("crop") or {}).get("blind-pipeline")
        if old:
            g["crop"]["blind-pipeline"] = old
        res["gopro"] = g
        figure(outs, out / "gopro_crop.png", g["crop"])
        _write(out / "results.json", json.dumps(res, indent=1, default=str))

    # ------------------------------------------------------------------ blind pipeline (slow)
    if not a.no_blind:
        for tag, cases in all_cases.items():
            if "blind-pipeline" in res["synthetic"][tag]:
                continue
            ps, ss, ts = [], [], []
            for c in cases:
                t1 = time.perf_counter()
                x = blind(c)
                ts.append(time.perf_counter() - t1)
                met = NB.measure(x, c)
                ps.append(met["psnr"])
                ss.append(met["ssim"])
                print(f"[{tag}] blind {c.name}: {met['psnr']:.2f} dB in {ts[-1]:.0f} s", flush=True)
            res["synthetic"][tag]["blind-pipeline"] = {"n": len(cases), "mean_psnr": float(np.mean(ps)),
                                                       "mean_ssim": float(np.mean(ss)),
                                                       "mean_time_s": float(np.mean(ts))}
            _write(out / "results.json", json.dumps(res, indent=1, default=str))
        if g and "blind-pipeline" not in g["crop"]:
            from hybrid_deblur.estimate import estimate_kernel

            t0 = time.perf_counter()
            _, rep = estimate_kernel(yb[crop], restore=True)
            g["crop"]["blind-pipeline"] = {**srgb_metrics(np.asarray(rep.restored), xs[crop]),
                                           "seconds": time.perf_counter() - t0}
            outs["blind-pipeline"] = np.asarray(rep.restored)
            figure(outs, out / "gopro_crop.png", g["crop"])

    # ------------------------------------------------------------------ tables
    text = tables(res)
    print(text)
    _write(out / "table.md", text)
    _write(out / "results.json", json.dumps(res, indent=1, default=str))
    return 0


def figure(outs: dict, path: Path, met: dict) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    from hybrid_deblur.physics.degrade import encode_gamma

    n = len(outs)
    cols = min(4, n)
    rows = math.ceil(n / cols)
    fig, axs = plt.subplots(rows, cols, figsize=(3.2 * cols, 3.4 * rows))
    for ax in np.ravel(axs):
        ax.axis("off")
    for ax, (k, v) in zip(np.ravel(axs), outs.items()):
        im = np.asarray(encode_gamma(np.clip(v, 0, 1), "srgb"))
        ax.imshow(np.moveaxis(im, 0, -1) if im.ndim == 3 else im, cmap="gray", vmin=0, vmax=1)
        sub = f"\n{met[k]['psnr']:.2f} dB / {met[k]['ssim']:.3f}" if k in met else ""
        ax.set_title(k + sub, fontsize=9)
    fig.tight_layout()
    tmp = path.with_suffix(".tmp.png")
    fig.savefig(tmp, dpi=110)
    plt.close(fig)
    os.replace(tmp, path)


def tables(res: dict) -> str:
    syn = res["synthetic"]
    sets = list(syn)
    methods = []
    for s in sets:
        methods += [m for m in syn[s] if m not in methods]
    lines = ["| method | kind | " + " | ".join(f"{s} PSNR / SSIM" for s in sets) + " | GoPro full | GoPro crop |",
             "|---|---|" + "---|" * len(sets) + "---|---|"]
    from hybrid_deblur.analysis.registry import METHODS, method_kind

    g = res.get("gopro") or {}
    for m in methods:
        kind = method_kind(m) if m in METHODS else ("classical, blind" if m == "blind-pipeline" else "input")
        if m in ("wiener", "hqs-tv", "unrolled-hqs"):
            kind += ", true kernel"
        cells = [f"{syn[s][m]['mean_psnr']:.2f} / {syn[s][m]['mean_ssim']:.3f}" if m in syn[s] else "–"
                 for s in sets]
        gf = g.get("full", {}).get(m)
        gc = g.get("crop", {}).get(m)
        cells.append(f"{gf['psnr']:.2f} / {gf['ssim']:.3f}" if gf else "–")
        cells.append(f"{gc['psnr']:.2f} / {gc['ssim']:.3f}" if gc else "–")
        lines.append(f"| {m} | {kind} | " + " | ".join(cells) + " |")
    lines += ["", "| model | params (M) | GMACs/MP | CPU ms/MP | train steps | train min | trained on | "
                  "PSNR>28 | SSIM>0.85 |", "|---|---|---|---|---|---|---|---|---|"]
    for m, c in res["models"].items():
        p = np.mean([syn[s][m]["mean_psnr"] for s in sets if m in syn[s]]) if sets else float("nan")
        q = np.mean([syn[s][m]["mean_ssim"] for s in sets if m in syn[s]]) if sets else float("nan")
        lines.append(f"| {m} | {c['params'] / 1e6:.2f} | {c['gmacs_per_mp']:.1f} | {c['cpu_ms_per_mp']:.0f} | "
                     f"{c['train_steps']} | {c['train_minutes']} | {c['train_hardware']} | "
                     f"{'yes' if p > 28 else 'no'} ({p:.2f}) | {'yes' if q > 0.85 else 'no'} ({q:.3f}) |")
    return "\n".join(lines) + "\n"


if __name__ == "__main__":
    raise SystemExit(main())
