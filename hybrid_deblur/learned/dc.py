"""Data-consistency layers of the unrolled networks, on the shared physics.

Nothing here re-derives a data step: every step is a method of the
:class:`~hybrid_deblur.physics.Blur` operator, the same code the classical solvers run.
The image step *is* :meth:`Blur.prox_data` (``circular``: exact FFT solve; masked: one
majorise-minimise step, ``method="mm"``, or the engine's PnP data step, a few preconditioned
conjugate-gradient iterations, ``method="cg"``), the Wiener layers call :meth:`Blur.wiener`, the RL
step *is* :meth:`Blur.rl_update` (with the learned relaxation exponent as ``power``). The
geometry of the boundary-safe problem and the initial padding come from
:mod:`hybrid_deblur.physics.geometry`.

Boundary handling (``boundary=``)

``"circular"``
    ``y = k ⊛ x`` periodic: the classical closed-form HQS image step.
``"auto"`` / ``"valid"`` (and ``"reflect"``/``"replicate"``/``"zero"``, treated as ``"auto"``)
    ``y`` is the *valid* part of the blur of a larger scene (a real photo). The scene lives
    on a periodic grid of fast size ``>= n + k - 1``; only the observed pixels carry data
    (mask :math:`M`). With ``solver="mm"`` each image step is one majorise-minimise step:
    the unobserved samples of the blurred image are filled with :math:`K z` (the current
    estimate), which makes the masked least-squares term a circular one that touches the
    true one at :math:`z`, so the step stays a single closed-form FFT division and never
    rings at the border. With ``solver="cg"`` it is the engine's plug-and-play data step:
    conjugate gradients on the masked normal equations, preconditioned by that circular
    solve and warm-started at :math:`z` (one MM step left the few DPIR steps far from the
    data term's minimiser: 0.6-2.5 dB in PnP). ``"auto"`` returns the observed frame,
    ``"valid"`` the whole scene.

Examples
--------
>>> import torch
>>> from hybrid_deblur.learned.dc import DataTerm
>>> y = torch.rand(1, 1, 40, 40, dtype=torch.float64)
>>> k = torch.ones(5, 5, dtype=torch.float64) / 25
>>> dt = DataTerm(y, k, boundary="auto")
>>> x = dt.x_step(dt.init(), torch.tensor([0.01], dtype=torch.float64))
>>> dt.crop(x).shape
torch.Size([1, 1, 40, 40])
"""

from __future__ import annotations

from typing import Any

import numpy as np
import torch

from .. import backend as B
from ..physics import geometry as G
from ..physics.blur import Blur
from ..physics.boundary import check_boundary

__all__ = ["LEARNED_BOUNDARIES", "DataTerm", "rl_step"]

#: boundaries accepted by the learned models
LEARNED_BOUNDARIES = ("auto", "valid", "circular", "reflect", "replicate", "zero")


