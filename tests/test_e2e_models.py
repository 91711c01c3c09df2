"""End-to-end zoo architectures: build, shapes, gradients, configs, published sizes, tiling."""

from __future__ import annotations

import doctest
import importlib

import numpy as np
import pytest
import torch

from hybrid_deblur.learned.e2e import ARCHITECTURES, build, count_parameters
from hybrid_deblur.learned.e2e.blocks import InvertedResidual, SRWrapper, make_divisible
from hybrid_deblur.learned.e2e.restore import restore_with, tiled
from hybrid_deblur.learned.e2e.train import load_model_config
from hybrid_deblur.learned.e2e.transformer import WindowAttention

#: tiny constructor arguments per architecture (fast tests)
TINY = {
    "deblurcnn": dict(width=8), "unet": dict(width=8), "deblurgan": dict(width=8, blocks=2),
    "deblurgan-v2": dict(widths=(8, 8, 16, 16, 16), fpn=16, head=8),
    "msfusion": dict(width=8, blocks=1, fusions=1),
    "restormer": dict(dim=8, blocks=(1, 1, 1), heads=(1, 2, 4), refinement=1),
    "progressive-gan": dict(width=8, growth=4, middle=1),
    "nafnet": dict(width=8, enc_blocks=(1, 1), middle_blocks=1, dec_blocks=(1, 1)),
}


@pytest.mark.parametrize("name", sorted(ARCHITECTURES))
@pytest.mark.parametrize("channels", [1, 3])
def test_forward_backward_any_size(name, channels):
    torch.manual_seed(0)
    net = build(name, channels=channels, **TINY[name])
    y = torch.rand(2, channels, 37, 45)
    out = net(y)
    assert out.shape == y.shape
    ((out - y.flip(-1)) ** 2).mean().backward()
    # every parameter is reached by the gradient (no dead branch)
    dead = [n for n, p in net.named_parameters() if p.grad is None]
    assert not dead, dead


@pytest.mark.parametrize("name", sorted(set(ARCHITECTURES) - {"deblurcnn"}))
def test_residual_models_start_as_the_identity(name):
    """Zero-initialised last layer: a fresh model returns its input exactly (input PSNR at step 0),
    and one optimiser step moves it (the last layer has a gradient at once)."""
    torch.manual_seed(0)
    net = build(name, channels=3, **TINY[name])
    y = torch.rand(2, 3, 37, 45)
    assert torch.equal(net(y), y)
    opt = torch.optim.SGD(net.parameters(), lr=0.1)
    ((net(y) - (0.8 * y + 0.2)) ** 2).mean().backward()
    opt.step()
    with torch.no_grad():
        assert (net(y) - y).abs().max() > 1e-4


def test_deblurcnn_is_not_residual():
    """S1 has no skip (sigmoid decoder): it does not start as the identity, unlike the others."""
    torch.manual_seed(0)
    y = torch.rand(1, 3, 20, 20)
    assert (build("deblurcnn", channels=3, width=8)(y) - y).abs().mean() > 0.05


@pytest.mark.parametrize("name", sorted(ARCHITECTURES))
def test_configs_small_and_large(name):
    small = load_model_config(name)
    large = load_model_config(name, size="large")
    assert small["model"]["name"] == name
    ms = build(name, **{k: v for k, v in small["model"].items() if k != "name"})
    n_small = count_parameters(ms)
    assert 0.1e6 <= n_small <= 3e6, n_small
    assert large["model"] != small["model"]
    gpu = load_model_config(name, device="cuda")
    assert gpu["data"]["patch"] >= small["data"]["patch"]


def test_published_sizes():
    """The large configs reproduce the published architectures' parameter counts."""
    naf = build("nafnet", **{k: v for k, v in load_model_config("nafnet", size="large")["model"].items()
                             if k != "name"})
    assert abs(count_parameters(naf) / 1e6 - 17.11) < 0.05  # NAFNet-width32 (README §3: ~17.1 M)
    rst = build("restormer", **{k: v for k, v in load_model_config("restormer", size="large")["model"].items()
                                if k != "name"})
    assert abs(count_parameters(rst) / 1e6 - 26.1) < 0.3  # Restormer: 26.1 M (paper Table 1)


