"""Shared building blocks of the end-to-end zoo (S10, S12) and the model base class.

* :class:`E2EModel` — base of every end-to-end network: ``forward(y)`` pads the input
  to the network's size multiple (reflect), runs ``_forward`` and crops back, so any
  image size works. No kernel, no σ: the network has to learn the blur.
* S10 blocks: :class:`RDB` / :class:`RRDB` (ESRGAN residual-in-residual dense blocks),
  :class:`CBAM` (channel + spatial attention), :class:`SqueezeExcite`,
  :class:`InvertedResidual` (MobileNetV2/V3: expand, depthwise, SE, linear projection,
  h-swish), :class:`LayerNorm2d`.
* S12: :class:`PixelShuffleHead` — a ×2 sub-pixel head that turns any model into a
  deblur + upsample model (:class:`SRWrapper`).

Examples
--------
>>> import torch
>>> from hybrid_deblur.learned.e2e.blocks import RRDB, CBAM, InvertedResidual
>>> x = torch.zeros(1, 16, 12, 12)
>>> RRDB(16, growth=8)(x).shape, CBAM(16)(x).shape, InvertedResidual(16, 16, expand=2)(x).shape
(torch.Size([1, 16, 12, 12]), torch.Size([1, 16, 12, 12]), torch.Size([1, 16, 12, 12]))
"""

from __future__ import annotations

import torch
from torch import nn
from torch.nn import functional as F

__all__ = ["E2EModel", "RDB", "RRDB", "CBAM", "SqueezeExcite", "InvertedResidual", "LayerNorm2d",
           "HSwish", "PixelShuffleHead", "SRWrapper", "make_divisible", "check_channels", "zero_init"]


def check_channels(channels: int) -> int:
    """Validate the image channel count (1 gray, 3 colour)."""
    if channels not in (1, 3):
        raise ValueError(f"channels must be 1 (gray) or 3 (colour), got {channels!r}")
    return int(channels)


def zero_init(conv: nn.Module) -> nn.Module:
    """Zero the weight (and bias) of a residual network's last layer; returns it.

    A model ``y + f(y)`` whose last layer is zero starts as the identity: at step 0 it is
    at the input's PSNR and training can only move it from there (the last layer gets a
    gradient at once, the layers before it from the next step on).
    """
    with torch.no_grad():
        conv.weight.zero_()
        if getattr(conv, "bias", None) is not None:
            conv.bias.zero_()
    return conv


