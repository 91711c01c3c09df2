"""Restoration with the zoo models: shipped weights, tiling, and the registry functions.

Every registry function is ``f(y, psf=None, *, boundary="auto", sigma=None, weights=None,
model=None, device=None, tile=None, **kw) -> x``: it takes NumPy or torch input of shape
(H, W), (C, H, W) or (..., C, H, W) and returns the same kind and shape. The kernel and
σ are **not used** (the networks learned the blur); they are accepted so that the zoo
runs through the same harness as the classical and hybrid methods. ``boundary="valid"``
with a ``psf`` returns the scene geometry (larger by ``k - 1``) by reflect-padding ``y``
before the network — only the shape comes from the kernel. Gray input goes through a
colour model as three equal channels (the output is their mean). The output is never clipped.

Weights: ``hybrid_deblur/learned/weights/e2e/<stem>.pt`` (sha256 in the model card, read
with ``weights_only=True``), or ``weights=`` (a file written by
:mod:`hybrid_deblur.learned.e2e.train`), or ``model=``.

Examples
--------
>>> import numpy as np, torch
>>> from hybrid_deblur.learned.e2e import build
>>> from hybrid_deblur.learned.e2e.restore import restore_with, tiled
>>> net = build("unet", channels=3, width=4).eval()
>>> restore_with(net, np.random.default_rng(0).random((40, 44))).shape
(40, 44)
>>> x = torch.rand(1, 3, 50, 70)
>>> bool(torch.allclose(tiled(net, x, tile=32, overlap=8), net(x), atol=0.2))
True
"""

from __future__ import annotations

import os
from functools import lru_cache
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch.nn import functional as F

from ... import backend as B
from ..weights import WeightsError, load_weights
from . import build

__all__ = ["WEIGHTS_DIR", "SHIPPED", "load_e2e", "get_model", "restore_with", "tiled", "e2e_restore",
           "shipped_e2e"]

WEIGHTS_DIR = Path(__file__).resolve().parents[1] / "weights" / "e2e"

#: registry name -> weight stem in WEIGHTS_DIR (the architecture is recorded in the file)
SHIPPED = {f"e2e-{n}": n.replace("-", "_") for n in
           ("nafnet", "restormer", "msfusion", "progressive-gan", "deblurgan-v2", "unet", "deblurgan",
            "deblurcnn")}


def shipped_e2e() -> dict[str, Path]:
    """Shipped zoo weight files by stem."""
    return {p.stem: p for p in sorted(WEIGHTS_DIR.glob("*.pt"))} if WEIGHTS_DIR.is_dir() else {}


def load_e2e(path: str | os.PathLike, *, verify: bool = True, device: Any = "cpu") -> torch.nn.Module:
    """Build the zoo model recorded in a weight file and load it (sha256-checked, float32, eval)."""
    blob = load_weights(path, verify=verify)
    try:
        model = build(blob["model"], **blob.get("config", {}))
    except (ValueError, TypeError) as exc:
        raise WeightsError(f"weight file {str(path)!r} is not an end-to-end zoo model: {exc}") from exc
    sd = {k: v.float() if v.is_floating_point() else v for k, v in blob["state_dict"].items()}
    try:
        model.load_state_dict(sd)
    except RuntimeError as exc:
        raise WeightsError(f"weight file {str(path)!r} does not match {blob['model']!r}: "
                           f"{str(exc).splitlines()[0]}") from exc
    return model.to(device).eval()


@lru_cache(maxsize=8)
def _cached(path: str, mtime: float) -> torch.nn.Module:
    return load_e2e(path)


def get_model(name: str, *, weights: Any = None) -> torch.nn.Module:
    """The model of registry ``name`` (``"e2e-nafnet"`` ...) from ``weights`` or the shipped file."""
    if weights is not None:
        p = os.fspath(weights)
        return _cached(p, os.path.getmtime(p) if os.path.exists(p) else 0.0)
    if name not in SHIPPED:
        raise ValueError(f"method={name!r} is not an end-to-end method; known: {', '.join(sorted(SHIPPED))}")
    have = shipped_e2e()
    stem = SHIPPED[name]
    if stem not in have:
        raise WeightsError(
            f"method {name!r} has no shipped weights ({stem}.pt is not in {WEIGHTS_DIR}); shipped: "
            f"{', '.join('e2e-' + s.replace('_', '-') for s in have) or 'none'}. Train it with "
            f"`python -m hybrid_deblur.learned.e2e.train --models {name[4:]} ...` and pass weights=")
    p = str(have[stem])
    return _cached(p, os.path.getmtime(p))


def _ramp(n: int, overlap: int, device) -> torch.Tensor:
    w = torch.ones(n, device=device)
    if overlap > 0:
        r = (torch.arange(overlap, device=device, dtype=torch.float32) + 0.5) / overlap
        w[:overlap] = r
        w[n - overlap:] = r.flip(0)
    return w


def tiled(model: torch.nn.Module, x: torch.Tensor, *, tile: int = 256, overlap: int = 32) -> torch.Tensor:
    """Run ``model`` on (B, C, H, W) ``x`` in overlapping tiles blended with linear ramps.

    Memory stays bounded for any image size (Restormer issue #29: whole-image attention
    runs out of memory above ≈4 MP). Images no larger than one tile run in one pass.
    """
    tile, overlap = int(tile), int(overlap)
    if tile < 16 or not 0 <= overlap < tile // 2:
        raise ValueError(f"need tile >= 16 and 0 <= overlap < tile/2; got tile={tile}, overlap={overlap}")
    b, c, h, w = x.shape
    if h <= tile and w <= tile:
        return model(x)
    step = tile - 2 * overlap if overlap else tile

    def starts(n):
        if n <= tile:
            return [0]
        s = list(range(0, n - tile, step)) + [n - tile]
        return sorted(set(s))

    out = torch.zeros(b, c, h, w, device=x.device, dtype=torch.float32)
    wsum = torch.zeros(1, 1, h, w, device=x.device, dtype=torch.float32)
    for i in starts(h):
        for j in starts(w):
            th, tw = min(tile, h), min(tile, w)
            o = model(x[..., i:i + th, j:j + tw]).float()
            wy = _ramp(th, overlap if h > tile else 0, x.device)
            wx = _ramp(tw, overlap if w > tile else 0, x.device)
            wt = (wy[:, None] * wx[None, :])[None, None]
            out[..., i:i + th, j:j + tw] += o * wt
            wsum[..., i:i + th, j:j + tw] += wt
    return out / wsum


