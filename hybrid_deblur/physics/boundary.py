"""Boundary handling: padding with an exact adjoint, edge tapering, crop helpers.

Padding modes and their SciPy names (so that users of ``scipy.ndimage`` know
exactly what they get):

============  ============================  ==========================
ours          ``scipy.ndimage`` mode         extension of ``a b c d``
============  ============================  ==========================
``reflect``   ``"reflect"``                  ``b a | a b c d | d c``
``replicate`` ``"nearest"``                  ``a a | a b c d | d d``
``zero``      ``"constant"`` (cval=0)        ``0 0 | a b c d | 0 0``
``circular``  ``"wrap"``                     ``c d | a b c d | a b``
============  ============================  ==========================

Padding is a gather with an index array per axis, so its adjoint is the matching
scatter-add; both work on NumPy, CuPy and torch (differentiable).

Examples
--------
>>> import numpy as np
>>> from hybrid_deblur.physics.boundary import pad, pad_adjoint
>>> pad(np.arange(4.0), [(2, 1)], "reflect")
array([1., 0., 0., 1., 2., 3., 3.])
>>> pad_adjoint(np.ones(7), [(2, 1)], "reflect", (4,))
array([2., 2., 1., 2.])
"""

from __future__ import annotations

from functools import lru_cache
from typing import Any, Sequence

import numpy as np

from .. import backend as B

__all__ = ["BOUNDARIES", "PAD_MODES", "check_boundary", "pad", "pad_adjoint", "pad_index",
           "edge_taper_window"]

#: every boundary accepted by :class:`~hybrid_deblur.physics.Blur` and the solvers
BOUNDARIES = ("circular", "reflect", "replicate", "zero", "valid")
#: the modes that pad the image before a linear convolution
PAD_MODES = ("reflect", "replicate", "zero", "circular")
_NDIMAGE = {"reflect": "reflect", "replicate": "nearest", "zero": "constant", "circular": "wrap"}


def check_boundary(boundary: str, *, allowed: Sequence[str] = BOUNDARIES) -> str:
    """Return ``boundary`` if it is one of ``allowed``, else raise a ``ValueError`` listing them."""
    if not isinstance(boundary, str) or boundary not in allowed:
        raise ValueError(
            f"boundary={boundary!r} is not supported; accepted: {', '.join(map(repr, allowed))}"
        )
    return boundary


@lru_cache(maxsize=256)
def pad_index(n: int, left: int, right: int, mode: str) -> np.ndarray:
    """Source index (into ``range(n)``) of every sample of the padded axis; -1 marks zeros."""
    idx = np.arange(-left, n + right)
    if mode == "reflect":
        period = 2 * n
        m = np.mod(idx, period)
        out = np.where(m < n, m, period - 1 - m)
    elif mode == "replicate":
        out = np.clip(idx, 0, n - 1)
    elif mode == "circular":
        out = np.mod(idx, n)
    elif mode == "zero":
        out = np.where((idx >= 0) & (idx < n), idx, -1)
    else:
        check_boundary(mode, allowed=PAD_MODES)
    out = out.astype(np.int64)
    out.setflags(write=False)
    return out


def _take(x, idx: np.ndarray, axis: int):
    if B.is_torch(x):
        import torch

        return torch.index_select(x, axis, torch.tensor(idx, device=x.device))
    if B.is_cupy(x):
        import cupy

        return cupy.take(x, cupy.asarray(idx), axis=axis)
    return np.take(x, idx, axis=axis)


def _index_add(out, axis: int, idx: np.ndarray, src):
    """``out[..., idx, ...] += src`` along ``axis`` with repeated indices accumulated."""
    if B.is_torch(out):
        import torch

        return out.index_add(axis, torch.tensor(idx, device=out.device), src)
    if B.is_cupy(out):
        import cupyx

        o = out.copy()
        moved = o.swapaxes(axis, -1)
        cupyx.scatter_add(moved, (Ellipsis, __import__("cupy").asarray(idx)), src.swapaxes(axis, -1))
        return o
    o = np.array(out, copy=True)
    if len(np.unique(idx)) == len(idx):
        sl = [slice(None)] * o.ndim
        sl[axis] = idx
        o[tuple(sl)] += src
    else:
        np.add.at(np.moveaxis(o, axis, -1), (Ellipsis, idx), np.moveaxis(src, axis, -1))
    return o


def _slice(x, axis: int, start: int, stop: int):
    sl = [slice(None)] * x.ndim
    sl[axis] = slice(start, stop)
    return x[tuple(sl)]


def pad(x: Any, widths: Sequence[tuple[int, int]], mode: str):
    """Pad the last ``len(widths)`` axes of ``x`` by ``(left, right)`` each.

    Parameters
    ----------
    x : array (NumPy, CuPy or torch)
    widths : sequence of (int, int)
        Padding before/after, for the trailing axes in order.
    mode : {"reflect", "replicate", "zero", "circular"}
        See the module table for the SciPy equivalents.
    """
    check_boundary(mode, allowed=PAD_MODES)
    nd = len(widths)
    for i, (lft, rgt) in enumerate(widths):
        axis = x.ndim - nd + i
        n = int(x.shape[axis])
        if lft == 0 and rgt == 0:
            continue
        idx = pad_index(n, int(lft), int(rgt), mode)
        if mode == "zero":
            shape = list(x.shape)
            shape[axis] = n + lft + rgt
            out = B.zeros_like_shape(x, shape)
            sl = [slice(None)] * x.ndim
            sl[axis] = slice(lft, lft + n)
            out[tuple(sl)] = x
            x = out
        else:
            x = _take(x, idx, axis)
    return x


def pad_adjoint(y: Any, widths: Sequence[tuple[int, int]], mode: str, shape: Sequence[int]):
    """Adjoint of :func:`pad`: fold the padded margins back onto the ``shape`` interior."""
    check_boundary(mode, allowed=PAD_MODES)
    nd = len(widths)
    shape = tuple(int(s) for s in shape)[-nd:]
    for i in reversed(range(nd)):
        lft, rgt = (int(v) for v in widths[i])
        axis = y.ndim - nd + i
        n = shape[i]
        if lft == 0 and rgt == 0:
            continue
        core = _slice(y, axis, lft, lft + n)
        if mode == "zero":
            y = core
            continue
        idx = pad_index(n, lft, rgt, mode)
        out = core
        if lft:
            out = _index_add(out, axis, idx[:lft], _slice(y, axis, 0, lft))
        if rgt:
            out = _index_add(out, axis, idx[lft + n:], _slice(y, axis, lft + n, lft + n + rgt))
        y = out
    return y


def ndimage_mode(mode: str) -> str:
    """The ``scipy.ndimage`` mode name that equals our padding ``mode``."""
    return _NDIMAGE[check_boundary(mode, allowed=PAD_MODES)]


@lru_cache(maxsize=64)
def _taper_1d(n: int, width: int) -> np.ndarray:
    w = np.ones(n)
    width = max(1, min(width, n // 2))
    ramp = 0.5 - 0.5 * np.cos(np.pi * (np.arange(width) + 0.5) / width)
    w[:width] = ramp
    w[n - width:] = ramp[::-1]
    return w


def edge_taper_window(shape: Sequence[int], widths: Sequence[int]) -> np.ndarray:
    """Separable raised-cosine window that is 1 inside and falls to ~0 over ``widths`` pixels."""
    win = np.ones(())
    for n, w in zip(shape, widths):
        win = np.multiply.outer(win, _taper_1d(int(n), int(w)))
    return win
