"""SpaceVaryingBlur: adjoint, reduction to Blur, SciPy cross-check, torch parity, generators."""

from __future__ import annotations

import numpy as np
import pytest
import scipy.signal as ss

from hybrid_deblur.physics import BOUNDARIES, Blur
from hybrid_deblur.physics.space_varying import (
    SpaceVaryingBlur,
    depth_defocus_blur,
    partition_windows,
    two_layer_blur,
)
from hybrid_deblur.psf import disk, linear_motion


def _psfs(rng, grid=(2, 3), ks=(5, 7)):
    k = rng.random(grid + ks)
    return k / k.sum(axis=(-2, -1), keepdims=True)


@pytest.mark.parametrize("window", ["linear", "cosine"])
@pytest.mark.parametrize("grid", [(1, 1), (2, 3), (4, 4)])
def test_windows_are_a_partition_of_unity(grid, window):
    w = partition_windows((23, 30), grid, window)
    assert w.shape == (grid[0] * grid[1], 23, 30)
    assert w.min() >= 0
    np.testing.assert_allclose(w.sum(0), 1.0, rtol=0, atol=1e-15)


@pytest.mark.parametrize("boundary", BOUNDARIES)
def test_adjoint_float64_and_float32(rng, boundary):
    op = SpaceVaryingBlur(_psfs(rng), boundary)
    assert op.adjoint_test((2, 29, 33)) < 1e-10
    assert op.adjoint_test((29, 33), dtype=np.float32) < 1e-5


@pytest.mark.parametrize("window", ["linear", "cosine"])
@pytest.mark.parametrize("boundary", BOUNDARIES)
def test_equal_psfs_give_the_uniform_blur(rng, boundary, window):
    k = _psfs(rng, (1, 1))[0, 0]
    op = SpaceVaryingBlur(np.broadcast_to(k, (3, 2) + k.shape), boundary, window=window)
    x = rng.random((2, 31, 27))
    ref = Blur(k, boundary)
    np.testing.assert_allclose(op.A(x), ref.A(x), rtol=0, atol=1e-12)
    y = rng.random((2,) + ref.output_shape(x.shape))
    np.testing.assert_allclose(op.AT(y), ref.AT(y), rtol=0, atol=1e-12)


def test_valid_mode_equals_explicit_overlap_add(rng):
    """Independent of Blur: sum_p convolve2d(w_p x, k_p, 'valid') with SciPy."""
    psfs = _psfs(rng, (2, 2), (5, 3))
    x = rng.random((26, 21))
    w = partition_windows(x.shape, (2, 2))
    ref = sum(ss.convolve2d(w[p] * x, psfs.reshape(4, 5, 3)[p], "valid") for p in range(4))
    np.testing.assert_allclose(SpaceVaryingBlur(psfs, "valid").A(x), ref, rtol=0, atol=1e-12)


def test_distinct_psfs_act_locally(rng):
    """Left half sharp (delta), right half blurred: a point source keeps its kernel's shape."""
    k = np.zeros((2, 9, 9))
    k[0, 4, 4] = 1.0
    k[1] = disk(3, size=9)
    op = SpaceVaryingBlur(k[None], "circular")
    x = np.zeros((40, 80))
    x[20, 5] = x[20, 75] = 1.0  # outside the blend zone (flat beyond the outer tile centres)
    y = op.A(x)
    assert y[20, 5] == pytest.approx(1.0, abs=1e-12)
    np.testing.assert_allclose(y[16:25, 71:80], k[1], atol=1e-12)


def test_torch_matches_numpy_and_is_differentiable(rng):
    torch = pytest.importorskip("torch")
    psfs = _psfs(rng)
    x = rng.random((25, 30))
    op_np, op_t = SpaceVaryingBlur(psfs, "reflect"), SpaceVaryingBlur(torch.as_tensor(psfs), "reflect")
    xt = torch.tensor(x, dtype=torch.float64, requires_grad=True)
    yt = op_t.A(xt)
    np.testing.assert_allclose(yt.detach().numpy(), op_np.A(x), rtol=0, atol=1e-12)
    g = rng.random(yt.shape)
    (yt * torch.as_tensor(g)).sum().backward()
    np.testing.assert_allclose(xt.grad.numpy(), op_np.AT(g), rtol=0, atol=1e-12)
    assert op_t.adjoint_test((25, 30), like=torch.zeros(1, dtype=torch.float64)) < 1e-10


def test_two_layer_generator_assigns_foreground_tiles():
    bg, fg = disk(1), linear_motion(9, 0)
    op = two_layer_blur(bg, fg, (0.25, 0.25, 0.75, 0.75), grid=(4, 4), boundary="valid")
    ps = op.psfs
    n = ps.shape[-1]
    lin = np.pad(fg, (n - fg.shape[0]) // 2)
    for i in range(4):
        for j in range(4):
            want = lin if (i in (1, 2) and j in (1, 2)) else np.pad(bg, (n - bg.shape[0]) // 2)
            np.testing.assert_allclose(ps[i, j], want, atol=1e-15)
    with pytest.raises(ValueError, match="box"):
        two_layer_blur(bg, fg, (0.5, 0.2, 0.4, 0.9))


def test_depth_defocus_generator_radius_follows_depth():
    depth = np.linspace(0, 1, 60)[None, :].repeat(20, 0)
    op = depth_defocus_blur(depth, focus=0.0, max_radius=4, grid=(1, 3), boundary="circular")
    ps = op.psfs[0]
    # tile means 1/6, 1/2, 5/6 of the depth range -> radii 2/3, 2, 10/3 px: spread grows
    spread = [float((p * (np.indices(p.shape) - p.shape[0] // 2) ** 2).sum()) for p in ps]
    assert spread[0] < spread[1] < spread[2]
    np.testing.assert_allclose(ps[1], np.pad(disk(2.0), (ps.shape[-1] - disk(2.0).shape[0]) // 2),
                               atol=1e-15)
    with pytest.raises(ValueError, match="focus"):
        depth_defocus_blur(depth, focus=1.5, max_radius=2)


def test_bad_input():
    with pytest.raises(ValueError, match="psfs must have shape"):
        SpaceVaryingBlur(np.ones((3, 3)))
    with pytest.raises(ValueError, match="window"):
        SpaceVaryingBlur(np.ones((1, 1, 3, 3)), window="hann")
    with pytest.raises(ValueError, match="grid"):
        partition_windows((8, 8), (0, 2))
