"""Bilinear splatting: the one rasteriser of points into a kernel grid.

Linear motion (:func:`~hybrid_deblur.psf.linear_motion`), camera-shake
trajectories (:func:`~hybrid_deblur.psf.trajectory_motion`) and physical camera
motion (:func:`~hybrid_deblur.psf.motion_psf`) all put weighted points on the
pixel grid the same way: a point at ``(r, c)`` gives ``(1 - fr)(1 - fc)`` of its
weight to pixel ``(floor r, floor c)`` and the rest to its three neighbours
(``fr, fc`` the fractional parts). Bilinear splatting preserves the zeroth and
first moments of the points that land inside the grid, so a path centred on the
centre pixel gives a kernel whose centroid is the centre pixel. Mass that falls
outside the grid is dropped.

:func:`splat` is the numba-compiled loop (DESIGN §4 rule 6) used for long
trajectories; :func:`splat_reference` is the vectorised NumPy version it is
tested against, used directly where the point count is small.

Examples
--------
>>> import numpy as np
>>> from hybrid_deblur.psf.raster import splat_reference
>>> splat_reference([1.5], [1.0], [1.0], (3, 3))[:, 1].tolist()
[0.0, 0.5, 0.5]
"""

from __future__ import annotations

import math

import numpy as np

__all__ = ["splat", "splat_reference"]


def _splat_impl(rows, cols, weights, out):
    """Bilinear splatting loop (compiled by numba; plain Python is the slow fallback)."""
    h, w = out.shape
    for n in range(rows.shape[0]):
        r, c, wt = rows[n], cols[n], weights[n]
        r0 = math.floor(r)
        c0 = math.floor(c)
        fr = r - r0
        fc = c - c0
        for dr in range(2):
            wr = fr if dr == 1 else 1.0 - fr
            rr = r0 + dr
            if wr == 0.0 or rr < 0 or rr >= h:
                continue
            for dc in range(2):
                wc = fc if dc == 1 else 1.0 - fc
                cc = c0 + dc
                if wc == 0.0 or cc < 0 or cc >= w:
                    continue
                out[rr, cc] += wt * wr * wc
    return out


_NUMBA_SPLAT = None


def _numba_splat():
    global _NUMBA_SPLAT
    if _NUMBA_SPLAT is None:
        from numba import njit  # lazy: numba costs ~0.5 s to import

        _NUMBA_SPLAT = njit(cache=True, nogil=True)(_splat_impl)
    return _NUMBA_SPLAT


def splat(rows, cols, weights, shape: tuple[int, int]) -> np.ndarray:
    """Bilinear splatting of ``weights`` at ``(rows, cols)`` onto a float64 grid (numba).

    Parameters
    ----------
    rows, cols, weights : array_like, shape (n,)
        Point positions in pixels (row down, column right) and their weights.
    shape : (int, int)
        The grid.

    Returns
    -------
    ndarray of float64, shape ``shape``
        Same values as :func:`splat_reference` (to rounding).

    Examples
    --------
    >>> from hybrid_deblur.psf.raster import splat
    >>> float(splat([1.25], [1.0], [2.0], (3, 3))[2, 1])
    0.5
    """
    out = np.zeros(shape, dtype=np.float64)
    return _numba_splat()(np.ascontiguousarray(rows, dtype=np.float64),
                          np.ascontiguousarray(cols, dtype=np.float64),
                          np.ascontiguousarray(weights, dtype=np.float64), out)


def splat_reference(rows, cols, weights, shape: tuple[int, int]) -> np.ndarray:
    """Vectorised NumPy bilinear splatting (the reference for :func:`splat`).

    Examples
    --------
    >>> from hybrid_deblur.psf.raster import splat_reference
    >>> float(splat_reference([0.5], [0.5], [1.0], (2, 2)).sum())
    1.0
    """
    rows = np.asarray(rows, dtype=np.float64)
    cols = np.asarray(cols, dtype=np.float64)
    weights = np.asarray(weights, dtype=np.float64)
    out = np.zeros(shape, dtype=np.float64)
    r0 = np.floor(rows)
    c0 = np.floor(cols)
    fr, fc = rows - r0, cols - c0
    r0 = r0.astype(np.int64)
    c0 = c0.astype(np.int64)
    for dr, wr in ((0, 1.0 - fr), (1, fr)):
        for dc, wc in ((0, 1.0 - fc), (1, fc)):
            rr, cc, ww = r0 + dr, c0 + dc, weights * wr * wc
            ok = ((rr >= 0) & (rr < shape[0]) & (cc >= 0) & (cc < shape[1])
                  & (wr != 0) & (wc != 0))
            np.add.at(out, (rr[ok], cc[ok]), ww[ok])
    return out
