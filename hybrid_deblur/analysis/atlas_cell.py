"""Failure-atlas cell: synthesise one observation from its seed and run every method on it.

A *cell* is one image under one degradation (see :mod:`.atlas_spec`). :func:`run_cell`
returns one tidy row per method (:data:`COLUMNS`): PSNR/SSIM, the gain over the blurred
input, the gap to the same solver with the true kernel, kernel similarity, error ratio,
the estimator's confidence and decision, runtime, and the parametric "motion and defocus
indistinguishable" flag of the cell. :mod:`.atlas_run` schedules cells.

Examples
--------
>>> from hybrid_deblur.analysis.atlas_spec import parse_spec
>>> from hybrid_deblur.analysis.atlas_cell import run_cell
>>> spec = parse_spec({"atlas": {"n_images": 1, "image_size": 48},
...                    "axes": {"motion_length": [5], "noise_sigma": [0.01]},
...                    "methods": {"nonblind": ["hqs-tv"], "blind": []}})
>>> row = run_cell(spec.cells()[0], spec)["rows"][0]
>>> row["method"], row["gap_true"], row["psnr"] > row["input_psnr"]
('hqs-tv', 0.0, True)
"""

from __future__ import annotations

import contextlib
import inspect
import math
import sys
import time
from pathlib import Path

import numpy as np

from .atlas_spec import AXES, BUILTIN_IMAGES, AtlasSpec, build_psf

__all__ = ["COLUMNS", "TIME_COLUMNS", "load_image", "method_kind", "run_cell", "synthesize"]

#: columns of the tidy table, in order
COLUMNS = (["cell", "image"] + list(AXES) + [
    "kernel_px", "blind_size", "snr_db", "sigma_used", "input_psnr", "input_ssim",
    "indistinguishable", "md_length", "md_radius", "method", "kind", "estimator", "solver",
    "psnr", "ssim", "gap_input", "gap_true", "kernel_similarity", "error_ratio", "confidence",
    "decision", "failed", "time_s", "error", "warnings"])
TIME_COLUMNS = ("time_s",)


# ----------------------------------------------------------------------------- inputs
_IMAGES: dict = {}


