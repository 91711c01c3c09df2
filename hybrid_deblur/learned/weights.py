"""Weight files: sha256-checked save/load, model cards and the shipped weights.

A weight file is a ``torch.save`` of ``{"format": 1, "model": name, "config": {...},
"state_dict": {...}}`` holding only tensors and plain Python values, so it loads
with ``torch.load(weights_only=True)``. Next to it, ``<stem>.json`` is its model
card (data, kernels, noise range, steps, hardware, validation PSNR) and holds
the file's sha256; loading recomputes the hash and refuses a file that does not
match. Nothing is ever downloaded: the shipped weights live in
``hybrid_deblur/learned/weights/``.

Examples
--------
>>> import tempfile, os
>>> from hybrid_deblur.learned import build_model
>>> from hybrid_deblur.learned.weights import save_weights, load_model
>>> net = build_model("unrolled-rl", stages=2)
>>> path = os.path.join(tempfile.mkdtemp(), "rl.pt")
>>> card = save_weights(net, path, card={"note": "untrained"})
>>> len(card["sha256"])
64
>>> type(load_model(path)).__name__
'UnrolledRL'
"""

from __future__ import annotations

import hashlib
import json
import os
import tempfile
from pathlib import Path
from typing import Any

import torch

__all__ = ["WeightsError", "sha256_file", "save_weights", "load_weights", "load_model",
           "shipped_weights", "shipped_path", "WEIGHTS_DIR", "read_card", "CheckpointError",
           "config_hash", "save_checkpoint", "load_checkpoint"]

WEIGHTS_DIR = Path(__file__).resolve().parent / "weights"


class WeightsError(ValueError):
    """A weight file is missing, unreadable, tampered with (sha256 mismatch) or of a wrong kind."""


def sha256_file(path: str | os.PathLike) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()


def _atomic_bytes(path: Path, writer) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "wb") as f:
            writer(f)
            f.flush()
            os.fsync(f.fileno())
        os.chmod(tmp, 0o644)
        os.replace(tmp, path)
    except BaseException:
        if os.path.exists(tmp):
            os.unlink(tmp)
        raise


class CheckpointError(ValueError):
    """A training checkpoint is missing, damaged (checksum) or belongs to another configuration."""


_CKPT_MAGIC = b"HDCKPT1\n"


def config_hash(cfg: Any) -> str:
    """sha256 (16 hex digits) of a JSON-able configuration (key order does not matter)."""
    text = json.dumps(cfg, sort_keys=True, default=str, separators=(",", ":"))
    return hashlib.sha256(text.encode()).hexdigest()[:16]


def save_checkpoint(path: str | os.PathLike, state: dict, *, cfg_hash: str = "") -> str:
    """Write a training checkpoint atomically with its checksum and config hash.

    The file is ``HDCKPT1\n`` + a JSON header line (``sha256`` of the payload,
    ``config`` hash, payload size) + the ``torch.save`` payload; a reader verifies
    the checksum before unpickling anything (:func:`load_checkpoint`). Returns the
    payload's sha256.

    Examples
    --------
    >>> import tempfile, os, torch
    >>> p = os.path.join(tempfile.mkdtemp(), "ck.pt")
    >>> _ = save_checkpoint(p, {"step": 3, "w": torch.ones(2)}, cfg_hash="abc")
    >>> load_checkpoint(p, cfg_hash="abc")["step"]
    3
    >>> load_checkpoint(p, cfg_hash="xyz")
    Traceback (most recent call last):
    ...
    hybrid_deblur.learned.weights.CheckpointError: checkpoint '...ck.pt' was written by another configuration (config hash abc, this run xyz); use a new output folder or the same configuration
    """
    import io

    buf = io.BytesIO()
    torch.save(state, buf)
    payload = buf.getvalue()
    digest = hashlib.sha256(payload).hexdigest()
    head = json.dumps({"sha256": digest, "config": cfg_hash, "bytes": len(payload)}).encode() + b"\n"
    _atomic_bytes(Path(path), lambda f: (f.write(_CKPT_MAGIC), f.write(head), f.write(payload)))
    return digest


def load_checkpoint(path: str | os.PathLike, *, cfg_hash: str | None = None,
                    map_location: Any = "cpu") -> dict:
    """Read a checkpoint of :func:`save_checkpoint`, refusing a damaged or foreign one.

    Raises
    ------
    CheckpointError
        Missing file, not a checkpoint, truncated, checksum mismatch (a flipped byte),
        or a config hash other than ``cfg_hash`` (when given). The message names the file.
    """
    import io

    p = Path(path)
    if not p.is_file():
        raise CheckpointError(f"cannot resume: checkpoint {str(p)!r} does not exist")
    raw = p.read_bytes()
    if not raw.startswith(_CKPT_MAGIC):
        raise CheckpointError(f"checkpoint {str(p)!r} is not a hybrid_deblur checkpoint (no "
                              "checksum header); it may be damaged or from an older version")
    end = raw.find(b"\n", len(_CKPT_MAGIC))
    try:
        head = json.loads(raw[len(_CKPT_MAGIC):end])
        want, size = str(head["sha256"]), int(head["bytes"])
    except (ValueError, KeyError, TypeError) as exc:
        raise CheckpointError(f"checkpoint {str(p)!r} has a damaged header: {exc}") from exc
    payload = raw[end + 1:]
    if len(payload) != size:
        raise CheckpointError(f"checkpoint {str(p)!r} is truncated or padded ({len(payload)} bytes, "
                              f"expected {size})")
    got = hashlib.sha256(payload).hexdigest()
    if got != want:
        raise CheckpointError(f"checkpoint {str(p)!r} failed its checksum (expected {want[:16]}..., "
                              f"got {got[:16]}...): the file is damaged; refusing to resume from it")
    if cfg_hash is not None and head.get("config") != cfg_hash:
        raise CheckpointError(f"checkpoint {str(p)!r} was written by another configuration (config "
                              f"hash {head.get('config')}, this run {cfg_hash}); use a new output "
                              "folder or the same configuration")
    try:
        return torch.load(io.BytesIO(payload), map_location=map_location, weights_only=True)
    except Exception as exc:
        raise CheckpointError(f"checkpoint {str(p)!r} is unreadable: {type(exc).__name__}: "
                              f"{str(exc).splitlines()[0] if str(exc) else ''}") from exc


