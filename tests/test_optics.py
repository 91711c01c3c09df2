"""Known optics (issue 4): Zernike, pupil PSF, Airy, defocus, colour, motion."""

import math
import warnings

import numpy as np
import pytest

from hybrid_deblur.psf import measured as M
from hybrid_deblur.psf import optics as O
from hybrid_deblur.psf.zernike import nm_to_noll, noll_to_nm, zernike, zernike_gram

LAM, N = 550e-9, 4.0
P_FINE = LAM * N / 8  # 8 pixels per lambda*N: well sampled


@pytest.fixture(scope="module")
def fine_psf():
    return O.pupil_psf(LAM, f_number=N, pixel_pitch=P_FINE, size=257, return_info=True)


# ----------------------------------------------------------------------------- Zernike
def test_noll_table_and_roundtrip():
    assert [noll_to_nm(j) for j in range(1, 12)] == [
        (0, 0), (1, 1), (1, -1), (2, 0), (2, -2), (2, 2), (3, -1), (3, 1), (3, -3), (3, 3), (4, 0)]
    for j in range(1, 60):
        assert nm_to_noll(*noll_to_nm(j)) == j
    assert noll_to_nm("defocus") == (2, 0) and noll_to_nm("Z11") == (4, 0)
    with pytest.raises(ValueError, match="Noll index"):
        noll_to_nm(0)
    with pytest.raises(ValueError, match="not known"):
        noll_to_nm("wobble")


def test_zernike_orthonormal_over_unit_disk():
    G = zernike_gram(36)  # Gauss-Legendre x trapezoid quadrature
    assert np.abs(G - np.eye(36)).max() < 1e-3
    Gg = zernike_gram(15, method="grid", n=512)  # plain pixel grid
    assert np.abs(Gg - np.eye(15)).max() < 1e-3


def test_zernike_closed_forms():
    r = np.linspace(0, 1, 7)
    assert np.allclose(zernike(4, r), np.sqrt(3) * (2 * r ** 2 - 1))
    assert np.allclose(zernike(11, r), np.sqrt(5) * (6 * r ** 4 - 6 * r ** 2 + 1))
    th = np.linspace(0, 2 * np.pi, 7)
    assert np.allclose(zernike(2, np.ones(7), th), 2 * np.cos(th))
    assert zernike(4, np.array([1.5]))[0] == 0.0


# ----------------------------------------------------------------------------- units / errors
def test_length_units_and_errors():
    assert O.length("550nm") == pytest.approx(550e-9)
    assert O.length("4.5µm") == pytest.approx(4.5e-6)
    assert O.length("50 mm") == pytest.approx(0.05)
    with pytest.raises(ValueError, match="550nm"):
        O.pupil_psf(550, f_number=2.8, pixel_pitch="4.5um")  # 550 metres
    with pytest.raises(ValueError, match="not a length"):
        O.length("4.5 furlongs", name="pixel_pitch")
    with pytest.raises(ValueError, match="exactly one of f_number or na"):
        O.pupil_psf("550nm", f_number=2, na=0.5, pixel_pitch="1um")
    with pytest.raises(ValueError, match="oversample"):
        O.pupil_psf("550nm", f_number=2, pixel_pitch="4um", oversample=1)
    with pytest.raises(ValueError, match="annular"):
        O.pupil_psf("550nm", f_number=2, pixel_pitch="0.5um", obscuration=0.3)
    with pytest.raises(ValueError, match="zernike"):
        O.pupil_psf("550nm", f_number=2, pixel_pitch="0.5um", zernike={"defocus": np.nan})


def test_sampling_warnings():
    with pytest.warns(O.UndersampledWarning, match="Nyquist"):
        O.pupil_psf("550nm", f_number=2.8, pixel_pitch="4.5um")
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        O.pupil_psf("550nm", f_number=2.8, pixel_pitch="0.7um")  # 0.7 <= 0.77: fine
    with pytest.warns(O.GridWarning, match="energy"):
        O.pupil_psf("550nm", f_number=8, pixel_pitch="1um", zernike={4: 1.0}, size=9)


