"""Camera-shake PSFs from physical motion (gyroscope rates, exposure, focal length).

Examples
--------
>>> import numpy as np
>>> from hybrid_deblur.psf.camera_motion import camera_motion_path
>>> camera_motion_path((0.0, 0.0), 0.01, "50mm", "5um", n_samples=4).tolist()
[[0.0, 0.0], [0.0, 0.0], [0.0, 0.0], [0.0, 0.0]]
"""

from __future__ import annotations

import numpy as np

from ._validate import check_side
from .raster import splat_reference
from .units import length

__all__ = ["camera_motion_path", "motion_psf", "rasterize_path"]


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

    Examples
    --------
    >>> import numpy as np
    >>> from hybrid_deblur.psf.camera_motion import camera_motion_path
    >>> p = camera_motion_path((np.deg2rad(1.0), 0.0), 0.1, "50mm", "5um", n_samples=3)
    >>> np.round(p, 2).tolist()               # 0.1 deg pan over the exposure: 17.45 px
    [[0.0, 0.0], [0.0, 8.73], [0.0, 17.45]]
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

    Examples
    --------
    >>> import numpy as np
    >>> from hybrid_deblur.psf.camera_motion import rasterize_path
    >>> k = rasterize_path(np.array([[0.0, -2.0], [0.0, 2.0]]))    # a 4 px horizontal stroke
    >>> k.shape, round(float(k.sum()), 12), bool(k[3].sum() > 0.99)
    ((7, 7), 1.0, True)
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
    check_side(size, "rasterize_path")
    size = int(size)
    if size < 1:
        raise ValueError(f"size must be a positive integer, got {size!r}")
    q = q + size // 2
    k = splat_reference(q[:, 0], q[:, 1], np.ones(len(q)), (size, size))
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
    >>> from hybrid_deblur.psf.camera_motion import motion_psf
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
