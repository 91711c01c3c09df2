"""Plug-and-play deblurring: the engine's HQS iterator with the learned denoiser as its z-step.

:func:`pnp_drunet` is DPIR (Zhang et al., 2021) on this toolkit's engine: it builds
:class:`hybrid_deblur.solvers.HQS` with ``prior=`` a :class:`~hybrid_deblur.learned.denoiser.DRUNet`
wrapped by :func:`denoiser_prior`, so the x-step is the operator's own data step
(:meth:`hybrid_deblur.physics.Blur.prox_data`, every boundary including ``valid``) and the
schedule is the engine's DPIR schedule (:func:`hybrid_deblur.solvers.auto.dpir_schedule`:
σ_k log-spaced from 49/255 to the image σ, μ_k = λσ²/σ_k², λ = 0.23, 6 iterations). No HQS loop is
written here.

Examples
--------
>>> import numpy as np
>>> from hybrid_deblur.learned.pnp import pnp_drunet
>>> from hybrid_deblur.physics import degrade
>>> x = np.random.default_rng(0).random((64, 64))
>>> y, _ = degrade(x, np.ones((5, 5)) / 25, boundary="valid", noise=0.01, seed=0)
>>> pnp_drunet(y, np.ones((5, 5)) / 25, sigma=0.01).shape       # doctest: +SKIP
(60, 60)
"""

from __future__ import annotations

from typing import Any, Callable

import numpy as np
import torch

from .. import backend as B

__all__ = ["denoiser_prior", "pnp_drunet", "pnp_drunet_fast", "get_denoiser", "mc_sure", "SHIPPED_DENOISERS", "OPPONENT",
           "identity_guard_applies", "identity_no_harm",
           "FAST_ITERATIONS", "FAST_LAMBDA", "ENGINES",
           "AUTO_ONNX_PIXELS", "PRECISIONS"]


#: channels -> shipped weight stem. Gray: the 0.43 M-parameter ``drunet_lite_gray`` (trained for
#: 70 k bf16 steps) replaced the 1.72 M ``drunet_gray`` (10 k fp32 steps) as pnp-drunet's prior in
#: session 8: held-out denoising 32.61 vs 32.42 dB, Levin synthetic interior 34.00 / 29.91 vs
#: 33.87 / 29.88, BSD68 sigma 0.01 equal or better on every family, 4x fewer FLOPs per pass
SHIPPED_DENOISERS = {1: "drunet_lite_gray", 3: "drunet_color"}


def get_denoiser(channels: int = 1, *, weights: Any = None) -> torch.nn.Module:
    """The shipped denoiser for ``channels`` (colour falls back to gray), or ``weights``."""
    from .inference import _load_cached
    from .weights import WeightsError, shipped_weights

    import os

    if weights is not None:
        p = os.fspath(weights)
        return _load_cached(p, os.path.getmtime(p) if os.path.exists(p) else 0.0)
    have = shipped_weights()
    stem = SHIPPED_DENOISERS[3] if channels == 3 and SHIPPED_DENOISERS[3] in have else SHIPPED_DENOISERS[1]
    if stem not in have:
        raise WeightsError(f"no shipped denoiser ({stem}.pt is not in hybrid_deblur/learned/weights); "
                           "train one with `python -m hybrid_deblur.learned.train_denoiser --out RUN` "
                           "and pass weights=RUN/drunet_gray.pt")
    p = str(have[stem])
    return _load_cached(p, os.path.getmtime(p))


#: orthonormal opponent colour transform (rows: luminance, red-blue, green-magenta); being
#: orthonormal it keeps i.i.d. Gaussian noise i.i.d. with the same sigma in every plane
OPPONENT = np.array([[1, 1, 1], [np.sqrt(1.5), 0, -np.sqrt(1.5)],
                     [np.sqrt(0.5), -np.sqrt(2), np.sqrt(0.5)]]) / np.sqrt(3)
#: the opponent chroma planes (values around 0) are shifted to mid-gray before a gray denoiser
CHROMA_OFFSET = 0.5
_COLOUR_MODES = ("joint", "opponent", "per-channel")


