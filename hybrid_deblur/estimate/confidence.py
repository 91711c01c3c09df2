"""No-reference features of a blind estimate, for the calibrated ``confidence`` of ``"auto"``.

:func:`confidence_features` describes the decision of
:func:`~hybrid_deblur.estimate.select.select_kernel` beyond the evidence margin and
the ambiguity: agreement of the chosen kernel with the best candidate of another
family (two estimators that agree are rarely both wrong), agreement of the two MAP
sizes, and the HQS-TV restoration of a central crop with the chosen kernel — the
re-blur residual's energy against the noise level and its whiteness (a wrong kernel
leaves edges in the residual: neighbouring residual pixels correlate) and the
gradient sparsity gained over the input.

Examples
--------
>>> import numpy as np
>>> from hybrid_deblur.estimate.confidence import residual_features
>>> from hybrid_deblur.psf import disk
>>> rng = np.random.default_rng(0)
>>> f = residual_features(rng.random((64, 64)), disk(2), 0.01)
>>> sorted(f)
['residual_corr', 'residual_rel', 'sparsity_gain']
"""

from __future__ import annotations

import numpy as np

__all__ = ["CALIBRATION", "calibrated_confidence", "confidence_features", "residual_features"]

#: logistic calibration of ``confidence`` on the evidence margin and the sparsity gain
#: (standardised: mean, sd; weights; bias), fitted on the quick half of
#: ``benchmarks/blind_suite.py`` (48 blurred runs, sigma 0.01; the best of all one- and
#: two-feature sets by leave-one-out AUC there, 0.861) and measured on the held-out half
#: (32 runs): AUC for "within 1 dB of the true kernel" 0.829 against 0.691 for the
#: margin/ambiguity formula (session 6)
CALIBRATION = {"mean": (0.18777, 1.62793), "sd": (0.15438, 0.17208), "w": (0.62898, 1.26777), "b": 2.48052}


def calibrated_confidence(margin: float, sparsity_gain: float) -> float:
    """Probability that the estimate restores within 1 dB of the true kernel (:data:`CALIBRATION`).

    Examples
    --------
    >>> calibrated_confidence(0.2, 1.9) > calibrated_confidence(0.2, 1.2)
    True
    """
    import math

    c = CALIBRATION
    z = c["b"] + sum(w * (v - m) / sd for w, v, m, sd in zip(c["w"], (margin, sparsity_gain), c["mean"], c["sd"]))
    return float(1.0 / (1.0 + math.exp(-max(min(z, 50.0), -50.0))))


def _l1l2(x: np.ndarray) -> float:
    gx, gy = np.diff(x, axis=1), np.diff(x, axis=0)
    return float((np.abs(gx).sum() + np.abs(gy).sum()) / np.sqrt((gx ** 2).sum() + (gy ** 2).sum() + 1e-30))


def residual_features(y, k, sigma: float, *, crop: int = 256) -> dict:
    """Re-blur residual and sparsity of the HQS-TV restoration of a central crop with ``k``.

    Returns ``residual_rel`` (mean squared residual ``y - k * x`` on the interior over
    ``sigma**2``), ``residual_corr`` (mean absolute correlation of horizontally and
    vertically adjacent residual pixels: 0 for white noise) and ``sparsity_gain``
    (:math:`\\ell_1/\\ell_2` of the input's gradients over the restoration's: > 1 when
    the restoration is sharper).
    """
    from ..physics import convolve
    from ..solvers import auto_parameters, hqs
    from .candidates import center_crop

    c = np.asarray(center_crop(np.asarray(y, np.float64), crop))
    k = np.asarray(k, np.float64)
    x = np.asarray(hqs(c, k, prior="tv", lam=auto_parameters("hqs_tv", c)["lam"]))
    b = max(k.shape) // 2 + 2
    r = (c - np.asarray(convolve(x, k, "reflect")))[b:-b, b:-b]
    r = r - r.mean()
    v = float((r * r).mean()) + 1e-30
    corr = 0.5 * (abs(float((r[:, 1:] * r[:, :-1]).mean())) + abs(float((r[1:] * r[:-1]).mean()))) / v
    return {"residual_rel": v / max(float(sigma), 1e-4) ** 2, "residual_corr": corr,
            "sparsity_gain": _l1l2(c) / max(_l1l2(x), 1e-30)}


def confidence_features(y, chosen: dict, cands: list, *, sigma: float, map_pair: float | None,
                        runs: list = (), restore: bool = True) -> dict:
    """Features of the chosen candidate (a dict with ``kernel``, ``family``, ``evidence``).

    ``cand_agreement``: highest kernel similarity (the 180° flip accepted) to a candidate
    or another run (``runs``: MAP runs that were not candidates, the raw learned kernel)
    of another family (identity excluded; 0 without one); ``n_close``: candidates within
    0.02 of the chosen evidence; ``map_pair``: similarity of the two MAP sizes (None when
    fewer than two ran); with ``restore`` and a non-identity choice, :func:`residual_features`.
    """
    from ..metrics import kernel_similarity

    k = np.asarray(chosen["kernel"], np.float64)
    agree = 0.0
    if k.size > 1:
        for c in [*cands, *runs]:
            kc = np.asarray(c["kernel"], np.float64)
            if c["family"] in ("identity", chosen["family"]) or kc.size == 1:
                continue
            agree = max(agree, kernel_similarity(k, kc), kernel_similarity(k[::-1, ::-1], kc))
    out = {"cand_agreement": float(agree), "map_pair": None if map_pair is None else float(map_pair),
           "n_close": int(sum(c["evidence"] >= chosen["evidence"] - 0.02 for c in cands
                              if c["family"] != "identity")),
           "spread": float(chosen.get("spread", 0.0))}
    if restore and k.size > 1:
        out.update(residual_features(y, k, sigma))
    return out
