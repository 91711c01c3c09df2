"""Noise models and the degrade pipeline."""

from __future__ import annotations

import numpy as np
import pytest
import scipy.signal as ss

from hybrid_deblur.backend import to_numpy
from hybrid_deblur.physics import crop_valid, degrade, encode_gamma
from hybrid_deblur.physics.noise import (add_gaussian, add_poisson, add_poisson_gaussian,
                                         parse_noise, quantize, saturate)

from .conftest import to_backend


def test_gaussian_statistics_and_seed(backend_name):
    x = to_backend(np.full((256, 256), 0.3), backend_name)
    y = to_numpy(add_gaussian(x, 0.02, seed=5))
    assert abs(y.std() - 0.02) < 0.001 and abs(y.mean() - 0.3) < 0.001
    np.testing.assert_array_equal(y, to_numpy(add_gaussian(x, 0.02, seed=5)))
    assert not np.array_equal(y, to_numpy(add_gaussian(x, 0.02, seed=6)))


def test_poisson_variance_matches_mean_over_photons(backend_name):
    x = to_backend(np.full((256, 256), 0.4), backend_name)
    y = to_numpy(add_poisson(x, photons=500, seed=1))
    assert abs(y.mean() - 0.4) < 2e-3
    assert abs(y.var() - 0.4 / 500) / (0.4 / 500) < 0.05


def test_poisson_gaussian_adds_variances():
    x = np.full((300, 300), 0.5)
    y = add_poisson_gaussian(x, 1000, 0.01, seed=2)
    assert abs(y.var() - (0.5 / 1000 + 1e-4)) / (0.5 / 1000 + 1e-4) < 0.05


def test_quantize_and_saturate():
    x = np.array([-0.2, 0.0, 0.49, 0.51, 1.3])
    np.testing.assert_array_equal(quantize(x, 1), [0, 0, 0, 1, 1])
    q = quantize(np.linspace(0, 1, 1000), 8)
    assert len(np.unique(q)) == 256
    np.testing.assert_array_equal(saturate(x, 1.0), [-0.2, 0.0, 0.49, 0.51, 1.0])


def test_parse_noise_errors():
    assert parse_noise(None) == {} and parse_noise(0.0) == {}
    assert parse_noise(0.01) == {"gaussian": 0.01}
    with pytest.raises(ValueError, match="unknown keys"):
        parse_noise({"salt": 0.1})
    with pytest.raises(ValueError, match=">= 0"):
        parse_noise(-0.1)
    with pytest.raises(TypeError, match="noise must be"):
        parse_noise("loud")
    with pytest.raises(ValueError, match="bits"):
        quantize(np.ones(3), 0)


def test_degrade_valid_matches_convolve2d_and_records_info(rng):
    x = rng.random((40, 50))
    k = rng.random((7, 5))
    k /= k.sum()
    y, info = degrade(x, k, boundary="valid", noise=None)
    np.testing.assert_allclose(y, ss.convolve2d(x, k, "valid"), atol=1e-12)
    assert info["boundary"] == "valid" and info["psf_shape"] == [7, 5]
    assert info["output_shape"] == [34, 46] and info["noise"] == {}
    # the valid crop of the scene is aligned with y: a delta kernel returns exactly that crop
    d = np.zeros((7, 5))
    d[3, 2] = 1
    yd, _ = degrade(x, d, boundary="valid")
    np.testing.assert_allclose(yd, crop_valid(x, (7, 5)), atol=1e-12)


def test_degrade_noise_seed_saturation_gamma(rng):
    x = rng.random((64, 64)) * 1.2
    k = np.ones((3, 3)) / 9
    y1, info = degrade(x, k, noise={"gaussian": 0.01, "poisson": 2000, "bits": 8},
                       saturation=1.0, seed=3)
    y2, _ = degrade(x, k, noise={"gaussian": 0.01, "poisson": 2000, "bits": 8},
                    saturation=1.0, seed=3)
    np.testing.assert_array_equal(y1, y2)
    assert y1.max() <= 1.0 and info["noise"]["saturation"] == 1.0 and info["noise"]["bits"] == 8
    yg, info = degrade(np.full((8, 8), 0.5), np.ones((1, 1)), gamma="srgb")
    np.testing.assert_allclose(yg, 1.055 * 0.5 ** (1 / 2.4) - 0.055)
    assert info["gamma"] == "srgb"
    with pytest.raises(ValueError, match="gamma"):
        encode_gamma(np.ones(2), -1)


def test_degrade_rejects_bad_input():
    with pytest.raises(ValueError, match="x contains NaN"):
        degrade(np.full((8, 8), np.nan), np.ones((3, 3)))
    with pytest.raises(ValueError, match="larger than x"):
        degrade(np.ones((8, 8)), np.ones((9, 9)))


def test_degrade_torch_keeps_backend_and_grad():
    import torch

    x = torch.rand(1, 1, 32, 32, dtype=torch.float64, requires_grad=True)
    k = torch.ones(5, 5, dtype=torch.float64) / 25
    y, _ = degrade(x, k, noise=0.01, seed=0)
    assert isinstance(y, torch.Tensor) and y.shape == (1, 1, 28, 28)
    y.sum().backward()
    assert x.grad is not None and torch.isfinite(x.grad).all()
