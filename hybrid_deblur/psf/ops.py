"""PSF utilities: normalise, centroid, sub-pixel centring, crop/pad around the centre, energy.

All functions keep the convention of DESIGN §1: the centre of a kernel of size
``k`` is pixel ``k // 2`` on each axis. They work on NumPy arrays of any number
of spatial dimensions (2-D unless said otherwise); :func:`normalize` also
accepts CuPy arrays and torch tensors.

Examples
--------
>>> import numpy as np
>>> from hybrid_deblur.psf import centroid, center_psf, pad_psf, crop_psf
>>> k = np.zeros((5, 5)); k[1, 3] = 1.0
>>> centroid(k)
(1.0, 3.0)
>>> centroid(center_psf(k))
(2.0, 2.0)
>>> crop_psf(pad_psf(k, 9), 5).tolist() == k.tolist()
True
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any

import numpy as np

from .. import backend as B

__all__ = [
    "center_psf",
    "centroid",
    "crop_psf",
    "crop_to_energy",
    "energy_radius",
    "normalize",
    "pad_psf",
]


def _as_psf(psf: Any, name: str = "psf", *, allow_negative: bool = False) -> np.ndarray:
    a = np.asarray(psf)
    if a.dtype.kind not in "fiub":
        raise TypeError(f"{name} must be a real numeric array, got dtype {a.dtype}")
    if a.ndim < 1 or a.size == 0:
        raise ValueError(f"{name} must be a non-empty array, got shape {a.shape}")
    a = a.astype(np.float64) if a.dtype.kind != "f" else a
    if not np.all(np.isfinite(a)):
        raise ValueError(f"{name} contains NaN or inf; a PSF must be finite")
    if not allow_negative and a.min() < 0:
        raise ValueError(f"{name} has negative values (min {a.min():.3g}); a PSF must be "
                         "non-negative (use normalize(psf, clip=True) to clip them)")
    if not a.sum() > 0:
        raise ValueError(f"{name} sums to {a.sum():.3g}; a PSF needs positive total energy")
    return a


def _size_tuple(size: Any, ndim: int, name: str = "size") -> tuple[int, ...]:
    if isinstance(size, (int, np.integer)) and not isinstance(size, bool):
        vals = (int(size),) * ndim
    else:
        try:
            vals = tuple(int(v) for v in size)
        except (TypeError, ValueError):
            raise TypeError(f"{name} must be an int or a sequence of {ndim} ints, "
                            f"got {size!r}") from None
        if len(vals) != ndim:
            raise ValueError(f"{name} must have {ndim} entries, got {size!r}")
    if any(v < 1 for v in vals):
        raise ValueError(f"{name} must be >= 1 on every axis, got {size!r}")
    return vals


def normalize(psf: Any, clip: bool = False):
    """Scale a PSF so that it sums to 1 (NumPy, CuPy or torch; float dtype kept).

    Parameters
    ----------
    psf : array
        Non-negative kernel with positive sum.
    clip : bool
        Set negative values to 0 first (e.g. a kernel from a deconvolution or
        a background-subtracted measurement). Without it, negatives raise.

    Returns
    -------
    psf : array
        Same library, float dtype (integers promoted), sums to 1.

    Examples
    --------
    >>> import numpy as np
    >>> from hybrid_deblur.psf import normalize
    >>> normalize(np.array([[1, 3]])).tolist()
    [[0.25, 0.75]]
    >>> normalize(np.array([[-0.1, 1.0]]), clip=True).tolist()
    [[0.0, 1.0]]
    """
    x = B.as_float(psf, name="psf")
    B.check_finite(x, "psf")
    if x.ndim == 0 or int(np.prod(x.shape)) == 0:
        raise ValueError(f"psf must be a non-empty array, got shape {tuple(x.shape)}")
    xp = B.namespace(x)
    if clip:
        x = xp.where(x < 0, xp.zeros_like(x), x)
    elif float(x.min()) < 0:
        raise ValueError(f"psf has negative values (min {float(x.min()):.3g}); pass clip=True "
                         "to set them to 0")
    s = x.sum()
    if not float(s) > 0:
        raise ValueError(f"psf sums to {float(s):.3g}; a PSF needs positive total energy")
    return x / s


def centroid(psf: Any) -> tuple[float, ...]:
    """Centre of mass of a PSF in pixel coordinates (row, col[, ...]).

    Notes
    -----
    :math:`\\mu_d = \\sum_i i_d\\,k_i / \\sum_i k_i` on every axis. A PSF whose
    centroid is ``k // 2`` does not shift the image it blurs.

    Examples
    --------
    >>> import numpy as np
    >>> from hybrid_deblur.psf import centroid
    >>> centroid(np.array([[0.0, 1.0, 3.0]]))
    (0.0, 1.75)
    """
    a = _as_psf(psf)
    s = a.sum()
    out = []
    for ax in range(a.ndim):
        other = tuple(i for i in range(a.ndim) if i != ax)
        prof = a.sum(axis=other) if other else a
        out.append(float((np.arange(a.shape[ax]) * prof).sum() / s))
    return tuple(out)


def _shift_linear(a: np.ndarray, shift: float, axis: int) -> np.ndarray:
    """Shift along ``axis`` by ``shift`` px with linear interpolation (array grows, no loss)."""
    n0 = math.floor(shift)
    f = shift - n0
    lead = max(n0, 0) + (1 if f > 0 else 0)
    trail = max(-n0, 0)
    pad = [(0, 0)] * a.ndim
    pad[axis] = (lead + trail, lead + trail)
    big = np.pad(a, pad)
    out = np.roll(big, n0, axis=axis) * (1.0 - f)
    if f > 0:
        out = out + np.roll(big, n0 + 1, axis=axis) * f
    return out, lead + trail


def center_psf(psf: Any, *, grow: bool = True) -> np.ndarray:
    """Shift a PSF by a sub-pixel amount so that its centroid is the centre pixel ``k // 2``.

    Parameters
    ----------
    psf : array_like
        Non-negative kernel.
    grow : bool
        If mass would leave the array, enlarge it (by the fewest pixels, keeping
        the parity of each size) instead of losing that mass. With
        ``grow=False`` the lost mass is dropped and the kernel renormalised
        (the centroid is then only approximately centred).

    Returns
    -------
    psf : ndarray (float64 unless float32 given)
        Sums to 1, centroid at ``k // 2`` on every axis (to rounding when
        nothing was cut).

    Notes
    -----
    The shift uses linear interpolation,
    :math:`k'_i = (1-f)\\,k_{i-n} + f\\,k_{i-n-1}` for a shift :math:`s = n + f`,
    which keeps the kernel non-negative and its sum, and moves the first moment by
    exactly :math:`s`; it smooths the kernel by at most a two-tap average.

    Examples
    --------
    >>> import numpy as np
    >>> from hybrid_deblur.psf import center_psf, centroid
    >>> k = np.zeros((7, 7)); k[2, 2] = 1.0; k[2, 3] = 1.0
    >>> [round(c, 12) for c in centroid(center_psf(k))]
    [3.0, 3.0]
    """
    a = _as_psf(psf)
    dt = a.dtype
    a = a.astype(np.float64) / a.sum()
    mu = centroid(a)
    shape0 = a.shape
    for ax in range(a.ndim):
        s = shape0[ax] // 2 - mu[ax]
        if abs(s) < 1e-12:
            continue
        a, p = _shift_linear(a, s, ax)
        # crop back to the original size around the (moved) centre if nothing is lost
        n = shape0[ax]
        start = p
        idx = [slice(None)] * a.ndim
        idx[ax] = slice(start, start + n)
        inside = a[tuple(idx)].sum()
        if grow and a.sum() - inside > 1e-14 * a.sum():
            # keep the smallest window (same parity as n) around the centre holding all mass
            prof = a.sum(axis=tuple(i for i in range(a.ndim) if i != ax))
            nz = np.nonzero(prof > 0)[0]
            c = start + n // 2
            h = max(c - nz[0], nz[-1] - c)
            m = max(n, 2 * h + 1 if n % 2 else 2 * h + 2)
            idx[ax] = slice(c - m // 2, c - m // 2 + m)
        a = a[tuple(idx)]
    a = a / a.sum()
    return a.astype(dt if dt == np.float32 else np.float64, copy=False)


def crop_psf(psf: Any, size: int | Sequence[int], *, normalize: bool = True) -> np.ndarray:
    """Crop a PSF to ``size`` around its centre pixel (centre ``k // 2`` -> ``size // 2``).

    Parameters
    ----------
    psf : array_like
        Kernel with every spatial size >= ``size``.
    size : int or sequence of int
        New size (int: the same on every axis).
    normalize : bool
        Rescale to sum 1 after cropping (default).

    Examples
    --------
    >>> from hybrid_deblur.psf import crop_psf, gaussian
    >>> crop_psf(gaussian(2.0), 9).shape
    (9, 9)
    """
    a = _as_psf(psf)
    sz = _size_tuple(size, a.ndim)
    if any(s > n for s, n in zip(sz, a.shape)):
        raise ValueError(f"size {sz} is larger than the psf {a.shape}; use pad_psf to enlarge")
    idx = tuple(slice(n // 2 - s // 2, n // 2 - s // 2 + s) for s, n in zip(sz, a.shape))
    out = a[idx].copy()
    if normalize:
        if not out.sum() > 0:
            raise ValueError(f"cropping to size {sz} leaves no energy in the psf")
        out = out / out.sum()
    return out


def pad_psf(psf: Any, size: int | Sequence[int]) -> np.ndarray:
    """Zero-pad a PSF to ``size`` so that its centre ``k // 2`` lands on ``size // 2``.

    Raises
    ------
    ValueError
        If the kernel does not fit (an odd kernel needs ``size >= k``, an
        even-sized kernel padded to an odd size too; odd -> even needs ``size >= k + 1``).

    Examples
    --------
    >>> import numpy as np
    >>> from hybrid_deblur.psf import pad_psf
    >>> pad_psf(np.ones((1, 1)), 3).tolist()
    [[0.0, 0.0, 0.0], [0.0, 1.0, 0.0], [0.0, 0.0, 0.0]]
    """
    a = _as_psf(psf, allow_negative=True)
    sz = _size_tuple(size, a.ndim)
    pads = []
    for s, n in zip(sz, a.shape):
        before = s // 2 - n // 2
        after = s - n - before
        if before < 0 or after < 0:
            raise ValueError(f"psf of shape {a.shape} does not fit into size {sz} with its "
                             "centre kept at size // 2")
        pads.append((before, after))
    return np.pad(a, pads)


def crop_to_energy(psf: Any, energy: float = 0.99) -> np.ndarray:
    """Smallest centred (odd or same-parity) window holding ``energy`` of the PSF, renormalised.

    The window stays centred on the centre pixel ``k // 2`` (so the convention is
    kept); it is grown one pixel per side on every axis until it holds at
    least ``energy`` of the total.

    Examples
    --------
    >>> from hybrid_deblur.psf import crop_to_energy, gaussian
    >>> crop_to_energy(gaussian(1.0, size=31), 0.99).shape
    (7, 7)
    """
    a = _as_psf(psf)
    e = float(energy)
    if not 0 < e <= 1:
        raise ValueError(f"energy must be in (0, 1], got {energy!r}")
    a = a / a.sum()
    c = [n // 2 for n in a.shape]
    hmax = max(max(ci, n - 1 - ci) for ci, n in zip(c, a.shape))
    for h in range(hmax + 1):
        idx = tuple(slice(max(ci - h, 0), min(ci + h + 1, n)) for ci, n in zip(c, a.shape))
        if a[idx].sum() >= e * (1 - 1e-12):
            break
    sz = tuple(min(2 * h + 1, n) if n % 2 else min(2 * h + 2, n) for n in a.shape)
    return crop_psf(a, sz)


def energy_radius(psf: Any, fraction: float = 0.5) -> float:
    """Radius around the centroid that encloses ``fraction`` of the PSF energy (pixels).

    Notes
    -----
    Pixels are treated as points at their centres; the radius is interpolated
    linearly in the cumulative energy of pixels sorted by distance to the
    centroid. For a wide Gaussian, ``fraction=0.5`` gives about
    :math:`\\sigma\\sqrt{2\\ln 2}`.

    Examples
    --------
    >>> from hybrid_deblur.psf import energy_radius, gaussian
    >>> round(energy_radius(gaussian(4.0)) / 4.0, 1)
    1.2
    """
    a = _as_psf(psf)
    f = float(fraction)
    if not 0 < f <= 1:
        raise ValueError(f"fraction must be in (0, 1], got {fraction!r}")
    a = a / a.sum()
    mu = centroid(a)
    grids = np.meshgrid(*[np.arange(n) - m for n, m in zip(a.shape, mu)], indexing="ij")
    r = np.sqrt(sum(g * g for g in grids)).ravel()
    order = np.argsort(r, kind="stable")
    r, w = r[order], a.ravel()[order]
    cum = np.cumsum(w)
    i = int(np.searchsorted(cum, f * (1 - 1e-12)))
    i = min(i, r.size - 1)
    if i == 0:
        return float(r[0] * f / max(cum[0], 1e-300))
    # linear interpolation between (r[i-1], cum[i-1]) and (r[i], cum[i])
    t = (f - cum[i - 1]) / max(cum[i] - cum[i - 1], 1e-300)
    return float(r[i - 1] + t * (r[i] - r[i - 1]))
