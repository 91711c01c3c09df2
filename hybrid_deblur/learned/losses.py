"""Losses of the learned models (S5): pixel, frequency, structural, perceptual, adversarial.

* Pixel: :func:`l1_loss`, :func:`charbonnier_loss`.
* Frequency: :func:`fft_loss` — L1 between the 2-D spectra (amplitude and/or phase, or
  the complex difference as in MIMO-UNet); the FFT goes through :mod:`hybrid_deblur.backend`
  and is computed in float32 (FFTs reject bfloat16).
* Structural: :func:`ssim_torch` (differentiable; equals scikit-image's default
  ``structural_similarity`` — 7×7 uniform window, sample covariance — or Wang's 11×11
  Gaussian window) and :func:`ssim_loss` ``= 1 - SSIM``.
* Perceptual: :class:`PerceptualLoss` — L1 between features of a VGG19-style network
  written here. Its weights come from a file the user gives (a ``state_dict`` with
  torchvision's ``features.N.weight`` key names, loaded with ``weights_only=True``);
  nothing is downloaded. **Without weights** the network keeps a fixed random
  initialisation (seed 0) and the loss compares random multi-scale features: a
  texture/structure loss that still penalises blur, but not the ImageNet "perceptual"
  loss of the papers; a warning says so and ``PerceptualLoss.pretrained`` is False.
* Adversarial (raw discriminator scores, a tensor or a list averaged over scales):
  :func:`lsgan_d` / :func:`lsgan_g`, :func:`ragan_ls_d` / :func:`ragan_ls_g`,
  :func:`wgan_d` / :func:`wgan_g` and :func:`gradient_penalty` (WGAN-GP);
  :data:`ADVERSARIAL` maps names to the (D, G) pairs.

Examples
--------
>>> import torch
>>> from hybrid_deblur.learned.losses import ssim_torch, fft_loss, ragan_ls_d
>>> x = torch.rand(1, 1, 32, 32)
>>> float(ssim_torch(x, x))
1.0
>>> float(fft_loss(x, x))
0.0
>>> float(ragan_ls_d(torch.full((4, 1), 0.5), torch.full((4, 1), -0.5)))   # the optimum: D_r - D_f = 1
0.0
"""

from __future__ import annotations

import os
import warnings
from typing import Sequence

import torch
from torch import nn
from torch.nn import functional as F

from .. import backend as B

__all__ = ["l1_loss", "charbonnier_loss", "fft_loss", "ssim_torch", "ssim_loss", "PerceptualLoss",
           "VGGFeatures", "lsgan_d", "lsgan_g", "ragan_ls_d", "ragan_ls_g", "wgan_d", "wgan_g",
           "gradient_penalty", "ADVERSARIAL", "content_loss"]


def l1_loss(x: torch.Tensor, ref: torch.Tensor) -> torch.Tensor:
    """Mean absolute error."""
    return F.l1_loss(x.float(), ref.float())


def charbonnier_loss(x: torch.Tensor, ref: torch.Tensor, eps: float = 1e-3) -> torch.Tensor:
    """``mean(sqrt((x - ref)² + eps²))`` — a smooth L1 (eps 1e-3 as in MPRNet/Restormer)."""
    d = x.float() - ref.float()
    return torch.sqrt(d * d + eps * eps).mean()


