"""No-harm subset (issue 9): every default classical solver >= the blurred input - 0.1 dB.

A few cells of ``benchmarks/noharm.py`` (natural crops, ``valid`` blur, sigma <= 0.01);
the full matrix and the oracle comparison live in the benchmark.
"""

from __future__ import annotations

import sys
from pathlib import Path

import numpy as np
import pytest

from hybrid_deblur.analysis.registry import METHODS, get_method
from hybrid_deblur.physics import Blur

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "benchmarks"))

CLASSICAL = [n for n, (mod, _, _) in METHODS.items() if mod == "hybrid_deblur.solvers"]
# the last two were the worst cells before issue 9's exact solves (Wiener -3 to -7 dB,
# Tikhonov down to -11 dB against the input)
CELLS = [("identity", 0.0), ("gauss1.5", 0.005), ("motion9", 0.01), ("motion25", 0.005),
         ("motion*disk", 0.002)]


@pytest.fixture(scope="module")
def cells():
    import noharm

    from .conftest import DATA

    if not (DATA / "bsd68").exists():
        pytest.skip(f"shared data not found at {DATA}")
    data_dir = DATA
    im = noharm.load_images(data_dir, 1, 0, size=96)[0][1]
    ks = noharm.kernels()
    out = []
    for kname, s in CELLS:
        k = ks[kname]
        yc = Blur(k, "valid")(im)
        c = [n - 1 - n // 2 for n in k.shape]
        ref = im[c[0]:c[0] + yc.shape[0], c[1]:c[1] + yc.shape[1]]
        y = yc + s * np.random.default_rng(0).standard_normal(yc.shape)
        out.append((kname, s, k, y, ref, noharm.psnr(y, ref)))
    return out


@pytest.mark.slow
@pytest.mark.parametrize("name", CLASSICAL)
def test_default_solver_does_no_harm(cells, name):
    import noharm

    f = get_method(name)
    for kname, s, k, y, ref, p_in in cells:
        p = noharm.psnr(f(y, k), ref)
        assert p >= p_in - 0.1, f"{name} on {kname}, sigma={s}: {p:.2f} dB < input {p_in:.2f} dB"



@pytest.mark.parametrize("name", ["pnp-drunet", "pnp-drunet-fast"])
def test_default_learned_method_returns_an_unblurred_input_when_sigma_is_unknown(cells, name):
    """The Deblurrer's default (and its fast variant) with the 1x1 kernel and no sigma.

    Before the fix the noise level estimated on fine texture made the MC-SURE guard keep an
    over-smoothed image (no-harm matrix, 128² BSD68 crop at sigma 0: 60 -> 34.6 dB)."""
    from hybrid_deblur.learned.weights import shipped_weights
    from hybrid_deblur.pipeline.deblurrer import Deblurrer

    if "drunet_gray" not in shipped_weights():
        pytest.skip("no shipped denoiser")
    (kname, s, k, y, ref, p_in), = [c for c in cells if c[0] == "identity"]
    np.testing.assert_array_equal(np.asarray(Deblurrer(name).restore(y, k)), y)


@pytest.mark.slow
@pytest.mark.parametrize("name", ["pnp-drunet", "pnp-drunet-fast"])
def test_default_learned_method_does_no_harm(cells, name):
    """The Deblurrer's default on every cell of the subset, sigma not given. With one MM data
    step per iteration (before PNP_DATA_ITERS) the 25-px motion cell failed (96² crop, sigma
    0.005: 21.28 dB against 21.80 for the input)."""
    import noharm

    from hybrid_deblur.learned.weights import shipped_weights
    from hybrid_deblur.pipeline.deblurrer import Deblurrer

    if "drunet_gray" not in shipped_weights():
        pytest.skip("no shipped denoiser")
    d = Deblurrer(name)
    for kname, s, k, y, ref, p_in in cells:
        p = noharm.psnr(np.asarray(d.restore(y, k)), ref)
        assert p >= p_in - 0.1, f"{name} on {kname}, sigma={s}: {p:.2f} dB < input {p_in:.2f} dB"
