"""Input validation shared by the solver functions: one set of checks, errors that name the argument.

Every public solver validates ``y``, ``psf`` and its options here, so a bad input gives
the same clear ``ValueError`` / ``TypeError`` everywhere (the argument as the user wrote
it, the value received, what is accepted). Noise levels are checked by
:func:`hybrid_deblur.solvers.auto.check_sigma`.

Examples
--------
>>> import numpy as np
>>> from hybrid_deblur.solvers.validate import check_choice, prepare
>>> check_choice("boundary", "auto", ("auto", "valid"))
'auto'
>>> y, psf, op = prepare(np.ones((8, 8)), np.ones((3, 3)))
>>> float(psf.sum()), op.boundary
(1.0, 'circular')
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np

from .. import backend as B
from ..physics.blur import cached_blur
from ..psf.otf import validate_psf

__all__ = ["SOLVER_BOUNDARIES", "check_choice", "check_positive", "check_reference", "check_weights",
           "prepare"]

#: boundary modes accepted by every solver ("auto" = the ring-free default of each solver)
SOLVER_BOUNDARIES = ("auto", "circular", "reflect", "replicate", "zero", "valid")


def check_choice(name: str, value: Any, allowed: Sequence[Any]) -> Any:
    """Return ``value`` if it is in ``allowed``; else ``ValueError`` naming all three."""
    if not isinstance(value, str) or value not in allowed:
        raise ValueError(
            f"{name}={value!r} is not supported; accepted: {', '.join(map(repr, allowed))}"
        )
    return value


def check_positive(name: str, value: Any, *, allow_zero: bool = False, allow_none: bool = True):
    """Validate a scalar parameter that must be positive (or None); returns a float."""
    if value is None:
        if allow_none:
            return None
        raise ValueError(f"{name} must be a number, got None")
    if isinstance(value, (bool, str)):
        raise TypeError(f"{name} must be a real number, got {value!r}")
    try:
        v = float(value)
    except (TypeError, ValueError):
        raise TypeError(f"{name} must be a real number, got {value!r}") from None
    if not np.isfinite(v) or v < 0 or (v == 0 and not allow_zero):
        acc = ">= 0" if allow_zero else "> 0"
        raise ValueError(f"{name} must be a finite number {acc}, got {value!r}")
    return v


def check_reference(reference, shape, name: str = "reference"):
    """``reference`` (ground truth for callbacks) must have the restored image's shape."""
    if reference is None:
        return None
    if tuple(int(v) for v in reference.shape) != tuple(int(v) for v in shape):
        raise ValueError(f"{name} must have the shape of the restored image {tuple(shape)}, "
                         f"got {tuple(reference.shape)}")
    return reference


def prepare(y: Any, psf: Any, *, ndim: int = 2, name: str = "y", min_size: bool = True):
    """Validate the observation and the PSF; return ``(y, psf, op)``.

    ``y`` becomes a float array of its own library (dtype policy of
    :func:`hybrid_deblur.backend.as_float`); ``psf`` is validated, normalised to sum 1 and
    moved to ``y``'s library/device/dtype; ``op`` is a circular
    :class:`~hybrid_deblur.physics.Blur` (reused across calls with the same NumPy PSF, so
    its OTF cache serves repeated solves).
    """
    if not isinstance(ndim, (int, np.integer)) or isinstance(ndim, bool) or ndim < 1:
        raise ValueError(f"ndim must be a positive integer (2 for images, 3 for stacks), "
                         f"got {ndim!r}")
    ndim = int(ndim)
    y = B.as_float(y, name=name)
    if y.ndim < ndim:
        raise ValueError(f"{name} must have at least {ndim} axes (spatial axes last, "
                         f"ndim={ndim}); got shape {tuple(y.shape)}")
    if any(int(n) == 0 for n in y.shape):
        raise ValueError(f"{name} is empty (shape {tuple(y.shape)})")
    B.check_finite(y, name)
    if psf is None:
        raise TypeError("psf must be an array (the blur kernel), got None")
    psf = validate_psf(psf, ndim=ndim, image_shape=y.shape[-ndim:] if min_size else None,
                       normalize=True)
    if type(psf) is not type(y) or B.device_key(psf) != B.device_key(y) or psf.dtype != y.dtype:
        grad = B.is_torch(psf) and psf.requires_grad and B.is_torch(y)
        psf = B.asarray_like(psf, y) if not grad else psf.to(device=y.device, dtype=y.dtype)
    lead_p = tuple(int(v) for v in psf.shape[:-ndim])
    lead_y = tuple(int(v) for v in y.shape[:-ndim])
    if len(lead_p) > len(lead_y) or any(p != 1 and p != q for p, q in
                                         zip(lead_p[::-1], lead_y[::-1])):
        raise ValueError(f"psf leading axes {lead_p} must broadcast into the image's leading "
                         f"axes {lead_y}; give one PSF, or one per channel")
    return y, psf, cached_blur(psf, ndim)


def check_weights(weights: Any, y: Any, name: str = "weights"):
    """Per-pixel data weights: None, or finite, >= 0 and broadcasting to ``y`` (its library)."""
    if weights is None:
        return None
    weights = B.as_float(weights, name=name)
    weights = B.asarray_like(weights, y) if type(weights) is not type(y) else weights
    try:
        np.broadcast_shapes(tuple(weights.shape), tuple(y.shape))
    except ValueError:
        raise ValueError(f"{name} of shape {tuple(weights.shape)} must broadcast to y of shape "
                         f"{tuple(y.shape)}") from None
    B.check_finite(weights, name)
    if float(weights.min()) < 0:
        raise ValueError(f"{name} must be >= 0, got min {float(weights.min())}")
    return weights
