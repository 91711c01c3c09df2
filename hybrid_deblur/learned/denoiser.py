"""A learned Gaussian denoiser prior: a small bias-free DRUNet with a noise-level map.

:class:`DRUNet` follows DRUNet (Zhang et al., DPIR, 2021): a U-Net of residual blocks,
2x2 strided convolutions down, 2x2 transposed convolutions up, additive skips, no
normalisation, **no biases**, and the noise level given as an extra input map. It is
scaled down for the CPU (0.5-2 M parameters instead of 32 M): the image is first
pixel-unshuffled (2x2 space-to-depth, as in FFDNet), so every convolution runs at
half resolution or less, and the output is ``x + r(x, σ)`` (residual).

Being bias-free and ReLU, the network is positively homogeneous:
``D(a x, a σ) = a D(x, σ)`` for ``a > 0`` — the property that lets DRUNet generalise
across noise levels and brightness. A test checks it.

The denoiser is the z-step of plug-and-play HQS (:mod:`hybrid_deblur.learned.pnp`);
the noise level there is the HQS splitting level :math:`\\sqrt{\\lambda/\\mu_k}`.

Examples
--------
>>> import torch
>>> from hybrid_deblur.learned.denoiser import DRUNet
>>> net = DRUNet(channels=1, widths=(8, 16, 32), blocks=1)
>>> x = torch.rand(2, 1, 30, 34)
>>> net(x, 0.1).shape
torch.Size([2, 1, 30, 34])
>>> bool(torch.equal(net(x, 0.1), x))   # zero-initialised tail: starts as the identity
True
"""

from __future__ import annotations

from typing import Any, Sequence

import torch
from torch import nn
from torch.nn import functional as F

from .layers import unet_forward

__all__ = ["DRUNet", "noise_map", "SIGMA_MAX", "colour_from_gray"]

#: largest noise level the shipped denoisers were trained for (on the [0, 1] scale)
SIGMA_MAX = 50 / 255


def _conv(cin: int, cout: int) -> nn.Conv2d:
    return nn.Conv2d(cin, cout, 3, padding=1, bias=False)


class _ResBlock(nn.Module):
    def __init__(self, ch: int):
        super().__init__()
        self.c1, self.c2 = _conv(ch, ch), _conv(ch, ch)

    def forward(self, x):
        return x + self.c2(F.relu(self.c1(x)))


def noise_map(sigma: Any, x: torch.Tensor) -> torch.Tensor:
    """σ as a (B, 1, H, W) map for ``x`` of shape (B, C, H, W).

    ``sigma``: a float, a (B,) tensor / sequence, or already a map (B, 1, H, W).
    """
    if torch.is_tensor(sigma) and sigma.ndim == 4:
        if sigma.shape[0] not in (1, x.shape[0]) or sigma.shape[1] != 1 or sigma.shape[-2:] != x.shape[-2:]:
            raise ValueError(f"sigma map must have shape (B, 1, H, W) = ({x.shape[0]}, 1, "
                             f"{x.shape[-2]}, {x.shape[-1]}); got {tuple(sigma.shape)}")
        s = sigma.to(device=x.device, dtype=x.dtype)
        return s.expand(x.shape[0], 1, *x.shape[-2:])
    s = torch.as_tensor(sigma, dtype=x.dtype, device=x.device).reshape(-1)
    if s.numel() == 1:
        s = s.expand(x.shape[0])
    if s.numel() != x.shape[0]:
        raise ValueError(f"sigma must be a float, one value per batch entry ({x.shape[0]}) or a "
                         f"(B, 1, H, W) map; got {s.numel()} values")
    if not bool(torch.isfinite(s).all()) or bool((s < 0).any()):
        raise ValueError(f"sigma must be finite and >= 0 (noise std on the [0, 1] scale), got {sigma!r}")
    return s.reshape(-1, 1, 1, 1).expand(x.shape[0], 1, *x.shape[-2:])


