"""Zernike polynomials over the unit disk, by Noll index (wavefront aberrations).

The polynomials use Noll's (1976) ordering and normalisation, so that each one has
unit RMS over the unit disk and a wavefront :math:`W = \\sum_j c_j Z_j` has RMS
:math:`\\sqrt{\\sum_{j \\ge 2} c_j^2}`: a coefficient *is* the RMS contribution of
its term (in waves or in metres, whichever unit the coefficients carry).

Examples
--------
>>> import numpy as np
>>> from hybrid_deblur.psf.zernike import noll_to_nm, zernike
>>> noll_to_nm(4)                     # defocus
(2, 0)
>>> z = zernike(4, size=128)          # defocus on a 128 x 128 grid, 0 outside the disk
>>> inside = z != 0
>>> round(float(np.sqrt(np.mean(z[inside] ** 2))), 2)   # unit RMS over the disk
1.0
>>> bool(np.isclose(zernike(4, np.array([1.0]), np.array([0.0]))[0], np.sqrt(3)))
True
"""

from __future__ import annotations

from collections.abc import Mapping
from math import factorial

import numpy as np

__all__ = [
    "ZERNIKE_NAMES",
    "nm_to_noll",
    "noll_to_nm",
    "parse_zernike_key",
    "wavefront",
    "zernike",
    "zernike_gram",
    "zernike_radial",
]

#: common names of the first Noll terms (keys accepted by :func:`parse_zernike_key`)
ZERNIKE_NAMES = {
    1: "piston", 2: "tilt_x", 3: "tilt_y", 4: "defocus", 5: "astigmatism_oblique",
    6: "astigmatism_vertical", 7: "coma_vertical", 8: "coma_horizontal",
    9: "trefoil_vertical", 10: "trefoil_oblique", 11: "spherical",
}
_BY_NAME = {v: k for k, v in ZERNIKE_NAMES.items()}
_BY_NAME.update({"astigmatism": 6, "coma": 8, "trefoil": 10, "tilt": 2})


def parse_zernike_key(key) -> int:
    """Noll index from an int (>= 1) or a name such as ``"defocus"`` or ``"coma"``.

    Examples
    --------
    >>> from hybrid_deblur.psf.zernike import parse_zernike_key
    >>> parse_zernike_key("defocus"), parse_zernike_key("Z11"), parse_zernike_key(7)
    (4, 11, 7)
    """
    if isinstance(key, str):
        k = key.strip().lower().replace(" ", "_").replace("-", "_")
        if k.isdigit():
            return parse_zernike_key(int(k))
        if k.startswith("z") and k[1:].isdigit():
            return parse_zernike_key(int(k[1:]))
        if k not in _BY_NAME:
            raise ValueError(
                f"zernike term {key!r} is not known; use a Noll index (int >= 1, e.g. 4 or 'Z4') "
                f"or one of {sorted(_BY_NAME)}"
            )
        return _BY_NAME[k]
    if isinstance(key, bool) or not isinstance(key, (int, np.integer)) or int(key) < 1:
        raise ValueError(f"Noll index must be an integer >= 1 or a term name, got {key!r}")
    return int(key)


