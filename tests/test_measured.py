"""Measured PSFs (issue 4): ingestion of raw bead images/stacks, parametric fits, metrics."""

import json
import math
from pathlib import Path

import numpy as np
import pytest
from scipy import ndimage

from hybrid_deblur.psf import measured as M
from hybrid_deblur.psf import optics as O

DATA = Path(__file__).resolve().parents[1] / ".." / "shared" / "data"
LLSM = DATA / "psf_measured_llsm"


def gauss2(shape, c, sigma):
    yy, xx = np.indices(shape, dtype=float)
    g = np.exp(-0.5 * ((yy - c[0]) ** 2 + (xx - c[1]) ** 2) / sigma ** 2)
    return g / g.sum()


def test_ingest_synthetic_bead_with_offset_and_noise():
    rng = np.random.default_rng(1)
    true = gauss2((64, 64), (27.3, 36.6), 2.0)
    raw = rng.poisson(140.0 + 2e5 * true).astype(np.uint16)  # camera offset 140 + shot noise
    psf, info = M.ingest(raw, return_info=True)
    assert info["background"] == pytest.approx(140.0, abs=1.0)
    assert info["center_found"] == pytest.approx([27.3, 36.6], abs=0.1)
    assert psf.sum() == pytest.approx(1.0) and psf.min() >= 0
    assert all(n % 2 == 1 for n in psf.shape)
    c = [n // 2 for n in psf.shape]
    assert np.unravel_index(psf.argmax(), psf.shape) == tuple(c)
    yy, xx = np.indices(psf.shape)
    assert (psf * yy).sum() == pytest.approx(c[0], abs=0.15)
    assert (psf * xx).sum() == pytest.approx(c[1], abs=0.15)
    fit = M.fit(psf, "gaussian")
    assert fit.fwhm == pytest.approx(2.3548 * 2.0, rel=0.05)
    assert fit.residual < 0.1


def test_ingest_options_and_errors():
    rng = np.random.default_rng(2)
    raw = 100.0 + rng.normal(0, 2, (48, 48)) + 5e4 * gauss2((48, 48), (24, 24), 1.5)
    for dn in (None, "gaussian", "median", "threshold", 0.8):
        k = M.ingest(raw, denoise=dn)
        assert k.sum() == pytest.approx(1.0) and k.min() >= 0
    assert M.ingest(raw, size=15).shape == (15, 15)
    assert M.ingest(raw, background=100.0, energy=1.0).shape == (47, 47)
    k_c = M.ingest(raw, center="centroid")
    assert np.unravel_index(k_c.argmax(), k_c.shape) == (k_c.shape[0] // 2,) * 2
    with pytest.raises(ValueError, match="background"):
        M.ingest(raw, background="mode")
    with pytest.raises(ValueError, match="denoise"):
        M.ingest(raw, denoise="wavelet")
    with pytest.raises(ValueError, match="energy"):
        M.ingest(raw, energy=1.5)
    with pytest.raises(ValueError, match="no PSF above the noise"):
        M.ingest(100 + rng.normal(0, 2, (32, 32)))
    bad = raw.copy()
    bad[3, 3] = np.nan
    with pytest.raises(ValueError, match="NaN"):
        M.ingest(bad)
    with pytest.raises(ValueError, match="2-D image"):
        M.ingest(np.ones(10))
    with pytest.raises(TypeError, match="numeric"):
        M.ingest(np.array([["a"] * 4] * 4))


def test_ingest_3d_stack():
    rng = np.random.default_rng(3)
    zz, yy, xx = np.indices((31, 40, 40), dtype=float)
    g = np.exp(-0.5 * (((zz - 13.6) / 3.0) ** 2 + ((yy - 22.2) / 1.5) ** 2 + ((xx - 17.5) / 1.5) ** 2))
    raw = rng.poisson(120 + 3000 * g).astype(float)
    psf, info = M.ingest(raw, return_info=True)
    assert psf.ndim == 3 and psf.sum() == pytest.approx(1.0)
    assert info["center_found"] == pytest.approx([13.6, 22.2, 17.5], abs=0.15)
    assert np.unravel_index(psf.argmax(), psf.shape) == tuple(n // 2 for n in psf.shape)
    fit = M.fit(psf, "gaussian", pixel_pitch=("0.2um", "0.1um", "0.1um"))
    assert fit.fwhm == pytest.approx(2.3548 * 1.5, rel=0.07)
    assert fit.fwhm_axial == pytest.approx(2.3548 * 3.0, rel=0.07)
    assert fit.physical["fwhm_axial"] == pytest.approx(fit.fwhm_axial * 0.2e-6)


def test_fit_airy_recovers_f_number():
    k = O.airy("520nm", 3.0, "0.2um", size=41)
    r = M.fit(k, "airy", pixel_pitch="0.2um", wavelength="520nm")
    assert r.physical["f_number"] == pytest.approx(3.0, rel=0.01)
    assert r.physical["na"] == pytest.approx(1 / 6, rel=0.01)
    assert r.fwhm == pytest.approx(1.029 * 0.52 * 3.0 / 0.2, rel=0.02)
    assert r.residual < 0.01
    assert r.psf.shape == k.shape and r.psf.sum() == pytest.approx(1.0)


def test_fit_defocus_recovers_radius():
    from hybrid_deblur.psf.shapes import disk

    k = np.pad(disk(6.5), 6)
    r = M.fit(k, "defocus", pixel_pitch="4um")
    assert r.params["radius"] == pytest.approx(6.5, abs=0.3)
    assert r.physical["radius"] == pytest.approx(r.params["radius"] * 4e-6)
    with pytest.raises(ValueError, match="model"):
        M.fit(k, "moffat")


def test_metrics_closed_forms():
    # encircled energy of a sampled wide Gaussian: 1 - exp(-r^2 / 2 s^2)
    g = gauss2((81, 81), (40, 40), 5.0)
    r, ee = M.encircled_energy(g, [5.0, 10.0])
    assert ee == pytest.approx(1 - np.exp(-(r ** 2) / 50), abs=0.01)
    assert M.encircled_energy_radius(g, 0.5) == pytest.approx(5 * math.sqrt(2 * math.log(2)), rel=0.02)
    # the MTF of a Gaussian is a Gaussian: exp(-2 pi^2 s^2 f^2)
    g2 = gauss2((41, 41), (20, 20), 1.5)
    f, m = M.radial_mtf(g2)
    sel = f < 0.3
    assert m[sel] == pytest.approx(np.exp(-2 * np.pi ** 2 * 1.5 ** 2 * f[sel] ** 2), abs=2e-3)
    prof = np.exp(-0.5 * (np.arange(41) - 20.0) ** 2 / 3.0 ** 2)
    assert M.fwhm_1d(prof) == pytest.approx(2.3548 * 3.0, rel=0.01)
    _, pr = M.radial_profile(g2)
    assert pr[0] == pytest.approx(g2[20, 20])
    bg, sig = M.estimate_background(np.random.default_rng(0).normal(50, 3, (64, 64)))
    assert bg == pytest.approx(50, abs=0.3) and sig == pytest.approx(3, rel=0.1)


@pytest.mark.data
@pytest.mark.skipif(not (LLSM / "psf.tif").exists(), reason="shared data absent")
def test_llsm_bead_stack():
    meta = json.loads((LLSM / "manifest.json").read_text())
    assert meta["files"][0]["shape"] == [61, 128, 128]
    psf, info = M.ingest(LLSM / "psf.tif", pixel_pitch=("0.1um", "0.1um", "0.1um"),
                         return_info=True)
    assert info["input_shape"] == (61, 128, 128)
    assert info["background"] == pytest.approx(142, abs=3)  # camera offset (manifest: ~142)
    assert psf.sum() == pytest.approx(1.0) and psf.min() >= 0
    peak = np.unravel_index(psf.argmax(), psf.shape)
    assert all(abs(int(p) - n // 2) <= 1 for p, n in zip(peak, psf.shape))
    border = np.ones(psf.shape, bool)
    border[1:-1, 1:-1, 1:-1] = False
    assert abs(np.median(psf[border])) < 0.01 * psf.max()
    fit = M.fit(psf, "gaussian", pixel_pitch=("0.1um", "0.1um", "0.1um"))
    assert 0.15e-6 < fit.physical["fwhm"] < 0.6e-6  # lateral FWHM of a high-NA objective
    assert fit.fwhm_axial > fit.fwhm  # elongated along z
    # smoothing before centring must not move the centre
    sm = ndimage.gaussian_filter(psf, 1.0)
    assert all(abs(int(p) - n // 2) <= 1
               for p, n in zip(np.unravel_index(sm.argmax(), sm.shape), sm.shape))


def test_cli_psf_measured(tmp_path, capsys):
    from hybrid_deblur.cli.main import main

    rng = np.random.default_rng(5)
    raw = rng.poisson(140.0 + 2e5 * gauss2((48, 48), (20.4, 26.7), 1.8)).astype(np.float64)
    src = tmp_path / "bead.npy"
    np.save(src, raw)
    out = tmp_path / "psf.npy"
    assert main(["psf", "--measured", str(src), "-o", str(out), "--no-figure"]) == 0
    k = np.load(out)
    assert k.sum() == pytest.approx(1.0) and np.unravel_index(k.argmax(), k.shape) == (
        k.shape[0] // 2, k.shape[1] // 2)
    assert "measured(" in capsys.readouterr().out


@pytest.mark.data
@pytest.mark.skipif(not (LLSM / "psf.tif").exists(), reason="shared data absent")
def test_cli_psf_measured_stack(tmp_path, capsys):
    from hybrid_deblur.cli.main import main

    out = tmp_path / "bead.npy"
    assert main(["psf", "--measured", str(LLSM / "psf.tif"), "-o", str(out)]) == 0
    assert np.load(out).ndim == 3 and (tmp_path / "bead_figure.png").exists()
    assert "axial FWHM" in capsys.readouterr().out
    assert main(["psf", "--measured", str(LLSM / "psf.tif"), "-o", str(tmp_path / "b.png")]) == 2