def _colour_mode(colour: Any, mc: int, shape: tuple) -> str:
    three = len(shape) >= 3 and shape[-3] == 3
    if colour is None:
        return ("joint" if mc == 3 else "opponent") if three else "per-channel"
    mode = {True: "joint", False: "per-channel"}.get(colour, colour) if isinstance(colour, bool) else colour
    if mode not in _COLOUR_MODES:
        raise ValueError(f"colour must be None, True, False or one of {_COLOUR_MODES}, got {colour!r}")
    if mode != "per-channel" and not three:
        raise ValueError(f"colour={mode!r} needs an input with a leading axis of 3 (RGB), "
                         f"got shape {shape}")
    if mode == "joint" and mc != 3:
        raise ValueError("colour='joint' needs a 3-channel denoiser; this one has "
                         f"{mc} channel(s): use 'opponent' or 'per-channel'")
    return mode


def _dihedral_mean(f: Callable[[torch.Tensor], torch.Tensor], t: torch.Tensor) -> torch.Tensor:
    """Mean of ``T^-1 f(T t)`` over the 8 rotations/flips ``T`` of the last two axes (x8 self-ensemble)."""
    acc = None
    for r in range(4):
        for flip in (False, True):
            a = torch.rot90(t, r, (-2, -1))
            z = f((a.flip(-1) if flip else a).contiguous())
            z = torch.rot90(z.flip(-1) if flip else z, -r, (-2, -1))
            acc = z if acc is None else acc + z
    return acc / 8


#: denoiser engines: "torch" (eager), "onnx" (onnxruntime, :mod:`.denoiser_onnx`), "auto"
ENGINES = ("auto", "torch", "onnx")
#: ``engine="auto"`` exports to onnxruntime (~1 s once per process and network) only for inputs
#: of at least this many pixels (all planes), or when the network's graph is already exported
AUTO_ONNX_PIXELS = 2 ** 18


def _onnx_engine(engine: Any, model: Any, dev: torch.device, mdtype: Any, pixels: int = 0) -> bool:
    """Whether the denoiser runs on onnxruntime (see ``engine`` in :func:`denoiser_prior`)."""
    from .denoiser import DRUNet
    from .denoiser_onnx import has_core, onnx_available

    if engine not in ENGINES:
        raise ValueError(f"engine must be one of {ENGINES}, got {engine!r}")
    if engine == "torch":
        return False
    fits = (isinstance(model, DRUNet) and dev.type == "cpu" and mdtype == torch.float32
            and not model.training)
    if engine == "onnx":
        if not fits:
            raise ValueError("engine='onnx' runs a float32 DRUNet in eval mode on the CPU; got "
                             f"{type(model).__name__} ({mdtype}, device {dev})")
        if not onnx_available():
            raise ImportError("engine='onnx' needs onnx and onnxruntime (pip install 'hybrid-deblur[onnx]')")
        return True
    return fits and onnx_available() and (pixels >= AUTO_ONNX_PIXELS or has_core(model))


