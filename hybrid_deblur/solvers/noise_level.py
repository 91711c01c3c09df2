"""Blind estimate of the Gaussian noise level of an image.

Examples
--------
>>> import numpy as np
>>> from hybrid_deblur.solvers import estimate_noise
>>> rng = np.random.default_rng(0)
>>> yy, xx = np.mgrid[0:256, 0:256] / 256
>>> clean = 0.5 + 0.3 * np.sin(6 * xx) * np.cos(4 * yy)
>>> s = estimate_noise(clean + 0.02 * rng.standard_normal(clean.shape))
>>> abs(s - 0.02) < 0.002
True
"""

from __future__ import annotations

from typing import Any

import numpy as np

from .. import backend as B

__all__ = ["estimate_noise"]

_MAD_TO_SIGMA = 0.6744897501960817  # Phi^{-1}(3/4)


def _second_difference(x, axis: int):
    """``x[i-1] - 2 x[i] + x[i+1]`` along ``axis`` (valid part, length n - 2)."""
    n = int(x.shape[axis])
    sl = [slice(None)] * x.ndim

    def s(a):
        sl[axis] = slice(a, n - 2 + a)
        return x[tuple(sl)]

    return s(0) - 2 * s(1) + s(2)


def _median_last(v):
    if B.is_torch(v):
        # torch.median returns the lower median; average the two middle values like NumPy
        s = v.sort(dim=-1).values
        n = int(s.shape[-1])
        return s[..., n // 2] if n % 2 else 0.5 * (s[..., n // 2 - 1] + s[..., n // 2])
    if B.is_cupy(v):
        import cupy

        return cupy.median(v, axis=-1)
    return np.median(v, axis=-1)


def estimate_noise(y: Any, *, ndim: int = 2, channel_axis: Any = "leading"):
    """Standard deviation of additive white Gaussian noise in ``y``.

    Parameters
    ----------
    y : array, shape (..., H, W) or (..., Z, Y, X)
        The (blurred) noisy image; NumPy, CuPy or torch. Leading axes are
        channels / batch and get one estimate each.
    ndim : int
        Number of trailing spatial axes (2 or 3).
    channel_axis : "leading"
        Kept for API clarity: leading axes are always independent channels.

    Returns
    -------
    sigma : float or numpy.ndarray
        A Python float for a single image, else a NumPy array of the leading shape.

    Notes
    -----
    Robust version of Immerkær's method: the image is filtered with the separable
    second-difference kernel :math:`L = d \\otimes d`, :math:`d = (1, -2, 1)`
    (in 3-D :math:`d \\otimes d \\otimes d`), normalised so that
    :math:`\\|L\\|_2 = 1`. For white noise of variance :math:`\\sigma^2` every
    filtered value is :math:`\\mathcal N(0, \\sigma^2)`, while smooth (and
    blurred) image content is almost annihilated. The median absolute value is
    insensitive to the remaining edges:

    .. math:: \\hat\\sigma = \\operatorname{median}|L * y| / \\Phi^{-1}(3/4).

    Blurred images are the easy case: the blur removes the fine-scale texture
    that would otherwise bias the estimate upward.

    Examples
    --------
    >>> import numpy as np
    >>> from hybrid_deblur.solvers import estimate_noise
    >>> y = 0.5 + 0.05 * np.random.default_rng(1).standard_normal((2, 128, 128))
    >>> np.round(estimate_noise(y), 2)
    array([0.05, 0.05])
    """
    if channel_axis != "leading":
        raise ValueError(f"channel_axis={channel_axis!r} is not supported; accepted: 'leading'")
    if not isinstance(ndim, (int, np.integer)) or ndim < 1:
        raise ValueError(f"ndim must be a positive integer, got {ndim!r}")
    y = B.as_float(y, name="y")
    if y.ndim < ndim:
        raise ValueError(f"y must have at least {ndim} axes; got shape {tuple(y.shape)}")
    if any(int(n) < 3 for n in y.shape[-ndim:]):
        raise ValueError(
            f"y must be at least 3 pixels along each spatial axis, got shape {tuple(y.shape)}"
        )
    B.check_finite(y, "y")
    f = y
    for ax in range(-ndim, 0):
        f = _second_difference(f, f.ndim + ax)
    norm = 6.0 ** (ndim / 2.0)  # ||(1,-2,1)||_2 ** ndim = sqrt(6) ** ndim
    lead = tuple(int(v) for v in y.shape[:-ndim])
    flat = f.reshape(lead + (-1,))
    med = _median_last(abs(flat)) / (norm * _MAD_TO_SIGMA)
    out = B.to_numpy(med).astype(np.float64)
    if out.ndim == 0:
        return float(out)
    return out
