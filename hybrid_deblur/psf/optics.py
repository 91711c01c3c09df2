"""PSFs from lens and sensor parameters: Fourier optics, Airy, defocus, colour, 3-D, motion.

Scientists know their optics in physical units (wavelength, f-number or NA, pixel
pitch, focus distance, exposure), so every function here takes them directly.

**Units.** Plain numbers are lengths in **metres** (SI). Strings with a unit are
accepted everywhere a length is: ``"550nm"``, ``"4.5um"`` (or ``"4.5µm"``),
``"50mm"``, ``"2m"``. Each length is range-checked, so ``wavelength=550`` (metres!)
is refused with a message that suggests ``"550nm"``. Zernike coefficients are RMS
values in *waves* (floats) or lengths (strings such as ``"0.1um"``).

**Sampling.** The diffraction-limited intensity PSF is band-limited to the
incoherent cutoff :math:`f_c = 1/(\\lambda N) = 2\\,\\mathrm{NA}/\\lambda`. A sensor
samples it without aliasing when its pitch is at most :math:`\\lambda N / 2`
(:func:`nyquist_pitch`); most cameras undersample, microscopes usually do not.
The PSF is always computed on an internal grid fine enough for exactness and then
integrated over the pixel area (multiplication of the OTF by the pixel's sinc) and
sampled at the pixel centres, so the result is physically right in both cases;
:class:`UndersampledWarning` tells you when the sensor undersamples the optics.

Examples
--------
>>> import numpy as np
>>> from hybrid_deblur.psf.optics import pupil_psf, airy
>>> k = pupil_psf("550nm", f_number=8, pixel_pitch="1um", size=33)
>>> k.shape, round(float(k.sum()), 6), tuple(int(i) for i in np.unravel_index(k.argmax(), k.shape))
((33, 33), 1.0, (16, 16))
>>> a = airy("550nm", 8, "1um", size=33)
>>> bool(np.linalg.norm(k - a) / np.linalg.norm(a) < 0.02)
True
"""

from __future__ import annotations

import math
import re
import warnings
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import scipy.fft as sfft
from scipy.special import j1

from .. import backend as B
from .zernike import parse_zernike_key, wavefront

__all__ = [
    "Defocus",
    "GridWarning",
    "UndersampledWarning",
    "airy",
    "camera_motion_path",
    "diffraction_cutoff",
    "length",
    "motion_psf",
    "nyquist_pitch",
    "polychromatic_psf",
    "pupil_function",
    "pupil_psf",
    "pupil_psf_3d",
    "rasterize_path",
    "rgb_psfs",
    "thin_lens_defocus",
]


class UndersampledWarning(UserWarning):
    """The sensor pitch is coarser than the optics' Nyquist pitch λN/2 (aliasing)."""


class GridWarning(UserWarning):
    """The requested PSF window holds too little of the PSF's energy."""


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
    """Coarsest pixel pitch that samples the diffraction-limited PSF without aliasing: λN/2."""
    lam = length(wavelength, name="wavelength")
    N, _ = _f_number(f_number, na)
    return lam * N / 2.0


def diffraction_cutoff(wavelength, *, f_number=None, na=None, pixel_pitch=None) -> float:
    """Incoherent cutoff frequency 1/(λN) = 2NA/λ, in cycles per metre (or per pixel)."""
    lam = length(wavelength, name="wavelength")
    N, _ = _f_number(f_number, na)
    fc = 1.0 / (lam * N)
    if pixel_pitch is not None:
        fc *= length(pixel_pitch, name="pixel_pitch")
    return fc


def _zernike_waves(zernike: Mapping | None, lam: float) -> dict[int, float]:
    """Zernike coefficients in waves at ``lam``: floats are waves, strings are lengths."""
    out: dict[int, float] = {}
    if zernike is None:
        return out
    if not isinstance(zernike, Mapping):
        raise TypeError(f"zernike must be a mapping {{noll_index: coefficient}}, got {zernike!r}")
    for key, c in zernike.items():
        j = parse_zernike_key(key)
        if isinstance(c, str):
            w = length(c, name=f"zernike[{key!r}]", lo=-1.0, hi=1.0) / lam
        else:
            w = float(c)
            if not np.isfinite(w):
                raise ValueError(f"zernike[{key!r}] must be finite, got {c!r}")
        out[j] = out.get(j, 0.0) + w
    return out


def _max_slope(coeffs: dict[int, float], obscuration: float = 0.0) -> float:
    """Largest wavefront slope |dW/dρ| (waves per unit pupil radius) over the pupil."""
    if not coeffs:
        return 0.0
    n = 257
    c = np.linspace(-1, 1, n)
    yy, xx = np.meshgrid(c, c, indexing="ij")
    rho, th = np.hypot(xx, yy), np.arctan2(yy, xx)
    w = wavefront(coeffs, rho, th)
    gy, gx = np.gradient(w, c, c)
    inside = (rho <= 1.0 - 2.0 / n) & (rho >= obscuration)
    return float(np.hypot(gx, gy)[inside].max()) if inside.any() else 0.0


