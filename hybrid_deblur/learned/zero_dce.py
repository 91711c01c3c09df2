"""Zero-DCE: zero-reference low-light enhancement by learned light-enhancement curves.

The network (Guo et al., CVPR 2020; 7 convolutions of 32 channels with concatenated
skips, ≈ 79 k parameters) looks at a low-light display-encoded RGB image and predicts,
for every pixel, 8 curve parameters per channel :math:`\\alpha_n \\in [-1, 1]`. The image is
brightened by iterating the quadratic light-enhancement curve

.. math:: LE(x) = x + \\alpha\\, x (1 - x),

which is monotone in :math:`x` and maps [0, 1] onto [0, 1] for every :math:`|\\alpha| \\le 1`
(:func:`apply_curves`). It is trained without reference images
(:mod:`hybrid_deblur.learned.zero_dce_train`) with four losses
(:func:`zero_dce_losses`): spatial consistency, exposure control, colour constancy and
illumination smoothness.

:func:`enhance_low_light` is the pre-step used by the deblurring pipeline
(``Deblurrer(..., low_light="zero-dce")``, ``hybrid-deblur deblur --low-light``): it takes a
linear-light image, runs the curves on its sRGB encoding and returns linear light. A
no-harm gate (``gate=``) leaves images whose mean display brightness is already above
the gate untouched.

Examples
--------
>>> import torch
>>> from hybrid_deblur.learned.zero_dce import ZeroDCE, apply_curves
>>> net = ZeroDCE()
>>> x = torch.rand(1, 3, 32, 32) * 0.1
>>> out, alpha = net(x)
>>> tuple(alpha.shape), bool(out.min() >= 0), bool(out.max() <= 1)
((1, 24, 32, 32), True, True)
"""

from __future__ import annotations

from functools import lru_cache
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch import nn
from torch.nn import functional as F

__all__ = [
    "EXPOSURE_LEVEL",
    "LOSS_WEIGHTS",
    "WEIGHTS",
    "ZeroDCE",
    "apply_curves",
    "enhance_low_light",
    "load_zero_dce",
    "zero_dce_losses",
]

#: shipped weights (sha256 in the model card next to it)
WEIGHTS = Path(__file__).resolve().parent / "weights" / "zero_dce" / "zero_dce_rgb.pt"
#: loss weights of the reference code (Li-Chongyi/Zero-DCE lowlight_train.py)
LOSS_WEIGHTS = {"tv": 200.0, "spa": 1.0, "col": 5.0, "exp": 10.0}
#: target mean brightness of 16x16 patches (exposure-control loss), display encoding
EXPOSURE_LEVEL = 0.6


def apply_curves(x: torch.Tensor, alpha: torch.Tensor) -> torch.Tensor:
    """Iterate :math:`x \\leftarrow x + \\alpha_n x (1 - x)` for the ``n`` curves in ``alpha``.

    Parameters
    ----------
    x : torch.Tensor, shape (B, C, H, W)
        Image in [0, 1].
    alpha : torch.Tensor, shape (B, n*C, H, W)
        Curve parameters in [-1, 1]; curve ``n`` uses channels ``n*C:(n+1)*C``.

    Returns
    -------
    torch.Tensor
        The enhanced image, in [0, 1] when ``x`` is (each curve is monotone with fixed
        points 0 and 1).

    Examples
    --------
    >>> import torch
    >>> from hybrid_deblur.learned.zero_dce import apply_curves
    >>> x = torch.linspace(0, 1, 5).reshape(1, 1, 1, 5)
    >>> apply_curves(x, torch.ones(1, 1, 1, 5)).flatten().tolist()
    [0.0, 0.4375, 0.75, 0.9375, 1.0]
    """
    c = x.shape[1]
    if alpha.ndim != 4 or alpha.shape[1] % c:
        raise ValueError(f"alpha must be (B, n*C, H, W) with C={c}; got shape {tuple(alpha.shape)}")
    for a in torch.split(alpha, c, dim=1):
        x = x + a * x * (1 - x)
    return x


