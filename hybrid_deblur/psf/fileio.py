"""Read and write PSF files: .npy, .npz, .png (8/16-bit), .tif/.tiff, MATLAB .mat.

Kernels on disk come in two orientations. ``"conv"`` (ours, DESIGN §1) is the
array that *convolves* the scene. ``"matlab"`` is the *correlation* orientation
used by MATLAB code such as Levin et al.'s ``f`` field (``y = conv2(x, rot90(f, 2))``
there); it is rotated by 180 degrees on load (and on save, when asked), so that
code never has to think about orientation at use time.

PNG files hold no physical scale: 8/16-bit values are divided by the dtype
maximum and the kernel is renormalised to sum 1 (no sRGB decoding: a PSF file
is linear data). Writes are atomic (:func:`hybrid_deblur.io.atomic_write`).

Examples
--------
>>> import numpy as np, tempfile, os
>>> from hybrid_deblur.psf import gaussian, load_psf, save_psf
>>> d = tempfile.mkdtemp()
>>> save_psf(os.path.join(d, "k.npy"), gaussian(1.0))
>>> np.allclose(load_psf(os.path.join(d, "k.npy")), gaussian(1.0))
True
"""

from __future__ import annotations

import os
import zipfile
from pathlib import Path
from typing import Any

import numpy as np

from ..io import atomic_write

try:
    from scipy.io.matlab import MatReadError as _MatReadError
except ImportError:  # pragma: no cover - very old SciPy
    _MatReadError = ValueError

__all__ = ["PSF_SUFFIXES", "load_psf", "save_psf"]

#: file suffixes understood by :func:`load_psf` / :func:`save_psf`
PSF_SUFFIXES = (".npy", ".npz", ".png", ".tif", ".tiff", ".mat")
_ORIENTATIONS = ("conv", "matlab")
#: variable names tried, in order, when a .mat/.npz file is read without ``key``
_KEYS = ("f", "psf", "kernel", "k", "h", "K", "PSF", "blur_kernel")


def _check_orientation(orientation: str) -> str:
    if orientation not in _ORIENTATIONS:
        raise ValueError(f"orientation must be one of {_ORIENTATIONS}, got {orientation!r}")
    return orientation


def _suffix(path: Path, what: str) -> str:
    suf = path.suffix.lower()
    if suf not in PSF_SUFFIXES:
        raise ValueError(f"{what} {str(path)!r} has unsupported suffix {suf!r}; accepted: "
                         f"{', '.join(PSF_SUFFIXES)}")
    return suf


def _pick(mapping: dict, key: str | None, path: Path) -> np.ndarray:
    names = [k for k in mapping if not k.startswith("__")]
    if key is not None:
        if key not in mapping:
            raise KeyError(f"key {key!r} not found in {str(path)!r}; it holds {names}")
        return np.asarray(mapping[key])
    for k in _KEYS:
        if k in mapping:
            return np.asarray(mapping[k])
    arrays = [k for k in names if np.asarray(mapping[k]).ndim >= 2
              and np.asarray(mapping[k]).dtype.kind in "fiub"]
    if len(arrays) == 1:
        return np.asarray(mapping[arrays[0]])
    raise ValueError(f"cannot tell which variable of {str(path)!r} is the PSF (it holds "
                     f"{names}); pass key=")


def _read_mat(path: Path, key: str | None) -> np.ndarray:
    import scipy.io

    try:
        data = scipy.io.loadmat(str(path))
    except NotImplementedError:  # MATLAB v7.3 = HDF5
        try:
            import h5py
        except ImportError:
            raise ValueError(f"{str(path)!r} is a MATLAB v7.3 (HDF5) file; install h5py to read "
                             "it, or re-save it in MATLAB with save(..., '-v7')") from None
        with h5py.File(path, "r") as fh:
            mapping = {k: fh[k] for k in fh if isinstance(fh[k], h5py.Dataset)}
            arr = _pick(mapping, key, path)
            if arr.dtype.kind not in "fiub":
                raise ValueError(f"variable of {str(path)!r} is not a numeric matrix (a cell "
                                 "array?); save one kernel per variable") from None
            # HDF5 stores MATLAB arrays column-major: transpose back
            return np.asarray(arr).T
    except ValueError as exc:
        raise ValueError(f"cannot read {str(path)!r} as a MATLAB file: {exc}") from None
    return _pick(data, key, path)


class _ColourPSF(ValueError):
    """A colour image given as a PSF (raised as is, not as an unreadable file)."""


