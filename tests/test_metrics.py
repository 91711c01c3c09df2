"""Metrics: PSNR/SSIM vs scikit-image, Levin's shift-tolerant protocol, kernel similarity."""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np
import pytest
from scipy.ndimage import gaussian_filter, map_coordinates

from hybrid_deblur import metrics as M

DATA = Path(__file__).resolve().parents[1] / ".." / "shared" / "data"


def smooth(shape, seed=0, sigma=2.0):
    rng = np.random.default_rng(seed)
    x = gaussian_filter(rng.random(shape), sigma=[0] * (len(shape) - 2) + [sigma, sigma])
    return (x - x.min()) / (x.max() - x.min())


def fourier_shift(x, dy, dx):
    """x translated by (dy, dx) pixels (periodic, exact for band-limited images)."""
    h, w = x.shape[-2:]
    fy = np.fft.fftfreq(h)[:, None]
    fx = np.fft.fftfreq(w)[None, :]
    phase = np.exp(-2j * np.pi * (fy * dy + fx * dx))
    return np.real(np.fft.ifft2(np.fft.fft2(x) * phase))


# ----------------------------------------------------------------------------- psnr / ssim
def test_psnr_matches_skimage():
    from skimage.metrics import peak_signal_noise_ratio

    rng = np.random.default_rng(0)
    ref = rng.random((3, 40, 50))
    x = ref + 0.03 * rng.standard_normal(ref.shape)
    assert M.psnr(x, ref) == pytest.approx(peak_signal_noise_ratio(ref, x, data_range=1.0),
                                           abs=1e-10)
    assert M.psnr(255 * x[0], 255 * ref[0], data_range=255) == pytest.approx(
        peak_signal_noise_ratio(255 * ref[0], 255 * x[0], data_range=255), abs=1e-10)
    assert M.psnr(x, ref, border=5) == pytest.approx(
        peak_signal_noise_ratio(ref[:, 5:-5, 5:-5], x[:, 5:-5, 5:-5], data_range=1.0), abs=1e-10)
    assert M.psnr(ref, ref) == math.inf
    assert M.psnr(np.full((4, 4), 0.1), np.zeros((4, 4))) == pytest.approx(20.0, abs=1e-12)


def test_ssim_matches_skimage():
    from skimage.metrics import structural_similarity

    rng = np.random.default_rng(1)
    ref = smooth((3, 48, 52), seed=1)
    x = ref + 0.05 * rng.standard_normal(ref.shape)
    assert M.ssim(x[0], ref[0]) == pytest.approx(
        structural_similarity(x[0], ref[0], data_range=1.0), abs=1e-12)
    assert M.ssim(x, ref) == pytest.approx(
        structural_similarity(x, ref, data_range=1.0, channel_axis=0), abs=1e-12)
    kw = {"gaussian_weights": True, "sigma": 1.5, "use_sample_covariance": False}
    assert M.ssim(x[1], ref[1], border=4, **kw) == pytest.approx(
        structural_similarity(x[1, 4:-4, 4:-4], ref[1, 4:-4, 4:-4], data_range=1.0, **kw),
        abs=1e-12)
    assert M.ssim(ref, ref) == pytest.approx(1.0)


def test_metrics_accept_torch():
    torch = pytest.importorskip("torch")
    rng = np.random.default_rng(2)
    ref = rng.random((32, 32))
    x = ref + 0.01 * rng.standard_normal(ref.shape)
    assert M.psnr(torch.from_numpy(x), torch.from_numpy(ref)) == pytest.approx(M.psnr(x, ref))
    assert M.ssim(torch.from_numpy(x), ref) == pytest.approx(M.ssim(x, ref))


# ----------------------------------------------------------------------------- alignment
@pytest.mark.parametrize("shift", [(2, -3), (-5, 5), (0, 1)])
def test_aligned_recovers_integer_shift(shift):
    ref = smooth((80, 90), seed=3)
    x = np.roll(ref, shift, axis=(0, 1))
    value, found = M.aligned_psnr(x, ref, return_shift=True)
    assert found == (float(shift[0]), float(shift[1]))
    assert value == math.inf and M.psnr(x, ref) < 30
    assert M.aligned_ssim(x, ref) == pytest.approx(1.0)
    assert M.ssd_aligned(x, ref) == 0.0


@pytest.mark.parametrize("shift", [(0.5, -1.25), (-2.75, 3.5), (1.3, 0.2)])
def test_aligned_recovers_subpixel_shift(shift):
    ref = smooth((96, 96), seed=4, sigma=3.0)
    x = fourier_shift(ref, *shift)
    value, found = M.aligned_psnr(x, ref, return_shift=True)
    assert abs(found[0] - shift[0]) <= 0.25 and abs(found[1] - shift[1]) <= 0.25
    v_int, found_int = M.aligned_psnr(x, ref, subpixel=False, return_shift=True)
    assert found_int == (float(round(shift[0])), float(round(shift[1])))
    assert value > v_int + 3 > M.psnr(x, ref, border=15) + 3
    # finer grid: closer still
    _, _, fine, _ = M.align(x, ref, step=0.05)
    assert abs(fine[0] - shift[0]) <= 0.06 and abs(fine[1] - shift[1]) <= 0.06


