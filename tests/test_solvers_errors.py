"""Every bad input to the classical solvers raises an error that names the argument."""

from __future__ import annotations

import numpy as np
import pytest

from hybrid_deblur.solvers import (
    HQS,
    RichardsonLucy,
    estimate_noise,
    hqs,
    hqs_w_step,
    richardson_lucy,
    tikhonov,
    wiener,
)

Y = np.random.default_rng(0).random((32, 32))
K = np.ones((3, 3)) / 9
SOLVERS = [
    lambda y, k, **kw: wiener(y, k, **kw),
    lambda y, k, **kw: tikhonov(y, k, **kw),
    lambda y, k, **kw: richardson_lucy(y, k, 2, **kw),
    lambda y, k, **kw: hqs(y, k, num_iter=1, **kw),
]
IDS = ["wiener", "tikhonov", "rl", "hqs"]


@pytest.mark.parametrize("solve", SOLVERS, ids=IDS)
def test_nan_and_inf_in_image(solve):
    for bad in (np.nan, np.inf):
        y = Y.copy()
        y[3, 4] = bad
        with pytest.raises(ValueError, match="y contains NaN or inf"):
            solve(y, K)


@pytest.mark.parametrize("solve", SOLVERS, ids=IDS)
@pytest.mark.parametrize("psf, match", [
    (np.array([[0.5, -0.2], [0.4, 0.3]]), "psf has negative values"),
    (np.zeros((3, 3)), "psf sums to zero"),
    (np.zeros((0, 3)), "psf is empty"),
    (np.ones((40, 3)), "psf of spatial shape .* larger than the image"),
    (np.ones(5), "psf must have at least 2 axes"),
    (np.array([[np.inf, 1.0]]), "psf contains NaN or inf"),
])
def test_bad_psf(solve, psf, match):
    with pytest.raises(ValueError, match=match):
        solve(Y, psf)


@pytest.mark.parametrize("solve", SOLVERS, ids=IDS)
def test_bad_image_shape_type_and_boundary(solve):
    with pytest.raises(ValueError, match="y must have at least 2 axes"):
        solve(np.ones(10), K)
    with pytest.raises(TypeError, match="y must be a real numeric array"):
        solve(Y.astype(complex), K)
    with pytest.raises(ValueError, match="boundary='mirror' is not supported; accepted: 'auto'"):
        solve(Y, K, boundary="mirror")
    with pytest.raises(TypeError, match="psf must be an array"):
        solve(Y, None)


def test_bad_psf_channels():
    with pytest.raises(ValueError, match="psf leading axes"):
        wiener(np.ones((3, 16, 16)), np.ones((2, 3, 3)))


def test_wiener_bad_options():
    with pytest.raises(ValueError, match="reg='tv' is not supported; accepted: 'identity'"):
        wiener(Y, K, reg="tv")
    with pytest.raises(ValueError, match="nsr must be a finite number >= 0, got -1"):
        wiener(Y, K, nsr=-1)
    with pytest.raises(ValueError, match="noise_power and signal_power must be given together"):
        wiener(Y, K, noise_power=0.1)
    with pytest.raises(ValueError, match="either nsr or noise_power"):
        wiener(Y, K, nsr=0.1, noise_power=0.1, signal_power=1.0)
    with pytest.raises(ValueError, match="sigma must be finite"):
        wiener(Y, K, sigma=-0.1)
    with pytest.raises(ValueError, match="ndim must be a positive integer"):
        wiener(Y, K, ndim=0)


def test_tikhonov_bad_options():
    with pytest.raises(ValueError, match="method='lcurve' is not supported; accepted: 'auto', 'gcv'"):
        tikhonov(Y, K, method="lcurve")
    with pytest.raises(ValueError, match="lam must be a finite number >= 0"):
        tikhonov(Y, K, lam=float("nan"))
    with pytest.raises(ValueError, match="reg='l1' is not supported"):
        tikhonov(Y, K, reg="l1")


def test_rl_bad_options():
    with pytest.raises(ValueError, match="num_iter must be a non-negative integer or None, got -3"):
        richardson_lucy(Y, K, -3)
    with pytest.raises(ValueError, match="num_iter must be a non-negative integer"):
        richardson_lucy(Y, K, 2.5)
    with pytest.raises(ValueError, match="damping must be a finite number > 0"):
        richardson_lucy(Y, K, 2, damping=0)
    with pytest.raises(ValueError, match="readout must be a finite number >= 0"):
        richardson_lucy(Y, K, 2, readout=-1)
    with pytest.raises(TypeError, match="tv must be a real number"):
        richardson_lucy(Y, K, 2, tv="strong")
    with pytest.raises(ValueError, match="weights must be >= 0"):
        richardson_lucy(Y, K, 2, weights=-np.ones_like(Y))
    with pytest.raises(ValueError, match="weights of shape \\(5, 5\\) must broadcast"):
        richardson_lucy(Y, K, 2, weights=np.ones((5, 5)))
    with pytest.raises(ValueError, match="stop='never' is not supported; accepted: 'discrepancy'"):
        richardson_lucy(Y, K, stop="never")
    with pytest.raises(TypeError, match="accelerate must be True or False"):
        RichardsonLucy(Y, K, accelerate="yes")
    with pytest.raises(ValueError, match="reference must have the shape"):
        richardson_lucy(Y, K, 2, reference=np.ones((3, 3)))
    with pytest.raises(ValueError, match="x0 must have spatial shape"):
        richardson_lucy(Y, K, 2, x0=np.ones((5, 5)))


def test_hqs_bad_options():
    with pytest.raises(ValueError, match="prior='l0' is not supported; accepted: 'tv', 'hyper_laplacian'"):
        hqs(Y, K, prior="l0")
    with pytest.raises(ValueError, match="alpha must be in \\(0, 1\\], got 1.5"):
        hqs(Y, K, alpha=1.5)
    with pytest.raises(ValueError, match="lam must be a finite number > 0"):
        hqs(Y, K, lam=0)
    with pytest.raises(ValueError, match="beta_schedule must not be empty"):
        HQS(Y, K, lam=1.0, beta_schedule=[])
    with pytest.raises(ValueError, match="inner must be a positive integer"):
        HQS(Y, K, lam=1.0, inner=0)
    with pytest.raises(ValueError, match="num_iter must be a non-negative integer"):
        hqs(Y, K, lam=1.0, num_iter=-1)
    with pytest.raises(ValueError, match="beta must be a finite number > 0"):
        hqs_w_step(Y, -1.0, 0.5)
    with pytest.raises(ValueError, match="alpha must be in"):
        hqs_w_step(Y, 1.0, 0.0)


def test_estimate_noise_bad_input():
    with pytest.raises(ValueError, match="y must be at least 3 pixels"):
        estimate_noise(np.ones((2, 10)))
    with pytest.raises(ValueError, match="y contains NaN"):
        estimate_noise(np.full((10, 10), np.nan))
    with pytest.raises(ValueError, match="channel_axis='last' is not supported"):
        estimate_noise(Y, channel_axis="last")
