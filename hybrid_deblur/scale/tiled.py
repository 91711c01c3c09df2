"""Tiled (Dask) deconvolution of images and stacks larger than memory.

:func:`deconvolve_tiled` splits the image into chunks, gives every chunk a halo
from its neighbours (``dask.array.map_overlap``), restores each haloed tile with
any registered method and keeps the chunk's centre. Outer image edges get no
halo (``boundary="none"``): there the tile solver's own ring-free boundary model
(``boundary="auto"``: reflect + taper for the linear filters, the masked
valid-mode problem for the iterative ones) treats them exactly as the whole-image
solve does. Data-dependent parameters are resolved once for the whole image
(:func:`~hybrid_deblur.scale.params.freeze_options`), so tiles differ from the
monolithic result only by what lies beyond their halo.

Examples
--------
>>> import numpy as np
>>> from hybrid_deblur.physics import Blur
>>> from hybrid_deblur.psf import gaussian
>>> from hybrid_deblur.scale import deconvolve_tiled
>>> from hybrid_deblur.solvers import wiener
>>> k = gaussian(1.5, 9)
>>> y = Blur(k, "reflect")(np.random.default_rng(0).random((512, 512)))
>>> x, info = deconvolve_tiled(y, k, "wiener", chunks=128, nsr=0.01, return_info=True)
>>> h = info["halo"][0]                       # 37: the filter's reach for nsr = 0.01
>>> bool(np.abs(x - wiener(y, k, nsr=0.01))[h:-h, h:-h].max() < 1e-6)
True
"""

from __future__ import annotations

import contextlib
import math
import os
import shutil
from pathlib import Path
from typing import Any

import numpy as np

from .arrays import NpyRegionWriter, open_input
from .memory import check_memory, estimate_memory, format_bytes
from .params import accepts, freeze_options, influence_radius, is_learned

__all__ = ["TILE_BOUNDARIES", "deconvolve_tiled", "scheduler_context"]

#: boundary models a tile can use at the true image edges (circular and valid cannot be tiled)
TILE_BOUNDARIES = ("auto", "reflect", "replicate", "zero")


def _dask():
    try:
        import dask.array as da
    except ImportError:  # pragma: no cover - dask is in the dist/dev extras
        raise ValueError("tiled deconvolution needs dask: pip install 'hybrid_deblur[dist]'") from None
    return da


def _cores() -> int:
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:  # pragma: no cover
        return os.cpu_count() or 1


@contextlib.contextmanager
def scheduler_context(scheduler: Any = None, workers: int | None = None,
                      memory_limit: Any = "auto"):
    """Keyword arguments for ``dask.compute`` for the chosen scheduler (a context manager).

    Parameters
    ----------
    scheduler : {None, "threads", "sync", "local"} or str
        ``None``/``"threads"``: dask's threaded scheduler in this process (NumPy and SciPy
        FFTs release the GIL). ``"sync"``: one thread (debugging). ``"local"``: a
        ``dask.distributed.LocalCluster`` (one single-threaded worker process per core,
        each with ``memory_limit``), closed on exit. Anything else is the address of a
        running scheduler (``tcp://host:8786``); the client is closed on exit, the
        cluster is left running.
    workers : int, optional
        Threads (``threads``) or worker processes (``local``); default: the cores.
    memory_limit : str or int
        Per-worker limit of a ``local`` cluster.

    Examples
    --------
    >>> from hybrid_deblur.scale import scheduler_context
    >>> with scheduler_context("sync") as kw:
    ...     kw
    {'scheduler': 'sync'}
    """
    n = int(workers) if workers else _cores()
    if scheduler in (None, "threads"):
        yield {"scheduler": "threads", "num_workers": n}
        return
    if scheduler in ("sync", "synchronous"):
        yield {"scheduler": "sync"}
        return
    if not isinstance(scheduler, str):
        raise TypeError(f"scheduler must be None, 'threads', 'sync', 'local' or an address, "
                        f"got {scheduler!r}")
    try:
        from distributed import Client, LocalCluster
    except ImportError:
        raise ValueError(f"scheduler={scheduler!r} needs dask.distributed: "
                         "pip install 'hybrid_deblur[dist]'") from None
    if scheduler == "local":
        with LocalCluster(n_workers=n, threads_per_worker=1, processes=True,
                          memory_limit=memory_limit, dashboard_address=None) as cluster, \
                Client(cluster) as client:
            yield {"scheduler": client}
        return
    try:
        client = Client(scheduler, timeout="10s")
    except (OSError, TimeoutError) as exc:
        raise OSError(f"cannot reach the dask scheduler at {scheduler!r}: {exc}") from None
    try:
        yield {"scheduler": client}
    finally:
        client.close()


