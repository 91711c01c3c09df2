"""Train :class:`~hybrid_deblur.learned.kernel_net.KernelNet` for a wall-clock budget.

``python -m hybrid_deblur.learned.train_kernel_net --device cuda --minutes 7 --data gpu_data --out OUT``

Data: sharp gray crops of ``DATA/train400`` and ``DATA/cbsd432`` (every 33rd file held out
for validation), kernels from a pool drawn once at start from the :mod:`hybrid_deblur.psf`
generators (camera shake, linear motion, defocus, Gaussian, motion ⊛ defocus,
camera shake ⊛ defocus, a few identities; supports 3-65 px), augmented on the fly by
the 8 flips/rotations. Blur (``valid`` linear convolution by FFT, float32), Poisson
(probability 0.2, peak 100-3000 photons) and Gaussian noise (σ ∈ [0, 0.03]) are
applied on the training device. Loss: kernel L2 (relative, the 180° flip accepted) +
re-blur consistency ``||k̂ * x - k * x||² / ||k * x - mean||²``.

bf16 autocast (convolutions only) on CUDA and on CPUs with native bf16, channels_last,
AdamW with warm-up and a cosine schedule over the time budget, EMA weights. Every
validation writes the EMA weights atomically (``kernel_net_gray.pt`` + card with sha256)
and appends to ``curve.csv``, so a killed run keeps the last good weights.

Examples
--------
>>> from hybrid_deblur.learned.train_kernel_net import sample_pool_kernel
>>> import numpy as np
>>> k, kind = sample_pool_kernel(np.random.default_rng(0), 33)
>>> k.shape, round(float(k.sum()), 6), kind in ("camera_shake", "linear", "defocus",
...     "gaussian", "motion+defocus", "shake+defocus", "identity")
((33, 33), 1.0, True)
"""

from __future__ import annotations

import argparse
import csv
import json
import math
import os
import platform
import sys
import time
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path

import numpy as np
import torch

from .. import backend as B
from .kernel_net import SHIPPED_NAME, KernelNet

__all__ = ["Batcher", "build_kernel_pool", "load_gray_images", "main", "sample_pool_kernel", "train"]

FAMILIES = {"camera_shake": 0.3, "linear": 0.14, "defocus": 0.12, "gaussian": 0.1,
            "motion+defocus": 0.14, "shake+defocus": 0.14, "identity": 0.06}


def _odd(n: float) -> int:
    n = round(n)
    return n if n % 2 else n + 1


