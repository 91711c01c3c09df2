"""Restore every image of a folder: resumable, atomic per file, one line per failure.

:func:`deblur_folder` walks the input folder in name order. A file whose output
already exists is skipped (outputs are written atomically by
:func:`hybrid_deblur.io.imwrite`, so an existing output is a finished one), which
makes a killed run resumable by running it again; temporary files that a killed
run left behind are removed first. Each file is checked against the memory guard
before it is read; a file that cannot be read, does not fit or fails to restore
is reported in one line and the batch goes on.

Examples
--------
>>> import os, tempfile
>>> import numpy as np
>>> from hybrid_deblur.scale import deblur_folder
>>> src, dst = tempfile.mkdtemp(), tempfile.mkdtemp()
>>> for i in range(3):
...     np.save(os.path.join(src, f"im{i}.npy"), np.random.default_rng(i).random((32, 32)))
>>> rep = deblur_folder(src, dst, np.ones((3, 3)) / 9, "wiener", nsr=0.01, progress=False)
>>> len(rep["done"]), len(rep["failed"])
(3, 0)
>>> len(deblur_folder(src, dst, np.ones((3, 3)) / 9, "wiener", progress=False)["skipped"])
3
"""

from __future__ import annotations

import fnmatch
import os
import sys
import time
from pathlib import Path
from typing import Any, TextIO

import numpy as np

from .arrays import input_shape
from .memory import check_memory

__all__ = ["IMAGE_EXTENSIONS", "deblur_folder", "list_images"]

#: files the batch picks up (the readable formats of :mod:`hybrid_deblur.io`)
IMAGE_EXTENSIONS = (".png", ".jpg", ".jpeg", ".tif", ".tiff", ".bmp", ".npy")
#: extensions an output can take (``.bmp`` inputs are written as ``.png``)
_OUT_EXT = {".bmp": ".png"}


def list_images(in_dir: str | os.PathLike, pattern: str | None = None) -> list[Path]:
    """Image files of ``in_dir`` (not recursive, hidden files skipped), sorted by name."""
    d = Path(in_dir)
    if not d.is_dir():
        raise NotADirectoryError(f"input folder not found or not a folder: {os.fspath(in_dir)!r}")
    out = []
    for p in sorted(d.iterdir()):
        if p.name.startswith(".") or not p.is_file() or p.suffix.lower() not in IMAGE_EXTENSIONS:
            continue
        if pattern and not fnmatch.fnmatch(p.name, pattern):
            continue
        out.append(p)
    return out


def _target(src: Path, out_dir: Path, out_ext: str | None) -> Path:
    ext = out_ext if out_ext else _OUT_EXT.get(src.suffix.lower(), src.suffix)
    if not ext.startswith("."):
        ext = "." + ext
    return out_dir / (src.stem + ext)


