"""Image IO: sRGB curve, per-format round trips, 16-bit PNG (imagecodecs), atomic writes, errors."""

from __future__ import annotations

import json
import os
from pathlib import Path

import numpy as np
import pytest

from hybrid_deblur import io

DATA = Path(__file__).resolve().parents[1] / ".." / "shared" / "data"


def smooth_image(shape, seed=0):
    """A smooth random image in (0, 1) (JPEG-friendly)."""
    from scipy.ndimage import gaussian_filter

    rng = np.random.default_rng(seed)
    x = gaussian_filter(rng.random(shape), sigma=[0] * (len(shape) - 2) + [3, 3])
    x = (x - x.min()) / (x.max() - x.min())
    return 0.05 + 0.9 * x


def no_temp_files(directory):
    return [n for n in os.listdir(directory) if n.endswith(".tmp")] == []


# ----------------------------------------------------------------------------- sRGB curve
def test_srgb_closed_form_points():
    s = np.array([0.0, 0.02, 0.04045, 0.5, 1.0])
    expect = np.array([0.0, 0.02 / 12.92, 0.04045 / 12.92, (0.555 / 1.055) ** 2.4, 1.0])
    np.testing.assert_allclose(io.srgb_to_linear(s), expect, rtol=0, atol=1e-15)
    lin = np.array([0.0, 0.001, 0.18, 1.0])
    expect = np.array([0.0, 0.01292, 1.055 * 0.18 ** (1 / 2.4) - 0.055, 1.0])
    np.testing.assert_allclose(io.linear_to_srgb(lin), expect, rtol=0, atol=1e-15)
    # well-known values: mid-grey 0.5 sRGB = 21.4 % linear, 18 % grey = 46.1 % sRGB
    assert abs(io.srgb_to_linear(np.array(0.5)) - 0.21404114) < 1e-8
    assert abs(io.linear_to_srgb(np.array(0.18)) - 0.46135613) < 1e-8


def test_srgb_inverse_to_1e12():
    s = np.linspace(-0.5, 1.5, 200001)
    assert np.max(np.abs(io.linear_to_srgb(io.srgb_to_linear(s)) - s)) < 1e-12
    lin = np.linspace(-0.5, 1.5, 200001)
    gap = (np.abs(lin) > 0.04045 / 12.92) & (np.abs(lin) < 0.0031308073)  # not in the decode range
    err = np.abs(io.srgb_to_linear(io.linear_to_srgb(lin)) - lin)
    assert err[~gap].max() < 1e-12
    assert np.all(np.diff(io.srgb_to_linear(s)) > 0)  # monotone, odd extension below 0
    np.testing.assert_allclose(io.srgb_to_linear(-s), -io.srgb_to_linear(s), atol=0)


def test_srgb_dtype_and_torch():
    torch = pytest.importorskip("torch")
    x32 = np.linspace(0, 1, 11, dtype=np.float32)
    assert io.srgb_to_linear(x32).dtype == np.float32
    t = torch.linspace(0, 1, 11, dtype=torch.float64, requires_grad=True)
    enc = io.linear_to_srgb(t)
    np.testing.assert_allclose(enc.detach().numpy(), io.linear_to_srgb(t.detach().numpy()),
                               atol=1e-15)
    enc.sum().backward()
    assert torch.isfinite(t.grad).all() and abs(float(t.grad[0]) - 12.92) < 1e-12
    dec = io.srgb_to_linear(torch.tensor([0.2, 0.7]))
    np.testing.assert_allclose(dec.numpy(), io.srgb_to_linear(np.array([0.2, 0.7])), rtol=1e-6)


# ----------------------------------------------------------------------------- round trips
@pytest.mark.parametrize("shape", [(24, 31), (3, 24, 31)])
def test_png8_round_trip_within_quantisation(tmp_path, shape):
    x = np.random.default_rng(1).random(shape)
    p = tmp_path / "a.png"
    io.imwrite(p, x)
    y = io.imread(p)
    assert y.shape == shape and y.dtype == np.float64
    # exactly the quantised sRGB code values
    expect = np.round(io.linear_to_srgb(x) * 255) / 255
    np.testing.assert_allclose(io.linear_to_srgb(y), expect, atol=1e-12)
    assert np.max(np.abs(io.linear_to_srgb(y) - io.linear_to_srgb(x))) <= 0.5 / 255 + 1e-12
    assert no_temp_files(tmp_path)