def fft_loss(x: torch.Tensor, ref: torch.Tensor, mode: str = "complex") -> torch.Tensor:
    """L1 distance of 2-D spectra over the last two axes (float32).

    ``mode``: ``"complex"`` (mean |Re| + |Im| of the difference, MIMO-UNet),
    ``"amplitude"`` (|X| vs |R|), ``"phase"`` (wrapped angle difference weighted by
    the reference amplitude share) or ``"amp+phase"`` (the sum).
    """
    if mode not in ("complex", "amplitude", "phase", "amp+phase"):
        raise ValueError(f"mode must be 'complex', 'amplitude', 'phase' or 'amp+phase', got {mode!r}")
    X = B.rfftn(x.float(), axes=(-2, -1))
    R = B.rfftn(ref.float(), axes=(-2, -1))
    n = float(x.shape[-1] * x.shape[-2]) ** 0.5
    if mode == "complex":
        d = (X - R) / n
        return (d.real.abs() + d.imag.abs()).mean()
    out = x.new_zeros((), dtype=torch.float32)
    if mode in ("amplitude", "amp+phase"):
        out = out + ((X.abs() - R.abs()) / n).abs().mean()
    if mode in ("phase", "amp+phase"):
        dphi = torch.angle(X * R.conj())  # wrapped to (-pi, pi]
        w = R.abs() / R.abs().flatten(-2).sum(-1)[..., None, None].clamp_min(1e-12)
        out = out + (w * dphi.abs()).flatten(-2).sum(-1).mean()
    return out


def ssim_torch(x: torch.Tensor, ref: torch.Tensor, *, data_range: float = 1.0, window: str = "uniform",
               reduction: str = "mean") -> torch.Tensor:
    """Differentiable SSIM of (B, C, H, W) tensors, averaged over the valid interior.

    ``window="uniform"``: 7×7 box, sample covariance — scikit-image's default
    ``structural_similarity`` (which averages the same interior); ``"gaussian"``: 11×11,
    σ = 1.5, population covariance (Wang et al.'s code). ``reduction="none"`` returns
    one value per image.
    """
    if x.shape != ref.shape or x.ndim != 4:
        raise ValueError(f"x and ref must be (B, C, H, W) of equal shape; got {tuple(x.shape)}, {tuple(ref.shape)}")
    if window not in ("uniform", "gaussian"):
        raise ValueError(f"window must be 'uniform' or 'gaussian', got {window!r}")
    x, ref = x.float(), ref.float()
    c = x.shape[1]
    if window == "uniform":
        k = torch.full((7, 7), 1 / 49, dtype=x.dtype, device=x.device)
        cov_norm = 49 / 48
    else:
        g = torch.exp(-(torch.arange(11, dtype=x.dtype, device=x.device) - 5) ** 2 / (2 * 1.5 ** 2))
        g = g / g.sum()
        k = g[:, None] * g[None, :]
        cov_norm = 1.0
    if min(x.shape[-2:]) < k.shape[-1]:
        raise ValueError(f"ssim needs images of at least {k.shape[-1]}x{k.shape[-1]} pixels; got {tuple(x.shape[-2:])}")
    w = k.expand(c, 1, *k.shape)

    def filt(t):
        return F.conv2d(t, w, groups=c)

    mx, mr = filt(x), filt(ref)
    vx = cov_norm * (filt(x * x) - mx * mx)
    vr = cov_norm * (filt(ref * ref) - mr * mr)
    cxr = cov_norm * (filt(x * ref) - mx * mr)
    c1, c2 = (0.01 * data_range) ** 2, (0.03 * data_range) ** 2
    s = ((2 * mx * mr + c1) * (2 * cxr + c2)) / ((mx * mx + mr * mr + c1) * (vx + vr + c2))
    per = s.flatten(1).mean(1)
    if reduction == "none":
        return per
    return per.mean()


def ssim_loss(x: torch.Tensor, ref: torch.Tensor, **kw) -> torch.Tensor:
    """``1 - ssim_torch(x, ref)``."""
    return 1.0 - ssim_torch(x, ref, **kw)


# ----------------------------------------------------------------------------- perceptual
#: VGG19 "features" layout (torchvision indices): conv widths, "M" = max-pool
_VGG19 = (64, 64, "M", 128, 128, "M", 256, 256, 256, 256, "M", 512, 512, 512, 512, "M", 512, 512, 512, 512)


