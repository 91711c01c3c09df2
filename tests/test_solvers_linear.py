"""Wiener, Tikhonov and the noise estimator: identities, scikit-image cross-checks, backends."""

from __future__ import annotations

import numpy as np
import pytest

from hybrid_deblur import backend as B
from hybrid_deblur.physics import Blur
from hybrid_deblur.solvers import estimate_noise, tikhonov, wiener

from .conftest import to_backend


def _smooth_image(shape=(96, 104), seed=0):
    rng = np.random.default_rng(seed)
    yy, xx = np.mgrid[0:shape[0], 0:shape[1]] / max(shape)
    img = 0.4 + 0.2 * np.sin(7 * xx + 1) * np.cos(5 * yy) + 0.1 * (xx > 0.5)
    img += 0.05 * rng.random(shape)
    return img


def _well_conditioned_psf():
    k = np.zeros((5, 5))
    k[2, 2] = 0.6
    k[1, 2] = k[3, 2] = k[2, 1] = k[2, 3] = 0.07
    k[1, 1] = 0.12
    return k / k.sum()


def test_wiener_zero_nsr_inverts_circular_blur(backend_name):
    k = _well_conditioned_psf()
    H = np.fft.rfft2(np.pad(k, ((0, 59), (0, 59))))
    assert np.abs(H).min() > 0.1
    x = np.random.default_rng(3).random((64, 64))
    y = Blur(k, "circular")(x)
    xr = wiener(to_backend(y, backend_name), to_backend(k, backend_name), nsr=0.0,
                boundary="circular")
    assert np.abs(B.to_numpy(xr) - x).max() < 1e-8


@pytest.mark.parametrize("reg", ["identity", "laplacian"])
@pytest.mark.parametrize("balance", [1e-3, 0.05])
def test_wiener_matches_skimage_on_circular_data(reg, balance):
    from skimage.restoration import wiener as sk_wiener

    rng = np.random.default_rng(1)
    x = rng.random((60, 72))
    k = rng.random((7, 5))
    k /= k.sum()
    y = Blur(k, "circular")(x) + 0.01 * rng.standard_normal((60, 72))
    ours = wiener(y, k, nsr=balance, reg=reg, boundary="circular")
    sk_reg = None if reg == "laplacian" else np.ones((1, 1))
    ref = sk_wiener(y, k, balance, reg=sk_reg, is_real=True, clip=False)
    assert np.abs(ours - ref).max() < 1e-12


def test_wiener_auto_beats_circular_on_valid_blur():
    x = _smooth_image((110, 120))
    k = np.zeros((9, 9))
    k[4, :] = 1.0
    k /= k.sum()
    y = Blur(k, "valid")(x) + 0.005 * np.random.default_rng(0).standard_normal((102, 112))
    ref = x[4:-4, 4:-4]

    def psnr(a):
        return 10 * np.log10(1 / np.mean((a - ref) ** 2))

    p_auto = psnr(wiener(y, k, nsr=1e-3))
    p_circ = psnr(wiener(y, k, nsr=1e-3, boundary="circular"))
    assert p_auto > p_circ + 3.0
    # the automatic NSR is within 1 dB of the best fixed one
    best = max(psnr(wiener(y, k, nsr=b)) for b in np.logspace(-4, -1, 7))
    assert psnr(wiener(y, k)) > best - 1.0


def test_wiener_valid_returns_scene_and_dtype():
    y = np.random.default_rng(0).random((40, 50)).astype(np.float32)
    k = np.ones((5, 3), np.float32) / 15
    x = wiener(y, k, nsr=0.01, boundary="valid")
    assert x.shape == (44, 52) and x.dtype == np.float32


def test_wiener_noise_and_signal_power():
    rng = np.random.default_rng(0)
    y = rng.random((32, 32))
    k = np.ones((3, 3)) / 9
    a = wiener(y, k, noise_power=1e-4, signal_power=1e-2, boundary="circular")
    b = wiener(y, k, nsr=1e-2, boundary="circular")
    assert np.allclose(a, b, atol=1e-12)


def test_wiener_3d_stack_inverts():
    rng = np.random.default_rng(0)
    x = rng.random((12, 20, 22))
    k = np.zeros((3, 3, 3))
    k[1, 1, 1] = 0.7
    k[0, 1, 1] = k[2, 1, 1] = 0.1
    k[1, 0, 1] = k[1, 1, 0] = 0.05
    y = Blur(k, "circular", ndim=3)(x)
    xr = wiener(y, k, nsr=0.0, boundary="circular", ndim=3)
    assert np.abs(xr - x).max() < 1e-8
    assert wiener(y, k, ndim=3).shape == x.shape


def test_tikhonov_lambda_reported_and_equals_wiener_laplacian(backend_name):
    rng = np.random.default_rng(2)
    y = rng.random((48, 40))
    k = np.ones((3, 5)) / 15
    yb, kb = to_backend(y, backend_name), to_backend(k, backend_name)
    xt, info = tikhonov(yb, kb, lam=0.02, boundary="circular", return_info=True)
    xw = wiener(yb, kb, nsr=0.02, reg="laplacian", boundary="circular")
    assert info["lam"] == 0.02
    assert np.abs(B.to_numpy(xt) - B.to_numpy(xw)).max() < 1e-10


