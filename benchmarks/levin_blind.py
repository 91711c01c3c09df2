"""Blind deblurring on Levin et al. (2009): 32 real camera-shake captures.

For each capture: estimate the kernel with :func:`hybrid_deblur.estimate.estimate_kernel`,
restore with the *same* non-blind step (default ``--final hl``, a historical name: TV HQS at
sigma = 0.01 with ringing suppression,
:func:`hybrid_deblur.estimate.restore.restore_ringing_suppressed`; ``--final NAME``: any
registered method, e.g. ``pnp-drunet``, the default of ``Deblurrer``, given the noise level the
blind ``Deblurrer`` uses, ``max(estimate_noise(y), BLIND_SIGMA_FLOOR)``; clipped to [0, 1] unless
``--no-clip``) for the estimated and for the true kernel, and report aligned PSNR/SSIM
(DESIGN §7: ±5 px incl. 0.25-px shifts, 15 px border), kernel similarity, the error ratio
against our own true-kernel restoration and against Levin's true-kernel SSDs (manifest), success rates and time per image.

Usage (from the repository root)::

    OMP_NUM_THREADS=1 HYBRID_DEBLUR_FFT_WORKERS=1 .venv/bin/python benchmarks/levin_blind.py \\
        [--data ../shared/data] [--out bench_out/levin_blind.json] [--limit N] [--jobs 1] \\
        [--reference mat|png] [--method map] [--prior l0] [--size auto] [--final hl|METHOD] \\
        [--kernels-from EARLIER.json]

``--reference mat`` (default) reads Levin's float ``x``/``y`` from ``mat/``: the published
means were computed against the float sharp images, and the sharp PNG copies differ from them
(see ``benchmarks/README.md``); ``png`` uses ``blurred/*.png`` and ``sharp/*.png``.

Writes JSON, a per-image CSV and the markdown table next to ``--out``.
"""

from __future__ import annotations

import argparse
import csv
import io
import json
import os
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
PUBLISHED = [  # mean PSNR on the same 32 images, as reported in the literature
    ("Krishnan et al. 2011", 29.88), ("Cho & Lee 2009", 30.57), ("Levin et al. 2011", 30.80),
    ("Xu & Jia 2010", 31.67), ("Pan et al. 2016 (dark channel)", 32.69),
    ("Sun et al. 2013", 32.99), ("SelfDeblur 2020", 33.07),
]
TARGET_PSNR = 32.7
TARGET_SUCCESS = 0.9


def _atomic_write(path: Path, text: str) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=path.name, suffix=".tmp")
    with os.fdopen(fd, "w") as f:
        f.write(text)
    os.replace(tmp, path)


def load_case(root: Path, i: int, j: int, reference: str):
    """(y, x, k) of capture ``im{i}_k{j}``."""
    k = np.load(root / "kernels" / f"levin_k{j}.npy")
    if reference == "mat":
        from scipy.io import loadmat

        m = loadmat(root / "mat" / f"im0{i}_ker0{j}.mat")
        return np.asarray(m["y"], float), np.asarray(m["x"], float), k / k.sum()
    from hybrid_deblur.io import imread

    x = np.asarray(imread(str(root / "sharp" / f"im{i}.png"), linear=False, gray=True), float)
    y = np.asarray(imread(str(root / "blurred" / f"im{i}_k{j}.png"), linear=False, gray=True), float)
    return y, x, k / k.sum()


#: ``--auto-refine N``: estimate_kernel(auto_refine=N) (set by main; None = the estimator's default)
AUTO_REFINE = [None]


def _final_step(final: str):
    """The non-blind step applied to both kernels: ``"hl"`` (historical name: TV HQS at sigma
    0.01 with ringing suppression, the default) or any registered method through
    :class:`Deblurrer`, given the blind path's noise level (the estimate, floored)."""
    if final == "hl":
        from hybrid_deblur.estimate.restore import restore_ringing_suppressed

        return restore_ringing_suppressed
    from hybrid_deblur.pipeline.deblurrer import BLIND_SIGMA_FLOOR, Deblurrer
    from hybrid_deblur.solvers.noise_level import estimate_noise

    d = Deblurrer(final)
    return lambda y, k: np.asarray(d.restore(y, k, sigma=max(float(estimate_noise(y)), BLIND_SIGMA_FLOOR)),
                                   float)


