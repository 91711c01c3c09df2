"""Figures for PSFs and optics (issue 4): every function returns a Figure and saves atomically."""

import os

import numpy as np
import pytest
from matplotlib.figure import Figure

from hybrid_deblur.analysis import plots as P
from hybrid_deblur.psf import measured
from hybrid_deblur.psf import optics as O


@pytest.fixture(scope="module")
def k():
    return O.pupil_psf("550nm", f_number=8, pixel_pitch="1um", size=31)


def _is_png(path):
    with open(path, "rb") as f:
        return f.read(8) == b"\x89PNG\r\n\x1a\n"


def test_plot_psf_linear_log(k, tmp_path):
    fig = P.plot_psf(k, pixel_pitch="1um", path=tmp_path / "psf.png")
    assert isinstance(fig, Figure)
    assert len([a for a in fig.axes if a.get_title()]) == 2
    assert _is_png(tmp_path / "psf.png")
    assert [f for f in os.listdir(tmp_path) if f.endswith(".tmp")] == []
    assert len(P.plot_psf(k, scale="log").axes) == 2  # image + colour bar
    with pytest.raises(ValueError, match="scale"):
        P.plot_psf(k, scale="sqrt")
    with pytest.raises(ValueError, match="2-D"):
        P.plot_psf(np.ones((3, 3, 3)))


def test_plot_otf(k, tmp_path):
    fig = P.plot_otf(k, pixel_pitch="1um", path=tmp_path / "otf.pdf")
    titles = [a.get_title() for a in fig.axes]
    assert "|OTF| (log)" in titles and "OTF phase (rad)" in titles
    with open(tmp_path / "otf.pdf", "rb") as f:
        assert f.read(4) == b"%PDF"


def test_plot_mtf_marks_cutoff(k, tmp_path):
    k2 = O.pupil_psf("550nm", f_number=8, pixel_pitch="1um", size=31, zernike={6: 0.1})
    fig = P.plot_mtf([k, k2], labels=["ideal", "astigmatism"], pixel_pitch="1um",
                     wavelength="550nm", f_number=8, path=tmp_path / "mtf.png")
    ax = fig.axes[0]
    fc_mm = 1e-3 / (550e-9 * 8)
    xs = [ln.get_xdata()[0] for ln in ax.lines if len(ln.get_xdata()) == 2
          and ln.get_xdata()[0] == ln.get_xdata()[1]]
    assert any(abs(x - fc_mm) < 1e-6 for x in xs)  # the diffraction cutoff line
    assert any(abs(x - 500.0) < 1e-6 for x in xs)  # sensor Nyquist: 0.5 cycles/px = 500/mm
    labels = [t.get_text() for t in ax.get_legend().get_texts()]
    assert "ideal" in labels and "astigmatism" in labels
    # the measured curve follows the theoretical diffraction x pixel MTF
    from hybrid_deblur.psf.measured import radial_mtf

    big = O.pupil_psf("550nm", f_number=8, pixel_pitch="1um", size=129)  # ~1.5% in the tails
    f, m = radial_mtf(big, pixel_pitch="1um")
    th = P.diffraction_mtf(f, "550nm", f_number=8, pixel_pitch="1um")
    assert np.abs(m - th).max() < 0.03
    with pytest.raises(ValueError, match="pixel_pitch"):
        P.plot_mtf(k, wavelength="550nm", f_number=8)
    with pytest.raises(ValueError, match="labels"):
        P.plot_mtf([k, k2], labels=["one"])


def test_plot_encircled_energy(k, tmp_path):
    fig = P.plot_encircled_energy([k], labels=["ideal"], pixel_pitch="1um",
                                  path=tmp_path / "ee.svg")
    line = fig.axes[0].lines[0]
    assert line.get_ydata()[-1] == pytest.approx(1.0, abs=1e-6)
    assert np.all(np.diff(line.get_ydata()) >= -1e-12)  # monotone
    assert (tmp_path / "ee.svg").read_text().lstrip().startswith("<?xml")


def test_encircled_energy_labels_do_not_overlap():
    """Issue 14: notebook 02's wave-vs-geometric figure (close radii) has readable labels."""
    d = O.thin_lens_defocus("50mm", 8, "2m", "0.94m", "2um", wavelength="550nm")
    fig = P.plot_encircled_energy([d.psf, d.geometric_psf(d.psf.shape[0])],
                                  labels=["wave optics", "geometric disk"], pixel_pitch="2um")
    fig.canvas.draw()
    r = fig.canvas.get_renderer()
    from matplotlib.text import Text

    found = fig.findobj(Text)
    texts = [t for t in {id(t): t for t in found}.values()      # findobj may repeat an artist
             if t.get_visible() and t.get_text().strip()]
    boxes = [(t.get_text(), t.get_window_extent(r)) for t in texts]
    clash = [(a, b) for i, (a, x) in enumerate(boxes) for b, y in boxes[i + 1:]
             if x.overlaps(y)]
    assert clash == []
    legend = [t.get_text() for t in fig.axes[0].get_legend().get_texts()]
    r50 = measured.encircled_energy_radius(d.psf, 0.5) * 2
    assert legend[0].startswith(f"wave optics (50%: {r50:.3g}, 80%: ") and "µm" in legend[0]


def test_plot_psf_stack(tmp_path):
    s = O.pupil_psf_3d("520nm", na=0.8, pixel_pitch="100nm", z_step="250nm", nz=9, size=21)
    for mode in ("slices", "mip", "slices-peak"):
        fig = P.plot_psf_stack(s, mode=mode, voxel_size=("250nm", "100nm", "100nm"), log=True)
        assert len(fig.axes) == 4  # XY, XZ, YZ + colour bar
    fig = P.plot_psf_stack(s, path=tmp_path / "stack.png")
    assert _is_png(tmp_path / "stack.png")
    xz = fig.axes[1].images[0].get_array()
    assert xz.shape == (9, 21)
    with pytest.raises(ValueError, match="3-D"):
        P.plot_psf_stack(np.ones((4, 4)))
    with pytest.raises(ValueError, match="mode"):
        P.plot_psf_stack(s, mode="volume")
    with pytest.raises(ValueError, match="voxel_size"):
        P.plot_psf_stack(s, voxel_size="100nm")


def test_save_figure_rejects_unknown_format(k, tmp_path):
    fig = P.plot_psf(k)
    with pytest.raises(ValueError, match="png"):
        P.save_figure(fig, tmp_path / "x.bmp")
    assert not (tmp_path / "x.bmp").exists()
