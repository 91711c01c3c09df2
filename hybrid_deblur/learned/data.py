"""On-the-fly training pairs: sharp crops → generated kernel → ``degrade(valid)`` → noise.

Every batch is a pure function of ``(seed, rank, step)``: nothing is drawn from a
global random state, so a resumed run sees exactly the batches it would have
seen (the "data iterator position" is just the step counter) and data-parallel
ranks see different data.

Kernels come from the PSF generators of :mod:`hybrid_deblur.psf`
(camera shake, defocus, Gaussian, linear motion, camera shake ⊛ defocus), with
sizes 3-41 px (most in 3-25 px). The blur is the honest ``valid`` model of
:func:`hybrid_deblur.physics.degrade`; noise is Gaussian σ ∈ [0, 0.03] with an
optional Poisson (photon) component.

Examples
--------
>>> from hybrid_deblur.learned.data import PairSampler, synthetic_images
>>> s = PairSampler(images=synthetic_images(4, 80), patch=32, max_kernel=15, seed=0)
>>> b = s.batch(step=0, batch_size=2)
>>> tuple(b["y"].shape), tuple(b["x"].shape), b["psf"].shape[-1] <= 15
((2, 1, 32, 32), (2, 1, 32, 32), True)
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any, Sequence

import numpy as np
import torch

from ..physics.degrade import crop_valid, degrade
from ..physics.noise import apply_noise

__all__ = ["PairSampler", "list_images", "sample_kernel", "synthetic_images", "KERNEL_TYPES"]

IMAGE_SUFFIXES = (".png", ".jpg", ".jpeg", ".bmp", ".tif", ".tiff")
KERNEL_TYPES = ("camera_shake", "defocus", "gaussian", "linear", "mixed")


def list_images(folders: Sequence[str | os.PathLike]) -> list[Path]:
    """Sorted image files of ``folders`` (a missing folder is an error naming it)."""
    out: list[Path] = []
    for f in folders:
        p = Path(f)
        if not p.is_dir():
            raise OSError(f"training image folder {str(p)!r} does not exist or is not a folder")
        files = sorted(q for q in p.iterdir() if q.suffix.lower() in IMAGE_SUFFIXES)
        if not files:
            raise OSError(f"training image folder {str(p)!r} holds no images "
                          f"(accepted: {', '.join(IMAGE_SUFFIXES)})")
        out.extend(files)
    return out


def synthetic_images(n: int, size: int, *, channels: int = 1, seed: int = 0) -> list[np.ndarray]:
    """Piecewise-smooth random test scenes (for tests and smoke runs without data)."""
    rng = np.random.default_rng(seed)
    yy, xx = np.mgrid[0:size, 0:size] / size
    out = []
    for _ in range(n):
        img = np.zeros((channels, size, size))
        for _ in range(6):
            cy, cx, r = rng.random(3) * [1, 1, 0.4]
            img += rng.random((channels, 1, 1)) * (((yy - cy) ** 2 + (xx - cx) ** 2) < r ** 2)
        img += 0.2 * np.sin(2 * np.pi * (rng.random() * 8 * xx + rng.random() * 8 * yy))
        img = (img - img.min()) / (np.ptp(img) + 1e-9)
        out.append(img.astype(np.float32))
    return out


def _odd(n: float) -> int:
    n = int(round(n))
    return n if n % 2 else n + 1


def sample_kernel(rng: np.random.Generator, *, kinds: dict | None = None, min_size: int = 3,
                  max_size: int = 41, common_max: int = 25, p_large: float = 0.15) -> tuple[np.ndarray, str]:
    """One random blur kernel (odd square size in [min_size, max_size]) and its kind.

    ``kinds`` maps kind -> probability (default: camera shake 0.45, defocus 0.15,
    Gaussian 0.15, linear 0.1, mixed 0.15).
    """
    from ..psf import combine, crop_psf, disk, gaussian, linear_motion, pad_psf, trajectory_motion

    kinds = kinds or {"camera_shake": 0.45, "defocus": 0.15, "gaussian": 0.15, "linear": 0.1,
                      "mixed": 0.15}
    bad = [k for k in kinds if k not in KERNEL_TYPES]
    if bad:
        raise ValueError(f"kernel kinds {bad} are unknown; accepted: {', '.join(KERNEL_TYPES)}")
    names = list(kinds)
    p = np.asarray([float(kinds[k]) for k in names])
    kind = names[int(rng.choice(len(names), p=p / p.sum()))]
    hi = max_size if rng.random() < p_large else min(common_max, max_size)
    size = _odd(rng.integers(min_size, hi + 1))
    size = min(size, _odd(max_size) if _odd(max_size) <= max_size else max_size - 1)
    sub = int(rng.integers(0, 2 ** 31 - 1))
    if kind == "camera_shake":
        k = trajectory_motion(size=size, length=rng.uniform(0.3, 0.9) * (size - 1),
                              anxiety=rng.uniform(0.001, 0.02), exposure=rng.uniform(0.6, 1.0),
                              seed=sub)
    elif kind == "defocus":
        k = disk(rng.uniform(0.5, max(0.6, (size - 1) / 2)), size)
    elif kind == "gaussian":
        smax = max(0.35, (size - 1) / 6)
        k = gaussian((rng.uniform(0.3, smax), rng.uniform(0.3, smax)), size,
                     angle=rng.uniform(0, 180))
    elif kind == "linear":
        k = linear_motion(rng.uniform(1, size - 1) if size > 2 else 1.0, rng.uniform(0, 180), size)
    else:  # camera shake ⊛ small defocus, support kept <= size
        r = rng.uniform(0.5, max(0.6, size / 8))
        d = disk(r)
        s1 = max(3, _odd(size - d.shape[-1] + 1))
        t = trajectory_motion(size=s1, length=rng.uniform(0.3, 0.9) * (s1 - 1),
                              anxiety=rng.uniform(0.001, 0.02), seed=sub)
        k = combine(t, d)
        if k.shape[-1] > size:
            k = crop_psf(k, size)
    if k.shape[-1] < size:
        k = pad_psf(k, size)
    k = np.clip(np.asarray(k, dtype=np.float64), 0, None)
    return k / k.sum(), kind


def _rotate(img: np.ndarray, angle: float) -> np.ndarray:
    from scipy.ndimage import rotate

    return rotate(img, angle, axes=(-1, -2), reshape=False, order=1, mode="reflect")


def _hsv_jitter(img: np.ndarray, rng: np.random.Generator, amount: float) -> np.ndarray:
    """Hue shift, saturation and value scaling (colour), brightness scaling (gray); clipped to [0, 1]."""
    if amount <= 0:
        return img
    v = rng.uniform(1 - 2 * amount, 1 + amount)
    if img.shape[0] == 3:
        from skimage.color import hsv2rgb, rgb2hsv

        hsv = rgb2hsv(np.clip(img, 0, 1), channel_axis=0)
        hsv[0] = (hsv[0] + rng.uniform(-amount / 2, amount / 2)) % 1.0
        hsv[1] = np.clip(hsv[1] * rng.uniform(1 - amount, 1 + amount), 0, 1)
        hsv[2] = hsv[2] * v
        return np.clip(hsv2rgb(np.clip(hsv, 0, 1), channel_axis=0), 0, 1).astype(img.dtype)
    return np.clip(img * v, 0, 1).astype(img.dtype)


class PairSampler:
    """Deterministic source of (blurred, sharp, kernel, σ) training batches.

    Parameters
    ----------
    folders : sequence of path, optional
        Folders of sharp images (any folder; the defaults of the configs are
        ``../shared/data/train400`` and ``../shared/data/cbsd432``).
    images : list of arrays, optional
        In-memory images (C, H, W) or (H, W) instead of folders.
    channels : {1, 3}
        1 reads images as gray, 3 as RGB (gray files are repeated).
    patch : int
        Side of ``y`` (the valid blurred observation); the sharp crop is
        ``patch + k - 1`` for the batch's kernel size ``k``.
    min_kernel, max_kernel, common_kernel, p_large :
        Kernel sizes: most in ``[min_kernel, common_kernel]``, a share ``p_large`` up to
        ``max_kernel``.
    kernel_kinds : dict, optional
        Probabilities of each kernel kind (:data:`KERNEL_TYPES`).
    sigma : (float, float)
        Range of the Gaussian noise σ (uniform).
    p_poisson, photons :
        Probability of adding Poisson noise, and the range of peak photon counts
        (log-uniform).
    flips, rot90 : bool
    rotate : float
        Maximum small rotation (degrees), applied with probability ``p_rotate``.
    hsv : float
        HSV jitter amount (0 disables).
    val_every : int
        Every ``val_every``-th file is held out for validation (0: none).
    seed : int
    """

    def __init__(self, folders: Sequence[str | os.PathLike] | None = None, *,
                 images: list | None = None, channels: int = 1, patch: int = 64,
                 min_kernel: int = 3, max_kernel: int = 41, common_kernel: int = 25,
                 p_large: float = 0.15, kernel_kinds: dict | None = None,
                 sigma: Sequence[float] = (0.0, 0.03), p_poisson: float = 0.2,
                 photons: Sequence[float] = (100.0, 3000.0), flips: bool = True, rot90: bool = True,
                 rotate: float = 15.0, p_rotate: float = 0.3, hsv: float = 0.1,
                 val_every: int = 33, seed: int = 0):
        if channels not in (1, 3):
            raise ValueError(f"channels must be 1 or 3, got {channels!r}")
        if int(patch) < 16:
            raise ValueError(f"patch must be >= 16 pixels, got {patch!r}")
        self.channels, self.patch, self.seed = int(channels), int(patch), int(seed)
        self.kopts = dict(kinds=kernel_kinds, min_size=int(min_kernel), max_size=int(max_kernel),
                          common_max=int(common_kernel), p_large=float(p_large))
        self.sigma = (float(sigma[0]), float(sigma[1]))
        if not 0 <= self.sigma[0] <= self.sigma[1]:
            raise ValueError(f"sigma must be a range (lo, hi) with 0 <= lo <= hi, got {sigma!r}")
        self.p_poisson, self.photons = float(p_poisson), (float(photons[0]), float(photons[1]))
        self.flips, self.rot90, self.rotate, self.p_rotate = bool(flips), bool(rot90), float(rotate), float(p_rotate)
        self.hsv = float(hsv)
        if images is not None:
            items = [self._as_chw(np.asarray(a, dtype=np.float32)) for a in images]
            names = [f"<array {i}>" for i in range(len(items))]
        elif folders:
            names = [str(p) for p in list_images(folders)]
            items = [None] * len(names)
        else:
            raise ValueError("give training images: folders=[...] or images=[...]")
        idx = np.arange(len(names))
        val = idx[::val_every] if val_every and len(names) >= 2 * val_every else idx[:0]
        self.val_ids = [int(i) for i in val]
        self.train_ids = [int(i) for i in idx if i not in set(self.val_ids)] or [int(i) for i in idx]
        self.names, self._cache = names, items

    # ------------------------------------------------------------------ images
    def _as_chw(self, a: np.ndarray) -> np.ndarray:
        if a.ndim == 2:
            a = a[None]
        if a.shape[0] == 1 and self.channels == 3:
            a = np.repeat(a, 3, axis=0)
        if a.shape[0] == 3 and self.channels == 1:
            a = (0.2126 * a[0] + 0.7152 * a[1] + 0.0722 * a[2])[None]
        return np.ascontiguousarray(a, dtype=np.float32)

    def image(self, i: int) -> np.ndarray:
        if self._cache[i] is None:
            from ..io import imread

            self._cache[i] = self._as_chw(imread(self.names[i], linear=True, gray=self.channels == 1,
                                                 dtype=np.float32))
        return self._cache[i]

    # ------------------------------------------------------------------ samples
    def _crop(self, rng, img: np.ndarray, size: int, augment: bool) -> np.ndarray:
        rot = augment and self.rotate > 0 and rng.random() < self.p_rotate
        need = int(np.ceil(size * 1.45)) if rot else size
        c, h, w = img.shape
        if h < need or w < need:
            reps = ((0, 0), (0, max(0, need - h)), (0, max(0, need - w)))
            img = np.pad(img, reps, mode="reflect")
            c, h, w = img.shape
        i0, j0 = int(rng.integers(0, h - need + 1)), int(rng.integers(0, w - need + 1))
        a = img[:, i0:i0 + need, j0:j0 + need]
        if rot:
            a = _rotate(a, rng.uniform(-self.rotate, self.rotate))
            o = (need - size) // 2
            a = a[:, o:o + size, o:o + size]
        if augment:
            if self.flips and rng.random() < 0.5:
                a = a[:, :, ::-1]
            if self.rot90:
                a = np.rot90(a, int(rng.integers(0, 4)), axes=(1, 2))
            a = _hsv_jitter(np.ascontiguousarray(a), rng, self.hsv)
        return np.ascontiguousarray(a, dtype=np.float32)

    def _make(self, rng, ids, n, augment, sigmas=None):
        from ..psf import pad_psf

        kernels = [sample_kernel(rng, **self.kopts)[0] for _ in range(n)]
        kb = max(k.shape[-1] for k in kernels)
        kernels = [pad_psf(k, kb) if k.shape[-1] < kb else k for k in kernels]
        ys, xs, ss = [], [], []
        for j in range(n):
            img = self.image(ids[int(rng.integers(0, len(ids)))])
            scene = self._crop(rng, img, self.patch + kb - 1, augment)
            s = float(rng.uniform(*self.sigma)) if sigmas is None else float(sigmas[j])
            noise: dict[str, Any] = {"gaussian": s}
            eff2 = s * s
            y0, _ = degrade(scene.astype(np.float64), kernels[j], boundary="valid", noise=None)
            if self.p_poisson > 0 and rng.random() < self.p_poisson:
                lo, hi = np.log(self.photons[0]), np.log(self.photons[1])
                noise["poisson"] = float(np.exp(rng.uniform(lo, hi)))
                eff2 += float(np.clip(y0, 0, None).mean()) / noise["poisson"]
            y, _ = apply_noise(y0, noise, seed=int(rng.integers(0, 2 ** 31 - 1)))
            ys.append(y.astype(np.float32))
            xs.append(crop_valid(scene, kb))
            ss.append(np.sqrt(eff2))
        return {"y": torch.from_numpy(np.stack(ys)), "x": torch.from_numpy(np.stack(xs)),
                "psf": torch.from_numpy(np.stack(kernels)[:, None].astype(np.float32)),
                "sigma": torch.tensor(ss, dtype=torch.float32)}

    def batch(self, step: int, batch_size: int, rank: int = 0) -> dict:
        """The training batch of ``step`` for data-parallel ``rank`` (deterministic).

        Returns a dict of float32 tensors: ``y`` (B, C, P, P), ``x`` (B, C, P, P) (the
        sharp pixels aligned with ``y``), ``psf`` (B, 1, k, k), ``sigma`` (B,) (effective σ).
        """
        rng = np.random.default_rng([self.seed, int(rank), int(step)])
        return self._make(rng, self.train_ids, int(batch_size), augment=True)

    def validation(self, n: int = 16, *, sigmas: Sequence[float] = (0.005, 0.01, 0.02, 0.03)) -> list[dict]:
        """A fixed validation set (held-out files, fixed seed, no augmentation), in batches of 4."""
        ids = self.val_ids or self.train_ids
        rng = np.random.default_rng([self.seed, 999_983])
        out = []
        for b in range(0, n, 4):
            m = min(4, n - b)
            sg = [sigmas[(b + j) % len(sigmas)] for j in range(m)]
            out.append(self._make(rng, ids, m, augment=False, sigmas=sg))
        return out
