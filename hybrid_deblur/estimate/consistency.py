"""Self-consistency of MAP runs (the ``consistent-map`` path of :func:`~hybrid_deblur.estimate.select.select_kernel`).

:func:`consistent_map` finds a MAP run that agrees with a smaller run, explains most of the
gradient energy and restores sharper than its 180-degree flip; ``_l1l2`` is the gradient
sparsity of an HQS-TV restoration that orders such restorations (and breaks the evidence's
ties in :mod:`~hybrid_deblur.estimate.select`). Split from ``select`` (session 8).

Examples
--------
>>> import numpy as np
>>> from hybrid_deblur.estimate.consistency import consistent_map
>>> consistent_map(np.zeros((64, 64)), []) is None
True
"""

from __future__ import annotations

import numpy as np

from ..metrics import kernel_similarity
from ._common import center_kernel
from .candidates import center_crop

__all__ = ["consistent_map"]


def _l1l2(y, k) -> float:
    """Gradient sparsity of the HQS-TV restoration of a central crop (lower = sharper)."""
    from ..solvers import auto_parameters, hqs

    c = center_crop(y, 256)
    # explicit lam: every candidate (the identity too) restored with the same regularisation
    x = np.asarray(hqs(c, k, prior="tv", lam=auto_parameters("hqs_tv", c)["lam"]))
    gx, gy = np.diff(x, axis=1), np.diff(x, axis=0)
    return float((np.abs(gx).sum() + np.abs(gy).sum()) / np.sqrt((gx ** 2).sum() + (gy ** 2).sum() + 1e-30))


def consistent_map(g, runs, *, agreement: float = 0.9, explained: float = 0.5,
                   flip_gap: float = 0.05, relax: float = 0.1) -> dict | None:
    """The best self-consistent MAP run, or None.

    A run qualifies when a smaller run reaches kernel similarity ``agreement`` with it,
    it explains at least ``explained`` of the gradient energy, and the HQS-TV restoration
    with its 180-degree flip is at least ``flip_gap`` less sparse (relative
    :math:`\\ell_1/\\ell_2` of the gradients) than with the kernel itself: a real motion
    kernel restores sharp one way round and doubled the other, a failed estimate (a blob)
    restores alike both ways. Among qualifying runs the highest evidence wins. Failing that,
    a run whose agreement is only ``agreement - relax`` qualifies with twice the flip gap
    (Levin im4 k4: 35-px run 0.84 to the 25-px one, gap 13 %; failed runs gap < 5 %).

    Parameters
    ----------
    g : ndarray (H, W)
        The blurred image.
    runs : list of dict
        MAP candidates (``kernel``, ``params["size"]``, ``params["explained"]``,
        ``evidence``).

    Returns
    -------
    dict or None
        ``run``, ``kernel`` (sub-pixel centred, the sparser orientation), ``agreement``,
        ``partner`` (size of the agreeing run), ``flip_gap``.

    Examples
    --------
    >>> import numpy as np
    >>> consistent_map(np.zeros((64, 64)), []) is None
    True
    """
    runs = sorted(runs, key=lambda c: c["params"]["size"])
    best = None
    for i, b in enumerate(runs):
        if b["params"].get("explained", 0.0) < explained:
            continue
        sims = [(kernel_similarity(a["kernel"], b["kernel"]), a["params"]["size"]) for a in runs[:i]]
        ok = [t for t in sims if t[0] >= agreement - relax]
        if not ok:
            continue
        kc = center_kernel(b["kernel"], subpixel=True)
        kf = np.ascontiguousarray(kc[::-1, ::-1])
        l_k, l_f = _l1l2(g, kc), _l1l2(g, kf)
        gap = abs(l_f - l_k) / min(l_k, l_f)
        strict = max(ok)[0] >= agreement
        if gap < flip_gap * (1 if strict else 2):
            continue
        if best is None or (strict, b["evidence"]) > (best["strict"], best["run"]["evidence"]):
            ag, partner = max(ok)
            best = {"run": b, "kernel": kc if l_k <= l_f else kf, "agreement": ag,
                    "partner": int(partner), "flip_gap": gap, "strict": strict}
    return best
