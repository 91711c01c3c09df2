"""Closed-form (linear) deconvolution: the Wiener filter and Tikhonov regularisation.

Both are one multiplication in the Fourier domain, so they are exact for the
``circular`` model. For real photos (``boundary="auto"``, the default) the
observation is first extended onto a larger periodic grid (reflection, then an
edge taper that blends the outer margin into its own circular blur, the idea of
MATLAB's ``edgetaper``), solved there, and cropped back: the periodic seam lies
in the margin and is consistent with the blur model, so nothing rings inside the
frame.

Examples
--------
>>> import numpy as np
>>> from hybrid_deblur.physics import Blur
>>> from hybrid_deblur.solvers import wiener, tikhonov
>>> rng = np.random.default_rng(0)
>>> x = rng.random((64, 64))
>>> k = np.ones((5, 5)) / 25
>>> y = Blur(k, "circular")(x)
>>> xr = wiener(y, k, nsr=1e-4, boundary="circular")
>>> xr.shape
(64, 64)
>>> xt, info = tikhonov(y + 0.01 * rng.standard_normal(y.shape), k, return_info=True)
>>> info["lam"] > 0
True
"""

from __future__ import annotations

from typing import Any

import numpy as np

from .. import backend as B
from . import _common as C
from .noise_level import estimate_noise

__all__ = ["regularizer_power", "tikhonov", "wiener"]

_REGS = ("identity", "laplacian", "gradient")


def regularizer_power(reg: str, grid, like: Any, *, ndim: int | None = None):
    """``|R(f)|^2`` of a regulariser on the rfft grid (NumPy/CuPy/torch like ``like``).

    ``"identity"``: 1. ``"laplacian"``: the OTF of the discrete Laplacian
    (``2 ndim`` at the centre, ``-1`` at the ``2 ndim`` neighbours), squared
    (scikit-image's default ``reg``). ``"gradient"``: :math:`\\sum_i |D_i|^2` of
    the forward differences.
    """
    C.check_choice("reg", reg, _REGS)
    grid = tuple(int(v) for v in grid)
    if reg == "identity":
        return 1.0
    # closed forms: both operators are symmetric, their OTFs are real
    d2 = None
    for v in C.frequency_grid(grid, like):
        d2 = v if d2 is None else d2 + v            # sum_i (2 - 2 cos w_i) = sum_i |D_i|^2
    if reg == "laplacian":
        return d2 * d2                              # L = sum_i (2 - 2 cos w_i)
    return d2