@pytest.mark.parametrize("shape", [(17, 23), (2, 17, 23), (3, 17, 23), (4, 17, 23)])
def test_png16_round_trip(tmp_path, shape):
    x = np.random.default_rng(2).random(shape)
    p = tmp_path / "a.png"
    io.imwrite(p, x, bits=16)
    y = io.imread(p)
    ref = x[:-1] if shape[0] in (2, 4) else x  # alpha dropped
    ref = ref[0] if ref.shape[0] == 1 else ref
    assert y.shape == ref.shape
    assert np.max(np.abs(io.linear_to_srgb(y) - io.linear_to_srgb(ref))) <= 0.5 / 65535 + 1e-12


def test_png16_codec_cross_checked_with_pillow(tmp_path):
    from PIL import Image

    rng = np.random.default_rng(3)
    grey = rng.integers(0, 65536, size=(19, 26), dtype=np.uint16)
    # a grey 16-bit PNG written by Pillow is decoded by imagecodecs
    Image.fromarray(grey).save(tmp_path / "g.png")
    np.testing.assert_array_equal(io.imread(tmp_path / "g.png", linear=False, scale=False), grey)
    # and a grey 16-bit PNG written by us is read exactly by Pillow
    io.imwrite(tmp_path / "ours.png", grey / 65535.0, bits=16, linear=False)
    with Image.open(tmp_path / "ours.png") as im:
        np.testing.assert_array_equal(np.asarray(im), grey)
    # our colour 16-bit PNG: Pillow (which reduces 16-bit colour to 8 bits) sees the high bytes
    rgb = rng.integers(0, 65536, size=(3, 19, 26), dtype=np.uint16)
    io.imwrite(tmp_path / "c.png", rgb / 65535.0, bits=16, linear=False)
    np.testing.assert_array_equal(io.imread(tmp_path / "c.png", linear=False, scale=False), rgb)
    with Image.open(tmp_path / "c.png") as im:
        hi = np.asarray(im.convert("RGB"))
    np.testing.assert_array_equal(hi, np.moveaxis(rgb >> 8, 0, -1))


def test_png16_interlaced_is_read(tmp_path):
    """Adam7-interlaced 16-bit PNGs (refused by the old hand-written codec) decode exactly."""
    from PIL import Image

    grey = np.random.default_rng(5).integers(0, 65536, size=(21, 30), dtype=np.uint16)
    Image.fromarray(grey).save(tmp_path / "i.png", interlace=1)
    np.testing.assert_array_equal(io.imread(tmp_path / "i.png", linear=False, scale=False), grey)


def test_16bit_gray_tiff_written_as_png_stays_16_bit(tmp_path):
    """Issue 9/14: a 16-bit grey TIFF written to .png with the input's depth keeps 16 bits."""
    import tifffile

    raw = np.random.default_rng(6).integers(0, 65536, size=(24, 31), dtype=np.uint16)
    tifffile.imwrite(tmp_path / "in.tif", raw)
    assert io.image_bits(tmp_path / "in.tif") == 16
    x = io.imread(tmp_path / "in.tif")
    io.imwrite(tmp_path / "out.png", x, bits=io.image_bits(tmp_path / "in.tif"))
    assert io.image_bits(tmp_path / "out.png") == 16
    back = io.imread(tmp_path / "out.png", linear=False, scale=False)
    assert back.dtype == np.float64
    np.testing.assert_array_equal(back, raw)           # bit exact through the sRGB curve
    io.imwrite(tmp_path / "o8.png", x)
    assert io.image_bits(tmp_path / "o8.png") == 8
    io.imwrite(tmp_path / "f.tif", x.astype(np.float32), bits=32)
    assert io.image_bits(tmp_path / "f.tif") == 32
    io.imwrite(tmp_path / "a.npy", x)
    assert io.image_bits(tmp_path / "a.npy") is None


def test_matching_bits_keeps_the_input_depth_never_less_than_the_default(tmp_path):
    io.imwrite(tmp_path / "g16.tif", np.zeros((4, 4)))                 # 16-bit TIFF
    io.imwrite(tmp_path / "f.tif", np.zeros((4, 4)), bits=32)          # float TIFF
    io.imwrite(tmp_path / "g8.png", np.zeros((4, 4)))                  # 8-bit PNG
    io.imwrite(tmp_path / "a.npy", np.zeros((4, 4)))
    mb = io.matching_bits
    assert mb(tmp_path / "o.png", tmp_path / "g16.tif") == 16
    assert mb(tmp_path / "o.png", tmp_path / "f.tif") == 16
    assert mb(tmp_path / "o.tif", tmp_path / "f.tif") == 32
    assert mb(tmp_path / "o.tif", tmp_path / "g8.png") is None         # TIFF default (16) kept
    assert mb(tmp_path / "o.jpg", tmp_path / "g16.tif") is None
    assert mb(tmp_path / "o.png", tmp_path / "a.npy") is None
    with pytest.raises(ValueError, match="unknown extension"):
        mb(tmp_path / "o.gif", tmp_path / "g8.png")


