"""Zero-DCE: the curve is monotone and maps [0, 1] into [0, 1]; the losses' zeros; the pre-step."""

from __future__ import annotations

import doctest

import numpy as np
import pytest
import torch

from hybrid_deblur.learned import zero_dce as Z


def test_curve_monotone_and_maps_unit_interval_into_itself():
    g = torch.Generator().manual_seed(0)
    x = torch.linspace(0, 1, 201, dtype=torch.float64).reshape(1, 1, 1, 201).expand(1, 3, 50, 201)
    # any per-pixel parameters in [-1, 1] (including the extremes), 8 iterations
    alpha = (torch.rand(1, 24, 50, 1, generator=g, dtype=torch.float64) * 2 - 1).expand(1, 24, 50, 201).clone()
    alpha[:, :, 0] = 1.0
    alpha[:, :, 1] = -1.0
    out = Z.apply_curves(x, alpha)
    assert float(out.min()) >= 0.0 and float(out.max()) <= 1.0
    assert torch.all(out[..., 1:] - out[..., :-1] >= -1e-12)  # monotone in x for every pixel's curve
    assert float(out[..., 0].abs().max()) == 0.0 and float((out[..., -1] - 1).abs().max()) < 1e-12
    # alpha = 1 once: LE(x) = 2x - x^2 (closed form); alpha = 0: identity
    one = Z.apply_curves(x[..., :1, :], torch.ones(1, 3, 1, 201, dtype=torch.float64))
    assert torch.allclose(one, 2 * x[..., :1, :] - x[..., :1, :] ** 2)
    assert torch.equal(Z.apply_curves(x, torch.zeros(1, 3, 50, 201, dtype=torch.float64)), x)


def test_network_output_in_unit_interval_and_shapes():
    torch.manual_seed(0)
    net = Z.ZeroDCE()
    assert sum(p.numel() for p in net.parameters()) == 79416  # the paper's DCE-Net size
    x = torch.rand(2, 3, 33, 40)
    out, a = net(x)
    assert out.shape == x.shape and a.shape == (2, 24, 33, 40)
    assert float(out.min()) >= 0 and float(out.max()) <= 1 and float(a.abs().max()) <= 1
    with pytest.raises(ValueError, match="RGB"):
        net(torch.rand(1, 1, 8, 8))


def test_losses_zero_where_they_should_be_and_positive_otherwise():
    flat = torch.full((1, 3, 32, 32), Z.EXPOSURE_LEVEL)
    zero_a = torch.zeros(1, 24, 32, 32)
    l0 = Z.zero_dce_losses(flat, flat, zero_a)
    assert all(float(v) == pytest.approx(0.0, abs=1e-5) for v in l0.values())  # col: sqrt(0 + 1e-12)
    dark = flat * 0.1
    dark[:, 0] *= 2  # reddish and dark: exposure and colour terms fire
    ramp = torch.linspace(0, 1, 32).reshape(1, 1, 1, 32).expand(1, 24, 32, 32)
    l1 = Z.zero_dce_losses(dark, flat, ramp)
    assert float(l1["exp"]) > 0 and float(l1["col"]) > 0 and float(l1["tv"]) > 0
    # spatial consistency: an enhanced image that flattens the input's structure is penalised
    structured = flat.clone()
    structured[..., :16] = 0.2
    assert float(Z.zero_dce_losses(flat, structured, zero_a)["spa"]) > 0
    assert float(Z.zero_dce_losses(structured, structured, zero_a)["spa"]) == 0.0


def _brightening_net():
    net = Z.ZeroDCE(width=4)
    with torch.no_grad():
        for p in net.parameters():
            p.zero_()
        net.c7.bias.fill_(5.0)  # alpha ~ +1 everywhere: brighten
    return net.eval()


def test_enhance_low_light_brightens_dark_and_gates_bright():
    net = _brightening_net()
    y = np.full((3, 16, 16), 0.002)
    y[:, :8] = 0.01
    out = Z.enhance_low_light(y, model=net)
    assert out.shape == y.shape and out.dtype == y.dtype
    assert out.mean() > 5 * y.mean() and out.max() <= 1.0
    assert np.all(out[:, :8] > out[:, 8:])  # order kept (monotone curves)
    gray = Z.enhance_low_light(y[0], model=net)
    assert np.allclose(gray, out[0])
    bright = np.full((16, 16), 0.5)
    assert Z.enhance_low_light(bright, model=net) is bright  # the no-harm gate
    t = torch.full((1, 3, 8, 8), 0.002, dtype=torch.float64)
    assert Z.enhance_low_light(t, model=net).dtype == torch.float64
    with pytest.raises(ValueError, match="gate"):
        Z.enhance_low_light(y, model=net, gate=2.0)


def test_examples_run():
    from hybrid_deblur.learned import zero_dce_train as T

    for mod in (Z, T):
        res = doctest.testmod(mod, optionflags=doctest.ELLIPSIS | doctest.NORMALIZE_WHITESPACE)
        assert res.failed == 0, mod.__name__


def test_low_light_synthesis_exposure_and_noise():
    from hybrid_deblur.io import srgb_to_linear
    from hybrid_deblur.learned.zero_dce_train import low_light

    x = np.full((1, 60, 60), 0.5)
    k = np.ones((3, 3)) / 9
    dark = np.asarray(srgb_to_linear(low_light(x, k, photons=10, bits=None, seed=0)))
    normal = np.asarray(srgb_to_linear(low_light(x, k, photons=1000, bits=None, seed=0)))
    assert dark.shape == (1, 58, 58)
    # brightness scales with photons / full well; shot noise std ~ sqrt(5 e-) / 1000
    assert dark.mean() == pytest.approx(0.005, rel=0.05) and normal.mean() == pytest.approx(0.5, rel=0.01)
    assert dark.std() == pytest.approx(np.sqrt(5 + 4) / 1000, rel=0.15)


def test_deblurrer_low_light_hook():
    from hybrid_deblur.pipeline.deblurrer import Deblurrer

    x = np.random.default_rng(0).random((40, 40)) * 0.5 + 0.3  # well exposed: the gate passes it
    k = np.ones((3, 3)) / 9
    a = Deblurrer("wiener", low_light="zero-dce").restore(x, k, sigma=0.01)
    b = Deblurrer("wiener").restore(x, k, sigma=0.01)
    assert np.array_equal(a, b)
    with pytest.raises(ValueError, match="low_light"):
        Deblurrer("wiener", low_light="retinex")


def test_cli_deblur_low_light_flag(tmp_path):
    from hybrid_deblur.cli.main import build_parser

    args = build_parser().parse_args(["deblur", "in.png", "--psf", "k.npy", "-o", "o.png", "--low-light"])
    assert args.low_light is True
    args = build_parser().parse_args(["deblur", "in.png", "--psf", "k.npy", "-o", "o.png"])
    assert args.low_light is False
