"""Thin-lens defocus: the geometric circle of confusion and its wave-optics PSF.

Examples
--------
>>> from hybrid_deblur.psf.lens import thin_lens_defocus
>>> d = thin_lens_defocus("50mm", 2.8, "2m", "1.5m", "4.5um")
>>> d.psf.shape == d.geometric_psf().shape
True
"""

from __future__ import annotations

import math
import warnings
from dataclasses import dataclass, field

import numpy as np

from .pupil import pupil_psf
from .units import UndersampledWarning, _f_number, length

__all__ = ["Defocus", "thin_lens_defocus"]


@dataclass
class Defocus:
    """Result of :func:`thin_lens_defocus` (lengths in metres, radii also in pixels).

    Examples
    --------
    >>> from hybrid_deblur.psf.lens import thin_lens_defocus
    >>> d = thin_lens_defocus("50mm", 2.8, "2m", "1.5m", "4.5um")
    >>> type(d).__name__, d.psf.shape == d.geometric_psf().shape
    ('Defocus', True)
    """

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
    >>> from hybrid_deblur.psf.lens import thin_lens_defocus
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
