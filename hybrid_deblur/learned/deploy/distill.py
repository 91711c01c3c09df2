"""Knowledge distillation: a small student learns from a trained teacher.

The student minimises, on the same on-the-fly physics pairs as every learned model
(:class:`hybrid_deblur.learned.data.PairSampler`),

.. math:: L = \\|s(y) - x\\|_1 + w_o \\|s(y) - t(y)\\|_1
          + w_f \\sum_k \\|f^s_k(y) - f^t_k(y)\\|_1,

the supervised L1 loss plus an **output** loss towards the teacher's restoration and a
**feature** loss between intermediate results: :math:`f_k` are the outputs of a named
sub-network at each of its calls (for the unrolled networks, the learned prior's
residual at every stage, which have the same shape in teacher and student whatever
their widths). With ``output_weight = feature_weight = 0`` the same function trains the
student alone, so the two runs differ only in the teacher's terms (same data, same
steps, same seed, same optimiser).

Examples
--------
>>> import torch
>>> from hybrid_deblur.learned.models import build_model
>>> from hybrid_deblur.learned.data import PairSampler, synthetic_images
>>> from hybrid_deblur.learned.deploy.distill import distill
>>> s = PairSampler(images=synthetic_images(4, 64), patch=24, max_kernel=7, common_kernel=7, seed=0)
>>> t = build_model("unrolled-hqs", stages=2, widths=(8, 16))
>>> st = build_model("unrolled-hqs", stages=2, widths=(4, 8))
>>> hist = distill(st, s, steps=2, batch_size=2, teacher=t)
>>> sorted(hist[0])
['feature', 'l1', 'output', 'step', 'total']
"""

from __future__ import annotations

import contextlib
import math
import time
from collections.abc import Callable
from typing import Any

import torch
from torch import nn
from torch.nn import functional as F

__all__ = ["capture_features", "distill", "distill_loss", "evaluate_psnr"]


@contextlib.contextmanager
def capture_features(model: nn.Module, module_name: str | None):
    """Collect the outputs of ``model.<module_name>`` at each call inside the block."""
    feats: list[torch.Tensor] = []
    if not module_name:
        yield feats
        return
    mods = dict(model.named_modules())
    if module_name not in mods:
        raise ValueError(f"feature module {module_name!r} is not in {type(model).__name__}; "
                         f"top-level modules: {', '.join(n for n, _ in model.named_children())}")
    h = mods[module_name].register_forward_hook(lambda m, a, out: feats.append(out))
    try:
        yield feats
    finally:
        h.remove()


def distill_loss(student_out: torch.Tensor, target: torch.Tensor, teacher_out: torch.Tensor | None,
                 s_feats: list, t_feats: list, *, output_weight: float, feature_weight: float) -> dict:
    """The three terms of the distillation loss (see the module notes) and their sum."""
    l1 = F.l1_loss(student_out, target)
    out = student_out.new_zeros(())
    feat = student_out.new_zeros(())
    if teacher_out is not None and output_weight:
        out = F.l1_loss(student_out, teacher_out)
    if feature_weight and t_feats:
        pairs = list(zip(s_feats, t_feats))
        feat = sum(F.l1_loss(a, b) for a, b in pairs) / max(len(pairs), 1)
    return {"l1": l1, "output": out, "feature": feat,
            "total": l1 + output_weight * out + feature_weight * feat}


def _psnr(a: torch.Tensor, b: torch.Tensor) -> float:
    mse = float(((a.clamp(0, 1) - b) ** 2).mean())
    return 10 * math.log10(1.0 / max(mse, 1e-12))


def evaluate_psnr(model: nn.Module, batches: list[dict], device: Any = "cpu") -> float:
    """Mean PSNR (dB, clipped to [0, 1]) of ``model`` on validation batches of a PairSampler."""
    model.eval()
    vals = []
    with torch.no_grad():
        for b in batches:
            out = model(b["y"].to(device), b["psf"].to(device), b["sigma"].to(device))
            for o, x in zip(out.cpu(), b["x"]):
                vals.append(_psnr(o, x))
    return float(sum(vals) / len(vals))