def _center_int(k: np.ndarray) -> np.ndarray:
    """Shift ``k`` by whole pixels so that its centroid is nearest the centre pixel."""
    kh, kw = k.shape
    yy, xx = np.mgrid[:kh, :kw]
    s = k.sum()
    sy = round(kh // 2 - (yy * k).sum() / s)
    sx = round(kw // 2 - (xx * k).sum() / s)
    return np.roll(k, (sy, sx), axis=(0, 1))


def sample_pool_kernel(rng: np.random.Generator, ksize: int = 65,
                       families: dict | None = None) -> tuple[np.ndarray, str]:
    """One random kernel (``ksize`` x ``ksize``, centroid-centred, sum 1) and its family;
    ``families`` maps names of :data:`FAMILIES` to draw weights (default :data:`FAMILIES`)."""
    from ..psf import combine, crop_psf, disk, gaussian, linear_motion, pad_psf, trajectory_motion

    fam = FAMILIES if families is None else families
    names = list(fam)
    p = np.array([fam[n] for n in names], dtype=float)
    kind = names[int(rng.choice(len(names), p=p / p.sum()))]
    s = _odd(rng.uniform(3, ksize))
    s = min(s, ksize)
    seed = int(rng.integers(0, 2 ** 31 - 1))
    if kind == "identity":
        k = np.zeros((1, 1)) + 1.0
    elif kind == "camera_shake":
        k = trajectory_motion(size=s, length=rng.uniform(0.3, 0.9) * (s - 1),
                              anxiety=rng.uniform(0.001, 0.02), exposure=rng.uniform(0.6, 1.0), seed=seed)
    elif kind == "linear":
        k = linear_motion(rng.uniform(1, s - 1), rng.uniform(0, 180), size=s)
    elif kind == "defocus":
        k = disk(rng.uniform(0.5, max(0.6, (s - 1) / 2)), s)
    elif kind == "gaussian":
        smax = max(0.35, (s - 1) / 6)
        k = gaussian((rng.uniform(0.3, smax), rng.uniform(0.3, smax)), s, angle=rng.uniform(0, 180))
    elif kind == "motion+defocus":
        r = rng.uniform(0.5, max(0.6, (s - 1) / 4))
        L = rng.uniform(1, max(1.5, s - 1 - 2 * r))
        k = combine(linear_motion(L, rng.uniform(0, 180)), disk(r))
    else:
        r = rng.uniform(0.5, max(0.6, (s - 1) / 6))
        s1 = max(3, _odd(s - 2 * math.ceil(r)))
        k = combine(trajectory_motion(size=s1, length=rng.uniform(0.3, 0.9) * (s1 - 1),
                                      anxiety=rng.uniform(0.001, 0.02), seed=seed), disk(r))
    k = np.asarray(k, dtype=np.float64)
    if k.shape[0] > ksize:
        k = crop_psf(k, ksize)
    if k.shape[0] < ksize:
        k = pad_psf(k, ksize)
    k = np.clip(k, 0, None)
    k = _center_int(k / k.sum())
    return (k / k.sum()).astype(np.float32), kind


def _pool_chunk(args):
    seed, n, ksize, families = args
    rng = np.random.default_rng(seed)
    out = [sample_pool_kernel(rng, ksize, families) for _ in range(n)]
    return np.stack([o[0] for o in out]), [o[1] for o in out]


def build_kernel_pool(n: int, ksize: int = 65, *, seed: int = 0, workers: int = 1, families: dict | None = None):
    """``n`` kernels (n, ksize, ksize) float32 and their families, drawn in ``workers`` processes."""
    chunks = max(1, workers * 4)
    per = [n // chunks + (i < n % chunks) for i in range(chunks)]
    jobs = [(seed * 100003 + i, m, ksize, families) for i, m in enumerate(per) if m > 0]
    if workers > 1:
        import multiprocessing as mp

        with ProcessPoolExecutor(workers, mp_context=mp.get_context("fork")) as ex:
            res = list(ex.map(_pool_chunk, jobs))
    else:
        res = [_pool_chunk(j) for j in jobs]
    return np.concatenate([r[0] for r in res]), [k for r in res for k in r[1]]


def _read_gray(f):
    from ..io import imread

    a = np.asarray(imread(f, gray=True), dtype=np.float32)
    return a.mean(axis=0) if a.ndim == 3 else a


def load_gray_images(data: str | Path, *, min_side: int, val_every: int = 33, max_images: int | None = None,
                     workers: int = 1):
    """Gray linear-light training images of ``data/train400`` and ``data/cbsd432``: (train, val).

    Every ``val_every``-th file is held out; ``max_images`` keeps an evenly spaced subset.
    """
    from .data import list_images

    files = list_images([Path(data) / "train400", Path(data) / "cbsd432"])
    idx = list(range(len(files)))
    if max_images and max_images < len(files):
        keep = set(np.linspace(0, len(files) - 1, max_images).round().astype(int).tolist())
        keep |= {i for i in idx if val_every and i % val_every == 0}
        idx = sorted(keep)
    if workers > 1:
        import multiprocessing as mp

        with ProcessPoolExecutor(workers, mp_context=mp.get_context("fork")) as ex:
            arrs = list(ex.map(_read_gray, [files[i] for i in idx], chunksize=8))
    else:
        arrs = [_read_gray(files[i]) for i in idx]
    train, val = [], []
    for i, a in zip(idx, arrs):
        if min(a.shape) < min_side:
            continue
        (val if val_every and i % val_every == 0 else train).append(a)
    if not train or not val:
        raise OSError(f"no usable training/validation images (side >= {min_side}) under {str(data)!r}")
    return train, val


class Batcher:
    """Blurred crops, sharp crops and kernels, made on ``device`` (see the module docstring)."""

    def __init__(self, images, pool, *, crop: int, device, sigma=(0.0, 0.03), p_poisson=0.2,
                 photons=(100.0, 3000.0)):
        self.images = [torch.from_numpy(a).to(device) for a in images]
        self.pool = torch.from_numpy(pool).to(device)
        self.K = pool.shape[-1]
        self.crop, self.device = int(crop), device
        self.sigma, self.p_poisson, self.photons = sigma, p_poisson, photons
        nz = self.pool > 1e-3 * self.pool.flatten(1).amax(1)[:, None, None]
        c = torch.arange(self.K, device=self.pool.device) - self.K // 2
        ext = torch.where(nz, torch.maximum(c.abs()[:, None], c.abs()[None, :]), torch.zeros_like(nz, dtype=c.dtype))
        #: odd support (px) of every pool kernel, for the small-kernels-first curriculum
        self.support = 2 * ext.flatten(1).amax(1) + 1
        self.max_support = self.K

    def _pick(self, n: int, g: torch.Generator) -> torch.Tensor:
        ok = torch.nonzero(self.support <= self.max_support).flatten()
        if ok.numel() == 0:
            ok = torch.arange(len(self.pool), device=self.pool.device)
        return ok[torch.randint(ok.numel(), (n,), generator=g).to(ok.device)]

    def batch(self, n: int, g: torch.Generator):
        S = self.crop + self.K - 1
        dev = self.device
        ii = torch.randint(len(self.images), (n,), generator=g).tolist()
        xs = []
        for i in ii:
            im = self.images[i]
            H, W = im.shape
            r = int(torch.randint(H - S + 1, (1,), generator=g))
            c = int(torch.randint(W - S + 1, (1,), generator=g))
            x = im[r:r + S, c:c + S]
            t = int(torch.randint(8, (1,), generator=g))
            x = torch.rot90(x, t % 4, (0, 1))
            xs.append(x.flip(0) if t >= 4 else x)
        x = torch.stack(xs)[:, None]
        kk = self.pool[self._pick(n, g)]
        t = torch.randint(8, (n,), generator=g).tolist()
        kk = torch.stack([torch.rot90(k, a % 4, (0, 1)).flip(0) if a >= 4 else torch.rot90(k, a % 4, (0, 1))
                          for k, a in zip(kk, t)])
        yc = valid_conv(x, kk)
        u = torch.rand(n, 3, generator=g).to(dev)
        y = yc
        pois = u[:, 0] < self.p_poisson
        if bool(pois.any()):
            lo, hi = math.log(self.photons[0]), math.log(self.photons[1])
            peak = torch.exp(lo + (hi - lo) * u[:, 1])[:, None, None, None]
            yp = torch.poisson(torch.clamp(y, min=0) * peak) / peak
            y = torch.where(pois[:, None, None, None], yp, y)
        sig = (self.sigma[0] + (self.sigma[1] - self.sigma[0]) * u[:, 2])[:, None, None, None]
        y = y + sig * torch.randn(y.shape, generator=g).to(dev)
        return y, yc, x, kk


def valid_conv(x: torch.Tensor, k: torch.Tensor) -> torch.Tensor:
    """``valid`` linear convolution of x (N, 1, S, S) with per-sample kernels k (N, K, K), float32."""
    S, K = x.shape[-1], k.shape[-1]
    s = B.next_fast_shape((S + K - 1, S + K - 1))
    X = B.rfftn(x.float(), s=s, axes=(-2, -1))
    Kf = B.rfftn(k[:, None].float(), s=s, axes=(-2, -1))
    full = B.irfftn(X * Kf, s=s, axes=(-2, -1))
    return full[..., K - 1:S, K - 1:S]


def losses(k_hat, k, x, yc):
    """(kernel loss, re-blur loss), per sample, float32."""
    k_hat = k_hat.float()
    nk = (k * k).sum(dim=(-2, -1))
    e1 = ((k_hat - k) ** 2).sum(dim=(-2, -1))
    e2 = ((k_hat.flip(-1, -2) - k) ** 2).sum(dim=(-2, -1))
    lk = torch.minimum(e1, e2) / nk
    yh = valid_conv(x, k_hat)
    d = yc - yc.mean(dim=(-2, -1), keepdim=True)
    lr = ((yh - yc) ** 2).sum(dim=(-3, -2, -1)) / ((d * d).sum(dim=(-3, -2, -1)) + 1e-6)
    return lk, lr


def similarity(k_hat, k):
    """Cosine similarity of kernels (the better of k̂ and its 180° flip), per sample."""
    k_hat = k_hat.float()
    n = k_hat.flatten(1).norm(dim=1) * k.flatten(1).norm(dim=1)
    s1 = (k_hat * k).sum(dim=(-2, -1))
    s2 = (k_hat.flip(-1, -2) * k).sum(dim=(-2, -1))
    return torch.maximum(s1, s2) / n


def _cpu_has_bf16() -> bool:
    """True when the CPU computes bf16 natively (avx512_bf16 or AMX); emulated bf16 is slower."""
    cpuinfo = Path("/proc/cpuinfo")
    flags = cpuinfo.read_text() if cpuinfo.is_file() else ""
    return "avx512_bf16" in flags or "amx_bf16" in flags


def train(*, device: str = "cpu", minutes: float = 5.0, data: str = "../shared/data", out: str = "kernel_net_out",
          batch: int | None = None, crop: int = 112, ksize: int = 65, width: int = 32, lr: float = 1e-3,
          pool: int | None = None, workers: int | None = None, seed: int = 0, init: str | None = None,
          threads: int | None = None, val_every_s: float | None = None, amp: bool = True,
          max_images: int | None = 160, resume: bool = False, curriculum: float = 0.0,
          snapshot_min: float = 0.0, n_val: int | None = None, max_steps: int | None = None,
          families: dict | None = None) -> dict:
    """Train for ``minutes`` of wall-clock (pool and data loading included); return the model card.

    ``resume`` continues from ``OUT/train_state.pt`` (written atomically at every validation:
    weights, EMA, optimiser, step, elapsed time, RNG), so a killed run loses at most one
    validation interval. ``curriculum`` > 0: the largest kernel support drawn grows linearly
    from 15 px to ``ksize`` over that fraction of the budget (small kernels first).
    ``snapshot_min`` > 0 keeps a copy of the EMA weights every that many minutes
    (``OUT/snap_<step>.pt``) for checkpoint selection. ``max_steps`` also stops the run.
    ``families`` overrides draw weights of :data:`FAMILIES` for the training pool only (the
    validation kernels keep the default shares, so curves of runs stay comparable); with the
    default, a resumed run draws the same pool as the run it continues.
    """
    fam = {**FAMILIES, **{k: float(v) for k, v in (families or {}).items()}}
    if set(fam) != set(FAMILIES) or min(fam.values()) < 0:
        raise ValueError(f"families {families!r}: accepted keys {', '.join(FAMILIES)} with weights >= 0")
    t_start = time.perf_counter()
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    dev = torch.device(device)
    cuda = dev.type == "cuda"
    if threads or not cuda:
        torch.set_num_threads(int(threads or min(2, os.cpu_count() or 1)))
    workers = int(workers or (min(16, os.cpu_count() or 1) if cuda else 1))
    pool_n = int(pool or (4000 if cuda else 1500))
    batch = int(batch or (64 if cuda else 4))
    val_every_s = float(val_every_s or (30.0 if cuda else 20.0))
    kernels, fams = build_kernel_pool(pool_n, ksize, seed=seed, workers=workers,
                                      families=None if fam == FAMILIES else fam)
    t_pool = time.perf_counter() - t_start
    train_imgs, val_imgs = load_gray_images(data, min_side=crop + ksize - 1, workers=workers,
                                            max_images=None if cuda else max_images)
    bt = Batcher(train_imgs, kernels, crop=crop, device=dev)
    n_val = int(n_val or (64 if cuda else 24))
    vk, _ = build_kernel_pool(n_val, ksize, seed=seed + 7919, workers=1)
    bv = Batcher(val_imgs, vk, crop=crop, device=dev)
    gv = torch.Generator().manual_seed(seed + 1)
    val = bv.batch(n_val, gv)
    net = KernelNet(ksize=ksize, crop=crop, width=width)
    if init:
        from .kernel_net import load_kernel_net

        net.load_state_dict(load_kernel_net(init).state_dict())
    net = net.to(dev).to(memory_format=torch.channels_last)
    ema = {k: v.detach().clone().float() for k, v in net.state_dict().items()}
    opt = torch.optim.AdamW(net.parameters(), lr=lr, weight_decay=1e-4)
    budget = float(minutes) * 60.0
    g = torch.Generator().manual_seed(seed)
    use_amp = bool(amp) and (cuda or _cpu_has_bf16())
    rows, step, last_val = [], 0, time.perf_counter()
    run_avg = None
    t_off = 0.0  # seconds trained by the runs this one resumes
    state_path = out / "train_state.pt"
    if resume and state_path.is_file():
        st = torch.load(state_path, map_location=dev, weights_only=True)
        net.load_state_dict(st["net"])
        ema = {k: v.float() for k, v in st["ema"].items()}
        opt.load_state_dict(st["opt"])
        g.set_state(st["rng"])
        step, t_off, rows, run_avg = int(st["step"]), float(st["seconds"]), [list(r) for r in st["rows"]], st["avg"]
        print(f"resumed {state_path} at step {step} ({t_off:.0f} s trained)", flush=True)
    last_snap = t_off
    card: dict = {}
    t_train0 = time.perf_counter()

    def lr_at(frac):
        warm = 0.03
        return lr * (frac / warm if frac < warm else 0.5 * (1 + math.cos(math.pi * min(1.0, (frac - warm) / (1 - warm)))))

    def validate():
        saved = {k: v.clone() for k, v in net.state_dict().items()}
        net.load_state_dict({k: v.to(saved[k].dtype) for k, v in ema.items()})
        net.eval()
        with torch.no_grad(), torch.autocast(dev.type, dtype=torch.bfloat16, enabled=use_amp):
            y, yc, x, kk = val
            kh = net(y)
            lk, lr_ = losses(kh, kk, x, yc)
            sim = similarity(kh, kk)
        net.load_state_dict(saved)
        net.train()
        return float(lk.mean()), float(lr_.mean()), float(sim.mean())

    def checkpoint(vals, final=False):
        nonlocal card
        from .weights import save_weights

        cpu_net = KernelNet(ksize=ksize, crop=crop, width=width)
        cpu_net.load_state_dict({k: v.detach().cpu().float() for k, v in ema.items()})
        elapsed = time.perf_counter() - t_start + t_off
        card = save_weights(cpu_net, out / f"{SHIPPED_NAME}.pt", card={
            "name": SHIPPED_NAME, "task": "blind kernel estimation (gray, linear light)",
            "data": {"folders": [str(Path(data) / "train400"), str(Path(data) / "cbsd432")],
                     "held_out": "every 33rd file", "crop": crop},
            "kernels": {"pool": pool_n, "families": fam, "support": [3, ksize],
                        "augment": "8 flips/rotations", "centre": "integer centroid"},
            "noise": {"sigma": [0.0, 0.03], "p_poisson": 0.2, "photons": [100.0, 3000.0]},
            "loss": "relative kernel L2 (180-degree flip accepted) + re-blur consistency",
            "training": {"steps": step, "batch": batch, "lr": lr, "ema": 0.999, "minutes_budget": minutes,
                         "seconds": round(elapsed, 1), "seconds_pool": round(t_pool, 1), "amp_bf16": use_amp,
                         "channels_last": True, "seed": seed, "init": init, "final": final},
            "validation": {"kernel_rel_l2": vals[0], "reblur_rel": vals[1], "kernel_cosine": vals[2],
                           "set": f"{n_val} fixed held-out train400/cbsd432 crops, fixed kernels"},
            "hardware": {"device": str(dev), "name": torch.cuda.get_device_name(dev) if cuda else platform.processor(),
                         "torch": torch.__version__, "threads": torch.get_num_threads()},
            "reproduce": f"python -m hybrid_deblur.learned.train_kernel_net --device {device} "
                         f"--minutes {minutes} --data {data} --out OUT --width {width} --ksize {ksize} "
                         f"--crop {crop} --batch {batch} --lr {lr} --pool {pool_n} --seed {seed} "
                         f"--curriculum {curriculum} --max-images {max_images}"
                         + "".join(f" --family {k}={v}" for k, v in fam.items() if v != FAMILIES[k])
                         + (f" --threads {threads}" if threads else "") + ("" if amp else " --no-amp"),
        })
        tmp = out / ".curve.csv.tmp"
        with open(tmp, "w", newline="") as f:
            w = csv.writer(f)
            w.writerow(["step", "seconds", "train_loss", "val_kernel_rel_l2", "val_reblur_rel", "val_kernel_cosine"])
            w.writerows(rows)
        os.replace(tmp, out / "curve.csv")

    def save_state():
        elapsed = time.perf_counter() - t_start + t_off
        blob = {"net": net.state_dict(), "ema": ema, "opt": opt.state_dict(), "rng": g.get_state(),
                "step": step, "seconds": elapsed - (t_train0 - t_start), "rows": rows, "avg": run_avg}
        torch.save(blob, out / ".train_state.tmp")
        os.replace(out / ".train_state.tmp", state_path)
        return elapsed

    net.train()
    stop = {"flag": False}
    try:  # SIGINT/SIGTERM (e.g. ``timeout``): finish the step, then validate and save
        import signal
        for sig in (signal.SIGINT, signal.SIGTERM):
            signal.signal(sig, lambda *_: stop.update(flag=True))
    except ValueError:  # pragma: no cover - not the main thread
        pass
    while not stop["flag"]:
        now = time.perf_counter()
        frac = (now - t_start + t_off) / budget
        if frac >= 1.0 or (max_steps is not None and step >= max_steps):
            break
        for pg in opt.param_groups:
            pg["lr"] = lr_at(max(0.0, (now - t_train0 + t_off) / max(budget - (t_train0 - t_start), 1.0)))
        if curriculum > 0:
            bt.max_support = int(min(ksize, 15 + (ksize - 15) * frac / curriculum))
        y, yc, x, kk = bt.batch(batch, g)
        with torch.autocast(dev.type, dtype=torch.bfloat16, enabled=use_amp):
            kh = net(y)
        lk, lrb = losses(kh, kk, x, yc)
        loss = (lk + lrb).mean()
        opt.zero_grad(set_to_none=True)
        loss.backward()
        torch.nn.utils.clip_grad_norm_(net.parameters(), 1.0)
        opt.step()
        step += 1
        d = min(0.999, (1 + step) / (10 + step))
        with torch.no_grad():
            for k_, v in net.state_dict().items():
                if v.is_floating_point():
                    ema[k_].mul_(d).add_(v.detach().float(), alpha=1 - d)
                else:
                    ema[k_].copy_(v)
        lv = float(loss.detach())
        run_avg = lv if run_avg is None else 0.98 * run_avg + 0.02 * lv
        if time.perf_counter() - last_val >= val_every_s:
            vals = validate()
            rows.append([step, round(time.perf_counter() - t_start + t_off, 1), round(run_avg, 5), *[round(v, 5) for v in vals]])
            print(f"step {step} t={rows[-1][1]}s loss {run_avg:.4f} val kernel {vals[0]:.4f} "
                  f"reblur {vals[1]:.4f} cos {vals[2]:.4f}", flush=True)
            checkpoint(vals)
            elapsed = save_state()
            if snapshot_min > 0 and elapsed - last_snap >= 60 * snapshot_min:
                import shutil

                for ext in (".pt", ".json"):
                    shutil.copyfile(out / f"{SHIPPED_NAME}{ext}", out / f".snap.tmp{ext}")
                    os.replace(out / f".snap.tmp{ext}", out / f"snap_{step:06d}{ext}")
                last_snap = elapsed
            last_val = time.perf_counter()
    vals = validate()
    rows.append([step, round(time.perf_counter() - t_start + t_off, 1), round(run_avg or float("nan"), 5),
                 *[round(v, 5) for v in vals]])
    checkpoint(vals, final=True)
    save_state()
    print(f"done: {step} steps, val kernel {vals[0]:.4f} reblur {vals[1]:.4f} cos {vals[2]:.4f} "
          f"-> {out / (SHIPPED_NAME + '.pt')}", flush=True)
    with open(out / "families.json", "w") as f:
        json.dump({k: fams.count(k) for k in FAMILIES}, f)  # pool counts per family
    return card


def _family_arg(item: str) -> tuple[str, float]:
    name, _, w = item.partition("=")
    if not w.replace(".", "", 1).isdigit():
        raise ValueError(f"--family {item!r}: expected NAME=WEIGHT with NAME in {', '.join(FAMILIES)}")
    return name, float(w)


def main(argv=None) -> int:
    p = argparse.ArgumentParser(prog="python -m hybrid_deblur.learned.train_kernel_net",
                                description="Train the learned kernel estimator for a wall-clock budget.")
    for flag, typ, default in (("--device", str, "cpu"), ("--minutes", float, 5.0), ("--batch", int, None),
                               ("--width", int, 32), ("--lr", float, 1e-3), ("--workers", int, None),
                               ("--threads", int, None), ("--seed", int, 0), ("--ksize", int, 65),
                               ("--crop", int, 112), ("--val-every-s", float, None)):
        p.add_argument(flag, type=typ, default=default)
    p.add_argument("--data", default="../shared/data", help="folder with train400/ and cbsd432/")
    p.add_argument("--out", required=True)
    p.add_argument("--pool", type=int, default=None, help="kernels drawn at start (default 4000 cuda / 1500 cpu)")
    p.add_argument("--init", default=None, help="start from this weight file")
    p.add_argument("--max-images", type=int, default=160, help="CPU only: evenly spaced image subset")
    p.add_argument("--no-amp", dest="amp", action="store_false")
    p.add_argument("--resume", action="store_true", help="continue from OUT/train_state.pt")
    p.add_argument("--curriculum", type=float, default=0.0,
                   help="fraction of the budget over which the largest kernel grows from 15 px to ksize")
    p.add_argument("--snapshot-min", type=float, default=0.0, help="keep OUT/snap_<step>.pt every N minutes")
    p.add_argument("--family", action="append", default=[], metavar="NAME=W",
                   help="training-pool draw weight of a kernel family (repeatable), e.g. linear=0.28")
    a = p.parse_args(argv)
    if a.minutes <= 0:
        raise ValueError(f"--minutes {a.minutes!r} must be > 0")
    train(**{k: v for k, v in vars(a).items() if k != "family"},
          families=dict(_family_arg(item) for item in a.family) or None)
    return 0


if __name__ == "__main__":
    sys.exit(main())
