"""``hybrid-deblur psf``: build a PSF from shape specs (or a file), save it and plot it.

Examples::

    hybrid-deblur psf --motion length=21,angle=30 --defocus radius=4 -o psf.npy
    hybrid-deblur psf --trajectory length=15,seed=3 --gaussian sigma=0.8 -o shake.png
    hybrid-deblur psf --file f.mat --orientation matlab -o levin.npy

Several specs are convolved together (:func:`hybrid_deblur.psf.combine`). Each
spec is ``key=value[,key=value...]``; a bare number is the first key (``--defocus 4``).
Besides the kernel, a figure ``<stem>_figure.png`` (or ``--figure PATH``) shows the
PSF (linear and log) and the centred log-magnitude of its OTF; a 3-D ``--measured``
stack is shown as orthogonal views, in µm when the voxel size is known (``--voxel``
or the TIFF's resolution tags). Optics warnings (``UndersampledWarning``) are
printed as one line each.
"""

from __future__ import annotations

import argparse
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np

__all__ = ["SPECS", "add_parser", "build_psf", "parse_spec", "run"]


def parse_spec(text: str, keys: dict[str, Callable[[str], Any]], *, option: str
               ) -> dict[str, Any]:
    """Parse ``"key=value,key=value"`` into a dict, converting each value.

    Parameters
    ----------
    text : str
        The spec. A bare value without ``=`` is assigned to the first key.
    keys : dict
        Accepted keys (in order) and their converters (``float``, ``int`` or
        any callable that raises ``ValueError`` on bad text).
    option : str
        Name of the option, for error messages (e.g. ``"--motion"``).

    Raises
    ------
    ValueError
        Unknown or repeated key, empty value, or a value the converter rejects;
        the message names the option and the accepted keys.

    Examples
    --------
    >>> from hybrid_deblur.cli.cmd_psf import parse_spec
    >>> parse_spec("length=21,angle=30", {"length": float, "angle": float}, option="--motion")
    {'length': 21.0, 'angle': 30.0}
    >>> parse_spec("4", {"radius": float}, option="--defocus")
    {'radius': 4.0}
    """
    accepted = ", ".join(keys)
    out: dict[str, Any] = {}
    parts = [p.strip() for p in str(text).split(",")]
    if not any(parts):
        raise ValueError(f"{option}: empty spec; accepted keys: {accepted}")
    for i, part in enumerate(parts):
        if not part:
            raise ValueError(f"{option}: empty item in {text!r}; accepted keys: {accepted}")
        if "=" in part:
            k, v = (s.strip() for s in part.split("=", 1))
        elif i == 0:
            k, v = next(iter(keys)), part
        else:
            raise ValueError(f"{option}: item {part!r} is not key=value; accepted keys: "
                             f"{accepted}")
        if k not in keys:
            raise ValueError(f"{option}: unknown key {k!r}; accepted keys: {accepted}")
        if k in out:
            raise ValueError(f"{option}: key {k!r} given twice")
        if not v:
            raise ValueError(f"{option}: key {k!r} has no value")
        try:
            out[k] = keys[k](v)
        except (ValueError, TypeError):
            kind = getattr(keys[k], "__name__", "value")
            raise ValueError(f"{option}: {k}={v!r} is not a valid {kind}; accepted keys: "
                             f"{accepted}") from None
    return out


def _opt_int(v: str) -> int:
    f = float(v)
    if f != int(f):
        raise ValueError(v)
    return int(f)


_opt_int.__name__ = "int"


def _need(p: dict, key: str, option: str, example: str) -> None:
    if key not in p:
        raise ValueError(f"{option} needs {key}= (e.g. {option} {example})")


def _motion(p):
    from ..psf import linear_motion

    _need(p, "length", "--motion", "length=21,angle=30")
    return linear_motion(**p)


def _defocus(p):
    from ..psf import disk

    _need(p, "radius", "--defocus", "radius=4")
    return disk(**p)


