"""Image files: read to linear float, write back atomically (DESIGN §1).

Images come out of :func:`imread` as floating arrays in *linear light*,
shape ``(H, W)`` for grey and ``(C, H, W)`` (channel first) for colour. 8- and
16-bit photographs (PNG, JPEG, TIFF) are assumed sRGB-encoded and are decoded
with the IEC 61966-2-1 curve; float TIFF and ``.npy`` data are assumed linear
already and are returned as stored. :func:`imwrite` is the inverse and never
leaves a partial file: it writes a temporary file in the target directory and
renames it over the target (:func:`atomic_write`).

Examples
--------
>>> import os, tempfile
>>> import numpy as np
>>> from hybrid_deblur import io
>>> x = io.sample_image("camera")           # bundled, offline, linear float64
>>> x.shape, x.dtype
((512, 512), dtype('float64'))
>>> path = os.path.join(tempfile.mkdtemp(), "cam.png")
>>> io.imwrite(path, x)                      # sRGB-encoded 8-bit PNG
>>> y = io.imread(path)
>>> float(np.abs(io.linear_to_srgb(y) - io.linear_to_srgb(x)).max()) <= 0.5 / 255 + 1e-12
True
"""

from __future__ import annotations

import contextlib
import json
import os
import struct
import tempfile
import zlib
from pathlib import Path
from typing import Any

import numpy as np

from . import backend as B

__all__ = [
    "READ_FORMATS",
    "SAMPLE_IMAGES",
    "WRITE_FORMATS",
    "atomic_save_json",
    "atomic_write",
    "imread",
    "imwrite",
    "linear_to_srgb",
    "rgb_to_gray",
    "sample_image",
    "srgb_to_linear",
]

#: file extensions :func:`imread` understands
READ_FORMATS = (".png", ".jpg", ".jpeg", ".tif", ".tiff", ".bmp", ".npy")
#: file extensions :func:`imwrite` writes
WRITE_FORMATS = (".png", ".jpg", ".jpeg", ".tif", ".tiff", ".npy")

#: Rec. 709 / sRGB luminance weights (applied to linear R, G, B)
REC709 = (0.2126, 0.7152, 0.0722)

# sRGB thresholds. Decoding uses the standard 0.04045; encoding uses 0.04045 / 12.92
# (instead of the rounded 0.0031308) so that sRGB -> linear -> sRGB is exact.
_S_THR = 0.04045
_L_THR = 0.04045 / 12.92

_PNG_SIG = b"\x89PNG\r\n\x1a\n"


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


# ----------------------------------------------------------------------------- atomic files
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
    file gets the usual permissions (``0o666`` minus the umask).

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
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=directory)
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


# ----------------------------------------------------------------------------- 16-bit PNG
# Pillow reduces 16-bit colour PNGs to 8 bits, so 16-bit PNGs use this small codec.
def _paeth(a, b, c):
    p = a + b - c
    pa, pb, pc = np.abs(p - a), np.abs(p - b), np.abs(p - c)
    return np.where((pa <= pb) & (pa <= pc), a, np.where(pb <= pc, b, c))


