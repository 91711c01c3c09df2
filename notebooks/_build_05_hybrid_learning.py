"""Generate ``05_hybrid_learning.ipynb`` (run: ``python notebooks/_build_05_hybrid_learning.py``).

The notebook is written without outputs; ``tests/test_notebooks.py`` executes it.
"""

from __future__ import annotations

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _nbtools import Cells, build

CELLS = Cells()
md, code, solution = CELLS.md, CELLS.code, CELLS.solution

md(r"""
# Hybrid learning: classical iterations with learned parts

Three families of methods restore a blurred photo:

* **classical** — a solver with a hand-made prior (Wiener, HQS with total variation);
* **hybrid** — the classical iteration *unrolled* for a few stages, with learned parts (a
  denoiser as the prior step, learned per-stage weights); the kernel enters through the physics;
* **end-to-end** — a network that maps blurred to sharp and never sees the kernel.

End-to-end models run only when their weights are shipped (none are in this build: the loop
says so). In this notebook (about a minute on a laptop CPU) you will compare them on one image, train a
tiny unrolled network for 20 seconds and watch its loss fall, and look at the per-stage weights
the shipped network learned.
""")

code(r"""
%matplotlib inline
import os
os.environ.setdefault("OMP_NUM_THREADS", "1")
import time

import numpy as np
import matplotlib.pyplot as plt
import torch

from hybrid_deblur import io, metrics, psf as P
from hybrid_deblur.analysis.registry import available_methods, method_kind
from hybrid_deblur.physics import crop_valid, degrade
from hybrid_deblur.pipeline import Deblurrer

torch.set_num_threads(1)
plt.rcParams["figure.dpi"] = 72

x = io.sample_image("camera")[::2, ::2][64:192, 64:192].copy()   # 128 x 128, linear light
k = P.combine(P.linear_motion(9, 30), P.disk(1.5))
y, _ = degrade(x, k, boundary="valid", noise=0.01, seed=0)
ref = crop_valid(x, k.shape)
methods = available_methods()
print({m: method_kind(m) for m in methods})
""")

md(r"""
## 1. Classical vs hybrid vs end-to-end on the same image

We restore the same blurred photo with one method of each kind that is available here. The
end-to-end models only run when their weights are shipped; the loop says so otherwise.
""")

code(r"""
candidates = ["wiener", "hqs-tv", "unrolled-hqs", "pnp-drunet"] + [m for m in methods if m.startswith("e2e")]
results, missing = {}, []
for name in candidates:
    if name not in methods:
        print(f"{name}: not available here")
        continue
    t = time.perf_counter()
    try:
        xr = np.asarray(Deblurrer(name).restore(y, None if method_kind(name) == "end-to-end" else k,
                                                sigma=0.01))
    except Exception as exc:                      # e.g. weights not shipped
        missing.append(f"{name} ({type(exc).__name__})")
        continue
    results[name] = (xr, time.perf_counter() - t)
    if method_kind(name) == "end-to-end":
        break                                       # one end-to-end model is enough

print("not run here (no shipped weights):", ", ".join(missing) or "none")
fig, ax = plt.subplots(1, len(results) + 1, figsize=(2.7 * (len(results) + 1), 3.1))
ax[0].imshow(np.clip(io.linear_to_srgb(y), 0, 1), cmap="gray")
ax[0].set_title(f"blurred\n{metrics.psnr(y, ref):.1f} dB", fontsize=9)
for a, (name, (xr, sec)) in zip(ax[1:], results.items()):
    a.imshow(np.clip(io.linear_to_srgb(xr), 0, 1), cmap="gray")
    a.set_title(f"{name} ({method_kind(name)})\n{metrics.psnr(xr, ref):.1f} dB, {sec:.1f} s", fontsize=9)
for a in ax:
    a.axis("off")
plt.tight_layout()
plt.show()
""")

md(r"""
## 2. Train a tiny unrolled network (20 seconds)

`UnrolledHQS` is the classical HQS iteration: an exact data step with the physics
($x_k = \arg\min_x \|k*x-y\|^2 + \alpha_k\|x-z_{k-1}\|^2$) and a prior step
$z_k = x_k + R_\theta(x_k, \beta_k)$ where $R_\theta$ is a small network. Untrained, $R_\theta = 0$
and the network *is* "Wiener + K data steps"; training only has to improve on it.

We train a tiny one (2 stages, widths 8/16) on a small fixed set of patches blurred by random
kernels, made by the trainer's own `PairSampler`, with Adam and an L1 loss, for 20 seconds. The
loss is shown relative to the untrained network's loss on the same batch (1 = no better than
classical), so the batch-to-batch variation of the kernels does not hide the trend. The
held-out batch tells whether it generalises: with 32 training patches and 20 s, the training
loss falls below the classical one while the held-out PSNR barely moves or even drops —
overfitting, the reason the shipped networks train for hours on thousands of patches
(`hybrid-deblur train`).
""")

