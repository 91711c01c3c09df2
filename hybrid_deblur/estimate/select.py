"""Candidate kernels, their no-reference scores, and the no-harm decision (``method="auto"``).

:func:`select_kernel` makes candidates — the identity ("no blur"), parametric fits
(linear motion, defocus, motion ⊛ defocus, Gaussian; each refined by the evidence
over its parameters), coarse-to-fine MAP at two sizes and, when the learned estimator's
weights are shipped, MAP initialised by the learned kernel ("learned-map", kept when it
agrees >= 0.8 with the learned kernel; the learned kernel itself is reported but not a
candidate); a MAP run whose kernel explains < 10 % of the image's gradient energy is
dropped) — scores every one with the Gaussian-prior evidence
:class:`~hybrid_deblur.estimate.evidence.SpectralEvidence` (observed pixels only),
and returns the best. Kernels whose evidence lies within ``tie`` of the best are
resolved towards the *smaller* kernel (an over-sized kernel is what makes a blind
result worse than its input), and a kernel and its 180° flip (equal evidence) by the
sparsity :math:`\\ell_1/\\ell_2` of the gradients of their HQS-TV restorations.

Ties between structurally different parametric kernels (a motion blur and its half
length) go to the restoration with the sparser gradients; the two MAP sizes must agree
(kernel similarity), else neither is a candidate; parametric blurs below the sharp
photo's roll-off (length < 2 px, radius < 1 px, Gaussian sigma < 0.6 px) are not
candidates; the chosen MAP/learned kernel is centred to a fraction of a pixel.

Small images (fewer than :data:`MAP_MIN_PIXELS` observed pixels) get no free-form
candidates (MAP, learned-map, self-consistency path): there the MAP kernels' spurious
streaks restored below the input in most runs while the evidence preferred them.

No harm: the estimate is used only when its evidence beats the identity's by more
than ``margin`` on the whole image — at the estimated noise level *and* with the noise
level free (fine texture inflates the noise estimate, and then a small blur "explains"
an unblurred image) — *and* on at least ``min_consistency`` of its tiles (a spatially
invariant blur explains every region; a directional texture or a failed estimate does
not); otherwise the identity is returned with ``decision="identity"``.

Self-consistency path (:func:`consistent_map`): MAP runs at three sizes (two from the
parametric fits' extent; one at 14 % of the short side, run only when the path is consulted). When the evidence path returns
the identity or a parametric kernel less than half as wide, a MAP run that agrees with a
smaller run (similarity >= 0.9), explains >= 50 % of the gradient energy and restores
>= 5 % sparser than its 180° flip is used instead (``info["path"] == "consistent-map"``):
at low noise the Gaussian-prior evidence and its tiles reject good but imperfect MAP
kernels (Levin 2009, 32 captures: 26.7 dB / 28 % at error ratio <= 2 without this path,
32.0 dB / 88 % with it; the BSD68/Kodak suite at sigma 0.01 never takes it).

Examples
--------
>>> import numpy as np
>>> from hybrid_deblur.estimate.select import select_kernel
>>> y = np.random.default_rng(0).random((96, 96))
>>> k, info = select_kernel(y, families=("identity", "parametric"))
>>> info["decision"], k.shape
('identity', (1, 1))
"""

from __future__ import annotations

import math
import time

import numpy as np

from ..metrics import kernel_similarity
from ._common import auto_size, center_kernel
from .candidates import learned_candidates as _learned_candidates
from .candidates import map_candidates as _map_candidates
from .candidates import parametric_candidates as _parametric_candidates
from .confidence import calibrated_confidence, confidence_features
from .consistency import _l1l2, consistent_map
from .evidence import SpectralEvidence

__all__ = ["FAMILIES", "MAP_MIN_PIXELS", "confidence_from_margin", "consistent_map", "kernel_extent", "select_kernel",
           "tile_consistency"]

FAMILIES = ("identity", "parametric", "map", "learned")

