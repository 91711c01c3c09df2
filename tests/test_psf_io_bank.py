"""PSF files (formats, MATLAB orientation, Levin data) and the kernel banks."""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

import numpy as np
import pytest

import hybrid_deblur
from hybrid_deblur.psf import bank, disk, gaussian, linear_motion, load_psf, save_psf

DATA = Path(__file__).resolve().parents[1] / ".." / "shared" / "data"
LEVIN = DATA / "levin2009"


def _asym():
    k = np.zeros((11, 9))
    k[2, 1], k[7, 6], k[5, 4] = 0.5, 0.2, 0.3      # not point-symmetric, not square
    return k


# ----------------------------------------------------------------------------- files
@pytest.mark.parametrize("suffix", [".npy", ".npz", ".tif", ".tiff", ".mat"])
def test_roundtrip_exact_formats(tmp_path, suffix):
    k = gaussian((1.0, 2.5), angle=30)
    p = tmp_path / f"k{suffix}"
    save_psf(p, k)
    out = load_psf(p)
    assert out.shape == k.shape
    np.testing.assert_allclose(out, k, rtol=0, atol=1e-15)
    # float32 kept
    save_psf(p, k.astype(np.float32))
    assert load_psf(p, normalize=False).dtype == np.float32


@pytest.mark.parametrize("suffix", [".npy", ".tif", ".png", ".mat"])
def test_one_row_kernel_keeps_two_axes(tmp_path, suffix):
    k = linear_motion(6)[3:4]            # a (1, N) horizontal kernel
    save_psf(tmp_path / f"row{suffix}", k)
    out = load_psf(tmp_path / f"row{suffix}")
    assert out.shape == k.shape
    np.testing.assert_allclose(out, k / k.sum(), atol=1e-4)


@pytest.mark.parametrize("bits,tol", [(16, 1.0 / 65535), (8, 1.0 / 255)])
def test_roundtrip_png(tmp_path, bits, tol):
    k = disk(4.3)
    p = tmp_path / "k.png"
    save_psf(p, k, bit_depth=bits)
    raw = load_psf(p, normalize=False)
    assert raw.max() == 1.0                     # stored scaled to the full range
    np.testing.assert_allclose(raw, k / k.max(), atol=0.5 * tol + 1e-12)
    out = load_psf(p)
    assert abs(out.sum() - 1) < 1e-12
    np.testing.assert_allclose(out, k, atol=2 * tol * k.max())


def test_png_grey_stored_as_rgb_is_read_as_grey(tmp_path):
    import imageio.v3 as iio

    k = (disk(3.0) / disk(3.0).max() * 255).round().astype(np.uint8)
    iio.imwrite(tmp_path / "rgb.png", np.stack([k, k, k], axis=-1))
    np.testing.assert_allclose(load_psf(tmp_path / "rgb.png"), k / k.sum(), atol=1e-15)


@pytest.mark.parametrize("suffix", [".npy", ".mat", ".tif", ".png"])
def test_matlab_orientation_roundtrip(tmp_path, suffix):
    k = _asym()
    p = tmp_path / f"f{suffix}"
    save_psf(p, k, orientation="matlab", key="f")
    stored = load_psf(p, normalize=False)
    if suffix != ".png":
        np.testing.assert_array_equal(stored, k[::-1, ::-1])   # 180-degree rotation on disk
    back = load_psf(p, orientation="matlab")
    np.testing.assert_allclose(back, k / k.sum(), atol=1e-4 if suffix == ".png" else 1e-15)


def test_mat_key_selection(tmp_path):
    import scipy.io

    p = tmp_path / "two.mat"
    scipy.io.savemat(p, {"a": np.ones((3, 3)), "b": np.ones((5, 5))})
    with pytest.raises(ValueError, match="key="):
        load_psf(p)
    assert load_psf(p, key="b").shape == (5, 5)
    with pytest.raises(KeyError, match="'c'"):
        load_psf(p, key="c")
    scipy.io.savemat(p, {"x": np.ones((4, 4)), "f": np.eye(3)})
    np.testing.assert_allclose(load_psf(p), np.eye(3) / 3)     # 'f' preferred (Levin)


def test_file_errors(tmp_path):
    with pytest.raises(FileNotFoundError, match="nope.npy"):
        load_psf(tmp_path / "nope.npy")
    with pytest.raises(ValueError, match=r"suffix '.bmp'.*\.npy"):
        load_psf(tmp_path / "k.bmp")
    bad = tmp_path / "bad.png"
    bad.write_bytes(b"not a png")
    with pytest.raises(ValueError, match="bad.png"):
        load_psf(bad)
    np.save(tmp_path / "nan.npy", np.array([[np.nan, 1.0]]))
    with pytest.raises(ValueError, match="NaN"):
        load_psf(tmp_path / "nan.npy")
    np.save(tmp_path / "zero.npy", np.zeros((3, 3)))
    with pytest.raises(ValueError, match="all-zero"):
        load_psf(tmp_path / "zero.npy")
    np.save(tmp_path / "vec.npy", np.ones(5))
    with pytest.raises(ValueError, match="shape"):
        load_psf(tmp_path / "vec.npy")
    with pytest.raises(ValueError, match="orientation"):
        load_psf(tmp_path / "zero.npy", orientation="flipped")
    with pytest.raises(ValueError, match="NaN"):
        save_psf(tmp_path / "x.npy", np.array([[np.inf]]))
    with pytest.raises(ValueError, match="bit_depth"):
        save_psf(tmp_path / "x.png", disk(2), bit_depth=12)


