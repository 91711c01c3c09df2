"""Shared helpers of the blind estimators: input checks, luminance, smooth periodic
padding, kernel clean-up and resizing (FFTs, OTFs and gradients come from
``backend``, ``psf.otf`` and ``physics.differences``).

Everything here works on NumPy arrays (estimation runs on the CPU); the public
functions convert their inputs once at entry and return results in the input's
library.
"""

from __future__ import annotations

import numpy as np
from scipy import ndimage

from .. import backend as B

#: Rec.709 luminance weights (linear light)
LUMA = np.array([0.2126, 0.7152, 0.0722])


def as_gray(y, *, name: str = "y") -> np.ndarray:
    """Validate a blurred image and return its luminance as float64 NumPy (H, W).

    Accepts (H, W), (3, H, W) / (1, H, W) channel-first and (H, W, 3) channel-last.
    """
    if y is None:
        raise TypeError(f"{name} must be an image array, got None")
    if isinstance(y, (str, bytes)) or not hasattr(y, "shape"):
        raise TypeError(f"{name} must be an array (NumPy, CuPy or torch), got {type(y).__name__}")
    a = B.to_numpy(y)
    if a.dtype.kind == "c":
        raise TypeError(f"{name} must be real, got dtype {a.dtype}")
    if a.dtype.kind not in "fiub":
        raise TypeError(f"{name} must be a numeric array, got dtype {a.dtype}")
    a = np.asarray(a, dtype=np.float64)
    if a.ndim == 3:
        if a.shape[0] in (1, 3):
            a = a[0] if a.shape[0] == 1 else np.tensordot(LUMA, a, axes=(0, 0))
        elif a.shape[-1] in (1, 3):
            a = a[..., 0] if a.shape[-1] == 1 else a @ LUMA
        else:
            raise ValueError(
                f"{name} has shape {a.shape}; accepted: (H, W), (C, H, W) or (H, W, C) with C in (1, 3)"
            )
    elif a.ndim != 2:
        raise ValueError(
            f"{name} has shape {a.shape} (ndim={a.ndim}); accepted: (H, W), (C, H, W) or (H, W, C)"
        )
    if a.size == 0:
        raise ValueError(f"{name} is empty (shape {a.shape})")
    if not np.isfinite(a).all():
        raise ValueError(f"{name} contains NaN or inf values; only finite pixel values are accepted")
    return a


def check_size(size, shape, *, name: str = "size") -> tuple[int, int]:
    """Kernel size as an odd (kh, kw) pair that fits the image (``None`` handled by caller)."""
    if isinstance(size, (bool, np.bool_)):
        raise TypeError(f"{name} must be an int, a pair of ints, 'auto' or None, got {size!r}")
    if isinstance(size, (int, np.integer)):
        size = (int(size), int(size))
    try:
        kh, kw = (int(v) for v in size)
    except Exception as exc:
        raise TypeError(f"{name} must be an int, a pair of ints, 'auto' or None, got {size!r}") from exc
    if kh < 3 or kw < 3:
        raise ValueError(f"{name}={size!r} is too small; accepted: kernel sizes >= 3")
    kh, kw = kh | 1, kw | 1  # make odd
    if kh * 2 > shape[0] or kw * 2 > shape[1]:
        raise ValueError(
            f"{name}={size!r} is too large for an image of shape {tuple(shape)}; "
            "accepted: at most half the image size on each axis"
        )
    return kh, kw


