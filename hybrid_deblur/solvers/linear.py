"""Closed-form (linear) deconvolution: the Wiener filter and Tikhonov regularisation.

Both are quadratic problems whose data step is the operator's
(:meth:`~hybrid_deblur.physics.Blur.wiener`, :meth:`~hybrid_deblur.physics.Blur.solve_normal`).

Both solve the honest model by default: ``boundary="auto"`` is the ``valid`` problem (the
photo is the valid part of a larger scene) solved exactly by preconditioned conjugate
gradients, started from the observation. That removes the boundary model error a padded
FFT filter leaves, which on long motion kernels is worse than not deblurring at all
(noharm matrix: the padded Wiener filter lost up to 7 dB against the input; the exact solve
never loses). ``wiener(boundary="extend")`` keeps the fast approximate filter (seam-free
periodic extension, one FFT division). For both, ``boundary="reflect" | "replicate" |
"zero"`` means "the data were blurred with ``Blur(k, b)``" and is solved exactly.

Examples
--------
>>> import numpy as np
>>> from hybrid_deblur.physics import Blur
>>> from hybrid_deblur.solvers import wiener, tikhonov
>>> rng = np.random.default_rng(0)
>>> x = rng.random((64, 64))
>>> k = np.ones((5, 5)) / 25
>>> y = Blur(k, "circular")(x)
>>> wiener(y, k, nsr=1e-4, boundary="circular").shape
(64, 64)
>>> xt, info = tikhonov(y + 0.01 * rng.standard_normal(y.shape), k, return_info=True)
>>> info["lam"] > 0
True
"""

from __future__ import annotations

from typing import Any

import numpy as np

from .. import backend as B
from ..physics import geometry as G
from ..physics.blur import Blur
from ..physics.datastep import default_tol, frequency_power, lead_column
from . import progress as P
from . import validate as V
from .auto import auto_parameters, check_sigma, identity_result, is_identity_kernel
from .image_model import fit_spectrum, rfft_weights

__all__ = ["regularizer_power", "tikhonov", "wiener"]

_REGS = ("identity", "laplacian", "gradient")
_PADDED = ("reflect", "replicate", "zero")
_WIENER_BOUNDARIES = V.SOLVER_BOUNDARIES + ("extend",)
#: relative residual of the automatic Wiener's CG solves: an image does not change below it
#: (demo: < 0.01 dB and < 1e-4 SSIM from the 1e-9 solution) and it halves the iterations. A
#: given nsr and Tikhonov keep the dtype's tolerance (the exact minimiser is promised)
CG_TOL = 1e-6


def regularizer_power(reg: str, grid, like: Any, *, ndim: int | None = None):
    """``|R(f)|^2`` of a regulariser on the rfft grid (see
    :func:`hybrid_deblur.physics.datastep.frequency_power`).

    Examples
    --------
    >>> import numpy as np
    >>> from hybrid_deblur.solvers import regularizer_power
    >>> regularizer_power("identity", (8, 8), np.zeros(1))
    1.0
    """
    V.check_choice("reg", reg, _REGS)
    return frequency_power(reg, grid, like)


def _setup(y, psf, boundary, ndim):
    V.check_choice("boundary", boundary, _WIENER_BOUNDARIES)
    y, psf, op = V.prepare(y, psf, ndim=ndim)
    n = G.spatial(y, ndim)
    if boundary == "circular":
        return y, psf, op, G.circular_geometry(n), y
    geom = G.padded_geometry(n, op.ksize, "auto" if boundary == "extend" else boundary)
    return y, psf, op, geom, G.pad_observation(y, geom, op, mode="reflect")


