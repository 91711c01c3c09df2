"""Parametric blur estimation from the log power spectrum.

* linear motion: the angle that makes the spectral stripes line up (maximum variance
  of the Radon projection of the detrended log spectrum), then the length whose
  :math:`\\mathrm{sinc}^2(L\\,f)` zeros best match the projected profile;
* defocus: the radius whose Airy-type zeros :math:`(2J_1(2\\pi r\\rho)/(2\\pi r\\rho))^2`
  best match the radial profile;
* Gaussian: :math:`\\sigma` from the quadratic fall-off :math:`-4\\pi^2\\sigma^2\\rho^2`;
* motion + defocus: a joint fit over (length, radius) that reports when the two
  cannot be told apart.

The spectrum is taken of the periodic component of the image (Moisan's periodic +
smooth decomposition), so the frame of a photo adds no cross to the spectrum.

Angles follow :func:`hybrid_deblur.psf.linear_motion`: degrees, counter-clockwise
from the +x axis (rows point down), modulo 180.

Examples
--------
>>> import numpy as np
>>> from scipy.ndimage import gaussian_filter
>>> from scipy.signal import fftconvolve
>>> from hybrid_deblur.psf import linear_motion
>>> from hybrid_deblur.estimate import estimate_motion
>>> x = gaussian_filter(np.random.default_rng(0).random((192, 192)), 1.0)
>>> y = fftconvolve(x, linear_motion(15, 30), mode="valid")
>>> m = estimate_motion(y)
>>> bool(abs(m["angle"] - 30) < 2 and abs(m["length"] - 15) < 1)
True
"""

from __future__ import annotations

import numpy as np
from scipy import special

from .. import backend as B
from ..psf.otf import sample_frequencies
from . import _common as C

__all__ = [
    "estimate_defocus",
    "estimate_gaussian",
    "estimate_motion",
    "estimate_motion_defocus",
    "log_spectrum",
    "periodic_component",
]

_EPS = 1e-3  # noise-to-signal floor of the motion model
_EPS_DEFOCUS = 1e-2  # and of the defocus model (its rings are weaker)


def periodic_component(u: np.ndarray) -> np.ndarray:
    """Periodic part of Moisan's periodic + smooth decomposition of a 2-D image."""
    M, N = u.shape
    v = np.zeros_like(u)
    v[0, :] += u[-1, :] - u[0, :]
    v[-1, :] += u[0, :] - u[-1, :]
    v[:, 0] += u[:, -1] - u[:, 0]
    v[:, -1] += u[:, 0] - u[:, -1]
    q = np.arange(M)[:, None]
    r = np.arange(N)[None, :]
    den = 2 * np.cos(2 * np.pi * q / M) + 2 * np.cos(2 * np.pi * r / N) - 4
    den[0, 0] = 1.0
    S = B.fftn(v) / den
    S[0, 0] = 0.0
    return u - B.ifftn(S).real


def log_spectrum(y) -> tuple[np.ndarray, np.ndarray, np.ndarray, float]:
    """Log power spectrum of the periodic component, with its frequency grids.

    Returns ``(logP, fy, fx, noise_floor_log)`` (all (H, W), cycles/pixel, unshifted).
    """
    y = C.as_gray(y)
    p = periodic_component(y - y.mean())
    P = np.abs(B.fftn(p)) ** 2
    fy = sample_frequencies(y.shape[0])[:, None] * np.ones((1, y.shape[1]))
    fx = sample_frequencies(y.shape[1])[None, :] * np.ones((y.shape[0], 1))
    # noise floor from the finest-scale residual (MAD of a Laplacian-like filter)
    d = (p[1:-1, 1:-1] * 4 - p[:-2, 1:-1] - p[2:, 1:-1] - p[1:-1, :-2] - p[1:-1, 2:]) / np.sqrt(20)
    sigma = 1.4826 * np.median(np.abs(d - np.median(d)))
    floor = np.log(max(sigma ** 2 * y.size, 1e-30))
    return np.log(P + 1e-30), fy, fx, float(floor)


def _band(logP, fy, fx, floor, rmin=2.0, margin=1.5):
    """Frequencies usable for fitting: above the DC neighbourhood and above the noise floor."""
    H, W = logP.shape
    rho = np.hypot(fy, fx)
    rbin = np.minimum((rho * max(H, W)).astype(int), max(H, W))
    prof = np.bincount(rbin.ravel(), logP.ravel()) / np.maximum(np.bincount(rbin.ravel()), 1)
    # radial mean > floor + margin (1.5: about 4.5x the noise power), where zeros are visible
    ok = np.flatnonzero(prof > floor + margin)
    rmax_bin = ok.max() if ok.size else max(H, W) // 4
    rmax = min(max(rmax_bin / max(H, W), 8 / max(H, W)), 0.5)
    sel = (rho >= rmin / max(H, W)) & (rho <= rmax)
    return sel, rho, rbin, prof, rmax


