"""Train the zoo: ``python -m hybrid_deblur.learned.e2e.train --device cuda --minutes M --data DIR --out OUT``.

Each model of ``--models`` (default: all eight) is trained from its config
``configs/e2e_<name>.toml`` for a wall-clock budget with :class:`hybrid_deblur.learned.gan.GANTrainer`
on :class:`~hybrid_deblur.learned.e2e.pairs.DevicePairs` made from ``DIR/train400`` and
``DIR/cbsd432`` (training-only sets; every 33rd file held out for validation).

* ``--device cuda``: one process per model, all concurrently on the GPU (each capped to
  ``--gpu-mem`` GiB), bf16 autocast + channels_last, the ``[gpu]`` table of each config
  (batch, crop size). Every process stops ``--margin`` seconds before ``M`` minutes after
  the start, so the whole command ends within ``M`` minutes.
* ``--device cpu``: the models one after the other in this process (one image load),
  ``M`` split evenly; bf16 autocast where the CPU has AVX-512 BF16.

Outputs, per model, in ``OUT/<name>/``: ``<name>.pt`` (EMA weights, float16 state_dict,
written atomically every ``export_every_s`` seconds and at the end, so a killed run
keeps the last good weights), its model card ``<name>.json`` (recipe, steps, minutes,
final losses, validation PSNR, sha256) and ``curve.csv`` (loss terms, lr, validation PSNR).
Resume checkpoints go to ``--ckpt`` (default ``$TMPDIR/e2e_zoo_ckpt``), not into ``OUT``.
``--resume`` continues from them.

Examples
--------
>>> from hybrid_deblur.learned.e2e.train import load_model_config
>>> cfg = load_model_config("nafnet", size="large")
>>> cfg["model"]["width"], cfg["train"]["pixel"]
(32, 'l1')
"""

from __future__ import annotations

import argparse
import json
import os
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path

__all__ = ["load_model_config", "train_one", "build_cache", "main", "CONFIG_DIR"]

CONFIG_DIR = Path(__file__).resolve().parents[3] / "configs"
DEFAULT_MODELS = ("nafnet", "restormer", "msfusion", "progressive-gan", "deblurgan-v2", "unet",
                  "deblurgan", "deblurcnn")


def load_model_config(name: str, *, size: str = "small", config_dir: str | os.PathLike | None = None,
                      device: str = "cpu") -> dict:
    """The training config of zoo model ``name`` (``configs/e2e_<name>.toml``), merged.

    ``size="large"`` applies the ``[large]`` table to ``[model]``; ``device`` starting with
    ``"cuda"`` applies the ``[gpu]`` table (``batch_size`` → ``[train]``, ``patch`` → ``[data]``).
    """
    from ..gan import merge_config

    try:
        import tomllib
    except ModuleNotFoundError:  # pragma: no cover - Python 3.10
        import tomli as tomllib  # type: ignore
    if size not in ("small", "large"):
        raise ValueError(f"size must be 'small' or 'large', got {size!r}")
    p = Path(config_dir or CONFIG_DIR) / f"e2e_{name.replace('-', '_')}.toml"
    if not p.is_file():
        raise OSError(f"no config for zoo model {name!r}: {str(p)!r} does not exist")
    with open(p, "rb") as f:
        cfg = merge_config(tomllib.load(f))
    if size == "large":
        cfg["model"].update(cfg["large"])
    if str(device).startswith("cuda"):
        g = cfg["gpu"]
        if "batch_size" in g:
            cfg["train"]["batch_size"] = int(g["batch_size"])
        if "patch" in g:
            cfg["data"]["patch"] = int(g["patch"])
    cfg["_path"] = str(p)
    return cfg


def _folders(data: str) -> list[str]:
    folders = [str(Path(data) / s) for s in ("train400", "cbsd432") if (Path(data) / s).is_dir()]
    if not folders:
        raise OSError(f"--data {data!r} holds neither train400/ nor cbsd432/")
    return folders


def build_cache(data: str, path: str | os.PathLike, *, channels: int = 3, pool: int = 1024, seed: int = 0,
                workers: int = 1) -> Path:
    """Decode the training images and draw the kernel pool once, into one ``.npz`` for many runs."""
    import numpy as np

    from ..data import PairSampler
    from .pairs import kernel_pool

    base = PairSampler(_folders(data), channels=channels, seed=seed)
    from concurrent.futures import ThreadPoolExecutor

    with ThreadPoolExecutor(max(1, workers)) as ex:
        imgs = list(ex.map(base.image, range(len(base.names))))
    ks = kernel_pool(pool, seed=seed, workers=workers, **base.kopts)
    arrs = {f"img{i}": a.astype(np.float16) for i, a in enumerate(imgs)}  # [0, 1]: fp16 is ample
    arrs.update({f"k{i}": k for i, k in enumerate(ks)})
    path = Path(path)
    tmp = path.with_suffix(".tmp.npz")
    np.savez(tmp, **arrs)
    os.replace(tmp, path)
    return path


