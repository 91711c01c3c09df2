"""Blind robustness suite (DESIGN §7, issue 10): natural crops x kernel families x noise.

For every (image, kernel, σ, estimator): ``valid`` blur + Gaussian noise, then
``Deblurrer("hqs-tv", estimator=e).restore(y)`` against the same solver with the true
kernel (``hqs_tv(y, k)``) and the blurred input, all on the observed (valid) frame.

Reports per estimator: share of runs worse than the input (PSNR below the input's), the
unblurred-input deviation, the median gap to the true-kernel result on motion ⊛ defocus
(≤ 35 px) at σ = 0.01, the share of error ratios (SSD est / SSD true) ≤ 3 on 41–75 px
kernels, the AUC of ``confidence`` for "within 1 dB of the true-kernel result", and the
estimation time per megapixel. Images are BSD68 and Kodak24 (never used for training:
the learned estimator trains on train400/cbsd432); kernels are fixed shapes and camera-shake
trajectories with seeds >= 10_000 (the trainer draws from other generators' streams).

Usage (repository root)::

    OMP_NUM_THREADS=1 .venv/bin/python benchmarks/blind_suite.py --quick \\
        [--estimators auto,parametric] [--data ../shared/data] [--out bench_out/blind_suite.json] \\
        [--kernel-net W.pt | --no-learned]
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
for _p in (ROOT, ROOT / "benchmarks"):
    if str(_p) not in sys.path:
        sys.path.insert(0, str(_p))


def kernels(quick: bool) -> list[tuple[str, str, np.ndarray]]:
    """(name, group, kernel): group in identity / small / md (motion ⊛ defocus <= 35 px) / large."""
    from hybrid_deblur.psf import combine, disk, gaussian, linear_motion, trajectory_motion

    out = [("identity", "identity", np.ones((1, 1)))]
    out += [("gauss1.5", "small", gaussian(1.5)), ("disk4", "small", disk(4)),
            ("shake21", "small", trajectory_motion(size=21, length=15, anxiety=0.01, seed=10_001))]
    Ls = (0, 5, 11, 17, 25, 35) if not quick else (0, 11, 25, 35)
    Rs = (0, 2, 4, 6, 8) if not quick else (0, 4, 8)
    for L in Ls:
        for r in Rs:
            if L == 0 and r == 0:
                continue
            parts = ([linear_motion(L, 30)] if L else []) + ([disk(r)] if r else [])
            k = combine(*parts) if len(parts) > 1 else parts[0]
            out.append((f"md L{L} r{r}", "md", k))
    large = [("shake41", trajectory_motion(size=41, length=32, anxiety=0.01, seed=10_002)),
             ("lin51", linear_motion(51, 110)),
             ("shake55", trajectory_motion(size=55, length=44, anxiety=0.008, seed=10_003)),
             ("shake75", trajectory_motion(size=75, length=60, anxiety=0.008, seed=10_004))]
    if quick:
        large = large[1:3]
    out += [(n, "large", k) for n, k in large]
    return out


#: images used to develop the selection rules (never reported as suite results)
TUNE_IMAGES = ("bsd68/test007.png", "bsd68/test030.png", "kodak24/kodim08.png")


def images(data: Path, quick: bool, only: list[str] | None = None):
    """(name, gray image) crops: 256 x 256 (small/md) and 400 x 400 (large kernels).

    ``only``: explicit ``folder/file`` names instead of the suite's (e.g. :data:`TUNE_IMAGES`).
    """
    from hybrid_deblur.io import imread

    names = [("bsd68", f"test{i:03d}.png") for i in (3, 10, 25, 40, 55, 61)] + \
            [("kodak24", f"kodim{i:02d}.png") for i in (1, 5, 13, 19, 23)]
    if quick:
        names = [names[1], names[4], names[8]]
    if only:
        names = [tuple(n.split("/", 1)) for n in only]
    out = []
    for folder, f in names:
        p = data / folder / f
        if not p.exists():
            continue
        x = np.asarray(imread(str(p), gray=True), dtype=np.float64)
        out.append((f"{folder}/{f}", x))
    return out


def _crop(x, n):
    H, W = x.shape
    n = min(n, H, W)
    i, j = (H - n) // 2, (W - n) // 2
    return x[i:i + n, j:j + n]


#: ``--auto-refine N`` / ``--no-refine-gate``: estimate_kernel(auto_refine=N, refine_gate=...) for
#: auto / learned (None: the defaults)
AUTO_REFINE = [None, True]


def run_case(x, k, sigma, estimators, seed):
    from hybrid_deblur.metrics import psnr
    from hybrid_deblur.physics import crop_valid, degrade
    from hybrid_deblur.pipeline.deblurrer import Deblurrer
    from hybrid_deblur.solvers import hqs_tv

    y, _ = degrade(x, k, boundary="valid", noise=sigma if sigma > 0 else None, seed=seed)
    ref = crop_valid(x, k.shape)
    p_in = float(psnr(y, ref))
    xt = np.asarray(hqs_tv(y, k)) if k.size > 1 else y
    p_true = float(psnr(xt, ref)) if k.size > 1 else p_in
    ssd_true = float(((xt - ref) ** 2).sum())
    rows = []
    for e in estimators:
        t0 = time.perf_counter()
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            opts = {}
            if e in ("auto", "learned"):
                opts = {**({} if AUTO_REFINE[0] is None else {"auto_refine": AUTO_REFINE[0]}),
                        **({} if AUTO_REFINE[1] else {"refine_gate": False})}
            xe, rep = Deblurrer("hqs-tv", estimator=e, estimate_options=opts).restore(y, return_report=True)
        xe = np.asarray(xe)
        p_est = float(psnr(xe, ref))
        est = rep["estimate"]
        rows.append({"estimator": e, "psnr_in": p_in, "psnr_true": p_true, "psnr_est": p_est,
                     "ratio": float(((xe - ref) ** 2).sum()) / max(ssd_true, 1e-12),
                     "decision": rep["decision"], "confidence": float(rep["confidence"]),
                     "chosen": est.params.get("chosen", e), "ksize": list(np.shape(rep["psf"])),
                     "margin": est.margin, "ambiguity": est.ambiguity,
                     **{key: est.params.get(key) for key in ("path", "consistency", "tiles", "map_agreement",
                                                            "flip_gap", "learned_agreement", "features",
                                                            "refined")},
                     "psf": np.asarray(rep["psf"], float).round(6).tolist(),
                     "chosen_params": next((c["params"] for c in est.candidates if c["name"] == est.params.get("chosen")),
                                           None),
                     "seconds_estimate": rep["seconds_estimate"], "seconds": time.perf_counter() - t0,
                     "mp": y.size / 1e6})
    return rows


def auc(scores, labels) -> float | None:
    s, lab = np.asarray(scores, float), np.asarray(labels, bool)
    if lab.all() or (~lab).all():
        return None
    pos, neg = s[lab], s[~lab]
    return float(((pos[:, None] > neg[None, :]).sum() + 0.5 * (pos[:, None] == neg[None, :]).sum())
                 / (pos.size * neg.size))


def _reliability(rows: list[dict]) -> list:
    """Share of runs within 1 dB of the true kernel per confidence bin: [lo, hi, n, share]."""
    out = []
    for lo, hi in ((0.0, 0.5), (0.5, 0.9), (0.9, 0.99), (0.99, 1.01)):
        R = [r for r in rows if lo <= r["confidence"] < hi]
        if R:
            out.append([lo, min(hi, 1.0), len(R), float(np.mean([r["psnr_est"] >= r["psnr_true"] - 1
                                                                 for r in R]))])
    return out


def summarise(rows: list[dict]) -> dict:
    out = {}
    for e in sorted({r["estimator"] for r in rows}):
        R = [r for r in rows if r["estimator"] == e]
        low = [r for r in R if r["sigma"] <= 0.01]
        worse = [r for r in low if r["psnr_est"] < r["psnr_in"]]
        ident = [r for r in R if r["group"] == "identity"]
        md = [r for r in R if r["group"] == "md" and abs(r["sigma"] - 0.01) < 1e-9]
        large = [r for r in R if r["group"] == "large"]
        blurred = [r for r in R if r["group"] != "identity"]
        out[e] = {
            "runs": len(R),
            "worse_than_input_sigma_le_0.01": f"{len(worse)}/{len(low)}",
            "worse_share": len(worse) / max(len(low), 1),
            "worst_loss_db": min([r["psnr_est"] - r["psnr_in"] for r in low], default=None),
            "unblurred_max_dev_db": max([abs(r["psnr_est"] - r["psnr_in"]) for r in ident], default=None),
            "md_median_gap_db_sigma_0.01": float(np.median([r["psnr_true"] - r["psnr_est"] for r in md]))
            if md else None,
            "large_ratio_le_3_share": float(np.mean([r["ratio"] <= 3 for r in large])) if large else None,
            "mean_gain_over_input_db": float(np.mean([r["psnr_est"] - r["psnr_in"] for r in blurred]))
            if blurred else None,
            "mean_gain_true_kernel_db": float(np.mean([r["psnr_true"] - r["psnr_in"] for r in blurred]))
            if blurred else None,
            "identity_decisions": sum(r["decision"] == "identity" for r in R),
            "confidence_auc_within_1db": auc([r["confidence"] for r in blurred],
                                             [r["psnr_est"] >= r["psnr_true"] - 1 for r in blurred]),
            # the identity decision's confidence is "no blur is the right call", not "within
            # 1 dB of the true kernel": the same AUC over the estimated kernels only
            "confidence_auc_estimated_only": auc([r["confidence"] for r in blurred if r["decision"] != "identity"],
                                                 [r["psnr_est"] >= r["psnr_true"] - 1
                                                  for r in blurred if r["decision"] != "identity"]),
            "confidence_reliability": _reliability(blurred),
            "s_per_mp_median": float(np.median([r["seconds_estimate"] / r["mp"] for r in R])) if R else None,
        }
    return out


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--data", default=str(ROOT.parent / "shared" / "data"))
    ap.add_argument("--out", default=str(ROOT / "bench_out" / "blind_suite.json"))
    ap.add_argument("--quick", action="store_true", help="3 images, a subset of kernels, sigma 0.01")
    ap.add_argument("--estimators", default="auto,parametric")
    ap.add_argument("--sigmas", default=None, help="comma list (default 0,0.005,0.01,0.02; quick 0.01)")
    ap.add_argument("--limit", type=int, default=None, help="stop after this many cases")
    ap.add_argument("--images", default=None,
                    help="comma list of folder/file names instead of the suite's; 'tune' = the "
                         "development images (TUNE_IMAGES), never reported as suite results")
    ap.add_argument("--kernels", default=None, help="comma list of kernel names (subset)")
    ap.add_argument("--kernel-net", default=None,
                    help="kernel-net weight file used as the learned estimator (default: the shipped one)")
    ap.add_argument("--no-learned", action="store_true",
                    help="leave the learned candidate out of auto (as without shipped weights)")
    ap.add_argument("--auto-refine", type=int, default=None, metavar="N",
                    help="auto / learned: estimate_kernel(auto_refine=N), the gated full-resolution "
                         "refinement passes (default: estimate_kernel's; 0 = off)")
    ap.add_argument("--no-refine-gate", action="store_true",
                    help="auto / learned: keep every refined kernel (estimate_kernel(refine_gate=False))")
    a = ap.parse_args(argv)
    AUTO_REFINE[:] = [a.auto_refine, not a.no_refine_gate]
    if a.kernel_net:
        from learned_kernel_eval import use_weights

        use_weights(a.kernel_net)
    if a.no_learned:
        from hybrid_deblur.estimate import core

        core.ESTIMATOR_WEIGHTS["learned"] = "/nonexistent/kernel_net_gray.pt"
    data = Path(a.data)
    if not (data / "bsd68").is_dir():
        print(f"no data under {data}: nothing to run")
        return 0
    sig = [float(s) for s in (a.sigmas or ("0.01" if a.quick else "0,0.005,0.01,0.02")).split(",")]
    ests = [e.strip() for e in a.estimators.split(",") if e.strip()]
    only = None
    if a.images:
        only = list(TUNE_IMAGES) if a.images == "tune" else [n.strip() for n in a.images.split(",")]
    imgs = images(data, a.quick, only)
    ks = kernels(a.quick and not a.kernels)
    if a.kernels:  # a subset of the full list
        want = [n.strip() for n in a.kernels.split(",")]
        ks = [t for t in ks if t[0] in want]
    rows, n = [], 0
    t0 = time.perf_counter()
    out = Path(a.out)
    for iname, x in imgs:
        for kname, group, k in ks:
            xc = _crop(x, 400 if group == "large" else 256)
            for s in sig:
                if a.limit is not None and n >= a.limit:
                    break
                n += 1
                for r in run_case(xc, k, s, ests, seed=n):
                    r.update(image=iname, kernel=kname, group=group, sigma=s)
                    rows.append(r)
                    print(f"{iname:22s} {kname:12s} s={s:<6} {r['estimator']:10s} in {r['psnr_in']:6.2f} "
                          f"true {r['psnr_true']:6.2f} est {r['psnr_est']:6.2f} {r['decision'][:5]} "
                          f"{r['chosen']:16s} conf {r['confidence']:.2f} {r['seconds_estimate']:5.1f}s",
                          flush=True)
                summary = summarise(rows)
                blob = {"summary": summary, "rows": rows, "quick": a.quick, "sigmas": sig,
                        "seconds": time.perf_counter() - t0, "load": os.getloadavg()}
                out.parent.mkdir(parents=True, exist_ok=True)
                fd, tmp = tempfile.mkstemp(dir=out.parent, suffix=".tmp")
                with os.fdopen(fd, "w") as f:
                    json.dump(blob, f, indent=1, default=float)
                os.replace(tmp, out)
    summary = summarise(rows)
    print(json.dumps(summary, indent=1))
    return 0


if __name__ == "__main__":
    sys.exit(main())
