"""Analysis: benchmark harnesses, sweeps, failure maps and figures.

Submodules are imported on use (matplotlib and the solvers load only when needed).

Examples
--------
>>> from hybrid_deblur.analysis import nonblind
>>> "skimage-wiener" in nonblind.BASELINES
True
"""

from __future__ import annotations

import importlib

__all__ = ["nonblind", "run_nonblind"]


def __getattr__(name):
    if name == "nonblind":
        return importlib.import_module(".nonblind", __name__)
    if name == "run_nonblind":
        return importlib.import_module(".nonblind", __name__).run_nonblind
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
