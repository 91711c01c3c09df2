"""Fourier-optics PSFs from a lens pupil: :func:`pupil_psf`, :func:`airy`, :func:`pupil_psf_3d`.

**Sampling.** The diffraction-limited intensity PSF is band-limited to the
incoherent cutoff :math:`f_c = 1/(\\lambda N) = 2\\,\\mathrm{NA}/\\lambda`. A sensor
samples it without aliasing when its pitch is at most :math:`\\lambda N / 2`
(:func:`~hybrid_deblur.psf.units.nyquist_pitch`); most cameras undersample,
microscopes usually do not. The PSF is always computed on an internal grid fine
enough for exactness and then integrated over the pixel area (multiplication of
the OTF by the pixel's sinc) and sampled at the pixel centres, so the result is
physically right in both cases; :class:`UndersampledWarning` tells you when the
sensor undersamples the optics. The FFTs go through :mod:`hybrid_deblur.backend`.

Examples
--------
>>> import numpy as np
>>> from hybrid_deblur.psf.pupil import pupil_psf, airy
>>> k = pupil_psf("550nm", f_number=8, pixel_pitch="1um", size=33)
>>> k.shape, round(float(k.sum()), 6), tuple(int(i) for i in np.unravel_index(k.argmax(), k.shape))
((33, 33), 1.0, (16, 16))
>>> a = airy("550nm", 8, "1um", size=33)
>>> bool(np.linalg.norm(k - a) / np.linalg.norm(a) < 0.02)
True
"""

from __future__ import annotations

import math
import warnings
from collections.abc import Mapping

import numpy as np
from scipy.special import j1

from .. import backend as B
from .otf import sample_frequencies
from .units import GridWarning, UndersampledWarning, _f_number, length
from .zernike import parse_zernike_key, wavefront

__all__ = ["airy", "pupil_function", "pupil_psf", "pupil_psf_3d"]


def _next_fast(n: int) -> int:
    return B.next_fast_shape((n,), real=False)[0]


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

    Examples
    --------
    >>> import numpy as np
    >>> from hybrid_deblur.psf.pupil import pupil_function
    >>> P = pupil_function(np.array([0.0, 0.5, 1.5]), np.zeros(3))
    >>> np.abs(P).tolist()                  # clear inside the rim, dark outside
    [1.0, 1.0, 0.0]
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
    coarse = _next_fast(math.ceil(m_req / o))
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
    F = B.rfftn(I, axes=(-2, -1))
    fy = sample_frequencies(M, dx)
    fx = sample_frequencies(M, dx, real=True)
    F *= np.sinc(fy * p)[:, None] * np.sinc(fx * p)[None, :]
    Ip = B.irfftn(F, s=(M, M), axes=(-2, -1))
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
    >>> from hybrid_deblur.psf.pupil import pupil_psf
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
    f = sample_frequencies(M, dx)
    fy, fx = np.meshgrid(-f, f, indexing="ij")  # +y up in the pupil, as zernike(size=)
    fcoh = 1.0 / (2.0 * lam * N)
    rho, th = np.hypot(fx, fy) / fcoh, np.arctan2(fy, fx)
    P = pupil_function(rho, th, zernike=coeffs, aperture=aperture, obscuration=obscuration)
    a = B.ifftn(P, axes=(-2, -1))
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
    >>> from hybrid_deblur.psf.pupil import airy
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
    >>> from hybrid_deblur.psf.pupil import pupil_psf_3d
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
        M = _next_fast(math.ceil(m_req / o)) * o
        if M > 8192:
            raise ValueError(f"nz*z_step too large for this sampling (grid {M}^2); reduce nz or z_step")
    _warn_undersampled(p, lam * N)
    f = sample_frequencies(M, dx)
    fy, fx = np.meshgrid(-f, f, indexing="ij")
    fr = np.hypot(fx, fy)
    fcoh = NA / lam
    P = pupil_function(fr / fcoh, np.arctan2(fy, fx), zernike=coeffs)
    kz = np.sqrt(np.maximum((n_med / lam) ** 2 - fr ** 2, 0.0)) - n_med / lam
    out = np.empty((nz, size, size))
    fracs = []
    for i, z in enumerate(zs):
        a = B.ifftn(P * np.exp(2j * np.pi * z * kz), axes=(-2, -1))
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
