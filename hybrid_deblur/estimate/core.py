"""``estimate_kernel``: one entry point for every blind kernel estimator.

Examples
--------
>>> import numpy as np
>>> from hybrid_deblur.estimate import estimate_kernel
>>> y = np.random.default_rng(0).random((64, 64))
>>> k, report = estimate_kernel(y, size=9, method="blind_rl", iterations=3, guard=False)
>>> k.shape, report.method, report.size
((9, 9), 'blind_rl', (9, 9))
"""

from __future__ import annotations

import importlib
import time
import warnings
from dataclasses import asdict, dataclass, field
from typing import Any

import numpy as np

from .. import backend as B
from . import _common as C

__all__ = [
    "ESTIMATORS",
    "METHODS",
    "PRIORS",
    "EstimateReport",
    "NoBlurWarning",
    "estimate_kernel",
    "estimator_available",
    "resolve_estimator",
]

METHODS = ("auto", "map", "parametric", "learned", "blind_rl")

#: estimators served outside ``estimate`` (name -> "module:function", imported at call time,
#: so ``estimate`` never imports torch or ``learned`` at module level). The function takes
#: a gray NumPy image and returns ``(psf, info)``.
ESTIMATORS = {"learned": "hybrid_deblur.learned.kernel_net:estimate_kernel_learned"}
#: shipped weight file (relative to the ``hybrid_deblur`` package) an estimator needs: when it is
#: absent the estimator is reported unavailable without importing torch (~9 s on this machine)
ESTIMATOR_WEIGHTS = {"learned": "learned/weights/kernel_net_gray.pt"}


def estimator_available(name: str) -> tuple[bool, str]:
    """Whether the estimator registered as ``name`` can run, without importing it.

    Returns ``(ok, reason)``; only the presence of its shipped weight file is checked
    (the sha256 is verified when the estimator loads it).
    """
    from pathlib import Path

    if name not in ESTIMATORS:
        return False, f"estimator {name!r} is unknown; registered: {', '.join(sorted(ESTIMATORS))}"
    rel = ESTIMATOR_WEIGHTS.get(name)
    if rel is not None and not (Path(__file__).resolve().parents[1] / rel).is_file():
        return False, f"no shipped weights {rel!r}"
    return True, ""


class NoBlurWarning(UserWarning):
    """The blind estimator found no kernel convincingly better than "no blur"."""


def resolve_estimator(name: str):
    """The function registered in :data:`ESTIMATORS` under ``name`` (imported now)."""
    if name not in ESTIMATORS:
        raise ValueError(f"estimator {name!r} is unknown; registered: {', '.join(sorted(ESTIMATORS))}")
    mod, fn = ESTIMATORS[name].split(":")
    return getattr(importlib.import_module(mod), fn)
PRIORS = ("l0", "dark_channel")
MODELS = ("auto", "motion", "defocus", "gaussian", "motion+defocus")


@dataclass
class EstimateReport:
    """What :func:`estimate_kernel` did.

    Attributes
    ----------
    method, prior : str
        Estimator and image prior used.
    size : (int, int)
        Kernel size used (chosen automatically when ``size=None``).
    size_auto : bool
        True when the size was chosen automatically.
    scales : list of dict
        Per pyramid level: ``scale``, ``size``, ``image_shape``, ``iterations``,
        ``energies`` (data misfit after each kernel update). One entry for
        ``blind_rl``; empty for ``parametric``.
    confidence : float
        In [0, 1]: calibrated probability that the kernel restores within 1 dB of the
        true kernel (from the evidence margin over the identity and the ambiguity among
        candidates, :func:`hybrid_deblur.estimate.select.confidence_from_margin`); for
        ``decision="identity"``, the probability that no blur is the right call.
    time_s : float
        Wall time of the estimation.
    params : dict
        Parametric estimates (angle, length, radius, sigma, indistinguishable...) or
        the options of the iterative methods.
    restored : ndarray or None
        The non-blind restoration with the estimated kernel (``restore=True``).
    decision : {"estimated", "identity"}
        ``"identity"``: no candidate was convincingly better than "no blur" (the no-harm
        guard); the returned kernel is the identity and ``warning`` says so.
    warning : str or None
    candidates : list of dict
        Every candidate kernel scored (name, family, shape, evidence, params, seconds).
    margin : float or None
        Evidence of the returned estimate minus that of the identity (per frequency).
    ambiguity : float or None
        ``"auto"``: evidence gap to the best structurally different candidate.
    """

    method: str
    prior: str | None
    size: tuple
    size_auto: bool
    scales: list = field(default_factory=list)
    confidence: float = 0.0
    time_s: float = 0.0
    params: dict = field(default_factory=dict)
    restored: Any = None
    decision: str = "estimated"
    warning: str | None = None
    candidates: list = field(default_factory=list)
    margin: float | None = None
    ambiguity: float | None = None

    def as_dict(self) -> dict:
        """JSON-friendly dictionary (without the restored image)."""
        d = asdict(self)
        d.pop("restored", None)
        d["size"] = list(self.size)
        d["params"] = {k: v for k, v in d["params"].items() if k != "kernels"}
        return d


