"""Candidate kernels of ``estimate_kernel(method="auto")``: parametric fits, MAP, learned.

:func:`parametric_candidates` fits linear motion, defocus, motion ⊛ defocus and a
Gaussian to the spectrum and refines each by the evidence over its parameters;
:func:`map_candidates` runs coarse-to-fine MAP (L0) at several kernel sizes on a
central crop; :func:`learned_candidates` calls the registered learned estimator when
its weights are shipped. :mod:`~hybrid_deblur.estimate.select` scores them and decides.

Examples
--------
>>> import numpy as np
>>> from scipy.signal import fftconvolve
>>> from hybrid_deblur.psf import disk
>>> from hybrid_deblur.estimate.evidence import SpectralEvidence
>>> from hybrid_deblur.estimate.candidates import parametric_candidates
>>> rng = np.random.default_rng(0)
>>> x = np.cumsum(np.cumsum(rng.standard_normal((260, 260)), 0), 1)
>>> y = fftconvolve((x - x.min()) / np.ptp(x), disk(4), mode="valid")
>>> y = y + 0.01 * rng.standard_normal(y.shape)
>>> c = {d["name"]: d for d in parametric_candidates(y, SpectralEvidence(y, max_kernel=41), 41)}
>>> abs(c["defocus"]["params"]["radius"] - 4) < 1
True
"""

from __future__ import annotations

import numpy as np

from .evidence import SpectralEvidence

__all__ = ["MIN_LENGTH", "MIN_RADIUS", "MIN_SIGMA", "MIN_SPREAD", "at_minimum", "center_crop", "learned_candidates",
           "map_candidates", "parametric_candidates"]

#: smallest parametric blurs that are candidates: below them a blur is the intrinsic
#: roll-off of a sharp photo (modelled by the evidence's prior), not a blur to invert
#: (an unblurred Kodak kodim08 crop, sigma 0.01, was given a 3x3 disk of radius 0.75:
#: 40.0 -> 28.5 dB). The motion ⊛ defocus grid already skipped L < 2, r < 1.
MIN_LENGTH, MIN_RADIUS, MIN_SIGMA = 2.0, 1.0, 0.6
#: smallest root-mean-square radius (px) of a parametric candidate (session 8). The evidence's
#: prior already rolls off like a Gaussian PSF of std up to 1 px (``evidence.ROLL``; RMS radius
#: 1.41), so a blur that small is confounded with a sharp photo's own softness: on the 114-px tune
#: crops (4 images x 18 kernels x sigma 0-0.01) a Gaussian of sigma 0.7 (RMS radius 1.07) was
#: chosen in 15 runs, 14 of them below the input (shake kernels, down to -0.7 dB). 1.25 sits below
#: the roll-off so that the smallest blur of the no-harm matrix, a disk of radius 2 (1.50), and
#: fits slightly under it stay candidates
MIN_SPREAD = 1.25
#: angle offsets (degrees) from the spectral fit searched for the motion candidate on small
#: images (fewer than ``select.MAP_MIN_PIXELS`` pixels; then refined by +-2 deg). Larger images
#: keep +-2 deg (refined by +-1): there the spectral angle is accurate (BSD68, sigma 0.01: median
#: error 0.55 deg) and the wide search moved a 35-px motion * 8-px disk on a 256-px suite crop
#: from 30.4 to 37.2 deg (true 30; 0.03 dB below the input)
ANGLE_STEPS = (-12.0, -8.0, -4.0, -2.0, 0.0, 2.0, 4.0, 8.0, 12.0)


def center_crop(a: np.ndarray, side: int) -> np.ndarray:
    """Central ``side`` x ``side`` crop of ``a`` (H, W) (the whole axis when shorter).

    Examples
    --------
    >>> import numpy as np
    >>> center_crop(np.zeros((10, 4)), 6).shape
    (6, 4)
    """
    H, W = a.shape
    h, w = min(H, side), min(W, side)
    i, j = (H - h) // 2, (W - w) // 2
    return a[i:i + h, j:j + w]


