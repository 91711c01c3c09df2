"""Train the DRUNet denoiser prior (GPU or CPU), then optionally fine-tune the unrolled network.

``python -m hybrid_deblur.learned.train_denoiser --device cuda --minutes 7 --data gpu_data --out OUT``

Phase 1 trains :class:`~hybrid_deblur.learned.denoiser.DRUNet` *as a denoiser* — one gray and
one colour model, alternating steps — on random crops of ``<data>/train400`` (gray) and
``<data>/cbsd432`` (colour; luminance for the gray model), linear light, flips/rot90,
noise σ ~ U[0, 50/255], a share of it Poisson–Gaussian (the noise map is then the per-pixel
std). Phase 2 (``--finetune-share`` of the time, gray) fine-tunes
:class:`~hybrid_deblur.learned.models.UnrolledHQS` with this denoiser as its prior and the
DPIR schedule on ``valid`` blur (kernels from :func:`~hybrid_deblur.learned.data.sample_kernel`,
pre-generated in a pool; blur and data steps in fp32 on the device).

Every batch is a pure function of ``(seed, step)``, so ``--resume`` continues exactly (with
``--steps``; a ``--minutes`` schedule follows the wall clock). Precision: bf16 autocast on CUDA,
and on the CPU only where it has native bf16 (AVX-512 BF16 / AMX; elsewhere bf16 is emulated
and several times slower, so ``auto`` picks fp32 there); channels_last everywhere.

Outputs in ``--out``: ``checkpoint.pt`` (atomic, checksum + config hash, refused when damaged
or from another configuration), ``drunet_gray.pt`` / ``drunet_color.pt`` / ``unrolled_pnp_gray.pt``
(EMA weights, float16 state dicts, with ``.json`` model cards holding their sha256),
``curve.csv`` (step, seconds, lr, losses, validation PSNRs) and ``summary.json``. A non-finite
loss stops the run (exit status 3) and keeps the last good checkpoint. Nothing is written into
the package unless ``--refresh-shipped``.
"""

from __future__ import annotations

import copy
import json
import math
import shutil
import sys
import time
from pathlib import Path

import numpy as np
import torch
from torch.nn import functional as F

from .denoiser import SIGMA_MAX, DRUNet, colour_from_gray
from .denoiser_data import ImageBank, KernelPool, add_noise, cpu_has_bf16
from .train import TrainingDiverged, hardware
from .train_denoiser_args import parser
from .weights import (WEIGHTS_DIR, _atomic_bytes, config_hash, load_checkpoint, save_checkpoint,
                      save_weights)

__all__ = ["ImageBank", "DenoiserTrainer", "KernelPool", "add_noise", "main", "cpu_has_bf16"]

VAL_SIGMAS = (5 / 255, 15 / 255, 25 / 255, 50 / 255)


def _psnr(out, ref):
    mse = ((out.float() - ref) ** 2).flatten(1).mean(1).clamp_min(1e-12)
    return (-10 * torch.log10(mse)).mean()


