"""Plug-and-play HQS with the learned denoiser: it is the engine's HQS (no second loop)."""

from __future__ import annotations

import numpy as np
import pytest

torch = pytest.importorskip("torch")

from hybrid_deblur.learned.denoiser import DRUNet  # noqa: E402
from hybrid_deblur.learned.pnp import denoiser_prior, pnp_drunet  # noqa: E402
from hybrid_deblur.learned.weights import shipped_weights  # noqa: E402
from hybrid_deblur.physics import Blur  # noqa: E402

torch.set_num_threads(1)


class TVProx(torch.nn.Module):
    """Parameter-free 'denoiser': the TV proximal step (Chambolle, scikit-image) at level σ."""

    channels = 1

    def forward(self, x, sigma):
        from skimage.restoration import denoise_tv_chambolle

        a = x.detach().cpu().numpy()
        out = np.stack([denoise_tv_chambolle(a[i, 0], weight=float(sigma), max_num_iter=30)
                        for i in range(a.shape[0])])[:, None]
        return torch.from_numpy(out).to(x.dtype)


def tv_prox_fn(v, sigma):
    from skimage.restoration import denoise_tv_chambolle

    v = np.asarray(v)
    flat = v.reshape(-1, *v.shape[-2:])
    return np.stack([denoise_tv_chambolle(p, weight=float(sigma), max_num_iter=30)
                     for p in flat]).reshape(v.shape)


def _scene(n=48, seed=0):
    rng = np.random.default_rng(seed)
    yy, xx = np.mgrid[0:n, 0:n] / n
    x = 0.3 + 0.4 * ((yy - 0.5) ** 2 + (xx - 0.4) ** 2 < 0.08) + 0.2 * (xx > 0.7)
    return np.clip(x + 0.02 * rng.standard_normal((n, n)), 0, 1)


def _psnr(a, b):
    return -10 * np.log10(np.mean((a - b) ** 2))


@pytest.mark.parametrize("boundary", ["auto", "valid", "circular"])
def test_pnp_with_the_tv_prox_is_the_engines_hqs(boundary):
    from hybrid_deblur.solvers import HQS

    x = _scene()
    k = np.ones((5, 5)) / 25
    op = Blur(k, "circular" if boundary == "circular" else "valid")
    y = op(x) + 0.01 * np.random.default_rng(1).standard_normal(op.output_shape(x.shape))
    got, info = pnp_drunet(y, k, sigma=0.01, model=TVProx(), boundary=boundary, return_info=True,
                           precision="input")  # the reference runs in float64
    ref = HQS(y, k, prior=tv_prox_fn, sigma=0.01, lam=0.23, num_iter=6, boundary=boundary).run()
    np.testing.assert_allclose(got, ref, rtol=0, atol=1e-12)
    assert info["prior"] == "denoiser" and len(info["sigma_schedule"]) == 6
    assert info["boundary"] == boundary
    # and it is a real deblurring: better than the blurred input on the observed frame
    if boundary != "circular":  # compare on the observed frame
        x = x[2:-2, 2:-2]
        got = got[2:-2, 2:-2] if boundary == "valid" else got
    assert _psnr(got, x) > _psnr(y, x) + 1.0


def test_denoiser_prior_keeps_kind_shape_and_colour_planes():
    net = DRUNet(3, widths=(4, 8))
    with torch.no_grad():
        net.tail.weight.normal_(0, 0.05)
    prior = denoiser_prior(net)
    v = np.random.default_rng(0).random((3, 20, 24))
    z = prior(v, 0.05)
    assert z.shape == v.shape and z.dtype == v.dtype
    zt = prior(torch.from_numpy(v), 0.05)
    assert torch.is_tensor(zt) and zt.dtype == torch.float64
    np.testing.assert_allclose(zt.numpy(), z, atol=1e-6)
    # joint colour: a plane's output depends on the other planes
    v2 = v.copy()
    v2[2] = 0
    assert not np.allclose(prior(v2, 0.05)[0], z[0])
    # neutral (R = G = B) input through the joint colour model stays close to neutral planes
    g = np.repeat(v[:1], 3, axis=0)
    assert prior(g, 0.05).shape == (3, 20, 24)


