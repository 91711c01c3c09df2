"""Confidence features of ``estimate_kernel(method="auto")``: residual of the restoration."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from scipy.signal import fftconvolve

from hybrid_deblur.estimate.confidence import confidence_features, residual_features
from hybrid_deblur.psf import disk, linear_motion

DATA = Path(__file__).resolve().parents[2] / "shared" / "data"


def _kodim08(rng):
    f = DATA / "kodak24" / "kodim08.png"
    if not f.exists():
        pytest.skip("needs ../shared/data/kodak24")
    from hybrid_deblur.io import imread

    x = np.asarray(imread(f, gray=True), np.float64)[:300, :300]
    return fftconvolve(x, disk(4), mode="valid") + 0.01 * rng.standard_normal((292, 292))


def test_true_kernel_leaves_a_white_residual_at_the_noise_level():
    """With the true kernel the re-blur residual is noise (energy ~ sigma^2, uncorrelated
    neighbours); too small, too large or wrong-shaped kernels leave correlated structure
    (kodim08, disk 4, sigma 0.01, measured: 0.015 against 0.08-0.44)."""
    y = _kodim08(np.random.default_rng(0))
    true = residual_features(y, disk(4), 0.01)
    assert 0.8 < true["residual_rel"] < 1.3 and true["residual_corr"] < 0.05
    for k in (disk(1.5), disk(7), linear_motion(9, 30)):
        wrong = residual_features(y, k, 0.01)
        assert wrong["residual_corr"] > 2 * true["residual_corr"]
        assert wrong["sparsity_gain"] < true["sparsity_gain"]


def test_candidate_agreement_counts_other_families_and_the_flip():
    k = linear_motion(9, 30)
    k = k / k.sum()
    kf = np.ascontiguousarray(k[::-1, ::-1])
    chosen = {"kernel": k, "family": "parametric", "evidence": 1.0, "spread": 2.0}
    cands = [{"kernel": np.ones((1, 1)), "family": "identity", "evidence": 0.9},
             {"kernel": disk(3), "family": "parametric", "evidence": 0.99}]
    f = confidence_features(None, chosen, cands, sigma=0.01, map_pair=None, restore=False)
    assert f["cand_agreement"] == 0.0 and f["n_close"] == 1 and f["map_pair"] is None
    f = confidence_features(None, chosen, cands, runs=[{"kernel": kf, "family": "map", "evidence": 0.5}],
                            sigma=0.01, map_pair=0.7, restore=False)
    assert f["cand_agreement"] == pytest.approx(1.0) and f["map_pair"] == 0.7


@pytest.mark.parametrize("bad", [-1, 1.5, True])
def test_auto_refine_must_be_a_count(bad):
    from hybrid_deblur.estimate import estimate_kernel

    with pytest.raises(ValueError, match="auto_refine"):
        estimate_kernel(np.random.default_rng(0).random((32, 32)), auto_refine=bad)