def _solve_block(block: np.ndarray, psf: np.ndarray, method: str, boundary: str, options: dict):
    from ..analysis.registry import get_method

    out = get_method(method)(block, psf, boundary=boundary, **options)
    if hasattr(out, "detach"):
        out = out.detach().cpu().numpy()
    return np.asarray(out, dtype=block.dtype)


def _spatial_ndim(psf: np.ndarray, ndim: int | None) -> int:
    if ndim is None:
        return 3 if psf.ndim >= 3 else 2
    if not isinstance(ndim, (int, np.integer)) or ndim not in (1, 2, 3):
        raise ValueError(f"ndim must be 1, 2 or 3 (spatial axes), got {ndim!r}")
    return int(ndim)


def _per_axis(v: Any, nd: int, name: str) -> tuple[int, ...]:
    vals = (v,) * nd if np.ndim(v) == 0 else tuple(v)
    try:
        vals = tuple(int(a) for a in vals)
    except (TypeError, ValueError):
        raise TypeError(f"{name} must be an int or {nd} ints, got {v!r}") from None
    if len(vals) != nd or any(a < 0 for a in vals):
        raise ValueError(f"{name} must be a non-negative int or {nd} of them, got {v!r}")
    return vals


def _write(out, output: str, compute_kw: dict):
    """Store the lazy result ``out`` into ``output`` (.npy, .tif/.tiff, .zarr) atomically."""
    da = _dask()
    path = Path(output)
    ext = path.suffix.lower()
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tiled.tmp")
    if ext not in (".npy", ".tif", ".tiff", ".zarr"):
        raise ValueError(f"output={output!r}: must end in .npy, .tif, .tiff or .zarr")
    need = math.prod(out.shape) * out.dtype.itemsize * (2 if ext in (".tif", ".tiff") else 1)
    free = shutil.disk_usage(path.parent if str(path.parent) else ".").free
    if need > 0.95 * free:
        raise ValueError(f"output={output!r} needs ~{format_bytes(need)} on disk, only "
                         f"{format_bytes(free)} is free there; write to another disk")
    try:
        if ext == ".zarr":
            try:
                import zarr  # noqa: F401
            except ImportError:
                raise ValueError("writing .zarr needs the 'zarr' package") from None
            import dask

            dask.compute(out.to_zarr(os.fspath(tmp), overwrite=True, compute=False), **compute_kw)
            if path.exists():
                shutil.rmtree(path)
            os.replace(tmp, path)
            return
        raw = tmp.with_name(tmp.name + ".npy")
        writer = NpyRegionWriter.create(raw, out.shape, out.dtype)
        da.store(out, writer, lock=False, compute=True, **compute_kw)
        if ext == ".npy":
            os.replace(raw, path)
            return
        _npy_to_tiff(writer, tmp)
        os.remove(raw)
        os.replace(tmp, path)
    finally:
        for p in (tmp, tmp.with_name(tmp.name + ".npy")):
            if p.is_dir():
                shutil.rmtree(p, ignore_errors=True)
            elif p.exists():
                p.unlink()


def _npy_to_tiff(writer: NpyRegionWriter, tmp: Path, tile: int = 256) -> None:
    """Stream a raw result into a tiled float TIFF, one band of tiles at a time."""
    import tifffile

    src = writer.reader()
    shape = src.shape
    h, w = shape[-2:]
    planes = int(np.prod(shape[:-2])) if len(shape) > 2 else 1

    def tiles():
        for p in range(planes):
            lead = np.unravel_index(p, shape[:-2]) if len(shape) > 2 else ()
            for r in range(0, h, tile):
                band = src[tuple(lead) + (slice(r, min(r + tile, h)), slice(None))]
                for c in range(0, w, tile):
                    t = np.zeros((tile, tile), dtype=src.dtype)
                    piece = band[:, c:c + tile]
                    t[:piece.shape[0], :piece.shape[1]] = piece
                    yield t

    tifffile.imwrite(os.fspath(tmp), tiles(), shape=shape, dtype=src.dtype, tile=(tile, tile),
                     photometric="minisblack", bigtiff=np.prod(shape) * src.dtype.itemsize > 2**31)


