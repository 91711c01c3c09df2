"""Discriminators of the zoo's GANs (S3, S9, S15).

* :class:`StridedDiscriminator` (S3, SRGAN/DeblurGAN): 3×3 convs alternating stride 1/2,
  BN, LeakyReLU(0.2), doubling the width at each stride; global pooling → 1×1 → one
  score per image (size-agnostic instead of SRGAN's fixed dense layer).
* :class:`PatchDiscriminator` (S15, pix2pix PatchGAN; S9 local branch): 4×4 stride-2
  convs with instance norm, one score per ≈70×70 patch.
* :class:`MultiScaleDiscriminator` (S9, DeblurGAN-v2 "double-scale"): a PatchGAN on the
  image and a deeper full-image discriminator; both score maps are returned.

All return raw scores (no sigmoid): the adversarial losses of
:mod:`hybrid_deblur.learned.losses` (LSGAN, RaGAN-LS, WGAN-GP) take logits/critic values.

Examples
--------
>>> import torch
>>> from hybrid_deblur.learned.e2e.discriminators import PatchDiscriminator, MultiScaleDiscriminator
>>> PatchDiscriminator(3, width=8)(torch.rand(2, 3, 64, 64)).shape
torch.Size([2, 1, 6, 6])
>>> [s.shape[0] for s in MultiScaleDiscriminator(3, width=8)(torch.rand(2, 3, 64, 64))]
[2, 2]
"""

from __future__ import annotations

import torch
from torch import nn

from .blocks import check_channels

__all__ = ["StridedDiscriminator", "PatchDiscriminator", "MultiScaleDiscriminator", "DISCRIMINATORS",
           "build_discriminator"]


class StridedDiscriminator(nn.Module):
    """SRGAN discriminator: ``stages`` pairs of 3×3 convs (stride 1, 2), LReLU 0.2."""

    def __init__(self, channels: int = 3, width: int = 32, stages: int = 4, norm: bool = True):
        super().__init__()
        check_channels(channels)
        layers: list[nn.Module] = [nn.Conv2d(channels, width, 3, padding=1), nn.LeakyReLU(0.2)]
        c = width
        for s in range(int(stages)):
            cout = width * 2 ** s
            if s:
                layers += [nn.Conv2d(c, cout, 3, padding=1),
                           nn.BatchNorm2d(cout) if norm else nn.Identity(), nn.LeakyReLU(0.2)]
            layers += [nn.Conv2d(cout, cout, 3, stride=2, padding=1),
                       nn.BatchNorm2d(cout) if norm else nn.Identity(), nn.LeakyReLU(0.2)]
            c = cout
        self.features = nn.Sequential(*layers)
        self.head = nn.Sequential(nn.AdaptiveAvgPool2d(1), nn.Conv2d(c, 2 * c, 1), nn.LeakyReLU(0.2),
                                  nn.Conv2d(2 * c, 1, 1))

    def forward(self, x):
        return self.head(self.features(x)).flatten(1)


class PatchDiscriminator(nn.Module):
    """PatchGAN: ``layers`` 4×4 stride-2 convs (IN, LReLU 0.2), then two 4×4 stride-1 convs."""

    def __init__(self, channels: int = 3, width: int = 32, layers: int = 3, norm: bool = True):
        super().__init__()
        check_channels(channels)
        seq: list[nn.Module] = [nn.Conv2d(channels, width, 4, 2, 1), nn.LeakyReLU(0.2)]
        c = width
        for i in range(1, int(layers)):
            cout = width * min(2 ** i, 8)
            seq += [nn.Conv2d(c, cout, 4, 2, 1),
                    nn.InstanceNorm2d(cout, affine=True) if norm else nn.Identity(), nn.LeakyReLU(0.2)]
            c = cout
        cout = width * min(2 ** int(layers), 8)
        seq += [nn.Conv2d(c, cout, 4, 1, 1), nn.InstanceNorm2d(cout, affine=True) if norm else nn.Identity(),
                nn.LeakyReLU(0.2), nn.Conv2d(cout, 1, 4, 1, 1)]
        self.body = nn.Sequential(*seq)

    def forward(self, x):
        return self.body(x)


class MultiScaleDiscriminator(nn.Module):
    """DeblurGAN-v2 double-scale D: a 3-layer PatchGAN and a ``full_layers``-layer full-image D.

    DeblurGAN-v2 uses 5 stride-2 layers on 256² crops; the default 4 suits 128² crops
    (the full branch needs inputs of at least ``2 ** full_layers · 4`` pixels). Returns a list ``[patch_scores, full_scores]``; the losses average over the list.
    """

    def __init__(self, channels: int = 3, width: int = 32, norm: bool = True, full_layers: int = 4):
        super().__init__()
        self.local = PatchDiscriminator(channels, width, layers=3, norm=norm)
        self.full = nn.Sequential(PatchDiscriminator(channels, width, layers=int(full_layers), norm=norm),
                                  nn.AdaptiveAvgPool2d(1))

    def forward(self, x):
        return [self.local(x), self.full(x).flatten(1)]


DISCRIMINATORS = {"strided": StridedDiscriminator, "patch": PatchDiscriminator,
                  "multiscale": MultiScaleDiscriminator}


def build_discriminator(kind: str, **config) -> nn.Module:
    """Discriminator ``kind`` (one of :data:`DISCRIMINATORS`) built with ``config``."""
    if kind not in DISCRIMINATORS:
        raise ValueError(f"discriminator kind={kind!r} is unknown; known: {', '.join(sorted(DISCRIMINATORS))}")
    return DISCRIMINATORS[kind](**config)