def test_pnp_is_registered_as_a_hybrid_method():
    from hybrid_deblur.analysis.registry import get_method, method_kind

    assert get_method("pnp-drunet") is pnp_drunet
    assert method_kind("pnp-drunet") == "hybrid" and method_kind("unrolled-pnp") == "hybrid"
    with pytest.raises(TypeError, match="model must be a denoiser"):
        pnp_drunet(np.zeros((20, 20)), np.ones((3, 3)) / 9, sigma=0.01, model=3)


@pytest.mark.skipif("drunet_gray" not in shipped_weights(), reason="no shipped denoiser")
def test_shipped_pnp_beats_hyper_laplacian_hqs_on_a_blurred_image():
    from hybrid_deblur.learned.data import sample_kernel, synthetic_images
    from hybrid_deblur.solvers import hqs_hl

    x = synthetic_images(1, 96, seed=5)[0][0].astype(np.float64)
    k, _ = sample_kernel(np.random.default_rng(2), kinds={"camera_shake": 1.0}, max_size=13, common_max=13)
    y = Blur(k, "valid")(x) + 0.01 * np.random.default_rng(3).standard_normal((96 - k.shape[0] + 1,) * 2)
    o = k.shape[0] // 2
    ref = x[o:o + y.shape[0], o:o + y.shape[1]]
    p_pnp = _psnr(pnp_drunet(y, k, sigma=0.01), ref)
    p_hl = _psnr(hqs_hl(y, k, sigma=0.01), ref)
    assert p_pnp > p_hl + 0.3, (p_pnp, p_hl)


def test_unrolled_pnp_with_zero_corrections_is_the_engines_pnp_hqs():
    """DESIGN §3: the unrolled network with its learned parts at their classical values is
    the classical iterator (here: circular blur, same start, same DPIR schedule)."""
    from hybrid_deblur.learned.models import UnrolledHQS
    from hybrid_deblur.solvers import HQS, wiener
    from hybrid_deblur.solvers.auto import dpir_schedule

    net = UnrolledHQS(stages=4, channels=1, prior="drunet", widths=(4, 8), schedule="dpir", init="wiener")
    with torch.no_grad():
        net.prior.tail.weight.normal_(0, 0.05)  # a non-trivial denoiser
    net = net.double().eval()
    x = _scene(40)
    k = np.ones((5, 5)) / 25
    y = Blur(k, "circular")(x) + 0.01 * np.random.default_rng(2).standard_normal(x.shape)
    with torch.no_grad():
        got = net(torch.from_numpy(y)[None, None], torch.from_numpy(k), 0.01, boundary="circular")[0, 0].numpy()
    sig, mu = dpir_schedule(0.01, 4, lam=0.23)
    x0 = wiener(y, k, boundary="circular", sigma=0.01)
    ref = HQS(y, k, prior=denoiser_prior(net.prior), mu_schedule=mu, sigma_schedule=sig,
              boundary="circular", x0=x0).run()
    np.testing.assert_allclose(got, ref, rtol=0, atol=1e-9)


class _Spy(torch.nn.Module):
    """Parameter-free 'denoiser' that records its input and returns ``x * gain``."""

    channels = 1

    def __init__(self, gain=1.0):
        super().__init__()
        self.seen, self.gain = [], gain

    def forward(self, x, sigma):
        self.seen.append((x.clone(), sigma))
        return x * self.gain


def test_opponent_colour_planes_are_an_orthonormal_round_trip():
    from hybrid_deblur.learned.pnp import CHROMA_OFFSET, OPPONENT

    v = np.random.default_rng(4).random((3, 16, 18))
    spy = _Spy()
    z = denoiser_prior(spy)(v, 0.03)  # gray model + RGB: opponent planes by default
    np.testing.assert_allclose(z, v, rtol=0, atol=1e-12)  # identity denoiser -> exact round trip
    (planes, s), = spy.seen
    assert planes.shape == (3, 1, 16, 18) and s == 0.03  # orthonormal: the same sigma per plane
    ref = np.einsum("ij,jhw->ihw", OPPONENT, v) + np.array([0, CHROMA_OFFSET, CHROMA_OFFSET])[:, None, None]
    np.testing.assert_allclose(planes[:, 0].numpy(), ref, atol=1e-12)
    np.testing.assert_allclose(planes[0, 0].numpy(), v.sum(0) / np.sqrt(3), atol=1e-12)
    # a denoiser that scales its input: the offset is removed from the chroma planes again
    z2 = denoiser_prior(_Spy(0.5))(v, 0.03)
    back = np.einsum("ji,jhw->ihw", OPPONENT, 0.5 * ref - np.array([0, 0.5, 0.5])[:, None, None])
    np.testing.assert_allclose(z2, back, atol=1e-12)
    # per-channel: three gray planes as they are
    spy = _Spy()
    denoiser_prior(spy, colour="per-channel")(v, 0.03)
    np.testing.assert_allclose(spy.seen[0][0][:, 0].numpy(), v, atol=0)


