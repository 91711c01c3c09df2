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
    fig = tmp_path / "psf_figure.png"          # issue 14: not psf_psf.png
    assert fig.is_file() and fig.stat().st_size > 1000
    assert sorted(p.name for p in tmp_path.iterdir()) == ["psf.npy", "psf_figure.png"]
    line = capsys.readouterr().out.strip()
    assert line.count("\n") == 0 and "psf.npy" in line and "37x37" in line


def test_cli_trajectory_size_and_png(tmp_path):
    out = tmp_path / "shake.png"
    rc = main(["psf", "--trajectory", "length=15,seed=3,size=25", "--size", "31",
               "--no-figure", "-o", str(out)])
    assert rc == 0 and out.is_file()
    assert sorted(p.name for p in tmp_path.iterdir()) == ["shake.png"]
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


def test_cli_figure_path_option(tmp_path):
    out = tmp_path / "k.npy"
    assert main(["psf", "--defocus", "3", "-o", str(out), "--figure", str(tmp_path / "f.png")]) == 0
    assert sorted(p.name for p in tmp_path.iterdir()) == ["f.png", "k.npy"]
    assert main(["psf", "--defocus", "3", "-o", str(out), "--figure", str(tmp_path / "f.txt")]) == 2


def test_cli_optics_warning_is_one_line(tmp_path, capsys):
    """Issue 14: the CLI shows UndersampledWarning (the API does), one line each."""
    out = tmp_path / "lens.npy"
    rc = main(["psf", "--optics", "wavelength=550nm,fnum=2.8,pixel=4.5um", "-o", str(out),
               "--no-figure"])
    assert rc == 0
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1
    assert err[0].startswith("hybrid-deblur psf: warning: UndersampledWarning: the pixel pitch")
    # a well-sampled lens: no warning
    rc = main(["psf", "--optics", "wavelength=550nm,fnum=8,pixel=1um", "-o", str(out),
               "--no-figure"])
    assert rc == 0 and capsys.readouterr().err == ""


def _text_boxes(fig):
    fig.canvas.draw()
    r = fig.canvas.get_renderer()
    from matplotlib.text import Text

    found = fig.findobj(Text)
    texts = [t for t in {id(t): t for t in found}.values()      # findobj may repeat an artist
             if t.get_visible() and t.get_text().strip()]
    return [(t.get_text(), t.get_window_extent(r)) for t in texts]


def _overlaps(boxes):
    bad = []
    for i, (ta, a) in enumerate(boxes):
        for tb, b in boxes[i + 1:]:
            if a.overlaps(b) and ta != tb:
                bad.append((ta, tb))
    return bad


def test_stack_figure_title_does_not_overlap_and_gives_micrometres():
    """Issue 14: the --measured figure's title sits above the panels; axes in µm."""
    from hybrid_deblur.analysis.plots import plot_psf_stack
    from hybrid_deblur.psf import gaussian

    stack = np.stack([gaussian(s, size=21) for s in (3.0, 2.0, 1.0, 2.0, 3.0)])
    title = "measured(../shared/data/psf_measured_llsm/psf.tif) * a long description " * 2
    fig = plot_psf_stack(stack, log=True, title=title, voxel_size=("0.1um", "0.1um", "0.1um"))
    titles = [t for t, _ in _text_boxes(fig)]
    assert any("µm" in t for t in titles) and "XY slice" in titles
    heads = [(t, b) for t, b in _text_boxes(fig)
             if t in ("XY slice", "XZ slice", "YZ slice") or t == fig._suptitle.get_text()]
    assert len(heads) == 4 and _overlaps(heads) == []
    # no panel (image or colorbar) overlaps another
    r = fig.canvas.get_renderer()
    boxes = [ax.get_tightbbox(r) for ax in fig.axes]
    assert not any(a.overlaps(b) for i, a in enumerate(boxes) for b in boxes[i + 1:])


def test_cli_measured_stack_uses_voxel_option(tmp_path, capsys):
    import tifffile

    from hybrid_deblur.psf import gaussian

    rng = np.random.default_rng(0)
    stack = np.stack([gaussian(s, size=25) for s in (3.0, 2.0, 1.2, 2.0, 3.0)])
    raw = (100 + 4e4 * stack + rng.normal(0, 1, stack.shape)).astype(np.uint16)
    src = tmp_path / "bead.tif"
    tifffile.imwrite(src, raw, imagej=True, resolution=(10.0, 10.0),
                     metadata={"spacing": 0.3, "unit": "um", "axes": "ZYX"})
    from hybrid_deblur.cli import cmd_psf

    args = type("A", (), {"voxel": None, "measured": [str(src)]})()
    np.testing.assert_allclose(cmd_psf._voxel_size(args), (0.3e-6, 0.1e-6, 0.1e-6))
    args.voxel = "0.2um,0.1um,0.1um"
    np.testing.assert_allclose(cmd_psf._voxel_size(args), (0.2e-6, 0.1e-6, 0.1e-6))
    args.voxel = "0.2um,0.1um"
    with pytest.raises(ValueError, match="DZ,DY,DX"):
        cmd_psf._voxel_size(args)
    out = tmp_path / "p.npy"
    assert main(["psf", "--measured", str(src), "-o", str(out)]) == 0
    assert (tmp_path / "p_figure.png").is_file()


def test_cli_blur_refuses_colour_and_negative_psfs_unless_overridden(tmp_path, capsys):
    """Issue 14: PSF sanity errors (exit 2, one line, no output) with explicit overrides."""
    import imageio.v3 as iio

    x = np.random.default_rng(0).random((48, 48))
    np.save(tmp_path / "x.npy", x)
    photo = (np.random.default_rng(1).random((9, 9, 3)) * 255).astype(np.uint8)
    iio.imwrite(tmp_path / "rgb.png", photo)
    neg = disk(2.0)
    neg[0, 2] = -0.5 * neg.max()
    np.save(tmp_path / "neg.npy", neg)
    out = tmp_path / "y.npy"
    for psf_file, flag in (("rgb.png", ["--psf-colour", "average"]),
                           ("neg.npy", ["--allow-negative-psf"])):
        argv = ["blur", str(tmp_path / "x.npy"), "--psf", str(tmp_path / psf_file), "-o", str(out)]
        assert main(argv) == 2
        err = capsys.readouterr().err.strip().splitlines()
        assert len(err) == 1 and psf_file in err[0] and not out.exists()
        assert main(argv + flag) == 0 and out.exists()
        out.unlink()
        (tmp_path / "y.json").unlink()


@pytest.mark.parametrize("option,spec,key", [("--motion", "angle=30", "length="),
                                             ("--defocus", "size=9", "radius=")])
def test_cli_missing_required_key_is_named(tmp_path, capsys, option, spec, key):
    assert main(["psf", option, spec, "-o", str(tmp_path / "k.npy")]) == 2
    err = capsys.readouterr().err.strip()
    assert f"{option} needs {key}" in err and "positional" not in err
    assert list(tmp_path.iterdir()) == []
