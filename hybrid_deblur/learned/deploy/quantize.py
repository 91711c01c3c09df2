"""int8 post-training quantisation of the convolutional networks (x86 CPU).

The flow is the one that replaces ``torch.ao.quantization`` in PyTorch 2.x (torchao PT2E):
``torch.export`` → ``prepare_pt2e`` with ``X86InductorQuantizer`` (per-channel symmetric int8
weights, per-tensor affine uint8 activations) → calibration on a few training crops →
``convert_pt2e`` → Inductor with weight freezing → ``torch.compile``, which lowers the
quantise/dequantise pairs around every convolution to oneDNN int8 kernels.

* :func:`quantize_static` returns an :class:`Int8Module`: the converted graph (exported with
  dynamic height/width that are multiples of ``multiple``; inputs are reflect-padded to that
  multiple and the output cropped), usable on any size. Its ``compiled()`` version is the
  fast one (Inductor specialises it to each new input shape on first call).
* :func:`quantize_dynamic_linear` quantises the ``nn.Linear`` layers only (dynamic int8
  activations, int8 weights): dynamic quantisation does not cover convolutions, so for the
  conv nets it changes only the small hyper-networks.
* :func:`quantize_prior` swaps a hybrid model's learned prior (``prior`` / ``refine``) for its
  int8 version, calibrated on the inputs the prior really sees inside the model; the FFT
  data steps stay in float32.

Examples
--------
>>> import torch
>>> from hybrid_deblur.learned.layers import ResUNet
>>> from hybrid_deblur.learned.deploy.quantize import quantize_static
>>> net = ResUNet(1, 1, (8, 16)).eval()
>>> q = quantize_static(net, [torch.rand(1, 1, 32, 32) for _ in range(2)])   # doctest: +SKIP
>>> q(torch.rand(1, 1, 30, 36)).shape                                         # doctest: +SKIP
torch.Size([1, 1, 30, 36])
"""

from __future__ import annotations

import copy
import logging
import warnings
from collections.abc import Iterable, Sequence

import torch
from torch import nn
from torch.nn import functional as F

__all__ = [
    "Int8Module",
    "calibration_inputs",
    "quantize_dynamic_linear",
    "quantize_prior",
    "quantize_static",
    "torchao_available",
]


def torchao_available() -> bool:
    """True when ``torchao`` (the extra ``quant``) can be imported."""
    try:
        _import_torchao()
        return True
    except ImportError:
        return False


def _import_torchao():
    logging.getLogger("torchao").setLevel(logging.ERROR)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        from torchao.quantization.pt2e.quantize_pt2e import convert_pt2e, prepare_pt2e
        from torchao.quantization.pt2e.quantizer import x86_inductor_quantizer as xiq
    return prepare_pt2e, convert_pt2e, xiq


def _pad_to(x: torch.Tensor, multiple: int) -> tuple[torch.Tensor, int, int]:
    h, w = x.shape[-2:]
    ph, pw = (-h) % multiple, (-w) % multiple
    if ph or pw:
        mode = "reflect" if min(h, w) > max(ph, pw) else "replicate"
        x = F.pad(x, (0, pw, 0, ph), mode=mode)
    return x, h, w


class Int8Module(nn.Module):
    """An int8 PT2E graph that takes any (B, C, H, W): pads to ``multiple``, crops back.

    Call :meth:`compiled` for the Inductor-lowered (fast) version; the plain module runs
    the reference graph (explicit quantise/dequantise in float32: same numbers, slow).
    """

    def __init__(self, graph: nn.Module, multiple: int, same_size: bool = True):
        super().__init__()
        self.graph = graph
        self.multiple = int(multiple)
        self.same_size = bool(same_size)
        self._compiled = None

    def _run(self, fn, x):
        x, h, w = _pad_to(x, self.multiple)
        out = fn(x)
        return out[..., :h, :w] if self.same_size else out

    def forward(self, x):
        with torch.no_grad():
            return self._run(self.graph, x)

    def compiled(self) -> nn.Module:
        """The Inductor-compiled int8 module (weights frozen; compiled per input shape)."""
        if self._compiled is None:
            self._compiled = _Frozen(torch.compile(self.graph), self)
        return self._compiled


class _Frozen(nn.Module):
    def __init__(self, fn, parent: Int8Module):
        super().__init__()
        self.fn = fn
        self.parent = [parent]

    def forward(self, x):
        import torch._inductor.config as icfg

        with torch.no_grad(), icfg.patch(freezing=True):
            return self.parent[0]._run(self.fn, x)


def compile_fp32(model: nn.Module) -> nn.Module:
    """The float32 reference for speed: the same Inductor compile with frozen weights."""
    return _FrozenFP32(torch.compile(model.eval()))


class _FrozenFP32(nn.Module):
    def __init__(self, fn):
        super().__init__()
        self.fn = fn

    def forward(self, *a, **k):
        import torch._inductor.config as icfg

        with torch.no_grad(), icfg.patch(freezing=True):
            return self.fn(*a, **k)