class VGGFeatures(nn.Module):
    """VGG19 convolutional trunk up to layer index ``last`` (torchvision numbering).

    ``last=15`` ends after relu3_3 (DeblurGAN-v2's content layer); ``last=34`` is conv5_4
    (ESRGAN, pre-activation). ``width`` scales every conv width (1.0 = VGG19; smaller
    widths only make sense with random features).
    """

    def __init__(self, last: int = 15, width: float = 1.0):
        super().__init__()
        layers: list[nn.Module] = []
        cin = 3
        for v in _VGG19:
            if v == "M":
                layers.append(nn.MaxPool2d(2, 2))
            else:
                cout = max(4, int(v * width))
                layers += [nn.Conv2d(cin, cout, 3, padding=1), nn.ReLU(inplace=False)]
                cin = cout
        if not 0 <= last < len(layers):
            raise ValueError(f"last must be a layer index in [0, {len(layers) - 1}], got {last!r}")
        self.features = nn.Sequential(*layers[: last + 1])
        self.register_buffer("mean", torch.tensor([0.485, 0.456, 0.406]).view(1, 3, 1, 1), persistent=False)
        self.register_buffer("std", torch.tensor([0.229, 0.224, 0.225]).view(1, 3, 1, 1), persistent=False)

    def forward(self, x):
        if x.shape[1] == 1:
            x = x.expand(-1, 3, -1, -1)
        return self.features((x - self.mean) / self.std)


class PerceptualLoss(nn.Module):
    """L1 between VGG-style features of the estimate and the reference (frozen network).

    Parameters
    ----------
    weights : path, optional
        A file holding a VGG19 ``state_dict`` (keys ``features.N.weight/bias`` as in
        torchvision; extra keys such as the classifier's are ignored). Without it the
        features are random (see the module notes) and a warning is issued.
    last : int
        Last VGG19 layer used (15: relu3_3).
    width : float
        Width multiplier (1.0 with real weights; e.g. 0.25 for cheap random features).
    """

    def __init__(self, weights: str | os.PathLike | None = None, *, last: int = 15, width: float = 1.0):
        super().__init__()
        gen = torch.random.fork_rng(devices=[])
        with gen:
            torch.manual_seed(0)
            self.net = VGGFeatures(last=last, width=width)
        self.pretrained = False
        if weights is not None:
            p = os.fspath(weights)
            if not os.path.isfile(p):
                raise OSError(f"perceptual weights file {p!r} does not exist")
            sd = torch.load(p, map_location="cpu", weights_only=True)
            sd = sd.get("state_dict", sd) if isinstance(sd, dict) else sd
            own = self.net.state_dict()
            sub = {k: v for k, v in sd.items() if k in own}
            missing = sorted(set(own) - set(sub))
            if missing:
                raise ValueError(f"perceptual weights {p!r} lack {missing[:4]}... (expected torchvision "
                                 "VGG19 'features.N.weight' keys, width=1.0)")
            self.net.load_state_dict(sub)
            self.pretrained = True
        else:
            warnings.warn("PerceptualLoss without weights: using fixed random VGG features "
                          "(a structure loss, not the ImageNet perceptual loss)", stacklevel=2)
        for p_ in self.net.parameters():
            p_.requires_grad_(False)
        self.net.eval()

    def train(self, mode: bool = True):  # the feature network always stays in eval mode
        super().train(mode)
        self.net.eval()
        return self

    def forward(self, x, ref):
        fx = self.net(x.float())
        with torch.no_grad():
            fr = self.net(ref.float())
        return F.l1_loss(fx, fr)


# ----------------------------------------------------------------------------- adversarial
def _scores(s) -> list[torch.Tensor]:
    return [t.float() for t in (s if isinstance(s, (list, tuple)) else [s])]


def _avg(vals: Sequence[torch.Tensor]) -> torch.Tensor:
    return sum(vals) / len(vals)


