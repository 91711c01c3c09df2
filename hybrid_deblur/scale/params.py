"""Tile-independent parameters and halo widths for tiled restoration.

A restoration split into tiles equals the whole-image one only if every tile uses
the *same* parameters. Automatic parameters (noise level, Wiener NSR, Tikhonov /
HQS weight, Richardson–Lucy stopping iteration, TV weight) depend on the data they
see, so :func:`freeze_options` resolves them once, on a central crop, by running
the method itself with ``return_info=True`` and passing its choices on explicitly.
:func:`influence_radius` gives the halo a tile needs so that its centre does not see
its own border.

Examples
--------
>>> import numpy as np
>>> from hybrid_deblur.scale import freeze_options, influence_radius
>>> y = np.random.default_rng(0).random((96, 96))
>>> k = np.ones((5, 5)) / 25
>>> sorted(freeze_options(y, k, "rl"))
['accelerate', 'num_iter', 'sigma']
>>> influence_radius(k, "wiener", nsr=0.01) > 2
True
"""

from __future__ import annotations

import inspect
from typing import Any

import numpy as np

__all__ = ["LEARNED", "central_crop", "freeze_options", "influence_radius", "is_learned"]

LINEAR = ("wiener", "tikhonov")
RL = ("rl", "rl-tv")
HQS = ("hqs-tv", "hqs-hl")
LEARNED = ("unrolled-hqs", "deep-wiener", "unrolled-rl")


def is_learned(method: str) -> bool:
    """True for registered methods of kind ``hybrid`` / ``end-to-end`` (torch models, 2-D only)."""
    if method in LEARNED:
        return True
    try:
        from ..analysis.registry import method_kind

        return method_kind(method) != "classical"
    except (ImportError, ValueError):
        return False


def accepts(fn, name: str) -> bool:
    """Whether ``fn`` takes keyword ``name`` (or ``**kwargs``)."""
    try:
        ps = inspect.signature(fn).parameters
    except (TypeError, ValueError):  # pragma: no cover
        return True
    return name in ps or any(p.kind is inspect.Parameter.VAR_KEYWORD for p in ps.values())