def _read_image(path: Path, colour: str) -> np.ndarray:
    import imageio.v3 as iio

    a = np.asarray(iio.imread(path, plugin="pillow"))
    if a.ndim == 3 and a.shape[-1] in (2, 3, 4):
        a = a[..., :-1] if a.shape[-1] in (2, 4) else a          # drop alpha
        spread = float(np.ptp(a.astype(np.float64), axis=-1).max()) if a.shape[-1] > 1 else 0.0
        if spread <= 1.0:            # grey stored as RGB (channels equal to one count)
            a = a[..., 0] if spread == 0.0 else a.astype(np.float64).mean(axis=-1)
        elif colour == "average":
            a = a.astype(np.float64).mean(axis=-1)
        else:
            raise _ColourPSF(
                f"PSF file {str(path)!r} is a colour image (channels differ by up to "
                f"{spread:g} counts); a PSF is one grey kernel. Convert it to grey, or pass "
                "colour='average' to average the channels")
    if a.dtype.kind in "ui":
        a = a.astype(np.float64) / float(np.iinfo(a.dtype).max)
    return a


def load_psf(path: str | os.PathLike, *, orientation: str = "conv", key: str | None = None,
             normalize: bool = True, colour: str = "refuse", negative: str = "refuse"
             ) -> np.ndarray:
    """Load a PSF from ``.npy``, ``.npz``, ``.png``, ``.tif``/``.tiff`` or MATLAB ``.mat``.

    Parameters
    ----------
    path : str or path-like
        The file.
    orientation : {"conv", "matlab"}
        ``"conv"``: the stored array convolves (no change). ``"matlab"``: stored
        in correlation orientation (Levin's ``f``); rotated by 180 degrees.
    key : str, optional
        Variable name in a ``.mat``/``.npz`` file. Default: the first of
        ``f, psf, kernel, k, h, K, PSF, blur_kernel`` present, else the only 2-D
        numeric variable.
    normalize : bool
        Scale to sum 1 (default), after clipping round-off negatives to 0. Set
        False to get the stored values (PNG values still scaled to [0, 1]).
    colour : {"refuse", "average"}
        A colour image file (PNG) whose channels differ is refused by default: a
        PSF is one grey kernel, and a photo given by mistake must not be used.
        ``"average"`` averages the channels. Grey stored as RGB is always accepted.
    negative : {"refuse", "clip"}
        With ``normalize=True``, negative entries below ``-1e-3`` times the
        maximum are refused by default (a PSF is non-negative; tiny negatives
        from round-off or background subtraction are clipped silently).
        ``"clip"`` clips any negative entry to 0.

    Returns
    -------
    psf : ndarray of float64 (float32 kept)

    Raises
    ------
    FileNotFoundError
        The file does not exist.
    ValueError
        Unsupported suffix, unreadable file, no PSF variable, a v7.3 file
        without h5py, NaN/inf values, an all-zero kernel, a colour image or
        clearly negative entries (see ``colour`` and ``negative``).

    Examples
    --------
    >>> import numpy as np, tempfile, os
    >>> from hybrid_deblur.psf import load_psf, save_psf
    >>> k = np.zeros((3, 3)); k[0, 0] = 1.0
    >>> p = os.path.join(tempfile.mkdtemp(), "f.mat")
    >>> save_psf(p, k, orientation="matlab", key="f")
    >>> np.array_equal(load_psf(p, orientation="matlab"), k)
    True
    """
    orientation = _check_orientation(orientation)
    if colour not in ("refuse", "average"):
        raise ValueError(f"colour must be 'refuse' or 'average', got {colour!r}")
    if negative not in ("refuse", "clip"):
        raise ValueError(f"negative must be 'refuse' or 'clip', got {negative!r}")
    if not isinstance(path, (str, os.PathLike)):
        raise TypeError(f"path must be a str or path-like, got {path!r} ({type(path).__name__})")
    p = Path(path)
    suf = _suffix(p, "path")
    if not p.is_file():
        raise FileNotFoundError(f"PSF file not found: {str(p)!r}")
    try:
        if suf == ".npy":
            a = np.load(p, allow_pickle=False)
        elif suf == ".npz":
            with np.load(p, allow_pickle=False) as z:
                a = _pick(dict(z), key, p)
        elif suf == ".mat":
            a = _read_mat(p, key)
        elif suf in (".tif", ".tiff"):
            import tifffile

            a = np.asarray(tifffile.imread(p))
            if a.dtype.kind in "ui" and a.dtype.itemsize <= 2:
                a = a.astype(np.float64)
        else:
            a = _read_image(p, colour)
    except (KeyError, FileNotFoundError, _ColourPSF):
        raise
    except (ValueError, OSError, EOFError, zipfile.BadZipFile, _MatReadError) as exc:
        # corrupt files raise library-specific errors; report them as one ValueError
        raise ValueError(f"cannot read PSF file {str(p)!r}: {type(exc).__name__}: {exc}"
                         ) from None
    a = np.asarray(a)
    if a.dtype.kind not in "fiub":
        raise ValueError(f"PSF file {str(p)!r} holds a {a.dtype} array, not numbers")
    a = a.astype(np.float64) if a.dtype.kind != "f" else a
    while a.ndim > 2 and 1 in a.shape:          # e.g. (1, H, W) or (H, W, 1) stacks
        a = np.squeeze(a, axis=a.shape.index(1))
    if a.ndim < 2 or a.size == 0:
        raise ValueError(f"PSF file {str(p)!r} holds an array of shape {a.shape}; "
                         "a PSF needs >= 2 spatial axes")
    if not np.all(np.isfinite(a)):
        raise ValueError(f"PSF file {str(p)!r} contains NaN or inf")
    if orientation == "matlab":
        a = a[(slice(None, None, -1),) * a.ndim]
    a = np.ascontiguousarray(a)
    if normalize:
        mn, mx = float(a.min()), float(a.max())
        if negative == "refuse" and mn < -1e-3 * max(mx, 0.0):
            raise ValueError(
                f"PSF file {str(p)!r} has negative entries down to {mn:.3g} (max {mx:.3g}); a "
                "PSF is non-negative. Fix the file, or pass negative='clip' to clip them to 0")
        a = np.clip(a, 0, None)
        s = a.sum()
        if not s > 0:
            raise ValueError(f"PSF file {str(p)!r} holds an all-zero (or all-negative) kernel")
        a = a / s
    return a


