"""Zoo training: physics pairs, exact GAN resume, exports, the training command."""

from __future__ import annotations

import json

import numpy as np
import pytest
import torch

from hybrid_deblur.learned.data import synthetic_images
from hybrid_deblur.learned.e2e.pairs import DevicePairs, kernel_pool
from hybrid_deblur.learned.e2e.restore import load_e2e
from hybrid_deblur.learned.gan import GANTrainer, merge_config
from hybrid_deblur.learned.weights import WeightsError, sha256_file
from hybrid_deblur.physics import degrade


def _pairs(channels=3, patch=32, **kw):
    return DevicePairs(images=synthetic_images(4, 72, channels=channels), channels=channels, patch=patch,
                       pool=6, max_kernel=9, common_kernel=9, val_every=0, **kw)


def test_pairs_are_the_physics_and_deterministic():
    p = _pairs(sigma=(0.0, 0.0), p_poisson=0.0)
    p.return_scene = True
    b = p.batch(3, 3)
    y0, _ = degrade(b["scene"].double(), b["psf"].double(), boundary="valid")
    assert torch.allclose(b["y"].double(), y0, atol=1e-6)
    k = b["psf"].shape[-1]
    assert torch.equal(b["x"], b["scene"][..., k - 1 - k // 2: k - 1 - k // 2 + 32, k - 1 - k // 2: k - 1 - k // 2 + 32])
    b2 = p.batch(3, 3)
    assert all(torch.equal(b[q], b2[q]) for q in ("y", "x", "psf"))
    assert not torch.equal(p.batch(4, 3)["y"], b["y"])
    assert torch.allclose(b["psf"].sum((-2, -1)), torch.ones(3, 1))
    # the noise level is the requested one
    pn = _pairs(sigma=(0.02, 0.02), p_poisson=0.0)
    pn.return_scene = True
    bn = pn.batch(0, 4)
    res = bn["y"].double() - degrade(bn["scene"].double(), bn["psf"].double(), boundary="valid")[0]
    assert abs(float(res.std()) - 0.02) < 0.002 and torch.allclose(bn["sigma"], torch.full((4,), 0.02))


def test_kernel_pool_depends_only_on_seed_and_index():
    a = kernel_pool(3, seed=1, max_size=9, common_max=9)
    b = kernel_pool(5, seed=1, max_size=9, common_max=9)
    assert all(np.array_equal(u, v) for u, v in zip(a, b[:3]))
    assert all(abs(k.sum() - 1) < 1e-5 for k in a)


def _gan_cfg(**train):
    t = {"steps": 6, "batch_size": 2, "val_every": 3, "val_samples": 4, "amp": "off", "ckpt_every": 0,
         "warmup": 2, "gan_start": 0.3, "w_adv": 0.1, "w_fft": 0.1, "w_perc": 0.2, "perceptual_width": 0.125}
    t.update(train)
    return {"model": {"name": "progressive-gan", "channels": 1, "width": 4, "growth": 4, "middle": 1},
            "disc": {"kind": "patch", "width": 4, "layers": 3}, "train": t}


@pytest.mark.parametrize("adv", ["lsgan", "wgan-gp"])
def test_gan_resume_is_bit_exact(tmp_path, adv):
    pairs = _pairs(channels=1)
    full = GANTrainer(_gan_cfg(adversarial=adv), pairs=pairs, out_dir=tmp_path / "a").run()
    first = GANTrainer(_gan_cfg(adversarial=adv), pairs=pairs, out_dir=tmp_path / "b")
    part = first.run(stop_after=3)
    assert part["stopped"] == "interrupted" and part["step"] == 3
    second = GANTrainer(_gan_cfg(adversarial=adv), pairs=pairs, out_dir=tmp_path / "b")
    second.load_checkpoint()
    assert second.gan_started  # the adversarial stage had begun (gan_start 0.3 of 6 steps)
    res = second.run()
    assert [r["loss"] for r in res["rows"]] == [r["loss"] for r in full["rows"]]
    assert "adv" in res["rows"][-1] and "d" in res["rows"][-1] and "adv" not in res["rows"][0]
    sd_full = torch.load(tmp_path / "a" / "checkpoint.pt", weights_only=True)
    sd_res = torch.load(tmp_path / "b" / "checkpoint.pt", weights_only=True)
    assert all(torch.equal(sd_full["ema"][k], sd_res["ema"][k]) for k in sd_full["ema"])
    assert all(torch.equal(sd_full["disc"][k], sd_res["disc"][k]) for k in sd_full["disc"])


def test_export_card_curve_and_reload(tmp_path):
    pairs = _pairs(channels=3)
    cfg = {"model": {"name": "nafnet", "channels": 3, "width": 4, "enc_blocks": [1], "middle_blocks": 1,
                     "dec_blocks": [1]},
           "train": {"steps": 4, "batch_size": 2, "val_every": 2, "val_samples": 4, "amp": "off"}}
    t = GANTrainer(cfg, pairs=pairs, out_dir=tmp_path)
    res = t.run()
    p = tmp_path / "nafnet.pt"
    card = json.loads(p.with_suffix(".json").read_text())
    assert card["sha256"] == sha256_file(p) and card["kind"] == "end-to-end"
    assert card["training"]["steps"] == 4 and card["validation"]["step"] == 4
    lines = (tmp_path / "curve.csv").read_text().splitlines()
    assert lines[0].startswith("step,loss") and len(lines) == 5 and "val_psnr" in lines[0]
    m = load_e2e(p)
    ema = t.ema_model()
    y = pairs.validation(4)[0]["y"]
    with torch.no_grad():  # float16 export: equal to the EMA model up to half precision
        assert torch.allclose(m(y), ema(y), atol=2e-2)
    assert res["val_history"][-1]["step"] == 4
    p.write_bytes(p.read_bytes()[:-5] + b"xxxxx")
    with pytest.raises(WeightsError, match="sha256"):
        load_e2e(p)


def test_config_errors():
    with pytest.raises(ValueError, match="unknown keys"):
        merge_config({"model": {"name": "unet"}, "train": {"stepz": 3}})
    with pytest.raises(ValueError, match="kind"):
        merge_config({"model": {"name": "unet"}, "train": {"w_adv": 0.1}})
    with pytest.raises(ValueError, match="adversarial"):
        merge_config({"model": {"name": "unet"}, "train": {"adversarial": "hinge"}})
    with pytest.raises(ValueError, match="name"):
        merge_config({"train": {}})
