"""The sRGB transfer curve (IEC 61966-2-1) and Rec. 709 luminance, on NumPy, CuPy or torch.

Examples
--------
>>> import numpy as np
>>> from hybrid_deblur.io import linear_to_srgb, srgb_to_linear
>>> float(linear_to_srgb(srgb_to_linear(np.array(0.5))))
0.5
"""

from __future__ import annotations

from typing import Any

from .. import backend as B

__all__ = ["REC709", "linear_to_srgb", "rgb_to_gray", "srgb_to_linear"]

#: Rec. 709 / sRGB luminance weights (applied to linear R, G, B)
REC709 = (0.2126, 0.7152, 0.0722)

# sRGB thresholds. Decoding uses the standard 0.04045; encoding uses 0.04045 / 12.92
# (instead of the rounded 0.0031308) so that sRGB -> linear -> sRGB is exact.
_S_THR = 0.04045
_L_THR = 0.04045 / 12.92


# ----------------------------------------------------------------------------- sRGB curve
def srgb_to_linear(x: Any):
    """Decode sRGB values to linear light (IEC 61966-2-1), on NumPy, CuPy or torch.

    Parameters
    ----------
    x : array
        sRGB-encoded values, nominally in [0, 1]. Integer arrays are promoted to
        float first (they are *not* rescaled: divide 8-bit data by 255 yourself).

    Returns
    -------
    array
        Linear values, same library, device and float dtype as ``x``.

    Notes
    -----
    .. math::

        L(s) = \\begin{cases} s / 12.92 & s \\le 0.04045 \\\\
               \\left(\\frac{s + 0.055}{1.055}\\right)^{2.4} & s > 0.04045 \\end{cases}

    Values outside [0, 1] are not clipped: negative values use the mirrored curve
    :math:`L(s) = -L(-s)` (the "extended sRGB" convention) and values above 1 follow
    the power law, so the map is monotone and invertible everywhere. The torch
    version is differentiable.

    Examples
    --------
    >>> import numpy as np
    >>> from hybrid_deblur.io import srgb_to_linear
    >>> np.round(srgb_to_linear(np.array([0.0, 0.5, 1.0])), 6)
    array([0.      , 0.214041, 1.      ])
    """
    x = B.as_float(x, name="x")
    xp = B.namespace(x)
    a = xp.abs(x)
    return xp.where(a <= _S_THR, x / 12.92, xp.sign(x) * ((a + 0.055) / 1.055) ** 2.4)


def linear_to_srgb(x: Any):
    """Encode linear light to sRGB values (inverse of :func:`srgb_to_linear`).

    Parameters
    ----------
    x : array
        Linear values, nominally in [0, 1]; NumPy, CuPy or torch.

    Returns
    -------
    array
        sRGB-encoded values (not clipped, not quantised).

    Notes
    -----
    .. math::

        S(l) = \\begin{cases} 12.92\\, l & l \\le 0.04045 / 12.92 \\\\
               1.055\\, l^{1/2.4} - 0.055 & \\text{otherwise} \\end{cases}

    and :math:`S(l) = -S(-l)` for negative values. The standard quotes the
    threshold as 0.0031308; using :math:`0.04045/12.92 = 0.00313080495` instead
    makes ``linear_to_srgb(srgb_to_linear(s)) == s`` to rounding error for every
    ``s``. (The two branches of the standard curve do not meet exactly: linear
    values in the 2.3e-9-wide gap (0.0031308050, 0.0031308073) are never produced
    by decoding and round-trip only to ~2e-9.) The power branch is evaluated on a
    shifted copy below the threshold so torch gradients stay finite at 0.

    Examples
    --------
    >>> import numpy as np
    >>> from hybrid_deblur.io import linear_to_srgb, srgb_to_linear
    >>> s = np.linspace(0, 1, 11)
    >>> bool(np.allclose(linear_to_srgb(srgb_to_linear(s)), s, atol=1e-12))
    True
    """
    x = B.as_float(x, name="x")
    xp = B.namespace(x)
    a = xp.abs(x)
    low = a <= _L_THR
    safe = a + xp.astype(low, a.dtype)  # >= 1 where the power branch is unused
    return xp.where(low, 12.92 * x, xp.sign(x) * (1.055 * safe ** (1.0 / 2.4) - 0.055))


def rgb_to_gray(img: Any, *, axis: int = -3):
    """Luminance ``0.2126 R + 0.7152 G + 0.0722 B`` (Rec. 709) over a channel axis.

    Parameters
    ----------
    img : array, shape (..., 3, H, W) by default
        Linear RGB (channel axis ``axis``); NumPy, CuPy or torch.
    axis : int
        The channel axis (default -3, the DESIGN layout).

    Returns
    -------
    array
        ``img`` with the channel axis removed.

    Examples
    --------
    >>> import numpy as np
    >>> from hybrid_deblur.io import rgb_to_gray
    >>> float(rgb_to_gray(np.ones((3, 2, 2)))[0, 0])
    1.0
    """
    img = B.as_float(img, name="img")
    if img.ndim < 3 or img.shape[axis] != 3:
        raise ValueError(
            f"img must have 3 colour channels on axis {axis}; got shape {tuple(img.shape)}. "
            "Accepted: (..., 3, H, W) linear RGB"
        )
    xp = B.namespace(img)
    r, g, b = (xp.take(img, xp.asarray([i]), axis=axis) for i in range(3))
    y = REC709[0] * r + REC709[1] * g + REC709[2] * b
    return xp.squeeze(y, axis=axis)
