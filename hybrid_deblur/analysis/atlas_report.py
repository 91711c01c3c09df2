"""Failure-atlas report: heatmaps per method and metric, failure boundaries, indistinguishability, HTML.

Everything is drawn from the tidy table (``OUT/results.json``) alone, so
``hybrid-deblur atlas --report-only`` redraws a finished or partial sweep without
running anything. A method *fails* in a cell when its restoration is worse than the
blurred input (``gap_input < 0``), more than ``fail_gap_db`` below the same solver with
the true kernel (``gap_true``, blind methods), or not finite. Heatmaps average over
the images and every axis that is neither the x, y nor facet axis of the layout.

Examples
--------
>>> from hybrid_deblur.analysis.atlas_report import grid_mean
>>> rows = [{"a": 0.0, "b": 1.0, "m": "x", "psnr": 20.0}, {"a": 1.0, "b": 1.0, "m": "x", "psnr": 22.0}]
>>> grid_mean(rows, "psnr", "a", "b", [0.0, 1.0], [1.0]).tolist()
[[20.0, 22.0]]
"""

from __future__ import annotations

import html
import json
import math
import os
import re
from pathlib import Path

import numpy as np

from .atlas_spec import AXES, spec_from_dict

__all__ = ["METRICS", "grid_mean", "make_report", "method_summary"]

#: metric -> (short label, colormap, centred at zero)
METRICS = {
    "psnr": ("PSNR dB", "viridis", False),
    "gap_input": ("gain vs input dB", "RdBu", True),
    "gap_true": ("gap to true kernel dB", "RdBu", True),
    "failed": ("share failed", "Reds", False),
}


def _num(v):
    if v is None or v == "":
        return math.nan
    if isinstance(v, bool):
        return float(v)
    return float(v)


def grid_mean(rows: list[dict], metric: str, x: str, y: str | None, xs, ys) -> np.ndarray:
    """Mean of ``metric`` over ``rows`` on the (y, x) grid of axis values (NaN where empty)."""
    ys = list(ys) if y is not None else [None]
    acc = np.zeros((len(ys), len(xs)))
    cnt = np.zeros((len(ys), len(xs)))
    xi = {v: i for i, v in enumerate(xs)}
    yi = {v: i for i, v in enumerate(ys)}
    for r in rows:
        val = _num(r.get(metric))
        if not math.isfinite(val):
            continue
        i, j = yi.get(r[y] if y is not None else None), xi.get(r[x])
        if i is None or j is None:
            continue
        acc[i, j] += val
        cnt[i, j] += 1
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.where(cnt > 0, acc / np.maximum(cnt, 1), np.nan)


def _fail_rows(rows):
    """Rows with ``failed`` as a number (a method error counts as failed)."""
    return [dict(r, failed=1.0 if (r.get("failed") or r.get("error")) else 0.0) for r in rows]


def method_summary(rows: list[dict], methods: list[str], gap_db: float = 1.0) -> list[dict]:
    """Per method: cells, mean PSNR, mean gain over input, share failed / below input / far from true."""
    out = []
    for m in methods:
        rs = [r for r in rows if r["method"] == m]
        if not rs:
            continue
        p = np.array([_num(r["psnr"]) for r in rs])
        gi = np.array([_num(r["gap_input"]) for r in rs])
        gt = np.array([_num(r.get("gap_true")) for r in rs])
        t = np.array([_num(r["time_s"]) for r in rs])
        er = np.array([_num(r.get("error_ratio")) for r in rs])
        fin = np.isfinite(p)
        out.append({
            "method": m, "kind": rs[0].get("kind"), "cells": len(rs),
            "mean_psnr": float(np.nanmean(p)) if fin.any() else math.nan,
            "mean_gain_db": float(np.nanmean(gi)) if fin.any() else math.nan,
            "failed": float(np.mean([bool(r.get("failed") or r.get("error")) for r in rs])),
            "below_input": float(np.mean(~fin | (gi < 0))),
            "far_from_true": float(np.mean(gt < -gap_db)) if np.isfinite(gt).any() else math.nan,
            "ratio_le_2": float(np.mean(er[np.isfinite(er)] <= 2)) if np.isfinite(er).any() else math.nan,
            "mean_time_s": float(np.nanmean(t)),
            "errors": int(sum(bool(r.get("error")) for r in rs)),
        })
    return out


