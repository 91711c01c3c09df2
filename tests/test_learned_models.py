"""Unrolled networks: data-consistency steps vs the classical solvers, gradients, weights I/O."""

from __future__ import annotations

import json
from functools import partial
from pathlib import Path

import numpy as np
import pytest

torch = pytest.importorskip("torch")

from hybrid_deblur import backend as B  # noqa: E402
from hybrid_deblur.learned import WeightsError, build_model, load_model, save_weights  # noqa: E402
from hybrid_deblur.learned.dc import DataTerm  # noqa: E402
from hybrid_deblur.learned.inference import restore_with, unrolled_hqs  # noqa: E402
from hybrid_deblur.learned.models import ZeroResidual  # noqa: E402
from hybrid_deblur.learned.weights import sha256_file, shipped_weights  # noqa: E402
from hybrid_deblur.physics import Blur  # noqa: E402
from hybrid_deblur.solvers import hqs_x_step, wiener  # noqa: E402

torch.set_num_threads(1)
SMALL = dict(widths=(8, 16, 32))


def _kernel(k=7, seed=0):
    rng = np.random.default_rng(seed)
    a = rng.random((k, k)) ** 3
    return a / a.sum()


def _perturb(model, scale=0.05, seed=0):
    g = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        for p in model.parameters():
            p.add_(scale * torch.randn(p.shape, generator=g, dtype=p.dtype))


def test_identity_prior_stage_equals_classical_hqs_x_step():
    rng = np.random.default_rng(1)
    y = rng.random((2, 1, 40, 36))
    k = _kernel()
    net = build_model("unrolled-hqs", stages=1, channels=1, **SMALL).double()
    net.prior = ZeroResidual()
    sigma = torch.tensor([0.01, 0.03], dtype=torch.float64)
    out = net(torch.from_numpy(y), torch.from_numpy(k), sigma, boundary="circular").detach().numpy()
    alpha, _ = net.schedule(sigma, torch.from_numpy(k)[None, None].expand(2, 1, 7, 7))
    alpha = alpha.detach()
    op = Blur(k, "circular")
    for i in range(2):
        a = float(alpha[i, 0])
        # the untrained network starts from the classical Wiener solution (NumPy solver path) ...
        z0 = wiener(y[i, 0], k, boundary="circular", sigma=float(sigma[i]))
        H = op.otf((40, 36), like=y[i, 0])
        ref = hqs_x_step(H.conj() * B.rfftn(y[i, 0]), H, z0, a)  # ... then one classical x-step
        np.testing.assert_allclose(out[i, 0], ref, atol=1e-6)
        # and that step solves the normal equations (K^T K + a I) x = K^T y + a z0
        lhs = op.AtA(out[i, 0]) + a * out[i, 0]
        np.testing.assert_allclose(lhs, op.AT(y[i, 0]) + a * z0, atol=1e-9)


def test_masked_step_decreases_valid_objective():
    rng = np.random.default_rng(2)
    k = _kernel(9, 3)
    scene = rng.random((1, 1, 50, 50))
    y = Blur(k, "valid").A(scene) + 0.01 * rng.standard_normal((1, 1, 42, 42))
    yt = torch.from_numpy(y)
    dt = DataTerm(yt, torch.from_numpy(k), boundary="valid")
    z = dt.init()
    a = 0.05

    def f(x):  # ||M(Kx) - y||^2 + a ||x - z||^2 on the grid
        r = dt.crop_observed(dt.blur(x)) - yt
        return float((r ** 2).sum() + a * ((x - z) ** 2).sum())

    x1 = dt.x_step(z, a)
    assert f(x1) < f(z) - 1e-6
    assert dt.crop(x1).shape[-2:] == (50, 50)
    x2 = dt.x_step(x1, a)  # MM from x1 towards the same prior point is monotone as well
    g = lambda x: float(((dt.crop_observed(dt.blur(x)) - yt) ** 2).sum())  # noqa: E731
    assert g(x2) <= g(x1) + 1e-9


@pytest.mark.parametrize("name", ["unrolled-hqs", "deep-wiener", "unrolled-rl"])
def test_gradients_reach_every_parameter_and_the_kernel(name):
    kw = dict(stages=2, **SMALL) if name == "unrolled-hqs" else (
        dict(stages=2, width=4) if name == "unrolled-rl" else dict(features=4, **SMALL))
    net = build_model(name, channels=1, **kw).double()
    _perturb(net)
    rng = np.random.default_rng(0)
    y = torch.from_numpy(rng.random((2, 1, 30, 30)))
    psf = torch.from_numpy(np.stack([_kernel(5, 1), _kernel(5, 2)])[:, None]).requires_grad_(True)
    out = net(y, psf, torch.tensor([0.01, 0.02], dtype=torch.float64))
    assert out.shape == (2, 1, 30, 30)
    (out ** 2).mean().backward()
    for pname, p in net.named_parameters():
        assert p.grad is not None and float(p.grad.abs().sum()) > 0, pname
    assert psf.grad is not None and float(psf.grad.abs().sum()) > 0


def test_gray_model_restores_colour_channel_by_channel():
    net = build_model("unrolled-hqs", stages=2, **SMALL).double()
    _perturb(net)
    rng = np.random.default_rng(4)
    y = torch.from_numpy(rng.random((1, 3, 32, 32)))
    k = torch.from_numpy(_kernel(5))
    with torch.no_grad():
        col = net(y, k, 0.02)
        for c in range(3):
            torch.testing.assert_close(col[:, c:c + 1], net(y[:, c:c + 1], k, 0.02), rtol=0, atol=1e-12)


