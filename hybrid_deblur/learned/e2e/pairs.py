"""Training pairs for the zoo, synthesised on the training device (GPU-fast, deterministic).

The same physics as :class:`hybrid_deblur.learned.data.PairSampler` (the hybrid models'
data): kernels from :func:`hybrid_deblur.learned.data.sample_kernel` (camera shake,
defocus, Gaussian, linear motion, shake ⊛ defocus; 3-41 px), the ``valid`` blur of
:func:`hybrid_deblur.physics.degrade` (run on torch tensors, on the GPU when training
there, in float32) and Gaussian σ ∈ [0, 0.03] with an optional Poisson component.
Two things differ, for speed: the kernels are drawn once into a pool at start
(``pool`` kernels, generated in parallel, each a pure function of ``(seed, i)``; every
use applies one of the 8 flips/rotations of the square kernel), and the sharp images
live on the training device, where crops, flips, brightness jitter, blur and noise are
applied batch-wise. Every batch is a pure function of ``(seed, rank, step)``.

Examples
--------
>>> from hybrid_deblur.learned.data import synthetic_images
>>> from hybrid_deblur.learned.e2e.pairs import DevicePairs
>>> p = DevicePairs(images=synthetic_images(4, 80, channels=3), patch=32, pool=8, max_kernel=15)
>>> b = p.batch(step=0, batch_size=2)
>>> tuple(b["y"].shape), tuple(b["x"].shape)
((2, 3, 32, 32), (2, 3, 32, 32))
"""

from __future__ import annotations

import os
from concurrent.futures import ThreadPoolExecutor
from typing import Any, Sequence

import numpy as np
import torch
from torch.nn import functional as F

from ...physics.degrade import crop_valid, degrade
from ..data import PairSampler, sample_kernel

__all__ = ["DevicePairs", "kernel_pool"]


def _one_kernel(args) -> np.ndarray:
    seed, i, kopts = args
    return sample_kernel(np.random.default_rng([int(seed), 7_919, int(i)]), **kopts)[0].astype(np.float32)


def kernel_pool(n: int, *, seed: int = 0, workers: int = 1, **kopts: Any) -> list[np.ndarray]:
    """``n`` kernels of :func:`~hybrid_deblur.learned.data.sample_kernel`; kernel ``i`` depends
    only on ``(seed, i)`` (so the pool is the same for any number of ``workers`` processes)."""
    if int(n) < 1:
        raise ValueError(f"pool must hold at least 1 kernel, got {n!r}")
    jobs = [(seed, i, kopts) for i in range(int(n))]
    if workers > 1:
        import multiprocessing as mp

        with mp.get_context("spawn").Pool(int(workers)) as pool:
            return pool.map(_one_kernel, jobs, chunksize=16)
    return [_one_kernel(j) for j in jobs]


