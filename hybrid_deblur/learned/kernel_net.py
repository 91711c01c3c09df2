"""Learned blur-kernel estimator: blurred gray image -> normalised, centred PSF (up to 65 x 65).

Two streams read a gray crop of the blurred image (linear light):

* the **autocorrelation stream** sees the (unbiased) autocorrelation of the crop's
  gradients at lags ``-(K-1) .. K-1`` (channels R_xx, R_yy, R_xy, normalised by
  R_xx(0) + R_yy(0)). For a spatially invariant blur and roughly white image
  gradients, ``R ≈ (k ⋆ k) * R_∇x``: it carries the kernel's size and shape but not
  its orientation sign. A small U-Net maps it (stride 2 in lag, which lines the
  kernel's extent up with the output grid) to ``K x K`` logits;
* the **image stream** (strided convolutions, mean + std pooling) modulates the
  U-Net bottleneck (FiLM), so the network can tell ``k`` from its 180° flip.

A softmax over the grid makes the output non-negative with sum 1. Crops are pooled:
the autocorrelations and the image features are averaged over all crops of an image
before the decoder, so any image size gives one kernel.

Training (:mod:`hybrid_deblur.learned.train_kernel_net`) uses kernels centred by their
integer centroid, a kernel loss that accepts the 180° flip and a re-blur loss.

Examples
--------
>>> import numpy as np, torch
>>> from hybrid_deblur.learned.kernel_net import KernelNet, predict_kernel
>>> net = KernelNet(ksize=17, crop=48, width=8).eval()
>>> y = np.random.default_rng(0).random((80, 96))
>>> k = predict_kernel(net, y)
>>> k.shape, bool(abs(k.sum() - 1) < 1e-5), bool((k >= 0).all())
((17, 17), True, True)
"""

from __future__ import annotations

import math
from pathlib import Path
from typing import Any

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from .. import backend as B

__all__ = [
    "SHIPPED_NAME",
    "KernelNet",
    "crop_grid",
    "estimate_kernel_learned",
    "gradient_autocorr",
    "load_kernel_net",
    "predict_kernel",
]

#: stem of the shipped weight file in ``hybrid_deblur/learned/weights``
SHIPPED_NAME = "kernel_net_gray"


def gradient_autocorr(y: torch.Tensor, ksize: int) -> torch.Tensor:
    """Unbiased autocorrelations of the gradients of crops ``y`` (N, 1, h, w).

    Returns (N, 3, 2K-1, 2K-1): R_xx, R_yy, R_xy at lags ``-(K-1) .. K-1``, divided by
    ``R_xx(0) + R_yy(0)``. Computed in float32 (FFT through :mod:`hybrid_deblur.backend`).
    """
    y = y.float()
    gx = y[..., :-1, 1:] - y[..., :-1, :-1]
    gy = y[..., 1:, :-1] - y[..., :-1, :-1]
    g = torch.cat([gx, gy], dim=1)
    g = g - g.mean(dim=(-2, -1), keepdim=True)
    h, w = g.shape[-2:]
    L = ksize - 1
    if L >= min(h, w):
        raise ValueError(f"crops of {h + 1}x{w + 1} pixels are too small for ksize={ksize}; "
                         f"accepted: crops larger than ksize")
    s = (B.next_fast_shape((h + L, w + L)))
    G = B.rfftn(g, s=s, axes=(-2, -1))
    Gx, Gy = G[:, :1], G[:, 1:]
    spec = torch.cat([Gx * Gx.conj(), Gy * Gy.conj(), Gx * Gy.conj()], dim=1)
    R = B.irfftn(spec, s=s, axes=(-2, -1))
    R = torch.roll(R, shifts=(L, L), dims=(-2, -1))[..., : 2 * L + 1, : 2 * L + 1]
    oy = h - torch.abs(torch.arange(-L, L + 1, device=y.device, dtype=R.dtype))
    ox = w - torch.abs(torch.arange(-L, L + 1, device=y.device, dtype=R.dtype))
    R = R / (oy[:, None] * ox[None, :])
    z = (R[:, 0, L, L] + R[:, 1, L, L]).clamp_min(1e-12)
    return R / z[:, None, None, None]


def _conv(cin, cout, stride=1):
    return nn.Sequential(nn.Conv2d(cin, cout, 3, stride, 1), nn.LeakyReLU(0.1, inplace=True))