def test_registry_and_input_errors():
    with pytest.raises(ValueError, match="known models: 'deep-wiener', 'drunet', 'unrolled-hqs', 'unrolled-rl'"):
        build_model("unet")
    net = build_model("unrolled-hqs", stages=1, **SMALL)
    y = torch.rand(1, 1, 20, 20)
    with pytest.raises(ValueError, match="boundary='mirror'"):
        net(y, torch.ones(3, 3) / 9, 0.01, boundary="mirror")
    with pytest.raises(ValueError, match="larger than the image"):
        net(y, torch.ones(25, 25), 0.01)
    with pytest.raises(ValueError, match="sigma"):
        net(y, torch.ones(3, 3) / 9, -1.0)
    with pytest.raises(ValueError, match="negative"):
        net(y, -torch.ones(3, 3), 0.01)


def test_save_load_round_trip_is_exact(tmp_path):
    net = build_model("unrolled-hqs", stages=2, **SMALL)
    _perturb(net)
    card = save_weights(net, tmp_path / "m.pt", card={"note": "test"})
    assert card["sha256"] == sha256_file(tmp_path / "m.pt")
    assert json.loads((tmp_path / "m.json").read_text())["note"] == "test"
    back = load_model(tmp_path / "m.pt")
    for (a, va), (b, vb) in zip(net.state_dict().items(), back.state_dict().items()):
        assert a == b and torch.equal(va, vb)
    y = torch.rand(1, 1, 28, 28)
    with torch.no_grad():
        assert torch.equal(net.eval()(y, torch.ones(3, 3) / 9, 0.01), back(y, torch.ones(3, 3) / 9, 0.01))


def test_tampered_or_corrupted_weights_give_clear_errors(tmp_path):
    net = build_model("unrolled-rl", stages=1, width=4)
    p = tmp_path / "rl.pt"
    save_weights(net, p)
    data = bytearray(p.read_bytes())
    data[len(data) // 2] ^= 0xFF
    p.write_bytes(bytes(data))
    with pytest.raises(WeightsError, match=r"rl\.pt.*sha256"):
        load_model(p)
    # a file whose hash matches its card but that is not a checkpoint
    q = tmp_path / "junk.pt"
    q.write_bytes(b"not a torch file at all")
    with pytest.raises(WeightsError, match=r"junk\.pt.*not a readable checkpoint"):
        load_model(q, sha256=sha256_file(q))
    with pytest.raises(WeightsError, match="no sha256"):
        load_model(q)
    with pytest.raises(WeightsError, match="does not exist"):
        load_model(tmp_path / "missing.pt")


def test_inference_keeps_kind_shape_and_dtype():
    net = build_model("unrolled-hqs", stages=1, **SMALL)
    rng = np.random.default_rng(0)
    y = rng.random((3, 30, 34))
    k = _kernel(5)
    x = unrolled_hqs(y, k, sigma=0.01, model=net)
    assert isinstance(x, np.ndarray) and x.shape == y.shape and x.dtype == np.float64
    xv = restore_with(net, y.astype(np.float32), k, sigma=[0.01, 0.01, 0.02], boundary="valid")
    assert xv.shape == (3, 34, 38) and xv.dtype == np.float32
    xt = unrolled_hqs(torch.from_numpy(y[0]), k, model=net)  # sigma estimated
    assert torch.is_tensor(xt) and xt.shape == (30, 34)
    with pytest.raises(TypeError, match="unexpected options"):
        unrolled_hqs(y, k, model=net, iterations=3)
    with pytest.raises(ValueError, match="NaN"):
        unrolled_hqs(np.full((20, 20), np.nan), k, model=net, sigma=0.01)


@pytest.mark.skipif(not shipped_weights(), reason="no shipped weights yet")
def test_shipped_weights_verify_and_have_a_model_card():
    from hybrid_deblur.learned.inference import SHIPPED, get_method_function
    from hybrid_deblur.learned.pnp import SHIPPED_DENOISERS, pnp_drunet
    from hybrid_deblur.learned.pnp_presets import LITE_STEM, pnp_drunet_lite

    files = shipped_weights()
    # issue 17: every shipped weight file of the package together (e2e zoo included) <= 25 MB
    wdir = Path(next(iter(files.values()))).parent
    total = sum(f.stat().st_size for f in wdir.rglob("*") if f.is_file())
    assert total <= 25 * 10 ** 6, total
    rng = np.random.default_rng(0)
    y = rng.random((40, 40))
    for stem, p in files.items():
        if stem == "kernel_net_gray":  # the kernel estimator: checked in tests/test_estimate_learned.py
            continue
        card = json.loads(Path(p).with_suffix(".json").read_text())
        for key in ("sha256", "data", "kernels", "noise", "training", "hardware", "validation_psnr"):
            assert key in card, (stem, key)
        assert card["sha256"] == sha256_file(p)
        load_model(p)
        if stem in SHIPPED_DENOISERS.values():  # a denoiser prior: served by pnp-drunet
            fn = pnp_drunet
        elif stem == "drunet_gray":  # the former prior, still shipped: pnp-drunet with weights=
            fn = partial(pnp_drunet, weights=p)
        elif stem == LITE_STEM:  # the small denoiser of pnp-drunet-lite
            fn = pnp_drunet_lite
        else:
            fn = get_method_function(next(n for n, v in SHIPPED.items() if stem in v[:2]))
        assert fn(y, _kernel(5), sigma=0.01).shape == (40, 40)
