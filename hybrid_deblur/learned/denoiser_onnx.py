"""onnxruntime as the CPU engine of the DRUNet denoiser's U-Net (optional extra ``onnx``).

The plug-and-play methods spend ~90 % of their CPU time in the denoiser forwards. The same
network run by onnxruntime (CPU execution provider, all graph optimisations: conv + ReLU /
conv + add fusion, NCHWc layouts) gives the same output (max difference ~2e-7) in less time
than PyTorch eager (measured side by side on this 2-core AVX2 machine, 1 thread, 512² gray,
load 4-7: one forward 2.6 -> 1.6 s/MP; ``pnp-drunet`` 36.5 -> 27.0 s/MP, ``pnp-drunet-fast``
27.5 -> 20.7 with ``benchmarks/learned_nonblind.py --sections speed``). Rejected beside it:
``torch.compile`` (90 s compile, no gain), TorchScript freeze (1.2x), 2 threads on the loaded
machine (slower), int8 static quantisation in onnxruntime (1.7x over fp32, but -0.42 to
-0.84 dB held-out denoising). :func:`onnx_core` exports the U-Net proper
(:func:`~hybrid_deblur.learned.layers.unet_core`: everything after the 2×2 pixel unshuffle,
dynamic batch / height / width) once per network and thread count, with the TorchScript-based
exporter into memory (~2 s; the dynamo exporter takes 15–30 s here), and returns a callable
that :meth:`DRUNet.forward(x, sigma, core=...) <hybrid_deblur.learned.denoiser.DRUNet.forward>`
uses in place of the torch layers; padding, noise map, unshuffle and the residual stay in torch.
Nothing is written to disk.

Examples
--------
>>> import torch
>>> from hybrid_deblur.learned.denoiser import DRUNet
>>> from hybrid_deblur.learned.denoiser_onnx import onnx_available, onnx_core
>>> net = DRUNet(1, widths=(8, 16)).eval()
>>> _ = torch.nn.init.normal_(net.tail.weight, std=0.1)
>>> x = torch.rand(2, 1, 30, 36)
>>> core = onnx_core(net) if onnx_available() else None     # None: the torch layers
>>> bool(torch.allclose(net(x, 0.1, core=core), net(x, 0.1), atol=1e-5))
True
"""

from __future__ import annotations

import importlib.util
import io
import warnings
import weakref
from typing import Any

import torch
from torch import nn

from .layers import unet_core

__all__ = ["onnx_available", "onnx_core", "has_core", "OnnxCore"]

#: ONNX opset of the exported core
OPSET = 17

_CACHE: weakref.WeakKeyDictionary[nn.Module, dict] = weakref.WeakKeyDictionary()


def onnx_available() -> bool:
    """True when ``onnx`` and ``onnxruntime`` are importable (the optional ``onnx`` extra)."""
    return all(importlib.util.find_spec(m) is not None for m in ("onnx", "onnxruntime"))


class _Core(nn.Module):
    def __init__(self, net: nn.Module):
        super().__init__()
        self.net = net

    def forward(self, f):
        return unet_core(f, self.net, self.net.body)


def _fingerprint(net: nn.Module) -> tuple:
    """Changes when a parameter is replaced or updated in place (then the graph is re-exported)."""
    return tuple((p.data_ptr(), p._version, p.dtype) for p in net.parameters())


class OnnxCore:
    """The U-Net proper of a DRUNet as an onnxruntime session: ``core(f) -> tail output``.

    Parameters
    ----------
    net : DRUNet
        A float32 network (exported in eval mode; the module itself is not changed).
    threads : int, optional
        onnxruntime intra-op threads (default: ``torch.get_num_threads()``).
    """

    def __init__(self, net: nn.Module, threads: int | None = None):
        if not onnx_available():
            raise ImportError("onnxruntime engine needs the optional packages onnx and onnxruntime "
                              "(pip install 'hybrid-deblur[onnx]')")
        p = next(net.parameters())
        if p.dtype != torch.float32:
            raise TypeError(f"net must hold float32 parameters for the onnxruntime engine, got {p.dtype}")
        import onnxruntime as ort

        cin = net.head.in_channels
        example = torch.zeros(1, cin, 2 ** net.levels, 2 ** net.levels)
        buf = io.BytesIO()
        was = net.training
        net.eval()
        try:
            with warnings.catch_warnings(), torch.no_grad():
                warnings.simplefilter("ignore")
                torch.onnx.export(_Core(net).cpu(), (example,), buf, input_names=["input"],
                                  output_names=["output"], dynamo=False, opset_version=OPSET,
                                  dynamic_axes={"input": {0: "b", 2: "h", 3: "w"}})
        finally:
            net.train(was)
        self.threads = int(threads or torch.get_num_threads())
        so = ort.SessionOptions()
        so.intra_op_num_threads = self.threads
        so.inter_op_num_threads = 1
        so.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
        so.log_severity_level = 3
        # no spin-waiting between ops: on a shared CPU it took cycles from other work (forward at
        # 1 / 2 threads, load ~3: 1.08 -> 1.02 and 1.45 -> 1.40 s/MP)
        so.add_session_config_entry("session.intra_op.allow_spinning", "0")
        self.session = ort.InferenceSession(buf.getvalue(), so, providers=["CPUExecutionProvider"])
        self.bytes = len(buf.getvalue())

    def __call__(self, f: torch.Tensor) -> torch.Tensor:
        a = f.detach().to(device="cpu", dtype=torch.float32).contiguous().numpy()
        out = torch.from_numpy(self.session.run(None, {"input": a})[0])
        return out.to(device=f.device, dtype=f.dtype)


def onnx_core(net: nn.Module, threads: int | None = None) -> OnnxCore:
    """The cached :class:`OnnxCore` of ``net`` (re-exported when its weights or the thread
    count change; dropped with the network).

    Parameters
    ----------
    net : DRUNet
        A float32 denoiser on the CPU.
    threads : int, optional
        onnxruntime intra-op threads (default: ``torch.get_num_threads()``).

    Returns
    -------
    OnnxCore
    """
    if not isinstance(net, nn.Module) or not hasattr(net, "body"):
        raise TypeError(f"net must be a DRUNet, got {type(net).__name__}")
    th = int(threads or torch.get_num_threads())
    key = (_fingerprint(net), th)
    slot: dict[Any, OnnxCore] = _CACHE.setdefault(net, {})
    if key not in slot:
        slot.clear()
        slot[key] = OnnxCore(net, th)
    return slot[key]


def has_core(net: nn.Module, threads: int | None = None) -> bool:
    """True when :func:`onnx_core` holds an up-to-date graph of ``net`` (no export needed)."""
    try:
        slot = _CACHE.get(net)
    except TypeError:  # not weak-referenceable
        return False
    return bool(slot) and (_fingerprint(net), int(threads or torch.get_num_threads())) in slot
