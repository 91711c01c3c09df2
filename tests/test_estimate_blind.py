"""Blind kernel estimation: MAP recovery on a synthetic shake, parametric fits, invariants, errors."""

from __future__ import annotations

import time
from pathlib import Path

import numpy as np
import pytest
from scipy.ndimage import gaussian_filter
from scipy.signal import fftconvolve

from hybrid_deblur.estimate import (
    EstimateReport,
    estimate_defocus,
    estimate_gaussian,
    estimate_kernel,
    estimate_motion,
    estimate_motion_defocus,
)
from hybrid_deblur.estimate import _common as C
from hybrid_deblur.estimate.map_l0 import estimate_psf_lsq, pyramid_sizes
from hybrid_deblur.metrics import kernel_similarity
from hybrid_deblur.psf import disk, gaussian, linear_motion, trajectory_motion

DATA = Path(__file__).resolve().parents[1] / ".." / "shared" / "data"


def _scene(n=142, seed=0):
    """A natural-looking test image: camera crop (bundled with scikit-image)."""
    from skimage import data

    return data.camera()[100:100 + n, 200:200 + n] / 255.0


def _valid_blur(x, k, sigma=0.0, seed=0):
    y = fftconvolve(x, k, mode="valid")
    if sigma:
        y = y + sigma * np.random.default_rng(seed).standard_normal(y.shape)
    return y


# ----------------------------------------------------------------------------- MAP
def test_map_recovers_camera_shake_kernel():
    """128^2 capture of a 15-px camera-shake kernel, sigma = 0.005: similarity >= 0.9, < 30 s.

    The coarse-to-fine MAP alone (``refine=0``) reaches 0.94 here; the default adds two
    full-resolution refinements that gain ~1 dB on Levin's real captures but cost a little
    on this clean synthetic case (0.90), so the default is held to 0.85.
    """
    from hybrid_deblur.physics import degrade

    x = _scene(142)
    k = trajectory_motion(size=15, seed=0)
    y, _ = degrade(x, k, boundary="valid", noise=0.005, seed=0)
    assert y.shape == (128, 128)
    t0 = time.perf_counter()
    k0, _ = estimate_kernel(y, method="map", guard=False, refine=0)
    assert time.perf_counter() - t0 < 30
    assert kernel_similarity(k0, k) >= 0.9
    ke, rep = estimate_kernel(y, method="map", guard=False)
    assert kernel_similarity(ke, k) >= 0.85
    assert ke.min() >= 0 and abs(ke.sum() - 1) < 1e-12
    assert rep.size_auto and rep.size[0] % 2 == 1 and rep.size[0] >= 15
    assert len(rep.scales) == len(pyramid_sizes(rep.size)[0])
    assert all(len(s["energies"]) == s["iterations"] for s in rep.scales)
    assert 0 <= rep.confidence <= 1 and rep.time_s > 0


def test_kernel_lsq_recovers_kernel_from_exact_gradients():
    """With the true latent image the gradient least squares returns the kernel itself."""
    rng = np.random.default_rng(1)
    S = gaussian_filter(rng.random((64, 64)), 1.0)
    k = linear_motion(7, 30, size=9)
    shape = S.shape
    from hybrid_deblur.estimate.map_l0 import _dx, _dy
    from hybrid_deblur.physics import Blur

    B = np.asarray(Blur(k, "circular").A(S))
    assert B.shape == shape
    ke = estimate_psf_lsq(_dx(B), _dy(B), _dx(S), _dy(S), (9, 9), gamma=1e-8, iterations=200)
    np.testing.assert_allclose(ke, k, atol=1e-3)
    # masked (valid-region) variant agrees on the unmasked problem
    ke2 = estimate_psf_lsq(_dx(B), _dy(B), _dx(S), _dy(S), (9, 9), gamma=1e-8,
                           mask=np.ones(shape), iterations=200)
    np.testing.assert_allclose(ke2, k, atol=1e-3)


@pytest.mark.parametrize("method", ["map", "blind_rl", "parametric"])
def test_kernel_is_a_psf_and_report_complete(method):
    y = _valid_blur(_scene(96), linear_motion(9, 20), 0.005)
    k, rep = estimate_kernel(y, size=13, method=method, iterations=10, inner_iterations=2,
                              guard=False)
    assert k.shape == (13, 13)
    assert k.min() >= 0 and abs(k.sum() - 1) < 1e-12
    assert isinstance(rep, EstimateReport) and rep.method == method
    d = rep.as_dict()
    for key in ("method", "prior", "size", "size_auto", "scales", "confidence", "time_s", "params"):
        assert key in d
    assert d["size"] == [13, 13] and not d["size_auto"]