@pytest.mark.parametrize("method", ["gcv", "discrepancy"])
def test_tikhonov_automatic_lambda_is_sensible(method):
    x = _smooth_image()
    k = np.ones((5, 5)) / 25
    rng = np.random.default_rng(0)
    y_lo = Blur(k, "circular")(x) + 0.002 * rng.standard_normal(x.shape)
    y_hi = Blur(k, "circular")(x) + 0.05 * rng.standard_normal(x.shape)
    _, i_lo = tikhonov(y_lo, k, method=method, boundary="circular", return_info=True)
    _, i_hi = tikhonov(y_hi, k, method=method, boundary="circular", return_info=True)
    assert 0 < i_lo["lam"] < i_hi["lam"]          # more noise -> more regularisation
    assert not hasattr(tikhonov, "last_info")      # no global mutable state


def test_tikhonov_per_channel_lambda():
    x = np.stack([_smooth_image(seed=s) for s in range(3)])
    k = np.ones((3, 3)) / 9
    y = Blur(k, "circular")(x) + np.array([0.002, 0.01, 0.05])[:, None, None] * \
        np.random.default_rng(0).standard_normal(x.shape)
    xr, info = tikhonov(y, k, return_info=True)
    lam = np.asarray(info["lam"])
    assert xr.shape == x.shape and lam.shape == (3,)
    assert lam[0] < lam[1] < lam[2]


@pytest.mark.parametrize("sigma", [0.005, 0.02, 0.05])
def test_estimate_noise_within_10_percent(sigma):
    x = _smooth_image((200, 220))
    y = Blur(np.ones((3, 3)) / 9, "reflect")(x)
    y = y + sigma * np.random.default_rng(5).standard_normal(y.shape)
    est = estimate_noise(y)
    assert isinstance(est, float)
    assert abs(est - sigma) < 0.1 * sigma


def test_estimate_noise_channels_and_backends(backend_name):
    rng = np.random.default_rng(0)
    y = np.stack([0.5 + s * rng.standard_normal((80, 90)) for s in (0.01, 0.03)])
    est = estimate_noise(to_backend(y, backend_name))
    assert est.shape == (2,)
    assert np.allclose(est, estimate_noise(y), rtol=1e-6)
    assert np.allclose(est, [0.01, 0.03], rtol=0.1)


def test_linear_float32_kept(backend_name):
    y = to_backend(np.random.default_rng(0).random((32, 36)).astype(np.float32), backend_name)
    k = to_backend(np.ones((3, 3), np.float32) / 9, backend_name)
    for f in (wiener, tikhonov):
        out = f(y, k)
        assert str(out.dtype).endswith("float32")
        assert out.shape == y.shape


@pytest.mark.parametrize("grid", [(16, 20), (15, 9), (6, 8, 10)])
def test_regularizer_power_closed_forms_match_psf2otf(grid):
    from hybrid_deblur.psf import psf2otf
    from hybrid_deblur.solvers import regularizer_power

    nd = len(grid)
    like = np.zeros(grid)
    lap = np.zeros((3,) * nd)
    lap[(1,) * nd] = 2 * nd
    grads = []
    for i in range(nd):
        for s in (0, 2):
            idx = [1] * nd
            idx[i] = s
            lap[tuple(idx)] = -1
        d = np.zeros((3,) * nd)
        d[(1,) * nd] = -1
        idx = [1] * nd
        idx[i] = 0          # true convolution: x[p+1] - x[p] has its +1 tap before the centre
        d[tuple(idx)] = 1
        grads.append(d)
    L = psf2otf(lap, grid)
    assert np.allclose(regularizer_power("laplacian", grid, like), np.abs(L) ** 2, atol=1e-12)
    G = sum(np.abs(psf2otf(d, grid)) ** 2 for d in grads)
    assert np.allclose(regularizer_power("gradient", grid, like), G, atol=1e-12)
    assert regularizer_power("identity", grid, like) == 1.0


def test_smooth_periodic_pad_is_continuous_and_keeps_the_image():
    from hybrid_deblur.physics.geometry import smooth_periodic_pad

    y = _smooth_image((40, 50))
    widths = [(7, 9), (5, 6)]
    ext = smooth_periodic_pad(y, widths)
    assert ext.shape == (56, 61)
    assert np.array_equal(ext[7:47, 5:55], y)
    # periodic: the jump across the wrap-around is no larger than the largest inner step
    for ax in (0, 1):
        inner = np.abs(np.diff(ext, axis=ax)).max()
        wrap = np.abs(np.take(ext, 0, axis=ax) - np.take(ext, -1, axis=ax)).max()
        assert wrap <= inner + 1e-12


@pytest.mark.parametrize("f", [wiener, tikhonov])
def test_colour_image_with_one_psf_equals_channel_by_channel(f):
    x = np.stack([_smooth_image((48, 52), seed=s) for s in range(3)])
    k = np.ones((5, 5)) / 25
    y = Blur(k, "valid")(x) + np.array([0.002, 0.01, 0.03])[:, None, None] * \
        np.random.default_rng(0).standard_normal((3, 44, 48))
    out = f(y, k)
    assert out.shape == y.shape
    for c in range(3):
        np.testing.assert_allclose(out[c], f(y[c], k), atol=1e-6)
