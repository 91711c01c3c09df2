"""GAN / two-stage trainer for the end-to-end zoo (built on :mod:`hybrid_deblur.learned.train`).

:class:`GANTrainer` trains an end-to-end generator (:mod:`hybrid_deblur.learned.e2e`)
on the physics pairs of :class:`~hybrid_deblur.learned.e2e.pairs.DevicePairs`, with

* a content loss ``w_pix · pixel + w_fft · FFT + w_ssim · (1 - SSIM) + w_perc · perceptual``
  (:mod:`hybrid_deblur.learned.losses`);
* optionally a discriminator (:mod:`hybrid_deblur.learned.e2e.discriminators`) and an
  adversarial term ``w_adv · L_G`` (LSGAN, RaGAN-LS or WGAN-GP), with alternating
  updates (``d_steps`` D updates per G update), separate AdamW optimisers and
  schedules; ``gan_start`` (a fraction of the planned steps) makes it two-stage: pixel
  pre-training first, adversarial fine-tuning after;
* EMA of the generator (what is exported), bf16 autocast + channels_last on CUDA (and
  on CPUs with AVX-512 BF16 when ``amp="auto"``), gradient clipping, cosine schedule;
* a wall-clock limit: after ``calibrate`` steps the planned number of steps is set from
  the measured step time so the schedule ends at the limit (recorded in the checkpoint);
* atomic checkpoints (G, D, both optimisers and schedules, EMA, RNG states, step) that
  resume bit-exactly on the CPU; periodic exports of the EMA weights (float16 by default)
  with a model card, and a ``curve.csv`` of losses and validation PSNR.

It reuses the training stack's RNG state helpers, atomic writer and hardware record
(:mod:`hybrid_deblur.learned.train`, :mod:`hybrid_deblur.learned.weights`).

Examples
--------
>>> import tempfile
>>> from hybrid_deblur.learned.data import synthetic_images
>>> from hybrid_deblur.learned.e2e.pairs import DevicePairs
>>> from hybrid_deblur.learned.gan import GANTrainer
>>> cfg = {"model": {"name": "unet", "channels": 1, "width": 4},
...        "train": {"steps": 2, "batch_size": 2, "val_every": 0, "amp": "off"}}
>>> pairs = DevicePairs(images=synthetic_images(2, 48), channels=1, patch=16, pool=4, max_kernel=7)
>>> t = GANTrainer(cfg, pairs=pairs, out_dir=tempfile.mkdtemp())
>>> t.run()["step"]
2
"""

from __future__ import annotations

import copy
import json
import math
import os
import time
from pathlib import Path
from typing import Any

import numpy as np
import torch

from . import losses as L
from .e2e import build, count_parameters
from .e2e.discriminators import build_discriminator
from .train import ema_model, hardware, rng_state, set_rng_state
from .weights import _atomic_bytes, save_weights

__all__ = ["GANTrainer", "TRAIN_DEFAULTS", "merge_config", "bf16_cpu"]

TRAIN_DEFAULTS: dict[str, Any] = {
    "steps": 1000, "batch_size": 8, "lr": 5e-4, "lr_d": 1e-4, "betas": [0.9, 0.99], "weight_decay": 0.0,
    "warmup": 50, "min_lr_ratio": 0.01, "ema": 0.999, "clip": 1.0, "seed": 0, "max_minutes": 0.0,
    "calibrate": 30, "val_every": 200, "val_samples": 16, "ckpt_every": 200, "export_every_s": 60.0,
    "amp": "auto", "channels_last": True, "pixel": "l1", "w_pix": 1.0, "w_fft": 0.0, "w_ssim": 0.0,
    "w_perc": 0.0, "perceptual_weights": "", "perceptual_width": 1.0, "w_adv": 0.0,
    "adversarial": "lsgan", "gp_weight": 10.0, "d_steps": 1, "gan_start": 0.0,
    "export_dtype": "float16", "threads": 0,
}
_SECTIONS = ("model", "disc", "data", "train", "large", "gpu", "export")


