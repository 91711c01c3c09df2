"""Generate ``06_failure_cases.ipynb`` (run: ``python notebooks/_build_06_failure_cases.py``).

The notebook is written without outputs; ``tests/test_notebooks.py`` executes it.
"""

from __future__ import annotations

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _nbtools import Cells, build

CELLS = Cells()
md, code, solution = CELLS.md, CELLS.code, CELLS.solution

md(r"""
# Failure cases: where does each method break?

Averages hide failures. The **failure atlas** sweeps the degradation (motion length × defocus
radius × noise, and more: photons, saturation, non-uniform blur) and records, cell by cell,
whether a method beat its blurred input and how far it stayed from the result with the true
kernel. In this notebook (under a minute on a laptop CPU) you will

1. run a small excerpt of the atlas (`hybrid_deblur.analysis.atlas.teaching_sweep`);
2. read a **heatmap**: gain over the input per cell, for a non-blind and a blind method;
3. read a **failure boundary**: the line between the cells where a method helps and where it
   hurts, and the region where motion and defocus cannot be told apart;
4. summarise per method, then try the exercises.

The full atlas is `hybrid-deblur atlas` (see `benchmarks/README.md`).
""")

code(r"""
%matplotlib inline
import os
os.environ.setdefault("OMP_NUM_THREADS", "1")

import numpy as np
import matplotlib.pyplot as plt
from IPython.display import Image, display

from hybrid_deblur.analysis.atlas import TEACHING_SPEC, method_summary, teaching_sweep
from hybrid_deblur.analysis.atlas_report import grid_mean

plt.rcParams["figure.dpi"] = 72

spec = {"axes": {"noise_sigma": [0.01]},                 # one noise level: half the full excerpt
        "methods": {"nonblind": ["wiener"], "blind": ["parametric>hqs-tv"]}}
res = teaching_sweep(spec=spec)                           # 12 cells x 2 methods, report drawn
rows = res.rows
print(len(rows), "rows; axes:", TEACHING_SPEC["axes"]["motion_length"], "x",
      TEACHING_SPEC["axes"]["defocus_radius"])
""")

md(r"""
Each row is one (cell, method): the blur parameters, the input PSNR, the method's PSNR,
`gap_input` (gain over the blurred input, dB), `gap_true` (distance to the same solver with the
true kernel; blind methods only) and `failed` (worse than the input, or more than 1 dB from the
true-kernel result).
""")

code(r"""
keys = ("method", "motion_length", "defocus_radius", "input_psnr", "psnr", "gap_input", "gap_true", "failed")
for r in rows[:6]:
    print({k: (round(r[k], 2) if isinstance(r[k], float) else r[k]) for k in keys})
""")

md(r"""
## Reading a heatmap and a failure boundary

Below, one panel per method: colour = gain over the blurred input (blue = better, red = worse),
the number in each cell is that gain in dB. The **black line** is the failure boundary: it
separates the cells where the method made the image worse from those where it helped. Read it
as "beyond this line, do not use this method (at this noise level)".
""")

code(r"""
xs = sorted({r["motion_length"] for r in rows})
ys = sorted({r["defocus_radius"] for r in rows})
methods = ["wiener", "parametric>hqs-tv"]
fig, axes = plt.subplots(1, 2, figsize=(10, 3.8))
for ax, m in zip(axes, methods):
    rm = [r for r in rows if r["method"] == m]
    gain = grid_mean(rm, "gap_input", "motion_length", "defocus_radius", xs, ys)
    im = ax.imshow(gain, origin="lower", cmap="RdBu", vmin=-6, vmax=6, aspect="auto")
    for i in range(len(ys)):
        for j in range(len(xs)):
            ax.text(j, i, f"{gain[i, j]:.1f}", ha="center", va="center", fontsize=9)
    # failure boundary: the edges between failing (gain < 0) and helping cells
    bad = gain < 0
    for i in range(len(ys)):
        for j in range(len(xs)):
            if j + 1 < len(xs) and bad[i, j] != bad[i, j + 1]:
                ax.plot([j + 0.5, j + 0.5], [i - 0.5, i + 0.5], "k", lw=2.5)
            if i + 1 < len(ys) and bad[i, j] != bad[i + 1, j]:
                ax.plot([j - 0.5, j + 0.5], [i + 0.5, i + 0.5], "k", lw=2.5)
    ax.set_xticks(range(len(xs)), [f"{v:g}" for v in xs])
    ax.set_yticks(range(len(ys)), [f"{v:g}" for v in ys])
    ax.set_xlabel("motion length (px)")
    ax.set_ylabel("defocus radius (px)")
    ax.set_title(m, fontsize=10)
fig.colorbar(im, ax=axes, label="gain over input (dB)", shrink=0.9)
plt.show()
""")

