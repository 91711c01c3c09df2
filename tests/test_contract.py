"""Contract of every registered classical solver (issue 9 / 16): one test loop over the registry.

dtype policy and float32/float64 agreement, NumPy == torch, bad input refused naming the
argument, no NaN from finite input, first-order optimality of the convex ones, RL against
scikit-image on the interior.
"""

from __future__ import annotations

import numpy as np
import pytest

from hybrid_deblur.analysis.registry import METHODS, get_method
from hybrid_deblur.physics import Blur
from hybrid_deblur.physics.datastep import frequency_power

CLASSICAL = [n for n, (mod, _, _) in METHODS.items() if mod == "hybrid_deblur.solvers"]


def _data(n=48, k=5, sigma=0.01, seed=0):
    rng = np.random.default_rng(seed)
    yy, xx = np.mgrid[0:n, 0:n] / n
    x = 0.3 + 0.3 * (np.sin(7 * xx) * np.cos(5 * yy) > 0) + 0.1 * rng.random((n, n))
    psf = rng.random((k, k)) + 0.1
    psf /= psf.sum()
    y = Blur(psf, "valid")(x) + sigma * rng.standard_normal((n - k + 1, n - k + 1))
    return np.clip(y, 0, 1), psf


def test_registry_lists_the_classical_solvers():
    assert set(CLASSICAL) >= {"wiener", "tikhonov", "rl", "rl-tv", "hqs-tv", "hqs-hl"}


@pytest.mark.parametrize("name", CLASSICAL)
def test_float32_and_float64_agree(name):
    f = get_method(name)
    y, k = _data()
    kw = {"num_iter": 10} if name == "rl-tv" else {}   # OSL-TV: see the xfail below
    a = f(y, k, **kw)
    b = f(y.astype(np.float32), k.astype(np.float32), **kw)
    assert a.dtype == np.float64 and b.dtype == np.float32 and a.shape == b.shape == y.shape
    assert np.abs(a - b).max() < 1e-3


@pytest.mark.xfail(strict=True, reason="unmet (issue 9): one-step-late RL-TV does not converge (it "
                   "oscillates) and amplifies rounding over its default 150 iterations: float32 vs "
                   "float64 max |diff| 1.3e-2, NumPy vs torch float64 3.4e-3")
def test_float32_and_float64_agree_rl_tv_default_run():
    f = get_method("rl-tv")
    y, k = _data()
    assert np.abs(f(y, k) - f(y.astype(np.float32), k.astype(np.float32))).max() < 1e-3


@pytest.mark.parametrize("name", CLASSICAL)
def test_numpy_and_torch_agree(name):
    torch = pytest.importorskip("torch")
    f = get_method(name)
    y, k = _data(40)
    kw = {"num_iter": 20} if name == "rl-tv" else {}   # OSL-TV: see the xfail above
    a = f(y, k, **kw)
    b = f(torch.tensor(y), torch.tensor(k), **kw)
    assert torch.is_tensor(b) and b.dtype == torch.float64
    assert np.abs(b.numpy() - a).max() < 1e-6


@pytest.mark.parametrize("name", CLASSICAL)
@pytest.mark.parametrize("bad", [-0.1, np.nan, np.inf])
def test_bad_sigma_is_refused_naming_sigma(name, bad):
    y, k = _data(32)
    with pytest.raises(ValueError, match="sigma must be finite and >= 0"):
        get_method(name)(y, k, sigma=bad)


@pytest.mark.parametrize("name", CLASSICAL)
def test_unknown_option_is_a_type_error(name):
    y, k = _data(32)
    with pytest.raises(TypeError):
        get_method(name)(y, k, nrs=1e-3)


@pytest.mark.parametrize("name", CLASSICAL)
@pytest.mark.parametrize("boundary", ["auto", "valid", "zero", "circular"])
def test_zero_image_and_flat_kernel_give_finite_output(name, boundary):
    f = get_method(name)
    y = np.zeros((32, 32))
    k = np.ones((4, 4)) / 16                 # spectral zeros
    out = f(y, k, boundary=boundary)
    assert np.isfinite(out).all()


@pytest.mark.slow
def test_zero_parameters_never_give_nan():
    from hybrid_deblur.solvers import tikhonov, wiener

    y = np.random.default_rng(0).random((20, 20))
    for k in (np.ones((2, 2)) / 4, np.ones((4, 4)) / 16):
        for b in ("auto", "circular", "valid", "reflect", "replicate", "zero"):
            assert np.isfinite(wiener(y, k, nsr=0.0, boundary=b)).all()
            assert np.isfinite(tikhonov(y, k, lam=0.0, boundary=b)).all()


