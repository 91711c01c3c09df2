"""NAFNet-style baseline: simple gates, layer norm, simplified channel attention.

Chen et al., "Simple Baselines for Image Restoration" (ECCV 2022). Block:
``LN → 1×1 (c→2c) → 3×3 DW → SimpleGate → SCA → 1×1 → x + β·``, then
``LN → 1×1 (c→2c) → SimpleGate → 1×1 → + γ·`` (β, γ zero-initialised, so a fresh
block is the identity). U-shaped: 2×2 stride-2 conv down, 1×1 + PixelShuffle up,
additive skips, global residual. The original width-32 model has ≈17 M parameters;
the small default here (width 16, enc (1, 1, 2), middle 2) has ≈0.3 M and the
``configs/e2e_nafnet.toml`` "large" table gives width 32 / enc (1, 1, 1, 28).

Global average pooling in SCA sees the whole image at test time but only a crop
during training ("train-test inconsistency", NAFNet issue #21); ``tlc=True`` replaces
it at inference by a local average over a window of 1.5× the training crop (TLC).

Examples
--------
>>> import torch
>>> from hybrid_deblur.learned.e2e.nafnet import NAFNet
>>> net = NAFNet(channels=3, width=8, enc_blocks=(1, 1), middle_blocks=1, dec_blocks=(1, 1))
>>> net(torch.rand(1, 3, 30, 34)).shape
torch.Size([1, 3, 30, 34])
"""

from __future__ import annotations

from typing import Sequence

import torch
from torch import nn
from torch.nn import functional as F

from .blocks import E2EModel, LayerNorm2d, check_channels, zero_init

__all__ = ["NAFNet", "NAFBlock", "SimpleGate"]


class SimpleGate(nn.Module):
    """Split the channels in two halves and multiply them."""

    def forward(self, x):
        a, b = x.chunk(2, dim=1)
        return a * b


class _SCA(nn.Module):
    """Simplified channel attention: ``x * conv1x1(pool(x))`` (global or local pool)."""

    def __init__(self, c: int):
        super().__init__()
        self.conv = nn.Conv2d(c, c, 1)
        self.local: int | None = None  # TLC window (inference only)

    def forward(self, x):
        if self.local is None or (x.shape[-2] <= self.local and x.shape[-1] <= self.local):
            s = F.adaptive_avg_pool2d(x, 1)
        else:
            k = (min(self.local, x.shape[-2]), min(self.local, x.shape[-1]))
            s = F.avg_pool2d(x, k, stride=1, count_include_pad=False)
            ph, pw = x.shape[-2] - s.shape[-2], x.shape[-1] - s.shape[-1]
            s = F.pad(s, (pw // 2, pw - pw // 2, ph // 2, ph - ph // 2), mode="replicate")
        return x * self.conv(s)


class NAFBlock(nn.Module):
    """One NAFNet block (see the module notes)."""

    def __init__(self, c: int, dw_expand: int = 2, ffn_expand: int = 2):
        super().__init__()
        dw = c * dw_expand
        self.norm1 = LayerNorm2d(c)
        self.conv1 = nn.Conv2d(c, dw, 1)
        self.conv2 = nn.Conv2d(dw, dw, 3, padding=1, groups=dw)
        self.gate = SimpleGate()
        self.sca = _SCA(dw // 2)
        self.conv3 = nn.Conv2d(dw // 2, c, 1)
        self.norm2 = LayerNorm2d(c)
        ff = c * ffn_expand
        self.conv4 = nn.Conv2d(c, ff, 1)
        self.conv5 = nn.Conv2d(ff // 2, c, 1)
        self.beta = nn.Parameter(torch.zeros(1, c, 1, 1))
        self.gamma = nn.Parameter(torch.zeros(1, c, 1, 1))

    def forward(self, x):
        h = self.conv3(self.sca(self.gate(self.conv2(self.conv1(self.norm1(x))))))
        x = x + self.beta * h
        h = self.conv5(self.gate(self.conv4(self.norm2(x))))
        return x + self.gamma * h


class NAFNet(E2EModel):
    """NAFNet U-Net (image restoration baseline without nonlinear activations).

    Parameters
    ----------
    channels : {1, 3}
    width : int
        Channels of the first scale (doubled at each down-sampling).
    enc_blocks, dec_blocks : sequence of int
        Blocks per encoder / decoder scale (same length).
    middle_blocks : int
        Blocks at the coarsest scale.
    tlc_window : int
        Local pooling window used by :meth:`set_tlc` (1.5× the training crop).
    """

    name = "nafnet"

    def __init__(self, channels: int = 3, width: int = 16, enc_blocks: Sequence[int] = (1, 1, 2),
                 middle_blocks: int = 2, dec_blocks: Sequence[int] = (1, 1, 1),
                 tlc_window: int = 192):
        enc_blocks, dec_blocks = [int(v) for v in enc_blocks], [int(v) for v in dec_blocks]
        super().__init__(channels=check_channels(channels), width=int(width), enc_blocks=enc_blocks,
                         middle_blocks=int(middle_blocks), dec_blocks=dec_blocks,
                         tlc_window=int(tlc_window))
        if len(enc_blocks) != len(dec_blocks):
            raise ValueError(f"enc_blocks {enc_blocks} and dec_blocks {dec_blocks} must have the "
                             "same length (one entry per scale)")
        self.multiple = 2 ** len(enc_blocks)
        self.intro = nn.Conv2d(channels, width, 3, padding=1)
        self.ending = zero_init(nn.Conv2d(width, channels, 3, padding=1))
        self.encoders, self.downs = nn.ModuleList(), nn.ModuleList()
        self.decoders, self.ups = nn.ModuleList(), nn.ModuleList()
        c = width
        for n in enc_blocks:
            self.encoders.append(nn.Sequential(*(NAFBlock(c) for _ in range(n))))
            self.downs.append(nn.Conv2d(c, 2 * c, 2, 2))
            c *= 2
        self.middle = nn.Sequential(*(NAFBlock(c) for _ in range(int(middle_blocks))))
        for n in dec_blocks:
            self.ups.append(nn.Sequential(nn.Conv2d(c, 2 * c, 1, bias=False), nn.PixelShuffle(2)))
            c //= 2
            self.decoders.append(nn.Sequential(*(NAFBlock(c) for _ in range(n))))

    def set_tlc(self, enabled: bool = True) -> "NAFNet":
        """Switch test-time local converter (local SCA pooling) on or off; returns self."""
        win = self.config["tlc_window"]
        for i, m in enumerate(self.modules()):
            if isinstance(m, _SCA):
                m.local = None
        if enabled:
            level = {}
            for s, enc in enumerate(self.encoders):
                for m in enc.modules():
                    if isinstance(m, _SCA):
                        level[id(m)] = s
            for m in self.middle.modules():
                if isinstance(m, _SCA):
                    level[id(m)] = len(self.encoders)
            for s, dec in enumerate(self.decoders):
                for m in dec.modules():
                    if isinstance(m, _SCA):
                        level[id(m)] = len(self.decoders) - 1 - s
            for m in self.modules():
                if isinstance(m, _SCA):
                    m.local = max(1, win >> level[id(m)])
        return self

    def _forward(self, y):
        x = self.intro(y)
        skips = []
        for enc, down in zip(self.encoders, self.downs):
            x = enc(x)
            skips.append(x)
            x = down(x)
        x = self.middle(x)
        for dec, up, skip in zip(self.decoders, self.ups, reversed(skips)):
            x = dec(up(x) + skip)
        return y + self.ending(x)
