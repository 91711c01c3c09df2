"""S13: multi-scale fusion network (NTIRE 2021 deblurring style).

A pyramid encoder (three scales: 1, 1/2, 1/4) whose stages are residual blocks with
squeeze-and-excitation; the coarser stages also see the down-sampled input (image
pyramid). Cross-scale fusion blocks then give every scale the information of all
others: each source scale is resized to the target, aligned by a 1×1 conv, and the
aligned maps are combined with per-pixel gates (a softmax over the sources of a 1×1
conv on their concatenation) — a gated weighted sum added to the target's own features.
The decoder goes coarse to fine with sub-pixel (PixelShuffle) up-sampling and a global
residual.

Examples
--------
>>> import torch
>>> from hybrid_deblur.learned.e2e.fusion import MultiScaleFusion
>>> MultiScaleFusion(channels=3, width=8, blocks=1)(torch.rand(1, 3, 26, 30)).shape
torch.Size([1, 3, 26, 30])
"""

from __future__ import annotations

import torch
from torch import nn
from torch.nn import functional as F

from .blocks import E2EModel, SqueezeExcite, check_channels, zero_init

__all__ = ["MultiScaleFusion", "CrossScaleFusion"]


class _ResSE(nn.Module):
    def __init__(self, c: int):
        super().__init__()
        self.body = nn.Sequential(nn.Conv2d(c, c, 3, padding=1), nn.LeakyReLU(0.2, inplace=True),
                                  nn.Conv2d(c, c, 3, padding=1), SqueezeExcite(c, 4))

    def forward(self, x):
        return x + self.body(x)


class CrossScaleFusion(nn.Module):
    """Fuse a list of feature maps (fine → coarse) into each scale with gated weighted sums.

    Parameters
    ----------
    widths : sequence of int
        Channels of each scale.
    """

    def __init__(self, widths):
        super().__init__()
        widths = [int(w) for w in widths]
        n = len(widths)
        self.align = nn.ModuleList(nn.ModuleList(nn.Conv2d(widths[j], widths[i], 1) for j in range(n))
                                   for i in range(n))
        self.gate = nn.ModuleList(nn.Conv2d(n * widths[i], n, 1) for i in range(n))

    def forward(self, feats):
        out = []
        for i, f in enumerate(feats):
            al = [self.align[i][j](F.interpolate(g, size=f.shape[-2:], mode="bilinear", align_corners=False)
                                   if g.shape[-2:] != f.shape[-2:] else g)
                  for j, g in enumerate(feats)]
            w = torch.softmax(self.gate[i](torch.cat(al, 1)), dim=1)
            out.append(f + sum(w[:, j:j + 1] * a for j, a in enumerate(al)))
        return out


class MultiScaleFusion(E2EModel):
    """Pyramid encoder with SE, cross-scale gated fusion, PixelShuffle decoder.

    Parameters
    ----------
    channels : {1, 3}
    width : int
        Channels at full scale (2× and 4× at the coarser ones); 24 ≈ 0.5 M parameters.
    blocks : int
        Residual SE blocks per encoder / decoder stage.
    fusions : int
        Stacked cross-scale fusion blocks.
    """

    name = "msfusion"
    multiple = 4

    def __init__(self, channels: int = 3, width: int = 24, blocks: int = 2, fusions: int = 2):
        super().__init__(channels=check_channels(channels), width=int(width), blocks=int(blocks),
                         fusions=int(fusions))
        w = [width, 2 * width, 4 * width]
        self.heads = nn.ModuleList(nn.Conv2d(channels, w[i], 3, padding=1) for i in range(3))
        self.downs = nn.ModuleList(nn.Conv2d(w[i], w[i + 1], 3, 2, 1) for i in range(2))
        self.enc = nn.ModuleList(nn.Sequential(*(_ResSE(c) for _ in range(int(blocks)))) for c in w)
        self.fuse = nn.ModuleList(CrossScaleFusion(w) for _ in range(int(fusions)))
        self.ups = nn.ModuleList(nn.Sequential(nn.Conv2d(w[i + 1], 4 * w[i], 3, padding=1), nn.PixelShuffle(2))
                                 for i in range(2))
        self.dec = nn.ModuleList(nn.Sequential(*(_ResSE(c) for _ in range(int(blocks)))) for c in w[:2])
        self.tail = zero_init(nn.Conv2d(w[0], channels, 3, padding=1))

    def _forward(self, y):
        pyr = [y, F.avg_pool2d(y, 2), F.avg_pool2d(y, 4)]
        feats, x = [], None
        for i in range(3):
            h = self.heads[i](pyr[i])
            x = h if x is None else h + self.downs[i - 1](x)
            x = self.enc[i](x)
            feats.append(x)
        for f in self.fuse:
            feats = f(feats)
        x = feats[2]
        for i in (1, 0):
            x = self.dec[i](self.ups[i](x) + feats[i])
        return y + self.tail(x)
