"""Image and kernel quality metrics, including Levin et al.'s shift-tolerant protocol.

All functions accept NumPy, CuPy or torch arrays (copied to the host: metrics are
evaluation, not training losses) and return Python floats. Images are
``(H, W)`` or ``(C, H, W)`` (any leading axes for the PSNR/SSD family); the last
two axes are the spatial ones.

Examples
--------
>>> import numpy as np
>>> from hybrid_deblur import metrics
>>> ref = np.random.default_rng(0).random((64, 64))
>>> x = np.roll(ref, (2, -1), axis=(0, 1))          # the same image, shifted
>>> round(metrics.psnr(x, ref), 1) < 10
True
>>> value, shift = metrics.aligned_psnr(x, ref, border=8, return_shift=True)
>>> value, shift
(inf, (2.0, -1.0))
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np

from . import backend as B

__all__ = [
    "align",
    "aligned_psnr",
    "aligned_ssim",
    "error_ratio",
    "kernel_similarity",
    "psnr",
    "ssd_aligned",
    "ssim",
]


# ----------------------------------------------------------------------------- checks
def _image(x: Any, name: str, min_ndim: int = 2, max_ndim: int | None = None) -> np.ndarray:
    if x is None:
        raise TypeError(f"{name} must be an array, got None")
    a = np.asarray(B.as_float(B.to_numpy(x), name=name), dtype=np.float64)
    if a.ndim < min_ndim or (max_ndim is not None and a.ndim > max_ndim):
        acc = f"{min_ndim}..{max_ndim}" if max_ndim is not None else f">= {min_ndim}"
        raise ValueError(f"{name} must have {acc} dimensions ((H, W) or (C, H, W)); "
                         f"got shape {a.shape}")
    if a.size == 0:
        raise ValueError(f"{name} is empty: shape {a.shape}")
    B.check_finite(a, name=name)
    return a


def _pair(x: Any, ref: Any, max_ndim: int | None = None) -> tuple[np.ndarray, np.ndarray]:
    xa = _image(x, "x", max_ndim=max_ndim)
    ra = _image(ref, "ref", max_ndim=max_ndim)
    if xa.shape != ra.shape:
        raise ValueError(f"x and ref must have the same shape; got x {xa.shape} and ref {ra.shape}")
    return xa, ra


def _crop(a: np.ndarray, border: int, name: str = "border") -> np.ndarray:
    b = int(border)
    if b != border or b < 0:
        raise ValueError(f"{name} must be a non-negative integer, got {border!r}")
    h, w = a.shape[-2:]
    if 2 * b >= min(h, w):
        raise ValueError(f"{name}={b} leaves no pixels of a {h}x{w} image; accepted: 0 <= "
                         f"{name} < {min(h, w) // 2 + (min(h, w) % 2)}")
    return a[..., b:h - b, b:w - b] if b else a


def _check_range(data_range: float) -> float:
    dr = float(data_range)
    if not (dr > 0 and math.isfinite(dr)):
        raise ValueError(f"data_range must be a positive finite number, got {data_range!r}")
    return dr


def _psnr_from_mse(mse: float, data_range: float) -> float:
    return math.inf if mse == 0 else 10.0 * math.log10(data_range ** 2 / mse)


# ----------------------------------------------------------------------------- plain metrics
def psnr(x: Any, ref: Any, *, data_range: float = 1.0, border: int = 0) -> float:
    """Peak signal-to-noise ratio in dB.

    Parameters
    ----------
    x, ref : array, shape (..., H, W)
        Estimate and reference, same shape.
    data_range : float
        Peak value (1.0 for images on [0, 1]).
    border : int
        Pixels cropped from each side of the last two axes before comparing.

    Returns
    -------
    float
        ``inf`` when the images are identical.

    Notes
    -----
    :math:`\\mathrm{PSNR} = 10 \\log_{10}(R^2 / \\mathrm{MSE})` with
    :math:`\\mathrm{MSE} = \\frac{1}{N} \\sum (x - r)^2`; equal to
    ``skimage.metrics.peak_signal_noise_ratio(ref, x, data_range=R)``.

    Examples
    --------
    >>> import numpy as np
    >>> from hybrid_deblur.metrics import psnr
    >>> round(psnr(np.full((8, 8), 0.1), np.zeros((8, 8))), 6)
    20.0
    """
    dr = _check_range(data_range)
    xa, ra = _pair(x, ref)
    xa, ra = _crop(xa, border), _crop(ra, border)
    return _psnr_from_mse(float(np.mean((xa - ra) ** 2)), dr)


def ssim(x: Any, ref: Any, *, data_range: float = 1.0, border: int = 0, **kwargs) -> float:
    """Structural similarity (Wang et al. 2004) via scikit-image.

    Parameters
    ----------
    x, ref : array, shape (H, W) or (C, H, W)
        Estimate and reference; colour is channel first and averaged over channels.
    data_range : float
        Peak value.
    border : int
        Pixels cropped from each side before comparing.
    **kwargs
        Passed to :func:`skimage.metrics.structural_similarity` (for instance
        ``gaussian_weights=True, sigma=1.5, use_sample_covariance=False`` for the
        settings of Wang's MATLAB code). The default is scikit-image's: a 7x7
        uniform window.

    Returns
    -------
    float

    Examples
    --------
    >>> import numpy as np
    >>> from hybrid_deblur.metrics import ssim
    >>> x = np.random.default_rng(0).random((32, 32))
    >>> ssim(x, x)
    1.0
    """
    from skimage.metrics import structural_similarity

    dr = _check_range(data_range)
    xa, ra = _pair(x, ref, max_ndim=3)
    xa, ra = _crop(xa, border), _crop(ra, border)
    win = kwargs.get("win_size") or 7
    if min(xa.shape[-2:]) < win:
        raise ValueError(f"ssim needs images of at least {win}x{win} pixels after the border "
                         f"crop; got {xa.shape[-2:]} (lower border= or pass win_size=)")
    axis = 0 if xa.ndim == 3 else None
    return float(structural_similarity(xa, ra, data_range=dr, channel_axis=axis, **kwargs))


# ----------------------------------------------------------------------------- alignment
def _bilinear_window(ref: np.ndarray, b: int, ty: float, tx: float, h: int, w: int) -> np.ndarray:
    """``ref`` sampled at ``(i + b + ty, j + b + tx)`` for i < h, j < w (bilinear)."""
    iy, ix = math.floor(ty), math.floor(tx)
    fy, fx = ty - iy, tx - ix
    out = np.zeros(ref.shape[:-2] + (h, w))
    for dy, wy in ((0, 1.0 - fy), (1, fy)):
        for dx, wx in ((0, 1.0 - fx), (1, fx)):
            wgt = wy * wx
            if wgt == 0.0:
                continue
            y0, x0 = b + iy + dy, b + ix + dx
            out += wgt * ref[..., y0:y0 + h, x0:x0 + w]
    return out


def align(x: Any, ref: Any, *, max_shift: float = 5, border: int = 15, subpixel: bool = True,
          step: float = 0.25) -> tuple[np.ndarray, np.ndarray, tuple[float, float], float]:
    """Find the translation of ``ref`` that best matches ``x`` (Levin et al. 2009).

    Parameters
    ----------
    x : array, shape (..., H, W)
        Estimate (e.g. a deblurred image).
    ref : array, same shape
        Ground truth (the sharp image); this one is shifted and interpolated.
    max_shift : float
        Search range in pixels on each axis (±); must be <= ``border``.
    border : int
        Pixels cropped from each side of ``x`` before comparing; the shifted
        ``ref`` windows stay inside the image, so no boundary extension is used.
    subpixel : bool
        After the best integer shift, refine on a grid of spacing ``step`` within
        ±1 px of it with bilinear interpolation (Levin's ``comp_upto_shift`` uses
        0.25 px and bilinear ``interp2``). False: integer shifts only.
    step : float
        Sub-pixel grid spacing, in (0, 1].

    Returns
    -------
    x_crop : ndarray, shape (..., H - 2 border, W - 2 border)
    ref_aligned : ndarray, same shape
        ``ref`` translated by ``shift`` and cropped like ``x``.
    shift : tuple of float
        ``(dy, dx)`` such that ``x(p) ~ ref(p - shift)``: ``x = np.roll(ref, (2, -1))``
        gives ``(2.0, -1.0)``.
    ssd : float
        Sum of squared differences between ``x_crop`` and ``ref_aligned``.

    Notes
    -----
    Blind deconvolution recovers the image only up to a translation (shifting the
    kernel one way and the image the other gives the same blurred image), so the
    comparison minimises over it:

    .. math::

        \\mathrm{SSD} = \\min_{|t_y|, |t_x| \\le s} \\sum_{p \\in \\Omega_b}
        \\big(x(p) - r(p + t)\\big)^2,

    where :math:`\\Omega_b` is the image minus a border of ``b`` px and
    :math:`r(p + t)` is bilinearly interpolated. This is a pure shift: no intensity
    gain or offset is fitted, so a restoration with the wrong contrast is
    penalised (as in Levin's protocol). The search is coarse-to-fine (integer
    grid, then the fine grid around the best integer), which finds the same
    minimum as Levin's exhaustive 0.25-px search whenever the SSD surface is
    unimodal within ±1 px of its best integer shift.

    Examples
    --------
    >>> import numpy as np
    >>> from hybrid_deblur.metrics import align
    >>> ref = np.random.default_rng(1).random((40, 40))
    >>> xc, rc, shift, ssd = align(np.roll(ref, (-3, 1), axis=(0, 1)), ref, border=6)
    >>> shift, ssd, xc.shape
    ((-3.0, 1.0), 0.0, (28, 28))
    """
    xa, ra = _pair(x, ref)
    ms = float(max_shift)
    if not (ms >= 0 and math.isfinite(ms)):
        raise ValueError(f"max_shift must be a non-negative number, got {max_shift!r}")
    m = math.ceil(ms)
    if int(border) != border or border < m:
        raise ValueError(f"border must be an integer >= max_shift (the shifted reference must stay "
                         f"inside the image); got border={border!r}, max_shift={max_shift!r}")
    st = float(step)
    if not (0 < st <= 1):
        raise ValueError(f"step must be in (0, 1], got {step!r}")
    b = int(border)
    xc = _crop(xa, b)
    h, w = xc.shape[-2:]

    def ssd_at(ty: float, tx: float) -> tuple[float, np.ndarray]:
        win = _bilinear_window(ra, b, ty, tx, h, w)
        return float(np.sum((xc - win) ** 2)), win

    best = (math.inf, 0.0, 0.0)
    for ty in range(-m, m + 1):
        for tx in range(-m, m + 1):
            if abs(ty) <= ms and abs(tx) <= ms:
                d = float(np.sum((xc - ra[..., b + ty:b + ty + h, b + tx:b + tx + w]) ** 2))
                if d < best[0]:
                    best = (d, float(ty), float(tx))
    if subpixel and st < 1:
        n = round(1.0 / st)
        _, cy, cx = best
        for ky in range(-n, n + 1):
            for kx in range(-n, n + 1):
                ty, tx = cy + ky * st, cx + kx * st
                if (ky == 0 and kx == 0) or abs(ty) > ms or abs(tx) > ms:
                    continue
                d, _ = ssd_at(ty, tx)
                if d < best[0]:
                    best = (d, ty, tx)
    d, ty, tx = best
    _, win = ssd_at(ty, tx)
    return xc, win, (-ty + 0.0, -tx + 0.0), d


def ssd_aligned(x: Any, ref: Any, *, max_shift: float = 5, border: int = 15,
                subpixel: bool = True, return_shift: bool = False):
    """Sum of squared differences after :func:`align` (Levin's ``comp_upto_shift``).

    Returns the SSD (on the scale of the data, [0, 1] images for Levin's numbers),
    or ``(ssd, shift)`` with ``return_shift=True``.

    Examples
    --------
    >>> import numpy as np
    >>> from hybrid_deblur.metrics import ssd_aligned
    >>> ref = np.random.default_rng(2).random((48, 48))
    >>> round(ssd_aligned(np.roll(ref, 1, axis=1) + 0.01, ref, border=10), 9)  # 28*28*0.01**2
    0.0784
    """
    _, _, shift, d = align(x, ref, max_shift=max_shift, border=border, subpixel=subpixel)
    return (d, shift) if return_shift else d


def aligned_psnr(x: Any, ref: Any, *, max_shift: float = 5, border: int = 15,
                 subpixel: bool = True, data_range: float = 1.0, return_shift: bool = False):
    """PSNR after the best shift within ±``max_shift`` and a ``border`` crop (DESIGN §7).

    Parameters
    ----------
    x, ref : array, shape (..., H, W)
        Estimate and ground truth, same shape.
    max_shift, border, subpixel
        See :func:`align`.
    data_range : float
        Peak value.
    return_shift : bool
        Also return the ``(dy, dx)`` shift found.

    Returns
    -------
    float or (float, tuple)

    Examples
    --------
    >>> import numpy as np
    >>> from hybrid_deblur.metrics import aligned_psnr, psnr
    >>> ref = np.random.default_rng(3).random((64, 64))
    >>> x = np.roll(ref, 3, axis=0) + 0.01
    >>> round(aligned_psnr(x, ref), 6), psnr(x, ref) < 10
    (40.0, True)
    """
    dr = _check_range(data_range)
    xc, _, shift, d = align(x, ref, max_shift=max_shift, border=border, subpixel=subpixel)
    value = _psnr_from_mse(d / xc.size, dr)
    return (value, shift) if return_shift else value


def aligned_ssim(x: Any, ref: Any, *, max_shift: float = 5, border: int = 15,
                 subpixel: bool = True, data_range: float = 1.0, return_shift: bool = False,
                 **kwargs):
    """SSIM at the shift that minimises the SSD (:func:`align`), on the cropped region.

    ``x`` and ``ref`` are ``(H, W)`` or ``(C, H, W)``; ``**kwargs`` go to :func:`ssim`.

    Examples
    --------
    >>> import numpy as np
    >>> from hybrid_deblur.metrics import aligned_ssim
    >>> ref = np.random.default_rng(4).random((64, 64))
    >>> aligned_ssim(np.roll(ref, -2, axis=1), ref)
    1.0
    """
    _pair(x, ref, max_ndim=3)
    xc, rc, shift, _ = align(x, ref, max_shift=max_shift, border=border, subpixel=subpixel)
    value = ssim(xc, rc, data_range=data_range, **kwargs)
    return (value, shift) if return_shift else value


def error_ratio(x_est: Any, x_true_kernel: Any, ref: Any, *, max_shift: float = 5,
                border: int = 15, subpixel: bool = True, ssd_true: float | None = None) -> float:
    """Levin's error ratio: SSD with the estimated kernel / SSD with the true kernel.

    Parameters
    ----------
    x_est : array
        Restoration obtained with the *estimated* kernel.
    x_true_kernel : array or None
        Restoration of the same blurred image, same solver, with the *true* kernel.
        May be None when ``ssd_true`` is given.
    ref : array
        The sharp ground truth.
    max_shift, border, subpixel
        The alignment protocol of :func:`align` (Levin: 5, 15, 0.25 px).
    ssd_true : float, optional
        A precomputed denominator, e.g. Levin's own true-kernel SSDs from
        ``levin2009/manifest.json`` (``mat.ssd_error_true_kernel``, [0, 1] scale).

    Returns
    -------
    float
        1.0 means as good as knowing the kernel; Levin counts ratios <= 2 (or 3)
        as successes. ``inf`` when only the denominator is zero.

    Notes
    -----
    :math:`\\rho = \\mathrm{SSD}(x_{est}, r) / \\mathrm{SSD}(x_{true}, r)`, both SSDs
    computed by :func:`ssd_aligned` with its own best shift.

    Examples
    --------
    >>> import numpy as np
    >>> from hybrid_deblur.metrics import error_ratio
    >>> rng = np.random.default_rng(5)
    >>> ref = rng.random((64, 64))
    >>> a = ref + 0.01 * rng.standard_normal(ref.shape)
    >>> error_ratio(a, a, ref)
    1.0
    """
    num = ssd_aligned(x_est, ref, max_shift=max_shift, border=border, subpixel=subpixel)
    if ssd_true is not None:
        den = float(ssd_true)
        if not (den >= 0 and math.isfinite(den)):
            raise ValueError(f"ssd_true must be a non-negative finite number, got {ssd_true!r}")
    elif x_true_kernel is None:
        raise TypeError("x_true_kernel is None: pass the true-kernel restoration or ssd_true=")
    else:
        _pair(x_true_kernel, ref)
        den = ssd_aligned(x_true_kernel, ref, max_shift=max_shift, border=border,
                          subpixel=subpixel)
    if den == 0:
        return 1.0 if num == 0 else math.inf
    return num / den


# ----------------------------------------------------------------------------- kernels
def kernel_similarity(k1: Any, k2: Any) -> float:
    """Maximum normalised cross-correlation of two kernels over all shifts.

    Parameters
    ----------
    k1, k2 : array
        Kernels with the same number of dimensions; their sizes may differ.

    Returns
    -------
    float
        In [0, 1] for non-negative kernels; 1 when one kernel is a translate of the
        other (within the support), independent of their scale.

    Notes
    -----
    .. math::

        S(k_1, k_2) = \\max_t \\frac{\\sum_p k_1(p)\\, k_2(p - t)}{\\|k_1\\|_2 \\|k_2\\|_2}

    (Hu & Yang's kernel similarity). The full linear cross-correlation is computed
    with FFTs on a grid of size ``n1 + n2 - 1``; the value is capped at 1 to hide
    round-off.

    Examples
    --------
    >>> import numpy as np
    >>> from hybrid_deblur.metrics import kernel_similarity
    >>> k = np.zeros((9, 9)); k[4, 2:7] = 0.2
    >>> round(kernel_similarity(k, np.roll(k, 2, axis=0)), 12)
    1.0
    >>> kernel_similarity(k, k.T) < 0.5
    True
    """
    a = _image(k1, "k1", min_ndim=1)
    b = _image(k2, "k2", min_ndim=1)
    if a.ndim != b.ndim:
        raise ValueError(f"k1 and k2 must have the same number of dimensions; got shapes "
                         f"{a.shape} and {b.shape}")
    na, nb = float(np.sqrt(np.sum(a * a))), float(np.sqrt(np.sum(b * b)))
    for name, n, k in (("k1", na, a), ("k2", nb, b)):
        if n == 0:
            raise ValueError(f"{name} is all zeros (shape {k.shape}); a kernel needs non-zero energy")
    s = tuple(p + q - 1 for p, q in zip(a.shape, b.shape))
    axes = tuple(range(a.ndim))
    flipped = np.ascontiguousarray(b[(slice(None, None, -1),) * b.ndim])
    corr = B.irfftn(B.rfftn(a, s=s, axes=axes) * B.rfftn(flipped, s=s, axes=axes), s=s, axes=axes)
    return float(min(np.max(corr) / (na * nb), 1.0))