def test_cli_blur_keeps_16_bit_depth(tmp_path):
    """Issue 14: a 16-bit grey input blurred to .png comes out 16-bit."""
    import tifffile

    from hybrid_deblur.cli.main import main
    from hybrid_deblur.psf import disk

    raw = (np.random.default_rng(1).random((40, 40)) * 65535).astype(np.uint16)
    tifffile.imwrite(tmp_path / "in.tif", raw)
    np.save(tmp_path / "k.npy", disk(2.0))
    assert main(["blur", str(tmp_path / "in.tif"), "--psf", str(tmp_path / "k.npy"),
                 "-o", str(tmp_path / "out.png")]) == 0
    assert io.image_bits(tmp_path / "out.png") == 16


def test_stale_temporaries_of_a_killed_writer_are_cleaned_on_the_next_write(tmp_path):
    """Issue 16 item 9: a SIGKILL-ed write leaves a temporary file; the next write removes it."""
    import signal
    import subprocess
    import sys
    import time

    target = tmp_path / "out.png"
    code = (
        "import sys, time\n"
        "from hybrid_deblur.io import atomic_write\n"
        "with atomic_write(sys.argv[1]) as f:\n"
        "    f.write(b'x' * 1000); f.flush(); print('ready', flush=True); time.sleep(60)\n"
    )
    proc = subprocess.Popen([sys.executable, "-c", code, str(target)], stdout=subprocess.PIPE,
                            text=True)
    try:
        assert proc.stdout.readline().strip() == "ready"
        left = [n for n in os.listdir(tmp_path) if n.endswith(".tmp")]
        assert len(left) == 1 and left[0].startswith(".out.png.")
        # a live writer's temporary file is never touched
        assert io.clean_stale_temporaries(target) == []
    finally:
        proc.send_signal(signal.SIGKILL)
        proc.wait(timeout=10)
    assert not target.exists() and len(os.listdir(tmp_path)) == 1    # the leftover stays ...
    io.imwrite(target, np.zeros((4, 4)))
    assert sorted(os.listdir(tmp_path)) == ["out.png"]               # ... until the next write
    # a legacy leftover (no pid in the name) is removed once it is an hour old
    old = tmp_path / ".out.png.abc123.tmp"
    old.write_bytes(b"x")
    io.imwrite(target, np.zeros((4, 4)))
    assert old.exists()
    t = time.time() - 7200
    os.utime(old, (t, t))
    io.imwrite(target, np.zeros((4, 4)))
    assert not old.exists()
    # another target's temporaries are not touched
    other = tmp_path / ".other.png.999999999.ab.tmp"
    other.write_bytes(b"x")
    io.imwrite(target, np.zeros((4, 4)))
    assert other.exists()


@pytest.mark.parametrize("shape", [(40, 48), (3, 40, 48)])
def test_jpeg_round_trip(tmp_path, shape):
    x = smooth_image(shape)
    io.imwrite(tmp_path / "a.jpg", x, quality=95)
    y = io.imread(tmp_path / "a.jpg")
    assert y.shape == shape
    assert np.mean(np.abs(io.linear_to_srgb(y) - io.linear_to_srgb(x))) < 0.01


def test_tiff_16bit_and_float32(tmp_path):
    x = np.random.default_rng(5).random((3, 21, 22))
    io.imwrite(tmp_path / "a.tif", x)  # 16 bit by default
    y = io.imread(tmp_path / "a.tif")
    assert np.max(np.abs(io.linear_to_srgb(y) - io.linear_to_srgb(x))) <= 0.5 / 65535 + 1e-12
    # float32: stored linear, no encoding, no clipping, exact
    z = (np.random.default_rng(6).random((3, 21, 22)) * 3 - 1).astype(np.float32)
    io.imwrite(tmp_path / "f.tif", z, bits=32)
    back = io.imread(tmp_path / "f.tif", dtype=np.float32)
    assert back.dtype == np.float32
    np.testing.assert_array_equal(back, z)
    # an N-D float stack (e.g. a 3-D PSF) round-trips too
    stack = np.random.default_rng(7).random((5, 9, 10)).astype(np.float32)
    io.imwrite(tmp_path / "s.tiff", stack, bits=32)
    np.testing.assert_array_equal(io.imread(tmp_path / "s.tiff", dtype=np.float32), stack)


