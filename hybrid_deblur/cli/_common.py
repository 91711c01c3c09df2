"""Helpers shared by the CLI sub-commands: reading images/PSFs, writing results and sidecars."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np

from ..physics.boundary import BOUNDARIES


def add_io_flags(p) -> None:
    p.add_argument("--no-linear", dest="linear", action="store_false",
                   help="the image is already linear (microscopy, astronomy, RAW): no sRGB decoding")
    p.add_argument("--gray", action="store_true", help="convert a colour image to luminance first")


def add_boundary_flag(p, default: str, extra: tuple[str, ...] = ()) -> None:
    choices = tuple(extra) + BOUNDARIES
    p.add_argument("--boundary", default=default, choices=choices,
                   help=f"boundary model (default {default})")


def read_image(path: str, *, linear: bool = True, gray: bool = False) -> np.ndarray:
    """Read an input image; a file with NaN/inf pixels is refused naming the file."""
    from ..io import imread

    img = imread(path, linear=linear, gray=gray)
    if np.issubdtype(np.asarray(img).dtype, np.floating) and not np.all(np.isfinite(img)):
        bad = int(np.size(img) - np.count_nonzero(np.isfinite(img)))
        raise ValueError(f"image {str(path)!r} contains {bad} NaN or inf pixel(s); only finite "
                         "values are accepted (mask or inpaint them first)")
    return img


def add_psf_flags(p) -> None:
    """``--psf-colour`` / ``--allow-negative-psf``: the explicit overrides of load_psf's refusals."""
    p.add_argument("--psf-colour", choices=("refuse", "average"), default="refuse",
                   help="a colour image given as PSF is refused (default) or averaged to grey")
    p.add_argument("--allow-negative-psf", action="store_true",
                   help="clip clearly negative PSF entries to 0 instead of refusing the file")


def read_psf(path: str, *, orientation: str = "conv", colour: str = "refuse",
             negative: str = "refuse") -> np.ndarray:
    from ..psf import load_psf

    return load_psf(path, orientation=orientation, colour=colour, negative=negative)


def write_image(path: str, img: Any, *, linear: bool = True, like: str | None = None) -> None:
    """Write ``img``; with ``like`` (the input file) keep its bit depth (16-bit in, 16-bit out)."""
    from ..io import imwrite, matching_bits

    imwrite(path, img, linear=linear, bits=matching_bits(path, like) if like else None)


def write_json(path: str | Path, obj: Any) -> None:
    from ..io import atomic_save_json

    atomic_save_json(path, obj)


def center_crop(x: np.ndarray, shape) -> np.ndarray:
    """Central crop of the trailing axes of ``x`` to ``shape`` (no-op when equal)."""
    shape = tuple(shape)
    cur = x.shape[-len(shape):]
    if cur == shape:
        return x
    sl = tuple(slice((c - s) // 2, (c - s) // 2 + s) for c, s in zip(cur, shape))
    return x[(...,) + sl]
