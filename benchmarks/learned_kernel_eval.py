"""Learned kernel estimator against the MAP and parametric candidates (issue 10, held-out).

For held-out natural crops (BSD68 / Kodak24 files that are neither training files nor
suite images) x unseen kernels of every family (camera shake with seeds >= 20_000,
linear motion, defocus, Gaussian, motion ⊛ defocus, shake ⊛ defocus, the identity) x σ:
``valid`` blur + Gaussian noise, then

* the learned estimate of a weight file (``--weights``, several allowed: checkpoint
  selection), its kernel similarity to the true kernel (Hu & Yang, shift-tolerant,
  180° flip accepted) and its error ratio (SSD of ``hqs_tv`` with it / with the true
  kernel, on the valid frame);
* once per case (cached in ``--cache``): the best parametric and the best MAP candidate
  of ``select_kernel`` (by evidence), their similarity and error ratio, and what
  ``auto`` without the learned family chose;
* with ``--auto``: ``estimate_kernel(method="auto")`` with the learned candidate in
  (the weight file of ``--weights``): worse-than-input and the chosen family.

The checkpoint-selection score, fixed before training ended, is the mean learned
similarity over the ``--split val`` cases (images :data:`VAL_IMAGES`, σ 0.005/0.01/0.02).

Usage (repository root)::

    OMP_NUM_THREADS=1 .venv/bin/python benchmarks/learned_kernel_eval.py \\
        --weights W1.pt,W2.pt [--split val|report] [--compare] [--auto] \\
        [--out bench_out/blind5/learned_eval.json]
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import tempfile
import time
import warnings
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

#: checkpoint-selection images (not training files, not suite images, not TUNE_IMAGES)
VAL_IMAGES = ("bsd68/test020.png", "kodak24/kodim10.png")
#: report images (same rule, disjoint from VAL_IMAGES)
REPORT_IMAGES = ("bsd68/test048.png", "bsd68/test066.png", "kodak24/kodim16.png", "kodak24/kodim21.png")


def kernel_set() -> list[tuple[str, str, np.ndarray]]:
    """(name, family, kernel): every training family at small and large sizes, unseen seeds."""
    from hybrid_deblur.psf import combine, disk, gaussian, linear_motion, trajectory_motion

    out = [("identity", "identity", np.ones((1, 1)))]
    for i, s in enumerate((15, 31, 51)):
        out.append((f"shake{s}", "camera_shake",
                    trajectory_motion(size=s, length=0.7 * (s - 1), anxiety=0.01, seed=20_000 + i)))
    for L, a in ((9, 20), (23, 75), (45, 140)):
        out.append((f"lin{L}", "linear", linear_motion(L, a)))
    for r in (2.5, 5.0, 9.0):
        out.append((f"disk{r:g}", "defocus", disk(r)))
    for s in (1.2, 2.5, 4.0):
        out.append((f"gauss{s:g}", "gaussian", gaussian(s)))
    out.append(("md15r3", "motion+defocus", combine(linear_motion(15, 60), disk(3))))
    out.append(("md31r5", "motion+defocus", combine(linear_motion(31, 100), disk(5))))
    out.append(("shake21r2", "shake+defocus",
                combine(trajectory_motion(size=21, length=15, anxiety=0.01, seed=20_010), disk(2))))
    return out


def _crop(x, n):
    H, W = x.shape
    n = min(n, H, W)
    i, j = (H - n) // 2, (W - n) // 2
    return x[i:i + n, j:j + n]


def _sim(k_hat, k) -> float:
    from hybrid_deblur.metrics import kernel_similarity

    if k.size == 1 or k_hat.size == 1:  # a delta against the other kernel's best shift
        o = k_hat if k.size == 1 else k
        return float(o.max() / np.sqrt((o ** 2).sum()))
    return max(kernel_similarity(k_hat, k), kernel_similarity(k_hat[::-1, ::-1], k))


def _ratio(y, ref, k_hat, ssd_true) -> tuple[float, float]:
    """(error ratio, PSNR) of hqs_tv with ``k_hat`` (the better orientation)."""
    from hybrid_deblur.metrics import psnr
    from hybrid_deblur.solvers import hqs_tv

    best = None
    for k in (k_hat, np.ascontiguousarray(k_hat[::-1, ::-1])):
        x = np.asarray(hqs_tv(y, k)) if k.size > 1 else y
        ssd = float(((x - ref) ** 2).sum())
        if best is None or ssd < best[0]:
            best = (ssd, float(psnr(x, ref)))
        if k.size == 1:
            break
    return best[0] / max(ssd_true, 1e-12), best[1]


def cases(data: Path, split: str, sigmas):
    from hybrid_deblur.io import imread

    names = VAL_IMAGES if split == "val" else REPORT_IMAGES
    for n in names:
        x = np.asarray(imread(str(data / n), gray=True), dtype=np.float64)
        for kname, fam, k in kernel_set():
            xc = _crop(x, 320 if max(k.shape) > 35 else 256)
            for s in sigmas:
                yield n, kname, fam, k, s, xc


def use_weights(path: str):
    """Make ``path`` the learned estimator of ``estimate_kernel`` / ``select_kernel`` (this process)."""
    from hybrid_deblur.estimate import core
    from hybrid_deblur.learned import kernel_net

    core.ESTIMATOR_WEIGHTS["learned"] = str(Path(path).resolve())
    kernel_net._CACHE.clear()
    kernel_net._CACHE["None"] = kernel_net.load_kernel_net(path)


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--data", default=str(ROOT.parent / "shared" / "data"))
    ap.add_argument("--weights", required=True, help="comma list of kernel-net weight files")
    ap.add_argument("--split", choices=("val", "report"), default="val")
    ap.add_argument("--sigmas", default="0.005,0.01,0.02")
    ap.add_argument("--compare", action="store_true", help="also the MAP / parametric candidates (cached)")
    ap.add_argument("--learned-map", type=int, default=0,
                    help="also MAP initialised by the learned kernel on this many finest levels")
    ap.add_argument("--auto", action="store_true", help="also estimate_kernel(auto) with the learned candidate")
    ap.add_argument("--cache", default=str(ROOT / "bench_out" / "blind5" / "cand_cache"))
    ap.add_argument("--out", default=str(ROOT / "bench_out" / "blind5" / "learned_eval.json"))
    a = ap.parse_args(argv)
    data = Path(a.data)
    if not (data / "bsd68").is_dir():
        print(f"no data under {data}: nothing to run")
        return 0
    from hybrid_deblur.estimate.select import kernel_extent
    from hybrid_deblur.learned.kernel_net import estimate_kernel_learned, load_kernel_net
    from hybrid_deblur.metrics import psnr
    from hybrid_deblur.physics import crop_valid, degrade
    from hybrid_deblur.solvers import hqs_tv

    sig = [float(s) for s in a.sigmas.split(",")]
    wlist = [w.strip() for w in a.weights.split(",") if w.strip()]
    nets = {w: load_kernel_net(w) for w in wlist}
    cache = Path(a.cache)
    cache.mkdir(parents=True, exist_ok=True)
    rows = []
    t0 = time.perf_counter()
    for n_case, (iname, kname, fam, k, s, xc) in enumerate(cases(data, a.split, sig)):
        y, _ = degrade(xc, k, boundary="valid", noise=s if s > 0 else None, seed=1000 + n_case)
        ref = crop_valid(xc, k.shape)
        p_in = float(psnr(y, ref))
        xt = np.asarray(hqs_tv(y, k)) if k.size > 1 else y
        ssd_true = float(((xt - ref) ** 2).sum())
        row = {"image": iname, "kernel": kname, "family": fam, "sigma": s, "psnr_in": p_in,
               "psnr_true": float(psnr(xt, ref)), "ksize": int(max(k.shape)), "extent": kernel_extent(k)}
        for w, net in nets.items():
            from hybrid_deblur.learned import kernel_net

            kernel_net._CACHE["w"] = net
            tl = time.perf_counter()
            kl, info = estimate_kernel_learned(y, weights="w")
            row[f"learned:{w}"] = {"sim": _sim(kl, k), "support": info["support"], "extent": kernel_extent(kl),
                                   "seconds": time.perf_counter() - tl}
            if a.compare or a.auto:
                r_, p_ = _ratio(y, ref, kl, ssd_true)
                row[f"learned:{w}"].update(ratio=r_, psnr=p_)
            if a.learned_map:
                from hybrid_deblur.estimate.candidates import center_crop
                from hybrid_deblur.estimate.map_l0 import map_estimate

                tl = time.perf_counter()
                sz = int(min(max(15, 1.25 * kernel_extent(kl) + 4), 0.2 * min(y.shape))) | 1
                km, inf = map_estimate(center_crop(y, max(256, 3 * sz)), (sz, sz), cg_iterations=6, init=kl,
                                       init_levels=a.learned_map)
                r_, p_ = _ratio(y, ref, km, ssd_true)
                row[f"lmap:{w}"] = {"sim": _sim(km, k), "ratio": r_, "psnr": p_, "size": sz, "agree": _sim(km, kl),
                                    "explained": inf.get("explained"), "seconds": time.perf_counter() - tl}
        if a.compare:
            key = cache / f"{iname.replace('/', '_')}_{kname}_{s}.npz"
            if key.is_file():
                z = np.load(key, allow_pickle=False)
                kp, km, kc = z["param"], z["map"], z["auto"]
            else:
                from hybrid_deblur.estimate.select import select_kernel

                kc, inf = select_kernel(y, families=("identity", "parametric", "map"))
                cs = inf["candidates"]
                bp = max((c for c in cs if c["family"] == "parametric"), key=lambda c: c["evidence"], default=None)
                bm = max((c for c in cs if c["family"] == "map"), key=lambda c: c["evidence"], default=None)
                kp = inf["kernels"][bp["name"]] if bp else np.ones((1, 1))
                km = inf["kernels"][bm["name"]] if bm else np.ones((1, 1))
                np.savez(key, param=kp, map=km, auto=kc)
            for name, kk in (("parametric", kp), ("map", km), ("auto_nolearned", kc)):
                r_, p_ = _ratio(y, ref, kk, ssd_true)
                row[name] = {"sim": _sim(kk, k), "ratio": r_, "psnr": p_}
        if a.auto:
            from hybrid_deblur.estimate import estimate_kernel

            for w in wlist:
                use_weights(w)
                ta = time.perf_counter()
                with warnings.catch_warnings():
                    warnings.simplefilter("ignore")
                    ka, rep = estimate_kernel(y, method="auto")
                xa = np.asarray(hqs_tv(y, ka)) if ka.size > 1 else y
                row[f"auto:{w}"] = {"psnr": float(psnr(xa, ref)), "chosen": rep.params["chosen"],
                                    "decision": rep.decision, "confidence": rep.confidence,
                                    "seconds": time.perf_counter() - ta, "sim": _sim(np.asarray(ka), k)}
        rows.append(row)
        msg = " ".join(f"L{i}={row[f'learned:{w}']['sim']:.3f}" for i, w in enumerate(wlist))
        msg += "".join(f" LM{i}={row[f'lmap:{w}']['sim']:.3f}" for i, w in enumerate(wlist) if f"lmap:{w}" in row)
        if a.compare:
            msg += f" P={row['parametric']['sim']:.3f} M={row['map']['sim']:.3f}"
        print(f"{iname:20s} {kname:10s} s={s:<6} in {p_in:6.2f} {msg}", flush=True)
    summ = summarise(rows, wlist)
    print(json.dumps(summ, indent=1))
    out = Path(a.out)
    out.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=out.parent, suffix=".tmp")
    with os.fdopen(fd, "w") as f:
        json.dump({"summary": summ, "rows": rows, "split": a.split, "seconds": time.perf_counter() - t0,
                   "load": os.getloadavg()}, f, indent=1, default=float)
    os.replace(tmp, out)
    return 0


def summarise(rows, wlist) -> dict:
    """Per estimator: mean similarity (all, per family), share of error ratios <= 3 (blurred)."""
    names = [f"learned:{w}" for w in wlist] + [f"lmap:{w}" for w in wlist] + \
        ["parametric", "map", "auto_nolearned"] + \
        [f"auto:{w}" for w in wlist]
    out = {}
    for nm in names:
        R = [r for r in rows if nm in r]
        if not R:
            continue
        d = {"n": len(R), "sim_mean": float(np.mean([r[nm]["sim"] for r in R]))}
        fams = sorted({r["family"] for r in R})
        d["sim_by_family"] = {f: round(float(np.mean([r[nm]["sim"] for r in R if r["family"] == f])), 3)
                              for f in fams}
        B = [r for r in R if r["family"] != "identity" and "ratio" in r[nm]]
        if B:
            d["ratio_le_3"] = float(np.mean([r[nm]["ratio"] <= 3 for r in B]))
            d["ratio_le_3_by_family"] = {f: round(float(np.mean([r[nm]["ratio"] <= 3 for r in B
                                                                 if r["family"] == f])), 2) for f in fams
                                         if f != "identity"}
            d["ratio_median"] = float(np.median([r[nm]["ratio"] for r in B]))
        if "psnr" in R[0][nm]:
            d["worse_than_input"] = f"{sum(r[nm]['psnr'] < r['psnr_in'] for r in R)}/{len(R)}"
            d["mean_gain_db"] = float(np.mean([r[nm]["psnr"] - r["psnr_in"] for r in R]))
        out[nm] = d
    return out


if __name__ == "__main__":
    sys.exit(main())