def test_tiff_raw_counts(tmp_path):
    import tifffile

    counts = np.random.default_rng(8).integers(90, 4000, size=(4, 16, 16)).astype(np.uint16)
    tifffile.imwrite(tmp_path / "psf.tif", counts, photometric="minisblack")
    raw = io.imread(tmp_path / "psf.tif", linear=False, scale=False)
    np.testing.assert_array_equal(raw, counts.astype(np.float64))
    scaled = io.imread(tmp_path / "psf.tif", linear=False)
    np.testing.assert_allclose(scaled, counts / 65535.0)
    with pytest.raises(ValueError, match="scale"):
        io.imread(tmp_path / "psf.tif", scale=False)


def test_npy_exact(tmp_path):
    for dt in (np.float32, np.float64):
        x = (np.random.default_rng(9).standard_normal((2, 3, 7, 8)) * 2).astype(dt)
        io.imwrite(tmp_path / "a.npy", x)
        y = io.imread(tmp_path / "a.npy", dtype=dt)
        assert y.dtype == dt
        np.testing.assert_array_equal(y, x)  # no scaling, clipping or sRGB


def test_layout_alpha_and_gray(tmp_path):
    from PIL import Image

    rng = np.random.default_rng(10)
    hwc = rng.integers(0, 256, size=(12, 15, 4), dtype=np.uint8)
    Image.fromarray(hwc, mode="RGBA").save(tmp_path / "rgba.png")
    y = io.imread(tmp_path / "rgba.png", linear=False)
    assert y.shape == (3, 12, 15)  # channel first, alpha dropped
    np.testing.assert_allclose(y, np.moveaxis(hwc[..., :3], -1, 0) / 255.0)
    lin = io.imread(tmp_path / "rgba.png")
    np.testing.assert_allclose(lin, io.srgb_to_linear(y), atol=1e-15)
    g = io.imread(tmp_path / "rgba.png", gray=True)
    np.testing.assert_allclose(g, 0.2126 * lin[0] + 0.7152 * lin[1] + 0.0722 * lin[2], atol=1e-15)
    assert io.imread(tmp_path / "rgba.png", gray=True, dtype=np.float32).dtype == np.float32


def test_imwrite_clips_only_at_encode(tmp_path):
    x = np.array([[-0.2, 0.0, 0.5, 1.0, 1.7]])
    io.imwrite(tmp_path / "a.png", x)
    y = io.imread(tmp_path / "a.png")
    np.testing.assert_allclose(y[0, [0, 1, 3, 4]], [0.0, 0.0, 1.0, 1.0])
    assert x.min() == -0.2 and x.max() == 1.7  # the input is untouched
    io.imwrite(tmp_path / "a.npy", x)
    np.testing.assert_array_equal(io.imread(tmp_path / "a.npy"), x)


def test_torch_input(tmp_path):
    torch = pytest.importorskip("torch")
    x = torch.rand(3, 8, 9, dtype=torch.float64)
    io.imwrite(tmp_path / "t.npy", x)
    np.testing.assert_array_equal(io.imread(tmp_path / "t.npy"), x.numpy())


# ----------------------------------------------------------------------------- atomicity
def test_atomic_write_success_and_interrupted(tmp_path):
    p = tmp_path / "out.bin"
    with io.atomic_write(p) as f:
        f.write(b"old content")
    assert p.read_bytes() == b"old content" and no_temp_files(tmp_path)
    with pytest.raises(RuntimeError, match="boom"), io.atomic_write(p) as f:
        f.write(b"half of the new")
        raise RuntimeError("boom")
    assert p.read_bytes() == b"old content"
    assert no_temp_files(tmp_path) and sorted(os.listdir(tmp_path)) == ["out.bin"]
    with pytest.raises(ValueError, match="mode"), io.atomic_write(p, "ab"):
        pass
    with pytest.raises(FileNotFoundError, match="does not exist"), \
            io.atomic_write(tmp_path / "missing_dir" / "x.bin"):
        pass


