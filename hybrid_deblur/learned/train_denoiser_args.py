"""Command-line arguments of :mod:`hybrid_deblur.learned.train_denoiser` (its ``parser()``)."""

from __future__ import annotations

import argparse

__all__ = ["parser"]

DESCRIPTION = "Train the DRUNet denoiser prior (GPU or CPU), then optionally fine-tune the unrolled network."


def parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="python -m hybrid_deblur.learned.train_denoiser",
                                description=DESCRIPTION)
    p.add_argument("--device", default="cpu", help="cpu, cuda, cuda:0 ...")
    p.add_argument("--minutes", type=float, default=0.0, help="wall-clock budget (0: use --steps)")
    p.add_argument("--steps", type=int, default=1000, help="total steps when --minutes is 0")
    p.add_argument("--data", default="../shared/data", help="folder with train400/ and cbsd432/")
    p.add_argument("--out", required=True, help="run folder (checkpoint, weights, cards, curve)")
    p.add_argument("--resume", action="store_true", help="continue from <ckpt-dir>/checkpoint.pt")
    p.add_argument("--ckpt-dir", default=None,
                   help="folder of the resumable checkpoint (default: --out); the weights in --out "
                        "are refreshed with every checkpoint, so a killed run keeps its last good weights")
    p.add_argument("--channels", default="both", choices=["1", "3", "both"])
    p.add_argument("--widths", type=int, nargs="+", default=[32, 64, 128, 192])
    p.add_argument("--blocks", type=int, default=1)
    p.add_argument("--patch", type=int, default=None, help="crop side (default 128 GPU, 64 CPU)")
    p.add_argument("--batch", type=int, default=None, help="batch (default 32 GPU, 8 CPU)")
    p.add_argument("--lr", type=float, default=4e-4)
    p.add_argument("--lr-restart-at", type=float, default=None, metavar="X",
                   help="extend a finished run: keep the cosine over [0, X] (minutes with --minutes, "
                        "else steps) and start a second warm-up + cosine from X to the new budget")
    p.add_argument("--restart-lr", type=float, default=None,
                   help="peak learning rate of the segment after --lr-restart-at (default --lr)")
    p.add_argument("--low-sigma-share", type=float, default=0.0,
                   help="share of the batch with noise levels log-uniform in [0.25, 50]/255")
    p.add_argument("--init", default=None, metavar="WEIGHTS",
                   help="start from these denoiser weights (a drunet_*.pt of an earlier run; gray "
                        "weights start a colour model on the luminance plane, see colour_from_gray)")
    p.add_argument("--finetune-share", type=float, default=0.0,
                   help="share of the budget spent fine-tuning the gray UnrolledHQS on valid blur "
                        "(1: fine-tune only, from the denoiser given by --init)")
    p.add_argument("--stages", type=int, default=6, help="UnrolledHQS stages for the fine-tune")
    p.add_argument("--ft-patch", type=int, default=None)
    p.add_argument("--ft-batch", type=int, default=None)
    p.add_argument("--ft-lr", type=float, default=5e-5)
    p.add_argument("--kernels", type=int, default=None, help="kernel pool size (fine-tune)")
    p.add_argument("--ft-init", default="wiener", choices=["wiener", "hqs-hl", "observation"],
                   help="start of the fine-tuned UnrolledHQS ('observation': the engine's HQS start, "
                        "that of pnp_drunet)")
    p.add_argument("--ft-data-solver", default="mm", choices=["mm", "cg"],
                   help="image step of the fine-tuned UnrolledHQS on valid blur ('cg': the engine's "
                        "PnP data step, PNP_DATA_ITERS conjugate-gradient iterations)")
    p.add_argument("--ft-hyper-lr", type=float, default=None,
                   help="learning rate of UnrolledHQS's schedule hyper-network (default --ft-lr)")
    p.add_argument("--ft-identity-share", type=float, default=0.0,
                   help="share of the fine-tune kernel pool replaced by the 1x1 identity (no blur)")
    p.add_argument("--workers", type=int, default=None, help="processes generating the kernel pool")
    p.add_argument("--precision", default="auto", choices=["auto", "bf16", "fp32"])
    p.add_argument("--threads", type=int, default=None, help="torch CPU threads (default: all cores)")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--limit-images", type=int, default=None, help="use only this many files (tests)")
    p.add_argument("--val-every", type=int, default=500)
    p.add_argument("--val-seconds", type=float, default=60.0)
    p.add_argument("--log-seconds", type=float, default=15.0)
    p.add_argument("--ckpt-every", type=int, default=0, help="checkpoint every N steps (0: by time)")
    p.add_argument("--ckpt-seconds", type=float, default=60.0)
    p.add_argument("--stop-after", type=int, default=None, help="stop after N steps (as if interrupted)")
    p.add_argument("--export", default=None, metavar="DIR", help="also copy weights + cards to DIR")
    p.add_argument("--refresh-shipped", action="store_true",
                   help="copy the weights + cards into the package's shipped-weights folder")
    return p
