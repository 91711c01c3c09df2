"""Scale out: tiled (Dask) restoration of giant images and stacks, batch folders, a memory guard.

* :func:`deconvolve_tiled` — any registered method, tile by tile with halos
  (``dask.array.map_overlap``), from arrays, ``.npy``/TIFF files (read per tile) or Zarr,
  to memory or to ``.npy``/TIFF/Zarr written tile by tile; threaded, local-cluster or
  remote ``dask.distributed`` scheduler.
* :func:`deblur_folder` — a folder of images, resumable, atomic per file.
* :func:`estimate_memory` / :func:`check_memory` / :func:`available_memory` — the memory
  guard every entry point calls before allocating.

Examples
--------
>>> import numpy as np
>>> from hybrid_deblur.scale import deconvolve_tiled, estimate_memory
>>> y = np.random.default_rng(0).random((128, 128))
>>> deconvolve_tiled(y, np.ones((3, 3)) / 9, "rl", chunks=64, num_iter=5).shape
(128, 128)
"""

from .batch import deblur_folder, list_images
from .memory import (
                     BUFFERS,
                     MemoryLimitError,
                     available_memory,
                     check_memory,
                     estimate_memory,
                     format_bytes,
)
from .params import freeze_options, influence_radius
from .tiled import TILE_BOUNDARIES, deconvolve_tiled, scheduler_context

__all__ = [
                     "BUFFERS",
                     "TILE_BOUNDARIES",
                     "MemoryLimitError",
                     "available_memory",
                     "check_memory",
                     "deblur_folder",
                     "deconvolve_tiled",
                     "estimate_memory",
                     "format_bytes",
                     "freeze_options",
                     "influence_radius",
                     "list_images",
                     "scheduler_context",
]
