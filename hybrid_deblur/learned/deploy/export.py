"""ONNX export of the learned models, checked against torch with onnxruntime.

Two kinds of graph are exported:

* **single-image networks** (the priors, the end-to-end models, Zero-DCE): ``f(x) -> y``
  with dynamic batch, height and width (:func:`export_onnx`);
* **hybrid models** (:func:`export_hybrid`): the **learned parts only** (the prior of
  ``UnrolledHQS``, the refinement U-Net of ``DeepWiener``), with dynamic sizes; the FFT data
  steps stay in the host (torch). Exporting the whole model (:class:`HybridGraph`,
  ``whole=True``) uses torch's ``dynamo=True`` path, which can emit ``DFT`` (opset 20) for
  ``rfft2``/``irfft2`` (the legacy exporter cannot export complex tensors,
  pytorch#121130), but with torch 2.13 it stops earlier, at the PSF value checks of the
  ``Blur`` operator (data-dependent branches ``torch.export`` cannot trace); the report
  then says so and the prior is exported instead.

:func:`check_onnx` runs a file in onnxruntime on several inputs (e.g. gray and colour, two
sizes) and returns the maximum absolute difference to the torch module.

Examples
--------
>>> import tempfile, os, torch
>>> from hybrid_deblur.learned.layers import ResUNet
>>> from hybrid_deblur.learned.deploy.export import export_onnx, check_onnx
>>> net = ResUNet(1, 1, (8, 16)).eval()
>>> path = os.path.join(tempfile.mkdtemp(), "net.onnx")
>>> _ = export_onnx(net, path, torch.rand(1, 1, 32, 32))                 # doctest: +SKIP
>>> check_onnx(path, net, [torch.rand(1, 1, 40, 48)])["max_abs_diff"] < 1e-4  # doctest: +SKIP
True
"""

from __future__ import annotations

import importlib.util
import os
import tempfile
import warnings
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch import nn
from torch.nn import functional as F

__all__ = [
    "OPSET",
    "HybridGraph",
    "PadCrop",
    "check_onnx",
    "export_hybrid",
    "export_onnx",
    "onnx_available",
    "run_onnx",
]

#: ONNX opset written (DFT with ``onesided`` needs 20)
OPSET = 20


def onnx_available() -> bool:
    """True when ``onnx``, ``onnxscript`` and ``onnxruntime`` are installed (extra ``onnx``)."""
    return all(importlib.util.find_spec(m) is not None
               for m in ("onnx", "onnxscript", "onnxruntime"))


def _require_onnx() -> None:
    if not onnx_available():
        raise ImportError("ONNX export needs the optional packages onnx, onnxscript and "
                          "onnxruntime: pip install 'hybrid_deblur[onnx]'")


def _atomic_save(program, path: Path) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".onnx")
    os.close(fd)
    try:
        program.save(tmp, external_data=False)
        os.replace(tmp, path)
    except BaseException:
        if os.path.exists(tmp):
            os.unlink(tmp)
        raise


def _export(module: nn.Module, args: tuple, names: Sequence[str], dynamic_shapes) -> Any:
    with warnings.catch_warnings(), torch.no_grad():
        warnings.simplefilter("ignore")
        return torch.onnx.export(module, args, input_names=list(names), output_names=["output"],
                                 dynamo=True, opset_version=OPSET, dynamic_shapes=dynamic_shapes,
                                 verbose=False, optimize=True)


class PadCrop(nn.Module):
    """``net`` on inputs reflect-padded (bottom/right) to a multiple of ``multiple``, cropped back.

    Networks that pad inside ``forward`` only when needed (a Python ``if`` on the size)
    export with a fixed padding; this wrapper always pads (by a symbolic amount, possibly
    0), so the graph stays valid for every size > ``multiple``.
    """

    def __init__(self, net: nn.Module, multiple: int):
        super().__init__()
        self.net = net
        self.multiple = int(multiple)

    def forward(self, x):
        h, w = x.shape[-2:]
        m = self.multiple
        xp = F.pad(x, (0, (-w) % m, 0, (-h) % m), mode="reflect")
        return self.net(xp)[..., :h, :w]