def parametric_candidates(g, ev: SpectralEvidence, cap: int) -> list[dict]:
    """Parametric fits refined by the evidence over their parameters.

    Parameters
    ----------
    g : ndarray (H, W)
        Blurred gray image.
    ev : SpectralEvidence
        The evidence of ``g`` (its fast scores drive the parameter searches).
    cap : int
        Largest kernel side.

    Returns
    -------
    list of dict
        ``name`` (motion, defocus, gaussian, motion+defocus), ``family`` ("parametric"),
        ``kernel``, ``params``. See the module docstring for an example.
    """
    from ..psf import combine, disk, gaussian, linear_motion
    from . import parametric as P

    crop = center_crop(g, 512)
    lmax = max(2.0, cap - 2.0)
    rmax = max(0.6, (cap - 1) / 2 - 0.5)

    def search(make, grid):
        """(evidence, kernel, params) of the best grid point (fast evidence), or None."""
        best = None
        for p in grid:
            try:
                k = make(*p)
            except ValueError:
                continue
            if max(k.shape) > cap:
                continue
            s = ev.score(k, fast=True)
            if best is None or s > best[0]:
                best = (s, k, p)
        return best

    out = []
    m = P.estimate_motion(crop, max_length=lmax)
    a0, L0 = m["angle"], min(m["length"], lmax)
    # the spectral fit can lock on a harmonic (the zeros of sinc(L f / 2) include those of
    # sinc(L f)): 2x and 3x the fitted length are candidates too
    Ls = np.unique(np.clip(np.concatenate([L0 * np.array([0.6, 0.75, 0.88, 1.0, 1.12, 1.25]),
                                           [2 * L0, 3 * L0]]), MIN_LENGTH, lmax))
    # the spectral angle can be off by more than a few degrees on small noisy images (a 114-px
    # crop, 9-px motion at 20 deg, sigma 0.01: fitted 5.4 deg, 6.2 px; the evidence peaks at
    # 9 px, 16 deg): there angles up to 12 deg from the fit (:data:`ANGLE_STEPS`) are searched
    from .select import MAP_MIN_PIXELS

    small = g.size < MAP_MIN_PIXELS
    steps, fine = (ANGLE_STEPS, (-2.0, -1.0, -0.5, 0.0, 0.5, 1.0, 2.0)) if small else \
        ((-2.0, 0.0, 2.0), (-1.0, -0.5, 0.0, 0.5, 1.0))
    best = search(linear_motion, [(L, a0 + da) for L in Ls for da in steps])
    if best is not None:
        L1, a1 = best[2]
        best = search(linear_motion, [(max(L1 + dl, MIN_LENGTH), a1 + da) for dl in (-1.0, 0.0, 1.0)
                                      for da in fine])
        a0 = float(best[2][1] % 180)
        out.append({"name": "motion", "family": "parametric", "kernel": best[1],
                    "params": {"length": float(best[2][0]), "angle": a0}})
    r0 = P.estimate_defocus(crop, max_radius=rmax)["radius"]
    grid = np.unique(np.clip(np.concatenate([r0 * np.array([0.6, 0.8, 0.9, 1.0, 1.1, 1.25]),
                                             [1.0, 2.0, 3.0, 4.5, 6.5, 9.0]]), MIN_RADIUS, rmax))
    best = search(disk, [(r,) for r in grid])
    if best is not None:
        out.append({"name": "defocus", "family": "parametric", "kernel": best[1],
                    "params": {"radius": float(best[2][0])}})
    gs = max(P.estimate_gaussian(crop)["sigma"], 0.3)
    grid = np.unique(np.clip(np.concatenate([gs * np.array([0.6, 0.8, 1.0, 1.2, 1.5]),
                                             [0.7, 1.2, 2.0, 3.0, 5.0]]), MIN_SIGMA,
                           max(MIN_SIGMA + 0.01, cap / 6)))
    best = search(gaussian, [(s_,) for s_ in grid])
    if best is not None:
        out.append({"name": "gaussian", "family": "parametric", "kernel": best[1],
                    "params": {"sigma": float(best[2][0])}})

    # coarse grids plus the single-model fits (the joint optimum is often near them)
    Lm = out[0]["params"]["length"] if out and out[0]["name"] == "motion" else 0.0
    Rd = next((c["params"]["radius"] for c in out if c["name"] == "defocus"), 0.0)
    Lg = sorted({round(float(L), 2) for L in [0.0, 3, 5, 8, 11, 15, 20, 26, 33, 42, 52, 64, 78, 95]
                 + list(Lm * np.array([0.6, 0.75, 0.85, 0.93, 1.0, 1.07])) if L <= lmax})
    Rg = sorted({round(float(r), 2) for r in [0.0, 1.0, 2.0, 3.0, 4.5, 6.0, 8.0, 11.0, 15.0]
                 + list(Rd * np.array([0.4, 0.6, 0.8, 1.0])) if r <= rmax})
    cache: dict = {}

    def k2(kind, v):  # |K|^2 of one factor on the fast grid (motion ⊛ defocus multiplies them)
        if (kind, v) not in cache:
            if v == 0:
                cache[kind, v] = (1.0, 1)
            else:
                k = linear_motion(v, a0) if kind == "L" else disk(v)
                cache[kind, v] = (ev.otf2(k, fast=True), k.shape[0])
        return cache[kind, v]

    best = None
    for L in Lg:
        for r in Rg:
            (KL, nL), (KR, nR) = k2("L", L), k2("R", r)
            if (L == 0 and r == 0) or (0 < L < 2) or (0 < r < 1) or nL + nR - 1 > cap:
                continue
            sc = ev.score_otf2(KL * KR, fast=True)
            if best is None or sc > best[0]:
                best = (sc, (L, r))
    if best is not None:
        def md(L, r):  # motion + defocus at the motion angle
            if (0 < L < 2) or (0 < r < 1) or (L == 0 and r == 0):
                raise ValueError("sub-pixel parts are the prior's roll-off, not a blur")
            if L < 1:
                return disk(r)
            if r < 0.5:
                return linear_motion(L, a0)
            return combine(linear_motion(L, a0), disk(r))

        L1, r1 = best[1]
        Lf = np.unique(np.clip(L1 + np.array([-3, -1.5, 0, 1.5, 3]), 0, lmax))
        Rf = np.unique(np.clip(r1 + np.array([-1, -0.5, 0, 0.5, 1]), 0, rmax))
        best = search(md, [(L, r) for L in Lf for r in Rf])
        if best is not None:
            out.append({"name": "motion+defocus", "family": "parametric", "kernel": best[1],
                        "params": {"length": float(best[2][0]), "radius": float(best[2][1]), "angle": a0}})
    from .select import _spread

    return [c for c in out if not at_minimum(c["params"]) and _spread(c["kernel"]) >= MIN_SPREAD]