def run_case(args):
    """Estimate, restore (estimated and true kernel), measure one capture."""
    root, i, j, reference, method, prior, size, ssd_levin, clip, final, cached = args
    os.environ.setdefault("OMP_NUM_THREADS", "1")
    from hybrid_deblur import metrics as M

    y, x, k = load_case(Path(root), i, j, reference)
    if cached is None:
        from hybrid_deblur.estimate import estimate_kernel

        t0 = time.perf_counter()
        import warnings

        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # the no-harm decision is recorded per image
            ke, rep = estimate_kernel(y, size=None if size == "auto" else int(size), method=method,
                                      prior=prior, **({} if AUTO_REFINE[0] is None else {"auto_refine": AUTO_REFINE[0]}))
        t_est = time.perf_counter() - t0
        est = {"size": rep.size[0], "confidence": rep.confidence, "decision": rep.decision,
               "chosen": rep.params.get("chosen", method), "path": rep.params.get("path")}
    else:  # kernels of an earlier run (--kernels-from): only the final step changes
        ke, t_est = np.asarray(cached["kernel_estimate"], float), cached["time_estimate_s"]
        est = {key: cached.get(key) for key in ("size", "confidence", "decision", "chosen", "path")}
    restore = _final_step(final)
    t1 = time.perf_counter()
    z_est = restore(y, ke)
    t_restore = time.perf_counter() - t1
    z_true = restore(y, k)
    if clip:  # displayable images, the same for both restorations
        z_est, z_true = np.clip(z_est, 0, 1), np.clip(z_true, 0, 1)
    ssd_est = M.ssd_aligned(z_est, x)
    ssd_true = M.ssd_aligned(z_true, x)
    return {
        "image": f"im{i}", "kernel": f"k{j}", "size": est["size"],
        "psnr": M.aligned_psnr(z_est, x), "ssim": M.aligned_ssim(z_est, x),
        "psnr_true_kernel": M.aligned_psnr(z_true, x), "ssim_true_kernel": M.aligned_ssim(z_true, x),
        "kernel_similarity": M.kernel_similarity(ke, k),
        "ratio_own": ssd_est / max(ssd_true, 1e-12), "ratio_levin": ssd_est / ssd_levin,
        "ssd": ssd_est, "ssd_true_kernel": ssd_true, "ssd_levin": ssd_levin,
        "confidence": est["confidence"], "decision": est["decision"], "time_estimate_s": t_est,
        "chosen": est["chosen"], "path": est["path"], "time_restore_s": t_restore, "final": final,
        "kernel_estimate": np.asarray(ke).tolist(),
    }


def summarise(rows: list[dict]) -> dict:
    def mean(key):
        return float(np.mean([r[key] for r in rows]))

    out = {"n": len(rows)}
    for key in ("psnr", "ssim", "psnr_true_kernel", "ssim_true_kernel", "kernel_similarity",
                "time_estimate_s", "time_restore_s"):
        out[key] = mean(key)
    for key in ("ratio_own", "ratio_levin"):
        r = np.array([row[key] for row in rows])
        out[key + "_mean"] = float(r.mean())
        out[key + "_max"] = float(r.max())
        out[key + "_success"] = {str(t): float((r <= t).mean()) for t in (1.5, 2.0, 2.5, 3.0)}
    out["targets"] = {
        f"mean aligned PSNR >= {TARGET_PSNR}": out["psnr"] >= TARGET_PSNR,
        f">= {int(TARGET_SUCCESS * 100)} % at ratio <= 2 (own true-kernel restoration)":
            out["ratio_own_success"]["2.0"] >= TARGET_SUCCESS,
    }
    return out


