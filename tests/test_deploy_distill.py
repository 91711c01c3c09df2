"""Distillation (loss terms, decrease) and grouped / depthwise-separable variants."""

from __future__ import annotations

import copy
import doctest

import pytest
import torch
from torch import nn

from hybrid_deblur.learned.data import PairSampler, synthetic_images
from hybrid_deblur.learned.deploy import distill as D
from hybrid_deblur.learned.deploy import grouped as G
from hybrid_deblur.learned.models import build_model


def _sampler():
    return PairSampler(images=synthetic_images(6, 64), patch=24, min_kernel=3, max_kernel=7,
                       common_kernel=7, sigma=(0.01, 0.01), p_poisson=0.0, rotate=0.0, hsv=0.0,
                       seed=0)


def test_teacher_terms_vanish_for_an_identical_student():
    torch.manual_seed(0)
    t = build_model("unrolled-hqs", stages=2, widths=(4, 8))
    for p in t.prior.tail.parameters():
        nn.init.normal_(p, std=0.05)
    s = copy.deepcopy(t)
    b = _sampler().batch(0, 2)
    args = (b["y"], b["psf"], b["sigma"])
    with torch.no_grad(), D.capture_features(t, "prior") as tf:
        tout = t(*args)
    with D.capture_features(s, "prior") as sf:
        sout = s(*args)
    assert len(sf) == len(tf) == 2  # one prior output per stage
    loss = D.distill_loss(sout, b["x"], tout, sf, tf, output_weight=1.0, feature_weight=1.0)
    assert float(loss["output"]) == 0.0 and float(loss["feature"]) == 0.0
    assert float(loss["total"]) == pytest.approx(float(loss["l1"]))
    s2 = copy.deepcopy(t)
    with torch.no_grad():
        s2.prior.tail.bias.add_(0.1)
    with D.capture_features(s2, "prior") as sf2:
        s2out = s2(*args)
    l2 = D.distill_loss(s2out, b["x"], tout, sf2, tf, output_weight=1.0, feature_weight=1.0)
    assert float(l2["output"]) > 0 and float(l2["feature"]) > 0


class _Fixed:
    """A sampler that always returns the same batch (the loss then must go down)."""

    def __init__(self, batch):
        self.b = batch

    def batch(self, step, batch_size):
        return self.b


def test_distillation_loss_decreases():
    torch.manual_seed(0)
    teacher = build_model("unrolled-hqs", stages=2, widths=(8, 16))
    for p in teacher.prior.tail.parameters():
        nn.init.normal_(p, std=0.05)
    student = build_model("unrolled-hqs", stages=2, widths=(4, 8))
    hist = D.distill(student, _Fixed(_sampler().batch(0, 2)), steps=15, batch_size=2,
                     teacher=teacher, lr=1e-2)
    assert hist[0]["output"] > 0 and hist[0]["feature"] > 0
    assert hist[-1]["total"] < 0.95 * hist[0]["total"]
    assert hist[-1]["output"] + hist[-1]["feature"] < 0.6 * (hist[0]["output"] + hist[0]["feature"])


def test_distill_rejects_bad_input():
    with pytest.raises(ValueError, match="steps"):
        D.distill(build_model("unrolled-rl", stages=1), _sampler(), steps=0)
    with pytest.raises(ValueError, match="feature module"), \
            D.capture_features(build_model("unrolled-rl", stages=1), "prior"):
        pass


def test_separable_variant_is_the_rank1_svd_and_smaller():
    torch.manual_seed(0)
    net = build_model("unrolled-hqs", stages=1, widths=(8, 16)).prior
    sep = G.separable_variant(net)
    assert G.conv_parameters(sep) < 0.45 * G.conv_parameters(net)
    # a convolution whose weight is separable per input channel is reproduced exactly
    c = nn.Conv2d(8, 16, 3, padding=1)
    with torch.no_grad():
        c.weight.copy_(torch.randn(16, 8, 1, 1) * torch.randn(1, 8, 3, 3))
    x = torch.rand(2, 8, 12, 12)
    with torch.no_grad():
        assert torch.allclose(G.separable_from_conv(c)(x), c(x), atol=1e-5)
    # otherwise it is the best rank-1 fit: the error equals the discarded singular values
    c2 = nn.Conv2d(8, 16, 3, padding=1)
    pair = G.separable_from_conv(c2)
    w = torch.einsum("oi,ikl->oikl", pair[1].weight[:, :, 0, 0], pair[0].weight[:, 0])
    for i in range(8):
        s = torch.linalg.svdvals(c2.weight[:, i].reshape(16, 9).double())
        got = float(((w[:, i] - c2.weight[:, i]) ** 2).sum())
        assert got == pytest.approx(float((s[1:] ** 2).sum()), rel=1e-4)


def test_grouped_variant_keeps_block_diagonal_weights():
    c = nn.Sequential(nn.Conv2d(8, 8, 3, padding=1))
    with torch.no_grad():
        mask = torch.block_diag(*[torch.ones(2, 2)] * 4)[:, :, None, None]
        c[0].weight.mul_(mask)
    g = G.grouped_variant(c, groups=4)
    assert g[0].groups == 4 and G.conv_parameters(g) < G.conv_parameters(c) / 3
    x = torch.rand(1, 8, 10, 10)
    with torch.no_grad():
        assert torch.allclose(g(x), c(x), atol=1e-6)
    with pytest.raises(ValueError, match="groups"):
        G.grouped_variant(c, groups=1)


@pytest.mark.parametrize("mod", [G, D])
def test_examples_run(mod):
    res = doctest.testmod(mod, optionflags=doctest.ELLIPSIS | doctest.NORMALIZE_WHITESPACE)
    assert res.failed == 0
