"""The data steps of the blur operator, written once: quadratic solves, Wiener filter, RL update.

Every method of the toolkit that touches the data term goes through these functions
(via the :class:`~hybrid_deblur.physics.Blur` methods ``prox_data``, ``solve_normal``,
``wiener`` and ``rl_update``): the classical solvers, the blind estimators' latent step
and the unrolled networks' data-consistency layers.

The quadratic data step solves

.. math:: (A^T A + \\mu I + \\gamma R^T R)\\, x = A^T y + \\mu z + r

for the operator :math:`A` of a :class:`Blur` (any boundary), a periodic regulariser
:math:`R` (``"gradient"``: forward differences, ``"laplacian"``, ``"identity"``) and an
optional extra right-hand side :math:`r`. ``circular``: one FFT division (exact).
``valid``: the unknown lives on the operator's FFT grid (``Blur.fft_shape``), whose
samples beyond the scene are free unknowns that no pixel observes (they follow ``z``
and, with a regulariser, continue the scene periodically without a seam); the normal
equations are solved by conjugate gradients preconditioned by the circular solve on that
grid (``method="cg"``), or by majorise-minimise steps (``method="mm"``: the unobserved
samples of the blurred image are filled with the model, one FFT division per step; one
step from ``z`` is the classic boundary-safe HQS x-step of the unrolled networks).
``reflect`` / ``replicate`` / ``zero``: conjugate gradients on the true normal equations
with the circular solve on the image grid as preconditioner.

Examples
--------
>>> import numpy as np
>>> from hybrid_deblur.physics import Blur
>>> rng = np.random.default_rng(0)
>>> A = Blur(np.ones((5, 5)) / 25, "valid")
>>> y = A(rng.random((40, 40)))
>>> z = np.full((40, 40), 0.5)
>>> x = A.prox_data(z, y, 0.01)
>>> g = A.AT(A(x) - y) + 0.01 * (x - z)          # gradient of the objective at x
>>> bool(np.abs(g).max() < 1e-6)
True
"""

from __future__ import annotations

from typing import Any

import numpy as np

from .. import backend as B

__all__ = [
    "REGULARIZERS",
    "default_tol",
    "frequency_power",
    "lead_column",
    "rl_update",
    "solve_normal",
    "wiener_filter",
]

#: periodic regularisers :math:`R` known to the quadratic solve
REGULARIZERS = ("identity", "gradient", "laplacian")


# ----------------------------------------------------------------------------- helpers
def _axes(nd):
    return tuple(range(-nd, 0))


def _abs2(H):
    return H.real * H.real + H.imag * H.imag


def _real_dtype(like):
    if B.is_torch(like):
        import torch

        if like.is_complex():
            return torch.float64 if like.dtype == torch.complex128 else torch.float32
        return like.dtype
    dt = np.dtype(like.dtype)
    return np.dtype(np.float64) if dt in (np.complex128, np.float64) else np.dtype(np.float32)


def frequency_power(reg: str, grid, like: Any):
    """:math:`|R(f)|^2` of a periodic regulariser on the rfft layout of ``grid``.

    ``"identity"``: 1.0 (a Python float). ``"gradient"``: :math:`\\sum_i (2 - 2\\cos\\omega_i)`
    (the forward differences). ``"laplacian"``: its square (the discrete Laplacian's OTF,
    scikit-image's default ``reg``). Returned in the library, device and real dtype of
    ``like``.

    Examples
    --------
    >>> import numpy as np
    >>> from hybrid_deblur.physics.datastep import frequency_power
    >>> P = frequency_power("gradient", (4, 4), np.zeros(1))
    >>> P.shape, float(P[0, 0]), float(P[2, 2])
    ((4, 3), 0.0, 8.0)
    """
    if not isinstance(reg, str) or reg not in REGULARIZERS:
        raise ValueError(f"reg={reg!r} is not supported; accepted: "
                         f"{', '.join(map(repr, REGULARIZERS))}")
    if reg == "identity":
        return 1.0
    grid = tuple(int(v) for v in grid)
    nd = len(grid)
    d2 = 0.0
    for i, g in enumerate(grid):
        f = np.fft.rfftfreq(g) if i == nd - 1 else np.fft.fftfreq(g)
        shape = [1] * nd
        shape[i] = f.size
        d2 = d2 + (2.0 - 2.0 * np.cos(2 * np.pi * f)).reshape(shape)
    d2 = d2 * d2 if reg == "laplacian" else d2
    return B.asarray_like(d2, like, dtype=_real_dtype(like))


