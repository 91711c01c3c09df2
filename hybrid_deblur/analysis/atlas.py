"""Failure atlas: sweep blur, noise, light, saturation and non-uniformity; map where each method fails.

The public entry points, split over three modules:

- :mod:`.atlas_spec` — the TOML sweep spec (:func:`load_spec`, :func:`parse_spec`),
  its cells and per-cell seeds, the cell kernels (:func:`build_psf`);
- :mod:`.atlas_run` — one cell -> tidy rows (:func:`run_cell`), the sweep on Dask or
  serially with atomic, resumable per-cell results (:func:`run_atlas`);
- :mod:`.atlas_report` — heatmaps, failure boundaries, indistinguishability region,
  ``index.html`` (:func:`make_report`; ``--report-only`` redraws from the table).

:func:`teaching_sweep` is the small sweep of the failure-case notebook (well under a
minute on one core).

Examples
--------
>>> from hybrid_deblur.analysis.atlas import load_spec
>>> spec = load_spec()                      # the shipped default spec
>>> len(spec.cells()), spec.layout()
(240, ('motion_length', 'defocus_radius', 'noise_sigma'))
"""

from __future__ import annotations

import os
import tempfile
from typing import Any

from .atlas_report import make_report, method_summary, summary_markdown
from .atlas_run import AtlasResult, collect_rows, run_atlas, run_cell, synthesize
from .atlas_spec import AXES, AtlasSpec, build_psf, load_spec, parse_spec

__all__ = [
    "AXES",
    "TEACHING_SPEC",
    "AtlasResult",
    "AtlasSpec",
    "build_psf",
    "collect_rows",
    "load_spec",
    "make_report",
    "method_summary",
    "parse_spec",
    "run_atlas",
    "run_cell",
    "summary_markdown",
    "synthesize",
    "teaching_sweep",
]

#: the notebook's sweep: 1 image, 4 motion lengths x 3 defocus radii, 2 noise levels, 3 methods
TEACHING_SPEC: dict = {
    "atlas": {"name": "teaching sweep", "n_images": 1, "image_size": 96, "blind_size": "true"},
    "axes": {"motion_length": [0, 5, 10, 15], "defocus_radius": [0, 2, 4],
             "noise_sigma": [0.01, 0.03]},
    "methods": {"nonblind": ["wiener", "hqs-tv"], "blind": ["parametric>hqs-tv"]},
    "report": {"x": "motion_length", "y": "defocus_radius", "facet": "noise_sigma"},
}


def teaching_sweep(out: str | os.PathLike | None = None, *, spec: dict | None = None,
                   report: bool = True, progress: bool = False) -> AtlasResult:
    """Run the notebook's small failure-atlas sweep serially (24 cells, well under 60 s).

    Parameters
    ----------
    out : path, optional
        Output folder (default: a new temporary folder).
    spec : dict, optional
        Overrides merged into :data:`TEACHING_SPEC` section by section
        (e.g. ``{"axes": {"noise_sigma": [0.05]}}``).
    report, progress
        As in :func:`run_atlas`.

    Returns
    -------
    AtlasResult
        ``.rows`` (tidy rows), ``.out`` (folder with ``index.html`` and figures).

    Examples
    --------
    >>> from hybrid_deblur.analysis.atlas import teaching_sweep
    >>> res = teaching_sweep(spec={"axes": {"motion_length": [0, 9], "defocus_radius": [0],
    ...                                      "noise_sigma": [0.01]}}, report=False)
    >>> [(r["method"], r["motion_length"]) for r in res.rows][:3]
    [('wiener', 0.0), ('hqs-tv', 0.0), ('parametric>hqs-tv', 0.0)]
    """
    d: dict[str, Any] = {k: dict(v) for k, v in TEACHING_SPEC.items()}
    for sec, vals in (spec or {}).items():
        d.setdefault(sec, {}).update(vals)
    s = parse_spec(d)
    out = tempfile.mkdtemp(prefix="atlas_teach_") if out is None else out
    return run_atlas(s, out, serial=True, progress=progress, report=report)
