"""Training Zero-DCE on our low-light synthesis (no reference images are used).

Low-light synthesis (:func:`low_light`), in the physical order of
:func:`hybrid_deblur.physics.degrade`: a sharp linear scene is blurred (``valid``, a kernel
from the training generators), exposed with ``photons`` expected photo-electrons at
intensity 1 on a sensor whose full well is ``full_well`` (so the recorded brightness is
``photons / full_well``), Poisson shot noise, Gaussian read noise of ``read_noise``
electrons, saturation at the full well, sRGB display encoding and 8-bit quantisation.
``photons = full_well`` is a normal exposure; ``photons = 10`` with a 1000 e⁻ well is
1 % of it (about -6.6 EV) with an SNR of ~3 at the brightest pixels.

:func:`train_zero_dce` draws fresh low-light images every step (photons log-uniform in
``photons``) and minimises :func:`hybrid_deblur.learned.zero_dce.zero_dce_losses` with the
reference code's optimiser (Adam 1e-4, weight decay 1e-4, gradient clipping 0.1).

Examples
--------
>>> import torch
>>> from hybrid_deblur.learned.zero_dce_train import low_light
>>> x = torch.full((1, 3, 40, 40), 0.5, dtype=torch.float64)
>>> y = low_light(x, torch.ones(5, 5, dtype=torch.float64) / 25, photons=100, seed=0)
>>> tuple(y.shape), 0.2 < float(y.mean()) < 0.3     # 10 % exposure, display-encoded
((1, 3, 36, 36), True)
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable, Sequence
from typing import Any

import numpy as np
import torch

from ..io import linear_to_srgb
from ..physics.degrade import degrade
from ..physics.noise import quantize
from .zero_dce import ZeroDCE, zero_dce_losses

__all__ = ["FULL_WELL", "READ_NOISE", "low_light", "train_zero_dce"]

#: full-well capacity (electrons) that maps to 1.0 in the synthesis
FULL_WELL = 1000.0
#: read noise (electrons)
READ_NOISE = 2.0


def low_light(x: Any, psf: Any, *, photons: float, full_well: float = FULL_WELL,
              read_noise: float = READ_NOISE, bits: int | None = 8, seed: Any = None) -> Any:
    """A blurred low-light capture of the linear scene ``x``, display-encoded (sRGB).

    Parameters
    ----------
    x : array (NumPy or torch), shape (..., H, W)
        Sharp scene in linear light, [0, 1].
    psf : array
        Blur kernel (``valid`` blur: the output is smaller by ``k - 1``).
    photons : float
        Expected photo-electrons at intensity 1 (peak).
    full_well, read_noise : float
        Sensor full well (the value that maps to 1.0) and read noise, in electrons.
    bits : int or None
        Quantisation of the display-encoded output (8: a JPEG/PNG); None keeps floats.
    seed : int or numpy.random.Generator, optional

    Returns
    -------
    array
        Display-encoded observation in [0, 1], same library as ``x``.
    """
    if not photons > 0 or not full_well > 0 or read_noise < 0:
        raise ValueError(f"photons and full_well must be > 0 and read_noise >= 0; got photons="
                         f"{photons!r}, full_well={full_well!r}, read_noise={read_noise!r}")
    scale = float(photons) / float(full_well)
    noise = {"poisson": float(full_well), "gaussian": float(read_noise) / float(full_well),
             "saturation": 1.0}
    y, _ = degrade(x * scale, psf, boundary="valid", noise=noise, seed=seed)
    y = linear_to_srgb(y.clamp(min=0) if torch.is_tensor(y) else np.clip(y, 0, None))
    return quantize(y, bits) if bits else y


def _batch(images: Sequence[torch.Tensor], rng: np.random.Generator, batch: int, patch: int,
           photons: tuple, device) -> torch.Tensor:
    from .data import sample_kernel

    k = sample_kernel(rng, max_size=15, common_max=15, p_large=0.0)[0]
    kk = k.shape[-1]
    side = patch + kk - 1
    crops = []
    for _ in range(batch):
        img = images[int(rng.integers(0, len(images)))]
        _, h, w = img.shape
        i0, j0 = int(rng.integers(0, h - side + 1)), int(rng.integers(0, w - side + 1))
        c = img[:, i0:i0 + side, j0:j0 + side]
        if rng.random() < 0.5:
            c = c.flip(-1)
        crops.append(c)
    x = torch.stack(crops).to(device=device, dtype=torch.float32)
    lo, hi = math.log(photons[0]), math.log(photons[1])
    ph = float(math.exp(rng.uniform(lo, hi)))
    gen = np.random.default_rng(int(rng.integers(0, 2 ** 31 - 1)))
    return low_light(x, torch.as_tensor(k, dtype=torch.float32, device=device), photons=ph,
                     seed=gen).float()


def train_zero_dce(images: Sequence[Any], *, steps: int = 2000, batch_size: int = 8,
                   patch: int = 128, photons: Sequence[float] = (5.0, 300.0), lr: float = 1e-4,
                   weight_decay: float = 1e-4, clip: float = 0.1, seed: int = 0,
                   device: Any = "cpu", max_seconds: float | None = None,
                   log_every: int = 50, callback: Callable[[dict], None] | None = None,
                   model: ZeroDCE | None = None) -> tuple[ZeroDCE, list[dict]]:
    """Train a :class:`ZeroDCE` network on low-light syntheses of ``images``.

    Parameters
    ----------
    images : sequence of arrays (3, H, W)
        Sharp RGB scenes in linear light (e.g. CBSD432, a training-only set), larger than
        ``patch + 14`` on each side.
    steps, batch_size, patch : int
    photons : (float, float)
        Range of the peak photon count (log-uniform), with :data:`FULL_WELL` = 1000 e⁻.
    lr, weight_decay, clip : float
        Adam settings of the reference code.
    seed : int
    device : str or torch.device
    max_seconds : float, optional
        Wall-clock budget; training stops early (the history says at which step).
    log_every : int
    callback : callable, optional
        Called with each logged entry ``{"step", "total", "spa", "exp", "col", "tv", "seconds"}``.
    model : ZeroDCE, optional
        Start from this network (default: a new one, seeded).

    Returns
    -------
    (ZeroDCE, list of dict)
        The trained network (eval mode, on ``device``) and the loss history.
    """
    if int(steps) < 1:
        raise ValueError(f"steps must be a positive int, got {steps!r}")
    torch.manual_seed(int(seed))
    dev = torch.device(device)
    imgs = [torch.as_tensor(np.asarray(a, dtype=np.float32)) for a in images]
    if not imgs or any(a.ndim != 3 or a.shape[0] != 3 for a in imgs):
        raise ValueError("images must be a non-empty sequence of RGB arrays of shape (3, H, W)")
    net = (model or ZeroDCE()).to(dev).train()
    opt = torch.optim.Adam(net.parameters(), lr=lr, weight_decay=weight_decay)
    rng = np.random.default_rng(int(seed))
    hist, t0 = [], time.perf_counter()
    for step in range(int(steps)):
        low = _batch(imgs, rng, int(batch_size), int(patch), tuple(photons), dev)
        out, alpha = net(low)
        loss = zero_dce_losses(out, low, alpha)
        opt.zero_grad(set_to_none=True)
        loss["total"].backward()
        torch.nn.utils.clip_grad_norm_(net.parameters(), clip)
        opt.step()
        done = max_seconds is not None and time.perf_counter() - t0 > max_seconds
        if step % log_every == 0 or step == steps - 1 or done:
            rec = {"step": step, **{k: float(v.detach()) for k, v in loss.items()},
                   "seconds": time.perf_counter() - t0}
            hist.append(rec)
            if callback is not None:
                callback(rec)
        if done:
            break
    return net.eval(), hist