def _detrend_matrix(z: np.ndarray) -> np.ndarray:
    """Orthonormal basis of the smooth trends [1, log z, log^2 z] on sample points ``z``."""
    lz = np.log(np.maximum(z, 1e-6))
    Q, _ = np.linalg.qr(np.stack([np.ones_like(lz), lz, lz * lz], axis=1))
    return Q


def _residual(v: np.ndarray, Q: np.ndarray) -> np.ndarray:
    return v - Q @ (Q.T @ v)


def _fit_scale(profile, coords, model, grid, Q, weights=None):
    """Grid search of the parameter whose model best correlates with the detrended profile."""
    w = np.ones_like(profile) if weights is None else weights
    d = _residual(profile, Q) * np.sqrt(w)
    d /= np.linalg.norm(d) + 1e-30
    scores = np.empty(len(grid))
    for i, g in enumerate(grid):
        m = _residual(model(g, coords), Q) * np.sqrt(w)
        scores[i] = float(d @ m) / (np.linalg.norm(m) + 1e-30)
    return scores


def _sinc2(L, t):
    return np.log(np.sinc(L * t) ** 2 + _EPS)


def _jinc2(r, rho):
    x = 2 * np.pi * r * np.maximum(rho, 1e-9)
    return np.log((2 * special.j1(x) / x) ** 2 + _EPS_DEFOCUS)


def _angle_scores_impl(rv, yv, xv, angles, nbin):  # pragma: no cover - compiled by numba
    """:func:`_angle_scores_reference` in compiled loops (same bins, same sums)."""
    n = rv.shape[0]
    out = np.empty(angles.shape[0])
    mean = 0.0
    for j in range(n):
        mean += rv[j]
    mean /= n
    idx = np.empty(n, np.int64)
    for i in range(angles.shape[0]):
        a = np.deg2rad(angles[i])
        ca, sa = np.cos(a), np.sin(a)
        lo = 0
        for j in range(n):
            idx[j] = int(np.rint((xv[j] * ca - yv[j] * sa) * nbin))
            if j == 0 or idx[j] < lo:
                lo = idx[j]
        hi = 0
        for j in range(n):
            idx[j] -= lo
            hi = max(hi, idx[j])
        c = np.zeros(hi + 1)
        sm = np.zeros(hi + 1)
        for j in range(n):
            c[idx[j]] += 1.0
            sm[idx[j]] += rv[j]
        acc = 0.0
        tot = 0.0
        for b in range(hi + 1):
            if c[b] > 0:
                g = sm[b] / c[b]
                acc += c[b] * (g - mean) ** 2
                tot += c[b]
        out[i] = acc / tot
    return out


_NUMBA_ANGLES = None


def _angle_scores(R, fy, fx, sel, angles, nbin):
    """Variance of the projection of ``R`` on the direction of each angle (degrees; numba)."""
    global _NUMBA_ANGLES
    if _NUMBA_ANGLES is None:
        from numba import njit  # lazy: numba costs ~0.5 s to import

        _NUMBA_ANGLES = njit(cache=True, nogil=True)(_angle_scores_impl)
    return _NUMBA_ANGLES(np.ascontiguousarray(R[sel], np.float64), np.ascontiguousarray(fy[sel], np.float64),
                         np.ascontiguousarray(fx[sel], np.float64),
                         np.ascontiguousarray(angles, np.float64), float(nbin))


def _angle_scores_reference(R, fy, fx, sel, angles, nbin):
    """Variance of the projection of ``R`` on the direction of each angle (NumPy reference)."""
    rv = R[sel]
    yv, xv = fy[sel], fx[sel]
    out = np.empty(len(angles))
    for i, a in enumerate(np.deg2rad(angles)):
        t = xv * np.cos(a) - yv * np.sin(a)
        idx = np.round(t * nbin).astype(int)
        idx -= idx.min()
        c = np.bincount(idx)
        s = np.bincount(idx, rv)
        g = s[c > 0] / c[c > 0]
        out[i] = float((c[c > 0] * (g - rv.mean()) ** 2).sum() / c.sum())
    return out


