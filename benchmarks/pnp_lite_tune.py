"""Held-out choice of pnp-drunet-lite's settings (iterations, λ, CG iterations per data step).

Never the test images: the trainer's held-out files (every 33rd of train400 + cbsd432, the
denoiser never trained on them), centre crops, gray linear light, fresh kernels from the
generators (:func:`hybrid_deblur.learned.data.sample_kernel`, seeds 900+; camera shake, mixed,
defocus, Gaussian, linear and the 1x1 identity), ``valid`` blur, σ ∈ {0.01, 0.03} (``--sigmas``); PSNR on the
observed frame. The cases are split in two disjoint halves (even / odd image) so a choice made
on one can be checked on the other. ``hqs-hl`` and ``pnp-drunet`` are the references.

Run::

    python benchmarks/pnp_lite_tune.py --weights RUN/drunet_gray.pt [--configs 3:0.23:4,3:0.18:4]
        [--crop 160] [--images 26] [--out bench_out/pnp_lite_tune.json]

A config is ``iterations:lambda:data_iters[:precision]`` (precision float32 / bfloat16 / auto).
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

FAMILIES = ("camera_shake", "mixed", "defocus", "gaussian", "linear", "identity")


def held_out_images(data: Path, n: int, crop: int) -> list[np.ndarray]:
    from hybrid_deblur.io import imread
    from hybrid_deblur.learned.data import list_images

    files = list_images([data / "train400"]) + list_images([data / "cbsd432"])
    out = []
    for f in files[::33][:n]:  # ImageBank(val_every=33): the files the trainer never used
        a = imread(f, linear=True, gray=True)
        h, w = a.shape
        c = min(crop, h, w)
        out.append(a[(h - c) // 2:(h - c) // 2 + c, (w - c) // 2:(w - c) // 2 + c])
    return out


def cases(imgs, sigmas=(0.01, 0.03)):
    from hybrid_deblur.learned.data import sample_kernel
    from hybrid_deblur.physics import Blur

    for i, x in enumerate(imgs):
        for f, fam in enumerate(FAMILIES):
            if fam == "identity":
                k = np.ones((1, 1))
            else:
                k, _ = sample_kernel(np.random.default_rng(900 + 31 * i + f), kinds={fam: 1.0})
            for s in sigmas:
                y = Blur(k, "valid")(x) if k.size > 1 else x + 0
                y = y + s * np.random.default_rng(7 * i + 100 * f + int(s * 1e4)).standard_normal(y.shape)
                o = [kk - 1 - kk // 2 for kk in k.shape]
                yield {"image": i, "family": fam, "sigma": s, "y": y, "k": k,
                       "ref": x[o[0]:o[0] + y.shape[0], o[1]:o[1] + y.shape[1]]}


def run_method(name: str, c: dict, weights: str | None):
    from hybrid_deblur.analysis.registry import restore

    if ":" not in name:  # a registered method (e.g. the pnp-drunet-lite preset itself)
        return restore(c["y"], c["k"], method=name, boundary="auto", sigma=c["sigma"])
    from hybrid_deblur.learned.pnp_presets import pnp_drunet_lite

    parts = name.split(":")
    it, lam, di = int(parts[0]), float(parts[1]), int(parts[2])
    prec = parts[3] if len(parts) > 3 else "float32"
    return pnp_drunet_lite(c["y"], c["k"], sigma=c["sigma"], weights=weights, num_iter=it, lam=lam,
                           data_iters=di, denoiser_precision=prec)


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--data", default=str(ROOT / ".." / "shared" / "data"))
    ap.add_argument("--weights", default=None, help="lite denoiser weights (default: shipped)")
    ap.add_argument("--configs", default="3:0.23:4")
    ap.add_argument("--refs", default="hqs-hl,pnp-drunet")
    ap.add_argument("--crop", type=int, default=160)
    ap.add_argument("--sigmas", default="0.01,0.03", help="noise levels (given to every method)")
    ap.add_argument("--images", type=int, default=26)
    ap.add_argument("--out", default="bench_out/pnp_lite_tune.json")
    a = ap.parse_args(argv)
    import torch

    from hybrid_deblur.metrics import psnr

    torch.set_num_threads(1)
    methods = [m for m in a.refs.split(",") if m] + [m for m in a.configs.split(",") if m]
    rows = []
    t0 = time.time()
    sig = tuple(float(v) for v in a.sigmas.split(","))
    for c in cases(held_out_images(Path(a.data), a.images, a.crop), sig):
        for m in methods:
            x = np.asarray(run_method(m, c, a.weights), dtype=np.float64)
            rows.append({"method": m, "image": c["image"], "family": c["family"], "sigma": c["sigma"],
                         "psnr": float(psnr(np.clip(x, 0, 1), c["ref"]))})
    summ: dict = {}
    for m in methods:
        mine = [r for r in rows if r["method"] == m]
        d = {"all": np.mean([r["psnr"] for r in mine]),
             "half_even": np.mean([r["psnr"] for r in mine if r["image"] % 2 == 0]),
             "half_odd": np.mean([r["psnr"] for r in mine if r["image"] % 2 == 1])}
        for fam in FAMILIES:
            d[fam] = np.mean([r["psnr"] for r in mine if r["family"] == fam])
        summ[m] = {k: round(float(v), 3) for k, v in d.items()}
    out = Path(a.out)
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps({"summary": summ, "rows": rows, "args": vars(a),
                               "seconds": round(time.time() - t0, 1)}, indent=1))
    cols = ["all", "half_even", "half_odd", *FAMILIES]
    print("| method | " + " | ".join(cols) + " |")
    for m, d in summ.items():
        print(f"| {m} | " + " | ".join(f"{d[c]:.2f}" for c in cols) + " |")
    return 0


if __name__ == "__main__":
    sys.exit(main())