def merge_config(cfg: dict) -> dict:
    """``cfg`` over the defaults; unknown sections / ``[train]`` keys are errors listing the accepted ones."""
    out = {"model": {}, "disc": {}, "data": {}, "train": dict(TRAIN_DEFAULTS), "large": {}, "gpu": {},
           "export": {}}
    for sec, vals in (cfg or {}).items():
        if sec.startswith("_"):
            continue
        if sec not in out:
            raise ValueError(f"config section [{sec}] is unknown; accepted: {', '.join(_SECTIONS)}")
        if not isinstance(vals, dict):
            raise ValueError(f"config section [{sec}] must be a table, got {vals!r}")
        if sec == "train":
            bad = sorted(set(vals) - set(TRAIN_DEFAULTS))
            if bad:
                raise ValueError(f"config [train] has unknown keys {bad}; accepted: {', '.join(sorted(TRAIN_DEFAULTS))}")
        out[sec].update(copy.deepcopy(vals))
    t = out["train"]
    if t["adversarial"] not in L.ADVERSARIAL:
        raise ValueError(f"[train] adversarial={t['adversarial']!r}; accepted: {', '.join(L.ADVERSARIAL)}")
    if t["amp"] not in ("auto", "on", "off"):
        raise ValueError(f"[train] amp={t['amp']!r}; accepted: 'auto', 'on', 'off'")
    if "name" not in out["model"]:
        raise ValueError("config [model] needs a name (an architecture of hybrid_deblur.learned.e2e)")
    if t["w_adv"] > 0 and "kind" not in out["disc"]:
        raise ValueError("[train] w_adv > 0 needs a [disc] section with a kind ('strided', 'patch', 'multiscale')")
    return out


def bf16_cpu() -> bool:
    """True when the CPU has AVX-512 BF16 or AMX (bf16 autocast is faster there, slower elsewhere)."""
    try:
        with open("/proc/cpuinfo") as f:
            flags = f.read()
    except OSError:  # pragma: no cover
        return False
    return "avx512_bf16" in flags or "amx_bf16" in flags


