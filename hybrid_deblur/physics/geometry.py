"""Geometry of the solves: where the observation sits on the FFT grid, and seam-free padding.

``valid``-mode problems put the unknown scene (larger than ``y`` by ``k - 1``) on a
periodic grid of fast size; closed-form solvers extend ``y`` onto a larger periodic
grid without a seam (:func:`smooth_periodic_pad`) and crop back.

Examples
--------
>>> import numpy as np
>>> from hybrid_deblur.physics.geometry import masked_geometry, smooth_periodic_pad
>>> g = masked_geometry((30, 30), (5, 5), "auto")
>>> g.grid, g.y_offset
((36, 36), (2, 2))
>>> smooth_periodic_pad(np.ones((4, 4)), [(2, 2), (1, 1)]).shape
(8, 6)
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from .. import backend as B
from .boundary import _take, pad

__all__ = ["Geometry", "circular_geometry", "embed", "masked_geometry", "pad_observation",
           "padded_geometry", "region", "slab_regions", "smooth_periodic_pad", "spatial"]


def spatial(x: Any, ndim: int) -> tuple[int, ...]:
    return tuple(int(v) for v in x.shape[-ndim:])


def axes(ndim: int) -> tuple[int, ...]:
    return tuple(range(-ndim, 0))


def region(offsets: Sequence[int], sizes: Sequence[int]):
    """Index tuple ``(..., offset:offset+size, ...)`` over the trailing axes."""
    return (Ellipsis,) + tuple(slice(int(o), int(o) + int(n)) for o, n in zip(offsets, sizes))


def embed(y: Any, grid: Sequence[int], offsets: Sequence[int]):
    """Zero array of spatial ``grid`` (leading axes of ``y``) with ``y`` written at ``offsets``."""
    nd = len(grid)
    lead = tuple(int(v) for v in y.shape[:-nd])
    out = B.zeros_like_shape(y, lead + tuple(grid))
    out[region(offsets, spatial(y, nd))] = y
    return out


@dataclass
class Geometry:
    """Where the observation sits on the FFT grid and what is returned.

    ``grid`` is the spatial FFT grid; ``y_offset`` the offset of ``y`` on it;
    ``out_offset`` / ``out_shape`` the part of the grid that is returned.
    ``mask`` says whether only the observed pixels carry data (masked / valid model).
    """

    boundary: str
    grid: tuple[int, ...]
    y_offset: tuple[int, ...]
    out_offset: tuple[int, ...]
    out_shape: tuple[int, ...]
    masked: bool = False
    padded: bool = False
    extra: dict = field(default_factory=dict)

    def crop(self, x):
        return x[region(self.out_offset, self.out_shape)]


def masked_geometry(shape, ksize, boundary: str) -> Geometry:
    """Geometry of the ``valid``-mode problem solved with a mask on a periodic grid.

    The unknown scene is larger than ``y`` by ``k - 1``; on a grid of fast size
    ``>= n + k - 1`` the observed pixel ``m`` is the circular blur at grid
    position ``m + k - 1 - k // 2``, so ``y`` is embedded there and the scene
    occupies ``[0, n + k - 1)``. ``boundary="auto"`` returns the observed frame,
    ``"valid"`` returns the whole scene.
    """
    scene = tuple(n + k - 1 for n, k in zip(shape, ksize))
    grid = B.next_fast_shape(scene)
    off = tuple(k - 1 - k // 2 for k in ksize)
    if boundary == "valid":
        return Geometry(boundary, grid, off, (0,) * len(shape), scene, masked=True)
    return Geometry(boundary, grid, off, off, tuple(shape), masked=True)


def padded_geometry(shape, ksize, boundary: str, margin: float = 1.0) -> Geometry:
    """Geometry of the padded periodic problem used by the closed-form solvers.

    ``y`` is extended by at least ``margin * k`` pixels on every side (fast FFT size)
    so that the periodic seam lies far from the returned region.
    """
    minimum = [max(int(np.ceil(margin * k)), 4) for k in ksize]
    grid = B.next_fast_shape([n + 2 * p for n, p in zip(shape, minimum)])
    off = tuple((g - n) // 2 for g, n in zip(grid, shape))  # centred: margins >= minimum
    if boundary == "valid":
        out_off = tuple(o - (k - 1 - k // 2) for o, k in zip(off, ksize))
        out_shape = tuple(n + k - 1 for n, k in zip(shape, ksize))
        return Geometry(boundary, grid, off, out_off, out_shape, padded=True)
    return Geometry(boundary, grid, off, off, tuple(shape), padded=True)


def circular_geometry(shape) -> Geometry:
    shape = tuple(shape)
    return Geometry("circular", shape, (0,) * len(shape), (0,) * len(shape), shape)


def _concat(parts, axis: int):
    if B.is_torch(parts[0]):
        import torch

        return torch.cat(parts, dim=axis)
    return B.namespace(parts[0]).concat(parts, axis=axis)


def smooth_periodic_pad(y: Any, widths: Sequence[tuple[int, int]]):
    """Extend ``y`` so that the result is continuous *and periodic* (no seam), cheaply.

    On every axis the margin (right part + left part, which are adjacent on the
    periodic grid) is filled with a raised-cosine cross-fade between the mirror
    image continuing the right edge and the mirror image continuing the left edge
    backwards. No FFT, a few passes over the margins only; works on every backend.
    """
    from .boundary import pad_index

    nd = len(widths)
    for i, (lft, rgt) in enumerate(widths):
        lft, rgt = int(lft), int(rgt)
        m = lft + rgt
        if m == 0:
            continue
        axis = y.ndim - nd + i
        n = int(y.shape[axis])
        t = np.arange(m)
        ia = pad_index(n, 0, m, "reflect")[n:]          # mirror continuing the right edge
        ib = pad_index(n, m, 0, "reflect")[:m]          # mirror continuing the left edge
        s = 0.5 - 0.5 * np.cos(np.pi * (t + 0.5) / m)   # 0 -> 1 across the gap
        shape = [1] * y.ndim
        shape[axis] = m
        s_arr = B.asarray_like(s.reshape(shape), y)
        gap = _take(y, ia, axis) * (1 - s_arr) + _take(y, ib, axis) * s_arr
        sl_r = [slice(None)] * y.ndim
        sl_l = [slice(None)] * y.ndim
        sl_r[axis] = slice(0, rgt)
        sl_l[axis] = slice(rgt, m)
        y = _concat([gap[tuple(sl_l)], y, gap[tuple(sl_r)]], axis)
    return y


def pad_observation(y: Any, geom: Geometry, op: Any = None, mode: str = "reflect",
                    taper: bool = True):
    """Extend ``y`` onto ``geom.grid`` for a periodic solve, without a seam.

    ``mode="reflect"`` (used by ``auto`` and ``valid``): :func:`smooth_periodic_pad`
    over the whole margin. ``"replicate"`` / ``"zero"``: the inner half of the
    margin is that extension, the outer half the smooth periodic cross-fade.
    ``taper=False`` gives the plain extension (with its periodic seam).
    """
    nd = len(geom.grid)
    n = spatial(y, nd)
    widths = [(o, g - o - s) for o, g, s in zip(geom.y_offset, geom.grid, n)]
    if not taper:
        return pad(y, widths, mode)
    if mode == "reflect":
        return smooth_periodic_pad(y, widths)
    inner = [(lft // 2, rgt // 2) for lft, rgt in widths]
    outer = [(lft - a, rgt - b) for (lft, rgt), (a, b) in zip(widths, inner)]
    return smooth_periodic_pad(pad(y, inner, mode), outer)


def slab_regions(lo, hi, grid):
    """Index tuples covering ``grid`` minus the box ``[lo, hi)`` (N-D slabs)."""
    regions = []
    prefix: list = []
    nd = len(grid)
    for i in range(nd):
        rest = [slice(None)] * (nd - i - 1)
        if lo[i] > 0:
            regions.append(tuple(prefix + [slice(0, lo[i])] + rest))
        if hi[i] < grid[i]:
            regions.append(tuple(prefix + [slice(hi[i], grid[i])] + rest))
        prefix.append(slice(lo[i], hi[i]))
    return [(Ellipsis,) + r for r in regions]
