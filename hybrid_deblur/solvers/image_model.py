r"""The natural-image spectrum model behind the linear solvers' automatic parameters.

Natural images have a power spectrum close to :math:`S(f) = A / (|D(f)|^2 + \epsilon)`
(:math:`|D|^2`: power of the forward-difference gradient, :math:`\epsilon` the lowest grid
frequency squared). :func:`fit_spectrum` fits the amplitude :math:`A` to the observation
where the blur passes at least a quarter of the power; the Wiener filter then uses
:math:`\mathrm{NSR}(f) = N\sigma^2 / S(f)` and Tikhonov's automatic weight
(:func:`tikhonov_risk_lam`) is the one that minimises the mean squared error predicted by
the same model,

.. math:: R(\lambda) = \sum_f \frac{\lambda^2 |P(f)|^2 S(f) + |H(f)|^2 N\sigma^2}
                                   {(|H(f)|^2 + \lambda |P(f)|^2)^2},

where :math:`P` is the regulariser. Unlike a fixed :math:`\lambda = c\sigma^2`, the weight
follows the kernel: a long motion blur whose OTF has many zeros needs a much larger
:math:`\lambda` than a small disk (measured on crops and kernels outside the tuning set:
0 of 56 cells harmed and 98 % within 1 dB of the oracle, against 5 % and 73 % for
:math:`50\sigma^2`; ``benchmarks/noharm.py`` has the protocol).

Examples
--------
>>> import numpy as np
>>> from hybrid_deblur import psf
>>> from hybrid_deblur.physics import Blur
>>> from hybrid_deblur.solvers.image_model import tikhonov_risk_lam
>>> x = np.cumsum(np.random.default_rng(0).standard_normal((96, 96)), axis=1) / 40
>>> y = Blur(psf.linear_motion(15, 30), "valid")(x)
>>> lam_short = tikhonov_risk_lam(y, psf.disk(1), 0.01)
>>> lam_long = tikhonov_risk_lam(y, psf.linear_motion(15, 30), 0.01)
>>> bool(lam_long > lam_short > 0)
True
"""

from __future__ import annotations

from typing import Any

import numpy as np

from .. import backend as B
from ..physics import geometry as G
from ..physics.datastep import frequency_power, lead_column

__all__ = ["fit_spectrum", "rfft_weights", "tikhonov_risk_lam"]


