"""Point spread functions: shapes, camera-shake trajectories, optics, measured PSFs.

Convention (DESIGN §1): non-negative, sums to 1, centre at pixel ``k // 2``.
"""

from .otf import otf2psf, psf2otf, validate_psf

__all__ = ["psf2otf", "otf2psf", "validate_psf"]
