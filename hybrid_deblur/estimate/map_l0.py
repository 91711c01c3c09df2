"""Coarse-to-fine MAP kernel estimation with an L0 gradient prior (optionally dark channel).

The alternation of Xu et al. (2013) / Pan et al. (2014, 2016): at each level of an
image pyramid (ratio :math:`1/\\sqrt{2}`) a sparse latent image is computed with
half-quadratic splitting under an :math:`L_0` gradient prior, then the kernel is
updated by least squares on gradients restricted to its support, thresholded,
cleaned of small connected components and normalised.

Examples
--------
>>> import numpy as np
>>> from hybrid_deblur.estimate.map_l0 import map_estimate
>>> rng = np.random.default_rng(0)
>>> y = rng.random((64, 64))
>>> k, info = map_estimate(y, (9, 9), inner_iterations=1)
>>> k.shape, bool(abs(k.sum() - 1) < 1e-9), bool((k >= 0).all())
((9, 9), True, True)
"""

from __future__ import annotations

import math

import numpy as np
from scipy import ndimage

from .. import backend as B
from ..physics.datastep import frequency_power
from ..physics.differences import divergence, gradient
from ..psf.otf import otf2psf, psf2otf
from . import _common as C

__all__ = ["estimate_psf_lsq", "l0_latent", "map_estimate", "pyramid_sizes", "refine_kernel"]


def _F(x):
    return B.rfftn(x, axes=(-2, -1))


def _Fi(X, shape):
    return B.irfftn(X, s=shape, axes=(-2, -1))


def _dx(x):
    return gradient(x)[1]


def _dy(x):
    return gradient(x)[0]


# ----------------------------------------------------------------------------- latent
def _dark_target(S: np.ndarray, lam: float, mu: float, patch: int) -> np.ndarray:
    """Pixel image whose dark channel is the hard-thresholded dark channel of ``S``.

    ``D(S)(p) = min_{q in N(p)} S(q)``; values with ``D^2 < lam / mu`` are set to 0
    and written back at the pixels where the minimum is attained (Pan et al. 2016).
    """
    J = ndimage.minimum_filter(S, size=patch, mode="nearest")
    small = np.where(J * J < lam / mu, J, -np.inf)
    # p is the minimiser of a patch N(q) iff J(q) >= S(p) for some q in N(p)
    u = S.copy()
    u[S <= ndimage.maximum_filter(small, size=patch, mode="nearest")] = 0.0
    return u


def l0_latent(yp: np.ndarray, K: np.ndarray, lam: float, *, kappa: float = 2.0,
              beta_max: float = 1e5, lam_dark: float = 0.0, dark_patch: int = 35,
              dtype=None) -> np.ndarray:
    """Latent image under an L0 gradient prior (half-quadratic splitting, circular).

    Parameters
    ----------
    yp : ndarray (M, N)
        Blurred image, already extended to a smooth periodic grid (:func:`_common.wrap_pad`).
    K : ndarray
        OTF of the kernel on that grid (rfft layout).
    lam : float
        Weight of :math:`\\|\\nabla x\\|_0`.
    kappa, beta_max : float
        Continuation factor and final penalty of the splitting.
    lam_dark : float
        Weight of the dark-channel :math:`L_0` term (0 disables it).
    dtype : numpy dtype, optional
        Precision of the splitting (default: that of ``yp``); ``np.float32`` runs its
        ~50 FFT pairs in single precision (4x faster on this machine's CPU), and the
        result is returned in the dtype of ``yp``.

    Returns
    -------
    ndarray (M, N)

    Notes
    -----
    Minimises :math:`\\|k*x-y\\|^2 + \\lambda\\|\\nabla x\\|_0` by alternating
    :math:`g = \\nabla x` hard-thresholded at :math:`|g|^2<\\lambda/\\beta` and the
    FFT-diagonal solve :math:`x = F^{-1}[(\\bar K Y + \\beta\\,\\overline{D}G)/(|K|^2+\\beta|D|^2)]`,
    with :math:`\\beta` from :math:`2\\lambda` to ``beta_max`` by ``kappa``.
    """
    shape, out_dtype = yp.shape, yp.dtype
    if dtype is not None:
        yp = yp.astype(dtype, copy=False)
        K = K.astype(np.result_type(dtype, np.complex64), copy=False)
    N1 = np.conj(K) * _F(yp)
    DK = (K * np.conj(K)).real
    D2 = frequency_power("gradient", shape, yp)
    S = yp.copy()
    mus = [0.0]
    if lam_dark > 0:
        thr = max(float(np.median(S * S)), 1e-4)
        mu = lam_dark / thr
        mus = []
        while mu < 8.0 and len(mus) < 8:
            mus.append(mu)
            mu *= kappa
        mus = mus or [8.0]
    for mu in mus:
        U = None
        if mu > 0:
            U = _F(_dark_target(S, lam_dark, mu, dark_patch))
        beta = 2 * lam
        while beta < beta_max:
            h = _dx(S)
            v = _dy(S)
            t = (h * h + v * v) < lam / beta
            h[t] = 0.0
            v[t] = 0.0
            num = N1 + beta * _F(-divergence([v, h]))
            den = DK + beta * D2
            if U is not None:
                num = num + mu * U
                den = den + mu
            S = _Fi(num / den, shape)
            beta *= kappa
    return S.astype(out_dtype, copy=False)


