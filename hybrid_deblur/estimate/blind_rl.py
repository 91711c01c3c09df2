"""Blind Richardson-Lucy (alternating RL on image and kernel, as MATLAB's ``deconvblind``).

Examples
--------
>>> import numpy as np
>>> from hybrid_deblur.estimate.blind_rl import blind_richardson_lucy
>>> y = np.random.default_rng(0).random((64, 64)) + 0.1
>>> k, x, info = blind_richardson_lucy(y, (7, 7), iterations=5)
>>> k.shape, bool(abs(k.sum() - 1) < 1e-9), x.shape
((7, 7), True, (64, 64))
"""

from __future__ import annotations

import numpy as np

from .. import backend as B
from ..physics import Blur
from ..psf.otf import otf2psf, psf2otf
from . import _common as C

__all__ = ["blind_richardson_lucy"]


def _F(x):
    return B.rfftn(x, axes=(-2, -1))


def _Fi(X, shape):
    return B.irfftn(X, s=shape, axes=(-2, -1))


def blind_richardson_lucy(y: np.ndarray, ksize, *, iterations: int = 50, k0=None,
                          eps: float = 1e-6, callback=None):
    """Alternate one RL step on the kernel and one on the image.

    Parameters
    ----------
    y : ndarray (H, W)
        Blurred, non-negative grey image.
    ksize : (int, int)
        Kernel size.
    iterations : int
        Number of (kernel, image) RL pairs.
    k0 : ndarray, optional
        Initial kernel (default: a flat disk filling the support).

    Returns
    -------
    k, x, info
        Kernel (non-negative, sum 1), latent image (H, W) and ``{"energies": [...]}``
        (Poisson negative log-likelihood per iteration, up to a constant).

    Notes
    -----
    With :math:`\\hat y = k * x`, the multiplicative updates are
    :math:`k \\leftarrow k\\cdot(\\tilde x \\star (y/\\hat y))/\\sum x` restricted to the
    support (own step: a different problem, FFTs through ``backend``/``psf.otf``), then
    the engine's masked RL image step :meth:`hybrid_deblur.physics.Blur.rl_update`,
    :math:`x \\leftarrow x\\cdot A^T(w\\,y/Ax)/A^Tw` (Fish et al. 1995; Biggs & Andrews).
    The image is wrap-padded smoothly so the circular model holds; only the frame of
    ``y`` (mask :math:`w`) enters the likelihood.
    """
    H, W = y.shape
    kh, kw = ksize
    shape = C.pad_shape((H, W), (kh, kw))
    yp = np.maximum(C.wrap_pad(np.maximum(y, 0), shape), eps)
    mask = np.zeros(shape)
    mask[:H, :W] = 1.0
    if k0 is None:
        yy, xx = np.mgrid[:kh, :kw]
        k = (((yy - kh // 2) / (kh / 2)) ** 2 + ((xx - kw // 2) / (kw / 2)) ** 2 <= 1).astype(float)
    else:
        k = np.maximum(np.asarray(k0, float), 0)
    k /= k.sum()
    x = yp.copy()
    energies = []
    for it in range(iterations):
        X = _F(x)
        Kf = psf2otf(k, shape)
        est = np.maximum(_Fi(X * Kf, shape), eps)
        ratio = mask * yp / est + (1 - mask)
        corr = otf2psf(np.conj(X) * _F(ratio), (kh, kw), shape=shape) / max(x.sum(), eps)
        k = np.maximum(k * corr, 0)
        k /= max(k.sum(), eps)
        A = Blur(k, "circular", normalize=False)
        est = np.maximum(np.asarray(A(x)), eps)
        energies.append(float((mask * (est - yp * np.log(est))).sum() / (H * W)))
        x = np.maximum(np.asarray(A.rl_update(x, yp, weights=mask)), 0)  # the engine's RL step
        if callback is not None:
            callback({"iteration": it, "kernel": k, "latent": x[:H, :W]})
    k = C.clean_kernel(k, rel_threshold=0.0, min_mass=0.0)
    return k, x[:H, :W], {"energies": energies}
