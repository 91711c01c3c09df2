"""3-D (z, y, x) stacks (issue 4): widefield optics PSF, Blur(ndim=3), 3-D Wiener and RL."""

import warnings

import numpy as np
import pytest

from hybrid_deblur.physics import Blur
from hybrid_deblur.psf import optics as O

KW = {"na": 0.9, "pixel_pitch": "100nm", "z_step": "200nm", "n_medium": 1.0}


@pytest.fixture(scope="module")
def psf3():
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", O.GridWarning)  # out-of-focus light leaves the window
        return O.pupil_psf_3d("520nm", nz=15, size=25, **KW)


def phantom(shape=(32, 64, 64), n=12, seed=0):
    """Spheres of random radius and brightness on a dim background."""
    rng = np.random.default_rng(seed)
    zz, yy, xx = np.indices(shape)
    x = np.full(shape, 0.05)
    for _ in range(n):
        c = rng.uniform([6, 10, 10], [shape[0] - 6, shape[1] - 10, shape[2] - 10])
        r = rng.uniform(2, 6)
        inside = (zz - c[0]) ** 2 + (yy - c[1]) ** 2 + (xx - c[2]) ** 2 < r * r
        x[inside] = rng.uniform(0.5, 1.0)
    return x


def psnr(a, ref):
    return 10 * np.log10(1.0 / np.mean((a - ref) ** 2))


def test_psf3d_shape_symmetry_and_focus(psf3):
    k = psf3
    assert k.shape == (15, 25, 25)
    assert k.sum() == pytest.approx(1.0) and k.min() >= 0
    assert np.unravel_index(k.argmax(), k.shape) == (7, 12, 12)
    # an aberration-free scalar PSF is symmetric about the focal plane
    assert np.allclose(k, k[::-1], atol=1e-12 * k.max() + 1e-15)
    # the in-focus plane is the 2-D pupil PSF with the same NA
    p2 = O.pupil_psf("520nm", na=0.9, pixel_pitch="100nm", size=25)
    assert np.allclose(k[7] / k[7].sum(), p2, atol=1e-3 * p2.max())
    # the axial extent grows away from focus (energy spreads laterally)
    assert k[0].max() < 0.2 * k[7].max()


def test_psf3d_errors():
    with pytest.raises(ValueError, match="n_medium"):
        O.pupil_psf_3d("520nm", na=1.2, pixel_pitch="100nm", z_step="200nm", nz=5, n_medium=1.0)
    with pytest.raises(ValueError, match="nz"):
        O.pupil_psf_3d("520nm", na=0.5, pixel_pitch="100nm", z_step="200nm", nz=0)
    with pytest.raises(ValueError, match="z_step"):
        O.pupil_psf_3d("520nm", na=0.5, pixel_pitch="100nm", z_step=200, nz=5)


def test_blur3d_adjoint_and_flux(psf3):
    A = Blur(psf3, boundary="circular", ndim=3)
    x = phantom((24, 32, 32), n=4)
    y = A(x)
    assert y.shape == x.shape and y.sum() == pytest.approx(x.sum())
    assert A.adjoint_test((24, 32, 32)) < 1e-10
    Av = Blur(psf3, boundary="valid", ndim=3)
    assert Av(x).shape == (24 - 14, 32 - 24, 32 - 24)


def test_rl_3d_gains_3db(psf3):
    from hybrid_deblur.solvers import richardson_lucy, wiener

    x = phantom()
    y = Blur(psf3, boundary="circular", ndim=3)(x)
    rng = np.random.default_rng(1)
    peak = 200.0  # photons at intensity 1
    y = rng.poisson(y * peak) / peak
    base = psnr(y, x)
    xr = richardson_lucy(y, psf3, 10, ndim=3, boundary="circular")
    assert xr.shape == x.shape and xr.min() >= 0
    assert psnr(xr, x) >= base + 3.0
    xw = wiener(y, psf3, ndim=3, boundary="circular")
    assert psnr(xw, x) > base + 1.0


def test_rl_3d_automatic_stop_fires():
    """The discrepancy rule works on (z, y, x) stacks (noise estimated on the 3-D data)."""
    from hybrid_deblur.solvers import richardson_lucy

    rng = np.random.default_rng(0)
    x = phantom((16, 40, 40), n=6)
    k = np.ones((3, 5, 5)) / 75
    y = Blur(k, "valid", ndim=3)(x) + 0.01 * rng.standard_normal((14, 36, 36))
    out, info = richardson_lucy(y, k, ndim=3, return_info=True)
    assert info["stop_reason"] == "discrepancy" and 1 <= info["iterations"] < 200
    assert out.shape == y.shape
    _, info = richardson_lucy(y, k, ndim=3, stop="change", tol=1e-2, return_info=True)
    assert info["stop_reason"] == "change"
