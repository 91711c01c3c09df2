"""Issue 14: the first-hour CLI frictions of ``deblur`` and ``demo``, each pinned by a test.

Bad input exits 2 with one line naming the argument and writes nothing; 3-D stacks are
restored as stacks (equal to the Python API); overrides are explicit flags.
"""

from __future__ import annotations

import numpy as np
import pytest

from hybrid_deblur import psf as P
from hybrid_deblur.cli.main import main
from hybrid_deblur.physics import Blur


def _one_line_error(capsys, *needles):
    err = capsys.readouterr().err.strip().splitlines()
    errors = [ln for ln in err if "error" in ln]
    assert len(errors) == 1, err
    for n in needles:
        assert n in errors[0], errors[0]
    return errors[0]


@pytest.fixture
def gray_npy(tmp_path):
    from hybrid_deblur.io import sample_image

    x = sample_image("camera")[::4, ::4].copy()            # 128 x 128
    y = Blur(P.gaussian(1.5, 9), boundary="reflect").A(x)
    path = tmp_path / "y.npy"
    np.save(path, y)
    return path


def test_3d_stack_is_restored_as_a_stack_automatically_and_with_ndim(tmp_path):
    from hybrid_deblur.solvers import wiener

    rng = np.random.default_rng(0)
    k3 = P.gaussian(1.0, 5)[None] * np.array([0.25, 0.5, 0.25])[:, None, None]
    y = Blur(k3, boundary="reflect", ndim=3).A(rng.random((10, 32, 32)))
    np.save(tmp_path / "stack.npy", y)
    np.save(tmp_path / "bead.npy", k3)
    expected = wiener(y, k3, ndim=3)
    for extra, name in (([], "auto.npy"), (["--ndim", "3"], "explicit.npy")):
        code = main(["deblur", str(tmp_path / "stack.npy"), "--psf", str(tmp_path / "bead.npy"),
                     "-o", str(tmp_path / name), *extra])
        assert code == 0
        out = np.load(tmp_path / name)
        assert out.shape == y.shape
        np.testing.assert_allclose(out, expected, atol=1e-10)


def test_4d_image_is_refused_before_any_work(tmp_path, capsys):
    np.save(tmp_path / "four.npy", np.zeros((1, 2, 40, 40)))
    np.save(tmp_path / "k.npy", P.gaussian(1.0, 5))
    out = tmp_path / "o.npy"
    code = main(["deblur", str(tmp_path / "four.npy"), "--psf", str(tmp_path / "k.npy"), "-o", str(out)])
    assert code == 2
    _one_line_error(capsys, "four.npy", "(1, 2, 40, 40)", "(C, H, W)")
    assert not out.exists() and not out.with_suffix(".json").exists()


def test_negative_psf_refused_with_the_flag_named_then_allowed(tmp_path, gray_npy, capsys):
    k = P.gaussian(1.5, 9)
    k[0, 0] = -0.5
    np.save(tmp_path / "neg.npy", k)
    out = tmp_path / "o.npy"
    args = ["deblur", str(gray_npy), "--psf", str(tmp_path / "neg.npy"), "-o", str(out)]
    assert main(args) == 2
    _one_line_error(capsys, "--psf", "neg.npy", "-0.5", "--allow-negative-psf")
    assert not out.exists()
    assert main(args + ["--allow-negative-psf"]) == 0 and out.exists()
    # negatives at rounding level are not "negative entries": accepted without a flag
    k2 = P.gaussian(1.5, 9)
    k2[0, 0] = -1e-9
    np.save(tmp_path / "round.npy", k2)
    assert main(["deblur", str(gray_npy), "--psf", str(tmp_path / "round.npy"), "-o",
                 str(tmp_path / "r.npy")]) == 0


def test_colour_image_as_psf_refused_then_averaged(tmp_path, gray_npy, capsys):
    from hybrid_deblur.io import imwrite, sample_image

    imwrite(tmp_path / "rgbk.png", sample_image("astronaut")[:, 100:121, 200:221])
    out = tmp_path / "o.npy"
    args = ["deblur", str(gray_npy), "--psf", str(tmp_path / "rgbk.png"), "-o", str(out)]
    assert main(args) == 2
    _one_line_error(capsys, "--psf", "rgbk.png", "colour", "--psf-colour average")
    assert not out.exists()
    assert main(args + ["--psf-colour", "average"]) == 0
    assert np.load(out).shape == (128, 128)          # one grey kernel, not three


