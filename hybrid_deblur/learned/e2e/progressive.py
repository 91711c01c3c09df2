"""S15: progressive GAN generator — a residual-dense-block encoder–decoder.

The generator is a three-scale encoder–decoder whose stages are residual dense blocks
(:class:`~hybrid_deblur.learned.e2e.blocks.RDB`, five densely connected convs each):
strided-conv down-sampling, sub-pixel up-sampling, additive skips and a global
residual. It is trained progressively by :mod:`hybrid_deblur.learned.gan`: an L1
pre-training stage, then an adversarial fine-tune against a PatchGAN
(:class:`~hybrid_deblur.learned.e2e.discriminators.PatchDiscriminator`) with the loss
``0.7·L1 + 0.2·perceptual + 0.1·adversarial`` plus an FFT (frequency) term, and an EMA
of the generator weights is what ships.

Examples
--------
>>> import torch
>>> from hybrid_deblur.learned.e2e.progressive import RDBUNet
>>> RDBUNet(channels=1, width=8, growth=4)(torch.rand(1, 1, 18, 22)).shape
torch.Size([1, 1, 18, 22])
"""

from __future__ import annotations

from torch import nn

from .blocks import RDB, E2EModel, check_channels, zero_init

__all__ = ["RDBUNet"]


class RDBUNet(E2EModel):
    """RDB encoder–decoder (see the module notes).

    Parameters
    ----------
    channels : {1, 3}
    width : int
        Channels at full scale (×2, ×4 at 1/2, 1/4); 24 ≈ 0.6 M parameters.
    growth : int
        Growth rate of the dense layers.
    middle : int
        RDBs at the coarsest scale.
    """

    name = "progressive-gan"
    multiple = 4

    def __init__(self, channels: int = 3, width: int = 24, growth: int = 16, middle: int = 2):
        super().__init__(channels=check_channels(channels), width=int(width), growth=int(growth),
                         middle=int(middle))
        w = [width, 2 * width, 4 * width]
        self.head = nn.Conv2d(channels, w[0], 3, padding=1)
        self.enc = nn.ModuleList(RDB(w[i], growth) for i in range(2))
        self.downs = nn.ModuleList(nn.Conv2d(w[i], w[i + 1], 3, 2, 1) for i in range(2))
        self.mid = nn.Sequential(*(RDB(w[2], growth) for _ in range(int(middle))))
        self.ups = nn.ModuleList(nn.Sequential(nn.Conv2d(w[i + 1], 4 * w[i], 1), nn.PixelShuffle(2))
                                 for i in range(2))
        self.dec = nn.ModuleList(RDB(w[i], growth) for i in range(2))
        self.tail = zero_init(nn.Conv2d(w[0], channels, 3, padding=1))

    def _forward(self, y):
        x = self.head(y)
        skips = []
        for enc, down in zip(self.enc, self.downs):
            x = enc(x)
            skips.append(x)
            x = down(x)
        x = self.mid(x)
        for i in (1, 0):
            x = self.dec[i](self.ups[i](x) + skips[i])
        return y + self.tail(x)