def central_crop(image: Any, ndim: int, size: int = 1024) -> np.ndarray:
    """The central ``size`` (per spatial axis) of ``image`` as an in-memory NumPy array."""
    shape = tuple(int(s) for s in image.shape)
    sl = tuple(slice(None) for _ in shape[:-ndim]) + tuple(
        slice(max((n - size) // 2, 0), max((n - size) // 2, 0) + min(size, n)) for n in shape[-ndim:])
    out = image[sl]
    if hasattr(out, "compute"):
        out = out.compute()
    return np.asarray(out)


def _per_channel(v: Any, ndim: int):
    a = np.asarray(v, dtype=np.float64)
    return float(a) if a.ndim == 0 else a.reshape(a.shape + (1,) * ndim)


def freeze_options(image: Any, psf: Any, method: str, *, ndim: int = 2, crop: int = 1024,
                   **options: Any) -> dict:
    """Options with every automatic, data-dependent parameter of ``method`` made explicit.

    Parameters
    ----------
    image : array-like
        The whole image (NumPy, dask, or a lazy reader); only a central crop is read.
    psf : array
        The blur kernel.
    method : str
        Registry name (:func:`hybrid_deblur.analysis.registry.get_method`).
    ndim : int
        Spatial axes.
    crop : int
        Side of the central crop the parameters are resolved on.
    **options
        The caller's options; explicit values are kept as they are.

    Returns
    -------
    dict
        ``options`` plus the frozen values: ``wiener`` -> ``nsr`` (per channel) with
        ``reg="gradient"`` (the automatic model NSR :math:`N\\sigma^2 / A` of the crop;
        see Notes); ``tikhonov`` -> ``lam``; ``rl``/``rl-tv`` -> ``accelerate=False``
        unless given (the acceleration step is a whole-image quantity), ``num_iter`` (the
        crop's automatic stop), ``sigma`` and ``tv``; ``hqs-*`` -> ``lam``, ``sigma``,
        ``num_iter``; learned methods and the rest -> ``sigma``.

    Notes
    -----
    The automatic Wiener filter divides by :math:`|H|^2 + N\\sigma^2 (|D|^2+\\epsilon)/A`
    with :math:`A` fitted to the spectrum (so :math:`A/N` is a property of the scene,
    not of the grid); a scalar ``nsr`` :math:`= N\\sigma^2/A` with the gradient
    regulariser is the same filter up to :math:`\\epsilon = (2\\pi/\\max N)^2` at DC,
    and it is the same on every tile.

    Examples
    --------
    >>> import numpy as np
    >>> from hybrid_deblur.scale import freeze_options
    >>> y = np.random.default_rng(0).random((96, 96))
    >>> o = freeze_options(y, np.ones((5, 5)) / 25, "wiener")
    >>> o["reg"], o["nsr"] > 0
    ('gradient', True)
    """
    from ..analysis.registry import get_method

    fn = get_method(method)
    opts = dict(options)
    sample = central_crop(image, ndim, crop)
    kw = {"ndim": ndim} if accepts(fn, "ndim") and not is_learned(method) else {}

    def info_of(**extra):
        _, info = fn(sample, psf, boundary="auto", return_info=True, **kw, **{**opts, **extra})
        return info

    if method == "wiener":
        if opts.get("nsr") is None and opts.get("noise_power") is None:
            info = info_of()
            n = float(np.prod(info["grid"]))
            sig = np.asarray(info["sigma"], dtype=np.float64)
            amp = np.asarray(info["signal_amplitude"], dtype=np.float64)
            opts["nsr"] = _per_channel(n * sig ** 2 / amp, ndim)
            opts["reg"] = "gradient"
            opts.pop("sigma", None)
    elif method == "tikhonov":
        if opts.get("lam") is None:
            opts["lam"] = _per_channel(info_of()["lam"], ndim)
    elif method in RL:
        # Biggs-Andrews acceleration takes its step from whole-image inner products: per tile
        # it would differ, so each tile would follow its own path (measured: 1.2e-2 max relative
        # difference, -0.1 dB, at 30 iterations); plain RL is local and tiles agree to 6e-6
        opts.setdefault("accelerate", False)
        if opts.get("num_iter") is None or (method == "rl-tv" and opts.get("tv") is None):
            info = info_of()
            opts.setdefault("num_iter", None)
            if opts["num_iter"] is None:
                opts["num_iter"] = int(info["iterations"])
            if method == "rl-tv" and opts.get("tv") is None:
                opts["tv"] = info["tv"]
        if opts.get("sigma") is None:
            opts["sigma"] = _sigma(sample, ndim)
    elif method in HQS:
        if opts.get("lam") is None or opts.get("num_iter") is None:
            info = info_of()
            if opts.get("lam") is None:
                opts["lam"] = info["lam"]
            if opts.get("num_iter") is None:
                opts["num_iter"] = int(info["iterations"])
            if opts.get("sigma") is None and "sigma" in info:
                opts["sigma"] = info["sigma"]
    elif accepts(fn, "sigma") and opts.get("sigma") is None:
        opts["sigma"] = _sigma(sample, ndim)
    return opts


def _sigma(sample: np.ndarray, ndim: int):
    from ..solvers import estimate_noise

    s = np.asarray(estimate_noise(sample, ndim=ndim), dtype=np.float64)
    return float(s) if s.ndim == 0 else s.tolist()


def influence_radius(psf: Any, method: str, *, ndim: int | None = None, tol: float = 1e-6,
                     max_radius: int = 2048, **options: Any) -> int:
    """Halo (pixels per side) a tile needs for ``method``.

    Parameters
    ----------
    psf : array
        The blur kernel (its last ``ndim`` axes are spatial).
    method : str
        Registry name.
    ndim : int, optional
        Spatial axes (default ``psf.ndim``, at most 3).
    tol : float
        Linear methods: the share of the filter's absolute mass allowed outside the halo.
    max_radius : int
        Upper bound for the linear search.
    **options
        The (frozen) options of the method; linear methods need ``nsr`` / ``lam``.

    Returns
    -------
    int
        Linear methods (``wiener``/``tikhonov`` with explicit parameters): the radius
        :math:`r` (Chebyshev) outside which the restoration filter's impulse response holds
        less than ``tol`` of its absolute mass (computed by restoring a delta with the
        method itself, ``boundary="circular"``), plus the PSF radius. Iterative and learned
        methods: ``max(4 (k - 1), 32)`` with ``k`` the largest PSF side (measured on 4096²
        crops by ``benchmarks/tiled.py``: see its README section).

    Examples
    --------
    >>> import numpy as np
    >>> from hybrid_deblur.scale import influence_radius
    >>> influence_radius(np.ones((9, 9)) / 81, "rl")
    32
    """
    k = np.asarray(psf)
    nd = int(ndim) if ndim is not None else min(k.ndim, 3)
    ks = k.shape[-nd:]
    kmax = int(max(ks))
    rad = kmax // 2
    if method in LINEAR and (options.get("nsr") is not None or options.get("lam") is not None):
        from ..analysis.registry import get_method

        fn = get_method(method)
        side = max(8 * kmax, 128 if nd < 3 else 48)
        while True:
            n = side + (side % 2 == 0)
            delta = np.zeros((n,) * nd)
            delta[(n // 2,) * nd] = 1.0
            o = {a: b for a, b in options.items() if a in ("nsr", "lam", "reg")}
            for a in ("nsr", "lam"):   # one channel's filter: take the weakest regularisation
                if a in o and np.ndim(o[a]):
                    o[a] = float(np.min(o[a]))
            kk = k.reshape((-1,) + ks)[0] if k.ndim > nd else k
            g = np.abs(np.asarray(fn(delta, kk, boundary="circular", ndim=nd, **o)))
            total = g.sum()
            c = n // 2
            # mass inside the Chebyshev ball of radius r, for every r
            d1 = np.abs(np.arange(n, dtype=np.int32) - c)
            dist = d1.reshape((-1,) + (1,) * (nd - 1))
            for ax in range(1, nd):
                dist = np.maximum(dist, d1.reshape((1,) * ax + (-1,) + (1,) * (nd - 1 - ax)))
            inside = np.bincount(dist.reshape(-1), weights=g.reshape(-1), minlength=c + 1).cumsum()
            outside = total - inside
            ok = np.nonzero(outside <= tol * total)[0]
            if ok.size and ok[0] < c - rad or side >= max_radius:
                r = int(ok[0]) if ok.size else c
                return int(min(r + rad + 1, max_radius))
            side *= 2
    return int(max(4 * (kmax - 1), 32))