def card_path(path: str | os.PathLike) -> Path:
    return Path(path).with_suffix(".json")


def read_card(path: str | os.PathLike) -> dict:
    """The model card (JSON) next to the weight file ``path``; ``{}`` when there is none."""
    cp = card_path(path)
    if not cp.exists():
        return {}
    try:
        return json.loads(cp.read_text())
    except (OSError, json.JSONDecodeError) as exc:
        raise WeightsError(f"model card {str(cp)!r} is unreadable: {exc}") from exc


def save_weights(model: torch.nn.Module, path: str | os.PathLike, *, card: dict | None = None,
                 dtype: torch.dtype | None = None, state_dict: dict | None = None) -> dict:
    """Write ``model``'s weights (atomic) and its model card; return the card (with sha256).

    ``dtype=torch.float16`` halves the file; the weights are cast back on load.
    ``state_dict`` overrides the model's own (e.g. EMA weights).
    """
    path = Path(path)
    sd = state_dict if state_dict is not None else model.state_dict()
    sd = {k: (v.detach().cpu().to(dtype) if dtype is not None and v.is_floating_point() else
              v.detach().cpu().clone()) for k, v in sd.items()}
    blob = {"format": 1, "model": getattr(model, "name", type(model).__name__),
            "config": dict(getattr(model, "config", {})), "state_dict": sd}
    _atomic_bytes(path, lambda f: torch.save(blob, f))
    out = dict(card or {})
    out.update(model=blob["model"], config=blob["config"], file=path.name,
               sha256=sha256_file(path), bytes=path.stat().st_size,
               parameters=int(sum(v.numel() for v in sd.values())))
    text = json.dumps(out, indent=2, sort_keys=False, default=str)
    _atomic_bytes(card_path(path), lambda f: f.write(text.encode()))
    return out


def load_weights(path: str | os.PathLike, *, sha256: str | None = None, verify: bool = True) -> dict:
    """Read a weight file after checking its sha256 (from ``sha256=`` or its model card).

    Raises
    ------
    WeightsError
        Missing file, no sha256 to check against (``verify=True``), hash mismatch,
        or a file that ``torch.load(weights_only=True)`` cannot read.
    """
    path = Path(path)
    if not path.is_file():
        raise WeightsError(f"weight file {str(path)!r} does not exist")
    if verify:
        want = sha256 or read_card(path).get("sha256")
        if not want:
            raise WeightsError(f"weight file {str(path)!r} has no sha256 to verify against "
                               f"(no model card {card_path(path).name!r}); pass sha256= or verify=False")
        got = sha256_file(path)
        if got != want:
            raise WeightsError(f"weight file {str(path)!r} failed its sha256 check (expected "
                               f"{want[:16]}..., got {got[:16]}...): the file is corrupted or was modified")
    try:
        blob = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as exc:  # pickle errors, truncated zip, ...
        raise WeightsError(f"weight file {str(path)!r} is not a readable checkpoint: "
                           f"{type(exc).__name__}: {str(exc).splitlines()[0] if str(exc) else ''}") from exc
    if not isinstance(blob, dict) or "state_dict" not in blob or "model" not in blob:
        raise WeightsError(f"weight file {str(path)!r} is not a hybrid_deblur weight file "
                           "(expected keys 'model', 'config', 'state_dict')")
    return blob


def load_model(path: str | os.PathLike, *, sha256: str | None = None, verify: bool = True,
               dtype: torch.dtype = torch.float32, device: Any = "cpu") -> torch.nn.Module:
    """Build the model recorded in a weight file and load its weights (eval mode)."""
    from .models import build_model

    blob = load_weights(path, sha256=sha256, verify=verify)
    model = build_model(blob["model"], **blob.get("config", {}))
    sd = {k: v.to(dtype) if v.is_floating_point() else v for k, v in blob["state_dict"].items()}
    try:
        model.load_state_dict(sd)
    except RuntimeError as exc:
        raise WeightsError(f"weight file {str(path)!r} does not match model {blob['model']!r}: "
                           f"{str(exc).splitlines()[0]}") from exc
    return model.to(device=device, dtype=dtype).eval()


def shipped_weights() -> dict[str, Path]:
    """Shipped weight files by stem (e.g. ``"unrolled_hqs_gray"``)."""
    if not WEIGHTS_DIR.is_dir():
        return {}
    return {p.stem: p for p in sorted(WEIGHTS_DIR.glob("*.pt"))}


def shipped_path(name: str) -> Path:
    """Path of the shipped weight file ``name``; ``WeightsError`` listing what is shipped."""
    have = shipped_weights()
    if name not in have:
        raise WeightsError(f"no shipped weights named {name!r}; shipped: "
                           f"{', '.join(sorted(have)) or 'none'}")
    return have[name]
