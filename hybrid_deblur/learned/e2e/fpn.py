"""S9: DeblurGAN-v2 generator — an FPN on a MobileNetV2/V3-like backbone written here.

Kupyn et al., "DeblurGAN-v2" (ICCV 2019), ``fpn_mobilenet``. The backbone is a stack
of inverted residuals (:class:`~hybrid_deblur.learned.e2e.blocks.InvertedResidual`,
h-swish, squeeze-excite, MobileNetV3 style) with feature maps at 1/2 … 1/32. Laterals
(1×1) bring stages 1-4 to ``fpn`` channels (stage 0 to ``head``); the top-down
path adds the upsampled coarser map and smooths it (3×3 conv–IN–ReLU). Each of the
four pyramid levels goes through a head (two 3×3 conv–ReLU → ``head`` channels), is
upsampled to 1/4 and concatenated; a smoothing conv (→ ``head``), ×2 upsampling + lateral 0,
a conv to ``head // 2``, another ×2 and a final 3×3 conv give a residual ``tanh(·)`` added to the input.

No ImageNet weights exist here (DeblurGAN-v2 issue #31: without them SSIM drops), so
the backbone trains from scratch with the rest; its discriminator is
:class:`~hybrid_deblur.learned.e2e.discriminators.MultiScaleDiscriminator`, trained
with RaGAN-LS or WGAN-GP (:mod:`hybrid_deblur.learned.losses`).

Examples
--------
>>> import torch
>>> from hybrid_deblur.learned.e2e.fpn import FPNMobileNet
>>> net = FPNMobileNet(channels=3, fpn=16, head=8, widths=(8, 16, 16, 24, 32))
>>> net(torch.rand(1, 3, 40, 50)).shape
torch.Size([1, 3, 40, 50])
"""

from __future__ import annotations

from typing import Sequence

import torch
from torch import nn
from torch.nn import functional as F

from .blocks import E2EModel, HSwish, InvertedResidual, check_channels, zero_init

__all__ = ["FPNMobileNet"]


def _cnr(cin: int, cout: int) -> nn.Sequential:
    return nn.Sequential(nn.Conv2d(cin, cout, 3, padding=1), nn.InstanceNorm2d(cout, affine=True),
                         nn.ReLU(inplace=True))


class FPNMobileNet(E2EModel):
    """DeblurGAN-v2 FPN generator (see the module notes).

    Parameters
    ----------
    channels : {1, 3}
    widths : sequence of 5 int
        Backbone widths at 1/2, 1/4, 1/8, 1/16, 1/32 (MobileNetV2: 16, 24, 32, 64, 160;
        small default 16, 24, 32, 48, 64).
    depth : int
        Stride-1 inverted residuals after each stride-2 one (MobileNetV2 uses 1-3).
    expand : float
        Expansion ratio of the inverted residuals.
    fpn, head : int
        Pyramid and head channels (DeblurGAN-v2: 128 and 64; small: 48 and 32).
    """

    name = "deblurgan-v2"
    multiple = 32

    def __init__(self, channels: int = 3, widths: Sequence[int] = (16, 24, 32, 48, 64), depth: int = 1,
                 expand: float = 4.0, fpn: int = 48, head: int = 32):
        widths = [int(v) for v in widths]
        if len(widths) != 5:
            raise ValueError(f"widths must give 5 backbone widths (1/2 ... 1/32), got {widths}")
        super().__init__(channels=check_channels(channels), widths=widths, depth=int(depth),
                         expand=float(expand), fpn=int(fpn), head=int(head))
        self.stem = nn.Sequential(nn.Conv2d(channels, widths[0], 3, 2, 1), nn.InstanceNorm2d(widths[0], affine=True),
                                  HSwish(), InvertedResidual(widths[0], widths[0], expand=1, se=False, act="relu"))
        self.stages = nn.ModuleList()
        for i in range(1, 5):
            k = 5 if i >= 2 else 3
            blocks = [InvertedResidual(widths[i - 1], widths[i], expand=expand, kernel=k, stride=2, se=i >= 2)]
            blocks += [InvertedResidual(widths[i], widths[i], expand=expand, kernel=k, se=i >= 2)
                       for _ in range(int(depth))]
            self.stages.append(nn.Sequential(*blocks))
        self.lat0 = nn.Conv2d(widths[0], head, 1, bias=False)
        self.lats = nn.ModuleList(nn.Conv2d(widths[i], fpn, 1, bias=False) for i in range(1, 5))
        self.td = nn.ModuleList(_cnr(fpn, fpn) for _ in range(3))
        self.heads = nn.ModuleList(nn.Sequential(nn.Conv2d(fpn, head, 3, padding=1), nn.ReLU(inplace=True),
                                                 nn.Conv2d(head, head, 3, padding=1), nn.ReLU(inplace=True))
                                   for _ in range(4))
        self.smooth = _cnr(4 * head, head)
        self.smooth2 = _cnr(head, head // 2)
        self.final = zero_init(nn.Conv2d(head // 2, channels, 3, padding=1))

    def _forward(self, y):
        e0 = self.stem(y)
        feats = [e0]
        for st in self.stages:
            feats.append(st(feats[-1]))
        lat = [lt(f) for lt, f in zip(self.lats, feats[1:])]  # 1/4 ... 1/32
        maps = [lat[3]]
        for i in (2, 1, 0):
            up = F.interpolate(maps[0], size=lat[i].shape[-2:], mode="nearest")
            maps.insert(0, self.td[i](lat[i] + up))
        size = maps[0].shape[-2:]
        hs = [F.interpolate(h(m), size=size, mode="nearest") if j else h(m)
              for j, (h, m) in enumerate(zip(self.heads, maps))]
        x = self.smooth(torch.cat(hs, 1))
        x = F.interpolate(x, size=e0.shape[-2:], mode="nearest")
        x = self.smooth2(x + self.lat0(e0))
        x = F.interpolate(x, size=y.shape[-2:], mode="nearest")
        return y + torch.tanh(self.final(x))
