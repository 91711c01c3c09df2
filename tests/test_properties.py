"""Property-based tests (hypothesis, derandomised) of the PSF generators, OTF, metrics and files.

Every public call on random valid *and* invalid input must either return a valid
result (finite, right shape, dtype and sum) or raise ``ValueError`` / ``TypeError``
with a message; anything else (another exception, NaN from finite input, a
broken contract) fails. The outcome counts per category are kept in ``COUNTS``;
``HYBRID_DEBLUR_PROPERTY_REPORT=path.json`` writes them at the end of the module
(the issue-16 closing note quotes them).
"""

from __future__ import annotations

import json
import math
import os
from collections import defaultdict

import numpy as np
import pytest

hypothesis = pytest.importorskip("hypothesis")
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from hybrid_deblur import io, metrics, psf

SETTINGS = settings(derandomize=True, max_examples=60, deadline=None, database=None,
                    suppress_health_check=[HealthCheck.too_slow, HealthCheck.filter_too_much])
COUNTS: dict[str, dict[str, int]] = defaultdict(lambda: {"cases": 0, "clear_errors": 0,
                                                         "valid_results": 0})

BAD_NUMBERS = [-1.0, -1e-9, math.nan, math.inf, -math.inf, 1e5, 1e300, True, "3", None, 1j]


def _outcome(category: str, call, check):
    """Run ``call``; a result goes through ``check``, an error must be a clear one."""
    COUNTS[category]["cases"] += 1
    try:
        out = call()
    except (ValueError, TypeError) as exc:
        msg = str(exc)
        assert len(msg) >= 15, f"{category}: unclear message {msg!r}"
        COUNTS[category]["clear_errors"] += 1
        return
    check(out)
    COUNTS[category]["valid_results"] += 1


def _check_psf(k, dtype=np.float64, shape=None):
    assert isinstance(k, np.ndarray) and k.ndim == 2 and k.dtype == np.dtype(dtype)
    k64 = k.astype(np.float64)
    assert np.all(np.isfinite(k64)) and k64.min() >= 0
    assert abs(k64.sum() - 1.0) <= max(np.finfo(k.dtype).eps * 4, 1e-12)
    if shape is not None:
        assert k.shape == shape


# ----------------------------------------------------------------------------- strategies
small = st.floats(0.0, 25.0, allow_nan=False)
number = st.one_of(small, small, small, st.sampled_from(BAD_NUMBERS))   # 3/4 valid
angle = st.one_of(st.floats(-720, 720, allow_nan=False), st.floats(-720, 720, allow_nan=False),
                  st.sampled_from([math.nan, math.inf, 1e6, "x"]))
size = st.one_of(st.none(), st.none(), st.integers(-2, 41),
                 st.tuples(st.integers(-1, 31), st.integers(1, 31)),
                 st.sampled_from([10 ** 6, 7.0, 7.5, "9", (3, 4, 5), True]))
dtype = st.sampled_from([np.float64, np.float64, np.float32, np.float16, np.int32, "float64",
                         None])


def _expected_shape(sz):
    if isinstance(sz, (int, np.integer)) and not isinstance(sz, bool):
        return (sz, sz)
    if isinstance(sz, tuple) and len(sz) == 2:
        return tuple(sz)
    return None


# ----------------------------------------------------------------------------- generators
@SETTINGS
@given(sigma=st.one_of(number, st.tuples(number, number)), angle=angle, size=size, dtype=dtype)
def test_gaussian_valid_or_clear_error(sigma, angle, size, dtype):
    _outcome("psf generators", lambda: psf.gaussian(sigma, size, angle=angle, dtype=dtype),
             lambda k: _check_psf(k, dtype, _expected_shape(size)))


@SETTINGS
@given(radius=number, size=size, dtype=dtype)
def test_disk_valid_or_clear_error(radius, size, dtype):
    _outcome("psf generators", lambda: psf.disk(radius, size, dtype=dtype),
             lambda k: _check_psf(k, dtype, _expected_shape(size)))


@SETTINGS
@given(length=st.one_of(number, st.sampled_from([1e-300, 5e-324, 1e9, 4000.0])), angle=angle,
       size=size, dtype=dtype)
