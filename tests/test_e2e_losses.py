"""S5 losses: cross-checks with scikit-image / NumPy and closed forms."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from skimage.metrics import structural_similarity

from hybrid_deblur.learned import losses as L


def _pair(c=1, seed=0):
    rng = np.random.default_rng(seed)
    x = rng.random((c, 40, 44))
    y = np.clip(x + 0.1 * rng.standard_normal(x.shape), 0, 1)
    return x, y


@pytest.mark.parametrize("c", [1, 3])
def test_ssim_equals_scikit_image(c):
    x, y = _pair(c)
    ours = float(L.ssim_torch(torch.from_numpy(x)[None], torch.from_numpy(y)[None]))
    ref = structural_similarity(x[0] if c == 1 else x, y[0] if c == 1 else y, data_range=1.0,
                                channel_axis=None if c == 1 else 0)
    assert abs(ours - ref) < 1e-6
    ours_g = float(L.ssim_torch(torch.from_numpy(x)[None], torch.from_numpy(y)[None], window="gaussian"))
    ref_g = structural_similarity(x[0] if c == 1 else x, y[0] if c == 1 else y, data_range=1.0,
                                  channel_axis=None if c == 1 else 0, gaussian_weights=True, sigma=1.5,
                                  use_sample_covariance=False)
    assert abs(ours_g - ref_g) < 1e-5


def test_ssim_loss_gradient_points_to_the_reference():
    x, y = _pair()
    xt = torch.from_numpy(y)[None].float().requires_grad_(True)
    L.ssim_loss(xt, torch.from_numpy(x)[None].float()).backward()
    step = xt.detach() - 50 * xt.grad
    assert float(L.ssim_torch(step, torch.from_numpy(x)[None].float())) > float(
        L.ssim_torch(xt.detach(), torch.from_numpy(x)[None].float()))


def test_fft_loss_matches_numpy_and_amplitude_ignores_shifts():
    x, y = _pair()
    xt, yt = torch.from_numpy(x)[None], torch.from_numpy(y)[None]
    d = (np.fft.rfft2(x) - np.fft.rfft2(y)) / np.sqrt(x.shape[-1] * x.shape[-2])
    assert abs(float(L.fft_loss(xt, yt)) - (np.abs(d.real) + np.abs(d.imag)).mean()) < 1e-6
    rolled = torch.roll(xt, (3, 5), (-2, -1))  # circular shift: same amplitude, other phase
    assert float(L.fft_loss(rolled, xt, "amplitude")) < 1e-6
    assert float(L.fft_loss(rolled, xt, "phase")) > 0.1
    with pytest.raises(ValueError, match="mode"):
        L.fft_loss(xt, yt, "power")


def test_pixel_losses_closed_forms():
    a, b = torch.zeros(1, 1, 4, 4), torch.full((1, 1, 4, 4), 0.5)
    assert float(L.l1_loss(a, b)) == pytest.approx(0.5)
    assert float(L.charbonnier_loss(a, b, eps=1e-3)) == pytest.approx(np.sqrt(0.25 + 1e-6))
    assert float(L.content_loss(a, b, kind="l2")) == pytest.approx(0.25)
    assert float(L.content_loss(a, b, kind="psnr")) == pytest.approx(-0.60206, abs=1e-4)  # -PSNR/10
    with pytest.raises(ValueError, match="content loss"):
        L.content_loss(a, b, kind="l3")


def test_adversarial_closed_forms():
    r, f = torch.full((8, 1), 0.7), torch.full((8, 1), -0.2)
    assert float(L.lsgan_d(r, f)) == pytest.approx(0.5 * 0.09 + 0.5 * 0.04, rel=1e-6)
    assert float(L.lsgan_g(f)) == pytest.approx(0.5 * 1.44)
    # RaGAN-LS: D_r - mean D_f = 0.9, D_f - mean D_r = -0.9
    assert float(L.ragan_ls_d(r, f)) == pytest.approx(0.5 * (0.01 + 0.01), rel=1e-5)
    assert float(L.ragan_ls_g(f, r)) == pytest.approx(0.5 * (1.9 ** 2 + 1.9 ** 2), rel=1e-6)
    assert float(L.wgan_d(r, f)) == pytest.approx(-0.9) and float(L.wgan_g(f)) == pytest.approx(0.2)
    # multi-scale lists are averaged
    assert float(L.lsgan_g([f, torch.ones(2, 3)])) == pytest.approx(0.5 * 0.5 * 1.44)


def test_gradient_penalty_of_a_linear_critic():
    """D(x) = <w, x> has gradient w everywhere: GP = 10 (||w|| - 1)^2."""
    torch.manual_seed(0)
    d = torch.nn.Sequential(torch.nn.Flatten(), torch.nn.Linear(3 * 8 * 8, 1, bias=False))
    gp = L.gradient_penalty(d, torch.rand(4, 3, 8, 8), torch.rand(4, 3, 8, 8))
    wn = float(d[1].weight.norm())
    assert float(gp) == pytest.approx(10 * (wn - 1) ** 2, rel=1e-5)


def test_perceptual_random_and_from_file(tmp_path):
    with pytest.warns(UserWarning, match="random"):
        pl = L.PerceptualLoss(last=8, width=0.25)
    assert not pl.pretrained
    x = torch.rand(2, 3, 32, 32)
    assert float(pl(x, x)) == 0.0
    blurred = torch.nn.functional.avg_pool2d(x, 5, 1, 2)
    assert float(pl(blurred, x)) > 0
    # a weight file with torchvision VGG19 key names (here: another random network)
    torch.manual_seed(5)
    src = L.VGGFeatures(last=8)
    p = tmp_path / "vgg.pth"
    torch.save({**src.state_dict(), "classifier.0.weight": torch.zeros(2)}, p)
    pw = L.PerceptualLoss(p, last=8)
    assert pw.pretrained and torch.equal(pw.net.features[0].weight, src.features[0].weight)
    assert all(not q.requires_grad for q in pw.parameters())
    with pytest.raises(ValueError, match="lack"):
        L.PerceptualLoss(p, last=15)
    with pytest.raises(OSError, match="does not exist"):
        L.PerceptualLoss(tmp_path / "none.pth")
