"""Input checks of ``hybrid-deblur deblur`` done before any work (issue 14).

Shapes, dimensionality (2-D images or 3-D stacks), PSF sanity (colour, negative entries,
a kernel larger than half the image) with explicit ``--allow-...`` overrides, and one-line
warnings for suspicious PSFs. Every refusal is a ``ValueError`` naming the argument; the
CLI turns it into one line and exit status 2, before anything is written.
"""

from __future__ import annotations

import sys

import numpy as np

from ._common import add_psf_flags, read_psf

#: the API's override names in load_psf messages -> the CLI flags that set them
_CLI_HINTS = {"pass negative='clip'": "pass --allow-negative-psf",
              "pass colour='average'": "pass --psf-colour average"}


def add_check_flags(p) -> None:
    """``--ndim``, ``--allow-large-psf`` and the PSF overrides of ``add_psf_flags``."""
    add_psf_flags(p)
    p.add_argument("--ndim", type=int, choices=(2, 3), default=None,
                   help="spatial axes: 2 (images, leading axis = colour) or 3 (z, y, x stacks);"
                        " default: 3 when both the image and the PSF are 3-D, else 2")
    p.add_argument("--allow-large-psf", action="store_true",
                   help="restore even when the PSF is larger than half the image on an axis")


def load_checked_psf(args) -> np.ndarray:
    """``args.psf`` through ``load_psf`` with the CLI's overrides; errors name the CLI flags."""
    try:
        return read_psf(args.psf, orientation=args.orientation,
                        colour="average" if args.psf_colour == "average" else "refuse",
                        negative="clip" if args.allow_negative_psf else "refuse")
    except ValueError as exc:
        msg = str(exc)
        for api, cli in _CLI_HINTS.items():
            msg = msg.replace(api, cli)
        raise ValueError(f"--psf: {msg}") from None


def resolve_ndim(args, y: np.ndarray, psf: np.ndarray | None) -> int:
    """Spatial dimensionality of the job; refuses shapes the methods cannot take.

    Automatic 3-D when the image and the PSF are both 3-D, except a colour image with one
    PSF per channel (``(3, H, W)`` with a ``(3, kh, kw)`` PSF).
    """
    ndim = args.ndim
    if ndim is None:
        per_channel = (psf is not None and psf.ndim == 3 and y.ndim == 3
                       and psf.shape[0] == y.shape[0] and y.shape[0] in (3, 4))
        ndim = 3 if (psf is not None and psf.ndim == 3 and y.ndim == 3 and not per_channel) else 2
    if y.ndim < ndim or y.ndim > ndim + 1:
        accepted = "(H, W) or (C, H, W)" if ndim == 2 else "(Z, Y, X) or (C, Z, Y, X)"
        raise ValueError(f"image {args.image!r} has shape {tuple(y.shape)}; with --ndim {ndim} "
                         f"the accepted shapes are {accepted}"
                         + (" (a 3-D stack needs --ndim 3 and a 3-D PSF)" if ndim == 2 and y.ndim == 3 else ""))
    if psf is None:
        return ndim
    if psf.ndim < ndim:
        raise ValueError(f"--psf {args.psf!r} has shape {tuple(psf.shape)} but --ndim {ndim} "
                         f"needs a {ndim}-D PSF")
    ks, n = psf.shape[-ndim:], y.shape[-ndim:]
    if not args.allow_large_psf and any(k > s / 2 for k, s in zip(ks, n)):
        raise ValueError(f"--psf {args.psf!r}: kernel {'x'.join(map(str, ks))} is larger than half the "
                         f"image {'x'.join(map(str, n))} on an axis; the restoration would be mostly "
                         "border guesswork. Crop the PSF to its support, or pass --allow-large-psf")
    warn_suspicious_psf(psf, ndim, n, name=args.psf)
    return ndim


def warn_suspicious_psf(psf: np.ndarray, ndim: int, image_shape, *, name: str) -> list[str]:
    """Print (stderr) and return one line per suspicious property of a PSF that was accepted.

    Suspicious: the mass centroid more than a quarter of the kernel size (and 1 px) off the
    centre pixel ``k // 2`` (the result will be shifted), or a kernel larger than a quarter
    of the image on an axis.

    Examples
    --------
    >>> import numpy as np
    >>> k = np.zeros((15, 15)); k[1:4, 1:4] = 1 / 9
    >>> lines = warn_suspicious_psf(k, 2, (128, 128), name="k.npy")   # printed on stderr
    >>> len(lines), "-5.0, -5.0 px" in lines[0]
    (1, True)
    """
    k = np.asarray(psf, dtype=np.float64)
    k2 = k.reshape((-1,) + k.shape[-ndim:]).sum(axis=0)
    lines = []
    total = k2.sum()
    if total > 0:
        grids = np.indices(k2.shape, sparse=True)
        cen = [float((g * k2).sum() / total) for g in grids]
        off = [c - s // 2 for c, s in zip(cen, k2.shape)]
        if any(abs(o) > max(1.0, 0.25 * s) for o, s in zip(off, k2.shape)):
            lines.append(f"warning: PSF {name!r}: its centre of mass is "
                         f"{', '.join(f'{o:+.1f}' for o in off)} px from the centre pixel; "
                         "the restored image will be shifted by that much")
    if any(s > n / 4 for s, n in zip(k2.shape, image_shape)):
        lines.append(f"warning: PSF {name!r}: kernel {'x'.join(map(str, k2.shape))} is larger than a "
                     f"quarter of the image {'x'.join(map(str, image_shape))}; expect weak borders")
    for line in lines:
        print(line, file=sys.stderr)
    return lines
