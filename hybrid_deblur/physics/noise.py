"""Noise models of the forward model (DESIGN §1): Gaussian, Poisson, Poisson–Gaussian,
quantisation and saturation.

All functions keep the library, device and dtype of their input and take a
``seed`` (int or ``numpy.random.Generator`` for NumPy) so that synthetic data is
reproducible. Values are on the [0, 1] scale of linear light.

Examples
--------
>>> import numpy as np
>>> from hybrid_deblur.physics.noise import add_gaussian, add_poisson, quantize
>>> x = np.full((64, 64), 0.5)
>>> y = add_gaussian(x, 0.01, seed=0)
>>> round(float(y.std()), 3)
0.01
>>> z = add_poisson(x, photons=1000, seed=0)       # 500 photons on average
>>> abs(float(z.var()) - 0.5 / 1000) < 1e-4
True
>>> quantize(np.array([0.1, 0.6]), bits=1)
array([0., 1.])
"""

from __future__ import annotations

from typing import Any, Mapping

import numpy as np

from .. import backend as B

__all__ = ["add_gaussian", "add_poisson", "add_poisson_gaussian", "quantize", "saturate",
           "apply_noise", "parse_noise", "NOISE_KEYS"]

#: keys accepted in a noise specification dict
NOISE_KEYS = ("gaussian", "poisson", "bits", "saturation")


def _rng(seed):
    if isinstance(seed, np.random.Generator):
        return seed
    return np.random.default_rng(seed)


def _normal_like(x, seed):
    """Standard normal noise with the shape/library/device/dtype of ``x``."""
    if B.is_torch(x):
        import torch

        g = torch.Generator(device=x.device)
        g.manual_seed(int(_rng(seed).integers(2**63 - 1)))
        return torch.randn(x.shape, generator=g, device=x.device, dtype=x.dtype)
    if B.is_cupy(x):
        import cupy

        rs = cupy.random.default_rng(int(_rng(seed).integers(2**63 - 1)))
        return rs.standard_normal(x.shape, dtype=x.dtype)
    return _rng(seed).standard_normal(x.shape).astype(x.dtype, copy=False)


def _poisson_like(lam, seed):
    if B.is_torch(lam):
        import torch

        g = torch.Generator(device=lam.device)
        g.manual_seed(int(_rng(seed).integers(2**63 - 1)))
        return torch.poisson(lam, generator=g)
    if B.is_cupy(lam):
        import cupy

        rs = cupy.random.default_rng(int(_rng(seed).integers(2**63 - 1)))
        return rs.poisson(lam).astype(lam.dtype)
    return _rng(seed).poisson(lam).astype(lam.dtype, copy=False)


def _check_nonneg(value, name):
    v = float(value)
    if not np.isfinite(v) or v < 0:
        raise ValueError(f"{name} must be a finite number >= 0, got {value!r}")
    return v


def add_gaussian(x: Any, sigma: float, *, seed=None):
    """``x + sigma * N(0, 1)``; ``sigma`` is the standard deviation on the [0, 1] scale."""
    sigma = _check_nonneg(sigma, "sigma")
    x = B.as_float(x)
    if sigma == 0:
        return x
    return x + sigma * _normal_like(x, seed)


def add_poisson(x: Any, photons: float, *, seed=None):
    """Photon (shot) noise: ``Poisson(photons * x) / photons``.

    ``photons`` is the expected photon count at value 1 (the peak); negative
    intensities are treated as 0 photons.
    """
    photons = _check_nonneg(photons, "photons")
    if photons == 0:
        raise ValueError("photons must be > 0 (the expected photon count at intensity 1)")
    x = B.as_float(x)
    xp = B.namespace(x)
    lam = xp.clip(x, 0.0, None) * photons if not B.is_torch(x) else x.clamp(min=0) * photons
    return _poisson_like(lam, seed) / photons


def add_poisson_gaussian(x: Any, photons: float, sigma: float, *, seed=None):
    """Poisson noise at ``photons`` per unit intensity plus Gaussian read noise ``sigma``."""
    rng = _rng(seed)
    return add_gaussian(add_poisson(x, photons, seed=rng), sigma, seed=rng)


def quantize(x: Any, bits: int):
    """Round to ``2**bits - 1`` levels on [0, 1] (values outside are clipped: a sensor's ADC)."""
    if int(bits) != bits or not 1 <= int(bits) <= 32:
        raise ValueError(f"bits must be an integer in [1, 32], got {bits!r}")
    levels = float(2 ** int(bits) - 1)
    x = saturate(x, 1.0, low=0.0)
    xp = B.namespace(x)
    return xp.round(x * levels) / levels


def saturate(x: Any, level: float = 1.0, *, low: float | None = None):
    """Clip at the sensor's full well ``level`` (and at ``low`` if given). Explicit, never silent."""
    x = B.as_float(x)
    if B.is_torch(x):
        return x.clamp(min=low, max=float(level))
    xp = B.namespace(x)
    return xp.clip(x, low, float(level))


def parse_noise(noise: Any) -> dict:
    """Normalise a noise specification to a dict with keys from :data:`NOISE_KEYS`.

    Accepted: ``None`` or ``0`` (no noise), a float (Gaussian σ), or a mapping with
    keys ``gaussian`` (σ), ``poisson`` (peak photons), ``bits``, ``saturation``.
    """
    if noise is None:
        return {}
    if isinstance(noise, (int, float, np.floating, np.integer)) and not isinstance(noise, bool):
        s = _check_nonneg(noise, "noise")
        return {"gaussian": s} if s > 0 else {}
    if isinstance(noise, Mapping):
        unknown = set(noise) - set(NOISE_KEYS)
        if unknown:
            raise ValueError(
                f"noise has unknown keys {sorted(unknown)}; accepted keys: {', '.join(NOISE_KEYS)}"
            )
        out = {}
        for k, v in noise.items():
            if v is None:
                continue
            if k == "bits":
                out[k] = int(v)
            elif k == "saturation":
                out[k] = _check_nonneg(v, "noise['saturation']")
            else:
                out[k] = _check_nonneg(v, f"noise[{k!r}]")
        return {k: v for k, v in out.items() if not (k in ("gaussian",) and v == 0)}
    raise TypeError(
        f"noise must be None, a float (Gaussian sigma) or a dict with keys {NOISE_KEYS}; "
        f"got {type(noise).__name__}"
    )


def apply_noise(y: Any, noise: Any, *, seed=None):
    """Apply a noise specification in the physical order: photons, read noise, full well, ADC.

    Returns ``(noisy, spec)`` where ``spec`` is the normalised dict that was applied.
    """
    spec = parse_noise(noise)
    rng = _rng(seed)
    if "poisson" in spec:
        y = add_poisson(y, spec["poisson"], seed=rng)
    if spec.get("gaussian", 0) > 0:
        y = add_gaussian(y, spec["gaussian"], seed=rng)
    if "saturation" in spec:
        y = saturate(y, spec["saturation"])
    if "bits" in spec:
        y = quantize(y, spec["bits"])
    return y, spec