def _resolve_size(size, shape):
    if size is None or (isinstance(size, str) and size == "auto"):
        return C.auto_size(shape), True
    if isinstance(size, str):
        raise ValueError(  # noqa: TRY004 - a bad value of an accepted type
            f"size={size!r} is not accepted; use an odd int, a pair of ints, 'auto' or None")
    return C.check_size(size, shape), False


def _parametric_psf(y, model, ksize):
    from ..psf import disk, gaussian, linear_motion
    from . import parametric as P

    if model == "auto":
        m = P.estimate_motion(y)
        d = P.estimate_defocus(y)
        if m["anisotropy"] > 0.3 and m["score"] >= d["score"] - 0.05:
            model, est = "motion", m
        elif d["score"] > 0.5:
            model, est = "defocus", d
        else:
            model, est = "gaussian", P.estimate_gaussian(y)
        est = dict(est, candidates={"motion": m, "defocus": d})
    elif model == "motion":
        est = P.estimate_motion(y)
    elif model == "defocus":
        est = P.estimate_defocus(y)
    elif model == "gaussian":
        est = P.estimate_gaussian(y)
    else:
        est = P.estimate_motion_defocus(y)
    if model == "motion":
        k = linear_motion(max(est["length"], 1.0), est["angle"], size=ksize)
    elif model == "defocus":
        k = disk(est["radius"], size=ksize)
    elif model == "gaussian":
        k = gaussian(max(est["sigma"], 0.1), size=ksize)
    else:
        from ..psf import combine

        parts = []
        if est["length"] > 0:
            parts.append(linear_motion(est["length"], est["angle"]))
        if est["radius"] > 0:
            parts.append(disk(est["radius"]))
        k = combine(*parts) if len(parts) > 1 else parts[0]
        k = _fit_to(k, ksize)
    conf = float(np.clip(est.get("score", 0.5), 0, 1))
    return np.asarray(k, np.float64), dict(est, model=model), conf


def _fit_to(k, ksize):
    out = np.zeros(ksize)
    kh, kw = k.shape
    h, w = min(kh, ksize[0]), min(kw, ksize[1])
    oy, ox = (ksize[0] - h) // 2, (ksize[1] - w) // 2
    iy, ix = (kh - h) // 2, (kw - w) // 2
    out[oy:oy + h, ox:ox + w] = k[iy:iy + h, ix:ix + w]
    return out / out.sum()


