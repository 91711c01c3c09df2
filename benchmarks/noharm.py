"""No-harm matrix: every default classical solver against the blurred input and its own oracle.

Protocol (issue 9, DESIGN §7): 12 natural images (6 BSD68 + 6 Kodak24 crops, gray, values
/255) x 8 kernels (1x1 identity, disk r=2 and r=6, Gaussian sigma=1.5, linear motion 9 and
25 px, two bank camera-shake kernels, motion(15, 30 deg) * disk(3)) x Gaussian noise
sigma in {0, 0.002, 0.005, 0.01, 0.03}; ``valid`` blur (the observation is smaller than the
scene). Each solver runs with its defaults (``f(y, psf)``: no sigma, no parameter) and is
scored by PSNR on the observed frame against the ground truth there; the blurred input is
scored the same way. PSNR is capped at 60 dB (RMSE 1e-3): with the identity kernel at
sigma = 0 "no harm" means returning the input to within 1e-3.

Oracle of each solver = its best PSNR over its own main parameter with the truth known:
wiener: the scalar NSR (reg="gradient", 9 values) and the noise level given to the
automatic model (7 values); tikhonov: lam (12 values, 1e-6 .. 0.3); richardson_lucy: the best iterate
of a 300-iteration run; richardson_lucy_tv: the TV weight (auto x {1/4, 1/2, 1, 2, 4});
hqs_tv / hqs_hl: lam (auto x {1/4, 1/2, 1, 2, 4}).

Usage::

    python benchmarks/noharm.py [--quick] [--data ../shared/data] [--out bench_out/noharm.json]
                                [--methods wiener,tikhonov,...] [--oracle all|linear|none]

Beyond the classical solvers, ``--methods`` accepts any registered method name (e.g.
``pnp-drunet``: ``Deblurrer(name).restore(y, psf)`` with its defaults; its oracle is the same
method given the true noise level) and ``blind:NAME`` (``Deblurrer(NAME, estimator="auto")
.restore(y)``: the kernel is estimated, the no-harm guard and the blind noise floor act; its
oracle is the same method with the true kernel, so the gap is the price of not knowing it).
This is the matrix of the defaults a user gets: ``--methods pnp-drunet,blind:pnp-drunet``.

``--quick``: 3 images x 5 kernels x sigma {0, 0.005, 0.01}; ``--images N``: the first N
images (half BSD68, half Kodak24) of the full protocol. Writes a JSON with every cell
and a summary, and prints the table (per solver x sigma: cells, cells harmed by > 0.1 dB,
worst margin to the input, mean gap to the oracle, share within 1 dB of the oracle).
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from hybrid_deblur import solvers as S
from hybrid_deblur.physics import Blur

SIGMAS = (0.0, 0.002, 0.005, 0.01, 0.03)
METHODS = ("wiener", "tikhonov", "richardson_lucy", "richardson_lucy_tv", "hqs_tv", "hqs_hl")
CAP = 60.0
CROP = 128


def psnr(x, ref):
    mse = float(np.mean((np.asarray(x, dtype=np.float64) - ref) ** 2))
    return min(CAP, 10 * np.log10(1.0 / max(mse, 1e-300)))


def load_images(data: Path, n_bsd: int, n_kodak: int, size: int = CROP):
    from PIL import Image

    out = []
    for i in range(n_bsd):
        f = data / "bsd68" / f"test{1 + 11 * i:03d}.png"
        a = np.asarray(Image.open(f).convert("L"), dtype=np.float64) / 255.0
        r0, c0 = (a.shape[0] - size) // 2, (a.shape[1] - size) // 2
        out.append((f.stem, a[r0:r0 + size, c0:c0 + size]))
    for i in range(n_kodak):
        f = data / "kodak24" / f"kodim{1 + 4 * i:02d}.png"
        a = np.asarray(Image.open(f).convert("L"), dtype=np.float64) / 255.0
        r0, c0 = (a.shape[0] - size) // 3, (a.shape[1] - size) // 3
        out.append((f.stem, a[r0:r0 + size, c0:c0 + size]))
    return out


def kernels():
    from scipy.signal import convolve2d

    from hybrid_deblur import psf as P
    from hybrid_deblur.psf import bank

    cs = list(bank.load("camera_shake"))
    mid = min(cs, key=lambda k: abs(k.shape[0] - 15))
    big = min(cs, key=lambda k: abs(k.shape[0] - 27))
    md = convolve2d(np.asarray(P.linear_motion(15, 30)), np.asarray(P.disk(3)))
    out = {
        "identity": np.ones((1, 1)),
        "disk2": P.disk(2), "disk6": P.disk(6), "gauss1.5": P.gaussian(1.5),
        "motion9": P.linear_motion(9, 20), "motion25": P.linear_motion(25, 60),
        "shake15": mid, "shake27": big, "motion*disk": md / md.sum(),
    }
    return {k: np.asarray(v, dtype=np.float64) / float(np.sum(v)) for k, v in out.items()}


def _info(f, y, k, **kw):
    x, info = f(y, k, return_info=True, **kw)
    return x, info


#: ``--blind-floor``: the blind noise floor given to Deblurrer (None: its default)
BLIND_FLOOR = {}


def _deblurrer(method):
    from hybrid_deblur.pipeline.deblurrer import Deblurrer

    name = method.split(":", 1)[-1]
    if method.startswith("blind:"):
        return Deblurrer(name, estimator="auto", **BLIND_FLOOR)
    return Deblurrer(name)


def restore(method, y, k):
    """``(x, info)`` of one cell: a solver's defaults, or a Deblurrer (registered / blind)."""
    if hasattr(S, method):
        return _info(getattr(S, method), y, k)
    import warnings

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # NoBlurWarning is recorded in the report
        if method.startswith("blind:"):
            x, rep = _deblurrer(method).restore(y, return_report=True)
            est = rep["estimate"]  # what the estimator chose and why (the harmed cells' story)
            return x, {"decision": rep["decision"], "psf_shape": list(np.shape(rep["psf"])),
                       "chosen": est.params.get("chosen"), "path": est.params.get("path"),
                       "confidence": round(float(est.confidence), 4),
                       "notes": list(est.params.get("notes") or [])}
        return _deblurrer(method).restore(y, k), {}


