"""Physical units of the optics module: lengths with units, f-number / NA, sampling limits.

Plain numbers are lengths in **metres** (SI). Strings with a unit are accepted
everywhere a length is: ``"550nm"``, ``"4.5um"`` (or ``"4.5µm"``), ``"50mm"``,
``"2m"``. Each length is range-checked, so ``wavelength=550`` (metres!) is
refused with a message that suggests ``"550nm"``.

Examples
--------
>>> from hybrid_deblur.psf.units import length, nyquist_pitch
>>> length("550nm"), round(nyquist_pitch("500nm", f_number=4) * 1e6, 6)
(5.5e-07, 1.0)
"""

from __future__ import annotations

import math
import re
from typing import Any

import numpy as np

__all__ = ["GridWarning", "UndersampledWarning", "diffraction_cutoff", "length", "nyquist_pitch"]


class UndersampledWarning(UserWarning):
    """The sensor pitch is coarser than the optics' Nyquist pitch λN/2 (aliasing).

    Examples
    --------
    >>> import warnings
    >>> from hybrid_deblur.psf.optics import UndersampledWarning, pupil_psf
    >>> with warnings.catch_warnings(record=True) as w:
    ...     warnings.simplefilter("always")
    ...     _ = pupil_psf("550nm", f_number=2.8, pixel_pitch="4.5um", size=9)
    >>> [type(x.message).__name__ for x in w]
    ['UndersampledWarning']
    """


class GridWarning(UserWarning):
    """The requested PSF window holds too little of the PSF's energy.

    Examples
    --------
    >>> import warnings
    >>> from hybrid_deblur.psf.optics import GridWarning, pupil_psf
    >>> with warnings.catch_warnings(record=True) as w:
    ...     warnings.simplefilter("always")
    ...     _ = pupil_psf("550nm", f_number=8, pixel_pitch="1um", zernike={4: 2.0}, size=5)
    >>> any(isinstance(x.message, GridWarning) for x in w)
    True
    """


# ----------------------------------------------------------------------------- units
_UNITS = {"m": 1.0, "mm": 1e-3, "cm": 1e-2, "um": 1e-6, "µm": 1e-6, "μm": 1e-6,
          "micron": 1e-6, "microns": 1e-6, "nm": 1e-9, "pm": 1e-12, "km": 1e3}
_RANGES = {  # name -> (lo, hi, typical hint)
    "wavelength": (1e-9, 1e-3, "'550nm' or 550e-9"),
    "pixel_pitch": (1e-9, 1e-2, "'4.5um' or 4.5e-6"),
    "z_step": (1e-9, 1e-2, "'0.2um' or 0.2e-6"),
    "focal_length": (1e-5, 1e2, "'50mm' or 0.05"),
}


def length(value: Any, *, name: str = "length", lo: float | None = None,
           hi: float | None = None) -> float:
    """A length in metres from a number (metres) or a string with a unit.

    Examples
    --------
    >>> from hybrid_deblur.psf.optics import length
    >>> length("550nm"), length("4.5 um"), length("50mm"), length(2.0)
    (5.5e-07, 4.5e-06, 0.05, 2.0)
    """
    if isinstance(value, str):
        s = value.strip().lower().replace(" ", "")
        if s in ("inf", "infinity"):
            v = math.inf
        else:
            m = re.fullmatch(r"([-+]?(?:\d+\.?\d*|\.\d+)(?:e[-+]?\d+)?)([a-zµμ]*)", s)
            if not m or (m.group(2) and m.group(2) not in _UNITS):
                raise ValueError(
                    f"{name}={value!r} is not a length; write a number (metres) or a number "
                    f"with a unit from {sorted(_UNITS)}, e.g. '550nm', '4.5um', '50mm'"
                )
            v = float(m.group(1)) * _UNITS[m.group(2) or "m"]
    elif isinstance(value, bool) or not isinstance(value, (int, float, np.integer, np.floating)):
        raise TypeError(f"{name} must be a number (metres) or a string like '4.5um', "
                        f"got {type(value).__name__}")
    else:
        v = float(value)
    rlo, rhi, hint = _RANGES.get(name, (None, None, "a string with a unit"))
    lo = rlo if lo is None else lo
    hi = rhi if hi is None else hi
    if math.isnan(v) or (lo is not None and not v >= lo) or (hi is not None and not v <= hi):
        raise ValueError(
            f"{name}={value!r} ({v:g} m) is outside the accepted range [{lo:g}, {hi:g}] m; "
            f"plain numbers are metres, so pass e.g. {hint}"
        )
    return v


def _f_number(f_number, na) -> tuple[float, float]:
    """(N, NA) from exactly one of them; N = 1 / (2 NA) (paraxial, image space)."""
    if (f_number is None) == (na is None):
        raise ValueError(f"give exactly one of f_number or na (got f_number={f_number!r}, na={na!r})")
    if f_number is not None:
        N = float(f_number)
        if not (np.isfinite(N) and N >= 0.5):
            raise ValueError(f"f_number must be a finite number >= 0.5, got {f_number!r}")
        return N, 1.0 / (2.0 * N)
    na = float(na)
    if not (np.isfinite(na) and 0 < na <= 1.6):
        raise ValueError(f"na must be in (0, 1.6], got {na!r}")
    return 1.0 / (2.0 * na), na


def nyquist_pitch(wavelength, *, f_number=None, na=None) -> float:
    """Coarsest pixel pitch that samples the diffraction-limited PSF without aliasing: λN/2.

    Examples
    --------
    >>> from hybrid_deblur.psf.units import nyquist_pitch
    >>> round(nyquist_pitch("500nm", f_number=4) * 1e6, 9)     # micrometres
    1.0
    """
    lam = length(wavelength, name="wavelength")
    N, _ = _f_number(f_number, na)
    return lam * N / 2.0


def diffraction_cutoff(wavelength, *, f_number=None, na=None, pixel_pitch=None) -> float:
    """Incoherent cutoff frequency 1/(λN) = 2NA/λ, in cycles per metre (or per pixel).

    Examples
    --------
    >>> from hybrid_deblur.psf.units import diffraction_cutoff
    >>> round(diffraction_cutoff("500nm", f_number=4, pixel_pitch="1um"), 9)  # cycles per pixel
    0.5
    """
    lam = length(wavelength, name="wavelength")
    N, _ = _f_number(f_number, na)
    fc = 1.0 / (lam * N)
    if pixel_pitch is not None:
        fc *= length(pixel_pitch, name="pixel_pitch")
    return fc