def _png_filter_all(raw: np.ndarray, bpp: int) -> np.ndarray:
    """The five PNG filters of every row, shape (5, H, stride) uint8 (vectorised)."""
    r = raw.astype(np.int16)
    a = np.zeros_like(r)
    a[:, bpp:] = r[:, :-bpp]
    b = np.zeros_like(r)
    b[1:] = r[:-1]
    c = np.zeros_like(r)
    c[1:, bpp:] = r[:-1, :-bpp]
    preds = (np.zeros_like(r), a, b, (a + b) // 2, _paeth(a, b, c))
    return np.stack([(r - p) & 255 for p in preds]).astype(np.uint8)


def _png_unfilter_reference(rows: np.ndarray, bpp: int) -> np.ndarray:
    """Plain-Python PNG unfilter (reference for the Numba version): rows (H, 1 + stride)."""
    h, n = rows.shape
    out = np.zeros((h, n - 1), np.uint8)
    prev = [0] * (n - 1)
    for y in range(h):
        ft, line, cur = int(rows[y, 0]), rows[y, 1:].tolist(), [0] * (n - 1)
        for i in range(n - 1):
            a = cur[i - bpp] if i >= bpp else 0
            b = prev[i]
            c = prev[i - bpp] if i >= bpp else 0
            if ft == 0:
                p = 0
            elif ft == 1:
                p = a
            elif ft == 2:
                p = b
            elif ft == 3:
                p = (a + b) // 2
            elif ft == 4:
                pp = a + b - c
                pa, pb, pc = abs(pp - a), abs(pp - b), abs(pp - c)
                p = a if (pa <= pb and pa <= pc) else (b if pb <= pc else c)
            else:
                raise ValueError(f"corrupt PNG: unknown filter type {ft} in row {y}")
            cur[i] = (line[i] + p) & 255
        out[y] = cur
        prev = cur
    return out


_UNFILTER_JIT = None


def _png_unfilter(rows: np.ndarray, bpp: int) -> np.ndarray:
    """Numba-compiled PNG unfilter (same result as :func:`_png_unfilter_reference`)."""
    global _UNFILTER_JIT
    if _UNFILTER_JIT is None:
        from numba import njit

        @njit(cache=True)
        def _unfilter(rows, bpp, out):  # pragma: no cover - compiled
            h, n = rows.shape
            for y in range(h):
                ft = rows[y, 0]
                if ft > 4:
                    return y
                for i in range(n - 1):
                    a = np.int32(out[y, i - bpp]) if i >= bpp else 0
                    b = np.int32(out[y - 1, i]) if y > 0 else 0
                    c = np.int32(out[y - 1, i - bpp]) if (y > 0 and i >= bpp) else 0
                    if ft == 0:
                        p = 0
                    elif ft == 1:
                        p = a
                    elif ft == 2:
                        p = b
                    elif ft == 3:
                        p = (a + b) // 2
                    else:
                        pp = a + b - c
                        pa, pb, pc = abs(pp - a), abs(pp - b), abs(pp - c)
                        p = a if (pa <= pb and pa <= pc) else (b if pb <= pc else c)
                    out[y, i] = (np.int32(rows[y, i + 1]) + p) & 255
            return -1

        _UNFILTER_JIT = _unfilter
    out = np.zeros((rows.shape[0], rows.shape[1] - 1), np.uint8)
    bad = _UNFILTER_JIT(np.ascontiguousarray(rows), int(bpp), out)
    if bad >= 0:
        raise ValueError(f"corrupt PNG: unknown filter type {rows[bad, 0]} in row {bad}")
    return out


_PNG_SAMPLES = {0: 1, 2: 3, 4: 2, 6: 4}


def _png_header(data: bytes) -> tuple[int, int, int, int, int]:
    if data[:8] != _PNG_SIG or data[12:16] != b"IHDR":
        raise ValueError("not a PNG file")
    w, h, depth, ctype, _, _, interlace = struct.unpack(">IIBBBBB", data[16:29])
    return w, h, depth, ctype, interlace


def _decode_png16(data: bytes, path: str) -> np.ndarray:
    w, h, _, ctype, interlace = _png_header(data)
    if ctype not in _PNG_SAMPLES:
        raise ValueError(f"cannot read {path!r}: 16-bit PNG colour type {ctype} is invalid")
    if interlace:
        raise ValueError(f"cannot read {path!r}: interlaced (Adam7) 16-bit PNG is not supported; "
                         "re-save it without interlacing")
    pos, idat = 8, []
    while pos + 8 <= len(data):
        (length,) = struct.unpack(">I", data[pos:pos + 4])
        kind = data[pos + 4:pos + 8]
        if kind == b"IDAT":
            idat.append(data[pos + 8:pos + 8 + length])
        elif kind == b"IEND":
            break
        pos += 12 + length
    samples = _PNG_SAMPLES[ctype]
    stride = w * samples * 2
    try:
        raw = np.frombuffer(zlib.decompress(b"".join(idat)), np.uint8)
    except zlib.error as exc:
        raise ValueError(f"cannot read {path!r}: corrupt PNG data ({exc})") from exc
    if raw.size < h * (stride + 1):
        raise ValueError(f"cannot read {path!r}: truncated PNG data")
    rows = raw[: h * (stride + 1)].reshape(h, stride + 1)
    pix = _png_unfilter(rows, samples * 2).view(">u2").reshape(h, w, samples)
    return pix.astype(np.uint16)


def _encode_png16(arr: np.ndarray) -> bytes:
    """PNG bytes of a uint16 (H, W) or (H, W, S) array, S in 1..4; per-row adaptive filter."""
    h, w = arr.shape[:2]
    samples = 1 if arr.ndim == 2 else arr.shape[2]
    ctype = {1: 0, 2: 4, 3: 2, 4: 6}[samples]
    raw = np.ascontiguousarray(arr.astype(">u2")).view(np.uint8).reshape(h, w * samples * 2)
    filt = _png_filter_all(raw, samples * 2)
    # the usual heuristic: per row, the filter with the smallest sum of |signed bytes|
    best = np.abs(filt.view(np.int8).astype(np.int32)).sum(axis=2).argmin(axis=0)
    rows = np.concatenate([best.astype(np.uint8)[:, None], filt[best, np.arange(h)]], axis=1)

    def chunk(kind: bytes, payload: bytes) -> bytes:
        crc = zlib.crc32(kind + payload) & 0xFFFFFFFF
        return struct.pack(">I", len(payload)) + kind + payload + struct.pack(">I", crc)

    ihdr = struct.pack(">IIBBBBB", w, h, 16, ctype, 0, 0, 0)
    return (_PNG_SIG + chunk(b"IHDR", ihdr) + chunk(b"IDAT", zlib.compress(rows.tobytes(), 6))
            + chunk(b"IEND", b""))


# ----------------------------------------------------------------------------- reading
def _formats_msg() -> str:
    return "accepted formats: " + ", ".join(READ_FORMATS) + " (8/16-bit PNG, JPEG, 8/16-bit or float TIFF, .npy)"


def _read_pillow(path: str) -> np.ndarray:
    from PIL import Image, ImageOps

    with Image.open(path) as im:
        im = ImageOps.exif_transpose(im) if im.format == "JPEG" else im
        if im.mode in ("I;16", "I;16B", "I;16L", "I;16N"):
            return np.asarray(im, dtype=np.uint16)
        if im.mode == "1":
            im = im.convert("L")
        elif im.mode not in ("L", "LA", "RGB", "RGBA", "I", "F"):
            has_alpha = "A" in im.mode or "transparency" in im.info
            im = im.convert("RGBA" if has_alpha else "RGB")
        return np.asarray(im)


def _read_tiff(path: str) -> np.ndarray:
    import tifffile

    with tifffile.TiffFile(path) as tif:
        series = tif.series[0]
        arr, axes = series.asarray(), series.axes
    if "S" in axes and axes.index("S") != len(axes) - 1:
        arr = np.moveaxis(arr, axes.index("S"), -1)
    elif "S" not in axes:
        arr = arr[..., None] if arr.ndim >= 2 else arr
    return arr  # (..., H, W, S)


def imread(path: str | os.PathLike, *, linear: bool = True, gray: bool = False,
           dtype=np.float64, scale: bool = True) -> np.ndarray:
    """Read an image file as a floating array, linear light, channel first.

    Parameters
    ----------
    path : str or path-like
        ``.png`` (8/16-bit), ``.jpg``/``.jpeg``, ``.tif``/``.tiff`` (8/16-bit
        integer or float, stacks allowed), ``.bmp``, ``.npy``.
    linear : bool
        Decode the sRGB curve of integer (8/16-bit) image files (default). Set
        False for data that is linear already (microscopy, astronomy, RAW dumps).
        Float TIFF and ``.npy`` data are never decoded.
    gray : bool
        Return luminance ``0.2126 R + 0.7152 G + 0.0722 B`` (Rec. 709 weights,
        applied to the linear values when ``linear=True``).
    dtype : {numpy.float64, numpy.float32}
        Output dtype.
    scale : bool
        Divide integer data by the maximum of its type (255, 65535, ...) so that
        values lie in [0, 1] (default). False keeps raw counts (e.g. a camera
        offset in a measured PSF); sRGB decoding then needs ``linear=False``.

    Returns
    -------
    numpy.ndarray
        ``(H, W)`` for grey images, ``(C, H, W)`` for colour (alpha dropped);
        TIFF stacks give ``(..., H, W)`` or ``(..., C, H, W)``. ``.npy`` arrays are
        returned in their stored layout.

    Raises
    ------
    FileNotFoundError
        The file does not exist.
    ValueError
        Unknown extension, unreadable or corrupt file, bad option.

    Notes
    -----
    The file is assumed to be sRGB: embedded ICC profiles and PNG gamma chunks
    are ignored. JPEG EXIF orientation is applied.

    Examples
    --------
    >>> import os, tempfile
    >>> import numpy as np
    >>> from hybrid_deblur.io import imread, imwrite
    >>> p = os.path.join(tempfile.mkdtemp(), "x.npy")
    >>> imwrite(p, np.full((3, 4, 5), 0.25))
    >>> imread(p).shape
    (3, 4, 5)
    """
    p = os.fspath(path)
    ext = os.path.splitext(p)[1].lower()
    if ext not in READ_FORMATS:
        raise ValueError(f"cannot read {p!r}: unknown extension {ext!r}; {_formats_msg()}")
    dtype = np.dtype(dtype)
    if dtype not in (np.float32, np.float64):
        raise TypeError(f"dtype must be numpy.float32 or numpy.float64, got {dtype}")
    if not os.path.isfile(p):
        raise FileNotFoundError(f"cannot read {p!r}: no such file; {_formats_msg()}")
    photo = True  # integer data from an image file -> channel-last, sRGB-encoded
    try:
        if ext == ".npy":
            arr, photo = np.load(p, allow_pickle=False), False
        elif ext in (".tif", ".tiff"):
            arr = _read_tiff(p)
        elif ext == ".png":
            with open(p, "rb") as f:
                head = f.read(29)
            if len(head) == 29 and _png_header(head)[2] == 16:
                with open(p, "rb") as f:
                    arr = _decode_png16(f.read(), p)
            else:
                arr = _read_pillow(p)
        else:
            arr = _read_pillow(p)
    except (ValueError, OSError) as exc:
        if str(exc).startswith("cannot read"):
            raise
        raise ValueError(f"cannot read {p!r}: {exc}; {_formats_msg()}") from exc
    except Exception as exc:  # codec errors of Pillow / tifffile / numpy
        raise ValueError(f"cannot read {p!r}: {type(exc).__name__}: {exc}; {_formats_msg()}") from exc
    arr = np.asarray(arr)
    if arr.dtype.kind not in "biuf":
        raise ValueError(f"cannot read {p!r}: unsupported data type {arr.dtype}; {_formats_msg()}")
    is_int = arr.dtype.kind in "biu"
    if arr.dtype.kind == "b":
        out = arr.astype(np.float64)
    elif is_int:
        out = arr.astype(np.float64)
        if scale:
            out /= float(np.iinfo(arr.dtype).max)
    else:
        out = arr.astype(np.float64 if arr.dtype == np.float64 else np.float32)
    decode = linear and photo and arr.dtype in (np.uint8, np.uint16)
    if decode and not scale:
        raise ValueError(f"linear=True (sRGB decoding) needs scale=True for {p!r}; "
                         "pass linear=False to keep raw counts")
    if photo:  # file layout (..., H, W, S) -> (..., S, H, W); alpha dropped
        if out.ndim >= 3 and out.shape[-1] in (2, 4):
            out = out[..., :-1]
        channels = out.shape[-1] if out.ndim >= 3 else 1
        if out.ndim >= 3:
            out = np.moveaxis(out, -1, -3)
            if out.shape[-3] == 1:
                out = out[..., 0, :, :]
        if decode:
            out = srgb_to_linear(out)
    else:
        channels = out.shape[-3] if out.ndim >= 3 else 1
    if gray and channels == 3:
        out = rgb_to_gray(out)
    elif gray and channels != 1:
        raise ValueError(f"gray=True needs a grey or RGB image; {p!r} has shape {out.shape} "
                         "(channel axis -3); accepted: (H, W) or (3, H, W)")
    return np.ascontiguousarray(out, dtype=dtype)


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
    allowed = {".png": (8, 16), ".jpg": (8,), ".jpeg": (8,), ".tif": (16, 8, 32),
               ".tiff": (16, 8, 32), ".npy": (None,)}[ext]
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
            f.write(_encode_png16(data))
        else:
            from PIL import Image

            fmt = "PNG" if ext == ".png" else "JPEG"
            kw = {"quality": int(quality), "subsampling": 0} if fmt == "JPEG" else {}
            Image.fromarray(data).save(f, format=fmt, **kw)


# ----------------------------------------------------------------------------- samples
#: name -> file bundled inside scikit-image (no download ever)
SAMPLE_IMAGES = {
    "camera": "camera.png", "astronaut": "astronaut.png", "coffee": "coffee.png",
    "chelsea": "chelsea.png", "cat": "chelsea.png", "moon": "moon.png", "text": "text.png",
    "coins": "coins.png", "brick": "brick.png", "grass": "grass.png", "gravel": "gravel.png",
    "page": "page.png", "rocket": "rocket.jpg", "hubble_deep_field": "hubble_deep_field.jpg",
    "immunohistochemistry": "ihc.png", "retina": "retina.jpg",
}


def sample_image(name: str = "camera", *, linear: bool = True, gray: bool = False,
                 dtype=np.float64) -> np.ndarray:
    """A test image bundled with scikit-image, read offline through :func:`imread`.

    Parameters
    ----------
    name : str
        One of :data:`SAMPLE_IMAGES` (``"camera"`` 512x512 grey, ``"astronaut"``
        512x512 colour, ``"coffee"``, ``"chelsea"``, ``"moon"``, ...).
    linear, gray, dtype
        As in :func:`imread`.

    Returns
    -------
    numpy.ndarray
        ``(H, W)`` or ``(3, H, W)``, linear light by default.

    Examples
    --------
    >>> from hybrid_deblur.io import sample_image
    >>> sample_image("astronaut").shape
    (3, 512, 512)
    """
    if name not in SAMPLE_IMAGES:
        raise ValueError(f"unknown sample image {name!r}; accepted: {sorted(SAMPLE_IMAGES)}")
    import skimage.data

    path = Path(skimage.data.__file__).parent / SAMPLE_IMAGES[name]
    if not path.is_file():  # pragma: no cover - broken scikit-image install
        raise FileNotFoundError(f"scikit-image's bundled file {str(path)!r} is missing")
    return imread(path, linear=linear, gray=gray, dtype=dtype)