def test_unknown_and_bad_arguments():
    with pytest.raises(ValueError, match="unknown; known"):
        build("resnet")
    with pytest.raises(ValueError, match="channels"):
        build("unet", channels=2)
    with pytest.raises(ValueError, match="channels"):
        build("unet", channels=3, width=4)(torch.rand(1, 1, 8, 8))
    with pytest.raises(ValueError, match="attention"):
        build("restormer", attention="global")


def test_inverted_residual_and_make_divisible():
    assert make_divisible(16 * 4.5) == 72 and make_divisible(10) == 16
    blk = InvertedResidual(8, 8, expand=3)
    assert blk.residual and not InvertedResidual(8, 16).residual
    assert InvertedResidual(8, 16, stride=2)(torch.rand(1, 8, 10, 10)).shape == (1, 16, 5, 5)


def test_window_attention_equals_full_attention_when_one_window():
    """A window covering the image is plain softmax attention with the relative bias."""
    torch.manual_seed(0)
    att = WindowAttention(4, heads=2, window=6)
    with torch.no_grad():
        att.bias_table.normal_()
    x = torch.rand(1, 4, 6, 6)
    q, k, v = att.dw(att.qkv(x)).chunk(3, 1)
    def heads(t):
        return t.reshape(1, 2, 2, 36).transpose(-1, -2)  # (b, h, n, d)
    q, k, v = heads(q), heads(k), heads(v)
    bias = att.bias_table[:, att.rel_index.reshape(-1)].reshape(2, 36, 36)
    a = torch.softmax(q @ k.transpose(-1, -2) / np.sqrt(2) + bias, -1)
    ref = att.proj((a @ v).transpose(-1, -2).reshape(1, 4, 6, 6))
    assert torch.allclose(att(x), ref, atol=1e-5)


def test_shifted_window_attention_is_translation_equivariant_on_periodic_input():
    """Shifting by a whole window permutes windows: the output shifts with the input."""
    torch.manual_seed(1)
    att = WindowAttention(4, heads=1, window=4, shift=False)
    att.dw = torch.nn.Identity()
    x = torch.rand(1, 4, 8, 12)
    out = att(x)
    assert torch.allclose(att(torch.roll(x, (4, 4), (-2, -1))), torch.roll(out, (4, 4), (-2, -1)), atol=1e-5)


def test_tiled_equals_whole_for_a_pointwise_model():
    net = torch.nn.Conv2d(3, 3, 1)
    x = torch.rand(1, 3, 70, 90)
    with torch.no_grad():
        assert torch.allclose(tiled(net, x, tile=32, overlap=8), net(x), atol=1e-6)
        assert torch.allclose(tiled(net, x, tile=40, overlap=0), net(x), atol=1e-6)
    with pytest.raises(ValueError, match="tile"):
        tiled(net, x, tile=32, overlap=16)


def test_restore_with_gray_colour_torch_numpy():
    net = build("unet", channels=3, width=4).eval()
    g = np.random.default_rng(0).random((30, 34))
    out = restore_with(net, g)
    # gray goes through the colour model as three equal channels
    ref = net(torch.from_numpy(g).float()[None, None].expand(1, 3, -1, -1)).mean(1)[0].detach().numpy()
    assert out.shape == g.shape and np.allclose(out, ref, atol=1e-5)
    c = torch.rand(3, 30, 34, dtype=torch.float64)
    oc = restore_with(net, c)
    assert oc.dtype == torch.float64 and oc.shape == c.shape
    assert restore_with(net, np.random.default_rng(1).random((2, 3, 16, 16))).shape == (2, 3, 16, 16)


def test_sr_wrapper_doubles():
    net = SRWrapper(build("unet", channels=1, width=4), width=8)
    assert net(torch.rand(1, 1, 18, 22)).shape == (1, 1, 36, 44)


@pytest.mark.parametrize("mod", ["blocks", "cnn", "srgan", "fpn", "fusion", "transformer", "progressive",
                                 "nafnet", "discriminators", "pairs", "restore", "train"])
def test_module_examples(mod):
    m = importlib.import_module(f"hybrid_deblur.learned.e2e.{mod}")
    res = doctest.testmod(m, optionflags=doctest.ELLIPSIS | doctest.NORMALIZE_WHITESPACE, report=False)
    assert res.failed == 0