def pupil_function(rho: np.ndarray, theta: np.ndarray, *, zernike: Mapping | None = None,
                   aperture: str = "circular", obscuration: float = 0.0) -> np.ndarray:
    """Complex pupil :math:`A(\\rho)\\, e^{2\\pi i W(\\rho,\\theta)}` (``W`` in waves).

    ``rho`` is the normalised pupil radius (1 at the rim). ``aperture="annular"``
    blocks ``rho < obscuration`` (a central obstruction, as in reflecting telescopes).
    """
    if aperture not in ("circular", "annular"):
        raise ValueError(f"aperture must be 'circular' or 'annular', got {aperture!r}")
    eps = float(obscuration)
    if aperture == "annular" and not 0.0 < eps < 1.0:
        raise ValueError(f"obscuration must be in (0, 1) for an annular aperture, got {obscuration!r}")
    if aperture == "circular" and eps != 0.0:
        raise ValueError(f"obscuration={obscuration!r} needs aperture='annular'")
    amp = (rho <= 1.0) & (rho >= eps)
    w = wavefront(zernike or {}, np.minimum(rho, 1.0), theta)
    return amp * np.exp(2j * np.pi * w)


def _plan(lam, N, p, size, oversample, slope_waves, extra_radius=0.0, *, min_pupil=64):
    """Choose oversampling, default size and the internal FFT grid of :func:`pupil_psf`."""
    lamN = lam * N
    need = p / (lamN / 2.0)
    if oversample is None:
        o = max(1, math.ceil(need - 1e-9))
    else:
        o = int(oversample)
        if o < 1 or o < need - 1e-9:
            raise ValueError(
                f"oversample={oversample!r} is too coarse: the internal grid step p/oversample "
                f"must be <= lambda*N/2 = {lamN / 2:.4g} m, i.e. oversample >= {math.ceil(need)}"
            )
    geo = 2.0 * N * lam * slope_waves + extra_radius  # geometric blur radius (m)
    if size is None:
        r_px = (geo + 6.0 * lamN) / p
        size = 2 * math.ceil(r_px) + 1
        size = max(size, 5)
    else:
        size = int(size)
        if size < 1:
            raise ValueError(f"size must be a positive integer, got {size!r}")
    dx = p / o
    r_min = max(min_pupil, 4.0 * slope_waves)
    m_req = max(2 * size * o, math.ceil(2.0 * lamN * r_min / dx))
    coarse = sfft.next_fast_len(math.ceil(m_req / o))
    M = coarse * o
    if M > 8192:
        raise ValueError(
            f"the PSF needs an internal grid of {M}^2 samples (size={size}, oversample={o}); "
            "reduce size, the aberrations, or use a coarser pixel_pitch"
        )
    return o, size, dx, M, geo


def _pixel_sample(I: np.ndarray, dx: float, p: float, o: int) -> np.ndarray:
    """Integrate a periodic fine-grid intensity (origin at [.., 0, 0]) over pixels, sample."""
    M = I.shape[-1]
    F = sfft.rfft2(I, workers=B.fft_workers())
    fy = sfft.fftfreq(M, dx)
    fx = sfft.rfftfreq(M, dx)
    F *= np.sinc(fy * p)[:, None] * np.sinc(fx * p)[None, :]
    Ip = sfft.irfft2(F, s=(M, M), workers=B.fft_workers())
    return Ip[..., ::o, ::o]


def _crop_centre(full: np.ndarray, size: int) -> np.ndarray:
    """Window of ``size`` around the origin of a periodic grid, origin at ``size // 2``."""
    c = size // 2
    n = full.shape[-1]
    idx = (np.arange(size) - c) % n
    return full[..., idx[:, None], idx[None, :]]


def _finish(psf, dtype, info_frac, size, what):
    psf = np.clip(psf, 0.0, None)
    s = psf.sum(axis=(-2, -1), keepdims=True) if psf.ndim == 2 else psf.sum()
    if info_frac < 0.9:
        warnings.warn(
            f"{what}: a {size}x{size} window holds only {100 * info_frac:.1f}% of the PSF energy; "
            "pass a larger size (or size=None for an automatic one)", GridWarning, stacklevel=3)
    return (psf / s).astype(dtype)


def _warn_undersampled(p, lamN, stacklevel=3):
    if p > lamN / 2.0 * (1 + 1e-9):
        warnings.warn(
            f"the pixel pitch {p:.3g} m is coarser than the optics' Nyquist pitch "
            f"lambda*N/2 = {lamN / 2:.3g} m ({p / (lamN / 2):.1f}x undersampled): the sensor "
            "aliases frequencies above its Nyquist limit. The PSF is still exact "
            "(pixel-integrated); silence with warnings.simplefilter('ignore', UndersampledWarning)",
            UndersampledWarning, stacklevel=stacklevel)


