"""Figures for PSFs and optics: PSF (linear/log), OTF, radial MTF, encircled energy, stacks.

Every function builds a :class:`matplotlib.figure.Figure` on the Agg canvas (no
pyplot state, no display needed), returns it, and writes it atomically when
``path`` is given (format from the suffix: ``.png``, ``.pdf``, ``.svg``).

Examples
--------
>>> from hybrid_deblur.psf.optics import pupil_psf
>>> from hybrid_deblur.analysis.plots import plot_mtf
>>> k = pupil_psf("550nm", f_number=8, pixel_pitch="1um", size=31)
>>> fig = plot_mtf(k, pixel_pitch="1um", wavelength="550nm", f_number=8)
>>> len(fig.axes)
1
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.colors import LogNorm
from matplotlib.figure import Figure

from .. import backend as B
from ..psf import measured as _m

__all__ = [
    "diffraction_mtf",
    "plot_encircled_energy",
    "plot_mtf",
    "plot_otf",
    "plot_psf",
    "plot_psf_stack",
    "save_figure",
]


def _fig(ncols: int, *, width: float = 3.6, height: float = 3.3) -> Figure:
    fig = Figure(figsize=(width * ncols, height))
    fig.subplots_adjust(left=0.1 / ncols + 0.04, right=0.97, bottom=0.15, top=0.9, wspace=0.45)
    FigureCanvasAgg(fig)
    return fig


def save_figure(fig: Figure, path: str | os.PathLike, *, dpi: int = 120) -> Path:
    """Write ``fig`` to ``path`` atomically (temporary file + ``os.replace``).

    Examples
    --------
    >>> import os, tempfile
    >>> from hybrid_deblur.analysis.plots import plot_psf, save_figure
    >>> from hybrid_deblur.psf import disk
    >>> p = save_figure(plot_psf(disk(3.0)), os.path.join(tempfile.mkdtemp(), "k.png"))
    >>> p.suffix, p.stat().st_size > 1000
    ('.png', True)
    """
    from ..io import atomic_write

    path = Path(os.fspath(path))
    fmt = path.suffix.lower().lstrip(".") or "png"
    if fmt not in ("png", "pdf", "svg", "jpg", "jpeg"):
        raise ValueError(f"path must end in .png, .pdf, .svg or .jpg, got {str(path)!r}")
    with atomic_write(path, "wb") as f:
        fig.savefig(f, format=fmt, dpi=dpi)
    return path


def _suptitle(fig: Figure, title: str | None, *, width_in: float) -> None:
    """A figure title above the panels (wrapped to the figure width), never over a panel title."""
    if not title:
        return
    import textwrap

    chars = max(20, int(width_in * 11))          # ~11 characters per inch at 9 pt
    lines = textwrap.wrap(str(title), chars)[:3]
    top = 0.9 - 0.075 * len(lines)
    fig.subplots_adjust(top=top)
    fig.suptitle("\n".join(lines), fontsize=9, y=0.985, va="top")


def _done(fig, path):
    if path is not None:
        save_figure(fig, path)
    return fig


def _as2d(psf, name="psf") -> np.ndarray:
    a = np.asarray(B.to_numpy(psf), dtype=np.float64)
    if a.ndim != 2 or a.size == 0 or not np.all(np.isfinite(a)):
        raise ValueError(f"{name} must be a finite 2-D array, got shape {a.shape} "
                         "(use plot_psf_stack for (z, y, x) stacks)")
    return a


def _pitch(pixel_pitch):
    if pixel_pitch is None:
        return None
    from ..psf.optics import length

    return length(pixel_pitch, name="pixel_pitch")


def _extent(shape, p):
    """imshow extent centred on pixel k // 2, in pixels or micrometres."""
    h, w = shape
    s = 1.0 if p is None else p * 1e6
    return [(-0.5 - w // 2) * s, (w - 0.5 - w // 2) * s, (h - 0.5 - h // 2) * s, (-0.5 - h // 2) * s]


def plot_psf(psf: Any, *, scale: str = "both", pixel_pitch=None, title: str | None = None,
             cmap: str = "inferno", path=None) -> Figure:
    """A 2-D PSF on a linear and/or logarithmic colour scale.

    ``scale``: ``"linear"``, ``"log"`` or ``"both"`` (two panels). Axes are in pixels,
    or micrometres when ``pixel_pitch`` is given; the centre pixel ``k // 2`` is 0.

    Examples
    --------
    >>> from hybrid_deblur.analysis.plots import plot_psf
    >>> from hybrid_deblur.psf import gaussian
    >>> fig = plot_psf(gaussian(1.5), title="Gaussian 1.5 px")
    >>> [ax.get_title() for ax in fig.axes[::2]]               # panels (colorbars between)
    ['linear', 'log']
    """
    a = _as2d(psf)
    if scale not in ("linear", "log", "both"):
        raise ValueError(f"scale must be 'linear', 'log' or 'both', got {scale!r}")
    p = _pitch(pixel_pitch)
    kinds = ["linear", "log"] if scale == "both" else [scale]
    fig = _fig(len(kinds))
    _suptitle(fig, title, width_in=3.6 * len(kinds))   # before the colorbars take their room
    unit = "px" if p is None else "µm"
    for i, kind in enumerate(kinds):
        ax = fig.add_subplot(1, len(kinds), i + 1)
        if kind == "log":
            pos = a[a > 0]
            vmax = float(a.max()) if a.max() > 0 else 1.0
            vmin = max(float(pos.min()) if pos.size else vmax * 1e-6, vmax * 1e-6)
            im = ax.imshow(np.clip(a, vmin, None), norm=LogNorm(vmin=vmin, vmax=vmax), cmap=cmap,
                           extent=_extent(a.shape, p), interpolation="nearest")
        else:
            im = ax.imshow(a, cmap=cmap, extent=_extent(a.shape, p), interpolation="nearest")
        fig.colorbar(im, ax=ax, shrink=0.8)
        ax.set_title(kind)
        ax.set_xlabel(f"x ({unit})")
        ax.set_ylabel(f"y ({unit})")
    return _done(fig, path)


def plot_otf(psf: Any, *, shape: Sequence[int] | None = None, pixel_pitch=None,
             floor: float = 1e-4, path=None) -> Figure:
    """OTF magnitude (log scale) and phase of a 2-D PSF, zero frequency in the middle.

    Frequencies are in cycles/pixel, or cycles/mm with ``pixel_pitch``. The phase is
    set to 0 where the magnitude is below ``floor`` (it is meaningless there).

    Examples
    --------
    >>> from hybrid_deblur.analysis.plots import plot_otf
    >>> from hybrid_deblur.psf import linear_motion
    >>> fig = plot_otf(linear_motion(9, 30))
    >>> [ax.get_title() for ax in fig.axes[::2]]
    ['|OTF| (log)', 'OTF phase (rad)']
    """
    from ..psf.otf import centre_spectrum, psf2otf

    a = _as2d(psf)
    a = a / a.sum()
    shp = tuple(int(v) for v in (shape or (max(64, 2 * a.shape[0]), max(64, 2 * a.shape[1]))))
    # the library's OTF convention (DESIGN §1), full spectrum, zero frequency in the middle
    full = centre_spectrum(psf2otf(a, shp, onesided=False))
    mag = np.abs(full)
    ph = np.where(mag > floor, np.angle(full), 0.0)
    p = _pitch(pixel_pitch)
    s = 1.0 if p is None else 1e-3 / p
    ext = [-0.5 * s, 0.5 * s, 0.5 * s, -0.5 * s]
    unit = "cycles/px" if p is None else "cycles/mm"
    fig = _fig(2)
    ax = fig.add_subplot(1, 2, 1)
    im = ax.imshow(np.clip(mag, floor, None), norm=LogNorm(vmin=floor, vmax=1.0), extent=ext,
                   cmap="viridis")
    fig.colorbar(im, ax=ax, shrink=0.8)
    ax.set_title("|OTF| (log)")
    ax.set_xlabel(f"fx ({unit})")
    ax.set_ylabel(f"fy ({unit})")
    ax = fig.add_subplot(1, 2, 2)
    im = ax.imshow(ph, cmap="twilight", vmin=-np.pi, vmax=np.pi, extent=ext)
    fig.colorbar(im, ax=ax, shrink=0.8)
    ax.set_title("OTF phase (rad)")
    ax.set_xlabel(f"fx ({unit})")
    return _done(fig, path)


def diffraction_mtf(freq, wavelength, *, f_number=None, na=None, pixel_pitch=None):
    """Theoretical MTF of an aberration-free circular pupil (× the pixel's sinc).

    ``freq`` in cycles/m; with ``pixel_pitch`` the pixel-aperture MTF
    :math:`|\\mathrm{sinc}(f p)|` is included. Notes: with :math:`s = f\\lambda N`,
    :math:`\\mathrm{MTF}(s) = \\frac{2}{\\pi}(\\arccos s - s\\sqrt{1 - s^2})` for
    :math:`s < 1`, 0 beyond.

    Examples
    --------
    >>> import numpy as np
    >>> from hybrid_deblur.analysis.plots import diffraction_mtf
    >>> m = diffraction_mtf(np.array([0.0, 1 / (0.5e-6 * 4)]), "500nm", f_number=4)
    >>> np.round(m, 6).tolist()                    # 1 at DC, 0 at the cutoff 1 / (lambda N)
    [1.0, 0.0]
    """
    from ..psf.optics import diffraction_cutoff

    fc = diffraction_cutoff(wavelength, f_number=f_number, na=na)
    s = np.clip(np.asarray(freq, dtype=np.float64) / fc, 0, 1)
    m = 2 / np.pi * (np.arccos(s) - s * np.sqrt(1 - s * s))
    if pixel_pitch is not None:
        m = m * np.abs(np.sinc(np.asarray(freq) * _pitch(pixel_pitch)))
    return m


def plot_mtf(psfs: Any, *, labels: Sequence[str] | None = None, pixel_pitch=None,
             wavelength=None, f_number=None, na=None, theory: bool = True,
             path=None) -> Figure:
    """Radial MTF of one or more 2-D PSFs, with the diffraction cutoff marked.

    Parameters
    ----------
    psfs : array or list of arrays
        PSFs on the same pixel grid.
    pixel_pitch : float or str, optional
        Frequency axis in cycles/mm (line pairs per mm) instead of cycles/pixel.
    wavelength, f_number / na : optional
        Mark the incoherent cutoff :math:`1/(\\lambda N)` (needs ``pixel_pitch``) and,
        with ``theory=True``, draw the aberration-free MTF × pixel sinc for reference.

    Examples
    --------
    >>> from hybrid_deblur.analysis.plots import plot_mtf
    >>> from hybrid_deblur.psf import airy
    >>> fig = plot_mtf(airy("550nm", 8, "1um", size=33), pixel_pitch="1um", wavelength="550nm",
    ...                f_number=8)
    >>> len(fig.axes[0].lines) >= 2                    # measured curve + theory
    True
    """
    from ..psf.optics import diffraction_cutoff

    if isinstance(psfs, (list, tuple)):
        items = [_as2d(k, f"psfs[{i}]") for i, k in enumerate(psfs)]
    else:
        items = [_as2d(psfs)]
    labels = list(labels) if labels is not None else [f"PSF {i + 1}" for i in range(len(items))]
    if len(labels) != len(items):
        raise ValueError(f"labels must have {len(items)} entries, got {len(labels)}")
    p = _pitch(pixel_pitch)
    s = 1.0 if p is None else 1e-3 / p  # cycles/px -> cycles/mm
    unit = "cycles/px" if p is None else "cycles/mm"
    fig = _fig(1, width=5.2, height=3.6)
    ax = fig.add_subplot(1, 1, 1)
    for k, lab in zip(items, labels):
        f, m = _m.radial_mtf(k)
        ax.plot(f * s, m, label=lab)
    ax.axvline(0.5 * s, color="0.5", ls=":", label="sensor Nyquist")
    xmax = 0.5 * s
    if wavelength is not None and (f_number is not None or na is not None):
        if p is None:
            raise ValueError("marking the diffraction cutoff needs pixel_pitch")
        fc = diffraction_cutoff(wavelength, f_number=f_number, na=na)  # cycles/m
        ax.axvline(fc * 1e-3, color="k", ls="--", label=f"diffraction cutoff {fc * 1e-3:.0f}/mm")
        xmax = max(xmax, fc * 1e-3)
        if theory:
            ff = np.linspace(0, fc, 400)
            ax.plot(ff * 1e-3, diffraction_mtf(ff, wavelength, f_number=f_number, na=na,
                                               pixel_pitch=p), "k", lw=0.8, alpha=0.6,
                    label="diffraction × pixel")
    ax.set_xlim(0, xmax * 1.05)
    ax.set_ylim(0, 1.02)
    ax.set_xlabel(f"spatial frequency ({unit})")
    ax.set_ylabel("MTF")
    ax.grid(alpha=0.3)
    ax.legend(fontsize=8)
    return _done(fig, path)


def plot_encircled_energy(psfs: Any, *, labels: Sequence[str] | None = None, pixel_pitch=None,
                          marks: Sequence[float] = (0.5, 0.8), path=None) -> Figure:
    """Encircled-energy curve(s) around the centre pixel; the radii at ``marks`` are marked
    on the curves and written in the legend (``wave optics (50%: 12.3, 80%: 17.5 µm)``).

    Examples
    --------
    >>> from hybrid_deblur.analysis.plots import plot_encircled_energy
    >>> from hybrid_deblur.psf import disk
    >>> fig = plot_encircled_energy([disk(10.0)], labels=["disk"])
    >>> fig.axes[0].get_legend().get_texts()[0].get_text()
    'disk (50%: 7.08, 80%: 8.93 px)'
    """
    items = ([_as2d(k, f"psfs[{i}]") for i, k in enumerate(psfs)]
             if isinstance(psfs, (list, tuple)) else [_as2d(psfs)])
    labels = list(labels) if labels is not None else [f"PSF {i + 1}" for i in range(len(items))]
    if len(labels) != len(items):
        raise ValueError(f"labels must have {len(items)} entries, got {len(labels)}")
    p = _pitch(pixel_pitch)
    s = 1.0 if p is None else p * 1e6
    unit = "px" if p is None else "µm"
    fig = _fig(1, width=5.2, height=3.6)
    ax = fig.add_subplot(1, 1, 1)
    for k, lab in zip(items, labels):
        r, ee = _m.encircled_energy(k)
        radii = [_m.encircled_energy_radius(k, fr) * s for fr in marks]
        # the radii go into the legend, not next to the markers: curves whose radii are
        # close would put their numbers on top of each other
        note = ", ".join(f"{100 * fr:.0f}%: {rr:.3g}" for fr, rr in zip(marks, radii))
        line, = ax.plot(r * s, ee, label=f"{lab} ({note} {unit})" if note else lab)
        if radii:
            ax.plot(radii, list(marks), "o", color=line.get_color(), ms=4)
    ax.set_ylim(0, 1.02)
    ax.set_xlabel(f"radius ({unit})")
    ax.set_ylabel("encircled energy")
    ax.grid(alpha=0.3)
    ax.legend(fontsize=8, loc="lower right")
    return _done(fig, path)


def plot_psf_stack(stack: Any, *, mode: str = "slices", voxel_size=None, log: bool = False,
                   cmap: str = "inferno", title: str | None = None, path=None) -> Figure:
    """Orthogonal views of a (z, y, x) PSF or image stack.

    Parameters
    ----------
    mode : {"slices", "mip"}
        Central slices through voxel ``k // 2`` (or the brightest voxel for a
        non-PSF stack: ``"slices-peak"``), or maximum-intensity projections.
    voxel_size : (dz, dy, dx), optional
        Voxel sizes (numbers in metres or strings); sets the aspect ratio and
        labels the axes in micrometres.
    log : bool
        Logarithmic colour scale (the faint lobes of a PSF).

    Examples
    --------
    >>> import numpy as np
    >>> from hybrid_deblur.analysis.plots import plot_psf_stack
    >>> from hybrid_deblur.psf import gaussian
    >>> stack = np.stack([gaussian(s, size=15) for s in (2.0, 1.0, 2.0)])
    >>> fig = plot_psf_stack(stack, voxel_size=("0.3um", "0.1um", "0.1um"), title="bead")
    >>> [ax.get_title() for ax in fig.axes[:3]], fig.axes[0].get_xlabel()
    (['XY slice', 'XZ slice', 'YZ slice'], 'x (µm)')
    """
    a = np.asarray(B.to_numpy(stack), dtype=np.float64)
    if a.ndim != 3 or a.size == 0 or not np.all(np.isfinite(a)):
        raise ValueError(f"stack must be a finite 3-D (z, y, x) array, got shape {a.shape}")
    if mode not in ("slices", "slices-peak", "mip"):
        raise ValueError(f"mode must be 'slices', 'slices-peak' or 'mip', got {mode!r}")
    if voxel_size is None:
        dz = dy = dx = 1.0
        unit = "px"
    else:
        from ..psf.optics import length

        if np.isscalar(voxel_size) or isinstance(voxel_size, str) or len(voxel_size) != 3:
            raise ValueError(f"voxel_size must be (dz, dy, dx), got {voxel_size!r}")
        dz, dy, dx = (length(v, name="pixel_pitch") * 1e6 for v in voxel_size)
        unit = "µm"
    if mode == "mip":
        xy, xz, yz = a.max(axis=0), a.max(axis=1), a.max(axis=2)
    else:
        c = ([n // 2 for n in a.shape] if mode == "slices"
             else list(np.unravel_index(int(np.argmax(a)), a.shape)))
        xy, xz, yz = a[c[0]], a[:, c[1], :], a[:, :, c[2]]
    vmax = float(a.max()) if a.max() > 0 else 1.0
    norm = LogNorm(vmin=vmax * 1e-4, vmax=vmax) if log else None
    _nz, _ny, _nx = a.shape
    fig = _fig(3, width=3.4, height=3.2)
    _suptitle(fig, title, width_in=3 * 3.4)            # before the colorbar takes its room
    panels = [(xy, "x", "y", dx, dy, "XY"), (xz, "x", "z", dx, dz, "XZ"),
              (yz, "y", "z", dy, dz, "YZ")]
    for i, (img, xl, yl, sx, sy, name) in enumerate(panels):
        ax = fig.add_subplot(1, 3, i + 1)
        img = np.clip(img, vmax * 1e-4, None) if log else img
        h, w = img.shape
        im = ax.imshow(img, cmap=cmap, norm=norm, vmin=None if log else 0,
                       vmax=None if log else vmax, interpolation="nearest",
                       extent=[-0.5 * sx, (w - 0.5) * sx, (h - 0.5) * sy, -0.5 * sy])
        ax.set_aspect("equal")
        ax.set_title(f"{name} {'MIP' if mode == 'mip' else 'slice'}")
        ax.set_xlabel(f"{xl} ({unit})")
        ax.set_ylabel(f"{yl} ({unit})")
    fig.colorbar(im, ax=fig.axes, shrink=0.8)
    return _done(fig, path)
