"""Deblurrer: one API for known, estimated and no kernel (issue 10 item 5, issue 9 acceptance)."""

from __future__ import annotations

import warnings

import numpy as np
import pytest
from scipy.ndimage import gaussian_filter

from hybrid_deblur.estimate import NoBlurWarning
from hybrid_deblur.physics import degrade
from hybrid_deblur.pipeline.deblurrer import Deblurrer
from hybrid_deblur.psf import linear_motion
from hybrid_deblur.solvers import hqs_tv, richardson_lucy, tikhonov, wiener


def _scene(n=96, seed=0):
    rng = np.random.default_rng(seed)
    x = np.cumsum(np.cumsum(rng.standard_normal((n, n)), 0), 1)
    x = gaussian_filter(x, 0.7)
    return (x - x.min()) / np.ptp(x)


@pytest.mark.parametrize("name,fn", [("wiener", wiener), ("tikhonov", tikhonov), ("hqs-tv", hqs_tv),
                                     ("rl", richardson_lucy)])
def test_default_options_equal_the_solver_function(name, fn):
    k = linear_motion(7, 30)
    y, _ = degrade(_scene(), k, boundary="valid", noise=0.01, seed=0)
    np.testing.assert_array_equal(Deblurrer(name).restore(y, k), fn(y, k))
    # options and sigma reach the method unchanged
    np.testing.assert_array_equal(Deblurrer("wiener", nsr=0.05).restore(y, k, sigma=0.01),
                                  wiener(y, k, nsr=0.05, sigma=0.01))


def test_unknown_options_and_estimators_raise():
    with pytest.raises(TypeError, match="nrs"):
        Deblurrer("wiener", nrs=1e-9)
    with pytest.raises(ValueError, match="estimator"):
        Deblurrer("wiener", estimator="oracle")
    y = np.random.default_rng(0).random((40, 40))
    with pytest.raises(ValueError, match="psf is required"):
        Deblurrer("wiener").restore(y)


def test_blind_unblurred_input_comes_back_unchanged_with_a_warning():
    x = _scene(128)
    y = x + 0.01 * np.random.default_rng(1).standard_normal(x.shape)
    d = Deblurrer("hqs-tv", estimator="parametric")
    with warnings.catch_warnings(record=True) as w:
        warnings.simplefilter("always")
        out, rep = d.restore(y, return_report=True)
    assert rep["decision"] == "identity" and any(v.category is NoBlurWarning for v in w)
    np.testing.assert_array_equal(out, y)
    assert out is not y and rep["seconds"] >= rep["seconds_estimate"] > 0


def test_blind_motion_blur_is_estimated_and_restored_better_than_the_input():
    from hybrid_deblur.metrics import psnr
    from hybrid_deblur.physics import crop_valid

    x = _scene(160)
    k = linear_motion(15, 30)
    y, _ = degrade(x, k, boundary="valid", noise=0.005, seed=0)
    out, rep = Deblurrer("hqs-tv", estimator="parametric").restore(y, return_report=True)
    assert rep["decision"] == "estimated" and rep["estimate"].method == "parametric"
    ref = crop_valid(x, k.shape)
    assert psnr(out, ref) > psnr(y, ref) + 1.0


def test_blind_final_step_gets_the_noise_floor_and_only_when_estimated():
    from hybrid_deblur.pipeline.deblurrer import BLIND_SIGMA_FLOOR
    from hybrid_deblur.solvers.noise_level import estimate_noise

    x = _scene(160)
    y, _ = degrade(x, linear_motion(15, 30), boundary="valid", noise=0.002, seed=0)
    s_hat = estimate_noise(y)
    assert s_hat < BLIND_SIGMA_FLOOR  # the floor is what decides here
    out, rep = Deblurrer("hqs-tv", estimator="parametric").restore(y, return_report=True)
    assert rep["decision"] == "estimated" and rep["sigma"] == max(s_hat, BLIND_SIGMA_FLOOR)
    np.testing.assert_array_equal(out, hqs_tv(y, rep["psf"], sigma=BLIND_SIGMA_FLOOR))
    # off: the method estimates its own sigma; a given sigma always wins over the floor
    out0, rep0 = Deblurrer("hqs-tv", estimator="parametric", blind_sigma_floor=None).restore(
        y, return_report=True)
    assert rep0["sigma"] is None
    np.testing.assert_array_equal(out0, hqs_tv(y, rep0["psf"]))
    out1, rep1 = Deblurrer("hqs-tv", estimator="parametric").restore(y, sigma=0.003, return_report=True)
    assert rep1["sigma"] == 0.003
    np.testing.assert_array_equal(out1, hqs_tv(y, rep1["psf"], sigma=0.003))


def test_noise_floor_pays_for_kernel_error():
    """Why the floor exists: with a slightly wrong kernel (2 px and 4 degrees off, as blind
    estimates are), restoring at the image's own tiny noise level amplifies the model error
    (measured: 20.33 dB at the estimated sigma, 21.37 with sigma 0.01, input 18.76)."""
    from skimage import data

    from hybrid_deblur.metrics import psnr
    from hybrid_deblur.physics import crop_valid

    x = data.camera()[128:288, 160:320] / 255.0
    y, _ = degrade(x, linear_motion(15, 30), boundary="valid", noise=0.001, seed=0)
    k_err = linear_motion(13, 34)
    ref = crop_valid(x, (15, 15))
    sharp = Deblurrer("hqs-tv").restore(y, k_err)
    floored = Deblurrer("hqs-tv").restore(y, k_err, sigma=0.01)
    assert psnr(np.clip(floored, 0, 1), ref) > psnr(np.clip(sharp, 0, 1), ref) + 0.5


