"""Regression tests for the PSF reproducers of issue 16 (items 5, 6, 8, 10) and issue 14."""

import time

import numpy as np
import pytest

from hybrid_deblur import psf
from hybrid_deblur.psf import bank, disk, gaussian, linear_motion, load_psf, trajectory_motion
from hybrid_deblur.psf._validate import MAX_KERNEL_SIZE


# ----------------------------------------------------------------------------- size limits
@pytest.mark.parametrize("make", [
    lambda: linear_motion(1e5, 0),
    lambda: trajectory_motion(size=10 ** 5),
    lambda: disk(1e5),
    lambda: disk(1e300),
    lambda: gaussian(1e4),
    lambda: gaussian(1.0, size=10 ** 6),
    lambda: linear_motion(3, size=(5, 10 ** 7)),
])
def test_huge_kernels_refused_before_allocating(make):
    t = time.perf_counter()
    with pytest.raises(ValueError, match=f"limit of {MAX_KERNEL_SIZE} px"):
        make()
    assert time.perf_counter() - t < 1.0


def test_limit_is_exported_and_the_largest_kernel_still_builds():
    assert psf.MAX_KERNEL_SIZE == MAX_KERNEL_SIZE
    k = linear_motion(MAX_KERNEL_SIZE - 1, 0)
    assert k.shape == (MAX_KERNEL_SIZE, MAX_KERNEL_SIZE) and abs(k.sum() - 1) < 1e-12


def test_huge_length_with_small_explicit_size_is_fast_and_equals_the_long_segment():
    t = time.perf_counter()
    k = linear_motion(1e9, 1e6, size=(7.0, 7.0))
    assert time.perf_counter() - t < 1.0
    assert k.shape == (7, 7) and abs(k.sum() - 1) < 1e-12 and k.min() >= 0
    # the window of a very long segment: the same as a 1000 px segment cut to 7 x 7
    np.testing.assert_allclose(k, linear_motion(1000.0, 1e6, size=7), atol=1e-12)


def test_trajectory_samples_limit():
    with pytest.raises(ValueError, match="n_samples"):
        psf.random_trajectory(10.0, n_samples=10 ** 9)
    with pytest.raises(ValueError, match="n_samples"):
        psf.random_trajectory(10.0, n_samples=2.5)


# ----------------------------------------------------------------------------- degenerate shapes
@pytest.mark.parametrize("angle", [0, 10, 30, 45, 60, 90, 135, -20])
def test_zero_sigma_is_a_line_at_every_angle(angle):
    k = gaussian((0.0, 3.0), angle=angle)
    assert k.shape == (25, 25) and abs(k.sum() - 1) < 1e-12 and k.min() >= 0
    np.testing.assert_allclose(psf.centroid(k), (12, 12), atol=1e-9)
    # second moment along the line direction is sigma^2 (+ pixel box, <= 1/12 per axis)
    th = np.deg2rad(angle)
    r, c = np.indices(k.shape) - 12.0
    along = c * np.cos(th) - r * np.sin(th)
    across = c * np.sin(th) + r * np.cos(th)
    assert abs((k * along ** 2).sum() - 9.0) < 0.2
    assert (k * across ** 2).sum() < 0.2


def test_zero_sigma_line_is_continuous_in_the_angle():
    np.testing.assert_allclose(gaussian((0.0, 3.0), angle=1e-7), gaussian((0.0, 3.0), angle=0),
                               atol=1e-6)
    np.testing.assert_allclose(gaussian((3.0, 0.0), angle=90 - 1e-7),
                               gaussian((3.0, 0.0), angle=90), atol=1e-6)


@pytest.mark.parametrize("length", [1e-300, 5e-324, 1e-200, 1e-10, 0.0])
def test_tiny_motion_is_a_delta(length):
    k = linear_motion(length, 0)
    assert k.shape == (1, 1) and k[0, 0] == 1.0


