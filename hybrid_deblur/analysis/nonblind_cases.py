"""Cases of the non-blind benchmark: sharp images, named kernels, synthesised observations.

Kernels from a bank are named with their parameters from the bank's manifest
(``mixed[3](length=12.1,radius=0.5,seed=2003)``), so a CSV row says which kernel it is.

Examples
--------
>>> from hybrid_deblur.analysis.nonblind_cases import load_kernels
>>> [name for name, _ in load_kernels("defocus")[:2]]
['defocus[0](radius=1)', 'defocus[1](radius=1.5)']
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

__all__ = ["IMAGE_SUFFIXES", "KERNEL_SUFFIXES", "PAIRINGS", "Case", "kernel_label",
           "load_images", "load_kernels", "synthesize_cases"]

#: parameters left out of a bank kernel's label (they do not describe its shape)
_LABEL_SKIP = ("size", "exposure", "n_samples")


def kernel_label(name: str, index: int, params: Any) -> str:
    """``name[index](key=value,...)`` from a bank kernel's parameters (nested dicts flattened).

    Examples
    --------
    >>> from hybrid_deblur.analysis.nonblind_cases import kernel_label
    >>> kernel_label("mixed", 3, {"trajectory": {"length": 12.143, "seed": 2003}, "radius": 0.5})
    'mixed[3](length=12.14,seed=2003,radius=0.5)'
    """
    flat: list[tuple[str, Any]] = []

    def walk(d):
        for k, v in d.items():
            if isinstance(v, dict):
                walk(v)
            elif k not in _LABEL_SKIP:
                flat.append((str(k), v))

    if isinstance(params, dict):
        walk(params)
    parts = [f"{k}={v:.4g}" if isinstance(v, float) else f"{k}={v}" for k, v in flat]
    return f"{name}[{index}]" + (f"({','.join(parts)})" if parts else "")


IMAGE_SUFFIXES = (".png", ".jpg", ".jpeg", ".tif", ".tiff", ".bmp", ".npy")
KERNEL_SUFFIXES = (".npy", ".png", ".mat", ".tif", ".tiff")
PAIRINGS = ("all", "cycle")


# ----------------------------------------------------------------------------- cases
@dataclass
class Case:
    """One benchmark observation.

    Attributes
    ----------
    name : str
        Unique label (``image|kernel``).
    y : ndarray
        Observation, shape (..., h, w).
    psf : ndarray
        Kernel in convolution orientation, sum 1.
    ref : ndarray
        Sharp reference on the same grid as ``y`` (the central crop for ``valid``).
    scene : ndarray or None
        The whole sharp scene (larger than ``y`` in ``valid`` mode).
    group : str
        Cross-validation group (the image name by default).
    extra : dict
        Anything else written to the per-image rows (e.g. Levin's reference SSD).

    Examples
    --------
    >>> import numpy as np
    >>> from hybrid_deblur.analysis.nonblind_cases import Case
    >>> c = Case(name="img|k", y=np.zeros((8, 8)), psf=np.ones((1, 1)), ref=np.zeros((8, 8)))
    >>> c.group, c.extra
    ('', {})
    """

    name: str
    y: np.ndarray
    psf: np.ndarray
    ref: np.ndarray
    scene: np.ndarray | None = None
    group: str = ""
    extra: dict = field(default_factory=dict)


def _named_items(obj: Any, what: str, suffixes: tuple, prefix: str) -> list[tuple[str, Any]]:
    """``(name, item)`` pairs from a folder, a file, or a list of arrays / pairs / paths."""
    if isinstance(obj, (str, os.PathLike)):
        p = Path(obj)
        if p.is_dir():
            files = sorted(f for f in p.iterdir() if f.suffix.lower() in suffixes)
            if not files:
                raise ValueError(f"{what}={str(p)!r} holds no {prefix == 'k' and 'kernel' or 'image'}"
                                 f" file ({', '.join(suffixes)})")
            return [(f.stem, f) for f in files]
        if p.is_file():
            return [(p.stem, p)]
        raise ValueError(f"{what}={str(p)!r} is neither a folder nor a file")
    items: list[tuple[str, Any]] = []
    for i, it in enumerate(obj):
        if isinstance(it, tuple) and len(it) == 2 and isinstance(it[0], str):
            items.append(it)
        elif isinstance(it, (str, os.PathLike)):
            items.append((Path(it).stem, Path(it)))
        else:
            items.append((f"{prefix}{i}", it))
    return items


def _imread(path: Path, linear: bool, gray: bool) -> np.ndarray:
    from ..io import imread

    return np.asarray(imread(str(path), linear=linear, gray=gray), dtype=np.float64)


def load_images(images: Any, *, linear: bool = True, gray: bool = False,
                limit: int | None = None) -> list[tuple[str, np.ndarray]]:
    """Named sharp images from a folder, a file, or a list of arrays / ``(name, array)`` / paths.

    Files are read with :func:`hybrid_deblur.io.imread` (``linear=True`` decodes sRGB to
    linear light; pass ``linear=False`` for data whose 8-bit values are the intensities).
    Colour images come back as (C, H, W).

    Examples
    --------
    >>> import numpy as np
    >>> from hybrid_deblur.analysis.nonblind_cases import load_images
    >>> [(n, a.shape) for n, a in load_images([np.zeros((4, 4)), ("b", np.ones((3, 4, 4)))])]
    [('img0', (4, 4)), ('b', (3, 4, 4))]
    """
    if isinstance(images, np.ndarray):
        items = ([("img0", images)] if images.ndim in (2, 3)
                 else [(f"img{i}", a) for i, a in enumerate(images)])
    else:
        items = _named_items(images, "images", IMAGE_SUFFIXES, "img")
    if limit is not None:
        items = items[: int(limit)]
    out = []
    for name, it in items:
        a = _imread(it, linear, gray) if isinstance(it, (Path, str)) else np.asarray(it, dtype=np.float64)
        if a.ndim not in (2, 3):
            raise ValueError(f"image {name!r} has shape {a.shape}; expected (H, W) or (C, H, W)")
        if not np.all(np.isfinite(a)):
            raise ValueError(f"image {name!r} contains NaN or inf")
        out.append((str(name), a))
    if not out:
        raise ValueError("images is empty: give a folder with images or a non-empty list")
    return out


def load_kernels(kernels: Any, *, limit: int | None = None) -> list[tuple[str, np.ndarray]]:
    """Named kernels from a folder (.npy/.png/.mat/.tif via :func:`hybrid_deblur.psf.load_psf`),
    a bank name (:func:`hybrid_deblur.psf.bank.load`), a file, an array (k, k) / (n, k, k),
    or a list of arrays / ``(name, array)`` / paths. Every kernel is normalised to sum 1.

    Examples
    --------
    >>> import numpy as np
    >>> from hybrid_deblur.analysis.nonblind_cases import load_kernels
    >>> [(n, float(k.sum())) for n, k in load_kernels([2 * np.ones((3, 3))])]
    [('k0', 1.0)]
    """
    if isinstance(kernels, (str, os.PathLike)) and not Path(kernels).exists():
        from ..psf import bank

        try:
            ks = bank.load(str(kernels))  # list of kernels at their own sizes
        except (KeyError, ValueError, OSError) as exc:
            raise ValueError(f"kernels={str(kernels)!r} is neither a folder, a file nor a "
                             f"known kernel bank ({exc})") from exc
        params = list(getattr(ks, "meta", {}).get("params") or [])
        items = [(kernel_label(str(kernels), i, params[i] if i < len(params) else None), a)
                 for i, a in enumerate(ks)]
    elif isinstance(kernels, np.ndarray):
        items = ([("k0", kernels)] if kernels.ndim == 2
                 else [(f"k{i}", a) for i, a in enumerate(kernels)])
    else:
        items = _named_items(kernels, "kernels", KERNEL_SUFFIXES, "k")
    if limit is not None:
        items = items[: int(limit)]
    out = []
    for name, it in items:
        if isinstance(it, (Path, str)):
            from ..psf import load_psf

            it = load_psf(str(it))
        k = np.asarray(it, dtype=np.float64)
        if k.ndim != 2 or k.size == 0 or not np.all(np.isfinite(k)) or k.min() < 0 or k.sum() <= 0:
            raise ValueError(f"kernel {name!r} must be a finite, non-negative 2-D array with a "
                             f"positive sum; got shape {k.shape}")
        out.append((str(name), k / k.sum()))
    if not out:
        raise ValueError("kernels is empty: give a folder, a bank name or a non-empty list")
    return out


def synthesize_cases(images, kernels, *, noise: Any = 0.01, boundary: str = "valid",
                     seed: int = 0, pairing: str = "all") -> list[Case]:
    """Blur every (image, kernel) pair with :func:`hybrid_deblur.physics.degrade`.

    ``pairing="all"`` takes every image with every kernel; ``"cycle"`` gives image ``i``
    the kernel ``i mod n_kernels`` (one case per image). Case ``j`` uses the noise seed
    ``seed * 100003 + j``. For ``boundary="valid"`` the reference is the central crop of
    the scene that matches ``y`` (:func:`hybrid_deblur.physics.crop_valid`).

    Examples
    --------
    >>> import numpy as np
    >>> from hybrid_deblur.analysis.nonblind_cases import synthesize_cases
    >>> cs = synthesize_cases([("a", np.ones((16, 16)))], [("box", np.ones((3, 3)) / 9)], noise=0.0)
    >>> cs[0].name, cs[0].y.shape, cs[0].ref.shape                # valid blur: 16 - 3 + 1
    ('a|box', (14, 14), (14, 14))
    """
    from ..physics import crop_valid, degrade

    if pairing not in PAIRINGS:
        raise ValueError(f"pairing={pairing!r} is not one of {PAIRINGS}")
    pairs = ([(im, k) for im in images for k in kernels] if pairing == "all"
             else [(im, kernels[i % len(kernels)]) for i, im in enumerate(images)])
    cases = []
    for j, ((iname, x), (kname, k)) in enumerate(pairs):
        if any(kk > n for kk, n in zip(k.shape, x.shape[-2:])):
            raise ValueError(f"kernel {kname!r} of shape {k.shape} is larger than image {iname!r} "
                             f"of shape {x.shape[-2:]}")
        y, info = degrade(x, k, boundary=boundary, noise=noise, seed=int(seed) * 100003 + j)
        ref = crop_valid(x, k.shape) if boundary == "valid" else x
        cases.append(Case(name=f"{iname}|{kname}", y=np.asarray(y), psf=k, ref=ref, scene=x,
                          group=iname, extra={"image": iname, "kernel": kname,
                                              "noise": json.dumps(info.get("noise"))}))
    return cases
