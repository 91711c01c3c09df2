"""S14: a small Restormer/Swin-style U-shaped Transformer.

Restormer (Zamir et al., CVPR 2022) blocks: ``x + MDTA(LN(x))``, ``x + GDFN(LN(x))``.

* MDTA (multi-Dconv head transposed attention): q, k, v from a 1×1 conv and a 3×3
  depthwise conv; q and k are L2-normalised over the pixels and the attention is the
  C×C matrix ``softmax(q kᵀ · τ)`` per head (learnable temperature τ), so its cost
  is linear in the number of pixels.
* Window attention (``attention="window"``, Swin style): pixels attend within
  non-overlapping ``window``² windows (shifted by half a window in every other
  block), with a learned relative position bias table of ``(2w-1)²`` entries per head.
* GDFN (gated depthwise feed-forward): 1×1 (C → 2·r·C) → 3×3 DW → ``GELU(x₁)·x₂`` → 1×1.

Bias-free convs, down-sampling by conv + PixelUnshuffle, up-sampling by conv +
PixelShuffle, concatenated skips (reduced by 1×1 convs below full scale; the full-scale
decoder and the refinement blocks work on the 2·dim channels of the concat), a global
residual. Large images: MDTA's global statistics make whole-image inference heavy
(Restormer issue #29, OOM above ≈4 MP); :func:`hybrid_deblur.learned.e2e.tiled`
restores in overlapping tiles with a blending window, which is how the registry runs it.

Examples
--------
>>> import torch
>>> from hybrid_deblur.learned.e2e.transformer import Restormer
>>> net = Restormer(channels=3, dim=8, blocks=(1, 1, 1), heads=(1, 2, 4), refinement=1)
>>> net(torch.rand(1, 3, 30, 36)).shape
torch.Size([1, 3, 30, 36])
>>> Restormer(channels=1, dim=8, blocks=(1, 1, 1), heads=(1, 2, 4), attention="window",
...           window=4)(torch.rand(1, 1, 16, 20)).shape
torch.Size([1, 1, 16, 20])
"""

from __future__ import annotations

from typing import Sequence

import torch
from torch import nn
from torch.nn import functional as F

from .blocks import E2EModel, LayerNorm2d, check_channels, zero_init

__all__ = ["Restormer", "MDTA", "WindowAttention", "GDFN"]