def test_colour_modes_are_checked():
    gray = denoiser_prior(_Spy())
    with pytest.raises(ValueError, match="colour must be"):
        denoiser_prior(_Spy(), colour="lab")(np.zeros((3, 8, 8)), 0.1)
    with pytest.raises(ValueError, match="needs a 3-channel denoiser"):
        denoiser_prior(_Spy(), colour="joint")(np.zeros((3, 8, 8)), 0.1)
    with pytest.raises(ValueError, match="leading axis of 3"):
        denoiser_prior(_Spy(), colour="opponent")(np.zeros((2, 8, 8)), 0.1)
    assert gray(np.ones((2, 8, 8)), 0.1).shape == (2, 8, 8)  # not RGB: plane by plane


@pytest.mark.skipif("drunet_gray" not in shipped_weights(), reason="no shipped denoiser")
def test_gray_denoiser_on_opponent_planes_adds_less_false_colour_than_per_channel():
    from hybrid_deblur.learned.data import synthetic_images
    from hybrid_deblur.learned.pnp import get_denoiser

    gray = synthetic_images(1, 96, seed=7)[0][0].astype(np.float64)
    sharp = np.repeat(gray[None], 3, axis=0)  # a neutral scene
    v = sharp + 15 / 255 * np.random.default_rng(5).standard_normal(sharp.shape)
    net = get_denoiser(1)

    def false_colour(a):
        return float(np.abs(a - a.mean(0, keepdims=True)).mean())

    zo = denoiser_prior(net, colour="opponent")(v, 15 / 255)
    zp = denoiser_prior(net, colour="per-channel")(v, 15 / 255)
    assert false_colour(zo) < 0.5 * false_colour(zp), (false_colour(zo), false_colour(zp))
    assert _psnr(zo, sharp) > _psnr(zp, sharp), (_psnr(zo, sharp), _psnr(zp, sharp))


def test_mc_sure_matches_the_closed_form_divergence_of_a_linear_smoother():
    from scipy.ndimage import uniform_filter

    from hybrid_deblur.learned.pnp import mc_sure

    rng = np.random.default_rng(6)
    x = np.clip(_scene(256) + 0.1 * np.sin(np.arange(256) / 3)[None], 0, 1)
    s = 0.05
    y = x + s * rng.standard_normal(x.shape)
    f = lambda v: uniform_filter(v, 3, mode="wrap")  # noqa: E731 - div = N / 9 exactly
    fy = f(y)
    closed = np.mean((fy - y) ** 2) - s ** 2 + 2 * s ** 2 / 9  # SURE with the exact divergence
    est = mc_sure(f, y, s, fy=fy)
    assert abs(est - closed) < 0.06 * 2 * s ** 2 / 9  # MC divergence within 6 % (3.5 std)
    assert abs(est - np.mean((fy - x) ** 2)) < 0.05 * np.mean((fy - x) ** 2)  # = the true MSE
    with pytest.raises(ValueError, match="sigma must be > 0"):
        mc_sure(f, y, 0.0)


class _Blurry(torch.nn.Module):
    """A harmful 'denoiser': a strong Gaussian blur whatever the noise level."""

    channels = 1

    def forward(self, x, sigma):
        from scipy.ndimage import gaussian_filter

        a = x.detach().cpu().numpy()
        return torch.from_numpy(np.stack([gaussian_filter(p, 3.0) for p in a.reshape(-1, *a.shape[-2:])])
                                .reshape(a.shape)).to(x.dtype)