class KernelNet(nn.Module):
    """Kernel estimator network (see the module docstring).

    Parameters
    ----------
    ksize : int
        Odd output kernel size (default 65).
    crop : int
        Side of the crops the network reads (default 112).
    width : int
        Channels of the first level (the levels use 1x, 2x, 4x, 6x).
    """

    name = "kernel-net"

    def __init__(self, ksize: int = 65, crop: int = 112, width: int = 32):
        super().__init__()
        if int(ksize) < 5 or int(ksize) % 2 == 0:
            raise ValueError(f"ksize={ksize!r} must be an odd int >= 5")
        if int(crop) <= int(ksize):
            raise ValueError(f"crop={crop!r} must exceed ksize={ksize!r}")
        self.ksize, self.crop, self.width = int(ksize), int(crop), int(width)
        self.config = {"ksize": self.ksize, "crop": self.crop, "width": self.width}
        c = self.width
        self.e1 = nn.Sequential(_conv(3, c), _conv(c, c))
        self.e2 = nn.Sequential(_conv(c, 2 * c, 2), _conv(2 * c, 2 * c))
        self.e3 = nn.Sequential(_conv(2 * c, 4 * c, 2), _conv(4 * c, 4 * c))
        self.e4 = nn.Sequential(_conv(4 * c, 6 * c, 2), _conv(6 * c, 6 * c))
        self.d3 = nn.Sequential(_conv(10 * c, 4 * c), _conv(4 * c, 4 * c))
        self.d2 = nn.Sequential(_conv(6 * c, 2 * c), _conv(2 * c, 2 * c))
        self.head = nn.Conv2d(2 * c, 1, 3, 1, 1)
        self.img = nn.Sequential(_conv(1, c, 2), _conv(c, 2 * c, 2), _conv(2 * c, 4 * c, 2),
                                 _conv(4 * c, 4 * c, 2))
        self.film = nn.Linear(8 * c, 12 * c)
        nn.init.zeros_(self.film.weight)
        nn.init.zeros_(self.film.bias)

    # -- pieces, so that inference can pool over crops ---------------------------
    @staticmethod
    def normalise(y: torch.Tensor) -> torch.Tensor:
        """Zero mean, unit standard deviation per crop (contrast invariance)."""
        m = y.mean(dim=(-2, -1), keepdim=True)
        s = y.std(dim=(-2, -1), keepdim=True)
        return (y - m) / (s + 1e-3)

    def features(self, y: torch.Tensor):
        """Per-crop inputs of the decoder: (autocorrelation (N,3,2K-1,2K-1), image code (N, 8c))."""
        yn = self.normalise(y)
        R = gradient_autocorr(yn, self.ksize)
        f = self.img(yn.to(memory_format=torch.channels_last))
        code = torch.cat([f.mean(dim=(-2, -1)), f.float().std(dim=(-2, -1)).to(f.dtype)], dim=1)
        return R, code

    def decode(self, R: torch.Tensor, code: torch.Tensor) -> torch.Tensor:
        """Kernel logits (N, K, K) from pooled autocorrelations and image codes."""
        R = R.to(memory_format=torch.channels_last)
        a1 = self.e1(R)
        a2 = self.e2(a1)
        a3 = self.e3(a2)
        a4 = self.e4(a3)
        gb = self.film(code.to(a4.dtype))
        g, b = gb.chunk(2, dim=1)
        a4 = a4 * (1 + g[..., None, None]) + b[..., None, None]
        u = F.interpolate(a4, size=a3.shape[-2:], mode="bilinear", align_corners=True)
        u = self.d3(torch.cat([u, a3], dim=1))
        u = F.interpolate(u, size=a2.shape[-2:], mode="bilinear", align_corners=True)
        u = self.d2(torch.cat([u, a2], dim=1))
        logits = self.head(u)[:, 0].float()
        if logits.shape[-1] != self.ksize:
            logits = F.interpolate(logits[:, None], size=(self.ksize, self.ksize), mode="bilinear",
                                   align_corners=True)[:, 0]
        return logits

    @staticmethod
    def to_kernel(logits: torch.Tensor) -> torch.Tensor:
        n, kh, kw = logits.shape
        return torch.softmax(logits.reshape(n, -1).float(), dim=1).reshape(n, kh, kw)

    def forward(self, y: torch.Tensor) -> torch.Tensor:
        """Kernels (N, K, K), each >= 0 with sum 1, from crops ``y`` (N, 1, crop, crop)."""
        R, code = self.features(y)
        return self.to_kernel(self.decode(R, code))