# ----------------------------------------------------------------------------- kernel
def _select_gradients(S: np.ndarray, ksize: int, threshold: float | None, keep: float = 2.0):
    """Keep the strong gradients of ``S`` (enough in each of 4 orientation bins)."""
    gx = _dx(S)
    gy = _dy(S)
    pm = gx * gx + gy * gy
    if keep <= 0:
        return gx, gy, 0.0
    if threshold is None:
        ang = np.arctan2(gy, gx) % np.pi
        bins = np.minimum((ang / (np.pi / 4)).astype(int), 3)
        need = int(keep * ksize)
        th = np.inf
        for b in range(4):
            v = np.sort(pm[bins == b])[::-1]
            v = v[v > 0]
            if v.size == 0:
                continue
            th = min(th, v[min(need, v.size) - 1])
        threshold = 0.0 if not np.isfinite(th) else float(th)
    m = pm < threshold
    gx[m] = 0.0
    gy[m] = 0.0
    return gx, gy, threshold


def estimate_psf_lsq(Bx, By, Sx, Sy, ksize, *, gamma: float = 2.0, mask=None, k0=None,
                     iterations: int = 20) -> np.ndarray:
    """Kernel by least squares on gradients within the support, by conjugate gradients.

    Solves :math:`\\min_k \\sum_{d} \\|W(k * S_d - B_d)\\|^2 + \\gamma\\|k\\|^2` over
    kernels of size ``ksize`` (circular convolution on the grid of ``S``; ``W`` is a
    0/1 mask of the pixels that carry data). Not yet projected nor normalised.
    """
    shape = Sx.shape
    kh, kw = ksize
    FS = [_F(Sx), _F(Sy)]
    Bs = [Bx, By]
    if mask is None:
        b = otf2psf(np.conj(FS[0]) * _F(Bx) + np.conj(FS[1]) * _F(By), ksize, shape=shape)
        R = _Fi((FS[0] * np.conj(FS[0])).real + (FS[1] * np.conj(FS[1])).real, shape)
        # Toeplitz operator: (A k)[i] = sum_j R(i - j) k[j]
        W = np.roll(R, (kh - 1, kw - 1), axis=(0, 1))[: 2 * kh - 1, : 2 * kw - 1]
        from scipy.signal import fftconvolve

        def A(k):
            return fftconvolve(k, W, mode="valid") + gamma * k
    else:
        b = otf2psf(sum(np.conj(F) * _F(mask * Bd) for F, Bd in zip(FS, Bs)), ksize, shape=shape)

        def A(k):
            Kf = psf2otf(k, shape)
            acc = 0
            for F in FS:
                r = mask * _Fi(F * Kf, shape)
                acc = acc + np.conj(F) * _F(r)
            return otf2psf(acc, ksize, shape=shape) + gamma * k

    k = np.zeros(ksize) if k0 is None else k0.copy()
    r = b - A(k)
    p = r.copy()
    rs = float((r * r).sum())
    rs0 = rs
    for _ in range(iterations):
        if rs <= 1e-10 * max(rs0, 1e-300):
            break
        Ap = A(p)
        alpha = rs / max(float((p * Ap).sum()), 1e-300)
        k = k + alpha * p
        r = r - alpha * Ap
        rs_new = float((r * r).sum())
        p = r + (rs_new / rs) * p
        rs = rs_new
    return k