#: logistic calibration of the confidence on the evidence margin over the identity
#: (``CONF_A``, ``CONF_B``) times a logistic factor on the ambiguity among the candidates
#: (``CONF_D``, ``CONF_E``: a gap below the tie window, 0.004, makes the choice a coin toss
#: whatever the margin; session 2's additive form saturated at 1.0 for any margin > 0.1)
CONF_A, CONF_B, CONF_D, CONF_E = 60.0, 0.03, 400.0, 0.006
#: confidence of the self-consistency path: ``CONF_P`` times a logistic in the flip gap
#: (``CONF_G``, ``CONF_H``), calibrated on Levin 2009's share within 1 dB (6 of 20; mean 0.35)
CONF_P, CONF_G, CONF_H = 0.6, 20.0, 0.15
#: free-form kernels (MAP at two sizes, learned-map, the self-consistency path) need an observed
#: image of at least this many pixels; below, only parametric fits and the identity compete.
#: On 114-px crops (session 8, 4 tune images x 18 kernels x sigma 0/0.005/0.01, pnp-drunet final
#: step) 64 of the 86 MAP-family choices restored below the input (mean -4.0 dB): the kernels
#: carry spurious streaks along the few image edges, which the evidence cannot see (it ranked
#: them above the right parametric fit); on 256-px crops they gained +2 to +8 dB. The limit is
#: the log-midpoint of the two (the suite's and Levin's 255-px images keep every family).
MAP_MIN_PIXELS = 30_000

def _odd(v: float) -> int:
    v = math.ceil(v)
    return v if v % 2 else v + 1


def kernel_extent(k: np.ndarray, energy: float = 0.995) -> int:
    """Side of the smallest centred odd square holding ``energy`` of the kernel's mass."""
    k = np.asarray(k, dtype=np.float64)
    kh, kw = k.shape
    c0, c1 = kh // 2, kw // 2
    tot = k.sum()
    for r in range(max(kh, kw)):
        if k[max(0, c0 - r):c0 + r + 1, max(0, c1 - r):c1 + r + 1].sum() >= energy * tot:
            return 2 * r + 1
    return max(kh, kw)


def _spread(k: np.ndarray) -> float:
    """Root second moment about the centroid (pixels)."""
    kh, kw = k.shape
    yy, xx = np.mgrid[:kh, :kw]
    s = k.sum()
    cy, cx = (yy * k).sum() / s, (xx * k).sum() / s
    return float(np.sqrt((((yy - cy) ** 2 + (xx - cx) ** 2) * k).sum() / s))


# ----------------------------------------------------------------------------- scoring
def tile_consistency(y, k, sigma: float) -> tuple[float, int]:
    """Share of image tiles on which ``k`` beats the identity (evidence), and the tile count.

    A spatially invariant blur explains every region; a kernel that only fits some
    texture (or a failed estimate) does not. Tiles are 128 px (256 px for kernels over
    42 px; 64 px for kernels up to 31 px on images too small for four 128-px tiles),
    50 % overlap; ``(1.0, 0)`` when fewer than 4 tiles fit.
    """
    from .evidence import tile_corners

    t = 128 if max(np.shape(k)) <= 42 else 256
    # up to half a 64-px tile (was 15 px until session 8: kernels of 17-31 px on ~114-px images
    # went unchecked; tune crops: a Gaussian read as a 23-px motion * disk, -2.5 dB, now caught)
    if max(np.shape(k)) <= 31 and (min(y.shape) < t or len(tile_corners(y.shape, t, 36)) < 4):
        t = 64  # small images: small tiles for small kernels
    if min(y.shape) < t:
        return 1.0, 0
    corners = tile_corners(y.shape, t, 36)
    if len(corners) < 4:
        return 1.0, 0
    wins = 0
    for i, j in corners:
        e = SpectralEvidence(y[i:i + t, j:j + t], sigma=sigma, tile=t, coarse=False)
        wins += e.score(k) > e.score(np.ones((1, 1)))
    return wins / len(corners), len(corners)