class DenoiserTrainer:
    """State of a denoiser (+ unrolled fine-tune) run; see the module notes."""

    def __init__(self, args, pool: KernelPool | None = None):
        self.a = args
        self.pool = pool
        self.dev = torch.device(args.device)
        prec = args.precision
        if prec == "auto":
            prec = "bf16" if self.dev.type == "cuda" or cpu_has_bf16() else "fp32"
        self.prec = prec
        self.cfg = {"widths": list(args.widths), "blocks": args.blocks, "patch": args.patch,
                    "batch": args.batch, "lr": args.lr, "seed": args.seed, "channels": args.channels,
                    "finetune_share": args.finetune_share, "stages": args.stages,
                    "ft_patch": args.ft_patch, "ft_batch": args.ft_batch, "ft_lr": args.ft_lr,
                    "sigma_max": SIGMA_MAX, "p_poisson": 0.25, "precision": prec}
        if args.low_sigma_share:  # only when used: older configurations keep their hash
            self.cfg["low_sigma_share"] = args.low_sigma_share
        if args.init:
            self.cfg["init"] = str(args.init)
        # fine-tune options only when they differ from the former behaviour (old runs keep their hash)
        for key, old in (("ft_init", "wiener"), ("ft_data_solver", "mm"), ("ft_identity_share", 0.0),
                         ("ft_hyper_lr", None)):
            if getattr(args, key, old) != old:
                self.cfg[key] = getattr(args, key)
        self.hash = config_hash(self.cfg)
        self.out = Path(args.out)
        self.chans = [1, 3] if args.channels == "both" else [int(args.channels)]
        torch.manual_seed(args.seed)
        self.models = {c: DRUNet(c, args.widths, args.blocks).to(self.dev).to(memory_format=torch.channels_last)
                       for c in self.chans}
        self.opts = {c: torch.optim.AdamW(m.parameters(), lr=args.lr, weight_decay=0.0, betas=(0.9, 0.99))
                     for c, m in self.models.items()}
        if args.init:  # start from earlier weights (e.g. a run continued with another recipe)
            from .weights import load_model

            init = load_model(args.init)
            for c, m in self.models.items():
                src = init
                if init.config == dict(m.config, channels=1) and c == 3:
                    src = colour_from_gray(init)  # gray -> colour warm start (luminance path)
                if src.config != m.config:
                    raise ValueError(f"--init {str(args.init)!r} holds a {init.config} model; this "
                                     f"run trains {m.config}")
                m.load_state_dict(src.state_dict())
        self.ema = {c: copy.deepcopy(m).eval() for c, m in self.models.items()}
        self.step, self.ft_step, self.elapsed = 0, 0, 0.0
        self.rows: list[dict] = []
        self.val = {}
        self.ft = None  # (model, optimiser, ema) once phase 2 starts
        self.fail = None
        self.banks = {c: ImageBank(args.data, c, self.dev, limit=args.limit_images) for c in self.chans}

    # ------------------------------------------------------------------ schedule
    def budget(self) -> tuple[float, float]:
        """(phase-1 end, total) in seconds (``--minutes``) or steps (``--steps``)."""
        tot = self.a.minutes * 60 if self.a.minutes else float(self.a.steps)
        return tot * (1 - self.a.finetune_share), tot

    def progress(self) -> float:
        return self.elapsed if self.a.minutes else float(self.step + self.ft_step)

    def lr_factor(self, pos: float, start: float, end: float) -> float:
        t = (pos - start) / max(end - start, 1e-9)
        if self.a.minutes:  # 10 s warm-up
            warm = min(1.0, (pos - start) / 10 + 0.02)
        else:  # 50 steps, or a tenth of a short run
            warm = min(1.0, (pos - start + 1) / max(1.0, min(50.0, 0.1 * (end - start))))
        return warm * (0.02 + 0.98 * 0.5 * (1 + math.cos(math.pi * min(max(t, 0.0), 1.0))))

    def autocast(self):
        return torch.autocast(self.dev.type, dtype=torch.bfloat16, enabled=self.prec == "bf16")

    # ------------------------------------------------------------------ phase 1
    def gen(self, step: int, salt: int) -> torch.Generator:
        return torch.Generator().manual_seed(int(self.a.seed) * 1_000_003 + salt * 7919 + step)

    def phase1_lr(self) -> float:
        """Learning rate of phase 1 at the current progress (a pure function of it and the args).

        With ``--lr-restart-at X`` (a run extended past its first budget ``X``) the schedule is
        the original cosine over ``[0, X]`` followed by a second warm-up + cosine over
        ``[X, end]`` peaking at ``--restart-lr``, so a run extended in two goes and one
        extended run of the same total are the same run.
        """
        end1, _ = self.budget()
        pos, x = self.progress(), self.a.lr_restart_at
        if x is None:
            return self.a.lr * self.lr_factor(pos, 0.0, end1)
        x = x * 60 if self.a.minutes else float(x)
        if pos < x:
            return self.a.lr * self.lr_factor(pos, 0.0, x)
        peak = self.a.lr if self.a.restart_lr is None else self.a.restart_lr
        return peak * self.lr_factor(pos, x, end1)

    def denoise_step(self) -> dict:
        lr = self.phase1_lr()
        losses = {}
        for c, m in self.models.items():
            g = self.gen(self.step, c)
            x = self.banks[c].crops(g, self.a.batch, self.a.patch)
            y, std = add_noise(x, g, low_share=self.a.low_sigma_share)
            for pg in self.opts[c].param_groups:
                pg["lr"] = lr
            m.train()
            with self.autocast():
                out = m(y, std)
            loss = F.l1_loss(out.float(), x)
            if not torch.isfinite(loss):
                raise TrainingDiverged(f"denoiser loss became {float(loss)} at step {self.step + 1}; "
                                       f"training stopped, the last good checkpoint "
                                       f"{str(self.ckpt)!r} is kept")
            self.opts[c].zero_grad(set_to_none=True)
            loss.backward()
            torch.nn.utils.clip_grad_norm_(m.parameters(), 1.0)
            self.opts[c].step()
            _ema(self.ema[c], m, 0.999 if self.step > 200 else 0.9)
            losses[f"loss_{c}"] = float(loss.detach())
        losses["lr"] = lr
        self.step += 1
        return losses

    @torch.no_grad()
    def validate(self) -> dict:
        out = {}
        for c in self.chans:
            if c not in self.val:
                g = self.gen(0, 100 + c)
                x = self.banks[c].crops(g, 8, 96, val=True)
                self.val[c] = [(x, *add_noise(x, g, sigmas=s)) for s in VAL_SIGMAS]
            ps = []
            for x, y, std in self.val[c]:
                with self.autocast():
                    ps.append(float(_psnr(self.ema[c](y, std), x)))
            out[f"val_{c}"] = round(float(np.mean(ps)), 3)
            out[f"val_{c}_noisy"] = round(float(np.mean([float(_psnr(y, x)) for x, y, _ in self.val[c]])), 3)
        return out

    # ------------------------------------------------------------------ phase 2
    def start_finetune(self):
        from .models import UnrolledHQS

        net = UnrolledHQS(stages=self.a.stages, channels=1, prior="drunet", widths=self.a.widths,
                          blocks=self.a.blocks, schedule="dpir", init=self.a.ft_init,
                          data_solver=self.a.ft_data_solver).to(self.dev)
        net.prior.load_state_dict(self.ema[1].state_dict())
        hyper_lr = getattr(self.a, "ft_hyper_lr", None)
        if hyper_lr is None:
            opt = torch.optim.AdamW(net.parameters(), lr=self.a.ft_lr, weight_decay=0.0)
        else:  # the schedule corrections learn faster than the (already trained) prior
            rest = [p for n, p in net.named_parameters() if not n.startswith("hyper.")]
            opt = torch.optim.AdamW([{"params": rest, "lr": self.a.ft_lr, "base_lr": self.a.ft_lr},
                                     {"params": list(net.hyper.parameters()), "lr": hyper_lr,
                                      "base_lr": hyper_lr}], weight_decay=0.0)
        self.ft = (net, opt, copy.deepcopy(net).eval())
        self.ft0 = copy.deepcopy(net).eval()
        self.kpool = self.pool.get() if self.pool is not None else KernelPool(
            self.a.kernels, seed=self.a.seed, identity_share=self.a.ft_identity_share).get()

    def ft_batch(self, step: int, n: int, *, val: bool = False):
        from ..physics.blur import Blur

        g = self.gen(step, 500 + 17 * int(val))
        kb = self.kpool.shape[-1]
        scene = self.banks[1].crops(g, n, self.a.ft_patch + kb - 1, val=val).contiguous()
        ks = self.kpool[torch.randint(len(self.kpool), (n,), generator=g)].to(self.dev)
        clean = Blur(ks[:, None], "valid").A(scene)
        s = (torch.rand(n, generator=g) * 0.03 if not val else torch.tensor([0.01, 0.03] * (n // 2)))
        y = clean + s.to(self.dev).reshape(-1, 1, 1, 1) * torch.randn(clean.shape, generator=g).to(self.dev)
        x = scene[..., kb // 2: kb // 2 + y.shape[-2], kb // 2: kb // 2 + y.shape[-1]]
        return y, ks, s.to(self.dev), x

    def finetune_step(self) -> dict:
        net, opt, ema = self.ft
        end1, tot = self.budget()
        f = self.lr_factor(self.progress(), end1, tot)
        for pg in opt.param_groups:
            pg["lr"] = pg.get("base_lr", self.a.ft_lr) * f
        y, k, s, x = self.ft_batch(self.ft_step, self.a.ft_batch)
        net.train()
        net.prior_amp = self.prec == "bf16"  # bf16 in the denoiser only; data steps stay fp32
        out = net(y, k[:, None], s, boundary="auto")
        loss = F.l1_loss(out.float(), x)
        if not torch.isfinite(loss):
            raise TrainingDiverged(f"fine-tune loss became {float(loss)} at step {self.ft_step + 1}; "
                                   f"stopped, last good checkpoint {str(self.ckpt)!r} kept")
        opt.zero_grad(set_to_none=True)
        loss.backward()
        torch.nn.utils.clip_grad_norm_(net.parameters(), 0.5)
        opt.step()
        _ema(ema, net, 0.995 if self.ft_step > 50 else 0.5)
        self.ft_step += 1
        return {"loss_ft": float(loss.detach())}

    @torch.no_grad()
    def validate_ft(self) -> dict:
        """PSNR of the fine-tuned EMA network and of the network it started from."""
        net, _, ema = self.ft
        if "ft" not in self.val:
            self.val["ft"] = [self.ft_batch(10 ** 6 + i, 4, val=True) for i in range(2)]
        out = {}
        for key, m in (("val_ft", ema), ("val_ft_start", self.ft0)):
            if key == "val_ft_start" and "ft_start" in self.val:
                out[key] = self.val["ft_start"]
                continue
            ps = []
            m.prior_amp = self.prec == "bf16"
            for y, k, s, x in self.val["ft"]:
                ps.append(float(_psnr(m(y, k[:, None], s, boundary="auto"), x)))
            out[key] = round(float(np.mean(ps)), 3)
        self.val["ft_start"] = out["val_ft_start"]
        return out

    # ------------------------------------------------------------------ checkpoints
    def state(self) -> dict:
        st = {"step": self.step, "ft_step": self.ft_step, "elapsed": self.elapsed,
              "rows": json.loads(json.dumps(self.rows)),
              "models": {str(c): m.state_dict() for c, m in self.models.items()},
              "opts": {str(c): o.state_dict() for c, o in self.opts.items()},
              "ema": {str(c): m.state_dict() for c, m in self.ema.items()}}
        if self.ft is not None:
            st["ft"] = {"model": self.ft[0].state_dict(), "opt": self.ft[1].state_dict(),
                        "ema": self.ft[2].state_dict()}
        return st

    @property
    def ckpt(self) -> Path:
        return Path(self.a.ckpt_dir or self.out) / "checkpoint.pt"

    def save(self):
        save_checkpoint(self.ckpt, self.state(), cfg_hash=self.hash)

    def resume(self):
        st = load_checkpoint(self.ckpt, cfg_hash=self.hash, map_location=self.dev)
        for c in self.chans:
            self.models[c].load_state_dict(st["models"][str(c)])
            self.opts[c].load_state_dict(st["opts"][str(c)])
            self.ema[c].load_state_dict(st["ema"][str(c)])
        self.step, self.ft_step, self.elapsed = int(st["step"]), int(st["ft_step"]), float(st["elapsed"])
        self.rows = list(st["rows"])
        if "ft" in st:
            self.start_finetune()
            self.ft[0].load_state_dict(st["ft"]["model"])
            self.ft[1].load_state_dict(st["ft"]["opt"])
            self.ft[2].load_state_dict(st["ft"]["ema"])

    # ------------------------------------------------------------------ loop
    def run(self, *, stop_after: int | None = None) -> dict:
        self.out.mkdir(parents=True, exist_ok=True)
        end1, tot = self.budget()
        t0, base = time.perf_counter(), self.elapsed
        last_ck = last_val = last_log = time.perf_counter()
        done = 0
        while self.progress() < tot:
            phase1 = self.progress() < end1 or self.a.finetune_share <= 0 or 1 not in self.models
            if not phase1 and self.ft is None:
                self.save()
                self.write_outputs()  # the denoisers are final: keep them whatever happens next
                try:
                    self.start_finetune()
                    rec = self.finetune_step()
                except Exception as exc:  # noqa: BLE001 - keep the denoisers, report, stop
                    if isinstance(exc, TrainingDiverged):
                        raise
                    print(f"[train_denoiser] fine-tune failed, keeping the denoisers: "
                          f"{type(exc).__name__}: {exc}", file=sys.stderr, flush=True)
                    self.ft = None
                    self.fail = f"{type(exc).__name__}: {exc}"
                    break
            else:
                rec = self.denoise_step() if phase1 else self.finetune_step()
            self.elapsed = base + time.perf_counter() - t0
            done += 1
            now = time.perf_counter()
            n = self.step + self.ft_step
            if n % self.a.val_every == 0 or now - last_val > self.a.val_seconds:
                rec.update(self.validate() if phase1 else self.validate_ft())
                last_val = now
            self.rows.append({"step": n, "seconds": round(self.elapsed, 2), "phase": 1 if phase1 else 2,
                              **{k: round(v, 6) if isinstance(v, float) else v for k, v in rec.items()}})
            if now - last_log > self.a.log_seconds or "val_1" in rec or "val_3" in rec or "val_ft" in rec:
                self.progress_line()
                last_log = now
            if (self.a.ckpt_every and n % self.a.ckpt_every == 0) or now - last_ck > self.a.ckpt_seconds:
                self.save()
                self.write_outputs()
                last_ck = time.perf_counter()
            if stop_after is not None and n >= stop_after:
                break
            if self.a.minutes == 0 and n >= self.a.steps:
                break
        self.elapsed = base + time.perf_counter() - t0
        self.save()
        return self.write_outputs(final=True)

    def progress_line(self):
        r = self.rows[-1]
        _, tot = self.budget()
        rate = (self.step + self.ft_step) / max(self.elapsed, 1e-9)
        left = (tot - self.progress()) if self.a.minutes else (tot - self.progress()) / max(rate, 1e-9)
        vals = " ".join(f"{k}={v}" for k, v in r.items() if k.startswith(("loss", "val")))
        print(f"[train_denoiser] phase {r['phase']} step {r['step']} {vals} {rate:.2f} it/s "
              f"ETA {int(left // 60)}m{int(left % 60):02d}s", file=sys.stderr, flush=True)

    def write_outputs(self, final: bool = False) -> dict:
        keys = ["step", "seconds", "phase"] + sorted({k for r in self.rows for k in r} - {"step", "seconds", "phase"})
        text = ",".join(keys) + "\n" + "".join(",".join(str(r.get(k, "")) for k in keys) + "\n" for r in self.rows)
        _atomic_bytes(self.out / "curve.csv", lambda f: f.write(text.encode()))
        last = {k: v for r in self.rows for k, v in r.items() if k.startswith(("val", "loss"))}
        recipe = {"config": self.cfg, "config_hash": self.hash, "steps_denoiser": self.step,
                  "steps_finetune": self.ft_step, "minutes": round(self.elapsed / 60, 2),
                  "hardware": hardware(self.dev), "data": str(self.a.data),
                  "noise": "Gaussian sigma~U[0,50/255]" + (
                      f" ({self.a.low_sigma_share:.0%} of samples logU[0.25,50]/255)"
                      if self.a.low_sigma_share else "")
                  + "; 25% Poisson-Gaussian (peak logU[20,2000]); linear light",
                  "init": str(self.a.init) if self.a.init else None,
                  "validation": "8 held-out train400/cbsd432 crops 96^2 (every 33rd file) at sigma 5/15/25/50 /255",
                  "reproduce": " ".join(["python -m hybrid_deblur.learned.train_denoiser"] + sys.argv[1:])}
        cards = {}
        names = {1: "drunet_gray", 3: "drunet_color"}
        for c in self.chans:
            card = dict(recipe, name=names[c], final=last,
                        validation_psnr=last.get(f"val_{c}"), validation_psnr_noisy=last.get(f"val_{c}_noisy"))
            cards[names[c]] = save_weights(self.ema[c], self.out / f"{names[c]}.pt", card=card,
                                           dtype=torch.float16)
        if self.ft is not None:
            card = dict(recipe, name="unrolled_pnp_gray", final=last, validation_psnr=last.get("val_ft"),
                        validation="8 held-out crops, valid blur with pool kernels (<= 25 px), sigma 0.01/0.03")
            cards["unrolled_pnp_gray"] = save_weights(self.ft[2], self.out / "unrolled_pnp_gray.pt", card=card,
                                                      dtype=torch.float16)
        summary = {"step": self.step, "ft_step": self.ft_step, "seconds": round(self.elapsed, 1),
                   "final": last, "precision": self.prec, "files": {k: v["file"] for k, v in cards.items()},
                   "config_hash": self.hash, "finished": final, "finetune_error": self.fail}
        text = json.dumps(summary, indent=2)
        _atomic_bytes(self.out / "summary.json", lambda f: f.write(text.encode()))
        return summary


def _ema(ema, model, d: float):
    with torch.no_grad():
        for e, v in zip(ema.state_dict().values(), model.state_dict().values()):
            if v.is_floating_point():
                e.mul_(d).add_(v.detach(), alpha=1 - d)
            else:
                e.copy_(v)


def main(argv=None) -> int:
    a = parser().parse_args(argv)
    gpu = a.device.startswith("cuda")
    a.patch = a.patch or (128 if gpu else 64)
    a.batch = a.batch or (32 if gpu else 8)
    a.ft_patch = a.ft_patch or (96 if gpu else 48)
    a.ft_batch = a.ft_batch or (16 if gpu else 2)
    a.kernels = a.kernels or (1024 if gpu else 32)
    import os

    a.workers = a.workers or min(8, os.cpu_count() or 1)
    if a.minutes < 0 or (a.minutes == 0 and a.steps < 1):
        print(f"error: --minutes must be >= 0 and --steps >= 1, got {a.minutes}, {a.steps}", file=sys.stderr)
        return 2
    if not 0 <= a.low_sigma_share <= 1:
        print(f"error: --low-sigma-share must be in [0, 1], got {a.low_sigma_share}", file=sys.stderr)
        return 2
    if a.lr_restart_at is not None and not 0 < a.lr_restart_at < (a.minutes or a.steps) * (1 - a.finetune_share):
        print(f"error: --lr-restart-at must lie inside the phase-1 budget (0, "
              f"{(a.minutes or a.steps) * (1 - a.finetune_share):g}), got {a.lr_restart_at}", file=sys.stderr)
        return 2
    if a.restart_lr is not None and a.restart_lr < 0:
        print(f"error: --restart-lr must be >= 0, got {a.restart_lr}", file=sys.stderr)
        return 2
    if not 0 <= a.finetune_share <= 1 or (a.finetune_share == 1 and not a.init):
        print(f"error: --finetune-share must be in [0, 1), or 1 with --init WEIGHTS (fine-tune only), "
              f"got {a.finetune_share}", file=sys.stderr)
        return 2
    if not 0 <= a.ft_identity_share <= 1:
        print(f"error: --ft-identity-share must be in [0, 1], got {a.ft_identity_share}", file=sys.stderr)
        return 2
    if gpu and not torch.cuda.is_available():
        print(f"error: --device {a.device}: CUDA is not available", file=sys.stderr)
        return 2
    torch.set_num_threads(a.threads or os.cpu_count() or 1)
    if gpu:
        torch.backends.cudnn.benchmark = True
        torch.backends.cuda.matmul.allow_tf32 = True
        torch.backends.cudnn.allow_tf32 = True
    pool = None
    if a.finetune_share > 0 and not a.channels == "3":
        pool = KernelPool(a.kernels, seed=a.seed, workers=a.workers, identity_share=a.ft_identity_share)  # forked before CUDA starts
    try:
        tr = DenoiserTrainer(a, pool)
        if a.resume:
            tr.resume()
        print(f"[train_denoiser] device {a.device} precision {tr.prec} threads {torch.get_num_threads()} "
              f"channels {tr.chans} params {sum(p.numel() for p in tr.models[tr.chans[0]].parameters())}",
              file=sys.stderr, flush=True)
        try:
            summary = tr.run(stop_after=a.stop_after)
        except KeyboardInterrupt:  # SIGINT from a time limit: write the current EMA weights
            tr.write_outputs()
            print("[train_denoiser] interrupted: current weights written (the checkpoint is the "
                  "last periodic one)", file=sys.stderr, flush=True)
            return 130
    except TrainingDiverged as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 3
    except (ValueError, OSError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    for dest in ([Path(a.export)] if a.export else []) + ([WEIGHTS_DIR] if a.refresh_shipped else []):
        dest.mkdir(parents=True, exist_ok=True)
        for name in summary["files"].values():
            for suf in (".pt", ".json"):
                src = (Path(a.out) / name).with_suffix(suf)
                tmp = dest / f".{src.name}.tmp"
                shutil.copyfile(src, tmp)
                tmp.replace(dest / src.name)
    print(json.dumps(summary))
    return 0


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