def estimate_motion(y, *, max_length: float | None = None) -> dict:
    """Angle (degrees, mod 180) and length (pixels) of a linear motion blur.

    Parameters
    ----------
    y : array (H, W) or colour
        Blurred image.
    max_length : float, optional
        Longest length searched (default a third of the short side).

    Returns
    -------
    dict with ``angle``, ``length``, ``anisotropy`` (0 = isotropic spectrum, no
    motion; > 0.3 clear stripes) and ``score`` (correlation of the length fit).

    Notes
    -----
    For a segment of length :math:`L` along :math:`d=(\\cos\\theta, -\\sin\\theta)`
    (x, row), :math:`|K(f)| = |\\mathrm{sinc}(L\\,f\\cdot d)|`: the log spectrum has
    zero lines :math:`f\\cdot d = n/L`. Averaging it along these lines (a Radon
    projection) keeps the stripes only for the right angle; the length is then the
    :math:`L` whose :math:`\\log\\mathrm{sinc}^2(Lt)` correlates best with the
    projected profile after removing smooth trends.
    """
    logP, fy, fx, floor = log_spectrum(y)
    H, W = logP.shape
    sel, _rho, rbin, prof, _rmax = _band(logP, fy, fx, floor)
    R = logP - prof[rbin]
    n = max(H, W)
    coarse = np.arange(0.0, 180.0, 1.0)
    sc = _angle_scores(R, fy, fx, sel, coarse, n)
    anis = float((sc.max() - np.median(sc)) / (sc.max() + 1e-30))
    Lmax = max_length or min(H, W) / 3
    rv, yv, xv = R[sel], fy[sel], fx[sel]

    def fit(angle, grid):
        a = np.deg2rad(angle)
        idx = np.round((xv * np.cos(a) - yv * np.sin(a)) * n).astype(int)
        off = idx.min()
        c = np.bincount(idx - off)
        sm = np.bincount(idx - off, rv)
        tt = (np.arange(c.size) + off) / n
        keep = (c > 0) & (np.abs(tt) >= 1.0 / n)
        tk = np.abs(tt[keep])
        w = np.sqrt(c[keep].astype(float))
        Q = _detrend_matrix(tk)
        d = _residual(sm[keep] / c[keep], Q) * w
        d /= np.linalg.norm(d) + 1e-30
        Mm = np.log(np.sinc(np.outer(grid, tk)) ** 2 + _EPS)
        Mm = (Mm - (Mm @ Q) @ Q.T) * w[None, :]
        sc_ = (Mm @ d) / (np.linalg.norm(Mm, axis=1) + 1e-30)
        return sc_

    # candidate angles: the strongest local maxima of the stripe contrast
    loc = np.flatnonzero((sc >= np.roll(sc, 1)) & (sc >= np.roll(sc, -1)))
    cands = coarse[loc[np.argsort(sc[loc])[::-1][:4]]]
    grid = np.arange(2.0, max(Lmax, 2.1), 0.2)  # at least one length, even for 3-px kernels
    best = (-np.inf, 0.0, 0.0)
    for a0 in cands:
        for a in a0 + np.arange(-1.5, 1.51, 0.5):
            f = fit(a, grid)
            i = int(np.argmax(f))
            if f[i] > best[0]:
                best = (float(f[i]), float(a), float(grid[i]))
    _, a1, L1 = best
    fine_grid = np.arange(max(2.0, L1 - 1.0), L1 + 1.0, 0.05)
    best = (-np.inf, a1, L1)
    for a in a1 + np.arange(-0.5, 0.51, 0.1):
        f = fit(a, fine_grid)
        i = int(np.argmax(f))
        if f[i] > best[0]:
            best = (float(f[i]), float(a), float(fine_grid[i]))
    score, angle, L = best
    angle = float(angle % 180.0)
    return {"model": "motion", "angle": angle, "length": float(L), "anisotropy": anis,
            "score": float(score)}


def _radial_profile(y, rmin=2.0, margin=0.5):
    logP, fy, fx, floor = log_spectrum(y)
    H, W = logP.shape
    sel, rho, _rbin, _prof, _rmax = _band(logP, fy, fx, floor, rmin=rmin, margin=margin)
    n = max(H, W)
    # half-bin radial profile
    rb = np.round(rho[sel] * 2 * n).astype(int)
    c = np.bincount(rb)
    s = np.bincount(rb, logP[sel])
    keep = c > 0
    return (np.flatnonzero(keep) / (2 * n)), s[keep] / c[keep], c[keep].astype(float), floor


def estimate_defocus(y, *, max_radius: float | None = None) -> dict:
    """Radius (pixels) of a defocus disk from the zero rings of the spectrum.

    Notes
    -----
    A uniform disk of radius :math:`r` has the OTF
    :math:`2J_1(2\\pi r\\rho)/(2\\pi r\\rho)`, first zero at :math:`\\rho = 0.61/r`.
    The radius is the :math:`r` whose log-squared OTF correlates best with the
    radially averaged log spectrum after removing smooth trends in
    :math:`\\log\\rho`.
    """
    rr, prof, w, _ = _radial_profile(y)
    Q = _detrend_matrix(rr)
    y2 = C.as_gray(y)
    rmax = max_radius or min(y2.shape) / 6
    grid = np.arange(0.5, rmax, 0.05)
    scores = _fit_scale(prof, rr, _jinc2, grid, Q, weights=np.sqrt(w))
    i = int(np.argmax(scores))
    return {"model": "defocus", "radius": float(grid[i]), "score": float(scores[i])}


