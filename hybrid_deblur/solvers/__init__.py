"""Classical non-blind deconvolution: Wiener, Tikhonov, Richardson–Lucy, HQS (+ plug-and-play).

Usage note: the one engine (issue 9)
------------------------------------
* **Data steps live on the operator** (:class:`hybrid_deblur.physics.Blur`):
  ``A.prox_data(z, y, mu)`` = argmin_x ½‖Ax − y‖² + (μ/2)‖x − z‖² (x in the operator's
  *input* shape; exact FFT for ``circular``, preconditioned CG for ``valid`` / padded
  models, ``method="mm", maxiter=1`` = one majorise-minimise step; ``mu`` scalar or one per
  leading item; NumPy/CuPy/torch, differentiable). Also ``A.solve_normal(y, mu=, z=, reg=,
  reg_weight=, rhs=)`` (the general quadratic step), ``A.wiener(y, nsr)`` (circular
  Wiener/Tikhonov filter) and ``A.rl_update(x, y, weights=, norm=, power=)``.
* **Iterators are the algorithms**: ``HQS(y, psf, prior="tv" | "hyper_laplacian" |
  callable, ...)`` with ``init / step / run``; a callable prior is a denoiser
  ``prior(v, sigma) -> z`` (DPIR schedule by default, or ``mu_schedule`` /
  ``sigma_schedule``). ``RichardsonLucy(y, psf, ...)`` likewise. ``hqs``, ``hqs_tv``,
  ``hqs_hl``, ``richardson_lucy``... are thin functions over them.
* **Automatic parameters** come from :func:`auto_parameters` (``solvers.auto``): σ → NSR,
  λ, stopping rule, DPIR schedule. Every solver calls it for parameters left at None.
* One meaning of ``lam``: the weight of the **prior** (``hqs``'s old ``lam`` was the data
  weight: new = 1 / old). One iteration keyword: ``num_iter`` (``iterations`` deprecated).
  Diagnostics via ``return_info=True``.

Every solver is ``f(y, psf, *, boundary="auto", ...) -> x`` and runs on NumPy,
CuPy and torch inputs (float32 and float64 kept). ``boundary="auto"`` is ring-free
on real photos (the honest ``valid`` problem, or reflect + taper padding for the
closed-form filters); ``boundary=b`` means "the data were blurred with ``Blur(k, b)``".

Examples
--------
>>> import numpy as np
>>> from hybrid_deblur.solvers import wiener, richardson_lucy, hqs_hl, estimate_noise
>>> y = np.random.default_rng(0).random((64, 64))
>>> k = np.ones((5, 5)) / 25
>>> wiener(y, k).shape, richardson_lucy(y, k, 5).shape
((64, 64), (64, 64))
"""

from .auto import AUTO_METHODS, auto_parameters
from .hqs import HQS, auto_lambda, hqs, hqs_hl, hqs_tv, hqs_x_step
from .linear import regularizer_power, tikhonov, wiener
from .noise_level import estimate_noise
from .richardson_lucy import RichardsonLucy, auto_tv_weight, richardson_lucy, richardson_lucy_tv
from .shrinkage import hqs_w_step

__all__ = [
           "AUTO_METHODS",
           "HQS",
           "RichardsonLucy",
           "auto_lambda",
           "auto_parameters",
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