def save_psf(path: str | os.PathLike, psf: Any, *, orientation: str = "conv",
             key: str = "psf", bit_depth: int = 16) -> None:
    """Write a PSF atomically; the format follows the suffix.

    Parameters
    ----------
    path : str or path-like
        ``.npy``/``.npz``/``.tif``/``.tiff``/``.mat`` keep float values exactly;
        ``.png`` stores ``psf / psf.max()`` quantised to ``bit_depth`` bits.
    psf : array_like
        Real, finite kernel (NumPy or anything ``numpy.asarray`` takes).
    orientation : {"conv", "matlab"}
        ``"matlab"`` writes the 180-degree rotation (correlation orientation).
    key : str
        Variable name in ``.mat``/``.npz`` files.
    bit_depth : {8, 16}
        PNG bit depth.

    Examples
    --------
    >>> import os, tempfile
    >>> from hybrid_deblur.psf import disk, save_psf
    >>> save_psf(os.path.join(tempfile.mkdtemp(), "d.png"), disk(3.0))
    """
    orientation = _check_orientation(orientation)
    p = Path(path)
    suf = _suffix(p, "path")
    if hasattr(psf, "detach"):
        psf = psf.detach().cpu().numpy()
    elif hasattr(psf, "get") and type(psf).__module__.startswith("cupy"):
        psf = psf.get()
    a = np.asarray(psf)
    if a.dtype.kind not in "fiub" or a.ndim < 2 or a.size == 0:
        raise ValueError(f"psf must be a non-empty real array with >= 2 axes, got "
                         f"dtype {a.dtype}, shape {a.shape}")
    if not np.all(np.isfinite(a)):
        raise ValueError("psf contains NaN or inf; cannot save it")
    if orientation == "matlab":
        a = a[(slice(None, None, -1),) * a.ndim]
    a = np.ascontiguousarray(a)
    if suf == ".png":
        if bit_depth not in (8, 16):
            raise ValueError(f"bit_depth must be 8 or 16, got {bit_depth!r}")
        if a.ndim != 2:
            raise ValueError(f"a .png PSF must be 2-D, got shape {a.shape}; use .tif or .npy")
        mx = a.max()
        if not mx > 0:
            raise ValueError("psf has no positive value; cannot scale it to a .png")
        top = 255 if bit_depth == 8 else 65535
        q = np.round(np.clip(a / mx, 0, 1) * top).astype(np.uint8 if bit_depth == 8
                                                          else np.uint16)
    p.parent.mkdir(parents=True, exist_ok=True)
    with atomic_write(p, "wb") as fh:
        if suf == ".npy":
            np.save(fh, a, allow_pickle=False)
        elif suf == ".npz":
            np.savez(fh, **{key: a})
        elif suf == ".mat":
            import scipy.io

            scipy.io.savemat(fh, {key: a})
        elif suf in (".tif", ".tiff"):
            import tifffile

            tifffile.imwrite(fh, a, photometric="minisblack")   # a stack is pages, never RGB
        else:
            import imageio.v3 as iio

            fh.write(iio.imwrite("<bytes>", q, extension=".png"))
