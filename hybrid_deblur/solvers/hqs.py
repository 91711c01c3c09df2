"""Half-quadratic splitting with a pluggable z-step: gradient priors or any denoiser.

One iterator, :class:`HQS`, serves the classical sparse-gradient deconvolution
(Krishnan & Fergus 2009), plug-and-play restoration with a denoiser (DPIR, Zhang et al.
2021) and the unrolled networks (the same iteration with learned per-step parameters).
Energy (one meaning of ``lam`` across the toolkit: the weight of the *prior*):

.. math:: \\min_x \\tfrac12\\|A x - y\\|^2 + \\mathrm{lam}\\;\\Phi(x)

with :math:`A` the :class:`~hybrid_deblur.physics.Blur` operator of ``boundary``.

* ``prior="tv"`` / ``"hyper_laplacian"``: :math:`\\Phi = \\sum_i |\\nabla_i x|^\\alpha`, split
  :math:`w \\approx \\nabla x`; z-step = per-pixel shrinkage (:func:`hqs_w_step`), x-step =
  :meth:`Blur.solve_normal` with the gradient regulariser (weight :math:`\\mathrm{lam}\\,\\beta`)
  while :math:`\\beta` grows.
* ``prior=callable``: ``prior(v, sigma) -> z`` is a denoiser (``v`` the current ``x``,
  ``sigma`` the denoising level on the [0, 1] scale); split :math:`z \\approx x`; x-step =
  :meth:`Blur.prox_data` with weight :math:`\\mu_k`, z-step = ``prior(x, sigma_k)``, DPIR
  schedule by default (:func:`~hybrid_deblur.solvers.auto.dpir_schedule`).

``boundary="auto"`` (default) solves the honest ``valid`` problem (the photo is the valid
part of a larger scene) on the operator's FFT grid and returns the observed frame; its
x-steps are majorise-minimise steps (``data_solver="mm"``: one FFT division per step, ring
free); ``"valid"`` returns the whole scene; ``"circular"`` is exact FFT; ``"reflect"`` /
``"replicate"`` / ``"zero"`` solve the ``Blur(k, b)`` model by conjugate gradients.

Examples
--------
>>> import numpy as np
>>> from hybrid_deblur.physics import Blur
>>> from hybrid_deblur.solvers import HQS, hqs
>>> rng = np.random.default_rng(0)
>>> y = Blur(np.ones((5, 5)) / 25, "valid")(rng.random((70, 70)))
>>> hqs(y, np.ones((5, 5)) / 25, sigma=0.01).shape
(66, 66)
>>> smooth = lambda v, s: v                    # any denoiser prior(v, sigma) -> z
>>> HQS(y, np.ones((5, 5)) / 25, prior=smooth, sigma=0.01).run().shape
(66, 66)
"""

from __future__ import annotations

import warnings
from collections.abc import Callable, Sequence
from typing import Any

import numpy as np

from .. import backend as B
from ..metrics import psnr
from ..physics import geometry as G
from ..physics.blur import Blur
from ..physics.boundary import pad
from ..physics.differences import divergence, gradient
from . import progress as P
from . import validate as V
from .auto import (
    auto_parameters,
    check_sigma,
    hqs_prior_weight,
    identity_result,
    is_identity_kernel,
)
from .shrinkage import hqs_w_step

__all__ = ["HQS", "PNP_DATA_ITERS", "auto_lambda", "hqs", "hqs_hl", "hqs_tv", "hqs_w_step", "hqs_x_step"]

_PRIORS = ("tv", "hyper_laplacian")
_DATA_SOLVERS = ("mm", "cg")
#: CG iterations per data step of HQS with a denoiser prior on ``auto`` / ``valid`` boundaries
#: (it stops earlier at its tolerance). One majorise-minimise step per iteration, the former
#: default, left the 6-8 DPIR steps far from the data term's minimiser. Measured with the
#: shipped DRUNet (6 iterations) against 1 MM step: Levin synthetic (4 x 8, valid, 15-px
#: interior) 33.25 -> 33.90 dB at 2.55/255, 29.82 -> 29.89 at 7.65/255 (full frame 31.25 ->
#: 32.48, 28.90 -> 29.17; CG to tolerance); BSD68 full images sigma 0.01 +0.05 to +0.11 dB;
#: 128² crops (the no-harm matrix) +1 to +3 dB, where one MM step fell below hqs-hl by up to
#: 2.5 dB. 3 / 6 / 12 iterations per step kept 60-85 / 80-95 / 90-100 % of the gain at
#: 1.3 / 1.5 / 1.8x the time of one MM step (full CG: 3.3x).
PNP_DATA_ITERS = 10


