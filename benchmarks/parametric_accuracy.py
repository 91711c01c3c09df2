"""Accuracy of the parametric blur estimators on synthetic blur.

Linear motion of length 5–40 px at angles 0–165° (step 15°), defocus radius 2–12 px and
Gaussian σ 1–4 px, each applied with ``valid`` convolution to BSD68 images (cycled) plus
Gaussian noise σ = 0.01. Reports median / 90th-percentile angle, length, radius and σ
errors (overall and for length ≥ 10 px / radius ≥ 3 px, the targets' range).

Usage (from the repository root)::

    OMP_NUM_THREADS=1 HYBRID_DEBLUR_FFT_WORKERS=1 .venv/bin/python benchmarks/parametric_accuracy.py \\
        [--data ../shared/data] [--out bench_out/parametric_accuracy.json] [--noise 0.01]
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


def _atomic_write(path: Path, text: str) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=path.name, suffix=".tmp")
    with os.fdopen(fd, "w") as f:
        f.write(text)
    os.replace(tmp, path)


def _images(data: Path, n: int):
    from hybrid_deblur.io import imread

    root = data / "bsd68"
    man = json.loads((root / "manifest.json").read_text())
    files = sorted(f["file"] for f in man["files"] if f["file"].lower().endswith((".png", ".jpg", ".tif")))
    return [np.asarray(imread(str(root / f), linear=False, gray=True), float) for f in files[:n]]


def _stats(err: np.ndarray) -> dict:
    if err.size == 0:
        return {"n": 0, "median": float("nan"), "p90": float("nan"), "max": float("nan")}
    return {"n": int(err.size), "median": float(np.median(err)), "p90": float(np.percentile(err, 90)),
            "max": float(err.max())}


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--data", default=str(ROOT / ".." / "shared" / "data"))
    ap.add_argument("--out", default=str(ROOT / "bench_out" / "parametric_accuracy.json"))
    ap.add_argument("--noise", type=float, default=0.01)
    ap.add_argument("--images", type=int, default=8, help="BSD68 images cycled over the cases")
    ap.add_argument("--seed", type=int, default=0)
    a = ap.parse_args(argv)
    data = Path(a.data)
    if not (data / "bsd68" / "manifest.json").exists():
        print(f"no BSD68 under {data}; pass --data", file=sys.stderr)
        return 2
    from scipy.signal import fftconvolve

    from hybrid_deblur.estimate import estimate_defocus, estimate_gaussian, estimate_motion
    from hybrid_deblur.psf import disk, gaussian, linear_motion

    imgs = _images(data, a.images)
    rng = np.random.default_rng(a.seed)
    rows = []
    cases = [("motion", L, ang) for L in (5, 10, 15, 20, 25, 30, 35, 40) for ang in range(0, 180, 15)]
    cases += [("defocus", r, 0) for r in range(2, 13)]
    cases += [("gaussian", s, 0) for s in (1.0, 1.5, 2.0, 3.0, 4.0)]
    from tqdm import tqdm

    t_all = time.perf_counter()
    for n, (kind, p, ang) in enumerate(tqdm(cases, disable=not sys.stderr.isatty())):
        x = imgs[n % len(imgs)]
        if kind == "motion":
            k = linear_motion(p, ang)
        elif kind == "defocus":
            k = disk(p)
        else:
            k = gaussian(p)
        y = fftconvolve(x, k, mode="valid") + a.noise * rng.standard_normal(
            (x.shape[0] - k.shape[0] + 1, x.shape[1] - k.shape[1] + 1))
        t0 = time.perf_counter()
        if kind == "motion":
            m = estimate_motion(y)
            row = {"kind": kind, "true": p, "angle": ang, "est": m["length"], "est_angle": m["angle"],
                   "err": abs(m["length"] - p), "angle_err": abs((m["angle"] - ang + 90) % 180 - 90)}
        elif kind == "defocus":
            d = estimate_defocus(y)
            row = {"kind": kind, "true": p, "est": d["radius"], "err": abs(d["radius"] - p)}
        else:
            g = estimate_gaussian(y)
            row = {"kind": kind, "true": p, "est": g["sigma"], "err": abs(g["sigma"] - p)}
        row["time_s"] = time.perf_counter() - t0
        rows.append(row)
    mot = [r for r in rows if r["kind"] == "motion"]
    dfc = [r for r in rows if r["kind"] == "defocus"]
    gau = [r for r in rows if r["kind"] == "gaussian"]
    s = {
        "noise": a.noise, "cases": len(rows), "time_s": time.perf_counter() - t_all,
        "angle_error_deg": _stats(np.array([r["angle_err"] for r in mot])),
        "angle_error_deg_len>=10": _stats(np.array([r["angle_err"] for r in mot if r["true"] >= 10])),
        "length_error_px": _stats(np.array([r["err"] for r in mot])),
        "length_error_px_len>=10": _stats(np.array([r["err"] for r in mot if r["true"] >= 10])),
        "radius_error_px": _stats(np.array([r["err"] for r in dfc])),
        "radius_error_px_r>=3": _stats(np.array([r["err"] for r in dfc if r["true"] >= 3])),
        "sigma_error_px": _stats(np.array([r["err"] for r in gau])),
    }
    s["targets"] = {
        "median angle error <= 2 deg": s["angle_error_deg"]["median"] <= 2,
        "median length error <= 1 px (length >= 10)": s["length_error_px_len>=10"]["median"] <= 1,
        "median radius error <= 1 px (radius >= 3)": s["radius_error_px_r>=3"]["median"] <= 1,
    }
    lines = [(f"## Parametric blur estimation, noise σ = {a.noise} ({len(rows)} cases, "
              f"{s['time_s']:.0f} s)"), "", "| quantity | n | median | 90th pct | max |",
             "|---|---|---|---|---|"]
    for key in ("angle_error_deg", "angle_error_deg_len>=10", "length_error_px", "length_error_px_len>=10",
                "radius_error_px", "radius_error_px_r>=3", "sigma_error_px"):
        v = s[key]
        lines.append(f"| {key} | {v['n']} | {v['median']:.2f} | {v['p90']:.2f} | {v['max']:.2f} |")
    lines += ["", "Per length (median angle / length error):", "", "| length | angle err | length err |",
              "|---|---|---|"]
    for L in sorted({r["true"] for r in mot}):
        sub = [r for r in mot if r["true"] == L]
        lines.append(f"| {L} | {np.median([r['angle_err'] for r in sub]):.2f} | "
                     f"{np.median([r['err'] for r in sub]):.2f} |")
    lines += ["", "| radius | estimate |", "|---|---|"]
    lines += [f"| {r['true']} | {r['est']:.2f} |" for r in dfc]
    lines += [""] + [f"- {k}: {'met' if v else 'NOT met'}" for k, v in s["targets"].items()]
    md = "\n".join(lines) + "\n"
    print(md)
    out = Path(a.out)
    _atomic_write(out, json.dumps({"summary": s, "rows": rows, "args": vars(a)}, indent=1))
    buf = io.StringIO()
    keys = sorted({k for r in rows for k in r})
    w = csv.DictWriter(buf, fieldnames=keys)
    w.writeheader()
    w.writerows(rows)
    _atomic_write(out.with_suffix(".csv"), buf.getvalue())
    _atomic_write(out.with_suffix(".md"), md)
    return 0


if __name__ == "__main__":
    sys.exit(main())
