"""Array namespaces, FFT helpers and the dtype policy (DESIGN §4).

Every numerical function in :mod:`hybrid_deblur` takes the array namespace from
its inputs: NumPy arrays stay on the CPU and use :mod:`scipy.fft` with worker
threads, CuPy arrays stay on their GPU and use :mod:`cupy.fft` (with its plan
cache), torch tensors stay on their device and use :mod:`torch.fft` (and keep
autograd). There is no global backend switch.

Examples
--------
>>> import numpy as np
>>> from hybrid_deblur import backend
>>> x = np.ones((4, 4), dtype=np.float32)
>>> X = backend.rfftn(x, axes=(-2, -1))
>>> X.dtype, X.shape
(dtype('complex64'), (4, 3))
>>> backend.irfftn(X, s=(4, 4), axes=(-2, -1)).dtype
dtype('float32')
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from typing import Any

import numpy as np
import scipy.fft as _sfft
from array_api_compat import array_namespace

__all__ = [
    "as_float",
    "asarray_like",
    "check_finite",
    "complex_dtype_of",
    "device_key",
    "dtype_eps",
    "fft_workers",
    "fftn",
    "float_dtype",
    "gpu_available",
    "ifftn",
    "inplace_add",
    "inplace_mul",
    "irfftn",
    "is_cupy",
    "is_numpy",
    "is_torch",
    "maximum",
    "namespace",
    "next_fast_shape",
    "rfftn",
    "to_numpy",
    "zeros_like_shape",
]


def fft_workers() -> int:
    """Worker threads used by :mod:`scipy.fft` (``HYBRID_DEBLUR_FFT_WORKERS`` or all cores)."""
    env = os.environ.get("HYBRID_DEBLUR_FFT_WORKERS")
    if env:
        return max(1, int(env))
    return os.cpu_count() or 1


# ----------------------------------------------------------------------------- kinds
def is_torch(x: Any) -> bool:
    """True for a :class:`torch.Tensor` (without importing torch if it is not loaded)."""
    mod = type(x).__module__
    return mod.startswith("torch")


def is_cupy(x: Any) -> bool:
    """True for a CuPy array (without importing CuPy)."""
    return type(x).__module__.startswith("cupy")


def is_numpy(x: Any) -> bool:
    """True for a NumPy array or NumPy scalar."""
    return isinstance(x, (np.ndarray, np.generic))


def namespace(*arrays: Any):
    """Array-API namespace of the inputs (NumPy, CuPy or torch), via ``array_api_compat``.

    Python scalars and ``None`` are ignored. Mixing libraries raises ``TypeError``.
    """
    arrs = [a for a in arrays if a is not None and not isinstance(a, (int, float, complex))]
    if not arrs:
        return array_namespace(np.empty(0))
    return array_namespace(*arrs)


def gpu_available() -> bool:
    """True when CuPy is importable *and* a CUDA device is present."""
    try:
        import cupy

        return bool(cupy.cuda.is_available())
    except Exception:  # pragma: no cover - depends on the machine
        return False


def device_key(x: Any) -> str:
    """A hashable description of where ``x`` lives: ``'cpu'``, ``'cuda:0'``, ..."""
    if is_torch(x):
        return str(x.device)
    if is_cupy(x):
        return f"cupy:{x.device.id}"
    return "cpu"


def to_numpy(x: Any) -> np.ndarray:
    """Copy any supported array to a NumPy array (detaching torch tensors)."""
    if is_torch(x):
        return x.detach().cpu().numpy()
    if is_cupy(x):
        return x.get()
    return np.asarray(x)


# ----------------------------------------------------------------------------- dtypes
def float_dtype(x: Any):
    """The floating dtype that ``x`` is computed in (DESIGN §4, rule 4).

    float32/float64 (and float16/bfloat16 tensors) are kept; integers and booleans
    become float64 (NumPy/CuPy) or torch's default dtype.
    """
    if is_torch(x):
        import torch

        return x.dtype if x.is_floating_point() else torch.get_default_dtype()
    dt = np.dtype(x.dtype)
    if dt.kind == "f":
        return dt if dt.itemsize >= 4 else np.dtype(np.float32)
    if dt.kind == "c":
        raise TypeError(f"complex arrays are not images: got dtype {dt}; pass a real array")
    return np.dtype(np.float64)


def complex_dtype_of(dtype):
    """complex64 for float32 (and smaller), complex128 for float64; works for torch dtypes too."""
    try:
        import torch

        if isinstance(dtype, torch.dtype):
            return torch.complex128 if dtype == torch.float64 else torch.complex64
    except ImportError:  # pragma: no cover
        pass
    return np.dtype(np.complex128) if np.dtype(dtype) == np.float64 else np.dtype(np.complex64)


def as_float(x: Any, *, name: str = "x"):
    """Return ``x`` as a floating array of its own library, following the dtype policy.

    Lists and scalars become NumPy arrays. Raises ``TypeError`` for non-numeric input.
    """
    if not (is_numpy(x) or is_torch(x) or is_cupy(x)):
        try:
            x = np.asarray(x)
        except Exception as exc:  # pragma: no cover - exotic objects
            raise TypeError(f"{name} must be an array, got {type(x).__name__}") from exc
    if is_numpy(x):
        x = np.asarray(x)
        if x.dtype.kind not in "biuf":
            raise TypeError(
                f"{name} must be a real numeric array; got dtype {x.dtype}. "
                "Accepted: bool, integer, float16/32/64."
            )
        dt = float_dtype(x)
        return x if x.dtype == dt else x.astype(dt)
    dt = float_dtype(x)
    if x.dtype == dt:
        return x
    if is_torch(x):
        return x.to(dt)
    return x.astype(dt)


def asarray_like(a: Any, ref: Any, *, dtype=None):
    """Put ``a`` into the library, device and (floating) dtype of ``ref``.

    Used when a NumPy PSF meets a CuPy or torch image. Gradients of ``a`` are kept
    when ``a`` already is a torch tensor on the right device.
    """
    if is_torch(ref):
        import torch

        dt = dtype if dtype is not None else ref.dtype
        if is_torch(a):
            return a.to(device=ref.device, dtype=dt)
        return torch.as_tensor(to_numpy(a), device=ref.device, dtype=dt)
    if is_cupy(ref):
        import cupy

        dt = dtype if dtype is not None else ref.dtype
        with cupy.cuda.Device(ref.device.id):
            return cupy.asarray(a, dtype=dt)
    dt = dtype if dtype is not None else ref.dtype
    return np.asarray(to_numpy(a), dtype=dt)


def zeros_like_shape(ref: Any, shape: Sequence[int], dtype=None):
    """Zeros of ``shape`` in the library/device/dtype of ``ref``."""
    dt = ref.dtype if dtype is None else dtype
    if is_torch(ref):
        import torch

        return torch.zeros(tuple(shape), dtype=dt, device=ref.device)
    if is_cupy(ref):
        import cupy

        return cupy.zeros(tuple(shape), dtype=dt)
    return np.zeros(tuple(shape), dtype=dt)


def check_finite(x: Any, name: str = "image") -> None:
    """Raise ``ValueError`` naming ``name`` when ``x`` holds NaN or inf."""
    if is_torch(x):
        import torch

        ok = bool(torch.isfinite(x).all())
    elif is_cupy(x):
        import cupy

        ok = bool(cupy.isfinite(x).all())
    else:
        ok = bool(np.isfinite(x).all())
    if not ok:
        raise ValueError(
            f"{name} contains NaN or inf values; only finite pixel values are accepted "
            "(mask or inpaint them first, e.g. with `weights=` in richardson_lucy)"
        )


# ----------------------------------------------------------------------------- FFT
def next_fast_shape(shape: Sequence[int], *, real: bool = True) -> tuple[int, ...]:
    """Smallest sizes >= ``shape`` whose FFTs are fast (5-smooth / pocketfft friendly)."""
    return tuple(_sfft.next_fast_len(int(n), real=real) for n in shape)


def _norm_axes(x, axes, s):
    if axes is None:
        axes = tuple(range(-len(s), 0)) if s is not None else tuple(range(-x.ndim, 0))
    return tuple(axes)


def rfftn(x: Any, s: Sequence[int] | None = None, axes: Sequence[int] | None = None):
    """Real N-D FFT over ``axes`` (zero-padded to ``s``) in the library of ``x``."""
    axes = _norm_axes(x, axes, s)
    s = None if s is None else tuple(int(v) for v in s)
    if is_torch(x):
        import torch

        return torch.fft.rfftn(x, s=s, dim=axes)
    if is_cupy(x):
        import cupy

        return cupy.fft.rfftn(x, s=s, axes=axes)
    return _sfft.rfftn(x, s=s, axes=axes, workers=fft_workers())


def irfftn(X: Any, s: Sequence[int], axes: Sequence[int] | None = None):
    """Inverse of :func:`rfftn`; ``s`` (the real output shape over ``axes``) is required."""
    s = tuple(int(v) for v in s)
    axes = _norm_axes(X, axes, s)
    if is_torch(X):
        import torch

        return torch.fft.irfftn(X, s=s, dim=axes)
    if is_cupy(X):
        import cupy

        return cupy.fft.irfftn(X, s=s, axes=axes)
    return _sfft.irfftn(X, s=s, axes=axes, workers=fft_workers())


def fftn(x: Any, s: Sequence[int] | None = None, axes: Sequence[int] | None = None):
    """Complex N-D FFT in the library of ``x``."""
    axes = _norm_axes(x, axes, s)
    if is_torch(x):
        import torch

        return torch.fft.fftn(x, s=s, dim=axes)
    if is_cupy(x):
        import cupy

        return cupy.fft.fftn(x, s=s, axes=axes)
    return _sfft.fftn(x, s=s, axes=axes, workers=fft_workers())


def ifftn(X: Any, s: Sequence[int] | None = None, axes: Sequence[int] | None = None):
    """Inverse complex N-D FFT in the library of ``X``."""
    axes = _norm_axes(X, axes, s)
    if is_torch(X):
        import torch

        return torch.fft.ifftn(X, s=s, dim=axes)
    if is_cupy(X):
        import cupy

        return cupy.fft.ifftn(X, s=s, axes=axes)
    return _sfft.ifftn(X, s=s, axes=axes, workers=fft_workers())


# ----------------------------------------------------------------------------- element-wise
def maximum(a: Any, v: float):
    """Element-wise ``max(a, v)`` for a Python scalar ``v`` on every backend."""
    if is_torch(a):
        return a.clamp(min=v)
    return namespace(a).maximum(a, v)


def inplace_mul(a: Any, b: Any):
    """``a *= b`` in place for a writeable NumPy array, ``a * b`` otherwise; returns it."""
    if isinstance(a, np.ndarray) and a.flags.writeable:
        np.multiply(a, b, out=a)
        return a
    return a * b


def inplace_add(a: Any, b: Any):
    """``a += b`` in place for a writeable NumPy array, ``a + b`` otherwise; returns it."""
    if isinstance(a, np.ndarray) and a.flags.writeable:
        np.add(a, b, out=a)
        return a
    return a + b


def dtype_eps(dtype) -> float:
    """A division guard relative to the dtype's resolution (1e-12 float64, ~6e-6 float32)."""
    if type(dtype).__module__.startswith("torch"):
        import torch

        return float(torch.finfo(dtype).eps) ** 0.75
    return float(np.finfo(np.dtype(dtype)).eps) ** 0.75