def deblur_folder(in_dir: str | os.PathLike, out_dir: str | os.PathLike, psf: Any,
                  method: str = "wiener", *, pattern: str | None = None, out_ext: str | None = None,
                  linear: bool = True, gray: bool = False, boundary: str = "auto",
                  overwrite: bool = False, tile: int | None = None, scheduler: Any = None,
                  memory_fraction: float = 0.8, progress: bool = True,
                  stream: TextIO | None = None, **options: Any) -> dict:
    """Restore every image of ``in_dir`` into ``out_dir`` (same names).

    Parameters
    ----------
    in_dir, out_dir : path
        Input folder (``.png .jpg .tif .bmp .npy``, not recursive) and output folder
        (created if needed).
    psf : array
        Blur kernel used for every image.
    method : str
        Registry name (:func:`hybrid_deblur.analysis.registry.get_method`).
    pattern : str, optional
        Shell pattern on file names (e.g. ``"*.png"``).
    out_ext : str, optional
        Output extension (default: the input's; ``.bmp`` -> ``.png``).
    linear, gray : bool
        As :func:`hybrid_deblur.io.imread` (sRGB decoding; luminance).
    boundary : str
        Boundary model of the method.
    overwrite : bool
        Restore files whose output exists too (default: skip them: resume).
    tile : int, optional
        Restore each image through :func:`~hybrid_deblur.scale.deconvolve_tiled` with
        tiles of this size (big images).
    scheduler : optional
        Scheduler for ``tile`` (see :func:`~hybrid_deblur.scale.scheduler_context`).
    memory_fraction : float
        Memory-guard budget (share of available memory).
    progress : bool
        A progress bar over files on stderr.
    stream : file, optional
        Where failure lines go (default ``sys.stderr``).
    **options
        Passed to the method.

    Returns
    -------
    dict
        ``done`` / ``skipped`` (lists of input names), ``failed`` (name -> one-line
        reason), ``total``, ``seconds``.

    Examples
    --------
    >>> from hybrid_deblur.scale.batch import list_images
    >>> import tempfile
    >>> list_images(tempfile.mkdtemp())
    []
    """
    from ..analysis.registry import get_method
    from ..io import clean_stale_temporaries, imread, imwrite

    fn = get_method(method)  # unknown method: fails before any file is touched
    files = list_images(in_dir, pattern)
    dst = Path(out_dir)
    if dst.exists() and not dst.is_dir():
        raise NotADirectoryError(f"output path exists and is not a folder: {os.fspath(out_dir)!r}")
    dst.mkdir(parents=True, exist_ok=True)
    if Path(in_dir).resolve() == dst.resolve() and not out_ext:
        raise ValueError("out_dir must differ from in_dir (or give out_ext), or inputs are overwritten")
    stream = sys.stderr if stream is None else stream
    k = np.asarray(psf)
    rep: dict = {"done": [], "skipped": [], "failed": {}, "total": len(files)}
    t0 = time.perf_counter()
    bar = None
    if progress:
        from tqdm.auto import tqdm

        bar = tqdm(total=len(files), desc=f"batch {method}", unit="file", file=sys.stderr)
    say = (bar.write if bar is not None else (lambda s: print(s, file=stream, flush=True)))
    try:
        for src in files:
            out = _target(src, dst, out_ext)
            clean_stale_temporaries(out)       # leftovers of a killed run
            if out.exists() and not overwrite:
                rep["skipped"].append(src.name)
            else:
                try:
                    _one(src, out, k, fn, method, linear=linear, gray=gray, boundary=boundary,
                         tile=tile, scheduler=scheduler, fraction=memory_fraction,
                         imread=imread, imwrite=imwrite, options=options)
                    rep["done"].append(src.name)
                except Exception as exc:  # noqa: BLE001 - one bad file must not stop the batch
                    msg = " ".join(str(exc).split()) or type(exc).__name__
                    rep["failed"][src.name] = msg
                    line = f"FAILED {src}: {msg}"
                    say(line) if bar is not None else print(line, file=stream, flush=True)
            if bar is not None:
                bar.update(1)
                bar.set_postfix(failed=len(rep["failed"]), skipped=len(rep["skipped"]))
    finally:
        if bar is not None:
            bar.close()
    rep["seconds"] = round(time.perf_counter() - t0, 3)
    return rep


def _one(src: Path, out: Path, k, fn, method, *, linear, gray, boundary, tile, scheduler,
         fraction, imread, imwrite, options) -> None:
    shape, dt = input_shape(src)
    if gray and len(shape) == 3:
        shape = shape[1:]
    if tile:
        from .tiled import deconvolve_tiled

        y = imread(os.fspath(src), linear=linear, gray=gray)
        x = deconvolve_tiled(y, k, method, chunks=int(tile), boundary=boundary, scheduler=scheduler,
                             memory_fraction=fraction, **options)
    else:
        check_memory(shape, dt, method=method, psf_shape=k.shape, boundary=boundary,
                     fraction=fraction, what=f"{method} on {src.name} ({'x'.join(map(str, shape))})",
                     hint="restore it with --tile 1024 (tiled)")
        y = imread(os.fspath(src), linear=linear, gray=gray)
        x = fn(y, k, boundary=boundary, **options)
        if hasattr(x, "detach"):
            x = x.detach().cpu().numpy()
        x = np.asarray(x)
    imwrite(os.fspath(out), x, linear=linear)
