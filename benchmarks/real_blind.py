"""Blind deblurring of real blurred photos: a figure and a table (issue 10, item 6).

``python benchmarks/real_blind.py [--data ../shared/data] [--method pnp-drunet] [--max-side 640]
[--out bench_out/real_blind]``

The photos are ``real_blur_estimated_kernels`` (real camera shake from the blind-deblurring
literature; each comes with a kernel that *another* blind method estimated — a reference, not
ground truth) and the GoPro frames (non-uniform blur; the Flower pair has its sharp frame).
For every photo, gray, linear light, the longer side reduced to ``--max-side`` (kernels are
shrunk by the same factor): ``Deblurrer(method, estimator="auto")`` estimates and restores
(blind noise floor, plausibility guard: its defaults), and the same method restores with the
reference kernel at the same noise level. Reported: the decision, confidence, estimated
kernel size, its similarity to the reference kernel, the negative flux of the result, the
seconds, and for the Flower pair PSNR against the sharp frame. Writes ``real_blind.png``
(blurred | reference kernel -> restored | estimated kernel -> restored), ``real_blind.json``
and ``real_blind.md`` under ``--out`` (atomically). No target: these photos are the
qualitative check the suite cannot be.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
import warnings
from pathlib import Path

import numpy as np


def _shrink(a: np.ndarray, f: float) -> np.ndarray:
    from scipy.ndimage import zoom

    return a if f >= 1 else zoom(a, f, order=1, prefilter=False)


def _shrink_kernel(k: np.ndarray, f: float) -> np.ndarray:
    if f >= 1:
        return k
    from scipy.ndimage import zoom

    n = max(3, int(round(k.shape[0] * f)) | 1)
    z = np.clip(zoom(k, n / k.shape[0], order=1), 0, None)
    return z / z.sum()


def photos(data: Path, max_side: int):
    """``(name, y, reference kernel or None, sharp or None)`` per photo, scaled to ``max_side``."""
    from hybrid_deblur.io import imread

    real = data / "real_blur_estimated_kernels"
    out = []
    for f in sorted((real / "blurred").iterdir()):
        y = np.asarray(imread(str(f), linear=True, gray=True), float)
        fac = min(1.0, max_side / max(y.shape))
        k = np.load(real / "kernels" / f"{f.stem}.npy")
        out.append((f.stem, _shrink(y, fac), _shrink_kernel(k / k.sum(), fac), None))
    gp = data / "gopro_samples"
    for f in sorted((gp / "pairs").glob("*_blur*.png")) + sorted((gp / "blur_only").glob("*.png")):
        y = np.asarray(imread(str(f), linear=True, gray=True), float)
        fac = min(1.0, max_side / max(y.shape))
        s = f.with_name(f.name.replace("_blur", "_sharp"))
        sharp = _shrink(np.asarray(imread(str(s), linear=True, gray=True), float), fac) if s.exists() and s != f else None
        out.append((f.stem, _shrink(y, fac), None, sharp))
    return out


def run_one(name, y, k_ref, sharp, method):
    from hybrid_deblur.metrics import kernel_similarity, psnr
    from hybrid_deblur.pipeline.deblurrer import Deblurrer
    from hybrid_deblur.pipeline.guard import negative_flux

    t0 = time.perf_counter()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # the decision is recorded
        x, rep = Deblurrer(method, estimator="auto").restore(y, return_report=True)
    secs = time.perf_counter() - t0
    k = np.asarray(rep["psf"], float)
    row = {"photo": name, "shape": list(y.shape), "decision": rep["decision"],
           "confidence": float(rep["confidence"]), "ksize": list(k.shape),
           "negative_flux": rep.get("negative_flux"), "seconds": secs,
           "s_per_mp": secs / (y.size / 1e6), "chosen": rep["estimate"].params.get("chosen")}
    x_ref = None
    if k_ref is not None:
        from hybrid_deblur.solvers.auto import resolve_sigma

        s, _ = resolve_sigma(y, None, floor=0.01)
        x_ref = np.asarray(Deblurrer(method).restore(y, k_ref, sigma=s))
        row.update(ref_ksize=list(k_ref.shape), negative_flux_ref=negative_flux(x_ref, y, s),
                   similarity_to_ref=None if k.size == 1 else kernel_similarity(k, k_ref))
    if sharp is not None:
        row.update(psnr_input=psnr(y, sharp), psnr_blind=psnr(np.asarray(x), sharp))
    return row, np.asarray(x), x_ref, k


def figure(results, path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    from hybrid_deblur.analysis.plots import save_figure

    n = len(results)
    fig, ax = plt.subplots(n, 5, figsize=(13, 2.6 * n), squeeze=False,
                           gridspec_kw={"width_ratios": [3, 1, 3, 1, 3]})
    show = dict(cmap="gray", vmin=0, vmax=1)
    for r, (row, y, x, x_ref, k, k_ref) in enumerate(results):
        disp = [y ** (1 / 2.2), k_ref, None if x_ref is None else np.clip(x_ref, 0, 1) ** (1 / 2.2),
                k, np.clip(x, 0, 1) ** (1 / 2.2)]
        titles = [f"{row['photo']} (blurred)", "reference k", "restored, reference k",
                  f"estimated k {row['ksize'][0]}px", f"blind: {row['decision']}, conf {row['confidence']:.2f}"]
        for c, (im, t) in enumerate(zip(disp, titles)):
            a = ax[r, c]
            a.axis("off")
            if im is None:
                continue
            a.imshow(im, **(show if c in (0, 2, 4) else {"cmap": "magma"}))
            a.set_title(t, fontsize=8)
    fig.tight_layout()
    save_figure(fig, path)
    plt.close(fig)


def markdown(rows) -> str:
    lines = ["| photo | size | decision | conf | k est | k ref | sim to ref | neg. flux | s/MP | PSNR in → out |",
             "|---|---|---|---|---|---|---|---|---|---|"]
    for r in rows:
        sim = r.get("similarity_to_ref")
        ps = f"{r['psnr_input']:.2f} → {r['psnr_blind']:.2f}" if "psnr_input" in r else ""
        nf = "" if r["negative_flux"] is None else f"{r['negative_flux']:.1e}"
        lines.append(f"| {r['photo']} | {r['shape'][1]}×{r['shape'][0]} | {r['decision']} | {r['confidence']:.2f} | "
                     f"{r['ksize'][0]} | {r.get('ref_ksize', [''])[0]} | {'' if sim is None else f'{sim:.2f}'} | "
                     f"{nf} | "
                     f"{r['s_per_mp']:.1f} | {ps} |")
    return "\n".join(lines) + "\n"


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--data", default="../shared/data")
    ap.add_argument("--method", default="pnp-drunet")
    ap.add_argument("--max-side", type=int, default=640)
    ap.add_argument("--limit", type=int, default=0, help="first N photos only (0: all)")
    ap.add_argument("--out", default="bench_out/real_blind")
    a = ap.parse_args(argv)
    data = Path(a.data)
    if not (data / "real_blur_estimated_kernels").is_dir():
        print(f"error: --data {a.data!r} has no real_blur_estimated_kernels folder", file=sys.stderr)
        return 2
    if a.max_side < 64:
        print(f"error: --max-side must be >= 64 pixels, got {a.max_side}", file=sys.stderr)
        return 2
    from hybrid_deblur.io.write import atomic_save_json, atomic_write

    out = Path(a.out)
    out.mkdir(parents=True, exist_ok=True)
    items = photos(data, a.max_side)[: a.limit or None]
    results, rows = [], []
    for i, (name, y, k_ref, sharp) in enumerate(items):
        row, x, x_ref, k = run_one(name, y, k_ref, sharp, a.method)
        rows.append(row)
        results.append((row, y, x, x_ref, k, k_ref))
        print(f"[{i + 1}/{len(items)}] {name}: {row['decision']} k {row['ksize'][0]} px conf "
              f"{row['confidence']:.2f} {row['seconds']:.1f} s", flush=True)
    figure(results, out / "real_blind.png")
    atomic_save_json(out / "real_blind.json", {"args": vars(a), "rows": rows})
    md = markdown(rows)
    with atomic_write(out / "real_blind.md", "w", encoding="utf-8") as f:
        f.write(md)
    print(md)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
