"""PSF shapes and ops: normalisation, centring, exact pixel integration, closed forms."""

from __future__ import annotations

import math

import numpy as np
import pytest
from scipy.signal import convolve2d
from scipy.special import erf

from hybrid_deblur.psf import (
    center_psf,
    centroid,
    combine,
    crop_psf,
    crop_to_energy,
    disk,
    energy_radius,
    gaussian,
    linear_motion,
    normalize,
    pad_psf,
    psf2otf,
)


def _moments(k):
    """Centroid offset from k//2 and covariance in (x right, u up) coordinates."""
    r, c = np.indices(k.shape)
    x = c - k.shape[1] // 2
    u = -(r - k.shape[0] // 2)
    mx, mu = (x * k).sum(), (u * k).sum()
    cxx = ((x - mx) ** 2 * k).sum()
    cuu = ((u - mu) ** 2 * k).sum()
    cxu = ((x - mx) * (u - mu) * k).sum()
    return (mx, mu), np.array([[cxx, cxu], [cxu, cuu]])


def _rot(deg):
    t = math.radians(deg)
    return np.array([[math.cos(t), -math.sin(t)], [math.sin(t), math.cos(t)]])


# ----------------------------------------------------------------------------- sums, dtypes
@pytest.mark.parametrize("make", [
    lambda: gaussian(0.3), lambda: gaussian(2.2), lambda: gaussian((0.7, 2.5), angle=33),
    lambda: gaussian((0.0, 1.5), angle=90), lambda: disk(0), lambda: disk(0.7),
    lambda: disk(5.3), lambda: linear_motion(0), lambda: linear_motion(0.4, 17),
    lambda: linear_motion(13.7, -121), lambda: combine(linear_motion(9, 40), disk(2.5)),
])
def test_generators_sum_to_one_nonnegative_odd(make):
    k = make()
    assert k.dtype == np.float64
    assert abs(k.sum() - 1) <= 1e-12
    assert k.min() >= 0
    assert k.shape[0] % 2 == 1 and k.shape[1] % 2 == 1


@pytest.mark.parametrize("fn", [lambda d: gaussian(1.0, dtype=d), lambda d: disk(2.0, dtype=d),
                                lambda d: linear_motion(5, 20, dtype=d)])
def test_dtype_float32(fn):
    k = fn(np.float32)
    assert k.dtype == np.float32 and abs(float(k.sum()) - 1) < 1e-6
    with pytest.raises(TypeError, match="dtype"):
        fn(np.int32)


# ----------------------------------------------------------------------------- linear motion
def test_linear_motion_centroid_every_angle():
    worst = 0.0
    for L in [0.3, 1, 2, 2.5, 4, 6, 7.5, 10, 12, 15.3, 20, 24]:
        for ang in np.arange(0.0, 360.0, 5.5):
            k = linear_motion(L, ang)
            r, c = np.indices(k.shape)
            dr = (r * k).sum() - k.shape[0] // 2
            dc = (c * k).sum() - k.shape[1] // 2
            worst = max(worst, abs(dr), abs(dc))
    assert worst <= 0.05
    assert worst < 1e-9  # the tent footprint makes it exact


def test_linear_motion_direction_and_length():
    # 30 degrees: up and to the right (rows go down)
    k = linear_motion(20, 30, size=41)
    _, C = _moments(k)
    w, V = np.linalg.eigh(C)
    d = V[:, 1] * np.sign(V[0, 1])
    assert abs(math.degrees(math.atan2(d[1], d[0])) - 30) < 0.5
    # variance along the line = L^2/12 (segment) + 1/6 (tent); across: 1/6 * sin/cos mix
    assert abs(w[1] - (20 ** 2 / 12 + 1 / 6)) < 0.05
    # horizontal: exactly on one row, box of 5 px + tent -> closed form
    k = linear_motion(5)
    np.testing.assert_allclose(k[3], [0.025, 0.175, 0.2, 0.2, 0.2, 0.175, 0.025], atol=1e-15)
    assert k.sum(axis=1)[3] == pytest.approx(1.0)
    # vertical = transpose of horizontal
    np.testing.assert_allclose(linear_motion(7.3, 90), linear_motion(7.3, 0).T, atol=1e-15)
    # angle and angle+180 are the same segment
    np.testing.assert_allclose(linear_motion(9, 25), linear_motion(9, 205), atol=1e-14)


def test_linear_motion_matches_dense_tent_integral():
    L, ang = 8.6, 37.0
    k = linear_motion(L, ang)
    t = (np.arange(200000) + 0.5) / 200000 * L - L / 2
    x, y = t * math.cos(math.radians(ang)), -t * math.sin(math.radians(ang))
    c = k.shape[0] // 2
    ref = np.zeros_like(k)
    for i in range(k.shape[0]):
        wy = np.maximum(0, 1 - np.abs(y - (i - c)))
        for j in range(k.shape[1]):
            ref[i, j] = (wy * np.maximum(0, 1 - np.abs(x - (j - c)))).mean()
    np.testing.assert_allclose(k, ref / ref.sum(), atol=1e-9)


# ----------------------------------------------------------------------------- disk
@pytest.mark.parametrize("r", [0.8, 1.0, 1.5, 2.3, 4.0, 6.5, 9.9, 12.0])
def test_disk_support_and_area(r):
    k = disk(r)
    c = k.shape[0] // 2
    row = np.nonzero(k[c] > 0)[0]
    support = max(c - row[0], row[-1] - c)
    assert abs(support - r) <= 0.5
    # a fully covered pixel holds 1 / (pi r^2): the area-equivalent radius is r
    assert math.sqrt(1 / (math.pi * k.max())) == pytest.approx(r, rel=1e-12)
    # symmetric under the dihedral group
    np.testing.assert_allclose(k, k.T, atol=1e-15)
    np.testing.assert_allclose(k, k[::-1], atol=1e-15)


def test_disk_matches_supersampled_coverage():
    r, n = 3.7, 200
    k = disk(r)
    s = k.shape[0]
    o = (np.arange(s * n) + 0.5) / n - s / 2
    inside = (o[:, None] ** 2 + o[None, :] ** 2 <= r * r).reshape(s, n, s, n).mean(axis=(1, 3))
    np.testing.assert_allclose(k, inside / inside.sum(), atol=2e-4)


def test_disk_small_radius_is_delta():
    assert disk(0).tolist() == [[1.0]]
    assert disk(0.4).shape == (1, 1)
    k = disk(3.0, size=11)
    assert k.shape == (11, 11) and k[5, 5] == k.max()


# ----------------------------------------------------------------------------- Gaussian
@pytest.mark.parametrize("sigma", [0.2, 0.5, 1.0, 2.5])
def test_gaussian_exact_pixel_integral(sigma):
    k = gaussian(sigma, size=15)
    d = np.arange(15) - 7.0
    p = 0.5 * (erf((d + 0.5) / (math.sqrt(2) * sigma)) - erf((d - 0.5) / (math.sqrt(2) * sigma)))
    ref = np.outer(p, p)
    np.testing.assert_allclose(k, ref / ref.sum(), atol=1e-15)


@pytest.mark.parametrize("sy,sx,ang", [(1.0, 3.0, 30.0), (2.0, 1.2, -70.0), (1.5, 2.5, 135.0)])
def test_gaussian_rotated_covariance(sy, sx, ang):
    k = gaussian((sy, sx), size=61, angle=ang)
    (mx, mu), C = _moments(k)
    R = _rot(ang)
    expected = R @ np.diag([sx ** 2, sy ** 2]) @ R.T + np.eye(2) / 12  # + pixel box
    assert abs(mx) < 1e-12 and abs(mu) < 1e-12
    np.testing.assert_allclose(C, expected, atol=1e-8)


def test_gaussian_rotated_small_sigma_vs_supersampling():
    sy, sx, ang, n = 0.35, 0.9, 20.0, 301
    k = gaussian((sy, sx), size=7, angle=ang)
    o = (np.arange(7 * n) + 0.5) / n - 3.5
    X, U = o[None, :], -o[:, None]
    t = math.radians(ang)
    a = math.cos(t) * X + math.sin(t) * U
    b = -math.sin(t) * X + math.cos(t) * U
    f = np.exp(-0.5 * ((a / sx) ** 2 + (b / sy) ** 2)).reshape(7, n, 7, n).sum(axis=(1, 3))
    np.testing.assert_allclose(k, f / f.sum(), atol=5e-6)


def test_gaussian_otf_is_gaussian():
    sigma, n = 2.0, 64
    k = gaussian(sigma, size=41)
    H = np.asarray(psf2otf(k, (n, n)))
    fy = np.fft.fftfreq(n)[:, None]
    fx = np.fft.rfftfreq(n)[None, :]
    # continuous Gaussian times the pixel box (sinc), sampled: closed form
    G = (np.exp(-2 * math.pi ** 2 * sigma ** 2 * (fx ** 2 + fy ** 2))
         * np.sinc(fx) * np.sinc(fy))
    assert np.abs(H.imag).max() < 1e-12
    np.testing.assert_allclose(H.real, G, atol=2e-6)


def test_psf2otf_matches_skimage_ir2tf():
    uft = pytest.importorskip("skimage.restoration.uft")
    for k in (linear_motion(9, 33), gaussian((1, 2), angle=20), disk(3.5)):
        H = np.asarray(psf2otf(k, (48, 40)))
        ref = uft.ir2tf(k, (48, 40), is_real=True)
        np.testing.assert_allclose(H, ref, atol=1e-14)


# ----------------------------------------------------------------------------- combine
def test_combine_is_full_convolution_centred():
    a, b = linear_motion(11, 20), disk(2.5)
    k = combine(a, b)
    full = convolve2d(a, b, mode="full")
    assert k.shape == full.shape
    np.testing.assert_allclose(k, full / full.sum(), atol=1e-15)
    (mx, mu), _ = _moments(k)
    assert abs(mx) < 1e-12 and abs(mu) < 1e-12
    k3 = combine(a, b, gaussian(0.7))
    assert abs(k3.sum() - 1) < 1e-12 and k3.shape[0] % 2 == 1


def test_combine_even_sizes_keep_centre():
    a = np.zeros((4, 4))
    a[2, 2] = 1.0          # a delta at the centre k//2 of an even kernel
    b = disk(2.0)
    k = combine(a, b)
    assert k.shape[0] % 2 == 1
    np.testing.assert_allclose(crop_psf(k, b.shape), b, atol=1e-15)


def test_combine_errors():
    with pytest.raises(ValueError, match="at least one"):
        combine()
    with pytest.raises(ValueError, match=r"psfs\[1\].*negative"):
        combine(disk(1), -disk(1))
    with pytest.raises(ValueError, match=r"psfs\[0\].*2-D"):
        combine(np.ones(3))


# ----------------------------------------------------------------------------- ops
def test_normalize_and_clip():
    np.testing.assert_allclose(normalize(np.array([[1.0, 3.0]])), [[0.25, 0.75]])
    with pytest.raises(ValueError, match="negative"):
        normalize(np.array([[-1.0, 3.0]]))
    np.testing.assert_allclose(normalize(np.array([[-1.0, 3.0]]), clip=True), [[0, 1]])
    with pytest.raises(ValueError, match="sums to"):
        normalize(np.zeros((3, 3)))
    with pytest.raises(ValueError, match="NaN|inf|finite"):
        normalize(np.array([[np.nan, 1.0]]))


def test_normalize_torch():
    torch = pytest.importorskip("torch")
    k = torch.tensor([[1.0, 1.0], [2.0, 0.0]], dtype=torch.float64)
    out = normalize(k)
    assert isinstance(out, torch.Tensor) and float(out.sum()) == pytest.approx(1.0)


def test_center_psf_subpixel():
    rng = np.random.default_rng(0)
    k = np.zeros((15, 15))
    k[3:7, 8:12] = rng.random((4, 4))
    out = center_psf(k)
    assert out.shape == (15, 15)
    np.testing.assert_allclose(centroid(out), (7.0, 7.0), atol=1e-12)
    assert abs(out.sum() - 1) < 1e-12 and out.min() >= 0
    # mass near the border: the kernel grows instead of losing it
    k = np.zeros((5, 5))
    k[0, 0] = 1.0
    k[0, 1] = 3.0
    out = center_psf(k)
    c = [n // 2 for n in out.shape]
    np.testing.assert_allclose(centroid(out), c, atol=1e-12)


def test_crop_pad_roundtrip_and_errors():
    k = gaussian(1.0, size=9)
    big = pad_psf(k, 15)
    assert big.shape == (15, 15) and big[7, 7] == k[4, 4]
    np.testing.assert_array_equal(crop_psf(big, 9), k / k.sum())
    assert pad_psf(k, (9, 12)).shape == (9, 12)
    with pytest.raises(ValueError, match="larger than the psf"):
        crop_psf(k, 11)
    with pytest.raises(ValueError, match="does not fit"):
        pad_psf(k, 7)
    with pytest.raises(TypeError, match="size"):
        crop_psf(k, "big")


def test_crop_to_energy_and_energy_radius():
    k = gaussian(1.0, size=31)
    c = crop_to_energy(k, 0.99)
    assert c.shape[0] % 2 == 1 and c.shape[0] < 31
    inner = crop_psf(k, c.shape[0], normalize=False).sum()
    smaller = crop_psf(k, c.shape[0] - 2, normalize=False).sum()
    assert inner >= 0.99 > smaller
    # wide Gaussian: half-energy radius ~ sigma * sqrt(2 ln 2)
    s = 6.0
    r50 = energy_radius(gaussian(s, size=61))
    assert r50 == pytest.approx(s * math.sqrt(2 * math.log(2)), rel=0.03)
    assert energy_radius(gaussian(s, size=61), 0.9) > r50
    with pytest.raises(ValueError, match="fraction"):
        energy_radius(k, 1.5)
    with pytest.raises(ValueError, match="energy"):
        crop_to_energy(k, 0)


# ----------------------------------------------------------------------------- bad input
@pytest.mark.parametrize("call,exc,pattern", [
    (lambda: gaussian(-1.0), ValueError, "sigma"),
    (lambda: gaussian(float("nan")), ValueError, "sigma"),
    (lambda: gaussian("wide"), TypeError, "sigma"),
    (lambda: gaussian((1.0, 2.0, 3.0)), ValueError, "sigma"),
    (lambda: disk(-0.5), ValueError, "radius"),
    (lambda: disk(float("inf")), ValueError, "radius"),
    (lambda: disk(True), TypeError, "radius"),
    (lambda: linear_motion(-3), ValueError, "length"),
    (lambda: linear_motion(5, angle=float("nan")), ValueError, "angle"),
    (lambda: linear_motion(5, size=0), ValueError, "size"),
    (lambda: linear_motion(5, size=2.5), TypeError, "size"),
    (lambda: centroid(np.zeros((3, 3))), ValueError, "psf"),
    (lambda: centroid(np.array([["a"]])), TypeError, "psf"),
])
def test_bad_inputs_name_the_argument(call, exc, pattern):
    with pytest.raises(exc, match=pattern):
        call()


def test_combine_large_kernels_by_fft_equals_direct_convolution():
    """The FFT branch of combine (psf.otf.convolve_full) equals SciPy's direct convolution."""
    from scipy.signal import convolve

    from hybrid_deblur.psf.otf import convolve_full

    a, b = linear_motion(70, 30), disk(15)           # 71^2 * 31^2 > 4e6: the FFT branch
    k = combine(a, b)
    ref = convolve(a, b, mode="full", method="direct")
    assert k.shape == ref.shape
    np.testing.assert_allclose(k, ref / ref.sum(), atol=1e-15)
    assert k.min() >= 0
    rng = np.random.default_rng(0)
    x, y = rng.random((5, 7, 3)), rng.random((4, 2, 6))
    np.testing.assert_allclose(convolve_full(x, y), convolve(x, y, method="direct"), atol=1e-12)