def test_pnp_on_a_delta_kernel_keeps_the_input_unless_sure_says_the_denoiser_helps():
    rng = np.random.default_rng(7)
    x = np.clip(_scene(64) + 0.15 * rng.random((64, 64)), 0, 1)  # texture a blur destroys
    delta = np.ones((1, 1))
    y = x + 0.01 * rng.standard_normal(x.shape)
    out, info = pnp_drunet(y, delta, sigma=0.01, model=_Blurry(), return_info=True)
    assert info["no_harm"]["returned"] == "input" and np.array_equal(out, y)
    raw = pnp_drunet(y, delta, sigma=0.01, model=_Blurry(), no_harm=False)
    assert _psnr(raw, x) < _psnr(y, x) - 3  # what the guard avoided
    assert info["no_harm"]["sure_mse"] > 2 * info["no_harm"]["input_mse"]
    # a real denoiser on a noisy, piecewise-smooth image is kept (and helps)
    x = _scene(64)
    y = x + 0.1 * rng.standard_normal(x.shape)
    out, info = pnp_drunet(y, delta, sigma=0.1, model=TVProx(), return_info=True)
    assert info["no_harm"]["returned"] == "pnp" and _psnr(out, x) > _psnr(y, x) + 3
    # a blur kernel: no guard (nothing to compare with on the same frame)
    assert "no_harm" not in pnp_drunet(y, np.ones((3, 3)) / 9, sigma=0.1, model=TVProx(), return_info=True)[1]


def test_x8_self_ensemble_is_the_mean_over_rotations_and_flips():
    """The ensembled prior equals the hand-written mean of T^-1 D(T v) over the 8 dihedral T
    (NumPy rot90/flip), is the plain prior for an equivariant denoiser, and pnp_drunet's
    ``ensemble=k`` ensembles exactly the last k iterations of the same schedule."""
    from hybrid_deblur.solvers import HQS

    net = DRUNet(1, widths=(4, 8))
    with torch.no_grad():
        net.tail.weight.normal_(0, 0.05)  # not rotation-equivariant
    v = np.random.default_rng(0).random((20, 24))
    plain, d8 = denoiser_prior(net), denoiser_prior(net, ensemble=True)
    ref = np.zeros_like(v)
    for r in range(4):
        for flip in (False, True):
            a = np.rot90(v, r)
            a = a[:, ::-1] if flip else a
            z = plain(np.ascontiguousarray(a), 0.05)
            ref += np.rot90(z[:, ::-1] if flip else z, -r)
    np.testing.assert_allclose(d8(v, 0.05), ref / 8, atol=1e-6)
    assert not np.allclose(d8(v, 0.05), plain(v, 0.05), atol=1e-4)

    class Smooth(torch.nn.Module):  # a Gaussian filter (symmetric boundary): commutes with every T
        channels = 1

        def forward(self, x, sigma):
            from scipy.ndimage import gaussian_filter

            return torch.from_numpy(gaussian_filter(x.numpy(), (0, 0, 1.5, 1.5), mode="reflect"))

    np.testing.assert_allclose(denoiser_prior(Smooth(), ensemble=True)(v, 0.05),
                               denoiser_prior(Smooth())(v, 0.05), atol=1e-12)
    # ensemble=2: HQS with the plain prior except on the last two sigmas of the schedule
    x = _scene(40)
    k = np.ones((5, 5)) / 25
    y = Blur(k, "valid")(x) + 0.01 * np.random.default_rng(1).standard_normal((36, 36))
    got, info = pnp_drunet(y, k, sigma=0.01, model=net, ensemble=2, num_iter=5, return_info=True,
                           precision="input")
    last2 = info["sigma_schedule"][-2:]
    ref = HQS(y, k, prior=lambda u, s: d8(u, s) if s in last2 else plain(u, s), sigma=0.01, lam=0.23,
              num_iter=5).run()
    np.testing.assert_allclose(got, ref, atol=1e-10)
    assert not np.allclose(got, pnp_drunet(y, k, sigma=0.01, model=net, num_iter=5), atol=1e-5)
    for bad in (-1, 6, 1.5, True):
        with pytest.raises(ValueError, match="ensemble must be an integer"):
            pnp_drunet(y, k, sigma=0.01, model=net, ensemble=bad, num_iter=5)
    with pytest.raises(TypeError, match="ensemble must be True or False"):
        denoiser_prior(net, ensemble=2)