def load_image(name: str, size: int) -> np.ndarray:
    """Sharp gray linear-light image: built-in name or file, box-downsampled, centre ``size`` crop."""
    k = (name, int(size))
    if k not in _IMAGES:
        from ..io import imread, sample_image

        x = sample_image(name, gray=True) if name in BUILTIN_IMAGES else imread(name, gray=True)
        x = np.asarray(x, np.float64)
        f = max(1, min(x.shape) // math.ceil(1.5 * size))
        h, w = x.shape[0] // f * f, x.shape[1] // f * f
        x = x[:h, :w].reshape(h // f, f, w // f, f).mean(axis=(1, 3))
        if min(x.shape) < size:
            raise ValueError(f"atlas.image_size={size} is larger than the image {name!r} "
                             f"of shape {x.shape}")
        oy, ox = (x.shape[0] - size) // 2, (x.shape[1] - size) // 2
        _IMAGES[k] = np.ascontiguousarray(x[oy:oy + size, ox:ox + size])
    return _IMAGES[k]


def synthesize(cell: dict, spec: AtlasSpec) -> dict:
    """Observation of one cell: ``y``, its noiseless ``clean``, the sharp ``ref`` on y's grid, ``psf``.

    ``valid`` blur (the honest model of a photo) of the sharp image, scaled so that the
    requested share of the observation saturates, then Poisson (``photons``) and Gaussian
    noise and clipping at 1, all seeded by the cell's seed. Non-uniform cells blur with a
    3 x 3 :class:`~hybrid_deblur.physics.space_varying.SpaceVaryingBlur`; their ``psf``
    (what non-blind methods get) is the centre tile's kernel.
    """
    from ..physics import Blur, crop_valid
    from ..physics.noise import apply_noise
    from ..physics.space_varying import SpaceVaryingBlur
    from ..psf import pad_psf

    v = cell["values"]
    x = load_image(cell["image"], spec.image_size)
    psf = build_psf(v, spec.seed)
    if v["nonuniformity"] > 0:
        tiles = build_psf(v, spec.seed, tiles=True)
        n = max(max(t.shape) for t in tiles)
        n += 1 - n % 2
        op = SpaceVaryingBlur(np.stack([pad_psf(t, n) for t in tiles]).reshape(3, 3, n, n), "valid")
    else:
        op = Blur(psf, "valid")
    blurred = op.A(x)
    s = v["saturation"]
    gain = 1.0 / float(np.quantile(blurred, 1.0 - s)) if s > 0 else 1.0
    noise: dict = {"gaussian": v["noise_sigma"]}
    if v["photons"] > 0:
        noise["poisson"] = v["photons"]
    if s > 0:
        noise["saturation"] = 1.0
    clean = np.minimum(gain * blurred, 1.0) if s > 0 else blurred
    y, _ = apply_noise(gain * blurred, noise, seed=cell["seed"])
    ref = crop_valid(gain * x, op.ksize)
    if s > 0:
        ref = np.minimum(ref, 1.0)
    err = float(np.sum((y - clean) ** 2))
    snr = 10 * math.log10(float(np.sum(clean ** 2)) / err) if err > 0 else math.inf
    return {"y": np.asarray(y), "clean": clean, "ref": ref, "scene": gain * x, "psf": psf, "snr_db": snr,
            "ksize": op.ksize}


# ----------------------------------------------------------------------------- methods
def method_kind(name: str) -> str:
    """``classical``, ``hybrid`` or ``end-to-end`` from the registry (read defensively)."""
    from . import registry

    for attr in ("method_kind", "kind_of", "get_kind"):
        f = getattr(registry, attr, None)
        if callable(f):
            with contextlib.suppress(Exception):
                return str(f(name))
    kinds = getattr(registry, "KINDS", None)
    if isinstance(kinds, dict) and name in kinds:
        return str(kinds[name])
    entry = registry.METHODS.get(name)
    if isinstance(entry, dict) and "kind" in entry:
        return str(entry["kind"])
    if isinstance(entry, (tuple, list)):
        for e in entry:
            if e in ("classical", "hybrid", "end-to-end"):
                return e
        if entry and isinstance(entry[0], str) and ".learned" in entry[0]:
            return "end-to-end" if ".e2e" in entry[0] else "hybrid"
    return "classical"


@contextlib.contextmanager
def _one_torch_thread(name: str):
    """Learned methods run with one torch thread, so results do not depend on the executor."""
    from . import registry

    entry = registry.METHODS.get(name)
    mod = entry[0] if isinstance(entry, (tuple, list)) and entry else str(entry)
    if ".learned" not in mod and "torch" not in sys.modules:
        yield
        return
    import torch

    old = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        yield
    finally:
        torch.set_num_threads(old)


def _call(name: str, y, psf, sigma: float):
    from .. import backend as B
    from .registry import get_method

    fn = get_method(name)
    kw = {"boundary": "auto", "sigma": sigma}
    try:
        params = inspect.signature(fn).parameters
        if not any(p.kind is inspect.Parameter.VAR_KEYWORD for p in params.values()):
            kw = {k: v for k, v in kw.items() if k in params}
    except (TypeError, ValueError):  # pragma: no cover - builtins
        pass
    with _one_torch_thread(name):
        return np.asarray(B.to_numpy(fn(y, psf, **kw)), np.float64)


def _measure(xhat, obs: dict) -> tuple[float, float, np.ndarray]:
    """PSNR / SSIM on the observation's grid (a full-scene estimate is cropped to it)."""
    from .. import metrics as M
    from ..physics import crop_valid

    ref = obs["ref"]
    if xhat.shape != ref.shape and xhat.shape == obs["scene"].shape:
        xhat = crop_valid(xhat, obs["ksize"])
    if xhat.shape != ref.shape:
        raise ValueError(f"restoration has shape {xhat.shape}; expected {ref.shape}")
    if not np.all(np.isfinite(xhat)):
        return math.nan, math.nan, xhat
    return float(M.psnr(xhat, ref)), float(M.ssim(xhat, ref)), xhat


def _timed(f, *a, _notes: list | None = None, **kw):
    """``(f(*a, **kw), seconds)``; warnings are collected into ``_notes`` instead of printed."""
    import warnings

    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        t0 = time.perf_counter()
        out = f(*a, **kw)
        dt = time.perf_counter() - t0
    if _notes is not None:
        for w in caught:
            note = f"{w.category.__name__}: {str(w.message)[:120]}"
            if note not in _notes:
                _notes.append(note)
    return out, dt


def run_cell(cell: dict, spec: AtlasSpec) -> dict:
    """Synthesise one cell and run every method of ``spec`` on it.

    Returns ``{"key", "digest", "rows", "cpu_s", "wall_s"}`` (CPU and wall seconds of the
    whole cell); one row per method with the columns of
    :data:`COLUMNS`. A method that raises gets a row with ``error`` set and no scores
    (it counts as failed), so one broken method never stops a sweep.
    """
    from .. import metrics as M

    cpu0, wall0 = time.process_time(), time.perf_counter()
    obs = synthesize(cell, spec)
    y, psf, ref = obs["y"], obs["psf"], obs["ref"]
    v = cell["values"]
    if spec.sigma == "true":
        var = v["noise_sigma"] ** 2 + (float(obs["clean"].mean()) / v["photons"] if v["photons"] else 0.0)
        sigma = math.sqrt(var)
    else:
        from ..solvers import estimate_noise

        sigma = float(estimate_noise(y))
    base = {"cell": cell["key"], "image": Path(cell["image"]).name, **v,
            "kernel_px": int(max(psf.shape)), "blind_size": spec.blind_kernel_size(max(psf.shape)),
            "snr_db": obs["snr_db"], "sigma_used": sigma,
            "input_psnr": float(M.psnr(y, ref)), "input_ssim": float(M.ssim(y, ref)),
            "indistinguishable": None, "md_length": None, "md_radius": None}
    if spec.indistinguishable:
        from ..estimate import estimate_kernel

        with contextlib.suppress(Exception):
            (_, rep), _ = _timed(estimate_kernel, y, size=base["blind_size"], method="parametric",
                                 model="motion+defocus")
            base.update(indistinguishable=bool(rep.params.get("indistinguishable")),
                        md_length=rep.params.get("length"), md_radius=rep.params.get("radius"))
    rows, true_runs = [], {}

    def finish(row, psnr_v, ssim_v):
        row.update(psnr=psnr_v, ssim=ssim_v, gap_input=psnr_v - base["input_psnr"])
        ok = math.isfinite(psnr_v)
        gt = row.get("gap_true")
        row["failed"] = bool((not ok) or row["gap_input"] < 0 or (gt is not None and gt < -spec.fail_gap_db))

    def true_kernel(name):
        if name not in true_runs:
            try:
                notes: list = []
                xh, dt = _timed(_call, name, y, psf, sigma, _notes=notes)
                p, s, xm = _measure(xh, obs)
                true_runs[name] = (p, s, xm, dt, None, notes)
            except Exception as exc:  # noqa: BLE001 - recorded in the table
                true_runs[name] = (math.nan, math.nan, None, 0.0, f"{type(exc).__name__}: {exc}", [])
        return true_runs[name]

    for name in spec.nonblind:
        row = dict(base, method=name, kind=method_kind(name), estimator=None, solver=name)
        p, s, _, dt, err, notes = true_kernel(name)
        row.update(time_s=dt, error=err, gap_true=None if row["kind"] == "end-to-end" else 0.0,
                   warnings="; ".join(notes) or None)
        finish(row, p, s)
        rows.append(row)
    for est, solver in spec.blind:
        from ..estimate import estimate_kernel

        row = dict(base, method=f"{est}>{solver}", kind="blind", estimator=est, solver=solver)
        pt, _, xt, _, _, _ = true_kernel(solver)
        notes = []
        try:
            (k, rep), t_est = _timed(estimate_kernel, y, size=base["blind_size"], method=est,
                                     _notes=notes)
            xh, t_sol = _timed(_call, solver, y, np.asarray(k), sigma, _notes=notes)
            p, s, xm = _measure(xh, obs)
            border = min(15, min(ref.shape) // 4)
            er = (float(M.error_ratio(xm, xt, ref, border=border)) if xt is not None and math.isfinite(p)
                  else None)
            dec = getattr(rep, "decision", None)
            row.update(time_s=t_est + t_sol, error=None, gap_true=p - pt if math.isfinite(pt) else None,
                       kernel_similarity=float(M.kernel_similarity(np.asarray(k), psf)),
                       error_ratio=er, confidence=float(getattr(rep, "confidence", math.nan)),
                       decision=None if dec is None else str(dec))
        except Exception as exc:  # noqa: BLE001 - recorded in the table
            p, s = math.nan, math.nan
            row.update(time_s=0.0, error=f"{type(exc).__name__}: {exc}", gap_true=None)
        row["warnings"] = "; ".join(notes) or None
        finish(row, p, s)
        rows.append(row)
    clean_rows = [{c: _plain(r.get(c)) for c in COLUMNS} for r in rows]
    return {"key": cell["key"], "digest": spec.digest(), "rows": clean_rows,
            "cpu_s": time.process_time() - cpu0, "wall_s": time.perf_counter() - wall0}


def _plain(v):
    if isinstance(v, (np.floating, float)):
        return float(v) if math.isfinite(v) else None
    if isinstance(v, np.integer):
        return int(v)
    if isinstance(v, np.bool_):
        return bool(v)
    return v