def export_onnx(model: nn.Module, path: str | os.PathLike, example: torch.Tensor, *,
                dynamic: bool = True, multiple: int | None = None) -> dict:
    """Export a single-input image network ``model(x) -> y`` to ONNX (atomic write).

    Parameters
    ----------
    model : torch.nn.Module
        Network taking one (B, C, H, W) tensor; exported in eval mode on the CPU.
    path : path
        Output ``.onnx`` file (written atomically, weights inside the file).
    example : torch.Tensor
        Example input of shape (B, C, H, W).
    dynamic : bool
        Batch, height and width are dynamic axes (default); ``False`` fixes the example shape.
    multiple : int, optional
        Wrap the model in :class:`PadCrop` (for nets that pad to a multiple inside, e.g. a
        U-Net: ``2 ** levels``); the exported graph then accepts any size > ``multiple``.

    Returns
    -------
    dict
        ``{"file", "bytes", "opset", "dynamic"}``.

    Examples
    --------
    >>> import torch, tempfile, os
    >>> from hybrid_deblur.learned.deploy.export import export_onnx
    >>> net = torch.nn.Conv2d(1, 1, 3, padding=1)
    >>> p = os.path.join(tempfile.mkdtemp(), "c.onnx")
    >>> export_onnx(net, p, torch.rand(1, 1, 16, 16))["opset"]     # doctest: +SKIP
    20
    """
    _require_onnx()
    if not isinstance(model, nn.Module):
        raise TypeError(f"model must be a torch.nn.Module, got {type(model).__name__}")
    if not torch.is_tensor(example) or example.ndim != 4:
        raise ValueError(f"example must be a (B, C, H, W) tensor, got "
                         f"{type(example).__name__} of shape {tuple(getattr(example, 'shape', ()))}")
    model = model.eval().cpu()
    if multiple:
        model = PadCrop(model, int(multiple)).eval()
    ds = None
    if dynamic:
        d = torch.export.Dim.DYNAMIC
        ds = ({0: d, 2: d, 3: d},)
    prog = _export(model, (example.float().cpu(),), ["input"], ds)
    path = Path(path)
    _atomic_save(prog, path)
    return {"file": str(path), "bytes": path.stat().st_size, "opset": OPSET, "dynamic": bool(dynamic),
            "multiple": int(multiple) if multiple else None}


def _session(path: str | os.PathLike, threads: int | None = None):
    _require_onnx()
    import onnxruntime as ort

    so = ort.SessionOptions()
    if threads:
        so.intra_op_num_threads = int(threads)
        so.inter_op_num_threads = 1
    so.log_severity_level = 3
    return ort.InferenceSession(str(path), so, providers=["CPUExecutionProvider"])


def check_onnx(path: str | os.PathLike, model: nn.Module, inputs: Sequence[Any], *,
               threads: int | None = None) -> dict:
    """Run ``path`` in onnxruntime on each input and compare with ``model`` in torch.

    Parameters
    ----------
    path : path
        An ONNX file written by :func:`export_onnx` or :func:`export_hybrid`.
    model : torch.nn.Module
        The module that was exported.
    inputs : sequence
        Each entry is one tensor, or a tuple of tensors (the module's positional inputs).
    threads : int, optional
        onnxruntime intra-op threads.

    Returns
    -------
    dict
        ``{"max_abs_diff": float, "per_input": [{"shapes", "max_abs_diff"}...]}``.
    """
    sess = _session(path, threads)
    names = [i.name for i in sess.get_inputs()]
    per = []
    model = model.eval().cpu()
    for inp in inputs:
        args = tuple(inp) if isinstance(inp, (tuple, list)) else (inp,)
        if len(args) != len(names):
            raise ValueError(f"inputs entries must hold {len(names)} tensors ({names}); got {len(args)}")
        feed = {n: np.ascontiguousarray(a.detach().cpu().numpy().astype(np.float32))
                for n, a in zip(names, args)}
        out = sess.run(None, feed)[0]
        with torch.no_grad():
            ref = model(*[a.float().cpu() for a in args]).numpy()
        if out.shape != ref.shape:
            raise RuntimeError(f"onnxruntime output shape {out.shape} != torch {ref.shape}")
        per.append({"shapes": [list(a.shape) for a in args],
                    "max_abs_diff": float(np.abs(out - ref).max())})
    return {"max_abs_diff": max(p["max_abs_diff"] for p in per), "per_input": per}


