"""The trainer: AdamW + cosine schedule, EMA, clipping, AMP on GPU, exact resume, DDP.

Public, reusable pieces (the GAN trainer of :mod:`hybrid_deblur.learned.gan` and the
denoiser trainer build on them): :class:`Trainer` (override :meth:`Trainer.train_step`),
:func:`train`, :func:`rng_state` / :func:`set_rng_state`, :func:`hardware`,
:func:`resume_hash`, :class:`TrainingDiverged`; checkpoints are written with
:func:`hybrid_deblur.learned.weights.save_checkpoint` (checksum + config hash) and a
damaged or foreign one is refused (:class:`~hybrid_deblur.learned.weights.CheckpointError`).
A non-finite loss stops the run with :class:`TrainingDiverged`; the last good
checkpoint on disk is kept untouched.

``train(config)`` runs a configuration of :mod:`hybrid_deblur.learned.config`
(``hybrid-deblur train --config configs/unrolled_hqs_gray.toml [--resume]``).
Everything a resumed run needs is in ``<out_dir>/checkpoint.pt`` (written
atomically every ``ckpt_every`` steps, at the wall-clock limit and at the end):
model, optimiser, scheduler, EMA, the RNG states of Python / NumPy / torch and the
step counter, which is also the position of the (deterministic) data stream. On
the CPU a resumed run reproduces the uninterrupted run's losses exactly.

Data-parallel: start the same script with ``torchrun --nproc_per_node=N``
(``WORLD_SIZE`` is read from the environment; gloo on CPU, NCCL on GPU), or call
:func:`train` inside an initialised process group. ``batch_size`` is per process.

Logs: ``log.csv`` (step, loss, lr, grad_norm, seconds), ``summary.json``
(config, validation PSNR history, timing, hardware) and, with ``[export] path``,
the final EMA weights with their model card.
"""

from __future__ import annotations

import copy
import csv
import json
import math
import os
import platform
import random
import sys
import time
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch.nn import functional as F

from .config import merge_defaults
from .data import PairSampler
from .models import build_model
from .weights import _atomic_bytes, config_hash, load_checkpoint, save_checkpoint, save_weights

__all__ = ["train", "Trainer", "rng_state", "set_rng_state", "hardware", "resume_hash",
           "TrainingDiverged", "ema_model"]

def ema_model(model: torch.nn.Module, ema: dict) -> torch.nn.Module:
    """A copy of ``model`` carrying the EMA weights ``ema``, in eval mode (for validation/export)."""
    m = copy.deepcopy(model)
    m.load_state_dict(ema)
    return m.eval()


#: [train] keys that a resumed run may change (length, logging, hardware)
_RESUMABLE = {"steps", "max_minutes", "threads", "device", "out_dir", "log_every", "val_every",
              "val_samples", "ckpt_every"}


class TrainingDiverged(RuntimeError):
    """The loss became NaN or infinite; the run stopped and kept its last good checkpoint."""


def resume_hash(cfg: dict) -> str:
    """Hash of the parts of a config a checkpoint must match (model, data, optimiser, loss)."""
    keep = {"model": cfg.get("model"), "data": cfg.get("data"),
            "train": {k: v for k, v in (cfg.get("train") or {}).items() if k not in _RESUMABLE}}
    return config_hash(keep)


# ----------------------------------------------------------------------------- RNG state
def rng_state() -> dict:
    """RNG states of Python, NumPy and torch as tensors / plain values (weights_only-safe)."""
    pv, pstate, pg = random.getstate()
    npst = np.random.get_state()
    out = {"python": [pv, list(pstate), pg], "numpy": [npst[0], torch.from_numpy(npst[1].astype(np.int64)),
                                                      int(npst[2]), int(npst[3]), float(npst[4])],
           "torch": torch.get_rng_state()}
    if torch.cuda.is_available():
        out["cuda"] = torch.cuda.get_rng_state_all()
    return out


def set_rng_state(st: dict) -> None:
    pv, pstate, pg = st["python"]
    random.setstate((pv, tuple(pstate), pg))
    n = st["numpy"]
    np.random.set_state((n[0], n[1].numpy().astype(np.uint32), n[2], n[3], n[4]))
    torch.set_rng_state(st["torch"])
    if "cuda" in st and torch.cuda.is_available():
        torch.cuda.set_rng_state_all(st["cuda"])


def _loss(kind: str, out, ref):
    if kind == "l1":
        return F.l1_loss(out, ref)
    if kind == "l2":
        return F.mse_loss(out, ref)
    return torch.sqrt((out - ref) ** 2 + 1e-6).mean()


def _psnr(out, ref) -> torch.Tensor:
    mse = ((out.clamp(0, 1) - ref) ** 2).flatten(1).mean(1).clamp_min(1e-12)
    return -10 * torch.log10(mse)


