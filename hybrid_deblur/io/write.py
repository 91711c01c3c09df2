"""Writing image files and JSON atomically (never a partial or corrupt target).

:func:`atomic_write` writes a temporary file next to the target and renames it
over the target. The temporary file's name carries the writer's process id
(``.<name>.<pid>.<random>.tmp``): when a writer is killed (SIGKILL, power loss)
its temporary file stays behind, and the next write to the same target removes
every such leftover whose process is gone, so they never accumulate. Integer
formats are encoded by maintained codecs: Pillow (8-bit PNG, JPEG), imagecodecs
(16-bit PNG, grey or colour) and tifffile (TIFF).

Examples
--------
>>> import os, tempfile
>>> import numpy as np
>>> from hybrid_deblur.io import imread, imwrite
>>> p = os.path.join(tempfile.mkdtemp(), "g16.png")
>>> imwrite(p, np.linspace(0, 1, 12).reshape(3, 4), bits=16)
>>> from hybrid_deblur.io import image_bits
>>> image_bits(p)
16
"""

from __future__ import annotations

import contextlib
import json
import os
import re
import secrets
import time
from pathlib import Path
from typing import Any

import numpy as np

from .. import backend as B
from .colour import linear_to_srgb

__all__ = ["WRITE_FORMATS", "atomic_save_json", "atomic_write", "imwrite", "matching_bits"]

#: file extensions :func:`imwrite` writes
WRITE_FORMATS = (".png", ".jpg", ".jpeg", ".tif", ".tiff", ".npy")

#: leftovers without a process id (older versions) are removed after this many seconds
_LEGACY_TMP_AGE = 3600.0


_BITS = {".png": (8, 16), ".jpg": (8,), ".jpeg": (8,), ".tif": (16, 8, 32), ".tiff": (16, 8, 32),
         ".npy": (None,)}


def matching_bits(path: str | os.PathLike, source: str | os.PathLike) -> int | None:
    """The bit depth to write ``path`` with so that it keeps the depth of the file ``source``.

    16-bit input gives 16-bit PNG/TIFF output, float TIFF input float TIFF output
    (16-bit for PNG, the deepest it holds); ``None`` (the format's default, never
    less deep) when the source is not deeper than that default, the output format
    cannot hold more (JPEG) or the source has no bit depth (``.npy``).

    Examples
    --------
    >>> import os, tempfile
    >>> import numpy as np
    >>> from hybrid_deblur.io import imwrite, matching_bits
    >>> d = tempfile.mkdtemp()
    >>> imwrite(os.path.join(d, "in.tif"), np.zeros((4, 4)))          # 16-bit TIFF
    >>> matching_bits(os.path.join(d, "out.png"), os.path.join(d, "in.tif"))
    16
    """
    from .read import image_bits

    ext = os.path.splitext(os.fspath(path))[1].lower()
    if ext not in _BITS:
        raise ValueError(f"cannot write {os.fspath(path)!r}: unknown extension {ext!r}; "
                         f"accepted: {', '.join(WRITE_FORMATS)}")
    src = image_bits(source)
    allowed = _BITS[ext]
    if src is None or allowed == (None,):
        return None
    fits = [b for b in allowed if b is not None and b <= src]
    pick = max(fits) if fits else None
    return pick if pick is not None and pick > allowed[0] else None   # never below the default


def _pid_alive(pid: int) -> bool:
    if pid == os.getpid():
        return True
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except (PermissionError, OSError):
        return True      # exists but belongs to someone else (or cannot tell): keep
    return True


def clean_stale_temporaries(path: str | os.PathLike) -> list[str]:
    """Remove temporary files that interrupted writes of ``path`` left behind.

    A temporary file ``.<name>.<pid>.<random>.tmp`` is removed when process
    ``pid`` no longer exists; one without a process id (written by an older
    version, ``.<name>.<random>.tmp``) when it is older than an hour. Files of
    writers that are still running are never touched.

    Returns
    -------
    list of str
        The removed files.

    Examples
    --------
    >>> import os, tempfile
    >>> from hybrid_deblur.io.write import clean_stale_temporaries
    >>> d = tempfile.mkdtemp()
    >>> open(os.path.join(d, ".a.png.999999999.x1.tmp"), "w").close()   # a dead writer's leftover
    >>> [os.path.basename(f) for f in clean_stale_temporaries(os.path.join(d, "a.png"))]
    ['.a.png.999999999.x1.tmp']
    """
    path = Path(os.fspath(path))
    directory = path.parent if str(path.parent) else Path(".")
    prefix = f".{path.name}."
    removed = []
    try:
        names = os.listdir(directory)
    except OSError:
        return removed
    pat = re.compile(r"(\d+)\.[A-Za-z0-9_]+\.tmp")
    now = time.time()
    for n in names:
        if not (n.startswith(prefix) and n.endswith(".tmp")):
            continue
        rest = n[len(prefix):]
        full = directory / n
        m = pat.fullmatch(rest)
        try:
            if m:
                stale = not _pid_alive(int(m.group(1)))
            else:
                stale = now - full.stat().st_mtime > _LEGACY_TMP_AGE
            if stale:
                os.remove(full)
                removed.append(str(full))
        except (OSError, ValueError):
            continue
    return removed


