"""Tiled deconvolution (hybrid_deblur.scale): tiles == whole image, files in/out, memory guard."""

from __future__ import annotations

import struct
import tracemalloc
import zlib

import numpy as np
import pytest

pytest.importorskip("dask")

from hybrid_deblur.analysis.registry import get_method
from hybrid_deblur.physics import Blur
from hybrid_deblur.psf import gaussian
from hybrid_deblur.scale import (
    MemoryLimitError,
    check_memory,
    deconvolve_tiled,
    estimate_memory,
    freeze_options,
    influence_radius,
)


def _scene(shape, seed=0):
    """A piecewise-smooth test scene in [0, 1] (edges + texture), deterministic."""
    rng = np.random.default_rng(seed)
    grids = np.meshgrid(*[np.linspace(0, 1, n) for n in shape], indexing="ij")
    x = 0.5 + 0.2 * np.sin(7 * grids[-1] + 3 * grids[-2] ** 2)
    for _ in range(12):
        c = [rng.uniform(0, 1) for _ in shape]
        r = rng.uniform(0.05, 0.2)
        x = x + 0.25 * ((sum((g - ci) ** 2 for g, ci in zip(grids, c))) < r * r)
    return np.clip(x + 0.03 * rng.standard_normal(shape), 0, 1)


def _blurred(shape, k, sigma=0.005, seed=0, dtype=np.float64):
    x = _scene(shape, seed)
    y = Blur(k, "reflect", ndim=k.ndim)(x) if k.ndim == 3 else Blur(k, "reflect")(x)
    y = y + sigma * np.random.default_rng(seed + 1).standard_normal(shape)
    return x.astype(dtype), y.astype(dtype)


def _interior(a, h):
    return a[(Ellipsis,) + tuple(slice(hh, -hh) for hh in h)]


def _rel(a, b, h):
    a, b = _interior(a, h), _interior(b, h)
    return float(np.abs(a - b).max() / np.abs(b).max())


def _psnr(x, ref):
    return float(10 * np.log10(1.0 / np.mean((x - ref) ** 2)))


@pytest.mark.parametrize("dtype,tol", [(np.float64, 1e-7), (np.float32, 1e-5)])
@pytest.mark.parametrize("method,opts", [("wiener", {"nsr": 0.01})])  # tikhonov: benchmarks/tiled.py
def test_linear_tiles_equal_whole_image_in_the_interior(method, opts, dtype, tol):
    k = gaussian(1.5, 9)
    _, y = _blurred((320, 288), k, dtype=dtype)
    x, info = deconvolve_tiled(y, k, method, chunks=96, return_info=True, **opts)
    mono = get_method(method)(y, k, **opts)
    assert x.dtype == y.dtype and x.shape == y.shape
    assert info["tiles"] == 4 * 3
    if dtype == np.float32:
        # float32 FFT rounding of the whole-image solve itself (vs float64) bounds what any two
        # float32 solves can agree to; tiling must add no more than a second such rounding
        floor = _rel(mono, get_method(method)(y.astype(np.float64), k, **opts), info["halo"])
        tol = max(tol, 2 * floor)
    assert _rel(x, mono, info["halo"]) <= tol
    # the halo matters: a token overlap leaves seams far above the tolerance
    x4 = deconvolve_tiled(y, k, method, chunks=96, halo=4, **opts)
    assert _rel(x4, mono, info["halo"]) > 100 * tol


def test_rl_tiles_match_whole_image_within_0_02_db():
    k = gaussian(1.5, 9)
    x0, y = _blurred((256, 256), k)
    x, info = deconvolve_tiled(y, k, "rl", chunks=96, num_iter=15, return_info=True)
    assert info["options"]["accelerate"] is False     # the accelerated step is global
    mono = get_method("rl")(y, k, num_iter=15, accelerate=False)
    h = info["halo"]
    d = abs(_psnr(_interior(x, h), _interior(x0, h)) - _psnr(_interior(mono, h), _interior(x0, h)))
    assert d <= 0.02
    assert _rel(x, mono, h) < 1e-6
    # with acceleration forced on, every tile takes its own global step: visibly different
    xa = deconvolve_tiled(y, k, "rl", chunks=96, num_iter=15, accelerate=True)
    assert _rel(xa, get_method("rl")(y, k, num_iter=15), h) > 1e-4


