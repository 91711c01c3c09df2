"""Memory guard: estimate the peak memory of a restoration and refuse before allocating.

Every entry point of :mod:`hybrid_deblur.scale` (and the ``deblur``/``batch`` CLI
paths that call it) asks :func:`check_memory` before it reads or allocates an
image: the estimate is ``buffers x FFT grid x itemsize`` (:func:`estimate_memory`),
the budget is a fraction of the memory the operating system reports as available
(:func:`available_memory`: psutil, ``/proc/meminfo`` and the cgroup limit). When
the estimate does not fit, :class:`MemoryLimitError` says in one line what is
needed, what is available and how to tile.

Examples
--------
>>> from hybrid_deblur.scale import estimate_memory, check_memory, MemoryLimitError
>>> estimate_memory((2048, 2048), "float32", method="wiener", psf_shape=(15, 15)) > 2048 ** 2 * 4
True
>>> try:
...     check_memory((200_000, 200_000), "float32", method="rl", available=8 * 2**30)
... except MemoryLimitError as e:
...     print(str(e).splitlines()[0][:40])
rl on a 200000x200000 float32 image need
"""

from __future__ import annotations

import math
import os
from collections.abc import Sequence
from typing import Any

import numpy as np

__all__ = ["BUFFERS", "MemoryLimitError", "available_memory", "check_memory", "estimate_memory",
           "format_bytes"]

#: Peak memory of one solve in units of the (padded) grid size x itemsize. Measured with
#: ``tracemalloc`` on 1024^2 float32 images and a 15x15 PSF, ``boundary="auto"`` (wiener 5.6,
#: tikhonov 5.0, rl 4.7, rl-tv 14.8, hqs-tv 15.0, hqs-hl 22.5), and with the growth of
#: ``ru_maxrss`` for the torch models (unrolled-hqs 72, deep-wiener 114, unrolled-rl 72 float32
#: image sizes); rounded up by ~30 % for allocator slack and the input/output arrays.
BUFFERS: dict[str, float] = {
    "wiener": 8.0, "tikhonov": 8.0, "rl": 7.0, "rl-tv": 20.0, "hqs-tv": 20.0, "hqs-hl": 30.0,
    "unrolled-hqs": 100.0, "deep-wiener": 150.0, "unrolled-rl": 100.0,
}
#: methods not in :data:`BUFFERS` (e.g. registered later) are counted as this many buffers
DEFAULT_BUFFERS = 30.0
#: learned methods not in :data:`BUFFERS` (torch networks: activations dominate)
LEARNED_BUFFERS = 150.0
#: share of the available memory that a job may plan to use
DEFAULT_FRACTION = 0.8


class MemoryLimitError(ValueError, MemoryError):
    """A request whose estimated peak memory exceeds the budget (raised before allocating).

    A ``ValueError`` (bad input for this machine: the CLI prints it as one line) and a
    ``MemoryError``.
    """


def format_bytes(n: float) -> str:
    """``1536 -> '1.5 KiB'`` (binary units)."""
    n = float(n)
    for unit in ("B", "KiB", "MiB", "GiB", "TiB", "PiB"):
        if abs(n) < 1024 or unit == "PiB":
            return f"{n:.0f} {unit}" if unit == "B" else f"{n:.1f} {unit}"
        n /= 1024
    return f"{n:.1f} PiB"  # pragma: no cover


def _cgroup_limit() -> int | None:
    for path in ("/sys/fs/cgroup/memory.max", "/sys/fs/cgroup/memory/memory.limit_in_bytes"):
        try:
            with open(path) as f:
                txt = f.read().strip()
        except OSError:
            continue
        if txt.isdigit() and int(txt) < 2**60:
            return int(txt)
    return None


