"""Deployment table (issue 13): fp32 / int8 / separable / distilled / ONNX Runtime per model.

Sections
--------
``table``     per model and variant: parameters, GMACs (``torch.utils.flop_counter``; the FFTs
              of the data steps count 0 there and are added by hand as 2.5 N log2 N real
              flops per real FFT of N points), CPU ms per megapixel (median of ``--repeats``
              runs of a ``--size``² gray image, all variants timed in interleaved rounds in
              one process, ``--threads`` threads; the load average is recorded),
              PSNR/SSIM on the small suite (BSD68 centre crops, bank kernels ``camera_shake``
              that training never saw, ``valid`` blur, σ = 0.01), max |x - x_fp32| on it.
``lowlight``  Zero-DCE pre-step sweep: CBSD68 crops, low-light synthesis of
              :func:`hybrid_deblur.learned.zero_dce_train.low_light` at 10 … 3000 photons,
              then deblurring (``--lowlight-method``, default Wiener with automatic NSR)
              with and without the pre-step (and with the oracle exposure gain, for
              reference); PSNR in linear light on the valid region.

Variants: ``fp32`` (eager), ``fp32-inductor`` (same ``torch.compile`` + freezing as int8),
``int8`` (PT2E static int8 prior, Inductor; quality from the reference int8 graph),
``dyn-int8`` (dynamic int8 of the Linear hyper-networks only), ``separable`` (SVD
depthwise-separable prior fine-tuned by distillation), ``student`` / ``distilled`` (22 %
student alone / distilled), ``onnxrt`` (prior in ONNX Runtime, FFT data steps in torch).

Run::

    python benchmarks/deploy.py [--npz runs/deploy_gpu/data.npz] [--weights runs/deploy_gpu]
        [--sections table,lowlight] [--n 8] [--size 256] [--threads 2] [--out bench_out/deploy.json]
"""

from __future__ import annotations

import argparse
import copy
import json
import math
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

PHOTONS = (10, 30, 100, 300, 1000, 3000)


# ----------------------------------------------------------------------------- data
def _crops(npz, key: str, n: int, side: int) -> list[np.ndarray]:
    from hybrid_deblur.io import srgb_to_linear

    out = []
    for a in npz[key][:n]:
        a = a if a.ndim == 3 else a[None]
        _, h, w = a.shape
        i0, j0 = (h - side) // 2, (w - side) // 2
        out.append(np.asarray(srgb_to_linear(a[:, i0:i0 + side, j0:j0 + side] / 255.0)))
    return out


def suite(npz, n: int, crop: int = 128, sigma: float = 0.01):
    """BSD68 crops (gray, linear) x bank kernels, valid blur, Gaussian σ: (y, x_valid, psf)."""
    from hybrid_deblur.physics import degrade
    from hybrid_deblur.physics.degrade import crop_valid
    from hybrid_deblur.psf import bank

    kb = bank.load("camera_shake")
    cases = []
    for i, img in enumerate(_crops(npz, "bsd68", n, crop)):
        k = np.asarray(kb[(5 * i) % len(kb)], dtype=np.float64)
        y, _ = degrade(img[0].astype(np.float64), k, boundary="valid", noise=sigma, seed=i)
        cases.append((y.astype(np.float32), crop_valid(img[0], k.shape[-1]), k.astype(np.float32)))
    return cases


# ----------------------------------------------------------------------------- counting
class _FFTCount:
    """Real FFT flops by hand (FlopCounterMode counts FFTs as 0): 2.5 N log2 N per transform."""

    def __init__(self):
        import torch
        from torch.overrides import TorchFunctionMode

        names = {"fft_rfftn", "fft_irfftn", "fft_rfft2", "fft_irfft2", "fft_fftn", "fft_ifftn",
                 "fft_fft2", "fft_ifft2"}
        outer = self

        class Mode(TorchFunctionMode):
            def __torch_function__(self, func, types, args=(), kwargs=None):
                kwargs = kwargs or {}
                out = func(*args, **kwargs)
                nm = getattr(func, "__name__", "")
                if nm in names or nm.replace("fft_", "") in {n.replace("fft_", "") for n in names}:
                    t = out if not torch.is_complex(out) else args[0]
                    npts = 1
                    for d in t.shape[-2:]:
                        npts *= int(d)
                    batch = t.numel() // max(npts, 1)
                    cplx = nm.replace("fft_", "") in ("fftn", "ifftn", "fft2", "ifft2")
                    outer.flops += (5.0 if cplx else 2.5) * npts * math.log2(max(npts, 2)) * batch
                return out

        self.flops = 0.0
        self.mode = Mode()


