r"""Automatic parameters, decided in one place: noise level -> NSR / lambda / stopping rule.

Every solver function of :mod:`hybrid_deblur.solvers` calls :func:`auto_parameters` for
each parameter the user left at ``None``; :class:`~hybrid_deblur.pipeline.Deblurrer`, the
CLI and the benchmarks call the solver functions with their defaults, so they all get
the same decision. Nothing else in the toolkit picks a regularisation weight.

The rules (measured on natural images; see ``benchmarks/noharm.py``):

==================  ==========================================================
method              automatic choice
==================  ==========================================================
``wiener``          frequency-dependent NSR :math:`N\sigma^2 / S(f)` from a
                    :math:`1/f^2` image model fitted to ``y`` (rule ``"model"``)
``tikhonov``        ``lam`` minimising the MSE predicted by the same image model
                    (exact ``valid`` solve, Laplacian regulariser; :math:`50\sigma^2`
                    without a kernel); GCV / discrepancy on the observed pixels on request
``richardson_lucy`` discrepancy stop: mean squared residual on the observed
                    pixels reaches :math:`\sigma^2` (Poisson: deviance)
``richardson_lucy_tv``  TV weight :math:`2.5\,\sigma^{1.7}/\bar y`, change stop
``hqs`` (tv / hl)   prior weight ``lam`` :math:`= \sigma^p / c` (see table)
``hqs`` (denoiser)  DPIR schedule: :math:`\sigma_k` log-spaced from 49/255 to
                    :math:`\sigma`, :math:`\mu_k = \lambda\sigma^2/\sigma_k^2`
==================  ==========================================================

An estimated noise level is raised to a floor (:data:`NOISE_FLOOR`; Wiener:
:data:`LINEAR_NOISE_FLOOR`): real captures carry model error (kernel, alignment,
quantisation) that must be regularised too. A ``sigma`` given by the user is used as is.

Examples
--------
>>> import numpy as np
>>> from hybrid_deblur.solvers import auto_parameters
>>> p = auto_parameters("hqs_tv", sigma=0.01)
>>> sorted(p)[:3], p["sigma"]
(['alpha', 'lam', 'method'], 0.01)
"""

from __future__ import annotations

from typing import Any

import numpy as np

from .. import backend as B
from .noise_level import estimate_noise

__all__ = [
    "AUTO_METHODS",
    "LINEAR_NOISE_FLOOR",
    "NOISE_FLOOR",
    "TIKHONOV_C",
    "WIENER_NOISE_FLOOR",
    "auto_parameters",
    "check_sigma",
    "dpir_schedule",
    "hqs_prior_weight",
    "identity_result",
    "is_identity_kernel",
    "resolve_sigma",
    "rl_tv_weight",
]

#: estimated noise levels below this are raised to it for the automatic parameters
NOISE_FLOOR = 0.005
#: Wiener: an estimated sigma is floored at LINEAR_NOISE_FLOOR, less than the iterative
#: solvers' floor but not less: real captures carry model error (kernel, alignment,
#: quantisation) that the linear filter cannot suppress adaptively. Measured on Levin's 32
#: real captures with true kernels: floor 0.002 -> 31.44 dB, 0.001 -> 30.51 dB, although
#: 0.001 is better on noise-free synthetic cells (they have no model error). Tikhonov keeps
#: NOISE_FLOOR (Levin: 32.16 dB at 0.005, 30.15 at 0.001; its model-risk lambda also
#: under-regularises long motion on images with large flat areas)
LINEAR_NOISE_FLOOR = 0.002
#: the former name (kept for one release)
WIENER_NOISE_FLOOR = LINEAR_NOISE_FLOOR

#: method names understood by :func:`auto_parameters`
AUTO_METHODS = ("wiener", "tikhonov", "richardson_lucy", "richardson_lucy_tv", "hqs_tv",
                "hqs_hl", "hqs_pnp")

#: alpha -> (c, p): HQS prior weight lam = sigma**p / c  (data weight c / sigma**p), measured
#: best on BSD68 x Levin kernels (valid blur, sigma 0.01 and 0.03)
_HQS_C = {1.0: (0.51, 1.7), 2.0 / 3.0: (5.0, 4.0 / 3.0), 0.5: (3.0, 1.5)}
#: Tikhonov (exact valid solve, Laplacian regulariser): lam = c * sigma**2, measured best
#: c in 30..120 on natural crops x kernels with spectral zeros (benchmarks/noharm.py)
TIKHONOV_C = 50.0
#: RL-TV weight = c * sigma**p / mean(y)
_TV_C, _TV_P = 2.5, 1.7
#: DPIR defaults (Zhang et al. 2021): start level, trade-off lambda, number of steps
DPIR_SIGMA_START, DPIR_LAMBDA, DPIR_STEPS = 49.0 / 255.0, 0.23, 8