class Trainer:
    """State of one training run (see :func:`train`)."""

    def __init__(self, config: dict, *, out_dir: str | os.PathLike | None = None,
                 sampler: PairSampler | None = None, progress: bool | None = None):
        cfg = merge_defaults({k: v for k, v in config.items() if not k.startswith("_")})
        self.config_path = config.get("_path")
        self.cfg = cfg
        tc = cfg["train"]
        self.tc = tc
        self.out = Path(out_dir or tc["out_dir"])
        torch.set_num_threads(int(tc["threads"]))
        self.dist = torch.distributed.is_available() and torch.distributed.is_initialized()
        if not self.dist and int(os.environ.get("WORLD_SIZE", "1")) > 1:
            backend = "nccl" if torch.cuda.is_available() else "gloo"
            torch.distributed.init_process_group(backend)
            self.dist = True
        self.rank = torch.distributed.get_rank() if self.dist else 0
        self.world = torch.distributed.get_world_size() if self.dist else 1
        dev = tc["device"]
        if dev == "auto":
            dev = f"cuda:{int(os.environ.get('LOCAL_RANK', 0))}" if torch.cuda.is_available() else "cpu"
        self.device = torch.device(dev)
        self.amp = bool(tc["amp"]) and self.device.type == "cuda"
        seed = int(tc["seed"])
        random.seed(seed)
        np.random.seed(seed % 2 ** 32)
        torch.manual_seed(seed)
        mcfg = {k: v for k, v in cfg["model"].items() if k != "name"}
        self.model = build_model(cfg["model"]["name"], **mcfg).to(self.device)
        self.ddp = (torch.nn.parallel.DistributedDataParallel(self.model) if self.dist else self.model)
        dcfg = dict(cfg["data"])
        if sampler is None:
            sampler = PairSampler(seed=seed, **dcfg)
        self.sampler = sampler
        self.opt = torch.optim.AdamW(self.model.parameters(), lr=float(tc["lr"]),
                                     weight_decay=float(tc["weight_decay"]))
        steps, warm, floor = int(tc["steps"]), int(tc["warmup"]), float(tc["min_lr_ratio"])

        def lr_lambda(s):
            if s < warm:
                return (s + 1) / max(warm, 1)
            t = (s - warm) / max(steps - warm, 1)
            return floor + (1 - floor) * 0.5 * (1 + math.cos(math.pi * min(t, 1.0)))

        self.sched = torch.optim.lr_scheduler.LambdaLR(self.opt, lr_lambda)
        self.ema = {k: v.detach().clone() for k, v in self.model.state_dict().items()}
        self.step = 0
        self.losses: list[float] = []
        self.val_history: list[dict] = []
        self.elapsed = 0.0
        self.progress = (sys.stderr.isatty() if progress is None else progress) and self.rank == 0
        self._val = None

    # ------------------------------------------------------------------ checkpoints
    @property
    def ckpt_path(self) -> Path:
        return self.out / "checkpoint.pt"

    def state(self) -> dict:
        return {"format": 1, "step": self.step, "model": self.model.state_dict(),
                "optimizer": self.opt.state_dict(), "scheduler": self.sched.state_dict(),
                "ema": self.ema, "rng": rng_state(), "losses": list(self.losses),
                "val_history": json.loads(json.dumps(self.val_history)), "elapsed": self.elapsed,
                "config": json.loads(json.dumps(self.cfg, default=str))}

    def save_checkpoint(self) -> None:
        if self.rank != 0:
            return
        save_checkpoint(self.ckpt_path, self.state(), cfg_hash=resume_hash(self.cfg))

    def load_checkpoint(self, path: str | os.PathLike | None = None) -> None:
        """Restore a checkpoint (checksum and config hash verified: ``CheckpointError``)."""
        path = Path(path or self.ckpt_path)
        st = load_checkpoint(path, cfg_hash=resume_hash(self.cfg), map_location=self.device)
        self.model.load_state_dict(st["model"])
        self.opt.load_state_dict(st["optimizer"])
        self.sched.load_state_dict(st["scheduler"])
        self.ema = {k: v.to(self.device) for k, v in st["ema"].items()}
        self.step = int(st["step"])
        self.losses = [float(v) for v in st["losses"]]
        self.val_history = list(st["val_history"])
        self.elapsed = float(st["elapsed"])
        set_rng_state(st["rng"])
        self._truncate_csv()

    def _truncate_csv(self) -> None:
        p = self.out / "log.csv"
        if self.rank != 0 or not p.exists():
            return
        rows = list(csv.reader(p.read_text().splitlines()))
        keep = [rows[0]] + [r for r in rows[1:] if r and int(r[0]) <= self.step]
        text = "\n".join(",".join(r) for r in keep) + "\n"
        _atomic_bytes(p, lambda f: f.write(text.encode()))

    # ------------------------------------------------------------------ steps
    def _to(self, b: dict) -> dict:
        return {k: v.to(self.device, non_blocking=True) for k, v in b.items()}

    def train_step(self) -> float:
        b = self._to(self.sampler.batch(self.step, int(self.tc["batch_size"]), rank=self.rank))
        self.model.train()
        with torch.autocast(self.device.type, dtype=torch.bfloat16, enabled=self.amp):
            out = self.ddp(b["y"], b["psf"], b["sigma"], boundary=self.tc["boundary"])
        loss = _loss(self.tc["loss"], out.float(), b["x"])
        self.opt.zero_grad(set_to_none=True)
        loss.backward()
        gn = torch.nn.utils.clip_grad_norm_(self.model.parameters(), float(self.tc["clip"]))
        self.opt.step()
        self.sched.step()
        d = float(self.tc["ema"])
        with torch.no_grad():
            for k, v in self.model.state_dict().items():
                if v.is_floating_point():
                    self.ema[k].mul_(d).add_(v.detach(), alpha=1 - d)
                else:
                    self.ema[k].copy_(v)
        self.step += 1
        self._gn = float(gn)
        return float(loss.detach())

    def ema_model(self) -> torch.nn.Module:
        return ema_model(self.model, self.ema)

    @torch.no_grad()
    def validate(self) -> float:
        if self._val is None:
            self._val = self.sampler.validation(int(self.tc["val_samples"]))
        m = self.ema_model()
        ps = []
        for b in self._val:
            b = self._to(b)
            ps.append(_psnr(m(b["y"], b["psf"], b["sigma"], boundary=self.tc["boundary"]), b["x"]))
        return float(torch.cat(ps).mean())

    @torch.no_grad()
    def wiener_reference(self) -> float | None:
        """PSNR of the classical :func:`hybrid_deblur.solvers.wiener` on the validation set."""
        if not self.val_history:
            return None
        from ..solvers import wiener

        if self._val is None:
            self._val = self.sampler.validation(int(self.tc["val_samples"]))
        ps = []
        for b in self._val:
            x = wiener(b["y"].double(), b["psf"].double(), boundary="auto",
                       sigma=b["sigma"].double().numpy()[:, None])
            ps.append(_psnr(x.float(), b["x"]))
        return float(torch.cat(ps).mean())

    # ------------------------------------------------------------------ loop
    def run(self, *, stop_after: int | None = None) -> dict:
        """Train to ``[train] steps`` (or ``stop_after`` steps, or the wall-clock limit)."""
        tc = self.tc
        steps = int(tc["steps"])
        end = steps if stop_after is None else min(steps, int(stop_after))
        limit = float(tc["max_minutes"]) * 60
        self.out.mkdir(parents=True, exist_ok=True)
        csv_path = self.out / "log.csv"
        if self.rank == 0 and not csv_path.exists():
            csv_path.write_text("step,loss,lr,grad_norm,seconds\n")
        try:
            from tqdm.auto import tqdm

            bar = tqdm(total=steps, initial=self.step, disable=not self.progress, desc="train")
        except ImportError:  # pragma: no cover
            bar = None
        t0 = time.perf_counter()
        base = self.elapsed
        rows: list[str] = []
        stopped = "steps"
        while self.step < end:
            lr = self.opt.param_groups[0]["lr"]
            loss = self.train_step()
            if not math.isfinite(loss):
                if rows and self.rank == 0:
                    with open(csv_path, "a") as f:
                        f.write("\n".join(rows) + "\n")
                last = self.ckpt_path if self.ckpt_path.exists() else None
                raise TrainingDiverged(
                    f"loss became {loss} at step {self.step}; training stopped. The last good "
                    f"checkpoint {str(last) + ' is kept' if last else 'was never written'}; "
                    "lower [train] lr or check the data, then --resume")
            self.losses.append(loss)
            self.elapsed = base + time.perf_counter() - t0
            if self.rank == 0:
                rows.append(f"{self.step},{loss:.6g},{lr:.6g},{self._gn:.4g},{self.elapsed:.1f}")
            if bar is not None:
                bar.update(1)
                bar.set_postfix(loss=f"{loss:.4f}")
            if self.rank == 0 and (self.step % int(tc["log_every"]) == 0 or self.step == end):
                with open(csv_path, "a") as f:
                    f.write("\n".join(rows) + "\n")
                rows = []
            if int(tc["val_every"]) and (self.step % int(tc["val_every"]) == 0 or self.step == steps):
                if self.rank == 0:
                    self.val_history.append({"step": self.step, "psnr": self.validate(),
                                             "seconds": round(self.elapsed, 1)})
                    self._write_summary()
            if int(tc["ckpt_every"]) and self.step % int(tc["ckpt_every"]) == 0:
                self.save_checkpoint()
            if limit and self.elapsed >= limit and self.step < end:
                stopped = "max_minutes"
                break
        if bar is not None:
            bar.close()
        if rows and self.rank == 0:
            with open(csv_path, "a") as f:
                f.write("\n".join(rows) + "\n")
        self.save_checkpoint()
        summary = self._write_summary(stopped=stopped)
        if self.rank == 0 and self.cfg["export"]["path"] and (self.step >= steps or stopped == "max_minutes"):
            summary["export"] = self.export(self.export_target())
            self._write_summary(stopped=stopped, extra={"export": summary["export"]})
        return summary

    def _write_summary(self, stopped: str | None = None, extra: dict | None = None) -> dict:
        s = {"step": self.step, "steps": int(self.tc["steps"]), "stopped": stopped,
             "seconds": round(self.elapsed, 1), "final_loss": self.losses[-1] if self.losses else None,
             "val_history": self.val_history, "world_size": self.world,
             "hardware": hardware(self.device), "config": json.loads(json.dumps(self.cfg, default=str))}
        if extra:
            s.update(extra)
        if self.rank == 0:
            text = json.dumps(s, indent=2)
            _atomic_bytes(self.out / "summary.json", lambda f: f.write(text.encode()))
        s["losses"] = list(self.losses)
        return s

    def export_target(self) -> Path:
        """Where ``[export] path`` goes: the package's shipped-weights folder only with
        ``[export] refresh_shipped``; otherwise the same file name inside the run folder."""
        from .weights import WEIGHTS_DIR

        p = Path(self.cfg["export"]["path"]).resolve()
        inside = p.parent == WEIGHTS_DIR.resolve() or WEIGHTS_DIR.resolve() in p.parents
        if inside and not self.cfg["export"].get("refresh_shipped"):
            return self.out / p.name
        return p

    def export(self, path: str | os.PathLike) -> dict:
        """Write the EMA weights and the model card to ``path`` (sha256 recorded)."""
        dt = {"float16": torch.float16, "float32": torch.float32}[self.cfg["export"]["dtype"]]
        d = self.cfg["data"]
        card = {
            "name": self.cfg["export"]["name"] or Path(path).stem,
            "data": {"folders": d.get("folders"), "channels": d.get("channels"),
                     "patch": d.get("patch"), "held_out": "every val_every-th file"},
            "kernels": {k: d.get(k) for k in ("min_kernel", "common_kernel", "max_kernel", "p_large",
                                              "kernel_kinds") if k in d} or "PairSampler defaults",
            "noise": {"sigma": d.get("sigma", [0.0, 0.03]), "p_poisson": d.get("p_poisson", 0.2),
                      "photons": d.get("photons", [100.0, 3000.0])},
            "training": {"steps": self.step, "planned_steps": int(self.tc["steps"]), "batch_size": self.tc["batch_size"],
                         "lr": self.tc["lr"], "seconds": round(self.elapsed, 1),
                         "world_size": self.world, "ema": self.tc["ema"], "loss": self.tc["loss"]},
            "hardware": hardware(self.device),
            "validation_psnr": self.val_history[-1]["psnr"] if self.val_history else None,
            "validation": "fixed held-out crops, sigma in {0.005, 0.01, 0.02, 0.03}, valid blur",
            "validation_psnr_classical_wiener": self.wiener_reference(),
            "reproduce": f"hybrid-deblur train --config {self.config_path or '<config>'}",
            "notes": self.cfg["export"]["notes"],
        }
        return save_weights(self.model, path, card=card, dtype=dt, state_dict=self.ema)


