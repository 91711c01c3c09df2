"""``Deblurrer``: the friendly entry point for non-blind restoration (learned or classical).

Examples
--------
>>> import numpy as np
>>> from hybrid_deblur.pipeline.deblurrer import Deblurrer
>>> from hybrid_deblur.physics import degrade
>>> x = np.random.default_rng(0).random((64, 64))
>>> k = np.ones((5, 5)) / 25
>>> y, _ = degrade(x, k, boundary="valid", noise=0.01, seed=0)
>>> Deblurrer("wiener").restore(y, k).shape
(60, 60)
>>> Deblurrer("unrolled-hqs").restore(y, k, sigma=0.01).shape   # doctest: +SKIP
(60, 60)
"""

from __future__ import annotations

import inspect
from typing import Any

from .methods import METHODS, get_method

__all__ = ["Deblurrer", "LEARNED_METHODS"]

#: registry names served by :mod:`hybrid_deblur.learned` (torch is imported only for these)
LEARNED_METHODS = ("unrolled-hqs", "deep-wiener", "unrolled-rl")


class Deblurrer:
    """Restore images blurred by a known PSF with one registered method.

    Parameters
    ----------
    method : str
        A name of :data:`hybrid_deblur.pipeline.methods.METHODS`: the learned
        ``"unrolled-hqs"`` (default, shipped weights), ``"deep-wiener"``,
        ``"unrolled-rl"``, or a classical solver (``"wiener"``, ``"hqs-hl"``, ...).
    boundary : str
        Boundary model (default ``"auto"``: unknown boundary, output of ``y``'s shape).
    weights : path, optional
        Learned methods only: a weight file instead of the shipped one.
    device : str, optional
        Learned methods only: torch device (default: CPU for NumPy input).
    **options
        Passed to the method on every call (only the ones its signature accepts).

    Notes
    -----
    σ (noise std on the [0, 1] scale) is estimated from ``y`` by
    :func:`hybrid_deblur.solvers.estimate_noise` when not given.
    """

    def __init__(self, method: str = "unrolled-hqs", *, boundary: str = "auto", weights: Any = None,
                 device: Any = None, **options: Any):
        if method not in METHODS:
            raise ValueError(f"method={method!r} is unknown; known methods: "
                             f"{', '.join(sorted(METHODS))}")
        self.method = method
        self.boundary = boundary
        self.fn = get_method(method)
        self.options = dict(options)
        if method in LEARNED_METHODS:
            self.options.update(weights=weights, device=device)
        elif weights is not None or device is not None:
            raise ValueError(f"weights= and device= apply to learned methods "
                             f"({', '.join(LEARNED_METHODS)}), not to method={method!r}")

    def _call(self, y, psf, **kw):
        try:
            params = inspect.signature(self.fn).parameters
        except (TypeError, ValueError):  # pragma: no cover
            return self.fn(y, psf, **kw)
        if any(p.kind is inspect.Parameter.VAR_KEYWORD for p in params.values()):
            return self.fn(y, psf, **kw)
        return self.fn(y, psf, **{k: v for k, v in kw.items() if k in params})

    def restore(self, y: Any, psf: Any, sigma: Any = None) -> Any:
        """Deblur ``y`` (NumPy or torch, (H, W) or (C, H, W)) blurred by ``psf``.

        Returns the restored image, same kind as ``y`` (never clipped).
        """
        if sigma is None:
            from ..solvers import estimate_noise

            sigma = estimate_noise(y)
        return self._call(y, psf, boundary=self.boundary, sigma=sigma, **self.options)

    __call__ = restore

    def __repr__(self) -> str:
        return f"Deblurrer(method={self.method!r}, boundary={self.boundary!r})"
