"""Training runs of the deployment study (issue 13): Zero-DCE, distillation, separable variants.

Jobs (each one process; they can run side by side on one GPU):

``zero_dce``   Zero-DCE on low-light syntheses of CBSD432 (training-only set), no references.
``alone``      the small UnrolledHQS student (widths 16/32/56, 22 % of the teacher's
               parameters) trained alone: plain L1, ``--steps`` steps.
``distill``    the same student, same data/steps/seed/optimiser, with the shipped
               UnrolledHQS as teacher (output + per-stage prior-feature losses).
``sep_hqs``    depthwise-separable variant of the shipped UnrolledHQS (SVD init, -80 %
               parameters), fine-tuned by distillation from the original.
``sep_dw``     the same for the shipped DeepWiener.

Data travel as one ``.npz`` (``--prepare``, run where ``../shared/data`` is): Train400
(gray, uint8 sRGB) and 160 CBSD432 centre crops of 256 x 256 (RGB, uint8 sRGB).

Run::

    python benchmarks/deploy_train.py --prepare runs/deploy_gpu/data.npz [--data ../shared/data]
    python benchmarks/deploy_train.py --job distill --npz runs/deploy_gpu/data.npz --out runs/deploy_gpu
        [--steps 1500] [--device cuda] [--max-seconds 300]
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

STUDENT = {"stages": 3, "channels": 1, "widths": [16, 32, 56], "blocks": 1, "alpha0": 4.0,
           "hidden": 32, "init": "hqs-hl"}
JOBS = ("zero_dce", "alone", "distill", "sep_hqs", "sep_dw")


def prepare(path: Path, data: Path) -> None:
    from hybrid_deblur.io import imread

    t4 = sorted((data / "train400").glob("*.png"))
    man = json.loads((data / "train400" / "manifest.json").read_text())
    excluded = {e["file"] for e in man.get("excluded", [])}
    gray = np.stack([np.round(imread(p, linear=False, gray=True) * 255).astype(np.uint8)
                     for p in t4 if p.name not in excluded])
    cb = sorted((data / "cbsd432").glob("*.jpg"))[:160]
    rgb = []
    for p in cb:
        a = imread(p, linear=False)  # (3, H, W)
        _, h, w = a.shape
        i0, j0 = (h - 256) // 2, (w - 256) // 2
        rgb.append(np.round(a[:, i0:i0 + 256, j0:j0 + 256] * 255).astype(np.uint8))
    def centre(files, n, side, gray):
        out = []
        for p in files[:n]:
            a = imread(p, linear=False, gray=gray)
            a = a[None] if a.ndim == 2 else a
            _, h, w = a.shape
            i0, j0 = (h - side) // 2, (w - side) // 2
            out.append(np.round(a[:, i0:i0 + side, j0:j0 + side] * 255).astype(np.uint8))
        return np.stack(out)

    # evaluation sets (never trained on): BSD68 and CBSD68 centre crops for benchmarks/deploy.py
    bsd = centre(sorted((data / "bsd68").glob("*.png")), 24, 160, True)
    cbsd = centre(sorted((data / "cbsd68").glob("*.png")), 24, 160, False)
    path.parent.mkdir(parents=True, exist_ok=True)
    np.savez_compressed(path, train400=gray, cbsd432=np.stack(rgb), bsd68=bsd, cbsd68=cbsd)
    print(f"wrote {path}: train400 {gray.shape}, cbsd432 crops {np.stack(rgb).shape}")


def _linear(u8: np.ndarray) -> np.ndarray:
    from hybrid_deblur.io import srgb_to_linear

    return np.asarray(srgb_to_linear(u8.astype(np.float32) / 255.0), dtype=np.float32)


def sampler(npz, seed: int = 0, patch: int = 64):
    from hybrid_deblur.learned.data import PairSampler

    imgs = [_linear(a) for a in npz["train400"]]
    return PairSampler(images=imgs, channels=1, patch=patch, min_kernel=3, common_kernel=25,
                       max_kernel=41, p_large=0.15, sigma=(0.0, 0.03), p_poisson=0.2,
                       photons=(100.0, 3000.0), rotate=15.0, p_rotate=0.3, hsv=0.0,
                       val_every=33, seed=seed)


def run_job(job: str, npz, out: Path, steps: int, device: str, max_seconds: float, *,
            batch: int = 16, patch: int = 64, lr: float = 5e-4, nval: int = 32,
            zlr: float = 1e-4) -> dict:
    import torch

    from hybrid_deblur.learned.deploy.distill import distill, evaluate_psnr
    from hybrid_deblur.learned.deploy.grouped import separable_variant
    from hybrid_deblur.learned.layers import count_parameters
    from hybrid_deblur.learned.models import build_model
    from hybrid_deblur.learned.weights import load_model, save_weights, shipped_path

    t0 = time.perf_counter()
    card = {"job": job, "steps": steps, "device": device, "hardware": torch.cuda.get_device_name()
            if device.startswith("cuda") else "cpu", "data": "Train400 (training only)"}
    if job == "zero_dce":
        from hybrid_deblur.learned.zero_dce_train import train_zero_dce

        imgs = [_linear(a) for a in npz["cbsd432"]]
        net, hist = train_zero_dce(imgs, steps=steps, batch_size=batch, patch=patch, device=device,
                                   max_seconds=max_seconds, log_every=10, lr=zlr)
        card.update(data="CBSD432 centre crops 256^2 (training only), low-light synthesis: "
                    "valid blur, photons 5-300 at peak (full well 1000 e-), read noise 2 e-, "
                    "sRGB, 8 bit; no reference images", steps_done=hist[-1]["step"] + 1,
                    loss_first=hist[0], loss_last=hist[-1], batch=batch, patch=patch, lr=zlr)
        save_weights(net.cpu(), out / "zero_dce_rgb.pt", card=card)
        (out / "zero_dce_hist.json").write_text(json.dumps(hist))
        return card
    samp = sampler(npz, patch=patch)
    val = samp.validation(nval)
    teacher = None
    if job in ("alone", "distill"):
        teacher = load_model(shipped_path("unrolled_hqs_gray")).to(device)
        torch.manual_seed(0)
        student = build_model("unrolled-hqs", **STUDENT)
        fm, tname = "prior", "unrolled_hqs_gray"
        if job == "alone":
            teacher = None
    else:
        tname = "unrolled_hqs_gray" if job == "sep_hqs" else "deep_wiener_gray"
        teacher = load_model(shipped_path(tname)).to(device)
        student = separable_variant(teacher)
        fm = "prior" if job == "sep_hqs" else "refine"
        card["psnr_val_before_finetune"] = evaluate_psnr(student.to(device), val, device)
    hist = distill(student, samp, steps=steps, batch_size=batch, teacher=teacher,
                   output_weight=1.0, feature_weight=0.5, feature_module=fm, lr=lr,
                   device=device, log_every=5, max_seconds=max_seconds)
    card.update(teacher=tname if teacher is not None else None,
                parameters=count_parameters(student), psnr_val=evaluate_psnr(student, val, device),
                teacher_psnr_val=evaluate_psnr(load_model(shipped_path(tname)).to(device), val, device),
                seconds=time.perf_counter() - t0, batch=batch, patch=patch, lr=lr,
                steps_done=hist[-1]["step"] + 1, val_samples=nval)
    save_weights(student.cpu(), out / f"{job}.pt", card=card)
    (out / f"{job}_hist.json").write_text(json.dumps(hist))
    return card


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--prepare", type=Path, help="write the data .npz here and exit")
    ap.add_argument("--data", type=Path, default=ROOT.parent / "shared" / "data")
    ap.add_argument("--job", choices=JOBS)
    ap.add_argument("--npz", type=Path)
    ap.add_argument("--out", type=Path, default=Path("runs/deploy_gpu"))
    ap.add_argument("--steps", type=int, default=1500)
    ap.add_argument("--device", default="cuda")
    ap.add_argument("--max-seconds", type=float, default=300.0)
    ap.add_argument("--batch", type=int, default=16)
    ap.add_argument("--patch", type=int, default=64)
    ap.add_argument("--lr", type=float, default=5e-4, help="distillation / fine-tuning lr")
    ap.add_argument("--zlr", type=float, default=1e-4, help="Zero-DCE lr")
    ap.add_argument("--val", type=int, default=32, help="validation samples")
    ap.add_argument("--threads", type=int, default=2)
    a = ap.parse_args(argv)
    if a.prepare:
        prepare(a.prepare, a.data)
        return 0
    if not a.job or not a.npz:
        ap.error("--job and --npz are required (or --prepare)")
    import torch

    torch.set_num_threads(a.threads)
    a.out.mkdir(parents=True, exist_ok=True)
    card = run_job(a.job, np.load(a.npz), a.out, a.steps, a.device, a.max_seconds, batch=a.batch,
                   patch=a.patch, lr=a.lr, nval=a.val, zlr=a.zlr)
    print(json.dumps({k: v for k, v in card.items() if not isinstance(v, dict)}, default=str))
    return 0


if __name__ == "__main__":
    sys.exit(main())