def hqs_x_step(y_hat: Any, H: Any, z: Any, mu: Any, *, ndim: int = 2):
    """Deprecated: use :meth:`hybrid_deblur.physics.Blur.prox_data` (``boundary="circular"``).

    Closed-form circular step :math:`\\mathcal F^{-1}[(\\hat y + \\mu Z)/(|H|^2 + \\mu)]`
    with :math:`\\hat y = \\bar H Y`, kept for one release.

    Examples
    --------
    >>> import numpy as np
    >>> from hybrid_deblur.physics import Blur
    >>> A = Blur(np.ones((3, 3)) / 9, "circular")
    >>> y = np.random.default_rng(0).random((16, 16))
    >>> x = A.prox_data(y, y, 0.1)                  # the replacement
    >>> x.shape
    (16, 16)
    """
    warnings.warn("hqs_x_step is deprecated; use Blur(psf, 'circular').prox_data(z, y, mu)",
                  DeprecationWarning, stacklevel=2)
    ax = tuple(range(-ndim, 0))
    shape = tuple(int(v) for v in z.shape[-ndim:])
    Z = B.rfftn(z, axes=ax)
    return B.irfftn((y_hat + mu * Z) / (H.real ** 2 + H.imag ** 2 + mu), s=shape, axes=ax)


def auto_lambda(sigma: float, alpha: float) -> float:
    """Deprecated data weight ``1 / lam`` of the old ``hqs`` (``lam`` now weighs the prior).

    Examples
    --------
    >>> from hybrid_deblur.solvers import auto_lambda
    >>> round(auto_lambda(0.01, 2 / 3))
    2321
    """
    return 1.0 / hqs_prior_weight(sigma, alpha)


def _default_betas(inner: int) -> list[float]:
    levels, b = [], 1.0
    while b <= 2.0 ** 10 * 1.0001:
        levels.append(b)
        b *= 2.0 * np.sqrt(2.0)
    return [bb for bb in levels for _ in range(int(inner))]


def _positive_list(name, seq):
    out = []
    for v in seq:
        out.append(V.check_positive(name, v, allow_none=False))
    if not out:
        raise ValueError(f"{name} must not be empty")
    return out


