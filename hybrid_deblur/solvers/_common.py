"""Shared plumbing of the classical solvers: input checks, boundary geometry, padding.

Nothing here is an algorithm; it is the code every solver needs so that each
algorithm module stays short: validating ``y`` / ``psf`` / options with errors
that name the argument, the geometry of the FFT grid for every boundary mode,
the reflect + edge-taper padding used by the closed-form solvers, in-place
element-wise helpers (NumPy fast path, out-of-place for torch/CuPy), finite
differences on a periodic grid and a tqdm progress bar.
"""

from __future__ import annotations

import hashlib
import time
import weakref
from collections import OrderedDict
from collections.abc import Sequence
from typing import Any

import numpy as np

from .. import backend as B
from ..physics.blur import Blur
from ..physics.boundary import pad  # noqa: F401
from ..physics.geometry import (  # noqa: F401  (compatibility names)
    Geometry,
    axes,
    circular_geometry,
    embed,
    masked_geometry,
    pad_observation,
    padded_geometry,
    region,
    smooth_periodic_pad,
    spatial,
)
from ..psf.otf import validate_psf

#: estimated noise levels below this are raised to it for the *automatic* parameters of
#: wiener / tikhonov / hqs / richardson_lucy_tv: on real captures the model error (kernel,
#: alignment, quantisation) is rarely below ~0.5 % and must be regularised too (measured on
#: Levin 2009: HQS-TV 31.5 -> 34.5 dB). An explicit ``sigma=`` is always used as given.
NOISE_FLOOR = 0.005
#: the linear Wiener filter cannot suppress model-error artefacts adaptively like the sparse
#: priors, so its automatic NSR uses a higher floor (Levin 2009, 16 captures: 0.005 -> 32.8 dB,
#: 0.01 -> 33.8 dB; no effect at sigma >= 0.01)
WIENER_NOISE_FLOOR = 0.01

#: boundary modes accepted by every solver ("auto" = the ring-free default of each solver)
SOLVER_BOUNDARIES = ("auto", "circular", "reflect", "replicate", "zero", "valid")


def check_choice(name: str, value: Any, allowed: Sequence[Any]) -> Any:
    """Return ``value`` if it is in ``allowed``; else ``ValueError`` naming all three."""
    if not isinstance(value, str) or value not in allowed:
        raise ValueError(
            f"{name}={value!r} is not supported; accepted: {', '.join(map(repr, allowed))}"
        )
    return value


def check_positive(name: str, value: Any, *, allow_zero: bool = False, allow_none: bool = True):
    """Validate a scalar parameter that must be positive (or None)."""
    if value is None:
        if allow_none:
            return None
        raise ValueError(f"{name} must be a number, got None")
    try:
        v = float(value)
    except (TypeError, ValueError):
        raise TypeError(f"{name} must be a real number, got {value!r}") from None
    if not np.isfinite(v) or v < 0 or (v == 0 and not allow_zero):
        acc = ">= 0" if allow_zero else "> 0"
        raise ValueError(f"{name} must be a finite number {acc}, got {value!r}")
    return v