def test_linear_motion_valid_or_clear_error(length, angle, size, dtype):
    if length in (1e9, 4000.0) and _expected_shape(size) is None:
        size = (7, 9)                 # a long segment in a small window, not a 4001^2 kernel
    _outcome("psf generators", lambda: psf.linear_motion(length, angle, size, dtype=dtype),
             lambda k: _check_psf(k, dtype, _expected_shape(size)))


@settings(SETTINGS, max_examples=30)
@given(size=st.one_of(st.integers(-1, 33), st.sampled_from([10 ** 5, 9.0, None])),
       length=st.one_of(st.none(), st.floats(0, 40), st.sampled_from([-1.0, math.nan])),
       anxiety=st.floats(-0.5, 1.5), exposure=st.floats(-0.5, 1.5),
       n_samples=st.sampled_from([2, 50, 500, 1, 10 ** 9, 2.5]))
def test_trajectory_valid_or_clear_error(size, length, anxiety, exposure, n_samples):
    _outcome("psf generators",
             lambda: psf.trajectory_motion(size, length, anxiety, exposure, n_samples, seed=1),
             lambda k: _check_psf(k, np.float64, (size, size)))


@SETTINGS
@given(n=st.integers(0, 4), seed=st.integers(0, 10 ** 6), bad=st.sampled_from(
    [None, "neg", "nan", "zero", "1d", "complex"]))
def test_combine_valid_or_clear_error(n, seed, bad):
    rng = np.random.default_rng(seed)
    ks = [rng.random((int(rng.integers(1, 8)), int(rng.integers(1, 8)))) for _ in range(n)]
    if ks and bad is not None:
        ks[0] = {"neg": -ks[0], "nan": ks[0] * np.nan, "zero": 0 * ks[0],
                 "1d": ks[0].ravel(), "complex": ks[0] + 1j}[bad]
    _outcome("psf generators", lambda: psf.combine(*ks), lambda k: (
        _check_psf(k), [s % 2 == 1 for s in k.shape] == [True, True] or pytest.fail("even")))


# ----------------------------------------------------------------------------- OTF
@SETTINGS
@given(kshape=st.lists(st.integers(0, 6), min_size=0, max_size=3),
       shape=st.one_of(st.lists(st.integers(-1, 12), min_size=1, max_size=3),
                       st.lists(st.integers(6, 12), min_size=2, max_size=2)),
       kind=st.sampled_from(["float", "float", "int", "complex", "list", "bool"]),
       seed=st.integers(0, 99))