def test_save_is_atomic(tmp_path):
    p = tmp_path / "k.npy"
    save_psf(p, disk(2.0))
    before = p.read_bytes()
    with pytest.raises(ValueError):
        save_psf(p, np.array([[np.nan]]))
    assert p.read_bytes() == before
    assert sorted(f.name for f in tmp_path.iterdir()) == ["k.npy"]   # no temp file left


@pytest.mark.skipif(not LEVIN.exists(), reason="shared data (levin2009) not found")
@pytest.mark.parametrize("j", range(1, 9))
def test_levin_mat_matlab_orientation_equals_npy(j):
    k = load_psf(LEVIN / "mat" / f"im01_ker0{j}.mat", orientation="matlab")
    ref = np.load(LEVIN / "kernels" / f"levin_k{j}.npy")
    np.testing.assert_allclose(k, ref, rtol=0, atol=1e-15)
    wrong = load_psf(LEVIN / "mat" / f"im01_ker0{j}.mat")
    assert not np.allclose(wrong, ref)


@pytest.mark.skipif(not LEVIN.exists(), reason="shared data (levin2009) not found")
def test_levin_v73_file_needs_h5py():
    p = LEVIN / "kernels" / "Levin09.mat"
    try:
        import h5py  # noqa: F401
    except ImportError:
        with pytest.raises(ValueError, match="v7.3.*h5py"):
            load_psf(p)
    else:  # pragma: no cover - h5py not in the default environment
        with pytest.raises((ValueError, KeyError)):
            load_psf(p)   # a cell array of kernels is not one PSF


# ----------------------------------------------------------------------------- banks
def test_available_and_package_data_location():
    assert set(bank.available()) >= {"camera_shake", "defocus", "mixed"}
    pkg = Path(hybrid_deblur.__file__).parent / "kernel_banks"
    assert (pkg / "manifest.json").is_file()     # the package-data alias of kernels/
    assert (bank.bank_dir() / "manifest.json").is_file()


@pytest.mark.parametrize("name,n,smin,smax", [("camera_shake", 48, 9, 41),
                                               ("defocus", 23, 3, 25), ("mixed", 32, 5, 41)])
def test_bank_contents(name, n, smin, smax):
    ks = bank.load(name)
    assert len(ks) == n and ks.name == name
    sizes = [k.shape[0] for k in ks]
    assert min(sizes) >= smin and max(sizes) <= smax
    for k in ks:
        assert k.shape[0] == k.shape[1] and k.shape[0] % 2 == 1
        assert abs(k.sum() - 1) < 1e-12 and k.min() >= 0
        c = k.shape[0] // 2
        r, cc = np.indices(k.shape)
        assert abs((r * k).sum() - c) < 1e-6 and abs((cc * k).sum() - c) < 1e-6
    stack = np.asarray(ks)
    K = stack.shape[-1]
    assert stack.shape == (n, K, K) and K % 2 == 1
    np.testing.assert_allclose(stack.sum(axis=(1, 2)), 1.0, atol=1e-12)
    assert ks.meta["n"] == n and len(ks.meta["params"]) == n


def test_camera_shake_sizes_span_9_to_41():
    sizes = {k.shape[0] for k in bank.load("camera_shake")}
    assert min(sizes) == 9 and max(sizes) == 41


def test_regenerated_smallest_bank_equals_stored(tmp_path):
    stored = bank.load("defocus")
    fresh, meta = bank.generate("defocus")
    assert len(fresh) == len(stored)
    # Equal to the last bit on the CPU that built the bank; other CPUs' SIMD paths (e.g. AVX2
    # vs AVX-512 transcendental kernels in NumPy) differ by ~1e-17, so compare to 1e-15 and
    # check the file bytes only where the arrays regenerate bit for bit.
    for a, b in zip(fresh, stored):
        np.testing.assert_allclose(a, b, rtol=0, atol=1e-15)
    assert meta["params"] == stored.meta["params"]
    if not all(np.array_equal(a, b) for a, b in zip(fresh, stored)):
        return
    # the file bytes are reproducible too: same sha256 as the manifest
    man = bank.build(["defocus"], tmp_path)
    ref = json.loads((bank.bank_dir() / "manifest.json").read_text())["banks"]["defocus"]
    assert man["banks"]["defocus"]["sha256"] == ref["sha256"]
    data = (tmp_path / "defocus.npz").read_bytes()
    assert hashlib.sha256(data).hexdigest() == ref["sha256"]
    ks = bank.load(tmp_path / "defocus.npz")          # a bank .npz by path
    np.testing.assert_array_equal(ks[5], stored[5])


def test_load_user_folder(tmp_path):
    save_psf(tmp_path / "a.npy", disk(2.0))
    save_psf(tmp_path / "b.png", linear_motion(7, 45))
    save_psf(tmp_path / "c.mat", _asym(), orientation="matlab", key="f")  # Levin style
    (tmp_path / "notes.txt").write_text("ignored")
    ks = bank.load(tmp_path)
    assert len(ks) == 3 and [Path(f).name for f in ks.files] == ["a.npy", "b.png", "c.mat"]
    np.testing.assert_allclose(ks[0], disk(2.0), atol=1e-15)
    np.testing.assert_allclose(ks[2], _asym() / _asym().sum(), atol=1e-15)
    assert np.asarray(ks).shape[0] == 3


def test_bank_errors(tmp_path):
    with pytest.raises(ValueError, match="unknown kernel bank 'shaky'.*camera_shake"):
        bank.load("shaky")
    with pytest.raises(ValueError, match="no kernel files"):
        bank.load(tmp_path)
    with pytest.raises(ValueError, match="known banks"):
        bank.generate("shaky")
    np.savez(tmp_path / "x.npz", a=np.ones(3))
    with pytest.raises(ValueError, match="not a kernel bank"):
        bank.load(tmp_path / "x.npz")
