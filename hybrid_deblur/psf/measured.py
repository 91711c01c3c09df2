"""Measured PSFs (bead images and stacks): ingestion, parametric fits and PSF metrics.

A measured PSF arrives as raw camera counts: a camera offset (and background)
under the signal, shot and read noise, the bead somewhere off-centre. :func:`ingest`
turns it into a PSF of the toolkit's convention (non-negative, sums to 1, centre at
voxel ``k // 2``); :func:`fit` fits a Gaussian, Airy or defocus-disk model and
reports its parameters (FWHM, Airy radius, defocus radius) and residual. The
metrics (:func:`radial_profile`, :func:`encircled_energy`, :func:`radial_mtf`,
:func:`fwhm_1d`) serve optics checks and :mod:`hybrid_deblur.analysis.plots`.

Examples
--------
>>> import numpy as np
>>> from hybrid_deblur.psf import measured
>>> from hybrid_deblur.psf.shapes import gaussian
>>> rng = np.random.default_rng(0)
>>> raw = 100.0 + 5000 * np.roll(gaussian(2.0, size=41), (3, -2), (0, 1))
>>> raw = rng.poisson(raw).astype(float)          # offset 100 counts + shot noise
>>> psf, info = measured.ingest(raw, return_info=True)
>>> round(info["background"]), round(float(psf.sum()), 6), psf.shape[0] % 2
(100, 1.0, 1)
>>> fit = measured.fit(psf, "gaussian")
>>> bool(abs(fit.fwhm - 2.3548 * 2.0) < 0.3)
True
"""


from __future__ import annotations

import math
import os
from typing import Any

import numpy as np
from scipy import ndimage

from .. import backend as B
from .model_fit import PSFFit, fit
from .profiles import (
    encircled_energy,
    encircled_energy_radius,
    fwhm_1d,
    mtf_cutoff,
    radial_mtf,
    radial_profile,
)

__all__ = [
    "PSFFit",
    "encircled_energy",
    "encircled_energy_radius",
    "estimate_background",
    "fit",
    "fwhm_1d",
    "ingest",
    "mtf_cutoff",
    "radial_mtf",
    "radial_profile",
]


# ----------------------------------------------------------------------------- ingest
def _load(data) -> np.ndarray:
    if isinstance(data, (str, os.PathLike)):
        from ..io import imread

        data = imread(data, linear=False, scale=False)
    a = np.asarray(B.to_numpy(data))
    if a.dtype.kind not in "biuf":
        raise TypeError(f"image_or_stack must be a real numeric array, got dtype {a.dtype}")
    a = a.astype(np.float64)
    if a.ndim not in (2, 3) or min(a.shape) < 3:
        raise ValueError(f"image_or_stack must be a 2-D image (y, x) or a 3-D stack (z, y, x) with "
                         f">= 3 samples per axis, got shape {a.shape}")
    if not np.all(np.isfinite(a)):
        raise ValueError("image_or_stack contains NaN or inf; only finite values are accepted")
    return a


def _border_shell(a: np.ndarray, frac: float = 0.1) -> np.ndarray:
    mask = np.zeros(a.shape, bool)
    for ax, n in enumerate(a.shape):
        w = max(2, round(frac * n))
        sl = [slice(None)] * a.ndim
        sl[ax] = slice(0, w)
        mask[tuple(sl)] = True
        sl[ax] = slice(n - w, n)
        mask[tuple(sl)] = True
    return a[mask]


def estimate_background(image_or_stack: Any) -> tuple[float, float]:
    """Camera offset + background level and noise σ from the border shell (10% per face).

    Median and MAD (× 1.4826) of the border voxels: robust to a PSF that reaches
    into the border a little.

    Examples
    --------
    >>> import numpy as np
    >>> from hybrid_deblur.psf.measured import estimate_background
    >>> raw = np.random.default_rng(0).normal(100.0, 2.0, (64, 64))
    >>> bg, sigma = estimate_background(raw)
    >>> round(bg), round(sigma)
    (100, 2)
    """
    a = _load(image_or_stack)
    shell = _border_shell(a)
    bg = float(np.median(shell))
    sigma = float(1.4826 * np.median(np.abs(shell - bg)))
    return bg, sigma


