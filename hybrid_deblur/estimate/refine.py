"""Gated full-resolution refinement of a chosen MAP / learned-map kernel (``method="auto"``).

:func:`~hybrid_deblur.estimate.map_l0.refine_kernel` (Xu & Jia 2010's final steps: the
latent image from the hyper-Laplacian solver at a fixed data weight of 3000, then the
kernel by least squares on gradients) removes the bias that the sparse L0 latent of the
pyramid leaves in a MAP kernel — but that fixed data weight is the low-noise setting.
Measured on auto's MAP / learned-map kernels (session 7, 2 refinement passes):

- Levin 2009 (32 real captures, estimated noise 0.0010-0.0013): kernel similarity to
  the truth rose on all 31 refined captures, Deblurrer's default final step
  32.05 -> 33.12 dB;
- BSD68 / Kodak crops with camera shake, sigma 0.002 and 0: similarity rose (0.976 ->
  0.995 on a 21-px shake), +0.1 to +0.4 dB;
- the same crops at sigma 0.005 / 0.01: similarity fell in 19 of 21 runs (0.99 -> 0.61
  on a 11-px motion ⊛ 4-px disk), up to -8 dB, below the input on 2 of 51 quick runs.

The gate refines only when the noise is low (estimated sigma <= :data:`REFINE_MAX_SIGMA`).
With ``check_noisy=True`` a noisier image is refined too and the result kept when it
explains the image better than the kernel it refines (Gaussian-prior evidence,
:class:`~hybrid_deblur.estimate.evidence.SpectralEvidence`, at the estimated noise level):
off by default, since that kept 1 of those 21 noisy runs (+0.13 dB) and declined all 8
refinements of the quick and held-out suite halves (sigma 0.01) after 3-11 s each. On
large frames the refinement runs on a central crop (the blur is spatially invariant by
assumption).

Examples
--------
>>> import numpy as np
>>> from hybrid_deblur.estimate.refine import gated_refine
>>> k0 = np.full((5, 5), 1 / 25)
>>> k, info = gated_refine(np.random.default_rng(0).random((64, 64)), k0, sigma=0.05)
>>> info["accepted"], k is k0
(False, True)
"""

from __future__ import annotations

import time

import numpy as np

__all__ = ["REFINE_CROP", "REFINE_MAX_SIGMA", "gated_refine"]

#: largest estimated noise level at which the refined kernel is kept without an evidence
#: gain (Levin's captures: 0.0010-0.0013; refinement helped on the suite at sigma 0.002 and
#: hurt at 0.005, estimated 0.005-0.006)
REFINE_MAX_SIGMA = 0.003
#: the refinement runs on a central crop of side max(REFINE_CROP, 4 x kernel size): on three
#: real photos (15-41 px MAP kernels) 256 gave kernels 0.988-0.996 similar to a 512 crop's in
#: 1.7-2.4 s instead of 3.2-8.9 s (Levin's 255-px captures: the whole image either way)
REFINE_CROP = 256


def gated_refine(y, k, *, sigma: float, iterations: int = 2, max_sigma: float = REFINE_MAX_SIGMA,
                 crop: int = REFINE_CROP, gate: bool = True,
                 check_noisy: bool = False) -> tuple[np.ndarray, dict]:
    """Refine ``k`` at full resolution and keep the result only when it is safe.

    Parameters
    ----------
    y : ndarray (H, W)
        Blurred gray image (NumPy).
    k : ndarray (n, n)
        The chosen kernel (odd square, sums to 1).
    sigma : float
        Estimated noise level of ``y``.
    iterations : int
        Refinement passes (:func:`~hybrid_deblur.estimate.map_l0.refine_kernel`).
    max_sigma : float
        Noise level up to which the refined kernel is kept without an evidence gain.
    crop : int
        The refinement runs on a central crop of side ``max(crop, 4 * n)``.
    gate : bool
        False: always keep the refined kernel (the ungated refinement, for measurement).
    check_noisy : bool
        Above ``max_sigma``: refine and keep the result on an evidence gain (True), or
        return ``k`` without refining (False, the default).

    Returns
    -------
    kernel : ndarray
        The refined kernel, or ``k`` unchanged when the gate declines.
    info : dict
        ``accepted``, ``reason``, ``sigma``, ``evidence_gain`` (refined minus unrefined,
        per frequency; None when not computed), ``seconds``. ``kernel is k`` when declined.
    """
    from .candidates import center_crop
    from .map_l0 import refine_kernel

    if not np.isfinite(sigma) or sigma < 0:
        raise ValueError(f"sigma={sigma!r} is not accepted; use a finite noise level >= 0")
    if isinstance(iterations, bool) or int(iterations) < 1:
        raise ValueError(f"iterations={iterations!r} is not accepted; use a count >= 1")
    t0 = time.perf_counter()
    if gate and not check_noisy and sigma > max_sigma:
        return k, {"accepted": False, "reason": f"estimated noise {sigma:.4f} > {max_sigma}: not refined",
                   "sigma": float(sigma), "evidence_gain": None, "seconds": round(time.perf_counter() - t0, 3)}
    g = np.asarray(y, dtype=np.float64)
    k = np.asarray(k, dtype=np.float64)
    n = max(k.shape)
    c = center_crop(g, max(int(crop), 4 * n))
    kr = refine_kernel(c, k, iterations=int(iterations))
    gain = None
    if not gate:
        ok, why = True, "ungated"
    elif sigma <= max_sigma:
        ok, why = True, f"estimated noise {sigma:.4f} <= {max_sigma}"
    else:
        from .evidence import SpectralEvidence

        ev = SpectralEvidence(g, sigma=sigma, max_kernel=n)
        gain = float(ev.score(kr) - ev.score(k)) if n <= ev.tile else -np.inf
        ok = gain > 0
        why = f"evidence {'gain' if ok else 'loss'} {gain:+.4f} at noise {sigma:.4f} > {max_sigma}"
    return (kr if ok else k), {"accepted": bool(ok), "reason": why, "sigma": float(sigma),
                               "evidence_gain": gain, "seconds": round(time.perf_counter() - t0, 3)}
