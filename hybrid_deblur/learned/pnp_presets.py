"""Presets of :func:`~hybrid_deblur.learned.pnp.pnp_drunet`: ``pnp-drunet-fast`` and ``pnp-drunet-lite``.

Both are the same DPIR run on the engine's HQS (no loop written here), with other settings:

* :func:`pnp_drunet_fast`: the shipped denoiser, :data:`FAST_ITERATIONS` iterations;
* :func:`pnp_drunet_lite`: a 4x smaller denoiser (:data:`LITE_STEM`, DRUNet widths
  (16, 32, 64, 96), 0.43 M parameters, 17 GFLOP/MP per pass instead of 68), :data:`LITE_ITERATIONS`
  iterations at :data:`LITE_LAMBDA`, :data:`LITE_DATA_ITERS` CG iterations per data step, and
  the denoiser in bfloat16 where the CPU computes it natively (:data:`LITE_PRECISIONS`). It is
  the method of issue 17's speed target (<= 1 s per megapixel, gray, one thread); the quality
  default stays ``pnp-drunet`` (README, "Hybrid learned models").

Examples
--------
>>> import numpy as np
>>> from hybrid_deblur.learned.denoiser import DRUNet
>>> y = np.random.default_rng(0).random((40, 40))
>>> x, info = pnp_drunet_lite(y, np.ones((3, 3)) / 9, sigma=0.01, model=DRUNet(1, (8, 16)),
...                           return_info=True)
>>> x.shape, len(info["sigma_schedule"])
((40, 40), 3)
"""

from __future__ import annotations

from typing import Any

import numpy as np
import torch

__all__ = ["FAST_ITERATIONS", "FAST_LAMBDA", "pnp_drunet_fast", "LITE_STEM", "LITE_ITERATIONS",
           "LITE_LAMBDA", "LITE_DATA_ITERS", "LITE_LOW_SIGMA", "LITE_LOW_SIGMA_ITERATIONS",
           "LITE_LOW_SIGMA_DATA_ITERS", "LITE_PRECISIONS", "get_lite_denoiser",
           "Bfloat16Denoiser", "pnp_drunet_lite"]

#: DPIR iterations of :func:`pnp_drunet_fast`
FAST_ITERATIONS = 4
#: λ of :func:`pnp_drunet_fast` on gray images. Chosen on held-out data (the trainer's held-out
#: train400/cbsd432 files, fresh motion kernels and disks, σ 0.01-0.03; never the test images):
#: with 4 iterations λ 0.18 was +0.18 / +0.18 dB over 0.23 on two disjoint sets (32 and 72
#: cases), -0.03 / +0.03 dB against the 6-iteration default. RGB keeps 0.23 (on held-out colour
#: crops through opponent planes a lower λ lost 0.02-0.1 dB).
FAST_LAMBDA = 0.18


def pnp_drunet_fast(y: Any, psf: Any, **options):
    """:func:`pnp_drunet` with :data:`FAST_ITERATIONS` (4) DPIR iterations instead of 6.

    Two thirds of the denoiser forwards (they are ~90 % of the run time on a CPU), and on gray
    images λ = :data:`FAST_LAMBDA` (0.18). ``options`` are those of :func:`pnp_drunet`
    (``num_iter`` and ``lam`` included, which override the preset).

    Examples
    --------
    >>> import numpy as np
    >>> from hybrid_deblur.learned.denoiser import DRUNet
    >>> y = np.random.default_rng(0).random((40, 40))
    >>> x, info = pnp_drunet_fast(y, np.ones((3, 3)) / 9, sigma=0.01, model=DRUNet(1, (8, 16)),
    ...                           return_info=True)
    >>> x.shape, len(info["sigma_schedule"])
    ((40, 40), 4)
    """
    from .pnp import pnp_drunet

    options.setdefault("num_iter", FAST_ITERATIONS)
    shape = tuple(getattr(y, "shape", np.shape(y)))
    if not (len(shape) >= 3 and shape[-3] == 3):
        options.setdefault("lam", FAST_LAMBDA)
    return pnp_drunet(y, psf, **options)


#: shipped weight stem of the lite denoiser
LITE_STEM = "drunet_lite_gray"
#: DPIR iterations of :func:`pnp_drunet_lite`
LITE_ITERATIONS = 3
#: λ of :func:`pnp_drunet_lite`
LITE_LAMBDA = 0.135
#: CG iterations per data step of :func:`pnp_drunet_lite` (pnp-drunet: the engine's PNP_DATA_ITERS)
LITE_DATA_ITERS = 3
#: below this noise level (given, or estimated from ``y``) :func:`pnp_drunet_lite` runs
#: :data:`LITE_LOW_SIGMA_ITERATIONS` iterations with :data:`LITE_LOW_SIGMA_DATA_ITERS` CG iterations:
#: with little noise the data steps are nearly least-squares deconvolutions and 3 CG iterations
#: leave them far from their minimiser. Held-out (benchmarks/pnp_lite_tune.py --images 12
#: --sigmas 0.002,0.005): 3 iterations / 3 CG 37.07 dB, below hqs-hl (37.30); 4 / 6 37.90
#: (pnp-drunet 37.83); at σ 0.01 / 0.03 the fast setting is above hqs-hl (30.86 vs 29.84).
LITE_LOW_SIGMA = 0.008
LITE_LOW_SIGMA_ITERATIONS = 4
LITE_LOW_SIGMA_DATA_ITERS = 6
#: ``denoiser_precision`` of :func:`pnp_drunet_lite`: ``"auto"`` = bfloat16 on a CPU with
#: native bf16 (AVX-512 BF16 / AMX; elsewhere it is emulated and several times slower), else float32
LITE_PRECISIONS = ("auto", "float32", "bfloat16")


