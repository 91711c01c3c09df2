"""Restoration functions of the learned models, as registered in the method registry.

Each function is ``f(y, psf, *, boundary="auto", sigma=None, **kw) -> x``: it takes a
NumPy array or torch tensor of shape (H, W), (C, H, W) or (..., H, W) and returns
the same kind (library, device, dtype) and the same shape for ``boundary="auto"``
(the whole scene, larger by ``k - 1``, for ``"valid"``). σ is estimated with
:func:`hybrid_deblur.solvers.estimate_noise` (per channel) when not given. The
output is never clipped.

Weights: the shipped files of :mod:`hybrid_deblur.learned.weights` (sha256-checked),
or ``weights=path`` (a file written by the trainer), or ``model=`` (an
``nn.Module``). Colour images use the colour weights when they are shipped,
otherwise the gray model restores each channel.

Examples
--------
>>> import numpy as np
>>> from hybrid_deblur.learned.inference import unrolled_hqs
>>> from hybrid_deblur.physics import degrade
>>> x = np.random.default_rng(0).random((64, 64))
>>> y, _ = degrade(x, np.ones((5, 5)) / 25, boundary="valid", noise=0.01, seed=0)
>>> unrolled_hqs(y, np.ones((5, 5)) / 25).shape       # doctest: +SKIP
(60, 60)
"""

from __future__ import annotations

import os
from functools import lru_cache
from typing import Any

import numpy as np
import torch

from .. import backend as B
from .weights import WeightsError, load_model, shipped_weights

__all__ = ["unrolled_hqs", "deep_wiener", "unrolled_rl", "unrolled_pnp", "restore_with", "get_model"]

#: registry name -> (gray weights stem, colour weights stem, config that trains it)
SHIPPED = {
    "unrolled-hqs": ("unrolled_hqs_gray", "unrolled_hqs_color", "configs/unrolled_hqs_gray.toml"),
    "deep-wiener": ("deep_wiener_gray", "deep_wiener_color", "configs/deep_wiener_gray.toml"),
    "unrolled-rl": ("unrolled_rl_gray", "unrolled_rl_color", "configs/unrolled_rl_gray.toml"),
    "unrolled-pnp": ("unrolled_pnp_gray", "unrolled_pnp_color",
                     "python -m hybrid_deblur.learned.train_denoiser --finetune-share 1 --init "
                     "hybrid_deblur/learned/weights/drunet_gray.pt --channels 1 --ft-init observation "
                     "--ft-data-solver cg ... (see unrolled_pnp_gray.json)"),
}


@lru_cache(maxsize=8)
def _load_cached(path: str, mtime: float) -> torch.nn.Module:
    return load_model(path)


def get_model(name: str, *, channels: int = 1, weights: Any = None) -> torch.nn.Module:
    """The model restoring ``channels``-channel images for registry ``name`` (cached)."""
    if weights is not None:
        p = os.fspath(weights)
        return _load_cached(p, os.path.getmtime(p) if os.path.exists(p) else 0.0)
    gray, color, cfg = SHIPPED[name]
    have = shipped_weights()
    stem = color if channels == 3 and color in have else gray
    if stem not in have:
        raise WeightsError(
            f"method {name!r} has no shipped weights ({gray}.pt is not in "
            f"hybrid_deblur/learned/weights); train them with "
            f"`{cfg if cfg.startswith('python') else 'hybrid-deblur train --config ' + cfg}` "
            "and pass weights=<run>/... .pt, or use method 'unrolled-hqs'")
    p = str(have[stem])
    return _load_cached(p, os.path.getmtime(p))


def _sigma_for(y: np.ndarray | Any, sigma: Any, lead: tuple, c: int) -> np.ndarray:
    if sigma is None:
        from ..solvers import estimate_noise

        sigma = estimate_noise(y)
    s = np.asarray(B.to_numpy(sigma) if not np.isscalar(sigma) else sigma, dtype=np.float64)
    if np.any(~np.isfinite(s)) or np.any(s < 0):
        raise ValueError(f"sigma must be finite and >= 0 (noise std on the [0, 1] scale), got {sigma!r}")
    return np.array(np.broadcast_to(s, lead)).reshape(-1) if s.ndim else np.full(int(np.prod(lead or (1,))), float(s))


