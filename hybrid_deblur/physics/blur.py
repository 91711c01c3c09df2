"""The blur operator: true convolution with explicit boundaries, and its exact adjoint.

One operator serves every method in the toolkit. It runs on NumPy, CuPy and
torch (autograd through image *and* kernel), on 2-D images or N-D stacks, with a
single PSF or one per channel / batch entry.

Examples
--------
>>> import numpy as np
>>> from hybrid_deblur.physics import Blur
>>> k = np.ones((3, 5)) / 15
>>> x = np.random.default_rng(0).random((32, 40))
>>> A = Blur(k, boundary="valid")
>>> A(x).shape                      # the honest model of a photo: output is smaller
(30, 36)
>>> A.AT(A(x)).shape
(32, 40)
>>> A.adjoint_test(x.shape) < 1e-12
True
"""

from __future__ import annotations

import hashlib
from collections import OrderedDict
from collections.abc import Sequence
from typing import Any

import numpy as np

from .. import backend as B
from ..psf.otf import psf2otf, validate_psf
from . import datastep as _ds
from .boundary import check_boundary, pad, pad_adjoint

__all__ = ["Blur", "cached_blur", "clear_operator_cache", "convolve"]


class Blur:
    """Convolution ``y = k * x`` with an explicit boundary model.

    Parameters
    ----------
    psf : array, shape (..., k1, ..., kd)
        Non-negative kernel (normalised to sum 1 unless ``normalize=False``),
        centre at ``k // 2``. Leading axes broadcast against the image's leading
        axes (one PSF per channel or per batch entry). NumPy, CuPy or torch; a
        torch PSF with ``requires_grad`` makes the operator differentiable in it.
    boundary : {"circular", "reflect", "replicate", "zero", "valid"}
        ``circular``: periodic, FFT-exact (synthetic studies). ``reflect`` /
        ``replicate`` / ``zero``: the image is padded (scipy.ndimage modes
        ``reflect`` / ``nearest`` / ``constant``) then linearly convolved; output
        has the input's shape. ``valid``: only pixels that see the whole kernel
        are produced, the output is smaller by ``k - 1`` (a real photo).
    ndim : int
        Number of trailing spatial axes (2 for images, 3 for (z, y, x) stacks).
    normalize : bool
        Divide the PSF by its sum (default True).

    Notes
    -----
    With :math:`c = \\lfloor k/2 \\rfloor`, every mode computes
    :math:`y_i = \\sum_j k_j\\, \\tilde x_{i + c - j}` where :math:`\\tilde x` is
    the boundary extension of :math:`x` (``valid`` mode: the output index is
    offset by ``k - 1 - c`` so that no extension is needed, as in
    ``scipy.signal.convolve2d(x, k, "valid")``). Non-circular modes are computed
    as linear convolutions on a zero-extended FFT grid of fast size, so they are
    exact, not approximations. The adjoint ``AT`` applies the conjugate OTF and
    the adjoint of the padding (a scatter-add). The operator owns its data steps:
    :meth:`prox_data`, :meth:`solve_normal`, :meth:`wiener`, :meth:`rl_update`.

    Examples
    --------
    >>> import numpy as np
    >>> from hybrid_deblur.physics import Blur
    >>> A = Blur(np.ones((3, 3)) / 9, boundary="valid")
    >>> x = np.random.default_rng(0).random((20, 24))
    >>> A(x).shape, A.AT(A(x)).shape
    ((18, 22), (20, 24))
    >>> A.adjoint_test(x.shape) < 1e-12
    True
    >>> A.prox_data(x, A(x), 0.1).shape        # argmin 1/2|Ax - y|^2 + mu/2 |x - z|^2
    (20, 24)
    """

    def __init__(self, psf: Any, boundary: str = "circular", *, ndim: int = 2,
                 normalize: bool = True):
        self.boundary = check_boundary(boundary)
        self.ndim = int(ndim)
        if self.ndim < 1:
            raise ValueError(f"ndim must be >= 1, got {ndim}")
        self.psf = validate_psf(psf, ndim=self.ndim, normalize=normalize)
        self.ksize = tuple(int(v) for v in self.psf.shape[-self.ndim:])
        self.center = tuple(k // 2 for k in self.ksize)
        self._cache: dict = {}

    # ------------------------------------------------------------------ geometry
    @property
    def axes(self) -> tuple[int, ...]:
        return tuple(range(-self.ndim, 0))

    def output_shape(self, shape: Sequence[int]) -> tuple[int, ...]:
        """Spatial shape of ``A(x)`` for an input of spatial ``shape``."""
        shape = tuple(int(v) for v in shape)[-self.ndim:]
        if self.boundary == "valid":
            return tuple(n - k + 1 for n, k in zip(shape, self.ksize))
        return shape

    def input_shape(self, shape: Sequence[int]) -> tuple[int, ...]:
        """Spatial shape of ``AT(y)`` for ``y`` of spatial ``shape``."""
        shape = tuple(int(v) for v in shape)[-self.ndim:]
        if self.boundary == "valid":
            return tuple(n + k - 1 for n, k in zip(shape, self.ksize))
        return shape

    def _pads(self):
        return [(k - 1 - c, c) for k, c in zip(self.ksize, self.center)]

    def fft_shape(self, shape: Sequence[int]) -> tuple[int, ...]:
        """FFT grid used for an input of spatial ``shape`` (fast sizes, no wrap-around)."""
        shape = tuple(int(v) for v in shape)[-self.ndim:]
        if self.boundary == "circular":
            return shape
        if self.boundary == "valid":
            return B.next_fast_shape(shape)
        return B.next_fast_shape([n + k - 1 for n, k in zip(shape, self.ksize)])

    # ------------------------------------------------------------------ OTF cache
    def otf(self, shape: Sequence[int], like: Any = None):
        """OTF of the PSF on the spatial grid ``shape`` (cached per shape, dtype, device).

        ``like`` gives the library/device/dtype; by default the PSF's own.
        """
        shape = tuple(int(v) for v in shape)
        ref = self.psf if like is None else like
        psf = self.psf
        if like is not None and (type(like) is not type(psf) or B.device_key(like) != B.device_key(psf)
                                 or like.dtype != psf.dtype):
            psf = B.asarray_like(psf, like)
        grad = B.is_torch(psf) and psf.requires_grad
        key = (shape, str(ref.dtype), B.device_key(ref), type(ref).__module__.split(".")[0])
        if not grad and key in self._cache:
            return self._cache[key]
        H = psf2otf(psf, shape, ndim=self.ndim)
        if not grad:
            self._cache[key] = H
        return H

    def _check_input(self, x: Any, name: str = "x"):
        x = B.as_float(x, name=name)
        if x.ndim < self.ndim:
            raise ValueError(
                f"{name} must have at least {self.ndim} axes (spatial axes last); "
                f"got shape {tuple(x.shape)}"
            )
        lead_p = tuple(int(v) for v in self.psf.shape[:-self.ndim])
        lead_x = tuple(int(v) for v in x.shape[:-self.ndim])
        if lead_p and (len(lead_p) > len(lead_x) or any(
                p != 1 and p != q for p, q in zip(lead_p[::-1], lead_x[::-1]))):
            raise ValueError(
                f"the PSF stack has leading shape {lead_p} (one PSF per channel / batch item) "
                f"but {name} has leading shape {lead_x} (shape {tuple(x.shape)}); give one "
                f"PSF, or one per channel: the PSF's leading axes must match or be 1"
            )
        return x

    def _conv(self, x, grid, conj: bool = False):
        H = self.otf(grid, like=x)
        X = B.rfftn(x, s=grid, axes=self.axes)
        Y = X * (H.conj() if conj else H)
        return B.irfftn(Y, s=grid, axes=self.axes)

    # ------------------------------------------------------------------ operator
    def A(self, x: Any):
        """Apply the blur: ``k * x`` under this operator's boundary model."""
        x = self._check_input(x)
        shape = tuple(int(v) for v in x.shape[-self.ndim:])
        if any(k > n for k, n in zip(self.ksize, shape)):
            raise ValueError(f"psf of shape {self.ksize} is larger than the image {shape}")
        if self.boundary == "circular":
            return self._conv(x, shape)
        grid = self.fft_shape(shape)
        if self.boundary == "valid":
            z = self._conv(x, grid)
            out = self.output_shape(shape)
            return z[(...,) + tuple(slice(k - 1 - c, k - 1 - c + m)
                                    for k, c, m in zip(self.ksize, self.center, out))]
        pads = self._pads()
        xp = pad(x, pads, self.boundary)
        z = self._conv(xp, grid)
        return z[(...,) + tuple(slice(lft, lft + n) for (lft, _), n in zip(pads, shape))]

    __call__ = A

    def AT(self, y: Any):
        """Apply the adjoint (correlation with the PSF, then the boundary's adjoint)."""
        y = self._check_input(y, "y")
        shape = tuple(int(v) for v in y.shape[-self.ndim:])
        if self.boundary == "circular":
            return self._conv(y, shape, conj=True)
        lead = tuple(int(v) for v in y.shape[:-self.ndim])
        insh = self.input_shape(shape)
        grid = self.fft_shape(insh)
        if self.boundary == "valid":
            offs = [k - 1 - c for k, c in zip(self.ksize, self.center)]
            emb = B.zeros_like_shape(y, lead + grid)
            emb[(...,) + tuple(slice(o, o + m) for o, m in zip(offs, shape))] = y
            z = self._conv(emb, grid, conj=True)
            return z[(...,) + tuple(slice(0, n) for n in insh)]
        pads = self._pads()
        emb = B.zeros_like_shape(y, lead + grid)
        emb[(...,) + tuple(slice(lft, lft + n) for (lft, _), n in zip(pads, shape))] = y
        z = self._conv(emb, grid, conj=True)
        padded = tuple(n + k - 1 for n, k in zip(shape, self.ksize))
        z = z[(...,) + tuple(slice(0, m) for m in padded)]
        return pad_adjoint(z, pads, self.boundary, shape)

    def AtA(self, x: Any):
        """``AT(A(x))``; for circular blur a single multiplication by ``|H|^2``."""
        if self.boundary == "circular":
            x = self._check_input(x)
            shape = tuple(int(v) for v in x.shape[-self.ndim:])
            H = self.otf(shape, like=x)
            X = B.rfftn(x, axes=self.axes)
            return B.irfftn(X * (H.real ** 2 + H.imag ** 2), s=shape, axes=self.axes)
        return self.AT(self.A(x))

    # ------------------------------------------------------------------ data steps
    def prox_data(self, z: Any, y: Any, mu: Any, *, x0: Any = None, method: str = "cg",
                  tol: float | None = None, maxiter: int | None = None,
                  return_info: bool = False):
        """Proximal data step :math:`\\arg\\min_x \\tfrac12\\|Ax-y\\|^2 + \\tfrac\\mu2\\|x-z\\|^2`.

        Parameters
        ----------
        z : array, the operator's input shape
            Centre of the proximal term (for ``valid``: larger than ``y`` by ``k - 1``
            per axis). For ``valid`` it may also be given on the FFT grid
            ``fft_shape(input_shape)``; ``x`` is then returned on that grid (its extra
            samples are unobserved and equal ``z`` there at the solution).
        y : array, the operator's output shape
            Observation.
        mu : float or array
            Penalty weight :math:`\\mu \\ge 0`: a scalar, or one value per leading
            item (shape of ``y``'s leading axes; a torch tensor keeps its graph).
        x0 : array, optional
            Warm start of the iterative solves (default ``z``).
        method : {"cg", "mm"}
            Iterative solver for the non-circular boundaries: preconditioned conjugate
            gradients (default, exact to ``tol``), or majorise-minimise steps
            (``valid`` only; one step from ``z`` = the classic masked HQS x-step).
        tol : float, optional
            Relative residual of the normal equations (default 1e-9 in float64,
            1e-6 in float32).
        maxiter : int, optional
            Iteration cap (default 300 for ``cg``, 1 for ``mm``). Unrolled networks may
            fix a small count (``tol=0``) so that every forward pass costs the same.
        return_info : bool
            Also return ``{"method", "iterations", "residual"}``.

        Returns
        -------
        x : array (and ``info``)

        Notes
        -----
        ``x`` solves :math:`(A^TA + \\mu I)x = A^Ty + \\mu z`. ``circular``: one FFT
        division, :math:`X = (\\bar H Y + \\mu Z) / (|H|^2 + \\mu)` (exact).
        Otherwise conjugate gradients on the true normal equations, preconditioned by
        that circular solve (:mod:`hybrid_deblur.physics.datastep`). NumPy, CuPy and
        torch; differentiable in ``z``, ``y`` and ``mu`` with torch (autograd through
        the iterations). Denominators are floored, so ``mu = 0`` never gives NaN.

        Examples
        --------
        >>> import numpy as np
        >>> from hybrid_deblur.physics import Blur
        >>> A = Blur(np.ones((3, 3)) / 9, "circular")
        >>> y = np.random.default_rng(0).random((16, 16))
        >>> x = A.prox_data(y, y, 0.1)
        >>> bool(np.allclose(A.AtA(x) + 0.1 * x, A.AT(y) + 0.1 * y))
        True
        """
        return _ds.solve_normal(self, y, mu=mu, z=z, x0=x0, method=method, tol=tol,
                                maxiter=maxiter, return_info=return_info)

    def solve_normal(self, y: Any, *, mu: Any = 0.0, z: Any = None, reg: str = "identity",
                     reg_weight: Any = 0.0, rhs: Any = None, x0: Any = None,
                     method: str = "cg", tol: float | None = None, maxiter: int | None = None,
                     return_info: bool = False):
        """Exact quadratic data step :math:`(A^TA + \\mu I + \\gamma R^TR)x = A^Ty + \\mu z + r`.

        The general form behind :meth:`prox_data` (``reg_weight = 0``), Tikhonov
        (``mu = 0``, ``reg``/``reg_weight`` = the regulariser and :math:`\\lambda`) and
        the x-step of gradient-split HQS (``rhs`` = :math:`\\gamma D^T w`).
        ``reg`` is periodic on the solve grid (``"identity"``, ``"gradient"``,
        ``"laplacian"``); the other parameters are those of :meth:`prox_data`.

        Examples
        --------
        >>> import numpy as np
        >>> from hybrid_deblur.physics import Blur
        >>> A = Blur(np.ones((3, 3)) / 9, "zero")
        >>> y = np.random.default_rng(0).random((20, 20))
        >>> x = A.solve_normal(y, reg="gradient", reg_weight=1e-2)
        >>> x.shape
        (20, 20)
        """
        return _ds.solve_normal(self, y, mu=mu, z=z, reg=reg, reg_weight=reg_weight, rhs=rhs,
                                x0=x0, method=method, tol=tol, maxiter=maxiter,
                                return_info=return_info)

    def wiener(self, y: Any, nsr: Any, *, reg: str = "identity", reg_power: Any = None):
        """Wiener / Tikhonov filter :math:`\\bar H Y / (|H|^2 + \\mathrm{nsr}\\,|R|^2)` on ``y``'s grid.

        The circular (periodic) filter, the one closed-form deconvolution of the
        toolkit: :func:`hybrid_deblur.solvers.wiener` / ``tikhonov`` extend ``y`` onto
        a larger grid and call it, the learned Wiener layers call it on feature maps.
        ``nsr``: scalar, one value per leading item, or an array broadcasting on the
        rfft grid; ``reg_power`` overrides :math:`|R|^2` (else from ``reg``).
        The denominator is floored, so ``nsr = 0`` never gives NaN.

        Examples
        --------
        >>> import numpy as np
        >>> from hybrid_deblur.physics import Blur
        >>> A = Blur(np.ones((3, 3)) / 9, "circular")
        >>> x = np.random.default_rng(0).random((16, 16))
        >>> bool(np.allclose(A.wiener(A(x), 1e-12), x, atol=1e-3))
        True
        """
        return _ds.wiener_filter(self, y, nsr, reg=reg, reg_power=reg_power)

    def rl_update(self, x: Any, y: Any, *, weights: Any = None, norm: Any = None,
                  power: Any = 1.0, eps: float | None = None):
        """One Richardson–Lucy step :math:`x\\,[A^T(w\\,y / Ax) / A^Tw]^{p}`.

        ``weights`` :math:`w` (default 1) marks observed / trusted pixels, ``norm`` may
        pass a precomputed :math:`A^Tw`, ``power`` :math:`p` is the relaxation exponent
        (1 = plain RL; a scalar or one per leading item, learned in unrolled RL).
        Divisions are guarded by ``eps`` (dtype-relative default).

        Examples
        --------
        >>> import numpy as np
        >>> from hybrid_deblur.physics import Blur
        >>> A = Blur(np.ones((3, 3)) / 9, "circular")
        >>> y = A(np.random.default_rng(0).random((16, 16)) + 0.1)
        >>> x1 = A.rl_update(np.full((16, 16), y.mean()), y)
        >>> bool(np.isclose(x1.sum(), y.sum()))      # RL preserves flux
        True
        """
        return _ds.rl_update(self, x, y, weights=weights, norm=norm, power=power, eps=eps)

    def adjoint_test(self, shape: Sequence[int] | None = None, *, dtype=np.float64,
                     seed: int = 0, like: Any = None) -> float:
        """Relative error of ``<A x, y> - <x, A^T y>`` for random ``x``, ``y``.

        Parameters
        ----------
        shape : sequence of int, optional
            Input shape (default: 4 x the kernel size on each spatial axis, plus
            the PSF's leading axes).
        like : array, optional
            Run the test in this array's library/device (default: NumPy).
        """
        if shape is None:
            shape = tuple(int(v) for v in self.psf.shape[:-self.ndim]) + tuple(
                4 * k + 3 for k in self.ksize)
        rng = np.random.default_rng(seed)
        x = rng.standard_normal(tuple(shape)).astype(dtype)
        y = rng.standard_normal(tuple(shape[:-self.ndim]) + self.output_shape(shape)).astype(dtype)
        if like is not None:
            x, y = B.asarray_like(x, like, dtype=like.dtype), B.asarray_like(y, like, dtype=like.dtype)
        Ax, ATy = self.A(x), self.AT(y)
        lhs = float((Ax * y).sum())
        rhs = float((x * ATy).sum())
        scale = float(np.sqrt(float((Ax * Ax).sum()) * float((y * y).sum())))
        return abs(lhs - rhs) / max(scale, 1e-300)

    def __repr__(self) -> str:
        return f"Blur(ksize={self.ksize}, boundary={self.boundary!r}, ndim={self.ndim})"


def convolve(x: Any, psf: Any, boundary: str = "reflect", *, ndim: int = 2):
    """Convenience wrapper: ``Blur(psf, boundary, ndim=ndim).A(x)``."""
    return Blur(psf, boundary, ndim=ndim).A(x)


_OPS: OrderedDict[tuple, Blur] = OrderedDict()
_OPS_MAX = 4


def cached_blur(psf: Any, ndim: int = 2) -> Blur:
    """A circular :class:`Blur` of a (validated, normalised) ``psf``, reused across calls.

    Operators cache their OTF per grid, so repeated solves with one NumPy PSF (video
    frames, tiles, benchmarks) skip the PSF transform; at most 4 PSFs are kept
    (:func:`clear_operator_cache` empties the cache). Other libraries get a fresh operator.
    """
    if not isinstance(psf, np.ndarray) or psf.size > 1 << 16:
        return Blur(psf, boundary="circular", ndim=ndim, normalize=False)
    key = (psf.shape, psf.dtype.str, ndim, hashlib.sha1(np.ascontiguousarray(psf)).hexdigest())
    op = _OPS.get(key)
    if op is None:
        op = Blur(psf.copy(), boundary="circular", ndim=ndim, normalize=False)
        _OPS[key] = op
        while len(_OPS) > _OPS_MAX:
            _OPS.popitem(last=False)
    else:
        _OPS.move_to_end(key)
    return op


def clear_operator_cache() -> None:
    """Forget the operators (and their OTFs) kept by :func:`cached_blur`."""
    _OPS.clear()