def test_psf2otf_valid_or_clear_error(kshape, shape, kind, seed):
    rng = np.random.default_rng(seed)
    k = rng.random(tuple(kshape))
    k = {"float": k, "int": (k * 5).astype(int), "complex": k + 0j, "list": k.tolist(),
         "bool": k > 0.5}[kind]

    def check(H):
        nd = len(shape)
        assert H.shape[-nd:] == tuple(shape[:-1]) + (shape[-1] // 2 + 1,)
        assert np.all(np.isfinite(H))
        kk = np.asarray(k, dtype=np.float64)
        dc = H[(Ellipsis,) + (0,) * nd]                     # the zero frequency = the PSF sum
        np.testing.assert_allclose(dc, kk.sum(axis=tuple(range(-nd, 0))), atol=1e-9)

    _outcome("OTF", lambda: psf.psf2otf(k, shape), check)


# ----------------------------------------------------------------------------- metrics
def _array(shape, seed, nan):
    a = np.random.default_rng(seed).random(shape)
    return np.where(a > 0.97, np.nan, a) if nan else a


arrays = st.builds(
    _array,
    shape=st.sampled_from([(16, 16), (16, 16), (3, 16, 16), (16,), (0, 16), (16, 15),
                           (2, 3, 16, 16), (8, 8)]),
    seed=st.integers(0, 10 ** 6), nan=st.sampled_from([False, False, False, True]))


@SETTINGS
@given(x=arrays, same=st.booleans(), ref=arrays,
       data_range=st.sampled_from([1.0, 1.0, 255.0, 0.0, -1.0, math.nan]),
       border=st.sampled_from([0, 0, 2, 7, 8, -1, 1.5]))
def test_psnr_ssim_valid_or_clear_error(x, same, ref, data_range, border):
    if same:                               # half the pairs: a shifted copy (same shape)
        ref = np.nan_to_num(x) + 0.01
    def check_psnr(v):
        assert isinstance(v, float) and (math.isfinite(v) or v == math.inf)

    _outcome("metrics", lambda: metrics.psnr(x, ref, data_range=data_range, border=border),
             check_psnr)
    _outcome("metrics", lambda: metrics.ssim(x, ref, data_range=data_range, border=border),
             lambda v: isinstance(v, float) and -1.0 <= v <= 1.0 or pytest.fail(f"ssim {v}"))


@SETTINGS
@given(a=arrays, b=arrays)
def test_kernel_similarity_valid_or_clear_error(a, b):
    _outcome("metrics", lambda: metrics.kernel_similarity(np.abs(a), np.abs(b)),
             lambda v: 0.0 <= v <= 1.0 or pytest.fail(f"similarity {v}"))


@settings(SETTINGS, max_examples=25)
@given(x=arrays, shift=st.integers(-3, 3), border=st.sampled_from([3, 4, 5, 2, 0]))
def test_aligned_psnr_valid_or_clear_error(x, shift, border):
    ref = np.random.default_rng(7).random(x.shape) if x.ndim >= 2 else x
    _outcome("metrics", lambda: metrics.aligned_psnr(np.roll(ref, shift, axis=-1), ref,
                                                     max_shift=3, border=border),
             lambda v: v == math.inf or math.isfinite(v) or pytest.fail(f"aligned {v}"))


# ----------------------------------------------------------------------------- files
@settings(SETTINGS, max_examples=40)
@given(shape=st.sampled_from([(9, 11), (3, 9, 11), (4, 9, 11), (2, 9, 11), (1, 9, 11), (9,),
                              (5, 9, 11), (0, 4), (2, 3, 9, 11)]),
       ext=st.sampled_from([".png", ".jpg", ".tif", ".npy", ".bmp", ".gif"]),
       bits=st.sampled_from([None, 8, 16, 32, 12]), kind=st.sampled_from(
           ["unit", "wide", "nan", "int", "complex"]), seed=st.integers(0, 999))
def test_imwrite_imread_valid_or_clear_error(tmp_path_factory, shape, ext, bits, kind, seed):
    rng = np.random.default_rng(seed)
    x = rng.random(shape)
    x = {"unit": x, "wide": 3 * x - 1, "nan": np.where(x > 0.9, np.nan, x),
         "int": (x * 255).astype(np.uint8), "complex": x + 0j}[kind]
    d = tmp_path_factory.mktemp("io")
    p = d / f"a{ext}"

    def roundtrip():
        io.imwrite(p, x, bits=bits)
        return io.imread(p)

    def check(y):
        assert np.all(np.isfinite(y)) and y.dtype == np.float64
        if ext == ".npy":
            np.testing.assert_array_equal(y, np.asarray(x, dtype=np.float64))
        else:
            assert y.shape[-2:] == x.shape[-2:]
            if bits != 32:
                assert y.min() >= 0 and y.max() <= 1
        assert [n for n in os.listdir(d) if n.endswith(".tmp")] == []

    _outcome("files", roundtrip, check)


@settings(SETTINGS, max_examples=40)
@given(shape=st.sampled_from([(5, 5), (3, 5, 5), (5,), (0, 5), (1, 7, 1)]),
       kind=st.sampled_from(["ok", "neg", "tinyneg", "nan", "zero", "bool"]),
       ext=st.sampled_from([".npy", ".tif", ".png", ".mat", ".txt"]), seed=st.integers(0, 99))
def test_save_and_load_psf_valid_or_clear_error(tmp_path_factory, shape, kind, ext, seed):
    rng = np.random.default_rng(seed)
    k = rng.random(shape)
    k = {"ok": k, "neg": k - 0.5, "tinyneg": k - 1e-9 * k.max(initial=1.0), "nan": k * np.nan,
         "zero": 0 * k, "bool": k > 0.5}[kind]
    p = tmp_path_factory.mktemp("psf") / f"k{ext}"

    def roundtrip():
        psf.save_psf(p, k)
        return psf.load_psf(p)

    def check(out):
        assert np.all(np.isfinite(out)) and out.min() >= 0 and abs(out.sum() - 1) < 1e-9
        assert out.ndim >= 2

    _outcome("files", roundtrip, check)


@settings(SETTINGS, max_examples=40)
@given(ext=st.sampled_from([".png", ".jpg", ".tif", ".npy", ".bmp", ".mat", ".npz"]),
       data=st.binary(min_size=0, max_size=300), keep=st.integers(0, 400),
       reader=st.sampled_from(["imread", "load_psf"]))
def test_corrupt_files_give_clear_errors(tmp_path_factory, ext, data, keep, reader):
    """Random bytes, or a valid file cut short, never crash a reader with a raw exception."""
    d = tmp_path_factory.mktemp("bad")
    p = d / f"x{ext}"
    if keep % 2 and ext not in (".mat", ".npz", ".bmp"):  # a truncated valid file
        io.imwrite(p, np.random.default_rng(keep).random((12, 12)))
        p.write_bytes(p.read_bytes()[: keep // 2])
    else:
        p.write_bytes(data)
    fn = io.imread if reader == "imread" or ext in (".jpg", ".bmp") else psf.load_psf

    def check(out):
        assert np.all(np.isfinite(out))

    _outcome("files", lambda: fn(p), check)


# ----------------------------------------------------------------------------- CLI
_num = st.floats(0, 15, allow_nan=False).map(lambda v: f"{v:.3g}")
spec_value = st.one_of(_num, _num, st.sampled_from(["-3", "nan", "inf", "1e9", "x", "", "4,4",
                                                    "1e5"]))


@settings(SETTINGS, max_examples=20)
@given(option=st.sampled_from(["--motion", "--defocus", "--gaussian", "--trajectory", "--bogus"]),
       key=st.sampled_from(["", "", "", "length=", "radius=", "sigma=", "angle=", "size=",
                            "seed=", "colour="]),
       value=spec_value, size=st.sampled_from([None, None, None, "15", "0", "-2", "x"]),
       ext=st.sampled_from([".npy", ".npy", ".png", ".tif", ".txt"]))
def test_cli_psf_exit_0_with_files_or_exit_2_with_one_line(tmp_path_factory, option, key, value,
                                                           size, ext):
    import contextlib
    import io as _io

    from hybrid_deblur.cli.main import main

    d = tmp_path_factory.mktemp("cli")
    argv = ["psf", option, f"{key}{value}", "-o", str(d / f"k{ext}"), "--no-figure"]
    if size is not None:
        argv += ["--size", size]
    COUNTS["CLI"]["cases"] += 1
    buf_err, buf_out = _io.StringIO(), _io.StringIO()
    with contextlib.redirect_stderr(buf_err), contextlib.redirect_stdout(buf_out):
        try:
            rc = main(argv)
        except SystemExit as exc:       # argparse refusals (unknown option, bad --size type)
            rc = exc.code
    err = buf_err.getvalue().strip().splitlines()
    if rc == 0:
        k = psf.load_psf(d / f"k{ext}")
        assert np.all(np.isfinite(k)) and abs(k.sum() - 1) < 1e-9
        COUNTS["CLI"]["valid_results"] += 1
    else:
        assert rc == 2 and len(err) == 1 and len(err[0]) >= 15, (argv, rc, err)
        assert "positional argument" not in err[0] and "keyword argument" not in err[0], err
        assert os.listdir(d) == [], f"{argv} left {os.listdir(d)}"
        COUNTS["CLI"]["clear_errors"] += 1


def test_zz_counts_cover_both_outcomes_and_report():
    """Every category saw clear errors and valid results (the sweep is not one-sided)."""
    if not COUNTS:
        pytest.skip("run with the property tests above")
    for cat, c in COUNTS.items():
        assert c["cases"] == c["clear_errors"] + c["valid_results"], cat
        assert c["clear_errors"] > 0 and c["valid_results"] > 0, (cat, c)
    path = os.environ.get("HYBRID_DEBLUR_PROPERTY_REPORT")
    if path:
        with open(path, "w") as f:
            json.dump(dict(COUNTS), f, indent=1)