def _doubled(c: dict, ev: SpectralEvidence, cap: int) -> dict | None:
    """Parametric candidate ``c`` with its motion length doubled (x 0.9-1.2, best evidence)."""
    from ..psf import combine, disk, linear_motion

    p = c["params"]
    best = None
    for f in (1.8, 2.0, 2.2, 2.4):
        L = f * p["length"]
        k = linear_motion(L, p["angle"])
        if p.get("radius", 0) >= 0.5:
            k = combine(k, disk(p["radius"]))
        if max(k.shape) > cap:
            continue
        k = k / k.sum()
        e = ev.score(k)
        if best is None or e > best["evidence"]:
            best = {"name": c["name"] + "-x2", "family": "parametric", "kernel": k, "evidence": e,
                    "spread": _spread(k), "params": dict(p, length=float(L)), "seconds": 0.0}
    return best


def confidence_from_margin(margin: float, ambiguity: float) -> float:
    """Calibrated probability that the chosen kernel restores within 1 dB of the true one.

    ``margin``: evidence of the choice minus the identity's; ``ambiguity``: evidence gap to
    the best structurally different candidate, larger or smaller (small gap = ambiguous).
    The confidence is the product of a logistic in the margin and one in the ambiguity
    (capped at 0.05), so a near tie lowers it however large the margin.
    """
    def sig(z):
        return 1.0 / (1.0 + math.exp(-max(min(z, 50.0), -50.0)))

    return float(sig(CONF_A * (margin - CONF_B)) * sig(CONF_D * (min(ambiguity, 0.05) - CONF_E)))