def gmacs(fn, *args) -> tuple[float, float]:
    """(conv/matmul GMACs from FlopCounterMode, FFT GMAC-equivalents by hand) of one call."""
    import torch
    from torch.utils.flop_counter import FlopCounterMode

    fc = _FFTCount()
    with torch.no_grad(), FlopCounterMode(display=False) as m, fc.mode:
        fn(*args)
    return m.get_total_flops() / 2e9, fc.flops / 2e9


# ----------------------------------------------------------------------------- variants
class OrtPrior:
    """A prior network run by ONNX Runtime (callable like the torch module)."""

    def __init__(self, path, threads):
        from hybrid_deblur.learned.deploy.export import _session

        self.sess = _session(path, threads)
        self.name = self.sess.get_inputs()[0].name

    def __call__(self, x):
        import torch

        out = self.sess.run(None, {self.name: np.ascontiguousarray(x.detach().cpu().numpy(),
                                                                   dtype=np.float32)})[0]
        return torch.from_numpy(out)


def _with_prior(model, attr, prior):
    m = copy.copy(model)
    m._modules = dict(model._modules)
    m._modules[attr] = prior if hasattr(prior, "parameters") else _Callable(prior)
    return m


def _Callable(fn):
    import torch

    class Wrap(torch.nn.Module):
        def forward(self, x):
            return fn(x)

    return Wrap()


def variants(name: str, weights: Path, calib, threads: int, tmp: Path, compile_: bool = True) -> dict:
    """{variant: (model for quality, model for timing)} for a shipped hybrid model."""
    import torch

    from hybrid_deblur.learned.deploy import quantize as Q
    from hybrid_deblur.learned.weights import load_model, shipped_path

    stem = {"unrolled-hqs": "unrolled_hqs_gray", "deep-wiener": "deep_wiener_gray"}[name]
    base = load_model(shipped_path(stem))
    attr = "prior" if name == "unrolled-hqs" else "refine"
    out = {"fp32": (base, base)}
    if compile_:
        out["fp32-inductor"] = (base, _with_prior(base, attr, Q.compile_fp32(getattr(base, attr))))
    try:
        q = Q.quantize_static(getattr(base, attr),
                              Q.calibration_inputs(base, attr, calib, multiple=8), multiple=8)
        out["int8"] = (_with_prior(base, attr, q),
                       _with_prior(base, attr, q.compiled()) if compile_ else None)
    except Exception as exc:  # noqa: BLE001 - reported in the table
        out["int8"] = f"{type(exc).__name__}: {str(exc)[:200]}"
    try:
        dq = Q.quantize_dynamic_linear(base)
        out["dyn-int8"] = (dq, dq)
    except Exception as exc:  # noqa: BLE001
        out["dyn-int8"] = f"{type(exc).__name__}: {str(exc)[:200]}"
    sep = weights / ("sep_hqs.pt" if name == "unrolled-hqs" else "sep_dw.pt")
    if not sep.exists():  # the SVD-initialised variant before any fine-tuning
        from hybrid_deblur.learned.deploy.grouped import separable_variant

        m = separable_variant(base).eval()
        out["separable-svd"] = (m, m)
    else:
        from hybrid_deblur.learned.deploy.grouped import separable_variant

        blob = torch.load(sep, map_location="cpu", weights_only=True)
        m = separable_variant(base)
        m.load_state_dict(blob["state_dict"])
        out["separable"] = (m.eval(), m.eval())
    if name == "unrolled-hqs":
        for v in ("alone", "distill"):
            p = weights / f"{v}.pt"
            if p.exists():
                m = load_model(p, verify=True)
                out["student" if v == "alone" else "distilled"] = (m, m)
    try:
        from hybrid_deblur.learned.deploy.export import export_hybrid, onnx_available

        if onnx_available():
            rep = export_hybrid(base, tmp / f"{stem}.onnx", size=64)
            ort = OrtPrior(rep["file"], threads)
            mo = _with_prior(base, attr, ort)
            out["onnxrt"] = (mo, mo)
    except Exception as exc:  # noqa: BLE001
        out["onnxrt"] = f"{type(exc).__name__}: {str(exc)[:200]}"
    return out