@contextlib.contextmanager
def atomic_write(path: str | os.PathLike, mode: str = "wb", *, encoding: str | None = None):
    """Open a temporary file next to ``path``; on success rename it onto ``path``.

    Parameters
    ----------
    path : str or path-like
        Destination. Its directory must exist.
    mode : {"wb", "w"}
        Binary or text (UTF-8 unless ``encoding`` is given).

    Yields
    ------
    file
        The open temporary file. If the ``with`` block raises, the temporary file is
        deleted and ``path`` is left exactly as it was (absent or the old content).

    Notes
    -----
    The temporary file lives in the same directory (same filesystem), is flushed
    and ``fsync``-ed, then moved with :func:`os.replace`, which is atomic on POSIX
    and Windows: readers see either the old file or the complete new one. The new
    file gets the usual permissions (``0o666`` minus the umask). A killed writer
    cannot delete its temporary file; the next write to the same ``path`` does
    (:func:`clean_stale_temporaries`).

    Examples
    --------
    >>> import os, tempfile
    >>> from hybrid_deblur.io import atomic_write
    >>> p = os.path.join(tempfile.mkdtemp(), "a.txt")
    >>> with atomic_write(p, "w") as f:
    ...     _ = f.write("hello")
    >>> open(p).read()
    'hello'
    """
    if mode not in ("wb", "w"):
        raise ValueError(f"mode must be 'wb' or 'w', got {mode!r}")
    path = Path(os.fspath(path))
    directory = path.parent if str(path.parent) else Path(".")
    if not directory.is_dir():
        raise FileNotFoundError(f"cannot write {str(path)!r}: directory {str(directory)!r} does not exist")
    clean_stale_temporaries(path)
    for _ in range(100):
        tmp = directory / f".{path.name}.{os.getpid()}.{secrets.token_hex(4)}.tmp"
        try:
            fd = os.open(tmp, os.O_CREAT | os.O_EXCL | os.O_WRONLY, 0o600)
            break
        except FileExistsError:  # pragma: no cover - 32 random bits collided
            continue
    else:  # pragma: no cover
        raise OSError(f"cannot create a temporary file next to {str(path)!r}")
    os.close(fd)
    try:
        enc = (encoding or "utf-8") if mode == "w" else None
        with open(tmp, mode, encoding=enc) as f:
            yield f
            f.flush()
            os.fsync(f.fileno())
        umask = os.umask(0)
        os.umask(umask)
        os.chmod(tmp, 0o666 & ~umask)
        os.replace(tmp, path)
    except BaseException:
        with contextlib.suppress(OSError):
            os.remove(tmp)
        raise


def _json_default(obj):
    if isinstance(obj, np.generic):
        return obj.item()
    if isinstance(obj, np.ndarray):
        return obj.tolist()
    if isinstance(obj, os.PathLike):
        return os.fspath(obj)
    if B.is_torch(obj) or B.is_cupy(obj):
        return B.to_numpy(obj).tolist()
    raise TypeError(f"object of type {type(obj).__name__} is not JSON serialisable")


def atomic_save_json(path: str | os.PathLike, obj: Any, *, indent: int = 2) -> None:
    """Write ``obj`` as JSON atomically (NumPy scalars/arrays and paths are converted).

    Examples
    --------
    >>> import json, os, tempfile
    >>> import numpy as np
    >>> from hybrid_deblur.io import atomic_save_json
    >>> p = os.path.join(tempfile.mkdtemp(), "r.json")
    >>> atomic_save_json(p, {"psnr": np.float32(30.5), "shape": np.array([2, 3])})
    >>> json.load(open(p))
    {'psnr': 30.5, 'shape': [2, 3]}
    """
    text = json.dumps(obj, indent=indent, default=_json_default)
    with atomic_write(path, "w") as f:
        f.write(text + "\n")


# ----------------------------------------------------------------------------- writing
def _encode_int(img: np.ndarray, bits: int, linear: bool) -> np.ndarray:
    v = linear_to_srgb(img) if linear else img
    top = float(2 ** bits - 1)
    # clipping happens only here, at encode time: integer formats cannot hold <0 or >1
    q = np.rint(np.clip(v, 0.0, 1.0) * top)
    return q.astype(np.uint8 if bits == 8 else np.uint16)


