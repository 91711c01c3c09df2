"""``hybrid-deblur deblur``: restore an image with a known (or estimated) PSF."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from ._common import add_boundary_flag, add_io_flags, read_image, write_image, write_json


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
    p.add_argument("--estimator", default="auto", choices=("auto", "learned", "map", "parametric"),
                   help="blind estimator (default auto: candidates + no-harm guard)")
    p.add_argument("--size", default="auto", help="kernel size cap for --blind (odd int or 'auto')")
    p.add_argument("--method", default="wiener", choices=sorted(METHODS),
                   help="restoration method (default wiener)")
    p.add_argument("--sigma", type=float, default=None, help="noise sigma (estimated if absent)")
    p.add_argument("--linear-guard", action="store_true",
                   help="--blind on linear-light data (microscopy, raw): return the input when the "
                        "restoration puts > 0.1%% of the flux below zero (a wrong kernel rings)")
    p.add_argument("--low-light", action="store_true",  # low-light hook (issue 13)
                   help="brighten an under-exposed image with Zero-DCE curves first")
    add_boundary_flag(p, "auto", extra=("auto",))
    add_io_flags(p)
    # issue 14: --ndim, --allow-large-psf, PSF overrides
    from ._deblur_checks import add_check_flags
    add_check_flags(p)
    p.add_argument("-o", "--output", required=True, help="restored image (+ .json sidecar)")
    from .tiled_deblur import (
        add_tile_flags,  # scale (issue 15): --tile/--halo/--scheduler/--workers
    )
    add_tile_flags(p)
    return p


def run(args) -> int:
    from .tiled_deblur import maybe_run_tiled  # scale (issue 15): --tile path + memory guard
    if (rc := maybe_run_tiled(args)) is not None:
        return rc
    from ..pipeline.deblurrer import Deblurrer
    from ..pipeline.guard import NEGATIVE_FLUX_LIMIT

    if not args.blind and not args.psf:
        raise ValueError("--psf is required unless --blind is given")
    est_opts = {} if str(args.size) == "auto" else {"size": int(args.size)}
    # --- issue 14: inputs read and checked before any work (shapes, --ndim, PSF sanity) ---
    from ._deblur_checks import load_checked_psf, resolve_ndim
    y = read_image(args.image, linear=args.linear, gray=args.gray)
    psf = None if args.blind else load_checked_psf(args)
    ndim_opts = {"ndim": 3} if resolve_ndim(args, y, psf) == 3 else {}
    # --- end issue 14 ---
    d = Deblurrer(args.method, estimator=args.estimator if args.blind else None,
                  boundary=args.boundary, progress=True, estimate_options=est_opts,
                  low_light="zero-dce" if getattr(args, "low_light", False) else None,
                  max_negative_flux=NEGATIVE_FLUX_LIMIT if args.linear_guard else None, **ndim_opts)
    import warnings

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # the decision is printed below, one line
        x, rep = d.restore(y, psf, sigma=args.sigma, return_report=True)
    x = np.asarray(x)
    out = Path(args.output)
    write_image(str(out), x, linear=args.linear, like=args.image)  # issue 14: keep bit depth
    report = {"image": str(args.image), "psf": str(args.psf) if args.psf else "estimated",
              "method": args.method, "boundary": args.boundary, "sigma": args.sigma,
              "decision": rep["decision"], "seconds_estimate": round(rep["seconds_estimate"], 4),
              "seconds_restore": round(rep["seconds_restore"], 4), "seconds": round(rep["seconds"], 4),
              "shape": list(x.shape)}
    if args.blind:
        from ..psf import save_psf

        out_k = out.with_name(out.stem + "_kernel.npy")
        save_psf(str(out_k), np.asarray(rep["psf"]))
        report.update(kernel_file=str(out_k), estimator=args.estimator,
                      estimate=rep["estimate"].as_dict(), confidence=rep["confidence"])
        if rep["decision"] == "identity":
            print(f"no blur detected: {rep['warning']}; wrote the input unchanged")
        elif rep["decision"] == "implausible":  # Deblurrer's plausibility guard
            print(f"estimated kernel rejected: {rep['warning']}; wrote the input unchanged")
        else:
            k = np.asarray(rep["psf"])
            print(f"estimated kernel {k.shape[0]}x{k.shape[1]} ({rep['estimate'].params.get('chosen', args.estimator)}, "
                  f"confidence {rep['confidence']:.2f}) in {rep['seconds_estimate']:.2f} s -> {out_k}")
    write_json(out.with_suffix(".json"), report)
    print(f"{args.method}: {args.image} -> {out} in {rep['seconds']:.2f} s"
          + (f" (estimation {rep['seconds_estimate']:.2f} s + restoration {rep['seconds_restore']:.2f} s)"
             if args.blind else ""))
    return 0
