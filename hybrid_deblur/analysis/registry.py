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
    "unrolled-pnp": ("hybrid_deblur.learned.inference", "unrolled_pnp", "UnrolledHQS on the DRUNet denoiser, fine-tuned on valid blur"),
}


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