def test_huge_parameters_with_a_small_explicit_size_give_a_flat_window():
    flat = np.full((9, 9), 1 / 81)
    for k in (disk(1e300, 9), disk(1e200, 9), gaussian(1e300, 9), gaussian(1e9, 9)):
        np.testing.assert_allclose(k, flat, rtol=1e-6)
    np.testing.assert_allclose(disk(20.0, 9), flat, rtol=1e-12)   # radius > diagonal: full


# ----------------------------------------------------------------------------- dtypes
def test_float16_disk_1e3_is_refused_before_computing():
    t = time.perf_counter()
    with pytest.raises(ValueError, match="float16 cannot hold disk"):
        disk(1e3, dtype=np.float16)
    assert time.perf_counter() - t < 0.5


def test_float16_kernel_sums_to_one_or_is_refused():
    with pytest.raises(ValueError, match="float16 cannot hold"):
        disk(300.0, dtype=np.float16)
    k = disk(100.0, dtype=np.float16)                     # subnormal-free enough: accepted
    assert abs(float(k.astype(np.float64).sum()) - 1) <= np.finfo(np.float16).eps
    k = disk(3.0, dtype=np.float16)
    assert k.dtype == np.float16
    assert abs(float(k.astype(np.float64).sum()) - 1) <= np.finfo(np.float16).eps


# ----------------------------------------------------------------------------- OTF
def test_psf2otf_refuses_1d_and_complex_psfs():
    with pytest.raises(ValueError, match="at least 2 axes"):
        psf.psf2otf(np.ones(5) / 5, (32, 40))
    with pytest.raises(TypeError, match="real numeric"):
        psf.psf2otf(np.ones((3, 3), complex) / 9, (8, 8))
    with pytest.raises(ValueError, match="larger than the OTF grid"):
        psf.psf2otf(np.ones((9, 9)) / 81, (8, 8))
    with pytest.raises(TypeError, match="kernel must be a real numeric"):
        psf.validate_psf(np.ones((3, 3), complex), name="kernel")
    with pytest.raises(TypeError, match="must be an array"):
        psf.validate_psf(None)
    H = psf.psf2otf([[0, 0, 0], [0, 1, 0], [0, 0, 0]], (4, 4))   # a list works
    np.testing.assert_allclose(H, 1.0)


# ----------------------------------------------------------------------------- files
def test_bank_load_none_is_a_clear_type_error():
    with pytest.raises(TypeError, match="name_or_path must be a bank name"):
        bank.load(None)
    with pytest.raises(TypeError, match="path must be a str"):
        load_psf(None)


def _rgb_photo(tmp_path):
    import imageio.v3 as iio

    rng = np.random.default_rng(0)
    img = (rng.random((41, 41, 3)) * 255).astype(np.uint8)
    p = tmp_path / "rgb_photo.png"
    iio.imwrite(p, img)
    return p, img


def test_load_psf_refuses_a_colour_image_unless_asked_to_average(tmp_path):
    p, img = _rgb_photo(tmp_path)
    with pytest.raises(ValueError, match="colour image.*colour='average'") as err:
        load_psf(p)
    assert str(err.value).startswith("PSF file") and "cannot read" not in str(err.value)
    k = load_psf(p, colour="average")
    m = img.astype(np.float64).mean(axis=-1)
    np.testing.assert_allclose(k, m / m.sum(), atol=1e-15)
    with pytest.raises(ValueError, match="colour must be"):
        load_psf(p, colour="mean")


def test_load_psf_refuses_clear_negatives_unless_asked_to_clip(tmp_path):
    k = disk(3.0)
    k[0, 3] = -0.5 * k.max()
    p = tmp_path / "neg.npy"
    np.save(p, k)
    with pytest.raises(ValueError, match="negative entries down to"):
        load_psf(p)
    out = load_psf(p, negative="clip")
    assert out.min() >= 0 and abs(out.sum() - 1) < 1e-12
    # round-off negatives stay accepted (clipped silently)
    k2 = disk(3.0)
    k2[0, 0] = -1e-9
    np.save(p, k2)
    assert load_psf(p).min() >= 0
    assert load_psf(p, normalize=False).min() < 0     # the stored values on request
