"""Argument checks shared by the PSF generators: numbers, dtypes, sizes and the size limit.

Every generator refuses a kernel larger than :data:`MAX_KERNEL_SIZE` pixels on an
axis *before* allocating it (a typo such as ``disk(1e5)`` would otherwise ask for
tens of GiB), and every generator casts its float64 result through
:func:`finish`, which refuses a dtype that cannot hold the normalised kernel
(``disk(1e3, dtype=np.float16)``: its 3e-7 pixel values are below float16's
normal range and the sum would come out 0.94).
"""

from __future__ import annotations

import math
from numbers import Real
from typing import Any

import numpy as np

__all__ = ["MAX_KERNEL_SIZE", "MAX_SAMPLES"]

#: largest kernel side (pixels) a generator will build: 4097 x 4097 float64 is 134 MB
MAX_KERNEL_SIZE = 4097
#: largest number of trajectory samples (memory and time grow linearly with it)
MAX_SAMPLES = 10_000_000


def check_real(value: Any, name: str, *, minimum: float = 0.0) -> float:
    """``value`` as a finite float >= ``minimum`` (TypeError / ValueError naming ``name``)."""
    if isinstance(value, bool) or not isinstance(value, (Real, np.floating, np.integer)):
        raise TypeError(f"{name} must be a real number, got {value!r} ({type(value).__name__})")
    v = float(value)
    if not math.isfinite(v):
        raise ValueError(f"{name} must be finite, got {value!r}")
    if v < minimum:
        raise ValueError(f"{name} must be >= {minimum:g}, got {value!r}")
    return v


def check_dtype(dtype: Any) -> np.dtype:
    """A NumPy floating dtype (float16, float32, float64, ...)."""
    try:
        dt = np.dtype(dtype)
    except TypeError as exc:
        raise TypeError(f"dtype must be a floating dtype, got {dtype!r}") from exc
    if dt.kind != "f":
        raise TypeError(f"dtype must be a floating dtype (float32, float64), got {dt}")
    return dt


def check_side(n: float, what: str) -> None:
    """Refuse a kernel side above :data:`MAX_KERNEL_SIZE` before anything is allocated."""
    if not n <= MAX_KERNEL_SIZE:
        raise ValueError(
            f"{what} needs a kernel of {n:.6g} px on a side, above the limit of "
            f"{MAX_KERNEL_SIZE} px (hybrid_deblur.psf.MAX_KERNEL_SIZE); pass smaller parameters "
            "or an explicit smaller size="
        )


def check_size(size: Any, default: tuple[float, float], what: str) -> tuple[int, int]:
    """``None`` -> ``default``, int -> square, pair -> (rows, cols); each in 1..MAX_KERNEL_SIZE.

    ``default`` is checked against the limit before it is turned into ints, so a huge
    float (``disk(1e300)``) gives the size message, not an overflow.
    """
    if size is None:
        for v in default:
            check_side(v, what)
        return int(default[0]), int(default[1])
    if isinstance(size, (int, np.integer)) and not isinstance(size, bool):
        vals = (int(size), int(size))
    else:
        try:
            if isinstance(size, (str, bytes)):
                raise TypeError
            vals = tuple(int(v) for v in size)
            ok = len(vals) == 2 and all(float(v) == int(v) for v in size)
        except (TypeError, ValueError, OverflowError):
            ok = False
        if not ok:
            raise TypeError(f"size must be None, an int or a pair of ints, got {size!r}")
    if any(v < 1 for v in vals):
        raise ValueError(f"size must be >= 1 on every axis, got {size!r}")
    for v in vals:
        check_side(v, f"size={size!r}")
    return vals


def finish(k: np.ndarray, dtype: np.dtype, what: str = "the PSF") -> np.ndarray:
    """Clip round-off negatives, normalise to sum 1 in float64, cast to ``dtype``.

    Raises ``ValueError`` when the cast kernel no longer sums to 1 within the
    dtype's rounding (``eps``): a float16 kernel whose values fall below
    float16's normal range.
    """
    k = np.clip(np.asarray(k, dtype=np.float64), 0.0, None)
    s = k.sum()
    if not s > 0:
        raise ValueError(f"{what} has no energy inside the requested size; enlarge size")
    k = k / s
    out = k.astype(dtype, copy=False)
    if out.dtype != np.float64:
        total = float(out.astype(np.float64).sum())
        eps = float(np.finfo(out.dtype).eps)
        if not abs(total - 1.0) <= eps:
            raise ValueError(
                f"dtype {out.dtype} cannot hold {what}: after rounding it sums to {total:.6g} "
                f"(its {k.size} values go down to {k[k > 0].min():.3g}, below what {out.dtype} "
                "represents accurately); use float32 or float64"
            )
    return out


def delta(shape: tuple[int, int], dtype) -> np.ndarray:
    """A unit impulse at the centre pixel ``(kh // 2, kw // 2)``."""
    k = np.zeros(shape, dtype=dtype)
    k[shape[0] // 2, shape[1] // 2] = 1.0
    return k