def test_fast_preset_is_pnp_with_four_iterations():
    from hybrid_deblur.analysis.registry import get_method, method_kind
    from hybrid_deblur.learned.pnp import FAST_ITERATIONS, FAST_LAMBDA, pnp_drunet_fast

    assert get_method("pnp-drunet-fast") is pnp_drunet_fast and method_kind("pnp-drunet-fast") == "hybrid"
    net = DRUNet(1, widths=(4, 8))
    with torch.no_grad():
        net.tail.weight.normal_(0, 0.05)
    x = _scene(40)
    k = np.ones((5, 5)) / 25
    y = Blur(k, "valid")(x) + 0.01 * np.random.default_rng(1).standard_normal((36, 36))
    got, info = pnp_drunet_fast(y, k, sigma=0.01, model=net, return_info=True)
    assert FAST_ITERATIONS == 4 and len(info["sigma_schedule"]) == 4 and FAST_LAMBDA == 0.18
    np.testing.assert_array_equal(got, pnp_drunet(y, k, sigma=0.01, model=net, num_iter=4, lam=FAST_LAMBDA))
    # RGB keeps DPIR's lambda
    y3 = np.stack([y, y[::-1], y[:, ::-1]])
    np.testing.assert_array_equal(pnp_drunet_fast(y3, k, sigma=0.01, model=net),
                                  pnp_drunet(y3, k, sigma=0.01, model=net, num_iter=4, lam=0.23))
    assert not np.allclose(got, pnp_drunet(y, k, sigma=0.01, model=net), atol=1e-5)


@pytest.mark.skipif("drunet_color" not in shipped_weights(), reason="no shipped colour denoiser")
def test_shipped_colour_denoiser_is_joint_by_default_and_adds_no_more_false_colour_than_opponent_planes():
    from hybrid_deblur.learned.data import synthetic_images
    from hybrid_deblur.learned.pnp import get_denoiser
    from hybrid_deblur.learned.weights import load_model, read_card, sha256_file

    path = shipped_weights()["drunet_color"]
    assert read_card(path)["sha256"] == sha256_file(path)  # offline, checksum-verified load
    col = get_denoiser(3)
    assert col.channels == 3 and col.config == dict(load_model(path).config)
    gray = get_denoiser(1)
    assert gray.channels == 1
    # pnp-drunet on an RGB image uses the colour model jointly by default
    x = np.stack([synthetic_images(1, 48, seed=s)[0][0].astype(np.float64) for s in (1, 2, 3)])
    k = np.ones((5, 5)) / 25
    y = Blur(k, "valid")(x) + 0.01 * np.random.default_rng(4).standard_normal((3, 44, 44))
    got = pnp_drunet(y, k, sigma=0.01)
    np.testing.assert_array_equal(got, pnp_drunet(y, k, sigma=0.01, model=col, colour="joint"))
    assert not np.allclose(got, pnp_drunet(y, k, sigma=0.01, model=gray, colour="opponent"), atol=1e-4)
    # a neutral scene: the joint model adds no more false colour than the gray model on opponent planes
    g = synthetic_images(1, 96, seed=7)[0][0].astype(np.float64)
    sharp = np.repeat(g[None], 3, axis=0)
    v = sharp + 15 / 255 * np.random.default_rng(5).standard_normal(sharp.shape)

    def false_colour(a):
        return float(np.abs(a - a.mean(0, keepdims=True)).mean())

    zj = denoiser_prior(col)(v, 15 / 255)
    zo = denoiser_prior(gray, colour="opponent")(v, 15 / 255)
    assert false_colour(zj) <= false_colour(zo), (false_colour(zj), false_colour(zo))
    assert false_colour(zj) < 0.2 * false_colour(v)


def _random_drunet(channels, seed=0):
    torch.manual_seed(seed)
    net = DRUNet(channels, widths=(8, 16, 24)).eval()
    torch.nn.init.normal_(net.tail.weight, std=0.05)
    return net


@pytest.mark.skipif(not __import__("hybrid_deblur.learned.denoiser_onnx", fromlist=["x"]).onnx_available(),
                    reason="optional onnx / onnxruntime not installed")
