"""Small building blocks of the learned models (torchvision is not needed).

The prior networks work at half resolution after a pixel-unshuffle (as FFDNet
does): a 2x2 space-to-depth keeps every pixel, quarters the spatial work and
lets a ~0.6 M-parameter ResUNet restore a 512 x 512 image on one CPU core in a
fraction of a second.

Examples
--------
>>> import torch
>>> from hybrid_deblur.learned.layers import ResUNet
>>> net = ResUNet(in_channels=2, out_channels=1, channels=(8, 16, 32))
>>> net(torch.zeros(1, 2, 30, 34)).shape
torch.Size([1, 1, 30, 34])
"""

from __future__ import annotations

from typing import Sequence

import torch
from torch import nn
from torch.nn import functional as F

__all__ = ["conv3", "ResBlock", "ResUNet", "MLP", "count_parameters", "unet_forward", "unet_core"]


def conv3(cin: int, cout: int, *, bias: bool = True, padding_mode: str = "zeros") -> nn.Conv2d:
    """3x3 convolution with 'same' padding."""
    return nn.Conv2d(cin, cout, 3, padding=1, bias=bias, padding_mode=padding_mode)


class ResBlock(nn.Module):
    """``x + conv(relu(conv(x)))`` (no normalisation: the output scale is preserved)."""

    def __init__(self, channels: int):
        super().__init__()
        self.c1 = conv3(channels, channels)
        self.c2 = conv3(channels, channels)

    def forward(self, x):
        return x + self.c2(F.relu(self.c1(x)))


class ResUNet(nn.Module):
    """A small residual U-Net working on a 2x pixel-unshuffled input.

    Parameters
    ----------
    in_channels, out_channels : int
        Channels of the input and the output (full resolution).
    channels : sequence of int
        Width of each scale (after the unshuffle); each scale has ``blocks``
        residual blocks in the encoder and in the decoder, the coarsest one
        ``blocks`` in the bottleneck.
    blocks : int
        Residual blocks per scale and side.

    Notes
    -----
    Any input size is accepted: the input is reflect-padded to a multiple of
    ``2 ** len(channels)`` and the output cropped back.
    """

    def __init__(self, in_channels: int, out_channels: int,
                 channels: Sequence[int] = (32, 64, 128), blocks: int = 1):
        super().__init__()
        ch = [int(c) for c in channels]
        if len(ch) < 1 or any(c < 1 for c in ch):
            raise ValueError(f"channels must be a non-empty list of positive ints, got {channels!r}")
        self.levels = len(ch)
        self.head = conv3(4 * in_channels, ch[0])
        self.enc = nn.ModuleList()
        self.down = nn.ModuleList()
        for i in range(len(ch) - 1):
            self.enc.append(nn.Sequential(*[ResBlock(ch[i]) for _ in range(blocks)]))
            self.down.append(nn.Conv2d(ch[i], ch[i + 1], 2, stride=2))
        self.mid = nn.Sequential(*[ResBlock(ch[-1]) for _ in range(blocks)])
        self.up = nn.ModuleList()
        self.dec = nn.ModuleList()
        for i in reversed(range(len(ch) - 1)):
            self.up.append(nn.ConvTranspose2d(ch[i + 1], ch[i], 2, stride=2))
            self.dec.append(nn.Sequential(*[ResBlock(ch[i]) for _ in range(blocks)]))
        self.tail = conv3(ch[0], 4 * out_channels)
        nn.init.zeros_(self.tail.weight)  # starts as the zero residual: z = x at initialisation
        nn.init.zeros_(self.tail.bias)

    def forward(self, x):
        return unet_forward(x, self, self.mid, nhwc=not self.training)


class MLP(nn.Module):
    """Two hidden ReLU layers; the last layer starts at zero (the output starts at 0)."""

    def __init__(self, cin: int, cout: int, hidden: int = 32):
        super().__init__()
        self.net = nn.Sequential(nn.Linear(cin, hidden), nn.ReLU(), nn.Linear(hidden, hidden),
                                 nn.ReLU(), nn.Linear(hidden, cout))
        nn.init.zeros_(self.net[-1].weight)
        nn.init.zeros_(self.net[-1].bias)

    def forward(self, x):
        return self.net(x)


def count_parameters(model: nn.Module) -> int:
    """Number of trainable parameters."""
    return sum(p.numel() for p in model.parameters() if p.requires_grad)


def unet_core(f, net: nn.Module, bottleneck: nn.Module):
    """The U-Net proper on a pixel-unshuffled input ``f`` whose sides are multiples of
    ``2 ** (net.levels - 1)``: head, encoder with skips, ``bottleneck``, decoder, tail.

    This is the part :func:`unet_forward` hands to an alternative engine (``core=``), e.g. the
    onnxruntime graph of :mod:`hybrid_deblur.learned.denoiser_onnx`.
    """
    f = net.head(f)
    skips = []
    for enc, down in zip(net.enc, net.down):
        f = enc(f)
        skips.append(f)
        f = down(f)
    f = bottleneck(f)
    for up, dec in zip(net.up, net.dec):
        f = dec(up(f) + skips.pop())
    return net.tail(f)


def unet_forward(x, net: nn.Module, bottleneck: nn.Module, *, nhwc: bool = True, core=None):
    """Forward pass shared by the pixel-unshuffled residual U-Nets (:class:`ResUNet`, DRUNet).

    ``net`` provides ``levels``, ``head``, ``enc``, ``down``, ``up``, ``dec`` and ``tail``;
    ``bottleneck`` is its middle stage. The input is padded (reflect, or replicate when it is
    too small) to a multiple of ``2 ** levels``, 2×2 pixel-unshuffled, run through the U-Net with
    additive skips (:func:`unet_core`, or ``core(f)`` when given: another engine for the same
    network), pixel-shuffled back and cropped to its own size. ``nhwc`` uses channels-last
    convolutions on the CPU (faster with oneDNN).
    """
    h, w = x.shape[-2:]
    m = 2 ** net.levels
    ph, pw = (-h) % m, (-w) % m
    if ph or pw:
        mode = "reflect" if min(h, w) > max(ph, pw) else "replicate"
        x = F.pad(x, (0, pw, 0, ph), mode=mode)
    f = F.pixel_unshuffle(x, 2)
    if core is not None:
        return F.pixel_shuffle(core(f), 2)[..., :h, :w].contiguous()
    if nhwc and f.device.type == "cpu":
        f = f.contiguous(memory_format=torch.channels_last)
    out = F.pixel_shuffle(unet_core(f, net, bottleneck), 2)
    return out[..., :h, :w].contiguous()