def lsgan_d(real, fake) -> torch.Tensor:
    """LSGAN discriminator loss ``½[E(D(r) - 1)² + E D(f)²]``."""
    return _avg([0.5 * ((r - 1) ** 2).mean() + 0.5 * (f ** 2).mean() for r, f in zip(_scores(real), _scores(fake))])


def lsgan_g(fake, real=None) -> torch.Tensor:
    """LSGAN generator loss ``½ E(D(f) - 1)²`` (``real`` unused)."""
    return _avg([0.5 * ((f - 1) ** 2).mean() for f in _scores(fake)])


def ragan_ls_d(real, fake) -> torch.Tensor:
    """Relativistic average LSGAN, discriminator: ``½[E(D_r - ĒD_f - 1)² + E(D_f - ĒD_r + 1)²]``."""
    out = []
    for r, f in zip(_scores(real), _scores(fake)):
        out.append(0.5 * (((r - f.mean() - 1) ** 2).mean() + ((f - r.mean() + 1) ** 2).mean()))
    return _avg(out)


def ragan_ls_g(fake, real) -> torch.Tensor:
    """Relativistic average LSGAN, generator: ``½[E(D_f - ĒD_r - 1)² + E(D_r - ĒD_f + 1)²]``."""
    out = []
    for r, f in zip(_scores(real), _scores(fake)):
        out.append(0.5 * (((f - r.mean() - 1) ** 2).mean() + ((r - f.mean() + 1) ** 2).mean()))
    return _avg(out)


def wgan_d(real, fake) -> torch.Tensor:
    """WGAN critic loss ``E D(f) - E D(r)`` (add :func:`gradient_penalty`)."""
    return _avg([f.mean() - r.mean() for r, f in zip(_scores(real), _scores(fake))])


def wgan_g(fake, real=None) -> torch.Tensor:
    """WGAN generator loss ``-E D(f)``."""
    return _avg([-f.mean() for f in _scores(fake)])


def gradient_penalty(disc: nn.Module, real: torch.Tensor, fake: torch.Tensor, *,
                     generator: torch.Generator | None = None, weight: float = 10.0) -> torch.Tensor:
    """WGAN-GP penalty ``weight · E(‖∇D(x̂)‖₂ - 1)²`` on random interpolates x̂ (float32)."""
    a = torch.rand(real.shape[0], 1, 1, 1, device=real.device, generator=generator)
    xh = (a * real.detach().float() + (1 - a) * fake.detach().float()).requires_grad_(True)
    with torch.autocast(real.device.type, enabled=False):
        s = _scores(disc(xh))
        g = torch.autograd.grad(sum(t.sum() for t in s), xh, create_graph=True)[0]
    return weight * ((g.flatten(1).norm(dim=1) - 1) ** 2).mean()


#: adversarial loss name -> (discriminator loss, generator loss)
ADVERSARIAL = {"lsgan": (lsgan_d, lsgan_g), "ragan-ls": (ragan_ls_d, ragan_ls_g), "wgan-gp": (wgan_d, wgan_g)}


def content_loss(x: torch.Tensor, ref: torch.Tensor, *, kind: str = "l1") -> torch.Tensor:
    """The pixel loss named ``kind``: ``"l1"``, ``"charbonnier"``, ``"l2"`` or ``"psnr"`` (NAFNet)."""
    if kind == "l1":
        return l1_loss(x, ref)
    if kind == "charbonnier":
        return charbonnier_loss(x, ref)
    if kind == "l2":
        return F.mse_loss(x.float(), ref.float())
    if kind == "psnr":
        mse = ((x.float() - ref.float()) ** 2).flatten(1).mean(1).clamp_min(1e-10)
        return (10 * torch.log10(mse)).mean() / 10  # -PSNR/10 ... up to a constant
    raise ValueError(f"content loss kind={kind!r} is unknown; accepted: 'l1', 'charbonnier', 'l2', 'psnr'")