def _fmt(v, pct=False):
    if v is None or (isinstance(v, float) and not math.isfinite(v)):
        return "–"
    return f"{100 * v:.0f} %" if pct else (f"{v:.2f}" if isinstance(v, float) else str(v))


def summary_markdown(summary: list[dict]) -> str:
    """Markdown table of :func:`method_summary`."""
    lines = [("| method | kind | cells | mean PSNR | mean gain vs input (dB) | failed | below input "
             "| far below true kernel | error ratio ≤ 2 | mean time (s) |"),
             "|---|---|---|---|---|---|---|---|---|---|"]
    for s in summary:
        lines.append(f"| {s['method']} | {s['kind']} | {s['cells']} | {_fmt(s['mean_psnr'])} | "
                     f"{_fmt(s['mean_gain_db'])} | {_fmt(s['failed'], True)} | "
                     f"{_fmt(s['below_input'], True)} | {_fmt(s['far_from_true'], True)} | "
                     f"{_fmt(s['ratio_le_2'], True)} | {_fmt(s['mean_time_s'])} |")
    return "\n".join(lines) + "\n"


# ----------------------------------------------------------------------------- drawing
def _label(axis: str | None) -> str:
    if axis is None:
        return ""
    unit = AXES[axis][1]
    return axis.replace("_", " ") + (f" ({unit})" if unit else "")


def _panel(ax, grid, xs, ys, *, cmap, centred, vmax, title, gi=None, gt=None, ind=None, gap_db=1.0):
    from matplotlib.colors import TwoSlopeNorm

    g = np.ma.masked_invalid(grid)
    norm = TwoSlopeNorm(0.0, -vmax, vmax) if centred else None
    kw = {"norm": norm} if centred else {"vmin": 0 if cmap == "Reds" else None, "vmax": vmax}
    im = ax.imshow(g, origin="lower", cmap=cmap, aspect="auto", **kw)
    for (i, j), v in np.ndenumerate(grid):
        if math.isfinite(v):
            ax.text(j, i, f"{v:.1f}" if abs(v) >= 1 or v == 0 else f"{v:.2f}", ha="center",
                    va="center", fontsize=6.5, color="black")
    for data, level, style, color in ((gi, 0.0, "solid", "black"), (gt, -gap_db, "dashed", "purple")):
        if data is not None:
            _boundary(ax, data, level, color=color, style=style)
    if ind is not None:
        import matplotlib
        from matplotlib.patches import Rectangle

        with matplotlib.rc_context({"hatch.color": "0.4", "hatch.linewidth": 0.6}):
            for (i, j), v in np.ndenumerate(ind):
                if math.isfinite(v) and v >= 0.5:
                    ax.add_patch(Rectangle((j - 0.5, i - 0.5), 1, 1, fill=False, lw=0, hatch="..."))
    ax.set_xticks(range(len(xs)), [f"{v:g}" for v in xs], fontsize=7)
    ax.set_yticks(range(len(ys)), [f"{v:g}" if v is not None else "" for v in ys], fontsize=7)
    if title:
        ax.set_title(title, fontsize=8)
    return im