def available_memory() -> int:
    """Bytes of memory available to this process now.

    ``psutil.virtual_memory().available`` (or ``MemAvailable`` of ``/proc/meminfo``),
    capped by a cgroup memory limit when one is set. The environment variable
    ``HYBRID_DEBLUR_MEMORY_LIMIT`` (bytes, or with a ``K``/``M``/``G`` suffix) overrides it.

    Examples
    --------
    >>> from hybrid_deblur.scale import available_memory
    >>> available_memory() > 0
    True
    """
    env = os.environ.get("HYBRID_DEBLUR_MEMORY_LIMIT")
    if env:
        return _parse_bytes(env, "HYBRID_DEBLUR_MEMORY_LIMIT")
    avail = None
    try:
        import psutil

        avail = int(psutil.virtual_memory().available)
    except (ImportError, OSError, AttributeError):  # pragma: no cover - fall back to /proc
        try:
            with open("/proc/meminfo") as f:
                for line in f:
                    if line.startswith("MemAvailable:"):
                        avail = int(line.split()[1]) * 1024
                        break
        except OSError:
            pass
    if avail is None:  # pragma: no cover - unknown platform: do not block
        avail = 2**62
    lim = _cgroup_limit()
    return min(avail, lim) if lim else avail


def _parse_bytes(v: Any, name: str) -> int:
    s = str(v).strip().upper().removesuffix("B").removesuffix("I")
    mult = {"K": 2**10, "M": 2**20, "G": 2**30, "T": 2**40}.get(s[-1:], 1)
    try:
        out = float(s[:-1] if mult > 1 else s) * mult
    except ValueError:
        raise ValueError(f"{name} must be a size in bytes (e.g. 4000000000 or 4G), got {v!r}") from None
    if not math.isfinite(out) or out <= 0:
        raise ValueError(f"{name} must be a positive size, got {v!r}")
    return int(out)


def _shape(shape: Any) -> tuple[int, ...]:
    try:
        out = tuple(int(s) for s in shape)
    except (TypeError, ValueError):
        raise TypeError(f"shape must be a sequence of non-negative integers, got {shape!r}") from None
    if not out or any(s < 0 for s in out):
        raise ValueError(f"shape must be a non-empty sequence of non-negative integers, got {shape!r}")
    return out


def estimate_memory(shape: Sequence[int], dtype: Any = "float32", *, method: str = "wiener",
                    psf_shape: Sequence[int] | None = None, ndim: int | None = None,
                    boundary: str = "auto") -> int:
    """Estimated peak bytes of restoring an image of ``shape`` in one piece.

    Parameters
    ----------
    shape : sequence of int
        Image shape ``(..., H, W)`` (leading axes: channels / batch).
    dtype : dtype-like
        Working dtype (integers count as float64, the solvers' promotion rule).
    method : str
        Registry name (``wiener``, ``rl``, ``hqs-hl``, learned names...).
    psf_shape : sequence of int, optional
        PSF shape; its spatial size pads the FFT grid.
    ndim : int, optional
        Spatial axes (default: ``len(psf_shape)`` or 2).
    boundary : str
        ``"circular"`` solves on the image grid; every other mode pads by the PSF.

    Returns
    -------
    int
        ``BUFFERS[method] x prod(grid) x itemsize`` where ``grid`` is the spatial shape
        padded by ``2 (k - 1)`` per axis (0 for ``circular``) times the leading axes.

    Notes
    -----
    The buffer counts (:data:`BUFFERS`) are measured peaks of the current solvers
    (see the module source); the learned models are counted in float32.

    Examples
    --------
    >>> from hybrid_deblur.scale import estimate_memory
    >>> estimate_memory((1000, 1000), "float64", method="rl", boundary="circular")
    56000000
    """
    shape = _shape(shape)
    try:
        dt = np.dtype(dtype)
    except TypeError:
        raise TypeError(f"dtype must be a NumPy dtype, got {dtype!r}") from None
    if dt.kind in "biu":
        dt = np.dtype(np.float64)
    elif dt.kind == "c":
        dt = np.dtype(dt.char.lower()) if dt.char in "FD" else np.dtype(np.float64)
    from .params import is_learned

    learned = is_learned(method)
    if learned:
        dt = np.dtype(np.float32)
    ks = _shape(psf_shape) if psf_shape is not None else ()
    nd = int(ndim) if ndim is not None else (len(ks) or 2)
    nd = min(nd, len(shape))
    ks = (ks[-nd:] if ks else (1,) * nd)
    ks = (1,) * (nd - len(ks)) + tuple(ks)
    pad = 0 if boundary == "circular" else 2
    grid = [s + pad * (k - 1) for s, k in zip(shape[-nd:], ks)]
    n = math.prod(shape[:-nd]) * math.prod(grid)
    default = LEARNED_BUFFERS if learned else DEFAULT_BUFFERS
    return int(BUFFERS.get(method, default) * n * dt.itemsize)


