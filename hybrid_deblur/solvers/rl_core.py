"""The Richardson–Lucy iterator (``init`` / ``step`` / ``run``): every RL variant in one machine.

Plain, damped (White), weighted (bad pixels, the ``valid`` mask), read-out, TV (one-step-late)
and Biggs–Andrews accelerated RL; :func:`~hybrid_deblur.solvers.richardson_lucy` and
``richardson_lucy_tv`` call it. One undamped, unweighted step equals
:meth:`hybrid_deblur.physics.Blur.rl_update` of the ``boundary`` operator (tested); here it
is fused with the mask and the acceleration (two FFT pairs per iteration); see the class
Examples.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np

from .. import backend as B
from ..metrics import psnr
from ..physics import geometry as G
from ..physics.blur import Blur
from ..physics.boundary import pad
from ..physics.differences import divergence, gradient
from ..physics.geometry import slab_regions
from . import progress as P
from . import validate as V
from .auto import check_sigma
from .rl_stop import channel_dot, relative_change, stop_target

__all__ = ["RichardsonLucy"]

_STOPS = ("discrepancy", "change", "poisson_deviance")
_TV_EPS = 1e-3  # smoothing of |grad x| in the TV term, relative to the mean intensity
_DAMP_N = 10  # exponent of White's damping function (as in MATLAB deconvlucy)
_SUBSAMPLE_FROM = 1 << 16  # grids with >= 256**2 pixels estimate alpha on a 1/16 subsample

class RichardsonLucy:
    """Richardson–Lucy iterations as an ``init`` / ``step`` / ``run`` state machine.

    Parameters
    ----------
    y : array, shape (..., H, W)
        Observed image, non-negative data (NumPy, CuPy or torch; dtype kept).
    psf : array
        Blur kernel (normalised to sum 1 here), one per channel allowed.
    damping : float, optional
        White's damping threshold (MATLAB ``dampar``) in units of the Poisson standard
        deviation of the data: pixels whose deviance is below it stop being updated.
    weights : array, optional
        Per-pixel weights of the observation (0 = saturated / bad pixel), shape of ``y``.
    readout : float
        Gaussian read-out noise standard deviation; ``readout**2`` is added to the data
        and to the model (MATLAB ``deconvlucy`` READOUT, Snyder et al.).
    tv : float, optional
        Weight of the total-variation prior (one-step-late RL-TV, Dey et al. 2006).
    accelerate : bool
        Biggs–Andrews vector extrapolation (default True).
    boundary : {"auto", "valid", "circular", "reflect", "replicate", "zero"}
        ``"auto"``: masked ``valid``-mode problem, returns the observed frame;
        ``"valid"``: the same, returns the whole scene (larger by ``k - 1``);
        ``"circular"``: periodic model; ``"reflect"``/``"replicate"``/``"zero"``:
        the exact :class:`~hybrid_deblur.physics.Blur` model with that boundary.
    ndim : int
        Number of spatial axes (2, or 3 for (z, y, x) stacks).
    x0 : array, optional
        Initial estimate in the output frame (default: a constant, the weighted mean of
        ``y``, which keeps the flux; every start is floored at ``1e-3`` of the mean).
    sigma : float, optional
        Gaussian noise level used by the discrepancy stopping rule (estimated if None).

    Attributes
    ----------
    x : array
        The current iterate on the internal grid (use :meth:`result` for the output frame).
    iteration : int
    residual : float or None
        Relative residual ``||y - A x|| / ||y||`` of the last evaluated point.
    info : dict
        Diagnostics of the last :meth:`run`.

    Examples
    --------
    >>> import numpy as np
    >>> from hybrid_deblur.solvers import RichardsonLucy
    >>> rl = RichardsonLucy(np.full((16, 16), 0.5), np.ones((3, 3)) / 9).init()
    >>> _ = rl.step(); rl.iteration
    1
    """

    def __init__(self, y: Any, psf: Any, *, damping: Any = None, weights: Any = None,
                 readout: float = 0.0, tv: Any = None, accelerate: bool = True,
                 boundary: str = "auto", ndim: int = 2, x0: Any = None, sigma: Any = None):
        V.check_choice("boundary", boundary, V.SOLVER_BOUNDARIES)
        y, psf, op = V.prepare(y, psf, ndim=ndim)
        self.y, self.psf, self.op, self.ndim, self.boundary = y, psf, op, ndim, boundary
        self.damping = V.check_positive("damping", damping)
        self.readout = V.check_positive("readout", readout, allow_zero=True) or 0.0
        self.tv = V.check_positive("tv", tv, allow_zero=True)
        if not isinstance(accelerate, (bool, np.bool_)):
            raise TypeError(f"accelerate must be True or False, got {accelerate!r}")
        self.accelerate = bool(accelerate)
        self.sigma = check_sigma(sigma)
        self.peak = None
        weights = V.check_weights(weights, y)
        self.weights = weights
        self.x0 = x0
        self.xp = B.namespace(y)
        self.eps = B.dtype_eps(y.dtype)
        n = G.spatial(y, ndim)
        if boundary in ("auto", "valid"):
            self.geom = G.masked_geometry(n, op.ksize, boundary)
            self.mode = "masked"
        elif boundary == "circular":
            self.geom = G.circular_geometry(n)
            self.mode = "circular"
        else:
            self.geom = G.circular_geometry(n)
            self.geom.boundary = boundary
            self.mode = "operator"
            self.op = Blur(psf, boundary=boundary, ndim=ndim, normalize=False)
        self.iteration = 0
        self.residual = None
        self.info: dict = {}
        self.x = None

    # ------------------------------------------------------------------ operators
    def _fwd(self, x):
        if self.mode == "operator":
            return self.op.A(x)
        ax = G.axes(self.ndim)
        X = B.inplace_mul(B.rfftn(x, axes=ax), self._H)
        return B.irfftn(X, s=self.geom.grid, axes=ax)

    def _adj(self, r):
        if self.mode == "operator":
            return self.op.AT(r)
        ax = G.axes(self.ndim)
        return self._adj_spectrum(B.rfftn(r, axes=ax))

    def _adj_spectrum(self, R):
        """``irfft(R * conj(H))``; NumPy: conj-multiply in place (no copy of conj(H) is kept)."""
        ax = G.axes(self.ndim)
        if isinstance(R, np.ndarray) and R.shape == np.broadcast_shapes(R.shape, self._H.shape):
            np.negative(R.imag, out=R.imag)
            R *= self._H
            np.negative(R.imag, out=R.imag)
        else:
            R = R * self._Hc
        return B.irfftn(R, s=self.geom.grid, axes=ax)

    # ------------------------------------------------------------------ set-up
    def init(self):
        """Prepare the FFT grid, normalisation and initial estimate; returns ``self``."""
        y, g, nd = self.y, self.geom, self.ndim
        xp = self.xp
        self._yreg = G.region(g.y_offset, G.spatial(y, nd))
        r2 = self.readout ** 2
        yeff = y + r2 if r2 else y
        self._yeff = yeff
        self._ynum = yeff if self.weights is None else self.weights * yeff
        self._H = self._Hc = None
        if self.mode != "operator":
            self._H = self.op.otf(g.grid, like=y)
            if not isinstance(self._H, np.ndarray):
                self._Hc = self._H.conj()
                if B.is_torch(self._Hc):
                    self._Hc = self._Hc.resolve_conj()
        # normalisation A^T(w): None (== 1), slabs (masked, no weights) or a full array
        self._inv_full = None
        self._slabs = []
        need_norm = self.mode != "circular" or self.weights is not None
        self._norm = None
        if need_norm:
            if self.mode == "masked":
                w = G.embed(self.weights + 0 * y if self.weights is not None else
                            xp.ones_like(y), g.grid, g.y_offset)
            else:
                w = (self.weights + 0 * y) if self.weights is not None else xp.ones_like(y)
            norm = self._adj(w)
            del w
            thr = max(self.eps, 100 * float(np.finfo(np.float32).eps)
                      if str(norm.dtype).endswith("float32") else 1e-10)

            def inverse(v):
                return xp.where(v > thr, 1.0 / B.maximum(v, thr), xp.zeros_like(v))

            if self.mode == "masked" and self.weights is None and self.tv is None:
                # A^T(mask) is exactly 1 inside [k-1, n): keep 1/norm on the border slabs only
                k = self.op.ksize
                n = G.spatial(y, nd)
                lo, hi = [kk - 1 for kk in k], list(n)
                self._slabs = [(r, inverse(norm[r])) for r in slab_regions(lo, hi, g.grid)]
                del norm
            else:
                self._norm = xp.where(norm > thr, norm, xp.zeros_like(norm))
                self._inv_full = inverse(norm)
                del norm
        # initial estimate
        floor = 1e-3 * max(float(abs(y).mean()), 1e-12)
        if self.x0 is not None:
            x0 = B.as_float(self.x0, name="x0")
            x0 = B.asarray_like(x0, y)
            B.check_finite(x0, "x0")
            if tuple(x0.shape[-nd:]) != tuple(g.out_shape):
                raise ValueError(f"x0 must have spatial shape {tuple(g.out_shape)}, "
                                 f"got {tuple(x0.shape)}")
            if self.mode == "masked":
                widths = [(o, G - o - s) for o, G, s in zip(g.out_offset, g.grid, g.out_shape)]
                x0 = pad(x0, widths, "replicate")
            x = x0 + 0
        else:
            # a flat start at the (weighted) mean flux: RL's early stopping then regularises
            # from a smooth image instead of keeping the noise of y (measured +0.1 dB)
            wb = xp.ones_like(y) if self.weights is None else self.weights + 0 * y
            dims = tuple(range(-nd, 0))
            if B.is_torch(y):
                mean = (wb * y).sum(dim=dims, keepdim=True) / wb.sum(dim=dims, keepdim=True
                                                                     ).clamp(min=1e-30)
            else:
                mean = (wb * y).sum(axis=dims, keepdims=True) / B.maximum(
                    wb.sum(axis=dims, keepdims=True), 1e-30)
            lead = tuple(int(v) for v in y.shape[:-nd])
            x = mean + B.zeros_like_shape(y, lead + tuple(g.grid))
            del wb
        if self.psf.ndim > nd and x.ndim < self.psf.ndim:
            x = x + B.zeros_like_shape(x, tuple(self.psf.shape[:-nd]) + tuple(x.shape[-nd:]))
        x = B.maximum(x, floor)
        if B.is_torch(x):
            x = x.contiguous()
        self.x = x
        self._xprev = None
        self._gprev = None
        # Biggs-Andrews inner products on every 4th pixel of the last two axes of large grids
        big = int(np.prod(g.grid)) >= _SUBSAMPLE_FROM and nd >= 2
        self._sub = (Ellipsis, slice(None, None, 4), slice(None, None, 4)) if big else None
        self._gg = None
        self.alpha = None
        self.iteration = 0
        self.residual = None
        self._track_residual = self._track_deviance = False
        return self

    # ------------------------------------------------------------------ core
    def _ratio(self, Ax):
        """Turn ``A x`` into the (weighted, damped) RL ratio, in place where possible."""
        xp = self.xp
        r2 = self.readout ** 2
        if r2:
            Ax = B.inplace_add(Ax, r2)
        masked = self.mode == "masked"
        core = Ax[self._yreg] if masked else Ax
        if self._track_residual:
            d = self._yeff - core
            self._res2 = float(channel_dot(d, d, self.ndim).sum()) if d.ndim >= self.ndim else 0.0
            if self._track_deviance:
                m = B.maximum(core, self.eps)
                ye = B.maximum(self._yeff, 0.0)
                t = xp.where(ye > 0, ye * xp.log(B.maximum(ye, self.eps) / m), 0 * ye)
                self._dev = 2.0 * float((t - d).sum())
            del d
        if self.damping is None and isinstance(Ax, np.ndarray):
            np.maximum(core, self.eps, out=core)
            np.divide(self._ynum, core, out=core)
            out = Ax
        else:
            den = B.maximum(core, self.eps)
            rat = self._yeff / den
            if self.damping is not None:
                ye = self._yeff
                pos = ye > 0
                logt = xp.where(pos, ye * xp.log(xp.where(pos, rat, xp.ones_like(rat))),
                                xp.zeros_like(rat))
                u = 2.0 * (logt - ye + den) / (self.damping ** 2)
                u = xp.where(u < 1, xp.where(u > 0, u, xp.zeros_like(u)), xp.ones_like(u))
                F = u ** (_DAMP_N - 1) * (_DAMP_N - (_DAMP_N - 1) * u)
                rat = 1 + F * (rat - 1)
            if self.weights is not None:
                rat = rat * self.weights
            if masked:
                out = B.zeros_like_shape(Ax, tuple(Ax.shape))
                out[self._yreg] = rat
            else:
                out = rat + B.zeros_like_shape(rat, tuple(Ax.shape))
            return out
        if masked:
            for r in slab_regions(list(self.geom.y_offset),
                                   [o + s for o, s in zip(self.geom.y_offset,
                                                          G.spatial(self.y, self.ndim))],
                                   self.geom.grid):
                out[r] = 0
        return out

    def _tv_denominator(self, p):
        xp = self.xp
        nd = self.ndim
        gs = gradient(p, nd)
        mag = None
        for gi in gs:
            mag = gi * gi if mag is None else mag + gi * gi
        eps_tv = (_TV_EPS * max(float(abs(self.y).mean()), 1e-12)) ** 2
        mag = xp.sqrt(mag + eps_tv)
        dv = divergence([gi / mag for gi in gs], nd)
        norm = self._norm if self._norm is not None else 1.0
        den = norm - self.tv * dv
        if self._norm is None:
            return xp.where(den > 0.1, den, 0.1 + 0 * den)
        lowest = 0.1 * norm
        den = xp.where(den > lowest, den, lowest)
        return xp.where(norm > 0, den, xp.zeros_like(den))  # 0 marks unobserved: x -> 0

    def _rl(self, p):
        """One RL update of the point ``p``: ``p * A^T(ratio) / A^T(w)`` (new array)."""
        xp = self.xp
        if self.mode == "operator":
            c = self._adj(self._ratio(self._fwd(p)))
        else:  # no name keeps the ratio alive: it is freed as soon as its rfft exists
            c = self._adj_spectrum(B.rfftn(self._ratio(self._fwd(p)), axes=G.axes(self.ndim)))
        if self.tv is not None and self.tv > 0:
            den = self._tv_denominator(p)
            ok = den > 0
            c = xp.where(ok, c / xp.where(ok, den, xp.ones_like(den)), xp.zeros_like(c))
        elif self._inv_full is not None:
            c = B.inplace_mul(c, self._inv_full)
        elif self._slabs:
            for r, v in self._slabs:
                if isinstance(c, np.ndarray):
                    c[r] *= v
                else:
                    c[r] = c[r] * v
        c = B.inplace_mul(c, p)
        if isinstance(c, np.ndarray):
            np.maximum(c, 0, out=c)
        else:
            c = B.maximum(c, 0.0)
        return c

    def step(self):
        """Advance one iteration (accelerated when ``accelerate``); returns the current iterate."""
        if self.x is None:
            self.init()
        nd = self.ndim
        x = self.x
        if not self.accelerate:
            self.x = self._rl(x)
            self.iteration += 1
            self._update_residual()
            return self.x
        xprev = self._xprev
        alpha = self.alpha
        if xprev is None or alpha is None:
            pred = x
        elif isinstance(x, np.ndarray):
            pred = xprev  # reuse the buffer: pred = max(x + alpha (x - xprev), 0)
            np.subtract(x, pred, out=pred)
            if np.ndim(alpha):
                np.multiply(pred, alpha, out=pred)
            else:
                pred *= alpha
            np.add(pred, x, out=pred)
            np.maximum(pred, 0, out=pred)
        else:
            pred = B.maximum(x + alpha * (x - xprev), 0.0)
        new = self._rl(pred)
        # g = new - pred: on a strided subsample for large grids (then pred's buffer is freed)
        sub = self._sub
        if sub is not None:
            g = new[sub] - pred[sub]
        elif pred is x or not isinstance(pred, np.ndarray):
            g = new - pred
        else:
            g = pred
            np.subtract(new, pred, out=g)
        del pred
        gg = channel_dot(g, g, nd)
        if self._gprev is not None:
            num = channel_dot(g, self._gprev, nd)
            a = num / (self._gg + self.eps)
            if isinstance(a, np.ndarray) or np.isscalar(a):
                a = np.clip(np.asarray(a, dtype=np.float64), 0.0, 1.0)
                a = a.reshape(a.shape + (1,) * nd) if a.ndim else float(a)
            else:
                a = a.clamp(0.0, 1.0)[(...,) + (None,) * nd]
            self.alpha = a
        self._gprev, self._gg = g, gg
        self._xprev, self.x = x, new
        self.iteration += 1
        self._update_residual()
        return self.x

    def _update_residual(self):
        if self._track_residual:
            ny = float(channel_dot(self._yeff, self._yeff, self.ndim).sum())
            self.residual = float(np.sqrt(self._res2 / max(ny, 1e-300)))

    # ------------------------------------------------------------------ run
    def result(self):
        """The current estimate in the output frame (a copy)."""
        if self.x is None:
            self.init()
        out = self.geom.crop(self.x) if self.mode == "masked" else self.x
        return out + 0 if out is self.x or self.mode == "masked" else out

    def run(self, num_iter: int | None = None, *, stop: Any = None, max_iter: int = 200,
            tol: float = 1e-3, callback: Callable | None = None, reference: Any = None,
            progress: bool = False):
        """Iterate and return the estimate in the output frame.

        Parameters
        ----------
        num_iter : int, optional
            Exact number of iterations; ``None`` stops automatically (``stop``).
        stop : {"discrepancy", "change", "poisson_deviance"} or callable, optional
            Automatic rule (default ``"discrepancy"``): stop once the mean squared
            residual on the observed pixels falls to :math:`\\sigma^2`; ``"change"``:
            once the relative change of the estimate on the observed frame is below
            ``tol``; ``"poisson_deviance"``: once the Poisson deviance
            :math:`2\\,\\mathrm{peak}\\sum y\\ln(y/Ax) - (y - Ax)` falls to the number of
            observed pixels (``peak``: attribute, estimated as :math:`\\bar y/\\sigma^2` if
            None); a callable ``stop(iteration, x, residual) -> bool``. ``max_iter`` caps
            all rules; with TV, an automatic run also stops when the residual grows 10 %
            above its minimum (the one-step-late iteration turning unstable).
        callback : callable, optional
            ``callback(iteration, x, residual, psnr)`` after every iteration (``psnr``
            is None without ``reference``; ``x`` is in the output frame).
        reference : array, optional
            Ground truth in the output frame, for the PSNR given to ``callback``.
        progress : bool
            Show a tqdm progress bar.
        """
        t = P.Timer()
        if num_iter is not None and (isinstance(num_iter, bool) or not isinstance(
                num_iter, (int, np.integer)) or num_iter < 0):
            raise ValueError(f"num_iter must be a non-negative integer or None, got {num_iter!r}")
        if stop is None:
            stop = "discrepancy"
        if not callable(stop):
            V.check_choice("stop", stop, _STOPS)
        if self.x is None:
            self.init()
        reference = V.check_reference(reference, tuple(self.y.shape[:-self.ndim])
                                      + tuple(self.geom.out_shape))
        auto = num_iter is None
        total = int(max_iter) if auto else int(num_iter)
        self._track_deviance = auto and stop == "poisson_deviance"
        target = stop_target(self, stop) if auto and stop in ("discrepancy", "poisson_deviance") else None
        guard = auto and self.tv is not None and self.tv > 0    # OSL-TV can turn unstable
        self._track_residual = bool(callback is not None or target is not None
                                    or callable(stop) or guard)
        best_res = np.inf
        obs = self._yreg if self.mode == "masked" else (Ellipsis,)
        bar = P.progress_bar(total, progress, "richardson-lucy")
        history = []
        reason = "num_iter"
        try:
            for _ in range(total):
                xold = self.x if (auto and stop == "change") else None
                self.step()
                bar.update(1)
                need_frame = callback is not None or callable(stop)
                xf = self.result() if need_frame else None
                ps = psnr(xf, reference) if (reference is not None and xf is not None) else None
                if self.residual is not None:
                    history.append(self.residual)
                if callback is not None:
                    callback(self.iteration, xf, self.residual, ps)
                if auto:
                    if guard and self.residual is not None:
                        best_res = min(best_res, self.residual)
                        if self.iteration > 5 and self.residual > 1.1 * best_res:
                            reason = "diverging"     # the data misfit grows again: stop
                            break
                    if self._track_deviance and self._dev <= target:
                        reason = "poisson_deviance"
                        break
                    if stop == "discrepancy" and self.residual is not None \
                            and self.residual <= target:
                        reason = "discrepancy"
                        break
                    # the change rule is measured on the observed frame, not the free border
                    if stop == "change" and xold is not None and relative_change(
                            self.x[obs], xold[obs], self.ndim) < tol:
                        reason = "change"
                        break
                    if callable(stop) and stop(self.iteration, xf, self.residual):
                        reason = "callback"
                        break
            else:
                if auto:
                    reason = "max_iter"
        finally:
            bar.close()
        self.info = {
            "iterations": self.iteration, "stop_reason": reason, "residuals": history,
            "boundary": self.geom.boundary, "grid": list(self.geom.grid),
            "accelerated": self.accelerate, "tv": self.tv, "damping": self.damping,
            "time": t(), "target_residual": target, "peak": self.peak,
        }
        return self.result()


