"""Hybrid learned models: unrolled networks on the shared physics (torch only).

Models (:func:`build_model`): ``unrolled-hqs`` (:class:`UnrolledHQS`), ``deep-wiener``
(:class:`DeepWiener`), ``unrolled-rl`` (:class:`UnrolledRL`). Their data-consistency
steps call :class:`hybrid_deblur.physics.Blur` / :mod:`hybrid_deblur.backend` FFTs and
the classical solvers' geometry (:mod:`hybrid_deblur.learned.dc`). Training:
:mod:`hybrid_deblur.learned.train` (``hybrid-deblur train --config configs/...toml``).
Shipped weights (sha256-checked, no downloads): :mod:`hybrid_deblur.learned.weights`.
Restoration functions for the method registry: :mod:`hybrid_deblur.learned.inference`.
"""

from .models import MODELS, DeepWiener, UnrolledHQS, UnrolledRL, build_model
from .weights import WeightsError, load_model, save_weights

__all__ = ["MODELS", "build_model", "UnrolledHQS", "DeepWiener", "UnrolledRL", "WeightsError",
           "load_model", "save_weights"]
