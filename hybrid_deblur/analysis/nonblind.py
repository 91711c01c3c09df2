"""Non-blind benchmark harness: synthesise (or load) blurred cases, restore, measure, report.

One harness serves the CLI (``hybrid-deblur bench nonblind``), the scripts in
``benchmarks/`` (Levin 2009 real captures, BSD68 synthetic) and notebooks. A
*case* is one observation ``y`` with its kernel and sharp reference; a *method*
is any registered restoration function (:mod:`hybrid_deblur.analysis.registry`:
``wiener``, ``tikhonov``, ``rl``, ``hqs-hl``, learned models, ...) or one of the
scikit-image baselines kept here (``skimage-wiener``, ``skimage-rl``,
``skimage-unsupervised-wiener``) plus ``blurred`` (the observation itself).

Fair baselines. scikit-image's ``wiener`` needs its ``balance`` and
``richardson_lucy`` its iteration count. They are tuned over a grid on cases
*other than the ones reported* (``tuning="holdout"`` with ``tune_images``, or
``tuning="cv"``: leave-one-group-out over the evaluation cases, e.g. one Levin
image at a time). ``tuning="oracle"`` picks the grid value with the best mean
score on the evaluation cases themselves; those rows are labelled ``[oracle]``.
Our methods run with their automatic parameters and are never tuned here.

Examples
--------
>>> import numpy as np
>>> from hybrid_deblur.analysis.nonblind import run_nonblind
>>> rng = np.random.default_rng(0)
>>> imgs = [("a", rng.random((40, 40))), ("b", rng.random((40, 40)))]
>>> k = np.ones((3, 3)) / 9
>>> res = run_nonblind(imgs, [k], methods=["blurred", "skimage-wiener"], tuning="oracle",
...                    noise=0.01, progress=False)
>>> sorted(res.summary())
['blurred', 'skimage-wiener[oracle]']
"""

from __future__ import annotations

import math
import os
import platform
import time
from collections.abc import Callable, Iterable, Sequence
from typing import Any

import numpy as np

from .nonblind_baselines import (
    BASELINES,
    DEFAULT_GRIDS,
    skimage_rl,
    skimage_rl_pad,
    skimage_unsupervised_wiener,
    skimage_wiener,
    skimage_wiener_pad,
)
from .nonblind_cases import (
    IMAGE_SUFFIXES,
    KERNEL_SUFFIXES,
    PAIRINGS,
    Case,
    load_images,
    load_kernels,
    synthesize_cases,
)
from .nonblind_progress import Progress
from .nonblind_results import NonblindResults, to_jsonable, write_text_atomic

__all__ = ["BASELINES", "DEFAULT_GRIDS", "IMAGE_SUFFIXES", "KERNEL_SUFFIXES", "PAIRINGS", "TUNINGS",
           "Case", "NonblindResults", "Progress", "evaluate_cases",
           "known_methods", "load_images", "load_kernels", "measure", "resolve_methods",
           "run_nonblind", "skimage_rl", "skimage_rl_pad", "skimage_unsupervised_wiener",
           "skimage_wiener", "skimage_wiener_pad", "synthesize_cases", "to_jsonable",
           "write_text_atomic"]

TUNINGS = ("holdout", "cv", "oracle", "none")


def known_methods() -> list[str]:
    """Every method name the harness accepts (registry + baselines).

    Examples
    --------
    >>> from hybrid_deblur.analysis.nonblind import known_methods
    >>> {"blurred", "skimage-wiener", "wiener"} <= set(known_methods())
    True
    """
    from .registry import METHODS

    return sorted(set(METHODS) | set(BASELINES))