@pytest.mark.slow
def test_3d_stack_tiles_equal_whole_stack():
    g = [np.exp(-0.5 * (np.arange(n) - n // 2) ** 2 / s ** 2) for s, n in ((1.2, 5), (1.5, 7), (1.5, 7))]
    k = g[0][:, None, None] * g[1][None, :, None] * g[2][None, None, :]
    k /= k.sum()
    _, y = _blurred((104, 104, 112), k)
    x, info = deconvolve_tiled(y, k, "wiener", chunks=(52, 52, 56), nsr=0.01, return_info=True)
    mono = get_method("wiener")(y, k, nsr=0.01, ndim=3)
    assert info["tiles"] == 8 and len(info["halo"]) == 3
    assert _rel(x, mono, info["halo"]) <= 1e-7


def test_colour_channels_are_kept_whole_and_match():
    k = gaussian(1.5, 9)
    _, y = _blurred((3, 200, 200), k)
    x, info = deconvolve_tiled(y, k, "wiener", chunks=100, nsr=0.02, return_info=True)
    assert info["tiles"] == 4
    assert _rel(x, get_method("wiener")(y, k, nsr=0.02), info["halo"]) <= 1e-7


def test_frozen_wiener_nsr_reproduces_the_automatic_filter():
    k = gaussian(2.0, 13)
    x0, y = _blurred((256, 256), k, sigma=0.01)
    auto = get_method("wiener")(y, k)
    opts = freeze_options(y, k, "wiener")
    assert opts["reg"] == "gradient" and opts["nsr"] > 0
    frozen = get_method("wiener")(y, k, **opts)
    assert abs(_psnr(frozen, x0) - _psnr(auto, x0)) < 0.02
    assert np.abs(frozen - auto).max() < 2e-3


@pytest.mark.slow
def test_frozen_options_make_tiles_agree_for_automatic_methods():
    k = gaussian(1.5, 9)
    _, y = _blurred((256, 256), k, sigma=0.01)
    opts = freeze_options(y, k, "hqs-tv")
    assert {"lam", "num_iter", "sigma"} <= set(opts)
    _, info = deconvolve_tiled(y, k, "hqs-tv", chunks=128, return_info=True)
    assert info["options"]["num_iter"] == opts["num_iter"]


def test_influence_radius_grows_as_the_filter_sharpens():
    k = gaussian(2.0, 13)
    r2, r3 = influence_radius(k, "wiener", nsr=1e-2), influence_radius(k, "wiener", nsr=1e-3)
    assert 6 < r2 < r3
    assert influence_radius(k, "rl") == 4 * 12


def test_file_in_file_out_npy_tif(tmp_path):
    tifffile = pytest.importorskip("tifffile")
    k = gaussian(1.5, 9)
    _, y = _blurred((200, 260), k, dtype=np.float32)
    np.save(tmp_path / "y.npy", y)
    tifffile.imwrite(tmp_path / "y.tif", y)
    ref = deconvolve_tiled(y, k, "wiener", chunks=100, nsr=0.01)
    out = deconvolve_tiled(str(tmp_path / "y.npy"), k, "wiener", chunks=100, nsr=0.01,
                           output=str(tmp_path / "x.tif"))
    assert out == str(tmp_path / "x.tif")
    np.testing.assert_array_equal(tifffile.imread(tmp_path / "x.tif"), ref)
    deconvolve_tiled(str(tmp_path / "y.tif"), k, "wiener", chunks=100, nsr=0.01,
                     output=str(tmp_path / "x.npy"))
    np.testing.assert_array_equal(np.load(tmp_path / "x.npy"), ref)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["x.npy", "x.tif", "y.npy", "y.tif"]


@pytest.mark.parametrize("kw,msg", [
    ({"boundary": "circular"}, "cannot be tiled"),
    ({"chunks": 12}, "too small"),
    ({"chunks": 40, "halo": 50}, "larger than the tile"),
    ({"method": "nope"}, "unknown"),
])
def test_bad_requests_name_the_argument(kw, msg):
    y = np.zeros((128, 128))
    kw = {"method": "wiener", **kw}
    with pytest.raises(ValueError, match=msg):
        deconvolve_tiled(y, gaussian(1.5, 9), kw.pop("method"), nsr=0.01, **kw)


def test_estimate_memory_closed_form():
    assert estimate_memory((1000, 1000), "float64", method="rl", boundary="circular") == 7 * 8 * 10**6
    # padded by 2 (k - 1) per axis; integers count as float64; leading axes multiply
    assert estimate_memory((3, 100, 100), "uint8", method="wiener", psf_shape=(11, 11)) == \
        8 * 3 * 120 * 120 * 8
    assert estimate_memory((100, 100), "float32", method="unrolled-hqs") == 100 * 100 * 100 * 4


def test_memory_guard_refuses_without_allocating():
    tracemalloc.start()
    try:
        with pytest.raises(MemoryLimitError) as ei:
            check_memory((200_000, 200_000), "float32", method="wiener", available=16 * 2**30)
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    msg = str(ei.value)
    assert "\n" not in msg and "needs" in msg and "available" in msg and "--tile" in msg
    assert isinstance(ei.value, ValueError) and isinstance(ei.value, MemoryError)
    assert peak < 2**20
    assert check_memory((256, 256), "float32", available=2**30) < 2**30


def test_tiled_guard_counts_workers_and_the_in_memory_result(monkeypatch):
    monkeypatch.setenv("HYBRID_DEBLUR_MEMORY_LIMIT", "8M")
    y = np.zeros((2048, 2048), np.float32)   # 16 MiB result alone exceeds 80 % of 8 MiB
    with pytest.raises(MemoryLimitError, match="output="):
        deconvolve_tiled(y, gaussian(1.5, 9), "wiener", chunks=256, nsr=0.01)


def _png_header(w: int, h: int) -> bytes:
    def chunk(t, d):
        return struct.pack(">I", len(d)) + t + d + struct.pack(">I", zlib.crc32(t + d) & 0xFFFFFFFF)
    ihdr = struct.pack(">IIBBBBB", w, h, 8, 0, 0, 0, 0)
    return b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", ihdr) + chunk(b"IEND", b"")


@pytest.mark.parametrize("name", ["huge.npy", "huge.png"])
def test_cli_huge_inputs_give_one_line_and_allocate_nothing(tmp_path, capsys, name):
    from hybrid_deblur.cli.main import main

    p = tmp_path / name
    if name.endswith(".npy"):
        with open(p, "wb") as f:   # a header that promises 200000 x 200000 float32 (160 GB)
            np.lib.format.write_array_header_1_0(
                f, {"descr": "<f4", "fortran_order": False, "shape": (200_000, 200_000)})
    else:
        p.write_bytes(_png_header(150_000, 150_000))
    np.save(tmp_path / "k.npy", gaussian(1.5, 9))
    tracemalloc.start()
    try:
        rc = main(["deblur", str(p), "--psf", str(tmp_path / "k.npy"), "-o", str(tmp_path / "x.npy")])
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    err = capsys.readouterr().err
    assert rc == 2
    assert err.count("\n") == 1 and "Traceback" not in err
    assert "needs" in err and "available" in err and "--tile" in err
    assert peak < 50 * 2**20
    assert not (tmp_path / "x.npy").exists()


@pytest.mark.slow
def test_learned_model_through_tiles_matches_whole_image():
    pytest.importorskip("torch")
    k = gaussian(1.5, 9)
    _, y = _blurred((256, 256), k, sigma=0.01, dtype=np.float32)
    x, info = deconvolve_tiled(y, k, "unrolled-hqs", chunks=128, return_info=True)
    assert set(info["options"]) == {"sigma"}          # the frozen noise level, nothing else
    mono = get_method("unrolled-hqs")(y, k, **info["options"])
    assert _rel(x, mono, info["halo"]) < 1e-4          # measured 1.7e-5 (float32 network)


def test_3d_stack_refuses_2d_learned_models():
    k = np.ones((3, 5, 5)) / 75
    with pytest.raises(ValueError, match="2-D images only"):
        deconvolve_tiled(np.zeros((8, 64, 64)), k, "unrolled-hqs", chunks=32)


def test_zarr_in_and_out(tmp_path):
    zarr = pytest.importorskip("zarr")
    import dask.array as da

    k = gaussian(1.5, 9)
    _, y = _blurred((300, 256), k, dtype=np.float32)
    ref = deconvolve_tiled(y, k, "wiener", chunks=128, nsr=0.01)
    da.from_array(y, chunks=100).to_zarr(str(tmp_path / "y.zarr"))
    deconvolve_tiled(str(tmp_path / "y.zarr"), k, "wiener", chunks=128, nsr=0.01,
                     output=str(tmp_path / "x.zarr"))
    z = zarr.open(str(tmp_path / "x.zarr"), mode="r")
    assert z.chunks == (128, 128)                      # written tile by tile
    np.testing.assert_array_equal(z[:], ref)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["x.zarr", "y.zarr"]
