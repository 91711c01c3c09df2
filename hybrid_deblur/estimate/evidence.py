"""No-reference kernel score: the Gaussian-prior evidence ``log p(y | k)`` of a blurred image.

With a stationary Gaussian image prior whose power spectrum is :math:`A|\\omega|^{-\\beta}`
(natural images: :math:`\\beta \\approx 2`) and white noise :math:`\\sigma^2`, the
blurred image's Fourier coefficients are independent with variance

.. math:: M_k(\\omega) = A\\,|K(\\omega)|^2\\,|\\omega|^{-\\beta} + \\sigma^2,

(times a Gaussian roll-off :math:`e^{-4\\pi^2 r^2|\\omega|^2}`, :math:`r \\le 1` px, the
intrinsic MTF of a "sharp" photo, so that the softness every photo has is not taken
for blur), so, up to constants, the log evidence per frequency is

.. math:: E(k) = \\max_{A, \\beta, r}\\; -\\frac1N\\sum_\\omega \\Big[\\frac{P(\\omega)}{M_k(\\omega)}
          + \\log M_k(\\omega)\\Big],

with :math:`P` the periodogram of ``y``. This is MAP over the kernel with the latent
image marginalised (Levin et al., CVPR 2009/2011), which — unlike joint MAP over
``(x, k)`` — does not prefer the delta kernel: a kernel too large cannot explain the
high frequencies that ``y`` holds above the noise, a kernel too small (the identity on
a blurred image) predicts more high frequencies than ``y`` has. Only observed pixels
enter: ``P`` is the mean periodogram of the periodic components (Moisan) of tiles of
``y``, so the frame adds no cross. The score depends on ``|K|`` only (``k`` and its
180° flip tie); :mod:`~hybrid_deblur.estimate.select` breaks such ties on restorations.

Examples
--------
>>> import numpy as np
>>> from scipy.signal import fftconvolve
>>> from hybrid_deblur.psf import disk
>>> from hybrid_deblur.estimate.evidence import SpectralEvidence
>>> rng = np.random.default_rng(0)
>>> x = np.cumsum(np.cumsum(rng.standard_normal((300, 300)), 0), 1)
>>> x = (x - x.min()) / np.ptp(x)
>>> y = fftconvolve(x, disk(4), mode="valid") + 0.01 * rng.standard_normal((292, 292))
>>> ev = SpectralEvidence(y, tile=128)
>>> ev.score(disk(4)) > max(ev.score(np.ones((1, 1))), ev.score(disk(7)), ev.score(disk(2)))
True
"""

from __future__ import annotations

import numpy as np

from .. import backend as B
from ..psf.otf import sample_frequencies

__all__ = ["SpectralEvidence", "tile_corners"]

BETAS = (1.6, 2.0, 2.4)
#: smallest noise level the evidence assumes
SIGMA_FLOOR = 1e-3
#: Gaussian roll-off (pixels) of the image prior: the intrinsic MTF of a "sharp" photo
ROLL = (0.0, 0.4, 0.7, 1.0)
#: tile side for kernels over 64 px on images with a short side >= 512 (256 otherwise): 256
#: since session 7 (was 512): on the GoPro frame and the 30 real blurred photos of
#: real_blur_estimated_kernels ``estimate_kernel(method="auto")`` returned the same kernel
#: and decision for all 31, GoPro Flower (0.92 MP, 1 thread) 4.53 -> 4.06 s/MP side by side
LARGE_KERNEL_TILE = 256


def _profile_impl(K2, F, P, w, wP, s2, t, warm):  # pragma: no cover - compiled by numba
    """Fused :meth:`SpectralEvidence._profile_reference` over ``s = K2 * F`` (one pass per Newton step)."""
    n = K2.shape[0]
    if not warm:
        a = 0.0
        b = 0.0
        for i in range(n):
            a += w[i] * P[i]
            b += w[i] * K2[i] * F[i]
        t = np.log(max(a - s2, 1e-8) / max(b, 1e-30))
    for _ in range(30):
        e = np.exp(t)
        g = 0.0
        h2 = 0.0
        for i in range(n):
            As = e * (K2[i] * F[i])
            inv = 1.0 / (As + s2)
            r = As * inv
            q = P[i] * inv
            g += w[i] * r * (q - 1.0)
            h2 += w[i] * r * r * (2.0 * q - 1.0)
        h = g - h2
        if h < 0:
            step = -g / h
        else:
            step = 1.0 if g > 0 else (-1.0 if g < 0 else 0.0)
        step = min(max(step, -2.0), 2.0)
        t += step
        if abs(step) < 1e-3:
            break
    e = np.exp(t)
    v = 0.0
    for i in range(n):
        M = e * (K2[i] * F[i]) + s2
        v += wP[i] / M + w[i] * np.log(M)
    return -v, t


