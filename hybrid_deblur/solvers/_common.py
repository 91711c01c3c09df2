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
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from .. import backend as B
from ..physics.blur import Blur
from ..physics.boundary import pad
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


def spatial(x: Any, ndim: int) -> tuple[int, ...]:
    return tuple(int(v) for v in x.shape[-ndim:])


def axes(ndim: int) -> tuple[int, ...]:
    return tuple(range(-ndim, 0))


def region(offsets: Sequence[int], sizes: Sequence[int]):
    """Index tuple ``(..., offset:offset+size, ...)`` over the trailing axes."""
    return (Ellipsis,) + tuple(slice(int(o), int(o) + int(n)) for o, n in zip(offsets, sizes))


def embed(y: Any, grid: Sequence[int], offsets: Sequence[int]):
    """Zero array of spatial ``grid`` (leading axes of ``y``) with ``y`` written at ``offsets``."""
    nd = len(grid)
    lead = tuple(int(v) for v in y.shape[:-nd])
    out = B.zeros_like_shape(y, lead + tuple(grid))
    out[region(offsets, spatial(y, nd))] = y
    return out


def scalar_eps(dtype) -> float:
    """A division guard relative to the dtype's resolution (1e-12 in float64, ~1e-6 in float32)."""
    if type(dtype).__module__.startswith("torch"):  # a torch.dtype (torch already imported)
        import torch

        return float(torch.finfo(dtype).eps) ** 0.75
    return float(np.finfo(np.dtype(dtype)).eps) ** 0.75


# --------------------------------------------------------------------- geometry
@dataclass
class Geometry:
    """Where the observation sits on the FFT grid and what is returned.

    ``grid`` is the spatial FFT grid; ``y_offset`` the offset of ``y`` on it;
    ``out_offset`` / ``out_shape`` the part of the grid that is returned.
    ``mask`` says whether only the observed pixels carry data (masked / valid model).
    """

    boundary: str
    grid: tuple[int, ...]
    y_offset: tuple[int, ...]
    out_offset: tuple[int, ...]
    out_shape: tuple[int, ...]
    masked: bool = False
    padded: bool = False
    extra: dict = field(default_factory=dict)

    def crop(self, x):
        return x[region(self.out_offset, self.out_shape)]


def masked_geometry(shape, ksize, boundary: str) -> Geometry:
    """Geometry of the ``valid``-mode problem solved with a mask on a periodic grid.

    The unknown scene is larger than ``y`` by ``k - 1``; on a grid of fast size
    ``>= n + k - 1`` the observed pixel ``m`` is the circular blur at grid
    position ``m + k - 1 - k // 2``, so ``y`` is embedded there and the scene
    occupies ``[0, n + k - 1)``. ``boundary="auto"`` returns the observed frame,
    ``"valid"`` returns the whole scene.
    """
    scene = tuple(n + k - 1 for n, k in zip(shape, ksize))
    grid = B.next_fast_shape(scene)
    off = tuple(k - 1 - k // 2 for k in ksize)
    if boundary == "valid":
        return Geometry(boundary, grid, off, (0,) * len(shape), scene, masked=True)
    return Geometry(boundary, grid, off, off, tuple(shape), masked=True)


def padded_geometry(shape, ksize, boundary: str, margin: float = 1.0) -> Geometry:
    """Geometry of the padded periodic problem used by the closed-form solvers.

    ``y`` is extended by at least ``margin * k`` pixels on every side (fast FFT size)
    so that the periodic seam lies far from the returned region.
    """
    minimum = [max(int(np.ceil(margin * k)), 4) for k in ksize]
    grid = B.next_fast_shape([n + 2 * p for n, p in zip(shape, minimum)])
    off = tuple((g - n) // 2 for g, n in zip(grid, shape))  # centred: margins >= minimum
    if boundary == "valid":
        out_off = tuple(o - (k - 1 - k // 2) for o, k in zip(off, ksize))
        out_shape = tuple(n + k - 1 for n, k in zip(shape, ksize))
        return Geometry(boundary, grid, off, out_off, out_shape, padded=True)
    return Geometry(boundary, grid, off, off, tuple(shape), padded=True)


def circular_geometry(shape) -> Geometry:
    shape = tuple(shape)
    return Geometry("circular", shape, (0,) * len(shape), (0,) * len(shape), shape)


def _take(x, idx: np.ndarray, axis: int):
    if B.is_torch(x):
        import torch

        return torch.index_select(x, axis, torch.tensor(np.array(idx), device=x.device))
    if B.is_cupy(x):
        import cupy

        return cupy.take(x, cupy.asarray(idx), axis=axis)
    return np.take(x, idx, axis=axis)


def _concat(parts, axis: int):
    if B.is_torch(parts[0]):
        import torch

        return torch.cat(parts, dim=axis)
    return B.namespace(parts[0]).concat(parts, axis=axis)


def smooth_periodic_pad(y: Any, widths: Sequence[tuple[int, int]]):
    """Extend ``y`` so that the result is continuous *and periodic* (no seam), cheaply.

    On every axis the margin (right part + left part, which are adjacent on the
    periodic grid) is filled with a raised-cosine cross-fade between the mirror
    image continuing the right edge and the mirror image continuing the left edge
    backwards. No FFT, a few passes over the margins only; works on every backend.
    """
    from ..physics.boundary import pad_index

    nd = len(widths)
    for i, (lft, rgt) in enumerate(widths):
        lft, rgt = int(lft), int(rgt)
        m = lft + rgt
        if m == 0:
            continue
        axis = y.ndim - nd + i
        n = int(y.shape[axis])
        t = np.arange(m)
        ia = pad_index(n, 0, m, "reflect")[n:]          # mirror continuing the right edge
        ib = pad_index(n, m, 0, "reflect")[:m]          # mirror continuing the left edge
        s = 0.5 - 0.5 * np.cos(np.pi * (t + 0.5) / m)   # 0 -> 1 across the gap
        shape = [1] * y.ndim
        shape[axis] = m
        s_arr = B.asarray_like(s.reshape(shape), y)
        gap = _take(y, ia, axis) * (1 - s_arr) + _take(y, ib, axis) * s_arr
        sl_r = [slice(None)] * y.ndim
        sl_l = [slice(None)] * y.ndim
        sl_r[axis] = slice(0, rgt)
        sl_l[axis] = slice(rgt, m)
        y = _concat([gap[tuple(sl_l)], y, gap[tuple(sl_r)]], axis)
    return y


def pad_observation(y: Any, geom: Geometry, op: Blur | None = None, mode: str = "reflect",
                    taper: bool = True):
    """Extend ``y`` onto ``geom.grid`` for a periodic solve, without a seam.

    ``mode="reflect"`` (used by ``auto`` and ``valid``): :func:`smooth_periodic_pad`
    over the whole margin. ``"replicate"`` / ``"zero"``: the inner half of the
    margin is that extension, the outer half the smooth periodic cross-fade.
    ``taper=False`` gives the plain extension (with its periodic seam).
    """
    nd = len(geom.grid)
    n = spatial(y, nd)
    widths = [(o, g - o - s) for o, g, s in zip(geom.y_offset, geom.grid, n)]
    if not taper:
        return pad(y, widths, mode)
    if mode == "reflect":
        return smooth_periodic_pad(y, widths)
    inner = [(lft // 2, rgt // 2) for lft, rgt in widths]
    outer = [(lft - a, rgt - b) for (lft, rgt), (a, b) in zip(widths, inner)]
    return smooth_periodic_pad(pad(y, inner, mode), outer)


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
