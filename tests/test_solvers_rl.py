"""Richardson–Lucy family: flux, positivity, acceleration, masked valid model, options, backends."""

from __future__ import annotations

import numpy as np
import pytest

from hybrid_deblur import backend as B
from hybrid_deblur.physics import Blur
from hybrid_deblur.solvers import RichardsonLucy, richardson_lucy, richardson_lucy_tv

from .conftest import to_backend


def _scene(shape=(64, 72), seed=0):
    rng = np.random.default_rng(seed)
    yy, xx = np.mgrid[0:shape[0], 0:shape[1]] / max(shape)
    return 0.3 + 0.3 * (np.sin(9 * xx) * np.cos(6 * yy) > 0) + 0.2 * rng.random(shape)


def _positive_psf(shape=(5, 7), seed=1):
    k = np.random.default_rng(seed).random(shape) + 0.05
    return k / k.sum()


def _poisson_nll(y, Ax):
    Ax = np.maximum(Ax, 1e-300)
    return float(np.sum(Ax - y * np.log(Ax)))


@pytest.mark.parametrize("accelerate", [False, True])
def test_rl_preserves_flux_and_positivity(accelerate):
    x = _scene()
    k = _positive_psf()
    y = Blur(k, "circular")(x)
    rl = RichardsonLucy(y, k, boundary="circular", accelerate=accelerate).init()
    for _ in range(15):
        xk = rl.step()
        assert abs(float(xk.sum()) - float(y.sum())) < 1e-9 * float(y.sum())
        assert float(xk.min()) >= 0.0


def test_rl_float32_kept_and_never_nan():
    rng = np.random.default_rng(0)
    y = (0.01 * rng.standard_normal((48, 48))).astype(np.float32)  # zero-mean: many negatives
    y[10:20, 10:20] = 0.0
    k = np.ones((5, 5), np.float32) / 25
    for kw in ({}, {"tv": 0.01}, {"damping": 1.0}, {"readout": 0.01}):
        out = richardson_lucy(y, k, 20, **kw)
        assert out.dtype == np.float32
        assert np.isfinite(out).all() and out.min() >= 0


def test_accelerated_rl_reaches_plain_50_iteration_likelihood_much_sooner():
    x = _scene((80, 80))
    k = np.zeros((9, 9))
    k[4, :] = 1.0
    k[:, 4] += 0.5
    k /= k.sum()
    y = Blur(k, "circular")(x)
    op = Blur(k, "circular")
    plain = richardson_lucy(y, k, 50, accelerate=False, boundary="circular")
    target = _poisson_nll(y, op(plain))
    acc = RichardsonLucy(y, k, boundary="circular", accelerate=True).init()
    for it in range(1, 51):
        acc.step()
        if _poisson_nll(y, op(acc.x)) <= target:
            break
    assert it <= 20, f"accelerated RL needed {it} iterations"


def test_valid_rl_equals_explicit_masked_formulation():
    """boundary='valid' (FFT grid + mask) == RL on Blur(valid) with A^T 1 normalisation."""
    x = _scene((40, 46))
    k = _positive_psf((5, 7))
    A = Blur(k, "valid")
    y = A(x)
    n_it = 8
    ours = richardson_lucy(y, k, n_it, boundary="valid", accelerate=False)
    assert ours.shape == x.shape
    # reference: explicit valid-mode operator, same initial estimate (y replicated outward)
    xr = np.full(x.shape, y.mean())
    norm = A.AT(np.ones_like(y))
    for _ in range(n_it):
        xr = np.maximum(xr * A.AT(y / A(xr)) / norm, 0)
    assert np.abs(ours - xr).max() < 1e-10 * np.abs(xr).max()
    # auto returns the observed frame of the same solution
    auto = richardson_lucy(y, k, n_it, accelerate=False)
    assert np.abs(auto - xr[2:-2, 3:-3]).max() < 1e-10 * np.abs(xr).max()


def test_valid_rl_has_no_border_ringing_unlike_circular():
    yy, xx = np.mgrid[0:90, 0:90] / 90
    x = 0.3 + 0.4 * (xx > 0.37) + 0.2 * np.sin(5 * yy)      # not periodic: a real scene
    k = np.zeros((11, 11))
    k[5, :] = 1
    k /= k.sum()
    y = Blur(k, "valid")(x)
    ref = x[5:-5, 5:-5]

    def err(a):
        return float(np.sqrt(np.mean((a - ref) ** 2)))

    assert err(richardson_lucy(y, k, 30)) < 0.5 * err(richardson_lucy(y, k, 30,
                                                                      boundary="circular"))