def crop_grid(shape, crop: int, n_max: int = 16) -> list[tuple[int, int]]:
    """Top-left corners of up to ``n_max`` crops of side ``crop`` spread evenly over ``shape``."""
    H, W = (int(v) for v in shape)
    if min(H, W) < crop:
        raise ValueError(f"image of shape {(H, W)} is smaller than the network's crop {crop}; "
                         f"accepted: images of at least {crop} x {crop} pixels")
    ny = max(1, min(math.ceil(H / crop), int(math.sqrt(n_max))))
    nx = max(1, min(math.ceil(W / crop), n_max // ny))
    ys = np.linspace(0, H - crop, ny).round().astype(int)
    xs = np.linspace(0, W - crop, nx).round().astype(int)
    return [(int(a), int(b)) for a in ys for b in xs]


@torch.no_grad()
def predict_kernel(model: KernelNet, y: Any, *, n_crops: int = 16, device: Any = None) -> np.ndarray:
    """Kernel (K, K) float64 NumPy of a gray image ``y`` (H, W), pooled over crops.

    Images smaller than the network's crop are reflect-padded to it.
    """
    a = np.asarray(B.to_numpy(y), dtype=np.float32)
    if a.ndim != 2:
        raise ValueError(f"y has shape {a.shape}; accepted: a gray image (H, W)")
    c = model.crop
    if min(a.shape) < c:
        py, px = max(0, c - a.shape[0]), max(0, c - a.shape[1])
        a = np.pad(a, ((py // 2, py - py // 2), (px // 2, px - px // 2)), mode="reflect")
    corners = crop_grid(a.shape, c, n_crops)
    dev = torch.device(device) if device is not None else next(model.parameters()).device
    t = torch.from_numpy(np.stack([a[i:i + c, j:j + c] for i, j in corners]))[:, None].to(dev)
    R, code = model.features(t)
    logits = model.decode(R.mean(0, keepdim=True), code.mean(0, keepdim=True))
    return model.to_kernel(logits)[0].double().cpu().numpy()


def load_kernel_net(path: str | Path | None = None, *, device: Any = "cpu",
                    verify: bool = True) -> KernelNet:
    """Load a :class:`KernelNet` weight file (sha256-checked); default: the shipped one."""
    from .weights import WeightsError, load_weights, shipped_path

    p = shipped_path(SHIPPED_NAME) if path is None else Path(path)
    blob = load_weights(p, verify=verify)
    if blob.get("model") != KernelNet.name:
        raise WeightsError(f"weight file {str(p)!r} holds model {blob.get('model')!r}, "
                           f"not {KernelNet.name!r}")
    net = KernelNet(**blob.get("config", {}))
    sd = {k: v.float() for k, v in blob["state_dict"].items()}
    try:
        net.load_state_dict(sd)
    except RuntimeError as exc:
        raise WeightsError(f"weight file {str(p)!r} does not match KernelNet: "
                           f"{str(exc).splitlines()[0]}") from exc
    return net.to(device).eval()


_CACHE: dict = {}


def estimate_kernel_learned(y: Any, *, weights: str | Path | None = None, n_crops: int = 16,
                            threshold: float = 0.05) -> tuple[np.ndarray, dict]:
    """Learned kernel estimate of a gray image (the ``"learned"`` estimator candidate).

    Parameters
    ----------
    y : array (H, W)
        Blurred gray image, linear light.
    weights : path, optional
        Weight file (default: the shipped ``kernel_net_gray.pt``).
    n_crops : int
        Crops pooled into the estimate.
    threshold : float
        Entries below ``threshold * max`` are zeroed; the kernel is then cropped to
        its (odd, centred) support.

    Returns
    -------
    psf : ndarray (k, k)
        Non-negative, sums to 1.
    info : dict
        ``{"raw": the full K x K softmax output, "support": k}``.

    Raises
    ------
    hybrid_deblur.learned.weights.WeightsError
        No weights shipped (or a file fails its sha256 check).
    """
    key = str(weights)
    if key not in _CACHE:
        _CACHE[key] = load_kernel_net(weights)
    net = _CACHE[key]
    raw = predict_kernel(net, y, n_crops=n_crops)
    k = np.where(raw >= threshold * raw.max(), raw, 0.0)
    K = k.shape[0]
    c = K // 2
    nz = np.argwhere(k > 0)
    r = int(np.abs(nz - c).max()) if nz.size else 0
    k = k[c - r:c + r + 1, c - r:c + r + 1]
    k = k / k.sum()
    return k, {"raw": raw, "support": int(2 * r + 1)}