def lead_column(v: Any, like: Any, ndim: int, *, name: str = "mu"):
    """A scalar (returned as float) or one value per leading item, shaped to broadcast.

    ``v`` of shape ``lead`` (the leading axes of the images, or a prefix of them: one value
    per batch item) is padded with singleton axes on the right so that it broadcasts
    against ``like``, in the library/device/dtype of ``like``; torch tensors keep their
    graph.
    """
    if isinstance(v, (int, float, np.floating, np.integer)) and not isinstance(v, bool):
        return float(v)
    if B.is_torch(v) or B.is_cupy(v):
        a = B.asarray_like(v, like, dtype=_real_dtype(like))
    else:
        a = np.asarray(v, dtype=np.float64)
        if a.ndim == 0:
            return float(a)
        a = B.asarray_like(a, like, dtype=_real_dtype(like))
    if a.ndim == 0:
        return a
    if a.ndim >= like.ndim:
        return a
    # leading axes are matched from the left (batch first): (B,) on (B, C, H, W) -> (B, 1, 1, 1)
    return a.reshape(tuple(a.shape) + (1,) * (like.ndim - a.ndim))


def _check_nonneg(name, v):
    chk = B.to_numpy(v) if not isinstance(v, float) else np.asarray(v)
    if not np.all(np.isfinite(chk)) or np.any(chk < 0):
        raise ValueError(f"{name} must be finite and >= 0, got {v!r}")


def _dot(a, b, nd):
    """Per-leading-item inner product over the trailing ``nd`` axes, kept broadcastable."""
    dims = _axes(nd)
    if B.is_torch(a):
        return (a * b).sum(dim=dims, keepdim=True)
    return (a * b).sum(axis=dims, keepdims=True)


def _where(c, a, b):
    if B.is_torch(c):
        import torch

        return torch.where(c, a, b)
    return B.namespace(c).where(c, a, b)


def default_tol(dtype) -> float:
    """Relative residual at which the iterative solves stop: 1e-9 (float64), 1e-6 (float32)."""
    s = str(dtype)
    return 1e-9 if s.endswith(("float64", "complex128")) else 1e-6


def _floor(den, like):
    """Keep a spectral denominator away from 0 (no NaN/inf from a zero parameter)."""
    tiny = 1e-12 if str(_real_dtype(like)).endswith("float64") else 1e-7
    if B.is_torch(den):
        return den.clamp(min=tiny)
    return B.namespace(den).maximum(den, tiny)


