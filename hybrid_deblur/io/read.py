"""Reading image files as linear float arrays (channel first), and bundled sample images.

8- and 16-bit photographs (PNG, JPEG, TIFF) are assumed sRGB-encoded and are
decoded with the IEC 61966-2-1 curve; float TIFF and ``.npy`` data are linear
already and are returned as stored. Decoding goes through maintained codecs:
Pillow (8-bit PNG, JPEG, BMP), imagecodecs (16-bit PNG) and tifffile (TIFF).

Examples
--------
>>> from hybrid_deblur.io import sample_image
>>> sample_image("camera").shape
(512, 512)
"""

from __future__ import annotations

import os
import struct
from pathlib import Path

import numpy as np

from .colour import rgb_to_gray, srgb_to_linear

__all__ = ["READ_FORMATS", "SAMPLE_IMAGES", "image_bits", "imread", "sample_image", "voxel_size"]

#: file extensions :func:`imread` understands
READ_FORMATS = (".png", ".jpg", ".jpeg", ".tif", ".tiff", ".bmp", ".npy")

_PNG_SIG = b"\x89PNG\r\n\x1a\n"


def _png_depth(head: bytes) -> int:
    """Bit depth from the IHDR chunk of a PNG file's first 29 bytes."""
    if len(head) < 29 or head[:8] != _PNG_SIG or head[12:16] != b"IHDR":
        raise ValueError("not a PNG file (bad signature or header)")
    return struct.unpack(">B", head[24:25])[0]


def image_bits(path: str | os.PathLike) -> int | None:
    """Bits per sample stored in an image file: 8, 16, 32 (float) or None (``.npy``).

    Use it to write a result with the bit depth of its input
    (``imwrite(out, x, bits=image_bits(src))``, where the output format allows it).

    Examples
    --------
    >>> import os, tempfile
    >>> import numpy as np
    >>> from hybrid_deblur.io import image_bits, imwrite
    >>> p = os.path.join(tempfile.mkdtemp(), "a.tif")
    >>> imwrite(p, np.zeros((4, 4)), bits=16)
    >>> image_bits(p)
    16
    """
    p = os.fspath(path)
    ext = os.path.splitext(p)[1].lower()
    if ext not in READ_FORMATS:
        raise ValueError(f"cannot read {p!r}: unknown extension {ext!r}; {_formats_msg()}")
    if not os.path.isfile(p):
        raise FileNotFoundError(f"cannot read {p!r}: no such file")
    if ext == ".npy":
        return None
    try:
        if ext == ".png":
            with open(p, "rb") as f:
                return 16 if _png_depth(f.read(29)) == 16 else 8
        if ext in (".tif", ".tiff"):
            import tifffile

            with tifffile.TiffFile(p) as tif:
                dt = np.dtype(tif.series[0].dtype)
            return 32 if dt.kind == "f" else min(max(8 * dt.itemsize, 8), 16)
    except Exception as exc:
        raise ValueError(f"cannot read {p!r}: {type(exc).__name__}: {exc}") from exc
    return 8


_UNIT_M = {"micron": 1e-6, "microns": 1e-6, "um": 1e-6, "\u00b5m": 1e-6, "\u03bcm": 1e-6,
           "nm": 1e-9, "mm": 1e-3, "cm": 1e-2, "m": 1.0}


def voxel_size(path: str | os.PathLike) -> tuple[float, float, float] | None:
    """``(dz, dy, dx)`` in metres from a TIFF stack's metadata, or None when it does not say.

    ImageJ stacks store the lateral pitch as the resolution tags (pixels per
    ``unit``) and the z step as ``spacing``; other TIFFs are read when their
    resolution unit is the centimetre and they carry an ImageJ-style ``spacing``.
    Resolutions in inches (the 72 dpi default of many writers) are ignored.

    Examples
    --------
    >>> import os, tempfile
    >>> import numpy as np, tifffile
    >>> from hybrid_deblur.io import voxel_size
    >>> p = os.path.join(tempfile.mkdtemp(), "s.tif")
    >>> tifffile.imwrite(p, np.zeros((3, 8, 8), np.uint16), imagej=True, resolution=(10.0, 10.0),
    ...                  metadata={"spacing": 0.2, "unit": "um", "axes": "ZYX"})
    >>> [round(v * 1e6, 6) for v in voxel_size(p)]
    [0.2, 0.1, 0.1]
    """
    import tifffile

    p = os.fspath(path)
    try:
        with tifffile.TiffFile(p) as tif:
            page = tif.pages[0]
            ij = tif.imagej_metadata or {}
            tags = page.tags
            xr, yr = tags.get("XResolution"), tags.get("YResolution")
            ru = tags.get("ResolutionUnit")
            ru = int(ru.value) if ru is not None else 1
            if xr is None or yr is None:
                return None
            fx = xr.value[0] / xr.value[1] if isinstance(xr.value, tuple) else float(xr.value)
            fy = yr.value[0] / yr.value[1] if isinstance(yr.value, tuple) else float(yr.value)
    except Exception as exc:
        raise ValueError(f"cannot read {p!r}: {type(exc).__name__}: {exc}") from exc
    if ij:
        unit = _UNIT_M.get(str(ij.get("unit", "")).strip().lower())
    else:
        unit = 1e-2 if ru == 3 else None
    spacing = ij.get("spacing")
    if unit is None or spacing is None or not (fx > 0 and fy > 0):
        return None
    return float(spacing) * unit, unit / fy, unit / fx


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
                data = f.read()
            if _png_depth(data[:29]) == 16:
                import imagecodecs

                arr = imagecodecs.png_decode(data)
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