def test_psf_larger_than_half_the_image_refused_then_allowed_with_a_warning(tmp_path, gray_npy, capsys):
    np.save(tmp_path / "big.npy", P.gaussian(12.0, 81))
    out = tmp_path / "o.npy"
    args = ["deblur", str(gray_npy), "--psf", str(tmp_path / "big.npy"), "-o", str(out)]
    assert main(args) == 2
    _one_line_error(capsys, "--psf", "81x81", "128x128", "--allow-large-psf")
    assert not out.exists()
    assert main(args + ["--allow-large-psf"]) == 0
    err = capsys.readouterr().err
    assert sum(ln.startswith("warning: PSF") and "quarter" in ln for ln in err.splitlines()) == 1


def test_off_centre_psf_gets_one_warning_line(tmp_path, gray_npy, capsys):
    k = np.zeros((15, 15))
    k[1:4, 1:4] = 1 / 9                                # mass at (2, 2): 5 px from the centre (7, 7)
    np.save(tmp_path / "shifted.npy", k)
    assert main(["deblur", str(gray_npy), "--psf", str(tmp_path / "shifted.npy"), "-o",
                 str(tmp_path / "o.npy")]) == 0
    lines = [ln for ln in capsys.readouterr().err.splitlines() if ln.startswith("warning:")]
    assert len(lines) == 1 and "-5.0, -5.0 px" in lines[0] and "shifted" in lines[0]


def test_16_bit_input_gives_16_bit_output(tmp_path):
    from PIL import Image

    from hybrid_deblur.io import imwrite, sample_image

    imwrite(tmp_path / "in.png", sample_image("camera")[::4, ::4], bits=16)
    np.save(tmp_path / "k.npy", P.gaussian(1.0, 5))
    assert main(["deblur", str(tmp_path / "in.png"), "--psf", str(tmp_path / "k.npy"),
                 "-o", str(tmp_path / "out.png")]) == 0
    assert Image.open(tmp_path / "in.png").mode.startswith("I")
    assert Image.open(tmp_path / "out.png").mode == Image.open(tmp_path / "in.png").mode


def test_demo_unknown_image_exits_2_without_an_output_folder(tmp_path, capsys):
    out = tmp_path / "demo_out"
    assert main(["demo", "--image", str(tmp_path / "nope.png"), "--out", str(out)]) == 2
    _one_line_error(capsys, "--image", "nope.png", "camera")
    assert not out.exists()


@pytest.mark.slow
def test_demo_takes_an_image_path_and_says_when_colour_becomes_grey(tmp_path):
    from hybrid_deblur.io import imwrite, sample_image
    from hybrid_deblur.pipeline.demo import _colour_note, demo_problem

    rgb = sample_image("astronaut")[:, ::4, ::4]
    imwrite(tmp_path / "rgb.png", rgb)
    x, _ref, _psf, _y, _ = demo_problem(str(tmp_path / "rgb.png"), size=96)
    assert x.shape == (96, 96)
    np.testing.assert_allclose(x, np.mean(rgb, axis=0)[16:112, 16:112], atol=2e-3)   # 8-bit round trip
    assert "converted to grey" in _colour_note(str(tmp_path / "rgb.png"))
    assert _colour_note("camera") is None


def test_non_finite_image_is_refused_naming_the_file(tmp_path, capsys):
    # issue 16 item 10: the message names the file, not the library's internal ``y``
    a = np.full((40, 40), 0.5)
    a[3, 4] = np.nan
    a[5, 6] = np.inf
    np.save(tmp_path / "nan.npy", a)
    np.save(tmp_path / "k.npy", P.gaussian(1.0, 5))
    out = tmp_path / "o.npy"
    code = main(["deblur", str(tmp_path / "nan.npy"), "--psf", str(tmp_path / "k.npy"), "-o", str(out)])
    assert code == 2
    _one_line_error(capsys, "nan.npy", "2 NaN or inf")
    assert not out.exists() and not out.with_suffix(".json").exists()
