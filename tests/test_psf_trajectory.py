"""Camera-shake trajectories: rasteriser agreement, reproducibility, geometry, errors."""

from __future__ import annotations

import numpy as np
import pytest

from hybrid_deblur.psf import centroid, linear_motion, random_trajectory, trajectory_motion
from hybrid_deblur.psf.raster import splat as _rasterize
from hybrid_deblur.psf.raster import splat_reference as _rasterize_reference


def test_numba_and_reference_rasterisers_agree():
    rng = np.random.default_rng(5)
    n = 5000
    rows = rng.uniform(-2.0, 23.0, n)       # some points outside the grid on purpose
    cols = rng.uniform(-2.0, 23.0, n)
    rows[:50] = np.round(rows[:50])         # exact integers (zero fractional weights)
    w = rng.random(n)
    a = _rasterize(rows, cols, w, (21, 21))
    b = _rasterize_reference(rows, cols, w, (21, 21))
    np.testing.assert_allclose(a, b, rtol=0, atol=1e-12)
    # for a real trajectory too
    p = random_trajectory(20.0, rng=3)
    p = p - p.mean()
    a = _rasterize(p.imag + 15, p.real + 15, np.full(p.size, 1 / p.size), (31, 31))
    b = _rasterize_reference(p.imag + 15, p.real + 15, np.full(p.size, 1 / p.size), (31, 31))
    np.testing.assert_allclose(a, b, rtol=0, atol=1e-12)


def test_bilinear_splat_preserves_mass_and_first_moment():
    rng = np.random.default_rng(1)
    rows, cols = rng.uniform(2, 12, 300), rng.uniform(2, 12, 300)
    w = rng.random(300)
    k = _rasterize(rows, cols, w, (15, 15))
    assert k.sum() == pytest.approx(w.sum(), rel=1e-13)
    r, c = np.indices(k.shape)
    assert (r * k).sum() / k.sum() == pytest.approx((rows * w).sum() / w.sum(), abs=1e-12)
    assert (c * k).sum() / k.sum() == pytest.approx((cols * w).sum() / w.sum(), abs=1e-12)


def test_seed_reproduces_kernel_exactly():
    a = trajectory_motion(size=25, length=18, seed=11)
    b = trajectory_motion(size=25, length=18, seed=11)
    c = trajectory_motion(size=25, length=18, seed=12)
    np.testing.assert_array_equal(a, b)
    assert not np.array_equal(a, c)
    g = np.random.default_rng(4)
    assert trajectory_motion(size=15, seed=g).shape == (15, 15)


@pytest.mark.parametrize("size,length,anx,seed", [(9, 6, 0.005, 0), (21, 20, 0.003, 1),
                                                   (31, 30, 0.008, 2), (41, 45, 0.005, 3)])
def test_kernel_sums_to_one_and_is_centred(size, length, anx, seed):
    k = trajectory_motion(size=size, length=length, anxiety=anx, seed=seed)
    assert k.shape == (size, size) and k.dtype == np.float64
    assert abs(k.sum() - 1) <= 1e-12 and k.min() >= 0
    np.testing.assert_allclose(centroid(k), (size // 2, size // 2), atol=1e-9)


def test_trajectory_length_and_exposure():
    p = random_trajectory(17.5, anxiety=0.01, n_samples=1500, rng=9)
    assert p[0] == 0
    assert np.abs(np.diff(p)).sum() == pytest.approx(17.5, rel=1e-12)
    # shorter exposure: less blur (smaller spread), still centred and normalised
    full = trajectory_motion(size=31, length=28, exposure=1.0, seed=4)
    part = trajectory_motion(size=31, length=28, exposure=0.3, seed=4)
    r, c = np.indices(full.shape)

    def spread(k):
        return ((r - 15) ** 2 * k).sum() + ((c - 15) ** 2 * k).sum()

    assert spread(part) < spread(full)
    np.testing.assert_allclose(centroid(part), (15, 15), atol=1e-9)


def test_zero_anxiety_is_a_straight_line():
    p = random_trajectory(10.0, anxiety=0.0, n_samples=200, rng=2)
    d = np.diff(p)
    np.testing.assert_allclose(d, d[0], atol=1e-12)
    # its kernel is a bilinear splat of the segment: same centroid/second moment as
    # linear_motion along that direction
    ang = np.degrees(np.arctan2(-d[0].imag, d[0].real))  # rows go down
    k = trajectory_motion(size=15, length=10.0, anxiety=0.0, n_samples=4001, seed=2)
    ref = linear_motion(10.0, ang, size=15)
    np.testing.assert_allclose(k, ref, atol=2e-3)


def test_does_not_fit_raises():
    with pytest.raises(ValueError, match="fits in a kernel of size"):
        trajectory_motion(size=9, length=200, anxiety=0.0, seed=0)


@pytest.mark.parametrize("kw,exc,pattern", [
    ({"size": 2}, ValueError, "size"),
    ({"size": 9.5}, TypeError, "size"),
    ({"length": -1}, ValueError, "length"),
    ({"exposure": 0}, ValueError, "exposure"),
    ({"exposure": 1.5}, ValueError, "exposure"),
    ({"anxiety": 2.0}, ValueError, "anxiety"),
    ({"n_samples": 1}, ValueError, "n_samples"),
    ({"dtype": int}, TypeError, "dtype"),
])
def test_bad_inputs(kw, exc, pattern):
    with pytest.raises(exc, match=pattern):
        trajectory_motion(**{"size": 15, "seed": 0, **kw})