def check_sigma(sigma: Any, name: str = "sigma"):
    """Validate a user noise level: None, a number or one per channel, finite and >= 0.

    Returns ``None`` or a float64 NumPy value (0-d or per channel). Raises ``ValueError``
    naming ``name`` (the argument as the user wrote it) for negative, NaN or inf values and
    ``TypeError`` for non-numbers.

    Examples
    --------
    >>> from hybrid_deblur.solvers.auto import check_sigma
    >>> float(check_sigma(0.01))
    0.01
    """
    if sigma is None:
        return None
    if isinstance(sigma, (bool, str)):
        raise TypeError(f"{name} must be a real number (or one per channel), got {sigma!r}")
    try:
        s = np.asarray(B.to_numpy(sigma) if (B.is_torch(sigma) or B.is_cupy(sigma)) else sigma,
                       dtype=np.float64)
    except (TypeError, ValueError):
        raise TypeError(f"{name} must be a real number (or one per channel), got {sigma!r}"
                        ) from None
    if s.size == 0 or not np.all(np.isfinite(s)) or np.any(s < 0):
        raise ValueError(f"{name} must be finite and >= 0 (the noise standard deviation on the "
                         f"[0, 1] scale), got {sigma!r}")
    return s


def resolve_sigma(y: Any, sigma: Any, *, ndim: int = 2, floor: float = NOISE_FLOOR):
    """The noise level the automatic rules use: ``sigma`` as given, else estimated + floored.

    Returns ``(sigma, source)``: a float64 value (0-d or per channel) and ``"given"`` or
    ``"estimated"``.
    """
    s = check_sigma(sigma)
    if s is not None:
        return s, "given"
    est = np.asarray(estimate_noise(y, ndim=ndim), dtype=np.float64)
    return np.maximum(est, floor), "estimated"


def _rms(s) -> float:
    return float(np.sqrt(np.mean(np.asarray(s, dtype=np.float64) ** 2)))


def hqs_prior_weight(sigma: float, alpha: float) -> float:
    """Prior weight ``lam`` of gradient-split HQS for noise level ``sigma`` and exponent ``alpha``.

    The energy :math:`\\tfrac12\\|k*x-y\\|^2 + \\mathrm{lam}\\sum|\\nabla x|^\\alpha` is
    invariant when intensities scale by :math:`s` and ``lam`` by :math:`s^{2-\\alpha}`, so
    ``lam`` :math:`= \\sigma^p / c` with :math:`p = 2-\\alpha` (2/3: ``c`` = 5; 1/2: 3); for
    TV the measured best is :math:`p = 1.7`, ``c = 0.51``.

    Examples
    --------
    >>> from hybrid_deblur.solvers.auto import hqs_prior_weight
    >>> round(1 / hqs_prior_weight(0.01, 2 / 3))
    2321
    """
    s = max(float(sigma), 1e-4)
    c, p = min(_HQS_C.items(), key=lambda kv: abs(kv[0] - float(alpha)))[1]
    return s ** p / c


def rl_tv_weight(sigma: float, y_mean: float) -> float:
    """TV weight of RL-TV: :math:`2.5\\,\\sigma^{1.7}/\\bar y` (Poisson likelihood ~ LS / mean)."""
    s = max(float(sigma), 1e-4)
    return _TV_C * s ** _TV_P / max(float(y_mean), 1e-6)


def dpir_schedule(sigma: float, steps: int = DPIR_STEPS, *, sigma_start: float = DPIR_SIGMA_START,
                  lam: float = DPIR_LAMBDA):
    """DPIR schedule: denoiser levels :math:`\\sigma_k` and data-step weights :math:`\\mu_k`.

    :math:`\\sigma_k` is log-spaced from ``sigma_start`` down to ``max(sigma, 1e-3)`` over
    ``steps``; :math:`\\mu_k = \\lambda\\,\\sigma^2/\\sigma_k^2` weighs the proximal term of
    :meth:`~hybrid_deblur.physics.Blur.prox_data` (the data term is
    :math:`\\tfrac12\\|Ax-y\\|^2`).

    Examples
    --------
    >>> from hybrid_deblur.solvers.auto import dpir_schedule
    >>> s, mu = dpir_schedule(0.01, 4)
    >>> len(s), round(s[-1], 4), mu[0] < mu[-1]
    (4, 0.01, True)
    """
    if isinstance(steps, bool) or not isinstance(steps, (int, np.integer)) or steps < 1:
        raise ValueError(f"num_iter must be a positive integer, got {steps!r}")
    s_end = max(float(sigma), 1e-3)
    s0 = max(float(sigma_start), s_end)
    sig = np.geomspace(s0, s_end, int(steps)) if steps > 1 else np.array([s_end])
    mu = lam * s_end ** 2 / sig ** 2
    return [float(v) for v in sig], [float(v) for v in mu]