_NUMBA_PROFILE = None


def _numba_profile():
    global _NUMBA_PROFILE
    if _NUMBA_PROFILE is None:
        from numba import njit  # lazy: numba costs ~0.5 s to import

        _NUMBA_PROFILE = njit(cache=True, nogil=True, fastmath=False)(_profile_impl)
    return _NUMBA_PROFILE


def tile_corners(shape, tile: int, n_max: int = 36) -> list[tuple[int, int]]:
    """Top-left corners of up to ``n_max`` tiles of side ``tile`` (50 % overlap) inside ``shape``."""
    H, W = (int(v) for v in shape)
    t = int(tile)
    if min(H, W) < t:
        raise ValueError(f"image of shape {(H, W)} is smaller than tile={t}")
    ny = max(1, int(np.ceil((H - t) / (t / 2))) + 1)
    nx = max(1, int(np.ceil((W - t) / (t / 2))) + 1)
    while ny * nx > n_max:
        if ny >= nx:
            ny -= 1
        else:
            nx -= 1
    ys = np.linspace(0, H - t, ny).round().astype(int)
    xs = np.linspace(0, W - t, nx).round().astype(int)
    return [(int(a), int(b)) for a in ys for b in xs]


class SpectralEvidence:
    """Scores kernels for one blurred gray image (NumPy (H, W)), see the module docstring.

    Parameters
    ----------
    y : ndarray (H, W)
        Blurred gray image, linear light.
    tile : int, optional
        Side of the square tiles whose periodograms are averaged (default: 256, or
        :data:`LARGE_KERNEL_TILE` when ``max_kernel > 64`` and the image allows; never more
        than the short side).
    sigma : float, optional
        Noise standard deviation (default :func:`hybrid_deblur.solvers.estimate_noise`,
        floored at 1e-3).
    max_kernel : int
        Largest kernel that will be scored (chooses the tile size).
    n_tiles : int
        At most this many tiles (50 % overlap) are averaged.
    coarse : bool
        Serve ``score(..., fast=True)`` from a half-size tile spectrum when the kernels
        fit (4x fewer frequencies, more tiles averaged).
    """

    def __init__(self, y, *, tile: int | None = None, sigma: float | None = None, max_kernel: int = 65,
                 n_tiles: int = 36, coarse: bool = True):
        from .parametric import periodic_component

        y = np.asarray(y, dtype=np.float64)
        if y.ndim != 2:
            raise ValueError(f"y has shape {y.shape}; accepted: a gray image (H, W)")
        short = min(y.shape)
        if tile is None:
            tile = LARGE_KERNEL_TILE if (max_kernel > 64 and short >= 512) else 256
        tile = int(min(tile, short))
        if tile < 32:
            raise ValueError(f"y of shape {y.shape} is too small; accepted: images of at least 32 x 32")
        if sigma is None:
            from ..solvers import estimate_noise

            sigma = float(np.asarray(estimate_noise(y)).ravel()[0])
        self.sigma = max(float(sigma), SIGMA_FLOOR)
        nf = tile // 2 + 1
        P = np.zeros((tile, nf))
        corners = tile_corners(y.shape, tile, n_tiles)
        for i, j in corners:
            t = y[i:i + tile, j:j + tile]
            p = periodic_component(t - t.mean())
            P += np.abs(B.rfftn(p)) ** 2
        P /= len(corners) * tile * tile
        self.tile, self.n_tiles = tile, len(corners)
        fy = sample_frequencies(tile)[:, None]
        fx = sample_frequencies(tile, real=True)[None, :]
        w2 = fy ** 2 + fx ** 2
        # half spectrum (Hermitian symmetry): interior columns stand for two frequencies
        wt = np.full(w2.shape, 2.0)
        wt[:, 0] = 1.0
        if tile % 2 == 0:
            wt[:, -1] = 1.0
        self.mask = w2 > 0
        self.P = P[self.mask]
        self.wt = wt[self.mask] / wt[self.mask].sum()
        self._wP = self.wt * self.P
        w = w2[self.mask]
        self.S = {b: w ** (-b / 2) for b in BETAS}
        self.R = {r: np.exp(-4 * np.pi ** 2 * r * r * w) for r in ROLL}
        #: prior shapes |w|^-beta x roll-off per (beta, r), for the fused profile
        self.F = {(b, r): self.R[r] * self.S[b] for b in BETAS for r in ROLL}
        self._t0: dict = {}
        # fast (search) scores on a coarser spectrum: half the tile, 4x fewer frequencies
        self._coarse = None
        if coarse and tile >= 256 and max_kernel <= tile // 4:
            self._coarse = SpectralEvidence(y, tile=tile // 2, sigma=self.sigma, max_kernel=max_kernel,
                                            n_tiles=4 * n_tiles, coarse=False)

    def _otf2(self, k: np.ndarray) -> np.ndarray:
        from ..psf import psf2otf

        k = np.asarray(k, dtype=np.float64)
        t = self.tile
        if max(k.shape) > t:
            raise ValueError(f"kernel of shape {k.shape} exceeds the evidence tile {t}")
        return (np.abs(psf2otf(k / k.sum(), (t, t))) ** 2)[self.mask]

    def _profile_fused(self, K2: np.ndarray, key) -> float:
        """:meth:`_profile_reference` of ``s = K2 * F[key]`` in one compiled pass per Newton step."""
        t0 = self._t0.get(key)
        v, t = _numba_profile()(K2, self.F[key], self.P, self.wt, self._wP, self.sigma ** 2,
                                0.0 if t0 is None else float(t0), t0 is not None)
        self._t0[key] = t
        return float(v)

    def _profile_reference(self, s: np.ndarray, key=None) -> float:
        """max over log A of -mean(P/M + log M), M = A s + sigma^2 (Newton on log A).

        The Newton iterations need only the first two derivatives (no logarithm); the
        value is evaluated once, at the optimum (~3 iterations from a warm start).
        """
        P, s2, w = self.P, self.sigma ** 2, self.wt
        if key is not None and key in self._t0:
            t = self._t0[key]  # warm start from the previous kernel's optimum
        else:  # match the total power above the noise
            excess = max(float(w @ P - s2), 1e-8)
            t = np.log(excess / max(float(w @ s), 1e-30))
        for _ in range(30):
            As = np.exp(t) * s
            inv = 1.0 / (As + s2)
            r = As * inv
            q = P * inv
            g = float(w @ (r * (q - 1)))                # d val / d t
            h = g - float(w @ (r * r * (2 * q - 1)))    # d2 val / d t2
            step = -g / h if h < 0 else np.sign(g) * 1.0
            step = float(np.clip(step, -2.0, 2.0))
            t += step
            if abs(step) < 1e-3:
                break
        if key is not None:
            self._t0[key] = t
        M = np.exp(t) * s + s2
        return -float(self._wP @ (1.0 / M) + w @ np.log(M))

    def otf2(self, k, *, fast: bool = False) -> np.ndarray:
        """|K|^2 of ``k`` on the (fast or full) frequency grid, for :meth:`score_otf2`.

        Products of these are the |K|^2 of convolved kernels (e.g. motion ⊛ defocus).
        """
        if fast and self._coarse is not None:
            return self._coarse.otf2(k)
        return self._otf2(k)

    def score_otf2(self, K2: np.ndarray, *, fast: bool = False) -> float:
        """:meth:`score` from a precomputed |K|^2 (:meth:`otf2` with the same ``fast``)."""
        if fast and self._coarse is not None:
            return self._coarse.score_otf2(K2, fast=True)
        K2 = np.ascontiguousarray(K2, dtype=np.float64)
        keys = [(2.0, r) for r in ROLL[::2]] if fast else list(self.F)
        return max(self._profile_fused(K2, key) for key in keys)

    def score_noise_free(self, k, factors=(0.5, 0.7, 1.0)) -> float:
        """:meth:`score` maximised over the noise level too (``factors`` times ``sigma``).

        The noise estimate counts fine texture as noise (Kodak kodim08, unblurred,
        sigma 0.01: estimated 0.017); with the noise floor too high a small blur explains
        the spectrum better than "no blur". Comparing a kernel with the identity at their
        own best noise level removes that bias from the no-harm decision. The noise
        level never goes below the class's floor (1e-3): on Levin's float captures
        (sigma ~0.001) half the estimate let the identity win against good MAP kernels.
        """
        K2 = self.otf2(k)
        s0, t0 = self.sigma, dict(self._t0)
        best = -np.inf
        try:
            for f in factors:
                self.sigma = max(s0 * float(f), SIGMA_FLOOR)
                self._t0 = {}
                best = max(best, self.score_otf2(K2))
        finally:
            self.sigma, self._t0 = s0, t0
        return best

    def score(self, k, *, fast: bool = False) -> float:
        """Log evidence per frequency of kernel ``k`` (higher is better).

        ``fast=True`` fixes :math:`\\beta = 2` and uses half the roll-offs (6x faster;
        for searches over parameters).
        """
        return self.score_otf2(self.otf2(k, fast=fast), fast=fast)