def quantize_static(model: nn.Module, calibration: Iterable[torch.Tensor], *, multiple: int = 1,
                    same_size: bool = True) -> Int8Module:
    """Post-training static int8 quantisation (torchao PT2E, x86 Inductor quantizer).

    Parameters
    ----------
    model : torch.nn.Module
        A convolutional network ``model(x) -> y`` on (B, C, H, W) float32 tensors (CPU).
        It is not modified (a deep copy is exported).
    calibration : iterable of torch.Tensor
        Representative inputs (a few training crops); the first one is also the export
        example. Their height and width must be multiples of ``multiple``.
    multiple : int
        Height and width are exported as dynamic multiples of this; inputs are
        reflect-padded to it at run time and the output cropped. Use 1 (default) for plain
        convolutional nets (any size, exact borders) and the network's own padding multiple
        for nets that pad inside ``forward`` (``2 ** levels`` for :class:`ResUNet`, whose
        own reflect padding the wrapper then reproduces exactly).
    same_size : bool
        The output has the input's size (it is cropped back after padding).

    Returns
    -------
    Int8Module

    Examples
    --------
    >>> import torch
    >>> from hybrid_deblur.learned.deploy.quantize import quantize_static
    >>> net = torch.nn.Sequential(torch.nn.Conv2d(1, 4, 3, padding=1), torch.nn.ReLU(),
    ...                           torch.nn.Conv2d(4, 1, 3, padding=1)).eval()
    >>> q = quantize_static(net, [torch.rand(1, 1, 16, 16)])                  # doctest: +SKIP
    >>> float((q(torch.rand(1, 1, 16, 16)) - 0).abs().max()) >= 0            # doctest: +SKIP
    True
    """
    if not isinstance(model, nn.Module):
        raise TypeError(f"model must be a torch.nn.Module, got {type(model).__name__}")
    if int(multiple) < 1:
        raise ValueError(f"multiple must be a positive int, got {multiple!r}")
    calib = [c.detach().float().cpu() for c in calibration]
    if not calib:
        raise ValueError("calibration must hold at least one input tensor")
    for c in calib:
        if c.ndim != 4 or c.shape[-1] % multiple or c.shape[-2] % multiple:
            raise ValueError(f"calibration inputs must be (B, C, H, W) with H, W multiples of "
                             f"{multiple}; got shape {tuple(c.shape)}")
    prepare_pt2e, convert_pt2e, xiq = _import_torchao()
    m = copy.deepcopy(model).eval().cpu()
    ex = calib[0]
    hd = torch.export.Dim("h", min=2, max=8192)
    wd = torch.export.Dim("w", min=2, max=8192)
    ds = ({0: torch.export.Dim.AUTO, 2: multiple * hd if multiple > 1 else hd,
           3: multiple * wd if multiple > 1 else wd},)
    with torch.no_grad(), warnings.catch_warnings():
        warnings.simplefilter("ignore")
        gm = torch.export.export(m, (ex,), dynamic_shapes=ds).module()
        quantizer = xiq.X86InductorQuantizer().set_global(
            xiq.get_default_x86_inductor_quantization_config())
        prepared = prepare_pt2e(gm, quantizer)
        for c in calib:
            prepared(c)
        graph = convert_pt2e(prepared)
    return Int8Module(graph, multiple, same_size)


def quantize_dynamic_linear(model: nn.Module) -> nn.Module:
    """Dynamic int8 quantisation of the ``nn.Linear`` layers (a copy; convolutions stay fp32).

    Uses torchao's ``quantize_`` with ``Int8DynamicActivationInt8WeightConfig``.
    """
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        from torchao.quantization import Int8DynamicActivationInt8WeightConfig, quantize_
    m = copy.deepcopy(model).eval().cpu()
    quantize_(m, Int8DynamicActivationInt8WeightConfig(),
              filter_fn=lambda mod, fqn: isinstance(mod, nn.Linear))
    return m


def calibration_inputs(model: nn.Module, attr: str, batches: Sequence[tuple], *,
                       multiple: int = 8) -> list[torch.Tensor]:
    """Inputs that ``model.<attr>`` receives while ``model`` runs on ``batches``.

    Each batch is ``(y, psf, sigma)`` (plus an optional boundary string); the captured
    inputs are padded to ``multiple`` like :class:`Int8Module` pads at run time.
    """
    sub = getattr(model, attr)
    seen: list[torch.Tensor] = []
    hook = sub.register_forward_pre_hook(lambda mod, args: seen.append(args[0].detach().clone()))
    try:
        with torch.no_grad():
            for b in batches:
                model(*b)
    finally:
        hook.remove()
    return [_pad_to(s, multiple)[0] for s in seen]


def quantize_prior(model: nn.Module, batches: Sequence[tuple], *, multiple: int | None = None,
                   compiled: bool = False) -> nn.Module:
    """A copy of a hybrid model whose learned prior (``prior`` or ``refine``) runs in int8.

    Parameters
    ----------
    model : torch.nn.Module
        ``UnrolledHQS`` (attribute ``prior``) or ``DeepWiener`` (``refine``).
    batches : sequence of tuples
        Calibration batches ``(y, psf, sigma)`` from the training distribution.
    multiple : int, optional
        See :func:`quantize_static`; default ``2 ** levels`` of the prior's U-Net.
    compiled : bool
        Use the Inductor-compiled int8 prior (fast; compiles on each new shape).

    Returns
    -------
    torch.nn.Module
        The hybrid model (eval mode) with the int8 prior; FFT data steps stay float32.
    """
    for attr in ("prior", "refine"):
        if isinstance(getattr(model, attr, None), nn.Module):
            break
    else:
        raise ValueError(f"model {type(model).__name__} has no 'prior' or 'refine' network")
    model = model.eval()
    if multiple is None:
        multiple = 2 ** int(getattr(getattr(model, attr), "levels", 0))
    calib = calibration_inputs(model, attr, batches, multiple=multiple)
    q = quantize_static(getattr(model, attr), calib, multiple=multiple)
    out = copy.deepcopy(model)
    setattr(out, attr, q.compiled() if compiled else q)
    return out.eval()