class MDTA(nn.Module):
    """Multi-Dconv head transposed (channel) attention."""

    def __init__(self, c: int, heads: int):
        super().__init__()
        if c % heads:
            raise ValueError(f"channels {c} must be divisible by heads {heads}")
        self.heads = heads
        self.temperature = nn.Parameter(torch.ones(heads, 1, 1))
        self.qkv = nn.Conv2d(c, 3 * c, 1, bias=False)
        self.dw = nn.Conv2d(3 * c, 3 * c, 3, padding=1, groups=3 * c, bias=False)
        self.proj = nn.Conv2d(c, c, 1, bias=False)

    def forward(self, x):
        b, c, h, w = x.shape
        q, k, v = self.dw(self.qkv(x)).chunk(3, dim=1)
        q, k, v = (t.reshape(b, self.heads, c // self.heads, h * w) for t in (q, k, v))
        q, k = F.normalize(q.float(), dim=-1), F.normalize(k.float(), dim=-1)
        attn = torch.softmax((q @ k.transpose(-2, -1)) * self.temperature, dim=-1)
        out = (attn.to(v.dtype) @ v).reshape(b, c, h, w)
        return self.proj(out)


class WindowAttention(nn.Module):
    """Swin-style window self-attention with a relative position bias (optional shift)."""

    def __init__(self, c: int, heads: int, window: int = 8, shift: bool = False):
        super().__init__()
        if c % heads:
            raise ValueError(f"channels {c} must be divisible by heads {heads}")
        self.heads, self.window, self.shift = heads, int(window), bool(shift)
        self.qkv = nn.Conv2d(c, 3 * c, 1, bias=False)
        self.dw = nn.Conv2d(3 * c, 3 * c, 3, padding=1, groups=3 * c, bias=False)
        self.proj = nn.Conv2d(c, c, 1, bias=False)
        w = self.window
        self.bias_table = nn.Parameter(torch.zeros(heads, (2 * w - 1) ** 2))
        nn.init.trunc_normal_(self.bias_table, std=0.02)
        coords = torch.stack(torch.meshgrid(torch.arange(w), torch.arange(w), indexing="ij")).flatten(1)
        rel = coords[:, :, None] - coords[:, None, :] + (w - 1)
        self.register_buffer("rel_index", rel[0] * (2 * w - 1) + rel[1], persistent=False)

    def forward(self, x):
        b, c, h, wd = x.shape
        w = self.window
        ph, pw = (-h) % w, (-wd) % w
        t = self.dw(self.qkv(x))
        if ph or pw:
            t = F.pad(t, (0, pw, 0, ph))
        H, W = h + ph, wd + pw
        s = w // 2 if self.shift and min(H, W) > w else 0
        if s:
            t = torch.roll(t, (-s, -s), dims=(-2, -1))
        d = c // self.heads
        t = t.reshape(b, 3, self.heads, d, H // w, w, W // w, w).permute(1, 0, 4, 6, 2, 5, 7, 3)
        q, k, v = t.reshape(3, -1, self.heads, w * w, d)
        bias = self.bias_table[:, self.rel_index.reshape(-1)].reshape(self.heads, w * w, w * w)
        if s:  # shifted windows: pixels wrapped around the border must not attend to each other
            lab = torch.zeros(H, W, device=x.device)
            for i, sl_h in enumerate((slice(0, -w), slice(-w, -s), slice(-s, None))):
                for j, sl_w in enumerate((slice(0, -w), slice(-w, -s), slice(-s, None))):
                    lab[sl_h, sl_w] = 3 * i + j
            lab = lab.reshape(H // w, w, W // w, w).permute(0, 2, 1, 3).reshape(-1, w * w)
            mask = (lab[:, :, None] != lab[:, None, :]).float() * -1e4
            mask = mask.repeat(b, 1, 1)[:, None]
        else:
            mask = 0.0
        out = F.scaled_dot_product_attention(q, k, v, attn_mask=(bias[None] + mask).to(q.dtype))
        out = out.reshape(b, H // w, W // w, self.heads, w, w, d).permute(0, 3, 6, 1, 4, 2, 5)
        out = out.reshape(b, c, H, W)
        if s:
            out = torch.roll(out, (s, s), dims=(-2, -1))
        return self.proj(out[..., :h, :wd])


class GDFN(nn.Module):
    """Gated depthwise feed-forward network (expansion ``ratio``)."""

    def __init__(self, c: int, ratio: float = 2.66):
        super().__init__()
        hid = int(c * ratio)
        self.inp = nn.Conv2d(c, 2 * hid, 1, bias=False)
        self.dw = nn.Conv2d(2 * hid, 2 * hid, 3, padding=1, groups=2 * hid, bias=False)
        self.out = nn.Conv2d(hid, c, 1, bias=False)

    def forward(self, x):
        a, b = self.dw(self.inp(x)).chunk(2, dim=1)
        return self.out(F.gelu(a) * b)


class _Block(nn.Module):
    def __init__(self, c: int, heads: int, ratio: float, attention: str, window: int, shift: bool):
        super().__init__()
        self.n1, self.n2 = LayerNorm2d(c, bias=False), LayerNorm2d(c, bias=False)
        self.attn = MDTA(c, heads) if attention == "mdta" else WindowAttention(c, heads, window, shift)
        self.ffn = GDFN(c, ratio)

    def forward(self, x):
        x = x + self.attn(self.n1(x))
        return x + self.ffn(self.n2(x))


class Restormer(E2EModel):
    """U-shaped Transformer (see the module notes).

    Parameters
    ----------
    channels : {1, 3}
    dim : int
        Channels at full scale (×2 per level). Restormer: 48 (26.1 M); small default 16 (≈1.2 M).
    blocks, heads : sequence of int
        Transformer blocks and attention heads per level (the last entry is the
        bottleneck). Restormer: (4, 6, 6, 8) and (1, 2, 4, 8).
    refinement : int
        Blocks at full scale after the decoder.
    ratio : float
        GDFN expansion.
    attention : {"mdta", "window"}
    window : int
        Window side for ``attention="window"``.
    """

    name = "restormer"

    def __init__(self, channels: int = 3, dim: int = 16, blocks: Sequence[int] = (1, 2, 2, 2),
                 heads: Sequence[int] = (1, 2, 4, 8), refinement: int = 1, ratio: float = 2.66,
                 attention: str = "mdta", window: int = 8):
        blocks, heads = [int(v) for v in blocks], [int(v) for v in heads]
        if len(blocks) != len(heads) or len(blocks) < 2:
            raise ValueError(f"blocks {blocks} and heads {heads} must have the same length >= 2")
        if attention not in ("mdta", "window"):
            raise ValueError(f"attention must be 'mdta' or 'window', got {attention!r}")
        super().__init__(channels=check_channels(channels), dim=int(dim), blocks=blocks, heads=heads,
                         refinement=int(refinement), ratio=float(ratio), attention=attention,
                         window=int(window))
        n = len(blocks)
        self.multiple = 2 ** (n - 1)
        dims = [dim * 2 ** i for i in range(n)]

        def stage(c, nb, nh):
            return nn.Sequential(*(_Block(c, nh, ratio, attention, window, i % 2 == 1) for i in range(nb)))

        self.embed = nn.Conv2d(channels, dim, 3, padding=1, bias=False)
        self.enc = nn.ModuleList(stage(dims[i], blocks[i], heads[i]) for i in range(n - 1))
        self.downs = nn.ModuleList(nn.Sequential(nn.Conv2d(dims[i], dims[i] // 2, 3, padding=1, bias=False),
                                                 nn.PixelUnshuffle(2)) for i in range(n - 1))
        self.latent = stage(dims[-1], blocks[-1], heads[-1])
        self.ups = nn.ModuleList(nn.Sequential(nn.Conv2d(dims[i + 1], dims[i + 1] * 2, 3, padding=1, bias=False),
                                               nn.PixelShuffle(2)) for i in range(n - 1))
        # as Restormer: the full-scale decoder and refinement keep the 2·dim channels of the concat
        self.reduce = nn.ModuleList([nn.Identity()] + [nn.Conv2d(2 * dims[i], dims[i], 1, bias=False)
                                                       for i in range(1, n - 1)])
        self.dec = nn.ModuleList(stage(dims[i] * (2 if i == 0 else 1), blocks[i], heads[i]) for i in range(n - 1))
        self.refine = stage(2 * dim, int(refinement), heads[0])
        self.out = zero_init(nn.Conv2d(2 * dim, channels, 3, padding=1, bias=False))

    def _forward(self, y):
        x = self.embed(y)
        skips = []
        for enc, down in zip(self.enc, self.downs):
            x = enc(x)
            skips.append(x)
            x = down(x)
        x = self.latent(x)
        for i in reversed(range(len(self.dec))):
            x = self.dec[i](self.reduce[i](torch.cat([self.ups[i](x), skips[i]], 1)))
        return y + self.out(self.refine(x))
