"""Stopping rules of the Richardson–Lucy iterator (measured on the observed pixels only).

``discrepancy``: the relative residual :math:`\\|y - Ax\\|/\\|y\\|` reaches
:math:`\\sqrt{M\\sigma^2}/\\|y\\|` (Gaussian noise). ``poisson_deviance``: the Poisson deviance
on the [0, 1] scale reaches :math:`M/\\mathrm{peak}` (its expectation for counts).
``change``: the relative change of the estimate on the observed frame falls below ``tol``.

Examples
--------
>>> import numpy as np
>>> from hybrid_deblur.solvers.rl_stop import relative_change
>>> relative_change(np.ones((4, 4)), np.full((4, 4), 0.5), 2)
0.5
"""

from __future__ import annotations

from typing import Any

import numpy as np

from .. import backend as B
from . import validate as V
from .noise_level import estimate_noise

__all__ = ["channel_dot", "relative_change", "stop_target"]


def channel_dot(a, b, ndim):
    """Per-channel inner product over the trailing ``ndim`` axes (no full temporary in NumPy)."""
    if isinstance(a, np.ndarray):
        letters = "abcdefgh"[:ndim]
        return np.einsum(f"...{letters},...{letters}->...", a, b)
    dims = tuple(range(-ndim, 0))
    return (a * b).sum(dim=dims) if B.is_torch(a) else (a * b).sum(axis=dims)


def relative_change(x: Any, xold: Any, ndim: int) -> float:
    """:math:`\\|x - x_{old}\\| / \\|x\\|` over all items."""
    d = x - xold
    num = float(channel_dot(d, d, ndim).sum())
    return float(np.sqrt(num / max(float(channel_dot(x, x, ndim).sum()), 1e-300)))


def _sigma2(solver) -> float:
    sig = solver.sigma if solver.sigma is not None else estimate_noise(solver.y,
                                                                       ndim=solver.ndim)
    return float(np.mean(np.asarray(sig, dtype=np.float64) ** 2))


def stop_target(solver, stop: str) -> float:
    """Target of the ``discrepancy`` (relative residual) or ``poisson_deviance`` rule."""
    npx = float(np.prod(solver.y.shape))
    if stop == "poisson_deviance":
        peak = solver.peak
        if peak is None:
            peak = max(float(abs(solver.y).mean()), 1e-12) / max(_sigma2(solver), 1e-12)
        solver.peak = V.check_positive("peak", peak, allow_none=False)
        return npx / solver.peak
    ny = float(channel_dot(solver._yeff, solver._yeff, solver.ndim).sum())
    return float(np.sqrt(max(_sigma2(solver) * npx, 0.0) / max(ny, 1e-300)))