def check_memory(shape: Sequence[int], dtype: Any = "float32", *, method: str = "wiener",
                 psf_shape: Sequence[int] | None = None, ndim: int | None = None,
                 boundary: str = "auto", workers: int = 1, extra: int = 0,
                 available: int | None = None, fraction: float = DEFAULT_FRACTION,
                 what: str | None = None, hint: str | None = None) -> int:
    """Raise :class:`MemoryLimitError` unless the job fits; return the estimate in bytes.

    Parameters
    ----------
    shape, dtype, method, psf_shape, ndim, boundary
        As in :func:`estimate_memory` (for a tiled job: one tile with its halo).
    workers : int
        Number of solves running at the same time (tiles in flight).
    extra : int
        Further bytes held meanwhile (e.g. a whole input read into memory).
    available : int, optional
        Bytes available (default :func:`available_memory`).
    fraction : float
        Share of ``available`` the job may use.
    what : str, optional
        How to name the job in the message (default ``"<method> on a HxW <dtype> image"``).
    hint : str, optional
        The remedy to print (default: tile it, with the numbers of a tile size that fits).

    Returns
    -------
    int
        The estimated peak bytes.

    Examples
    --------
    >>> from hybrid_deblur.scale import check_memory
    >>> check_memory((256, 256), "float32", method="wiener", available=2**30) < 2**30
    True
    """
    if not isinstance(workers, (int, np.integer)) or workers < 1:
        raise ValueError(f"workers must be a positive integer, got {workers!r}")
    if not 0 < float(fraction) <= 1:
        raise ValueError(f"fraction must be in (0, 1], got {fraction!r}")
    need = workers * estimate_memory(shape, dtype, method=method, psf_shape=psf_shape, ndim=ndim,
                                     boundary=boundary) + int(extra)
    avail = available_memory() if available is None else int(available)
    budget = int(avail * float(fraction))
    if need <= budget:
        return need
    shape = _shape(shape)
    dt = np.dtype(dtype)
    what = what or f"{method} on a {'x'.join(map(str, shape))} {dt.name} image"
    if hint is None:
        per_px = max(estimate_memory((1024, 1024), dtype, method=method, psf_shape=psf_shape,
                                     boundary=boundary) / 1024 ** 2, 1e-9)
        lead = math.prod(shape[:-2]) if len(shape) > 2 else 1
        room = max(budget - int(extra), 0) / max(workers, 1) / max(lead, 1)
        tile = min(int(math.sqrt(room / per_px) * 0.8) // 64 * 64, 2048)
        hint = (f"tile it: hybrid-deblur deblur IMAGE --tile {tile} (or deconvolve_tiled(..., "
                f"chunks={tile}))" if tile >= 128 else
                "reduce the number of parallel workers or free memory; even small tiles do not fit")
    raise MemoryLimitError(
        f"{what} needs ~{format_bytes(need)} (estimate: {format_bytes(need - extra)} for "
        f"{workers} solve(s) + {format_bytes(extra)} held), but only {format_bytes(avail)} is "
        f"available ({fraction:.0%} = {format_bytes(budget)} may be used); {hint}")