def imwrite(path: str | os.PathLike, img: Any, *, linear: bool = True, bits: int | None = None,
            quality: int = 95) -> None:
    """Write an image file atomically (inverse of :func:`imread`).

    Parameters
    ----------
    path : str or path-like
        Format by extension: ``.png`` (8 or 16 bits), ``.jpg``/``.jpeg`` (8 bits),
        ``.tif``/``.tiff`` (16 bits, or 32 = float32), ``.npy`` (float, exact).
    img : array, shape (H, W) or (C, H, W)
        Floating image, C in 1..4 (2 = grey + alpha, 4 = RGBA). NumPy, CuPy or torch
        (copied to the host). ``.npy`` and float TIFF also accept any ``(..., H, W)``.
    linear : bool
        ``img`` is linear light and is sRGB-encoded for integer formats (default).
        False writes the values as they are (already display-encoded data).
    bits : {None, 8, 16, 32}
        Bit depth. Default: 8 for PNG/JPEG, 16 for TIFF; 32 (TIFF only) writes
        float32 without any encoding or clipping.
    quality : int
        JPEG quality (1..100).

    Raises
    ------
    ValueError
        NaN/inf values, unsupported shape, extension or bit depth.

    Notes
    -----
    **Clipping.** Integer formats hold only [0, 1]: values are clipped to that
    range at encode time, in this function, and nowhere in the library's
    computations. Keep the out-of-range values with ``.npy`` or float TIFF.
    The encoded value is ``round(clip(S(x), 0, 1) * (2^bits - 1))`` with S the
    sRGB curve (:func:`linear_to_srgb`). The file is written to a temporary file
    in the same directory and renamed over ``path``, so an error can never leave
    a partial file.

    Examples
    --------
    >>> import os, tempfile
    >>> import numpy as np
    >>> from hybrid_deblur.io import imread, imwrite
    >>> p = os.path.join(tempfile.mkdtemp(), "x.tif")
    >>> x = np.random.default_rng(0).random((3, 8, 8)).astype(np.float32)
    >>> imwrite(p, x, bits=32)
    >>> bool(np.array_equal(imread(p, dtype=np.float32), x))
    True
    """
    p = os.fspath(path)
    ext = os.path.splitext(p)[1].lower()
    if ext not in WRITE_FORMATS:
        raise ValueError(f"cannot write {p!r}: unknown extension {ext!r}; accepted: "
                         + ", ".join(WRITE_FORMATS))
    arr = B.to_numpy(img)
    if arr.dtype.kind not in "biuf":
        raise TypeError(f"img must be a real numeric array, got dtype {arr.dtype}")
    arr = B.as_float(arr, name="img")
    B.check_finite(arr, name="img")
    allowed = _BITS[ext]
    if bits is None:
        bits = allowed[0]
    if bits not in allowed:
        raise ValueError(f"bits={bits!r} is not available for {ext}; accepted: {allowed}")
    if ext == ".npy":
        with atomic_write(p) as f:
            np.save(f, arr)
        return
    tiff = ext in (".tif", ".tiff")
    if arr.ndim < 2 or (not tiff and (arr.ndim > 3 or (arr.ndim == 3 and arr.shape[0] > 4))):
        raise ValueError(f"img must have shape (H, W) or (C, H, W) with C in 1..4 (channel first)"
                         f" for {ext}; got {tuple(arr.shape)}. For (H, W, C) data use "
                         "np.moveaxis(img, -1, 0)")
    if arr.shape[-1] == 0 or arr.shape[-2] == 0:
        raise ValueError(f"img is empty: shape {tuple(arr.shape)}")
    colour = arr.ndim == 3 and arr.shape[0] in ((1, 3, 4) if tiff else (1, 2, 3, 4))
    if colour:
        arr = np.moveaxis(arr, 0, -1)
        if arr.shape[-1] == 1:
            arr = arr[..., 0]
    if ext in (".jpg", ".jpeg") and arr.ndim == 3 and arr.shape[-1] in (2, 4):
        raise ValueError(f"img has an alpha channel (shape {tuple(img.shape)}), which JPEG "
                         "cannot store; use .png or drop the alpha channel")
    data = arr.astype(np.float32) if bits == 32 else _encode_int(arr, bits, linear)
    with atomic_write(p) as f:
        if ext in (".tif", ".tiff"):
            import tifffile

            rgb = data.ndim == 3 and colour and data.shape[-1] in (3, 4)
            tifffile.imwrite(f, data, photometric="rgb" if rgb else "minisblack",
                             extrasamples=["unassalpha"] if rgb and data.shape[-1] == 4 else None)
        elif ext == ".png" and bits == 16:
            import imagecodecs

            f.write(imagecodecs.png_encode(np.ascontiguousarray(data)))
        else:
            from PIL import Image

            fmt = "PNG" if ext == ".png" else "JPEG"
            kw = {"quality": int(quality), "subsampling": 0} if fmt == "JPEG" else {}
            Image.fromarray(data).save(f, format=fmt, **kw)