def _boundary(ax, data: np.ndarray, level: float, *, color: str, style: str) -> None:
    """Draw the failure boundary on the cell grid: the edges between cells below ``level``
    and cells above it (and the grid's outer edges of failing cells), so every failing
    region is closed. Empty (NaN) cells draw nothing."""
    fin = np.isfinite(data)
    fail = fin & (np.where(fin, data, 0.0) < level)
    ny, nx = data.shape
    segs = []
    for i in range(ny):
        for j in range(nx):
            if not fail[i, j]:
                continue
            for di, dj in ((0, 1), (0, -1), (1, 0), (-1, 0)):
                a, b = i + di, j + dj
                inside = 0 <= a < ny and 0 <= b < nx
                if inside and (fail[a, b] or not fin[a, b]):
                    continue
                if di == 0:  # vertical edge
                    x = j + 0.5 * dj
                    segs.append(((x, i - 0.5), (x, i + 0.5)))
                else:
                    yv = i + 0.5 * di
                    segs.append(((j - 0.5, yv), (j + 0.5, yv)))
    if segs:
        from matplotlib.collections import LineCollection

        ax.add_collection(LineCollection(segs, colors=color, linestyles=style, linewidths=2.0))


def _figure(ncols, nrows, w=2.7, h=2.3):
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    W, H = w * ncols + 1.6, h * nrows + 1.0
    fig = Figure(figsize=(W, H))
    fig.subplots_adjust(left=0.75 / W, right=1 - 0.95 / W, bottom=0.75 / H, top=1 - 0.7 / H,
                        wspace=0.18, hspace=0.22)
    FigureCanvasAgg(fig)
    return fig


def _safe(name: str) -> str:
    return re.sub(r"[^A-Za-z0-9_.-]+", "_", name)


def _draw(rows, spec, methods, metrics, path, *, title, dpi=90):
    from .plots import save_figure

    x, y, facet = spec.layout()
    xs = list(spec.axes[x])
    ys = list(spec.axes[y]) if y else [None]
    fs = list(spec.axes[facet]) if facet else [None]
    cells = [(m, k) for m in methods for k in metrics]
    fig = _figure(len(fs), len(cells))
    fig.suptitle(title, fontsize=9, y=1 - 0.08 / fig.get_figheight(), va="top")
    for r_i, (m, k) in enumerate(cells):
        name, cmap, centred = METRICS[k]
        sub = [r for r in rows if r["method"] == m]
        grids = []
        for f in fs:
            rf = [r for r in sub if facet is None or r[facet] == f]
            grids.append((rf, grid_mean(rf, k, x, y, xs, ys)))
        finite = np.concatenate([g[np.isfinite(g)] for _, g in grids] or [np.zeros(1)])
        vmax = (6.0 if centred else  # one dB scale for every method: rows compare at a glance
                (1.0 if k == "failed" else float(finite.max()) if finite.size else 1.0))
        for c_i, (f, (rf, g)) in enumerate(zip(fs, grids)):
            ax = fig.add_subplot(len(cells), len(fs), r_i * len(fs) + c_i + 1)
            gi = grid_mean(rf, "gap_input", x, y, xs, ys)
            gt = grid_mean(rf, "gap_true", x, y, xs, ys)
            ind = grid_mean(rf, "indistinguishable", x, y, xs, ys)
            sub_t = (_label(facet).split(" (")[0] + f" = {f:g}") if (facet and r_i == 0) else ""
            im = _panel(ax, g, xs, ys, cmap=cmap, centred=centred, vmax=vmax, title=sub_t, gi=gi,
                        gt=gt if np.isfinite(gt).any() and not np.all(gt == 0) else None, ind=ind,
                        gap_db=spec.fail_gap_db)
            if r_i == len(cells) - 1:
                ax.set_xlabel(_label(x), fontsize=7)
            if c_i == 0:
                ax.set_ylabel(f"{m}\n{_label(y)}", fontsize=7)
        row = fig.axes[-len(fs):]
        box = row[-1].get_position()
        cax = fig.add_axes((box.x1 + 0.12 / fig.get_figwidth(), box.y0, 0.12 / fig.get_figwidth(),
                            box.height))
        cb = fig.colorbar(im, cax=cax)
        cb.set_label(name, fontsize=7)
        cb.ax.tick_params(labelsize=6)
    fig.text(0.5, 0.08 / fig.get_figheight(), "black boundary: mean result below the blurred input · "
             f"purple dashed: more than {spec.fail_gap_db:g} dB below the true-kernel result\n"
             "dotted cells: parametric fit cannot tell motion from defocus (≥ half the images) · "
             "blank: not run", fontsize=6.5, ha="center")
    return save_figure(fig, path, dpi=dpi)