# ----------------------------------------------------------------------------- pyramid
def pyramid_sizes(ksize, *, ratio: float = 1 / math.sqrt(2), min_size: int = 5):
    """Odd kernel sizes from coarse to fine (Pan et al.: ``ceil(k * ratio**s)``, made odd)."""
    k = max(ksize)
    n = max(math.floor(math.log(min_size / k) / math.log(ratio)), 0) + 1
    sizes = []
    for s in range(n - 1, -1, -1):
        kk = math.ceil(k * ratio ** s)
        kk = kk + 1 if kk % 2 == 0 else kk
        sizes.append(max(kk, 3))
    return sizes, [ratio ** s for s in range(n - 1, -1, -1)]


def _init_kernel(n: int) -> np.ndarray:
    k = np.zeros((n, n))
    c = n // 2
    k[c, c - 1:c + 1] = 0.5
    return k


def _explained(k, S, yp, mask, shape, max_shift: int = 2) -> float:
    """Share of the gradient energy of ``y`` that ``k * S`` explains (best whole-pixel shift).

    The kernel was re-centred after the latent ``S`` was computed, so ``k * S`` is
    translated against ``y`` by the centring shift; without the shift search a good
    kernel can explain "nothing" (a 27-px camera-shake estimate with similarity 0.94
    scored 0 and was dropped).
    """
    FK = psf2otf(k, shape)
    grads = [(_F(op(S)), op(yp)) for op in (_dx, _dy)]
    den = sum(float(((mask * g) ** 2).sum()) for _, g in grads)
    best = np.inf
    for dy in range(-max_shift, max_shift + 1):
        for dx in range(-max_shift, max_shift + 1):
            num = 0.0
            for FS, g in grads:
                r = mask * (np.roll(_Fi(FK * FS, shape), (dy, dx), axis=(0, 1)) - g)
                num += float((r * r).sum())
            best = min(best, num)
    return float(np.clip(1 - best / max(den, 1e-30), 0, 1))


def _level_grid(ys, ks: int, vm, bs: int):
    """Periodic grid, wrap-padded image and 0/1 data mask (``vm`` valid, ``bs``-px border out)."""
    hs, ws = ys.shape
    shape = C.pad_shape((hs, ws), (ks, ks))
    yp = C.wrap_pad(ys, shape)
    mask = np.zeros(shape)
    mask[: hs - 1, : ws - 1] = vm[: hs - 1, : ws - 1]
    if bs > 0:
        mask[:bs, :] = 0
        mask[:, :bs] = 0
        mask[hs - 1 - bs:hs, :] = 0
        mask[:, ws - 1 - bs:ws] = 0
    return shape, yp, mask


