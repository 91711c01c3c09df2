"""Blind kernel estimation: candidate selection with a no-harm guard (``method="auto"``),
parametric spectrum fits, coarse-to-fine MAP with sparse priors (L0 gradients, dark
channel), the learned estimator (registered, resolved at call time) and blind Richardson-Lucy.

Layering (DESIGN §2): imports only ``backend``, ``psf``, ``solvers`` and NumPy/SciPy;
never torch at module level, never ``learned``/``pipeline``/``cli``.

Examples
--------
>>> import numpy as np, warnings
>>> from hybrid_deblur.estimate import estimate_kernel
>>> with warnings.catch_warnings(record=True) as w:   # white noise holds no blur
...     warnings.simplefilter("always")
...     k, report = estimate_kernel(np.random.default_rng(0).random((64, 64)), size=9)
>>> k.shape, report.method, report.decision, w[0].category.__name__
((9, 9), 'auto', 'identity', 'NoBlurWarning')
"""

from .core import ESTIMATORS, METHODS, PRIORS, EstimateReport, NoBlurWarning, estimate_kernel
from .parametric import (
                         estimate_defocus,
                         estimate_gaussian,
                         estimate_motion,
                         estimate_motion_defocus,
)

__all__ = [
                         "ESTIMATORS",
                         "METHODS",
                         "PRIORS",
                         "EstimateReport",
                         "NoBlurWarning",
                         "estimate_defocus",
                         "estimate_gaussian",
                         "estimate_kernel",
                         "estimate_motion",
                         "estimate_motion_defocus",
]
