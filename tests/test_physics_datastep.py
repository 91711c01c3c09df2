"""The operator's data steps: exact proximal solves on every boundary, Wiener filter, RL update."""

from __future__ import annotations

import numpy as np
import pytest

from hybrid_deblur.physics import Blur
from hybrid_deblur.physics.datastep import frequency_power

from .conftest import to_backend

BOUNDARIES = ["circular", "valid", "reflect", "replicate", "zero"]


def _kernel(k=7, seed=0):
    a = np.random.default_rng(seed).random((k, k)) ** 3
    return a / a.sum()


def _problem(boundary, lead=(2,), n=(34, 30), seed=0):
    rng = np.random.default_rng(seed)
    A = Blur(_kernel(), boundary)
    x = rng.random(lead + n)
    y = A(x) + 0.01 * rng.standard_normal(A(x).shape)
    z = rng.random(x.shape)
    return A, x, y, z


@pytest.mark.parametrize("boundary", BOUNDARIES)
@pytest.mark.parametrize("mu", [0.3, 1e-3, np.array([0.05, 2e-3])])
def test_prox_data_solves_its_normal_equations(boundary, mu):
    A, _, y, z = _problem(boundary)
    x, info = A.prox_data(z, y, mu, return_info=True)
    m = np.asarray(mu).reshape(-1, 1, 1) if np.ndim(mu) else mu
    g = A.AT(A(x) - y) + m * (x - z)                  # gradient of the objective
    assert x.shape == z.shape
    assert np.abs(g).max() < 1e-6 * max(1.0, float(np.abs(A.AT(y)).max()))
    assert info["method"] == ("fft" if boundary == "circular" else "cg")


def test_prox_data_is_the_minimiser_not_just_stationary():
    A, _, y, z = _problem("valid")
    x = A.prox_data(z, y, 0.01)

    def f(v):
        return 0.5 * float(((A(v) - y) ** 2).sum()) + 0.005 * float(((v - z) ** 2).sum())

    rng = np.random.default_rng(1)
    assert all(f(x) <= f(x + 1e-3 * rng.standard_normal(x.shape)) for _ in range(5))


def test_valid_prox_on_the_fft_grid_and_mm_steps_converge_to_it():
    A, _, y, z = _problem("valid", lead=())
    exact = A.prox_data(z, y, 0.02)
    grid = A.fft_shape(z.shape)
    zg = np.pad(z, [(0, g - n) for g, n in zip(grid, z.shape)], mode="edge")
    xg = A.prox_data(zg, y, 0.02)
    assert xg.shape == grid
    np.testing.assert_allclose(xg[:z.shape[0], :z.shape[1]], exact, atol=1e-7)
    # the unobserved extra samples follow z exactly
    np.testing.assert_allclose(xg[z.shape[0]:], zg[z.shape[0]:], atol=1e-7)
    errs = [np.abs(A.prox_data(z, y, 0.02, method="mm", maxiter=m, tol=0) - exact).max()
            for m in (1, 10, 100)]
    assert errs[0] > errs[1] > errs[2]
    with pytest.raises(ValueError, match="method='mm' needs boundary"):
        Blur(_kernel(), "zero").prox_data(z, y, 0.1, method="mm")


def test_prox_data_torch_matches_numpy_and_is_differentiable():
    torch = pytest.importorskip("torch")
    A, _, y, z = _problem("valid")
    ref = A.prox_data(z, y, np.array([0.05, 0.01]))
    zt = torch.tensor(z, requires_grad=True)
    yt = torch.tensor(y, requires_grad=True)
    mu = torch.tensor([0.05, 0.01], dtype=torch.float64, requires_grad=True)
    x = Blur(torch.tensor(_kernel()), "valid").prox_data(zt, yt, mu)
    np.testing.assert_allclose(x.detach().numpy(), ref, atol=1e-8)
    x.sum().backward()
    # d x / d z = mu (A^T A + mu)^-1: the sum of the gradient over z is positive and finite
    assert torch.isfinite(zt.grad).all() and torch.isfinite(mu.grad).all()
    assert float(yt.grad.abs().sum()) > 0


def test_prox_data_gradcheck_circular_and_valid():
    torch = pytest.importorskip("torch")
    k = torch.tensor(_kernel(3))
    for boundary in ("circular", "valid"):
        A = Blur(k, boundary)
        y = torch.rand((8, 9) if boundary == "circular" else (6, 7), dtype=torch.float64)
        z = torch.rand(8, 9, dtype=torch.float64, requires_grad=True)
        mu = torch.tensor(0.2, dtype=torch.float64, requires_grad=True)
        assert torch.autograd.gradcheck(lambda zz, m, A=A, y=y: A.prox_data(zz, y, m, tol=1e-13),
                                        (z, mu))


