"""``hybrid-deblur train``: train a learned model from a TOML config (resumable, DDP-ready).

Examples
--------
``hybrid-deblur train --config configs/unrolled_hqs_gray.toml`` reproduces the shipped
gray UnrolledHQS weights; ``--resume`` continues an interrupted run exactly;
``torchrun --nproc_per_node=2 -m hybrid_deblur.cli.main train --config ...`` trains
data-parallel (gloo on CPU, NCCL on GPU).

Training never writes into the package: the final weights go to the run folder (``--out``)
under the config's ``[export]`` file name, or to ``--export PATH``; overwriting a shipped
weight file needs ``--refresh-shipped``. Input paths in the config resolve against the
config file. A damaged or foreign checkpoint is refused on ``--resume`` (exit status 2);
a NaN/inf loss stops the run with exit status 3, keeping the last good checkpoint. The
denoiser prior has its own trainer: ``python -m hybrid_deblur.learned.train_denoiser``.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path


def add_parser(sub):
    p = sub.add_parser(
        "train",
        help="train a learned model (unrolled-hqs, deep-wiener, unrolled-rl) from a TOML config",
        description="Train a learned deblurring model from a TOML config (see configs/). "
                    "Checkpoints are atomic; --resume continues exactly where a run stopped.",
    )
    p.add_argument("--config", required=True, help="TOML config file (e.g. configs/unrolled_hqs_gray.toml)")
    p.add_argument("--resume", action="store_true", help="continue from <out_dir>/checkpoint.pt")
    p.add_argument("--out", default=None, help="run folder (overrides [train] out_dir)")
    p.add_argument("--steps", type=int, default=None, help="override [train] steps")
    p.add_argument("--max-minutes", type=float, default=None, help="override [train] max_minutes")
    p.add_argument("--threads", type=int, default=None, help="override [train] threads")
    p.add_argument("--device", default=None, help="override [train] device (auto, cpu, cuda:0)")
    p.add_argument("--no-export", action="store_true", help="do not write the [export] weights")
    p.add_argument("--export", default=None, metavar="PATH",
                   help="write the final weights + model card to PATH (default: the config's "
                        "[export] file name inside the run folder)")
    p.add_argument("--refresh-shipped", action="store_true",
                   help="allow the export to overwrite the weights shipped inside the package "
                        "(never done otherwise)")
    return p


def run(args) -> int:
    from ..learned.config import load_config
    from ..learned.train import TrainingDiverged, train

    cfg = load_config(args.config)
    for key, val in (("steps", args.steps), ("max_minutes", args.max_minutes),
                     ("threads", args.threads), ("device", args.device)):
        if val is not None:
            if key in ("steps", "threads") and int(val) < 1:
                raise ValueError(f"--{key.replace('_', '-')} must be >= 1, got {val}")
            cfg["train"][key] = val
    if args.no_export:
        cfg["export"]["path"] = ""
    elif args.export:
        cfg["export"]["path"] = str(Path(args.export).resolve())
    cfg["export"]["refresh_shipped"] = bool(args.refresh_shipped)
    try:
        out = train(cfg, resume=args.resume, out_dir=args.out)
    except TrainingDiverged as exc:
        print(f"hybrid-deblur train: error: {exc}", file=sys.stderr)
        return 3
    last = out["val_history"][-1] if out["val_history"] else {}
    line = {"step": out["step"], "stopped": out["stopped"], "final_loss": out["final_loss"],
            "val_psnr": last.get("psnr"), "seconds": out["seconds"],
            "export": (out.get("export") or {}).get("file")}
    print(json.dumps(line))
    return 0