def make_divisible(v: float, divisor: int = 8) -> int:
    """Round ``v`` to a multiple of ``divisor`` (not below 90 % of ``v``), as in MobileNet."""
    n = max(divisor, int(v + divisor / 2) // divisor * divisor)
    return n + divisor if n < 0.9 * v else n


class E2EModel(nn.Module):
    """Base class: ``forward(y)`` pads to :attr:`multiple`, calls ``_forward``, crops back.

    Subclasses set ``name`` (registry key), ``multiple`` (size divisor of their
    down-sampling) and store their constructor arguments in ``config`` (saved in the
    weight file, so :func:`hybrid_deblur.learned.e2e.build` can rebuild them).
    """

    name = "e2e"
    multiple = 1
    scale = 1

    def __init__(self, **config):
        super().__init__()
        self.config = dict(config)

    def _forward(self, y: torch.Tensor) -> torch.Tensor:  # pragma: no cover - abstract
        raise NotImplementedError

    def forward(self, y: torch.Tensor) -> torch.Tensor:
        if y.ndim != 4:
            raise ValueError(f"y must have shape (B, C, H, W); got {tuple(y.shape)}")
        c = int(self.config.get("channels", 3))
        if y.shape[1] != c:
            raise ValueError(f"y has {y.shape[1]} channels; this {self.name} model takes {c}")
        h, w = y.shape[-2:]
        m = self.multiple
        ph, pw = (-h) % m, (-w) % m
        if ph or pw:
            mode = "reflect" if (ph < h and pw < w) else "replicate"
            y = F.pad(y, (0, pw, 0, ph), mode=mode)
        out = self._forward(y)
        s = self.scale
        return out[..., : h * s, : w * s] if (ph or pw) else out


class HSwish(nn.Module):
    """h-swish ``x * relu6(x + 3) / 6`` (MobileNetV3)."""

    def forward(self, x):
        return F.hardswish(x)


class SqueezeExcite(nn.Module):
    """Squeeze-and-excitation: GAP → 1×1 (C→C/r) → ReLU → 1×1 → gate (sigmoid or hard)."""

    def __init__(self, channels: int, reduction: int = 4, hard: bool = False):
        super().__init__()
        mid = make_divisible(channels / reduction, 8)
        self.fc1 = nn.Conv2d(channels, mid, 1)
        self.fc2 = nn.Conv2d(mid, channels, 1)
        self.gate = nn.Hardsigmoid() if hard else nn.Sigmoid()

    def forward(self, x):
        s = F.adaptive_avg_pool2d(x, 1)
        return x * self.gate(self.fc2(F.relu(self.fc1(s))))


class CBAM(nn.Module):
    """Convolutional block attention: channel MLP on avg+max pools, then a 7×7 spatial gate."""

    def __init__(self, channels: int, reduction: int = 16, kernel: int = 7):
        super().__init__()
        mid = max(channels // reduction, 4)
        self.mlp = nn.Sequential(nn.Conv2d(channels, mid, 1), nn.ReLU(), nn.Conv2d(mid, channels, 1))
        self.spatial = nn.Conv2d(2, 1, kernel, padding=kernel // 2)

    def forward(self, x):
        a = self.mlp(F.adaptive_avg_pool2d(x, 1)) + self.mlp(F.adaptive_max_pool2d(x, 1))
        x = x * torch.sigmoid(a)
        s = torch.cat([x.amax(1, keepdim=True), x.mean(1, keepdim=True)], 1)
        return x * torch.sigmoid(self.spatial(s))


class RDB(nn.Module):
    """Residual dense block: ``layers`` densely connected 3×3 convs (LReLU 0.2), 0.2·out + x."""

    def __init__(self, channels: int, growth: int = 32, layers: int = 5, res_scale: float = 0.2):
        super().__init__()
        self.convs = nn.ModuleList(
            nn.Conv2d(channels + i * growth, growth if i < layers - 1 else channels, 3, padding=1)
            for i in range(layers))
        self.res_scale = float(res_scale)

    def forward(self, x):
        feats = [x]
        for i, conv in enumerate(self.convs):
            out = conv(torch.cat(feats, 1))
            if i < len(self.convs) - 1:
                feats.append(F.leaky_relu(out, 0.2))
        return x + self.res_scale * out


class RRDB(nn.Module):
    """Residual-in-residual dense block: three :class:`RDB` and a 0.2-scaled skip."""

    def __init__(self, channels: int, growth: int = 32, res_scale: float = 0.2):
        super().__init__()
        self.body = nn.Sequential(*(RDB(channels, growth) for _ in range(3)))
        self.res_scale = float(res_scale)

    def forward(self, x):
        return x + self.res_scale * self.body(x)


class InvertedResidual(nn.Module):
    """MobileNetV2/V3 block: 1×1 expand → k×k depthwise (stride) → SE → linear 1×1.

    Residual iff ``stride == 1`` and ``cin == cout``. ``act`` is ``"hswish"`` or ``"relu"``.
    Normalisation: instance norm (DeblurGAN-v2 uses it; batch statistics of tiny
    deblurring batches are noisy).
    """

    def __init__(self, cin: int, cout: int, *, expand: float = 4, kernel: int = 3, stride: int = 1,
                 se: bool = True, act: str = "hswish"):
        super().__init__()
        if stride not in (1, 2):
            raise ValueError(f"stride must be 1 or 2, got {stride!r}")
        if act not in ("hswish", "relu"):
            raise ValueError(f"act must be 'hswish' or 'relu', got {act!r}")
        mid = make_divisible(cin * expand, 8)
        A = HSwish if act == "hswish" else nn.ReLU
        layers: list[nn.Module] = []
        if mid != cin:
            layers += [nn.Conv2d(cin, mid, 1, bias=False), nn.InstanceNorm2d(mid, affine=True), A()]
        layers += [nn.Conv2d(mid, mid, kernel, stride, kernel // 2, groups=mid, bias=False),
                   nn.InstanceNorm2d(mid, affine=True), A()]
        if se:
            layers.append(SqueezeExcite(mid, 4, hard=True))
        layers += [nn.Conv2d(mid, cout, 1, bias=False), nn.InstanceNorm2d(cout, affine=True)]
        self.block = nn.Sequential(*layers)
        self.residual = stride == 1 and cin == cout

    def forward(self, x):
        out = self.block(x)
        return x + out if self.residual else out


class LayerNorm2d(nn.Module):
    """Layer norm over the channel axis of an (B, C, H, W) tensor (NAFNet, Restormer)."""

    def __init__(self, channels: int, eps: float = 1e-6, bias: bool = True):
        super().__init__()
        self.weight = nn.Parameter(torch.ones(channels))
        self.bias = nn.Parameter(torch.zeros(channels)) if bias else None
        self.eps = eps

    def forward(self, x):
        dt = x.dtype
        x = x.float()  # statistics in float32 also under bf16 autocast
        mu = x.mean(1, keepdim=True)
        var = (x - mu).pow(2).mean(1, keepdim=True)
        x = (x - mu) / torch.sqrt(var + self.eps)
        x = x * self.weight[:, None, None]
        x = x + self.bias[:, None, None] if self.bias is not None else x
        return x.to(dt)


class PixelShuffleHead(nn.Module):
    """S12: ×``factor`` sub-pixel head: conv (C → C·f²) → PixelShuffle → conv → ``out``."""

    def __init__(self, cin: int, cout: int, factor: int = 2, width: int = 32):
        super().__init__()
        if factor not in (2, 4):
            raise ValueError(f"factor must be 2 or 4, got {factor!r}")
        ups: list[nn.Module] = [nn.Conv2d(cin, width, 3, padding=1)]
        for _ in range({2: 1, 4: 2}[factor]):
            ups += [nn.Conv2d(width, width * 4, 3, padding=1), nn.PixelShuffle(2), nn.LeakyReLU(0.2)]
        ups.append(nn.Conv2d(width, cout, 3, padding=1))
        self.body = nn.Sequential(*ups)
        self.factor = factor

    def forward(self, x):
        return self.body(x)


class SRWrapper(E2EModel):
    """Deblur + ×2 upsample (SR-UNet style): any zoo model followed by :class:`PixelShuffleHead`.

    The output is the bicubic upsampling of the deblurred image plus the head's residual.
    """

    name = "sr-wrapper"
    scale = 2

    def __init__(self, base: E2EModel, width: int = 32):
        super().__init__(channels=int(base.config.get("channels", 3)), width=width)
        self.base = base
        self.multiple = base.multiple
        c = self.config["channels"]
        self.head = PixelShuffleHead(2 * c, c, factor=2, width=width)

    def _forward(self, y):
        d = self.base(y)
        up = F.interpolate(d, scale_factor=2, mode="bicubic", align_corners=False)
        return up + self.head(torch.cat([d, y], 1))
