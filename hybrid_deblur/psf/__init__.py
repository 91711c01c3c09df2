"""Point spread functions: shapes, camera-shake trajectories, optics, measured PSFs.

Convention (DESIGN §1): non-negative, sums to 1, centre at pixel ``k // 2``.

- size limit: :data:`MAX_KERNEL_SIZE` px per side for every generator
- shapes: :func:`gaussian`, :func:`disk`, :func:`linear_motion`, :func:`combine`
- camera shake: :func:`trajectory_motion`, :func:`random_trajectory`
- utilities: :func:`normalize`, :func:`centroid`, :func:`center_psf`, :func:`crop_psf`,
  :func:`pad_psf`, :func:`crop_to_energy`, :func:`energy_radius`
- files: :func:`load_psf`, :func:`save_psf`; kernel banks: :mod:`hybrid_deblur.psf.bank`
- OTF: :func:`psf2otf`, :func:`otf2psf`, :func:`validate_psf`
- known optics (:mod:`~hybrid_deblur.psf.optics`, :mod:`~hybrid_deblur.psf.zernike`):
  :func:`pupil_psf`, :func:`pupil_psf_3d`, :func:`airy`, :func:`thin_lens_defocus`,
  :func:`polychromatic_psf`, :func:`rgb_psfs`, :func:`motion_psf`, ``zernike.zernike``
- measured PSFs (:mod:`~hybrid_deblur.psf.measured`): ``measured.ingest``, ``measured.fit``
"""

from . import bank, measured, optics, zernike  # zernike: the module (known optics, issue 4)
from ._validate import MAX_KERNEL_SIZE
from .fileio import load_psf, save_psf
from .ops import center_psf, centroid, crop_psf, crop_to_energy, energy_radius, normalize, pad_psf
from .optics import (
    airy,
    motion_psf,
    polychromatic_psf,
    pupil_psf,
    pupil_psf_3d,
    rgb_psfs,
    thin_lens_defocus,
)
from .otf import otf2psf, psf2otf, validate_psf
from .shapes import combine, disk, gaussian, linear_motion
from .trajectory import random_trajectory, trajectory_motion

__all__ = [
    "MAX_KERNEL_SIZE",
    "airy",
    "bank",
    "center_psf",
    "centroid",
    "combine",
    "crop_psf",
    "crop_to_energy",
    "disk",
    "energy_radius",
    "gaussian",
    "linear_motion",
    "load_psf",
    "measured",
    "motion_psf",
    "normalize",
    "optics",
    "otf2psf",
    "pad_psf",
    "polychromatic_psf",
    "psf2otf",
    "pupil_psf",
    "pupil_psf_3d",
    "random_trajectory",
    "rgb_psfs",
    "save_psf",
    "thin_lens_defocus",
    "trajectory_motion",
    "validate_psf",
    "zernike",
]