class DRUNet(nn.Module):
    """Bias-free residual U-Net denoiser with a noise-level input map.

    Parameters
    ----------
    channels : int
        Image channels (1 gray, 3 colour).
    widths : sequence of int
        Feature widths per scale (after the 2x2 pixel unshuffle); ``len(widths) - 1``
        down-sampling steps.
    blocks : int
        Residual blocks per scale in the encoder, the decoder and the bottleneck.

    Notes
    -----
    ``forward(x, sigma)`` returns :math:`x + r_\\theta([x, \\sigma])`. Inputs of any size
    are accepted (reflect-padded to a multiple of ``2 ** len(widths)``, output cropped).
    The last convolution starts at zero, so an untrained network is the identity.
    """

    name = "drunet"

    def __init__(self, channels: int = 1, widths: Sequence[int] = (32, 64, 128, 192), blocks: int = 1):
        super().__init__()
        ch = [int(c) for c in widths]
        if int(channels) not in (1, 3):
            raise ValueError(f"channels must be 1 or 3, got {channels!r}")
        if not ch or any(c < 1 for c in ch):
            raise ValueError(f"widths must be a non-empty list of positive ints, got {widths!r}")
        if int(blocks) < 1:
            raise ValueError(f"blocks must be >= 1, got {blocks!r}")
        self.config = {"channels": int(channels), "widths": ch, "blocks": int(blocks)}
        self.channels, self.levels = int(channels), len(ch)
        self.head = _conv(4 * (self.channels + 1), ch[0])
        self.enc = nn.ModuleList(nn.Sequential(*[_ResBlock(ch[i]) for _ in range(blocks)])
                                 for i in range(len(ch) - 1))
        self.down = nn.ModuleList(nn.Conv2d(ch[i], ch[i + 1], 2, stride=2, bias=False)
                                  for i in range(len(ch) - 1))
        self.body = nn.Sequential(*[_ResBlock(ch[-1]) for _ in range(blocks)])
        self.up = nn.ModuleList(nn.ConvTranspose2d(ch[i + 1], ch[i], 2, stride=2, bias=False)
                                for i in reversed(range(len(ch) - 1)))
        self.dec = nn.ModuleList(nn.Sequential(*[_ResBlock(ch[i]) for _ in range(blocks)])
                                 for i in reversed(range(len(ch) - 1)))
        self.tail = _conv(ch[0], 4 * self.channels)
        for m in self.modules():
            if isinstance(m, (nn.Conv2d, nn.ConvTranspose2d)):
                nn.init.kaiming_normal_(m.weight, nonlinearity="relu")
                m.weight.data.mul_(0.5)
        nn.init.zeros_(self.tail.weight)

    def residual(self, inp: torch.Tensor, core: Any = None) -> torch.Tensor:
        """The residual ``r`` of an input ``[x, σ map]`` of shape (B, C + 1, H, W).

        ``core``: another engine for the U-Net proper (see :func:`~.layers.unet_forward`),
        e.g. :func:`hybrid_deblur.learned.denoiser_onnx.onnx_core` of this network.
        """
        return unet_forward(inp, self, self.body, nhwc=True, core=core)

    def forward(self, x: torch.Tensor, sigma: Any = 0.0, *, core: Any = None) -> torch.Tensor:
        if not torch.is_tensor(x) or x.ndim != 4:
            raise ValueError(f"x must be a tensor of shape (B, C, H, W), got shape "
                             f"{tuple(getattr(x, 'shape', ()))}")
        if x.shape[1] != self.channels:
            if self.channels == 3 and x.shape[1] == 1:  # gray through the colour model
                return self.forward(x.expand(-1, 3, -1, -1), sigma, core=core).mean(1, keepdim=True)
            if self.channels == 1:  # colour through the gray model, channel by channel
                b, c = x.shape[:2]
                s = noise_map(sigma, x)
                out = self.forward(x.reshape(b * c, 1, *x.shape[-2:]),
                                   s.repeat_interleave(c, dim=0), core=core)
                return out.reshape(x.shape)
            raise ValueError(f"this denoiser takes {self.channels}-channel images, got {x.shape[1]}")
        smap = noise_map(sigma, x)
        r = self.residual(torch.cat([x, smap], dim=1), core)
        return x + r.to(x.dtype)


def colour_from_gray(gray: DRUNet) -> DRUNet:
    """A 3-channel :class:`DRUNet` that starts as ``gray`` on the luminance plane.

    The warm start of a colour denoiser from trained gray weights: the body is copied,
    the head reads the orthonormal luminance ``L = (R + G + B) / √3`` (the gray head's
    image weights divided by √3 on each of R, G, B; its noise-map weights unchanged: ``L``
    has the noise std of one channel), and the tail adds the gray residual back as
    ``r(L) / √3`` to every channel.

    Parameters
    ----------
    gray : DRUNet
        A 1-channel denoiser.

    Returns
    -------
    DRUNet
        ``colour(x, σ) = x + (gray(L, σ) - L) / √3`` for every channel: the luminance part
        of the gray model on opponent planes (``pnp.OPPONENT``), chroma not yet denoised.

    Examples
    --------
    >>> import torch
    >>> g = DRUNet(1, widths=(8, 16))
    >>> _ = torch.nn.init.normal_(g.tail.weight, std=0.01)
    >>> c = colour_from_gray(g)
    >>> x = torch.rand(1, 3, 16, 16)
    >>> lum = x.sum(1, keepdim=True) / 3 ** 0.5
    >>> bool(torch.allclose(c(x, 0.1), x + (g(lum, 0.1) - lum) / 3 ** 0.5, atol=1e-6))
    True
    """
    if not isinstance(gray, DRUNet) or gray.channels != 1:
        raise ValueError(f"gray must be a 1-channel DRUNet, got "
                         f"{type(gray).__name__} with {getattr(gray, 'channels', '?')} channel(s)")
    cfg = dict(gray.config, channels=3)
    out = DRUNet(**cfg).to(device=gray.tail.weight.device, dtype=gray.tail.weight.dtype)
    sd = {k: v.detach().clone() for k, v in gray.state_dict().items()}
    r3 = 3 ** 0.5
    hw = sd["head.weight"]  # (w0, 8, 3, 3): unshuffled [x (4 sub-pixels), sigma (4)]
    sd["head.weight"] = torch.cat([hw[:, :4] / r3] * 3 + [hw[:, 4:]], dim=1)
    tw = sd["tail.weight"]  # (4, w0, 3, 3): the 4 sub-pixels of one channel
    sd["tail.weight"] = torch.cat([tw / r3] * 3, dim=0)
    out.load_state_dict(sd)
    return out
