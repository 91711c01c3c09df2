"""Physical plausibility of a blind restoration: the no-harm check after the final step.

A blind kernel can be wrong in a way no criterion on the blurred image sees (the candidates'
evidence scores are close), and a wrong kernel makes every solver ring: on a 128² Kodak crop
blurred by a 15-px shake, a 23-px estimate (similarity 0.69 to the truth) turned 22.5 dB into
14.7 dB with ``pnp-drunet``, 15.5 with ``hqs-hl``, 17.4 with Wiener. The ringing shows in one
place no image can go: **below zero**. Intensities in linear light are non-negative, so a
restoration whose negative part carries a sizeable share of the image's flux is physically
impossible, whatever the kernel; the true-kernel restorations of the same crops stay above
zero. :func:`negative_flux` measures that share; ``Deblurrer(max_negative_flux=NEGATIVE_FLUX_LIMIT)``
returns its input when a restoration with an *estimated* kernel exceeds it
(``report["decision"] == "implausible"``; CLI ``deblur --blind --linear-guard``).

It is **off by default** because real photos break the premise: on the 30 real blurred photos
of ``real_blur_estimated_kernels`` (``benchmarks/real_blind.py``, gray, sRGB decoded to linear),
restorations with the reference kernels that visibly sharpen them put up to 1-4 % of the flux
below zero (``hanzi`` 1.1e-2, tone curves, clipping, JPEG), and with the guard on, 5 of 36 real
photos had their estimate rejected — ``hanzi``'s among them, a kernel with similarity 0.95 to the
reference whose result is clearly sharper than the input. No statistic of the negative part
(flux, 0.1 % quantile, share of pixels) separated those from the synthetic catastrophes. Use it
on data that really is linear (microscopy, astronomy, raw captures).

Measured (session 7, ``pnp-drunet`` final step, noise floor 0.01): Levin's 32 real captures with
their ``auto`` kernels at most 1.1e-5 (true kernels 2.7e-6); the no-harm matrix's 128² crops with
their true kernels 0; with their estimated kernels, the five runs worse than the input 5.7e-3
(-7.75 dB), 1.2e-3 (-0.74), 2.6e-4, 7.4e-5 and 0, the gains at most 1.9e-4. The limit 1e-3 sits
90x above anything a correct kernel produced: it catches the catastrophes, not every harm.

Examples
--------
>>> import numpy as np
>>> y = np.full((8, 8), 0.5)
>>> negative_flux(y, y)
0.0
>>> x = y.copy(); x[:2] = -0.5          # a quarter of the pixels at -0.5
>>> round(negative_flux(x, y), 3)
0.25
"""

from __future__ import annotations

from typing import Any

import numpy as np

__all__ = ["negative_flux", "NEGATIVE_FLUX_LIMIT"]

#: largest share of the input's mean intensity that a blind restoration may carry below zero
#: (below ``min(0, min(y)) - 3 sigma``) before the Deblurrer returns the input instead
NEGATIVE_FLUX_LIMIT = 1e-3


def negative_flux(x: Any, y: Any, sigma: float = 0.0) -> float:
    """Share of ``y``'s flux that the restoration ``x`` puts below the physical floor.

    The floor is ``min(0, min(y)) - 3 sigma`` (an input with an offset below zero keeps it;
    noise of std ``sigma`` may dip below zero by chance). Returns
    ``mean(max(floor - x, 0)) / mean(|y|)``: 0 for any restoration that stays above it.

    Parameters
    ----------
    x : array
        Restored image (any shape; NumPy, CuPy or torch).
    y : array
        The blurred input it was restored from.
    sigma : float
        Noise std of ``y`` on its own scale (>= 0).

    Returns
    -------
    float
    """
    from ..backend import to_numpy

    xa = np.asarray(to_numpy(x), dtype=np.float64)
    ya = np.asarray(to_numpy(y), dtype=np.float64)
    if xa.size == 0 or ya.size == 0:
        raise ValueError(f"x and y must be non-empty images, got shapes {xa.shape} and {ya.shape}")
    s = float(np.max(sigma)) if np.size(sigma) else 0.0
    if not np.isfinite(s) or s < 0:
        raise ValueError(f"sigma must be a finite noise std >= 0, got {sigma!r}")
    scale = float(np.mean(np.abs(ya)))
    if not np.isfinite(scale) or not np.all(np.isfinite(xa)):
        raise ValueError("x and y must be finite (no NaN/inf)")
    if scale == 0.0:
        return 0.0
    floor = min(0.0, float(ya.min())) - 3.0 * s
    return float(np.mean(np.maximum(floor - xa, 0.0)) / scale)