def run_onnx(path: str | os.PathLike, *arrays: np.ndarray, threads: int | None = None,
             session=None) -> np.ndarray:
    """Output of the ONNX file ``path`` for NumPy inputs (float32), via onnxruntime."""
    sess = session or _session(path, threads)
    names = [i.name for i in sess.get_inputs()]
    return sess.run(None, {n: np.ascontiguousarray(a, dtype=np.float32)
                           for n, a in zip(names, arrays)})[0]


class HybridGraph(nn.Module):
    """A hybrid model as a three-input graph ``(y, psf, sigma) -> x`` for one boundary.

    ``y`` is (B, C, H, W), ``psf`` (B, 1, kh, kw), ``sigma`` (B,). This is the module that
    :func:`export_hybrid` hands to the exporter.
    """

    def __init__(self, model: nn.Module, boundary: str = "circular"):
        super().__init__()
        self.model = model
        self.boundary = str(boundary)

    def forward(self, y, psf, sigma):
        m = self.model
        if hasattr(m, "_restore") and y.shape[1] == getattr(m, "channels", 1):
            # the input checks of ``forward`` are data-dependent (finite σ, ...): they run in
            # the host before the graph is called; the graph is the restoration itself
            return m._restore(y, psf.expand(y.shape[0], psf.shape[1], *psf.shape[-2:]), sigma,
                              self.boundary)
        return m(y, psf, sigma, boundary=self.boundary)


def _prior_of(model: nn.Module) -> tuple[str, nn.Module]:
    for attr in ("prior", "refine"):
        if isinstance(getattr(model, attr, None), nn.Module):
            return attr, getattr(model, attr)
    raise ValueError(f"model {type(model).__name__} has no learned prior ('prior' or 'refine') "
                     "to export on its own")


def export_hybrid(model: nn.Module, path: str | os.PathLike, *, size: int = 64, ksize: int = 9,
                  boundary: str = "circular", whole: bool = False) -> dict:
    """Export a hybrid model: whole (FFT data steps as ONNX DFT) or only its learned prior.

    Parameters
    ----------
    model : torch.nn.Module
        ``UnrolledHQS`` / ``DeepWiener`` / ``UnrolledRL`` (any ``model(y, psf, sigma, boundary=)``).
    path : path
        Output ``.onnx`` file.
    size, ksize : int
        Example image and kernel size. The whole graph is specialised to ``ksize`` and to
        the image size (the data step's padded grid is computed in Python); the prior-only
        graph has dynamic batch/height/width.
    boundary : str
        Boundary baked into the whole graph.
    whole : bool
        Try the whole model first. Default ``False``: with torch 2.13 the whole-graph export
        of the shipped models fails (measured: the :class:`~hybrid_deblur.physics.Blur`
        operator checks the PSF values — finite, non-negative — inside the forward pass, a
        data-dependent branch that ``torch.export`` cannot trace; it takes ~4 minutes to
        find that out), so the learned prior is exported and the FFT data steps run in
        the host.

    Returns
    -------
    dict
        ``{"file", "bytes", "opset", "part": "whole" | "<attr> only", "error": str | None}``;
        ``error`` is the exporter's message when the whole model could not be exported.
    """
    _require_onnx()
    model = model.eval().cpu()
    err = None
    if whole:
        c = int(getattr(model, "channels", 1))
        g = torch.Generator().manual_seed(0)
        y = torch.rand(1, c, size, size, generator=g)
        k = torch.rand(1, 1, ksize, ksize, generator=g)
        k = k / k.sum()
        s = torch.full((1,), 0.01)
        try:
            prog = _export(HybridGraph(model, boundary), (y, k, s), ["y", "psf", "sigma"], None)
            p = Path(path)
            _atomic_save(prog, p)
            return {"file": str(p), "bytes": p.stat().st_size, "opset": OPSET, "part": "whole",
                    "boundary": boundary, "size": size, "ksize": ksize, "error": None}
        except Exception as exc:  # noqa: BLE001 - any exporter failure is reported, then the prior is exported
            err = f"{type(exc).__name__}: {str(exc).splitlines()[0][:300] if str(exc) else ''}"
    attr, prior = _prior_of(model)
    cin = prior.head.in_channels // 4 if hasattr(prior, "head") else int(getattr(model, "channels", 1)) + 1
    mult = 2 ** int(prior.levels) if hasattr(prior, "levels") else None
    rep = export_onnx(prior, path, torch.rand(1, cin, size, size), multiple=mult)
    rep.update(part=f"{attr} only", error=err)
    return rep