def denoiser_prior(model: torch.nn.Module, *, device: Any = None, colour: Any = None,
                   ensemble: bool = False, engine: str = "auto") -> Callable[[Any, float], Any]:
    """Wrap a denoiser ``model(x, sigma)`` as the engine's z-step ``prior(v, sigma) -> z``.

    ``v`` is an array of shape (H, W) or (..., H, W) (NumPy or torch, any float dtype); the
    result has ``v``'s kind, dtype and shape.

    Parameters
    ----------
    model : torch.nn.Module
        The denoiser ``model(x, sigma)`` on (B, C, H, W) tensors.
    device : str, optional
        torch device of the denoiser (default: the input's; CPU for NumPy).
    colour : {None, "joint", "opponent", "per-channel"} or bool
        How a leading axis of 3 (RGB) is denoised. ``"joint"``: by a 3-channel model;
        ``"opponent"``: a gray model on the planes of the orthonormal opponent transform
        :data:`OPPONENT` (luminance + two chroma planes shifted by :data:`CHROMA_OFFSET`),
        so the colour noise is removed where it lives instead of leaving per-channel
        residues (false colour); ``"per-channel"``: every plane alone. Default: joint for a
        colour model, opponent for a gray one, per-plane for other shapes. ``True`` /
        ``False`` mean joint / per-channel.
    ensemble : bool
        x8 self-ensemble: the mean of the denoiser over the 8 rotations / flips of the image
        (8 forwards instead of 1; equals the plain call for a rotation- and flip-equivariant
        denoiser).
    engine : {"auto", "torch", "onnx"}
        What runs the denoiser's U-Net: PyTorch, or onnxruntime (the same network exported
        once per process, :func:`hybrid_deblur.learned.denoiser_onnx.onnx_core`; outputs equal
        to ~1e-6, faster on a CPU). ``"auto"`` (default): onnxruntime for a float32
        :class:`~hybrid_deblur.learned.denoiser.DRUNet` in eval mode on the CPU when the
        optional ``onnx`` extra is installed and the input has at least
        :data:`AUTO_ONNX_PIXELS` pixels (or the graph is already exported), else torch.

    Examples
    --------
    >>> import numpy as np
    >>> from hybrid_deblur.learned.denoiser import DRUNet
    >>> prior = denoiser_prior(DRUNet(1, widths=(8, 16), blocks=1))
    >>> v = np.random.default_rng(0).random((3, 20, 20))
    >>> z = prior(v, 0.05)                 # gray model, RGB input: opponent planes
    >>> z.shape, z.dtype, bool(np.allclose(z, v, atol=1e-6))   # untrained = identity
    ((3, 20, 20), dtype('float64'), True)
    """
    if not isinstance(ensemble, (bool, np.bool_)):
        raise TypeError(f"ensemble must be True or False, got {ensemble!r}")
    mc = int(getattr(model, "channels", 1))
    params = list(model.parameters()) if isinstance(model, torch.nn.Module) else []
    mdtype = params[0].dtype if params else None  # parameter-free priors keep the input dtype

    @torch.no_grad()
    def prior(v, sigma):
        is_t = B.is_torch(v)
        t = v.detach() if is_t else torch.from_numpy(np.ascontiguousarray(B.to_numpy(v)))
        dev = torch.device(device) if device is not None else (t.device if is_t else torch.device("cpu"))
        shape = tuple(t.shape)
        mode = _colour_mode(colour, mc, shape)
        c = 3 if mode == "joint" else 1
        tb = t.to(device=dev, dtype=mdtype or t.dtype)
        net = model.to(dev) if isinstance(model, torch.nn.Module) else model

        if _onnx_engine(engine, net, dev, mdtype, int(np.prod(shape))):
            from .denoiser_onnx import onnx_core

            core = onnx_core(net)

            def call(b, s):
                return net(b, s, core=core)
        else:
            call = net

        def m(a, s):
            return _dihedral_mean(lambda b: call(b, s), a) if ensemble else call(a, s)

        if mode == "opponent":
            tb = tb.reshape(-1, 3, *shape[-2:])
            M = torch.as_tensor(OPPONENT, dtype=tb.dtype, device=dev)
            shift = torch.tensor([0.0, CHROMA_OFFSET, CHROMA_OFFSET], dtype=tb.dtype, device=dev)
            o = torch.einsum("ij,bjhw->bihw", M, tb) + shift[:, None, None]
            o = m(o.reshape(-1, 1, *shape[-2:]), float(sigma)).reshape(-1, 3, *shape[-2:])
            out = torch.einsum("ji,bjhw->bihw", M, o - shift[:, None, None])
        else:
            out = m(tb.reshape(-1, c, *shape[-2:]), float(sigma))
        out = out.reshape(shape)
        if is_t:
            return out.to(device=v.device, dtype=v.dtype)
        return out.cpu().numpy().astype(np.asarray(v).dtype, copy=False)

    return prior