def noll_to_nm(j: int) -> tuple[int, int]:
    """Radial order ``n`` and azimuthal frequency ``m`` of Noll index ``j`` (>= 1).

    Even ``j`` are cosine terms (``m > 0``), odd ``j`` sine terms (``m < 0``).

    Examples
    --------
    >>> from hybrid_deblur.psf.zernike import noll_to_nm
    >>> [noll_to_nm(j) for j in (1, 4, 5, 6, 11)]
    [(0, 0), (2, 0), (2, -2), (2, 2), (4, 0)]
    """
    j = parse_zernike_key(j)
    n = 0
    rem = j - 1
    while rem > n:
        n += 1
        rem -= n
    m = (n % 2) + 2 * ((rem + ((n + 1) % 2)) // 2)
    if m != 0 and j % 2 == 1:
        m = -m
    return n, m


def nm_to_noll(n: int, m: int) -> int:
    """Inverse of :func:`noll_to_nm`.

    Examples
    --------
    >>> from hybrid_deblur.psf.zernike import nm_to_noll
    >>> nm_to_noll(2, 0), nm_to_noll(4, 0)
    (4, 11)
    """
    n, m = int(n), int(m)
    if n < 0 or abs(m) > n or (n - abs(m)) % 2:
        raise ValueError(f"(n, m) = ({n}, {m}) is not a Zernike term: need |m| <= n and n - |m| even")
    start = n * (n + 1) // 2 + 1
    for j in range(start, start + n + 1):
        if noll_to_nm(j) == (n, m):
            return j
    raise AssertionError("unreachable")  # pragma: no cover


def zernike_radial(n: int, m: int, rho: np.ndarray) -> np.ndarray:
    """Radial polynomial :math:`R_n^{|m|}(\\rho)` (un-normalised, ``R(1) = 1``).

    Examples
    --------
    >>> from hybrid_deblur.psf.zernike import zernike_radial
    >>> zernike_radial(2, 0, [0.0, 1.0]).tolist()          # 2 rho^2 - 1
    [-1.0, 1.0]
    """
    m = abs(int(m))
    rho = np.asarray(rho, dtype=np.float64)
    out = np.zeros_like(rho)
    for k in range((n - m) // 2 + 1):
        c = ((-1) ** k * factorial(n - k)
             / (factorial(k) * factorial((n + m) // 2 - k) * factorial((n - m) // 2 - k)))
        out += c * rho ** (n - 2 * k)
    return out


def zernike(j, rho: np.ndarray | None = None, theta: np.ndarray | None = None, *,
            size: int | None = None, outside: float = 0.0) -> np.ndarray:
    """Noll-normalised Zernike polynomial :math:`Z_j`.

    Parameters
    ----------
    j : int or str
        Noll index (1 = piston, 4 = defocus, 11 = primary spherical) or a name from
        :data:`ZERNIKE_NAMES`.
    rho, theta : array, optional
        Normalised pupil radius (1 at the rim) and azimuth (radians, counter-clockwise
        from +x). Points with ``rho > 1`` get ``outside``.
    size : int, optional
        Instead of ``rho, theta``: evaluate on a ``size x size`` grid whose inscribed
        disk is the unit disk (pixel centres; +x to the right, +y up).
    outside : float
        Value outside the unit disk (default 0).

    Returns
    -------
    z : ndarray (float64)

    Notes
    -----
    :math:`Z_j = \\sqrt{n+1}\\, R_n^{|m|}(\\rho)\\, \\Theta_m(\\theta)` with
    :math:`\\Theta_0 = 1`, :math:`\\Theta_m = \\sqrt2\\cos m\\theta` (``m > 0``) and
    :math:`\\Theta_m = \\sqrt2\\sin |m|\\theta` (``m < 0``), so that
    :math:`\\frac1\\pi\\int_0^{2\\pi}\\!\\int_0^1 Z_j Z_k\\,\\rho\\,d\\rho\\,d\\theta = \\delta_{jk}`.

    Examples
    --------
    >>> from hybrid_deblur.psf.zernike import zernike
    >>> zernike("spherical", size=64).shape
    (64, 64)
    """
    n, m = noll_to_nm(j)
    if rho is None:
        if size is None or int(size) < 2:
            raise ValueError(f"pass rho and theta, or size >= 2 (got size={size!r})")
        size = int(size)
        c = (np.arange(size) - (size - 1) / 2) / (size / 2)
        yy, xx = np.meshgrid(-c, c, indexing="ij")
        rho = np.hypot(xx, yy)
        theta = np.arctan2(yy, xx)
    else:
        rho = np.asarray(rho, dtype=np.float64)
        if theta is None:
            if m != 0:
                raise ValueError(f"theta is required for the non-radially-symmetric term j={j}")
            theta = np.zeros_like(rho)
        theta = np.asarray(theta, dtype=np.float64)
    z = np.sqrt(n + 1.0) * zernike_radial(n, m, rho)
    if m > 0:
        z = z * np.sqrt(2.0) * np.cos(m * theta)
    elif m < 0:
        z = z * np.sqrt(2.0) * np.sin(-m * theta)
    return np.where(rho <= 1.0, z, outside)


def wavefront(coeffs: Mapping, rho: np.ndarray, theta: np.ndarray) -> np.ndarray:
    """Wavefront :math:`W = \\sum_j c_j Z_j(\\rho, \\theta)` (same unit as the coefficients).

    ``coeffs`` maps Noll indices (or names) to numbers. Zero outside the unit disk.

    Examples
    --------
    >>> import numpy as np
    >>> from hybrid_deblur.psf.zernike import wavefront
    >>> w = wavefront({"defocus": 0.5}, np.array([0.0, 1.0]), np.zeros(2))
    >>> np.round(w, 4).tolist()                              # 0.5 * sqrt(3) (2 rho^2 - 1)
    [-0.866, 0.866]
    """
    rho = np.asarray(rho, dtype=np.float64)
    w = np.zeros_like(rho)
    for key, c in dict(coeffs).items():
        c = float(c)
        if not np.isfinite(c):
            raise ValueError(f"zernike coefficient for {key!r} must be finite, got {c}")
        if c != 0.0:
            w = w + c * zernike(parse_zernike_key(key), rho, theta)
    return w


def zernike_gram(jmax: int, *, method: str = "quadrature", n: int = 64) -> np.ndarray:
    """Matrix of inner products :math:`\\frac1\\pi\\int Z_j Z_k` for ``j, k = 1..jmax``.

    ``method="quadrature"``: Gauss-Legendre in :math:`\\rho` (``n`` nodes) and the
    trapezoid rule in :math:`\\theta` (``2n`` nodes), exact for polynomials of the
    orders involved when ``n`` is large enough. ``method="grid"``: the pixel grid of
    :func:`zernike` with ``size=n`` (midpoint rule over the pixels inside the disk;
    converges as the pixel count grows). Orthonormality means the identity matrix.

    Examples
    --------
    >>> import numpy as np
    >>> from hybrid_deblur.psf.zernike import zernike_gram
    >>> bool(np.allclose(zernike_gram(6), np.eye(6), atol=1e-12))      # orthonormal
    True
    """
    jmax = int(jmax)
    if jmax < 1:
        raise ValueError(f"jmax must be >= 1, got {jmax}")
    if method == "quadrature":
        x, w = np.polynomial.legendre.leggauss(int(n))
        r = (x + 1) / 2
        wr = w / 2 * r
        t = np.arange(2 * n) * (np.pi / n)
        rr, tt = np.meshgrid(r, t, indexing="ij")
        wgt = (wr[:, None] * (np.pi / n)) / np.pi * np.ones_like(tt)
        Z = np.stack([zernike(j, rr, tt).ravel() for j in range(1, jmax + 1)])
        return (Z * wgt.ravel()) @ Z.T
    if method == "grid":
        maps = np.stack([zernike(j, size=n).ravel() for j in range(1, jmax + 1)])
        area = 4.0 / (n * n)  # pixel area in normalised units (grid spans [-1, 1]^2)
        c = (np.arange(n) - (n - 1) / 2) / (n / 2)
        inside = (np.hypot(*np.meshgrid(c, c, indexing="ij")) <= 1.0).ravel()
        maps = maps * inside
        return maps @ maps.T * area / np.pi
    raise ValueError(f"method must be 'quadrature' or 'grid', got {method!r}")