def pupil_psf(wavelength, *, f_number=None, na=None, pixel_pitch, zernike: Mapping | None = None,
              aperture: str = "circular", obscuration: float = 0.0, oversample: int | None = None,
              size: int | None = None, dtype=np.float64, return_info: bool = False):
    """Fourier-optics PSF of a lens from its pupil, integrated over the sensor pixels.

    Parameters
    ----------
    wavelength : float or str
        Wavelength (metres, or e.g. ``"550nm"``).
    f_number, na : float
        Exactly one: the (working) f-number N, or the numerical aperture
        (``N = 1 / (2 NA)``; then ``pixel_pitch`` is the pitch in object space, i.e.
        camera pixel / magnification, as microscopists use it).
    pixel_pitch : float or str
        Sensor pixel pitch (square pixels with 100% fill factor).
    zernike : dict, optional
        Aberrations ``{noll_index_or_name: rms}``: floats are waves, strings lengths
        (``{4: 0.5, "coma": "0.1um"}``). See :mod:`hybrid_deblur.psf.zernike`.
    aperture : {"circular", "annular"}
        Clear circular pupil, or annular with a central ``obscuration`` (ratio of radii).
    oversample : int, optional
        Internal samples per pixel (default: the smallest that reaches λN/2).
    size : int, optional
        Output size (odd recommended). Default: large enough for the geometric blur of
        the aberrations plus six Airy radii.
    dtype : numpy dtype
        float64 (default) or float32.
    return_info : bool
        Also return a dict: sampling, grid, ``energy_fraction`` (share of the total PSF
        energy inside the window), ``undersampling`` (pitch / (λN/2)), ...

    Returns
    -------
    psf : ndarray (size, size)
        Non-negative, sums to 1, centre at ``size // 2`` (the chief ray).

    Warns
    -----
    UndersampledWarning
        When ``pixel_pitch > λN/2``.
    GridWarning
        When the window holds less than 90% of the energy.

    Notes
    -----
    With pupil coordinates normalised to the coherent cutoff :math:`NA/\\lambda`,
    the amplitude PSF is :math:`a = \\mathcal F^{-1}\\{P\\}` and the intensity
    :math:`|a|^2`; its transform, the OTF, is the pupil autocorrelation, zero beyond
    :math:`1/(\\lambda N)`. Pixel integration multiplies the OTF by
    :math:`\\mathrm{sinc}(f_x p)\\,\\mathrm{sinc}(f_y p)`; the internal grid step
    :math:`p/o \\le \\lambda N/2` makes both steps alias-free, and taking every
    ``o``-th sample gives the pixel values. Because the sinc vanishes at multiples
    of :math:`1/p`, the pixel values over the whole periodic grid sum to the total
    energy exactly, which gives ``energy_fraction``. Zernike terms are the
    circular-pupil polynomials also for annular apertures.

    Examples
    --------
    >>> from hybrid_deblur.psf.optics import pupil_psf
    >>> k, info = pupil_psf("520nm", na=1.2, pixel_pitch="65nm", zernike={"spherical": 0.2},
    ...                     return_info=True)
    >>> k.shape[0] % 2, info["oversample"], round(float(k.sum()), 6)
    (1, 1, 1.0)
    """
    lam = length(wavelength, name="wavelength")
    p = length(pixel_pitch, name="pixel_pitch")
    N, NA = _f_number(f_number, na)
    coeffs = _zernike_waves(zernike, lam)
    pupil_function(np.zeros(1), np.zeros(1), aperture=aperture, obscuration=obscuration)  # checks
    slope = _max_slope(coeffs, float(obscuration))
    o, size, dx, M, geo = _plan(lam, N, p, size, oversample, slope)
    _warn_undersampled(p, lam * N)
    f = sfft.fftfreq(M, dx)
    fy, fx = np.meshgrid(-f, f, indexing="ij")  # +y up in the pupil, as zernike(size=)
    fcoh = 1.0 / (2.0 * lam * N)
    rho, th = np.hypot(fx, fy) / fcoh, np.arctan2(fy, fx)
    P = pupil_function(rho, th, zernike=coeffs, aperture=aperture, obscuration=obscuration)
    a = sfft.ifft2(P, workers=B.fft_workers())
    full = _pixel_sample(np.abs(a) ** 2, dx, p, o)
    psf = _crop_centre(full, size)
    frac = float(np.clip(psf, 0, None).sum() / full.sum())
    psf = _finish(psf, dtype, frac, size, "pupil_psf")
    if not return_info:
        return psf
    info = {"wavelength": lam, "f_number": N, "na": NA, "pixel_pitch": p, "oversample": o,
            "grid": M, "pupil_radius_samples": M * dx * fcoh, "size": size,
            "energy_fraction": frac, "nyquist_pitch": lam * N / 2.0,
            "undersampling": p / (lam * N / 2.0), "cutoff_cycles_per_pixel": p / (lam * N),
            "geometric_radius_px": geo / p, "zernike_waves": coeffs}
    return psf, info