def at_minimum(p: dict, tol: float = 1e-6) -> bool:
    """Whether parametric fit ``p`` is the smallest admissible blur (every part at its minimum).

    Such a fit is not a candidate (session 8): the evidence wants a blur at or below the
    roll-off of a sharp photo and the search stopped at the limit. On the 114-px tune crops
    (4 images x 18 kernels x sigma 0-0.01) choosing one gained at most +0.6 dB and lost up to
    27.6 dB (an unblurred crop given a Gaussian of sigma 0.6 at sigma 0); a 15-px shake read as
    motion 2 px + disk 1 px: -1.2 dB.

    Examples
    --------
    >>> at_minimum({"radius": 1.0}), at_minimum({"radius": 2.0}), at_minimum({"length": 2.0, "radius": 0.0})
    (True, False, True)
    """
    L, r, s = p.get("length"), p.get("radius"), p.get("sigma")
    if s is not None:
        return s <= MIN_SIGMA + tol
    parts = [v <= lim + tol for v, lim in ((L, MIN_LENGTH), (r, MIN_RADIUS)) if v is not None and v > 0]
    return bool(parts) and all(parts)


def map_candidates(g, sizes, *, crop: int, progress: bool = False) -> list[dict]:
    """MAP (L0) kernels at each of ``sizes`` on a central crop of side ``crop``.

    A run whose kernel explains < 10 % of the crop's gradient energy is dropped.

    Examples
    --------
    >>> import numpy as np
    >>> c = map_candidates(np.random.default_rng(0).random((64, 64)), [9], crop=64)
    >>> [(d["name"], d["kernel"].shape) for d in c] in ([], [("map9", (9, 9))])
    True
    """
    from .map_l0 import map_estimate

    c = center_crop(g, crop)
    out = []
    for s in sizes:
        if 2 * s + 8 > min(c.shape):
            continue
        # 6 conjugate-gradient steps per kernel update (20 by default): MAP ~1.6x faster.
        # Levin captures (sigma 0.001, 25 px): evidence 9.7593 / 10.0863 against 9.7615 /
        # 10.0680 with 20 steps, all tiles won. Two alternations at full resolution instead
        # of five were as good on tune-image camera shake at sigma 0.01 but not on Levin
        # (tiles won 78 % with 6 CG steps), so the full-resolution level keeps five.
        k, info = map_estimate(c, (s, s), cg_iterations=6, progress=progress)
        if info.get("explained", 0.0) < 0.1:  # MAP's own fit failed: not a candidate
            continue
        out.append({"name": f"map{s}", "family": "map", "kernel": k,
                    "params": {"size": int(s), "explained": info.get("explained", 0.0)}})
    return out