@pytest.mark.parametrize("boundary", ["reflect", "replicate", "zero"])
def test_rl_operator_boundaries_fit_their_model(boundary):
    x = _scene((40, 40))
    k = _positive_psf((5, 5))
    y = Blur(k, boundary)(x)
    r0 = np.linalg.norm(Blur(k, boundary)(y) - y)
    xr = richardson_lucy(y, k, 30, boundary=boundary)
    assert xr.shape == y.shape
    assert np.linalg.norm(Blur(k, boundary)(xr) - y) < 0.5 * r0


def test_weights_ignore_bad_pixels():
    x = _scene((48, 48))
    k = _positive_psf((5, 5))
    y = Blur(k, "valid")(x)
    w = np.ones_like(y)
    w[10:14, 20:25] = 0
    y_bad = y.copy()
    y_bad[10:14, 20:25] = 50.0  # saturated garbage
    a = richardson_lucy(y, k, 10, weights=w, accelerate=False)
    b = richardson_lucy(y_bad, k, 10, weights=w, accelerate=False)
    assert np.abs(a - b).max() < 1e-12


def test_readout_damping_and_tv_options_change_the_result_sensibly():
    x = _scene((48, 48))
    k = _positive_psf((5, 5))
    rng = np.random.default_rng(0)
    y = Blur(k, "valid")(x) + 0.02 * rng.standard_normal((44, 44))
    plain = richardson_lucy(y, k, 30)
    tv = richardson_lucy(y, k, 30, tv=0.02)
    damp = richardson_lucy(y, k, 30, damping=0.5)

    def tv_norm(a):
        return float(np.abs(np.diff(a, axis=0)).sum() + np.abs(np.diff(a, axis=1)).sum())

    assert tv_norm(tv) < tv_norm(plain)
    assert tv_norm(damp) < tv_norm(plain)
    assert not np.allclose(richardson_lucy(y, k, 5, readout=0.1), richardson_lucy(y, k, 5))


def test_auto_stop_callbacks_and_info():
    x = _scene((64, 64))
    k = _positive_psf((7, 7))
    rng = np.random.default_rng(1)
    y = Blur(k, "valid")(x) + 0.01 * rng.standard_normal((58, 58))
    ref = x[3:-3, 3:-3]
    calls = []
    _, info = richardson_lucy(y, k, callback=lambda i, xi, r, p: calls.append((i, r, p)),
                                reference=ref, return_info=True)
    assert info["stop_reason"] == "discrepancy"
    assert 2 <= info["iterations"] < 100
    assert len(calls) == info["iterations"] and calls[-1][0] == info["iterations"]
    assert all(r is not None and p is not None for _, r, p in calls)
    assert calls[-1][2] > 10 * np.log10(1 / np.mean((y - ref) ** 2))  # better than the input
    assert not hasattr(richardson_lucy, "last_info") and info["iterations"] > 0
    # a callable stop rule
    _, info2 = richardson_lucy(y, k, stop=lambda i, xi, r: i >= 3, return_info=True)
    assert info2["iterations"] == 3 and info2["stop_reason"] == "callback"


def test_rl_tv_wrapper_sets_weight():
    x = _scene((40, 40))
    k = _positive_psf((5, 5))
    y = Blur(k, "valid")(x) + 0.01 * np.random.default_rng(0).standard_normal((36, 36))
    out, info = richardson_lucy_tv(y, k, return_info=True)
    assert info["tv"] > 0 and out.shape == y.shape


@pytest.mark.parametrize("boundary", ["auto", "circular", "reflect"])
def test_rl_numpy_and_torch_agree(backend_name, boundary):
    x = np.stack([_scene((36, 40), s) for s in range(2)])
    k = _positive_psf((5, 3))
    y = Blur(k, "valid" if boundary == "auto" else boundary)(x)
    y = y + 0.01 * np.random.default_rng(0).standard_normal(y.shape)
    ref = richardson_lucy(y, k, 6, boundary=boundary, tv=0.01)
    out = richardson_lucy(to_backend(y, backend_name), to_backend(k, backend_name), 6,
                          boundary=boundary, tv=0.01)
    assert type(out).__module__.split(".")[0] == {"numpy": "numpy", "torch": "torch",
                                                   "cupy": "cupy"}[backend_name]
    assert np.abs(B.to_numpy(out) - ref).max() < 1e-8


def test_rl_per_channel_psf_and_3d_stack():
    rng = np.random.default_rng(0)
    x = np.stack([_scene((32, 32), s) for s in range(3)])
    k = np.stack([_positive_psf((3, 3), s) for s in range(3)])
    y = Blur(k, "circular")(x)
    out = richardson_lucy(y, k, 10, boundary="circular")
    assert out.shape == x.shape
    assert np.allclose(out.sum(axis=(-2, -1)), y.sum(axis=(-2, -1)))
    vol = rng.random((10, 24, 26)) + 0.1
    kv = np.ones((3, 3, 3)) / 27
    yv = Blur(kv, "valid", ndim=3)(vol)
    outv = richardson_lucy(yv, kv, 5, ndim=3)
    assert outv.shape == yv.shape
    assert richardson_lucy(yv, kv, 5, ndim=3, boundary="valid").shape == vol.shape