def _run(model, y, k, s=0.01):
    import torch

    with torch.no_grad():
        return model(torch.as_tensor(y)[None, None], torch.as_tensor(k), s)[0, 0]


def quality(model, cases, ref_outs=None) -> dict:
    from hybrid_deblur.metrics import psnr, ssim

    ps, ss, outs, diff = [], [], [], 0.0
    for i, (y, x, k) in enumerate(cases):
        o = _run(model, y, k).numpy()
        outs.append(o)
        ps.append(psnr(np.clip(o, 0, 1), x))
        ss.append(ssim(np.clip(o, 0, 1), x))
        if ref_outs is not None:
            diff = max(diff, float(np.abs(o - ref_outs[i]).max()))
    return {"psnr": float(np.mean(ps)), "ssim": float(np.mean(ss)), "outs": outs,
            "max_diff_vs_fp32": diff if ref_outs is not None else 0.0}


def time_variants(models: dict, size: int, repeats: int, k) -> dict:
    """Median ms per megapixel of each model, interleaved rounds (warm-up first)."""
    import torch

    y = torch.rand(1, 1, size, size, generator=torch.Generator().manual_seed(0))
    for m in models.values():  # warm-up (and compile)
        for _ in range(2):
            _run(m, y[0, 0].numpy(), k)
    t = {n: [] for n in models}
    for _ in range(repeats):
        for n, m in models.items():
            t0 = time.perf_counter()
            _run(m, y[0, 0].numpy(), k)
            t[n].append(time.perf_counter() - t0)
    mp = size * size / 1e6
    return {n: 1e3 * statistics.median(v) / mp for n, v in t.items()}


def table(npz, weights: Path, n: int, size: int, repeats: int, threads: int,
          models=("unrolled-hqs", "deep-wiener"), compile_: bool = True) -> dict:
    import torch

    from hybrid_deblur.learned.data import PairSampler
    from hybrid_deblur.learned.layers import count_parameters

    cases = suite(npz, n)
    imgs = [a[0] for a in _crops(npz, "train400", 16, 96)]
    samp = PairSampler(images=imgs, patch=64, max_kernel=25, common_kernel=25, seed=7)
    calib = [(b["y"], b["psf"], b["sigma"]) for b in (samp.batch(s, 4) for s in range(4))]
    kt = cases[0][2]
    res = {}
    with tempfile.TemporaryDirectory() as td:
        for name in models:
            vs = variants(name, weights, calib, threads, Path(td), compile_)
            rows = {}
            ref = None
            for v, mm in vs.items():
                if isinstance(mm, str):
                    rows[v] = {"error": mm}
                    continue
                qm = mm[0]
                q = quality(qm, cases, ref)
                if v == "fp32":
                    ref = q["outs"]
                q.pop("outs")
                params = count_parameters(qm) if v not in ("int8", "onnxrt") else rows["fp32"]["params"]
                gm = qm if v not in ("int8", "onnxrt") else vs["fp32"][0]
                g = gmacs(_run, gm, np.random.default_rng(0).random((size, size), np.float32), kt)
                rows[v] = {"params": params, "gmacs_per_mp": g[0] / (size * size / 1e6),
                           "fft_gmacs_per_mp": g[1] / (size * size / 1e6), **q}
                print(f"{name:13s} {v:14s} {rows[v]['psnr']:.2f} dB", flush=True)
            speed = time_variants({v: mm[1] for v, mm in vs.items()
                                   if not isinstance(mm, str) and mm[1] is not None}, size, repeats, kt)
            for v, ms in speed.items():
                rows[v]["ms_per_mp"] = ms
            res[name] = rows
    res["load_average"] = os.getloadavg()
    res["threads"] = threads
    res["torch"] = torch.__version__
    return res


