"""``hybrid-deblur estimate``: estimate the blur kernel of a photo (blind).

Examples::

    hybrid-deblur estimate blurred.png -o kernel.npy              # MAP, L0 prior, size auto
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
        description="Blind kernel estimation: coarse-to-fine MAP (L0 / dark channel), "
                    "parametric spectrum fits, or blind Richardson-Lucy.")
    p.add_argument("image", help="blurred image file")
    p.add_argument("-o", "--output", required=True, help="kernel file to write (.npy/.png/.tif/.mat)")
    p.add_argument("--size", default="auto", help="kernel size: odd int or 'auto' (default)")
    p.add_argument("--method", default="map", choices=("map", "parametric", "blind_rl"))
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
    ax[2].set_title("restored (hyper-Laplacian HQS)")
    for a in ax:
        a.set_xticks([])
        a.set_yticks([])
    fig.suptitle(title, fontsize=9)
    fig.tight_layout()
    with atomic_write(path, "wb") as fh:
        fig.savefig(fh, format="png", dpi=100)
    plt.close(fig)


def run(args) -> int:
    from ..estimate import estimate_kernel
    from ..psf import save_psf

    size = _parse_size(args.size)
    y = read_image(args.image, linear=args.linear, gray=args.gray)
    k, rep = estimate_kernel(y, size=size, method=args.method, prior=args.prior, model=args.model,
                             restore=args.figure, progress=True)
    out = Path(args.output)
    save_psf(str(out), np.asarray(k))
    write_json(out.with_suffix(".json"), {"image": str(args.image), "kernel_file": str(out),
                                          **rep.as_dict()})
    if args.figure and rep.restored is not None:
        title = (f"{Path(args.image).name}: {rep.method}"
                 f"{' / ' + rep.prior if rep.prior else ''}, size {rep.size[0]}, "
                 f"confidence {rep.confidence:.2f}, {rep.time_s:.1f} s")
        _figure(y, np.asarray(k), rep.restored, out.with_name(out.stem + "_estimate.png"), title)
    print(f"{rep.method}: {args.image} -> {out} (size {rep.size[0]}x{rep.size[1]}, "
          f"confidence {rep.confidence:.2f}, {rep.time_s:.1f} s)")
    return 0
