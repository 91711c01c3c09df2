"""Random camera-shake trajectories and their blur kernels (Boracchi & Foi model).

A camera-shake PSF is the time-average of where a scene point lands on the
sensor during the exposure. Following Boracchi & Foi (2012, "Modeling the
performance of image restoration from motion blur", IEEE TIP), the sensor path
is a random walk with inertia: a constant-speed point whose velocity receives at
each step a Gaussian jolt, a pull back towards the start (so the path stays
compact) and, rarely, an impulsive "anxiety" jerk that reverses the motion.
The path is rasterised by bilinear splatting and centred so that its centroid
is the centre pixel (blurring with it does not shift the image).

Examples
--------
>>> from hybrid_deblur.psf import trajectory_motion
>>> k = trajectory_motion(size=21, length=12, seed=3)
>>> k.shape, abs(float(k.sum()) - 1) < 1e-12
((21, 21), True)
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np

from ._validate import MAX_SAMPLES, check_dtype, check_real, check_side, finish
from .raster import splat

__all__ = ["random_trajectory", "trajectory_motion"]

_MAX_TRIES = 200


def random_trajectory(length: float, *, anxiety: float = 0.005, n_samples: int = 2000,
                      rng: np.random.Generator | int | None = None) -> np.ndarray:
    """A random camera-shake path of total length ``length`` pixels.

    Parameters
    ----------
    length : float
        Path length in pixels (the sum of the step lengths).
    anxiety : float
        Amount of shake, in [0, 1]: scales the random jolts and the probability
        of impulsive direction reversals. ``0`` gives a straight line.
    n_samples : int
        Number of points along the path (>= 2).
    rng : numpy.random.Generator or int, optional
        Random generator or seed (``numpy.random.default_rng``).

    Returns
    -------
    path : ndarray of complex128, shape (n_samples,)
        Positions ``x + 1j * y`` in pixels, starting at 0 (x: columns, y: rows).

    Notes
    -----
    With step :math:`\\delta = L/(n-1)` and per-path random constants
    :math:`c \\sim U(0, 0.7)` (centripetal pull), :math:`p \\sim U(0, 0.2)`
    (jerk probability) and :math:`g \\sim U(0, 10)` (jolt strength), the velocity
    evolves as

    .. math::
        v \\leftarrow v + J_t + a\\,\\delta\\,(g\\,(\\xi_1 + i\\xi_2) - c\\,x_t),
        \\quad v \\leftarrow \\delta\\,v/|v|, \\quad x_{t+1} = x_t + v,

    with :math:`\\xi \\sim N(0, 1)` and a jerk :math:`J_t = 2v\\,e^{i(\\pi + u)}`,
    :math:`u \\sim U(-\\tfrac12, \\tfrac12)`, occurring with probability
    :math:`p\\,a` (otherwise 0). The speed is constant, so the path length is
    exactly :math:`L`.

    Examples
    --------
    >>> import numpy as np
    >>> from hybrid_deblur.psf import random_trajectory
    >>> p = random_trajectory(10.0, rng=0)
    >>> round(float(np.abs(np.diff(p)).sum()), 9)
    10.0
    """
    L = check_real(length, "length")
    a = check_real(anxiety, "anxiety")
    if a > 1:
        raise ValueError(f"anxiety must be in [0, 1], got {anxiety!r}")
    ns = check_real(n_samples, "n_samples")
    n = int(min(ns, MAX_SAMPLES + 1))
    if n != ns or not 2 <= n <= MAX_SAMPLES:
        raise ValueError(f"n_samples must be an integer in 2..{MAX_SAMPLES}, got {n_samples!r}")
    rng = np.random.default_rng(rng)
    step = L / (n - 1)
    centripetal = 0.7 * rng.random()
    p_jerk = 0.2 * rng.random()
    jolt = 10.0 * rng.random()
    v = complex(np.exp(1j * 2.0 * math.pi * rng.random())) * step
    # draw all random numbers up front (fast, and independent of the branch taken)
    u_jerk = rng.random(n - 1)
    u_ang = rng.random(n - 1) - 0.5
    xi = rng.standard_normal((n - 1, 2))
    x = np.zeros(n, dtype=np.complex128)
    if L == 0:
        return x
    xt = 0j
    for t in range(n - 1):
        jerk = 2.0 * v * complex(np.exp(1j * (math.pi + u_ang[t]))) if u_jerk[t] < p_jerk * a \
            else 0j
        v = v + jerk + a * step * (jolt * complex(xi[t, 0], xi[t, 1]) - centripetal * xt)
        av = abs(v)
        v = v / av * step if av > 0 else step + 0j
        xt = xt + v
        x[t + 1] = xt
    return x


# ----------------------------------------------------------------------------- kernel
def trajectory_motion(size: int = 31, length: float | None = None, anxiety: float = 0.005,
                      exposure: float = 1.0, n_samples: int = 2000, seed: Any = None, *,
                      dtype=np.float64) -> np.ndarray:
    """Camera-shake PSF from a random trajectory (Boracchi & Foi 2012).

    Parameters
    ----------
    size : int
        Odd or even kernel size (square), >= 3.
    length : float, optional
        Trajectory length in pixels over the full exposure; default
        ``size - 1`` (a shaky path of that length typically spans a third of it).
    anxiety : float
        Shake intensity in [0, 1] (see :func:`random_trajectory`).
    exposure : float
        Fraction of the trajectory seen by the sensor, in (0, 1]: the kernel
        uses the first ``exposure`` part of the path (shorter exposure, less
        blur, same shake).
    n_samples : int
        Points along the full trajectory.
    seed : int or numpy.random.Generator, optional
        ``numpy.random.default_rng(seed)``; an int seed reproduces the kernel
        exactly.
    dtype : floating dtype
        Output dtype.

    Returns
    -------
    psf : ndarray, shape (size, size)
        Non-negative, sums to 1, centroid at the centre pixel ``size // 2``.

    Raises
    ------
    ValueError
        For bad parameters, a ``size`` above :data:`~hybrid_deblur.psf.MAX_KERNEL_SIZE`
        or ``n_samples`` above 10^7 (refused before allocating), or when no
        trajectory of that length fits in ``size`` after redrawing (make ``size``
        larger or ``length`` smaller).

    Notes
    -----
    The sampled positions :math:`p_t` are moved so that their mean is the
    centre pixel, then splatted bilinearly with equal weights. Bilinear
    splatting preserves the first moment, so the kernel centroid equals the
    mean position exactly. A path whose kernel would leave the ``size`` grid is
    redrawn from the same generator (so a seed still gives one fixed kernel).

    Examples
    --------
    >>> import numpy as np
    >>> from hybrid_deblur.psf import trajectory_motion, centroid
    >>> k = trajectory_motion(size=25, length=14, seed=7)
    >>> np.allclose(centroid(k), (12, 12))
    True
    """
    if isinstance(size, bool) or not isinstance(size, (int, np.integer)):
        raise TypeError(f"size must be an int, got {size!r}")
    size = int(size)
    if size < 3:
        raise ValueError(f"size must be >= 3, got {size}")
    check_side(size, f"trajectory_motion(size={size})")
    L = float(size - 1) if length is None else check_real(length, "length")
    e = check_real(exposure, "exposure")
    if not 0 < e <= 1:
        raise ValueError(f"exposure must be in (0, 1], got {exposure!r}")
    dt = check_dtype(dtype)
    rng = np.random.default_rng(seed)
    c = size // 2
    for _ in range(_MAX_TRIES):
        path = random_trajectory(L, anxiety=anxiety, n_samples=n_samples, rng=rng)
        m = max(2, math.ceil(e * len(path)))
        p = path[:m]
        p = p - p.mean()
        rows, cols = p.imag + c, p.real + c
        if rows.min() >= 0 and cols.min() >= 0 and rows.max() <= size - 1 \
                and cols.max() <= size - 1:
            w = np.full(m, 1.0 / m)
            return finish(splat(rows, cols, w, (size, size)), dt, "trajectory_motion")
    raise ValueError(f"no trajectory of length {L:g} fits in a kernel of size {size} after "
                     f"{_MAX_TRIES} draws; use a larger size or a smaller length")