def test_dark_channel_prior_runs_and_dark_target_is_sparse():
    from hybrid_deblur.estimate.map_l0 import _dark_target

    y = _valid_blur(_scene(80), linear_motion(7, 45), 0.002)
    k, rep = estimate_kernel(y, size=11, method="map", prior="dark_channel",
                             inner_iterations=1, refine=0, guard=False)
    assert rep.prior == "dark_channel" and k.min() >= 0 and abs(k.sum() - 1) < 1e-12
    # the dark-channel target zeroes exactly the patch minima whose value is small
    S = np.full((20, 20), 0.5)
    S[5, 5] = 0.01
    u = _dark_target(S, lam=1e-3, mu=1.0, patch=5)
    assert u[5, 5] == 0 and (u[np.arange(20) != 5] == 0.5).all()


def test_colour_and_torch_inputs():
    torch = pytest.importorskip("torch")
    g = _valid_blur(_scene(80), gaussian(1.5, 9), 0.0)
    rgb = np.stack([g, g, g])
    k1, _ = estimate_kernel(g, size=9, method="map", inner_iterations=1, guard=False)
    k3, _ = estimate_kernel(rgb, size=9, method="map", inner_iterations=1, guard=False)
    np.testing.assert_allclose(k1, k3, atol=1e-4)  # colour -> luminance
    kt, _ = estimate_kernel(torch.as_tensor(g), size=9, method="map", inner_iterations=1,
                            guard=False)
    assert isinstance(kt, torch.Tensor)
    np.testing.assert_allclose(kt.numpy(), k1, atol=1e-10)


def test_restore_option_returns_image():
    y = _valid_blur(_scene(80), linear_motion(7, 0), 0.002)
    _, rep = estimate_kernel(y, size=11, method="map", inner_iterations=1, restore=True,
                             guard=False)
    assert rep.restored.shape == y.shape and np.isfinite(rep.restored).all()


# ----------------------------------------------------------------------------- parametric
@pytest.mark.parametrize("length,angle", [(12, 0.0), (15, 30.0), (21, 75.0), (18, 128.0)])
def test_motion_angle_and_length(length, angle):
    x = gaussian_filter(np.random.default_rng(3).random((220, 220)), 1.0)
    y = _valid_blur(x, linear_motion(length, angle), 0.0)
    m = estimate_motion(y)
    err = abs((m["angle"] - angle + 90) % 180 - 90)
    assert err <= 2.0, m
    assert abs(m["length"] - length) <= 1.0, m
    assert m["anisotropy"] > 0.3


@pytest.mark.parametrize("radius", [3.0, 6.0, 9.0])
def test_defocus_radius(radius):
    x = gaussian_filter(np.random.default_rng(4).random((220, 220)), 1.0)
    y = _valid_blur(x, disk(radius), 0.0)
    d = estimate_defocus(y)
    assert abs(d["radius"] - radius) <= 1.0, d


def test_gaussian_sigma_and_isotropy():
    x = _scene(200)
    y = _valid_blur(x, gaussian(2.0, 17), 0.001)
    g = estimate_gaussian(y)
    assert 1.0 < g["sigma"] < 3.0, g
    assert estimate_motion(y)["anisotropy"] < estimate_motion(_valid_blur(x, linear_motion(15, 40)))["anisotropy"]


def test_motion_plus_defocus_reports_ambiguity():
    x = gaussian_filter(np.random.default_rng(5).random((220, 220)), 1.0)
    clear = estimate_motion_defocus(_valid_blur(x, linear_motion(25, 60), 0.0))
    assert abs(clear["length"] - 25) <= 2 and clear["radius"] <= 2.0
    for key in ("angle", "length", "radius", "length_range", "radius_range", "indistinguishable"):
        assert key in clear
    # heavy noise: the spectral zeros are gone, the fit cannot separate the two
    from hybrid_deblur.psf import combine

    noisy = estimate_motion_defocus(_valid_blur(x, combine(linear_motion(5, 0), disk(3)), 0.05))
    assert noisy["indistinguishable"]


def test_parametric_kernel_matches_model():
    x = gaussian_filter(np.random.default_rng(6).random((200, 200)), 1.0)
    k_true = linear_motion(15, 45, size=21)
    k, rep = estimate_kernel(_valid_blur(x, k_true), size=21, method="parametric", model="motion",
                             guard=False)
    assert rep.params["model"] == "motion"
    assert kernel_similarity(k, k_true) > 0.9


# ----------------------------------------------------------------------------- errors
@pytest.mark.parametrize("kwargs,exc,word", [
    ({"method": "nope"}, ValueError, "method"),
    ({"prior": "tv"}, ValueError, "prior"),
    ({"model": "coma"}, ValueError, "model"),
    ({"size": 200}, ValueError, "size"),
    ({"size": 1}, ValueError, "size"),
    ({"size": "big"}, ValueError, "size"),
    ({"size": 2.5j}, TypeError, "size"),
    ({"lam": -1.0}, ValueError, "lam"),
    ({"inner_iterations": 0}, ValueError, "inner_iterations"),
])
def test_bad_options(kwargs, exc, word):
    y = np.random.default_rng(0).random((64, 64))
    with pytest.raises(exc, match=word):
        estimate_kernel(y, **kwargs)


