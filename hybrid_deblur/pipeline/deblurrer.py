"""``Deblurrer``: the one entry point for restoration — known kernel, blind, or end-to-end.

``Deblurrer(method, estimator=None).restore(y, psf=None, sigma=None, return_report=False)``:
with a ``psf`` it calls the registered method exactly as ``method(y, psf, **options)``;
with ``psf=None`` and an ``estimator`` it first estimates the kernel
(:func:`hybrid_deblur.estimate.estimate_kernel`, candidates + no-harm guard) and then
restores with the method. When the guard finds no kernel convincingly better than
"no blur", the input is returned unchanged (``report["decision"] == "identity"``).
The CLI (``deblur``, ``estimate``) and the demo call this class and nothing else.

Examples
--------
>>> import numpy as np
>>> from hybrid_deblur.pipeline.deblurrer import Deblurrer
>>> from hybrid_deblur.physics import degrade
>>> from hybrid_deblur.solvers import wiener
>>> x = np.random.default_rng(0).random((64, 64))
>>> k = np.ones((5, 5)) / 25
>>> y, _ = degrade(x, k, boundary="valid", noise=0.01, seed=0)
>>> bool(np.array_equal(Deblurrer("wiener").restore(y, k), wiener(y, k)))
True
>>> x2, rep = Deblurrer("hqs-tv", estimator="parametric").restore(y, return_report=True)
>>> rep["decision"] in ("estimated", "identity"), x2.shape
(True, (60, 60))
"""

from __future__ import annotations

import inspect
import time
import warnings
from typing import Any

from ..analysis.registry import method_kind
from .guard import NEGATIVE_FLUX_LIMIT, negative_flux
from .methods import METHODS, get_method

__all__ = ["BLIND_SIGMA_FLOOR", "DEFAULT_METHOD", "ESTIMATORS", "LEARNED_METHODS", "Deblurrer"]

#: registry names served by :mod:`hybrid_deblur.learned` that take the kernel (``kind ==
#: "hybrid"``: unrolled nets, pnp-drunet, ...); they and the end-to-end networks accept
#: ``weights=`` and ``device=`` (torch is imported only for these)
LEARNED_METHODS = tuple(m for m in METHODS if method_kind(m) == "hybrid")
#: the method of ``Deblurrer()``: best measured learned prior, and no harm on an unblurred image
#: (BSD68 1x1 kernel, sigma 0.01: 42.14 dB vs 40.23 input; unrolled-hqs 39.92)
DEFAULT_METHOD = "pnp-drunet"
#: accepted values of ``estimator``
ESTIMATORS = ("auto", "learned", "map", "parametric")
#: noise level the final restoration assumes at least, when the kernel was estimated blindly and
#: no ``sigma`` was given: an estimated kernel is never exact, and its error acts like noise the
#: image's own (tiny) noise estimate does not see. Measured on Levin 2009's 32 real captures with
#: the ``auto`` kernels: pnp-drunet 29.80 dB at the estimated sigma (~0.001), 31.68 dB with the floor
#: 0.01; hqs-tv 30.45 -> 31.97 dB. Cost on exact synthetic blur (BSD68 crops, sigma <= 0.005):
#: -0.45 dB for pnp-drunet.
BLIND_SIGMA_FLOOR = 0.01


def _copy(y):
    return y.clone() if hasattr(y, "clone") else y.copy()