class ZeroDCE(nn.Module):
    """The DCE-Net: 7 convolutions (``width`` channels), symmetric concatenated skips.

    Parameters
    ----------
    width : int
        Channels of the hidden layers (32 in the paper).
    curves : int
        Number of curve iterations (8 in the paper); the last layer outputs ``3 * curves``
        maps through ``tanh``.

    Notes
    -----
    ``forward(x)`` takes a display-encoded RGB image (B, 3, H, W) in [0, 1] and returns
    ``(enhanced, alpha)``.
    """

    name = "zero-dce"

    def __init__(self, width: int = 32, curves: int = 8):
        super().__init__()
        if int(width) < 1 or int(curves) < 1:
            raise ValueError(f"width and curves must be positive ints, got {width!r}, {curves!r}")
        self.config = {"width": int(width), "curves": int(curves)}
        w, self.curves = int(width), int(curves)
        conv = lambda cin, cout: nn.Conv2d(cin, cout, 3, padding=1)
        self.c1, self.c2, self.c3, self.c4 = conv(3, w), conv(w, w), conv(w, w), conv(w, w)
        self.c5, self.c6 = conv(2 * w, w), conv(2 * w, w)
        self.c7 = conv(2 * w, 3 * self.curves)

    def alpha(self, x: torch.Tensor) -> torch.Tensor:
        """Curve parameter maps (B, 3*curves, H, W) in [-1, 1]."""
        x1 = F.relu(self.c1(x))
        x2 = F.relu(self.c2(x1))
        x3 = F.relu(self.c3(x2))
        x4 = F.relu(self.c4(x3))
        x5 = F.relu(self.c5(torch.cat([x3, x4], 1)))
        x6 = F.relu(self.c6(torch.cat([x2, x5], 1)))
        return torch.tanh(self.c7(torch.cat([x1, x6], 1)))

    def forward(self, x: torch.Tensor):
        if not torch.is_tensor(x) or x.ndim != 4 or x.shape[1] != 3:
            raise ValueError(f"x must be an RGB tensor of shape (B, 3, H, W), got shape "
                             f"{tuple(getattr(x, 'shape', ()))}")
        a = self.alpha(x)
        return apply_curves(x, a), a


def _neighbour_diffs(m: torch.Tensor) -> list[torch.Tensor]:
    # differences with the left, right, up and down neighbours (zero padding, as the reference)
    p = F.pad(m, (1, 1, 1, 1))
    c = p[..., 1:-1, 1:-1]
    return [c - p[..., 1:-1, :-2], c - p[..., 1:-1, 2:], c - p[..., :-2, 1:-1], c - p[..., 2:, 1:-1]]


def zero_dce_losses(enhanced: torch.Tensor, low: torch.Tensor, alpha: torch.Tensor, *,
                    exposure: float = EXPOSURE_LEVEL) -> dict:
    """The four no-reference losses of Zero-DCE and their weighted total.

    Parameters
    ----------
    enhanced, low : torch.Tensor, shape (B, 3, H, W)
        Output and input of the network.
    alpha : torch.Tensor
        Curve parameter maps (illumination smoothness is their total variation).
    exposure : float
        Target brightness E of the exposure loss.

    Returns
    -------
    dict
        ``spa`` (spatial consistency: 4x4-pooled neighbour differences kept),
        ``exp`` (16x16 patch means pulled to E), ``col`` (grey-world colour constancy),
        ``tv`` (total variation of alpha) and ``total`` weighted by :data:`LOSS_WEIGHTS`.

    Examples
    --------
    >>> import torch
    >>> from hybrid_deblur.learned.zero_dce import zero_dce_losses
    >>> x = torch.full((1, 3, 32, 32), 0.6)
    >>> round(float(zero_dce_losses(x, x, torch.zeros(1, 24, 32, 32))["total"]), 4)
    0.0
    """
    e_mean = F.avg_pool2d(enhanced.mean(1, keepdim=True), 4)
    o_mean = F.avg_pool2d(low.mean(1, keepdim=True), 4)
    spa = sum((do - de) ** 2 for do, de in zip(_neighbour_diffs(o_mean), _neighbour_diffs(e_mean)))
    exp_ = (F.avg_pool2d(enhanced.mean(1, keepdim=True), 16) - exposure) ** 2
    m = enhanced.mean(dim=(2, 3))
    r, g, b = m[:, 0], m[:, 1], m[:, 2]
    col = torch.sqrt(((r - g) ** 2) ** 2 + ((r - b) ** 2) ** 2 + ((b - g) ** 2) ** 2 + 1e-12)
    bsz, _, h, w = alpha.shape
    tv_h = ((alpha[..., 1:, :] - alpha[..., :-1, :]) ** 2).sum() / ((h - 1) * w * alpha.shape[1])
    tv_w = ((alpha[..., :, 1:] - alpha[..., :, :-1]) ** 2).sum() / (h * (w - 1) * alpha.shape[1])
    tv = 2 * (tv_h + tv_w) / bsz
    out = {"spa": spa.mean(), "exp": exp_.mean(), "col": col.mean(), "tv": tv}
    out["total"] = sum(LOSS_WEIGHTS[k] * out[k] for k in LOSS_WEIGHTS)
    return out


