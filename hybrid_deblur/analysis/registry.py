"""Registry of non-blind restoration methods: ``name -> (module, function)``.

It lives in :mod:`hybrid_deblur.analysis` (the lowest layer allowed to import both
``solvers`` and ``learned``) so that the benchmark harness can resolve names without
importing the higher ``pipeline`` layer; :mod:`hybrid_deblur.pipeline.methods`
re-exports it for users.

Every entry is a function ``f(y, psf, *, boundary, **options) -> x`` (a solver of
:mod:`hybrid_deblur.solvers`, a learned model wrapper, ...). The table is explicit
(no plugin discovery); an unknown name raises ``ValueError`` listing the known ones.
Methods whose module is not importable (e.g. not built yet) are left out of
:func:`available_methods`.

Examples
--------
>>> from hybrid_deblur.pipeline import available_methods
>>> "wiener" in available_methods()
True
"""

from __future__ import annotations

import importlib
from typing import Any, Callable

#: name -> (module path, attribute, one-line description)
METHODS: dict[str, tuple[str, str, str]] = {
    "wiener": ("hybrid_deblur.solvers", "wiener", "FFT Wiener filter, NSR estimated from the noise"),
    "tikhonov": ("hybrid_deblur.solvers", "tikhonov", "Tikhonov / regularised LS, lambda by GCV"),
    "rl": ("hybrid_deblur.solvers", "richardson_lucy", "accelerated Richardson-Lucy, auto stop"),
    "rl-tv": ("hybrid_deblur.solvers", "richardson_lucy_tv", "Richardson-Lucy with TV (one-step-late)"),
    "hqs-tv": ("hybrid_deblur.solvers", "hqs_tv", "half-quadratic splitting, TV prior"),
    "hqs-hl": ("hybrid_deblur.solvers", "hqs_hl", "half-quadratic splitting, hyper-Laplacian prior"),
    "unrolled-hqs": ("hybrid_deblur.learned.inference", "unrolled_hqs", "learned unrolled HQS (shipped weights)"),
    "deep-wiener": ("hybrid_deblur.learned.inference", "deep_wiener", "learned deep Wiener (shipped weights)"),
    "unrolled-rl": ("hybrid_deblur.learned.inference", "unrolled_rl", "learned unrolled RL (shipped weights)"),
    "pnp-drunet": ("hybrid_deblur.learned.pnp", "pnp_drunet", "plug-and-play HQS with the learned DRUNet denoiser (DPIR)"),
    "pnp-drunet-fast": ("hybrid_deblur.learned.pnp", "pnp_drunet_fast", "pnp-drunet with 4 DPIR iterations (half the time)"),
    "pnp-drunet-lite": ("hybrid_deblur.learned.pnp_presets", "pnp_drunet_lite",
                        "pnp-drunet with a 4x smaller denoiser, 3 iterations (<= 1 s/MP gray, one thread)"),
    "unrolled-pnp": ("hybrid_deblur.learned.inference", "unrolled_pnp", "UnrolledHQS on the DRUNet denoiser, fine-tuned on valid blur"),
    # end-to-end zoo (no kernel: psf and sigma are accepted and ignored)
    "e2e-nafnet": ("hybrid_deblur.learned.e2e.restore", "nafnet", "end-to-end NAFNet-style baseline"),
    "e2e-restormer": ("hybrid_deblur.learned.e2e.restore", "restormer", "end-to-end small Restormer (S14)"),
    "e2e-msfusion": ("hybrid_deblur.learned.e2e.restore", "msfusion", "end-to-end multi-scale fusion (S13)"),
    "e2e-progressive-gan": ("hybrid_deblur.learned.e2e.restore", "progressive_gan",
                            "end-to-end RDB progressive GAN (S15)"),
    "e2e-deblurgan-v2": ("hybrid_deblur.learned.e2e.restore", "deblurgan_v2", "end-to-end DeblurGAN-v2 FPN (S9)"),
    "e2e-deblurgan": ("hybrid_deblur.learned.e2e.restore", "deblurgan", "end-to-end SRGAN-style DeblurGAN (S3)"),
    "e2e-unet": ("hybrid_deblur.learned.e2e.restore", "unet", "end-to-end multi-scale U-Net (S2)"),
    "e2e-deblurcnn": ("hybrid_deblur.learned.e2e.restore", "deblurcnn", "end-to-end DeBlurCNN baseline (S1)"),
}

#: registered but left out of the demo and the benchmark defaults: measured below plain Wiener on unseen kernels
#: (BSD68 sigma 0.01, benchmarks/learned_nonblind.py, session 4) and 1.3-2.2 dB below hqs-hl
NOT_DEFAULT = ("deep-wiener", "unrolled-rl")

#: the three kinds of method (DESIGN §3)
KIND_NAMES = ("classical", "hybrid", "end-to-end")

#: name -> kind: "classical" (solver), "hybrid" (uses the kernel through the physics) or
#: "end-to-end" (no kernel). Names missing here get the kind of their module (see method_kind).
KINDS: dict[str, str] = {
    "wiener": "classical", "tikhonov": "classical", "rl": "classical", "rl-tv": "classical",
    "hqs-tv": "classical", "hqs-hl": "classical",
    "unrolled-hqs": "hybrid", "deep-wiener": "hybrid", "unrolled-rl": "hybrid",
    "pnp-drunet": "hybrid", "pnp-drunet-lite": "hybrid", "unrolled-pnp": "hybrid",
    "e2e-nafnet": "end-to-end", "e2e-restormer": "end-to-end", "e2e-msfusion": "end-to-end",
    "e2e-progressive-gan": "end-to-end", "e2e-deblurgan-v2": "end-to-end", "e2e-deblurgan": "end-to-end",
    "e2e-unet": "end-to-end", "e2e-deblurcnn": "end-to-end",
}


def method_kind(name: str) -> str:
    """``"classical"``, ``"hybrid"`` or ``"end-to-end"`` for registered method ``name``.

    From :data:`KINDS`, else from the module: ``learned.e2e`` → end-to-end, other
    ``learned`` modules → hybrid, everything else → classical.

    Examples
    --------
    >>> from hybrid_deblur.analysis.registry import method_kind
    >>> method_kind("wiener"), method_kind("unrolled-hqs"), method_kind("e2e-nafnet")
    ('classical', 'hybrid', 'end-to-end')
    """
    if name not in METHODS:
        raise ValueError(f"method={name!r} is unknown; known methods: {', '.join(sorted(METHODS))}")
    if name in KINDS:
        return KINDS[name]
    mod = METHODS[name][0]
    if mod.startswith("hybrid_deblur.learned.e2e"):
        return "end-to-end"
    return "hybrid" if mod.startswith("hybrid_deblur.learned") else "classical"


def get_method(name: str) -> Callable[..., Any]:
    """The restoration function registered as ``name``."""
    if name not in METHODS:
        raise ValueError(
            f"method={name!r} is unknown; known methods: {', '.join(sorted(METHODS))}"
        )
    mod, attr, _ = METHODS[name]
    try:
        return getattr(importlib.import_module(mod), attr)
    except (ImportError, AttributeError) as exc:
        raise ValueError(f"method={name!r} is not available in this build ({exc})") from exc


def available_methods() -> list[str]:
    """Names of the registered methods that can be imported here."""
    out = []
    for name in METHODS:
        try:
            get_method(name)
        except ValueError:
            continue
        out.append(name)
    return out


def restore(y: Any, psf: Any, method: str = "wiener", **options: Any):
    """Restore ``y`` blurred by ``psf`` with the registered ``method``."""
    return get_method(method)(y, psf, **options)