def prepare(y: Any, psf: Any, *, ndim: int = 2, name: str = "y", min_size: bool = True):
    """Validate the observation and the PSF; return ``(y, psf, op)``.

    ``y`` becomes a float array of its own library (dtype policy of
    :func:`hybrid_deblur.backend.as_float`); ``psf`` is validated, normalised to
    sum 1 and moved to ``y``'s library/device/dtype; ``op`` is a circular
    :class:`~hybrid_deblur.physics.Blur` whose ``otf()`` cache the solvers use.
    """
    if not isinstance(ndim, (int, np.integer)) or isinstance(ndim, bool) or ndim < 1:
        raise ValueError(f"ndim must be a positive integer (2 for images, 3 for stacks), got {ndim!r}")
    ndim = int(ndim)
    y = B.as_float(y, name=name)
    if y.ndim < ndim:
        raise ValueError(
            f"{name} must have at least {ndim} axes (spatial axes last, ndim={ndim}); "
            f"got shape {tuple(y.shape)}"
        )
    if any(int(n) == 0 for n in y.shape):
        raise ValueError(f"{name} is empty (shape {tuple(y.shape)})")
    B.check_finite(y, name)
    if psf is None:
        raise TypeError("psf must be an array (the blur kernel), got None")
    psf = validate_psf(psf, ndim=ndim, image_shape=y.shape[-ndim:] if min_size else None,
                       normalize=True)
    if type(psf) is not type(y) or B.device_key(psf) != B.device_key(y) or psf.dtype != y.dtype:
        grad = B.is_torch(psf) and psf.requires_grad and B.is_torch(y)
        psf = B.asarray_like(psf, y) if not grad else psf.to(device=y.device, dtype=y.dtype)
    lead_p = tuple(int(v) for v in psf.shape[:-ndim])
    lead_y = tuple(int(v) for v in y.shape[:-ndim])
    try:
        np.broadcast_shapes(lead_p, lead_y)
    except ValueError:
        raise ValueError(
            f"psf leading axes {lead_p} do not broadcast against the image's leading axes "
            f"{lead_y}; give one PSF, or one per channel"
        ) from None
    if len(lead_p) > len(lead_y) or any(p != 1 and p != q for p, q in
                                         zip(lead_p[::-1], lead_y[::-1])):
        raise ValueError(
            f"psf leading axes {lead_p} must broadcast into the image's leading axes {lead_y}"
        )
    op = _cached_operator(psf, ndim)
    return y, psf, op


_OPS: OrderedDict[tuple, Blur] = OrderedDict()
_OPS_MAX = 4


def _cached_operator(psf, ndim: int) -> Blur:
    """A circular :class:`Blur` for ``psf``, reused across calls with the same NumPy PSF.

    The operator caches its OTF per grid, so repeated solves with one PSF (video
    frames, tiles, benchmarks) skip the PSF transform. At most ``_OPS_MAX`` PSFs are
    kept; :func:`clear_otf_cache` empties it.
    """
    if not isinstance(psf, np.ndarray) or psf.size > 1 << 16:
        return Blur(psf, boundary="circular", ndim=ndim, normalize=False)
    key = (psf.shape, psf.dtype.str, ndim, hashlib.sha1(np.ascontiguousarray(psf)).hexdigest())
    op = _OPS.get(key)
    if op is None:
        op = Blur(psf.copy(), boundary="circular", ndim=ndim, normalize=False)
        _OPS[key] = op
        while len(_OPS) > _OPS_MAX:
            _OPS.popitem(last=False)
    else:
        _OPS.move_to_end(key)
    return op


_OP_DATA: weakref.WeakKeyDictionary[Blur, OrderedDict] = weakref.WeakKeyDictionary()


def op_cache(op: Blur) -> OrderedDict:
    """A small per-operator cache (e.g. Wiener filters), dropped with the operator."""
    d = _OP_DATA.get(op)
    if d is None:
        d = OrderedDict()
        _OP_DATA[op] = d
    return d


def cache_put(cache: OrderedDict, key, value, maxsize: int = 4) -> None:
    cache[key] = value
    cache.move_to_end(key)
    while len(cache) > maxsize:
        cache.popitem(last=False)


def clear_otf_cache() -> None:
    """Forget the cached blur operators (their OTFs and derived filters) of :func:`prepare`."""
    _OPS.clear()
    _OP_DATA.clear()


def scalar_eps(dtype) -> float:
    """A division guard relative to the dtype's resolution (1e-12 in float64, ~1e-6 in float32)."""
    if type(dtype).__module__.startswith("torch"):  # a torch.dtype (torch already imported)
        import torch

        return float(torch.finfo(dtype).eps) ** 0.75
    return float(np.finfo(np.dtype(dtype)).eps) ** 0.75