def restore_with(model: torch.nn.Module, y: Any, *, device: Any = None, tile: int | None = None,
                 overlap: int = 32) -> Any:
    """Run a zoo ``model`` on an image of any supported kind (see the module notes)."""
    is_t = B.is_torch(y)
    if not (is_t or B.is_numpy(y)):
        if B.is_cupy(y):
            raise TypeError("y is a CuPy array; zoo models take NumPy arrays or torch tensors")
        y = np.asarray(y)
    y = B.as_float(y, name="y")
    if y.ndim < 2:
        raise ValueError(f"y must have at least 2 axes (H, W); got shape {tuple(y.shape)}")
    B.check_finite(y, "y")
    shape = tuple(int(v) for v in y.shape)
    mc = int(model.config.get("channels", 3)) if hasattr(model, "config") else 3
    yt = y.detach() if is_t else torch.from_numpy(np.ascontiguousarray(y))
    dev = torch.device(device) if device is not None else (yt.device if is_t else torch.device("cpu"))
    yt = yt.to(device=dev, dtype=torch.float32)
    if len(shape) >= 3 and shape[-3] == mc:
        yb, gray = yt.reshape(-1, mc, *shape[-2:]), False
    else:
        yb, gray = yt.reshape(-1, 1, *shape[-2:]), True
        if mc == 3:
            yb = yb.expand(-1, 3, -1, -1)
    m = model.to(dev).eval()
    with torch.no_grad():
        out = tiled(m, yb, tile=tile, overlap=overlap) if tile else m(yb)
    out = out.float()
    if gray and mc == 3:
        out = out.mean(1, keepdim=True)
    out = out.reshape(shape)
    if is_t:
        return out.to(device=y.device, dtype=y.dtype)
    return out.cpu().numpy().astype(y.dtype, copy=False)


def e2e_restore(name: str, y: Any, psf: Any = None, *, boundary: str = "auto", sigma: Any = None,
                weights: Any = None, model: Any = None, device: Any = None, tile: int | None = None,
                overlap: int = 32, progress: bool = False, **kw) -> Any:
    """Restore ``y`` with zoo method ``name`` (``psf`` and ``sigma`` unused; see the module notes)."""
    if kw:
        raise TypeError(f"{name}() got unexpected options {sorted(kw)}; accepted: boundary, sigma, weights, "
                        "model, device, tile, overlap, progress")
    if boundary not in ("auto", "valid", "circular", "reflect", "replicate", "zero"):
        raise ValueError(f"boundary={boundary!r}; accepted: 'auto', 'valid', 'circular', 'reflect', "
                         "'replicate', 'zero'")
    m = model if model is not None else get_model(name, weights=weights)
    if boundary == "valid":
        if psf is None:
            raise ValueError("boundary='valid' needs psf= (only for the output geometry: the scene is "
                             "larger than y by k - 1)")
        ks = tuple(int(v) for v in np.shape(B.to_numpy(psf) if not B.is_torch(psf) else psf.detach().cpu())[-2:])
        pads = [(k - 1 - k // 2, k // 2) for k in ks]
        is_t = B.is_torch(y)
        if is_t:
            yy = y.reshape(-1, 1, *y.shape[-2:])
            yy = F.pad(yy, (pads[1][0], pads[1][1], pads[0][0], pads[0][1]), mode="reflect")
            y = yy.reshape(*y.shape[:-2], *yy.shape[-2:])
        else:
            y = np.pad(np.asarray(y), [(0, 0)] * (np.ndim(y) - 2) + pads, mode="reflect")
    return restore_with(m, y, device=device, tile=tile, overlap=overlap)


def _make(name: str):
    def fn(y: Any, psf: Any = None, *, boundary: str = "auto", sigma: Any = None, weights: Any = None,
           model: Any = None, device: Any = None, tile: int | None = None, overlap: int = 32,
           progress: bool = False, **kw) -> Any:
        return e2e_restore(name, y, psf, boundary=boundary, sigma=sigma, weights=weights, model=model,
                           device=device, tile=tile, overlap=overlap, progress=progress, **kw)

    fn.__name__ = fn.__qualname__ = name[4:].replace("-", "_")
    fn.__doc__ = (f"Blind (kernel-free) deblurring with the end-to-end zoo model ``{name}``.\n\n"
                  "See :mod:`hybrid_deblur.learned.e2e.restore` for the parameters; ``psf`` and "
                  "``sigma`` are not used.\n")
    return fn


nafnet = _make("e2e-nafnet")
restormer = _make("e2e-restormer")
msfusion = _make("e2e-msfusion")
progressive_gan = _make("e2e-progressive-gan")
deblurgan_v2 = _make("e2e-deblurgan-v2")
unet = _make("e2e-unet")
deblurgan = _make("e2e-deblurgan")
deblurcnn = _make("e2e-deblurcnn")
__all__ += ["nafnet", "restormer", "msfusion", "progressive_gan", "deblurgan_v2", "unet", "deblurgan", "deblurcnn"]