def test_align_matches_independent_bilinear_and_brute_force():
    rng = np.random.default_rng(5)
    ref = smooth((2, 50, 56), seed=5, sigma=1.5)
    x = fourier_shift(ref, 0.8, -1.6) + 0.01 * rng.standard_normal(ref.shape)
    b, ms = 6, 3
    xc, rc, shift, ssd = M.align(x, ref, max_shift=ms, border=b)
    h, w = xc.shape[-2:]
    # the aligned window equals scipy's bilinear interpolation at p - shift
    yy, xx = np.mgrid[b:b + h, b:b + w].astype(float)
    direct = np.stack([map_coordinates(c, [yy - shift[0], xx - shift[1]], order=1) for c in ref])
    np.testing.assert_allclose(rc, direct, atol=1e-12)
    assert ssd == pytest.approx(np.sum((xc - direct) ** 2), rel=1e-12)
    # Levin's exhaustive 0.25-px search finds nothing better
    grid = np.arange(-ms, ms + 0.001, 0.25)
    brute = min(np.sum((xc - np.stack([map_coordinates(c, [yy + ty, xx + tx], order=1)
                                         for c in ref])) ** 2) for ty in grid for tx in grid)
    assert ssd == pytest.approx(brute, rel=1e-10)


def test_error_ratio():
    rng = np.random.default_rng(6)
    ref = smooth((64, 64), seed=6)
    good = np.roll(ref, (1, 2), axis=(0, 1)) + 0.01 * rng.standard_normal(ref.shape)
    bad = ref + 0.03 * rng.standard_normal(ref.shape)
    assert M.error_ratio(good, good, ref) == 1.0
    r = M.error_ratio(bad, good, ref)
    assert 5 < r < 15  # noise std ratio 3 -> SSD ratio ~9
    d = M.ssd_aligned(good, ref)
    assert M.error_ratio(bad, None, ref, ssd_true=d) == pytest.approx(r)
    assert M.error_ratio(ref, ref, ref) == 1.0
    with pytest.raises(TypeError, match="x_true_kernel"):
        M.error_ratio(bad, None, ref)
    with pytest.raises(ValueError, match="ssd_true"):
        M.error_ratio(bad, None, ref, ssd_true=-1.0)


# ----------------------------------------------------------------------------- kernels
def motion_kernel(n=15):
    k = np.zeros((n, n))
    k[n // 2, 2:n - 4] = 1.0
    k[n // 2 - 1, n - 4] = 0.5
    return k / k.sum()


def test_kernel_similarity():
    from scipy.signal import correlate

    k = motion_kernel()
    shifted = np.zeros((21, 21))
    shifted[4:19, 1:16] = 3.0 * k  # translated, larger canvas, other scale
    assert M.kernel_similarity(k, shifted) == pytest.approx(1.0, abs=1e-12)
    assert M.kernel_similarity(k, k) == pytest.approx(1.0, abs=1e-12)
    other = k.T
    s = M.kernel_similarity(k, other)
    assert 0 <= s < 0.6
    assert s == pytest.approx(M.kernel_similarity(other, k), abs=1e-12)
    direct = correlate(k, other, mode="full", method="direct").max()
    assert s == pytest.approx(direct / np.linalg.norm(k) / np.linalg.norm(other), abs=1e-12)
    g = np.exp(-((np.arange(15) - 7.0) ** 2) / 8)
    g2 = np.outer(g, g)
    assert 0 < M.kernel_similarity(k, g2) < 1


# ----------------------------------------------------------------------------- errors
def test_errors_name_the_argument():
    a = np.zeros((40, 40))
    with pytest.raises(ValueError, match=r"x \(40, 40\) and ref \(40, 41\)"):
        M.psnr(a, np.zeros((40, 41)))
    bad = a.copy()
    bad[3, 3] = np.nan
    with pytest.raises(ValueError, match="x contains NaN"):
        M.psnr(bad, a)
    with pytest.raises(ValueError, match="ref contains NaN"):
        M.aligned_psnr(a, np.where(np.isnan(bad), np.inf, a))
    with pytest.raises(ValueError, match="ref must have"):
        M.psnr(a, np.zeros(40))
    with pytest.raises(ValueError, match="x must have 2..3"):
        M.ssim(np.zeros((2, 3, 40, 40)), np.zeros((2, 3, 40, 40)))
    with pytest.raises(ValueError, match="border"):
        M.aligned_psnr(a, a, border=3, max_shift=5)
    with pytest.raises(ValueError, match="border=20"):
        M.psnr(a, a, border=20)
    with pytest.raises(ValueError, match="data_range"):
        M.psnr(a, a, data_range=0)
    with pytest.raises(ValueError, match="step"):
        M.align(a, a, step=0)
    with pytest.raises(ValueError, match="k2 is all zeros"):
        M.kernel_similarity(np.ones((3, 3)), np.zeros((3, 3)))
    with pytest.raises(ValueError, match="same number of dimensions"):
        M.kernel_similarity(np.ones((3, 3)), np.ones(3))
    with pytest.raises(ValueError, match="k1 contains NaN"):
        M.kernel_similarity(np.full((3, 3), np.nan), np.ones((3, 3)))
    with pytest.raises(TypeError, match="x must be a real numeric"):
        M.psnr(a.astype(complex), a)


# ----------------------------------------------------------------------------- shared data
@pytest.mark.skipif(not DATA.exists(), reason="shared data not found")
def test_levin_protocol_on_shared_data():
    from hybrid_deblur.io import imread

    sharp = imread(DATA / "levin2009" / "sharp" / "im1.png", linear=False)
    assert sharp.shape == (255, 255)
    x = np.roll(sharp, (-2, 4), axis=(0, 1))
    value, shift = M.aligned_psnr(x, sharp, return_shift=True)
    assert shift == (-2.0, 4.0) and value == math.inf
    k = np.load(DATA / "levin2009" / "kernels" / "levin_k1.npy")
    assert M.kernel_similarity(k, np.pad(k, 3)) == pytest.approx(1.0, abs=1e-12)
    assert M.kernel_similarity(k, np.load(DATA / "levin2009" / "kernels" / "levin_k4.npy")) < 0.99