def _load_cache(path: str):
    import numpy as np

    with np.load(path) as z:
        ni = sum(1 for k in z.files if k.startswith("img"))
        nk = sum(1 for k in z.files if k.startswith("k"))
        return [z[f"img{i}"] for i in range(ni)], [z[f"k{i}"] for i in range(nk)]


def _pairs(data: str, cfg: dict, device: str, workers: int, cache: str | None = None):
    from .pairs import DevicePairs

    d = dict(cfg["data"])
    d.setdefault("channels", int(cfg["model"].get("channels", 3)))
    if cache:
        imgs, ks = _load_cache(cache)
        p = DevicePairs(images=imgs, kernels=ks, device=device, seed=int(cfg["train"]["seed"]), **d)
    else:
        p = DevicePairs(_folders(data), device=device, workers=workers, seed=int(cfg["train"]["seed"]), **d)
    return p


def train_one(name: str, *, data: str, out: str, device: str, minutes: float, size: str = "small",
              ckpt: str | None = None, resume: bool = False, workers: int = 1, pairs=None,
              steps: int | None = None) -> dict:
    """Train zoo model ``name`` for ``minutes`` (or ``steps``); returns the trainer's summary."""
    from ..gan import GANTrainer

    cfg = load_model_config(name, size=size, device=device)
    cfg["train"]["max_minutes"] = float(minutes)
    cfg["train"]["steps"] = int(steps) if steps else 10 ** 7
    if not steps and device.startswith("cuda"):
        cfg["train"]["val_every"] = 250
    cfg["_reproduce"] = (f"python -m hybrid_deblur.learned.e2e.train --models {name} --device {device} "
                         f"--minutes {minutes:g} --data <dir with train400, cbsd432> --size {size}")
    pairs = pairs if pairs is not None else _pairs(data, cfg, device, workers)
    odir = Path(out) / name
    cdir = Path(ckpt or Path(tempfile.gettempdir()) / "e2e_zoo_ckpt") / name
    tr = GANTrainer(cfg, pairs=pairs, out_dir=odir, ckpt_dir=cdir, device=device)
    tr.cfg["_reproduce"] = cfg["_reproduce"]
    if resume and tr.ckpt_path.is_file():
        tr.load_checkpoint()
    res = tr.run()
    res.pop("rows", None)
    return res


def _parser() -> argparse.ArgumentParser:
    ap = argparse.ArgumentParser(prog="python -m hybrid_deblur.learned.e2e.train",
                                 description="Train the end-to-end zoo models for a wall-clock budget.")
    ap.add_argument("--device", default="cpu", help="cpu, cuda or cuda:N")
    ap.add_argument("--minutes", type=float, required=True, help="wall-clock budget of the whole command")
    ap.add_argument("--data", default="../shared/data", help="folder with train400/ and cbsd432/")
    ap.add_argument("--out", required=True, help="output folder (one subfolder per model)")
    ap.add_argument("--models", default=",".join(DEFAULT_MODELS), help="comma-separated zoo names")
    ap.add_argument("--size", default="small", choices=("small", "large"))
    ap.add_argument("--ckpt", default=None, help="resume-checkpoint folder (default $TMPDIR/e2e_zoo_ckpt)")
    ap.add_argument("--resume", action="store_true")
    ap.add_argument("--gpu-mem", type=float, default=2.5, help="GiB cap per model process on CUDA")
    ap.add_argument("--margin", type=float, default=25.0, help="seconds kept for the final export")
    ap.add_argument("--workers", type=int, default=0, help="processes for the kernel pool (0: auto)")
    ap.add_argument("--parallel", action="store_true", help="one process per model also on the CPU")
    ap.add_argument("--pool", type=int, default=1024, help="kernels drawn for the pool (parallel runs)")
    ap.add_argument("--deadline", type=float, default=None, help=argparse.SUPPRESS)
    ap.add_argument("--cache", default=None, help=argparse.SUPPRESS)
    return ap