md(r"""
The non-blind Wiener filter knows the true kernel, yet at 15 px of motion on this small 96-px
image it falls *below* the input: a linear filter cannot fill the OTF zeros, and the automatic
NSR lets the noise through there. Knowing the kernel is not enough — the boundary tells you where
a better prior (HQS, learned) is needed. The blind method has to *find* the kernel first; it
gains more on average here (its TV prior suppresses the noise), but it fails where the
parametric fit goes wrong and the no-harm guard does not catch it. A blank (nan) cell is a cell
without a result; the row says why:
""")

code(r"""
for r in rows:
    if r["psnr"] is None:
        print(r["method"], "at", r["motion_length"], "/", r["defocus_radius"], "->",
              "error:", r["error"], "| decision:", r["decision"])
""")

md(r"""
The atlas's own report draws the same information with more panels: PSNR, gain over the input,
gap to the true-kernel result and the share of failed cells; the purple dashed line is the
"more than 1 dB from the true kernel" boundary, and **dotted cells** are where the parametric fit
cannot tell motion from defocus (the ambiguity of notebook 04).
""")

code(r"""
display(Image(filename=str(res.out / "figures" / "parametric_hqs-tv.png"), width=560))
""")

md(r"""
## Per-method summary
""")

code(r"""
print(f"{'method':20s} {'cells':>5s} {'mean PSNR':>9s} {'gain dB':>8s} {'failed':>7s} {'below input':>11s}")
for s in method_summary(rows, methods):
    print(f"{s['method']:20s} {s['cells']:5d} {s['mean_psnr']:9.2f} {s['mean_gain_db']:8.2f}"
          f" {s['failed']:7.0%} {s['below_input']:11.0%}")
""")

md(r"""
## Exercises

1. Re-run the sweep at a higher noise level (`{"axes": {"noise_sigma": [0.05]}}`, Wiener only).
   Does Wiener's failure boundary move?
2. Which cells are flagged `indistinguishable` (motion and defocus fit equally well)? Are the
   blind method's failures concentrated there?

Solutions: hidden cells below.
""")

solution(r"""
# Solution 1: more noise -> less to gain; the boundary moves towards the larger blurs
res_noisy = teaching_sweep(spec={"axes": {"noise_sigma": [0.05]},
                                 "methods": {"nonblind": ["wiener"], "blind": []}}, report=False)
g = grid_mean(res_noisy.rows, "gap_input", "motion_length", "defocus_radius", xs, ys)
print("gain over input at σ=0.05 (rows: defocus radius, columns: motion length):")
print(np.round(g, 1))
""")

solution(r"""
# Solution 2: compare the failures of the blind method with the ambiguity flag
blind = [r for r in rows if r["method"] == "parametric>hqs-tv"]
for flag in (True, False):
    sel = [r for r in blind if bool(r["indistinguishable"]) == flag]
    if sel:
        print(f"indistinguishable={flag}: {len(sel)} cells, failed {np.mean([r['failed'] for r in sel]):.0%}")
""")


if __name__ == "__main__":
    build(CELLS, Path(__file__).resolve().parent / "06_failure_cases.ipynb")
