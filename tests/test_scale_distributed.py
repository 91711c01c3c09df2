"""A real dask.distributed scheduler + worker on localhost run a tiled job via ``--scheduler``."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time

import numpy as np
import pytest

pytest.importorskip("distributed")

from hybrid_deblur.cli.main import main
from hybrid_deblur.physics import Blur
from hybrid_deblur.psf import gaussian
from hybrid_deblur.scale import deconvolve_tiled


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _dask_cli(*args):
    return [sys.executable, "-m", "distributed.cli.dask_" + args[0], *args[1:]]


@pytest.mark.slow
def test_tiled_job_through_a_running_scheduler(tmp_path):
    port = _free_port()
    addr = f"tcp://127.0.0.1:{port}"
    env = {**os.environ, "OMP_NUM_THREADS": "1", "HYBRID_DEBLUR_FFT_WORKERS": "1",
           "PYTHONPATH": os.pathsep.join([os.getcwd(), os.environ.get("PYTHONPATH", "")])}
    procs = [subprocess.Popen(_dask_cli("scheduler", "--host", "127.0.0.1", "--port", str(port),
                                        "--no-dashboard"), env=env, cwd=tmp_path,
                              stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)]
    try:
        procs.append(subprocess.Popen(_dask_cli("worker", addr, "--nworkers", "1", "--nthreads", "1",
                                                "--no-dashboard", "--memory-limit", "1GiB"),
                                      env=env, cwd=tmp_path, stdout=subprocess.DEVNULL,
                                      stderr=subprocess.DEVNULL))
        from distributed import Client

        t0 = time.time()
        while True:   # wait for the worker to register
            try:
                with Client(addr, timeout="5s") as c:
                    if c.scheduler_info()["workers"]:
                        break
            except OSError:
                pass
            assert time.time() - t0 < 60, "dask scheduler/worker did not come up"
            time.sleep(0.5)
        k = gaussian(1.5, 9)
        y = Blur(k, "reflect")(np.random.default_rng(0).random((256, 192))).astype(np.float32)
        np.save(tmp_path / "y.npy", y)
        np.save(tmp_path / "k.npy", k)
        rc = main(["deblur", str(tmp_path / "y.npy"), "--psf", str(tmp_path / "k.npy"), "--tile", "96",
                   "--scheduler", addr, "--method", "wiener", "-o", str(tmp_path / "x.npy")])
        assert rc == 0
        local = deconvolve_tiled(y, k, "wiener", chunks=96, scheduler="sync")
        np.testing.assert_array_equal(np.load(tmp_path / "x.npy"), local)
        with Client(addr, timeout="5s") as c:   # the tiles really ran on the remote worker
            done = c.run(lambda dask_worker: dask_worker.state.executed_count)
            assert sum(done.values()) >= 9      # at least the 3 x 2 tiles and their reads
    finally:
        for p in reversed(procs):
            p.terminate()
        for p in reversed(procs):
            try:
                p.wait(timeout=20)
            except subprocess.TimeoutExpired:
                p.kill()
                p.wait()
    assert all(p.poll() is not None for p in procs)