class DevicePairs:
    """Deterministic (blurred, sharp) batches made on ``device``.

    Parameters
    ----------
    folders, images : as :class:`~hybrid_deblur.learned.data.PairSampler`
        Sharp training images (files of the folders are held out every ``val_every``-th
        for validation).
    channels : {1, 3}
    patch : int
        Side of the blurred crop ``y`` (and of the aligned sharp crop ``x``).
    pool : int
        Kernels drawn at start.
    min_kernel, max_kernel, common_kernel, p_large, kernel_kinds :
        Kernel distribution (as ``PairSampler``).
    sigma, p_poisson, photons :
        Noise model (as ``PairSampler``).
    brightness : float
        Multiplicative jitter ``U(1 - 2b, 1 + b)`` of the sharp crop (clipped to [0, 1]).
    device : str or torch.device
    workers : int
        Processes generating the kernel pool (1 in tests; e.g. 8 on a 16-core GPU host).
    seed : int
    kernels : list of arrays, optional
        A ready kernel pool (e.g. :func:`kernel_pool` computed once for several runs).
    """

    def __init__(self, folders: Sequence[str | os.PathLike] | None = None, *, images: list | None = None,
                 channels: int = 3, patch: int = 128, pool: int = 1024, min_kernel: int = 3,
                 max_kernel: int = 41, common_kernel: int = 25, p_large: float = 0.15,
                 kernel_kinds: dict | None = None, sigma: Sequence[float] = (0.0, 0.03),
                 p_poisson: float = 0.2, photons: Sequence[float] = (100.0, 3000.0),
                 brightness: float = 0.1, val_every: int = 33, device: Any = "cpu", workers: int = 1,
                 seed: int = 0, kernels: list | None = None):
        self.base = PairSampler(folders, images=images, channels=channels, patch=patch,
                                min_kernel=min_kernel, max_kernel=max_kernel, common_kernel=common_kernel,
                                p_large=p_large, kernel_kinds=kernel_kinds, sigma=sigma,
                                p_poisson=p_poisson, photons=photons, val_every=val_every, seed=seed)
        self.channels, self.patch, self.seed = int(channels), int(patch), int(seed)
        self.sigma, self.p_poisson = self.base.sigma, self.base.p_poisson
        self.photons = self.base.photons
        self.brightness = float(brightness)
        self.return_scene = False  # tests: also return the sharp scene the blur was applied to
        self.device = torch.device(device)
        with ThreadPoolExecutor(max(1, int(workers))) as ex:
            imgs = list(ex.map(self.base.image, range(len(self.base.names))))
        # on a GPU the sharp images are stored as float16 (half the memory; crops are cast to float32)
        store = torch.float16 if self.device.type == "cuda" else torch.float32
        self.images = [torch.from_numpy(a).to(self.device, dtype=store) for a in imgs]
        if kernels is None:
            kernels = kernel_pool(pool, seed=seed, workers=workers, **self.base.kopts)
        self.kernels = [torch.as_tensor(np.asarray(k, dtype=np.float32)) for k in kernels]

    @property
    def val_ids(self) -> list[int]:
        return self.base.val_ids

    def _crop(self, img: torch.Tensor, size: int, i0: float, j0: float) -> torch.Tensor:
        c, h, w = img.shape
        if h < size or w < size:
            img = F.pad(img[None], (0, max(0, size - w), 0, max(0, size - h)), mode="reflect")[0]
            c, h, w = img.shape
        i, j = int(i0 * (h - size + 1)), int(j0 * (w - size + 1))
        return img[:, i:i + size, j:j + size]

    def _make(self, rng: np.random.Generator, ids: list[int], n: int, augment: bool,
              sigmas: Sequence[float] | None = None) -> dict:
        kid = rng.integers(0, len(self.kernels), n)
        kt = rng.integers(0, 8, n) if augment else np.zeros(n, dtype=int)
        ks = []
        for a, t in zip(kid, kt):
            k = torch.rot90(self.kernels[int(a)], int(t) % 4, (0, 1))
            ks.append(k.flip(1) if t >= 4 else k)
        kb = max(int(k.shape[-1]) for k in ks)
        psf = torch.stack([F.pad(k, ((kb - k.shape[-1]) // 2,) * 4) for k in ks])[:, None]
        size = self.patch + kb - 1
        scenes = []
        for j in range(n):
            img = self.images[ids[int(rng.integers(0, len(ids)))]]
            i0, j0 = rng.random(2)
            a = self._crop(img, size, i0, j0)
            if augment:
                r, fl = int(rng.integers(0, 4)), rng.random() < 0.5
                a = torch.rot90(a, r, (1, 2))
                a = a.flip(2) if fl else a
            scenes.append(a)
        scene = torch.stack(scenes).float()
        if augment and self.brightness > 0:
            v = rng.uniform(1 - 2 * self.brightness, 1 + self.brightness, n)
            scene = (scene * torch.as_tensor(v, dtype=scene.dtype, device=scene.device)[:, None, None, None]).clamp(0, 1)
        y, _ = degrade(scene, psf.to(scene.device), boundary="valid", noise=None)
        s = rng.uniform(*self.sigma, n) if sigmas is None else np.asarray(sigmas, dtype=np.float64)
        pois = (rng.random(n) < self.p_poisson) if self.p_poisson > 0 else np.zeros(n, bool)
        peak = np.exp(rng.uniform(np.log(self.photons[0]), np.log(self.photons[1]), n))
        g = torch.Generator(device=scene.device)
        g.manual_seed(int(rng.integers(0, 2 ** 62)))
        eff2 = s ** 2
        if pois.any():  # Poisson (photon) noise first, then Gaussian read noise: physics.noise order
            pk = torch.as_tensor(np.where(pois, peak, 1.0), dtype=y.dtype, device=y.device)[:, None, None, None]
            yp = torch.poisson(y.clamp_min(0) * pk, generator=g) / pk
            m = torch.as_tensor(pois, device=y.device)[:, None, None, None]
            y = torch.where(m, yp, y)
            eff2 = eff2 + np.where(pois, y.detach().clamp_min(0).flatten(1).mean(1).cpu().numpy() / peak, 0.0)
        st = torch.as_tensor(s, dtype=y.dtype, device=y.device)[:, None, None, None]
        y = y + st * torch.randn(y.shape, generator=g, device=y.device, dtype=y.dtype)
        out = {"y": y.contiguous(), "x": crop_valid(scene, kb).contiguous(), "psf": psf.to(y.device),
               "sigma": torch.as_tensor(np.sqrt(eff2), dtype=torch.float32, device=y.device)}
        if self.return_scene:
            out["scene"] = scene
        return out

    def batch(self, step: int, batch_size: int, rank: int = 0) -> dict:
        """The training batch of ``step`` (dict of tensors on the device: y, x, psf, sigma)."""
        rng = np.random.default_rng([self.seed, int(rank), int(step)])
        return self._make(rng, self.base.train_ids, int(batch_size), augment=True)

    def validation(self, n: int = 16, *, sigmas: Sequence[float] = (0.005, 0.01, 0.02, 0.03)) -> list[dict]:
        """Fixed held-out crops (no augmentation), in batches of 4."""
        ids = self.base.val_ids or self.base.train_ids
        rng = np.random.default_rng([self.seed, 999_983])
        out = []
        for b in range(0, n, 4):
            m = min(4, n - b)
            out.append(self._make(rng, ids, m, False, [sigmas[(b + j) % len(sigmas)] for j in range(m)]))
        return out