def distill(student: nn.Module, sampler: Any, *, steps: int, batch_size: int = 8,
            teacher: nn.Module | None = None, output_weight: float = 1.0,
            feature_weight: float = 0.5, feature_module: str | None = "prior", lr: float = 1e-3,
            seed: int = 0, device: Any = "cpu", log_every: int = 0,
            callback: Callable[[dict], None] | None = None,
            max_seconds: float | None = None) -> list[dict]:
    """Train ``student`` (in place) with the distillation loss; return the loss history.

    Parameters
    ----------
    student : torch.nn.Module
        Called as ``student(y, psf, sigma)`` (a hybrid model) or ``student(y)`` if it takes
        one input (an end-to-end model).
    sampler : PairSampler
        Source of training batches (``sampler.batch(step, batch_size)``).
    steps, batch_size : int
    teacher : torch.nn.Module, optional
        Frozen teacher; ``None`` trains the student alone (plain L1).
    output_weight, feature_weight : float
        Weights of the output and feature terms (ignored without a teacher).
    feature_module : str or None
        Name of the sub-network whose outputs are matched (``"prior"`` for ``UnrolledHQS``,
        ``"refine"`` for ``DeepWiener``); ``None`` disables the feature term.
    lr : float
        AdamW learning rate (cosine decay to 5 % over ``steps``).
    seed : int
        Seeds torch (initial weights are the caller's; this fixes dropout-free training).
    device : str or torch.device
    log_every : int
        Keep every ``log_every``-th step in the history (0: every step).
    callback : callable, optional
        Called with each kept history entry.
    max_seconds : float, optional
        Wall-clock budget: training stops after the step that exceeds it (the last
        history entry's ``step`` says where).

    Returns
    -------
    list of dict
        ``{"step", "total", "l1", "output", "feature"}`` per kept step.
    """
    if int(steps) < 1:
        raise ValueError(f"steps must be a positive int, got {steps!r}")
    if teacher is None:
        output_weight = feature_weight = 0.0
    torch.manual_seed(int(seed))
    dev = torch.device(device)
    student.to(dev).train()
    if teacher is not None:
        teacher.to(dev).eval()
        for p in teacher.parameters():
            p.requires_grad_(False)
    opt = torch.optim.AdamW([p for p in student.parameters() if p.requires_grad], lr=lr,
                            weight_decay=0.0)
    sched = torch.optim.lr_scheduler.LambdaLR(
        opt, lambda s: 0.05 + 0.95 * 0.5 * (1 + math.cos(math.pi * min(s, steps) / steps)))
    hybrid = _takes_kernel(student)
    fm = feature_module if (teacher is not None and feature_weight) else None
    hist = []
    t0 = time.perf_counter()
    for step in range(int(steps)):
        b = {k: v.to(dev) for k, v in sampler.batch(step, batch_size).items()}
        args = (b["y"], b["psf"], b["sigma"]) if hybrid else (b["y"],)
        t_out, t_feats = None, []
        if teacher is not None:
            with torch.no_grad(), capture_features(teacher, fm) as tf:
                t_out = teacher(*args)
            t_feats = [t.detach() for t in tf]
        with capture_features(student, fm) as sf:
            s_out = student(*args)
        loss = distill_loss(s_out, b["x"], t_out, sf, t_feats, output_weight=output_weight,
                            feature_weight=feature_weight)
        opt.zero_grad(set_to_none=True)
        loss["total"].backward()
        torch.nn.utils.clip_grad_norm_(student.parameters(), 1.0)
        opt.step()
        sched.step()
        over = max_seconds is not None and time.perf_counter() - t0 > max_seconds
        if not log_every or step % log_every == 0 or step == steps - 1 or over:
            rec = {"step": step, **{k: float(v.detach()) for k, v in loss.items()}}
            hist.append(rec)
            if callback is not None:
                callback(rec)
        if over:
            break
    student.eval()
    return hist


def _takes_kernel(model: nn.Module) -> bool:
    import inspect

    try:
        params = [p for p in inspect.signature(model.forward).parameters.values()
                  if p.kind in (p.POSITIONAL_ONLY, p.POSITIONAL_OR_KEYWORD)]
    except (TypeError, ValueError):  # pragma: no cover
        return True
    return len(params) >= 2