code(r"""
from hybrid_deblur.learned.data import PairSampler, synthetic_images
from hybrid_deblur.learned.models import UnrolledHQS

torch.manual_seed(0)
train_images = [io.sample_image(n, gray=True)[::2, ::2].astype(np.float32) for n in ("coins", "moon", "page")]
sampler = PairSampler(images=train_images, patch=32, max_kernel=13, common_kernel=13,
                      sigma=(0.005, 0.02), p_poisson=0.0, seed=0)
net = UnrolledHQS(stages=2, widths=(8, 16), blocks=1)
opt = torch.optim.Adam(net.parameters(), lr=2e-3)
val = sampler.batch(10_000, 8)                    # a fixed held-out batch

def val_psnr():
    with torch.no_grad():
        out = net(val["y"], val["psf"], val["sigma"])
    return float(metrics.psnr(out.numpy(), val["x"].numpy()))

train_set = [sampler.batch(i, 4) for i in range(8)]   # a small fixed training set (8 batches)
with torch.no_grad():                                   # the untrained network's loss per batch
    base = [float((net(b["y"], b["psf"], b["sigma"]) - b["x"]).abs().mean()) for b in train_set]

start_psnr, ratios, checks = val_psnr(), [], []
t0, step = time.perf_counter(), 0
while time.perf_counter() - t0 < 20:
    i = step % len(train_set)
    b = train_set[i]
    loss = (net(b["y"], b["psf"], b["sigma"]) - b["x"]).abs().mean()
    opt.zero_grad(); loss.backward(); opt.step()
    ratios.append(loss.item() / base[i]); step += 1
    if step % 8 == 0:
        checks.append((step, val_psnr()))
print(f"{step} steps in {time.perf_counter() - t0:.0f} s; held-out PSNR {start_psnr:.2f} dB (untrained"
      f" = Wiener + data steps) -> {val_psnr():.2f} dB")

fig, ax = plt.subplots(1, 2, figsize=(10, 3.3))
smooth = np.convolve(ratios, np.ones(8) / 8, mode="valid")
ax[0].plot(ratios, alpha=0.3, label="batch")
ax[0].plot(np.arange(len(smooth)) + 4, smooth, label="mean over the 8 batches")
ax[0].axhline(1.0, color="gray", lw=0.8)
ax[0].set_xlabel("step"); ax[0].set_ylabel("L1 loss / untrained loss"); ax[0].legend(fontsize=8)
if checks:
    s_, p_ = zip(*checks)
    ax[1].plot([0, *s_], [start_psnr, *p_], "o-")
ax[1].set_xlabel("step"); ax[1].set_ylabel("held-out PSNR (dB)")
ax[1].set_title("validation", fontsize=10); ax[0].set_title("training loss", fontsize=10)
plt.tight_layout()
plt.show()
""")

md(r"""
## 3. What the learned stage weights look like

Each stage has a data weight $\alpha_k$ (how strongly the step trusts the previous prior output)
and a prior strength $\beta_k$ (the noise level the denoising network is told). A small
hyper-network predicts log-corrections to both from the noise level and the kernel. Here are
the shipped network's values for three noise levels on our kernel: the schedule it learned.
""")

code(r"""
from hybrid_deblur.learned.inference import get_model

shipped = get_model("unrolled-hqs")
psf_t = torch.as_tensor(k, dtype=torch.float32)[None, None]
fig, ax = plt.subplots(1, 2, figsize=(10, 3.2))
for s in (0.005, 0.01, 0.03):
    with torch.no_grad():
        alpha, beta = shipped.schedule(torch.tensor([s]), psf_t)
    stages = np.arange(1, alpha.shape[1] + 1)
    ax[0].semilogy(stages, alpha[0].numpy(), "o-", label=f"σ={s}")
    ax[1].semilogy(stages, beta[0].numpy(), "o-", label=f"σ={s}")
ax[0].set_title("data weight α_k per stage", fontsize=10); ax[1].set_title("prior level β_k per stage", fontsize=10)
for a in ax:
    a.set_xlabel("stage"); a.legend(fontsize=8)
    a.set_xticks(stages)
    a.yaxis.set_minor_formatter(plt.NullFormatter())
plt.tight_layout()
plt.show()
print(f"shipped unrolled-hqs: {shipped.stages} stages, "
      f"{sum(p.numel() for p in shipped.parameters()):,} parameters")
""")

md(r"""
## Exercises

1. Train the tiny network with 1 stage instead of 2 (10 s). Which ends higher on the
   held-out batch?
2. Set the prior network's output to zero (untrained) and check that the network then equals the
   classical "Wiener + data steps" result: compare `UnrolledHQS(stages=2)` on `val` with its own
   `start_psnr`.

Solutions: hidden cells below.
""")

solution(r"""
# Solution 1: one stage has fewer parameters to tune but also fewer data steps (10 s here)
torch.manual_seed(0)
net1 = UnrolledHQS(stages=1, widths=(8, 16), blocks=1)
opt1 = torch.optim.Adam(net1.parameters(), lr=2e-3)
t0, st = time.perf_counter(), 0
while time.perf_counter() - t0 < 10:
    b = train_set[st % len(train_set)]
    l1 = (net1(b["y"], b["psf"], b["sigma"]) - b["x"]).abs().mean()
    opt1.zero_grad(); l1.backward(); opt1.step(); st += 1
with torch.no_grad():
    print(f"1 stage after {st} steps: {metrics.psnr(net1(val['y'], val['psf'], val['sigma']).numpy(), val['x'].numpy()):.2f} dB")
""")

solution(r"""
# Solution 2: a fresh network starts from the classical solution (zero learned corrections)
torch.manual_seed(0)
fresh = UnrolledHQS(stages=2, widths=(8, 16), blocks=1)
with torch.no_grad():
    for p in fresh.prior.parameters():
        p.zero_()
    out = fresh(val["y"], val["psf"], val["sigma"])
print(f"zero prior network: {metrics.psnr(out.numpy(), val['x'].numpy()):.2f} dB"
      f" (the classical Wiener + data steps)")
""")


if __name__ == "__main__":
    build(CELLS, Path(__file__).resolve().parent / "05_hybrid_learning.ipynb")
