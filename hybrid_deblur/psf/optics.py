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
>>> from hybrid_deblur.psf import optics
>>> d = optics.thin_lens_defocus("50mm", 8, "2m", "1.5m", "2um", wavelength="550nm")
>>> d.psf.shape[0] % 2, round(float(d.psf.sum()), 6), round(d.w020_waves, 1)
(1, 1.0, 1.5)

The implementation lives in one module per family, re-exported here:
:mod:`~hybrid_deblur.psf.units` (lengths, f-number / NA, warnings),
:mod:`~hybrid_deblur.psf.pupil` (pupil, Airy, 3-D widefield),
:mod:`~hybrid_deblur.psf.lens` (thin-lens defocus),
:mod:`~hybrid_deblur.psf.colour` (polychromatic and RGB PSFs),
:mod:`~hybrid_deblur.psf.camera_motion` (physical camera shake).
"""

from __future__ import annotations

from .camera_motion import camera_motion_path, motion_psf, rasterize_path
from .colour import polychromatic_psf, rgb_psfs
from .lens import Defocus, thin_lens_defocus
from .pupil import airy, pupil_function, pupil_psf, pupil_psf_3d
from .units import GridWarning, UndersampledWarning, diffraction_cutoff, length, nyquist_pitch

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
