"""S3: SRGAN-style DeblurGAN generator (its discriminator is in :mod:`.discriminators`).

Kupyn et al., "DeblurGAN" (CVPR 2018) with the SRGAN generator of Ledig et al. (CVPR
2017): a 9×9 head with PReLU, ``blocks`` residual blocks (conv–BN–PReLU–conv–BN), a
3×3 conv–BN fusing the trunk with the head's features, and a 9×9 tail with ``tanh``.
The tail predicts a residual in [-1, 1] that is added to the blurred input (DeblurGAN's
global skip). Trained with L1 + perceptual content loss and a strided LeakyReLU(0.2)
discriminator (:class:`~hybrid_deblur.learned.e2e.discriminators.StridedDiscriminator`).

Examples
--------
>>> import torch
>>> from hybrid_deblur.learned.e2e.srgan import DeblurGANGenerator
>>> g = DeblurGANGenerator(channels=3, width=8, blocks=2)
>>> g(torch.rand(1, 3, 24, 24)).shape
torch.Size([1, 3, 24, 24])
"""

from __future__ import annotations

import torch
from torch import nn

from .blocks import E2EModel, check_channels, zero_init

__all__ = ["DeblurGANGenerator"]


def _norm(kind: str, c: int) -> nn.Module:
    if kind == "batch":
        return nn.BatchNorm2d(c)
    if kind == "instance":
        return nn.InstanceNorm2d(c, affine=True)
    if kind == "none":
        return nn.Identity()
    raise ValueError(f"norm must be 'batch', 'instance' or 'none', got {kind!r}")


class _ResBlock(nn.Module):
    def __init__(self, c: int, norm: str):
        super().__init__()
        self.body = nn.Sequential(nn.Conv2d(c, c, 3, padding=1), _norm(norm, c), nn.PReLU(c),
                                  nn.Conv2d(c, c, 3, padding=1), _norm(norm, c))

    def forward(self, x):
        return x + self.body(x)


class DeblurGANGenerator(E2EModel):
    """SRGAN-style generator (see the module notes).

    Parameters
    ----------
    channels : {1, 3}
    width : int
        Feature channels (64 in SRGAN; 32 is the small CPU configuration, ≈0.33 M).
    blocks : int
        Residual blocks (16 in SRGAN).
    norm : {"batch", "instance", "none"}
        Normalisation in the residual blocks (SRGAN: batch).
    """

    name = "deblurgan"

    def __init__(self, channels: int = 3, width: int = 32, blocks: int = 16, norm: str = "batch"):
        super().__init__(channels=check_channels(channels), width=int(width), blocks=int(blocks),
                         norm=str(norm))
        _norm(norm, 1)
        self.head = nn.Sequential(nn.Conv2d(channels, width, 9, padding=4), nn.PReLU(width))
        self.trunk = nn.Sequential(*(_ResBlock(width, norm) for _ in range(int(blocks))))
        self.fuse = nn.Sequential(nn.Conv2d(width, width, 3, padding=1), _norm(norm, width))
        self.tail = zero_init(nn.Conv2d(width, channels, 9, padding=4))

    def _forward(self, y):
        h = self.head(y)
        h = h + self.fuse(self.trunk(h))
        return y + torch.tanh(self.tail(h))