class HQS:
    """Half-quadratic splitting as an ``init`` / ``step`` / ``run`` state machine.

    Parameters
    ----------
    y : array, shape (..., H, W)
        Observed image (NumPy, CuPy or torch; dtype kept).
    psf : array
        Blur kernel (one per channel allowed).
    prior : {"hyper_laplacian", "tv"} or callable
        Gradient prior, or a denoiser ``prior(v, sigma) -> z`` (same shape/backend).
    alpha : float
        Hyper-Laplacian exponent in (0, 1] (default 2/3; ``"tv"`` forces 1).
    lam : float, optional
        Prior weight (gradient priors; ``None``: :func:`~hybrid_deblur.solvers.auto_parameters`).
        For a denoiser prior, the DPIR trade-off :math:`\\lambda` (default 0.23).
    sigma : float, optional
        Noise level of ``y`` (estimated and floored when None).
    beta_schedule : sequence of float, optional
        Gradient priors: splitting weights, one per step (default geometric from 1 by
        :math:`2\\sqrt2` to 2**10, each repeated ``inner`` times).
    inner : int
        Steps per beta level of the default schedule (default 2).
    mu_schedule, sigma_schedule : sequence of float, optional
        Denoiser prior: per-step data-step weights :math:`\\mu_k` and denoiser levels
        :math:`\\sigma_k` (default: the DPIR schedule of ``num_iter`` steps, 8).
    num_iter : int, optional
        Denoiser prior: number of steps of the default schedule.
    boundary : {"auto", "valid", "circular", "reflect", "replicate", "zero"}
        The model the data were blurred with (see the module notes).
    data_solver : {"mm", "cg"}, optional
        x-step solver of the non-circular models: majorise-minimise (default for
        ``auto``/``valid`` with the TV / hyper-Laplacian priors) or conjugate gradients
        (default with a denoiser ``prior``, and required for the padded models).
    data_iters : int, optional
        Iterations of the x-step solver per HQS step (default 1 for ``mm``; CG runs to
        its tolerance, capped at 50, or at :data:`PNP_DATA_ITERS` for a denoiser prior on
        ``auto``/``valid``, unless given).
    ndim : int
        Spatial axes (2 or 3).
    x0 : array, optional
        Initial estimate, in the returned frame or on the solve grid.

    Attributes
    ----------
    x : array
        Current iterate on the solve grid (:meth:`result` gives the returned frame).
    z : array
        Current z (denoiser output; gradient priors: ``x``).
    iteration : int
    info : dict
        Diagnostics of the last :meth:`run`.

    Examples
    --------
    >>> import numpy as np
    >>> from hybrid_deblur.solvers import HQS
    >>> y = np.random.default_rng(0).random((32, 32))
    >>> solver = HQS(y, np.ones((3, 3)) / 9, prior="tv", lam=1e-3).init()
    >>> _ = solver.step(); solver.iteration
    1
    >>> solver.run().shape                     # the rest of the beta schedule
    (32, 32)
    """

    def __init__(self, y: Any, psf: Any, *, prior: Any = "hyper_laplacian", alpha: float = 2 / 3,
                 lam: Any = None, sigma: Any = None, beta_schedule: Sequence[float] | None = None,
                 inner: int = 2, mu_schedule: Sequence[float] | None = None,
                 sigma_schedule: Sequence[float] | None = None, num_iter: int | None = None,
                 boundary: str = "auto", data_solver: str | None = None,
                 data_iters: int | None = None, ndim: int = 2, x0: Any = None):
        V.check_choice("boundary", boundary, V.SOLVER_BOUNDARIES)
        self.pnp = callable(prior)
        if not self.pnp:
            V.check_choice("prior", prior, _PRIORS)
        check_sigma(sigma)
        y, psf, _ = V.prepare(y, psf, ndim=ndim)
        self.y, self.psf, self.ndim, self.boundary, self.prior = y, psf, ndim, boundary, prior
        model = "valid" if boundary == "auto" else boundary
        self.op = Blur(psf, model, ndim=ndim, normalize=False)
        if data_solver is None:
            # a denoiser prior runs few iterations (DPIR: 6-8), so its data steps must be nearly
            # exact there: see PNP_DATA_ITERS; TV / hyper-Laplacian run many beta steps and one
            # majorise-minimise step each is enough
            data_solver = "mm" if model == "valid" and not self.pnp else "cg"
        V.check_choice("data_solver", data_solver, _DATA_SOLVERS)
        if data_solver == "mm" and model not in ("valid", "circular"):
            raise ValueError(f"data_solver='mm' needs boundary 'auto', 'valid' or 'circular'; "
                             f"got boundary={boundary!r}: use data_solver='cg'")
        self.data_solver = data_solver
        if data_iters is not None and (isinstance(data_iters, bool) or not isinstance(
                data_iters, (int, np.integer)) or data_iters < 1):
            raise ValueError(f"data_iters must be a positive integer, got {data_iters!r}")
        self.data_iters = data_iters if data_iters is not None else (
            1 if data_solver == "mm" else PNP_DATA_ITERS if self.pnp and model == "valid" else 50)
        self.data_tol = 0.0 if data_iters is not None else None
        if isinstance(inner, bool) or not isinstance(inner, (int, np.integer)) or inner < 1:
            raise ValueError(f"inner must be a positive integer, got {inner!r}")
        if self.pnp:
            self.alpha = None
            dl = 0.23 if lam is None else V.check_positive("lam", lam, allow_none=False)
            if mu_schedule is None or sigma_schedule is None:
                from .auto import dpir_schedule
                p = auto_parameters("hqs_pnp", y, sigma=sigma, ndim=ndim)
                s = float(np.sqrt(np.mean(np.asarray(p["sigma"]) ** 2)))
                sig, mu = dpir_schedule(s, 8 if num_iter is None else num_iter, lam=dl)
                mu_schedule = mu if mu_schedule is None else mu_schedule
                sigma_schedule = sig if sigma_schedule is None else sigma_schedule
                self.sigma = p["sigma"]
            else:
                self.sigma = None if sigma is None else check_sigma(sigma).tolist()
            self.mu_schedule = _positive_list("mu_schedule", mu_schedule)
            self.sigma_schedule = _positive_list("sigma_schedule", sigma_schedule)
            if len(self.mu_schedule) != len(self.sigma_schedule):
                raise ValueError(f"mu_schedule and sigma_schedule must have the same length, "
                                 f"got {len(self.mu_schedule)} and {len(self.sigma_schedule)}")
            self.lam = dl
            self.beta_schedule = None
            self.n_steps = len(self.mu_schedule)
        else:
            self.alpha = 1.0 if prior == "tv" else float(alpha)
            if not 0 < self.alpha <= 1:
                raise ValueError(f"alpha must be in (0, 1], got {alpha!r}")
            if lam is None:
                p = auto_parameters("hqs_tv" if prior == "tv" else "hqs_hl", y, sigma=sigma,
                                    ndim=ndim, alpha=self.alpha)
                lam, self.sigma = p["lam"], p["sigma"]
            else:
                self.sigma = None if sigma is None else check_sigma(sigma).tolist()
            self.lam = V.check_positive("lam", lam, allow_none=False)
            sched = _default_betas(inner) if beta_schedule is None else beta_schedule
            self.beta_schedule = _positive_list("beta_schedule", sched)
            self.n_steps = len(self.beta_schedule)
        n = G.spatial(y, ndim)
        self._n = n
        self._scene = self.op.input_shape(n)
        self._grid = self.op.fft_shape(self._scene) if model == "valid" else tuple(n)
        self._off = tuple(k - 1 - k // 2 for k in self.op.ksize)
        self.x0 = x0
        self.x = self.z = None
        self.iteration = 0
        self.info: dict = {}

    # ------------------------------------------------------------------ frames
    def _out_region(self):
        if self.boundary == "auto":
            return G.region(self._off, self._n)
        if self.boundary == "valid":
            return G.region((0,) * self.ndim, self._scene)
        return (Ellipsis,)

    def init(self):
        """Initial estimate on the solve grid (``y`` extended by replication); returns ``self``."""
        y, nd = self.y, self.ndim
        if self.op.boundary == "valid":
            widths = [(o, g - o - s) for o, g, s in zip(self._off, self._grid, self._n)]
            x = pad(y, widths, "replicate")
        else:
            x = y + 0
        if self.x0 is not None:
            x0 = B.asarray_like(B.as_float(self.x0, name="x0"), y)
            B.check_finite(x0, "x0")
            sh = tuple(int(v) for v in x0.shape[-nd:])
            out_sh = tuple(self._n) if self.boundary == "auto" else (
                tuple(self._scene) if self.boundary == "valid" else tuple(self._n))
            if sh == tuple(self._grid):
                x = x0 + 0 * x
            elif sh == out_sh:
                x = x + 0  # a copy on the solve grid; x0 replaces the output region
                x[self._out_region()] = x0
            else:
                raise ValueError(f"x0 must have spatial shape {out_sh} (or the solve grid "
                                 f"{tuple(self._grid)}), got {tuple(x0.shape)}")
        self.x = x
        self.z = x
        self.iteration = 0
        return self

    def step(self):
        """One HQS iteration (z-step and x-step at the next schedule entry); returns ``x``."""
        if self.x is None:
            self.init()
        k = min(self.iteration, self.n_steps - 1)
        nd = self.ndim
        kw = {"method": self.data_solver, "maxiter": self.data_iters, "tol": self.data_tol}
        if self.pnp:
            mu = self.mu_schedule[k]
            self.x = self.op.prox_data(self.z, self.y, mu, **kw)     # starts at z
            self.z = self.prior(self.x, self.sigma_schedule[k])
        else:
            beta = self.beta_schedule[k]
            ws = [hqs_w_step(g, beta, self.alpha) for g in gradient(self.x, nd)]
            g = self.lam * beta
            rhs = divergence(ws, nd) * (-g)
            del ws
            self.x = self.op.solve_normal(self.y, reg="gradient", reg_weight=g, rhs=rhs,
                                          x0=self.x, **kw)
            self.z = self.x
        self.iteration += 1
        return self.x

    def result(self):
        """The current estimate (``z``) in the returned frame (a copy)."""
        if self.x is None:
            self.init()
        return self.z[self._out_region()] + 0

    def residual(self) -> float:
        """Relative data residual ``||A x - y|| / ||y||`` of the current estimate."""
        zz = self.z[(Ellipsis,) + tuple(slice(0, n) for n in self._scene)]
        d = self.op.A(zz) - self.y
        return float(np.sqrt(float((d * d).sum()) / max(float((self.y * self.y).sum()), 1e-300)))

    def run(self, num_iter: int | None = None, *, callback: Callable | None = None,
            reference: Any = None, progress: bool = False):
        """Run ``num_iter`` steps (default: the whole schedule) and return the estimate.

        ``callback(iteration, x, residual, psnr)`` is called after every step with the
        estimate in the returned frame (``psnr`` None without ``reference``).
        """
        t = P.Timer()
        if self.x is None:
            self.init()
        total = self.n_steps if num_iter is None else num_iter
        if isinstance(total, bool) or not isinstance(total, (int, np.integer)) or total < 0:
            raise ValueError(f"num_iter must be a non-negative integer, got {num_iter!r}")
        reference = V.check_reference(reference, tuple(self.y.shape[:-self.ndim])
                                      + tuple(self.result().shape[-self.ndim:]))
        bar = P.progress_bar(total, progress, "hqs")
        try:
            for _ in range(int(total)):
                self.step()
                bar.update(1)
                if callback is not None:
                    xf = self.result()
                    ps = psnr(xf, reference) if reference is not None else None
                    callback(self.iteration, xf, self.residual(), ps)
        finally:
            bar.close()
        self.info = {"iterations": self.iteration, "lam": self.lam, "alpha": self.alpha,
                     "prior": self.prior if not self.pnp else "denoiser", "sigma": self.sigma,
                     "boundary": self.boundary, "grid": list(self._grid),
                     "data_solver": self.data_solver, "time": t()}
        if self.pnp:
            self.info.update(mu_schedule=self.mu_schedule, sigma_schedule=self.sigma_schedule)
        else:
            self.info["beta_final"] = (self.beta_schedule[min(self.iteration, self.n_steps) - 1]
                                       if self.iteration else None)
        return self.result()


def hqs(y: Any, psf: Any, *, prior: Any = "hyper_laplacian", alpha: float = 2 / 3,
        lam: Any = None, num_iter: int | None = None, sigma: Any = None,
        beta_schedule: Sequence[float] | None = None, inner: int = 2,
        boundary: str = "auto", data_solver: str | None = None, data_iters: int | None = None,
        ndim: int = 2, x0: Any = None, callback: Callable | None = None, reference: Any = None,
        progress: bool = False, return_info: bool = False, iterations: Any = None):
    """Deconvolution by half-quadratic splitting (gradient priors or a denoiser).

    Parameters
    ----------
    y : array, shape (..., H, W)
        Blurred, noisy image (NumPy, CuPy or torch; dtype kept).
    psf : array
        Blur kernel (one per channel allowed).
    prior : {"hyper_laplacian", "tv"} or callable
        See :class:`HQS`.
    alpha : float
        Hyper-Laplacian exponent (2/3 default).
    lam : float, optional
        Prior weight; ``None``: :func:`~hybrid_deblur.solvers.auto_parameters`.
    num_iter : int, optional
        Number of steps (default: the whole schedule).
    sigma, beta_schedule, inner, boundary, data_solver, data_iters, ndim, x0
        See :class:`HQS`.
    callback, reference, progress
        See :meth:`HQS.run`.
    return_info : bool
        Also return the diagnostics (lam, iterations, timing...).
    iterations : int, optional
        Deprecated name of ``num_iter``.

    Returns
    -------
    x : array (and ``info``), never clipped.

    Notes
    -----
    Gradient priors, :math:`\\tfrac12\\|Ax-y\\|^2 + \\mathrm{lam}\\sum|\\nabla x|^\\alpha` with
    :math:`w \\approx \\nabla x`: w-step per pixel (:func:`hqs_w_step`), x-step

    .. math:: (A^TA + \\mathrm{lam}\\,\\beta\\,D^TD)\\,x = A^Ty + \\mathrm{lam}\\,\\beta\\,D^Tw

    (:meth:`~hybrid_deblur.physics.Blur.solve_normal`; exact FFT for ``circular``).
    A centred delta PSF with the automatic ``lam`` returns the input (no harm).
    Until this release ``lam`` was the *data* weight: the new ``lam`` is its inverse.

    Examples
    --------
    >>> import numpy as np
    >>> from hybrid_deblur.solvers import hqs
    >>> y = np.random.default_rng(0).random((40, 40))
    >>> x, info = hqs(y, np.ones((3, 3)) / 9, prior="tv", lam=2e-3, return_info=True)
    >>> info["alpha"], x.shape
    (1.0, (40, 40))
    """
    if iterations is not None:
        warnings.warn("hqs(iterations=...) is deprecated; use num_iter=", DeprecationWarning,
                      stacklevel=2)
        if num_iter is not None:
            raise TypeError("give num_iter or the deprecated iterations, not both")
        num_iter = iterations
    if lam is None and not callable(prior) and x0 is None and is_identity_kernel(
            V.prepare(y, psf, ndim=ndim)[1], ndim):
        # a centred delta: nothing to deconvolve, and the default never denoises (no harm)
        HQS(y, psf, prior=prior, alpha=alpha, lam=1.0, sigma=sigma, boundary=boundary,
            ndim=ndim)                                   # validates every argument
        yy, kk, _ = V.prepare(y, psf, ndim=ndim)
        x = identity_result(yy, kk, boundary, ndim)
        info = {"iterations": 0, "lam": 0.0, "prior": prior, "identity_kernel": True,
                "boundary": boundary}
        return (x, info) if return_info else x
    solver = HQS(y, psf, prior=prior, alpha=alpha, lam=lam, sigma=sigma,
                 beta_schedule=beta_schedule, inner=inner, num_iter=num_iter if callable(prior)
                 else None, boundary=boundary, data_solver=data_solver, data_iters=data_iters,
                 ndim=ndim, x0=x0)
    x = solver.run(None if callable(prior) else num_iter, callback=callback,
                   reference=reference, progress=progress)
    return (x, solver.info) if return_info else x


def hqs_tv(y: Any, psf: Any, **kw: Any):
    """:func:`hqs` with the total-variation prior (``alpha = 1``); same keywords.

    Examples
    --------
    >>> import numpy as np
    >>> from hybrid_deblur.solvers import hqs_tv
    >>> hqs_tv(np.random.default_rng(0).random((32, 32)), np.ones((3, 3)) / 9).shape
    (32, 32)
    """
    if "prior" in kw:
        raise TypeError("hqs_tv() got an unexpected keyword argument 'prior' (it is 'tv')")
    return hqs(y, psf, prior="tv", **kw)


def hqs_hl(y: Any, psf: Any, **kw: Any):
    """:func:`hqs` with the hyper-Laplacian prior (``alpha = 2/3`` unless given).

    Examples
    --------
    >>> import numpy as np
    >>> from hybrid_deblur.solvers import hqs_hl
    >>> hqs_hl(np.random.default_rng(0).random((32, 32)), np.ones((3, 3)) / 9).shape
    (32, 32)
    """
    if "prior" in kw:
        raise TypeError("hqs_hl() got an unexpected keyword argument 'prior' "
                        "(it is 'hyper_laplacian')")
    return hqs(y, psf, prior="hyper_laplacian", **kw)
