"""Blur operator: exactness against SciPy, adjoint identities, backends, autograd, errors."""

from __future__ import annotations

import numpy as np
import pytest
import scipy.ndimage as ndi
import scipy.signal as ss

from hybrid_deblur.backend import to_numpy
from hybrid_deblur.physics import BOUNDARIES, Blur, convolve
from hybrid_deblur.physics.boundary import ndimage_mode, pad, pad_adjoint
from hybrid_deblur.psf import psf2otf

from .conftest import to_backend

KSIZES = [(1, 1), (3, 3), (4, 6), (7, 4), (9, 9)]


def _kernel(rng, shape):
    k = rng.random(shape)
    return k / k.sum()


@pytest.mark.parametrize("ks", KSIZES)
@pytest.mark.parametrize("boundary", BOUNDARIES)
def test_matches_scipy(rng, ks, boundary):
    k = _kernel(rng, ks)
    x = rng.random((21, 26))
    y = Blur(k, boundary).A(x)
    if boundary == "valid":
        ref = ss.convolve2d(x, k, "valid")
    else:
        ref = ndi.convolve(x, k, mode=ndimage_mode(boundary))
    assert y.shape == ref.shape
    np.testing.assert_allclose(y, ref, rtol=0, atol=1e-12)


@pytest.mark.parametrize("boundary", BOUNDARIES)
@pytest.mark.parametrize("ks", KSIZES)
def test_adjoint_float64_and_float32(rng, boundary, ks):
    op = Blur(_kernel(rng, ks), boundary)
    assert op.adjoint_test() < 1e-10
    assert op.adjoint_test(dtype=np.float32) < 1e-5


@pytest.mark.parametrize("boundary", BOUNDARIES)
def test_adjoint_on_every_backend(backend_name, boundary, rng):
    k = to_backend(_kernel(rng, (5, 4)), backend_name)
    like = to_backend(np.zeros(1), backend_name)
    assert Blur(k, boundary).adjoint_test((2, 17, 19), like=like) < 1e-10


@pytest.mark.parametrize("boundary", BOUNDARIES)
def test_numpy_and_torch_agree(rng, boundary):
    import torch

    k = _kernel(rng, (6, 5))
    x = rng.random((3, 20, 22))
    op_np, op_t = Blur(k, boundary), Blur(torch.as_tensor(k), boundary)
    y = op_np.A(x)
    yt = op_t.A(torch.as_tensor(x))
    assert isinstance(yt, torch.Tensor)
    np.testing.assert_allclose(yt.numpy(), y, atol=1e-12, rtol=0)
    np.testing.assert_allclose(op_t.AT(torch.as_tensor(y)).numpy(), op_np.AT(y), atol=1e-12, rtol=0)
    np.testing.assert_allclose(op_np.AtA(x), op_np.AT(op_np.A(x)), atol=1e-12, rtol=0)


@pytest.mark.parametrize("boundary", ["circular", "reflect", "valid"])
def test_gradcheck_image_and_kernel(boundary):
    import torch

    g = torch.Generator().manual_seed(0)
    x = torch.rand(9, 10, dtype=torch.float64, generator=g, requires_grad=True)
    k = torch.rand(3, 4, dtype=torch.float64, generator=g, requires_grad=True)

    def f(x, k):
        return Blur(k, boundary).A(x)

    def f_adj(y, k):
        return Blur(k, boundary).AT(y)

    assert torch.autograd.gradcheck(f, (x, k), eps=1e-6, atol=1e-8)
    y = torch.rand(*Blur(k.detach(), boundary).A(x.detach()).shape, dtype=torch.float64,
                   generator=g, requires_grad=True)
    assert torch.autograd.gradcheck(f_adj, (y, k), eps=1e-6, atol=1e-8)


def test_float32_preserved_and_integer_promoted(rng):
    k = _kernel(rng, (3, 3)).astype(np.float32)
    x = rng.random((16, 16)).astype(np.float32)
    assert Blur(k, "reflect").A(x).dtype == np.float32
    xi = (rng.random((16, 16)) * 255).astype(np.uint8)
    assert Blur(k, "circular").A(xi).dtype == np.float64