def airy(wavelength, f_number=None, pixel_pitch=None, *, na=None, size: int | None = None,
         integrate: bool = True, subsample: int | None = None, dtype=np.float64):
    """Closed-form Airy pattern of an aberration-free circular pupil (checks, teaching).

    Parameters
    ----------
    wavelength, f_number, pixel_pitch : float or str
        As in :func:`pupil_psf` (``na=`` may replace ``f_number``).
    size : int, optional
        Output size (default: twelve Airy radii across, at least 5).
    integrate : bool
        Average over each pixel's area (midpoint rule with ``subsample``² points, default
        enough for 8 points per λN) rather than sampling at the pixel centre.

    Notes
    -----
    :math:`I(r) = \\left[\\frac{2 J_1(v)}{v}\\right]^2`, :math:`v = \\pi r / (\\lambda N)`.
    The first dark ring is at :math:`r = 1.22\\,\\lambda N` and holds
    :math:`1 - J_0^2(3.8317) - J_1^2(3.8317) = 83.8\\%` of the energy.

    Examples
    --------
    >>> from hybrid_deblur.psf.optics import airy
    >>> k = airy("500nm", 4, "0.25um", size=31)
    >>> k.shape, bool(k[15, 15] == k.max())
    ((31, 31), True)
    """
    if pixel_pitch is None:
        raise TypeError("airy() needs pixel_pitch")
    lam = length(wavelength, name="wavelength")
    p = length(pixel_pitch, name="pixel_pitch")
    N, _ = _f_number(f_number, na)
    lamN = lam * N
    if size is None:
        size = max(5, 2 * math.ceil(6 * 1.22 * lamN / p) + 1)
    size = int(size)
    if size < 1:
        raise ValueError(f"size must be a positive integer, got {size!r}")
    s = 1 if not integrate else (int(subsample) if subsample else max(3, math.ceil(8 * p / lamN) | 1))
    off = (np.arange(s) + 0.5) / s - 0.5
    c = np.arange(size) - size // 2
    u = (c[:, None] + off[None, :]).ravel() * p
    yy, xx = np.meshgrid(u, u, indexing="ij")
    v = np.pi * np.hypot(xx, yy) / lamN
    with np.errstate(invalid="ignore", divide="ignore"):
        I = np.where(v > 1e-12, (2 * j1(v) / np.where(v > 1e-12, v, 1.0)) ** 2, 1.0)
    I = I.reshape(size, s, size, s).mean(axis=(1, 3))
    return (I / I.sum()).astype(dtype)


