"""int8 post-training quantisation: the int8 graph really quantises and stays close to fp32."""

from __future__ import annotations

import pytest
import torch
from torch import nn

from hybrid_deblur.learned.deploy.quantize import torchao_available

pytestmark = pytest.mark.skipif(not torchao_available(), reason="needs torchao (extra 'quant')")


def _net():
    torch.manual_seed(0)
    return nn.Sequential(nn.Conv2d(1, 16, 3, padding=1), nn.ReLU(), nn.Conv2d(16, 16, 3, padding=1),
                         nn.ReLU(), nn.Conv2d(16, 1, 3, padding=1)).eval()


def _smooth(g, n=1, size=32):
    # smooth random images (like natural crops: the calibration range is representative)
    x = torch.rand(n, 1, size // 4, size // 4, generator=g)
    return torch.nn.functional.interpolate(x, size=(size, size), mode="bilinear", align_corners=False)


@pytest.mark.slow
def test_static_int8_close_to_fp32_on_fixed_input():
    from hybrid_deblur.learned.deploy.quantize import quantize_static

    net = _net()
    g = torch.Generator().manual_seed(0)
    q = quantize_static(net, [_smooth(g, 2) for _ in range(4)])
    targets = {str(n.target) for n in q.graph.graph.nodes if n.op == "call_function"}
    assert any("quantize_per_channel" in t for t in targets)  # weights are int8 per channel
    assert any("quantize_per_tensor" in t for t in targets)   # activations are quantised
    x = _smooth(torch.Generator().manual_seed(5), 1, 40)[..., :37, :]  # fixed input, odd height
    with torch.no_grad():
        ref = net(x)
        out = q(x)
    assert out.shape == ref.shape
    err = (out - ref).abs().max() / ref.abs().max()
    assert 0 < err < 0.05  # int8 is not bit-exact, but within a few per cent of the range


def test_dynamic_linear_int8_close_to_fp32():
    from hybrid_deblur.learned.deploy.quantize import quantize_dynamic_linear

    torch.manual_seed(0)
    mlp = nn.Sequential(nn.Linear(16, 64), nn.ReLU(), nn.Linear(64, 8)).eval()
    q = quantize_dynamic_linear(mlp)
    x = torch.randn(4, 16, generator=torch.Generator().manual_seed(1))
    with torch.no_grad():
        ref, out = mlp(x), q(x)
    err = (out - ref).abs().max() / ref.abs().max()
    assert 0 < err < 0.05
    assert type(q[0].weight).__name__ != "Parameter" or q[0].weight.dtype != torch.float32


def test_quantize_rejects_bad_input():
    from hybrid_deblur.learned.deploy.quantize import quantize_static

    with pytest.raises(ValueError, match="multiples of 8"):
        quantize_static(_net(), [torch.rand(1, 1, 30, 32)], multiple=8)
    with pytest.raises(ValueError, match="at least one"):
        quantize_static(_net(), [])
    with pytest.raises(TypeError, match="model"):
        quantize_static("net", [torch.rand(1, 1, 32, 32)])
