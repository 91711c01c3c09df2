"""Unrolled networks on the shared physics, and the model registry.

=================  =====================================================================
``unrolled-hqs``   :class:`UnrolledHQS`: K stages of (closed-form HQS image step, ResUNet
                   prior); a hyper-network maps σ and kernel statistics to the per-stage
                   weights (USRNet / DPIR family).
``deep-wiener``    :class:`DeepWiener`: learned features → Wiener deconvolution of every
                   feature map with the given PSF and a learned per-channel NSR →
                   multi-scale refinement (DWDN family).
``unrolled-rl``    :class:`UnrolledRL`: K Richardson-Lucy steps on the ``valid`` model with
                   learned per-stage damping and multiplicative CNN corrections (positive).
=================  =====================================================================

Every model is called as ``model(y, psf, sigma, boundary="auto")`` with ``y`` of shape
(B, C, h, w), ``psf`` of shape (kh, kw) or (B, 1, kh, kw) and ``sigma`` a float or (B,)
tensor, and returns the restored image (observed frame for ``"auto"``, whole scene for
``"valid"``). A model built for one channel restores colour images channel by channel.

Examples
--------
>>> import torch
>>> from hybrid_deblur.learned.models import build_model
>>> net = build_model("unrolled-hqs", stages=2, channels=1, widths=(8, 16, 32))
>>> y = torch.rand(2, 1, 36, 36)
>>> net(y, torch.ones(5, 5) / 25, 0.01).shape
torch.Size([2, 1, 36, 36])
>>> build_model("nope")
Traceback (most recent call last):
...
ValueError: model='nope' is unknown; known models: 'deep-wiener', 'drunet', 'unrolled-hqs', 'unrolled-rl'
"""

from __future__ import annotations

import math
from typing import Any

import torch
from torch import nn
from torch.nn import functional as F

from ..physics.blur import Blur
from ..physics.boundary import pad
from ..solvers.validate import check_choice
from .dc import LEARNED_BOUNDARIES, DataTerm, rl_step
from .denoiser import DRUNet
from .layers import MLP, ResUNet, conv3

__all__ = ["UnrolledHQS", "DeepWiener", "UnrolledRL", "MODELS", "build_model", "kernel_features",
           "ZeroResidual"]

SIGMA_FLOOR = 0.003


def _sigma(sigma: Any, y: torch.Tensor) -> torch.Tensor:
    """σ as a (B,) tensor of ``y``'s dtype/device (float, sequence or tensor accepted)."""
    s = torch.as_tensor(sigma, dtype=y.dtype, device=y.device).reshape(-1)
    if s.numel() == 1:
        s = s.expand(y.shape[0])
    if s.numel() != y.shape[0]:
        raise ValueError(f"sigma must be a float or one value per batch entry ({y.shape[0]}); "
                         f"got {s.numel()} values")
    if not bool(torch.isfinite(s).all()) or bool((s < 0).any()):
        raise ValueError(f"sigma must be finite and >= 0, got {sigma!r}")
    return s


def _batch_psf(psf: Any, y: torch.Tensor) -> torch.Tensor:
    p = torch.as_tensor(psf) if not torch.is_tensor(psf) else psf
    p = p.to(device=y.device, dtype=y.dtype)
    if p.ndim == 2:
        p = p[None, None]
    elif p.ndim == 3:
        p = p[:, None]
    if p.ndim != 4:
        raise ValueError(f"psf must have shape (kh, kw), (B, kh, kw) or (B, 1, kh, kw); "
                         f"got {tuple(p.shape)}")
    return p


def kernel_features(psf: torch.Tensor) -> torch.Tensor:
    """Per-kernel statistics (B, 2): L2 norm (peakiness) and RMS radius / 10 (extent)."""
    k = psf / psf.sum(dim=(-2, -1), keepdim=True)
    k = k.mean(dim=1) if k.ndim == 4 else k  # (B, kh, kw)
    kh, kw = k.shape[-2:]
    yy = torch.arange(kh, dtype=k.dtype, device=k.device)[:, None]
    xx = torch.arange(kw, dtype=k.dtype, device=k.device)[None, :]
    cy = (k * yy).sum(dim=(-2, -1), keepdim=True)
    cx = (k * xx).sum(dim=(-2, -1), keepdim=True)
    rad = torch.sqrt((k * ((yy - cy) ** 2 + (xx - cx) ** 2)).sum(dim=(-2, -1)) + 1e-12)
    l2 = torch.sqrt((k ** 2).sum(dim=(-2, -1)))
    return torch.stack([l2, rad / 10.0], dim=-1)


