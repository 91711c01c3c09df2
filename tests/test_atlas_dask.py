"""Failure atlas execution: serial == 2-worker Dask, SIGKILL + resume == uninterrupted, --scheduler."""

from __future__ import annotations

import csv
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from hybrid_deblur.analysis.atlas_run import TIME_COLUMNS, run_atlas
from hybrid_deblur.analysis.atlas_spec import parse_spec

pytest.importorskip("distributed")

pytestmark = pytest.mark.slow

SPEC = {"atlas": {"n_images": 1, "image_size": 48, "name": "dask-test"},
        "axes": {"motion_length": [0, 3, 5, 7], "defocus_radius": [0, 2], "noise_sigma": [0.01]},
        "methods": {"nonblind": ["wiener", "hqs-tv"], "blind": ["parametric>hqs-tv"]}}
TOML = """[atlas]
name = "dask-test"
n_images = 1
image_size = 48
[axes]
motion_length = [0, 3, 5, 7]
defocus_radius = [0, 2]
noise_sigma = [0.01]
[methods]
nonblind = ["wiener", "hqs-tv"]
blind = ["parametric>hqs-tv"]
"""


def _table(out: Path) -> list[dict]:
    with open(out / "results.csv") as f:
        return [{k: v for k, v in r.items() if k not in TIME_COLUMNS} for r in csv.DictReader(f)]


@pytest.fixture(scope="module")
def serial_table(tmp_path_factory):
    out = tmp_path_factory.mktemp("serial")
    run_atlas(parse_spec(SPEC), out, serial=True, progress=False, report=False)
    t = _table(out)
    assert len(t) == 8 * 3
    return t


def test_two_worker_dask_equals_serial(tmp_path, serial_table):
    res = run_atlas(parse_spec(SPEC), tmp_path, workers=2, progress=False, report=False)
    assert res.meta["mode"] == "local-cluster" and res.meta["computed"] == 8
    assert _table(tmp_path) == serial_table


def test_sigkill_then_resume_equals_uninterrupted(tmp_path, serial_table):
    spec = tmp_path / "spec.toml"
    spec.write_text(TOML)
    out = tmp_path / "out"
    cmd = [sys.executable, "-m", "hybrid_deblur.cli.main", "atlas", "--spec", str(spec), "--out",
           str(out), "--serial", "--no-progress"]
    env = dict(os.environ, OMP_NUM_THREADS="1")
    proc = subprocess.Popen(cmd, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    cells = out / "cells"
    t0 = time.monotonic()
    while time.monotonic() - t0 < 120:
        if cells.is_dir() and len([p for p in cells.iterdir() if p.suffix == ".json"]) >= 2:
            break
        time.sleep(0.02)
    proc.send_signal(signal.SIGKILL)
    proc.wait()
    done = len([p for p in cells.iterdir() if p.suffix == ".json"])
    assert 2 <= done < 8, f"kill landed after {done} of 8 cells"
    assert not (out / "results.csv").exists()
    res = run_atlas(parse_spec(SPEC), out, serial=True, progress=False, report=False)
    assert res.meta["computed"] == 8 - done
    assert _table(out) == serial_table


def test_existing_dask_scheduler(tmp_path, serial_table):
    dask = Path(sys.executable).with_name("dask")
    if not dask.exists():
        pytest.skip("the dask command is not installed next to this Python")
    sched_file = tmp_path / "scheduler.json"
    env = dict(os.environ, OMP_NUM_THREADS="1")
    procs = [subprocess.Popen([str(dask), "scheduler", "--host", "127.0.0.1", "--port", "0",
                               "--no-dashboard", "--scheduler-file", str(sched_file)],
                              env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)]
    try:
        t0 = time.monotonic()
        while not sched_file.exists() and time.monotonic() - t0 < 60:
            time.sleep(0.1)
        procs.append(subprocess.Popen([str(dask), "worker", "--scheduler-file", str(sched_file),
                                       "--nworkers", "1", "--nthreads", "1", "--no-dashboard"],
                                      env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL))
        import json

        address = json.loads(sched_file.read_text())["address"]
        from dask.distributed import Client

        with Client(address, timeout="60s") as c:
            c.wait_for_workers(1, timeout=60)
        res = run_atlas(parse_spec(SPEC), tmp_path / "out", scheduler=address, progress=False,
                        report=False)
        assert res.meta["mode"] == "scheduler"
        assert _table(tmp_path / "out") == serial_table
    finally:
        for p in reversed(procs):
            p.terminate()
        for p in reversed(procs):
            try:
                p.wait(timeout=20)
            except subprocess.TimeoutExpired:
                p.kill()
                p.wait()