def _denoise(b: np.ndarray, denoise, sigma_noise: float) -> np.ndarray:
    if denoise is None or denoise is False or denoise == "none":
        return b
    if isinstance(denoise, (int, float)) and not isinstance(denoise, bool):
        if not denoise > 0:
            raise ValueError(f"denoise as a number is a Gaussian sigma > 0, got {denoise!r}")
        return ndimage.gaussian_filter(b, float(denoise))
    if denoise == "gaussian":
        return ndimage.gaussian_filter(b, 0.7)
    if denoise == "median":
        return ndimage.median_filter(b, size=3)
    if denoise == "threshold":
        return np.where(b > 3.0 * sigma_noise, b, 0.0)
    raise ValueError(f"denoise must be None, 'gaussian', 'median', 'threshold' or a Gaussian "
                     f"sigma (float), got {denoise!r}")


def _locate(b: np.ndarray, sigma_noise: float, center: str) -> np.ndarray:
    sm = ndimage.gaussian_filter(b, 1.0)
    if center == "centroid":
        w = np.where(sm > 3.0 * sigma_noise / 2.0, b, 0.0).clip(0, None)
        if w.sum() <= 0:
            w = b.clip(0, None)
        return np.array([(w.sum(axis=tuple(i for i in range(b.ndim) if i != ax))
                          * np.arange(n)).sum() / w.sum() for ax, n in enumerate(b.shape)])
    if center != "peak":
        raise ValueError(f"center must be 'peak' (centroid of the core) or 'centroid', got {center!r}")
    c = np.array(np.unravel_index(int(np.argmax(sm)), b.shape), dtype=float)
    for _ in range(3):  # centroid of the core above half maximum, in a small box
        lo = np.maximum(np.round(c).astype(int) - 3, 0)
        hi = np.minimum(np.round(c).astype(int) + 4, b.shape)
        box = sm[tuple(slice(l, h) for l, h in zip(lo, hi))]
        w = np.clip(box - 0.5 * box.max(), 0, None)
        grids = np.indices(box.shape)
        c = np.array([(g * w).sum() / w.sum() for g in grids]) + lo
    return c


