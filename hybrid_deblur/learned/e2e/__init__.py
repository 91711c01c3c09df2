"""End-to-end comparison zoo: networks that deblur without a kernel (``kind="end-to-end"``).

Registry (:data:`ARCHITECTURES`, :func:`build`): ``deblurcnn`` (S1), ``unet`` (S2),
``deblurgan`` (S3, SRGAN-style generator), ``deblurgan-v2`` (S9, FPN-MobileNet),
``msfusion`` (S13, multi-scale fusion), ``restormer`` (S14, Transformer),
``progressive-gan`` (S15, RDB encoder-decoder), ``nafnet`` (NAFNet baseline).
Each has a small CPU configuration (the constructor defaults) and a larger one given by
a config only (``configs/e2e_*.toml``, ``[large]`` table). Shared blocks (S10) and the
PixelShuffle ×2 head (S12) are in :mod:`.blocks`; discriminators in
:mod:`.discriminators`; training in :mod:`hybrid_deblur.learned.gan` and
:mod:`.train`; restoration (registry functions, tiling) in :mod:`.restore`.

Examples
--------
>>> import torch
>>> from hybrid_deblur.learned.e2e import build, ARCHITECTURES
>>> sorted(ARCHITECTURES)[:3]
['deblurcnn', 'deblurgan', 'deblurgan-v2']
>>> build("unet", channels=1, width=8)(torch.rand(1, 1, 16, 16)).shape
torch.Size([1, 1, 16, 16])
"""

from __future__ import annotations

import importlib

from torch import nn

__all__ = ["ARCHITECTURES", "build", "count_parameters"]

#: registry name -> (module, class, mission row)
ARCHITECTURES: dict[str, tuple[str, str, str]] = {
    "deblurcnn": (".cnn", "DeBlurCNN", "S1"),
    "unet": (".cnn", "UNet", "S2"),
    "deblurgan": (".srgan", "DeblurGANGenerator", "S3"),
    "deblurgan-v2": (".fpn", "FPNMobileNet", "S9"),
    "msfusion": (".fusion", "MultiScaleFusion", "S13"),
    "restormer": (".transformer", "Restormer", "S14"),
    "progressive-gan": (".progressive", "RDBUNet", "S15"),
    "nafnet": (".nafnet", "NAFNet", "NAFNet"),
}


def build(name: str, **config) -> nn.Module:
    """Build the zoo architecture ``name`` with constructor arguments ``config``."""
    if name not in ARCHITECTURES:
        raise ValueError(f"end-to-end architecture {name!r} is unknown; known: "
                         f"{', '.join(sorted(ARCHITECTURES))}")
    mod, cls, _ = ARCHITECTURES[name]
    return getattr(importlib.import_module(mod, __name__), cls)(**config)


def count_parameters(model: nn.Module) -> int:
    """Number of trainable parameters."""
    return int(sum(p.numel() for p in model.parameters() if p.requires_grad))