@pytest.mark.parametrize("boundary", ["circular", "valid", "zero"])
def test_float32_prox_agrees_with_float64(boundary):
    A, _, y, z = _problem(boundary, lead=())
    x64 = A.prox_data(z, y, 0.01)
    x32 = A.prox_data(z.astype(np.float32), y.astype(np.float32), 0.01)
    assert x32.dtype == np.float32
    assert np.abs(x32 - x64).max() < 1e-3


def test_solve_normal_with_regulariser_matches_dense_solution():
    rng = np.random.default_rng(3)
    A = Blur(_kernel(3), "zero")
    n = (9, 8)
    y = rng.random(n)
    # dense A, and the periodic gradient regulariser on the image grid
    E = np.eye(n[0] * n[1]).reshape(-1, *n)
    M = np.stack([A(e).ravel() for e in E], axis=1)
    D = []
    for ax in (0, 1):
        D.append(np.stack([(np.roll(e, -1, axis=ax) - e).ravel() for e in E], axis=1))
    lam = 0.05
    lhs = M.T @ M + lam * sum(d.T @ d for d in D)
    ref = np.linalg.solve(lhs, M.T @ y.ravel()).reshape(n)
    x = A.solve_normal(y, reg="gradient", reg_weight=lam)
    np.testing.assert_allclose(x, ref, atol=1e-7)


def test_zero_parameters_never_give_nan():
    k = np.ones((4, 4)) / 16                          # OTF with exact zeros
    y = np.random.default_rng(0).random((32, 32))
    for A in (Blur(k, "circular"), Blur(k, "valid")):
        yy = A(np.pad(y, 0 if A.boundary == "circular" else ((0, 3), (0, 3)), mode="edge"))
        assert np.isfinite(A.wiener(yy, 0.0)).all()
        assert np.isfinite(A.prox_data(np.zeros(A.input_shape(yy.shape)), yy, 0.0)).all()
        zero = np.zeros_like(yy)
        assert np.all(A.prox_data(np.zeros(A.input_shape(yy.shape)), zero, 0.0) == 0)


def test_wiener_filter_matches_closed_form(backend_name):
    rng = np.random.default_rng(0)
    k = _kernel(5)
    y = rng.random((2, 24, 26))
    A = Blur(to_backend(k, backend_name), "circular")
    out = A.wiener(to_backend(y, backend_name), 0.01, reg="gradient")
    H = np.fft.rfft2(np.roll(np.pad(k, [(0, 19), (0, 21)]), (-2, -2), axis=(0, 1)))
    ref = np.fft.irfft2(np.fft.rfft2(y) * H.conj() / (np.abs(H) ** 2 + 0.01 * frequency_power(
        "gradient", (24, 26), y)), s=(24, 26))
    from hybrid_deblur.backend import to_numpy
    np.testing.assert_allclose(to_numpy(out), ref, atol=1e-10)


def test_rl_update_is_the_multiplicative_step_and_keeps_flux():
    rng = np.random.default_rng(0)
    k = _kernel(5)
    A = Blur(k, "circular")
    y = A(rng.random((30, 30)) + 0.1)
    x = np.full(y.shape, y.mean())
    x1 = A.rl_update(x, y)
    np.testing.assert_allclose(x1, x * A.AT(y / A(x)), rtol=1e-12)
    assert np.isclose(x1.sum(), y.sum())
    # relaxed step: x (u)^p
    xp = A.rl_update(x, y, power=0.5)
    np.testing.assert_allclose(xp, x * np.sqrt(A.AT(y / A(x))), rtol=1e-10)
    # valid model, weights mark observed pixels
    V = Blur(k, "valid")
    xv = np.full((34, 34), y.mean())
    yv = V(rng.random((34, 34)) + 0.1)
    u = V.rl_update(xv, yv)
    np.testing.assert_allclose(u, xv * V.AT(yv / V(xv)) / V.AT(np.ones_like(yv)), rtol=1e-10)


def test_psf_stack_mismatch_names_both_shapes():
    ks = np.stack([_kernel(5, s) for s in range(3)])
    A = Blur(ks, "zero")
    with pytest.raises(ValueError, match=r"PSF stack has leading shape \(3,\).*\(2,\)"):
        A(np.zeros((2, 20, 20)))
    with pytest.raises(ValueError, match="PSF stack"):
        A.AT(np.zeros((2, 20, 20)))