def estimate_kernel(y, *, size=None, method: str = "auto", prior: str = "l0", model: str = "auto",
                    lam: float = 4e-3, lam_dark: float = 4e-3, gamma: float = 1.0,
                    inner_iterations: int = 5, refine: int = 2, iterations: int = 50,
                    guard: bool = True, margin: float = 0.01, sigma: float | None = None,
                    restore: bool = False, progress: bool = False, callback=None, auto_refine: int = 2,
                    refine_gate: bool = True):
    """Estimate the blur kernel of an image blind (without knowing it).

    Parameters
    ----------
    y : array, shape (H, W), (C, H, W) or (H, W, C)
        Blurred image, linear light in [0, 1] (NumPy, CuPy or torch; colour is
        reduced to Rec.709 luminance).
    size : int, (int, int), "auto" or None
        Kernel size (made odd). ``None``/"auto": ``"auto"`` caps candidates at 20 % of
        the short side (at most 101 px) and sizes them from the image; the single
        methods use about 14 % of the short side, odd, in [15, 55].
    method : {"auto", "map", "parametric", "learned", "blind_rl"}
        ``"auto"`` (default): candidates from every family (identity, parametric fits,
        MAP at two sizes, the learned estimator when its weights are shipped) scored by
        the Gaussian-prior evidence on observed pixels
        (:func:`hybrid_deblur.estimate.select.select_kernel`);
        ``"map"``: coarse-to-fine MAP with an L0 gradient prior (Pan et al.);
        ``"parametric"``: motion / defocus / Gaussian / motion+defocus fit of the
        spectrum (``model="auto"``: all four, refined and selected by the evidence;
        otherwise the one model); ``"learned"``: the learned estimator
        (:data:`ESTIMATORS`, selected against its flip and the identity);
        ``"blind_rl"``: alternating Richardson-Lucy.
    prior : {"l0", "dark_channel"}
        Latent-image prior of ``"map"`` (``"dark_channel"`` adds Pan et al. 2016's
        L0 dark-channel term, weight ``lam_dark``; slower).
    model : {"auto", "motion", "defocus", "gaussian", "motion+defocus"}
        Model of ``"parametric"``.
    lam, gamma, inner_iterations
        L0 gradient weight, kernel Tikhonov weight, alternations per scale (MAP).
    refine : int
        Final kernel refinements at full resolution with the hyper-Laplacian latent
        image (Xu & Jia style; MAP).
    auto_refine : int
        ``method="auto"`` / ``"learned"``: full-resolution refinement passes
        (:func:`~hybrid_deblur.estimate.map_l0.refine_kernel`, Xu & Jia) of a chosen MAP or
        learned-map kernel, gated (:func:`~hybrid_deblur.estimate.refine.gated_refine`): only
        when the estimated noise is <= 0.003 (default 2 passes; 0: off). Levin's 32 captures
        (noise ~0.001), Deblurrer's default final step: 32.05 -> 33.12 dB; ungated it hurt
        noisy crops (sigma 0.01: 2/51 quick-suite runs below the input, worst -2.59 dB), gated
        the suite at sigma 0.01 is unchanged. ``report.params["refined"]`` says what happened.
    refine_gate : bool
        False: keep the refined kernel whatever the gate says (measurement only).
    iterations : int
        RL pairs of ``"blind_rl"``.
    guard : bool
        No-harm guard (default on): when the estimate's evidence does not beat the
        identity's by ``margin``, return the identity kernel, set
        ``report.decision = "identity"`` and emit a :class:`NoBlurWarning`.
    margin : float
        Evidence gain (per frequency) required over the identity.
    sigma : float, optional
        Noise level of ``y`` (estimated when None).
    restore : bool
        Also restore the image with the estimated kernel (HQS-TV,
        :func:`hybrid_deblur.estimate.restore.restore_ringing_suppressed`);
        colour images are restored channel by channel. Stored in ``report.restored``.
    progress : bool
        tqdm bar over the candidate families (``"auto"``) or pyramid levels (MAP).
    callback : callable, optional
        MAP/blind RL: called with a dict (scale, kernel, latent) after each kernel
        update; ``"auto"``: called with the name of each candidate family as it starts.

    Returns
    -------
    psf : array (kh, kw)
        Non-negative, sums to 1, centred by centroid; in the library of ``y``. The
        identity is a ``(1, 1)`` array with ``"auto"``, a centred delta of the
        requested size otherwise.
    report : EstimateReport

    Notes
    -----
    MAP alternates, on each level of a pyramid with ratio :math:`1/\\sqrt2`,

    .. math:: x \\leftarrow \\arg\\min_x \\|k*x-y\\|^2 + \\lambda\\|\\nabla x\\|_0, \\qquad
              k \\leftarrow \\arg\\min_{k} \\sum_d \\|W(\\partial_d x * k - \\partial_d y)\\|^2
              + \\gamma\\|k\\|^2,

    then :math:`k \\leftarrow \\max(k, 0)`, components with < 10 % of the mass
    removed, :math:`k/\\sum k`. The guard and ``"auto"`` score kernels by
    :class:`hybrid_deblur.estimate.evidence.SpectralEvidence`.

    Examples
    --------
    >>> import numpy as np
    >>> from hybrid_deblur.estimate import estimate_kernel
    >>> k, rep = estimate_kernel(np.random.default_rng(1).random((80, 80)), size=11, method="map",
    ...                          guard=False)
    >>> bool(k.min() >= 0), round(float(k.sum()), 6), sorted(rep.as_dict())[:3]
    (True, 1.0, ['ambiguity', 'candidates', 'confidence'])
    """
    t0 = time.perf_counter()
    if method not in METHODS:
        raise ValueError(f"method={method!r} is unknown; accepted: {', '.join(METHODS)}")
    if prior not in PRIORS:
        raise ValueError(f"prior={prior!r} is unknown; accepted: {', '.join(PRIORS)}")
    if model not in MODELS:
        raise ValueError(f"model={model!r} is unknown; accepted: {', '.join(MODELS)}")
    for name, v in (("lam", lam), ("lam_dark", lam_dark), ("gamma", gamma), ("margin", margin)):
        if not np.isfinite(v) or v < 0:
            raise ValueError(f"{name}={v!r} must be a finite number >= 0")
    if int(inner_iterations) < 1 or int(iterations) < 1:
        raise ValueError(f"inner_iterations={inner_iterations!r} and iterations={iterations!r} must be >= 1")
    if isinstance(auto_refine, bool) or not isinstance(auto_refine, (int, np.integer)) or auto_refine < 0:
        raise ValueError(f"auto_refine={auto_refine!r} is not accepted; use a number of passes >= 0 (0: off)")
    if not isinstance(refine_gate, (bool, np.bool_)):
        raise TypeError(f"refine_gate={refine_gate!r} is not accepted; use True or False")
    g = C.as_gray(y)
    if min(g.shape) < 16:
        raise ValueError(f"y has shape {tuple(g.shape)}; accepted: images of at least 16 x 16 pixels")
    scales: list = []
    params: dict = {}
    cands: list = []
    decision, m, amb = "estimated", None, None
    families = {"auto": ("identity", "parametric", "map", "learned"),
                "parametric": ("identity", "parametric"), "learned": ("identity", "learned")}
    selected = method == "auto" or method == "learned" or (method == "parametric" and model == "auto")
    if selected:
        from .select import select_kernel

        ksize, auto = _resolve_size(size, g.shape)
        cap = None if auto else max(ksize)
        ksize = None if auto else ksize
        # method="learned" is an explicit request: the learned family runs on any image size
        k, info = select_kernel(g, size=cap, sigma=sigma, margin=margin, progress=progress,
                                callback=callback, families=families[method],
                                **({"map_min_pixels": 0} if method == "learned" else {}))
        if method == "learned" and not any(c["family"] == "learned" for c in info["candidates"]):
            raise RuntimeError("the learned estimator is unavailable: " + "; ".join(info["notes"]))
        if not guard and info["decision"] == "identity":
            best = max((c for c in info["candidates"] if c["family"] != "identity"),
                       key=lambda c: c["evidence"], default=None)
            if best is not None:
                k, info["decision"] = info["kernels"][best["name"]], "estimated"
        decision, conf, m, amb = info["decision"], info["confidence"], info["margin"], info["ambiguity"]
        refined = None
        if auto_refine and decision == "estimated" and str(info["chosen"]).startswith(("map", "learned")):
            from .refine import gated_refine

            k, refined = gated_refine(g, np.asarray(k, np.float64), sigma=info["sigma"],
                                      iterations=int(auto_refine), gate=refine_gate)
            info["notes"].append(f"{info['chosen']} {'refined' if refined['accepted'] else 'not refined'} "
                                 f"at full resolution ({int(auto_refine)} passes; {refined['reason']})")
        cands = info["candidates"]
        params = {"chosen": info["chosen"], "sigma": info["sigma"], "cap": info["cap"], "notes": info["notes"],
                  **{key: info[key] for key in ("path", "consistency", "tiles", "map_agreement", "flip_gap",
                                                "learned_agreement", "features")}, "refined": refined}
        if ksize is not None and decision != "identity":
            k = _fit_to(np.asarray(k, np.float64), ksize)
        ksize = ksize or tuple(int(v) for v in k.shape)
        prior_used = None
    else:
        ksize, auto = _resolve_size(size, g.shape)
        prior_used = prior if method == "map" else None
        if method == "map":
            from .map_l0 import map_estimate

            ld = lam_dark if prior == "dark_channel" else 0.0
            k, info = map_estimate(g, ksize, lam=lam, lam_dark=ld, gamma=gamma,
                                   inner_iterations=int(inner_iterations), refine=int(refine),
                                   callback=callback, progress=progress)
            scales = info["scales"]
            params = {"lam": lam, "lam_dark": ld, "gamma": gamma, "inner_iterations": inner_iterations,
                      "refine": int(refine), "explained": info.get("explained", 0.0)}
        elif method == "blind_rl":
            from .blind_rl import blind_richardson_lucy

            k, _, info = blind_richardson_lucy(g, ksize, iterations=int(iterations), callback=callback)
            scales = [{"scale": 1.0, "size": int(ksize[0]), "image_shape": g.shape,
                       "iterations": int(iterations), "energies": info["energies"]}]
            params = {"iterations": int(iterations)}
        else:
            k, params, _ = _parametric_psf(g, model, ksize)
        k = np.maximum(k, 0)
        k = k / k.sum()
        from .evidence import SpectralEvidence
        from .select import confidence_from_margin

        ev = SpectralEvidence(g, sigma=sigma, max_kernel=max(k.shape))
        e_k = ev.score(k) if max(k.shape) <= ev.tile else -np.inf
        e_id = ev.score(np.ones((1, 1)))
        m = float(e_k - e_id)
        cands = [{"name": "identity", "family": "identity", "shape": [1, 1], "evidence": e_id},
                 {"name": method, "family": method, "shape": list(k.shape), "evidence": e_k}]
        if guard and not m > margin:
            decision = "identity"
        if guard and decision == "estimated" and max(k.shape) <= ev.tile:
            from .select import tile_consistency

            share, _ = tile_consistency(g, k, ev.sigma)
            params["consistency"] = share
            if share < 0.9:
                decision = "identity"
        conf = confidence_from_margin(m, 0.05) if decision == "estimated" else \
            1.0 - confidence_from_margin(m, 0.05)
    warn = None
    if decision == "identity":
        k = np.ones((1, 1)) if (selected and auto) else _fit_to(np.ones((1, 1)), ksize)
        warn = ("no-harm guard: no kernel estimate was convincingly better than no blur "
                f"(evidence margin {m:+.4f}; needs > {margin} and a win on >= 90 % of the image "
                "tiles, or with method='auto' a self-consistent MAP run); returning the identity kernel")
        warnings.warn(warn, NoBlurWarning, stacklevel=2)
    k = np.maximum(k, 0)
    k = k / k.sum()
    restored = None
    if restore:
        from .restore import restore_ringing_suppressed

        a = B.to_numpy(y).astype(np.float64)
        if a.ndim == 2:
            restored = restore_ringing_suppressed(a, k)
        elif a.shape[0] in (1, 3) and a.ndim == 3:
            restored = np.stack([restore_ringing_suppressed(c, k) for c in a])
        else:
            restored = np.stack([restore_ringing_suppressed(a[..., c], k) for c in range(a.shape[-1])], -1)
    report = EstimateReport(method=method, prior=prior_used,
                            size=tuple(int(v) for v in (ksize or k.shape)), size_auto=auto,
                            scales=scales, confidence=float(conf), time_s=time.perf_counter() - t0,
                            params=params, restored=restored, decision=decision, warning=warn,
                            candidates=cands, margin=m, ambiguity=amb)
    out = k if B.is_numpy(y) else B.asarray_like(k, y, dtype=B.float_dtype(y))
    return out, report