def estimate_gaussian(y) -> dict:
    """Standard deviation (pixels) of a Gaussian blur from the spectral fall-off.

    Notes
    -----
    :math:`\\log P(\\rho) \\approx a - b\\log\\rho - 4\\pi^2\\sigma^2\\rho^2` above the
    noise floor (natural images have :math:`P \\propto \\rho^{-b}`, :math:`b\\approx 2`);
    a linear least-squares fit gives :math:`\\sigma`.
    """
    rr, prof, w, floor = _radial_profile(y)
    use = prof > floor + 1.0
    if use.sum() < 4:
        use = np.ones_like(prof, bool)
    r, p, ww = rr[use], prof[use], np.sqrt(w[use])
    Amat = np.stack([np.ones_like(r), np.log(r), r * r], axis=1) * ww[:, None]
    coef, *_ = np.linalg.lstsq(Amat, p * ww, rcond=None)
    c = max(-coef[2], 0.0)
    sigma = float(np.sqrt(c) / (2 * np.pi))
    return {"model": "gaussian", "sigma": sigma, "slope": float(coef[1])}


def estimate_motion_defocus(y, *, tol: float = 0.02, max_length: float | None = None,
                            max_radius: float | None = None) -> dict:
    """Joint linear motion + defocus fit; says when the two cannot be told apart.

    Returns
    -------
    dict with ``angle``, ``length``, ``radius``, ``score``, ``motion_only`` and
    ``defocus_only`` scores, the ranges of length and radius whose fit is within
    ``tol`` of the best (``length_range``, ``radius_range``) and ``indistinguishable``
    (True when those ranges trade length for radius: more than 2 px of length or
    1 px of radius fit equally well, or a pure-motion and a pure-defocus explanation
    both lie within ``tol``).
    """
    mot = estimate_motion(y, max_length=max_length)
    logP, fy, fx, floor = log_spectrum(y)
    H, W = logP.shape
    sel, rho, _rbin, _prof, _rmax = _band(logP, fy, fx, floor)
    a = np.deg2rad(mot["angle"])
    t = (fx * np.cos(a) - fy * np.sin(a))[sel]
    rv = rho[sel]
    dv = logP[sel]
    rng = np.random.default_rng(0)
    if dv.size > 12000:
        pick = rng.choice(dv.size, 12000, replace=False)
        t, rv, dv = t[pick], rv[pick], dv[pick]
    Q = _detrend_matrix(rv)
    d = _residual(dv, Q)
    d /= np.linalg.norm(d) + 1e-30
    Lg = np.concatenate([[0.0], np.arange(2.0, max_length or min(H, W) / 3, 0.5)])
    Rg = np.concatenate([[0.0], np.arange(1.0, max_radius or min(H, W) / 6, 0.25)])
    A = np.stack([_residual(_sinc2(L, t), Q) if L > 0 else np.zeros_like(t) for L in Lg])
    Bm = np.stack([_residual(_jinc2(r, rv), Q) if r > 0 else np.zeros_like(t) for r in Rg])
    num = (A @ d)[:, None] + (Bm @ d)[None, :]
    na = (A * A).sum(1)[:, None]
    nb = (Bm * Bm).sum(1)[None, :]
    den = np.sqrt(np.maximum(na + nb + 2 * A @ Bm.T, 1e-30))
    S = num / den
    S[0, 0] = -np.inf
    i, j = np.unravel_index(int(np.argmax(S)), S.shape)
    best = float(S[i, j])
    near = S >= best - tol
    li, rj = np.nonzero(near)
    lr = (float(Lg[li].min()), float(Lg[li].max()))
    rr_ = (float(Rg[rj].min()), float(Rg[rj].max()))
    motion_only = float(S[1:, 0].max())
    defocus_only = float(S[0, 1:].max())
    indist = bool((lr[1] - lr[0] > 2.0) or (rr_[1] - rr_[0] > 1.0)
                  or (motion_only >= best - tol and defocus_only >= best - tol))
    return {"model": "motion+defocus", "angle": mot["angle"], "length": float(Lg[i]),
            "radius": float(Rg[j]), "score": best, "motion_only": motion_only,
            "defocus_only": defocus_only, "length_range": lr, "radius_range": rr_,
            "indistinguishable": indist, "anisotropy": mot["anisotropy"]}
