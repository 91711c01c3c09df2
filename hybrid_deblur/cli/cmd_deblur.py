"""``hybrid-deblur deblur``: restore an image with a known (or estimated) PSF."""

from __future__ import annotations

import time
from pathlib import Path

import numpy as np

from ._common import (add_boundary_flag, add_io_flags, call_with_supported, read_image, read_psf,
                      write_image, write_json)


def add_parser(sub):
    from ..pipeline.methods import METHODS

    p = sub.add_parser(
        "deblur",
        help="restore a blurred image with a known PSF (or --blind)",
        description="Non-blind restoration with any registered method; --blind estimates the PSF first.",
    )
    p.add_argument("image", help="blurred image (PNG/JPEG/TIFF/.npy)")
    p.add_argument("--psf", help="PSF file (.npy/.png/.tif/.mat); required unless --blind")
    p.add_argument("--orientation", default="conv", choices=("conv", "matlab"))
    p.add_argument("--blind", action="store_true", help="estimate the PSF from the image first")
    p.add_argument("--size", default="auto", help="kernel size for --blind (odd int or 'auto')")
    p.add_argument("--method", default="wiener", choices=sorted(METHODS),
                   help="restoration method (default wiener)")
    p.add_argument("--sigma", type=float, default=None, help="noise sigma (estimated if absent)")
    add_boundary_flag(p, "auto", extra=("auto",))
    add_io_flags(p)
    p.add_argument("-o", "--output", required=True, help="restored image (+ .json sidecar)")
    from .tiled_deblur import add_tile_flags  # scale (issue 15): --tile/--halo/--scheduler/--workers
    add_tile_flags(p)
    return p


def run(args) -> int:
    from .tiled_deblur import maybe_run_tiled  # scale (issue 15): tiled path + memory guard
    if (rc := maybe_run_tiled(args)) is not None:
        return rc
    from ..pipeline.methods import get_method

    if not args.blind and not args.psf:
        raise ValueError("--psf is required unless --blind is given")
    y = read_image(args.image, linear=args.linear, gray=args.gray)
    fn = get_method(args.method)  # unknown/unavailable method fails before any work
    report = {}
    if args.blind:
        from ..estimate import estimate_kernel

        size = None if str(args.size) == "auto" else int(args.size)
        lum = y if y.ndim == 2 else y.mean(axis=0)
        psf, rep = estimate_kernel(lum, size=size)
        report["estimate"] = rep if isinstance(rep, dict) else getattr(rep, "__dict__", str(rep))
        out_k = Path(args.output).with_name(Path(args.output).stem + "_kernel.npy")
        from ..psf import save_psf

        save_psf(str(out_k), psf)
        report["kernel_file"] = str(out_k)
    else:
        psf = read_psf(args.psf, orientation=args.orientation)
    t0 = time.perf_counter()
    x = call_with_supported(fn, y, psf, boundary=args.boundary, sigma=args.sigma, progress=True)
    x = np.asarray(x)
    elapsed = time.perf_counter() - t0
    out = Path(args.output)
    write_image(str(out), x, linear=args.linear, like=args.image)
    report.update({"image": str(args.image), "psf": str(args.psf) if args.psf else "estimated",
                   "method": args.method, "boundary": args.boundary, "sigma": args.sigma,
                   "seconds": round(elapsed, 4), "shape": list(x.shape)})
    write_json(out.with_suffix(".json"), report)
    print(f"{args.method}: {args.image} -> {out} in {elapsed:.2f} s")
    return 0