def mc_sure(f: Callable[[Any], Any], y: Any, sigma: float, *, fy: Any = None, eps: float | None = None,
            seed: int = 0) -> float:
    r"""Monte-Carlo SURE: an unbiased estimate of the per-pixel MSE of ``f(y)`` against the
    clean image, for ``y`` = clean + i.i.d. Gaussian noise of std ``sigma``.

    Parameters
    ----------
    f : callable
        The estimator, ``f(y) -> x`` of ``y``'s shape (any black box: a denoiser, a whole
        plug-and-play run).
    y : array
        The noisy observation.
    sigma : float
        Noise std (> 0).
    fy : array, optional
        ``f(y)`` when already computed.
    eps : float, optional
        Probe step (default ``sigma / 100``).
    seed : int
        Seed of the Gaussian probe ``b``.

    Returns
    -------
    float

    Notes
    -----
    :math:`\mathrm{SURE} = \|f(y) - y\|^2/N - \sigma^2 + 2\sigma^2\,\mathrm{div} f(y)/N`,
    the divergence estimated with one probe,
    :math:`\mathrm{div} f \approx b^T(f(y + \epsilon b) - f(y))/\epsilon` (Ramani, Blu and
    Unser, 2008): one extra call of ``f``. The input itself scores :math:`\sigma^2`.

    Examples
    --------
    >>> import numpy as np
    >>> from hybrid_deblur.learned.pnp import mc_sure
    >>> rng = np.random.default_rng(0)
    >>> x = np.full((128, 128), 0.5)
    >>> y = x + 0.1 * rng.standard_normal(x.shape)
    >>> shrink = lambda v: 0.5 + 0.5 * (v - 0.5)      # a linear estimator: div = N / 2
    >>> est, true = mc_sure(shrink, y, 0.1), float(np.mean((shrink(y) - x) ** 2))
    >>> bool(abs(est - true) < 0.1 * true)
    True
    """
    sigma = float(sigma)
    if not sigma > 0:
        raise ValueError(f"sigma must be > 0 for SURE, got {sigma!r}")
    yn = np.asarray(B.to_numpy(y), dtype=np.float64)
    fy = np.asarray(B.to_numpy(f(y) if fy is None else fy), dtype=np.float64)
    eps = sigma / 100 if eps is None else float(eps)
    b = np.random.default_rng(seed).standard_normal(yn.shape)
    yp = B.asarray_like(yn + eps * b, y) if B.is_torch(y) else (yn + eps * b).astype(np.asarray(y).dtype)
    div = float(np.sum(b * (np.asarray(B.to_numpy(f(yp)), dtype=np.float64) - fy))) / eps
    n = yn.size
    return float(np.sum((fy - yn) ** 2)) / n - sigma ** 2 + 2 * sigma ** 2 * div / n


def identity_guard_applies(y: Any, psf: Any, boundary: str) -> bool:
    """Whether the 1x1 no-harm guard of :func:`identity_no_harm` applies: every PSF is a
    centred delta and the returned frame is ``y``'s (so the input is a candidate answer).

    Examples
    --------
    >>> import numpy as np
    >>> identity_guard_applies(np.zeros((8, 8)), np.ones((1, 1)), "auto")
    True
    >>> identity_guard_applies(np.zeros((8, 8)), np.ones((3, 3)) / 9, "auto")
    False
    """
    from ..solvers.auto import is_identity_kernel

    k = tuple(int(v) for v in getattr(psf, "shape", np.shape(psf)))[-2:]
    return bool(is_identity_kernel(psf)) and (boundary != "valid" or k == (1, 1))


def identity_no_harm(y: Any, x: Any, *, sigma_given: bool, noise_var: float,
                     again: Callable[[Any], Any]) -> tuple[Any, dict | None]:
    """The no-harm rule of a learned method on an unblurred image (1x1 / delta PSF).

    There is nothing to deblur and the method is a pure denoiser: keep its result ``x``
    only when its SURE estimate (:func:`mc_sure`, one extra run ``again(y')``) is below the
    input's noise variance ``noise_var``; otherwise return (a copy of) ``y``. Without a given
    σ (``sigma_given=False``) the estimate of the noise cannot be trusted for this and ``y``
    comes back. Shared by :func:`pnp_drunet` and
    :func:`hybrid_deblur.learned.inference.unrolled_pnp`.

    Returns
    -------
    (result, record)
        ``record`` (for ``info["no_harm"]``) is None when the rule did not decide (σ = 0).

    Examples
    --------
    >>> import numpy as np
    >>> y = np.random.default_rng(0).random((16, 16))
    >>> out, rec = identity_no_harm(y, y * 0, sigma_given=False, noise_var=1e-4, again=None)
    >>> bool(np.array_equal(out, y)), rec["returned"]
    (True, 'input')
    """
    if not sigma_given:
        # the noise level was estimated from y: fine texture inflates that estimate and SURE
        # computed with it cannot be trusted (no-harm matrix, 128² BSD68/Kodak crops, 1x1
        # kernel: 60 -> 34.6 dB at sigma 0, 40.0 -> 33.4 dB at 0.01). Like the classical
        # solvers, return the input: denoising an unblurred image needs a given sigma.
        return y + 0, {"sure_mse": None, "input_mse": noise_var, "returned": "input",
                       "reason": "sigma estimated"}
    if not noise_var > 0:
        return x, None
    sure = mc_sure(again, y, float(np.sqrt(noise_var)), fy=x)
    keep = sure < noise_var
    return (x if keep else y + 0), {"sure_mse": sure, "input_mse": noise_var,
                                    "returned": "pnp" if keep else "input"}