def pupil_psf_3d(wavelength, *, na, pixel_pitch, z_step, nz: int, size: int | None = None,
                 n_medium: float = 1.0, zernike: Mapping | None = None,
                 oversample: int | None = None, dtype=np.float64, return_info: bool = False):
    """Widefield 3-D PSF (z, y, x): the pupil propagated to ``nz`` focal planes.

    Parameters
    ----------
    wavelength : float or str
        Emission wavelength in vacuum.
    na : float
        Numerical aperture (``<= n_medium``).
    pixel_pitch, z_step : float or str
        Lateral pixel size and axial step, both in object (sample) space.
    nz : int
        Number of planes; plane ``nz // 2`` is in focus (the PSF centre).
    size : int, optional
        Lateral size (default: the defocus cone at the outermost plane plus margin).
    n_medium : float
        Refractive index of the immersion/sample medium (1.0 air, 1.33 water, 1.518 oil).
    zernike : dict, optional
        Pupil aberrations as in :func:`pupil_psf`.

    Returns
    -------
    psf : ndarray (nz, size, size)
        Sums to 1 over the whole stack (every plane carries the same energy before
        the lateral crop: widefield out-of-focus light spreads, it does not vanish).

    Notes
    -----
    Scalar angular-spectrum (Debye) model: at defocus :math:`z`, the pupil gains the
    phase :math:`2\\pi z \\left(\\sqrt{(n/\\lambda)^2 - f^2} - n/\\lambda\\right)`,
    with :math:`f` the lateral spatial frequency (exact for high NA apart from
    polarisation and apodisation). Lateral pixel integration as in :func:`pupil_psf`.

    Examples
    --------
    >>> from hybrid_deblur.psf.optics import pupil_psf_3d
    >>> k = pupil_psf_3d("520nm", na=1.0, n_medium=1.33, pixel_pitch="100nm",
    ...                  z_step="200nm", nz=9, size=21)
    >>> k.shape, round(float(k.sum()), 6)
    ((9, 21, 21), 1.0)
    """
    lam = length(wavelength, name="wavelength")
    p = length(pixel_pitch, name="pixel_pitch")
    dz = length(z_step, name="z_step")
    n_med = float(n_medium)
    N, NA = _f_number(None, na)
    if not (np.isfinite(n_med) and n_med >= 1.0):
        raise ValueError(f"n_medium must be a refractive index >= 1, got {n_medium!r}")
    if NA > n_med:
        raise ValueError(f"na={na!r} exceeds n_medium={n_medium!r}; NA = n sin(theta) <= n")
    nz = int(nz)
    if nz < 1:
        raise ValueError(f"nz must be a positive integer, got {nz!r}")
    coeffs = _zernike_waves(zernike, lam)
    zs = (np.arange(nz) - nz // 2) * dz
    zmax = float(np.abs(zs).max())
    tan_t = NA / math.sqrt(max(n_med ** 2 - NA ** 2, 1e-12))
    # phase slope of the defocus term at the pupil rim (waves per unit rho)
    kz_slope = zmax * (NA ** 2 / lam) / math.sqrt(max(n_med ** 2 - NA ** 2, 1e-12))
    slope = _max_slope(coeffs) + kz_slope
    o, size, dx, M, _geo = _plan(lam, N, p, size, oversample, _max_slope(coeffs),
                                extra_radius=zmax * tan_t)
    r_min = 4.0 * slope
    if M * dx / (2 * lam * N) < r_min:  # more pupil samples for strong defocus phase
        m_req = math.ceil(2.0 * lam * N * r_min / dx)
        M = sfft.next_fast_len(math.ceil(m_req / o)) * o
        if M > 8192:
            raise ValueError(f"nz*z_step too large for this sampling (grid {M}^2); reduce nz or z_step")
    _warn_undersampled(p, lam * N)
    f = sfft.fftfreq(M, dx)
    fy, fx = np.meshgrid(-f, f, indexing="ij")
    fr = np.hypot(fx, fy)
    fcoh = NA / lam
    P = pupil_function(fr / fcoh, np.arctan2(fy, fx), zernike=coeffs)
    kz = np.sqrt(np.maximum((n_med / lam) ** 2 - fr ** 2, 0.0)) - n_med / lam
    out = np.empty((nz, size, size))
    fracs = []
    for i, z in enumerate(zs):
        a = sfft.ifft2(P * np.exp(2j * np.pi * z * kz), workers=B.fft_workers())
        full = _pixel_sample(np.abs(a) ** 2, dx, p, o)
        out[i] = _crop_centre(full, size)
        fracs.append(float(np.clip(out[i], 0, None).sum() / full.sum()))
    frac = float(np.mean(fracs))
    psf = _finish(out, dtype, frac, size, "pupil_psf_3d")
    if not return_info:
        return psf
    return psf, {"wavelength": lam, "na": NA, "n_medium": n_med, "pixel_pitch": p, "z_step": dz,
                 "oversample": o, "grid": M, "energy_fraction": frac,
                 "energy_fraction_per_plane": fracs, "size": size,
                 "undersampling": p / (lam * N / 2.0)}


# ----------------------------------------------------------------------------- defocus
@dataclass
class Defocus:
    """Result of :func:`thin_lens_defocus` (lengths in metres, radii also in pixels)."""

    coc_diameter: float
    coc_radius_px: float
    working_f_number: float
    image_shift: float
    w020_waves: float | None
    z4_waves: float | None
    psf: np.ndarray
    info: dict = field(default_factory=dict)

    def geometric_psf(self, size: int | None = None, dtype=np.float64) -> np.ndarray:
        """The geometric circle of confusion as a uniform disk (:func:`hybrid_deblur.psf.disk`)."""
        from .shapes import disk

        return disk(max(self.coc_radius_px, 0.5), size, dtype=dtype)


def thin_lens_defocus(focal_length, f_number, focus_distance, object_distance, pixel_pitch, *,
                      wavelength=None, size: int | None = None, dtype=np.float64) -> Defocus:
    """Defocus blur of a thin lens: geometric circle of confusion and wave-optics PSF.

    Parameters
    ----------
    focal_length : float or str
        e.g. ``"50mm"``.
    f_number : float
        Nominal f-number N = f / D.
    focus_distance, object_distance : float or str
        Distance the lens is focused at, and distance of the object (``"inf"`` allowed
        for the focus), both from the lens and larger than the focal length.
    pixel_pitch : float or str
        Sensor pixel pitch.
    wavelength : float or str, optional
        If given, ``psf`` is the diffraction PSF (:func:`pupil_psf` with the Zernike
        defocus ``z4_waves`` at the working f-number); otherwise the geometric disk.

    Returns
    -------
    Defocus
        ``coc_diameter`` (m), ``coc_radius_px``, ``w020_waves`` (peak defocus at the
        pupil rim), ``z4_waves`` (RMS Noll coefficient), ``psf``, ``geometric_psf()``.

    Notes
    -----
    Image distances :math:`v = f s / (s - f)`; with aperture :math:`D = f/N` and the
    sensor at :math:`v_f`, the blur-circle diameter is :math:`c = D |v_o - v_f| / v_o`.
    The wavefront error is :math:`W_{020} = \\frac{D^2}{8}(1/v_f - 1/v_o)`, the
    Zernike coefficient :math:`c_4 = W_{020} / (2\\sqrt3)`. Ray optics gives the blur
    radius :math:`4 N_w W_{020}` with the working f-number :math:`N_w = v_f / D`, which
    equals :math:`c/2`: the wave PSF tends to the geometric disk as the defocus grows.

    Examples
    --------
    >>> from hybrid_deblur.psf.optics import thin_lens_defocus
    >>> d = thin_lens_defocus("50mm", 2.8, "2m", "1.5m", "4.5um")
    >>> round(d.coc_diameter * 1e6, 1), round(d.coc_radius_px, 2)    # microns, pixels
    (152.6, 16.96)
    """
    f = length(focal_length, name="focal_length")
    N, _ = _f_number(f_number, None)
    sf = length(focus_distance, name="focus_distance", lo=0.0, hi=math.inf)
    so = length(object_distance, name="object_distance", lo=0.0, hi=math.inf)
    p = length(pixel_pitch, name="pixel_pitch")
    for nm, s in (("focus_distance", sf), ("object_distance", so)):
        if not s > f:
            raise ValueError(f"{nm}={s:g} m must exceed focal_length={f:g} m (a real image)")
    D = f / N
    vf = f if math.isinf(sf) else f * sf / (sf - f)
    vo = f if math.isinf(so) else f * so / (so - f)
    c = D * abs(vo - vf) / vo
    Nw = vf / D
    w020 = D ** 2 / 8.0 * (1.0 / vf - 1.0 / vo)
    info = {"focal_length": f, "aperture_diameter": D, "image_distance_focus": vf,
            "image_distance_object": vo, "w020_m": w020}
    if wavelength is None:
        d = Defocus(c, c / 2 / p, Nw, vo - vf, None, None, np.zeros((1, 1)), info)
        d.psf = d.geometric_psf(size, dtype=dtype)
        return d
    lam = length(wavelength, name="wavelength")
    w_waves = w020 / lam
    z4 = w_waves / (2.0 * math.sqrt(3.0))
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", UndersampledWarning)
        psf = pupil_psf(lam, f_number=Nw, pixel_pitch=p, zernike={4: z4} if z4 else None,
                        size=size, dtype=dtype)
    return Defocus(c, c / 2 / p, Nw, vo - vf, w_waves, z4, psf, info)


# ----------------------------------------------------------------------------- colour
def polychromatic_psf(wavelengths: Sequence, weights: Sequence | None = None, *, f_number=None,
                      na=None, pixel_pitch, size: int | None = None,
                      zernike: Mapping | None = None, zernike_wavelength=None, dtype=np.float64,
                      **kwargs):
    """Weighted sum of monochromatic :func:`pupil_psf` over ``wavelengths``.

    Parameters
    ----------
    wavelengths : sequence of float or str
    weights : sequence of float, optional
        Relative spectral weights (photons per sample; default equal). Normalised.
    zernike : dict, optional
        Aberrations. Floats are waves *at* ``zernike_wavelength`` (default: the
        weighted mean wavelength) and are turned into a fixed optical path difference,
        so they shrink in waves at longer wavelengths; strings are lengths.
    **kwargs
        Passed to :func:`pupil_psf` (``aperture``, ``obscuration``, ``oversample``).

    Returns
    -------
    psf : ndarray (size, size), sums to 1.

    Examples
    --------
    >>> from hybrid_deblur.psf.optics import polychromatic_psf
    >>> k = polychromatic_psf(["450nm", "550nm", "650nm"], f_number=4, pixel_pitch="1um", size=21)
    >>> k.shape, round(float(k.sum()), 6)
    ((21, 21), 1.0)
    """
    lams = np.array([length(v, name="wavelength") for v in np.atleast_1d(wavelengths)])
    w = _weights(weights, len(lams), "weights")
    stack = _mono_stack(lams, f_number, na, pixel_pitch, size, zernike, zernike_wavelength,
                        w, kwargs)
    return (np.tensordot(w, stack, axes=1) / w.sum()).astype(dtype)


def _weights(weights, n, name):
    w = np.ones(n) if weights is None else np.asarray(weights, dtype=np.float64)
    if w.shape != (n,) or not np.all(np.isfinite(w)) or (w < 0).any() or w.sum() <= 0:
        raise ValueError(f"{name} must be {n} finite non-negative numbers with a positive sum, "
                         f"got shape {w.shape}")
    return w


def _mono_stack(lams, f_number, na, pixel_pitch, size, zernike, zref, w, kwargs):
    lam_ref = (float(np.sum(w * lams) / w.sum()) if zref is None
               else length(zref, name="wavelength"))
    opd = {k: (v if isinstance(v, str) else float(v) * lam_ref)
           for k, v in (zernike or {}).items()}
    def waves(lam):
        return {k: (v if isinstance(v, str) else v / lam) for k, v in opd.items()}

    with warnings.catch_warnings():
        warnings.simplefilter("ignore", UndersampledWarning)
        warnings.simplefilter("ignore", GridWarning)
        if size is None:  # size from the longest wavelength: the largest PSF
            _, info = pupil_psf(lams.max(), f_number=f_number, na=na, pixel_pitch=pixel_pitch,
                                zernike=waves(lams.max()), return_info=True, **kwargs)
            size = info["size"]
        out, fracs = [], []
        for lam in lams:
            k, info = pupil_psf(lam, f_number=f_number, na=na, pixel_pitch=pixel_pitch,
                                zernike=waves(lam), size=size, return_info=True, **kwargs)
            out.append(k)
            fracs.append(info["energy_fraction"])
    if min(fracs) < 0.9:  # one warning for the whole spectrum
        warnings.warn(
            f"a {size}x{size} window holds only {100 * min(fracs):.1f}% of the PSF energy at "
            f"{lams[int(np.argmin(fracs))] * 1e9:.0f} nm; pass a larger size (or size=None)",
            GridWarning, stacklevel=3)
    return np.stack(out)


def rgb_psfs(*, f_number=None, na=None, pixel_pitch, size: int | None = None,
             wavelengths: Sequence | None = None, spectra: Any = None,
             centers=("600nm", "540nm", "460nm"), widths=("40nm", "40nm", "35nm"),
             zernike: Mapping | None = None, zernike_wavelength="550nm", dtype=np.float64,
             **kwargs) -> np.ndarray:
    """Per-channel PSFs (C, k, k) from channel spectral sensitivities.

    Parameters
    ----------
    wavelengths : sequence, optional
        Sample wavelengths (default 16 from 400 nm to 700 nm).
    spectra : array (C, n), optional
        Channel sensitivities at ``wavelengths`` (include the illuminant and lens
        transmission if they matter). Default: Gaussian bands with ``centers`` and
        standard deviations ``widths`` (R, G, B).
    zernike, zernike_wavelength
        Aberrations as a fixed optical path (see :func:`polychromatic_psf`).

    Returns
    -------
    psfs : ndarray (C, size, size); each channel sums to 1. Use it directly as a
        per-channel PSF of :class:`hybrid_deblur.physics.Blur` on a (C, H, W) image.

    Examples
    --------
    >>> from hybrid_deblur.psf.optics import rgb_psfs
    >>> k = rgb_psfs(f_number=5.6, pixel_pitch="1.5um", size=15)
    >>> k.shape, bool(k[0].max() < k[2].max())     # red spreads more than blue
    ((3, 15, 15), True)
    """
    if wavelengths is None:
        lams = np.linspace(400e-9, 700e-9, 16)
    else:
        lams = np.array([length(v, name="wavelength") for v in np.atleast_1d(wavelengths)])
    if spectra is None:
        if len(centers) != len(widths):
            raise ValueError(f"centers and widths must have the same length, got "
                             f"{len(centers)} and {len(widths)}")
        cs = [length(c, name="wavelength") for c in centers]
        ws = [length(w, name="wavelength") for w in widths]
        S = np.stack([np.exp(-0.5 * ((lams - c) / w) ** 2) for c, w in zip(cs, ws)])
    else:
        S = np.asarray(spectra, dtype=np.float64)
        if S.ndim == 1:
            S = S[None]
        if S.ndim != 2 or S.shape[1] != len(lams):
            raise ValueError(f"spectra must have shape (channels, {len(lams)}) to match "
                             f"wavelengths, got {S.shape}")
        for i, s in enumerate(S):
            _weights(s, len(lams), f"spectra[{i}]")
    stack = _mono_stack(lams, f_number, na, pixel_pitch, size, zernike, zernike_wavelength,
                        np.ones(len(lams)), kwargs)
    out = np.tensordot(S / S.sum(axis=1, keepdims=True), stack, axes=1)
    return (out / out.sum(axis=(-2, -1), keepdims=True)).astype(dtype)


# ----------------------------------------------------------------------------- motion
def camera_motion_path(angular_velocity, exposure, focal_length, pixel_pitch, *,
                       n_samples: int = 512) -> np.ndarray:
    """Image-plane path (pixels) of a rotating camera during the exposure.

    Parameters
    ----------
    angular_velocity : (2,) or (T, 2) array, rad/s
        ``(omega_x, omega_y)``: rotation rates that move the image along +x
        (columns, right) and +y (rows, down). A (T, 2) array is a gyroscope trace
        sampled uniformly over the exposure (linearly interpolated).
    exposure : float
        Exposure time in seconds.
    focal_length, pixel_pitch : float or str

    Returns
    -------
    path : ndarray (n_samples, 2)
        ``(y, x)`` positions in pixels at uniformly spaced times, starting at 0.

    Notes
    -----
    :math:`\\theta(t) = \\int_0^t \\omega`, image displacement :math:`f \\tan\\theta / p`.
    Roll about the optical axis gives spatially varying blur and is not modelled.
    """
    f = length(focal_length, name="focal_length")
    p = length(pixel_pitch, name="pixel_pitch")
    T = float(exposure)
    if not (np.isfinite(T) and T > 0):
        raise ValueError(f"exposure must be a positive number of seconds, got {exposure!r}")
    w = np.asarray(angular_velocity, dtype=np.float64)
    if w.shape == (2,):
        w = np.stack([w, w])
    if w.ndim != 2 or w.shape[1] != 2 or w.shape[0] < 2 or not np.all(np.isfinite(w)):
        raise ValueError(f"angular_velocity must be (omega_x, omega_y) or a (T, 2) trace of finite "
                         f"rad/s values, got shape {w.shape}")
    n = int(n_samples)
    t = np.linspace(0.0, T, n)
    tw = np.linspace(0.0, T, w.shape[0])
    wx, wy = np.interp(t, tw, w[:, 0]), np.interp(t, tw, w[:, 1])
    dt = np.diff(t)
    th_x = np.concatenate([[0.0], np.cumsum(0.5 * (wx[1:] + wx[:-1]) * dt)])
    th_y = np.concatenate([[0.0], np.cumsum(0.5 * (wy[1:] + wy[:-1]) * dt)])
    if max(np.abs(th_x).max(), np.abs(th_y).max()) >= np.pi / 2:
        raise ValueError("the camera turns by 90 degrees or more during the exposure")
    return np.stack([f * np.tan(th_y) / p, f * np.tan(th_x) / p], axis=1)


def rasterize_path(path: np.ndarray, size: int | None = None, *, dtype=np.float64) -> np.ndarray:
    """Kernel of a (y, x) path in pixels traversed at uniform speed in time.

    The path is resampled to steps of at most 0.1 px and splatted bilinearly; the
    time-averaged position is put on the centre pixel ``size // 2`` so that the blur
    does not shift the image on average.
    """
    path = np.asarray(path, dtype=np.float64)
    if path.ndim != 2 or path.shape[1] != 2 or len(path) < 1 or not np.all(np.isfinite(path)):
        raise ValueError(f"path must be an (n, 2) array of finite (y, x) pixels, got {path.shape}")
    steps = np.hypot(*np.diff(path, axis=0).T) if len(path) > 1 else np.zeros(0)
    sub = max(1, int(np.ceil(steps.max() / 0.1))) if steps.size else 1
    if len(path) > 1:
        tt = np.linspace(0, len(path) - 1, (len(path) - 1) * sub + 1)
        path = np.stack([np.interp(tt, np.arange(len(path)), path[:, i]) for i in range(2)], 1)
    q = path - path.mean(axis=0)
    if size is None:
        size = 2 * int(np.ceil(np.abs(q).max())) + 3
    size = int(size)
    if size < 1:
        raise ValueError(f"size must be a positive integer, got {size!r}")
    q = q + size // 2
    k = np.zeros((size, size))
    i0 = np.floor(q).astype(int)
    fr = q - i0
    for dy in (0, 1):
        for dx in (0, 1):
            wgt = (fr[:, 0] if dy else 1 - fr[:, 0]) * (fr[:, 1] if dx else 1 - fr[:, 1])
            yy, xx = i0[:, 0] + dy, i0[:, 1] + dx
            ok = (yy >= 0) & (yy < size) & (xx >= 0) & (xx < size)
            np.add.at(k, (yy[ok], xx[ok]), wgt[ok])
    if k.sum() <= 0:
        raise ValueError(f"size={size} is too small for the path")
    return (k / k.sum()).astype(dtype)


def motion_psf(angular_velocity, exposure, focal_length, pixel_pitch, *, optics=None,
               size: int | None = None, n_samples: int = 512, dtype=np.float64) -> np.ndarray:
    """Camera-shake PSF from physical motion, optionally composed with an optics PSF.

    Parameters
    ----------
    angular_velocity, exposure, focal_length, pixel_pitch
        See :func:`camera_motion_path`.
    optics : ndarray, optional
        A lens PSF on the same pixel grid (e.g. :func:`pupil_psf`); the result is
        their convolution (:func:`hybrid_deblur.psf.combine`).

    Examples
    --------
    >>> import numpy as np
    >>> from hybrid_deblur.psf.optics import motion_psf
    >>> k = motion_psf((np.deg2rad(2.0), 0.0), 1 / 30, "35mm", "5um")  # 2 deg/s pan, 1/30 s
    >>> k.shape[0] >= 8, round(float(k.sum()), 6)
    (True, 1.0)
    """
    path = camera_motion_path(angular_velocity, exposure, focal_length, pixel_pitch,
                              n_samples=n_samples)
    k = rasterize_path(path, None if optics is not None else size, dtype=np.float64)
    if optics is not None:
        from .shapes import combine

        k = np.asarray(combine(k, np.asarray(optics, dtype=np.float64)), dtype=np.float64)
        if size is not None:
            from .otf import validate_psf

            k = _fit_size(validate_psf(k), int(size))
    return (k / k.sum()).astype(dtype)


def _fit_size(k: np.ndarray, size: int) -> np.ndarray:
    """Centre-crop or zero-pad a square kernel to ``size`` keeping the centre at ``k // 2``."""
    n = k.shape[-1]
    out = np.zeros((size, size))
    c_in, c_out = n // 2, size // 2
    lo = max(0, c_in - c_out)
    hi = min(n, c_in + (size - c_out))
    o0 = c_out - (c_in - lo)
    out[o0:o0 + hi - lo, o0:o0 + hi - lo] = k[lo:hi, lo:hi]
    return out