class GANTrainer:
    """One training run of a zoo model (see the module notes).

    Parameters
    ----------
    config : dict
        Sections ``[model]`` (``name`` + constructor args), ``[disc]`` (``kind`` + args),
        ``[data]`` (:class:`~hybrid_deblur.learned.e2e.pairs.DevicePairs` args) and
        ``[train]`` (:data:`TRAIN_DEFAULTS`).
    pairs : DevicePairs
        The data source.
    out_dir : path
        Where ``curve.csv``, the exported weights and their card go.
    ckpt_dir : path, optional
        Where ``checkpoint.pt`` goes (default ``out_dir``).
    device : str, optional
    """

    def __init__(self, config: dict, *, pairs, out_dir: str | os.PathLike, ckpt_dir: str | os.PathLike | None = None,
                 device: Any = None):
        self.cfg = merge_config(config)
        tc = self.tc = self.cfg["train"]
        self.out = Path(out_dir)
        self.ckpt_dir = Path(ckpt_dir) if ckpt_dir else self.out
        self.device = torch.device(device) if device is not None else pairs.device
        if int(tc["threads"]) > 0:
            torch.set_num_threads(int(tc["threads"]))
        amp = tc["amp"]
        self.amp = amp == "on" or (amp == "auto" and (self.device.type == "cuda" or bf16_cpu()))
        self.cl = bool(tc["channels_last"]) and (self.device.type == "cuda" or self.amp)
        seed = int(tc["seed"])
        torch.manual_seed(seed)
        np.random.seed(seed % 2 ** 32)
        mc = {k: v for k, v in self.cfg["model"].items() if k != "name"}
        self.name = self.cfg["model"]["name"]
        self.model = build(self.name, **mc).to(self.device)
        self.disc = None
        if float(tc["w_adv"]) > 0:
            dc = {k: v for k, v in self.cfg["disc"].items() if k != "kind"}
            dc.setdefault("channels", int(mc.get("channels", 3)))
            self.disc = build_discriminator(self.cfg["disc"]["kind"], **dc).to(self.device)
        if self.cl:
            self.model = self.model.to(memory_format=torch.channels_last)
            if self.disc is not None:
                self.disc = self.disc.to(memory_format=torch.channels_last)
        self.pairs = pairs
        b = tuple(float(v) for v in tc["betas"])
        self.opt = torch.optim.AdamW(self.model.parameters(), lr=float(tc["lr"]), betas=b,
                                     weight_decay=float(tc["weight_decay"]))
        self.opt_d = (torch.optim.AdamW(self.disc.parameters(), lr=float(tc["lr_d"]), betas=(0.5, 0.999),
                                        weight_decay=0.0) if self.disc is not None else None)
        self.planned = int(tc["steps"])
        self.perc = None
        if float(tc["w_perc"]) > 0:
            import warnings

            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                self.perc = L.PerceptualLoss(tc["perceptual_weights"] or None,
                                             width=float(tc["perceptual_width"])).to(self.device)
        self.ema = {k: v.detach().clone() for k, v in self.model.state_dict().items()}
        self.step, self.elapsed = 0, 0.0
        self.gan_started = False
        self.rows: list[dict] = []
        self.val_history: list[dict] = []
        self._val = None
        self._last_export = 0.0

    # ------------------------------------------------------------------ schedule
    def lr_factor(self, step: int) -> float:
        warm, floor = int(self.tc["warmup"]), float(self.tc["min_lr_ratio"])
        if step < warm:
            return (step + 1) / max(warm, 1)
        t = min((step - warm) / max(self.planned - warm, 1), 1.0)
        return floor + (1 - floor) * 0.5 * (1 + math.cos(math.pi * t))

    @property
    def gan_step(self) -> int:
        return int(round(float(self.tc["gan_start"]) * self.planned))

    def adversarial_on(self) -> bool:
        """Whether the adversarial stage is on (it stays on once started)."""
        if self.disc is not None and not self.gan_started and self.step >= self.gan_step:
            self.gan_started = True
        return self.gan_started

    # ------------------------------------------------------------------ one step
    def _fmt(self, t):
        return t.contiguous(memory_format=torch.channels_last) if self.cl else t

    def content(self, out, x) -> dict:
        tc = self.tc
        terms = {"pix": L.content_loss(out, x, kind=tc["pixel"]) * float(tc["w_pix"])}
        if float(tc["w_fft"]) > 0:
            terms["fft"] = L.fft_loss(out, x) * float(tc["w_fft"])
        if float(tc["w_ssim"]) > 0:
            terms["ssim"] = L.ssim_loss(out, x) * float(tc["w_ssim"])
        if self.perc is not None:
            terms["perc"] = self.perc(out, x) * float(tc["w_perc"])
        return terms

    def train_step(self) -> dict:
        tc = self.tc
        b = self.pairs.batch(self.step, int(tc["batch_size"]))
        y, x = self._fmt(b["y"].to(self.device)), self._fmt(b["x"].to(self.device))
        for g in self.opt.param_groups:
            g["lr"] = float(tc["lr"]) * self.lr_factor(self.step)
        dev = self.device.type
        self.model.train()
        with torch.autocast(dev, dtype=torch.bfloat16, enabled=self.amp):
            out = self.model(y)
        out = out.float()
        terms = self.content(out, x)
        adv_on = self.adversarial_on()
        if adv_on:
            d_loss_fn, g_loss_fn = L.ADVERSARIAL[tc["adversarial"]]
            for g in self.opt_d.param_groups:
                g["lr"] = float(tc["lr_d"]) * self.lr_factor(self.step)
            for _ in range(int(tc["d_steps"])):
                self.disc.train()
                with torch.autocast(dev, dtype=torch.bfloat16, enabled=self.amp):
                    dr, df = self.disc(x), self.disc(self._fmt(out.detach()))
                ld = d_loss_fn(dr, df)
                if tc["adversarial"] == "wgan-gp":
                    gen = torch.Generator(device=self.device)
                    gen.manual_seed(int(self.step) * 7 + 1)
                    ld = ld + L.gradient_penalty(self.disc, x, out, generator=gen, weight=float(tc["gp_weight"]))
                self.opt_d.zero_grad(set_to_none=True)
                ld.backward()
                self.opt_d.step()
            for p in self.disc.parameters():
                p.requires_grad_(False)
            with torch.autocast(dev, dtype=torch.bfloat16, enabled=self.amp):
                df = self.disc(self._fmt(out))
                dr = self.disc(x) if tc["adversarial"] == "ragan-ls" else None
            dr = [t.detach() for t in dr] if isinstance(dr, list) else (dr.detach() if dr is not None else None)
            terms["adv"] = g_loss_fn(df, dr) * float(tc["w_adv"])
            for p in self.disc.parameters():
                p.requires_grad_(True)
            terms["d"] = ld.detach()
        loss = sum(v for k, v in terms.items() if k != "d")
        self.opt.zero_grad(set_to_none=True)
        loss.backward()
        gn = torch.nn.utils.clip_grad_norm_(self.model.parameters(), float(tc["clip"]))
        self.opt.step()
        d = float(tc["ema"]) if self.step >= int(tc["warmup"]) else 0.0
        with torch.no_grad():
            for k, v in self.model.state_dict().items():
                if v.is_floating_point():
                    self.ema[k].mul_(d).add_(v.detach(), alpha=1 - d)
                else:
                    self.ema[k].copy_(v)
        self.step += 1
        row = {"step": self.step, "loss": float(loss.detach())}
        row.update({k: float(v.detach()) for k, v in terms.items()})
        row["grad_norm"] = float(gn)
        row["lr"] = self.opt.param_groups[0]["lr"]
        return row

    # ------------------------------------------------------------------ eval / export
    def ema_model(self) -> torch.nn.Module:
        return ema_model(self.model, self.ema)

    @torch.no_grad()
    def validate(self) -> dict:
        if self._val is None:
            self._val = self.pairs.validation(int(self.tc["val_samples"]))
        m = self.ema_model()
        ps, p0 = [], []
        for b in self._val:
            y, x = self._fmt(b["y"].to(self.device)), b["x"].to(self.device)
            with torch.autocast(self.device.type, dtype=torch.bfloat16, enabled=self.amp):
                out = m(y)
            for o, lst in ((out.float(), ps), (b["y"].to(self.device), p0)):
                mse = ((o.clamp(0, 1) - x) ** 2).flatten(1).mean(1).clamp_min(1e-12)
                lst.append(-10 * torch.log10(mse))
        return {"step": self.step, "val_psnr": float(torch.cat(ps).mean()),
                "input_psnr": float(torch.cat(p0).mean()), "seconds": round(self.elapsed, 1)}

    @property
    def ckpt_path(self) -> Path:
        return self.ckpt_dir / "checkpoint.pt"

    def state(self) -> dict:
        st = {"format": 1, "step": self.step, "planned": self.planned, "batch_size": int(self.tc["batch_size"]),
              "gan_started": self.gan_started, "model": self.model.state_dict(),
              "optimizer": self.opt.state_dict(), "ema": self.ema, "rng": rng_state(),
              "rows": json.loads(json.dumps(self.rows)), "val_history": json.loads(json.dumps(self.val_history)),
              "elapsed": self.elapsed}
        if self.disc is not None:
            st["disc"], st["optimizer_d"] = self.disc.state_dict(), self.opt_d.state_dict()
        return st

    def save_checkpoint(self) -> None:
        st = self.state()
        _atomic_bytes(self.ckpt_path, lambda f: torch.save(st, f))

    def load_checkpoint(self, path: str | os.PathLike | None = None) -> None:
        path = Path(path or self.ckpt_path)
        if not path.is_file():
            raise OSError(f"cannot resume: checkpoint {str(path)!r} does not exist")
        st = torch.load(path, map_location=self.device, weights_only=True)
        self.model.load_state_dict(st["model"])
        self.opt.load_state_dict(st["optimizer"])
        if self.disc is not None:
            self.disc.load_state_dict(st["disc"])
            self.opt_d.load_state_dict(st["optimizer_d"])
        self.ema = {k: v.to(self.device) for k, v in st["ema"].items()}
        self.step, self.planned = int(st["step"]), int(st["planned"])
        self.tc["batch_size"] = int(st["batch_size"])
        self.gan_started = bool(st["gan_started"])
        self.rows, self.val_history = list(st["rows"]), list(st["val_history"])
        self.elapsed = float(st["elapsed"])
        set_rng_state(st["rng"])

    def write_curve(self) -> None:
        keys: list[str] = []
        for r in self.rows:
            keys += [k for k in r if k not in keys]
        keys += [k for k in ("val_psnr", "input_psnr") if k not in keys]
        val = {v["step"]: v for v in self.val_history}
        lines = [",".join(keys)]
        for r in self.rows:
            rr = dict(r)
            rr.update({k: v for k, v in val.get(r["step"], {}).items() if k in ("val_psnr", "input_psnr")})
            lines.append(",".join("" if rr.get(k) is None else f"{rr[k]:.6g}" for k in keys))
        text = "\n".join(lines) + "\n"
        self.out.mkdir(parents=True, exist_ok=True)
        _atomic_bytes(self.out / "curve.csv", lambda f: f.write(text.encode()))

    def export(self, stopped: str = "running") -> dict:
        """Write ``<out>/<name>.pt`` (EMA weights) + model card + curve (all atomic)."""
        dt = {"float16": torch.float16, "float32": torch.float32}[self.tc["export_dtype"]]
        path = self.out / f"{self.name.replace('-', '_')}.pt"
        last = self.val_history[-1] if self.val_history else {}
        tc = self.tc
        card = {
            "name": self.name, "kind": "end-to-end", "parameters": count_parameters(self.model),
            "training": {"steps": self.step, "planned_steps": self.planned, "seconds": round(self.elapsed, 1),
                         "minutes": round(self.elapsed / 60, 2), "stopped": stopped,
                         "batch_size": tc["batch_size"], "patch": self.pairs.patch, "lr": tc["lr"],
                         "ema": tc["ema"], "amp_bf16": self.amp, "channels_last": self.cl,
                         "loss": {k: tc[k] for k in ("pixel", "w_pix", "w_fft", "w_ssim", "w_perc", "w_adv",
                                                     "adversarial", "gan_start", "d_steps")},
                         "perceptual_pretrained": bool(self.perc.pretrained) if self.perc is not None else None,
                         "discriminator": dict(self.cfg["disc"]) or None},
            "data": {"images": len(self.pairs.base.names), "held_out": len(self.pairs.val_ids),
                     "kernels": "learned.data.sample_kernel pool (3-41 px, 8 flips/rotations)",
                     "noise": {"sigma": list(self.pairs.sigma), "p_poisson": self.pairs.p_poisson}},
            "final_losses": self.rows[-1] if self.rows else None,
            "validation": last, "validation_set": "held-out training crops (every 33rd file), "
                                                  "sigma in {0.005, 0.01, 0.02, 0.03}, valid blur",
            "hardware": hardware(self.device),
            "reproduce": self.cfg.get("_reproduce", ""),
        }
        self.write_curve()
        return save_weights(self.model, path, card=card, dtype=dt, state_dict=self.ema)

    # ------------------------------------------------------------------ loop
    def run(self, *, stop_after: int | None = None) -> dict:
        """Train to the planned steps / wall-clock limit (or ``stop_after`` steps, as if killed)."""
        tc = self.tc
        limit = float(tc["max_minutes"]) * 60
        t0, base = time.perf_counter(), self.elapsed
        cal = int(tc["calibrate"])
        try:
            stopped = self._loop(stop_after, limit, t0, base, cal)
        except KeyboardInterrupt:  # SIGINT from a time limit: keep what was learned
            stopped = "interrupted"
        if int(tc["val_every"]) and (not self.val_history or self.val_history[-1]["step"] != self.step):
            self.val_history.append(self.validate())
        self.save_checkpoint()
        card = self.export(stopped)
        return {"step": self.step, "planned": self.planned, "stopped": stopped, "seconds": self.elapsed,
                "rows": self.rows, "val_history": self.val_history, "card": card}

    def _loop(self, stop_after, limit, t0, base, cal) -> str:
        tc = self.tc
        stopped = "steps"
        while self.step < self.planned:
            if stop_after is not None and self.step >= stop_after:
                stopped = "interrupted"
                break
            try:
                row = self.train_step()
            except torch.cuda.OutOfMemoryError:
                if self.step > cal or int(tc["batch_size"]) <= 2:
                    raise
                # GPU shared with other jobs: halve the batch during calibration and retry
                tc["batch_size"] = int(tc["batch_size"]) // 2
                self.opt.zero_grad(set_to_none=True)
                if self.opt_d is not None:
                    self.opt_d.zero_grad(set_to_none=True)
                torch.cuda.empty_cache()
                continue
            self.elapsed = base + time.perf_counter() - t0
            row["seconds"] = round(self.elapsed, 2)
            self.rows.append(row)
            if limit and self.step >= cal and (self.step - cal) % 100 == 0 and self.step < self.planned:
                # (re-)plan the schedule to end at the wall-clock limit from the recent step
                # time (the GPU is shared; 5 % margin); the adversarial stage, once on, stays on
                back = min(100, len(self.rows) - 1) if self.step > cal else self.step
                per = ((self.rows[-1]["seconds"] - self.rows[-1 - back]["seconds"]) / back if self.step > cal
                       else self.elapsed / self.step)
                self.planned = max(self.step + 1, int(self.step + 0.95 * (limit - self.elapsed) / max(per, 1e-6)))
            ve = int(tc["val_every"])
            if ve and (self.step % ve == 0 or self.step == self.planned):
                self.val_history.append(self.validate())
            if int(tc["ckpt_every"]) and self.step % int(tc["ckpt_every"]) == 0:
                self.save_checkpoint()
            if limit and time.perf_counter() - self._last_export > float(tc["export_every_s"]) and self.step > cal:
                self.export()
                self._last_export = time.perf_counter()
            if limit and self.elapsed >= limit:
                stopped = "max_minutes"
                break
        return stopped