def _features(sigma: torch.Tensor, psf: torch.Tensor) -> torch.Tensor:
    s = sigma.clamp_min(SIGMA_FLOOR)
    return torch.cat([torch.stack([sigma * 30.0, torch.log(s) / 3.0 + 1.5], -1),
                      kernel_features(psf)], dim=-1)


class _Base(nn.Module):
    name = "base"

    def __init__(self, **config):
        super().__init__()
        self.config = dict(config)

    def forward(self, y, psf, sigma=0.0, boundary: str = "auto"):
        check_choice("boundary", boundary, LEARNED_BOUNDARIES)
        if not torch.is_tensor(y) or y.ndim != 4:
            raise ValueError(f"y must be a tensor of shape (B, C, H, W), got shape "
                             f"{tuple(getattr(y, 'shape', ()))}")
        psf = _batch_psf(psf, y)
        sigma = _sigma(sigma, y)
        b, c = int(y.shape[0]), int(y.shape[1])
        if psf.shape[0] not in (1, b) or psf.shape[1] not in (1, c):
            raise ValueError(f"psf of shape {tuple(psf.shape)} does not match y of shape "
                             f"{tuple(y.shape)}: give (kh, kw), (B, 1, kh, kw) or (B, C, kh, kw)")
        kh, kw = psf.shape[-2:]
        if c != self.channels:
            if self.channels != 1:
                raise ValueError(f"this {self.name} model restores {self.channels}-channel images; "
                                 f"got y with {c} channels")
            pf = psf.expand(b, c, kh, kw).reshape(b * c, 1, kh, kw)
            out = self._restore(y.reshape(b * c, 1, *y.shape[-2:]), pf, sigma.repeat_interleave(c),
                                boundary)
            return out.reshape(b, c, *out.shape[-2:])
        return self._restore(y, psf.expand(b, psf.shape[1], kh, kw), sigma, boundary)


class ZeroResidual(nn.Module):
    """A prior that changes nothing (``z = x``): turns UnrolledHQS into classical HQS x-steps."""

    def forward(self, x):
        return torch.zeros_like(x[:, :-1])