def test_onnxruntime_engine_equals_torch_and_follows_weight_updates():
    from hybrid_deblur.learned.denoiser_onnx import has_core, onnx_core
    from hybrid_deblur.learned.pnp import AUTO_ONNX_PIXELS

    rng = np.random.default_rng(0)
    for ch, colour, v in ((1, None, rng.random((37, 45))), (3, "joint", rng.random((3, 40, 33))),
                          (1, "opponent", rng.random((3, 29, 50)))):
        net = _random_drunet(ch)
        a = denoiser_prior(net, colour=colour, engine="torch")(v, 0.07)
        b = denoiser_prior(net, colour=colour, engine="onnx")(v, 0.07)
        assert np.abs(a).max() > 0 and np.abs(a - v).max() > 1e-3  # the net does something
        np.testing.assert_allclose(b, a, atol=2e-5)
    # the whole PnP run, and the exported graph is re-made when the weights change in place
    net = _random_drunet(1, seed=1)
    y = rng.random((48, 52))
    k = np.ones((5, 5)) / 25
    ref = pnp_drunet(y, k, sigma=0.02, model=net, engine="torch", precision="input")
    np.testing.assert_allclose(pnp_drunet(y, k, sigma=0.02, model=net, engine="onnx", precision="input"), ref,
                               atol=1e-5)
    core = onnx_core(net)
    with torch.no_grad():
        net.tail.weight.mul_(-1)
    assert not has_core(net) and onnx_core(net) is not core
    np.testing.assert_allclose(denoiser_prior(net, engine="onnx")(y, 0.05),
                               denoiser_prior(net, engine="torch")(y, 0.05), atol=2e-5)
    # "auto" exports only for large inputs (or an already exported graph)
    small = _random_drunet(1, seed=2)
    denoiser_prior(small)(rng.random((40, 40)), 0.05)
    assert not has_core(small)
    side = int(np.ceil(np.sqrt(AUTO_ONNX_PIXELS)))
    denoiser_prior(small)(rng.random((side, side)), 0.05)
    assert has_core(small)


def test_engine_is_checked():
    net = _random_drunet(1)
    with pytest.raises(ValueError, match="engine"):
        denoiser_prior(net, engine="tensorrt")(np.zeros((16, 16)), 0.1)
    with pytest.raises(ValueError, match="engine"):
        pnp_drunet(np.zeros((16, 16)), np.ones((3, 3)) / 9, sigma=0.01, model=net, engine="fast")
    with pytest.raises(ValueError, match="float32 DRUNet"):
        denoiser_prior(net.double(), engine="onnx")(np.zeros((16, 16)), 0.1)
    with pytest.raises(ValueError, match="float32 DRUNet"):
        denoiser_prior(TVProx(), engine="onnx")(np.zeros((16, 16)), 0.1)


def test_float32_iterations_match_float64_and_keep_the_dtype():
    """precision='float32' (default) solves a float64 input in float32 and returns float64."""
    x = _scene(48)
    k = np.ones((5, 5)) / 25
    y = Blur(k, "valid")(x) + 0.01 * np.random.default_rng(3).standard_normal((44, 44))
    a = pnp_drunet(y, k, sigma=0.01, model=TVProx())
    b = pnp_drunet(y, k, sigma=0.01, model=TVProx(), precision="input")
    assert a.dtype == b.dtype == np.float64
    assert float(np.abs(a - b).max()) < 1e-4 and not np.array_equal(a, b)
    with pytest.raises(ValueError, match="precision"):
        pnp_drunet(y, k, sigma=0.01, model=TVProx(), precision="half")


@pytest.mark.parametrize("boundary", ["auto", "valid"])
def test_unrolled_pnp_with_cg_data_steps_is_pnp_drunet_on_valid_blur(boundary):
    """UnrolledHQS(prior=drunet, schedule=dpir, init=observation, data_solver=cg) with zero
    hyper corrections is pnp_drunet with the same denoiser: same start, same schedule, the
    engine's CG data step (PNP_DATA_ITERS, its tolerance) on the honest valid model."""
    from hybrid_deblur.learned.models import UnrolledHQS

    net = UnrolledHQS(stages=4, channels=1, prior="drunet", widths=(4, 8), schedule="dpir",
                      init="observation")
    assert net.data_solver == "cg" and net.config["data_solver"] == "cg"
    with torch.no_grad():
        net.prior.tail.weight.normal_(0, 0.05)  # a non-trivial denoiser
    net = net.double().eval()
    x = _scene(44)
    k = np.zeros((7, 7))
    k[3, 1:6] = 0.15
    k[2, 2] = k[4, 4] = 0.125
    op = Blur(k, "valid")
    y = op(x) + 0.01 * np.random.default_rng(2).standard_normal(op.output_shape(x.shape))
    with torch.no_grad():
        got = net(torch.from_numpy(y)[None, None], torch.from_numpy(k), 0.01, boundary=boundary)[0, 0].numpy()
    ref = pnp_drunet(y, k, sigma=0.01, model=net.prior, num_iter=4, boundary=boundary,
                     precision="input", engine="torch")
    assert got.shape == ref.shape
    np.testing.assert_allclose(got, ref, rtol=0, atol=1e-9)
    # the former one-step MM data step is a different (worse-converged) algorithm
    mm = UnrolledHQS(stages=4, channels=1, prior="drunet", widths=(4, 8), schedule="dpir",
                     init="observation", data_solver="mm").double().eval()
    mm.load_state_dict(net.state_dict())
    with torch.no_grad():
        got_mm = mm(torch.from_numpy(y)[None, None], torch.from_numpy(k), 0.01, boundary=boundary)[0, 0].numpy()
    assert np.abs(got_mm - ref).max() > 1e-4


