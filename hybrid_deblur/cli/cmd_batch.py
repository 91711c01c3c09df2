"""``hybrid-deblur batch``: restore every image of a folder (resumable, atomic per file).

Exit status: the number of files that failed (capped at 100); 0 when all succeeded
or were already done. Each failure is one line ``FAILED <file>: <reason>`` on stderr.
"""

from __future__ import annotations

from ._common import add_boundary_flag, add_io_flags, read_psf

#: exit statuses above this are reserved by shells (126+) and by the CLI (2 = usage error)
MAX_EXIT = 100


def add_parser(sub):
    from ..pipeline.methods import METHODS

    p = sub.add_parser(
        "batch",
        help="restore every image of a folder (skips finished outputs, resumable)",
        description="Restore every image of IN_DIR into OUT_DIR (same names) with one PSF. "
                    "Outputs are written atomically, so a killed run resumes where it stopped "
                    "when started again. Exit status = number of failed files (capped at 100).",
    )
    p.add_argument("in_dir", help="folder of blurred images (.png .jpg .tif .bmp .npy)")
    p.add_argument("out_dir", help="output folder (created if needed)")
    p.add_argument("--psf", required=True, help="PSF file (.npy/.png/.tif/.mat)")
    p.add_argument("--orientation", default="conv", choices=("conv", "matlab"))
    p.add_argument("--method", default="wiener", choices=sorted(METHODS),
                   help="restoration method (default wiener)")
    p.add_argument("--sigma", type=float, default=None, help="noise sigma (estimated per image if absent)")
    p.add_argument("--pattern", default=None, help="only files matching this shell pattern")
    p.add_argument("--ext", default=None, help="output extension (default: the input's)")
    p.add_argument("--overwrite", action="store_true", help="redo files whose output exists")
    p.add_argument("--tile", type=int, default=None, help="restore each image in tiles of this size")
    p.add_argument("--scheduler", default=None,
                   help="with --tile: 'threads' (default), 'local' (a local dask cluster) or the "
                        "address of a dask scheduler (tcp://host:8786)")
    p.add_argument("--quiet", action="store_true", help="no progress bar")
    add_boundary_flag(p, "auto", extra=("auto",))
    add_io_flags(p)
    return p


def run(args) -> int:
    from ..analysis.registry import get_method
    from ..scale import deblur_folder
    from ..scale.params import accepts

    fn = get_method(args.method)
    psf = read_psf(args.psf, orientation=args.orientation)
    opts = {}
    if args.sigma is not None:
        if not accepts(fn, "sigma"):
            raise ValueError(f"--sigma is not used by method {args.method!r}")
        opts["sigma"] = args.sigma
    rep = deblur_folder(args.in_dir, args.out_dir, psf, args.method, pattern=args.pattern,
                        out_ext=args.ext, linear=args.linear, gray=args.gray,
                        boundary=args.boundary, overwrite=args.overwrite, tile=args.tile,
                        scheduler=args.scheduler, progress=not args.quiet, **opts)
    n_fail = len(rep["failed"])
    print(f"batch {args.method}: {len(rep['done'])} restored, {len(rep['skipped'])} already done, "
          f"{n_fail} failed of {rep['total']} in {rep['seconds']:.1f} s -> {args.out_dir}")
    return min(n_fail, MAX_EXIT)
