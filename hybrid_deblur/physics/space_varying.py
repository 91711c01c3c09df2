"""Space-varying (non-uniform) blur: a grid of PSFs blended by partition-of-unity windows.

The image is covered by a ``gy x gx`` grid of tiles, each with its own PSF. The
blurred image is the overlap-add of the tiles' blurs (Nagy & O'Leary 1998,
Hirsch et al. 2010 "efficient filter flow"):

.. math:: y = \\sum_p k_p * (w_p \\odot x), \\qquad \\sum_p w_p = 1,

so it reduces to the uniform :class:`~hybrid_deblur.physics.Blur` when every
``k_p`` is the same kernel. The convolutions are one stacked
:class:`~hybrid_deblur.physics.Blur` (one OTF per tile, any boundary model), so
the adjoint :math:`A^T y = \\sum_p w_p \\odot (k_p \\star y)` is exact.

Generators build the operators of two common scenes: a foreground object that
moves differently from the background (:func:`two_layer_blur`) and a depth-dependent
defocus (:func:`depth_defocus_blur`).

Examples
--------
>>> import numpy as np
>>> from hybrid_deblur.physics import Blur
>>> from hybrid_deblur.physics.space_varying import SpaceVaryingBlur
>>> k = np.ones((3, 5)) / 15
>>> op = SpaceVaryingBlur(np.broadcast_to(k, (2, 3, 3, 5)), boundary="valid")
>>> x = np.random.default_rng(0).random((40, 48))
>>> bool(np.abs(op.A(x) - Blur(k, "valid").A(x)).max() < 1e-12)
True
>>> op.adjoint_test((40, 48)) < 1e-10
True
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np

from .. import backend as B
from .blur import Blur

__all__ = ["SpaceVaryingBlur", "depth_defocus_blur", "partition_windows", "two_layer_blur"]

WINDOWS = ("linear", "cosine")


def _hat_1d(n: int, g: int, window: str) -> np.ndarray:
    """``g`` 1-D weights over ``n`` pixels that sum to one (nodes at the tile centres)."""
    t = (np.arange(n) + 0.5) * g / n - 0.5  # position in units of tiles; node i at t = i
    t = np.clip(t, 0.0, g - 1.0)
    w = np.zeros((g, n))
    for i in range(g):
        d = np.abs(t - i)
        if window == "linear":
            w[i] = np.maximum(1.0 - d, 0.0)
        else:
            w[i] = np.where(d < 1.0, np.cos(0.5 * np.pi * np.minimum(d, 1.0)) ** 2, 0.0)
    return w / w.sum(axis=0, keepdims=True)


def partition_windows(shape: Sequence[int], grid: Sequence[int], window: str = "linear") -> np.ndarray:
    """Separable partition-of-unity windows, one per tile of a ``grid`` over an image.

    Parameters
    ----------
    shape : (int, int)
        Image shape (H, W).
    grid : (int, int)
        Tiles per axis (gy, gx), each >= 1.
    window : {"linear", "cosine"}
        Tent (bilinear interpolation between tile centres) or raised-cosine profile.

    Returns
    -------
    ndarray, shape (gy * gx, H, W)
        Non-negative windows (tile ``(i, j)`` at index ``i * gx + j``) that sum to
        one at every pixel; each is 1 at its tile centre and flat beyond the outer
        tile centres.

    Examples
    --------
    >>> from hybrid_deblur.physics.space_varying import partition_windows
    >>> w = partition_windows((8, 10), (2, 3))
    >>> w.shape, bool(abs(w.sum(0) - 1).max() < 1e-15)
    ((6, 8, 10), True)
    """
    if window not in WINDOWS:
        raise ValueError(f"window={window!r} is unknown; accepted: {', '.join(WINDOWS)}")
    h, w = (int(v) for v in shape)
    gy, gx = (int(v) for v in grid)
    if gy < 1 or gx < 1:
        raise ValueError(f"grid={tuple(grid)!r} must have at least one tile per axis")
    wy, wx = _hat_1d(h, gy, window), _hat_1d(w, gx, window)
    return (wy[:, None, :, None] * wx[None, :, None, :]).reshape(gy * gx, h, w)


class SpaceVaryingBlur:
    """Non-uniform blur: ``y = sum_p k_p * (w_p x)`` over a grid of PSFs.

    Parameters
    ----------
    psfs : array, shape (gy, gx, kh, kw)
        One PSF per tile (NumPy or torch), each normalised to sum 1 unless
        ``normalize=False``; centre at ``k // 2`` as everywhere (DESIGN §1).
        Tiles are laid out row by row over the image.
    boundary : {"circular", "reflect", "replicate", "zero", "valid"}
        Boundary model of every tile's convolution (see :class:`Blur`).
    window : {"linear", "cosine"}
        Partition-of-unity profile (:func:`partition_windows`), defined on the
        scene (input) grid.
    normalize : bool
        Normalise each PSF to sum 1 (default True).

    Notes
    -----
    With :math:`W_p` the diagonal window of tile :math:`p` and :math:`K_p` its
    convolution, :math:`A = \\sum_p K_p W_p` and :math:`A^T = \\sum_p W_p K_p^T`; both
    are evaluated as one stacked :class:`Blur` with a leading tile axis, so the
    adjoint is exact to round-off for every boundary model. Because the windows sum
    to one, equal PSFs give exactly the uniform blur. Cost: one FFT pair per tile.
    Images are (..., H, W); leading axes are kept.

    Examples
    --------
    >>> import numpy as np
    >>> from hybrid_deblur.psf import disk
    >>> from hybrid_deblur.physics.space_varying import SpaceVaryingBlur
    >>> psfs = np.stack([np.stack([disk(1, size=7), disk(3, size=7)])])   # 1 x 2 grid
    >>> op = SpaceVaryingBlur(psfs, boundary="reflect")
    >>> op.A(np.ones((32, 32))).shape, op.grid
    ((32, 32), (1, 2))
    """

    def __init__(self, psfs: Any, boundary: str = "circular", *, window: str = "linear",
                 normalize: bool = True):
        if window not in WINDOWS:
            raise ValueError(f"window={window!r} is unknown; accepted: {', '.join(WINDOWS)}")
        if not (B.is_numpy(psfs) or B.is_torch(psfs) or B.is_cupy(psfs)):
            psfs = np.asarray(psfs)
        if psfs.ndim != 4:
            raise ValueError(f"psfs must have shape (gy, gx, kh, kw); got shape {tuple(psfs.shape)}")
        self.grid = (int(psfs.shape[0]), int(psfs.shape[1]))
        self.window = window
        stack = psfs.reshape((self.grid[0] * self.grid[1],) + tuple(psfs.shape[2:]))
        self.blur = Blur(stack, boundary, normalize=normalize)
        self.boundary = self.blur.boundary
        self.ksize = self.blur.ksize
        self._win: dict = {}

    @property
    def psfs(self):
        """The normalised PSFs, shape (gy, gx, kh, kw)."""
        return self.blur.psf.reshape(self.grid + self.ksize)

    def output_shape(self, shape: Sequence[int]) -> tuple[int, ...]:
        """Spatial shape of ``A(x)`` for an input of spatial ``shape``."""
        return self.blur.output_shape(shape)

    def input_shape(self, shape: Sequence[int]) -> tuple[int, ...]:
        """Spatial shape of ``AT(y)`` for ``y`` of spatial ``shape``."""
        return self.blur.input_shape(shape)

    def windows(self, shape: Sequence[int], like: Any = None):
        """Partition-of-unity windows (P, H, W) on the scene grid ``shape`` (cached)."""
        shape = tuple(int(v) for v in shape)[-2:]
        ref = np.empty(0) if like is None else like
        key = (shape, str(ref.dtype), B.device_key(ref), type(ref).__module__.split(".")[0])
        if key not in self._win:
            w = partition_windows(shape, self.grid, self.window)
            self._win[key] = w if like is None else B.asarray_like(w, like)
        return self._win[key]

    @staticmethod
    def _sum_tiles(z):
        return z.sum(dim=-3) if B.is_torch(z) else z.sum(axis=-3)

    def A(self, x: Any):
        """Apply the non-uniform blur."""
        x = B.as_float(x, name="x")
        if x.ndim < 2:
            raise ValueError(f"x must have at least 2 axes (H, W last); got shape {tuple(x.shape)}")
        w = self.windows(x.shape, like=x)
        return self._sum_tiles(self.blur.A(x[..., None, :, :] * w))

    __call__ = A

    def AT(self, y: Any):
        """Apply the exact adjoint ``sum_p w_p (k_p correlated with y)``."""
        y = B.as_float(y, name="y")
        if y.ndim < 2:
            raise ValueError(f"y must have at least 2 axes (H, W last); got shape {tuple(y.shape)}")
        p = self.grid[0] * self.grid[1]
        yt = y[..., None, :, :]
        full = tuple(yt.shape[:-3]) + (p,) + tuple(yt.shape[-2:])
        yt = yt.expand(*full) if B.is_torch(yt) else B.namespace(yt).broadcast_to(yt, full)
        z = self.blur.AT(yt)
        return self._sum_tiles(z * self.windows(z.shape, like=z))

    def AtA(self, x: Any):
        """``AT(A(x))``."""
        return self.AT(self.A(x))

    def adjoint_test(self, shape: Sequence[int] | None = None, *, dtype=np.float64, seed: int = 0,
                     like: Any = None) -> float:
        """Relative error of ``<A x, y> - <x, A^T y>`` for random ``x``, ``y`` (see :meth:`Blur.adjoint_test`)."""
        if shape is None:
            shape = tuple(4 * k + 3 for k in self.ksize)
        shape = tuple(int(v) for v in shape)
        rng = np.random.default_rng(seed)
        x = rng.standard_normal(shape).astype(dtype)
        y = rng.standard_normal(shape[:-2] + self.output_shape(shape)).astype(dtype)
        if like is not None:
            x, y = B.asarray_like(x, like, dtype=like.dtype), B.asarray_like(y, like, dtype=like.dtype)
        Ax, ATy = self.A(x), self.AT(y)
        lhs, rhs = float((Ax * y).sum()), float((x * ATy).sum())
        scale = float(np.sqrt(float((Ax * Ax).sum()) * float((y * y).sum())))
        return abs(lhs - rhs) / max(scale, 1e-300)

    def __repr__(self) -> str:
        return (f"SpaceVaryingBlur(grid={self.grid}, ksize={self.ksize}, "
                f"boundary={self.boundary!r}, window={self.window!r})")


def _common_stack(psfs: list[np.ndarray], grid: tuple[int, int]) -> np.ndarray:
    from ..psf import pad_psf

    n = max(max(p.shape) for p in psfs)
    n += 1 - n % 2
    return np.stack([pad_psf(p, n) for p in psfs]).reshape(grid + (n, n))


def two_layer_blur(psf_background: Any, psf_foreground: Any, box: Sequence[float], *,
                   grid: Sequence[int] = (4, 4), boundary: str = "valid",
                   window: str = "linear") -> SpaceVaryingBlur:
    """Operator of a foreground object moving differently from the background.

    Parameters
    ----------
    psf_background, psf_foreground : array
        Kernels of the two layers (e.g. camera shake and the object's own motion).
    box : (top, left, bottom, right)
        The foreground region as fractions of the scene height / width in [0, 1]
        (the operator then applies to a scene of any size).
    grid : (int, int)
        Tiles per axis; tiles whose centre lies inside ``box`` take the foreground PSF.
    boundary, window
        As in :class:`SpaceVaryingBlur`.

    Returns
    -------
    SpaceVaryingBlur

    Notes
    -----
    A tile-grid approximation of the layered model: the transition between the two
    kernels spreads over one tile (no occlusion boundary is modelled).

    Examples
    --------
    >>> from hybrid_deblur.psf import disk, linear_motion
    >>> from hybrid_deblur.physics.space_varying import two_layer_blur
    >>> op = two_layer_blur(disk(1), linear_motion(9, 0), (0.25, 0.25, 0.75, 0.75))
    >>> op.grid, op.ksize
    ((4, 4), (11, 11))
    """
    top, left, bottom, right = (float(v) for v in box)
    if not (0 <= top < bottom <= 1 and 0 <= left < right <= 1):
        raise ValueError(f"box={tuple(box)!r} must be (top, left, bottom, right) fractions with "
                         "0 <= top < bottom <= 1 and 0 <= left < right <= 1")
    gy, gx = (int(v) for v in grid)
    bg = np.asarray(B.to_numpy(psf_background), np.float64)
    fg = np.asarray(B.to_numpy(psf_foreground), np.float64)
    psfs = []
    for i in range(gy):
        for j in range(gx):
            cy, cx = (i + 0.5) / gy, (j + 0.5) / gx
            inside = top <= cy <= bottom and left <= cx <= right
            psfs.append(fg if inside else bg)
    return SpaceVaryingBlur(_common_stack(psfs, (gy, gx)), boundary, window=window)


def depth_defocus_blur(depth: Any, *, focus: float, max_radius: float, grid: Sequence[int] = (4, 4),
                       boundary: str = "valid", window: str = "linear") -> SpaceVaryingBlur:
    """Operator of a defocus that grows with the distance from the focal plane.

    Parameters
    ----------
    depth : array, shape (H, W)
        Scene depth on any scale; normalised to [0, 1] by its range.
    focus : float
        Depth of the focal plane on the normalised [0, 1] scale.
    max_radius : float
        Disk radius (px) at the normalised depth farthest from ``focus`` that the
        scale allows (``|d - focus| = max(focus, 1 - focus)``).
    grid, boundary, window
        As in :class:`SpaceVaryingBlur`; each tile uses the mean depth of its pixels.

    Returns
    -------
    SpaceVaryingBlur

    Notes
    -----
    Thin-lens defocus: the blur-circle radius is proportional to the distance from
    the focal plane in inverse depth; ``depth`` is taken to be on that scale.

    Examples
    --------
    >>> import numpy as np
    >>> from hybrid_deblur.physics.space_varying import depth_defocus_blur
    >>> ramp = np.linspace(0, 1, 48)[None, :].repeat(32, 0)     # depth grows left to right
    >>> op = depth_defocus_blur(ramp, focus=0.0, max_radius=3, grid=(1, 3))
    >>> op.grid, op.ksize
    ((1, 3), (7, 7))
    """
    from ..psf import disk

    d = np.asarray(B.to_numpy(depth), np.float64)
    if d.ndim != 2 or not np.all(np.isfinite(d)):
        raise ValueError(f"depth must be a finite 2-D array; got shape {d.shape}")
    if not 0 <= focus <= 1:
        raise ValueError(f"focus={focus!r} must lie in [0, 1] (normalised depth)")
    if not max_radius >= 0:
        raise ValueError(f"max_radius={max_radius!r} must be >= 0")
    span = float(d.max() - d.min())
    d = (d - d.min()) / span if span > 0 else np.zeros_like(d)
    gy, gx = (int(v) for v in grid)
    h, w = d.shape
    far = max(focus, 1.0 - focus)
    psfs = []
    for i in range(gy):
        for j in range(gx):
            tile = d[i * h // gy:(i + 1) * h // gy, j * w // gx:(j + 1) * w // gx]
            r = max_radius * abs(float(tile.mean()) - focus) / far if far > 0 else 0.0
            psfs.append(disk(r) if r > 0 else np.ones((1, 1)))
    return SpaceVaryingBlur(_common_stack(psfs, (gy, gx)), boundary, window=window)
