"""``hybrid-deblur bench``: benchmark harnesses.

``hybrid-deblur bench nonblind --images DIR --kernels DIR|BANK --methods wiener,rl,skimage-wiener``
blurs every image with every kernel (``valid`` boundary by default), adds noise, restores
with each method and prints a markdown table (mean/min PSNR, SSIM, time per image); it
writes the summary JSON (``--json``), the per-image CSV (``--csv``) and the table (``--md``)
atomically. The full protocols with data sets are ``benchmarks/*.py``.
"""

from __future__ import annotations

import sys

from ..physics.boundary import BOUNDARIES

DEFAULT_METHODS = "wiener,tikhonov,rl,hqs-hl,skimage-wiener,skimage-rl"


def _noise(text: str) -> float:
    import argparse

    try:
        v = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"--noise must be a number >= 0, got {text!r}") from None
    if not (v >= 0 and v < float("inf")):
        raise argparse.ArgumentTypeError(f"--noise must be a finite number >= 0, got {text!r}")
    return v


def _positive_int(text: str) -> int:
    import argparse

    try:
        v = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a positive integer, got {text!r}") from None
    if v < 1:
        raise argparse.ArgumentTypeError(f"expected a positive integer, got {text!r}")
    return v


def add_parser(sub):
    p = sub.add_parser("bench", help="run a benchmark harness (nonblind)",
                       description="Benchmark harnesses; see benchmarks/README.md for the full protocols.")
    bs = p.add_subparsers(dest="bench_command", metavar="BENCHMARK", parser_class=type(p))
    nb = bs.add_parser(
        "nonblind", help="synthetic non-blind benchmark on a folder of images",
        description="Blur every image with every kernel, add Gaussian noise, restore with each "
                    "method, report PSNR/SSIM on the valid region and time per image.")
    nb.add_argument("--images", required=True, help="folder of sharp images (PNG/TIFF/.npy)")
    nb.add_argument("--kernels", required=True,
                    help="folder of kernels (.npy/.png/.mat, convolution orientation) or a bank name")
    nb.add_argument("--noise", type=_noise, default=0.01,
                    help="Gaussian noise sigma on the [0, 1] scale (default 0.01)")
    nb.add_argument("--boundary", default="valid", choices=BOUNDARIES,
                    help="blur model of the synthesis, passed to the methods (default valid)")
    nb.add_argument("--methods", default=DEFAULT_METHODS,
                    help=f"comma-separated method names (default {DEFAULT_METHODS})")
    nb.add_argument("--tune-images", default=None,
                    help="separate folder to tune the scikit-image baselines on (else oracle, labelled)")
    nb.add_argument("--tuning", default=None, choices=("holdout", "cv", "oracle", "none"),
                    help="how the scikit-image baselines are tuned (default: holdout with "
                         "--tune-images, else oracle)")
    nb.add_argument("--pairing", default="all", choices=("all", "cycle"),
                    help="every image x every kernel, or image i with kernel i mod n")
    nb.add_argument("--limit", type=_positive_int, default=None, help="use the first N images")
    nb.add_argument("--seed", type=int, default=0, help="noise seed (default 0)")
    nb.add_argument("--aligned", action="store_true",
                    help="shift-tolerant metrics (±5 px, 15 px border), for real captures")
    nb.add_argument("--border", type=int, default=None, help="pixels cropped before measuring")
    nb.add_argument("--no-linear", dest="linear", action="store_false",
                    help="use the 8-bit values as intensities (no sRGB decoding)")
    nb.add_argument("--gray", action="store_true", help="convert colour images to luminance")
    nb.add_argument("--json", default=None, help="summary + rows JSON (atomic)")
    nb.add_argument("--csv", default=None, help="per-image CSV (atomic)")
    nb.add_argument("--md", default=None, help="markdown table (atomic)")
    nb.add_argument("--no-progress", dest="progress", action="store_false", help="no progress bar")
    return p


def run(args) -> int:
    if getattr(args, "bench_command", None) != "nonblind":
        sys.stderr.write("hybrid-deblur bench: error: choose a benchmark: nonblind\n")
        return 2
    from ..analysis.nonblind import resolve_methods, run_nonblind

    resolve_methods(args.methods)  # unknown names fail before any image is read
    if args.border is not None and args.border < 0:
        raise ValueError(f"--border must be >= 0, got {args.border}")
    res = run_nonblind(
        args.images, args.kernels, methods=args.methods, noise=args.noise,
        boundary=args.boundary, seed=args.seed, border=args.border, aligned=args.aligned,
        progress=args.progress, tuning=args.tuning, tune_images=args.tune_images,
        pairing=args.pairing, linear=args.linear, gray=args.gray, limit=args.limit,
        json_path=args.json, csv_path=args.csv, md_path=args.md)
    c = res.config
    title = (f"non-blind: {c['n_images']} images x {c['n_kernels']} kernels ({c['pairing']}), "
             f"noise {args.noise:g}, boundary {args.boundary}")
    sys.stdout.write(res.markdown(title))
    return 0