def learned_candidates(g, notes: list, *, cap: int | None = None, crop: int = 256,
                       refine: bool = True, min_agreement: float = 0.8) -> list[dict]:
    """The learned estimator's kernel and its MAP refinement (``[]`` with a note when unavailable).

    ``refine``: also MAP (L0) initialised by the learned kernel on the two finest pyramid
    levels, at the learned kernel's extent x 1.25 + 4 px (at least 15, at most ``cap``),
    on a central crop of side ``max(crop, 3 x size)`` ("learned-map"; dropped when it
    explains < 10 % of the gradient energy, like the MAP runs, or when its similarity to the
    learned kernel is below ``min_agreement``: a refinement that drifts from its start
    has failed, like two disagreeing MAP sizes — held-out crops, sigma 0.01: refinements
    that restored below the learned kernel's own result agreed 0.59-0.77 with it, the
    good shake refinements 0.80-0.97; a 55-px shake that the net saw as 13 px refined
    to 21 px at 0.77 and restored 1.6 dB below the input). Held-out BSD68/Kodak
    crops x unseen camera-shake kernels at sigma 0.01 (``benchmarks/learned_kernel_eval.py``,
    an early checkpoint): kernel similarity 0.92 against 0.74 for MAP from scratch and
    0.80 for the learned kernel alone.

    Examples
    --------
    >>> import numpy as np
    >>> notes = []
    >>> c = learned_candidates(np.zeros((64, 64)), notes)
    >>> len(c) in (0, 1)
    True
    """
    from .core import estimator_available, resolve_estimator

    ok, why = estimator_available("learned")
    if not ok:  # checked before importing torch
        notes.append(f"learned estimator unavailable: {why}")
        return []
    try:
        fn = resolve_estimator("learned")
        k, info = fn(g)
    except Exception as exc:  # noqa: BLE001 - no torch, no shipped weights, a failed sha256 check
        notes.append(f"learned estimator unavailable: {type(exc).__name__}: {exc}")
        return []
    k = np.asarray(k, np.float64)
    out = [{"name": "learned", "family": "learned", "kernel": k, "params": {"support": info.get("support")}}]
    if refine:
        from .map_l0 import map_estimate
        from .select import kernel_extent

        size = int(max(15, min(cap or 101, 1.25 * kernel_extent(k) + 4))) | 1
        c = center_crop(g, max(crop, 3 * size))
        if 2 * size + 8 <= min(c.shape):
            km, inf = map_estimate(c, (size, size), cg_iterations=6, init=k, init_levels=2)
            from ..metrics import kernel_similarity

            agree = max(kernel_similarity(km, k), kernel_similarity(km[::-1, ::-1], k))
            if inf.get("explained", 0.0) < 0.1 or agree < min_agreement:
                notes.append(f"learned-map: explained {inf.get('explained', 0.0):.2f}, agreement "
                             f"{agree:.2f} with the learned kernel (needs >= 0.1, >= {min_agreement}): "
                             "not a candidate")
            else:
                out.append({"name": "learned-map", "family": "learned", "kernel": km,
                            "params": {"size": size, "explained": inf.get("explained", 0.0),
                                       "agreement": agree}})
    return out