def restore_with(model: torch.nn.Module, y: Any, psf: Any, *, boundary: str = "auto",
                 sigma: Any = None, device: Any = None) -> Any:
    """Run ``model`` on an image of any supported kind; see the module notes."""
    is_t = B.is_torch(y)
    if not (is_t or B.is_numpy(y)):
        if B.is_cupy(y):
            raise TypeError("y is a CuPy array; learned models take NumPy arrays or torch tensors "
                            "(convert with cupy.asnumpy or torch.as_tensor)")
        y = np.asarray(y)
    y = B.as_float(y, name="y")
    if y.ndim < 2:
        raise ValueError(f"y must have at least 2 axes (H, W); got shape {tuple(y.shape)}")
    B.check_finite(y, "y")
    lead = tuple(int(v) for v in y.shape[:-2])
    n = int(np.prod(lead)) if lead else 1
    chans = lead[-1] if lead else 1
    yt = (y.detach() if is_t and not y.requires_grad else y) if is_t else torch.from_numpy(np.ascontiguousarray(y))
    dev = torch.device(device) if device is not None else (yt.device if is_t else torch.device("cpu"))
    yt = yt.to(device=dev, dtype=torch.float32)
    pt = torch.as_tensor(B.to_numpy(psf) if not B.is_torch(psf) else psf).to(dev, torch.float32)
    if pt.ndim < 2:
        raise ValueError(f"psf must have at least 2 axes (kh, kw); got shape {tuple(pt.shape)}")
    plead = tuple(pt.shape[:-2])
    try:
        pt = pt.expand(lead + tuple(pt.shape[-2:])) if plead else pt
    except RuntimeError:
        raise ValueError(f"psf leading axes {plead} do not broadcast against y's leading axes {lead}") from None
    sig = torch.as_tensor(_sigma_for(y, sigma, lead, chans), dtype=torch.float32, device=dev)
    m = model.to(dev)
    mc = int(getattr(m, "channels", 1))
    if mc > 1 and chans == mc:
        yb = yt.reshape(-1, mc, *yt.shape[-2:])
        pb = (pt.reshape(-1, mc, *pt.shape[-2:])[:, :1] if plead else pt[None, None])
        sb = sig.reshape(-1, mc).mean(1)
    else:
        yb = yt.reshape(n, 1, *yt.shape[-2:])
        pb = pt.reshape(n, 1, *pt.shape[-2:]) if plead else pt[None, None]
        sb = sig
    grad = is_t and y.requires_grad
    with torch.set_grad_enabled(grad):
        out = m(yb, pb, sb, boundary=boundary)
    out = out.reshape(lead + tuple(out.shape[-2:]))
    if is_t:
        return out.to(device=y.device, dtype=y.dtype)
    return out.detach().cpu().numpy().astype(y.dtype, copy=False)


def get_method_function(name: str):
    """The restoration function of registry ``name`` (``unrolled-hqs``, ``deep-wiener``, ``unrolled-rl``)."""
    fns = {"unrolled-hqs": unrolled_hqs, "deep-wiener": deep_wiener, "unrolled-rl": unrolled_rl,
           "unrolled-pnp": unrolled_pnp}
    if name not in fns:
        raise ValueError(f"method={name!r} is not a learned method; known: {', '.join(sorted(fns))}")
    return fns[name]


def _registered(name: str, y, psf, boundary, sigma, weights, model, device, kw):
    if kw:
        raise TypeError(f"{name}() got unexpected options {sorted(kw)}; accepted: boundary, "
                        "sigma, weights, model, device, progress")
    lead = tuple(int(v) for v in getattr(y, "shape", np.shape(y)))[:-2]
    chans = lead[-1] if lead else 1
    m = model if model is not None else get_model(name, channels=chans, weights=weights)
    return restore_with(m, y, psf, boundary=boundary, sigma=sigma, device=device)


