"""PSF <-> OTF conversion and PSF validation (the one convention of DESIGN §1).

A PSF is non-negative, sums to 1 and has its centre at pixel ``k // 2`` on each
axis. Its optical transfer function on a grid of ``shape`` is obtained by
zero-padding the PSF to ``shape``, rolling it by ``-(k // 2)`` on each axis (so
that the centre lands on the origin) and taking ``rfftn`` over those axes. This
is exactly scikit-image's ``ir2tf`` (``is_real=True``) and KAIR's ``p2o``.

Examples
--------
>>> import numpy as np
>>> from hybrid_deblur.psf import psf2otf, otf2psf
>>> k = np.zeros((3, 3)); k[1, 1] = 1.0          # a centred delta
>>> H = psf2otf(k, (8, 8))
>>> np.allclose(H, 1.0)
True
>>> np.allclose(otf2psf(H, (3, 3), shape=(8, 8)), k)
True
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np
import scipy.fft as _sfft

from .. import backend as B

__all__ = ["centre_spectrum", "convolve_full", "otf2psf", "psf2otf", "sample_frequencies",
           "validate_psf"]


def validate_psf(psf: Any, *, name: str = "psf", ndim: int | None = None,
                 image_shape: Sequence[int] | None = None, normalize: bool = False):
    """Check a PSF and return it as a float array of its own library.

    Raises
    ------
    ValueError
        When the PSF holds NaN/inf, negative values, sums to zero, has fewer than
        ``ndim`` axes, or is larger than ``image_shape`` on a spatial axis.
    TypeError
        When it is not a real numeric array.

    Examples
    --------
    >>> import numpy as np
    >>> from hybrid_deblur.psf import validate_psf
    >>> validate_psf(np.ones((3, 3)), normalize=True).sum()
    np.float64(1.0)
    >>> validate_psf(-np.ones((3, 3)))
    Traceback (most recent call last):
    ...
    ValueError: psf has negative values (min -1); a PSF must be non-negative. Clip it (np.clip(psf, 0, None)) or use psf.normalize(psf, clip=True).
    """
    if psf is None:
        raise TypeError(f"{name} must be an array (a PSF), got None")
    psf = B.as_float(_real_array(psf, name), name=name)
    nd = 2 if ndim is None else int(ndim)
    if psf.ndim < nd:
        raise ValueError(
            f"{name} must have at least {nd} axes (the last {nd} are spatial); "
            f"got shape {tuple(psf.shape)}"
        )
    if any(int(n) == 0 for n in psf.shape):
        raise ValueError(f"{name} is empty (shape {tuple(psf.shape)}); a PSF needs >= 1 pixel")
    chk = psf.detach() if B.is_torch(psf) else psf
    B.check_finite(chk, name)
    mn = float(chk.min())
    if mn < -1e-12 * max(float(abs(chk).max()), 1e-300):
        raise ValueError(
            f"{name} has negative values (min {mn:.3g}); a PSF must be non-negative. "
            "Clip it (np.clip(psf, 0, None)) or use psf.normalize(psf, clip=True)."
        )
    total = psf.sum(axis=tuple(range(-nd, 0))) if not B.is_torch(psf) else psf.sum(
        dim=tuple(range(-nd, 0)))
    if float(abs(total.detach() if B.is_torch(total) else total).min()) <= 0:
        raise ValueError(f"{name} sums to zero (all-zero kernel); it must have positive energy")
    if image_shape is not None:
        ks = tuple(int(v) for v in psf.shape[-nd:])
        ims = tuple(int(v) for v in image_shape[-nd:])
        if any(k > n for k, n in zip(ks, ims)):
            raise ValueError(
                f"{name} of spatial shape {ks} is larger than the image {ims}; "
                "the PSF must fit inside the image on every axis"
            )
    if normalize:
        psf = psf / total[(...,) + (None,) * nd]
    return psf


def psf2otf(psf: Any, shape: Sequence[int], *, ndim: int | None = None, onesided: bool = True):
    """Optical transfer function of ``psf`` on a grid of spatial ``shape``.

    Parameters
    ----------
    psf : array, shape (..., k1, ..., kd)
        The PSF (NumPy, CuPy or torch; torch keeps autograd). Leading axes are
        batch/channel axes and are kept.
    shape : sequence of int
        The spatial grid (d values), each >= the PSF size.
    ndim : int, optional
        Number of spatial axes d (default ``len(shape)``).
    onesided : bool
        The half spectrum of ``rfftn`` (default, what the solvers use), or with
        False the full spectrum of ``fftn`` (for displays, see :func:`centre_spectrum`).

    Returns
    -------
    otf : complex array, shape (..., n1, ..., nd // 2 + 1)
        ``rfftn`` of the zero-padded PSF rolled by ``-(k // 2)`` (shape
        ``(..., n1, ..., nd)`` and ``fftn`` with ``onesided=False``).

    Raises
    ------
    ValueError
        A PSF with fewer axes than ``shape`` (a 1-D profile for a 2-D grid) or
        larger than the grid.
    TypeError
        A complex or non-numeric PSF.

    Notes
    -----
    With :math:`c = \\lfloor k/2 \\rfloor`, circular convolution
    ``irfftn(rfftn(x) * otf)`` computes
    :math:`y_i = \\sum_j k_j\\, x_{(i - j + c) \\bmod n}`, i.e. true convolution
    centred on pixel ``c`` of the kernel.

    Examples
    --------
    >>> import numpy as np
    >>> from hybrid_deblur.psf import gaussian, psf2otf
    >>> H = psf2otf(gaussian(1.0), (32, 32))
    >>> H.shape, bool(np.isclose(H[0, 0], 1.0))          # the DC gain is the PSF sum
    ((32, 17), True)
    >>> psf2otf(gaussian(1.0), (32, 32), onesided=False).shape
    (32, 32)
    """
    psf = _real_array(psf)
    try:
        shape = tuple(int(v) for v in shape)
    except (TypeError, ValueError):
        raise TypeError(f"shape must be a sequence of ints, got {shape!r}") from None
    nd = len(shape) if ndim is None else int(ndim)
    if len(shape) != nd or nd < 1 or any(n < 1 for n in shape):
        raise ValueError(f"shape must have {nd} positive entries, got {shape}")
    if psf.ndim < nd:
        raise ValueError(
            f"psf has {psf.ndim} axis(es) (shape {tuple(psf.shape)}) but the OTF grid {shape} has "
            f"{nd}: a PSF needs at least {nd} axes (the last {nd} are spatial); for a 1-D "
            "profile on a 2-D grid pass psf[None, :] or np.outer(...)"
        )
    ks = tuple(int(v) for v in psf.shape[-nd:])
    if any(k > n for k, n in zip(ks, shape)):
        raise ValueError(f"psf of spatial shape {ks} is larger than the OTF grid {shape}")
    lead = tuple(int(v) for v in psf.shape[:-nd])
    big = B.zeros_like_shape(psf, lead + shape)
    big[(...,) + tuple(slice(0, k) for k in ks)] = psf
    xp = B.namespace(big)
    big = xp.roll(big, shift=tuple(-(k // 2) for k in ks), axis=tuple(range(-nd, 0)))
    axes = tuple(range(-nd, 0))
    return B.rfftn(big, axes=axes) if onesided else B.fftn(big, axes=axes)


def centre_spectrum(H: Any, axes: Sequence[int] = (-2, -1)):
    """Move the zero frequency of a full spectrum to the middle (``fftshift``), for plots.

    Examples
    --------
    >>> import numpy as np
    >>> from hybrid_deblur.psf.otf import centre_spectrum
    >>> centre_spectrum(np.arange(4.0), axes=(0,)).tolist()
    [2.0, 3.0, 0.0, 1.0]
    """
    return _sfft.fftshift(np.asarray(B.to_numpy(H)), axes=tuple(axes))


def _real_array(psf: Any, name: str = "psf"):
    """``psf`` as an array of its own library; complex or non-numeric input is refused."""
    if not (B.is_torch(psf) or B.is_cupy(psf) or isinstance(psf, np.ndarray)):
        psf = np.asarray(psf)
    if B.is_torch(psf):
        bad = psf.is_complex()
    else:
        bad = np.dtype(psf.dtype).kind not in "fiub"
    if bad:
        raise TypeError(f"{name} must be a real numeric array, got dtype {psf.dtype}; a complex "
                        "array is an OTF, not a PSF (see otf2psf)")
    return psf


def otf2psf(otf: Any, psf_shape: Sequence[int], *, shape: Sequence[int]):
    """Inverse of :func:`psf2otf`: the ``psf_shape`` PSF whose OTF on ``shape`` is ``otf``.

    Examples
    --------
    >>> import numpy as np
    >>> from hybrid_deblur.psf import disk, otf2psf, psf2otf
    >>> k = disk(2.0)
    >>> bool(np.allclose(otf2psf(psf2otf(k, (16, 16)), k.shape, shape=(16, 16)), k))
    True
    """
    shape = tuple(int(v) for v in shape)
    nd = len(shape)
    ks = tuple(int(v) for v in psf_shape)
    big = B.irfftn(otf, s=shape, axes=tuple(range(-nd, 0)))
    xp = B.namespace(big)
    big = xp.roll(big, shift=tuple(k // 2 for k in ks), axis=tuple(range(-nd, 0)))
    return big[(...,) + tuple(slice(0, k) for k in ks)]


def sample_frequencies(n: int, d: float = 1.0, *, real: bool = False) -> np.ndarray:
    """Frequencies of the ``n`` samples of a (real) DFT of spacing ``d``, in FFT order.

    ``scipy.fft.fftfreq`` (or ``rfftfreq`` with ``real=True``): the frequency grid
    the optics code multiplies transfer functions on, kept here with the other FFT
    conventions.

    Examples
    --------
    >>> from hybrid_deblur.psf.otf import sample_frequencies
    >>> sample_frequencies(4).tolist(), sample_frequencies(4, real=True).tolist()
    ([0.0, 0.25, -0.5, -0.25], [0.0, 0.25, 0.5])
    """
    return (_sfft.rfftfreq if real else _sfft.fftfreq)(int(n), float(d))


def convolve_full(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """Full linear convolution of two real N-D arrays by FFT (``scipy.signal.fftconvolve``).

    Used by :func:`hybrid_deblur.psf.combine` for large kernels; the transform size
    is the next fast length of ``na + nb - 1`` on every axis.

    Examples
    --------
    >>> import numpy as np
    >>> from hybrid_deblur.psf.otf import convolve_full
    >>> np.round(convolve_full(np.array([[1.0, 1.0]]), np.array([[1.0, 2.0, 3.0]])), 12).tolist()
    [[1.0, 3.0, 5.0, 3.0]]
    """
    a = np.asarray(a, dtype=np.float64)
    b = np.asarray(b, dtype=np.float64)
    if a.ndim != b.ndim:
        raise ValueError(f"a and b must have the same number of axes, got {a.shape} and {b.shape}")
    full = tuple(p + q - 1 for p, q in zip(a.shape, b.shape))
    fast = B.next_fast_shape(full)
    axes = tuple(range(a.ndim))
    out = B.irfftn(B.rfftn(a, s=fast, axes=axes) * B.rfftn(b, s=fast, axes=axes), s=fast,
                   axes=axes)
    return np.ascontiguousarray(out[tuple(slice(0, n) for n in full)])