def markdown(rows: list[dict], s: dict, title: str) -> str:
    lines = [f"## {title}", "", ("| image | kernel | size | PSNR | SSIM | PSNR (true k) | k-sim | "
                                 "ratio (own) | ratio (Levin) | time (s) |"),
             "|---|---|---|---|---|---|---|---|---|---|"]
    for r in rows:
        lines.append(f"| {r['image']} | {r['kernel']} | {r['size']} | {r['psnr']:.2f} | {r['ssim']:.3f} | "
                     f"{r['psnr_true_kernel']:.2f} | {r['kernel_similarity']:.3f} | {r['ratio_own']:.2f} | "
                     f"{r['ratio_levin']:.2f} | {r['time_estimate_s']:.1f} |")
    so, sl = s["ratio_own_success"], s["ratio_levin_success"]
    lines += ["", ("| method | mean aligned PSNR (dB) | SSIM | success ≤1.5/2/2.5/3 (own) | "
                   "success ≤1.5/2/2.5/3 (Levin SSD) | s / image |"), "|---|---|---|---|---|---|"]
    lines.append(f"| **ours** | **{s['psnr']:.2f}** | {s['ssim']:.3f} | "
                 f"{so['1.5']:.0%} / {so['2.0']:.0%} / {so['2.5']:.0%} / {so['3.0']:.0%} | "
                 f"{sl['1.5']:.0%} / {sl['2.0']:.0%} / {sl['2.5']:.0%} / {sl['3.0']:.0%} | "
                 f"{s['time_estimate_s']:.1f} |")
    lines.append(f"| ours, true kernel (same solver) | {s['psnr_true_kernel']:.2f} | "
                 f"{s['ssim_true_kernel']:.3f} | – | – | – |")
    for name, v in PUBLISHED:
        lines.append(f"| {name} (published) | {v:.2f} | – | – | – | – |")
    lines += ["", (f"Kernel similarity {s['kernel_similarity']:.3f}; mean error ratio "
                   f"{s['ratio_own_mean']:.2f} (own), {s['ratio_levin_mean']:.2f} (Levin); worst "
                   f"{s['ratio_own_max']:.2f} (own)."), ""]
    lines += [f"- {k}: {'met' if v else 'NOT met'}" for k, v in s["targets"].items()]
    return "\n".join(lines) + "\n"


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--data", default=str(ROOT / ".." / "shared" / "data"))
    ap.add_argument("--out", default=str(ROOT / "bench_out" / "levin_blind.json"))
    ap.add_argument("--limit", type=int, default=None)
    ap.add_argument("--jobs", type=int, default=1, help="process pool size (default 1: shared machine)")
    ap.add_argument("--reference", default="mat", choices=("png", "mat"),
                    help="original float .mat x/y (default: what the published means used) "
                         "or the 8-bit PNG copies")
    ap.add_argument("--method", default="map", choices=("map", "auto", "learned", "blind_rl", "parametric"))
    ap.add_argument("--prior", default="l0", choices=("l0", "dark_channel"))
    ap.add_argument("--size", default="auto", help="kernel size or 'auto'")
    ap.add_argument("--final", default="hl",
                    help="non-blind step for both kernels: 'hl' (historical name: TV HQS at sigma 0.01 "
                         "with ringing suppression) or a registered method name, e.g. pnp-drunet "
                         "(given the blind Deblurrer's floored noise level)")
    ap.add_argument("--kernels-from", default=None, metavar="JSON",
                    help="reuse the estimated kernels of an earlier run's JSON (same captures)")
    ap.add_argument("--no-clip", dest="clip", action="store_false",
                    help="do not clip both restorations to [0, 1] before measuring")
    ap.add_argument("--auto-refine", type=int, default=None, metavar="N",
                    help="estimate_kernel(auto_refine=N): full-resolution refinements of a chosen MAP kernel "
                         "(default: the estimator's own, 2; 0 turns them off)")
    a = ap.parse_args(argv)
    AUTO_REFINE[0] = a.auto_refine
    root = Path(a.data) / "levin2009"
    if not (root / "manifest.json").exists():
        print(f"no Levin data under {root}; pass --data", file=sys.stderr)
        return 2
    man = json.loads((root / "manifest.json").read_text())
    ssd = np.asarray(man["mat"]["ssd_error_true_kernel"]["values"], dtype=float)
    cached = {}
    if a.kernels_from:
        cached = {(r["image"], r["kernel"]): r for r in json.loads(Path(a.kernels_from).read_text())["rows"]}
    jobs = [(str(root), i, j, a.reference, a.method, a.prior, a.size, float(ssd[i - 1, j - 1]), a.clip,
             a.final, cached.get((f"im{i}", f"k{j}")) if a.kernels_from else None)
            for i in range(1, 5) for j in range(1, 9)]
    jobs = jobs[: a.limit] if a.limit else jobs
    from tqdm import tqdm

    if a.jobs > 1:
        from concurrent.futures import ProcessPoolExecutor

        with ProcessPoolExecutor(a.jobs) as ex:
            rows = list(tqdm(ex.map(run_case, jobs), total=len(jobs), disable=not sys.stderr.isatty()))
    else:
        rows = [run_case(j) for j in tqdm(jobs, disable=not sys.stderr.isatty())]
    s = summarise(rows)
    title = (f"Levin 2009 blind ({a.method}, prior {a.prior}, size {a.size}, reference {a.reference}, "
             f"final step {a.final}, {len(rows)} captures)")
    md = markdown(rows, s, title)
    print(md)
    out = Path(a.out)
    _atomic_write(out, json.dumps({"title": title, "summary": s, "rows": rows,
                                   "args": vars(a)}, indent=1))
    buf = io.StringIO()
    keys = [k for k in rows[0] if k != "kernel_estimate"] if rows else []
    w = csv.DictWriter(buf, fieldnames=keys, extrasaction="ignore")
    w.writeheader()
    for r in rows:
        w.writerow(r)
    _atomic_write(out.with_suffix(".csv"), buf.getvalue())
    _atomic_write(out.with_suffix(".md"), md)
    return 0


if __name__ == "__main__":
    sys.exit(main())