def oracle(method, y, k, ref, info, level, sigma=None):
    """Best PSNR over the solver's own parameter (see the module notes)."""
    best = -np.inf
    if not hasattr(S, method):  # registered / blind: the same method knowing sigma / the kernel
        from hybrid_deblur.pipeline.deblurrer import Deblurrer

        if level == "linear":
            return None
        name = method.split(":", 1)[-1]
        if method.startswith("blind:"):
            return psnr(Deblurrer(name).restore(y, k), ref)
        return psnr(Deblurrer(name).restore(y, k, sigma=max(float(sigma), 1e-4)), ref)
    if method == "wiener":
        for nsr in np.logspace(-5, 0, 9):
            best = max(best, psnr(S.wiener(y, k, nsr=float(nsr), reg="gradient"), ref))
        for s in (0.0005, 0.001, 0.002, 0.005, 0.01, 0.02, 0.04):
            best = max(best, psnr(S.wiener(y, k, sigma=s), ref))
    elif method == "tikhonov":
        # tikhonov(lam) = the exact valid solve (tests/test_contract.py); a looser CG
        # tolerance changes the PSNR by < 0.01 dB and keeps the sweep affordable
        A = Blur(k, "valid")
        c = [n - 1 - n // 2 for n in k.shape]
        for lam in np.logspace(-6, -0.5, 12):
            x = A.solve_normal(y, reg="laplacian", reg_weight=float(lam), tol=1e-5)
            best = max(best, psnr(x[c[0]:c[0] + y.shape[0], c[1]:c[1] + y.shape[1]], ref))
    elif level == "linear":
        return None
    elif method == "richardson_lucy":
        rec = []
        S.richardson_lucy(y, k, 300, reference=ref, callback=lambda i, x, r, p: rec.append(p))
        best = max(min(p, CAP) for p in rec)
    elif method == "richardson_lucy_tv":
        tv = float(info["tv"])
        for f in (0.25, 0.5, 2.0, 4.0):
            best = max(best, psnr(S.richardson_lucy_tv(y, k, tv=tv * f), ref))
    elif method in ("hqs_tv", "hqs_hl"):
        lam = float(info["lam"]) or 1e-4  # sigma = 0 -> automatic lam 0 (solvers refuse 0)
        for f in (0.25, 0.5, 2.0, 4.0):
            best = max(best, psnr(getattr(S, method)(y, k, lam=lam * f), ref))
    return best


def run(args):
    data = Path(args.data)
    quick = args.quick
    nb = 2 if quick else (args.images + 1) // 2 if args.images else 6
    nk = 1 if quick else args.images // 2 if args.images else 6
    ims = load_images(data, nb, nk)
    ks = kernels()
    if quick:
        ks = {n: ks[n] for n in ("identity", "disk2", "gauss1.5", "motion9", "shake15")}
    sigmas = (0.0, 0.005, 0.01) if quick else SIGMAS
    methods = args.methods.split(",") if args.methods else list(METHODS)
    from hybrid_deblur.pipeline.methods import METHODS as REGISTERED

    bad = [m for m in methods if not hasattr(S, m) and m.split(":", 1)[-1] not in REGISTERED]
    if bad:
        raise SystemExit(f"--methods: unknown {', '.join(bad)}; accepted: {', '.join(METHODS)}, "
                         "a registered method name, or blind:NAME")
    cells = []
    t0 = time.time()
    for ii, (iname, im) in enumerate(ims):
        for kname, k in ks.items():
            A = Blur(k, "valid")
            yc = A(im)
            c = [kk - 1 - kk // 2 for kk in k.shape]
            ref = im[c[0]:c[0] + yc.shape[0], c[1]:c[1] + yc.shape[1]]
            for s in sigmas:
                rng = np.random.default_rng(1000 * ii + 17 * len(cells) + int(s * 1e4))
                y = yc + s * rng.standard_normal(yc.shape)
                p_in = psnr(y, ref)
                for m in methods:
                    t1 = time.time()
                    x, info = restore(m, y, k)
                    dt = time.time() - t1
                    row = {"image": iname, "kernel": kname, "sigma": s, "method": m,
                           "input": p_in, "default": psnr(np.asarray(x), ref), "time": dt}
                    if "decision" in info:
                        row.update(info)
                    if args.oracle != "none":
                        o = oracle(m, y, k, ref, info, args.oracle, sigma=s)
                        row["oracle"] = None if o is None else max(o, row["default"])
                    cells.append(row)
            print(f"[{time.time() - t0:7.1f}s] {iname} {kname} done", flush=True)
    return cells


def summarize(cells):
    out = {}
    for m in sorted({c["method"] for c in cells}):
        for s in sorted({c["sigma"] for c in cells}):
            rows = [c for c in cells if c["method"] == m and c["sigma"] == s]
            if not rows:
                continue
            margin = [r["default"] - r["input"] for r in rows]
            gaps = [r["oracle"] - r["default"] for r in rows if r.get("oracle") is not None]
            out[f"{m}@{s}"] = {
                "cells": len(rows), "harmed": int(sum(v < -0.1 for v in margin)),
                "worst_margin": float(min(margin)), "mean_margin": float(np.mean(margin)),
                "mean_gap_oracle": float(np.mean(gaps)) if gaps else None,
                "within_1db": float(np.mean([g <= 1.0 for g in gaps])) if gaps else None,
            }
            if any("decision" in r for r in rows):
                out[f"{m}@{s}"]["identity"] = int(sum(r.get("decision") == "identity" for r in rows))
                out[f"{m}@{s}"]["implausible"] = int(sum(r.get("decision") == "implausible" for r in rows))
    return out


def print_table(summary):
    print(f"{'method':20s} {'sigma':>6s} {'cells':>5s} {'harmed':>6s} {'worst':>7s} "
          f"{'mean':>6s} {'gap':>6s} {'<=1dB':>6s}")
    for key, v in summary.items():
        m, s = key.split("@")
        gap = "" if v["mean_gap_oracle"] is None else f"{v['mean_gap_oracle']:6.2f}"
        w1 = "" if v["within_1db"] is None else f"{100 * v['within_1db']:5.0f}%"
        print(f"{m:20s} {float(s):6.3f} {v['cells']:5d} {v['harmed']:6d} "
              f"{v['worst_margin']:7.2f} {v['mean_margin']:6.2f} {gap:>6s} {w1:>6s}")


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--data", default=str(ROOT.parent / "shared" / "data"))
    ap.add_argument("--out", default=str(ROOT / "bench_out" / "noharm.json"))
    ap.add_argument("--quick", action="store_true")
    ap.add_argument("--methods", default="")
    ap.add_argument("--oracle", choices=("all", "linear", "none"), default="all")
    ap.add_argument("--blind-floor", type=float, default=None,
                    help="blind:NAME methods: Deblurrer(blind_sigma_floor=...) (0 = off; default: its default)")
    ap.add_argument("--images", type=int, default=0,
                    help="use the first N images (half BSD68, half Kodak; default all 12)")
    args = ap.parse_args(argv)
    if args.blind_floor is not None:
        BLIND_FLOOR["blind_sigma_floor"] = args.blind_floor or None
    cells = run(args)
    summary = summarize(cells)
    print_table(summary)
    out = Path(args.out)
    out.parent.mkdir(parents=True, exist_ok=True)
    tmp = out.with_suffix(".json.tmp")
    tmp.write_text(json.dumps({"args": vars(args), "summary": summary, "cells": cells},
                              indent=1))
    os.replace(tmp, out)
    print(f"wrote {out}")


if __name__ == "__main__":
    main()
