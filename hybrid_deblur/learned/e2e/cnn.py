"""Plain convolutional baselines: S1 DeBlurCNN and S2 multi-scale U-Net.

* :class:`DeBlurCNN` (S1) — the classic tutorial baseline: a convolutional encoder
  (C → 64 → 64, ReLU) and a decoder (64 → C) with a sigmoid output. No skip, no residual:
  it must reproduce the whole image through its bottleneck, which is why it is the
  floor of the zoo.
* :class:`UNet` (S2) — two down / two up blocks (double 3×3 conv + ReLU, max-pool down,
  transposed-conv up) with concatenated skips and a global residual.

Examples
--------
>>> import torch
>>> from hybrid_deblur.learned.e2e.cnn import DeBlurCNN, UNet
>>> DeBlurCNN(channels=1, width=8)(torch.rand(2, 1, 20, 20)).shape
torch.Size([2, 1, 20, 20])
>>> UNet(channels=3, width=8)(torch.rand(1, 3, 22, 26)).shape
torch.Size([1, 3, 22, 26])
"""

from __future__ import annotations

import torch
from torch import nn

from .blocks import E2EModel, check_channels, zero_init

__all__ = ["DeBlurCNN", "UNet"]


class DeBlurCNN(E2EModel):
    """S1: encoder conv(C→w, 9×9) → conv(w→w, 5×5) (ReLU), decoder conv(w→C, 5×5) → sigmoid.

    ``width`` is 64 in the original tutorial (≈0.13 M parameters for colour); ``depth``
    extra 3×3 conv + ReLU layers in the encoder are the "larger" configuration.
    """

    name = "deblurcnn"

    def __init__(self, channels: int = 3, width: int = 64, depth: int = 0):
        super().__init__(channels=check_channels(channels), width=int(width), depth=int(depth))
        layers: list[nn.Module] = [nn.Conv2d(channels, width, 9, padding=4), nn.ReLU(inplace=True),
                                   nn.Conv2d(width, width, 5, padding=2), nn.ReLU(inplace=True)]
        for _ in range(int(depth)):
            layers += [nn.Conv2d(width, width, 3, padding=1), nn.ReLU(inplace=True)]
        self.encoder = nn.Sequential(*layers)
        self.decoder = nn.Conv2d(width, channels, 5, padding=2)

    def _forward(self, y):
        return torch.sigmoid(self.decoder(self.encoder(y)))


def _double(cin: int, cout: int) -> nn.Sequential:
    return nn.Sequential(nn.Conv2d(cin, cout, 3, padding=1), nn.ReLU(inplace=True),
                         nn.Conv2d(cout, cout, 3, padding=1), nn.ReLU(inplace=True))


class UNet(E2EModel):
    """S2: U-Net with two down / two up blocks, concatenated skips, global residual.

    Widths ``w, 2w, 4w`` (bottleneck); ``width=32`` ≈ 0.47 M parameters, ``width=64`` ≈ 1.9 M.
    """

    name = "unet"
    multiple = 4

    def __init__(self, channels: int = 3, width: int = 32):
        super().__init__(channels=check_channels(channels), width=int(width))
        w = int(width)
        self.inc = _double(channels, w)
        self.down1 = nn.Sequential(nn.MaxPool2d(2), _double(w, 2 * w))
        self.down2 = nn.Sequential(nn.MaxPool2d(2), _double(2 * w, 4 * w))
        self.up1 = nn.ConvTranspose2d(4 * w, 2 * w, 2, 2)
        self.dec1 = _double(4 * w, 2 * w)
        self.up2 = nn.ConvTranspose2d(2 * w, w, 2, 2)
        self.dec2 = _double(2 * w, w)
        self.out = zero_init(nn.Conv2d(w, channels, 1))

    def _forward(self, y):
        x1 = self.inc(y)
        x2 = self.down1(x1)
        x3 = self.down2(x2)
        d = self.dec1(torch.cat([self.up1(x3), x2], 1))
        d = self.dec2(torch.cat([self.up2(d), x1], 1))
        return y + self.out(d)