# ----------------------------------------------------------------------------- Airy
def test_airy_first_dark_ring(fine_psf):
    k, _ = fine_psf
    r, prof = M.radial_profile(k, bin_width=0.1)
    sel = (r > 6) & (r < 13)
    i = int(np.argmin(np.where(sel, prof, np.inf)))
    y0, y1, y2 = prof[i - 1:i + 2]
    rmin = r[i] + 0.1 * 0.5 * (y0 - y2) / (y0 - 2 * y1 + y2)
    assert rmin * P_FINE / (LAM * N) == pytest.approx(1.2197, rel=0.02)


def test_airy_energy_inside_first_ring(fine_psf):
    k, info = fine_psf
    _, ee = M.encircled_energy(k, [1.2197 * LAM * N / P_FINE])
    # the window holds info["energy_fraction"] of the total (the rest is in the far tails)
    assert ee[0] * info["energy_fraction"] == pytest.approx(0.838, abs=0.01)


def test_mtf_cutoff(fine_psf):
    k, _ = fine_psf
    f, m = M.radial_mtf(k, shape=(1024, 1024))
    fc = O.diffraction_cutoff(LAM, f_number=N, pixel_pitch=P_FINE)  # cycles / pixel
    assert fc == pytest.approx(1 / 8)
    assert M.mtf_cutoff(f, m, 1e-3) == pytest.approx(fc, rel=0.02)
    assert m[0] == pytest.approx(1.0)