def resolve_methods(methods: Any) -> dict[str, Callable]:
    """``name -> callable`` from a comma-separated string, a list of names, or a dict of callables.

    Raises ``ValueError`` naming the unknown method and listing the known ones.

    Examples
    --------
    >>> from hybrid_deblur.analysis.nonblind import resolve_methods
    >>> sorted(resolve_methods("blurred, skimage-wiener"))
    ['blurred', 'skimage-wiener']
    """
    from .registry import METHODS, get_method

    if isinstance(methods, dict):
        return {str(k): v for k, v in methods.items()}
    if isinstance(methods, str):
        methods = [m.strip() for m in methods.split(",") if m.strip()]
    out: dict[str, Callable] = {}
    for m in methods:
        if callable(m):
            out[getattr(m, "__name__", repr(m))] = m
        elif m in BASELINES:
            out[m] = BASELINES[m]
        elif m in METHODS:
            out[m] = get_method(m)
        else:
            raise ValueError(f"method={m!r} is unknown; known methods: {', '.join(known_methods())}")
    if not out:
        raise ValueError("methods is empty: give at least one method name")
    return out


# ----------------------------------------------------------------------------- measuring
def _match_ref(xhat: np.ndarray, case: Case) -> np.ndarray:
    """Bring a restoration onto the grid of ``case.ref`` (central crop of a full-scene estimate)."""
    xhat = np.asarray(xhat, dtype=np.float64)
    want = case.ref.shape[-2:]
    have = xhat.shape[-2:]
    if have == want:
        return xhat
    if all(h >= w for h, w in zip(have, want)):
        if case.scene is not None and have == case.scene.shape[-2:]:
            from ..physics import crop_valid

            return crop_valid(xhat, case.psf.shape)
        sl = tuple(slice((h - w) // 2, (h - w) // 2 + w) for h, w in zip(have, want))
        return xhat[(...,) + sl]
    raise ValueError(f"restoration of case {case.name!r} has shape {xhat.shape}; expected "
                     f"the reference shape {case.ref.shape} or a larger full-scene estimate")


def measure(xhat: np.ndarray, case: Case, *, aligned: bool = False, border: int = 0,
            max_shift: int = 5) -> dict:
    """PSNR / SSIM of a restoration against ``case.ref`` (data range 1).

    ``aligned=False``: plain metrics after cropping ``border`` pixels. ``aligned=True``:
    the protocol of :func:`hybrid_deblur.metrics.aligned_psnr` / ``aligned_ssim`` (best
    integer + sub-pixel shift within ``max_shift``, ``border`` crop, via
    :func:`hybrid_deblur.metrics.align`); also reports the SSD on that region (the numerator
    of Levin's error ratio) and the shift. Non-finite restorations score ``-inf`` / 0.

    Examples
    --------
    >>> import numpy as np
    >>> from hybrid_deblur.analysis.nonblind import Case, measure
    >>> ref = np.random.default_rng(0).random((32, 32))
    >>> c = Case(name="a|k", y=ref, psf=np.ones((1, 1)), ref=ref)
    >>> m = measure(ref + 0.01, c)
    >>> round(m["psnr"], 6), round(m["ssim"], 3)
    (40.0, 1.0)
    """
    from .. import metrics as M

    x = _match_ref(xhat, case)
    ref = case.ref
    if not np.all(np.isfinite(x)):
        return {"psnr": -math.inf, "ssim": 0.0, "finite": False}
    if aligned:
        xc, rc, shift, ssd = M.align(x, ref, max_shift=max_shift, border=border)
        mse = ssd / xc.size
        p = 10 * math.log10(1.0 / mse) if mse > 0 else math.inf
        return {"psnr": p, "ssim": float(M.ssim(xc, rc)), "ssd": float(ssd),
                "shift": [float(shift[0]), float(shift[1])], "finite": True}
    return {"psnr": float(M.psnr(x, ref, border=int(border))),
            "ssim": float(M.ssim(x, ref, border=int(border))), "finite": True}


def _call(fn: Callable, case: Case, boundary: str | None, options: dict) -> tuple[np.ndarray, float]:
    kw = dict(options)
    if boundary is not None:
        kw.setdefault("boundary", boundary)
    t0 = time.perf_counter()
    x = fn(case.y, case.psf, **kw)
    dt = time.perf_counter() - t0
    from .. import backend as B

    return B.to_numpy(x), dt


# ----------------------------------------------------------------------------- evaluation
def _progress(total: int, enabled: bool, desc: str) -> Progress:
    return Progress(total, desc=desc, enabled=enabled)


def _grid_scores(name: str, fn: Callable, grid: dict, cases: Sequence[Case], *, boundary, aligned,
                 border, bar) -> tuple[list[dict], list[list[dict]]]:
    """Metrics of every grid value on every case: ``(values, table[case][value])``."""
    (param, values), = grid.items()
    combos = [{param: v} for v in values]
    table = []
    for c in cases:
        row = []
        for kw in combos:
            x, dt = _call(fn, c, boundary, kw)
            met = measure(x, c, aligned=aligned, border=border)
            met["time_s"] = dt
            row.append(met)
            bar.update(1)
        table.append(row)
    return combos, table


def _best(table: list[list[dict]], idx: Iterable[int]) -> int:
    idx = list(idx)
    scores = np.array([[table[i][j]["psnr"] for j in range(len(table[0]))] for i in idx], float)
    scores[~np.isfinite(scores)] = -1e9
    return int(np.argmax(scores.mean(axis=0)))


def evaluate_cases(cases: Sequence[Case], methods: Any, *, boundary: str | None = "valid",
                   aligned: bool = False, border: int | None = None, tuning: str = "holdout",
                   tune_cases: Sequence[Case] | None = None, grids: dict | None = None,
                   method_options: dict | None = None, progress: bool = True,
                   on_error: str = "raise", config: dict | None = None) -> NonblindResults:
    """Run every method on every case and measure it; tune the tunable baselines first.

    Parameters
    ----------
    cases : sequence of Case
        Observations with their references.
    methods : str, list or dict
        Method names (comma-separated string or list) or ``{name: callable}``.
    boundary : str or None
        Passed to every method as ``boundary=``; ``None`` lets each method use its default.
    aligned : bool
        Shift-tolerant metrics (real captures); see :func:`measure`.
    border : int, optional
        Pixels cropped before measuring (default 15 when aligned, else 0).
    tuning : {"holdout", "cv", "oracle", "none"}
        How the tunable scikit-image baselines pick their parameter (see module notes).
        ``"holdout"`` needs ``tune_cases``; ``"none"`` uses scikit-image's defaults.
    grids : dict, optional
        ``{method: {param: values}}`` overriding :data:`DEFAULT_GRIDS`; a method named here
        (also one of ours, e.g. an alias ``{"hqs-tv+cv": hqs_tv}`` with a ``sigma`` grid) is
        tuned with the same protocol as the baselines.
    method_options : dict, optional
        ``{method: {keyword: value}}`` passed to that method.
    on_error : {"raise", "skip"}
        A method that raises: stop (default), or drop that method and record the error in
        ``config["skipped"]`` (benchmark scripts: e.g. a learned model without shipped weights).

    Examples
    --------
    >>> import numpy as np
    >>> from hybrid_deblur.analysis.nonblind import evaluate_cases, synthesize_cases
    >>> rng = np.random.default_rng(0)
    >>> cases = synthesize_cases([("a", rng.random((32, 32)))], [("box", np.ones((3, 3)) / 9)])
    >>> res = evaluate_cases(cases, ["blurred"], tuning="none", progress=False)
    >>> [r["case"] for r in res.rows]
    ['a|box']
    """
    if tuning not in TUNINGS:
        raise ValueError(f"tuning={tuning!r} is not one of {TUNINGS}")
    if on_error not in ("raise", "skip"):
        raise ValueError(f"on_error={on_error!r} is not one of ('raise', 'skip')")
    if tuning == "holdout" and not tune_cases:
        raise ValueError("tuning='holdout' needs tune_cases (or tune_images); use tuning='cv' "
                         "or 'oracle' (labelled) instead")
    if not cases:
        raise ValueError("cases is empty")
    fns = resolve_methods(methods)
    user_grids = dict(grids or {})
    grids = {**DEFAULT_GRIDS, **user_grids}
    method_options = method_options or {}
    border = (15 if aligned else 0) if border is None else int(border)
    tunable = [m for m in fns if m in grids and tuning != "none"
               and (fns[m] is BASELINES.get(m) or m in user_grids)]
    if tuning == "cv" and tunable and len({c.group or c.name for c in cases}) < 2:
        raise ValueError("tuning='cv' needs at least two groups of cases (Case.group)")
    n_tune = sum(len(next(iter(grids[m].values()))) for m in tunable)
    total = len(cases) * len(fns) + n_tune * (len(tune_cases) if tuning == "holdout" else 0)
    if tuning in ("cv", "oracle"):
        total += n_tune * len(cases) - len(cases) * len(tunable)
    rows: list[dict] = []
    tuned: dict[str, dict] = {}
    skipped: dict[str, str] = {}
    bar = _progress(total, progress, "nonblind")
    try:
        for m, fn in fns.items():
            start = len(rows)
            try:
                opts = dict(method_options.get(m, {}))
                label = m
                if m in tunable:
                    grid = grids[m]
                    if tuning == "holdout":
                        combos, ttab = _grid_scores(m, fn, grid, tune_cases, boundary=boundary,
                                                    aligned=aligned, border=border, bar=bar)
                        chosen = [combos[_best(ttab, range(len(tune_cases)))]] * len(cases)
                        results = None
                    else:
                        combos, etab = _grid_scores(m, fn, grid, cases, boundary=boundary,
                                                    aligned=aligned, border=border, bar=bar)
                        if tuning == "oracle":
                            j = _best(etab, range(len(cases)))
                            choice = [j] * len(cases)
                            label = f"{m}[oracle]"
                        else:  # leave one group out
                            groups = [c.group or c.name for c in cases]
                            choice = []
                            for i, g in enumerate(groups):
                                others = [t for t, h in enumerate(groups) if h != g]
                                choice.append(_best(etab, others))
                        chosen = [combos[j] for j in choice]
                        results = [etab[i][j] for i, j in enumerate(choice)]
                    (pname,) = grid
                    vals = [c[pname] for c in chosen]
                    tuned[label] = {pname: vals[0] if len(set(vals)) == 1 else vals,
                                    "tuning": tuning, "grid": list(grid[pname])}
                    for i, c in enumerate(cases):
                        if results is None:
                            x, dt = _call(fn, c, boundary, {**opts, **chosen[i]})
                            met = measure(x, c, aligned=aligned, border=border)
                            met["time_s"] = dt
                            bar.update(1)
                        else:
                            met = dict(results[i])
                        rows.append(_row(label, c, met, chosen[i]))
                else:
                    for c in cases:
                        x, dt = _call(fn, c, boundary, opts)
                        met = measure(x, c, aligned=aligned, border=border)
                        met["time_s"] = dt
                        rows.append(_row(label, c, met, opts))
                        bar.update(1)
            except Exception as exc:  # reported (on_error="skip") or re-raised
                if on_error != "skip":
                    raise
                del rows[start:]
                for key in (m, f"{m}[oracle]"):
                    tuned.pop(key, None)
                msg = str(exc).strip().splitlines()[0] if str(exc).strip() else ""
                skipped[m] = f"{type(exc).__name__}: {msg}"
    finally:
        bar.close()
    cfg = {"boundary": boundary, "aligned": aligned, "border": border, "tuning": tuning,
           "n_cases": len(cases), "n_tune_cases": len(tune_cases or []),
           "methods": [m for m in fns if m not in skipped], "skipped": skipped,
           "machine": f"{platform.machine()} {os.cpu_count()} cores",
           "date": time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime()), **(config or {})}
    return NonblindResults(rows=rows, config=cfg, tuned=tuned)


def _row(method: str, case: Case, met: dict, params: dict) -> dict:
    r = {"method": method, "case": case.name, "psnr": met["psnr"], "ssim": met["ssim"],
         "time_s": met["time_s"], "finite": met.get("finite", True)}
    if "ssd" in met:
        r["ssd"] = met["ssd"]
        ref = case.extra.get("ssd_reference")
        r["error_ratio"] = met["ssd"] / ref if ref else None
    if "shift" in met:
        r["shift"] = met["shift"]
    r.update({k: v for k, v in case.extra.items()})
    if params:
        r["params"] = {k: v for k, v in params.items() if isinstance(v, (int, float, str, bool))}
    return r


def run_nonblind(images: Any, kernels: Any, *, methods: Any, noise: Any = 0.01,
                 boundary: str = "valid", seed: int = 0, border: int | None = None,
                 aligned: bool = False, progress: bool = True, tuning: str | None = None,
                 tune_images: Any = None, pairing: str = "all", linear: bool = True,
                 gray: bool = False, limit: int | None = None, grids: dict | None = None,
                 method_options: dict | None = None, json_path: str | None = None,
                 csv_path: str | None = None, md_path: str | None = None) -> NonblindResults:
    """Synthetic non-blind benchmark: blur + noise every image, restore with every method, measure.

    Parameters
    ----------
    images : folder, file or list
        Sharp images (see :func:`load_images`).
    kernels : folder, bank name, file, array or list
        Blur kernels in convolution orientation (see :func:`load_kernels`).
    methods : str, list or dict
        Names from :func:`known_methods` (e.g. ``"wiener,rl,hqs-hl,skimage-wiener"``).
    noise : float or dict
        Noise of :func:`hybrid_deblur.physics.degrade` (float = Gaussian σ on [0, 1]).
    boundary : str
        Blur model of the synthesis, also passed to the methods (``"valid"``: honest).
    seed : int
        Base noise seed (case ``j`` uses ``seed * 100003 + j``; tuning cases ``seed + 1``).
    border, aligned, grids, method_options
        See :func:`evaluate_cases`.
    tuning : str, optional
        Baseline tuning; default ``"holdout"`` if ``tune_images`` is given, else ``"oracle"``.
    tune_images : folder or list, optional
        Separate images synthesised the same way (seed ``seed + 1``) for tuning baselines.
    pairing : {"all", "cycle"}
        Every image with every kernel, or image ``i`` with kernel ``i mod n``.
    linear, gray, limit
        Reading options; ``limit`` keeps the first N images.
    json_path, csv_path, md_path : str, optional
        Where to write the summary JSON, per-image CSV and markdown table (atomic).

    Returns
    -------
    NonblindResults

    Notes
    -----
    With ``boundary="valid"`` a scene of shape (H, W) gives ``y`` of shape
    (H - k + 1, W - k + 1) (colour: (C, ...)); metrics compare with the matching central
    crop of the scene, so no method is rewarded for what it invents beyond the field of view.
    PSNR is :math:`10 \\log_{10}(1 / \\mathrm{MSE})`.

    Examples
    --------
    >>> import numpy as np
    >>> from hybrid_deblur.analysis.nonblind import run_nonblind
    >>> imgs = [("a", np.random.default_rng(1).random((32, 32)))]
    >>> res = run_nonblind(imgs, [np.ones((3, 3)) / 9], methods="blurred", progress=False)
    >>> res.config["n_images"], res.config["boundary"]
    (1, 'valid')
    """
    imgs = load_images(images, linear=linear, gray=gray, limit=limit)
    ks = load_kernels(kernels)
    cases = synthesize_cases(imgs, ks, noise=noise, boundary=boundary, seed=seed, pairing=pairing)
    tcases = None
    if tune_images is not None:
        timgs = load_images(tune_images, linear=linear, gray=gray)
        tcases = synthesize_cases(timgs, ks, noise=noise, boundary=boundary, seed=seed + 1,
                                  pairing=pairing)
    if tuning is None:
        tuning = "holdout" if tcases else "oracle"
    cfg = {"noise": noise, "seed": seed, "pairing": pairing, "linear": linear,
           "n_images": len(imgs), "n_kernels": len(ks),
           "images": str(images) if isinstance(images, (str, os.PathLike)) else "<arrays>",
           "kernels": str(kernels) if isinstance(kernels, (str, os.PathLike)) else "<arrays>"}
    res = evaluate_cases(cases, methods, boundary=boundary, aligned=aligned, border=border,
                         tuning=tuning, tune_cases=tcases, grids=grids,
                         method_options=method_options, progress=progress, config=cfg)
    if json_path:
        res.write_json(json_path)
    if csv_path:
        res.write_csv(csv_path)
    if md_path:
        res.write_markdown(md_path)
    return res