@lru_cache(maxsize=2)
def _load(path: str, mtime: float) -> ZeroDCE:
    from .weights import load_weights

    blob = load_weights(path)
    if blob.get("model") != ZeroDCE.name:
        raise ValueError(f"weight file {path!r} holds model {blob.get('model')!r}, not 'zero-dce'")
    net = ZeroDCE(**blob.get("config", {}))
    net.load_state_dict({k: v.float() for k, v in blob["state_dict"].items()})
    return net.eval()


def load_zero_dce(path: Any = None) -> ZeroDCE:
    """The shipped Zero-DCE network (sha256-checked), or the weight file ``path``."""
    p = Path(path) if path is not None else WEIGHTS
    return _load(str(p), p.stat().st_mtime if p.exists() else 0.0)


def enhance_low_light(y: Any, *, linear: bool = True, gate: float | None = 0.25,
                      model: Any = None, weights: Any = None) -> Any:
    """Brighten a low-light image with Zero-DCE curves (the deblurring pre-step).

    Parameters
    ----------
    y : array (NumPy or torch), shape (H, W), (3, H, W) or (B, 3, H, W)
        Image in [0, 1]. Gray images are enhanced as three equal channels.
    linear : bool
        ``y`` is linear light (default, the library's convention): it is sRGB-encoded
        before the curves and decoded after. ``False``: ``y`` is already display-encoded.
    gate : float or None
        No-harm gate: images whose mean display brightness is >= ``gate`` are returned
        unchanged (the curves are trained on under-exposed images). ``None`` always enhances.
    model : ZeroDCE, optional
        A network instead of the shipped weights (``weights=`` a weight file).

    Returns
    -------
    Same kind, shape and dtype as ``y``.

    Examples
    --------
    >>> import numpy as np
    >>> from hybrid_deblur.learned.zero_dce import enhance_low_light
    >>> y = np.full((16, 16), 0.004)
    >>> bool(enhance_low_light(y).mean() > y.mean())                 # doctest: +SKIP
    True
    """
    from ..physics.degrade import encode_gamma

    if gate is not None and not (0 < float(gate) <= 1):
        raise ValueError(f"gate must be in (0, 1] or None, got {gate!r}")
    is_t = torch.is_tensor(y)
    t = y.detach() if is_t else torch.from_numpy(np.ascontiguousarray(np.asarray(y, dtype=np.float64)))
    if t.ndim not in (2, 3, 4) or (t.ndim >= 3 and t.shape[-3] not in (1, 3)):
        raise ValueError(f"y must have shape (H, W), (C, H, W) or (B, C, H, W) with C in (1, 3); "
                         f"got {tuple(t.shape)}")
    shape = t.shape
    b = t.reshape(-1, 1 if t.ndim == 2 else shape[-3], *shape[-2:]).float()
    b = b.clamp(0, 1)
    disp = encode_gamma(b, "srgb") if linear else b
    if gate is not None and float(disp.mean()) >= float(gate):
        return y
    net = model if model is not None else load_zero_dce(weights)
    rgb = disp.expand(-1, 3, -1, -1) if disp.shape[1] == 1 else disp
    with torch.no_grad():
        out, _ = net(rgb.to(next(net.parameters()).device))
    out = out.cpu()
    if disp.shape[1] == 1:
        out = out.mean(1, keepdim=True)
    if linear:
        out = _decode_srgb(out)
    out = out.reshape(shape)
    if is_t:
        return out.to(device=y.device, dtype=y.dtype)
    return out.double().numpy().astype(np.asarray(y).dtype if np.asarray(y).dtype.kind == "f"
                                       else np.float64, copy=False)


def _decode_srgb(v: torch.Tensor) -> torch.Tensor:
    from ..io import srgb_to_linear

    return srgb_to_linear(v)