def select_kernel(y, *, size=None, families=("identity", "parametric", "map", "learned"),
                  sigma: float | None = None, margin: float = 0.01, tie: float = 0.004,
                  l1l2_gain: float = 0.97, min_consistency: float = 0.9, min_map_agreement: float = 0.8,
                  map_crop: int = 256, consistent_agreement: float = 0.9, harmonic_window: float = 0.03,
                  map_min_pixels: int = MAP_MIN_PIXELS,
                  progress: bool = False,
                  callback=None) -> tuple[np.ndarray, dict]:
    """Best kernel among the candidates, or the identity when none is convincing.

    Parameters
    ----------
    y : ndarray (H, W)
        Blurred gray image (NumPy float64).
    size : int, optional
        Kernel size cap (default: 20 % of the short side, at most 101, odd).
    families : sequence of str
        Candidate families among :data:`FAMILIES` (the identity is always scored).
    sigma : float, optional
        Noise level (estimated when None).
    margin : float
        Evidence (per frequency) a kernel must gain over the identity to be used.
    tie : float
        Candidates within ``tie`` of the best evidence count as tied; the smallest wins
        unless a structurally larger parametric one (spread > 1.25x + 0.5 px) restores with a gradient
        sparsity (l1/l2) below ``l1l2_gain`` times the smallest's (a 51-px
        motion blur tied with its half length on Kodak kodim13: -0.70 dB against the input).
    l1l2_gain : float
        See ``tie``. The identity, when tied, always wins.
    min_consistency : float
        The chosen kernel must also beat the identity on this share of image tiles
        (:func:`tile_consistency`), else the identity is returned.
    map_min_pixels : int
        The ``"map"`` and ``"learned"`` families (free-form kernels) run only on images of
        at least this many pixels (:data:`MAP_MIN_PIXELS`; 0: always); a note says when not.
    map_crop : int
        MAP runs on a central crop of at most this side.
    min_map_agreement : float
        The two MAP estimates (two kernel sizes) must reach this kernel similarity, else
        neither is a candidate: a failed MAP run gives a plausible kernel whose evidence
        and restored sparsity match the true kernel's, but the two sizes then disagree
        (BSD68 test030, 55-px camera shake: similarity 0.76, restorations 21.4 / 17.9 dB
        against the input's 24.7; agreeing runs reached 0.87-0.997).
    harmonic_window : float
        A chosen motion (or motion ⊛ defocus) kernel is compared with its doubled length
        (1.8-2.4x, best evidence) when that is within this evidence window; the sparser
        restoration (``l1l2_gain``) wins (0 disables).
    consistent_agreement : float
        Self-consistency path (:func:`consistent_map`): when the evidence path returns
        the identity or a parametric kernel under half the spread, a MAP run is used
        instead if it reaches this similarity to a smaller MAP run, explains >= 50 % of
        the gradient energy and restores >= 5 % sparser than its 180-degree flip. At low
        noise the Gaussian-prior evidence ranks imperfect MAP kernels below a 3-px blur
        or the identity (Levin im4, sigma 0.001: MAP +6 to +11 dB over the input with a
        negative evidence margin), while failed MAP runs disagree across sizes and are as
        sparse as their flip (BSD68 / Kodak at sigma 0.01: similarity 0.3-0.8, gap < 5 %).
    progress : bool
        tqdm bar over the candidate families.
    callback : callable, optional
        Called with the family name before each family runs (progress reporting).

    Returns
    -------
    psf : ndarray
        The chosen kernel (``(1, 1)`` identity when the guard declines).
    info : dict
        ``decision``, ``confidence``, ``margin``, ``consistency`` (share of tiles won),
        ``tiles``, ``candidates`` (name, family, shape,
        evidence, params, seconds), ``chosen``, ``sigma``, ``notes``, ``cap``, ``path``
        ("evidence", "consistent-map" or "identity"), ``map_agreement`` and ``flip_gap``
        (self-consistency path, None when it did not run), ``learned_agreement`` (kernel
        similarity of the result to the closest learned candidate; None without one),
        ``features`` (:func:`~hybrid_deblur.estimate.confidence.confidence_features`).
    """
    bad = [f for f in families if f not in FAMILIES]
    if bad:
        raise ValueError(f"families {bad} are unknown; accepted: {', '.join(FAMILIES)}")
    g = np.asarray(y, dtype=np.float64)
    short = min(g.shape)
    cap = _odd(min(101, 0.2 * short)) if size is None else int(size) | 1
    cap = max(3, min(cap, (short // 2 - 1) | 1))
    ev = SpectralEvidence(g, sigma=sigma, max_kernel=cap)
    cap = min(cap, (ev.tile // 2 - 1) | 1)
    notes: list = []
    map_runs: list = []  # every MAP run (the self-consistency path), scored below
    side_runs: list = []  # scored and reported, never chosen (the raw learned kernel)
    lazy_map, map_pair = None, None  # (size, crop) of the image-sized MAP run, made only when needed
    cands: list = [{"name": "identity", "family": "identity", "kernel": np.ones((1, 1)), "params": {}}]
    fams = [f for f in families if f != "identity"]
    if g.size < map_min_pixels and any(f in ("map", "learned") for f in fams):
        fams = [f for f in fams if f not in ("map", "learned")]
        notes.append(f"image of {g.shape[0]} x {g.shape[1]} px (< {map_min_pixels} px): free-form kernels "
                     "(MAP, learned-map) are not estimated, only parametric fits")
    it = fams
    if progress:
        from tqdm.auto import tqdm

        it = tqdm(fams, desc="kernel candidates", leave=False)
    for fam in it:
        if callback is not None:
            callback(fam)
        t0 = time.perf_counter()
        if fam == "parametric":
            new = _parametric_candidates(g, ev, cap)
        elif fam == "learned":
            new = _learned_candidates(g, notes, cap=cap, crop=map_crop)
            new = [c for c in new if max(c["kernel"].shape) <= ev.tile]
            # the network's own kernel is smooth (an L2 regression): hqs-tv with it restored
            # below the input on 20 of 32 held-out crops (sigma 0.01) and, chosen over the
            # identity, 2 dB below the input on a 15-px linear motion; it seeds the MAP
            # refinement ("learned-map") and the agreement feature, but is not a candidate
            learned_raw = [c for c in new if c["name"] == "learned"]
            side_runs.extend(learned_raw)
            new = [c for c in new if c["name"] != "learned"]
        else:
            ext = [kernel_extent(c["kernel"]) for c in cands if c["family"] in ("parametric", "learned")]
            s0 = _odd(min(cap, max([15] + [1.25 * e + 4 for e in ext])))
            s1 = _odd(min(cap, 1.6 * s0))
            # a third size from the image (14 % of the short side, the single-method
            # default): the parametric fits size s0, s1 from the blur they see, which on
            # Levin's 27-px captures is a 3-7 px Gaussian (MAP at 15 / 25 px then fails)
            # (run only when the self-consistency path is consulted; at most 1.4x s1: a 55-px
            # run on a 1-MP photo cost ~3 s for nothing)
            sa = min(cap, auto_size(g.shape)[0], _odd(1.4 * s1)) | 1
            crop = max(map_crop, 3 * max(s0, s1, sa))
            runs = _map_candidates(g, sorted({s0, s1}), crop=crop, progress=False)
            map_runs.extend(runs)
            # and only when the s1 run explains >= 70 % (Levin: 0.70-0.94; a 1-MP GoPro
            # frame 0.62, where the 35-px run explained 0.28 and cost 3.6 s)
            if sa not in (s0, s1) and any(c["params"]["size"] == s1 and c["params"]["explained"] >= 0.7
                                          for c in runs):
                lazy_map = (sa, crop)
            new = [c for c in runs if c["params"]["size"] in (s0, s1)]
            if len(new) == 2:
                agree = map_pair = kernel_similarity(new[0]["kernel"], new[1]["kernel"])
                if agree < min_map_agreement:
                    notes.append(f"MAP estimates at {s0} and {s1} px disagree (similarity "
                                 f"{agree:.2f} < {min_map_agreement}): not candidates")
                    new = []
        dt = time.perf_counter() - t0
        timed = map_runs if fam == "map" else new + (side_runs if fam == "learned" else [])
        for c in timed:
            c["seconds"] = round(dt / max(len(timed), 1), 3)
        cands.extend(new)
    for c in cands + side_runs + [c for c in map_runs if not any(c is d for d in cands)]:
        k = np.asarray(c["kernel"], dtype=np.float64)
        c["kernel"] = k / k.sum()
        c["evidence"] = ev.score(c["kernel"])
        c["spread"] = _spread(c["kernel"])
    e_id = cands[0]["evidence"]
    best_e = max(c["evidence"] for c in cands)
    tied = [c for c in cands if c["evidence"] >= best_e - tie]
    chosen = min(tied, key=lambda c: c["spread"])
    if chosen["family"] != "identity":
        # structurally different kernels tied on the evidence (a motion blur and its half
        # length share every other spectral zero): the sharper restoration decides
        # (parametric alternatives only: a failed MAP kernel restores as sparsely as the
        # true one; BSD68 test030, 55-px shake: l1/l2 170.6 vs 170.1, 17.9 vs 29.3 dB)
        others = [c for c in tied if c["spread"] > 1.25 * chosen["spread"] + 0.5
                  and c["family"] == "parametric"]
        if others:
            sp = {c["name"]: _l1l2(g, c["kernel"]) for c in [chosen, *others]}
            alt = min(others, key=lambda c: sp[c["name"]])
            if sp[alt["name"]] < l1l2_gain * sp[chosen["name"]]:
                notes.append(f"tie {chosen['name']} / {alt['name']} resolved by the restorations' "
                             "gradient sparsity")
                chosen = alt
    if chosen["family"] == "parametric" and chosen["params"].get("length", 0) > 0 and harmonic_window > 0:
        # the motion fit can lock on the half length (sinc(L f / 2) shares every other zero
        # of sinc(L f)) with the evidence ahead by more than the tie window: the doubled
        # length (refined by the evidence) is taken when it is within ``harmonic_window``
        # and restores sparser by ``l1l2_gain``. On small images (< map_min_pixels) the doubled
        # length may exceed the 20 % size cap up to the largest kernel the tile check covers
        # (31 px): a 25-px motion on a 106-px image is 24 % of it (tune crop kodim08, sigma 0.01:
        # 12.8 px chosen, -1.43 dB; 25.6 px within 0.007 of its evidence and sparser, +3.9 dB);
        # unchecked 41-px doubles of a Gaussian read as motion cost 6 dB there
        lim = cap if g.size >= map_min_pixels else min(ev.tile // 2 - 1, max(cap, 31))
        alt = _doubled(chosen, ev, lim)
        if alt is not None and alt["evidence"] >= chosen["evidence"] - harmonic_window:
            l_c, l_a = _l1l2(g, chosen["kernel"]), _l1l2(g, alt["kernel"])
            if l_a < l1l2_gain * l_c:
                notes.append(f"{chosen['name']} length {chosen['params']['length']:.1f} -> "
                             f"{alt['params']['length']:.1f} (half-length harmonic; l1/l2 {l_c:.1f} -> {l_a:.1f})")
                cands.append(alt)
                chosen = alt
    k = chosen["kernel"]
    flipped = k[::-1, ::-1]
    if chosen["family"] in ("map", "learned") and np.abs(flipped - k).sum() > 0.2 \
            and _l1l2(g, flipped) < _l1l2(g, k):
        chosen = dict(chosen, kernel=np.ascontiguousarray(flipped), name=chosen["name"] + "-flipped")
    m = chosen["evidence"] - e_id
    sc = chosen["spread"]
    others = [c["evidence"] for c in cands if c["name"] != chosen["name"] and c["family"] != "identity"
              and (c["spread"] > 1.5 * sc + 1 or 1.5 * c["spread"] + 1 < sc)]
    amb = chosen["evidence"] - max(others) if others else 0.05
    if chosen["family"] != "identity" and m > margin:
        # the same comparison with the noise level free (an over-estimated noise floor
        # favours blur on fine-textured unblurred images)
        m_free = ev.score_noise_free(chosen["kernel"]) - ev.score_noise_free(np.ones((1, 1)))
        if m_free <= margin:
            notes.append(f"{chosen['name']} does not beat the identity with the noise level free "
                         f"(margin {m_free:+.4f} <= {margin})")
        m = min(m, m_free)
    decision = "estimated" if (chosen["family"] != "identity" and m > margin) else "identity"
    consistency, n_tiles = 1.0, 0
    if decision == "estimated":
        consistency, n_tiles = tile_consistency(g, chosen["kernel"], ev.sigma)
        if consistency < min_consistency:
            decision = "identity"
            notes.append(f"{chosen['name']} beats the identity on only {consistency:.0%} of "
                         f"{n_tiles} tiles (< {min_consistency:.0%}): not a spatially invariant blur")
    path = "evidence" if decision == "estimated" else "identity"
    cm = None
    if map_runs and (decision == "identity" or chosen["family"] == "parametric"):
        if lazy_map is not None:
            t0 = time.perf_counter()
            for c in _map_candidates(g, [lazy_map[0]], crop=lazy_map[1], progress=False):
                c["kernel"] = c["kernel"] / c["kernel"].sum()
                c.update(evidence=ev.score(c["kernel"]), spread=_spread(c["kernel"]),
                         seconds=round(time.perf_counter() - t0, 3))
                map_runs.append(c)
        cm = consistent_map(g, map_runs, agreement=consistent_agreement)
        if cm is not None and (decision == "identity" or chosen["spread"] < 0.5 * cm["run"]["spread"]):
            notes.append(f"{cm['run']['name']}: self-consistent MAP (similarity {cm['agreement']:.2f} "
                         f"to the {cm['partner']}-px run, explained {cm['run']['params']['explained']:.2f}, "
                         f"flip sparsity gap {cm['flip_gap']:.0%}) used instead of "
                         f"{chosen['name'] if decision == 'estimated' else 'the identity'}")
            chosen = dict(cm["run"], kernel=cm["kernel"])
            decision, path = "estimated", "consistent-map"
            m = chosen["evidence"] - e_id
    gap = m if chosen["family"] != "identity" else best_e - e_id  # m: noise-free when checked
    if decision == "identity":
        chosen = cands[0]
    elif chosen["family"] in ("map", "learned") and path != "consistent-map":
        # centroid on the centre pixel (no shifted result), after scoring: the spline
        # shift smooths the kernel a little, which at low noise costs evidence and tile wins
        # (Levin im1 k1, sigma 0.001: 100 % -> 78 % of the tiles)
        chosen = dict(chosen, kernel=center_kernel(chosen["kernel"], subpixel=True))
    if path == "consistent-map":
        # no evidence margin to speak of on this path: the flip gap orders the results
        # (Levin 2009: 20 of 32 captures take this path, 19 at error ratio <= 2, 6 within
        # 1 dB of the true kernel; AUC of this confidence for "within 1 dB" 0.77)
        conf = float(CONF_P / (1.0 + math.exp(-CONF_G * (cm["flip_gap"] - CONF_H))))
    elif decision == "estimated":
        conf = confidence_from_margin(m, amb)
    else:
        conf = float(1.0 - confidence_from_margin(gap, 0.05))
    # agreement of the learned estimator with the result (kernel similarity, the 180-degree
    # flip accepted): a confidence feature; None when no learned candidate ran
    la = None
    learned = [c for c in cands + side_runs if c["family"] == "learned"]
    if learned:
        kk = np.asarray(chosen["kernel"], np.float64)
        la = 0.0
        for c in learned:
            kl = np.asarray(c["kernel"], np.float64)
            if kk.size == 1 or kl.size == 1:
                o = kl if kk.size == 1 else kk
                la = max(la, float(o.max() / np.sqrt((o ** 2).sum())))
            else:
                la = max(la, kernel_similarity(kk, kl), kernel_similarity(kk[::-1, ::-1], kl))
    extra = [c for c in map_runs + side_runs if not any(c is d for d in cands)]
    feats = dict(confidence_features(g, chosen, cands, runs=extra, sigma=ev.sigma, map_pair=map_pair,
                                     restore=decision == "estimated"), learned_agreement=la)
    if decision == "estimated" and chosen["family"] == "parametric" and chosen["params"].get("length", 0) > 0:
        alt = _doubled(chosen, ev, ev.tile // 2 - 1)  # evidence lead over the doubled motion length
        feats["harmonic_gap"] = None if alt is None else float(chosen["evidence"] - alt["evidence"])
    if path == "evidence" and "sparsity_gain" in feats:  # calibrated on the suite's quick half
        conf = calibrated_confidence(m, feats["sparsity_gain"])
    table = [{"name": c["name"], "family": c["family"], "shape": list(c["kernel"].shape),
              "evidence": round(float(c["evidence"]), 6), "params": c["params"],
              "seconds": c.get("seconds", 0.0)} for c in cands]
    table += [{"name": c["name"] + "-run", "family": c["family"], "shape": list(c["kernel"].shape),
               "evidence": round(float(c["evidence"]), 6), "params": dict(c["params"], pool=False),
               "seconds": c.get("seconds", 0.0)} for c in extra]
    return chosen["kernel"], {"decision": decision, "confidence": conf, "margin": float(m),
                              "consistency": float(consistency), "tiles": int(n_tiles),
                              "ambiguity": float(amb), "candidates": table, "chosen": chosen["name"],
                              "sigma": ev.sigma, "notes": notes, "cap": int(cap), "path": path,
                              "map_agreement": None if cm is None else float(cm["agreement"]),
                              "flip_gap": None if cm is None else float(cm["flip_gap"]),
                              "learned_agreement": la, "features": feats,
                              "kernels": {**{c["name"]: c["kernel"] for c in cands},
                                          **{c["name"] + "-run": c["kernel"] for c in extra}}}