def _refine(y, k, shape, yp, mask, n: int, *, gamma: float, lam: float, threshold: float,
            domain: str = "gradient", use_mask: bool = True, min_mass: float = 0.1):
    """Xu & Jia-style refinement: latent from the (less sparse) hyper-Laplacian solver, then
    the kernel by least squares on gradients (or intensities); ``(kernel, latent on the grid)``."""
    from ..solvers import hqs

    Bx, By = _dx(yp), _dy(yp)
    for _ in range(n):
        xr = np.asarray(hqs(y, k, prior="hyper_laplacian", alpha=0.8, lam=1.0 / lam,
                            boundary="auto"))  # hqs lam = prior weight = 1 / data weight
        S = C.wrap_pad(xr, shape)
        if domain == "intensity":
            z0 = np.zeros_like(S)
            k_new = estimate_psf_lsq(yp - yp.mean(), z0, S - S.mean(), z0, k.shape, gamma=gamma,
                                     mask=mask if use_mask else None, k0=k)
        else:
            k_new = estimate_psf_lsq(Bx, By, _dx(S), _dy(S), k.shape, gamma=gamma,
                                     mask=mask if use_mask else None, k0=k)
        k = C.center_kernel(C.clean_kernel(k_new, rel_threshold=threshold, min_mass=min_mass))
    return k, S


def refine_kernel(y: np.ndarray, k, *, iterations: int = 2, gamma: float = 1.0, lam: float = 3000.0,
                  threshold: float = 0.05, border: int = 3) -> np.ndarray:
    """Refine a kernel estimate of ``y`` at full resolution (the final steps of :func:`map_estimate`).

    ``iterations`` times: the latent image from the hyper-Laplacian HQS solver with ``k``
    (data weight ``lam``), then ``k`` by least squares on gradients within its support
    (Tikhonov ``gamma``), entries below ``threshold`` x max and small components removed,
    centred, normalised (Xu & Jia 2010's final refinement: the L0 latent of the pyramid is
    sparser than the image, which biases the pyramid's kernel).

    Examples
    --------
    >>> import numpy as np
    >>> from hybrid_deblur.estimate.map_l0 import refine_kernel
    >>> k = refine_kernel(np.random.default_rng(0).random((64, 64)), np.full((5, 5), 1 / 25))
    >>> k.shape, bool(abs(k.sum() - 1) < 1e-9)
    ((5, 5), True)
    """
    y = np.asarray(y, dtype=np.float64)
    k = np.asarray(k, dtype=np.float64)
    if k.ndim != 2 or k.shape[0] != k.shape[1] or k.shape[0] % 2 == 0:
        raise ValueError(f"k has shape {k.shape}; accepted: an odd square kernel")
    vm = C.saturation_mask(y, k.shape)
    shape, yp, mask = _level_grid(y, k.shape[0], vm, int(border))
    return _refine(y, k / k.sum(), shape, yp, mask, int(iterations), gamma=gamma, lam=lam,
                   threshold=threshold)[0]