@pytest.mark.parametrize("boundary", ["auto", "zero", "reflect"])
def test_tikhonov_first_order_optimality(boundary):
    from hybrid_deblur.solvers import tikhonov

    y, k = _data(40)
    model = "valid" if boundary == "auto" else boundary
    A = Blur(k, model)
    yb = y if model == "valid" else A(np.pad(y, 2, mode="edge"))[2:-2, 2:-2]
    lam = 3e-3
    if model == "valid":
        x = A.solve_normal(yb, reg="laplacian", reg_weight=lam, tol=1e-12)
        grid = A.fft_shape(A.input_shape(yb.shape))
        xg = np.pad(x, [(0, g - n) for g, n in zip(grid, x.shape)])
        # gradient on the solve grid (its extra samples are free unknowns)
        xs = A.solve_normal(yb, reg="laplacian", reg_weight=lam, x0=xg, tol=1e-12)
        R2 = frequency_power("laplacian", grid, xs)
        reg = np.fft.irfft2(R2 * np.fft.rfft2(xs), s=grid)
        emb = np.zeros(grid)
        emb[2:2 + yb.shape[0], 2:2 + yb.shape[1]] = A(xs[:44, :44]) - yb
        H = A.otf(grid)
        g = np.fft.irfft2(np.fft.rfft2(emb) * H.conj(), s=grid) + lam * reg
        assert np.abs(g).max() < 1e-8
        out = tikhonov(yb, k, lam=lam, boundary="auto")
        np.testing.assert_allclose(out, xs[2:2 + yb.shape[0], 2:2 + yb.shape[1]], atol=1e-6)
    else:
        x = tikhonov(yb, k, lam=lam, boundary=boundary)
        R2 = frequency_power("laplacian", yb.shape, x)
        g = A.AT(A(x) - yb) + lam * np.fft.irfft2(R2 * np.fft.rfft2(x), s=yb.shape)
        assert np.abs(g).max() < 1e-6


def test_wiener_circular_is_the_exact_minimiser():
    from hybrid_deblur.solvers import wiener

    y, k = _data(40)
    x = wiener(y, k, nsr=0.01, reg="gradient", boundary="circular")
    A = Blur(k, "circular")
    R2 = frequency_power("gradient", y.shape, y)
    g = A.AT(A(x) - y) + 0.01 * np.fft.irfft2(R2 * np.fft.rfft2(x), s=y.shape)
    assert np.abs(g).max() < 1e-10


@pytest.mark.slow
def test_rl_matches_scikit_image_on_the_interior():
    from skimage.restoration import richardson_lucy as sk_rl

    from hybrid_deblur.solvers import richardson_lucy

    rng = np.random.default_rng(0)
    x = 0.2 + rng.random((64, 64))
    k = rng.random((5, 5)) + 0.1
    k /= k.sum()
    y = Blur(k, "reflect")(x)
    ours = richardson_lucy(y, k, 15, boundary="reflect", accelerate=False)
    ref = sk_rl(y, k, num_iter=15, clip=False)
    # scikit-image convolves with 'same' zero-padded borders and starts from 0.5: compare
    # the interior, where both models agree, with a generous tolerance for the start
    inner = (slice(12, -12), slice(12, -12))
    assert np.corrcoef(ours[inner].ravel(), ref[inner].ravel())[0, 1] > 0.99
    assert np.abs(ours[inner] - ref[inner]).mean() < 0.02


@pytest.mark.parametrize("name", CLASSICAL)
def test_matching_boundary_beats_auto_on_padded_blur(name):
    """boundary=b means "the data were blurred with Blur(k, b)": it beats the default there."""
    if name in ("rl", "rl-tv"):
        pytest.skip("RL solves Blur(k, b) exactly since issue 3; checked in test_solvers_rl")
    f = get_method(name)
    rng = np.random.default_rng(1)
    yy, xx = np.mgrid[0:64, 0:64] / 64
    x = 0.5 + 0.4 * (np.sin(9 * xx) * np.cos(7 * yy) > 0)
    k = np.ones((7, 7)) / 49
    y = Blur(k, "zero")(x) + 0.005 * rng.standard_normal(x.shape)

    def psnr(a):
        return 10 * np.log10(1 / np.mean((a - x) ** 2))

    assert psnr(f(y, k, boundary="zero")) > psnr(f(y, k)) + 0.5