def deconvolve_tiled(image: Any, psf: Any, method: str = "wiener", *, chunks: Any = 1024,
                     halo: Any = "auto", ndim: int | None = None, boundary: str = "auto",
                     output: str | os.PathLike | None = None, scheduler: Any = None,
                     workers: int | None = None, freeze: bool = True, memory_fraction: float = 0.8,
                     progress: bool = False, return_info: bool = False, **options: Any):
    """Restore a (possibly huge) image tile by tile with any registered method.

    Parameters
    ----------
    image : array, dask array or path
        ``(..., H, W)`` image or ``(..., Z, Y, X)`` stack (leading axes such as colour are
        kept whole in every tile). Paths: ``.npy``, ``.tif``/``.tiff`` (read per tile,
        never wholly), ``.zarr``.
    psf : array
        Blur kernel (``ndim`` spatial axes; one per channel allowed).
    method : str
        Registry name: ``wiener``, ``tikhonov``, ``rl``, ``rl-tv``, ``hqs-tv``, ``hqs-hl`` or a
        learned model (``unrolled-hqs``, ...).
    chunks : int or sequence of int
        Tile core size per spatial axis (the last tile of an axis may be smaller).
    halo : "auto", int or sequence of int
        Overlap per side; ``"auto"`` = :func:`~hybrid_deblur.scale.params.influence_radius`.
    ndim : int, optional
        Spatial axes (default: 3 for a 3-D PSF, else 2).
    boundary : {"auto", "reflect", "replicate", "zero"}
        Boundary model of every tile solve (only active at the true image edges).
    output : path, optional
        Write the result there (``.npy``, ``.tif``/``.tiff``, ``.zarr``; atomically, tile by
        tile) and return the path; default: return a NumPy array.
    scheduler : None, "threads", "sync", "local" or address
        See :func:`scheduler_context`.
    workers : int, optional
        Tiles in flight (threads or worker processes); default: the cores.
    freeze : bool
        Resolve automatic parameters once (:func:`~hybrid_deblur.scale.params.freeze_options`);
        ``False`` lets every tile choose its own (faster start, tiles may differ).
    memory_fraction : float
        Share of the available memory the job may plan to use (memory guard).
    progress : bool
        Show a progress bar over tiles.
    return_info : bool
        Also return a dict: frozen options, halo, chunks, tiles, estimated memory.
    **options
        Passed to the method (e.g. ``nsr=``, ``num_iter=``, ``sigma=``).

    Returns
    -------
    x : ndarray or str
        The restored image (same shape and float dtype as ``image``), or ``output``.
    info : dict, only with ``return_info=True``

    Raises
    ------
    MemoryLimitError
        When ``workers`` tiles (with halo), plus the result if kept in memory, do not fit.

    Notes
    -----
    A tile of core size :math:`c` is solved on :math:`c + 2h` pixels per axis, so the
    work overhead is :math:`((c+2h)/c)^d` per axis set (1.27 for :math:`c = 1024`,
    :math:`h = 64`). Linear methods: the tiled result differs from the whole-image one
    by at most ``tol`` of the filter mass per unit of observation beyond the halo.
    Within one halo of the *true* image border the two differ more: there each solve
    extends the image its own way (the whole-image solve's periodic taper joins opposite
    borders, a tile's joins the border to the tile's far side); both are ring-free.

    Examples
    --------
    >>> import numpy as np
    >>> from hybrid_deblur.scale import deconvolve_tiled
    >>> y = np.random.default_rng(1).random((200, 300)).astype(np.float32)
    >>> x = deconvolve_tiled(y, np.ones((3, 3)) / 9, "rl", chunks=100, num_iter=5)
    >>> x.shape, x.dtype
    ((200, 300), dtype('float32'))
    """
    da = _dask()
    from ..analysis.registry import get_method

    fn = get_method(method)  # unknown method: ValueError before any work
    if not isinstance(boundary, str) or boundary not in TILE_BOUNDARIES:
        raise ValueError(f"boundary={boundary!r} cannot be tiled; use one of {TILE_BOUNDARIES} "
                         "('circular' is periodic over the whole image, 'valid' changes its size)")
    k = np.asarray(open_input(psf)[...] if isinstance(psf, (str, os.PathLike)) else psf)
    if hasattr(psf, "detach"):
        k = psf.detach().cpu().numpy()
    nd = _spatial_ndim(k, ndim)
    if nd == 3 and is_learned(method):
        raise ValueError(f"method={method!r} restores 2-D images only; 3-D stacks take a classical "
                         "method (wiener, tikhonov, rl, rl-tv, hqs-tv, hqs-hl)")
    src = open_input(image)
    shape = tuple(int(s) for s in src.shape)
    if len(shape) < nd:
        raise ValueError(f"image must have at least {nd} axes (ndim={nd}), got shape {shape}")
    dt = np.dtype(src.dtype)
    dt = dt if dt.kind == "f" else np.dtype(np.float64)
    core = _per_axis(chunks, nd, "chunks")
    ks = k.shape[-nd:]
    if any(c < max(2 * s, 8) for c, s in zip(core, ks)):
        raise ValueError(f"chunks={chunks!r} is too small for a PSF of shape {ks}: each tile must "
                         "be at least twice the PSF")
    opts = freeze_options(src, k, method, ndim=nd, **options) if freeze else dict(options)
    if nd != 2 and accepts(fn, "ndim") and not is_learned(method):
        opts["ndim"] = nd
    depth = (_per_axis(influence_radius(k, method, ndim=nd, **{a: b for a, b in opts.items()
                                                              if a != "ndim"}), nd, "halo")
             if isinstance(halo, str) and halo == "auto" else _per_axis(halo, nd, "halo"))
    core = tuple(min(c, n) for c, n in zip(core, shape[-nd:]))
    for c, h, n in zip(core, depth, shape[-nd:]):
        if h > c and n > c:
            raise ValueError(f"halo {h} is larger than the tile size {c}: use chunks >= {h} "
                             "(dask cannot overlap more than one neighbouring chunk)")
    n_workers = 1 if scheduler in ("sync", "synchronous") else int(workers or _cores())
    tile_shape = shape[:-nd] + tuple(min(c + 2 * h, n) for c, h, n in zip(core, depth, shape[-nd:]))
    result_bytes = math.prod(shape) * dt.itemsize
    held = result_bytes if output is None else 0
    per_tile = check_memory(tile_shape, dt, method=method, psf_shape=ks, ndim=nd, workers=n_workers,
                            extra=held, fraction=memory_fraction,
                            what=f"tiled {method} ({n_workers} tiles of {'x'.join(map(str, tile_shape))}"
                                 f"{' + the result in memory' if held else ''})",
                            hint="use smaller chunks, fewer workers, or output=<file> "
                                 "(.npy/.tif/.zarr) to keep the result out of memory")
    x = src if isinstance(src, da.Array) else da.from_array(src, chunks=shape[:-nd] + core,
                                                            asarray=False, lock=False,
                                                            meta=np.empty((0,) * len(shape), dt))
    x = x.rechunk(shape[:-nd] + core).astype(dt)
    depth_map = {len(shape) - nd + i: h for i, h in enumerate(depth)}
    out = x.map_overlap(_Tile(k, method, boundary, opts), depth=depth_map, boundary="none",
                        trim=True, dtype=dt, meta=np.empty((0,) * len(shape), dt))
    info = {"method": method, "options": {a: (np.asarray(b).tolist() if isinstance(b, np.ndarray)
                                              else b) for a, b in opts.items()},
            "chunks": list(core), "halo": list(depth), "tiles": int(np.prod(out.numblocks)),
            "workers": n_workers, "estimated_peak_bytes": int(per_tile),
            "estimated_peak": format_bytes(per_tile),
            "monolithic_estimate": format_bytes(estimate_memory(shape, dt, method=method,
                                                                psf_shape=ks, ndim=nd))}
    pbar = contextlib.nullcontext()
    if progress and scheduler in (None, "threads", "sync", "synchronous"):
        from dask.diagnostics import ProgressBar

        pbar = ProgressBar(dt=1.0)
    with _fft_threads(n_workers), scheduler_context(scheduler, n_workers) as kw, pbar:
        if output is None:
            res = out.compute(**kw)
        else:
            _write(out, os.fspath(output), kw)
            res = os.fspath(output)
    return (res, info) if return_info else res


class _Tile:
    """The per-tile solve (a picklable callable for ``map_overlap``)."""

    def __init__(self, psf, method, boundary, options):
        self.psf, self.method, self.boundary, self.options = psf, method, boundary, options

    def __call__(self, block):
        return _solve_block(block, self.psf, self.method, self.boundary, self.options)


@contextlib.contextmanager
def _fft_threads(n_workers: int):
    """One FFT thread per tile when several tiles run at once (unless the user chose)."""
    key = "HYBRID_DEBLUR_FFT_WORKERS"
    old = os.environ.get(key)
    if old is None and n_workers > 1:
        os.environ[key] = "1"
    try:
        yield
    finally:
        if old is None:
            os.environ.pop(key, None)
