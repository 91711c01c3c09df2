"""``hybrid-deblur blur``: sharp image + PSF + noise -> blurred image + JSON sidecar."""

from __future__ import annotations

from pathlib import Path

from ._common import (
    add_boundary_flag,
    add_io_flags,
    add_psf_flags,
    read_image,
    read_psf,
    write_image,
    write_json,
)


def add_parser(sub):
    p = sub.add_parser(
        "blur",
        help="blur a sharp image with a PSF and add noise (writes IMAGE + JSON sidecar)",
        description="Apply the forward model y = Q(S(N(k * x))) and record what was applied.",
    )
    p.add_argument("image", help="sharp image (PNG/JPEG/TIFF/.npy)")
    p.add_argument("--psf", required=True, help="PSF file (.npy/.png/.tif/.mat)")
    p.add_argument("--orientation", default="conv", choices=("conv", "matlab"),
                   help="PSF orientation in the file (matlab = correlation, rotated on load)")
    add_psf_flags(p)
    p.add_argument("--noise", type=float, default=0.0, help="Gaussian sigma on the [0,1] scale")
    p.add_argument("--photons", type=float, default=None, help="Poisson noise: photons at peak")
    p.add_argument("--bits", type=int, default=None, help="quantise to this many bits")
    p.add_argument("--saturation", type=float, default=None, help="clip at this full-well level")
    p.add_argument("--seed", type=int, default=0)
    add_boundary_flag(p, "valid")
    add_io_flags(p)
    p.add_argument("-o", "--output", required=True, help="output image; a .json sidecar is written beside it")
    return p


def run(args) -> int:
    from ..physics import degrade

    x = read_image(args.image, linear=args.linear, gray=args.gray)
    psf = read_psf(args.psf, orientation=args.orientation, colour=args.psf_colour,
                   negative="clip" if args.allow_negative_psf else "refuse")
    noise = {"gaussian": args.noise, "poisson": args.photons, "bits": args.bits}
    y, info = degrade(x, psf, boundary=args.boundary, noise=noise, saturation=args.saturation,
                      seed=args.seed)
    info.update({"image": str(args.image), "psf": str(args.psf), "linear": args.linear})
    out = Path(args.output)
    write_image(str(out), y, linear=args.linear, like=args.image)
    write_json(out.with_suffix(".json"), info)
    print(f"blurred {args.image} -> {out} ({info['output_shape']}, noise {info['noise']})")
    return 0