def _gauss(p):
    from ..psf import gaussian

    p = dict(p)
    sy, sx = p.pop("sigma_y", None), p.pop("sigma_x", None)
    s = p.pop("sigma", None)
    if sy is not None or sx is not None:
        base = 0.0 if s is None else s
        p["sigma"] = (base if sy is None else sy, base if sx is None else sx)
    else:
        if s is None:
            raise ValueError("--gaussian needs sigma= (or sigma_y=/sigma_x=)")
        p["sigma"] = s
    return gaussian(**p)


def _trajectory(p):
    from ..psf import trajectory_motion

    return trajectory_motion(**p)


def _num_or_len(v: str):
    """A float, or a length with a unit kept as text (``"0.2um"``) for :mod:`psf.optics`."""
    try:
        return float(v)
    except ValueError:
        from ..psf.optics import length

        length(v, name="value", lo=-1.0, hi=1.0)  # raises ValueError on bad text
        return v


_num_or_len.__name__ = "number or length"


def _optics(p):
    """Lens PSF from physical parameters (:func:`hybrid_deblur.psf.optics.pupil_psf`)."""
    from ..psf.optics import pupil_psf

    p = dict(p)
    for key in ("wavelength", "pixel"):
        if key not in p:
            raise ValueError(f"--optics needs {key}= (e.g. wavelength=550nm,fnum=2.8,pixel=4.5um)")
    zern = {name: p.pop(name) for name in ("defocus", "spherical", "coma", "astigmatism")
            if name in p}
    # UndersampledWarning / GridWarning reach the user as one line each (cli.main)
    return pupil_psf(p["wavelength"], f_number=p.get("fnum"), na=p.get("na"),
                     pixel_pitch=p["pixel"], zernike=zern or None, size=p.get("size"))


#: option name -> (accepted keys with converters, builder(params) -> psf, help text).
#: Other modules may add entries (e.g. optics) before the parser is built.
SPECS: dict[str, tuple[dict[str, Callable], Callable[[dict], np.ndarray], str]] = {
    "motion": ({"length": float, "angle": float, "size": _opt_int}, _motion,
               "linear motion: length=PX,angle=DEG[,size=N]"),
    "defocus": ({"radius": float, "size": _opt_int}, _defocus,
                "defocus disk: radius=PX[,size=N]"),
    "gaussian": ({"sigma": float, "sigma_y": float, "sigma_x": float, "angle": float,
                  "size": _opt_int}, _gauss,
                 "Gaussian: sigma=PX or sigma_y=..,sigma_x=..[,angle=DEG][,size=N]"),
    "trajectory": ({"length": float, "size": _opt_int, "anxiety": float, "exposure": float,
                    "seed": _opt_int, "n_samples": _opt_int}, _trajectory,
                   "camera shake: length=PX[,size=N,anxiety=A,exposure=F,seed=S]"),
    "optics": ({"wavelength": str, "fnum": float, "na": float, "pixel": str,
                "defocus": _num_or_len, "spherical": _num_or_len, "coma": _num_or_len,
                "astigmatism": _num_or_len, "size": _opt_int}, _optics,
               ("lens: wavelength=550nm,fnum=2.8 (or na=1.2),pixel=4.5um[,defocus=WAVES_RMS,"
                "spherical=..,coma=..,astigmatism=.. (waves RMS or e.g. 0.1um),size=N]")),
}