def make_report(out: str | os.PathLike, *, dpi: int = 90) -> Path:
    """Draw every figure and ``index.html`` of a sweep from ``OUT/results.json``.

    Writes ``figures/overview_gap_input.png`` (every method, gain over the input, with the
    failure boundaries and the indistinguishability region), ``figures/<method>.png``
    (PSNR, gain over input, gap to the true kernel for blind methods, share failed),
    ``summary.md`` and ``index.html``. Returns the path of ``index.html``.
    """
    out = Path(out)
    p = out / "results.json"
    if not p.is_file():
        raise ValueError(f"out={str(out)!r} holds no results.json; run the sweep first")
    d = json.loads(p.read_text())
    spec = spec_from_dict(d["spec"])
    rows = _fail_rows(d["rows"])
    methods = [m for m in spec.methods() if any(r["method"] == m for r in rows)]
    figs = out / "figures"
    figs.mkdir(parents=True, exist_ok=True)
    made = []
    if methods:
        made.append(_draw(rows, spec, methods, ["gap_input"], figs / "overview_gap_input.png",
                          title=f"{spec.name}: gain over the blurred input (dB), mean over images",
                          dpi=dpi))
        for m in methods:
            mets = ["psnr", "gap_input"] + (["gap_true"] if ">" in m else []) + ["failed"]
            made.append(_draw(rows, spec, [m], mets, figs / f"{_safe(m)}.png", title=m, dpi=dpi))
    summary = method_summary(rows, methods, spec.fail_gap_db)
    md = summary_markdown(summary)
    from ..io import atomic_write

    with atomic_write(out / "summary.md", "w") as f:
        f.write(md)
    run = d.get("run", {})
    ind = [bool(r["indistinguishable"]) for r in rows if r.get("indistinguishable") is not None]
    body = [f"<h1>Failure atlas: {html.escape(spec.name)}</h1>",
            (f"<p>{len({r['cell'] for r in rows})} cells × {len(methods)} methods; run: "
            f"{html.escape(json.dumps(run))}; versions: {html.escape(json.dumps(d.get('versions', {})))}</p>"),
            (f"<p>Motion and defocus indistinguishable (parametric fit) in "
            f"{100 * np.mean(ind) if ind else 0:.0f} % of the cells.</p>"),
            "<h2>Per method</h2>", _html_table(summary),
            "<h2>Figures</h2>"]
    for f in made:
        body.append(f'<p><img src="figures/{f.name}" style="max-width:100%"></p>')
    body.append("<h2>Spec</h2><pre>" + html.escape(json.dumps(d["spec"], indent=1)) + "</pre>")
    page = ("<!doctype html><html><head><meta charset='utf-8'><title>failure atlas</title>"
            "<style>body{font-family:sans-serif;max-width:1400px;margin:auto}"
            "td,th{padding:2px 8px;border-bottom:1px solid #ddd}</style></head><body>"
            + "\n".join(body) + "</body></html>\n")
    with atomic_write(out / "index.html", "w") as f:
        f.write(page)
    return out / "index.html"


def _html_table(summary: list[dict]) -> str:
    head = ["method", "kind", "cells", "mean PSNR", "mean gain (dB)", "failed", "below input",
            "far below true", "ratio ≤ 2", "time (s)"]
    rows = ["<tr>" + "".join(f"<th>{h}</th>" for h in head) + "</tr>"]
    for s in summary:
        vals = [s["method"], s["kind"], s["cells"], _fmt(s["mean_psnr"]), _fmt(s["mean_gain_db"]),
                _fmt(s["failed"], True), _fmt(s["below_input"], True), _fmt(s["far_from_true"], True),
                _fmt(s["ratio_le_2"], True), _fmt(s["mean_time_s"])]
        rows.append("<tr>" + "".join(f"<td>{html.escape(str(v))}</td>" for v in vals) + "</tr>")
    return "<table>" + "".join(rows) + "</table>"
