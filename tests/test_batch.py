"""`hybrid-deblur batch`: killed midway and resumed, failures one line each, exit status."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest

from hybrid_deblur.cli.main import main
from hybrid_deblur.psf import gaussian
from hybrid_deblur.solvers import wiener

N = 100


def _cli(*args):
    code = "import sys; from hybrid_deblur.cli.main import main; sys.exit(main(sys.argv[1:]))"
    return [sys.executable, "-c", code, *args]


def _folder(tmp_path: Path, n: int = N, size: int = 48):
    src = tmp_path / "in"
    src.mkdir()
    rng = np.random.default_rng(0)
    for i in range(n):
        np.save(src / f"im{i:03d}.npy", rng.random((size, size)))
    np.save(tmp_path / "k.npy", gaussian(1.5, 9))
    return src


@pytest.mark.slow
def test_batch_killed_midway_resumes_to_all_correct_outputs(tmp_path):
    src = _folder(tmp_path)
    dst = tmp_path / "out"
    args = _cli("batch", str(src), str(dst), "--psf", str(tmp_path / "k.npy"), "--method", "wiener",
                "--quiet")
    env = {**os.environ, "OMP_NUM_THREADS": "1", "HYBRID_DEBLUR_FFT_WORKERS": "1"}
    proc = subprocess.Popen(args, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    t0 = time.time()
    while time.time() - t0 < 120:
        done = len(list(dst.glob("*.npy"))) if dst.exists() else 0
        if done >= 10 or proc.poll() is not None:
            break
        time.sleep(0.002)
    proc.send_signal(signal.SIGKILL)
    proc.wait()
    first = len(list(dst.glob("*.npy")))
    assert proc.returncode == -signal.SIGKILL, "the batch finished before it could be killed"
    assert 0 < first < N
    # a write that the kill interrupted leaves a temporary file of a dead process; plant one too
    (dst / f".im099.npy.{2**22 + 12345}.dead.tmp").write_bytes(b"partial")
    res = subprocess.run(args, env=env, capture_output=True, text=True, timeout=300, check=False)
    assert res.returncode == 0, res.stderr[-2000:]
    assert f"{N - first} restored, {first} already done, 0 failed" in res.stdout
    names = sorted(p.name for p in dst.iterdir())
    assert names == [f"im{i:03d}.npy" for i in range(N)]          # no temporary file left
    k = np.load(tmp_path / "k.npy")
    for i in (0, first - 1, first, N - 1):
        y = np.load(src / f"im{i:03d}.npy")
        np.testing.assert_allclose(np.load(dst / f"im{i:03d}.npy"), wiener(y, k), rtol=0, atol=1e-12)


def test_batch_reports_each_failure_in_one_line_and_exits_with_their_count(tmp_path, capsys):
    src = _folder(tmp_path, n=4, size=40)
    (src / "broken.png").write_bytes(b"not a png at all")
    (src / "empty.npy").write_bytes(b"")
    rc = main(["batch", str(src), str(tmp_path / "out"), "--psf", str(tmp_path / "k.npy"),
               "--method", "wiener", "--quiet"])
    err = capsys.readouterr().err
    fails = [ln for ln in err.splitlines() if ln.startswith("FAILED")]
    assert rc == 2 and len(fails) == 2
    assert "Traceback" not in err and any("broken.png" in f for f in fails)
    assert sorted(p.name for p in (tmp_path / "out").iterdir()) == [f"im{i:03d}.npy" for i in range(4)]
    # a second run restores nothing and fails the same two again
    rc = main(["batch", str(src), str(tmp_path / "out"), "--psf", str(tmp_path / "k.npy"), "--quiet"])
    assert rc == 2 and "0 restored, 4 already done, 2 failed" in capsys.readouterr().out


def test_batch_guard_refuses_a_huge_file_in_one_line(tmp_path, capsys):
    src = _folder(tmp_path, n=2, size=40)
    with open(src / "huge.npy", "wb") as f:
        np.lib.format.write_array_header_1_0(
            f, {"descr": "<f8", "fortran_order": False, "shape": (300_000, 300_000)})
    rc = main(["batch", str(src), str(tmp_path / "out"), "--psf", str(tmp_path / "k.npy"), "--quiet"])
    fails = [ln for ln in capsys.readouterr().err.splitlines() if ln.startswith("FAILED")]
    assert rc == 1 and len(fails) == 1
    assert "huge.npy" in fails[0] and "needs" in fails[0] and "--tile" in fails[0]


@pytest.mark.slow
def test_batch_tiled_path_matches_whole_image(tmp_path):
    src = _folder(tmp_path, n=1, size=200)
    rc = main(["batch", str(src), str(tmp_path / "out"), "--psf", str(tmp_path / "k.npy"),
               "--tile", "100", "--quiet", "--method", "rl"])
    assert rc == 0
    from hybrid_deblur.scale import freeze_options
    from hybrid_deblur.solvers import richardson_lucy

    k = np.load(tmp_path / "k.npy")
    y = np.load(src / "im000.npy")
    x = np.load(tmp_path / "out" / "im000.npy")
    mono = richardson_lucy(y, k, **freeze_options(y, k, "rl"))
    h = 32                                  # the automatic halo of a 9x9 PSF for RL
    assert np.abs(x - mono)[h:-h, h:-h].max() < 1e-6 * np.abs(mono).max()


def test_batch_bad_arguments_are_one_line_errors(tmp_path, capsys):
    np.save(tmp_path / "k.npy", gaussian(1.5, 9))
    rc = main(["batch", str(tmp_path / "nope"), str(tmp_path / "out"), "--psf", str(tmp_path / "k.npy")])
    err = capsys.readouterr().err
    assert rc == 2 and err.count("\n") == 1 and "nope" in err
