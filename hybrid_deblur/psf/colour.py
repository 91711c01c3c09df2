"""Colour optics: polychromatic PSFs and per-channel (R, G, B) PSFs from spectra.

Examples
--------
>>> from hybrid_deblur.psf.colour import rgb_psfs
>>> rgb_psfs(f_number=4, pixel_pitch="2um", size=9).shape
(3, 9, 9)
"""

from __future__ import annotations

import warnings
from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np

from .pupil import pupil_psf
from .units import GridWarning, UndersampledWarning, length

__all__ = ["polychromatic_psf", "rgb_psfs"]


def polychromatic_psf(wavelengths: Sequence, weights: Sequence | None = None, *, f_number=None,
                      na=None, pixel_pitch, size: int | None = None,
                      zernike: Mapping | None = None, zernike_wavelength=None, dtype=np.float64,
                      **kwargs):
    """Weighted sum of monochromatic :func:`pupil_psf` over ``wavelengths``.

    Parameters
    ----------
    wavelengths : sequence of float or str
    weights : sequence of float, optional
        Relative spectral weights (photons per sample; default equal). Normalised.
    zernike : dict, optional
        Aberrations. Floats are waves *at* ``zernike_wavelength`` (default: the
        weighted mean wavelength) and are turned into a fixed optical path difference,
        so they shrink in waves at longer wavelengths; strings are lengths.
    **kwargs
        Passed to :func:`pupil_psf` (``aperture``, ``obscuration``, ``oversample``).

    Returns
    -------
    psf : ndarray (size, size), sums to 1.

    Examples
    --------
    >>> from hybrid_deblur.psf.colour import polychromatic_psf
    >>> k = polychromatic_psf(["450nm", "550nm", "650nm"], f_number=4, pixel_pitch="1um", size=21)
    >>> k.shape, round(float(k.sum()), 6)
    ((21, 21), 1.0)
    """
    lams = np.array([length(v, name="wavelength") for v in np.atleast_1d(wavelengths)])
    w = _weights(weights, len(lams), "weights")
    stack = _mono_stack(lams, f_number, na, pixel_pitch, size, zernike, zernike_wavelength,
                        w, kwargs)
    return (np.tensordot(w, stack, axes=1) / w.sum()).astype(dtype)


def _weights(weights, n, name):
    w = np.ones(n) if weights is None else np.asarray(weights, dtype=np.float64)
    if w.shape != (n,) or not np.all(np.isfinite(w)) or (w < 0).any() or w.sum() <= 0:
        raise ValueError(f"{name} must be {n} finite non-negative numbers with a positive sum, "
                         f"got shape {w.shape}")
    return w


def _mono_stack(lams, f_number, na, pixel_pitch, size, zernike, zref, w, kwargs):
    lam_ref = (float(np.sum(w * lams) / w.sum()) if zref is None
               else length(zref, name="wavelength"))
    opd = {k: (v if isinstance(v, str) else float(v) * lam_ref)
           for k, v in (zernike or {}).items()}
    def waves(lam):
        return {k: (v if isinstance(v, str) else v / lam) for k, v in opd.items()}

    with warnings.catch_warnings():
        warnings.simplefilter("ignore", UndersampledWarning)
        warnings.simplefilter("ignore", GridWarning)
        if size is None:  # size from the longest wavelength: the largest PSF
            _, info = pupil_psf(lams.max(), f_number=f_number, na=na, pixel_pitch=pixel_pitch,
                                zernike=waves(lams.max()), return_info=True, **kwargs)
            size = info["size"]
        out, fracs = [], []
        for lam in lams:
            k, info = pupil_psf(lam, f_number=f_number, na=na, pixel_pitch=pixel_pitch,
                                zernike=waves(lam), size=size, return_info=True, **kwargs)
            out.append(k)
            fracs.append(info["energy_fraction"])
    if min(fracs) < 0.9:  # one warning for the whole spectrum
        warnings.warn(
            f"a {size}x{size} window holds only {100 * min(fracs):.1f}% of the PSF energy at "
            f"{lams[int(np.argmin(fracs))] * 1e9:.0f} nm; pass a larger size (or size=None)",
            GridWarning, stacklevel=3)
    return np.stack(out)


def rgb_psfs(*, f_number=None, na=None, pixel_pitch, size: int | None = None,
             wavelengths: Sequence | None = None, spectra: Any = None,
             centers=("600nm", "540nm", "460nm"), widths=("40nm", "40nm", "35nm"),
             zernike: Mapping | None = None, zernike_wavelength="550nm", dtype=np.float64,
             **kwargs) -> np.ndarray:
    """Per-channel PSFs (C, k, k) from channel spectral sensitivities.

    Parameters
    ----------
    wavelengths : sequence, optional
        Sample wavelengths (default 16 from 400 nm to 700 nm).
    spectra : array (C, n), optional
        Channel sensitivities at ``wavelengths`` (include the illuminant and lens
        transmission if they matter). Default: Gaussian bands with ``centers`` and
        standard deviations ``widths`` (R, G, B).
    zernike, zernike_wavelength
        Aberrations as a fixed optical path (see :func:`polychromatic_psf`).

    Returns
    -------
    psfs : ndarray (C, size, size); each channel sums to 1. Use it directly as a
        per-channel PSF of :class:`hybrid_deblur.physics.Blur` on a (C, H, W) image.

    Examples
    --------
    >>> from hybrid_deblur.psf.colour import rgb_psfs
    >>> k = rgb_psfs(f_number=5.6, pixel_pitch="1.5um", size=15)
    >>> k.shape, bool(k[0].max() < k[2].max())     # red spreads more than blue
    ((3, 15, 15), True)
    """
    if wavelengths is None:
        lams = np.linspace(400e-9, 700e-9, 16)
    else:
        lams = np.array([length(v, name="wavelength") for v in np.atleast_1d(wavelengths)])
    if spectra is None:
        if len(centers) != len(widths):
            raise ValueError(f"centers and widths must have the same length, got "
                             f"{len(centers)} and {len(widths)}")
        cs = [length(c, name="wavelength") for c in centers]
        ws = [length(w, name="wavelength") for w in widths]
        S = np.stack([np.exp(-0.5 * ((lams - c) / w) ** 2) for c, w in zip(cs, ws)])
    else:
        S = np.asarray(spectra, dtype=np.float64)
        if S.ndim == 1:
            S = S[None]
        if S.ndim != 2 or S.shape[1] != len(lams):
            raise ValueError(f"spectra must have shape (channels, {len(lams)}) to match "
                             f"wavelengths, got {S.shape}")
        for i, s in enumerate(S):
            _weights(s, len(lams), f"spectra[{i}]")
    stack = _mono_stack(lams, f_number, na, pixel_pitch, size, zernike, zernike_wavelength,
                        np.ones(len(lams)), kwargs)
    out = np.tensordot(S / S.sum(axis=1, keepdims=True), stack, axes=1)
    return (out / out.sum(axis=(-2, -1), keepdims=True)).astype(dtype)
