"""Failure-atlas execution: a sweep on Dask (or serially) with atomic, resumable per-cell results.

:func:`run_atlas` runs the cells (:func:`.atlas_cell.run_cell`) that have no
result yet — serially, on a ``dask.distributed.LocalCluster`` (one single-threaded
worker per core) or on an existing scheduler — and writes each cell's rows to
``OUT/cells/<hash>.json`` atomically as it completes, so a killed run resumes where it
stopped and serial, parallel and resumed runs give the same table.

Examples
--------
>>> import tempfile
>>> from hybrid_deblur.analysis.atlas_spec import parse_spec
>>> from hybrid_deblur.analysis.atlas_run import run_atlas
>>> spec = parse_spec({"atlas": {"n_images": 1, "image_size": 48},
...                    "axes": {"motion_length": [0, 5], "noise_sigma": [0.01]},
...                    "methods": {"nonblind": ["wiener"], "blind": []}})
>>> res = run_atlas(spec, tempfile.mkdtemp(), serial=True, progress=False, report=False)
>>> [r["method"] for r in res.rows], res.rows[1]["gap_input"] > 0
(['wiener', 'wiener'], True)
"""

from __future__ import annotations

import contextlib
import csv
import hashlib
import importlib
import io as _io
import json
import os
import platform
import sys
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from .atlas_cell import COLUMNS, TIME_COLUMNS, load_image, method_kind, run_cell, synthesize
from .atlas_spec import AtlasSpec, load_spec

__all__ = ["COLUMNS", "TIME_COLUMNS", "AtlasResult", "cell_cost", "collect_rows", "load_image",
           "method_kind",
           "refresh_tables", "run_atlas", "run_cell", "synthesize", "versions"]


# ----------------------------------------------------------------------------- storage
def versions() -> dict:
    """Versions of the software that produced a table."""
    from .. import __version__

    out = {"hybrid_deblur": __version__, "python": platform.python_version(),
           "platform": platform.platform()}
    for mod in ("numpy", "scipy", "skimage", "torch", "dask", "distributed"):
        m = sys.modules.get(mod)  # only what this run loaded (importing torch costs seconds)
        if m is None and mod in ("numpy", "scipy"):
            m = importlib.import_module(mod)
        if m is not None:
            out[mod] = getattr(m, "__version__", "?")
    return out


def _cell_path(out: Path, key: str) -> Path:
    return out / "cells" / (hashlib.sha1(key.encode()).hexdigest()[:20] + ".json")


def _read_cell(out: Path, cell: dict, digest: str) -> dict | None:
    p = _cell_path(out, cell["key"])
    try:
        d = json.loads(p.read_text())
    except (OSError, ValueError):
        return None
    return d if d.get("digest") == digest and d.get("key") == cell["key"] else None


def _save_cell(out: Path, res: dict) -> None:
    from ..io import atomic_save_json

    atomic_save_json(_cell_path(out, res["key"]), res)


def _start(out: Path, spec: AtlasSpec) -> None:
    from ..io import atomic_save_json

    out.mkdir(parents=True, exist_ok=True)
    (out / "cells").mkdir(exist_ok=True)
    p = out / "spec.json"
    if p.exists():
        old = None
        with contextlib.suppress(OSError, ValueError):
            old = json.loads(p.read_text()).get("digest")
        if old and old != spec.digest():
            raise ValueError(f"out={str(out)!r} holds results of another spec (digest {old}, this "
                             f"spec {spec.digest()}); choose a new --out folder")
    atomic_save_json(p, {"digest": spec.digest(), "spec": spec.as_dict(), "versions": versions()})


def collect_rows(out: str | os.PathLike, spec: AtlasSpec) -> list[dict]:
    """All rows of the finished cells, in the spec's cell order (independent of run order)."""
    out = Path(out)
    rows = []
    for cell in spec.cells():
        d = _read_cell(out, cell, spec.digest())
        if d is not None:
            rows.extend(d["rows"])
    return rows


def cell_cost(out: str | os.PathLike, spec: AtlasSpec) -> dict:
    """CPU and wall seconds summed over the finished cells that recorded them.

    ``cpu_s / n_cores`` estimates the wall time of the sweep on idle cores (each worker
    is single-threaded), independent of what else shares the machine.
    """
    out = Path(out)
    n, cpu, wall = 0, 0.0, 0.0
    for cell in spec.cells():
        d = _read_cell(out, cell, spec.digest())
        if d is not None and "cpu_s" in d:
            n, cpu, wall = n + 1, cpu + float(d["cpu_s"]), wall + float(d["wall_s"])
    return {"cells_timed": n, "cell_cpu_s": cpu, "cell_wall_s": wall}


def _write_tables(out: Path, spec: AtlasSpec, rows: list[dict], meta: dict) -> None:
    from ..io import atomic_save_json, atomic_write

    buf = _io.StringIO()
    w = csv.DictWriter(buf, fieldnames=COLUMNS, lineterminator="\n")
    w.writeheader()
    for r in rows:
        w.writerow({c: "" if r.get(c) is None else r.get(c) for c in COLUMNS})
    with atomic_write(out / "results.csv", "w") as f:
        f.write(buf.getvalue())
    atomic_save_json(out / "results.json", {"spec": spec.as_dict(), "digest": spec.digest(),
                                            "versions": versions(), "run": meta, "columns": COLUMNS,
                                            "rows": rows})