def get_lite_denoiser(weights: Any = None) -> torch.nn.Module:
    """The shipped lite denoiser (:data:`LITE_STEM`), or ``weights`` (cached, sha256-checked)."""
    import os

    from .inference import _load_cached
    from .weights import WeightsError, shipped_weights

    if weights is None:
        have = shipped_weights()
        if LITE_STEM not in have:
            raise WeightsError(f"no shipped lite denoiser ({LITE_STEM}.pt is not in "
                               "hybrid_deblur/learned/weights); pass weights=RUN/drunet_gray.pt")
        weights = have[LITE_STEM]
    p = os.fspath(weights)
    return _load_cached(p, os.path.getmtime(p) if os.path.exists(p) else 0.0)


class Bfloat16Denoiser(torch.nn.Module):
    """A denoiser ``net(x, sigma)`` run under bfloat16 autocast; input and output stay float32.

    :class:`~hybrid_deblur.learned.denoiser.DRUNet` adds its (bf16) residual to the float32
    input, so only the residual is rounded.

    Examples
    --------
    >>> from hybrid_deblur.learned.denoiser import DRUNet
    >>> net = DRUNet(1, (8, 16)).eval()
    >>> x = torch.rand(1, 1, 16, 16)
    >>> Bfloat16Denoiser(net)(x, 0.1).dtype
    torch.float32
    """

    def __init__(self, net: torch.nn.Module):
        super().__init__()
        self.net = net
        self.channels = int(getattr(net, "channels", 1))

    def forward(self, x, sigma):
        with torch.autocast(x.device.type, dtype=torch.bfloat16):
            return self.net(x, sigma)


def _bf16_native(device: Any) -> bool:
    from .denoiser_data import cpu_has_bf16

    return torch.device(device or "cpu").type == "cpu" and cpu_has_bf16()


def pnp_drunet_lite(y: Any, psf: Any, *, weights: Any = None, model: Any = None,
                    denoiser_precision: str = "auto", **options):
    """Fast non-blind deblurring: :func:`~hybrid_deblur.learned.pnp.pnp_drunet` with the lite preset.

    Parameters
    ----------
    y, psf
        As for :func:`~hybrid_deblur.learned.pnp.pnp_drunet` (gray, RGB through opponent planes).
    weights : path, optional
        Lite denoiser weights instead of the shipped :data:`LITE_STEM`.
    model : torch.nn.Module, optional
        A denoiser ``model(x, sigma)`` instead of weights.
    denoiser_precision : {"auto", "float32", "bfloat16"}
        Precision of the denoiser (:data:`LITE_PRECISIONS`). ``"float32"`` runs it on
        onnxruntime like pnp-drunet (``engine``); ``"bfloat16"`` on torch under autocast.
    **options
        Those of :func:`~hybrid_deblur.learned.pnp.pnp_drunet`; ``num_iter`` (default
        :data:`LITE_ITERATIONS`, or :data:`LITE_LOW_SIGMA_ITERATIONS` below
        :data:`LITE_LOW_SIGMA`), ``lam`` (:data:`LITE_LAMBDA`) and ``data_iters``
        (:data:`LITE_DATA_ITERS` / :data:`LITE_LOW_SIGMA_DATA_ITERS`) override the preset.

    Returns
    -------
    x : same kind as ``y`` (and ``info`` with ``return_info``)
    """
    from .pnp import pnp_drunet

    if denoiser_precision not in LITE_PRECISIONS:
        raise ValueError(f"denoiser_precision must be one of {LITE_PRECISIONS}, got {denoiser_precision!r}")
    if model is None:
        model = get_lite_denoiser(weights)
    elif weights is not None:
        raise ValueError("give weights or model, not both")
    if not callable(model):
        raise TypeError(f"model must be a denoiser module model(x, sigma), got {type(model).__name__}")
    bf16 = denoiser_precision == "bfloat16" or (
        denoiser_precision == "auto" and _bf16_native(options.get("device")))
    if bf16 and isinstance(model, torch.nn.Module) and not isinstance(model, Bfloat16Denoiser):
        model = Bfloat16Denoiser(model)
    if "num_iter" not in options and "data_iters" not in options and _noise(y, options.get("sigma")) < LITE_LOW_SIGMA:
        options.update(num_iter=LITE_LOW_SIGMA_ITERATIONS, data_iters=LITE_LOW_SIGMA_DATA_ITERS)
    options.setdefault("num_iter", LITE_ITERATIONS)
    options.setdefault("lam", LITE_LAMBDA)
    options.setdefault("data_iters", LITE_DATA_ITERS)
    return pnp_drunet(y, psf, model=model, **options)


def _noise(y: Any, sigma: Any) -> float:
    """RMS noise level: ``sigma`` when given, else estimated from ``y`` (as pnp_drunet does)."""
    from .. import backend as B

    if sigma is None:
        from ..solvers import estimate_noise

        sigma = estimate_noise(y)
    s = np.asarray(B.to_numpy(sigma) if not np.isscalar(sigma) else sigma, dtype=np.float64)
    return float(np.sqrt(np.mean(s ** 2)))