def auto_size(shape) -> tuple[int, int]:
    """Default kernel size for an image: about 14 % of the short side, odd, in [15, 55]."""
    k = round(0.137 * min(shape))
    k = int(np.clip(k, 15, 55)) | 1
    k = min(k, (min(shape) // 2 - 1) | 1)
    return k, k


def wrap_pad(x: np.ndarray, shape) -> np.ndarray:
    """Extend ``x`` (H, W) to ``shape`` so that the result is smooth when read periodically.

    The strip between the last and the first column (and row) is filled with a
    blend of the two (smoothed) edges, so a circular convolution of the padded
    image sees no jump at the border (a cheap stand-in for Liu & Jia's boundary
    extrapolation). ``x`` occupies ``[:H, :W]``.
    """
    H, W = x.shape
    Hp, Wp = (int(v) for v in shape)
    out = x
    if Wp > W:
        p = Wp - W
        a = ndimage.gaussian_filter1d(out[:, -1], 2.0, mode="nearest")
        b = ndimage.gaussian_filter1d(out[:, 0], 2.0, mode="nearest")
        t = (np.arange(1, p + 1) / (p + 1))[None, :]
        # cosine blend with a little of the near edges' texture fading out
        w = 0.5 - 0.5 * np.cos(np.pi * t)
        strip = (1 - w) * a[:, None] + w * b[:, None]
        out = np.concatenate([out, strip], axis=1)
    if Hp > H:
        p = Hp - H
        a = ndimage.gaussian_filter1d(out[-1, :], 2.0, mode="wrap")
        b = ndimage.gaussian_filter1d(out[0, :], 2.0, mode="wrap")
        t = (np.arange(1, p + 1) / (p + 1))[:, None]
        w = 0.5 - 0.5 * np.cos(np.pi * t)
        strip = (1 - w) * a[None, :] + w * b[None, :]
        out = np.concatenate([out, strip], axis=0)
    return out


def pad_shape(shape, ksize) -> tuple[int, int]:
    """FFT-friendly grid for an image of ``shape`` and a kernel of ``ksize``."""
    return B.next_fast_shape((shape[0] + ksize[0] - 1 + 8, shape[1] + ksize[1] - 1 + 8))


# ----------------------------------------------------------------------------- kernels
def clean_kernel(k: np.ndarray, *, rel_threshold: float = 0.05, min_mass: float = 0.1) -> np.ndarray:
    """Non-negative, small components removed, normalised to sum 1.

    Entries below ``rel_threshold * max`` are zeroed; 8-connected components that
    carry less than ``min_mass`` of the total mass are removed (Pan et al.).
    """
    k = np.where(k > 0, k, 0.0)
    m = k.max()
    if not np.isfinite(m) or m <= 0:
        out = np.zeros_like(k)
        out[k.shape[0] // 2, k.shape[1] // 2] = 1.0
        return out
    k[k < rel_threshold * m] = 0.0
    lab, n = ndimage.label(k > 0, structure=np.ones((3, 3)))
    if n > 1:
        tot = k.sum()
        mass = ndimage.sum(k, lab, index=np.arange(1, n + 1))
        small = np.flatnonzero(mass < min_mass * tot) + 1
        if small.size < n:
            k[np.isin(lab, small)] = 0.0
    return k / k.sum()


def center_kernel(k: np.ndarray, *, subpixel: bool = False) -> np.ndarray:
    """Shift ``k`` so that its centroid is nearest the centre pixel (``subpixel``: on it).

    Whole-pixel shifts are exact. ``subpixel=True`` then moves the remaining fraction
    (at most half a pixel per axis) by cubic-spline interpolation (negative lobes clipped;
    the centroid lands within ~0.05 px of the centre; linear interpolation would be exact
    on the centroid but smooths the kernel). A kernel whose centroid sits off the centre
    pixel shifts the restored image by as much, which costs several dB against the
    scene: a camera-shake MAP estimate (BSD68 test007, shake21, sigma 0.01) 0.3/0.45 px
    off gave 23.8 dB (29.4 dB after aligning the result), sub-pixel centred 26.4 dB (29.0).
    """
    if subpixel:
        k = center_kernel(k)
        s = k.sum()
        if s <= 0:
            return k
        kh, kw = k.shape
        yy, xx = np.mgrid[:kh, :kw]
        dy = kh // 2 - (yy * k).sum() / s
        dx = kw // 2 - (xx * k).sum() / s
        if abs(dy) < 1e-6 and abs(dx) < 1e-6:
            return k
        out = ndimage.shift(k, (dy, dx), order=3, mode="constant", cval=0.0)
        out = np.maximum(out, 0)
        return out / out.sum() if out.sum() > 0 else k
    kh, kw = k.shape
    s = k.sum()
    if s <= 0:
        return k
    yy, xx = np.mgrid[:kh, :kw]
    cy = (yy * k).sum() / s
    cx = (xx * k).sum() / s
    sy = round(kh // 2 - cy)
    sx = round(kw // 2 - cx)
    if sy == 0 and sx == 0:
        return k
    out = np.zeros_like(k)
    ys = slice(max(0, sy), min(kh, kh + sy))
    xs = slice(max(0, sx), min(kw, kw + sx))
    yd = slice(max(0, -sy), min(kh, kh - sy))
    xd = slice(max(0, -sx), min(kw, kw - sx))
    out[ys, xs] = k[yd, xd]
    if out.sum() <= 0:
        return k
    return out / out.sum()


def resize_kernel(k: np.ndarray, ksize) -> np.ndarray:
    """Resample ``k`` to the odd size ``ksize`` (scale = ratio of sizes), keep centre, sum 1."""
    kh, kw = ksize
    zy = kh / k.shape[0]
    zx = kw / k.shape[1]
    z = ndimage.zoom(k, (zy, zx), order=1, mode="grid-constant", grid_mode=True)
    out = np.zeros((kh, kw))
    h, w = min(kh, z.shape[0]), min(kw, z.shape[1])
    oy, ox = (kh - h) // 2, (kw - w) // 2
    iy, ix = (z.shape[0] - h) // 2, (z.shape[1] - w) // 2
    out[oy:oy + h, ox:ox + w] = z[iy:iy + h, ix:ix + w]
    out = np.maximum(out, 0)
    if out.sum() <= 0:
        out[kh // 2, kw // 2] = 1.0
    return center_kernel(out / out.sum())


def resize_image(y: np.ndarray, shape) -> np.ndarray:
    """Anti-aliased bilinear resize of a 2-D image to ``shape``."""
    if tuple(shape) == y.shape:
        return y
    from skimage.transform import resize

    return resize(y, tuple(int(v) for v in shape), order=1, mode="reflect",
                  anti_aliasing=True, preserve_range=True)


def saturation_mask(y: np.ndarray, ksize, level: float = 0.98) -> np.ndarray:
    """True where a pixel is usable: not within a kernel footprint of a saturated pixel."""
    sat = y >= level
    if not sat.any():
        return np.ones(y.shape, bool)
    return ~ndimage.binary_dilation(sat, structure=np.ones(ksize, bool))
