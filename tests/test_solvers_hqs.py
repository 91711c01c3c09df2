"""HQS: w-step roots vs brute force, the public x-step, boundaries, quality, backends."""

from __future__ import annotations

import numpy as np
import pytest

from hybrid_deblur import backend as B
from hybrid_deblur.physics import Blur
from hybrid_deblur.solvers import (
    HQS,
    auto_lambda,
    hqs,
    hqs_hl,
    hqs_tv,
    hqs_w_step,
    hqs_x_step,
    wiener,
)

from .conftest import to_backend


@pytest.mark.parametrize("alpha", [1.0, 2 / 3, 0.5, 0.8])
@pytest.mark.parametrize("beta", [1.0, 16.0, 500.0])
def test_w_step_is_the_global_minimiser(alpha, beta):
    v = np.linspace(-1.5, 1.5, 301)
    w = hqs_w_step(v, beta, alpha)
    grid = np.linspace(-2.0, 2.0, 80001)
    E = np.abs(grid[None, :]) ** alpha + 0.5 * beta * (grid[None, :] - v[:, None]) ** 2
    e_brute = E.min(axis=1)
    e_ours = np.abs(w) ** alpha + 0.5 * beta * (w - v) ** 2
    assert np.all(e_ours <= e_brute + 1e-9)           # never worse than the brute force
    # and equal to it up to the grid resolution
    assert np.all(e_ours >= e_brute - 1e-6)
    assert np.all(np.sign(w) * np.sign(v) >= 0)       # same side as v (or zero)


def test_w_step_closed_forms_match_newton_reference():
    v = np.linspace(0.05, 3, 200)
    for alpha in (0.5, 2 / 3):
        w_closed = hqs_w_step(v, 40.0, alpha)
        w_newton = hqs_w_step(v, 40.0, alpha + 1e-9)   # generic Newton branch
        ok = (w_closed > 0) & (w_newton > 0)
        assert ok.sum() > 150
        assert np.abs(w_closed[ok] - w_newton[ok]).max() < 1e-6


def test_w_step_torch_matches_numpy():
    torch = pytest.importorskip("torch")
    v = np.random.default_rng(0).standard_normal(500) * 0.5
    for alpha in (1.0, 2 / 3, 0.5):
        a = hqs_w_step(v, 20.0, alpha)
        b = hqs_w_step(torch.from_numpy(v), 20.0, alpha).numpy()
        assert np.abs(a - b).max() < 1e-12


def test_x_step_solves_its_normal_equations(backend_name):
    rng = np.random.default_rng(0)
    y = rng.random((2, 30, 34))
    z = rng.random((2, 30, 34))
    k = rng.random((5, 5))
    k /= k.sum()
    op = Blur(k, "circular")
    yb, zb = to_backend(y, backend_name), to_backend(z, backend_name)
    H = op.otf((30, 34), like=yb)
    with pytest.warns(DeprecationWarning, match="prox_data"):
        x = hqs_x_step(H.conj() * B.rfftn(yb, axes=(-2, -1)), H, zb, 0.3)
    x = B.to_numpy(x)
    grad = op.AT(op(x) - y) + 0.3 * (x - z)
    assert np.abs(grad).max() < 1e-10


def test_x_step_differentiable_in_torch():
    torch = pytest.importorskip("torch")
    y = torch.rand(1, 1, 16, 16, dtype=torch.float64)
    z = torch.rand(1, 1, 16, 16, dtype=torch.float64, requires_grad=True)
    mu = torch.tensor([[[[0.5]]]], dtype=torch.float64, requires_grad=True)
    H = Blur(torch.ones(3, 3, dtype=torch.float64) / 9).otf((16, 16), like=y)
    with pytest.warns(DeprecationWarning):
        x = hqs_x_step(H.conj() * B.rfftn(y, axes=(-2, -1)), H, z, mu)
    x.sum().backward()
    assert z.grad is not None and mu.grad is not None and torch.isfinite(z.grad).all()


def _cartoon(shape=(96, 96)):
    yy, xx = np.mgrid[0:shape[0], 0:shape[1]] / max(shape)
    img = 0.2 + 0.5 * ((xx - 0.5) ** 2 + (yy - 0.45) ** 2 < 0.08) + 0.2 * (xx > 0.7)
    return img + 0.1 * (yy > 0.3)


def test_hqs_beats_wiener_on_piecewise_smooth_valid_blur():
    x = _cartoon((100, 100))
    k = np.zeros((9, 9))
    np.fill_diagonal(k, 1.0)
    k /= k.sum()
    rng = np.random.default_rng(0)
    y = Blur(k, "valid")(x) + 0.01 * rng.standard_normal((92, 92))
    ref = x[4:-4, 4:-4]

    def psnr(a):
        return 10 * np.log10(1 / np.mean((a - ref) ** 2))

    p_w = psnr(wiener(y, k))
    p_tv = psnr(hqs_tv(y, k))
    p_hl = psnr(hqs_hl(y, k))
    assert p_tv > p_w + 1.0 and p_hl > p_w + 1.0
    # the ring-free default beats the periodic model by a wide margin at the borders
    assert p_hl > psnr(hqs_hl(y, k, boundary="circular")) + 3.0


def test_hqs_valid_returns_scene_and_info():
    y = np.random.default_rng(0).random((40, 44)).astype(np.float32)
    k = np.ones((5, 3), np.float32) / 15
    x, info = hqs(y, k, boundary="valid", return_info=True, lam=1e-3)
    assert x.shape == (44, 46) and x.dtype == np.float32
    assert info["lam"] == 1e-3 and info["iterations"] == len(HQS(y, k, lam=1.0).beta_schedule)