def pnp_drunet(y: Any, psf: Any, *, boundary: str = "auto", sigma: Any = None, num_iter: int = 6,
               lam: float = 0.23, weights: Any = None, model: Any = None, device: Any = None,
               x0: Any = None, colour: Any = None, no_harm: bool = True, ensemble: int = 0,
               engine: str = "auto", precision: str = "float32", data_iters: Any = None,
               progress: bool = False, return_info: bool = False):
    """Non-blind deblurring by plug-and-play HQS with the learned DRUNet denoiser (DPIR).

    Parameters
    ----------
    y : array (NumPy or torch), shape (H, W), (3, H, W) or (..., H, W)
        Blurred, noisy image in linear light. A leading axis of 3 is treated as RGB:
        denoised jointly by the colour denoiser when one is shipped, otherwise by the gray
        denoiser on opponent colour planes (see ``colour``).
    psf : array
        Blur kernel (one per channel allowed), centre at ``k // 2``, true convolution.
    boundary : {"auto", "valid", "circular", "reflect", "replicate", "zero"}
        Observation model (see :class:`hybrid_deblur.solvers.HQS`): ``"auto"`` solves the
        honest ``valid`` problem and returns ``y``'s frame, ``"valid"`` the whole scene.
    sigma : float or array, optional
        Noise std on the [0, 1] scale (estimated when None).
    num_iter : int
        HQS iterations of the DPIR schedule (6; DPIR uses 8: with the shipped CPU-trained
        denoiser 6 were 0.07 dB better on a held-out Levin / BSD68 subset, for two weight
        files, and take 25 % less time). Tried in session 5: 5 iterations at λ 0.18 were
        +0.05 dB on held-out train400/cbsd432 crops but -0.25 / -0.14 dB on the Levin
        synthetic benchmark and -0.07 dB on held-out colour crops, so 6 at 0.23 stay.
    lam : float
        DPIR trade-off λ (0.23).
    weights : path, optional
        A denoiser weight file (sha256-checked) instead of the shipped one.
    model : torch.nn.Module, optional
        A denoiser ``model(x, sigma)`` instead of weights.
    device : str, optional
        torch device of the denoiser (default: the input's; CPU for NumPy).
    x0 : array, optional
        Initial estimate (see :class:`~hybrid_deblur.solvers.HQS`).
    colour : {None, "joint", "opponent", "per-channel"}, optional
        How RGB planes are denoised (see :func:`denoiser_prior`; default: joint with a
        colour model, opponent planes with a gray one).
    no_harm : bool
        With a centred 1x1 (delta) PSF there is nothing to deblur and the run is a pure
        denoiser: keep its result only when its SURE estimate (:func:`mc_sure`, one extra
        run) is below the input's noise variance, otherwise return ``y`` (DESIGN: no harm).
        Without a given ``sigma`` the estimate of it cannot be trusted for this and ``y``
        comes back (pass ``sigma`` to denoise an unblurred image).
    ensemble : int
        The last ``ensemble`` iterations denoise with the x8 self-ensemble (rotations and
        flips, see :func:`denoiser_prior`): each costs 8 denoiser forwards instead of 1.
        0 (default) = off; ``num_iter`` = every iteration.
    engine : {"auto", "torch", "onnx"}
        What runs the denoiser (see :func:`denoiser_prior`; ``"auto"``: onnxruntime when the
        optional ``onnx`` extra is installed and the model is a float32 DRUNet on the CPU).
    precision : {"float32", "input"}
        Precision of the iterations. ``"float32"`` (default): a float64 input is solved in
        float32 like the denoiser, and the result is returned in the input's dtype (the CG
        data steps are about 1.4x faster on a 512² image; see :data:`PRECISIONS`);
        ``"input"``: the input's own precision.
    data_iters : int, optional
        CG iterations per data step (default: the engine's, :data:`~hybrid_deblur.solvers.hqs.PNP_DATA_ITERS`).
    progress : bool
        Show a progress bar.
    return_info : bool
        Also return the solver diagnostics (schedules, boundary, timing; ``no_harm`` with
        the SURE figures when the guard ran).

    Returns
    -------
    x : same kind as ``y`` (and ``info`` with ``return_info``)

    Notes
    -----
    Iteration k: :math:`x_k = \\arg\\min_x \\tfrac12\\|Ax - y\\|^2 + \\tfrac{\\mu_k}2\\|x - z_{k-1}\\|^2`
    (the engine's data step), :math:`z_k = D_\\theta(x_k, \\sigma_k)` (the denoiser).

    Examples
    --------
    >>> import numpy as np
    >>> from hybrid_deblur.learned.denoiser import DRUNet
    >>> from hybrid_deblur.physics import degrade
    >>> x = np.random.default_rng(0).random((48, 48))
    >>> y, _ = degrade(x, np.ones((5, 5)) / 25, boundary="valid", noise=0.01, seed=0)
    >>> pnp_drunet(y, np.ones((5, 5)) / 25, sigma=0.01, model=DRUNet(1, (8, 16))).shape
    (44, 44)
    """
    from ..solvers.hqs import HQS

    if model is None:
        shape = tuple(getattr(y, "shape", np.shape(y)))
        model = get_denoiser(3 if len(shape) >= 3 and shape[-3] == 3 else 1, weights=weights)
    if not callable(model):
        raise TypeError(f"model must be a denoiser module model(x, sigma), got {type(model).__name__}")
    if isinstance(ensemble, bool) or not isinstance(ensemble, (int, np.integer)) or not (
            0 <= ensemble <= (num_iter if isinstance(num_iter, (int, np.integer)) else ensemble)):
        raise ValueError(f"ensemble must be an integer in [0, num_iter={num_iter!r}] (iterations with the x8 "
                         f"self-ensemble), got {ensemble!r}")
    if engine not in ENGINES:
        raise ValueError(f"engine must be one of {ENGINES}, got {engine!r}")
    plain = denoiser_prior(model, device=device, colour=colour, engine=engine)
    d8 = denoiser_prior(model, device=device, colour=colour, ensemble=True, engine=engine) if ensemble else plain
    last = [-1.0]  # the ensemble starts at this sigma of the schedule (set once the solver knows it)

    def prior(v, s):
        return d8(v, s) if s <= last[0] else plain(v, s)

    if precision not in PRECISIONS:
        raise ValueError(f"precision must be one of {PRECISIONS}, got {precision!r}")
    work = y
    if precision == "float32" and str(getattr(y, "dtype", "")).endswith("float64"):
        work = y.float() if isinstance(y, torch.Tensor) else np.asarray(y, dtype=np.float32)
    solver = HQS(work, psf, prior=prior, sigma=sigma, lam=lam,
                 num_iter=num_iter, boundary=boundary, x0=x0, data_iters=data_iters)
    guard = no_harm and x0 is None and identity_guard_applies(y, psf, boundary)
    s2 = float(np.mean(np.asarray(solver.sigma, dtype=np.float64) ** 2))
    if guard and sigma is None:  # the guard returns the input whatever the run gives: skip it
        x, rec = identity_no_harm(y, None, sigma_given=False, noise_var=s2, again=None)
        info = {"iterations": 0, "prior": "denoiser", "sigma": solver.sigma, "boundary": boundary,
                "mu_schedule": solver.mu_schedule, "sigma_schedule": solver.sigma_schedule,
                "no_harm": rec}
        return (x, info) if return_info else x
    if ensemble:
        last[0] = float(solver.sigma_schedule[-ensemble]) * (1 + 1e-12)
    x = solver.run(progress=progress)
    info = solver.info
    if guard:
        def again(v):
            return HQS(v, psf, prior=prior, mu_schedule=solver.mu_schedule,
                       sigma_schedule=solver.sigma_schedule, boundary=boundary,
                       data_iters=data_iters).run()

        x, rec = identity_no_harm(y, x, sigma_given=True, noise_var=s2, again=again)
        if rec is not None:
            info = dict(info, no_harm=rec)
    if work is not y and x is not y:
        x = x.to(y.dtype) if isinstance(x, torch.Tensor) else np.asarray(x, dtype=y.dtype)
    return (x, info) if return_info else x


#: accepted ``precision`` of :func:`pnp_drunet`. Measured side by side (512² gray, 25-px shake,
#: 1 thread): one MM step per iteration 7.9 s/MP, CG data steps in float64 12.9, in float32 9.4.
PRECISIONS = ("float32", "input")

# the presets (pnp-drunet-fast, pnp-drunet-lite) live in .pnp_presets; re-exported here
from .pnp_presets import FAST_ITERATIONS, FAST_LAMBDA, pnp_drunet_fast  # noqa: E402