def add_parser(subparsers) -> argparse.ArgumentParser:
    p = subparsers.add_parser(
        "psf", help="build, convert and plot a PSF",
        description="Build a PSF from shape specs (several are convolved together) or read a "
                    "kernel file; write it (.npy, .png, .tif, .mat) and a figure "
                    "<stem>_figure.png.")
    for name, (_keys, _fn, helptext) in SPECS.items():
        p.add_argument(f"--{name}", action="append", default=[], metavar="SPEC", help=helptext)
    p.add_argument("--file", action="append", default=[], metavar="PATH",
                   help="read a kernel file (.npy, .npz, .png, .tif, .mat)")
    p.add_argument("--measured", action="append", default=[], metavar="PATH",
                   help="raw bead image or (z, y, x) stack (.tif, .npy): background removed, "
                        "centred, cropped to 99%% energy, normalised (psf.measured.ingest)")
    p.add_argument("--orientation", choices=("conv", "matlab"), default="conv",
                   help="orientation of --file kernels (matlab: correlation, rotated 180°)")
    p.add_argument("--size", type=int, default=None,
                   help="final kernel size (crop or zero-pad around the centre)")
    p.add_argument("-o", "--output", required=True, help="output kernel file")
    p.add_argument("--figure", default=None, metavar="PATH",
                   help="where to write the figure (default <stem>_figure.png next to -o)")
    p.add_argument("--no-figure", action="store_true", help="do not write the figure")
    p.add_argument("--voxel", default=None, metavar="DZ,DY,DX",
                   help="voxel size of a --measured stack, e.g. 0.1um,0.1um,0.1um (default: "
                        "the TIFF's resolution tags, else pixels)")
    return p


def build_psf(args: argparse.Namespace) -> tuple[np.ndarray, list[str]]:
    """The combined PSF of every spec/file option in ``args`` and a description of each."""
    from ..psf import combine, load_psf

    parts, names = [], []
    for name, (keys, fn, _h) in SPECS.items():
        for text in getattr(args, name, None) or []:
            params = parse_spec(text, keys, option=f"--{name}")
            parts.append(fn(params))
            desc = ", ".join(f"{k}={v:g}" if isinstance(v, (int, float)) else f"{k}={v}"
                             for k, v in params.items())
            names.append(f"{name}({desc})")
    for path in args.file or []:
        parts.append(load_psf(path, orientation=args.orientation))
        names.append(f"file({path})")
    for path in getattr(args, "measured", None) or []:
        from ..psf.measured import ingest

        parts.append(ingest(path))
        names.append(f"measured({path})")
    if not parts:
        raise ValueError("no PSF given: use --" + ", --".join(SPECS) + ", --file or --measured")
    if any(k.ndim != 2 for k in parts):
        if len(parts) > 1:
            raise ValueError("a 3-D (z, y, x) measured PSF cannot be combined with other PSFs")
        return parts[0], names
    psf = combine(*parts) if len(parts) > 1 else parts[0]
    return psf, names


def _figure(psf: np.ndarray, path: Path, title: str) -> None:
    import matplotlib

    matplotlib.use("Agg", force=False)
    import matplotlib.pyplot as plt

    from ..io import atomic_write
    from ..psf.otf import centre_spectrum, psf2otf

    n = max(64, int(2 ** np.ceil(np.log2(2 * max(psf.shape)))))
    H = centre_spectrum(np.abs(psf2otf(psf, (n, n), onesided=False)))
    fig, ax = plt.subplots(1, 3, figsize=(11, 3.6))
    im = ax[0].imshow(psf, cmap="inferno", interpolation="nearest")
    ax[0].set_title("PSF (linear)")
    fig.colorbar(im, ax=ax[0], fraction=0.046)
    floor = max(float(psf.max()) * 1e-6, 1e-300)
    im = ax[1].imshow(np.log10(np.maximum(psf, floor)), cmap="inferno", interpolation="nearest")
    ax[1].set_title("PSF (log10)")
    fig.colorbar(im, ax=ax[1], fraction=0.046)
    im = ax[2].imshow(np.log10(np.maximum(H, 1e-8)), cmap="viridis", extent=(-.5, .5, .5, -.5))
    ax[2].set_title("log10 |OTF| (centred, cycles/px)")
    fig.colorbar(im, ax=ax[2], fraction=0.046)
    import textwrap

    fig.suptitle("\n".join(textwrap.wrap(title, 130)[:3]), fontsize=9)   # never wider than the figure
    fig.tight_layout()
    with atomic_write(path, "wb") as fh:
        fig.savefig(fh, format="png", dpi=100)
    plt.close(fig)