def test_unrolled_pnp_gradients_reach_the_denoiser_through_the_cg_steps():
    """Autograd runs through the CG iterations: gradcheck of the map z -> CG data step, and
    a loss after two stages has a nonzero gradient for every denoiser parameter group,
    matching a finite difference along the denoiser's tail weights."""
    from hybrid_deblur.learned.dc import DataTerm
    from hybrid_deblur.learned.models import UnrolledHQS

    rng = np.random.default_rng(3)
    y = torch.from_numpy(rng.random((1, 1, 12, 12)))
    k = torch.from_numpy(np.ones((3, 3)) / 9)
    dt = DataTerm(y, k, boundary="auto")
    z = dt.observation_init().clone().requires_grad_(True)
    alpha = torch.tensor([0.05], dtype=torch.float64, requires_grad=True)
    assert torch.autograd.gradcheck(lambda zz, aa: dt.x_step(zz, aa, solver="cg", iters=3),
                                    (z, alpha), eps=1e-6, atol=1e-6)

    torch.manual_seed(0)
    net = UnrolledHQS(stages=2, channels=1, prior="drunet", widths=(4, 8), schedule="dpir",
                      init="observation", data_iters=4).double()
    with torch.no_grad():
        net.prior.tail.weight.normal_(0, 0.05)
    x = torch.from_numpy(_scene(24))[None, None]
    yb = torch.from_numpy(Blur(k.numpy(), "valid")(_scene(24)))[None, None]

    def loss_of(m):
        return (m(yb, k, 0.01, boundary="valid") - x).abs().mean()

    loss = loss_of(net)
    loss.backward()
    g = net.prior.tail.weight.grad
    assert g is not None and float(g.abs().sum()) > 0
    assert all(p.grad is not None for p in net.prior.parameters())
    d = torch.randn_like(net.prior.tail.weight)
    eps = 1e-6
    with torch.no_grad():
        net.prior.tail.weight.add_(eps * d)
        lp = float(loss_of(net))
        net.prior.tail.weight.sub_(2 * eps * d)
        lm = float(loss_of(net))
        net.prior.tail.weight.add_(eps * d)
    fd = (lp - lm) / (2 * eps)
    assert abs(fd - float((g * d).sum())) < 1e-5 * max(1.0, abs(fd)), (fd, float((g * d).sum()))


class _Counting(torch.nn.Module):
    """Identity 'denoiser' that counts its calls."""

    channels = 1

    def __init__(self):
        super().__init__()
        self.calls = 0

    def forward(self, x, sigma):
        self.calls += 1
        return x


@pytest.mark.parametrize("boundary", ["auto", "valid", "circular"])
def test_pnp_on_a_1x1_kernel_without_sigma_returns_the_input_without_running(boundary):
    y = _scene(32) + 0.01 * np.random.default_rng(0).standard_normal((32, 32))
    net = _Counting()
    out, info = pnp_drunet(y, np.ones((1, 1)), model=net, boundary=boundary, return_info=True)
    assert net.calls == 0 and np.array_equal(out, y) and out is not y
    assert info["no_harm"]["returned"] == "input" and info["iterations"] == 0
    # with sigma the run happens (and the SURE guard decides)
    pnp_drunet(y, np.ones((1, 1)), model=net, sigma=0.01, boundary=boundary)
    assert net.calls > 0