def hardware(device: torch.device) -> dict:
    h = {"device": str(device), "torch": torch.__version__, "threads": torch.get_num_threads(),
         "cpu": platform.processor() or platform.machine(), "cores": os.cpu_count()}
    if device.type == "cuda":
        h["gpu"] = torch.cuda.get_device_name(device)
    return h


def train(config: dict, *, resume: bool = False, out_dir: str | os.PathLike | None = None,
          stop_after: int | None = None, sampler: PairSampler | None = None,
          progress: bool | None = None) -> dict:
    """Run (or resume) a training configuration; returns the summary (with ``losses``).

    Parameters
    ----------
    config : dict
        A config of :func:`hybrid_deblur.learned.config.load_config` (or a partial dict,
        merged over the defaults).
    resume : bool
        Continue from ``<out_dir>/checkpoint.pt`` exactly where it stopped.
    out_dir : path, optional
        Overrides ``[train] out_dir``.
    stop_after : int, optional
        Stop (with a checkpoint) after this many steps in total, as if interrupted.
    sampler : PairSampler, optional
        A data source other than the ``[data]`` section (tests).
    """
    tr = Trainer(config, out_dir=out_dir, sampler=sampler, progress=progress)
    if resume:
        tr.load_checkpoint()
    return tr.run(stop_after=stop_after)