def figure_path(out: Path, figure: str | None) -> Path:
    """The figure's path: ``--figure`` if given, else ``<stem>_figure.png`` next to ``out``.

    Examples
    --------
    >>> from pathlib import Path
    >>> from hybrid_deblur.cli.cmd_psf import figure_path
    >>> figure_path(Path("out/psf.npy"), None).as_posix()
    'out/psf_figure.png'
    """
    if figure is not None:
        fp = Path(figure)
        if fp.suffix.lower() != ".png":
            raise ValueError(f"--figure must be a .png path, got {figure!r}")
        return fp
    return out.with_name(f"{out.stem}_figure.png")


def run(args: argparse.Namespace) -> int:
    from ..psf import centroid, crop_psf, energy_radius, pad_psf, save_psf

    out = Path(args.output)
    psf, names = build_psf(args)
    if psf.ndim == 3:
        return _run_stack(psf, out, names, args)
    if args.size is not None:
        if args.size < 1:
            raise ValueError(f"--size must be >= 1, got {args.size}")
        if all(args.size >= n for n in psf.shape):
            psf = pad_psf(psf, args.size)
        elif all(args.size <= n for n in psf.shape):
            psf = crop_psf(psf, args.size)
        else:
            psf = pad_psf(crop_psf(psf, (min(args.size, psf.shape[0]),
                                         min(args.size, psf.shape[1]))), args.size)
    if not out.parent.is_dir():
        raise OSError(f"output folder {str(out.parent)!r} does not exist")
    save_psf(out, psf)
    msg = (f"{out}: {psf.shape[0]}x{psf.shape[1]} PSF = {' * '.join(names)}; sum "
           f"{psf.sum():.6f}, centroid ({', '.join(f'{c:.2f}' for c in centroid(psf))}), "
           f"50% energy radius {energy_radius(psf):.2f} px")
    if not args.no_figure:
        fig_path = figure_path(out, getattr(args, "figure", None))
        _figure(psf, fig_path, " * ".join(names))
        msg += f"; figure {fig_path}"
    print(msg)
    return 0


def _voxel_size(args) -> tuple | None:
    """``--voxel DZ,DY,DX``, else the resolution tags of the (single) --measured TIFF."""
    from ..psf.units import length

    if getattr(args, "voxel", None):
        parts = [v.strip() for v in str(args.voxel).split(",")]
        if len(parts) != 3:
            raise ValueError(f"--voxel must be DZ,DY,DX (e.g. 0.1um,0.1um,0.1um), got "
                             f"{args.voxel!r}")
        return tuple(length(v, name="pixel_pitch") for v in parts)
    paths = getattr(args, "measured", None) or []
    if len(paths) == 1 and str(paths[0]).lower().endswith((".tif", ".tiff")):
        from ..io import voxel_size

        return voxel_size(paths[0])
    return None


def _run_stack(psf: np.ndarray, out: Path, names: list[str], args) -> int:
    """Save a 3-D (z, y, x) PSF as .npy and an orthogonal-views figure."""
    from ..io import atomic_write
    from ..psf.measured import fit

    if out.suffix.lower() != ".npy":
        raise ValueError(f"a 3-D PSF is saved as .npy; got output {str(out)!r}")
    if not out.parent.is_dir():
        raise OSError(f"output folder {str(out.parent)!r} does not exist")
    with atomic_write(out, "wb") as fh:
        np.save(fh, psf)
    r = fit(psf, "gaussian")
    msg = (f"{out}: {'x'.join(str(n) for n in psf.shape)} (z, y, x) PSF = {' * '.join(names)}; "
           f"sum {psf.sum():.6f}, lateral FWHM {r.fwhm:.2f} px, axial FWHM {r.fwhm_axial:.2f} px")
    if not args.no_figure:
        from ..analysis.plots import plot_psf_stack

        fig_path = figure_path(out, getattr(args, "figure", None))
        voxel = _voxel_size(args)
        plot_psf_stack(psf, log=True, title=" * ".join(names), voxel_size=voxel, path=fig_path)
        msg += f"; figure {fig_path}"
    print(msg)
    return 0