@pytest.mark.parametrize("y,exc,word", [
    (np.full((32, 32), np.nan), ValueError, "NaN"),
    (np.zeros((2, 3, 4, 5)), ValueError, "shape"),
    (np.zeros((8, 8)), ValueError, "16"),
    (np.zeros((40, 40), dtype=complex), TypeError, "real"),
    ("image.png", TypeError, "array"),
    (None, TypeError, "None"),
])
def test_bad_images(y, exc, word):
    with pytest.raises(exc, match=word):
        estimate_kernel(y)


# ----------------------------------------------------------------------------- helpers
def test_clean_and_center_kernel():
    k = np.zeros((9, 9))
    k[2, 2] = 1.0
    k[2, 3] = 1.0
    k[8, 8] = 0.05  # tiny isolated component
    c = C.clean_kernel(k.copy())
    assert c[8, 8] == 0 and abs(c.sum() - 1) < 1e-12
    m = C.center_kernel(c)
    yy, xx = np.mgrid[:9, :9]
    assert abs((yy * m).sum() - 4) <= 0.5 and abs((xx * m).sum() - 4) <= 0.5


def test_wrap_pad_is_smooth_and_keeps_image():
    x = gaussian_filter(np.random.default_rng(0).random((40, 50)), 2)
    p = C.wrap_pad(x, (64, 72))
    np.testing.assert_array_equal(p[:40, :50], x)
    jumps = np.abs(np.diff(np.concatenate([p, p[:, :1]], axis=1), axis=1)).max()
    assert jumps < 0.2


@pytest.mark.skipif(not (DATA / "levin2009" / "manifest.json").exists(), reason="no ../shared/data")
def test_levin_capture_kernel_similarity():
    """One real capture (im1_k2): the estimated kernel resembles the true one."""
    from hybrid_deblur.io import imread

    root = DATA / "levin2009"
    y = np.asarray(imread(str(root / "blurred" / "im1_k2.png"), linear=False, gray=True), float)
    k = np.load(root / "kernels" / "levin_k2.npy")
    ke, rep = estimate_kernel(y, method="map", guard=False)
    assert rep.size == (35, 35)
    assert kernel_similarity(ke, k) > 0.7


def test_parametric_with_a_3px_size_does_not_crash_on_an_unblurred_image():
    # regression: the motion length grid was empty for kernels too small for a 2-px motion
    # (the atlas' no-blur cell with blind_size="true" raised "argmax of an empty sequence")
    import warnings

    y = np.random.default_rng(0).random((96, 96))
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        k, rep = estimate_kernel(y, size=3, method="parametric")
    assert k.shape == (3, 3) and np.all(np.isfinite(k)) and abs(float(k.sum()) - 1) < 1e-9
    assert rep.decision == "identity"


def test_map_initialised_by_a_rough_kernel_refines_it_on_the_finest_levels():
    """The learned estimator's use: MAP from a blurred copy of the true kernel (as blurry
    as a learned estimate, similarity 0.73-0.78) runs two pyramid levels and sharpens it to
    >= 0.88 (measured 0.941 / 0.897 for shakes 0 / 2 at sigma 0.01; MAP from scratch 0.92 / 0.86)."""
    from hybrid_deblur.estimate.map_l0 import map_estimate
    from hybrid_deblur.physics import degrade

    x = _scene(142)
    for seed in (0, 2):
        k = trajectory_motion(size=15, seed=seed)
        y, _ = degrade(x, k, boundary="valid", noise=0.01, seed=0)
        kb = gaussian_filter(np.pad(k, 4), 1.5)
        kb /= kb.sum()
        km, info = map_estimate(y, (15, 15), init=kb, cg_iterations=6)
        assert len(info["scales"]) == 2 and km.shape == (15, 15)
        assert kernel_similarity(km, k) >= 0.88 and kernel_similarity(km, k) > kernel_similarity(kb, k) + 0.1


def test_compiled_angle_scores_equal_the_numpy_reference():
    """estimate_motion's Radon-like angle scan (numba) equals its NumPy reference to rounding."""
    from hybrid_deblur.estimate import parametric as P

    rng = np.random.default_rng(5)
    y = fftconvolve(rng.random((200, 200)), linear_motion(11, 40), mode="valid")
    logP, fy, fx, floor = P.log_spectrum(y)
    sel, _, rbin, prof, _ = P._band(logP, fy, fx, floor)
    R = logP - prof[rbin]
    ang = np.arange(0.0, 180.0, 1.0)
    a, b = P._angle_scores(R, fy, fx, sel, ang, 200), P._angle_scores_reference(R, fy, fx, sel, ang, 200)
    np.testing.assert_allclose(a, b, rtol=1e-9)
    assert int(np.argmax(a)) == int(np.argmax(b))
