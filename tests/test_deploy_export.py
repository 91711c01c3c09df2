"""ONNX export: onnxruntime reproduces torch (gray and colour, two sizes, dynamic axes)."""

from __future__ import annotations

import pytest
import torch

from hybrid_deblur.learned.deploy.export import PadCrop, onnx_available
from hybrid_deblur.learned.layers import ResUNet

pytestmark = pytest.mark.skipif(not onnx_available(), reason="needs onnx, onnxscript, onnxruntime "
                                "(extra 'onnx')")


def _tiny(cin=1):
    torch.manual_seed(0)
    net = ResUNet(cin, cin, (4, 8)).eval()
    torch.nn.init.normal_(net.tail.weight, std=0.2)  # the tail starts at zero: make it do something
    return net


@pytest.mark.slow
def test_onnx_round_trip_tiny_unet(tmp_path):
    from hybrid_deblur.learned.deploy.export import check_onnx, export_onnx

    net = _tiny()
    rep = export_onnx(net, tmp_path / "tiny.onnx", torch.rand(1, 1, 32, 32), multiple=4)
    assert (tmp_path / "tiny.onnx").stat().st_size == rep["bytes"] > 0
    g = torch.Generator().manual_seed(1)
    # gray image, a colour image as a batch of 3 channels, two sizes (one not a multiple of 4)
    res = check_onnx(rep["file"], PadCrop(net, 4), [torch.rand(1, 1, 40, 48, generator=g),
                                                    torch.rand(3, 1, 37, 29, generator=g)])
    assert res["max_abs_diff"] <= 1e-4
    # PadCrop reproduces the network's own padding (reflect to a multiple of 2**levels)
    x = torch.rand(2, 1, 37, 29, generator=g)
    with torch.no_grad():
        assert torch.allclose(PadCrop(net, 4)(x), net(x), atol=1e-6)


def test_export_rejects_bad_input(tmp_path):
    from hybrid_deblur.learned.deploy.export import export_onnx

    with pytest.raises(ValueError, match="example"):
        export_onnx(_tiny(), tmp_path / "x.onnx", torch.rand(8, 8))
    with pytest.raises(TypeError, match="model"):
        export_onnx("net", tmp_path / "x.onnx", torch.rand(1, 1, 8, 8))


@pytest.mark.slow
def test_cli_export_zero_dce(tmp_path, capsys):
    from hybrid_deblur.cli.main import main
    from hybrid_deblur.learned.weights import save_weights
    from hybrid_deblur.learned.zero_dce import ZeroDCE

    torch.manual_seed(0)
    w = tmp_path / "z.pt"
    save_weights(ZeroDCE(width=8, curves=2), w)
    out = tmp_path / "z.onnx"
    assert main(["export", "--method", "zero-dce", "--weights", str(w), "--onnx", str(out),
                 "--size", "24"]) == 0
    # exit 0 = onnxruntime matched torch within 1e-4 on a colour and a gray input of two sizes
    assert out.exists() and "max |diff|" in capsys.readouterr().out


def test_cli_export_rejects_methods_without_a_network(tmp_path, capsys):
    from hybrid_deblur.cli.main import main

    assert main(["export", "--method", "wiener", "--onnx", str(tmp_path / "w.onnx")]) == 2
    assert "no network to export" in capsys.readouterr().err
    assert main(["export", "--method", "unrolled-rl", "--onnx", str(tmp_path / "w.onnx")]) == 2