def test_hqs_state_machine_and_callback():
    x = _cartoon((48, 48))
    k = np.ones((3, 3)) / 9
    y = Blur(k, "valid")(x)
    solver = HQS(y, k, prior="tv", lam=5e-4).init()
    solver.step()
    assert solver.iteration == 1
    rec = []
    out = hqs(y, k, lam=5e-4, num_iter=4, reference=x[1:-1, 1:-1],
              callback=lambda i, xi, r, p: rec.append((i, r, p)))
    assert [r[0] for r in rec] == [1, 2, 3, 4]
    assert all(r[1] is not None and r[2] is not None for r in rec)
    assert out.shape == y.shape


def test_auto_lambda_scales_with_noise():
    assert auto_lambda(0.01, 2 / 3) > auto_lambda(0.03, 2 / 3) > 0
    assert auto_lambda(0.01, 1.0) > auto_lambda(0.03, 1.0) > 0


@pytest.mark.parametrize("boundary", ["auto", "circular", "reflect"])
def test_hqs_numpy_and_torch_agree(backend_name, boundary):
    x = np.stack([_cartoon((40, 40)), _cartoon((40, 40)).T])
    k = np.ones((3, 5)) / 15
    y = Blur(k, "valid" if boundary == "auto" else boundary)(x)
    ref = hqs(y, k, lam=1 / 3000, boundary=boundary)
    out = hqs(to_backend(y, backend_name), to_backend(k, backend_name), lam=1 / 3000,
              boundary=boundary)
    assert np.abs(B.to_numpy(out) - ref).max() < 1e-8


def test_hqs_3d():
    vol = np.random.default_rng(0).random((10, 20, 22))
    k = np.ones((3, 3, 3)) / 27
    y = Blur(k, "valid", ndim=3)(vol)
    assert hqs(y, k, ndim=3, lam=1e-3).shape == y.shape


def test_pluggable_prior_iterator_reproduces_the_unrolled_network():
    """UnrolledHQS = HQS with a learned z-step and learned (mu_k, sigma_k): same numbers."""
    torch = pytest.importorskip("torch")
    from hybrid_deblur.learned import build_model
    from hybrid_deblur.learned.dc import DataTerm

    torch.manual_seed(0)
    net = build_model("unrolled-hqs", stages=2, channels=1, widths=(8, 16, 32)).double()
    g = torch.Generator().manual_seed(0)
    with torch.no_grad():
        for p in net.parameters():
            p.add_(0.05 * torch.randn(p.shape, generator=g, dtype=p.dtype))
    rng = np.random.default_rng(0)
    k = rng.random((7, 7)) ** 3
    k /= k.sum()
    y = torch.tensor(Blur(k, "valid")(rng.random((46, 42)))[None, None])
    sigma = torch.tensor([0.01], dtype=torch.float64)
    with torch.no_grad():
        ref = net(y, torch.tensor(k), sigma, boundary="auto")
        kt = torch.tensor(k)[None, None]
        alpha, beta = net.schedule(sigma, kt)
        z0 = DataTerm(y, kt, "auto").classical_init(sigma, net.init)

        def denoiser(v, s):
            smap = torch.full((v.shape[0], 1) + tuple(v.shape[-2:]), s, dtype=v.dtype)
            return v + net.prior(torch.cat([v, smap], dim=1))

        # the network's data step is one majorise-minimise step (the engine's PnP default
        # is CG, PNP_DATA_ITERS): ask the iterator for the network's step
        out = HQS(y, kt, prior=denoiser, mu_schedule=alpha[0].tolist(),
                  sigma_schedule=beta[0].tolist(), x0=z0, boundary="auto", data_solver="mm").run()
    assert out.shape == ref.shape
    assert float((out - ref).abs().max()) < 1e-6


def test_pnp_default_schedule_and_quality():
    from hybrid_deblur.solvers.auto import dpir_schedule

    x = _cartoon((64, 64))
    k = np.ones((5, 5)) / 25
    rng = np.random.default_rng(0)
    y = Blur(k, "valid")(x) + 0.01 * rng.standard_normal((60, 60))
    calls = []

    def median3(v, s):                      # a crude denoiser is enough to regularise
        from scipy.ndimage import median_filter
        calls.append(s)
        return median_filter(v, size=3, mode="nearest")

    out, info = hqs(y, k, prior=median3, sigma=0.01, return_info=True)
    sig, mu = dpir_schedule(0.01)
    assert calls == sig and info["mu_schedule"] == mu and info["prior"] == "denoiser"
    ref = x[2:-2, 2:-2]
    assert 10 * np.log10(1 / np.mean((out - ref) ** 2)) > 10 * np.log10(1 / np.mean((y - ref) ** 2))


def test_x0_of_the_output_shape_starts_the_output_region():
    """``x0`` shaped like the result (``boundary="auto"``: like ``y``) fills the output region of
    the solve grid; the rest stays the replicated extension of ``y`` (was a broadcast error)."""
    from hybrid_deblur.solvers.hqs import HQS

    rng = np.random.default_rng(0)
    k = rng.random((7, 5))
    k /= k.sum()
    y = Blur(k, "valid")(rng.random((40, 36)))
    x0 = rng.random(y.shape)
    h = HQS(y, k, prior=lambda v, s: v, num_iter=2, x0=x0).init()
    plain = HQS(y, k, prior=lambda v, s: v, num_iter=2).init()
    oy, ox = 7 - 1 - 7 // 2, 5 - 1 - 5 // 2
    np.testing.assert_array_equal(h.x[oy:oy + y.shape[0], ox:ox + y.shape[1]], x0)
    outside = np.ones(h.x.shape, bool)
    outside[oy:oy + y.shape[0], ox:ox + y.shape[1]] = False
    np.testing.assert_array_equal(h.x[outside], plain.x[outside])
    assert h.run().shape == y.shape
