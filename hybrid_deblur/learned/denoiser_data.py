"""Data for the denoiser trainer: image crops, noise, the kernel pool and the bf16 probe.

Split from :mod:`hybrid_deblur.learned.train_denoiser` (which re-exports these names).

Examples
--------
>>> import torch
>>> from hybrid_deblur.learned.denoiser_data import add_noise
>>> x = torch.full((2, 1, 8, 8), 0.5)
>>> y, s = add_noise(x, torch.Generator().manual_seed(0))
>>> y.shape == x.shape and s.shape[0] == 2
True
"""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np
import torch
from torch.nn import functional as F

from .denoiser import SIGMA_MAX

__all__ = ["ImageBank", "KernelPool", "add_noise", "cpu_has_bf16"]


def cpu_has_bf16() -> bool:
    """True when the CPU computes bf16 natively (AVX-512 BF16 or AMX)."""
    try:
        with open("/proc/cpuinfo") as f:
            flags = f.read()
        return "avx512_bf16" in flags or "amx_bf16" in flags
    except OSError:  # pragma: no cover - non-Linux
        return "AMX" in torch.backends.cpu.get_cpu_capability()


class ImageBank:
    """Training images held on the device; crops are a pure function of a generator.

    ``channels=1``: train400 (gray) + cbsd432 luminance; ``channels=3``: cbsd432 colour +
    train400 repeated to RGB (teaches neutral in, neutral out). Every ``val_every``-th file
    is held out for validation.
    """

    def __init__(self, root: str | Path, channels: int, device, *, val_every: int = 33,
                 limit: int | None = None):
        from ..io import imread
        from .data import list_images

        root = Path(root)
        files = list_images([root / "train400"]) + list_images([root / "cbsd432"])
        if limit:
            files = files[::max(1, len(files) // limit)][:limit]
        self.train, self.val = [], []

        def read(f):
            a = imread(f, linear=True, gray=channels == 1, dtype=np.float32)
            a = a[None] if a.ndim == 2 else a
            return np.repeat(a[:1], channels, axis=0) if a.shape[0] != channels else a

        from concurrent.futures import ThreadPoolExecutor

        with ThreadPoolExecutor(8) as ex:
            arrays = list(ex.map(read, files))
        for i, a in enumerate(arrays):
            t = torch.from_numpy(np.ascontiguousarray(a)).to(device=device, dtype=torch.float16)
            (self.val if val_every and i % val_every == 0 else self.train).append(t)
        if not self.train or not self.val:
            raise OSError(f"too few training images under {str(root)!r} (need train400/ and cbsd432/)")
        self.channels, self.device = channels, torch.device(device)

    def crops(self, g: torch.Generator, n: int, patch: int, *, val: bool = False) -> torch.Tensor:
        src = self.val if val else self.train
        idx = torch.randint(len(src), (n,), generator=g).tolist()
        out = []
        for i in idx:
            img = src[i]
            h, w = img.shape[-2:]
            if h < patch or w < patch:
                img = F.pad(img[None].float(), (0, max(0, patch - w), 0, max(0, patch - h)),
                            mode="reflect")[0]
                h, w = img.shape[-2:]
            y0 = int(torch.randint(h - patch + 1, (1,), generator=g))
            x0 = int(torch.randint(w - patch + 1, (1,), generator=g))
            c = img[:, y0:y0 + patch, x0:x0 + patch].float()
            if not val:
                c = torch.rot90(c, int(torch.randint(4, (1,), generator=g)), dims=(-2, -1))
                if int(torch.randint(2, (1,), generator=g)):
                    c = c.flip(-1)
            out.append(c)
        return torch.stack(out).contiguous(memory_format=torch.channels_last)


#: lower end of the log-uniform noise levels drawn for ``low_share`` (0.25/255)
LOW_SIGMA_MIN = 0.25 / 255


def add_noise(x: torch.Tensor, g: torch.Generator, *, sigma_max: float = SIGMA_MAX,
              p_poisson: float = 0.25, sigmas=None, low_share: float = 0.0):
    """Noisy ``x`` and its noise-level map: Gaussian σ ~ U[0, sigma_max] (or ``sigmas``), a
    share ``p_poisson`` Poisson–Gaussian with peak ~ logU[20, 2000] photons (Gaussian
    approximation, per-pixel std map). With ``low_share`` > 0 that share of the batch draws
    σ log-uniformly in [:data:`LOW_SIGMA_MIN`, sigma_max] instead (the low levels that end a
    plug-and-play schedule are rare under the uniform law: 5 % below 2.55/255). Draws come
    from ``g`` (a CPU generator); ``low_share = 0`` draws exactly as before."""
    b = x.shape[0]
    s = (torch.rand(b, generator=g) * sigma_max if sigmas is None else
         torch.as_tensor(sigmas, dtype=torch.float32).reshape(-1).expand(b))
    if sigmas is None and low_share > 0:
        u, pick = torch.rand(b, generator=g), torch.rand(b, generator=g) < low_share
        lo, hi = math.log(LOW_SIGMA_MIN), math.log(sigma_max)
        s = torch.where(pick, torch.exp(lo + (hi - lo) * u), s)
    pois = (torch.rand(b, generator=g) < p_poisson) if sigmas is None else torch.zeros(b, dtype=torch.bool)
    peak = torch.exp(torch.empty(b).uniform_(math.log(20), math.log(2000), generator=g))
    noise = torch.randn(x.shape, generator=g).to(x.device)
    s, pois, peak = s.to(x.device), pois.to(x.device), peak.to(x.device)
    var = s.reshape(-1, 1, 1, 1) ** 2 + pois.reshape(-1, 1, 1, 1) * x.clamp_min(0).mean(1, keepdim=True) / peak.reshape(-1, 1, 1, 1)
    std = var.sqrt()
    return x + std * noise, std


def _one_kernel(seed: int) -> np.ndarray:
    from ..psf import pad_psf
    from .data import sample_kernel

    k, _ = sample_kernel(np.random.default_rng([seed, 4242]), max_size=25, common_max=25, p_large=0.0)
    return pad_psf(k, 25) if k.shape[-1] < 25 else k


class KernelPool:
    """``n`` random training kernels (25 x 25), generated in background processes.

    Started before CUDA is initialised (the workers are forked) so that the pool is
    ready when the fine-tune begins; :meth:`get` waits for it. Kernel ``i`` depends
    only on ``(seed, i)``. ``identity_share``: the share of kernels replaced by the centred
    delta (the unblurred image; drawn per kernel from ``(seed, i)``, 0 = the pool as before).
    """

    def __init__(self, n: int, *, seed: int = 0, workers: int = 1, identity_share: float = 0.0):
        if not 0 <= float(identity_share) <= 1:
            raise ValueError(f"identity_share must be in [0, 1], got {identity_share!r}")
        self.identity_share = float(identity_share)
        self.seeds = [seed * 100_000 + i for i in range(n)]
        self.ex, self.futs, self._t = None, None, None
        if workers > 1:
            from concurrent.futures import ProcessPoolExecutor

            self.ex = ProcessPoolExecutor(workers)
            self.futs = self.ex.map(_one_kernel, self.seeds, chunksize=max(1, n // (4 * workers)))

    def get(self) -> torch.Tensor:
        if self._t is None:
            ks = list(self.futs) if self.ex is not None else [_one_kernel(s) for s in self.seeds]
            if self.ex is not None:
                self.ex.shutdown()
            if self.identity_share > 0:
                for i, s in enumerate(self.seeds):
                    if np.random.default_rng([s, 4343]).random() < self.identity_share:
                        ks[i] = np.zeros_like(ks[i])
                        ks[i][ks[i].shape[0] // 2, ks[i].shape[1] // 2] = 1.0
            self._t = torch.from_numpy(np.stack(ks).astype(np.float32))
        return self._t
