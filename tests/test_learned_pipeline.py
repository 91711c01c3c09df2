"""Deblurrer entry point, registry wiring and the ``hybrid-deblur train`` command."""

from __future__ import annotations

import json

import numpy as np
import pytest

torch = pytest.importorskip("torch")

from hybrid_deblur.learned import build_model, save_weights  # noqa: E402
from hybrid_deblur.learned.data import synthetic_images  # noqa: E402
from hybrid_deblur.physics import degrade  # noqa: E402
from hybrid_deblur.pipeline.deblurrer import Deblurrer  # noqa: E402
from hybrid_deblur.pipeline.methods import get_method  # noqa: E402

torch.set_num_threads(1)


@pytest.fixture()
def weights(tmp_path):
    net = build_model("unrolled-hqs", stages=2, widths=(8, 16, 32))
    p = tmp_path / "w.pt"
    save_weights(net, p)
    return p


def test_registry_entries_point_at_the_inference_functions():
    from hybrid_deblur.learned import inference

    assert get_method("unrolled-hqs") is inference.unrolled_hqs
    assert get_method("deep-wiener") is inference.deep_wiener
    assert get_method("unrolled-rl") is inference.unrolled_rl


def test_deblurrer_learned_and_classical(weights):
    x = synthetic_images(1, 56)[0][0].astype(np.float64)
    k = np.ones((5, 5)) / 25
    y, _ = degrade(x, k, boundary="valid", noise=0.01, seed=0)
    d = Deblurrer("unrolled-hqs", weights=weights)
    out = d.restore(y, k)  # sigma estimated
    assert out.shape == y.shape and out.dtype == y.dtype and np.all(np.isfinite(out))
    assert d.restore(y, k, sigma=0.01).shape == y.shape
    xc = Deblurrer("wiener").restore(y, k, sigma=0.01)
    assert xc.shape == y.shape
    with pytest.raises(ValueError, match="known methods"):
        Deblurrer("magic")
    with pytest.raises(ValueError, match="learned methods"):
        Deblurrer("wiener", weights=weights)


def test_default_deblurrer_is_pnp_and_does_no_harm_on_an_unblurred_image():
    """The default method takes weights=/device= like every hybrid learned method, equals
    the registered function, and returns no worse than the noisy input on a 1x1 kernel."""
    from hybrid_deblur.learned.pnp import pnp_drunet
    from hybrid_deblur.learned.weights import shipped_weights
    from hybrid_deblur.metrics import psnr

    if "drunet_gray" not in shipped_weights():
        pytest.skip("no shipped denoiser weights")
    d = Deblurrer(device="cpu")
    assert d.method == "pnp-drunet" and d.kind == "hybrid"
    x = synthetic_images(1, 48)[0][0].astype(np.float64)
    k = np.ones((1, 1))
    y, _ = degrade(x, k, boundary="valid", noise=0.01, seed=1)
    out = d.restore(y, k, sigma=0.01)
    assert np.array_equal(out, pnp_drunet(y, k, sigma=0.01, device="cpu"))
    assert psnr(out, x) >= psnr(y, x) - 1e-9


def test_train_command_runs_resumes_and_exports(tmp_path):
    import imageio.v3 as iio

    from hybrid_deblur.cli.main import main

    folder = tmp_path / "imgs"
    folder.mkdir()
    for i, im in enumerate(synthetic_images(4, 72, seed=3)):
        iio.imwrite(folder / f"im{i}.png", (im[0] * 255).astype(np.uint8))
    cfg = tmp_path / "tiny.toml"
    cfg.write_text(f"""
[model]
name = "unrolled-rl"
stages = 2
width = 4
[data]
folders = ["{folder.as_posix()}"]
patch = 24
max_kernel = 9
common_kernel = 7
val_every = 0
[train]
steps = 4
batch_size = 2
val_every = 2
val_samples = 4
ckpt_every = 2
out_dir = "{(tmp_path / 'run').as_posix()}"
[export]
path = "{(tmp_path / 'out' / 'rl.pt').as_posix()}"
""")
    assert main(["train", "--config", str(cfg), "--steps", "2"]) == 0
    assert main(["train", "--config", str(cfg), "--resume"]) == 0
    card = json.loads((tmp_path / "out" / "rl.json").read_text())
    assert card["training"]["steps"] == 4 and len(card["sha256"]) == 64
    assert card["validation_psnr"] is not None and "hardware" in card
    # the exported weights restore through the registry function
    from hybrid_deblur.learned.inference import unrolled_rl

    y = np.random.default_rng(0).random((30, 30))
    assert unrolled_rl(y, np.ones((3, 3)) / 9, sigma=0.01, weights=tmp_path / "out" / "rl.pt").shape == (30, 30)
    assert main(["train", "--config", str(tmp_path / "missing.toml")]) == 2
