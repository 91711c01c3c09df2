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
from dataclasses import dataclass, field
from typing import Any

import numpy as np
from scipy import ndimage
from scipy.special import erfc, j1

from .. import backend as B

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


# ----------------------------------------------------------------------------- metrics
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
    """Radius (pixels) of the circle around ``center`` holding ``fraction`` of the energy."""
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
    """
    a = _plane(psf)
    a = a / a.sum()
    n = max(256, 2 * max(a.shape)) if shape is None else None
    shp = (n, n) if shape is None else tuple(int(v) for v in shape)
    pad = np.zeros(shp)
    pad[: a.shape[0], : a.shape[1]] = a
    H = np.abs(B.fftn(pad, axes=(-2, -1)))
    fy = np.fft.fftfreq(shp[0])
    fx = np.fft.fftfreq(shp[1])
    fr = np.hypot(fy[:, None], fx[None, :]).ravel()
    df = 1.0 / max(shp)
    idx = np.floor(fr / df + 0.5).astype(int)
    cnt = np.bincount(idx)
    tot = np.bincount(idx, H.ravel())
    nb = int(0.5 / df) + 1
    f = np.arange(nb) * df
    m = tot[:nb] / np.maximum(cnt[:nb], 1)
    if pixel_pitch is not None:
        from .optics import length

        f = f / length(pixel_pitch, name="pixel_pitch")
    return f, m


def mtf_cutoff(freq, mtf, threshold: float = 1e-3) -> float:
    """First frequency at which ``mtf`` falls below ``threshold`` (linear interpolation)."""
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
    """Full width at half maximum (samples) of a single-peaked 1-D profile (interpolated)."""
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


# ----------------------------------------------------------------------------- fit
@dataclass
class PSFFit:
    """Result of :func:`fit`: model parameters (pixels), FWHM, residual, fitted model."""

    model: str
    params: dict
    fwhm: float
    residual: float
    success: bool
    psf: np.ndarray
    fwhm_axial: float | None = None
    physical: dict = field(default_factory=dict)
    message: str = ""


def _model_2d(model, q, yy, xx, sub):
    A, y0, x0, off = q[0], q[1], q[2], q[3]
    if sub > 1:  # pixel integration by sub-sampling
        o = (np.arange(sub) + 0.5) / sub - 0.5
        dy = (yy[..., None, None] + o[:, None]) - y0
        dx = (xx[..., None, None] + o[None, :]) - x0
    else:
        dy, dx = yy - y0, xx - x0
    if model == "gaussian":
        sy, sx = abs(q[4]) + 1e-9, abs(q[5]) + 1e-9
        v = np.exp(-0.5 * ((dy / sy) ** 2 + (dx / sx) ** 2))
    elif model == "airy":
        r0 = abs(q[4]) + 1e-9
        u = 3.8317059702 * np.hypot(dy, dx) / r0
        v = np.where(u > 1e-9, (2 * j1(u) / np.where(u > 1e-9, u, 1.0)) ** 2, 1.0)
    else:  # defocus: disk of radius R with a Gaussian-blurred edge of width s
        R, s = abs(q[4]), abs(q[5]) + 0.3
        v = 0.5 * erfc((np.hypot(dy, dx) - R) / (math.sqrt(2) * s))
    if sub > 1:
        v = v.mean(axis=(-2, -1))
    return A * v + off


def _fit_plane(a: np.ndarray, model: str):
    from scipy import optimize

    yy, xx = np.indices(a.shape, dtype=float)
    peak = a.max()
    cy, cx = np.unravel_index(int(np.argmax(a)), a.shape)
    w = a.clip(0, None)
    m0 = w.sum()
    my, mx = (w * yy).sum() / m0, (w * xx).sum() / m0
    r_half = max(0.6, math.sqrt((a > peak / 2).sum() / math.pi))  # half-max radius
    if model == "gaussian":
        q0 = [peak, cy, cx, 0.0, r_half / 1.1774, r_half / 1.1774]
    elif model == "airy":
        q0 = [peak, cy, cx, 0.0, r_half / 0.4218 / 1.0]
    elif model == "defocus":
        r_d = math.sqrt((a > 0.25 * peak).sum() / math.pi)
        q0 = [float(np.median(a[a > 0.25 * peak])), my, mx, 0.0, r_d, 0.5]
    else:
        raise ValueError(f"model must be 'gaussian', 'airy' or 'defocus', got {model!r}")
    sub = 3

    def res(q):
        return (_model_2d(model, q, yy, xx, sub) - a).ravel()

    sol = optimize.least_squares(res, np.array(q0, float), method="lm", max_nfev=400)
    q = sol.x
    mod = _model_2d(model, q, yy, xx, sub)
    resid = float(np.linalg.norm(mod - a) / max(np.linalg.norm(a), 1e-300))
    if model == "gaussian":
        params = {"amplitude": q[0], "y0": q[1], "x0": q[2], "offset": q[3],
                  "sigma_y": abs(q[4]), "sigma_x": abs(q[5])}
        fw = 2 * math.sqrt(2 * math.log(2)) * math.sqrt(abs(q[4] * q[5]))
        params.update(fwhm_y=2.35482 * abs(q[4]), fwhm_x=2.35482 * abs(q[5]))
    elif model == "airy":
        params = {"amplitude": q[0], "y0": q[1], "x0": q[2], "offset": q[3],
                  "first_zero_radius": abs(q[4])}
        fw = 1.02899 / 1.21967 * abs(q[4])
    else:
        params = {"amplitude": q[0], "y0": q[1], "x0": q[2], "offset": q[3],
                  "radius": abs(q[4]), "edge_sigma": abs(q[5]) + 0.3}
        prof = _model_2d(model, [1.0, 0.0, 0.0, 0.0, q[4], q[5]], np.zeros(1),
                         np.linspace(-abs(q[4]) - 10, abs(q[4]) + 10, 4001), 1)
        step = (2 * abs(q[4]) + 20) / 4000
        fw = fwhm_1d(prof) * step
    params = {k: float(v) for k, v in params.items()}
    return params, float(fw), resid, bool(sol.success), mod, sol.message


def fit(psf: Any, model: str = "gaussian", *, pixel_pitch=None, wavelength=None) -> PSFFit:
    """Fit a parametric model to a (measured) PSF and report its parameters.

    Parameters
    ----------
    psf : array (y, x) or (z, y, x)
        A PSF, e.g. from :func:`ingest`. Stacks are fitted laterally on the plane
        of the maximum; their axial FWHM comes from a Gaussian fit of the axial
        profile through the lateral centre.
    model : {"gaussian", "airy", "defocus"}
        Elliptical Gaussian (σ_y, σ_x); Airy pattern with first-zero radius r0;
        uniform disk of radius R with a Gaussian edge (defocus). All with free
        centre, amplitude and offset, integrated over the pixel area.
    pixel_pitch : float, str or sequence, optional
        Voxel size (one value, or ``(dz, dy, dx)`` for stacks); adds physical sizes
        in ``physical`` (metres).
    wavelength : float or str, optional
        With ``model="airy"`` and ``pixel_pitch``: the equivalent f-number and NA.

    Returns
    -------
    PSFFit
        ``params`` (pixels), ``fwhm`` (lateral, pixels), ``fwhm_axial`` (stacks),
        ``residual`` = ‖model − data‖ / ‖data‖, ``psf`` (the fitted model, a clean
        normalised PSF of the input's lateral shape), ``physical``.

    Examples
    --------
    >>> from hybrid_deblur.psf.optics import airy
    >>> from hybrid_deblur.psf.measured import fit
    >>> k = airy("500nm", 4, "0.25um", size=31)
    >>> r = fit(k, "airy", pixel_pitch="0.25um", wavelength="500nm")
    >>> round(r.params["first_zero_radius"], 2), round(r.physical["f_number"], 2)
    (9.76, 4.0)
    """
    a = np.asarray(B.to_numpy(psf), dtype=np.float64)
    if a.ndim not in (2, 3) or a.size == 0 or not np.all(np.isfinite(a)):
        raise ValueError(f"psf must be a finite 2-D or 3-D array, got shape {a.shape}")
    if not a.sum() > 0:
        raise ValueError("psf sums to zero or less; it needs positive energy")
    if model not in ("gaussian", "airy", "defocus"):
        raise ValueError(f"model must be 'gaussian', 'airy' or 'defocus', got {model!r}")
    from scipy import optimize

    a = a / a.sum()
    plane = a if a.ndim == 2 else a[int(np.unravel_index(int(np.argmax(a)), a.shape)[0])]
    params, fw, resid, ok, mod, msg = _fit_plane(plane, model)
    fw_ax = None
    if a.ndim == 3:
        y0 = round(min(max(params["y0"], 0), a.shape[1] - 1))
        x0 = round(min(max(params["x0"], 0), a.shape[2] - 1))
        prof = a[:, max(y0 - 1, 0):y0 + 2, max(x0 - 1, 0):x0 + 2].sum(axis=(1, 2))
        z = np.arange(len(prof), dtype=float)

        def g(q):
            return q[0] * np.exp(-0.5 * ((z - q[1]) / (abs(q[2]) + 1e-9)) ** 2) + q[3] - prof

        z0 = float(np.argmax(prof))
        q0 = [prof.max(), z0, max(1.0, (prof > prof.max() / 2).sum() / 2.355), 0.0]
        sol = optimize.least_squares(g, q0, method="lm")
        params["z0"] = float(sol.x[1])
        params["sigma_z"] = float(abs(sol.x[2]))
        fw_ax = 2.35482 * abs(sol.x[2])
    phys: dict = {}
    if pixel_pitch is not None:
        from .optics import length

        pp = ([pixel_pitch] if np.isscalar(pixel_pitch) or isinstance(pixel_pitch, str)
              else list(pixel_pitch))
        pp = [length(v, name="pixel_pitch") for v in pp]
        lat = pp[-1]
        phys["fwhm"] = fw * lat
        if fw_ax is not None:
            phys["fwhm_axial"] = fw_ax * (pp[0] if len(pp) == 3 else lat)
        if model == "airy":
            phys["first_zero_radius"] = params["first_zero_radius"] * lat
            if wavelength is not None:
                lam = length(wavelength, name="wavelength")
                N = phys["first_zero_radius"] / (1.21967 * lam)
                phys.update(f_number=N, na=1.0 / (2.0 * N))
        if model == "defocus":
            phys["radius"] = params["radius"] * lat
    clean = np.clip(mod - params["offset"], 0, None)
    clean = clean / clean.sum() if clean.sum() > 0 else clean
    return PSFFit(model, params, fw, resid, ok, clean, fw_ax, phys, str(msg))
