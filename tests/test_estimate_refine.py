"""Gated full-resolution kernel refinement (``estimate.refine.gated_refine``)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from scipy.signal import fftconvolve

from hybrid_deblur.estimate.evidence import SpectralEvidence
from hybrid_deblur.estimate.refine import gated_refine
from hybrid_deblur.metrics import kernel_similarity
from hybrid_deblur.psf import combine, disk, gaussian, linear_motion, trajectory_motion

DATA = Path(__file__).resolve().parents[2] / "shared" / "data"


def _blurred(sigma, k, seed=0):
    f = DATA / "bsd68" / "test010.png"
    if not f.exists():
        pytest.skip("needs ../shared/data/bsd68")
    from hybrid_deblur.io import imread

    x = np.asarray(imread(f, gray=True), np.float64)[:200, :200]
    y = fftconvolve(x, k, mode="valid")
    return y + sigma * np.random.default_rng(seed).standard_normal(y.shape)


def _shake():
    k = trajectory_motion(size=15, length=11, anxiety=0.01, seed=10_001)
    return k / k.sum()


@pytest.mark.slow
def test_low_noise_refinement_is_kept_and_moves_a_smoothed_kernel_towards_the_truth():
    """At sigma 0.001 (Levin-like) the gate keeps the refinement without asking the evidence,
    and the refinement undoes part of a blur of the kernel (the bias it exists for)."""
    k = _shake()
    y = _blurred(0.001, k)
    k0 = fftconvolve(k, gaussian(1.0, size=5), mode="same")
    k0 /= k0.sum()
    kr, info = gated_refine(y, k0, sigma=0.001)
    assert info["accepted"] and info["evidence_gain"] is None and "noise" in info["reason"]
    assert kernel_similarity(kr, k) > kernel_similarity(k0, k) + 0.02
    assert kr.min() >= 0 and abs(kr.sum() - 1) < 1e-9


@pytest.mark.slow
def test_noisy_refinement_needs_an_evidence_gain():
    """At sigma 0.01 the refinement of the *true* motion ⊛ defocus kernel drifts far from it
    (the fixed data weight of the refinement is the low-noise setting); the gate does not
    refine, and when asked to check (``check_noisy``) the refined kernel's evidence is lower,
    so the input kernel comes back unchanged (the suite's md L11 r4 case, session 7)."""
    k = combine(linear_motion(11, 30), disk(4))
    k = k / k.sum()
    y = _blurred(0.01, k, seed=1)
    out, info = gated_refine(y, k, sigma=0.01)  # default: not refined at all above the noise limit
    assert not info["accepted"] and info["evidence_gain"] is None and out is k
    out, info = gated_refine(y, k, sigma=0.01, check_noisy=True)
    assert not info["accepted"] and info["evidence_gain"] < 0 and np.array_equal(out, k)
    ungated, info_u = gated_refine(y, k, sigma=0.01, gate=False)
    assert info_u["accepted"] and kernel_similarity(ungated, k) < 0.7
    ev = SpectralEvidence(y, sigma=0.01, max_kernel=19)
    assert ev.score(ungated) - ev.score(k) == pytest.approx(info["evidence_gain"], abs=1e-9)


@pytest.mark.parametrize(("kw", "match"), [({"sigma": -0.1}, "sigma"), ({"sigma": float("nan")}, "sigma"),
                                           ({"sigma": 0.01, "iterations": 0}, "iterations")])
def test_bad_arguments_are_refused(kw, match):
    with pytest.raises(ValueError, match=match):
        gated_refine(np.zeros((40, 40)), np.full((3, 3), 1 / 9), **kw)


def test_refine_gate_must_be_a_bool():
    from hybrid_deblur.estimate import estimate_kernel

    with pytest.raises(TypeError, match="refine_gate"):
        estimate_kernel(np.random.default_rng(0).random((32, 32)), refine_gate="yes")