def test_subsampled_acceleration_tracks_the_exact_one(monkeypatch):
    import importlib

    mod = importlib.import_module("hybrid_deblur.solvers.rl_core")
    x = _scene((96, 96))
    k = _positive_psf((7, 7))
    y = Blur(k, "valid")(x) + 0.005 * np.random.default_rng(0).standard_normal((90, 90))
    exact = richardson_lucy(y, k, 12)
    monkeypatch.setattr(mod, "_SUBSAMPLE_FROM", 1)
    approx = richardson_lucy(y, k, 12)
    assert np.abs(approx - exact).max() < 0.02 * np.abs(exact).max()
    assert not np.array_equal(approx, exact)


@pytest.mark.parametrize("boundary", ["circular", "valid", "zero"])
def test_one_plain_step_is_the_operators_rl_update(boundary):
    x = _scene((40, 44))
    k = _positive_psf()
    y = Blur(k, "valid" if boundary == "valid" else boundary)(x)
    rl = RichardsonLucy(y, k, boundary=boundary, accelerate=False).init()
    x0 = rl.result()
    x1 = rl.step()
    op = Blur(k, boundary)
    ref = op.rl_update(x0 if boundary != "valid" else rl.geom.crop(rl.x * 0 + x0.mean()), y)
    got = rl.result()
    if boundary == "valid":
        # the iterator carries the scene on a larger grid: compare on the scene
        ref = op.rl_update(np.full(op.input_shape(y.shape), float(x0.mean())), y)
    np.testing.assert_allclose(got, ref, rtol=1e-9, atol=1e-12)
    assert x1 is rl.x


def test_change_stop_fires_on_the_observed_frame():
    x = _scene((80, 80))
    k = _positive_psf((9, 9))
    y = Blur(k, "valid")(x)
    _, info = richardson_lucy(y, k, stop="change", tol=2e-3, max_iter=300, return_info=True)
    assert info["stop_reason"] == "change" and info["iterations"] < 300
    # RL-TV: the automatic run stops by the change rule or when the misfit grows again
    _, info = richardson_lucy_tv(y, k, return_info=True)
    assert info["stop_reason"] in ("change", "diverging", "max_iter")


def test_poisson_deviance_stop():
    rng = np.random.default_rng(0)
    x = _scene((80, 80))
    k = _positive_psf((7, 7))
    peak = 200.0
    y = rng.poisson(peak * Blur(k, "valid")(x)) / peak
    out, info = richardson_lucy(y, k, noise="poisson", peak=peak, return_info=True)
    assert info["stop_reason"] == "poisson_deviance" and 1 < info["iterations"] < 200
    Ax = Blur(k, "valid")(np.pad(out, 3, mode="edge"))
    ref = x[3:-3, 3:-3]
    # stopped near the data's noise level: better than the input, better than running on
    psnr = lambda a: 10 * np.log10(1 / np.mean((a - ref) ** 2))
    assert psnr(out) > psnr(y) and psnr(out) > psnr(richardson_lucy(y, k, 200)) - 0.5
    assert np.isfinite(Ax).all()
    with pytest.raises(ValueError, match="noise='laplace' is not supported"):
        richardson_lucy(y, k, noise="laplace")


@pytest.mark.parametrize("bad", [-0.1, np.nan, np.inf])
def test_bad_sigma_is_refused_naming_sigma(bad):
    y = _scene((32, 32))
    k = _positive_psf()
    for f in (richardson_lucy, richardson_lucy_tv):
        with pytest.raises(ValueError, match="sigma must be finite and >= 0"):
            f(y, k, sigma=bad)


def test_float32_and_float64_agree():
    x = _scene((64, 64))
    k = _positive_psf((7, 7))
    y = Blur(k, "valid")(x) + 0.01 * np.random.default_rng(0).standard_normal((58, 58))
    a = richardson_lucy(y, k)
    b = richardson_lucy(y.astype(np.float32), k.astype(np.float32))
    assert b.dtype == np.float32 and np.abs(a - b).max() < 1e-3
    # RL-TV (one-step-late) runs long and amplifies rounding: agreement over 20 iterations
    a = richardson_lucy_tv(y, k, 20)
    b = richardson_lucy_tv(y.astype(np.float32), k.astype(np.float32), 20)
    assert np.abs(a - b).max() < 1e-3