def map_estimate(y: np.ndarray, ksize, *, lam: float = 4e-3, lam_dark: float = 0.0,
                 gamma: float = 2.0, inner_iterations: int = 5, rel_threshold: float = 0.05,
                 grad_keep: float = 0.0, use_mask: bool = True, border: int = 3,
                 min_mass: float = 0.1, scale_threshold: bool = True, iter_threshold: float = 0.0,
                 refine: int = 0, refine_gamma: float = 1.0, refine_lam: float = 3000.0,
                 refine_threshold: float = 0.05, refine_domain: str = "gradient",
                 final_iterations: int | None = None, lam_floor: float = 1e-4,
                 cg_iterations: int = 20, init=None, init_levels: int = 2, callback=None,
                 progress: bool = False, latent_dtype=np.float32):
    """Coarse-to-fine MAP estimate of the kernel of a grey image ``y`` (NumPy, (H, W)).

    ``final_iterations`` alternations at full resolution (default ``inner_iterations``),
    ``cg_iterations`` conjugate-gradient steps per kernel update (warm-started).
    Returns ``(kernel, info)`` with ``info = {"scales": [...]}`` (size, iterations, energies).
    ``init`` (a kernel, e.g. the learned estimator's): only the ``init_levels`` finest
    pyramid levels run, starting from ``init`` (padded or cropped to ``ksize``, resized).
    ``latent_dtype``: precision of the L0 latent-image splitting (:func:`l0_latent`;
    ``np.float32`` by default, ``None`` = float64); kernels are always solved in float64.
    """
    H, W = y.shape
    kh, kw = ksize
    sizes, scales = pyramid_sizes((kh, kw))
    if init is not None:
        init = np.asarray(init, dtype=np.float64)
        n = max(max(init.shape), kh)
        py, px = n - init.shape[0], n - init.shape[1]
        init = np.pad(init, ((py // 2, py - py // 2), (px // 2, px - px // 2)))
        if init.shape[0] > kh:
            o = (init.shape[0] - kh) // 2
            init = init[o:o + kh, o:o + kh]
        init = np.maximum(init, 0) / max(float(np.maximum(init, 0).sum()), 1e-30)
        first = max(0, len(sizes) - int(init_levels))
        sizes, scales = sizes[first:], scales[first:]
    valid_full = C.saturation_mask(y, (kh, kw))
    k = None
    info = []
    it = range(len(sizes))
    if progress:
        from tqdm import tqdm

        it = tqdm(it, desc="scales", leave=False)
    lam_s, lamd_s = lam, lam_dark
    for s in it:
        ks = sizes[s]
        sc = scales[s]
        hs, ws = max(round(H * sc), ks + 2), max(round(W * sc), ks + 2)
        ys = C.resize_image(y, (hs, ws))
        if k is None:
            k = _init_kernel(ks) if init is None else C.resize_kernel(init, (ks, ks))
        else:
            k = C.resize_kernel(k, (ks, ks))
        vm = C.resize_image(valid_full.astype(float), (hs, ws)) > 0.99
        # captures often have a bad first/last row or column
        shape, yp, mask = _level_grid(ys, ks, vm, math.ceil(border * sc))
        Bx, By = _dx(yp), _dy(yp)
        threshold = None
        energies = []
        n_inner = inner_iterations
        if final_iterations is not None and s == len(sizes) - 1:
            n_inner = int(final_iterations)
        for _ in range(n_inner):
            K = psf2otf(k, shape)
            S = l0_latent(yp, K, lam_s, lam_dark=lamd_s, dtype=latent_dtype)
            Sx, Sy, threshold = _select_gradients(S, ks, threshold, grad_keep)
            threshold /= 1.1
            k_new = estimate_psf_lsq(Bx, By, Sx, Sy, (ks, ks), gamma=gamma,
                                     mask=mask if use_mask else None, k0=k, iterations=cg_iterations)
            k = C.clean_kernel(k_new, rel_threshold=iter_threshold, min_mass=min_mass)
            # data energy on gradients (diagnostic)
            Kn = psf2otf(k, shape)
            res = mask * (_Fi(Kn * _F(S), shape) - yp)
            energies.append(float((res * res).sum() / max(mask.sum(), 1)))
            lam_s = max(lam_s / 1.1, lam_floor)
            if lamd_s:
                lamd_s = max(lamd_s / 1.1, 1e-4)
            if callback is not None:
                callback({"scale": s, "size": ks, "kernel": k, "latent": S[:hs, :ws]})
        if scale_threshold or s == len(sizes) - 1:
            k = C.clean_kernel(k, rel_threshold=rel_threshold, min_mass=min_mass)
        k = C.center_kernel(k)
        info.append({"scale": float(sc), "size": int(ks), "image_shape": (hs, ws),
                     "iterations": n_inner, "energies": energies})
    if int(refine) > 0:
        k, S = _refine(y, k, shape, yp, mask, int(refine), gamma=refine_gamma, lam=refine_lam,
                       threshold=refine_threshold, domain=refine_domain, use_mask=use_mask, min_mass=min_mass)
    explained = _explained(k, S, yp, mask, shape)
    if (kh, kw) != k.shape:
        k = C.resize_kernel(k, (kh, kw)) if k.shape[0] != max(kh, kw) else k
        if k.shape != (kh, kw):
            oy, ox = (k.shape[0] - kh) // 2, (k.shape[1] - kw) // 2
            k = k[oy:oy + kh, ox:ox + kw]
            k = k / k.sum()
    return k, {"scales": info, "explained": explained}