class DataTerm:
    """The observation model of one batch: geometry, OTF, mask and the image steps.

    Parameters
    ----------
    y : torch.Tensor, shape (B, C, h, w)
        Observations (linear light).
    psf : torch.Tensor, shape (kh, kw), (B, 1, kh, kw) or (B, C, kh, kw)
        Blur kernels (normalised to sum 1 here); may require grad.
    boundary : str
        One of :data:`LEARNED_BOUNDARIES` (see the module notes).
    """

    def __init__(self, y: torch.Tensor, psf: Any, boundary: str = "auto"):
        check_boundary(boundary, allowed=LEARNED_BOUNDARIES)
        if not torch.is_tensor(y) or y.ndim != 4:
            raise ValueError(f"y must be a torch tensor of shape (B, C, H, W), got "
                             f"{type(y).__name__} of shape {tuple(getattr(y, 'shape', ()))}")
        psf = torch.as_tensor(psf) if not torch.is_tensor(psf) else psf
        psf = psf.to(device=y.device, dtype=y.dtype)
        if psf.ndim == 2:
            psf = psf[None, None]
        elif psf.ndim == 3:
            psf = psf[:, None]
        self.y = y
        self.boundary = boundary
        self.masked = boundary != "circular"
        self.op = Blur(psf, boundary="circular")
        self.psf = self.op.psf
        # the data model whose prox the image step is (valid: on the FFT grid of the scene)
        self.model = Blur(self.psf, boundary="circular" if boundary == "circular" else "valid",
                          normalize=False)
        n = tuple(int(v) for v in y.shape[-2:])
        if any(k > m for k, m in zip(self.op.ksize, n)):
            raise ValueError(f"psf of shape {self.op.ksize} is larger than the image {n}")
        if self.masked:
            self.geom = G.masked_geometry(n, self.op.ksize, "valid" if boundary == "valid" else "auto")
        else:
            self.geom = G.circular_geometry(n)
        self.grid = tuple(self.geom.grid)
        self.H = self.op.otf(self.grid, like=y)
        if self.masked:
            self.y_emb = G.embed(y, self.grid, self.geom.y_offset)
            mask = torch.zeros(self.grid, dtype=y.dtype, device=y.device)
            mask[G.region(self.geom.y_offset, n)] = 1.0
            self.mask = mask
        else:
            self.y_emb, self.mask = y, None

    # ---------------------------------------------------------------- helpers
    def fft(self, x):
        return B.rfftn(x, axes=(-2, -1))

    def ifft(self, X):
        return B.irfftn(X, s=self.grid, axes=(-2, -1))

    def init(self) -> torch.Tensor:
        """Starting image on the grid: ``y`` reflect-extended and edge-tapered (solvers' padding)."""
        if not self.masked:
            return self.y
        return G.pad_observation(self.y, self.geom, self.op, mode="reflect", taper=True)

    def observation_init(self) -> torch.Tensor:
        """Starting image on the grid: ``y`` edge-replicated (no taper), the start of the
        engine's :class:`~hybrid_deblur.solvers.HQS` (and so of ``pnp_drunet``)."""
        if not self.masked:
            return self.y
        return G.pad_observation(self.y, self.geom, self.op, mode="replicate", taper=False)

    def wiener_init(self, sigma: torch.Tensor) -> torch.Tensor:
        """Starting image on the grid: the classical :func:`hybrid_deblur.solvers.wiener`.

        Its automatic, frequency-dependent NSR (a :math:`1/f^2` image model fitted to
        ``y``) makes the untrained unrolled network start from a good classical
        solution. Masked problems use ``boundary="valid"`` (the whole scene) and the
        few extra grid samples are filled by replicating the scene's edge.
        """
        from ..physics.boundary import pad
        from ..solvers import wiener

        sig = sigma.detach().to("cpu", torch.float64).numpy()
        sig = sig.reshape(-1, 1) if sig.ndim == 1 else sig
        sig = np.broadcast_to(sig, tuple(int(v) for v in self.y.shape[:-2])).copy()
        if not self.masked:
            return wiener(self.y, self.psf, boundary="circular", sigma=sig)
        # the fast FFT filter (one division, differentiable, exactly per channel), its
        # observed frame edge-extended onto the grid
        x = wiener(self.y, self.psf, boundary="extend", sigma=sig)
        off = self.geom.y_offset
        extra = [(o, g - o - n) for o, g, n in zip(off, self.grid, x.shape[-2:])]
        return pad(x, extra, "replicate") if any(a or b for a, b in extra) else x

    def classical_init(self, sigma: torch.Tensor, method: str = "wiener") -> torch.Tensor:
        """Starting image on the grid from a classical solver (no gradient through it).

        ``"wiener"``: :meth:`wiener_init` (differentiable). ``"hqs-hl"``:
        :func:`hybrid_deblur.solvers.hqs_hl` (hyper-Laplacian prior, λ from each sample's σ),
        run per image under ``torch.no_grad``; the scene estimate is put on the grid as in
        :meth:`wiener_init`.
        """
        if method == "wiener":
            return self.wiener_init(sigma)
        if method != "hqs-hl":
            raise ValueError(f"init={method!r} is not supported; accepted: 'wiener', 'hqs-hl'")
        from ..physics.boundary import pad
        from ..solvers import hqs_hl

        sig = sigma.detach().to("cpu", torch.float64).reshape(-1).numpy()
        b, c = int(self.y.shape[0]), int(self.y.shape[1])
        outs = []
        with torch.no_grad():
            for i in range(b):
                p = self.psf[i if self.psf.shape[0] > 1 else 0]
                s = float(sig[i] if sig.size > 1 else sig[0])
                outs.append(hqs_hl(self.y[i], p if p.shape[0] == c else p.expand(c, *p.shape[-2:]),
                                   boundary="valid" if self.masked else "circular",
                                   sigma=max(s, 1e-3)))
        x = torch.stack(outs).to(self.y.dtype)
        if not self.masked:
            return x
        extra = [(0, g - n) for g, n in zip(self.grid, x.shape[-2:])]
        return pad(x, extra, "replicate") if any(e for _, e in extra) else x

    def crop(self, x: torch.Tensor) -> torch.Tensor:
        """The returned region of a grid image (observed frame, or scene for ``valid``)."""
        return x if not self.masked else self.geom.crop(x)

    def crop_observed(self, x: torch.Tensor) -> torch.Tensor:
        """The part of a grid image aligned with ``y`` (for losses)."""
        if not self.masked:
            return x
        return x[G.region(self.geom.y_offset, self.y.shape[-2:])]

    def blur(self, x: torch.Tensor) -> torch.Tensor:
        """Circular blur on the grid."""
        return self.ifft(self.fft(x) * self.H)

    def filled_y(self, z: torch.Tensor, Z=None):
        """Observation on the grid, unobserved samples filled with ``K z`` (MM step)."""
        if not self.masked:
            return self.y
        Z = self.fft(z) if Z is None else Z
        Kz = self.ifft(Z * self.H)
        return self.y_emb + (1 - self.mask) * Kz

    # ---------------------------------------------------------------- steps
    def x_step(self, z: torch.Tensor, alpha: Any, *, solver: str = "mm",
               iters: int | None = None) -> torch.Tensor:
        """HQS image step :math:`\\arg\\min_x \\|Kx - y\\|^2 + \\alpha\\|x - z\\|^2`.

        ``alpha`` is a scalar or one value per sample (shape (B,) or (B, C)).
        Circular: exact, it *is* :meth:`Blur.prox_data`. Masked: the same operator
        method on the ``valid`` model, warm-started at ``z`` like the engine's HQS:
        ``solver="mm"`` one majorise-minimise step (the filled observation, see the module
        notes; ``iters`` ignored), ``"cg"`` preconditioned conjugate gradients with at most
        ``iters`` iterations (default :data:`hybrid_deblur.solvers.hqs.PNP_DATA_ITERS`) and
        the engine's default tolerance — the data step of ``pnp_drunet``; autograd runs
        through the iterations.
        """
        if not self.masked:
            return self.model.prox_data(z, self.y, alpha)
        if solver == "mm":
            return self.model.prox_data(z, self.y, alpha, method="mm", maxiter=1)
        if solver != "cg":
            raise ValueError(f"solver={solver!r} is not supported; accepted: 'mm', 'cg'")
        if iters is None:
            from ..solvers.hqs import PNP_DATA_ITERS

            iters = PNP_DATA_ITERS
        return self.model.prox_data(z, self.y, alpha, method="cg", maxiter=int(iters))

    def wiener(self, f: torch.Tensor, nsr: Any) -> torch.Tensor:
        """Wiener deconvolution of grid images / feature maps ``f`` with ``nsr`` (broadcasts)."""
        return self.op.wiener(f, nsr)


def rl_step(x: torch.Tensor, y: torch.Tensor, op: Blur, norm: torch.Tensor, *,
            damping: Any = 1.0, eps: float = 1e-6) -> torch.Tensor:
    """One (damped) Richardson-Lucy step on the ``valid`` model.

    :math:`x \\leftarrow x \\cdot u^{d}`, :math:`u = K^T(y / (K x)) / K^T 1`; ``d`` = ``damping``
    in (0, 1] per sample (``d = 1``: plain RL). Positivity is kept when ``x, y > 0``.
    """
    return op.rl_update(x, y, norm=norm, power=damping, eps=eps)
