"""Training configurations: TOML files (``configs/*.toml``) merged over defaults.

Sections: ``[model]`` (``name`` + constructor arguments), ``[data]`` (arguments of
:class:`~hybrid_deblur.learned.data.PairSampler`), ``[train]`` (optimiser, schedule,
logging, checkpoints, limits) and ``[export]`` (where the final EMA weights go).
Unknown keys in ``[train]`` / ``[export]`` are errors that list the accepted keys.

Paths: ``[data] folders`` / ``images`` and ``[export] path`` in a config *file* resolve
relative to that file (so a config works from any working directory); ``[train]
out_dir`` is an output and resolves against the working directory (or use ``--out``).
An ``[export] path`` inside the package's shipped-weights folder is only written with
``refresh_shipped = true`` (``hybrid-deblur train --refresh-shipped``); otherwise the
export goes into the run folder (:meth:`hybrid_deblur.learned.train.Trainer.export`).

Examples
--------
>>> from hybrid_deblur.learned.config import merge_defaults
>>> cfg = merge_defaults({"train": {"steps": 10}})
>>> cfg["train"]["steps"], cfg["train"]["optimizer"], cfg["model"]["name"]
(10, 'adamw', 'unrolled-hqs')
"""

from __future__ import annotations

import copy
import os
from pathlib import Path
from typing import Any

try:  # Python >= 3.11
    import tomllib
except ModuleNotFoundError:  # pragma: no cover - Python 3.10
    import tomli as tomllib  # type: ignore

__all__ = ["DEFAULTS", "load_config", "merge_defaults"]

DEFAULTS: dict[str, Any] = {
    "model": {"name": "unrolled-hqs"},
    "data": {"folders": ["../shared/data/train400"], "channels": 1, "patch": 64},
    "train": {
        "optimizer": "adamw", "steps": 1000, "batch_size": 8, "lr": 3e-4, "weight_decay": 1e-4,
        "warmup": 50, "min_lr_ratio": 0.02, "ema": 0.999, "clip": 1.0, "seed": 0, "threads": 1,
        "max_minutes": 0.0, "log_every": 10, "val_every": 250, "val_samples": 16,
        "ckpt_every": 100, "out_dir": "runs/default", "amp": True, "loss": "l1",
        "boundary": "auto", "device": "auto",
    },
    "export": {"path": "", "dtype": "float32", "name": "", "notes": "", "refresh_shipped": False},
}


def merge_defaults(cfg: dict) -> dict:
    """``cfg`` over :data:`DEFAULTS` (a deep copy); checks section and key names."""
    out = copy.deepcopy(DEFAULTS)
    for sec, vals in (cfg or {}).items():
        if sec not in out:
            raise ValueError(f"config section [{sec}] is unknown; accepted: "
                             f"{', '.join('[' + s + ']' for s in out)}")
        if not isinstance(vals, dict):
            raise ValueError(f"config section [{sec}] must be a table, got {vals!r}")
        if sec in ("train", "export"):
            bad = sorted(set(vals) - set(out[sec]))
            if bad:
                raise ValueError(f"config [{sec}] has unknown keys {bad}; accepted: "
                                 f"{', '.join(sorted(out[sec]))}")
        if sec == "data" and "folders" in vals and "images" in vals:
            raise ValueError("config [data]: give folders or images, not both")
        out[sec].update(copy.deepcopy(vals))
    if out["train"]["optimizer"] != "adamw":
        raise ValueError(f"config [train] optimizer={out['train']['optimizer']!r} is not supported; "
                         "accepted: 'adamw'")
    if out["train"]["loss"] not in ("l1", "l2", "charbonnier"):
        raise ValueError(f"config [train] loss={out['train']['loss']!r}; accepted: 'l1', 'l2', 'charbonnier'")
    return out


def load_config(path: str | os.PathLike) -> dict:
    """Read a TOML config and merge it over the defaults (records its own path)."""
    p = Path(path)
    if not p.is_file():
        raise OSError(f"config file {str(p)!r} does not exist")
    try:
        with open(p, "rb") as f:
            raw = tomllib.load(f)
    except tomllib.TOMLDecodeError as exc:
        raise ValueError(f"config file {str(p)!r} is not valid TOML: {exc}") from exc
    cfg = merge_defaults(raw)
    base = p.resolve().parent

    def rel(v):
        return str((base / v).resolve()) if isinstance(v, str) and v and not os.path.isabs(v) else v

    for key in ("folders", "images"):
        if isinstance(cfg["data"].get(key), (list, tuple)):
            cfg["data"][key] = [rel(v) for v in cfg["data"][key]]
    if cfg["export"]["path"]:
        cfg["export"]["path"] = rel(cfg["export"]["path"])
    cfg["_path"] = str(p)
    return cfg