def test_per_channel_psf_matches_separate_blurs(rng):
    ks = np.stack([_kernel(rng, (5, 5)) for _ in range(3)])
    x = rng.random((2, 3, 18, 20))
    y = Blur(ks, "valid").A(x)
    for b in range(2):
        for c in range(3):
            np.testing.assert_allclose(y[b, c], ss.convolve2d(x[b, c], ks[c], "valid"), atol=1e-12)


def test_three_d_stack_matches_ndimage(rng):
    k = rng.random((3, 5, 5))
    k /= k.sum()
    x = rng.random((8, 12, 13))
    np.testing.assert_allclose(Blur(k, "reflect", ndim=3).A(x),
                               ndi.convolve(x, k, mode="reflect"), atol=1e-12)
    assert Blur(k, "valid", ndim=3).adjoint_test() < 1e-10


def test_flux_preserved_by_circular_blur(rng):
    x = rng.random((32, 32))
    assert abs(Blur(_kernel(rng, (7, 7)), "circular").A(x).sum() - x.sum()) < 1e-9


def test_otf_of_delta_is_one():
    d = np.zeros((5, 5))
    d[2, 2] = 1
    np.testing.assert_allclose(psf2otf(d, (16, 12)), 1.0, atol=1e-15)


def test_psf2otf_matches_skimage_ir2tf(rng):
    from skimage.restoration import uft

    k = _kernel(rng, (5, 7))
    np.testing.assert_allclose(psf2otf(k, (32, 30)), uft.ir2tf(k, (32, 30), is_real=True),
                               atol=1e-13)


def test_otf_is_cached(rng):
    op = Blur(_kernel(rng, (5, 5)), "reflect")
    x = rng.random((20, 20))
    op.A(x)
    n = len(op._cache)
    op.A(x)
    op.AT(op.A(x))
    assert len(op._cache) == n


@pytest.mark.parametrize("mode", ["reflect", "replicate", "circular", "zero"])
def test_pad_adjoint_identity(rng, mode):
    x = rng.random((5, 7))
    widths = [(3, 2), (4, 6)]
    p = pad(x, widths, mode)
    np.testing.assert_allclose(p, np.pad(x, widths, mode={"reflect": "symmetric", "replicate": "edge",
                                                          "circular": "wrap", "zero": "constant"}[mode]))
    y = rng.random(p.shape)
    assert abs((p * y).sum() - (x * pad_adjoint(y, widths, mode, x.shape)).sum()) < 1e-12


def test_convolve_wrapper(rng):
    k = _kernel(rng, (3, 3))
    x = rng.random((10, 10))
    np.testing.assert_allclose(convolve(x, k, "replicate"), ndi.convolve(x, k, mode="nearest"),
                               atol=1e-12)


# ----------------------------------------------------------------------------- bad input
@pytest.mark.parametrize(
    "psf, match",
    [
        (np.full((3, 3), np.nan), "NaN"),
        (np.zeros((3, 3)), "sums to zero"),
        (-np.ones((3, 3)), "negative"),
        (np.ones(3), "at least 2 axes"),
        (np.ones((0, 3)), "empty"),
        (np.ones((3, 3), dtype=complex), "real numeric"),
    ],
)
def test_bad_psf(psf, match):
    with pytest.raises((ValueError, TypeError), match=match):
        Blur(psf)


def test_bad_boundary_and_image():
    with pytest.raises(ValueError, match="boundary='mirror'.*accepted"):
        Blur(np.ones((3, 3)), "mirror")
    op = Blur(np.ones((9, 9)), "valid")
    with pytest.raises(ValueError, match="larger than the image"):
        op.A(np.ones((5, 20)))
    with pytest.raises(ValueError, match="at least 2 axes"):
        op.A(np.ones(20))


def test_torch_psf_cast_to_image_backend(rng):
    import torch

    k = _kernel(rng, (3, 3))
    xt = torch.rand(8, 8, dtype=torch.float32)
    y = Blur(k, "circular").A(xt)
    assert isinstance(y, torch.Tensor) and y.dtype == torch.float32
    np.testing.assert_allclose(to_numpy(y), Blur(k, "circular").A(xt.numpy().astype(np.float64)),
                               atol=1e-5)