class UnrolledHQS(_Base):
    """Unrolled half-quadratic splitting with a learned ResUNet prior.

    Parameters
    ----------
    stages : int
        Number K of (image step, prior step) pairs.
    channels : int
        Image channels (1: gray; a gray model restores colour channel by channel).
    widths : sequence of int
        ResUNet widths per scale (the prior is shared by all stages and told the
        stage's noise level β_k through an extra input map).
    blocks : int
        Residual blocks per scale.
    alpha0 : float
        Base penalty weight of the image steps (before the learned corrections).
    init : {"wiener", "hqs-hl", "observation"}
        Classical solution the stages start from: :func:`hybrid_deblur.solvers.wiener`
        (fast, differentiable) or :func:`hybrid_deblur.solvers.hqs_hl` (better, ~1 s per
        megapixel more; used by the shipped weights), or the observation itself
        edge-replicated onto the grid, the start of the engine's HQS and of
        :func:`~hybrid_deblur.learned.pnp.pnp_drunet`.
    prior : {"resunet", "drunet"}
        The z-step network: a :class:`~hybrid_deblur.learned.layers.ResUNet` residual, or the
        denoiser :class:`~hybrid_deblur.learned.denoiser.DRUNet` (initialise it from a trained
        denoiser: ``net.prior.load_state_dict(denoiser.state_dict())``).
    schedule : {"learned", "dpir"}
        Base (α_k, β_k): constant ``alpha0`` and β = σ, or DPIR's (β_k log-spaced from
        49/255 to σ, α_k = λσ²/β_k², λ = ``lam``); the hyper-network's corrections start at 0.
    data_solver : {"mm", "cg"}, optional
        Image step of the ``auto`` / ``valid`` models (:meth:`DataTerm.x_step`): one
        majorise-minimise step (``"mm"``, the default with the ResUNet prior and of the
        weights trained before session 7), or the engine's PnP data step, conjugate
        gradients warm-started at :math:`z` (``"cg"``, default with the DRUNet prior).
        With ``prior="drunet"``, ``schedule="dpir"``, ``init="observation"``, ``"cg"`` and the
        hyper-network's corrections at 0, the network *is* ``pnp_drunet`` with its denoiser.
    data_iters : int, optional
        CG iterations per image step (default
        :data:`hybrid_deblur.solvers.hqs.PNP_DATA_ITERS`, the engine's).

    Notes
    -----
    Stage k: :math:`x_k = \\arg\\min_x \\|Kx - y\\|^2 + \\alpha_k \\|x - z_{k-1}\\|^2`
    (closed form, :class:`~hybrid_deblur.learned.dc.DataTerm`), then
    :math:`z_k = x_k + R_\\theta(x_k, \\beta_k)`, starting from :math:`z_0` = a classical
    solution (``init``: Wiener with automatic NSR, or hyper-Laplacian HQS). Base schedule
    :math:`\\alpha_k` = ``alpha0``, :math:`\\beta_k = \\sigma`; a hyper-network of (σ, kernel L2
    norm, kernel radius) adds learned log-corrections (zero at initialisation), so the
    untrained network is "Wiener + K proximal steps" and training only has to improve on it.
    """

    name = "unrolled-hqs"

    def __init__(self, stages: int = 4, channels: int = 1, widths=(32, 64, 128), blocks: int = 1,
                 alpha0: float = 1.0, hidden: int = 32, init: str = "wiener", prior: str = "resunet",
                 schedule: str = "learned", lam: float = 0.23, data_solver: str | None = None,
                 data_iters: int | None = None):
        check_choice("init", init, ("wiener", "hqs-hl", "observation"))
        check_choice("prior", prior, ("resunet", "drunet"))
        check_choice("schedule", schedule, ("learned", "dpir"))
        if data_solver is None:
            data_solver = "cg" if prior == "drunet" else "mm"
        check_choice("data_solver", data_solver, ("mm", "cg"))
        if data_iters is not None and (isinstance(data_iters, bool) or not isinstance(data_iters, int)
                                       or data_iters < 1):
            raise ValueError(f"data_iters must be a positive integer or None, got {data_iters!r}")
        extra = {} if data_solver == "mm" and data_iters is None else {
            "data_solver": data_solver, "data_iters": data_iters}
        super().__init__(stages=stages, channels=channels, widths=list(widths), blocks=blocks,
                         alpha0=alpha0, hidden=hidden, init=init, prior=prior, schedule=schedule,
                         lam=lam, **extra)
        self.data_solver, self.data_iters = data_solver, data_iters
        self.init, self.prior_kind, self.base = init, prior, schedule
        if int(stages) < 1:
            raise ValueError(f"stages must be >= 1, got {stages}")
        self.stages, self.channels = int(stages), int(channels)
        self.alpha0, self.lam = float(alpha0), float(lam)
        if prior == "drunet":
            self.prior = DRUNet(self.channels, widths, blocks)
        else:
            self.prior = ResUNet(self.channels + 1, self.channels, widths, blocks)
        self.hyper = MLP(4, 2 * self.stages, hidden)
        #: run the prior (only) under bf16 autocast; the data steps stay in fp32
        self.prior_amp = False

    def schedule(self, sigma: torch.Tensor, psf: torch.Tensor):
        """Per-sample, per-stage (alpha, beta), each of shape (B, K)."""
        s = sigma.clamp_min(SIGMA_FLOOR)
        d = self.hyper(_features(sigma, psf))
        if self.base == "dpir":
            from ..solvers.auto import dpir_schedule  # the engine's schedule, per sample

            # the engine's floor (dpir_schedule: 1e-3), so that the untrained network is pnp_drunet
            rows = [dpir_schedule(float(v), self.stages, lam=self.lam) for v in sigma.detach().cpu()]
            sig_k = torch.tensor([r[0] for r in rows], dtype=s.dtype, device=s.device)
            mu_k = torch.tensor([r[1] for r in rows], dtype=s.dtype, device=s.device)
            return (torch.exp(torch.log(mu_k) + d[:, self.stages:]),
                    torch.exp(torch.log(sig_k) + d[:, : self.stages]))
        log_beta = torch.log(s)[:, None] + d[:, : self.stages]
        log_alpha = math.log(self.alpha0) + d[:, self.stages:]
        return torch.exp(log_alpha), torch.exp(log_beta)

    def _restore(self, y, psf, sigma, boundary):
        dt = DataTerm(y, psf, boundary)
        alpha, beta = self.schedule(sigma, dt.psf)
        z = dt.observation_init() if self.init == "observation" else dt.classical_init(sigma, self.init)
        core = None
        if self.prior_kind == "drunet" and not torch.is_grad_enabled():
            # inference: the denoiser's U-Net on onnxruntime when pnp_drunet's engine="auto" would
            # use it (float32 eval DRUNet on the CPU, onnx extra installed, a large input)
            from .pnp import _onnx_engine

            p0 = next(self.prior.parameters())
            if _onnx_engine("auto", self.prior, p0.device, p0.dtype, int(z.numel())):
                from .denoiser_onnx import onnx_core

                core = onnx_core(self.prior)
        for k in range(self.stages):
            x = dt.x_step(z, alpha[:, k], solver=self.data_solver, iters=self.data_iters)
            bmap = beta[:, k].reshape(-1, 1, 1, 1).expand(x.shape[0], 1, *x.shape[-2:])
            inp = torch.cat([x, bmap.to(x.dtype)], dim=1)
            with torch.autocast(x.device.type, dtype=torch.bfloat16, enabled=self.prior_amp):
                r = self.prior.residual(inp, core=core) if self.prior_kind == "drunet" else self.prior(inp)
            z = x + r.to(x.dtype)
        return dt.crop(z)


