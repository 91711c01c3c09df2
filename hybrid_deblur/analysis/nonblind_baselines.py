"""scikit-image baselines of the non-blind harness (:mod:`hybrid_deblur.analysis.nonblind`).

``skimage-wiener`` / ``skimage-rl`` apply :func:`skimage.restoration.wiener` /
:func:`skimage.restoration.richardson_lucy` to the observation as a user would (periodic
model / zero-padded convolution, ``clip=False``), per channel; the ``-pad`` variants first
extend the observation symmetrically by the kernel size and crop back (the usual user-side
edge fix). ``blurred`` returns the observation itself. Their parameters are tuned by the
harness over :data:`DEFAULT_GRIDS`.

Examples
--------
>>> import numpy as np
>>> from hybrid_deblur.analysis.nonblind_baselines import skimage_wiener_pad
>>> y = np.random.default_rng(0).random((32, 32))
>>> skimage_wiener_pad(y, np.ones((3, 3)) / 9, balance=0.1).shape
(32, 32)
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np

__all__ = ["BASELINES", "DEFAULT_GRIDS", "skimage_rl", "skimage_rl_pad",
           "skimage_unsupervised_wiener", "skimage_wiener", "skimage_wiener_pad"]


def _per_channel(fn: Callable, y: np.ndarray) -> np.ndarray:
    if y.ndim == 2:
        return fn(y)
    flat = y.reshape((-1,) + y.shape[-2:])
    return np.stack([fn(c) for c in flat]).reshape(y.shape)


def _padded(fn: Callable, c: np.ndarray, psf: np.ndarray, pad: str | None) -> np.ndarray:
    """Run ``fn`` on ``c`` extended by the kernel size with ``numpy.pad(mode=pad)``, crop back."""
    if not pad:
        return fn(c)
    w = [(k, k) for k in psf.shape]
    h, wd = c.shape
    return fn(np.pad(c, w, mode=pad))[psf.shape[0]:psf.shape[0] + h, psf.shape[1]:psf.shape[1] + wd]


def skimage_wiener(y, psf, *, balance: float = 0.01, pad: str | None = None, boundary: Any = None, **_):
    """scikit-image ``restoration.wiener`` (Laplacian regulariser, circular model, ``clip=False``),
    per channel. ``boundary`` is accepted and ignored: scikit-image always assumes circular.
    ``pad="symmetric"`` extends ``y`` by the kernel size first (the usual user-side fix).

    Examples
    --------
    >>> import numpy as np
    >>> from hybrid_deblur.analysis.nonblind_baselines import skimage_wiener
    >>> skimage_wiener(np.ones((3, 16, 16)), np.ones((3, 3)) / 9).shape     # per channel
    (3, 16, 16)
    """
    from skimage.restoration import wiener

    f = lambda c: wiener(c, psf, float(balance), clip=False)
    return _per_channel(lambda c: _padded(f, c, psf, pad), np.asarray(y))


def skimage_rl(y, psf, *, num_iter: int = 30, pad: str | None = None, boundary: Any = None, **_):
    """scikit-image ``restoration.richardson_lucy`` (``clip=False``), per channel; ``pad`` as in
    :func:`skimage_wiener` (scikit-image's RL convolves with zero padding).

    Examples
    --------
    >>> import numpy as np
    >>> from hybrid_deblur.analysis.nonblind_baselines import skimage_rl
    >>> x = skimage_rl(np.full((16, 16), 0.5), np.ones((3, 3)) / 9, num_iter=5)
    >>> x.shape, bool(np.isfinite(x).all())
    ((16, 16), True)
    """
    from skimage.restoration import richardson_lucy

    f = lambda c: richardson_lucy(c, psf, num_iter=int(num_iter), clip=False,
                                  filter_epsilon=1e-12)
    return _per_channel(lambda c: _padded(f, c, psf, pad), np.asarray(y))


def skimage_wiener_pad(y, psf, *, balance: float = 0.01, **kw):
    """:func:`skimage_wiener` on ``y`` symmetrically extended by the kernel size.

    Examples
    --------
    >>> import numpy as np
    >>> from hybrid_deblur.analysis.nonblind_baselines import skimage_wiener_pad
    >>> skimage_wiener_pad(np.ones((16, 16)), np.ones((3, 3)) / 9).shape
    (16, 16)
    """
    return skimage_wiener(y, psf, balance=balance, pad="symmetric", **kw)


def skimage_rl_pad(y, psf, *, num_iter: int = 30, **kw):
    """:func:`skimage_rl` on ``y`` symmetrically extended by the kernel size.

    Examples
    --------
    >>> import numpy as np
    >>> from hybrid_deblur.analysis.nonblind_baselines import skimage_rl_pad
    >>> skimage_rl_pad(np.ones((16, 16)), np.ones((3, 3)) / 9, num_iter=3).shape
    (16, 16)
    """
    return skimage_rl(y, psf, num_iter=num_iter, pad="symmetric", **kw)


def skimage_unsupervised_wiener(y, psf, *, boundary: Any = None, seed: int = 0, **_):
    """scikit-image ``restoration.unsupervised_wiener`` (Gibbs-sampled Wiener, ``clip=False``).

    Examples
    --------
    >>> import numpy as np
    >>> from hybrid_deblur.analysis.nonblind_baselines import skimage_unsupervised_wiener
    >>> y = np.random.default_rng(0).random((16, 16))
    >>> skimage_unsupervised_wiener(y, np.ones((3, 3)) / 9).shape
    (16, 16)
    """
    from skimage.restoration import unsupervised_wiener

    return _per_channel(lambda c: unsupervised_wiener(c, psf, clip=False,
                                                      rng=np.random.default_rng(seed))[0],
                        np.asarray(y))


def _identity(y, psf, **_):
    return np.asarray(y)


#: baselines kept in the harness: name -> function
BASELINES: dict[str, Callable] = {
    "blurred": _identity,
    "skimage-wiener": skimage_wiener,
    "skimage-rl": skimage_rl,
    "skimage-wiener-pad": skimage_wiener_pad,
    "skimage-rl-pad": skimage_rl_pad,
    "skimage-unsupervised-wiener": skimage_unsupervised_wiener,
}

#: tuning grids of the tunable baselines: name -> {parameter: values}
DEFAULT_GRIDS: dict[str, dict[str, tuple]] = {
    "skimage-wiener": {"balance": tuple(float(v) for v in np.logspace(-4, 0, 13))},
    "skimage-rl": {"num_iter": (5, 10, 20, 30, 50, 80)},
}
DEFAULT_GRIDS["skimage-wiener-pad"] = DEFAULT_GRIDS["skimage-wiener"]
DEFAULT_GRIDS["skimage-rl-pad"] = DEFAULT_GRIDS["skimage-rl"]
