"""``hybrid-deblur export``: write a learned model as ONNX and check it with onnxruntime.

Examples
--------
``hybrid-deblur export --method zero-dce --onnx zero_dce.onnx`` writes the whole Zero-DCE
network; ``--method unrolled-hqs`` writes its learned prior (the FFT data steps of the
hybrid models stay in the host: see :mod:`hybrid_deblur.learned.deploy.export`);
``--method e2e-nafnet`` (any end-to-end model of the registry) writes the whole network.
Unless ``--no-check``, the file is run in onnxruntime on a gray and a colour input of two
sizes and the maximum difference to torch is printed (and must be <= ``--tol``).
"""

from __future__ import annotations

import json
from pathlib import Path

HYBRIDS = {"unrolled-hqs": "unrolled_hqs_gray", "deep-wiener": "deep_wiener_gray"}


def add_parser(sub):
    p = sub.add_parser(
        "export",
        help="export a learned model (or a hybrid model's learned prior) to ONNX",
        description="Export to ONNX (torch dynamo exporter, opset 20, dynamic batch/height/width) "
                    "and check the file with onnxruntime against torch.",
    )
    p.add_argument("--method", required=True,
                   help="unrolled-hqs | deep-wiener (learned prior only) | zero-dce | an "
                        "end-to-end registry name (e2e-...)")
    p.add_argument("--onnx", required=True, help="output .onnx file (written atomically)")
    p.add_argument("--weights", default=None, help="weight file instead of the shipped one")
    p.add_argument("--size", type=int, default=64, help="example input size (default 64)")
    p.add_argument("--tol", type=float, default=1e-4, help="max |onnxruntime - torch| accepted")
    p.add_argument("--no-check", action="store_true", help="skip the onnxruntime check")
    return p


class _Enhanced:
    """Zero-DCE returns (image, curves); the exported graph returns the image."""

    def __new__(cls, net):
        import torch

        class Out(torch.nn.Module):
            def __init__(self):
                super().__init__()
                self.net = net

            def forward(self, x):
                return self.net(x)[0]

        return Out().eval()


def _module(method: str, weights):
    """(torch module to export, input channels, padding multiple, what was exported)."""
    from ..learned.weights import load_model, shipped_path

    if method in HYBRIDS:
        model = load_model(weights or shipped_path(HYBRIDS[method]))
        attr = "prior" if method == "unrolled-hqs" else "refine"
        net = getattr(model, attr)
        return net, net.head.in_channels // 4, 2 ** net.levels, f"{method}.{attr} (FFT data steps stay in the host)"
    if method == "zero-dce":
        from ..learned.zero_dce import load_zero_dce

        return _Enhanced(load_zero_dce(weights)), 3, None, "zero-dce (whole network)"
    if method == "unrolled-rl":
        raise ValueError("method 'unrolled-rl' has no single learned prior to export (its eight "
                         "per-stage correction CNNs sit between Richardson-Lucy steps); export "
                         "'unrolled-hqs', 'deep-wiener', 'zero-dce' or an end-to-end model")
    from ..analysis.registry import method_kind

    try:
        kind = method_kind(method)
    except (KeyError, ValueError) as exc:
        raise ValueError(f"--method {method!r} is unknown: {exc}") from None
    if kind != "end-to-end":
        raise ValueError(f"--method {method!r} is a {kind} method with no network to export; "
                         f"accepted: {', '.join(HYBRIDS)}, zero-dce, or an end-to-end model")
    from ..learned.e2e.restore import get_model as e2e_model

    net = e2e_model(method, weights=weights).eval()
    cin = int(getattr(net, "config", {}).get("channels", 3))
    return net, cin, None, f"{method} (whole network)"


def run(args) -> int:
    import torch

    from ..learned.deploy.export import PadCrop, check_onnx, export_onnx

    net, cin, mult, what = _module(args.method, args.weights)
    if args.size < 16:
        raise ValueError(f"--size must be >= 16, got {args.size}")
    rep = export_onnx(net, args.onnx, torch.rand(1, cin, args.size, args.size), multiple=mult)
    rep["exported"] = what
    if not args.no_check:
        ref = PadCrop(net, mult) if mult else net
        g = torch.Generator().manual_seed(0)
        s2 = args.size + 13
        if cin == 1:  # a gray image, and a colour image as three gray planes; two sizes
            inputs = [torch.rand(1, 1, args.size, args.size, generator=g), torch.rand(3, 1, s2, s2 + 6, generator=g)]
        else:  # colour model: a colour image, and a gray image repeated on the channels
            gray = torch.rand(1, 1, s2, s2 + 6, generator=g).expand(1, cin, s2, s2 + 6).contiguous()
            inputs = [torch.rand(1, cin, args.size, args.size, generator=g), gray]
        chk = check_onnx(args.onnx, ref, inputs)
        rep["check"] = chk
        ok = chk["max_abs_diff"] <= args.tol
        print(f"{args.method}: {what} -> {args.onnx} ({rep['bytes'] / 1e6:.2f} MB); onnxruntime max "
              f"|diff| {chk['max_abs_diff']:.2e} ({'ok' if ok else 'FAILS'} <= {args.tol:g})")
        Path(args.onnx).with_suffix(".json").write_text(json.dumps(rep, indent=2))
        return 0 if ok else 1
    print(f"{args.method}: {what} -> {args.onnx} ({rep['bytes'] / 1e6:.2f} MB)")
    return 0
