"""Image files: read to linear float, write back atomically (DESIGN §1).

Three modules: :mod:`~hybrid_deblur.io.read` (:func:`imread`, :func:`image_bits`,
:func:`sample_image`), :mod:`~hybrid_deblur.io.write` (:func:`imwrite`,
:func:`atomic_write`, :func:`atomic_save_json`) and :mod:`~hybrid_deblur.io.colour`
(the sRGB curve, :func:`rgb_to_gray`); every name is importable from here.

Images come out of :func:`imread` as floating arrays in *linear light*,
shape ``(H, W)`` for grey and ``(C, H, W)`` (channel first) for colour. 8- and
16-bit photographs (PNG, JPEG, TIFF) are assumed sRGB-encoded and are decoded
with the IEC 61966-2-1 curve; float TIFF and ``.npy`` data are assumed linear
already and are returned as stored. :func:`imwrite` is the inverse and never
leaves a partial file: it writes a temporary file in the target directory and
renames it over the target (:func:`atomic_write`).

Examples
--------
>>> import os, tempfile
>>> import numpy as np
>>> from hybrid_deblur import io
>>> x = io.sample_image("camera")           # bundled, offline, linear float64
>>> x.shape, x.dtype
((512, 512), dtype('float64'))
>>> path = os.path.join(tempfile.mkdtemp(), "cam.png")
>>> io.imwrite(path, x)                      # sRGB-encoded 8-bit PNG
>>> y = io.imread(path)
>>> float(np.abs(io.linear_to_srgb(y) - io.linear_to_srgb(x)).max()) <= 0.5 / 255 + 1e-12
True
"""

from __future__ import annotations

from .colour import REC709, linear_to_srgb, rgb_to_gray, srgb_to_linear
from .read import READ_FORMATS, SAMPLE_IMAGES, image_bits, imread, sample_image, voxel_size
from .write import (
                    WRITE_FORMATS,
                    atomic_save_json,
                    atomic_write,
                    clean_stale_temporaries,
                    imwrite,
                    matching_bits,
)

__all__ = [
    "READ_FORMATS",
    "REC709",
    "SAMPLE_IMAGES",
    "WRITE_FORMATS",
    "atomic_save_json",
    "atomic_write",
    "clean_stale_temporaries",
    "image_bits",
    "imread",
    "imwrite",
    "linear_to_srgb",
    "matching_bits",
    "rgb_to_gray",
    "sample_image",
    "srgb_to_linear",
    "voxel_size",
]
