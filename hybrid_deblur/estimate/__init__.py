"""Blind kernel estimation: parametric spectrum fits, coarse-to-fine MAP with sparse
priors (L0 gradients, dark channel) and blind Richardson-Lucy.

Layering (DESIGN §2): imports only ``backend``, ``psf``, ``solvers`` and NumPy/SciPy;
never torch at module level, never ``learned``/``pipeline``/``cli``.

Examples
--------
>>> import numpy as np
>>> from hybrid_deblur.estimate import estimate_kernel
>>> k, report = estimate_kernel(np.random.default_rng(0).random((64, 64)), size=9)
>>> k.shape, report.method
((9, 9), 'map')
"""

from .core import METHODS, PRIORS, EstimateReport, estimate_kernel
from .parametric import (
                         estimate_defocus,
                         estimate_gaussian,
                         estimate_motion,
                         estimate_motion_defocus,
)

__all__ = [
                         "METHODS",
                         "PRIORS",
                         "EstimateReport",
                         "estimate_defocus",
                         "estimate_gaussian",
                         "estimate_kernel",
                         "estimate_motion",
                         "estimate_motion_defocus",
]
