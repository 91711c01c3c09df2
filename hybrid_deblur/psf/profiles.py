"""Radial PSF metrics: radial profile, encircled energy, MTF, FWHM.

They serve optics checks (Airy first zero, 83.8 % encircled energy),
:mod:`hybrid_deblur.psf.measured` and :mod:`hybrid_deblur.analysis.plots`.

Examples
--------
>>> from hybrid_deblur.psf.profiles import encircled_energy_radius
>>> from hybrid_deblur.psf.shapes import disk
>>> round(encircled_energy_radius(disk(10.0), 0.5), 1)    # r / sqrt(2) = 7.07 for a disk
7.1
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np

from .. import backend as B
from .otf import psf2otf, sample_frequencies

__all__ = ["encircled_energy", "encircled_energy_radius", "fwhm_1d", "mtf_cutoff", "radial_mtf",
           "radial_profile"]


def _plane(psf, name="psf") -> np.ndarray:
    a = np.asarray(B.to_numpy(psf), dtype=np.float64)
    if a.ndim != 2 or a.size == 0:
        raise ValueError(f"{name} must be a 2-D array, got shape {a.shape}; pass one plane "
                         "of a stack (e.g. psf[psf.shape[0] // 2])")
    if not np.all(np.isfinite(a)):
        raise ValueError(f"{name} contains NaN or inf; only finite values are accepted")
    return a


def _center(a: np.ndarray, center) -> tuple[float, float]:
    if center is None:
        return (a.shape[0] // 2, a.shape[1] // 2)
    if isinstance(center, str) and center == "centroid":
        s = a.sum()
        return (float((a.sum(1) * np.arange(a.shape[0])).sum() / s),
                float((a.sum(0) * np.arange(a.shape[1])).sum() / s))
    return (float(center[0]), float(center[1]))


def radial_profile(psf: Any, *, center=None, bin_width: float = 1.0):
    """Azimuthal mean of a 2-D PSF around ``center`` (default the pixel ``k // 2``).

    Returns ``(r, profile)``: bin centres in pixels and mean values.

    Examples
    --------
    >>> from hybrid_deblur.psf import disk
    >>> from hybrid_deblur.psf.profiles import radial_profile
    >>> r, prof = radial_profile(disk(5.0))
    >>> bool(prof[0] > 0 and prof[-1] == 0)
    True
    """
    a = _plane(psf)
    cy, cx = _center(a, center)
    yy, xx = np.indices(a.shape)
    r = np.hypot(yy - cy, xx - cx).ravel()
    bw = float(bin_width)
    if not bw > 0:
        raise ValueError(f"bin_width must be > 0, got {bin_width!r}")
    idx = np.floor(r / bw + 0.5).astype(int)
    cnt = np.bincount(idx)
    tot = np.bincount(idx, a.ravel())
    ok = cnt > 0
    return np.arange(len(cnt))[ok] * bw, tot[ok] / cnt[ok]


def encircled_energy(psf: Any, radii=None, *, center=None, subsample: int = 4):
    """Fraction of the PSF's energy inside circles of the given ``radii`` (pixels).

    Each pixel is split into ``subsample``² equal parts (uniform within the pixel),
    so the curve is accurate to a fraction of a pixel. Returns ``(radii, ee)``;
    ``ee`` is relative to the sum of ``psf``.

    Examples
    --------
    >>> import numpy as np
    >>> from hybrid_deblur.psf.measured import encircled_energy
    >>> k = np.zeros((9, 9)); k[4, 4] = 1
    >>> r, ee = encircled_energy(k, [0.0, 0.6])
    >>> ee.round(3).tolist()
    [0.0, 1.0]
    """
    a = _plane(psf)
    cy, cx = _center(a, center)
    s = int(subsample)
    off = (np.arange(s) + 0.5) / s - 0.5
    yy = (np.arange(a.shape[0])[:, None] + off[None, :]).ravel() - cy
    xx = (np.arange(a.shape[1])[:, None] + off[None, :]).ravel() - cx
    r = np.hypot(yy[:, None], xx[None, :]).ravel()
    w = np.repeat(np.repeat(a, s, axis=0), s, axis=1).ravel() / (s * s)
    order = np.argsort(r)
    r, cum = r[order], np.cumsum(w[order]) / a.sum()
    if radii is None:
        radii = np.arange(0, math.hypot(*a.shape) / 2 + 0.5, 0.25)
    radii = np.asarray(radii, dtype=np.float64)
    return radii, np.interp(radii, r, cum, left=0.0)


def encircled_energy_radius(psf: Any, fraction: float = 0.5, *, center=None,
                            subsample: int = 4) -> float:
    """Radius (pixels) of the circle around ``center`` holding ``fraction`` of the energy.

    Examples
    --------
    >>> from hybrid_deblur.psf import disk
    >>> from hybrid_deblur.psf.profiles import encircled_energy_radius
    >>> round(encircled_energy_radius(disk(10.0), 0.5), 1)       # r / sqrt(2) for a disk
    7.1
    """
    f = float(fraction)
    if not 0 < f < 1:
        raise ValueError(f"fraction must be in (0, 1), got {fraction!r}")
    a = _plane(psf)
    rr = np.arange(0, math.hypot(*a.shape) / 2 + 1, 0.05)
    rr, ee = encircled_energy(a, rr, center=center, subsample=subsample)
    i = int(np.searchsorted(ee, f))
    if i >= len(rr):
        return float(rr[-1])
    if i == 0:
        return 0.0
    return float(rr[i - 1] + (f - ee[i - 1]) / max(ee[i] - ee[i - 1], 1e-300) * (rr[i] - rr[i - 1]))


def radial_mtf(psf: Any, *, shape=None, pixel_pitch=None):
    """Radially averaged modulation transfer function :math:`|\\mathrm{OTF}|` of a 2-D PSF.

    Parameters
    ----------
    shape : (int, int), optional
        FFT grid (zero-padding interpolates the curve); default at least 256.
    pixel_pitch : float or str, optional
        If given, frequencies are in cycles per metre, otherwise cycles per pixel.

    Returns
    -------
    freq, mtf : ndarray
        Bin centres (up to the sensor Nyquist frequency 0.5 cycles/pixel) and the
        mean MTF in each bin (``mtf[0] == 1`` for a normalised PSF).

    Examples
    --------
    >>> from hybrid_deblur.psf import gaussian
    >>> from hybrid_deblur.psf.profiles import radial_mtf
    >>> f, m = radial_mtf(gaussian(1.0))
    >>> float(f[-1]), round(float(m[0]), 6), bool(m[-1] < 0.01)    # up to Nyquist, 1 at DC
    (0.5, 1.0, True)
    """
    a = _plane(psf)
    a = a / a.sum()
    n = max(256, 2 * max(a.shape)) if shape is None else None
    shp = (n, n) if shape is None else tuple(int(v) for v in shape)
    H = np.abs(psf2otf(a, shp, onesided=False))    # |OTF| does not depend on the centring
    fy = sample_frequencies(shp[0])
    fx = sample_frequencies(shp[1])
    fr = np.hypot(fy[:, None], fx[None, :]).ravel()
    df = 1.0 / max(shp)
    idx = np.floor(fr / df + 0.5).astype(int)
    cnt = np.bincount(idx)
    tot = np.bincount(idx, H.ravel())
    nb = int(0.5 / df) + 1
    f = np.arange(nb) * df
    m = tot[:nb] / np.maximum(cnt[:nb], 1)
    if pixel_pitch is not None:
        from .units import length

        f = f / length(pixel_pitch, name="pixel_pitch")
    return f, m


def mtf_cutoff(freq, mtf, threshold: float = 1e-3) -> float:
    """First frequency at which ``mtf`` falls below ``threshold`` (linear interpolation).

    Examples
    --------
    >>> import numpy as np
    >>> from hybrid_deblur.psf.profiles import mtf_cutoff
    >>> f = np.linspace(0, 0.5, 6)
    >>> mtf_cutoff(f, np.array([1.0, 0.5, 0.1, 0.0, 0.0, 0.0]), threshold=0.05)
    0.25
    """
    freq, mtf = np.asarray(freq, float), np.asarray(mtf, float)
    below = np.nonzero(mtf < threshold)[0]
    if below.size == 0:
        return float("inf")
    i = int(below[0])
    if i == 0:
        return float(freq[0])
    t = (mtf[i - 1] - threshold) / max(mtf[i - 1] - mtf[i], 1e-300)
    return float(freq[i - 1] + t * (freq[i] - freq[i - 1]))


def fwhm_1d(profile, *, center: int | None = None) -> float:
    """Full width at half maximum (samples) of a single-peaked 1-D profile (interpolated).

    Examples
    --------
    >>> import numpy as np
    >>> from hybrid_deblur.psf.profiles import fwhm_1d
    >>> x = np.arange(-20, 21)
    >>> round(fwhm_1d(np.exp(-0.5 * (x / 3.0) ** 2)), 2)   # 2.3548 sigma = 7.06 (linear interp.)
    7.09
    """
    p = np.asarray(profile, dtype=np.float64)
    if p.ndim != 1 or p.size < 3:
        raise ValueError(f"profile must be 1-D with >= 3 samples, got shape {p.shape}")
    i0 = int(np.argmax(p)) if center is None else int(center)
    half = p[i0] / 2.0
    left = i0
    while left > 0 and p[left - 1] > half:
        left -= 1
    right = i0
    while right < p.size - 1 and p[right + 1] > half:
        right += 1
    if left == 0 or right == p.size - 1:
        return float("nan")
    xl = left - 1 + (half - p[left - 1]) / (p[left] - p[left - 1])
    xr = right + (p[right] - half) / (p[right] - p[right + 1])
    return float(xr - xl)