class Deblurrer:
    """Restore images with one registered method, estimating the kernel when asked.

    Parameters
    ----------
    method : str
        A name of :data:`hybrid_deblur.pipeline.methods.METHODS`: a hybrid learned method
        (``"pnp-drunet"``, the default: plug-and-play HQS with the shipped denoiser;
        ``"pnp-drunet-fast"``, ``"unrolled-hqs"``, ...), a classical solver (``"wiener"``,
        ``"hqs-tv"``, ...) or an end-to-end network (no kernel needed).
    estimator : {"auto", "learned", "map", "parametric"} or None
        Blind kernel estimator used when :meth:`restore` gets ``psf=None``
        (``"auto"``: all candidate families with the no-harm guard). None (default):
        a kernel is required, except by end-to-end methods.
    boundary : str, optional
        Passed to the method when given (the methods' own default otherwise, ``"auto"``).
    weights, device : optional
        Learned and end-to-end methods only: weight file and torch device.
    progress : bool
        Progress bars (estimation candidates, and the method's own when it has one).
    estimate_options : dict, optional
        Extra keywords for :func:`~hybrid_deblur.estimate.estimate_kernel` (e.g. ``size``).
    blind_sigma_floor : float or None
        With an estimated kernel and no ``sigma`` given to :meth:`restore`, the method gets
        ``sigma = max(estimate_noise(y), blind_sigma_floor)`` (default
        :data:`BLIND_SIGMA_FLOOR`): kernel error acts like noise. None or 0 turns it off.
    max_negative_flux : float or None
        Plausibility guard for estimated kernels on **linear-light data**: when the
        restoration puts more than this share of the input's flux below zero
        (:func:`~hybrid_deblur.pipeline.guard.negative_flux`, the ringing of a wrong kernel),
        the input comes back instead, with ``report["decision"] == "implausible"`` and a
        :class:`~hybrid_deblur.estimate.NoBlurWarning`. None (default): off — on real sRGB
        photos good kernels ring below zero too (see :mod:`hybrid_deblur.pipeline.guard`);
        :data:`~hybrid_deblur.pipeline.guard.NEGATIVE_FLUX_LIMIT` (1e-3) is the measured choice
        for linear data. Given kernels are never second-guessed.
    low_light : {None, "zero-dce"}
        Optional low-light pre-step: :func:`hybrid_deblur.learned.zero_dce.enhance_low_light`
        (Zero-DCE curves, shipped weights; images that are not under-exposed pass unchanged).
    **options
        Passed to the method on every call. Options the method does not accept raise
        ``TypeError`` here (methods taking ``**kw`` check them themselves).
    """

    def __init__(self, method: str = DEFAULT_METHOD, *, estimator: str | None = None,
                 boundary: str | None = None, weights: Any = None, device: Any = None,
                 progress: bool = False, estimate_options: dict | None = None,
                 low_light: str | None = None, blind_sigma_floor: float | None = BLIND_SIGMA_FLOOR,
                 max_negative_flux: float | None = None, **options: Any):
        if method not in METHODS:
            raise ValueError(f"method={method!r} is unknown; known methods: "
                             f"{', '.join(sorted(METHODS))}")
        if estimator is not None and estimator not in ESTIMATORS:
            raise ValueError(f"estimator={estimator!r} is unknown; accepted: "
                             f"{', '.join(ESTIMATORS)} or None")
        self.method, self.estimator, self.boundary = method, estimator, boundary
        self.progress = bool(progress)
        if blind_sigma_floor is not None:
            try:
                ok = 0.0 <= float(blind_sigma_floor) < 1.0
            except (TypeError, ValueError):
                ok = False
            if not ok:
                raise ValueError(f"blind_sigma_floor={blind_sigma_floor!r} is not accepted; use None or "
                                 "a noise level in [0, 1) (fraction of the intensity range)")
            blind_sigma_floor = float(blind_sigma_floor) or None
        self.blind_sigma_floor = blind_sigma_floor
        if max_negative_flux is not None:
            try:
                ok = 0.0 <= float(max_negative_flux) < float("inf")
            except (TypeError, ValueError):
                ok = False
            if not ok:
                raise ValueError(f"max_negative_flux={max_negative_flux!r} is not accepted; use None or a "
                                 "finite share >= 0 of the input's flux")
            max_negative_flux = float(max_negative_flux)
        self.max_negative_flux = max_negative_flux
        # --- low-light pre-step hook (issue 13, hybrid_deblur.learned.zero_dce) ---
        if low_light not in (None, "zero-dce"):
            raise ValueError(f"low_light={low_light!r} is not accepted; use None or 'zero-dce'")
        self.low_light = low_light
        # --- end of low-light hook ---
        self.fn = get_method(method)
        self.options = dict(options)
        if method in LEARNED_METHODS or self.kind == "end-to-end":
            self.options.update({k: v for k, v in (("weights", weights), ("device", device))
                                 if v is not None})
        elif weights is not None or device is not None:
            raise ValueError(f"weights= and device= apply to learned methods "
                             f"({', '.join(LEARNED_METHODS)}) and end-to-end ones, not to method={method!r}")
        self.estimate_options = dict(estimate_options or {})
        self._params = self._signature()
        if self._params is not None:
            bad = sorted(k for k in self.options if k not in self._params)
            if bad:
                raise TypeError(f"method {method!r} got unexpected option(s) {', '.join(bad)}; "
                                f"it accepts: {', '.join(p for p in self._params if p not in ('y', 'psf'))}")

    def _signature(self):
        """Parameter names of the method, or None when it takes ``**kw`` (it checks them itself)."""
        try:
            params = inspect.signature(self.fn).parameters
        except (TypeError, ValueError):  # pragma: no cover - builtins
            return None
        if any(p.kind is inspect.Parameter.VAR_KEYWORD for p in params.values()):
            return None
        return tuple(params)

    @property
    def kind(self) -> str:
        """``"classical"``, ``"hybrid"`` or ``"end-to-end"`` (:func:`~hybrid_deblur.analysis.registry.method_kind`)."""
        from ..analysis.registry import method_kind

        return method_kind(self.method)

    def _call(self, y, psf, sigma):
        kw = dict(self.options)
        if self.boundary is not None:
            kw["boundary"] = self.boundary
        if sigma is not None:
            kw["sigma"] = sigma
        if self.progress and (self._params is None or "progress" in self._params):
            kw["progress"] = True
        if self._params is not None:
            kw = {k: v for k, v in kw.items() if k in self._params or k in self.options}
        return self.fn(y, psf, **kw)

    def estimate(self, y, sigma: Any = None):
        """Blind kernel of ``y`` with this Deblurrer's estimator: ``(psf, EstimateReport)``."""
        from ..estimate import estimate_kernel

        method = self.estimator or "auto"
        opts = dict(self.estimate_options)
        if sigma is not None and "sigma" not in opts:
            try:
                opts["sigma"] = float(sigma)
            except TypeError:  # per-channel sigma: the estimator works on luminance
                pass
        return estimate_kernel(y, method=method, progress=self.progress, **opts)

    def restore(self, y: Any, psf: Any = None, sigma: Any = None, return_report: bool = False) -> Any:
        """Deblur ``y`` (NumPy or torch, (H, W) or (C, H, W)).

        Parameters
        ----------
        y : array
            Blurred image, linear light.
        psf : array, optional
            Blur kernel. None: estimated with ``estimator`` (or not needed by an
            end-to-end method).
        sigma : float, optional
            Noise level, passed to the method when given (its own estimate otherwise).
        return_report : bool
            Also return a dict: ``decision`` ("given", "estimated", "identity",
            "implausible" (the estimated kernel's result failed the plausibility guard and the
            input came back; ``negative_flux`` says by how much) or "end-to-end"), ``psf``, ``estimate`` (the
            :class:`~hybrid_deblur.estimate.EstimateReport` or None), ``confidence``,
            ``warning``, ``sigma`` (the noise level passed to the method, None when the
            method estimated its own), ``seconds_estimate``, ``seconds_restore``, ``seconds``.

        Returns
        -------
        x : array (same kind as ``y``, never clipped), or ``(x, report)``.
        """
        t0 = time.perf_counter()
        if self.low_light == "zero-dce":  # low-light pre-step hook (issue 13): Zero-DCE curves
            from ..learned.zero_dce import enhance_low_light

            y = enhance_low_light(y)
        rep: dict = {"method": self.method, "estimator": None, "decision": "given", "psf": psf,
                     "estimate": None, "confidence": None, "warning": None, "seconds_estimate": 0.0}
        if psf is None:
            if self.kind == "end-to-end":
                rep["decision"] = "end-to-end"
            elif self.estimator is None:
                raise ValueError(f"psf is required by method={self.method!r} (kind {self.kind!r}); "
                                 "pass psf=, or estimator='auto' | 'learned' | 'map' | 'parametric' "
                                 "to estimate it (only end-to-end methods restore without a kernel)")
            else:
                with warnings.catch_warnings(record=True) as caught:
                    warnings.simplefilter("always")
                    psf, est = self.estimate(y, sigma)
                for w in caught:  # re-emit, attributed to the caller
                    warnings.warn(w.message, w.category, stacklevel=2)
                rep.update(estimator=self.estimator, decision=est.decision, psf=psf, estimate=est,
                           confidence=est.confidence, warning=est.warning)
        if sigma is None and self.blind_sigma_floor and rep["decision"] == "estimated":
            sigma = self._floored_sigma(y)
        rep["sigma"] = sigma
        rep["seconds_estimate"] = time.perf_counter() - t0
        t1 = time.perf_counter()
        if rep["decision"] == "identity":
            x = _copy(y)  # no harm: the input itself
        else:
            x = self._call(y, psf, sigma)
            if rep["decision"] == "estimated" and self.max_negative_flux is not None:
                x = self._plausible(x, y, sigma, rep)
        rep["seconds_restore"] = time.perf_counter() - t1
        rep["seconds"] = time.perf_counter() - t0
        return (x, rep) if return_report else x

    __call__ = restore

    def _plausible(self, x, y, sigma, rep):
        """``x``, or the input when ``x`` is physically implausible (see :mod:`.guard`)."""
        from ..estimate import NoBlurWarning

        if sigma is None:  # the noise allowance of the floor: the method estimated its own sigma
            from ..backend import to_numpy
            from ..solvers.auto import resolve_sigma

            sigma, _ = resolve_sigma(to_numpy(y), None, floor=BLIND_SIGMA_FLOOR)
        nf = negative_flux(x, y, sigma)
        rep["negative_flux"] = nf
        if nf <= self.max_negative_flux:
            return x
        msg = (f"the restoration with the estimated kernel puts {nf:.2%} of the image's flux below "
               f"zero (limit {self.max_negative_flux:.2%}): the kernel is wrong; returning the input")
        rep.update(decision="implausible", warning=msg)
        warnings.warn(msg, NoBlurWarning, stacklevel=3)
        return _copy(y)

    def _floored_sigma(self, y):
        """``max(estimate_noise(y), blind_sigma_floor)``, a float (or one per channel)."""
        import numpy as np

        from ..backend import to_numpy
        from ..solvers.auto import resolve_sigma

        s, _ = resolve_sigma(to_numpy(y), None, floor=self.blind_sigma_floor)
        s = np.asarray(s, dtype=np.float64)
        return float(s) if s.ndim == 0 else s

    def __repr__(self) -> str:
        return (f"Deblurrer(method={self.method!r}, estimator={self.estimator!r}, "
                f"boundary={self.boundary!r})")
