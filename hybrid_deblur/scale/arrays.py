"""Out-of-core array access for tiled restoration: lazy readers and tile-wise writers.

Readers open the file for each block they serve and close it again, so a process
never keeps a whole memory-mapped input resident (a long-lived ``np.memmap`` counts
every page it has touched in the resident set). Writers store one region at a time
into a raw ``.npy`` file; both are plain picklable objects (a path, an offset, a
shape and a dtype), so they work with the threaded scheduler and with
``dask.distributed`` worker processes alike.

Examples
--------
>>> import os, tempfile
>>> import numpy as np
>>> from hybrid_deblur.scale.arrays import open_input, NpyRegionWriter
>>> d = tempfile.mkdtemp()
>>> np.save(os.path.join(d, "a.npy"), np.arange(12.0).reshape(3, 4))
>>> r = open_input(os.path.join(d, "a.npy"))
>>> r.shape, float(r[1:, 2:].sum())
((3, 4), 34.0)
>>> w = NpyRegionWriter.create(os.path.join(d, "b.npy"), (3, 4), "float64")
>>> w[0:3, 0:4] = np.ones((3, 4))
>>> float(np.load(os.path.join(d, "b.npy")).sum())
12.0
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import numpy as np

__all__ = ["NpyRegionWriter", "RawRegionReader", "input_shape", "open_input"]

_TIFF = (".tif", ".tiff")


class RawRegionReader:
    """A read-only view of an uncompressed array in a file (``.npy`` or contiguous TIFF).

    Indexing returns an in-memory NumPy copy of the region; the file mapping is
    opened per access and dropped right after.
    """

    def __init__(self, path: str, offset: int, shape, dtype, fortran: bool = False):
        self.path = str(path)
        self.offset = int(offset)
        self.shape = tuple(int(s) for s in shape)
        self.dtype = np.dtype(dtype)
        self.ndim = len(self.shape)
        self.fortran = bool(fortran)

    def __getitem__(self, idx):
        m = np.memmap(self.path, dtype=self.dtype, mode="r", offset=self.offset, shape=self.shape,
                      order="F" if self.fortran else "C")
        try:
            return np.array(m[idx])
        finally:
            del m

    def __repr__(self) -> str:
        return f"RawRegionReader({self.path!r}, shape={self.shape}, dtype={self.dtype})"


class NpyRegionWriter:
    """Write regions of a ``.npy`` file in place (``writer[region] = block``).

    Create it with :meth:`create`, which writes the header and sizes the file
    (sparse: no data is allocated until regions are written).
    """

    def __init__(self, path: str, offset: int, shape, dtype):
        self.path = str(path)
        self.offset = int(offset)
        self.shape = tuple(int(s) for s in shape)
        self.dtype = np.dtype(dtype)
        self.ndim = len(self.shape)

    @classmethod
    def create(cls, path: str | os.PathLike, shape, dtype) -> NpyRegionWriter:
        m = np.lib.format.open_memmap(os.fspath(path), mode="w+", dtype=np.dtype(dtype),
                                      shape=tuple(int(s) for s in shape))
        off = int(m.offset)
        del m
        return cls(os.fspath(path), off, shape, dtype)

    def __setitem__(self, idx, value) -> None:
        m = np.memmap(self.path, dtype=self.dtype, mode="r+", offset=self.offset, shape=self.shape)
        try:
            m[idx] = value
            m.flush()
        finally:
            del m

    def reader(self) -> RawRegionReader:
        """A :class:`RawRegionReader` of the same file."""
        return RawRegionReader(self.path, self.offset, self.shape, self.dtype)


def _npy_reader(path: str) -> RawRegionReader:
    """Parse the ``.npy`` header only (no mapping, so even a truncated file reports its shape)."""
    fmt = np.lib.format
    try:
        with open(path, "rb") as f:
            version = fmt.read_magic(f)
            reader = {(1, 0): fmt.read_array_header_1_0, (2, 0): fmt.read_array_header_2_0}.get(version)
            if reader is None:
                raise ValueError(f"unsupported .npy version {version}")
            shape, fortran, dtype = reader(f)
            offset = f.tell()
    except ValueError as exc:
        raise ValueError(f"{path!r} is not a valid .npy file: {exc}") from None
    if dtype.hasobject:
        raise ValueError(f"{path!r} holds Python objects; only numeric arrays can be restored")
    return RawRegionReader(path, offset, shape, dtype, fortran=fortran)


def _zarr_open(path: str):
    try:
        import zarr
    except ImportError:
        raise ValueError(f"reading {path!r} needs the 'zarr' package (pip install "
                         "'hybrid_deblur[dist]')") from None
    return zarr.open(path, mode="r")


def open_input(image: Any):
    """A lazily indexable array for ``image`` (path or array); never reads the pixels.

    Parameters
    ----------
    image : str, path-like, NumPy array, dask array or any array with ``shape``/``dtype``
        ``.npy`` (memory-mapped per access), ``.tif``/``.tiff`` (uncompressed: mapped per
        access; compressed/tiled: through ``tifffile``'s Zarr store when ``zarr`` is
        installed) and ``.zarr`` stores. Arrays are returned as they are.

    Returns
    -------
    object with ``shape``, ``dtype``, ``ndim`` and ``__getitem__``
    """
    if not isinstance(image, (str, os.PathLike)):
        if not hasattr(image, "shape") or not hasattr(image, "dtype"):
            raise TypeError(f"image must be a path or an array, got {type(image).__name__}")
        return image
    path = os.fspath(image)
    p = Path(path)
    if not p.exists():
        raise FileNotFoundError(f"image file not found: {path!r}")
    ext = p.suffix.lower()
    if ext == ".npy":
        return _npy_reader(path)
    if ext in _TIFF:
        import tifffile

        try:
            m = tifffile.memmap(path, mode="r")
        except (ValueError, OSError):
            m = None
        if m is not None:
            out = RawRegionReader(path, m.offset, m.shape, m.dtype)
            del m
            return out
        try:
            import zarr
        except ImportError:
            raise ValueError(f"{path!r} is a compressed or tiled TIFF; reading it tile by tile needs "
                             "the 'zarr' package (pip install 'hybrid_deblur[dist]'), or convert it "
                             "to an uncompressed TIFF or .npy") from None
        return zarr.open(tifffile.imread(path, aszarr=True), mode="r")
    if ext == ".zarr" or p.is_dir():
        return _zarr_open(path)
    raise ValueError(f"image={path!r}: tiled input must be .npy, .tif/.tiff or .zarr "
                     "(read other formats with hybrid_deblur.io.imread and pass the array)")


def input_shape(image: Any) -> tuple[tuple[int, ...], np.dtype]:
    """``(shape, dtype)`` of an image file or array without reading its pixels.

    PNG/JPEG and other Pillow formats report ``(H, W)`` or ``(C, H, W)`` and the dtype
    the reader produces (float32 for 8-bit, float64 otherwise: an upper bound).
    """
    if isinstance(image, (str, os.PathLike)):
        ext = Path(image).suffix.lower()
        if ext not in (".npy", ".zarr", *_TIFF) and not Path(image).is_dir():
            if not Path(image).exists():
                raise FileNotFoundError(f"image file not found: {os.fspath(image)!r}")
            from PIL import Image

            bomb = Image.MAX_IMAGE_PIXELS
            Image.MAX_IMAGE_PIXELS = None  # only the header is read here; the guard decides
            try:
                with Image.open(os.fspath(image)) as im:
                    w, h = im.size
                    c = len(im.getbands())
            except Exception as exc:  # noqa: BLE001 - any decoder error means an unreadable file
                raise ValueError(f"cannot read the size of {os.fspath(image)!r}: {exc}") from None
            finally:
                Image.MAX_IMAGE_PIXELS = bomb
            return ((h, w) if c == 1 else (c, h, w)), np.dtype(np.float64)
    a = open_input(image)
    return tuple(int(s) for s in a.shape), np.dtype(a.dtype)