def auto_parameters(method: str, y: Any = None, *, sigma: Any = None, ndim: int = 2,
                    alpha: float | None = None, noise: str = "gaussian", psf: Any = None,
                    reg: str = "laplacian") -> dict:
    r"""Automatic parameters of ``method`` for the observation ``y`` (or a known ``sigma``).

    Parameters
    ----------
    method : str
        One of :data:`AUTO_METHODS`.
    y : array, optional
        The observation (needed when ``sigma`` is None, and for ``richardson_lucy_tv``).
    sigma : float or array, optional
        Gaussian noise level on the [0, 1] scale (per channel allowed); estimated from
        ``y`` (and floored) when None.
    ndim : int
        Spatial axes of ``y``.
    alpha : float, optional
        Hyper-Laplacian exponent for ``hqs_hl`` (default 2/3).
    noise : {"gaussian", "poisson"}
        Declared noise model (RL's discrepancy uses the Poisson deviance for "poisson").
    psf : array, optional
        The kernel: with ``y``, Tikhonov's ``lam`` minimises the MSE predicted by the image
        model (:func:`~hybrid_deblur.solvers.image_model.tikhonov_risk_lam`); without it,
        ``lam`` :math:`= 50\sigma^2`.
    reg : str
        Tikhonov's regulariser (for the predicted MSE).

    Returns
    -------
    dict
        Always ``method``, ``sigma`` (the level used, float or list) and ``sigma_source``;
        plus per method: ``wiener``: ``nsr_rule``; ``tikhonov``: ``lam_rule``, ``lam``; ``richardson_lucy``: ``stop``, ``max_iter``;
        ``richardson_lucy_tv``: ``tv``, ``stop``, ``tol``, ``max_iter``; ``hqs_tv`` /
        ``hqs_hl``: ``lam`` (prior weight), ``alpha``; ``hqs_pnp``: ``sigmas``, ``mus``.

    Examples
    --------
    >>> from hybrid_deblur.solvers import auto_parameters
    >>> auto_parameters("richardson_lucy", sigma=0.01)["stop"]
    'discrepancy'
    """
    if not isinstance(method, str) or method not in AUTO_METHODS:
        raise ValueError(f"method={method!r} is not supported; accepted: "
                         f"{', '.join(map(repr, AUTO_METHODS))}")
    if noise not in ("gaussian", "poisson"):
        raise ValueError(f"noise={noise!r} is not supported; accepted: 'gaussian', 'poisson'")
    if y is None and sigma is None:
        raise ValueError("auto_parameters needs the observation y or a noise level sigma")
    floor = LINEAR_NOISE_FLOOR if method == "wiener" else NOISE_FLOOR
    s, source = resolve_sigma(y, sigma, ndim=ndim, floor=floor)
    out: dict = {"method": method, "sigma": s.tolist() if s.ndim else float(s),
                 "sigma_source": source}
    if method == "wiener":
        out["nsr_rule"] = "model"
    elif method == "tikhonov":
        if psf is not None and y is not None:
            from .image_model import tikhonov_risk_lam

            out.update(lam_rule="model-risk", lam=tikhonov_risk_lam(y, psf, s, reg=reg,
                                                                   ndim=ndim))
        else:
            lam = TIKHONOV_C * np.asarray(s, dtype=np.float64) ** 2
            out.update(lam_rule="c*sigma^2", lam=lam.tolist() if lam.ndim else float(lam))
    elif method == "richardson_lucy":
        out.update(stop="poisson_deviance" if noise == "poisson" else "discrepancy",
                   max_iter=200)
    elif method == "richardson_lucy_tv":
        if y is None:
            raise ValueError("richardson_lucy_tv's automatic TV weight needs the observation y")
        m = float(abs(B.to_numpy(B.as_float(y))).mean())
        out.update(tv=rl_tv_weight(_rms(s), m), stop="change", tol=5e-4, max_iter=150)
    elif method in ("hqs_tv", "hqs_hl"):
        a = 1.0 if method == "hqs_tv" else (2.0 / 3.0 if alpha is None else float(alpha))
        out.update(alpha=a, lam=hqs_prior_weight(_rms(s), a))
    else:
        sig, mu = dpir_schedule(_rms(s))
        out.update(sigmas=sig, mus=mu)
    return out


def is_identity_kernel(psf: Any, ndim: int = 2) -> bool:
    """True when every PSF is a centred delta (to 1e-9): there is nothing to deconvolve.

    The solvers then return the input with automatic parameters (no harm: denoising is not
    their job). A shifted delta is a translation, not the identity, and is solved normally.

    Examples
    --------
    >>> import numpy as np
    >>> from hybrid_deblur.solvers.auto import is_identity_kernel
    >>> k = np.zeros((3, 3)); k[1, 1] = 1
    >>> is_identity_kernel(k), is_identity_kernel(np.ones((3, 3)) / 9)
    (True, False)
    """
    k = B.to_numpy(psf).astype(np.float64)
    ks = k.shape[-ndim:]
    k = k.reshape((-1,) + tuple(ks))
    k = k / np.maximum(k.sum(axis=tuple(range(1, ndim + 1)), keepdims=True), 1e-300)
    centre = (slice(None),) + tuple(n // 2 for n in ks)
    return bool(np.all(np.abs(k[centre] - 1.0) < 1e-9))


def identity_result(y: Any, psf: Any, boundary: str, ndim: int = 2):
    """The solution for a centred delta PSF: ``y`` itself (``valid``: edge-extended scene)."""
    if boundary != "valid":
        return y + 0
    from ..physics.boundary import pad

    ks = tuple(int(v) for v in psf.shape[-ndim:])
    return pad(y, [(k - 1 - k // 2, k // 2) for k in ks], "replicate")