def unrolled_hqs(y: Any, psf: Any, *, boundary: str = "auto", sigma: Any = None, weights: Any = None,
                 model: Any = None, device: Any = None, progress: bool = False, **kw) -> Any:
    """Non-blind deblurring with the learned unrolled HQS network (shipped weights).

    Parameters
    ----------
    y : array (NumPy or torch), shape (H, W), (C, H, W) or (..., H, W)
        Blurred, noisy image in linear light.
    psf : array, shape (kh, kw) or one per leading entry
        Blur kernel, centre at ``k // 2``, true convolution.
    boundary : {"auto", "valid", "circular", "reflect", "replicate", "zero"}
        ``"auto"``: unknown boundary (a photo), output of ``y``'s shape;
        ``"valid"``: the whole scene (larger by ``k - 1``); ``"circular"``: periodic model.
        ``reflect`` / ``replicate`` / ``zero`` are treated as ``"auto"``.
    sigma : float or array, optional
        Noise std on the [0, 1] scale (per channel); estimated when None.
    weights : path, optional
        A weight file (sha256-checked against its model card) instead of the shipped one.
    model : torch.nn.Module, optional
        A model object instead of weights.
    device : str, optional
        torch device to run on (default: the input's; CPU for NumPy).
    progress : bool
        Accepted for the uniform solver interface (one forward pass: no progress bar).

    Returns
    -------
    x : same kind as ``y``

    Notes
    -----
    See :class:`hybrid_deblur.learned.models.UnrolledHQS` for the algorithm.

    Examples
    --------
    >>> import numpy as np
    >>> from hybrid_deblur.learned.inference import unrolled_hqs
    >>> y = np.random.default_rng(0).random((48, 48))
    >>> unrolled_hqs(y, np.ones((3, 3)) / 9, sigma=0.01).shape   # doctest: +SKIP
    (48, 48)
    """
    return _registered("unrolled-hqs", y, psf, boundary, sigma, weights, model, device, kw)


def deep_wiener(y: Any, psf: Any, *, boundary: str = "auto", sigma: Any = None, weights: Any = None,
                model: Any = None, device: Any = None, progress: bool = False, **kw) -> Any:
    """Non-blind deblurring with the learned deep Wiener network (see :func:`unrolled_hqs`)."""
    return _registered("deep-wiener", y, psf, boundary, sigma, weights, model, device, kw)


def unrolled_rl(y: Any, psf: Any, *, boundary: str = "auto", sigma: Any = None, weights: Any = None,
                model: Any = None, device: Any = None, progress: bool = False, **kw) -> Any:
    """Non-blind deblurring with the learned unrolled Richardson-Lucy network (see :func:`unrolled_hqs`)."""
    return _registered("unrolled-rl", y, psf, boundary, sigma, weights, model, device, kw)


def unrolled_pnp(y: Any, psf: Any, *, boundary: str = "auto", sigma: Any = None, weights: Any = None,
                 model: Any = None, device: Any = None, progress: bool = False, **kw) -> Any:
    """Non-blind deblurring with UnrolledHQS on the DRUNet denoiser (DPIR schedule + learned
    corrections), fine-tuned end-to-end on ``valid`` blur (see :func:`unrolled_hqs`).

    Compared with :func:`hybrid_deblur.learned.pnp.pnp_drunet` (the engine's HQS with the
    denoiser and a fixed schedule), its per-stage weights are learned; colour images are
    restored channel by channel. On an unblurred image (centred delta PSF) the no-harm rule
    of ``pnp_drunet`` applies (:func:`hybrid_deblur.learned.pnp.identity_no_harm`): without a
    given ``sigma`` the input comes back, with one the result is kept only when its SURE
    estimate is below the noise variance.
    """
    from .pnp import identity_guard_applies, identity_no_harm

    def run(v):
        return _registered("unrolled-pnp", v, psf, boundary, sigma, weights, model, device, kw)

    if kw or not identity_guard_applies(y, psf, boundary):
        return run(y)  # (unknown options are refused there)
    if sigma is None:
        return identity_no_harm(y, None, sigma_given=False, noise_var=0.0, again=None)[0]
    s = np.asarray(B.to_numpy(sigma) if B.is_torch(sigma) else sigma, dtype=np.float64)
    x = run(y)
    return identity_no_harm(y, x, sigma_given=True, noise_var=float(np.mean(s ** 2)), again=run)[0]
