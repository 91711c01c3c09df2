"""Parametric fits of a PSF: Gaussian, Airy or defocus disk, with FWHM and residual.

Examples
--------
>>> from hybrid_deblur.psf.model_fit import fit
>>> from hybrid_deblur.psf.shapes import gaussian
>>> r = fit(gaussian(2.0, size=31), "gaussian")
>>> bool(abs(r.fwhm - 2.3548 * 2.0) < 0.3)
True
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any

import numpy as np
from scipy.special import erfc, j1

from .. import backend as B
from .profiles import fwhm_1d

__all__ = ["PSFFit", "fit"]


@dataclass
class PSFFit:
    """Result of :func:`fit`: model parameters (pixels), FWHM, residual, fitted model.

    Examples
    --------
    >>> from hybrid_deblur.psf import gaussian
    >>> from hybrid_deblur.psf.model_fit import fit
    >>> r = fit(gaussian(1.5, size=21), "gaussian")
    >>> type(r).__name__, r.model, bool(abs(r.fwhm - 2.3548 * 1.5) < 0.2)
    ('PSFFit', 'gaussian', True)
    """

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