class DeepWiener(_Base):
    """Deep Wiener deconvolution: Wiener-deconvolve learned features, then refine.

    Parameters
    ----------
    channels : int
        Image channels.
    features : int
        Learned feature maps that are deconvolved (plus the image itself).
    widths, blocks :
        Refinement ResUNet (multi-scale decoder).

    Notes
    -----
    Convolution commutes with the blur, so features :math:`f_c * y` of the
    observation are blurred features of the scene and a Wiener filter
    :math:`\\bar H F_c / (|H|^2 + \\mathrm{nsr}_c |D|^2)` recovers them
    (:math:`|D|^2`: gradient power, :func:`hybrid_deblur.solvers.regularizer_power`);
    :math:`\\mathrm{nsr}_c = \\sigma^2 \\exp(\\theta_c + h_c(\\sigma, k))` is learned per channel.
    The image itself is deconvolved by the classical :func:`hybrid_deblur.solvers.wiener`
    (automatic NSR) and the decoder predicts a residual on top of it.
    """

    name = "deep-wiener"

    def __init__(self, channels: int = 1, features: int = 16, widths=(32, 64, 128), blocks: int = 1,
                 hidden: int = 32):
        super().__init__(channels=channels, features=features, widths=list(widths), blocks=blocks,
                         hidden=hidden)
        self.channels, self.nfeat = int(channels), int(features)
        self.extract = nn.Sequential(conv3(self.channels, self.nfeat, padding_mode="circular"),
                                     nn.ReLU(),
                                     conv3(self.nfeat, self.nfeat, padding_mode="circular"))
        self.log_nsr = nn.Parameter(torch.full((self.nfeat,), math.log(300.0)))
        self.hyper = MLP(4, self.nfeat, hidden)
        self.refine = ResUNet(2 * self.channels + self.nfeat + 1, self.channels, widths, blocks)

    def _restore(self, y, psf, sigma, boundary):
        from ..solvers.linear import regularizer_power

        # feature maps mix channels, so one kernel per sample (per-channel kernels are averaged)
        dt = DataTerm(y, psf.mean(dim=1, keepdim=True), boundary)
        y0 = dt.init()
        f = self.extract(y0)
        s = sigma.clamp_min(SIGMA_FLOOR)
        scale = (s[:, None] ** 2) * torch.exp(self.log_nsr[None] + self.hyper(_features(sigma, dt.psf)))
        nsr = scale[..., None, None] * (regularizer_power("gradient", dt.grid, y) + 1e-2)
        wf = dt.crop(dt.wiener(f, nsr))
        w0 = dt.crop(dt.wiener_init(sigma))
        smap = (sigma * 10).reshape(-1, 1, 1, 1).expand(w0.shape[0], 1, *w0.shape[-2:])
        return w0 + self.refine(torch.cat([w0, dt.crop(y0) if not dt.masked else
                                           dt.crop(y0), wf, smap], dim=1))