@pytest.mark.parametrize("bad", [-0.01, 1.5, "high", float("nan")])
def test_bad_noise_floor_is_refused(bad):
    with pytest.raises(ValueError, match="blind_sigma_floor"):
        Deblurrer("hqs-tv", estimator="auto", blind_sigma_floor=bad)


def _camera_motion():
    from skimage import data

    x = data.camera()[128:288, 160:320] / 255.0
    y, _ = degrade(x, linear_motion(15, 30), boundary="valid", noise=0.001, seed=0)
    return y


def _fixed_estimate(monkeypatch, k):
    """Make the Deblurrer's estimator return ``k`` (decision "estimated")."""
    from hybrid_deblur.estimate.core import EstimateReport

    def fake(self, y, sigma=None):
        return k, EstimateReport(method="fixed", prior=None, size=k.shape, size_auto=False, confidence=0.9)

    monkeypatch.setattr(Deblurrer, "estimate", fake)


def test_negative_flux_closed_form_and_bad_input():
    from hybrid_deblur.pipeline.guard import negative_flux

    y = np.full((10, 10), 0.4)
    x = y.copy()
    x[:5] = -0.2  # half the pixels 0.2 below zero: 0.1 / 0.4 of the flux
    assert negative_flux(x, y) == pytest.approx(0.25)
    assert negative_flux(x, y, sigma=0.05) == pytest.approx(0.5 * 0.05 / 0.4)  # 3 sigma allowed
    assert negative_flux(y, y) == 0.0
    yo = y - 0.5  # an input with an offset below zero keeps its own floor
    assert negative_flux(yo, yo) == 0.0
    with pytest.raises(ValueError, match="sigma"):
        negative_flux(x, y, sigma=-1)
    with pytest.raises(ValueError, match="finite"):
        negative_flux(np.full((3, 3), np.nan), y[:3, :3])
    with pytest.raises(ValueError, match="non-empty"):
        negative_flux(np.zeros((0, 3)), y)


def test_wrong_estimated_kernel_gives_the_input_back(monkeypatch):
    """A kernel at right angles to the true motion rings far below zero (measured 6-12 % of the
    flux); the true kernel's result stays 30x under the limit: the guard tells them apart."""
    from hybrid_deblur.pipeline.guard import NEGATIVE_FLUX_LIMIT

    y = _camera_motion()
    _fixed_estimate(monkeypatch, linear_motion(21, 120))
    with pytest.warns(NoBlurWarning, match="below zero"):
        out, rep = Deblurrer("hqs-tv", estimator="auto", max_negative_flux=NEGATIVE_FLUX_LIMIT).restore(
            y, return_report=True)
    assert rep["decision"] == "implausible" and rep["negative_flux"] > 10 * NEGATIVE_FLUX_LIMIT
    np.testing.assert_array_equal(out, y)
    assert out is not y
    # off (the default: real sRGB photos ring below zero with good kernels too): the ringing
    # result comes back
    out_off, rep_off = Deblurrer("hqs-tv", estimator="auto").restore(y, return_report=True)
    assert np.min(out_off) < -0.1 and rep_off["decision"] == "estimated" and "negative_flux" not in rep_off
    # a given kernel is never second-guessed
    given, rep_g = Deblurrer("hqs-tv").restore(y, linear_motion(21, 120), sigma=0.01, return_report=True)
    assert rep_g["decision"] == "given" and "negative_flux" not in rep_g
    np.testing.assert_array_equal(given, hqs_tv(y, linear_motion(21, 120), sigma=0.01))


def test_right_estimated_kernel_passes_the_guard(monkeypatch):
    from hybrid_deblur.pipeline.guard import NEGATIVE_FLUX_LIMIT

    y = _camera_motion()
    _fixed_estimate(monkeypatch, linear_motion(15, 30))
    with warnings.catch_warnings():
        warnings.simplefilter("error", NoBlurWarning)
        out, rep = Deblurrer("hqs-tv", estimator="auto", max_negative_flux=NEGATIVE_FLUX_LIMIT).restore(
            y, return_report=True)
    assert rep["decision"] == "estimated" and rep["negative_flux"] < NEGATIVE_FLUX_LIMIT / 10
    np.testing.assert_array_equal(out, hqs_tv(y, linear_motion(15, 30), sigma=rep["sigma"]))


@pytest.mark.parametrize("bad", [-1e-3, float("inf"), "x"])
def test_bad_negative_flux_limit_is_refused(bad):
    with pytest.raises(ValueError, match="max_negative_flux"):
        Deblurrer("hqs-tv", estimator="auto", max_negative_flux=bad)


def test_cli_says_when_the_estimated_kernel_is_rejected(monkeypatch, tmp_path, capsys):
    import json

    from hybrid_deblur.cli.main import main
    from hybrid_deblur.io import imread, imwrite

    imwrite(tmp_path / "b.png", np.clip(_camera_motion(), 0, 1))
    _fixed_estimate(monkeypatch, linear_motion(21, 120))
    out = tmp_path / "r.png"
    code = main(["deblur", str(tmp_path / "b.png"), "--blind", "--linear-guard", "--method", "hqs-tv",
                 "-o", str(out)])
    text = capsys.readouterr().out
    assert code == 0 and sum("estimated kernel rejected" in ln for ln in text.splitlines()) == 1
    assert json.loads(out.with_suffix(".json").read_text())["decision"] == "implausible"
    np.testing.assert_allclose(imread(out), imread(tmp_path / "b.png"), atol=1 / 255)
    # without the flag the estimate is used
    code = main(["deblur", str(tmp_path / "b.png"), "--blind", "--method", "hqs-tv", "-o", str(out)])
    assert code == 0 and "rejected" not in capsys.readouterr().out
    assert json.loads(out.with_suffix(".json").read_text())["decision"] == "estimated"