def refresh_tables(out: str | os.PathLike) -> list[dict]:
    """Rewrite ``results.csv`` / ``results.json`` from the finished cells of ``OUT`` (a partial run too).

    Used by ``--report-only`` so that a sweep still running (or killed) can be drawn.
    Returns the rows; the run info records how many cells were finished.
    """
    from .atlas_spec import spec_from_dict

    out = Path(out)
    p = out / "spec.json"
    if not p.is_file():
        raise ValueError(f"out={str(out)!r} holds no spec.json; run the sweep first")
    spec = spec_from_dict(json.loads(p.read_text())["spec"])
    rows = collect_rows(out, spec)
    done = len({r["cell"] for r in rows})
    old = {}
    if (out / "results.json").is_file():
        with contextlib.suppress(OSError, ValueError):
            old = json.loads((out / "results.json").read_text()).get("run", {})
    meta = dict(old, cells=len(spec.cells()), finished=done, partial=done < len(spec.cells()),
                **cell_cost(out, spec))
    _write_tables(out, spec, rows, meta)
    return rows


# ----------------------------------------------------------------------------- execution
@dataclass
class AtlasResult:
    """Rows of a finished sweep, its spec and output folder."""

    rows: list
    spec: AtlasSpec
    out: Path
    meta: dict


@contextlib.contextmanager
def _client(scheduler: str | None, workers: int | None):
    import logging

    from dask.distributed import Client, LocalCluster

    if scheduler:
        with Client(scheduler, timeout="30s") as c:
            yield c
        return
    n = int(workers or os.cpu_count() or 1)
    with LocalCluster(n_workers=n, threads_per_worker=1, processes=True, dashboard_address=None,
                      silence_logs=logging.ERROR) as cluster, Client(cluster) as c:
        yield c


def run_atlas(spec: Any = None, out: str | os.PathLike = "atlas_out", *, scheduler: str | None = None,
              workers: int | None = None, serial: bool = False, progress: bool = True,
              report: bool = True) -> AtlasResult:
    """Run (or resume) a failure-atlas sweep and write its table and report.

    Parameters
    ----------
    spec : AtlasSpec, path or None
        The sweep (``None``: the shipped default spec, see :func:`.atlas_spec.load_spec`).
    out : path
        Output folder: ``cells/`` (one JSON per finished cell), ``results.csv``,
        ``results.json`` (rows, spec, versions, run info), ``spec.json``, and with
        ``report=True`` ``figures/`` and ``index.html``.
    scheduler : str, optional
        Address of a running Dask scheduler (``tcp://host:8786``); default: a
        ``LocalCluster`` with ``workers`` single-threaded worker processes.
    workers : int, optional
        LocalCluster workers (default: one per core).
    serial : bool
        Run in this process without Dask.
    progress : bool
        tqdm bar counting cells (finished cells of an earlier run count as done).
    report : bool
        Draw the heatmaps, boundaries and HTML page (:mod:`.atlas_report`).

    Returns
    -------
    AtlasResult

    Notes
    -----
    Results do not depend on the executor: each cell's noise comes from its own seed,
    learned methods run with one torch thread, and rows are collected in the spec's
    order. A run that is killed (even with SIGKILL) leaves only complete cell files
    (atomic writes); running it again computes the missing cells only.
    """
    from tqdm.auto import tqdm

    if not isinstance(spec, AtlasSpec):
        spec = load_spec(spec)
    out = Path(out)
    _start(out, spec)
    cells = spec.cells()
    digest = spec.digest()
    todo = [c for c in cells if _read_cell(out, c, digest) is None]
    t0 = time.perf_counter()
    mode = "serial" if serial else ("scheduler" if scheduler else "local-cluster")
    with tqdm(total=len(cells), initial=len(cells) - len(todo), desc="atlas cells", unit="cell",
              disable=None if progress else True) as bar:
        if serial or not todo:
            for c in todo:
                _save_cell(out, run_cell(c, spec))
                bar.update()
        else:
            from dask.distributed import as_completed

            with _client(scheduler, workers) as client:
                futs = client.map(run_cell, todo, spec=spec, pure=False)
                for fut in as_completed(futs):
                    _save_cell(out, fut.result())
                    bar.update()
    wall = time.perf_counter() - t0
    load = os.getloadavg() if hasattr(os, "getloadavg") else None
    meta = {"mode": mode, "workers": workers, "cells": len(cells), "computed": len(todo),
            "finished": len(cells), "partial": False, "wall_s": wall, "loadavg": load,
            **cell_cost(out, spec)}
    rows = collect_rows(out, spec)
    _write_tables(out, spec, rows, meta)
    if report:
        from .atlas_report import make_report

        make_report(out)
    return AtlasResult(rows=rows, spec=spec, out=out, meta=meta)