def frequency_grid(grid: Sequence[int], like: Any):
    """Per-axis arrays :math:`2 - 2\\cos\\omega_i` on the rfft layout of ``grid`` (broadcastable)."""
    nd = len(grid)
    outs = []
    for i, g in enumerate(grid):
        f = np.fft.rfftfreq(g) if i == nd - 1 else np.fft.fftfreq(g)
        v = 2.0 - 2.0 * np.cos(2 * np.pi * f)
        shape = [1] * nd
        shape[i] = v.size
        outs.append(v.reshape(shape))
    dt = like.real.dtype if hasattr(like, "real") and not B.is_torch(like) else None
    if B.is_torch(like):
        import torch

        dt = like.dtype if not like.is_complex() else (torch.float64 if like.dtype ==
                                                       torch.complex128 else torch.float32)
    return [B.asarray_like(v, like, dtype=dt) for v in outs]


# --------------------------------------------------------------------- element-wise helpers
def imul(a, b):
    """``a *= b`` in place for NumPy, ``a * b`` otherwise; returns the result."""
    if isinstance(a, np.ndarray) and a.flags.writeable:
        np.multiply(a, b, out=a)
        return a
    return a * b


def iadd(a, b):
    if isinstance(a, np.ndarray) and a.flags.writeable:
        np.add(a, b, out=a)
        return a
    return a + b


def maximum(xp, a, v: float):
    """Element-wise ``max(a, v)`` for a Python scalar ``v`` on every backend."""
    if B.is_torch(a):
        return a.clamp(min=v)
    return xp.maximum(a, v)


def abs2(H):
    """``|H|^2`` of a complex array, as a real array."""
    return H.real * H.real + H.imag * H.imag


# --------------------------------------------------------------------- finite differences
def grad(x, ndim: int):
    """Periodic forward differences along the trailing ``ndim`` axes (list, one per axis)."""
    xp = B.namespace(x)
    out = []
    for ax in range(-ndim, 0):
        out.append(xp.roll(x, -1, axis=ax) - x)
    return out


def div(gs, ndim: int):
    """Periodic divergence, the negative adjoint of :func:`grad`."""
    xp = B.namespace(gs[0])
    out = None
    for g, ax in zip(gs, range(-ndim, 0)):
        d = g - xp.roll(g, 1, axis=ax)
        out = d if out is None else out + d
    return out


def diff_otfs(grid: Sequence[int], like: Any):
    """OTFs of the forward differences on ``grid`` (rfft layout), one per axis."""
    nd = len(grid)
    outs = []
    for i in range(nd):
        k = np.zeros(grid)
        idx0 = (0,) * nd
        k[idx0] = -1.0
        idx1 = tuple((g - 1) if j == i else 0 for j, g in enumerate(grid))
        k[idx1] = 1.0
        outs.append(B.rfftn(B.asarray_like(k, like), axes=axes(nd)))
    return outs


# --------------------------------------------------------------------- diagnostics
def psnr(x, ref, data_range: float = 1.0) -> float:
    d = x - ref
    mse = float((d * d).mean())
    return float("inf") if mse <= 0 else 10.0 * np.log10(data_range ** 2 / mse)


def check_reference(reference, shape, name: str = "reference"):
    if reference is None:
        return None
    if tuple(int(v) for v in reference.shape) != tuple(int(v) for v in shape):
        raise ValueError(
            f"{name} must have the shape of the restored image {tuple(shape)}, "
            f"got {tuple(reference.shape)}"
        )
    return reference


def progress_bar(total: int | None, enable: bool, desc: str):
    """A tqdm bar when ``enable`` (else a no-op object with ``update``/``close``)."""
    if enable:
        from tqdm.auto import tqdm

        return tqdm(total=total, desc=desc, leave=False)

    class _Null:
        def update(self, n=1):
            pass

        def set_postfix(self, **kw):
            pass

        def close(self):
            pass

    return _Null()


class Timer:
    def __init__(self):
        self.t0 = time.perf_counter()

    def __call__(self) -> float:
        return time.perf_counter() - self.t0