def ingest(image_or_stack: Any, *, background: Any = "auto", energy: float = 0.99,
           denoise: Any = None, pixel_pitch=None, center: str = "peak", size=None,
           return_info: bool = False):
    """Turn a raw bead image or stack into a normalised, centred PSF.

    Parameters
    ----------
    image_or_stack : array (y, x) or (z, y, x), or a path
        Raw counts (any numeric dtype; NumPy, CuPy or torch are copied to NumPy).
        A path is read with :func:`hybrid_deblur.io.imread` without scaling (``.tif``
        stacks, ``.npy``, ``.png``).
    background : "auto", "median", float or None
        ``"auto"``: median of the border shell (camera offset + background).
        ``"median"``: global median. A number: that value. ``None``: nothing.
    energy : float
        Crop each axis to the smallest centred window holding this fraction of the
        (noise-thresholded) signal along that axis; ``1.0`` keeps the full field.
    denoise : None, "gaussian", "median", "threshold" or float
        Optional denoising after background subtraction: Gaussian smoothing
        (σ 0.7 px or the given float), a 3-voxel median, or zeroing everything
        below 3 σ of the noise.
    pixel_pitch : float or str, optional
        Stored in the returned info (for physical FWHMs); a sequence gives per-axis
        voxel sizes ``(dz, dy, dx)``.
    center : {"peak", "centroid"}
        Put the sub-pixel centroid of the core (above half maximum around the
        brightest voxel) or the global centroid on the centre voxel.
    size : int or tuple, optional
        Fixed output size instead of the energy crop (odd sizes are recommended).
    return_info : bool
        Also return a dict: background, noise_sigma, snr, centre found (input
        coordinates), shift applied, crop shape.

    Returns
    -------
    psf : ndarray, float64
        Non-negative, sums to 1, centre at ``k // 2`` on every axis.

    Notes
    -----
    Steps: :math:`b = a - \\text{offset}`, optional denoising, sub-pixel shift
    (cubic spline) that moves the centre to ``n // 2``, clip at 0 (the noise floor
    is clipped where it is negative, so a border of pure noise has median 0),
    per-axis energy crop, normalise.

    Examples
    --------
    >>> import numpy as np
    >>> from hybrid_deblur.psf import gaussian
    >>> from hybrid_deblur.psf.measured import ingest
    >>> raw = 50.0 + 1e4 * np.roll(gaussian(1.5, size=31), (2, -3), (0, 1))
    >>> k = ingest(raw)
    >>> k.shape[0] % 2, round(float(k.sum()), 6), np.unravel_index(k.argmax(), k.shape) == (k.shape[0] // 2, k.shape[1] // 2)
    (1, 1.0, True)
    """
    a = _load(image_or_stack)
    bg_auto, sigma = estimate_background(a)
    if isinstance(background, str):
        if background == "auto":
            bg = bg_auto
        elif background == "median":
            bg = float(np.median(a))
        else:
            raise ValueError(f"background must be 'auto', 'median', a number or None, got {background!r}")
    elif background is None:
        bg = 0.0
    else:
        bg = float(background)
        if not np.isfinite(bg):
            raise ValueError(f"background must be finite, got {background!r}")
    e = float(energy)
    if not 0 < e <= 1:
        raise ValueError(f"energy must be in (0, 1], got {energy!r}")
    b = _denoise(a - bg, denoise, sigma)
    sig_sm = sigma * (2.0 * math.sqrt(math.pi)) ** (-a.ndim / 2.0)  # noise after 1-px smoothing
    if not ndimage.gaussian_filter(b, 1.0).max() > 6.0 * sig_sm:
        raise ValueError(f"image_or_stack holds no PSF above the noise (max {b.max():.3g} after "
                         f"removing background {bg:.3g}; noise sigma {sigma:.3g})")
    c = _locate(b, sigma, center)
    target = np.array([n // 2 for n in a.shape], dtype=float)
    shifted = ndimage.shift(b, target - c, order=3, mode="constant", cval=0.0, prefilter=True)
    shifted = np.clip(shifted, 0.0, None)
    if size is not None:
        sz = (int(size),) * a.ndim if np.isscalar(size) else tuple(int(v) for v in size)
        if len(sz) != a.ndim or any(s < 1 or s > n for s, n in zip(sz, a.shape)):
            raise ValueError(f"size must be 1..{a.shape} per axis, got {size!r}")
        halves = [(s // 2, s - 1 - s // 2) for s in sz]
    else:
        sig = ndimage.gaussian_filter(shifted, 1.0)
        sig = np.where(sig > 3.0 * sigma / 2.0, sig, 0.0)
        if sig.sum() <= 0:
            sig = shifted
        halves = []
        for ax, n in enumerate(a.shape):
            prof = sig.sum(axis=tuple(i for i in range(a.ndim) if i != ax))
            t = n // 2
            hmax = min(t, n - 1 - t)
            tot = prof.sum()
            h = hmax
            for hh in range(hmax + 1 if e < 1 else 0):
                if prof[t - hh:t + hh + 1].sum() >= e * tot * (1 - 1e-12):
                    h = hh
                    break
            h = max(h, 1)
            halves.append((h, h))
    sl = tuple(slice(n // 2 - lo, n // 2 + hi + 1) for n, (lo, hi) in zip(a.shape, halves))
    psf = shifted[sl]
    if not psf.sum() > 0:
        raise ValueError("the cropped PSF is empty; check background= and energy=")
    psf = psf / psf.sum()
    if not return_info:
        return psf
    info = {"background": bg, "noise_sigma": sigma, "snr": float(b.max() / max(sigma, 1e-300)),
            "center_found": c.tolist(), "shift": (target - c).tolist(), "shape": psf.shape,
            "input_shape": a.shape, "pixel_pitch": pixel_pitch, "denoise": denoise}
    return psf, info
