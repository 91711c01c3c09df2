"""Periodic finite differences (the gradient operator of the priors) and their adjoint.

The forward difference :math:`(D_i x)_n = x_{n+e_i} - x_n` on a periodic grid; its OTF
power is :func:`hybrid_deblur.physics.datastep.frequency_power` ``("gradient")``, so the
quadratic solves and the shrinkage steps of the gradient priors use the same operator.

Examples
--------
>>> import numpy as np
>>> from hybrid_deblur.physics.differences import gradient, divergence
>>> rng = np.random.default_rng(0)
>>> x, w = rng.random((6, 7)), [rng.random((6, 7)), rng.random((6, 7))]
>>> lhs = sum(float((g * v).sum()) for g, v in zip(gradient(x, 2), w))
>>> bool(np.isclose(lhs, -float((x * divergence(w, 2)).sum())))    # div = -grad^T
True
"""

from __future__ import annotations

from typing import Any

from .. import backend as B

__all__ = ["divergence", "gradient"]


def gradient(x: Any, ndim: int = 2) -> list:
    """Periodic forward differences along the trailing ``ndim`` axes (one array per axis)."""
    xp = B.namespace(x)
    return [xp.roll(x, -1, axis=ax) - x for ax in range(-ndim, 0)]


def divergence(gs, ndim: int = 2):
    """Periodic divergence :math:`\\sum_i (g_i)_n - (g_i)_{n-e_i}`, the negative adjoint of
    :func:`gradient`."""
    xp = B.namespace(gs[0])
    out = None
    for g, ax in zip(gs, range(-ndim, 0)):
        d = g - xp.roll(g, 1, axis=ax)
        out = d if out is None else out + d
    return out
