"""Classical non-blind deconvolution (issue 3): Wiener, Tikhonov, Richardson–Lucy, HQS.

Every solver is ``f(y, psf, *, boundary="auto", ...) -> x`` and runs on NumPy,
CuPy and torch inputs (float32 and float64 kept). ``boundary="auto"`` is ring-free
on real photos: the closed-form solvers (``wiener``, ``tikhonov``) pad the
observation (reflect + edge taper) and crop; the iterative ones
(``richardson_lucy``, ``hqs``) solve the honest ``valid``-mode problem with a mask.

Examples
--------
>>> import numpy as np
>>> from hybrid_deblur.solvers import wiener, richardson_lucy, hqs_hl, estimate_noise
>>> y = np.random.default_rng(0).random((64, 64))
>>> k = np.ones((5, 5)) / 25
>>> wiener(y, k).shape, richardson_lucy(y, k, 5).shape
((64, 64), (64, 64))
"""

from .hqs import HQS, auto_lambda, hqs, hqs_hl, hqs_tv, hqs_w_step, hqs_x_step
from .linear import regularizer_power, tikhonov, wiener
from .noise_level import estimate_noise
from .richardson_lucy import RichardsonLucy, auto_tv_weight, richardson_lucy, richardson_lucy_tv

__all__ = [
           "HQS",
           "RichardsonLucy",
           "auto_lambda",
           "auto_tv_weight",
           "estimate_noise",
           "hqs",
           "hqs_hl",
           "hqs_tv",
           "hqs_w_step",
           "hqs_x_step",
           "regularizer_power",
           "richardson_lucy",
           "richardson_lucy_tv",
           "tikhonov",
           "wiener",
]