@pytest.mark.parametrize("pitch", ["0.3um", "1um", "4.5um"])
def test_pupil_psf_matches_airy(pitch):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", O.UndersampledWarning)
        k = O.pupil_psf("550nm", f_number=2.8, pixel_pitch=pitch)
    a = O.airy("550nm", 2.8, pitch, size=k.shape[0])
    assert k.shape[0] % 2 == 1 and np.unravel_index(k.argmax(), k.shape) == (k.shape[0] // 2,) * 2
    assert np.linalg.norm(k - a) / np.linalg.norm(a) < 0.02
    assert k.sum() == pytest.approx(1.0) and k.min() >= 0


def test_dtype_and_even_size():
    k32 = O.pupil_psf("550nm", f_number=4, pixel_pitch="0.5um", size=20, dtype=np.float32)
    assert k32.dtype == np.float32 and k32.shape == (20, 20)
    assert np.unravel_index(k32.argmax(), k32.shape) == (10, 10)  # centre at k // 2


def test_pixel_integration_is_exact_binning():
    q = 0.25e-6
    fine = O.pupil_psf("500nm", f_number=2, pixel_pitch=q, size=63)
    with pytest.warns(O.UndersampledWarning):
        coarse = O.pupil_psf("500nm", f_number=2, pixel_pitch=3 * q, size=21)
    binned = fine.reshape(21, 3, 21, 3).sum(axis=(1, 3))
    assert np.abs(binned / binned.sum() - coarse).max() < 1e-4 * coarse.max()


def test_marechal_strehl():
    sigma = 0.05  # waves RMS of coma
    ref = O.pupil_psf("550nm", f_number=8, pixel_pitch="0.5um", size=41)
    ab = O.pupil_psf("550nm", f_number=8, pixel_pitch="0.5um", size=41, zernike={"coma": sigma})
    strehl = ab.max() / ref.max()
    assert strehl == pytest.approx(math.exp(-(2 * math.pi * sigma) ** 2), abs=0.02)
    # coefficients given as lengths: 0.0275 um at 550 nm is 0.05 waves
    ab2 = O.pupil_psf("550nm", f_number=8, pixel_pitch="0.5um", size=41, zernike={8: "0.0275um"})
    assert np.allclose(ab, ab2)


def test_annular_aperture_narrows_core():
    kw = {"f_number": N, "pixel_pitch": P_FINE, "size": 129}
    circ = O.pupil_psf(LAM, **kw)
    ann = O.pupil_psf(LAM, aperture="annular", obscuration=0.5, **kw)
    r0 = 1.2197 * LAM * N / P_FINE
    assert M.encircled_energy(ann, [r0])[1][0] < M.encircled_energy(circ, [r0])[1][0] - 0.1
    c = circ.shape[0] // 2  # the central lobe is narrower (energy moves to the rings)
    assert M.fwhm_1d(ann[c]) < 0.95 * M.fwhm_1d(circ[c])


# ----------------------------------------------------------------------------- defocus
def test_thin_lens_circle_of_confusion():
    d = O.thin_lens_defocus("50mm", 2.8, "2m", "1.5m", "4.5um")
    D, f, sf, so = 0.05 / 2.8, 0.05, 2.0, 1.5
    assert d.coc_diameter == pytest.approx(D * f * abs(so - sf) / (so * (sf - f)), rel=1e-12)
    assert d.coc_radius_px == pytest.approx(d.coc_diameter / 2 / 4.5e-6)
    assert d.psf.sum() == pytest.approx(1.0)
    assert O.thin_lens_defocus("50mm", 2.8, "2m", "2m", "4.5um").coc_diameter == 0.0
    inf = O.thin_lens_defocus("50mm", 2.8, "inf", "10m", "4.5um")  # focused at infinity
    assert inf.coc_diameter == pytest.approx((0.05 / 2.8) * 0.05 / 10, rel=1e-12)
    with pytest.raises(ValueError, match="focal_length"):
        O.thin_lens_defocus("50mm", 2.8, "2m", "40mm", "4.5um")


@pytest.mark.parametrize("object_distance", [0.94, 0.62])  # about 5 and 10 waves
def test_wave_defocus_tends_to_geometric_disk(object_distance):
    d = O.thin_lens_defocus("50mm", 8, "2m", object_distance, "2um", wavelength="550nm")
    assert d.w020_waves > 5
    R = d.coc_radius_px
    for frac in (0.5, 0.8, 0.9):
        r_wave = M.encircled_energy_radius(d.psf, frac)
        assert r_wave == pytest.approx(R * math.sqrt(frac), rel=0.10)
    # ray optics: blur radius 4 N_w W020 equals the circle of confusion
    assert 4 * d.working_f_number * d.w020_waves * 550e-9 / 2e-6 == pytest.approx(R, rel=1e-9)


# ----------------------------------------------------------------------------- colour
def test_polychromatic_is_weighted_sum():
    lams = ["450nm", "550nm", "650nm"]
    w = [1.0, 2.0, 1.0]
    k = O.polychromatic_psf(lams, w, f_number=4, pixel_pitch="0.5um", size=31)
    mono = [O.pupil_psf(lam, f_number=4, pixel_pitch="0.5um", size=31) for lam in lams]
    assert np.allclose(k, (mono[0] + 2 * mono[1] + mono[2]) / 4)
    with pytest.raises(ValueError, match="weights"):
        O.polychromatic_psf(lams, [1, -1, 1], f_number=4, pixel_pitch="0.5um")


def test_polychromatic_aberration_is_fixed_opd():
    # 0.1 wave at 500 nm = 50 nm OPD = 0.0833 waves at 600 nm
    k = O.polychromatic_psf(["600nm"], f_number=4, pixel_pitch="0.5um", size=41,
                            zernike={"spherical": 0.1}, zernike_wavelength="500nm")
    ref = O.pupil_psf("600nm", f_number=4, pixel_pitch="0.5um", size=41,
                      zernike={"spherical": 0.1 * 500 / 600})
    assert np.allclose(k, ref)


def test_rgb_psfs():
    k = O.rgb_psfs(f_number=8, pixel_pitch="1um", size=31)
    assert k.shape == (3, 31, 31) and np.allclose(k.sum(axis=(1, 2)), 1)
    rr = [M.encircled_energy_radius(c, 0.5) for c in k]
    assert rr[0] > rr[1] > rr[2]  # red spreads most
    lams = np.linspace(400e-9, 700e-9, 16)
    spec = np.zeros((1, 16))
    spec[0, 5] = 1.0  # a single line
    one = O.rgb_psfs(f_number=8, pixel_pitch="1um", size=31, wavelengths=lams, spectra=spec)
    assert np.allclose(one[0], O.pupil_psf(lams[5], f_number=8, pixel_pitch="1um", size=31))
    with pytest.raises(ValueError, match="spectra"):
        O.rgb_psfs(f_number=8, pixel_pitch="1um", wavelengths=lams, spectra=np.ones((3, 5)))


# ----------------------------------------------------------------------------- motion
def test_camera_motion_path_and_psf():
    w = np.deg2rad(3.0)  # 3 deg/s pan
    path = O.camera_motion_path((w, 0.0), 0.05, "50mm", "5um")
    expect = 0.05 * math.tan(w * 0.05) / 5e-6
    assert path[-1, 1] == pytest.approx(expect, rel=1e-6) and abs(path[:, 0]).max() == 0
    k = O.motion_psf((w, 0.0), 0.05, "50mm", "5um")
    c = k.shape[0] // 2
    assert k.sum() == pytest.approx(1.0)
    assert np.allclose(k.sum(axis=1)[c], 1.0)  # a horizontal streak on the centre row
    xs = np.arange(k.shape[1]) - c
    assert (k.sum(axis=0) * xs).sum() == pytest.approx(0.0, abs=1e-9)  # centred
    var = (k.sum(axis=0) * xs ** 2).sum()  # uniform streak of length L: L^2 / 12
    assert math.sqrt(12 * var) == pytest.approx(expect, rel=0.03)
    # a gyroscope trace: constant rate given as samples gives the same kernel
    k2 = O.motion_psf(np.tile([w, 0.0], (10, 1)), 0.05, "50mm", "5um")
    assert np.allclose(k, k2)
    with pytest.raises(ValueError, match="exposure"):
        O.motion_psf((w, 0.0), -1, "50mm", "5um")


def test_motion_composed_with_optics():
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", O.UndersampledWarning)
        lens = O.pupil_psf("550nm", f_number=8, pixel_pitch="3um")
    mot = O.motion_psf((0.0, np.deg2rad(2)), 0.02, "35mm", "3um")
    k = O.motion_psf((0.0, np.deg2rad(2)), 0.02, "35mm", "3um", optics=lens)
    assert k.shape[0] == mot.shape[0] + lens.shape[0] - 1
    assert k.sum() == pytest.approx(1.0) and k.min() >= 0
    k21 = O.motion_psf((0.0, np.deg2rad(2)), 0.02, "35mm", "3um", optics=lens, size=21)
    assert k21.shape == (21, 21) and k21.sum() == pytest.approx(1.0)


# ----------------------------------------------------------------------------- CLI
def test_cli_psf_optics(tmp_path, capsys):
    from hybrid_deblur.cli.main import main

    out = tmp_path / "lens.npy"
    rc = main(["psf", "--optics", "wavelength=550nm,fnum=2.8,pixel=1um,defocus=0.5", "-o", str(out)])
    assert rc == 0 and out.exists() and (tmp_path / "lens_figure.png").exists()
    k = np.load(out)
    with pytest.warns(O.UndersampledWarning):
        ref = O.pupil_psf("550nm", f_number=2.8, pixel_pitch="1um", zernike={4: 0.5})
    assert np.allclose(k, ref)
    rc = main(["psf", "--optics", "wavelength=550,fnum=2.8,pixel=1um", "-o", str(out)])
    assert rc == 2 and "550nm" in capsys.readouterr().err
    rc = main(["psf", "--optics", "fnum=2.8,pixel=1um", "-o", str(out)])
    assert rc == 2 and "wavelength" in capsys.readouterr().err