def rfft_weights(grid, like):
    """Multiplicity of each rfft column (1 for DC/Nyquist, 2 otherwise): sums over the
    half spectrum then equal sums over the whole spectrum."""
    n = int(grid[-1])
    w = np.full(n // 2 + 1, 2.0)
    w[0] = 1.0
    if n % 2 == 0:
        w[-1] = 1.0
    return B.asarray_like(w, like)


def fit_spectrum(Y: Any, H2: Any, grid, sigma: Any, ndim: int):
    """Fit the 1/f^2 image model to the spectrum ``Y`` of the (extended) observation.

    Returns ``(w, eps, amp)``: the Wiener weight :math:`w = N\\sigma^2/A` (so that
    :math:`\\mathrm{NSR}(f) = w(|D(f)|^2 + \\epsilon)`), :math:`\\epsilon` and the amplitude
    :math:`A`, per channel (NumPy).
    """
    N = float(np.prod(grid))
    D2 = frequency_power("gradient", grid, H2)
    eps = (2 * np.pi / max(grid)) ** 2
    Y2 = Y.real * Y.real + Y.imag * Y.imag
    noise = N * (lead_column(sigma ** 2, Y2, ndim) if np.ndim(sigma) else float(sigma) ** 2)
    xp = B.namespace(H2)
    ratio = (Y2 - noise) * (D2 + eps) / (H2.clamp(min=1e-12) if B.is_torch(H2)
                                         else xp.maximum(H2, 1e-12))
    sel = (H2 > 0.25) & (D2 > 0)
    ratio = xp.where(sel & (ratio > 0), ratio, xp.zeros_like(ratio) + float("nan"))
    r_np = B.to_numpy(ratio)
    r_np = r_np.reshape(r_np.shape[:-ndim] + (-1,))
    with np.errstate(all="ignore"):
        amp = np.nanmedian(r_np, axis=-1) if np.isfinite(r_np).any() else np.full(
            r_np.shape[:-1], np.nan)
    amp = np.where(np.isfinite(amp) & (amp > 0), amp, N * 1.0)
    w = N * np.asarray(sigma, dtype=np.float64) ** 2 / amp
    return w, eps, amp


def tikhonov_risk_lam(y: Any, psf: Any, sigma: Any, *, reg: str = "laplacian", ndim: int = 2,
                      lo: float = 1e-7, hi: float = 10.0):
    """Tikhonov weight :math:`\\lambda` minimising the model-predicted MSE (see module notes).

    Parameters
    ----------
    y : array, shape (..., H, W)
        The observation (any backend); extended seam-free onto the padded solve grid.
    psf : array
        The blur kernel (one per channel allowed).
    sigma : float or array
        Noise level on the [0, 1] scale (per channel allowed).
    reg : {"laplacian", "gradient", "identity"}
        The regulariser :math:`P` of the Tikhonov problem.
    ndim : int
        Spatial axes.
    lo, hi : float
        Search interval of :math:`\\lambda` (log-uniform grid, then golden refinement).

    Returns
    -------
    float or list of float (one per leading item when ``y`` has leading axes and they differ)
    """
    from . import validate as V

    y, psf, op = V.prepare(y, psf, ndim=ndim)
    n = G.spatial(y, ndim)
    geom = G.padded_geometry(n, op.ksize, "auto")
    ye = G.pad_observation(y, geom, op, mode="reflect")
    H = op.otf(geom.grid, like=ye)
    H2 = H.real * H.real + H.imag * H.imag
    sig = np.maximum(np.asarray(sigma, dtype=np.float64), 1e-4)
    _, eps, amp = fit_spectrum(B.rfftn(ye, axes=G.axes(ndim)), H2, geom.grid, sig, ndim)
    N = float(np.prod(geom.grid))
    h2 = B.to_numpy(H2).astype(np.float64)
    d2 = B.to_numpy(frequency_power("gradient", geom.grid, H2) + 0 * H2).astype(np.float64)
    p2 = B.to_numpy(frequency_power(reg, geom.grid, H2) + 0 * H2).astype(np.float64)
    wts = B.to_numpy(rfft_weights(geom.grid, H2)).astype(np.float64)
    lead = tuple(int(v) for v in y.shape[:-ndim])
    L = int(np.prod(lead)) if lead else 1
    sp = h2.shape[-ndim:]
    h2 = np.broadcast_to(h2, lead + sp).reshape((L,) + sp)
    d2, p2 = np.broadcast_to(d2, sp), np.broadcast_to(p2, sp)
    amp = np.broadcast_to(np.asarray(amp, dtype=np.float64), lead).reshape(L)
    sig_c = np.broadcast_to(sig, lead).reshape(L)
    out = []
    for i in range(L):
        hh, s_f, noise = h2[i], amp[i] / (d2 + eps), N * float(sig_c[i]) ** 2

        def risk(lam, hh=hh, s_f=s_f, noise=noise):
            den = (hh + lam * p2) ** 2
            return float(np.sum(wts * ((lam * p2) ** 2 * s_f + hh * noise)
                                / np.maximum(den, 1e-300)))

        out.append(_argmin_log(risk, lo, hi))
    if len(set(out)) == 1 or not lead:
        return float(out[0])
    return out


def _argmin_log(f, lo: float, hi: float, n_grid: int = 41, n_refine: int = 20) -> float:
    """Minimiser of a unimodal-ish ``f`` over log(lam) in [lo, hi]: grid, then golden."""
    lams = np.geomspace(lo, hi, n_grid)
    vals = [f(float(v)) for v in lams]
    i = int(np.argmin(vals))
    a, b = np.log(lams[max(i - 1, 0)]), np.log(lams[min(i + 1, n_grid - 1)])
    g = (np.sqrt(5) - 1) / 2
    for _ in range(n_refine):
        c1, c2 = b - g * (b - a), a + g * (b - a)
        if f(float(np.exp(c1))) < f(float(np.exp(c2))):
            b = c2
        else:
            a = c1
    return float(np.exp((a + b) / 2))