def _rfft_weights(grid, like):
    """Multiplicity of each rfft coefficient in the full spectrum (1 or 2)."""
    n = int(grid[-1])
    w = np.full(n // 2 + 1, 2.0)
    w[0] = 1.0
    if n % 2 == 0:
        w[-1] = 1.0
    return B.asarray_like(w, like)


def _setup(y, psf, boundary, ndim, taper=True):
    y, psf, op = C.prepare(y, psf, ndim=ndim)
    C.check_choice("boundary", boundary, C.SOLVER_BOUNDARIES)
    n = C.spatial(y, ndim)
    if boundary == "circular":
        geom = C.circular_geometry(n)
        ye = y
    else:
        geom = C.padded_geometry(n, op.ksize, boundary)
        mode = boundary if boundary in ("replicate", "zero") else "reflect"
        ye = C.pad_observation(y, geom, op, mode=mode, taper=taper)
    return y, op, geom, ye


def _lead_col(v, like, ndim):
    """A per-channel value (float or array of the leading shape) shaped to broadcast."""
    if np.ndim(v) == 0:
        return float(v)
    a = np.asarray(v, dtype=np.float64)
    return B.asarray_like(a.reshape(a.shape + (1,) * ndim), like, dtype=like.real.dtype)


def _channel_reduce_median(v, ndim):
    lead = tuple(int(s) for s in v.shape[:-ndim])
    flat = B.to_numpy(v).reshape(lead + (-1,))
    return np.median(flat, axis=-1)


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
        Noise-to-signal ratio ("balance"). ``None``: estimated (see Notes).
        An array must broadcast to the rfft grid of the solve.
    reg : {"identity", "laplacian", "gradient"}
        Regulariser whose power multiplies ``nsr`` (``"laplacian"`` reproduces
        scikit-image's default). Ignored when ``nsr`` is ``None``.
    noise_power, signal_power : float or array, optional
        MATLAB ``deconvwnr`` style: the noise power (variance) and the signal power
        (scalar variance, or a power spectrum on the rfft grid); ``nsr`` is then
        their ratio. Give both or neither.
    boundary : {"auto", "circular", "reflect", "replicate", "zero", "valid"}
        ``"auto"`` (default): reflect-extend + edge taper, solve periodically,
        crop (no border ringing on real photos). ``"circular"``: exact periodic
        model. ``"reflect"``/``"replicate"``/``"zero"``: the same, extending with
        that mode. ``"valid"``: ``y`` is the valid part of a larger scene; the
        returned estimate is the whole scene (larger by ``k - 1``).
    sigma : float or array, optional
        Noise standard deviation (per channel); estimated by :func:`estimate_noise` if None
        (estimates below ``WIENER_NOISE_FLOOR`` = 0.01 are raised to it: model error on real
        photos, which a linear filter cannot suppress adaptively).
    ndim : int
        Number of spatial axes (2, or 3 for (z, y, x) stacks).
    return_info : bool
        Also return a dict with the NSR used, sigma, boundary, grid and timing.
    progress : bool
        Accepted for a uniform interface (a closed-form solve has no iterations).

    Returns
    -------
    x : array
        Restored image (same library and dtype as ``y``); never clipped.
    info : dict, only with ``return_info=True``

    Notes
    -----
    With the OTF :math:`H`, the regulariser power :math:`|R|^2` and
    :math:`Y = \\mathcal F y` on the grid,

    .. math:: \\hat X = \\frac{\\overline{H}\\, Y}{|H|^2 + \\mathrm{nsr}\\, |R|^2}.

    For ``boundary="circular"`` this equals
    ``skimage.restoration.wiener(y, psf, balance=nsr, reg=R, is_real=True, clip=False)``.
    Automatic NSR (``nsr=None``): natural images have a power spectrum close to
    :math:`S(f) = A / (|D(f)|^2 + \\epsilon)` (:math:`1/f^2`). :math:`A` is fitted
    robustly (median) to :math:`(|Y|^2 - N\\sigma^2)(|D|^2+\\epsilon)/|H|^2` over
    the frequencies where the blur passes at least a quarter of the power, and the
    frequency-dependent ratio :math:`N\\sigma^2/S(f)` is used (:math:`N` = number
    of grid pixels).

    Examples
    --------
    >>> import numpy as np
    >>> from hybrid_deblur.solvers import wiener
    >>> y = np.random.default_rng(0).random((48, 48))
    >>> wiener(y, np.ones((3, 3)) / 9, nsr=0.01, boundary="circular").dtype
    dtype('float64')
    """
    t = C.Timer()
    C.check_choice("reg", reg, _REGS)
    if (noise_power is None) != (signal_power is None):
        raise ValueError(
            "noise_power and signal_power must be given together (MATLAB deconvwnr style); "
            f"got noise_power={noise_power!r}, signal_power={'<array>' if signal_power is not None else None}"
        )
    if nsr is not None and noise_power is not None:
        raise ValueError("give either nsr or noise_power/signal_power, not both")
    if nsr is not None and np.ndim(nsr) == 0:
        C.check_positive("nsr", nsr, allow_zero=True)
    y, op, geom, ye = _setup(y, psf, boundary, ndim)
    nd = ndim
    ax = C.axes(nd)
    H = op.otf(geom.grid, like=ye)
    Y = B.rfftn(ye, axes=ax)
    info: dict = {"boundary": boundary, "grid": list(geom.grid), "reg": reg}
    if nsr is not None and np.ndim(nsr) == 0 and isinstance(Y, np.ndarray) \
            and Y.shape == np.broadcast_shapes(Y.shape, H.shape):
        # the filter conj(H) / (|H|^2 + nsr |R|^2) is kept with the (cached) operator
        cache = C.op_cache(op)
        key = ("wiener", geom.grid, float(nsr), reg, str(H.dtype))
        G = cache.get(key)
        if G is None:
            G = H.conj()
            G /= C.abs2(H) + float(nsr) * regularizer_power(reg, geom.grid, ye)
            C.cache_put(cache, key, G)
        Y *= G
        x = B.irfftn(Y, s=geom.grid, axes=ax)
        x = geom.crop(x) if boundary != "circular" else x
        info.update(nsr=float(nsr), time=t())
        return (x, info) if return_info else x
    H2 = C.abs2(H)
    if noise_power is not None:
        npow = noise_power if np.ndim(noise_power) == 0 else B.asarray_like(noise_power, H2)
        spow = signal_power if np.ndim(signal_power) == 0 else B.asarray_like(signal_power, H2)
        if np.ndim(spow) == 0 and float(spow) <= 0:
            raise ValueError(f"signal_power must be > 0, got {signal_power!r}")
        denom = H2 + (npow / spow) * regularizer_power(reg, geom.grid, ye)
        info["nsr"] = "noise_power/signal_power"
    elif nsr is not None:
        nsr_v = nsr if np.ndim(nsr) == 0 else B.asarray_like(nsr, H2)
        R2 = regularizer_power(reg, geom.grid, ye)
        if isinstance(H2, np.ndarray) and np.ndim(nsr_v) == 0:
            denom = H2
            denom += (float(nsr_v) * R2) if np.ndim(R2) else float(nsr_v) * float(R2)
        else:
            denom = H2 + nsr_v * R2
        info["nsr"] = float(nsr) if np.ndim(nsr) == 0 else "array"
    else:
        if sigma is None:
            sigma = np.maximum(estimate_noise(y, ndim=nd), C.WIENER_NOISE_FLOOR)
        sig = np.asarray(sigma, dtype=np.float64)
        if np.any(~np.isfinite(sig)) or np.any(sig < 0):
            raise ValueError(f"sigma must be finite and >= 0, got {sigma!r}")
        sig = np.maximum(sig, 1e-4)
        N = float(np.prod(geom.grid))
        D2 = regularizer_power("gradient", geom.grid, ye)
        eps = (2 * np.pi / max(geom.grid)) ** 2
        Y2 = C.abs2(Y)
        noise = N * _lead_col(sig ** 2, Y2, nd) if np.ndim(sig) else N * float(sig) ** 2
        ratio = (Y2 - noise) * (D2 + eps) / C.maximum(B.namespace(H2), H2, 1e-12)
        xp = B.namespace(ratio)
        sel = (H2 > 0.25) & (D2 > 0)
        ratio = xp.where(sel & (ratio > 0), ratio, xp.zeros_like(ratio) + float("nan"))
        r_np = B.to_numpy(ratio)
        lead = r_np.shape[:-nd]
        A = np.nanmedian(r_np.reshape(lead + (-1,)), axis=-1)
        A = np.where(np.isfinite(A) & (A > 0), A, N * 1.0)
        nsr_f = noise / _lead_col(A, Y2, nd) if np.ndim(A) else noise / float(A)
        denom = H2 + nsr_f * (D2 + eps)
        info.update(nsr="model", sigma=sig.tolist() if sig.ndim else float(sig),
                    signal_amplitude=A.tolist() if np.ndim(A) else float(A))
    X = _apply_filter(Y, H, denom)
    x = B.irfftn(X, s=geom.grid, axes=ax)
    x = geom.crop(x) if boundary != "circular" else x
    info["time"] = t()
    return (x, info) if return_info else x


def _apply_filter(Y, H, denom):
    """``Y * conj(H) / denom`` (in place for NumPy)."""
    if isinstance(Y, np.ndarray) and isinstance(H, np.ndarray) and Y.shape == np.broadcast_shapes(
            Y.shape, H.shape):
        np.multiply(Y, H.conj(), out=Y)
        if isinstance(denom, np.ndarray) and denom.shape == np.broadcast_shapes(denom.shape,
                                                                                Y.shape):
            np.divide(Y, denom, out=Y)
            return Y
        Y /= denom
        return Y
    return Y * H.conj() / denom


def _sum_spatial(v, ndim):
    dims = tuple(range(-ndim, 0))
    return B.to_numpy(v.sum(dim=dims) if B.is_torch(v) else v.sum(axis=dims))


def _gcv_curve(H2, R2, Y2, w, lams, ndim):
    """GCV function for every lambda (rows) and channel (columns)."""
    out = []
    for lam in lams:
        one = lam * R2 / (H2 + lam * R2)
        num = _sum_spatial(w * one * one * Y2, ndim)
        tr = _sum_spatial(w * one + 0 * Y2, ndim)
        out.append(num / np.maximum(tr, 1e-300) ** 2)
    return np.array(out)


def _residual_curve(H2, R2, Y2, w, lams, ndim):
    out = []
    for lam in lams:
        one = lam * R2 / (H2 + lam * R2)
        out.append(_sum_spatial(w * one * one * Y2, ndim))
    return np.array(out)


def _minimise_log(curve, lams):
    """Per-channel argmin of ``curve`` over ``log(lams)`` (grid, then golden section)."""
    vals = curve(lams).reshape(len(lams), -1)
    best = []
    g = (np.sqrt(5) - 1) / 2
    for c in range(vals.shape[1]):
        i = int(np.argmin(vals[:, c]))
        a, b = np.log(lams[max(i - 1, 0)]), np.log(lams[min(i + 1, len(lams) - 1)])
        for _ in range(20):
            c1, c2 = b - g * (b - a), a + g * (b - a)
            f1 = curve([np.exp(c1)]).reshape(-1)[c]
            f2 = curve([np.exp(c2)]).reshape(-1)[c]
            if f1 < f2:
                b = c2
            else:
                a = c1
        best.append(float(np.exp((a + b) / 2)))
    return best


def tikhonov(y: Any, psf: Any, *, lam: Any = None, reg: str = "laplacian", boundary: str = "auto",
             method: str = "gcv", sigma: Any = None, ndim: int = 2, return_info: bool = False,
             progress: bool = False):
    """Tikhonov-regularised least squares with automatic lambda (GCV or discrepancy).

    Parameters
    ----------
    y : array, shape (..., H, W)
        Blurred, noisy image.
    psf : array
        Blur kernel.
    lam : float, optional
        Regularisation weight; ``None`` selects it automatically per channel.
    reg : {"laplacian", "gradient", "identity"}
        The regularisation operator :math:`R`.
    boundary : {"auto", "circular", "reflect", "replicate", "zero", "valid"}
        As in :func:`wiener` (``"auto"``: reflect + taper padding, crop).
    method : {"gcv", "discrepancy"}
        Rule for the automatic lambda.
    sigma : float, optional
        Noise level for the discrepancy principle (estimated if None).
    ndim : int
        Spatial axes (2 or 3).
    return_info : bool
        Also return ``{"lam": ..., "method": ..., ...}``. The chosen lambda is always
        stored in ``tikhonov.last_info`` too.
    progress : bool
        Accepted for a uniform interface.

    Returns
    -------
    x : array (and ``info`` with ``return_info=True``)

    Notes
    -----
    :math:`\\hat x = \\arg\\min_x \\|k * x - y\\|^2 + \\lambda \\|R x\\|^2`, solved
    on the periodic grid as :math:`\\hat X = \\overline H Y / (|H|^2 + \\lambda |R|^2)`.
    With the filter factors :math:`\\varphi_f = |H_f|^2 / (|H_f|^2 + \\lambda |R_f|^2)`,
    GCV minimises :math:`\\sum_f |1-\\varphi_f|^2 |Y_f|^2 / (\\sum_f (1-\\varphi_f))^2`
    (closed form, every rfft coefficient counted with its multiplicity); the
    discrepancy principle solves :math:`\\|k * \\hat x - y\\|^2 = M \\sigma^2`
    (:math:`M` observed pixels). Both search :math:`\\log \\lambda` on a grid and
    refine by golden section. With an estimated noise level the GCV lambda is never
    taken below the discrepancy lambda of ``NOISE_FLOOR`` = 0.005 (real photos carry
    model error that GCV mistakes for signal; on Levin 2009 this is +2.7 dB).

    Examples
    --------
    >>> import numpy as np
    >>> from hybrid_deblur.solvers import tikhonov
    >>> y = np.random.default_rng(0).random((40, 40))
    >>> x, info = tikhonov(y, np.ones((3, 3)) / 9, lam=1e-2, return_info=True)
    >>> info["lam"]
    0.01
    """
    t = C.Timer()
    C.check_choice("reg", reg, _REGS)
    C.check_choice("method", method, ("gcv", "discrepancy"))
    if lam is not None:
        C.check_positive("lam", lam, allow_zero=True)
    y, op, geom, ye = _setup(y, psf, boundary, ndim)
    ax = C.axes(ndim)
    H = op.otf(geom.grid, like=ye)
    Y = B.rfftn(ye, axes=ax)
    H2 = C.abs2(H)
    R2 = regularizer_power(reg, geom.grid, ye)
    if np.ndim(R2) == 0:
        R2 = H2 * 0 + R2
    info: dict = {"boundary": boundary, "grid": list(geom.grid), "reg": reg}
    lead = tuple(int(v) for v in Y.shape[:-ndim])
    if lam is None:
        Y2 = C.abs2(Y)
        w = _rfft_weights(geom.grid, Y2)
        lams = np.logspace(-7, 1, 33)
        M = float(np.prod(C.spatial(y, ndim)))
        N = float(np.prod(geom.grid))

        def discrepancy(sig):
            target = N * M * np.asarray(sig, dtype=np.float64) ** 2

            def curve(ls):
                return np.abs(_residual_curve(H2, R2, Y2, w, ls, ndim) - target)
            return curve

        if method == "gcv":
            def curve(ls):
                return _gcv_curve(H2, R2, Y2, w, ls, ndim)
        else:
            if sigma is None:
                sigma = np.maximum(estimate_noise(y, ndim=ndim), C.NOISE_FLOOR)
            curve = discrepancy(sigma)
            info["sigma"] = np.asarray(sigma).tolist()
        best = _minimise_log(curve, lams)
        if method == "gcv" and sigma is None:
            # never below the discrepancy lambda of the noise floor (model error of real photos)
            floor = _minimise_log(discrepancy(C.NOISE_FLOOR), lams)
            info["lam_gcv"] = list(best) if len(best) > 1 else best[0]
            best = [max(a, b) for a, b in zip(best, floor)]
        lam_arr = np.array(best).reshape(lead) if lead else np.array(best[0])
        lam_v = _lead_col(lam_arr, H2, ndim) if lam_arr.ndim else float(lam_arr)
        info["lam"] = lam_arr.tolist() if lam_arr.ndim else float(lam_arr)
        info["method"] = method
    else:
        lam_v = float(lam)
        info["lam"] = float(lam)
        info["method"] = "given"
    X = _apply_filter(Y, H, H2 + lam_v * R2)
    x = B.irfftn(X, s=geom.grid, axes=ax)
    x = geom.crop(x) if boundary != "circular" else x
    info["time"] = t()
    tikhonov.last_info = info
    return (x, info) if return_info else x


tikhonov.last_info = {}
