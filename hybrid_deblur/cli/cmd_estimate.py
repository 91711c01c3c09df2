"""``hybrid-deblur estimate``: estimate the blur kernel of a photo (blind).

Examples::

    hybrid-deblur estimate blurred.png -o kernel.npy              # auto: candidates + no-harm guard
    hybrid-deblur estimate blurred.png --size 31 --prior dark_channel -o k.png
    hybrid-deblur estimate blurred.png --method parametric --model motion -o k.npy

Writes the kernel (any format of :func:`hybrid_deblur.psf.save_psf`), a JSON report
``<stem>.json`` next to it and, unless ``--no-figure``, a figure ``<stem>_estimate.png``
with the blurred image, the kernel and the restoration with that kernel.
"""

from __future__ import annotations

import argparse
from pathlib import Path

import numpy as np

from ._common import add_io_flags, read_image, write_json

__all__ = ["add_parser", "run"]


def add_parser(subparsers) -> argparse.ArgumentParser:
    p = subparsers.add_parser(
        "estimate", help="estimate the blur kernel of an image (blind)",
        description="Blind kernel estimation (through Deblurrer): auto = candidates (identity, "
                    "parametric fits, MAP at two sizes, learned) scored by the evidence, with a "
                    "no-harm guard; or one family: map (L0 / dark channel), parametric, learned.")
    p.add_argument("image", help="blurred image file")
    p.add_argument("-o", "--output", required=True, help="kernel file to write (.npy/.png/.tif/.mat)")
    p.add_argument("--size", default="auto", help="kernel size: odd int or 'auto' (default)")
    p.add_argument("--method", default="auto", choices=("auto", "map", "parametric", "learned"))
    p.add_argument("--prior", default="l0", choices=("l0", "dark_channel"), help="MAP image prior")
    p.add_argument("--model", default="auto",
                   choices=("auto", "motion", "defocus", "gaussian", "motion+defocus"),
                   help="model of --method parametric")
    p.add_argument("--no-figure", dest="figure", action="store_false",
                   help="skip the figure (and the restoration it shows)")
    add_io_flags(p)
    return p


def _parse_size(text: str):
    t = str(text).strip().lower()
    if t == "auto":
        return None
    try:
        v = int(t)
    except ValueError:
        raise ValueError(f"--size {text!r} is not accepted; use an odd int or 'auto'") from None
    return v


def _figure(y, k, x, path: Path, title: str) -> None:
    import matplotlib

    matplotlib.use("Agg", force=False)
    import matplotlib.pyplot as plt

    from ..io import atomic_write

    def show(a):
        a = np.asarray(a)
        if a.ndim == 3:
            a = np.moveaxis(a, 0, -1) if a.shape[0] in (1, 3) else a
        return np.clip(a, 0, 1) ** (1 / 2.2)

    fig, ax = plt.subplots(1, 3, figsize=(12, 4.2))
    ax[0].imshow(show(y), cmap="gray", vmin=0, vmax=1)
    ax[0].set_title("blurred")
    ax[1].imshow(k, cmap="inferno", interpolation="nearest")
    ax[1].set_title(f"kernel {k.shape[0]}x{k.shape[1]}")
    ax[2].imshow(show(x), cmap="gray", vmin=0, vmax=1)
    ax[2].set_title("restored (HQS-TV)")
    for a in ax:
        a.set_xticks([])
        a.set_yticks([])
    fig.suptitle(title, fontsize=9)
    fig.tight_layout()
    with atomic_write(path, "wb") as fh:
        fig.savefig(fh, format="png", dpi=100)
    plt.close(fig)


def run(args) -> int:
    import warnings

    from ..pipeline.deblurrer import Deblurrer
    from ..psf import save_psf

    size = _parse_size(args.size)
    opts = {"prior": args.prior, "model": args.model}
    if size is not None:
        opts["size"] = size
    y = read_image(args.image, linear=args.linear, gray=args.gray)
    d = Deblurrer("hqs-tv", estimator=args.method, progress=True, estimate_options=opts)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # the decision is printed below, one line
        if args.figure:
            x, r = d.restore(y, return_report=True)
            k, rep = r["psf"], r["estimate"]
        else:
            k, rep = d.estimate(y)
            x = None
    out = Path(args.output)
    save_psf(str(out), np.asarray(k))
    write_json(out.with_suffix(".json"), {"image": str(args.image), "kernel_file": str(out),
                                          **rep.as_dict()})
    if x is not None:
        title = (f"{Path(args.image).name}: {rep.method}"
                 f"{' / ' + rep.prior if rep.prior else ''}, {rep.decision}, size {np.shape(k)[0]}, "
                 f"confidence {rep.confidence:.2f}, {rep.time_s:.1f} s")
        _figure(y, np.asarray(k), x, out.with_name(out.stem + "_estimate.png"), title)
    if rep.decision == "identity":
        print(f"no blur detected: {rep.warning}")
    print(f"{rep.method}: {args.image} -> {out} ({rep.decision}, size {np.shape(k)[0]}x{np.shape(k)[1]}, "
          f"confidence {rep.confidence:.2f}, {rep.time_s:.1f} s)")
    return 0