def lowlight(npz, n: int, weights: Path, crop: int = 96, method: str = "wiener") -> dict:
    import torch

    from hybrid_deblur.io import srgb_to_linear
    from hybrid_deblur.learned.zero_dce import enhance_low_light
    from hybrid_deblur.learned.zero_dce_train import FULL_WELL, low_light
    from hybrid_deblur.metrics import psnr
    from hybrid_deblur.physics.degrade import crop_valid
    from hybrid_deblur.pipeline.deblurrer import Deblurrer
    from hybrid_deblur.psf import bank

    deb = Deblurrer(method)
    kb = bank.load("camera_shake")
    imgs = _crops(npz, "cbsd68", n, crop)
    wz = weights / "zero_dce_rgb.pt"
    wz = wz if wz.exists() else None
    out = {}
    for ph in PHOTONS:
        acc = {"none": [], "zero-dce": [], "zero-dce-nogate": [], "oracle-gain": []}
        for i, x in enumerate(imgs):
            k = np.asarray(kb[(7 * i) % len(kb)], dtype=np.float64)
            if k.shape[-1] > 15:
                k = np.asarray(kb[i % 4], dtype=np.float64)
            y = low_light(torch.as_tensor(x, dtype=torch.float64), torch.as_tensor(k), photons=ph,
                          seed=i).numpy()
            ref = crop_valid(x, k.shape[-1])
            ylin = np.asarray(srgb_to_linear(y))
            ins = {"none": ylin, "zero-dce": enhance_low_light(ylin, weights=wz),
                   "zero-dce-nogate": enhance_low_light(ylin, gate=None, weights=wz),
                   "oracle-gain": ylin * (FULL_WELL / ph)}
            for key, v in ins.items():
                xh = np.stack([np.asarray(deb.restore(c.astype(np.float32), k.astype(np.float32)))
                               for c in v])  # channel by channel (σ estimated per channel)
                acc[key].append(psnr(np.clip(xh, 0, 1), ref))
        out[str(ph)] = {k: float(np.mean(v)) for k, v in acc.items()}
        print(ph, {k: round(v, 2) for k, v in out[str(ph)].items()}, flush=True)
    return out


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--npz", type=Path, default=Path("runs/deploy_gpu/data.npz"))
    ap.add_argument("--weights", type=Path, default=Path("runs/deploy_gpu"))
    ap.add_argument("--sections", default="table,lowlight")
    ap.add_argument("--n", type=int, default=8)
    ap.add_argument("--size", type=int, default=256)
    ap.add_argument("--repeats", type=int, default=5)
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--out", type=Path, default=Path("bench_out/deploy.json"))
    ap.add_argument("--models", default="unrolled-hqs,deep-wiener")
    ap.add_argument("--lowlight-method", default="wiener", help="deblurring method of the sweep")
    ap.add_argument("--no-compile", action="store_true",
                    help="skip torch.compile (fp32-inductor row, int8 timing): quality only for int8")
    a = ap.parse_args(argv)
    import torch

    torch.set_num_threads(a.threads)
    npz = np.load(a.npz)
    res = {"config": vars(a) | {"npz": str(a.npz), "weights": str(a.weights), "out": str(a.out)}}
    secs = a.sections.split(",")
    if "table" in secs:
        res["table"] = table(npz, a.weights, a.n, a.size, a.repeats, a.threads,
                             tuple(a.models.split(",")), not a.no_compile)
    if "lowlight" in secs:
        res["lowlight"] = lowlight(npz, a.n, a.weights, method=a.lowlight_method)
    a.out.parent.mkdir(parents=True, exist_ok=True)
    tmp = a.out.with_suffix(".tmp")
    tmp.write_text(json.dumps(res, indent=1, default=str))
    os.replace(tmp, a.out)
    print(f"wrote {a.out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