# ----------------------------------------------------------------------------- quadratic solve
def solve_normal(op, y: Any, *, mu: Any = 0.0, z: Any = None, reg: str = "identity",
                 reg_weight: Any = 0.0, rhs: Any = None, x0: Any = None, method: str = "cg",
                 tol: float | None = None, maxiter: int | None = None,
                 return_info: bool = False):
    """Solve :math:`(A^TA + \\mu I + \\gamma R^TR)x = A^Ty + \\mu z + r` for a :class:`Blur`.

    See :meth:`hybrid_deblur.physics.Blur.solve_normal` (the public entry point).
    """
    nd = op.ndim
    y = op._check_input(y, "y")
    if method not in ("cg", "mm"):
        raise ValueError(f"method={method!r} is not supported; accepted: 'cg', 'mm'")
    if method == "mm" and op.boundary not in ("valid", "circular"):
        raise ValueError(f"method='mm' needs boundary 'valid' or 'circular' (a majoriser of "
                         f"the data term); got boundary={op.boundary!r}: use method='cg'")
    ny = tuple(int(v) for v in y.shape[-nd:])
    nin = op.input_shape(ny)
    work = op.fft_shape(nin) if op.boundary == "valid" else nin
    lead = tuple(int(v) for v in y.shape[:-nd])
    mu_v = lead_column(mu, y, nd, name="mu")
    gam = lead_column(reg_weight, y, nd, name="reg_weight")
    if not B.is_torch(mu_v):
        _check_nonneg("mu", mu_v)
    if not B.is_torch(gam):
        _check_nonneg("reg_weight", gam)
    R2 = frequency_power(reg, work, y) if reg != "identity" else None
    if isinstance(gam, float) and gam == 0.0:
        R2 = None

    out_on_grid = False

    def to_work(v, name):
        nonlocal out_on_grid
        if v is None:
            return None
        v = op._check_input(v, name)
        if v.dtype != y.dtype or type(v) is not type(y):
            v = B.asarray_like(v, y)
        sh = tuple(int(s) for s in v.shape[-nd:])
        if sh == tuple(work):
            out_on_grid = out_on_grid or sh != tuple(nin)
            return v
        if sh != tuple(nin):
            raise ValueError(f"{name} must have spatial shape {tuple(nin)} (the operator's "
                             f"input for y of shape {ny}) or the FFT grid {tuple(work)}; "
                             f"got {sh}")
        if tuple(work) == tuple(nin):
            return v
        from .boundary import pad
        return pad(v, [(0, w - n) for w, n in zip(work, nin)], "replicate")

    z_w, rhs_w, x0_w = to_work(z, "z"), to_work(rhs, "rhs"), to_work(x0, "x0")
    H = op.otf(work, like=y)
    H2 = _abs2(H)
    ax = _axes(nd)

    def spectral_den(with_data=True):
        den = H2 + mu_v if with_data else mu_v + 0 * H2
        if R2 is not None:
            den = den + gam * R2
        return _floor(den, y)

    # right-hand side b = A^T y + mu z + r on the work grid
    if op.boundary == "valid":
        offs = [k - 1 - c for k, c in zip(op.ksize, op.center)]
        win = (Ellipsis,) + tuple(slice(o, o + m) for o, m in zip(offs, ny))
        yemb = B.zeros_like_shape(y, lead + tuple(work))
        yemb[win] = y
        ATy = B.irfftn(B.rfftn(yemb, axes=ax) * H.conj(), s=work, axes=ax)
    elif op.boundary == "circular":
        ATy = None
    else:
        ATy = op.AT(y)
    if op.boundary == "circular":
        num = B.rfftn(y, axes=ax) * H.conj()
        if z_w is not None and not (isinstance(mu_v, float) and mu_v == 0.0):
            num = num + mu_v * B.rfftn(z_w, axes=ax)
        if rhs_w is not None:
            num = num + B.rfftn(rhs_w, axes=ax)
        x = B.irfftn(num / spectral_den(), s=work, axes=ax)
        info = {"method": "fft", "iterations": 0, "residual": 0.0}
        return (x, info) if return_info else x
    b = ATy
    if z_w is not None:
        b = b + mu_v * z_w
    if rhs_w is not None:
        b = b + rhs_w

    def apply_M(x):
        if op.boundary == "valid":
            X = B.rfftn(x, axes=ax)
            Kx = B.irfftn(X * H, s=work, axes=ax)
            m = B.zeros_like_shape(Kx, tuple(Kx.shape))
            m[win] = Kx[win]
            S = B.rfftn(m, axes=ax) * H.conj()
            if R2 is not None:
                S = S + (gam * R2) * X
            return B.irfftn(S, s=work, axes=ax) + mu_v * x
        out = op.AT(op.A(x)) + mu_v * x
        if R2 is not None:
            out = out + B.irfftn((gam * R2) * B.rfftn(x, axes=ax), s=work, axes=ax)
        return out

    den = spectral_den()

    def precond(r):
        return B.irfftn(B.rfftn(r, axes=ax) / den, s=work, axes=ax)

    if x0_w is None:
        # start from the observation itself (edge-extended onto the grid for ``valid``), not
        # from the circular solve: with spectral zeros the latter carries huge boundary
        # errors that CG removes only slowly, while every iterate from y stays near y
        x0_w = z_w if z_w is not None else _start_from_y(op, y, ny, work, offs if
                                                         op.boundary == "valid" else None)
    tol = default_tol(y.dtype) if tol is None else float(tol)
    maxiter = (300 if method == "cg" else 1) if maxiter is None else int(maxiter)
    if maxiter < 0:
        raise ValueError(f"maxiter must be a non-negative integer, got {maxiter!r}")
    x, it, res = (_pcg if method == "cg" else _mm)(apply_M, b, precond, x0_w, tol, maxiter, nd)
    if op.boundary == "valid" and not out_on_grid:
        x = x[(Ellipsis,) + tuple(slice(0, n) for n in nin)]
    info = {"method": method, "iterations": it, "residual": res}
    return (x, info) if return_info else x


def _start_from_y(op, y, ny, work, offs):
    """``y`` as the CG start: itself for the padded models, edge-extended onto the grid
    (the observed window at its offsets) for ``valid``."""
    if offs is None:
        return y + 0
    from .boundary import pad
    return pad(y, [(o, w - o - m) for o, w, m in zip(offs, work, ny)], "replicate")


def _scalar(v):
    return float(v.detach().max()) if B.is_torch(v) else float(B.to_numpy(v).max())


