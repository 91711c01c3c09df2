"""``hybrid-deblur psf``: spec parsing, round trips, figure, errors (exit status 2)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from hybrid_deblur.cli.cmd_psf import parse_spec
from hybrid_deblur.cli.main import main
from hybrid_deblur.psf import combine, disk, gaussian, linear_motion, load_psf, save_psf

DATA = Path(__file__).resolve().parents[1] / ".." / "shared" / "data"


def test_parse_spec():
    keys = {"length": float, "angle": float, "seed": int}
    assert parse_spec("length=21, angle=30", keys, option="--motion") == {
        "length": 21.0, "angle": 30.0}
    assert parse_spec("7", keys, option="--motion") == {"length": 7.0}
    assert parse_spec("length=3,seed=4", keys, option="--m")["seed"] == 4
    with pytest.raises(ValueError, match=r"--motion: unknown key 'lenght'.*length, angle, seed"):
        parse_spec("lenght=21", keys, option="--motion")
    with pytest.raises(ValueError, match=r"--motion: angle='abc' is not a valid float"):
        parse_spec("length=2,angle=abc", keys, option="--motion")
    with pytest.raises(ValueError, match="given twice"):
        parse_spec("length=2,length=3", keys, option="--motion")
    with pytest.raises(ValueError, match="not key=value"):
        parse_spec("length=2,3", keys, option="--motion")
    with pytest.raises(ValueError, match="empty"):
        parse_spec("", keys, option="--motion")


def test_cli_combines_specs_and_writes_figure(tmp_path, capsys):
    out = tmp_path / "psf.npy"
    rc = main(["psf", "--motion", "length=21,angle=30", "--defocus", "radius=4",
               "--gaussian", "sigma=1", "-o", str(out)])
    assert rc == 0
    k = np.load(out)
    ref = combine(linear_motion(21, 30), disk(4), gaussian(1.0))
    np.testing.assert_allclose(k, ref, atol=1e-15)
    fig = tmp_path / "psf_psf.png"
    assert fig.is_file() and fig.stat().st_size > 1000
    line = capsys.readouterr().out.strip()
    assert line.count("\n") == 0 and "psf.npy" in line and "37x37" in line


def test_cli_trajectory_size_and_png(tmp_path):
    out = tmp_path / "shake.png"
    rc = main(["psf", "--trajectory", "length=15,seed=3,size=25", "--size", "31",
               "--no-figure", "-o", str(out)])
    assert rc == 0 and out.is_file()
    assert not (tmp_path / "shake_psf.png").exists()
    k = load_psf(out)
    assert k.shape == (31, 31)
    from hybrid_deblur.psf import pad_psf, trajectory_motion

    ref = pad_psf(trajectory_motion(size=25, length=15, seed=3), 31)
    np.testing.assert_allclose(k, ref, atol=2 * ref.max() / 65535)


def test_cli_file_roundtrip_matlab(tmp_path):
    k = np.zeros((5, 7))
    k[1, 2], k[3, 5] = 0.25, 0.75
    src = tmp_path / "f.mat"
    save_psf(src, k, orientation="matlab", key="f")
    out = tmp_path / "conv.npy"
    assert main(["psf", "--file", str(src), "--orientation", "matlab", "--no-figure",
                 "-o", str(out)]) == 0
    np.testing.assert_allclose(np.load(out), k, atol=1e-15)


@pytest.mark.skipif(not (DATA / "levin2009").exists(), reason="shared data not found")
def test_cli_levin_mat(tmp_path):
    out = tmp_path / "k1.npy"
    assert main(["psf", "--file", str(DATA / "levin2009" / "mat" / "im01_ker01.mat"),
                 "--orientation", "matlab", "--no-figure", "-o", str(out)]) == 0
    np.testing.assert_allclose(np.load(out), np.load(DATA / "levin2009" / "kernels" /
                                                     "levin_k1.npy"), atol=1e-15)


@pytest.mark.parametrize("argv,msg", [
    (["--motion", "lenght=21"], "unknown key 'lenght'"),
    (["--defocus", "radius=big"], "radius='big' is not a valid float"),
    (["--defocus", "radius=-2"], "radius must be >= 0"),
    (["--trajectory", "seed=1.5"], "seed='1.5' is not a valid int"),
    (["--file", "missing.npy"], "missing.npy"),
    ([], "no PSF given"),
])
def test_cli_bad_option_exits_2(tmp_path, capsys, argv, msg):
    out = tmp_path / "x.npy"
    rc = main(["psf", *argv, "-o", str(out)])
    err = capsys.readouterr().err
    assert rc == 2
    assert msg in err and err.count("\n") == 1
    assert not out.exists()


def test_cli_argparse_error_exits_2(tmp_path):
    with pytest.raises(SystemExit) as exc:
        main(["psf", "--orientation", "sideways", "--defocus", "2", "-o", str(tmp_path / "x.npy")])
    assert exc.value.code == 2