class _Corrector(nn.Module):
    def __init__(self, channels: int, width: int):
        super().__init__()
        self.net = nn.Sequential(conv3(channels + 1, width), nn.ReLU(), conv3(width, width),
                                 nn.ReLU(), conv3(width, channels))
        nn.init.zeros_(self.net[-1].weight)
        nn.init.zeros_(self.net[-1].bias)

    def forward(self, x):
        return self.net(x)


class UnrolledRL(_Base):
    """Unrolled Richardson-Lucy with learned damping and multiplicative CNN corrections.

    Parameters
    ----------
    stages : int
        RL steps K.
    channels : int
        Image channels.
    width : int
        Width of the per-stage correction CNN.

    Notes
    -----
    Stage k: :math:`x \\leftarrow x\\,u^{d_k}` with the RL update
    :math:`u = K^T(y/Kx) / K^T 1` on the ``valid`` model (no wrap-around, the
    scene is larger than ``y``), :math:`d_k = 2\\,\\mathrm{sigmoid}(\\cdot)` learned
    per stage (and per σ, kernel); then :math:`x \\leftarrow x\\exp(\\tanh(c_k(x, \\sigma)))`.
    Both factors are positive, so positivity is kept exactly.
    """

    name = "unrolled-rl"

    def __init__(self, stages: int = 8, channels: int = 1, width: int = 16, hidden: int = 32):
        super().__init__(stages=stages, channels=channels, width=width, hidden=hidden)
        self.stages, self.channels = int(stages), int(channels)
        self.correct = nn.ModuleList(_Corrector(self.channels, width) for _ in range(self.stages))
        self.hyper = MLP(4, self.stages, hidden)

    def _restore(self, y, psf, sigma, boundary):
        eps = 1e-4
        yp = y.clamp_min(eps)
        circ = boundary == "circular"
        op = Blur(psf, boundary="circular" if circ else "valid")
        if circ:
            x = yp
        else:
            kh, kw = op.ksize
            x = pad(yp, [(kh - 1 - kh // 2, kh // 2), (kw - 1 - kw // 2, kw // 2)], "replicate")
        norm = op.AT(torch.ones_like(yp)).clamp_min(eps)
        damp = 2 * torch.sigmoid(self.hyper(_features(sigma, op.psf)))
        smap = (sigma * 10).reshape(-1, 1, 1, 1)
        for k in range(self.stages):
            x = rl_step(x, yp, op, norm, damping=damp[:, k])
            c = self.correct[k](torch.cat([x, smap.expand(x.shape[0], 1, *x.shape[-2:])], dim=1))
            x = x * torch.exp(torch.tanh(c))
        if circ or boundary == "valid":
            return x
        kh, kw = op.ksize
        oy, ox = kh - 1 - kh // 2, kw - 1 - kw // 2
        return x[..., oy:oy + y.shape[-2], ox:ox + y.shape[-1]]


#: model name -> class (explicit; no plugin discovery)
MODELS: dict[str, type] = {
    "unrolled-hqs": UnrolledHQS,
    "deep-wiener": DeepWiener,
    "unrolled-rl": UnrolledRL,
    "drunet": DRUNet,  # the denoiser prior (not a deblurring model: called as net(x, sigma))
}


def build_model(name: str, **config) -> nn.Module:
    """Construct the registered model ``name`` (``_`` and ``-`` are interchangeable)."""
    key = str(name).replace("_", "-").lower() if isinstance(name, str) else name
    if key not in MODELS:
        raise ValueError(f"model={name!r} is unknown; known models: "
                         f"{', '.join(repr(k) for k in sorted(MODELS))}")
    return MODELS[key](**config)