def _worker(a) -> int:
    import torch

    if a.device.startswith("cuda"):
        dev = torch.device(a.device)
        total = torch.cuda.get_device_properties(dev).total_memory
        torch.cuda.set_per_process_memory_fraction(min(1.0, a.gpu_mem * 2 ** 30 / total), dev)
        torch.backends.cuda.matmul.allow_tf32 = True
        torch.backends.cudnn.allow_tf32 = True
        torch.backends.cudnn.benchmark = True
    torch.set_num_threads(1)
    name = a.models
    cfg = load_model_config(name, size=a.size, device=a.device)
    pairs = _pairs(a.data, cfg, a.device, max(1, a.workers), cache=a.cache)
    left = (a.deadline - time.time() - a.margin) / 60
    if left <= 0.05:
        print(f"[{name}] no time left after the data set-up", file=sys.stderr)
        return 1
    res = train_one(name, data=a.data, out=a.out, device=a.device, minutes=left, size=a.size, ckpt=a.ckpt,
                    resume=a.resume, pairs=pairs)
    print(json.dumps({"model": name, "step": res["step"], "stopped": res["stopped"],
                      "val": res["val_history"][-1] if res["val_history"] else None}))
    return 0


def main(argv=None) -> int:
    a = _parser().parse_args(argv)
    start = time.time()
    deadline = a.deadline or start + 60 * a.minutes
    models = [m.strip() for m in a.models.split(",") if m.strip()]
    from . import ARCHITECTURES

    bad = [m for m in models if m not in ARCHITECTURES]
    if bad:
        raise SystemExit(f"--models {bad} unknown; known: {', '.join(sorted(ARCHITECTURES))}")
    Path(a.out).mkdir(parents=True, exist_ok=True)
    if a.deadline is not None:
        return _worker(a)
    if a.device.startswith("cuda") or a.parallel:
        workers = a.workers or max(1, os.cpu_count() or 1)
        cache = Path(a.ckpt or Path(tempfile.gettempdir()) / "e2e_zoo_ckpt") / "pairs_cache.npz"
        cache.parent.mkdir(parents=True, exist_ok=True)
        t = time.time()
        build_cache(a.data, cache, workers=workers, pool=a.pool)
        print(f"images + kernel pool ready in {time.time() - t:.1f} s", flush=True)
        procs = []
        for m in models:
            cmd = [sys.executable, "-m", "hybrid_deblur.learned.e2e.train", "--device", a.device, "--minutes",
                   str(a.minutes), "--data", a.data, "--out", a.out, "--models", m, "--size", a.size,
                   "--gpu-mem", str(a.gpu_mem), "--margin", str(a.margin), "--workers", str(workers),
                   "--deadline", str(deadline), "--cache", str(cache)] + (["--parallel"] if a.parallel else []) + (["--ckpt", a.ckpt] if a.ckpt else []) + (
                       ["--resume"] if a.resume else [])
            log = open(Path(a.out) / f"{m}.log", "w")
            procs.append((m, subprocess.Popen(cmd, stdout=log, stderr=subprocess.STDOUT), log))
        rc = 0
        for m, p, log in procs:
            try:
                p.wait(timeout=max(1.0, deadline - time.time() + 5))
            except subprocess.TimeoutExpired:  # late: SIGINT makes it export, then kill
                p.send_signal(signal.SIGINT)
                try:
                    p.wait(timeout=20)
                except subprocess.TimeoutExpired:
                    p.kill()
                    p.wait()
            log.close()
            rc |= p.returncode != 0
            print(f"{m}: exit {p.returncode}", flush=True)
        return int(rc)
    import torch

    torch.set_num_threads(int(os.environ.get("OMP_NUM_THREADS", torch.get_num_threads())))
    cfg0 = load_model_config(models[0], size=a.size, device=a.device)
    pairs = _pairs(a.data, cfg0, a.device, max(1, a.workers))
    left0 = (deadline - time.time()) / 60
    per = max(left0, 0.01) / len(models)
    for i, m in enumerate(models):
        cfg = load_model_config(m, size=a.size, device=a.device)
        if cfg["data"] != cfg0["data"]:
            pm = _pairs(a.data, cfg, a.device, max(1, a.workers))
        else:
            pm = pairs
        res = train_one(m, data=a.data, out=a.out, device=a.device, minutes=per, size=a.size, ckpt=a.ckpt,
                        resume=a.resume, pairs=pm)
        print(json.dumps({"model": m, "step": res["step"], "stopped": res["stopped"],
                          "val": res["val_history"][-1] if res["val_history"] else None}))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
