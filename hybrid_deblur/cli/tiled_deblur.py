"""The big-image path of ``hybrid-deblur deblur``: ``--tile``, ``--scheduler``, memory guard.

``cmd_deblur`` calls :func:`add_tile_flags` when it builds its parser and
:func:`maybe_run_tiled` first thing in ``run``. With ``--tile N`` the image is
restored by :func:`hybrid_deblur.scale.deconvolve_tiled` (``.npy``/TIFF/Zarr inputs
are read tile by tile, ``.npy``/TIFF/Zarr outputs written tile by tile, as float
linear values). Without it, the whole-image solve is checked against the memory
guard before the image is read: a request that does not fit ends in one line that
says what it needs, what is available and which ``--tile`` fits.
"""

from __future__ import annotations

import time
from pathlib import Path

import numpy as np

from ._common import write_image, write_json
from ._deblur_checks import load_checked_psf

#: formats read and written tile by tile (others go through memory)
LAZY = (".npy", ".tif", ".tiff", ".zarr")


def add_tile_flags(p) -> None:
    """Add ``--tile``, ``--halo``, ``--scheduler`` and ``--workers`` to a parser."""
    g = p.add_argument_group("big images (tiled, dask)")
    g.add_argument("--tile", type=int, default=None,
                   help="restore in tiles of this size (e.g. 1024); .npy/.tif/.zarr are streamed")
    g.add_argument("--halo", default="auto", help="tile overlap in pixels (default: auto)")
    g.add_argument("--scheduler", default=None,
                   help="'threads' (default), 'local' (a local dask cluster) or the address of a "
                        "dask scheduler, e.g. tcp://127.0.0.1:8786")
    g.add_argument("--workers", type=int, default=None, help="tiles in flight (default: cores)")


def maybe_run_tiled(args) -> int | None:
    """Run the tiled path if ``--tile`` was given (return the exit status), else guard memory.

    Returns ``None`` when the caller should go on with its whole-image path.
    """
    from ..scale import check_memory, deconvolve_tiled
    from ..scale.arrays import input_shape

    tile = getattr(args, "tile", None)
    if tile is None:
        if not getattr(args, "blind", False) and getattr(args, "psf", None):
            shape, dt = input_shape(args.image)
            if getattr(args, "gray", False) and len(shape) == 3:
                shape = shape[1:]
            k = load_checked_psf(args)  # issue 14: CLI PSF overrides + one-line errors
            check_memory(shape, dt, method=args.method, psf_shape=k.shape,
                         boundary="auto" if args.boundary == "auto" else args.boundary,
                         what=f"{args.method} on {Path(args.image).name} ({'x'.join(map(str, shape))})")
        return None
    if getattr(args, "blind", False) or not args.psf:
        raise ValueError("--tile needs --psf (estimate the kernel first: hybrid-deblur estimate "
                         "IMAGE -o k.npy, then deblur --psf k.npy --tile N)")
    if args.tile < 16:
        raise ValueError(f"--tile must be >= 16 pixels, got {args.tile}")
    halo = args.halo if args.halo == "auto" else int(args.halo)
    k = load_checked_psf(args)  # issue 14: CLI PSF overrides + one-line errors
    src = Path(args.image)
    if src.suffix.lower() in LAZY:
        image = _lazy_input(args.image)
    else:
        from ._common import read_image

        image = read_image(args.image, linear=args.linear, gray=args.gray)
    out = Path(args.output)
    opts = {}
    if args.sigma is not None:
        opts["sigma"] = args.sigma
    boundary = "auto" if args.boundary == "auto" else args.boundary
    t0 = time.perf_counter()
    res, info = deconvolve_tiled(image, k, args.method, chunks=args.tile, halo=halo,
                                 boundary=boundary, scheduler=args.scheduler, workers=args.workers,
                                 output=str(out) if out.suffix.lower() in LAZY else None,
                                 progress=True, return_info=True, **opts)
    if out.suffix.lower() not in LAZY:
        write_image(str(out), np.asarray(res), linear=args.linear)
    elapsed = time.perf_counter() - t0
    info.update(image=str(args.image), psf=str(args.psf), output=str(out), seconds=round(elapsed, 3),
                scheduler=str(args.scheduler or "threads"))
    write_json(out.with_name(out.name + ".json") if out.suffix.lower() == ".zarr"
               else out.with_suffix(".json"), info)
    print(f"{args.method} (tiled {args.tile}, halo {info['halo'][0]}, {info['tiles']} tiles): "
          f"{args.image} -> {out} in {elapsed:.2f} s")
    return 0


def _lazy_input(path: str):
    """The file as a lazy array; integer data scaled to [0, 1] (values are taken as linear)."""
    from ..scale.arrays import open_input

    src = open_input(path)
    dt = np.dtype(src.dtype)
    if dt.kind in "iu":
        import dask.array as da

        x = da.from_array(src, chunks="auto", asarray=False, lock=False,
                          meta=np.empty((0,) * len(src.shape), dt))
        return x.astype(np.float32) / np.float32(np.iinfo(dt).max)
    return src