def _pcg(apply_M, b, precond, x, tol, maxiter, nd):
    """Preconditioned conjugate gradients, one independent system per leading item.

    Each item stops on its own (relative residual <= ``tol``, or no new best residual in
    25 steps: the dtype's resolution), so a stack of images gives exactly what each image
    gives alone.
    """
    bn = _dot(b, b, nd) ** 0.5
    bn = _where(bn > 0, bn, bn * 0 + 1)
    r = b - apply_M(x)
    resv = _dot(r, r, nd) ** 0.5 / bn
    if _scalar(resv) <= tol or maxiter == 0:
        return x, 0, _scalar(resv)
    zz = precond(r)
    p = zz
    rz = _dot(r, zz, nd)
    it = 0
    best, since = resv, resv * 0
    active = resv > tol
    for it in range(1, maxiter + 1):
        Mp = apply_M(p)
        pMp = _dot(p, Mp, nd)
        ok = (pMp > 0) & active
        a = _where(ok, rz / _where(ok, pMp, pMp * 0 + 1), pMp * 0)
        x = x + a * p
        r = r - a * Mp
        resv = _where(active, _dot(r, r, nd) ** 0.5 / bn, resv)
        improved = resv < best
        best = _where(improved, resv, best)
        since = _where(improved, since * 0, since + 1)
        active = active & (resv > tol) & (since < 25)
        if it == maxiter or not bool(B.to_numpy(active).any()):
            break  # the last step's preconditioned residual would never be used
        zz = precond(r)
        rz_new = _dot(r, zz, nd)
        okr = rz > 0
        beta = _where(okr, rz_new / _where(okr, rz, rz * 0 + 1), rz * 0)
        p = zz + beta * p
        rz = _where(active, rz_new, rz)
    return x, it, _scalar(resv)


def _mm(apply_M, b, precond, x, tol, maxiter, nd):
    """Majorise-minimise steps ``x += P (b - M x)`` (monotone for the valid model)."""
    res = float("nan")
    it = 0
    for it in range(1, maxiter + 1):
        r = b - apply_M(x)
        x = x + precond(r)
        if maxiter > 1:
            bn = _dot(b, b, nd) ** 0.5
            res = _scalar(_dot(r, r, nd) ** 0.5 / _where(bn > 0, bn, bn * 0 + 1))
            if res <= tol:
                break
    return x, it, res


# ----------------------------------------------------------------------------- Wiener
def wiener_filter(op, y: Any, nsr: Any, *, reg: str = "identity", reg_power: Any = None):
    """Circular Wiener / Tikhonov filter of ``y`` on its own grid; see :meth:`Blur.wiener`."""
    nd = op.ndim
    y = op._check_input(y, "y")
    grid = tuple(int(v) for v in y.shape[-nd:])
    ax = _axes(nd)
    H = op.otf(grid, like=y)
    R2 = frequency_power(reg, grid, y) if reg_power is None else reg_power
    if B.is_torch(nsr) or B.is_cupy(nsr) or (np.ndim(nsr) > 0 and np.ndim(nsr) == y.ndim):
        n = nsr if (B.is_torch(nsr) or B.is_cupy(nsr)) else B.asarray_like(
            np.asarray(nsr), y, dtype=_real_dtype(y))
    else:
        n = lead_column(nsr, y, nd, name="nsr")
        if not B.is_torch(n):
            _check_nonneg("nsr", n)
    den = _floor(_abs2(H) + n * R2, y)
    return B.irfftn(B.rfftn(y, axes=ax) * H.conj() / den, s=grid, axes=ax)


# ----------------------------------------------------------------------------- RL
def rl_update(op, x: Any, y: Any, *, weights: Any = None, norm: Any = None, power: Any = 1.0,
              eps: float | None = None):
    """One multiplicative Richardson–Lucy update; see :meth:`Blur.rl_update`."""
    nd = op.ndim
    xp = B.namespace(x)
    if eps is None:
        eps = 1e-12 if str(x.dtype).endswith("float64") else 1e-6
    Ax = op.A(x)
    if B.is_torch(Ax):
        ratio = y / Ax.clamp(min=eps)
    else:
        ratio = y / xp.maximum(Ax, eps)
    if weights is not None:
        ratio = ratio * weights
    c = op.AT(ratio)
    if norm is None:
        w = weights if weights is not None else (y * 0 + 1)
        norm = op.AT(w + 0 * y)
    ok = norm > 0
    u = _where(ok, c / _where(ok, norm, norm * 0 + 1), c * 0 + 1)
    p = lead_column(power, x, nd, name="power")
    if isinstance(p, float) and p == 1.0:
        out = x * u
    else:
        if B.is_torch(u):
            u = u.clamp(min=eps)
            out = x * u.pow(p)
        else:
            out = x * xp.maximum(u, eps) ** p
    return out