def test_imwrite_interrupted_keeps_old_file(tmp_path, monkeypatch):
    import tifffile

    p = tmp_path / "img.tif"
    old = np.full((8, 8), 0.25, dtype=np.float32)
    io.imwrite(p, old, bits=32)
    before = p.read_bytes()

    def broken(fh, data, **kw):
        fh.write(b"II*\x00partial")
        raise OSError("disk full")

    monkeypatch.setattr(tifffile, "imwrite", broken)
    with pytest.raises(OSError, match="disk full"):
        io.imwrite(p, np.zeros((8, 8)), bits=32)
    assert p.read_bytes() == before and no_temp_files(tmp_path)
    monkeypatch.undo()
    with pytest.raises(ValueError, match="NaN"):
        io.imwrite(p, np.full((8, 8), np.nan))
    np.testing.assert_array_equal(io.imread(p, dtype=np.float32), old)


def test_atomic_save_json(tmp_path):
    p = tmp_path / "r.json"
    io.atomic_save_json(p, {"a": np.float32(1.5), "b": np.arange(3), "c": tmp_path, "d": [np.int64(2)]})
    assert json.loads(p.read_text()) == {"a": 1.5, "b": [0, 1, 2], "c": str(tmp_path), "d": [2]}
    with pytest.raises(TypeError):
        io.atomic_save_json(p, {"bad": object()})
    assert json.loads(p.read_text())["a"] == 1.5 and no_temp_files(tmp_path)


# ----------------------------------------------------------------------------- errors
def test_read_errors_name_path_and_formats(tmp_path):
    missing = tmp_path / "nope.png"
    with pytest.raises(OSError, match="nope.png") as e:
        io.imread(missing)
    assert ".tif" in str(e.value)
    with pytest.raises(ValueError, match=r"\.gif.*accepted formats"):
        io.imread(tmp_path / "x.gif")
    bad = tmp_path / "bad.png"
    bad.write_bytes(b"this is not an image")
    with pytest.raises((ValueError, OSError), match="bad.png"):
        io.imread(bad)
    trunc = tmp_path / "t.png"
    io.imwrite(trunc, np.random.default_rng(0).random((3, 30, 30)), bits=16)
    trunc.write_bytes(trunc.read_bytes()[:200])
    with pytest.raises(ValueError, match="t.png"):
        io.imread(trunc)
    io.imwrite(tmp_path / "ok.png", np.zeros((4, 4)))
    with pytest.raises(TypeError, match="dtype"):
        io.imread(tmp_path / "ok.png", dtype=np.int32)


def test_write_errors(tmp_path):
    x = np.zeros((8, 8))
    with pytest.raises(ValueError, match="img"):
        io.imwrite(tmp_path / "a.png", np.array([[0.0, np.inf]]))
    with pytest.raises(ValueError, match="extension"):
        io.imwrite(tmp_path / "a.gif", x)
    with pytest.raises(ValueError, match="bits"):
        io.imwrite(tmp_path / "a.jpg", x, bits=16)
    with pytest.raises(ValueError, match=r"\(C, H, W\)"):
        io.imwrite(tmp_path / "a.png", np.zeros((8, 8, 3)))
    with pytest.raises(ValueError, match="alpha"):
        io.imwrite(tmp_path / "a.jpg", np.zeros((4, 8, 8)))
    with pytest.raises(TypeError, match="img"):
        io.imwrite(tmp_path / "a.png", np.zeros((8, 8), dtype=complex))
    assert os.listdir(tmp_path) == []


def test_sample_image():
    cam = io.sample_image("camera")
    assert cam.shape == (512, 512) and cam.dtype == np.float64
    assert 0 <= cam.min() and cam.max() <= 1
    import skimage.data

    np.testing.assert_allclose(cam, io.srgb_to_linear(skimage.data.camera() / 255.0))
    astro = io.sample_image("astronaut", dtype=np.float32)
    assert astro.shape == (3, 512, 512) and astro.dtype == np.float32
    assert io.sample_image("astronaut", gray=True).shape == (512, 512)
    with pytest.raises(ValueError, match="unknown sample image 'lena'.*camera"):
        io.sample_image("lena")


# ----------------------------------------------------------------------------- shared data
@pytest.mark.skipif(not DATA.exists(), reason="shared data not found")
def test_reads_shared_data():
    from PIL import Image

    p = DATA / "levin2009" / "sharp" / "im1.png"
    y = io.imread(p, linear=False)
    with Image.open(p) as im:
        np.testing.assert_array_equal(y, np.asarray(im) / 255.0)
    psf = DATA / "psf_measured_llsm" / "psf.tif"
    if psf.exists():
        raw = io.imread(psf, linear=False, scale=False)
        assert raw.shape == (61, 128, 128) and raw.max() > 1000
    kodak = DATA / "kodak24" / "kodim01.png"
    if kodak.exists():
        assert io.imread(kodak).shape[0] == 3