def test_unrolled_pnp_shares_the_1x1_no_harm_guard():
    from hybrid_deblur.learned.inference import unrolled_pnp
    from hybrid_deblur.learned.models import UnrolledHQS

    net = UnrolledHQS(stages=2, channels=1, prior="drunet", widths=(4, 8), schedule="dpir",
                      init="observation").eval()  # restore_with runs in float32
    blurry = _Blurry()
    net.prior.residual = lambda inp, core=None: blurry(inp[:, :1], 0.0) - inp[:, :1]  # a harmful prior
    rng = np.random.default_rng(7)
    x = np.clip(_scene(48) + 0.15 * rng.random((48, 48)), 0, 1)
    y = x + 0.01 * rng.standard_normal(x.shape)
    delta = np.ones((1, 1))
    np.testing.assert_array_equal(unrolled_pnp(y, delta, model=net), y)          # sigma estimated
    np.testing.assert_array_equal(unrolled_pnp(y, delta, sigma=0.01, model=net), y)  # SURE refuses
    # a blur kernel: no guard, the network's own result
    k = np.ones((3, 3)) / 9
    assert not np.array_equal(unrolled_pnp(y, k, sigma=0.01, model=net), y)


@pytest.mark.skipif("unrolled_pnp_gray" not in shipped_weights(), reason="no shipped unrolled-pnp")
def test_shipped_unrolled_pnp_beats_pnp_drunet_on_held_out_blur():
    """Regression on measured quality: the fine-tuned network over the engine's PnP with the
    denoiser it started from, on held-out train400 files (every 33rd, never trained on)."""
    from pathlib import Path

    from hybrid_deblur.io import imread
    from hybrid_deblur.learned.data import list_images
    from hybrid_deblur.learned.inference import unrolled_pnp
    from hybrid_deblur.psf import disk, trajectory_motion

    data = Path(__file__).resolve().parents[1] / ".." / "shared" / "data" / "train400"
    if not data.is_dir():
        pytest.skip("../shared/data not present")
    files = [f for i, f in enumerate(list_images([str(data)])) if i % 33 == 0][1:3]
    gain = []
    for i, f in enumerate(files):
        a = imread(f, linear=True, gray=True)
        x = a[a.shape[0] // 2 - 48:a.shape[0] // 2 + 48, a.shape[1] // 2 - 48:a.shape[1] // 2 + 48]
        for k in (trajectory_motion(size=15, seed=40 + i), disk(3.0)):
            k = k / k.sum()
            y = Blur(k, "valid")(x) + 0.03 * np.random.default_rng(i).standard_normal(
                (96 - k.shape[0] + 1,) * 2)
            o = k.shape[0] // 2
            ref = x[o:o + y.shape[0], o:o + y.shape[1]]
            gain.append(_psnr(unrolled_pnp(y, k, sigma=0.03), ref) - _psnr(pnp_drunet(y, k, sigma=0.03), ref))
    assert np.mean(gain) > 0.1, gain


def test_unrolled_pnp_inference_runs_the_denoiser_on_onnxruntime_like_pnp_drunet(monkeypatch):
    """Without gradients, a float32 eval DRUNet prior uses pnp_drunet's engine='auto' rule
    (onnxruntime for large inputs; the threshold lowered here): same result as torch."""
    import hybrid_deblur.learned.pnp as P
    from hybrid_deblur.learned.denoiser_onnx import has_core, onnx_available
    from hybrid_deblur.learned.models import UnrolledHQS

    if not onnx_available():
        pytest.skip("onnx extra not installed")
    net = UnrolledHQS(stages=2, channels=1, prior="drunet", widths=(4, 8), schedule="dpir",
                      init="observation").eval()
    with torch.no_grad():
        net.prior.tail.weight.normal_(0, 0.05)
    y = torch.from_numpy(_scene(40)).float()[None, None]
    k = torch.ones(5, 5) / 25
    ref = net(y, k, 0.01).detach()            # gradients on: torch engine
    assert not has_core(net.prior)
    monkeypatch.setattr(P, "AUTO_ONNX_PIXELS", 0)
    with torch.no_grad():
        got = net(y, k, 0.01)
    assert has_core(net.prior)                # the exported graph was used
    torch.testing.assert_close(got, ref, rtol=0, atol=1e-4)
