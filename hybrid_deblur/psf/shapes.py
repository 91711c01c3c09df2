"""Parametric PSF shapes: Gaussian, defocus disk, linear motion, and their combination.

Every generator returns a NumPy array that is non-negative, sums to 1 and has
its centre at pixel ``k // 2`` on each axis (DESIGN §1). When ``size`` is
``None`` an odd size that holds the whole shape is chosen. Shapes are sampled by
exact pixel-area integration (Gaussian, disk) or by the exact integral of a
bilinear (tent) footprint along the segment (motion), so sub-pixel parameters
are meaningful and thin shapes are anti-aliased.

Angles are in degrees, counter-clockwise from the +x axis (columns to the
right). Image rows go *down*, so a positive angle points up and to the right.

Examples
--------
>>> from hybrid_deblur.psf import gaussian, disk, linear_motion, combine
>>> k = combine(linear_motion(9, angle=30), disk(2.5), gaussian(0.7))
>>> k.shape[0] % 2 == 1, bool(abs(k.sum() - 1) < 1e-12)
(True, True)
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from numbers import Real
from typing import Any

import numpy as np
from scipy.special import erf

from ._validate import check_dtype, check_real, check_size, delta, finish
from .otf import convolve_full
from .raster import splat_reference

__all__ = ["combine", "disk", "gaussian", "linear_motion"]


# ----------------------------------------------------------------------------- helpers
_check_real = check_real
_check_dtype = check_dtype


def _offsets(n: int) -> np.ndarray:
    """Pixel-centre offsets from the centre pixel ``n // 2``."""
    return np.arange(n, dtype=np.float64) - (n // 2)


# ----------------------------------------------------------------------------- Gaussian
def gaussian(sigma: float | Sequence[float], size: int | Sequence[int] | None = None, *,
             angle: float = 0.0, dtype=np.float64) -> np.ndarray:
    """Gaussian PSF integrated over each pixel's area.

    Parameters
    ----------
    sigma : float or (float, float)
        Standard deviation in pixels; a pair ``(sigma_y, sigma_x)`` gives an
        anisotropic Gaussian (``sigma_x`` along the rotated x axis). ``0`` on an
        axis collapses that axis to a line (``0`` on both: a delta).
    size : int or (int, int), optional
        Kernel size; default ``2 * ceil(4 * max(sigma)) + 1``.
    angle : float
        Rotation in degrees, counter-clockwise from +x (rows go down).
    dtype : floating dtype
        Output dtype (computed in float64).

    Returns
    -------
    psf : ndarray, shape (kh, kw)
        Non-negative, sums to 1, centred at ``(kh // 2, kw // 2)``.

    Raises
    ------
    ValueError
        Bad parameters, or a kernel side above :data:`~hybrid_deblur.psf.MAX_KERNEL_SIZE`
        (4097 px; refused before anything is allocated), or a ``dtype`` that cannot
        hold the normalised kernel (float16 with tiny values).
    TypeError
        Non-numeric parameters or a non-floating ``dtype``.

    Notes
    -----
    Each pixel holds :math:`\\int_{pixel} g(x, y)\\,dx\\,dy` of the density
    :math:`g \\propto \\exp(-\\tfrac12 u^T \\Sigma^{-1} u)` with
    :math:`\\Sigma = R\\,\\mathrm{diag}(\\sigma_x^2, \\sigma_y^2)R^T`. For an
    axis-aligned Gaussian the integral is exact and separable,
    :math:`\\tfrac12[\\mathrm{erf}((d+\\tfrac12)/\\sqrt2\\sigma)-
    \\mathrm{erf}((d-\\tfrac12)/\\sqrt2\\sigma)]`; a rotated anisotropic one is
    integrated with Gauss-Legendre nodes in every pixel (more nodes for small
    sigma). The discrete covariance is :math:`\\Sigma + I/12` (the pixel box). A
    rotated Gaussian whose smaller sigma is below 0.02 px (0 included) is a line: the
    pixels it crosses receive the exact 1-D Gaussian mass of each piece (erf).

    Examples
    --------
    >>> from hybrid_deblur.psf import gaussian
    >>> k = gaussian(1.5)
    >>> k.shape, float(k.sum())
    ((13, 13), 1.0)
    >>> gaussian((1.0, 3.0), angle=45).shape
    (25, 25)
    """
    if isinstance(sigma, (Real, np.floating, np.integer)) and not isinstance(sigma, bool):
        sy = sx = _check_real(sigma, "sigma")
    else:
        try:
            if isinstance(sigma, (str, bytes)):
                raise TypeError
            pair = tuple(sigma)  # type: ignore[arg-type]
        except TypeError:
            raise TypeError(
                f"sigma must be a float or a pair (sigma_y, sigma_x), got {sigma!r}") from None
        if len(pair) != 2:
            raise ValueError(f"sigma must be a float or a pair (sigma_y, sigma_x), got {sigma!r}")
        sy = _check_real(pair[0], "sigma[0] (sigma_y)")
        sx = _check_real(pair[1], "sigma[1] (sigma_x)")
    ang = _check_real(angle, "angle", minimum=-math.inf)
    dt = _check_dtype(dtype)
    half = math.ceil(4.0 * max(sy, sx))
    shape = check_size(size, (2 * half + 1, 2 * half + 1), f"gaussian(sigma={sigma!r})")
    if sy == 0 and sx == 0:
        return delta(shape, dt)
    # beyond ~1e8 px a Gaussian is flat over any allowed window; larger values only overflow
    sy, sx = min(sy, _FLAT_SIGMA), min(sx, _FLAT_SIGMA)

    theta = math.radians(ang)
    c, s = math.cos(theta), math.sin(theta)
    aligned = sy == sx or abs(s) < 1e-12 or abs(c) < 1e-12
    if aligned:
        # axis-aligned: exact separable erf integrals (rows <- sigma_y at 0 deg)
        if sy == sx or abs(s) < 1e-12:
            s_row, s_col = sy, sx
        else:
            s_row, s_col = sx, sy
        return finish(np.outer(_erf_profile(shape[0], s_row), _erf_profile(shape[1], s_col)), dt,
                      "gaussian")

    smin = min(sy, sx)
    if smin < _LINE_SIGMA:
        # (nearly) zero width on one axis: a line along the other rotated axis
        along, (dcol, drow) = (sx, (c, -s)) if sy <= sx else (sy, (-s, -c))
        return finish(_gaussian_line(shape, along, dcol, drow), dt, "gaussian")
    # rotated anisotropic: Gauss-Legendre integration inside every pixel
    nq = int(min(64, max(6, math.ceil(6.0 / max(smin, 1e-3)))))
    t, w = np.polynomial.legendre.leggauss(nq)
    t, w = t / 2.0, w / 2.0                        # nodes on [-1/2, 1/2], weights sum 1
    dr = (_offsets(shape[0])[:, None] + t[None, :]).ravel()    # (kh * nq,)
    dc = (_offsets(shape[1])[:, None] + t[None, :]).ravel()
    X = dc[None, :]                                 # x = column offset
    U = -dr[:, None]                                # u = up = -row offset
    # coordinates along the rotated axes
    a = c * X + s * U
    b = -s * X + c * U
    q = np.zeros((dr.size, dc.size))
    if sx > 0:
        q += (a / sx) ** 2
    else:  # degenerate: a line along the rotated y axis
        q += np.where(np.abs(a) < 1e-12, 0.0, np.inf)
    if sy > 0:
        q += (b / sy) ** 2
    else:
        q += np.where(np.abs(b) < 1e-12, 0.0, np.inf)
    g = np.exp(-0.5 * q)
    g = g.reshape(shape[0], nq, shape[1], nq)
    k = np.einsum("injm,n,m->ij", g, w, w)
    return finish(k, dt, "gaussian")


_FLAT_SIGMA = 1e8
_LINE_SIGMA = 0.02  # below this width (px) the quadrature cannot resolve the profile: a line


def _gaussian_line(shape: tuple[int, int], sigma: float, dcol: float, drow: float) -> np.ndarray:
    """Pixel-box integral of a 1-D Gaussian (std ``sigma``) on the line ``t (dcol, drow)``.

    The line crosses pixel edges at breakpoints; between two of them it stays in
    one pixel, which receives the exact Gaussian mass of that piece (erf).
    """
    lo = [-(n // 2) - 0.5 for n in shape]              # box edges as offsets from the centre
    hi = [n - 1 - n // 2 + 0.5 for n in shape]
    t0, t1 = -math.inf, math.inf
    for d, a, b in ((drow, lo[0], hi[0]), (dcol, lo[1], hi[1])):
        if d != 0.0:
            u, v = sorted((a / d, b / d))
            t0, t1 = max(t0, u), min(t1, v)
    tb = [t0, t1]
    for d, a, b in ((drow, lo[0], hi[0]), (dcol, lo[1], hi[1])):
        if d != 0.0:   # crossings of the pixel edges m + 1/2
            tb.extend(((np.arange(math.ceil(a), math.floor(b) + 1) - 0.5) / d).tolist())
    tb = np.unique(np.clip(np.asarray(tb), t0, t1))
    a, b = tb[:-1], tb[1:]
    mid = 0.5 * (a + b)
    r = math.sqrt(2.0) * sigma
    mass = 0.5 * (erf(b / r) - erf(a / r))
    rows = np.floor(mid * drow + 0.5).astype(np.int64) + shape[0] // 2
    cols = np.floor(mid * dcol + 0.5).astype(np.int64) + shape[1] // 2
    ok = (rows >= 0) & (rows < shape[0]) & (cols >= 0) & (cols < shape[1])
    k = np.zeros(shape)
    np.add.at(k, (rows[ok], cols[ok]), mass[ok])
    return k


def _erf_profile(n: int, sigma: float) -> np.ndarray:
    d = _offsets(n)
    if sigma == 0:
        return (d == 0).astype(np.float64)
    r = math.sqrt(2.0) * sigma
    return 0.5 * (erf((d + 0.5) / r) - erf((d - 0.5) / r))


# ----------------------------------------------------------------------------- disk
def _quadrant_area(x: np.ndarray, y: np.ndarray, r: float) -> np.ndarray:
    """Signed area of ``{0..x} x {0..y}`` inside the disk of radius ``r`` (odd in x and y)."""
    sx, sy = np.sign(x), np.sign(y)
    x = np.minimum(np.abs(x), r)
    y = np.minimum(np.abs(y), r)
    xs = np.sqrt(np.maximum(r * r - y * y, 0.0))   # where the arc reaches height y
    m = np.minimum(x, xs)

    def S(t):  # integral of sqrt(r^2 - X^2) from 0 to t
        return 0.5 * (t * np.sqrt(np.maximum(r * r - t * t, 0.0)) + r * r * np.arcsin(t / r))

    return sx * sy * (y * m + S(x) - S(m))


def disk(radius: float, size: int | Sequence[int] | None = None, *, dtype=np.float64
         ) -> np.ndarray:
    """Defocus pillbox: a uniform disk with exact pixel-area coverage.

    Parameters
    ----------
    radius : float
        Radius in pixels (sub-pixel values allowed); ``0`` gives a delta.
    size : int or (int, int), optional
        Kernel size; default the smallest odd size holding the disk,
        ``2 * (ceil(radius + 1/2) - 1) + 1``. A smaller size truncates the disk.
    dtype : floating dtype
        Output dtype.

    Returns
    -------
    psf : ndarray, shape (kh, kw)
        Non-negative, sums to 1, centred at ``(kh // 2, kw // 2)``.

    Raises
    ------
    ValueError, TypeError
        As :func:`gaussian` (bad parameters, the size limit, a too narrow ``dtype``).

    Notes
    -----
    Pixel :math:`(i, j)` holds the exact area of
    :math:`\\{x^2 + y^2 \\le r^2\\} \\cap [j-\\tfrac12, j+\\tfrac12]\\times
    [i-\\tfrac12, i+\\tfrac12]` (offsets from the centre), computed by inclusion-
    exclusion from the signed corner area
    :math:`A(x, y) = y\\,m + S(x) - S(m)`, :math:`m = \\min(x, \\sqrt{r^2-y^2})`,
    :math:`S(t) = \\tfrac12(t\\sqrt{r^2-t^2} + r^2\\arcsin(t/r))`. The total area
    is :math:`\\pi r^2`, so a fully covered pixel holds :math:`1/(\\pi r^2)` after
    normalisation.

    Examples
    --------
    >>> from hybrid_deblur.psf import disk
    >>> k = disk(3.0)
    >>> k.shape
    (7, 7)
    >>> round(float(k[3, 3]) * 3.141592653589793 * 9, 12)
    1.0
    """
    r = _check_real(radius, "radius")
    dt = _check_dtype(dtype)
    half = math.ceil(r + 0.5) - 1
    shape = check_size(size, (2 * half + 1, 2 * half + 1), f"disk(radius={radius!r})")
    if r <= 0.5:
        # the whole disk lies inside the centre pixel (or touches its edge only)
        return delta(shape, dt)
    # a disk larger than the window's diagonal covers every pixel (and r * r may overflow)
    r = min(r, math.hypot(*shape) + 2.0)
    step = float(np.finfo(dt).smallest_subnormal)
    if dt.itemsize < 4 and 1.0 / (math.pi * r * r) < 64 * step:
        # every pixel value would be a few subnormal steps (rounding errors > 1 %): refuse
        # before computing millions of them (finish() checks the sum of the others)
        raise ValueError(f"dtype {dt} cannot hold disk(radius={radius!r}): its pixel values "
                         f"(~{1.0 / (math.pi * r * r):.3g}) are only a few of {dt}'s smallest "
                         f"steps ({step:.3g}); use float32 or float64")
    yr = _offsets(shape[0])[:, None]
    xc = _offsets(shape[1])[None, :]
    A = _quadrant_area
    area = (A(xc + 0.5, yr + 0.5, r) - A(xc - 0.5, yr + 0.5, r)
            - A(xc + 0.5, yr - 0.5, r) + A(xc - 0.5, yr - 0.5, r))
    return finish(area, dt, "disk")


# ----------------------------------------------------------------------------- linear motion
def _snap(v: np.ndarray) -> np.ndarray:
    r = np.round(v)
    return np.where(np.abs(v - r) < 1e-9, r, v)


def linear_motion(length: float, angle: float = 0.0, size: int | Sequence[int] | None = None, *,
                  dtype=np.float64) -> np.ndarray:
    """Uniform linear motion blur: an anti-aliased segment centred on the centre pixel.

    Parameters
    ----------
    length : float
        Length of the segment in pixels (sub-pixel allowed); ``0`` gives a delta.
    angle : float
        Direction in degrees, counter-clockwise from +x; rows go down, so a
        positive angle goes up and to the right.
    size : int or (int, int), optional
        Kernel size; default the smallest odd square holding the segment.
    dtype : floating dtype
        Output dtype.

    Returns
    -------
    psf : ndarray, shape (kh, kw)
        Non-negative, sums to 1, centred at ``(kh // 2, kw // 2)``; its centroid is
        the centre pixel (to rounding) for every angle and length, so blurring
        with it does not shift the image.

    Raises
    ------
    ValueError, TypeError
        As :func:`gaussian` (bad parameters, the size limit, a too narrow ``dtype``).

    Notes
    -----
    The segment :math:`p(t) = t\\,(\\cos\\theta, \\sin\\theta)`,
    :math:`t \\in [-L/2, L/2]`, carries uniform density :math:`1/L`; pixel
    :math:`q` receives :math:`\\frac1L\\int \\Lambda(p_x(t)-q_x)\\Lambda(p_y(t)-q_y)dt`
    with the tent :math:`\\Lambda(u) = \\max(0, 1-|u|)` (bilinear footprint). The
    integrand is quadratic between the points where the segment crosses a grid
    line, so two Gauss-Legendre nodes per piece give the integral exactly. The
    tent preserves the first moment, hence the centroid equals the segment
    midpoint: the centre pixel.

    Examples
    --------
    >>> import numpy as np
    >>> from hybrid_deblur.psf import linear_motion
    >>> k = linear_motion(5)            # 5 px of motion + the 1 px tent footprint
    >>> k.shape, np.round(k[3], 3).tolist()
    ((7, 7), [0.025, 0.175, 0.2, 0.2, 0.2, 0.175, 0.025])
    """
    L = _check_real(length, "length")
    ang = _check_real(angle, "angle", minimum=-math.inf)
    dt = _check_dtype(dtype)
    theta = math.radians(ang)
    c, s = math.cos(theta), math.sin(theta)
    c = 0.0 if abs(c) < 1e-12 else c
    s = 0.0 if abs(s) < 1e-12 else s
    hx, hy = abs(c) * L / 2.0, abs(s) * L / 2.0
    half = math.ceil(max(hx, hy) - 1e-9)
    shape = check_size(size, (2 * half + 1, 2 * half + 1), f"linear_motion(length={length!r})")
    if L == 0:
        return delta(shape, dt)
    # x: columns (right), y: rows (down) -> row offset = -t sin
    dx, dy = c, -s
    # only the part of the segment whose tent footprint can reach the kernel matters
    # (an explicit small size with a huge length must not enumerate every crossing)
    t0, t1 = -L / 2.0, L / 2.0
    for d, n in ((dx, shape[1]), (dy, shape[0])):
        if d != 0.0:
            u, v = sorted(((-(n // 2) - 1) / d, (n - n // 2) / d))
            t0, t1 = max(t0, u), min(t1, v)
    # breakpoints: t where x(t) or y(t) crosses an integer
    tb = [t0, t1]
    for d in (dx, dy):
        if d != 0.0 and t1 > t0:
            lo, hi = sorted((t0 * d, t1 * d))
            ints = np.arange(math.ceil(lo), math.floor(hi) + 1, dtype=np.float64)
            tb.extend((ints / d).tolist())
    tb = np.unique(np.clip(np.asarray(tb), t0, t1))
    a, b = tb[:-1], tb[1:]
    keep = b - a > 1e-15 * max(t1 - t0, 1.0) if t1 - t0 >= 1.0 else b - a > 0
    a, b = a[keep], b[keep]
    if a.size == 0:   # a length below float resolution (1e-300 px): a point
        return delta(shape, dt)
    mid, hl = 0.5 * (a + b), 0.5 * (b - a)
    g = hl / math.sqrt(3.0)                        # 2-point Gauss-Legendre nodes
    t = np.concatenate([mid - g, mid + g])
    w = np.concatenate([hl, hl]) / L
    xs = _snap(t * dx) + shape[1] // 2
    ys = _snap(t * dy) + shape[0] // 2
    k = splat_reference(ys, xs, w, shape)
    return finish(k, dt, "linear_motion")


# ----------------------------------------------------------------------------- combine
def combine(*psfs: Any, dtype=None) -> np.ndarray:
    """Full linear convolution of PSFs (e.g. motion ⊛ defocus ⊛ Gaussian).

    Parameters
    ----------
    *psfs : array_like, 2-D
        One or more PSFs (any sizes, each with its centre at ``k // 2``).
    dtype : floating dtype, optional
        Output dtype; default the widest input float dtype (float64 for ints).

    Returns
    -------
    psf : ndarray
        Odd size on each axis, centre at ``k // 2``, non-negative, sums to 1.

    Notes
    -----
    The full convolution has size :math:`\\sum_i k_i - (n-1)` and its centre at
    :math:`\\sum_i \\lfloor k_i/2 \\rfloor`; that is the middle pixel when all
    sizes are odd. With even sizes the shorter side is zero-padded so the
    output is odd-sized with the centre in the middle. Small products are
    computed by direct summation (exactly non-negative); large ones by FFT with
    the round-off negatives clipped.

    Examples
    --------
    >>> from hybrid_deblur.psf import combine, disk, linear_motion
    >>> combine(linear_motion(11), disk(2)).shape
    (17, 17)
    """
    from scipy.signal import convolve

    if not psfs:
        raise ValueError("combine needs at least one PSF, got none")
    arrs = []
    for i, p in enumerate(psfs):
        a = np.asarray(p)
        if a.dtype.kind not in "fiub":
            raise TypeError(f"psfs[{i}] must be a real numeric array, got dtype {a.dtype}")
        if a.ndim != 2:
            raise ValueError(f"psfs[{i}] must be 2-D, got shape {a.shape}")
        if a.size == 0:
            raise ValueError(f"psfs[{i}] is empty (shape {a.shape})")
        if not np.all(np.isfinite(a)):
            raise ValueError(f"psfs[{i}] contains NaN or inf")
        if a.min() < 0:
            raise ValueError(f"psfs[{i}] has negative values (min {a.min():.3g}); "
                             "a PSF must be non-negative")
        if not a.sum() > 0:
            raise ValueError(f"psfs[{i}] sums to zero; a PSF needs positive energy")
        arrs.append(a)
    if dtype is None:
        dts = [a.dtype for a in arrs if a.dtype.kind == "f"]
        dt = np.result_type(*dts) if dts else np.dtype(np.float64)
    else:
        dt = _check_dtype(dtype)
    out = arrs[0].astype(np.float64)
    centre = [n // 2 for n in out.shape]
    for a in arrs[1:]:
        a = a.astype(np.float64)
        centre = [c + n // 2 for c, n in zip(centre, a.shape)]
        if out.size * a.size <= 4_000_000:
            out = convolve(out, a, mode="full", method="direct")
        else:  # large products by FFT (psf.otf), round-off negatives clipped
            out = np.clip(convolve_full(out, a), 0.0, None)
    # make every axis odd with the centre in the middle
    pads = []
    for c, n in zip(centre, out.shape):
        left, right = c, n - 1 - c
        h = max(left, right)
        pads.append((h - left, h - right))
    out = np.pad(out, pads)
    return finish(out, dt, "combine")
