"""The one degradation pipeline used by benchmarks, training data and notebooks.

``degrade`` turns a sharp, linear-light scene into an observation and records
exactly what it did, so every synthetic result in the project can say which
blur, boundary and noise produced it.

Examples
--------
>>> import numpy as np
>>> from hybrid_deblur.physics import degrade
>>> x = np.random.default_rng(0).random((64, 64))
>>> k = np.ones((5, 5)) / 25
>>> y, info = degrade(x, k, boundary="valid", noise=0.01, seed=1)
>>> y.shape, info["noise"], info["valid_offset"]
((60, 60), {'gaussian': 0.01}, [2, 2])
"""

from __future__ import annotations

from typing import Any

import numpy as np

from .. import backend as B
from .blur import Blur
from .noise import apply_noise

__all__ = ["crop_valid", "degrade", "encode_gamma"]


def encode_gamma(x: Any, gamma: float | str):
    """Display encoding of linear values: ``"srgb"`` (IEC 61966-2-1) or a power ``1/gamma``."""
    x = B.as_float(x)
    if B.is_torch(x):
        xc = x.clamp(min=0)
    else:
        xc = B.namespace(x).clip(x, 0.0, None)
    if gamma == "srgb":
        xp = B.namespace(x)
        return xp.where(xc <= 0.0031308, 12.92 * xc, 1.055 * xc ** (1 / 2.4) - 0.055)
    g = float(gamma)
    if not g > 0:
        raise ValueError(f"gamma must be 'srgb' or a positive number, got {gamma!r}")
    return xc ** (1.0 / g)


def crop_valid(x: Any, ksize, *, ndim: int = 2):
    """Central crop of the scene ``x`` that matches a ``valid`` blur with a kernel of ``ksize``.

    Pixel ``i`` of the valid output sees scene pixels around ``i + (k - 1 - k // 2)``, so
    this is the reference to compare a ``valid``-mode restoration with.
    """
    ks = (int(ksize),) * ndim if np.isscalar(ksize) else tuple(int(k) for k in ksize)
    shape = x.shape[-ndim:]
    sl = tuple(slice(k - 1 - k // 2, n - k // 2) for k, n in zip(ks, shape))
    return x[(...,) + sl]


def degrade(x: Any, psf: Any, *, boundary: str = "valid", noise: Any = None,
            gamma: float | str | None = None, saturation: float | None = None,
            seed: Any = None, ndim: int = 2) -> tuple[Any, dict]:
    """Blur a sharp linear image and add noise: ``y = Q(S(N(k * x)))``.

    Parameters
    ----------
    x : array, shape (..., H, W)
        Sharp scene in linear light (NumPy, CuPy or torch).
    psf : array
        Blur kernel (normalised to sum 1), one per leading axis or shared.
    boundary : str
        Boundary model of :class:`Blur` (default ``"valid"``: the output is the
        part of the blurred scene a camera really sees, smaller by ``k - 1``).
    noise : None, float or dict
        ``None``/0: noiseless. A float: Gaussian σ on the [0, 1] scale. A dict:
        ``{"gaussian": σ, "poisson": peak_photons, "bits": 8, "saturation": 1.0}``.
    gamma : None, "srgb" or float
        Display-encode the result after noise (for simulating camera JPEGs).
    saturation : float, optional
        Clip at this full-well level (e.g. 1.0). Same as ``noise["saturation"]``.
    seed : int or numpy.random.Generator, optional
        Reproducible noise.
    ndim : int
        Spatial axes (2, or 3 for volumes).

    Returns
    -------
    y : array
        The observation, same library/dtype as ``x``.
    info : dict
        Exactly what was applied: boundary, PSF shape, noise spec, saturation,
        gamma, seed, shapes and the offset of ``y`` inside ``x`` (valid mode).

    Notes
    -----
    The order is physical: blur in linear light, photon (Poisson) noise, read
    (Gaussian) noise, saturation at the full well, quantisation, then optional
    display encoding. Nothing is clipped unless saturation or quantisation is asked for.

    Examples
    --------
    >>> import numpy as np
    >>> from hybrid_deblur.physics import degrade
    >>> y, info = degrade(np.full((32, 32), 0.5), np.ones((5, 5)), boundary="valid",
    ...                   noise=None)
    >>> y.shape, info["boundary"]
    ((28, 28), 'valid')
    """
    x = B.as_float(x, name="x")
    B.check_finite(x, "x")
    op = Blur(psf, boundary=boundary, ndim=ndim)
    spatial = tuple(int(v) for v in x.shape[-ndim:])
    if any(k > n for k, n in zip(op.ksize, spatial)):
        raise ValueError(f"psf of shape {op.ksize} is larger than x of spatial shape {spatial}")
    y = op.A(x)
    nspec = dict(noise) if isinstance(noise, dict) else noise
    if saturation is not None:
        if nspec is None or not isinstance(nspec, dict):
            nspec = {} if nspec is None else {"gaussian": float(nspec)}
        nspec["saturation"] = float(saturation)
    y, spec = apply_noise(y, nspec, seed=seed)
    if gamma is not None:
        y = encode_gamma(y, gamma)
    info = {
        "boundary": boundary,
        "psf_shape": list(op.ksize),
        "psf_leading_shape": [int(v) for v in op.psf.shape[:-ndim]],
        "noise": spec,
        "gamma": gamma,
        "seed": seed if (seed is None or isinstance(seed, (int, np.integer))) else "generator",
        "input_shape": [int(v) for v in x.shape],
        "output_shape": [int(v) for v in y.shape],
        "valid_offset": [k - 1 - k // 2 for k in op.ksize] if boundary == "valid" else [0] * ndim,
        "dtype": str(y.dtype),
    }
    return y, info

