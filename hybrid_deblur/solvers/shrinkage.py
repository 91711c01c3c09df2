"""Per-pixel shrinkage of gradient-split HQS: :math:`\\arg\\min_w |w|^\\alpha + \\tfrac\\beta2(w-v)^2`.

The z-step of the Krishnan–Fergus prior (total variation for :math:`\\alpha = 1`,
hyper-Laplacian for :math:`\\alpha < 1`), used by :class:`~hybrid_deblur.solvers.HQS`
and the blind estimators' latent steps.

Examples
--------
>>> import numpy as np
>>> from hybrid_deblur.solvers import hqs_w_step
>>> float(hqs_w_step(np.array([0.5]), 10.0, 1.0)[0])     # soft threshold at 1/beta
0.4
"""

from __future__ import annotations

from typing import Any

import numpy as np

from .. import backend as B

__all__ = ["hqs_w_step"]


def _maximum(xp, a, v):
    if B.is_torch(a):
        return a.clamp(min=v)
    return xp.maximum(a, v)


def _check_beta(beta):
    try:
        b = float(beta)
    except (TypeError, ValueError):
        raise TypeError(f"beta must be a real number, got {beta!r}") from None
    if not np.isfinite(b) or b <= 0:
        raise ValueError(f"beta must be a finite number > 0, got {beta!r}")
    return b


def _cbrt(xp, a):
    if B.is_torch(a):
        return a.sign() * a.abs() ** (1.0 / 3.0)
    return xp.cbrt(a)


def _clamp(xp, a, lo, hi):
    if B.is_torch(a):
        return a.clamp(lo, hi)
    return xp.clip(a, lo, hi)


def _w_half(xp, av, beta):
    """Largest positive stationary point of ``sqrt(w) + beta/2 (w - v)^2`` (0 if none), v >= 0."""
    q = 1.0 / (2.0 * beta)
    vs = _maximum(xp, av, 1e-30)
    arg = -(3.0 * q / (2.0 * vs)) * xp.sqrt(3.0 / vs)
    ok = arg >= -1.0
    theta = xp.acos(_clamp(xp, arg, -1.0, 1.0))
    t = 2.0 * xp.sqrt(vs / 3.0) * xp.cos(theta / 3.0)
    w = t * t
    return xp.where(ok, w, xp.zeros_like(w))


def _w_two_thirds(xp, av, beta):
    """Largest positive stationary point of ``w^(2/3) + beta/2 (w - v)^2`` (0 if none), v >= 0.

    With :math:`t = w^{1/3}` the stationarity condition is the depressed quartic
    :math:`t^4 - v t + r = 0`, :math:`r = 2/(3\\beta)`, solved by Ferrari's method:
    the resolvent cubic :math:`m^3 - r m - v^2/8 = 0` has one positive root and
    :math:`t = (\\sqrt{2m} + \\sqrt{4s - 2m})/2`, :math:`s = v / (2\\sqrt{2m})`.
    """
    r = 2.0 / (3.0 * beta)
    v2 = av * av
    delta = v2 * v2 / 256.0 - r ** 3 / 27.0
    # one real root (Cardano) where delta >= 0, three (trigonometric, largest) otherwise
    sd = xp.sqrt(_maximum(xp, delta, 0.0))
    m1 = _cbrt(xp, v2 / 16.0 + sd) + _cbrt(xp, v2 / 16.0 - sd)
    arg = _clamp(xp, (3.0 * v2 / (16.0 * r)) * float(np.sqrt(3.0 / r)), -1.0, 1.0)
    m2 = 2.0 * float(np.sqrt(r / 3.0)) * xp.cos(xp.acos(arg) / 3.0)
    m = xp.where(delta >= 0, m1, m2)
    m = _maximum(xp, m, 1e-30)
    sq = xp.sqrt(2.0 * m)
    s = av / (2.0 * sq)
    disc = 4.0 * s - 2.0 * m
    t = (sq + xp.sqrt(_maximum(xp, disc, 0.0))) / 2.0
    w = t * t * t
    return xp.where(disc >= 0, w, xp.zeros_like(w))


def _w_newton(xp, av, beta, alpha, iters: int = 12):
    """Generic alpha in (0, 1): Newton on the derivative from w = v (monotone, convex branch)."""
    wc = (alpha * (1.0 - alpha) / beta) ** (1.0 / (2.0 - alpha))
    w = av + 0
    for _ in range(iters):
        ws = _maximum(xp, w, wc)
        g = alpha * ws ** (alpha - 1.0) + beta * (ws - av)
        h = alpha * (alpha - 1.0) * ws ** (alpha - 2.0) + beta
        w = ws - g / _maximum(xp, h, 1e-30)
    g = alpha * _maximum(xp, w, 1e-30) ** (alpha - 1.0) + beta * (w - av)
    ok = (w > wc) & (abs(g) < 1e-3 * (1.0 + beta * av))
    return xp.where(ok, w, xp.zeros_like(w))


def hqs_w_step(v: Any, beta: float, alpha: float):
    """Per-pixel minimiser of :math:`|w|^\\alpha + \\tfrac{\\beta}{2}(w - v)^2`.

    Parameters
    ----------
    v : array
        The current gradients (any backend).
    beta : float
        Splitting weight (> 0).
    alpha : float
        Exponent in (0, 1]: 1 = soft threshold (TV); 1/2 and 2/3 analytic roots
        (cubic / Ferrari quartic, Krishnan & Fergus 2009); others by Newton.

    Returns
    -------
    w : array like ``v``

    Notes
    -----
    For :math:`\\alpha < 1` the candidate is the largest stationary point on the
    side of ``sign(v)``; it is kept only when its energy is below that of
    :math:`w = 0` (the global minimum is one of the two).

    Examples
    --------
    >>> import numpy as np
    >>> from hybrid_deblur.solvers import hqs_w_step
    >>> w = hqs_w_step(np.array([-1.0, 0.01, 2.0]), 100.0, 2 / 3)
    >>> bool(w[1] == 0.0) and bool(w[0] < 0 < w[2])
    True
    """
    beta = _check_beta(beta)
    alpha = float(alpha)
    if not 0 < alpha <= 1:
        raise ValueError(f"alpha must be in (0, 1], got {alpha!r}")
    xp = B.namespace(v)
    av = abs(v)
    if alpha == 1.0:
        return xp.sign(v) * _maximum(xp, av - 1.0 / beta, 0.0)
    if abs(alpha - 0.5) < 1e-12:
        w = _w_half(xp, av, beta)
    elif abs(alpha - 2.0 / 3.0) < 1e-12:
        w = _w_two_thirds(xp, av, beta)
    else:
        w = _w_newton(xp, av, beta, alpha)
    e_w = w ** alpha + 0.5 * beta * (w - av) ** 2
    e_0 = 0.5 * beta * av * av
    w = xp.where(e_w < e_0, w, xp.zeros_like(w))
    return xp.sign(v) * w