def _observed_frame(x, ksize, y, ndim):
    """The part of a ``valid`` scene estimate that ``y`` observes (``boundary="auto"``)."""
    off = tuple(k - 1 - k // 2 for k in ksize)
    return x[G.region(off, G.spatial(y, ndim))]


def _rms(v) -> float:
    return float(np.sqrt(np.mean(np.asarray(v, dtype=np.float64) ** 2)))


def wiener(y: Any, psf: Any, *, nsr: Any = None, reg: str = "identity", noise_power: Any = None,
           signal_power: Any = None, boundary: str = "auto", sigma: Any = None, ndim: int = 2,
           return_info: bool = False, progress: bool = False):
    """Wiener deconvolution (linear MMSE filter), ring-free by default.

    Parameters
    ----------
    y : array, shape (..., H, W)
        Blurred, noisy image (NumPy, CuPy or torch; float32/float64 kept).
    psf : array
        Blur kernel, centre at ``k // 2`` (one per channel allowed).
    nsr : float or array, optional
        Noise-to-signal ratio ("balance"), >= 0. ``None``: automatic (see Notes). An array
        (a spectrum) must broadcast to the rfft grid of the FFT filter (``circular`` or
        ``extend``).
    reg : {"identity", "laplacian", "gradient"}
        Regulariser whose power multiplies ``nsr`` (``"laplacian"`` = scikit-image's default).
    noise_power, signal_power : float or array, optional
        MATLAB ``deconvwnr`` style: ``nsr = noise_power / signal_power``. Both or neither.
    boundary : {"auto", "valid", "extend", "circular", "reflect", "replicate", "zero"}
        ``"auto"``: the honest ``valid`` model (the photo is the valid part of a larger
        scene) solved exactly by preconditioned conjugate gradients, the observed frame
        returned; ``"valid"``: the same, the whole scene returned (larger by ``k - 1``).
        ``"extend"``: the fast approximate filter: seam-free periodic extension of ``y``,
        one FFT division, crop (it leaves boundary artefacts that ruin long motion blurs:
        -3 to -7 dB against the input on the noharm matrix). ``"circular"``: periodic model
        (exact, one FFT division). ``"reflect"``/``"replicate"``/``"zero"``: the
        ``Blur(k, b)`` model solved exactly.
    sigma : float or array, optional
        Noise standard deviation (per channel) for the automatic NSR; estimated (and
        floored, :func:`~hybrid_deblur.solvers.auto_parameters`) when None.
    ndim : int
        Number of spatial axes (2, or 3 for (z, y, x) stacks).
    return_info : bool
        Also return a dict (NSR rule, sigma, boundary, grid, timing).
    progress : bool
        Accepted for a uniform interface (a closed-form solve has no iterations).

    Returns
    -------
    x : array (and ``info``), never clipped.

    Notes
    -----
    :math:`\\hat X = \\overline{H} Y / (|H|^2 + \\mathrm{nsr}\\,|R|^2)`; for ``circular`` this equals
    ``skimage.restoration.wiener(y, psf, balance=nsr, reg=R, is_real=True, clip=False)``.
    Automatic NSR: natural images have a power spectrum close to
    :math:`S(f) = A / (|D(f)|^2 + \\epsilon)`; :math:`A` is fitted (median) to
    :math:`(|Y|^2 - N\\sigma^2)(|D|^2+\\epsilon)/|H|^2` where the blur passes at least a
    quarter of the power, and :math:`\\mathrm{NSR}(f) = N\\sigma^2 / S(f)` is used. With a
    centred delta PSF and automatic parameters the input is returned unchanged (nothing to
    deconvolve; no harm). Denominators are floored: ``nsr=0`` never gives NaN.

    Examples
    --------
    >>> import numpy as np
    >>> from hybrid_deblur.solvers import wiener
    >>> y = np.random.default_rng(0).random((48, 48))
    >>> wiener(y, np.ones((3, 3)) / 9, nsr=0.01, boundary="circular").dtype
    dtype('float64')
    """
    t = P.Timer()
    V.check_choice("reg", reg, _REGS)
    check_sigma(sigma)
    if (noise_power is None) != (signal_power is None):
        raise ValueError("noise_power and signal_power must be given together (MATLAB deconvwnr "
                         f"style); got noise_power={noise_power!r}, signal_power="
                         f"{'<array>' if signal_power is not None else None}")
    if nsr is not None and noise_power is not None:
        raise ValueError("give either nsr or noise_power/signal_power, not both")
    if nsr is not None and np.ndim(nsr) == 0 and not B.is_torch(nsr):
        V.check_positive("nsr", nsr, allow_zero=True)
    if noise_power is not None:
        V.check_positive("noise_power", noise_power, allow_zero=True) if np.ndim(
            noise_power) == 0 else None
        if np.ndim(signal_power) == 0:
            V.check_positive("signal_power", signal_power)
    y, psf, op, geom, ye = _setup(y, psf, boundary, ndim)
    info: dict = {"boundary": boundary, "grid": list(geom.grid), "reg": reg}
    auto = nsr is None and noise_power is None
    if auto and is_identity_kernel(psf, ndim):
        info.update(nsr=0.0, identity_kernel=True, time=t())
        x = identity_result(y, psf, boundary, ndim)
        return (x, info) if return_info else x
    fast = boundary in ("circular", "extend")
    model = "valid" if boundary == "auto" else boundary

    def exact_solve(**kw):
        # automatic NSR: an approximate model anyway, CG_TOL is plenty; a given nsr is a
        # filter the user (or the tiler, tests/test_scale.py) expects to the dtype's precision
        tol = max(CG_TOL, default_tol(y.dtype)) if auto else None
        x = Blur(psf, model, ndim=ndim, normalize=False).solve_normal(y, tol=tol, **kw)
        return _observed_frame(x, op.ksize, y, ndim) if boundary == "auto" else x

    if not auto:
        if noise_power is not None:
            npow = noise_power if np.ndim(noise_power) == 0 else B.asarray_like(noise_power, ye)
            spow = signal_power if np.ndim(signal_power) == 0 else B.asarray_like(signal_power,
                                                                                 ye)
            nsr = npow / spow
            info["nsr"] = "noise_power/signal_power"
        else:
            info["nsr"] = float(nsr) if np.ndim(nsr) == 0 else "array"
        if not fast:
            if np.ndim(nsr) > 0 and np.ndim(nsr) >= ndim:
                raise ValueError(f"an array nsr (a spectrum) needs boundary 'circular' or "
                                 f"'extend' (an FFT filter); got boundary={boundary!r}")
            x = (exact_solve(mu=nsr) if reg == "identity"
                 else exact_solve(reg=reg, reg_weight=nsr, mu=0.0))
        else:
            x = op.wiener(ye, nsr, reg=reg)
    else:
        p = auto_parameters("wiener", y, sigma=sigma, ndim=ndim)
        sig = np.asarray(p["sigma"], dtype=np.float64)
        sig = np.maximum(sig, 1e-4)
        H2 = op.otf(geom.grid, like=ye)
        H2 = H2.real * H2.real + H2.imag * H2.imag
        w, eps, amp = fit_spectrum(B.rfftn(ye, axes=G.axes(ndim)), H2, geom.grid, sig, ndim)
        info.update(nsr="model", sigma=sig.tolist() if sig.ndim else float(sig),
                    sigma_source=p["sigma_source"],
                    signal_amplitude=amp.tolist() if np.ndim(amp) else float(amp))
        if not fast:
            x = exact_solve(reg="gradient", reg_weight=w, mu=w * eps)
        else:
            wv = lead_column(w, ye, ndim) if np.ndim(w) else float(w)
            x = op.wiener(ye, wv * (frequency_power("gradient", geom.grid, H2) + eps),
                          reg_power=1.0)
    if boundary == "extend":
        x = geom.crop(x)
    info["time"] = t()
    return (x, info) if return_info else x


# ----------------------------------------------------------------------------- Tikhonov
def _sum_spatial(v, ndim):
    dims = tuple(range(-ndim, 0))
    return B.to_numpy(v.sum(dim=dims) if B.is_torch(v) else v.sum(axis=dims))


def _golden(curve, lo: float, hi: float, n_grid: int = 17, n_refine: int = 12):
    """Per-channel argmin of ``curve(lam) -> values (channels,)`` over log(lam) in [lo, hi]."""
    lams = np.logspace(np.log10(lo), np.log10(hi), n_grid)
    vals = np.stack([np.atleast_1d(curve(float(v))) for v in lams])      # (grid, channels)
    best = []
    g = (np.sqrt(5) - 1) / 2
    for c in range(vals.shape[1]):
        i = int(np.nanargmin(vals[:, c]))
        a, b = np.log(lams[max(i - 1, 0)]), np.log(lams[min(i + 1, n_grid - 1)])
        for _ in range(n_refine):
            c1, c2 = b - g * (b - a), a + g * (b - a)
            if np.atleast_1d(curve(float(np.exp(c1))))[c] < np.atleast_1d(
                    curve(float(np.exp(c2))))[c]:
                b = c2
            else:
                a = c1
        best.append(float(np.exp((a + b) / 2)))
    return best


def _choose_lam(method, y, psf, op_model, reg, boundary, sig, ndim, lead):
    """Automatic lambda: ``"auto"`` (model-predicted MSE), ``"gcv"`` / ``"discrepancy"``."""
    if method == "auto":
        return auto_parameters("tikhonov", y, sigma=sig, ndim=ndim, psf=psf, reg=reg)["lam"]
    n = G.spatial(y, ndim)
    M = float(np.prod(n))
    circ = boundary == "circular"
    grid = tuple(n) if circ else (op_model.fft_shape(op_model.input_shape(n))
                                  if op_model.boundary == "valid" else tuple(n))
    H = op_model.otf(grid, like=y)
    H2 = H.real * H.real + H.imag * H.imag
    R2 = frequency_power(reg, grid, y)
    R2 = H2 * 0 + R2
    wts = rfft_weights(grid, H2)
    N = float(np.prod(grid))
    if circ:
        Y = B.rfftn(y, axes=G.axes(ndim))
        Y2 = Y.real * Y.real + Y.imag * Y.imag

    def residual2(lam):
        if circ:
            one = lam * R2 / (H2 + lam * R2)
            return _sum_spatial(wts * one * one * Y2, ndim) / N
        x = op_model.solve_normal(y, reg=reg, reg_weight=lam, tol=1e-4)
        d = op_model.A(x) - y
        return _sum_spatial(d * d, ndim)

    if method == "gcv":
        def curve(lam):
            tr = _sum_spatial(wts * (lam * R2 / (H2 + lam * R2)) + 0 * H2[..., :1, :1] * 0,
                              ndim) / N
            return (residual2(lam) / M) / np.maximum(tr, 1e-300) ** 2
    else:
        target = M * np.asarray(sig, dtype=np.float64) ** 2

        def curve(lam):
            return np.abs(residual2(lam) - target)
    best = _golden(curve, 1e-7, 10.0, n_grid=17 if circ else 9, n_refine=12 if circ else 6)
    arr = np.array(best).reshape(lead) if lead and len(best) > 1 else np.array(best[0])
    return arr.tolist() if arr.ndim else float(arr)


def tikhonov(y: Any, psf: Any, *, lam: Any = None, reg: str = "laplacian", boundary: str = "auto",
             method: str = "auto", sigma: Any = None, ndim: int = 2, return_info: bool = False,
             progress: bool = False):
    """Tikhonov-regularised least squares, solved exactly under the boundary model.

    Parameters
    ----------
    y : array, shape (..., H, W)
        Blurred, noisy image.
    psf : array
        Blur kernel.
    lam : float or array, optional
        Prior weight :math:`\\lambda \\ge 0` (one per channel allowed); ``None``: automatic.
    reg : {"laplacian", "gradient", "identity"}
        The regularisation operator :math:`R` (periodic on the solve grid).
    boundary : {"auto", "circular", "reflect", "replicate", "zero", "valid"}
        ``"auto"``: the ``valid`` problem solved exactly, the observed frame returned;
        ``"valid"``: the whole scene; ``"circular"``: one FFT division; padded modes: the
        ``Blur(k, b)`` model (conjugate gradients).
    method : {"auto", "gcv", "discrepancy"}
        Rule for the automatic lambda: ``"auto"`` = :func:`~hybrid_deblur.solvers.auto_parameters`
        (the :math:`\\lambda` minimising the MSE predicted by the 1/f^2 image model fitted to
        ``y``, :func:`~hybrid_deblur.solvers.image_model.tikhonov_risk_lam`); ``"gcv"`` and
        ``"discrepancy"`` use the residual on the observed pixels only (GCV's trace from the
        circular spectrum of the solve grid).
    sigma : float or array, optional
        Noise level (per channel); estimated and floored when None.
    ndim : int
        Spatial axes (2 or 3).
    return_info : bool
        Also return ``{"lam", "method", "boundary", ...}``.
    progress : bool
        Accepted for a uniform interface.

    Returns
    -------
    x : array (and ``info``)

    Notes
    -----
    :math:`\\hat x = \\arg\\min_x \\tfrac12\\|A x - y\\|^2 + \\tfrac\\lambda2 \\|R x\\|^2`, i.e.
    :math:`(A^TA + \\lambda R^TR)x = A^Ty` (:meth:`~hybrid_deblur.physics.Blur.solve_normal`).
    ``circular``: :math:`\\hat X = \\overline H Y / (|H|^2 + \\lambda |R|^2)`. A centred delta
    PSF with automatic parameters returns the input unchanged.

    Examples
    --------
    >>> import numpy as np
    >>> from hybrid_deblur.solvers import tikhonov
    >>> y = np.random.default_rng(0).random((40, 40))
    >>> x, info = tikhonov(y, np.ones((3, 3)) / 9, lam=1e-2, return_info=True)
    >>> info["lam"]
    0.01
    """
    t = P.Timer()
    V.check_choice("reg", reg, _REGS)
    V.check_choice("method", method, ("auto", "gcv", "discrepancy"))
    check_sigma(sigma)
    if lam is not None:
        if np.ndim(lam) == 0:
            V.check_positive("lam", lam, allow_zero=True)
        elif not np.all(np.isfinite(np.asarray(lam, dtype=np.float64))) or np.any(
                np.asarray(lam, dtype=np.float64) < 0):
            raise ValueError(f"lam must be finite and >= 0, got {lam!r}")
    V.check_choice("boundary", boundary, V.SOLVER_BOUNDARIES)
    y, psf, op = V.prepare(y, psf, ndim=ndim)
    info: dict = {"boundary": boundary, "reg": reg}
    lead = tuple(int(v) for v in y.shape[:-ndim])
    if lam is None and is_identity_kernel(psf, ndim):
        info.update(lam=0.0, method="identity_kernel", identity_kernel=True, time=t())
        x = identity_result(y, psf, boundary, ndim)
        return (x, info) if return_info else x
    model = "valid" if boundary == "auto" else boundary
    op_model = op if model == "circular" else Blur(psf, model, ndim=ndim, normalize=False)
    if lam is None:
        sig = auto_parameters("tikhonov", y, sigma=sigma, ndim=ndim)["sigma"]
        lam_v = _choose_lam(method, y, psf, op_model, reg, model, np.asarray(sig), ndim, lead)
        info.update(method=method, sigma=sig)
    else:
        lam_v = float(lam) if np.ndim(lam) == 0 else np.asarray(lam, dtype=np.float64).tolist()
        info["method"] = "given"
    info["lam"] = lam_v
    if model == "circular":
        x = op.wiener(y, lam_v if np.ndim(lam_v) == 0 else np.asarray(lam_v), reg=reg)
    else:
        x, sinfo = op_model.solve_normal(y, reg=reg, reg_weight=lam_v if np.ndim(lam_v) == 0
                                         else np.asarray(lam_v), return_info=True)
        info.update(cg_iterations=sinfo["iterations"], cg_residual=sinfo["residual"])
        if boundary == "auto":
            x = _observed_frame(x, op_model.ksize, y, ndim)
    info["time"] = t()
    return (x, info) if return_info else x
