"""Non-blind benchmark harness (hybrid_deblur.analysis.nonblind) and ``hybrid-deblur bench``."""

from __future__ import annotations

import csv
import json
import os
from pathlib import Path

import numpy as np
import pytest

from hybrid_deblur.analysis import nonblind as NB

DATA = Path(__file__).resolve().parents[1] / ".." / "shared" / "data"


def _scene(shape=(48, 48), seed=0):
    """Smooth random scene in [0.1, 0.9] (so restoration is well posed)."""
    from scipy.ndimage import gaussian_filter

    rng = np.random.default_rng(seed)
    x = gaussian_filter(rng.random(shape), 1.5, axes=(-2, -1))
    x = (x - x.min()) / (x.max() - x.min())
    return 0.1 + 0.8 * x


def _kernel(k=7):
    r = np.arange(k) - k // 2
    g = np.exp(-(r[:, None] ** 2 + r[None, :] ** 2) / (2 * 1.2 ** 2))
    g[k // 2, :] += 0.3  # a little horizontal motion: not symmetric in both axes
    return g / g.sum()


def _inverse_circular(y, psf, *, boundary="circular", **_):
    """Known-good method on circular, noiseless-ish data: a mildly regularised inverse filter."""
    from hybrid_deblur.psf import psf2otf

    H = psf2otf(psf, y.shape[-2:])
    Y = np.fft.rfft2(y)
    return np.fft.irfft2(np.conj(H) * Y / (np.abs(H) ** 2 + 1e-4), s=y.shape[-2:])


def test_valid_cases_shapes_and_reference_crop():
    x = np.stack([_scene(seed=s) for s in range(3)])  # colour (3, 48, 48)
    k = _kernel(7)
    cases = NB.synthesize_cases([("c", x)], [("k", k)], noise=0.0, boundary="valid")
    (c,) = cases
    assert c.y.shape == (3, 42, 42)
    assert c.ref.shape == (3, 42, 42)
    # the reference is the scene pixel each valid output pixel is centred on
    from scipy.signal import convolve2d

    direct = convolve2d(x[1], k, mode="valid")
    np.testing.assert_allclose(c.y[1], direct, atol=1e-12)
    np.testing.assert_allclose(c.ref, x[:, 3:-3, 3:-3])


def test_harness_good_method_beats_blurred_and_psnr_is_exact():
    imgs = [(f"i{s}", _scene(seed=s)) for s in range(2)]
    res = NB.run_nonblind(imgs, [_kernel()], methods={"blurred": NB.BASELINES["blurred"],
                                                       "inverse": _inverse_circular},
                          noise=1e-4, boundary="circular", seed=3, progress=False)
    s = res.summary()
    assert s["blurred"]["n"] == 2
    assert s["inverse"]["mean_psnr"] > s["blurred"]["mean_psnr"] + 10
    # PSNR of the "blurred" row equals 10 log10(1 / MSE) recomputed by hand
    cases = NB.synthesize_cases(imgs, [("k", _kernel())], noise=1e-4, boundary="circular", seed=3)
    mse = np.mean((cases[0].y - cases[0].ref) ** 2)
    row = next(r for r in res.rows if r["method"] == "blurred")
    assert row["psnr"] == pytest.approx(10 * np.log10(1 / mse), abs=1e-9)
    assert 0 < row["ssim"] < 1 and row["time_s"] >= 0


def test_skimage_baselines_tuned_on_holdout_improve_on_blurred():
    imgs = [(f"i{s}", _scene(seed=s)) for s in range(2)]
    tune = [(f"t{s}", _scene(seed=10 + s)) for s in range(2)]
    res = NB.run_nonblind(imgs, [_kernel()], methods="blurred,skimage-wiener,skimage-rl",
                          noise=0.005, boundary="circular", tune_images=tune, progress=False,
                          border=6, grids={"skimage-rl": {"num_iter": (5, 20)}})
    s = res.summary()
    assert set(s) == {"blurred", "skimage-wiener", "skimage-rl"}  # holdout: no oracle label
    assert s["skimage-wiener"]["tuned"]["tuning"] == "holdout"
    assert s["skimage-wiener"]["tuned"]["balance"] in NB.DEFAULT_GRIDS["skimage-wiener"]["balance"]
    assert s["skimage-wiener"]["mean_psnr"] > s["blurred"]["mean_psnr"] + 1
    assert s["skimage-rl"]["mean_psnr"] > s["blurred"]["mean_psnr"] + 1
    assert s["skimage-rl"]["tuned"]["num_iter"] == 20
    # without a holdout the choice is labelled as an oracle
    res2 = NB.run_nonblind(imgs, [_kernel()], methods=["skimage-wiener"], noise=0.005,
                           boundary="circular", progress=False)
    assert list(res2.summary()) == ["skimage-wiener[oracle]"]


def test_skimage_wiener_matches_scikit_image_per_channel():
    from skimage.restoration import wiener

    x = np.stack([_scene(seed=s) for s in range(2)])
    k = _kernel()
    got = NB.skimage_wiener(x, k, balance=0.05)
    np.testing.assert_allclose(got[1], wiener(x[1], k, 0.05, clip=False), atol=1e-12)


def test_cv_tuning_leaves_the_group_out():
    imgs = [(f"i{s}", _scene(seed=s)) for s in range(3)]
    cases = NB.synthesize_cases(imgs, [("k", _kernel())], noise=0.005, boundary="circular")
    res = NB.evaluate_cases(cases, ["skimage-wiener"], boundary="circular", tuning="cv",
                            progress=False, grids={"skimage-wiener": {"balance": (1e-3, 1e-1)}})
    assert res.summary()["skimage-wiener"]["n"] == 3
    with pytest.raises(ValueError, match="two groups"):
        NB.evaluate_cases(cases[:1], ["skimage-wiener"], tuning="cv", progress=False)
    with pytest.raises(ValueError, match="tune_cases"):
        NB.evaluate_cases(cases, ["skimage-wiener"], tuning="holdout", progress=False)


def test_unknown_method_lists_known_names():
    with pytest.raises(ValueError) as ei:
        NB.resolve_methods("wiener,nope")
    msg = str(ei.value)
    assert "'nope'" in msg and "skimage-wiener" in msg and "hqs-hl" in msg
    with pytest.raises(ValueError, match="tuning"):
        NB.evaluate_cases([], ["blurred"], tuning="bogus")


def test_bad_inputs_name_the_argument(tmp_path):
    with pytest.raises(ValueError, match="images"):
        NB.load_images(tmp_path)  # empty folder
    with pytest.raises(ValueError, match="non-negative"):
        NB.load_kernels([-np.ones((3, 3))])
    with pytest.raises(ValueError, match="larger than image"):
        NB.synthesize_cases([("a", np.zeros((8, 8)))], [("k", np.ones((9, 9)) / 81)])
    with pytest.raises(ValueError, match="pairing"):
        NB.synthesize_cases([("a", np.zeros((8, 8)))], [("k", np.ones((3, 3)) / 9)], pairing="x")


def test_outputs_written_atomically_and_parse(tmp_path, monkeypatch):
    imgs = [(f"i{s}", _scene(seed=s)) for s in range(2)]
    out = tmp_path / "sub" / "r.json"
    res = NB.run_nonblind(imgs, [_kernel()], methods=["blurred"], noise=0.01, progress=False,
                          json_path=out, csv_path=tmp_path / "r.csv", md_path=tmp_path / "r.md")
    d = json.loads(out.read_text())
    assert d["summary"]["blurred"]["n"] == 2 and len(d["rows"]) == 2
    assert d["config"]["boundary"] == "valid" and d["config"]["noise"] == 0.01
    with open(tmp_path / "r.csv", newline="") as f:
        rows = list(csv.DictReader(f))
    assert len(rows) == 2 and float(rows[0]["psnr"]) == pytest.approx(d["rows"][0]["psnr"])
    assert (tmp_path / "r.md").read_text().startswith("| method |")
    assert not [p for p in os.listdir(out.parent) if p.endswith(".tmp")]
    # a failing write leaves the previous file intact and no temporary behind
    before = out.read_text()

    def boom(*a, **k):
        raise OSError("disk full")

    monkeypatch.setattr(os, "replace", boom)
    with pytest.raises(OSError):
        res.write_json(out)
    assert out.read_text() == before
    assert not [p for p in os.listdir(out.parent) if p.endswith(".tmp")]


def _cli_folder(tmp_path):
    imgs = tmp_path / "imgs"
    ks = tmp_path / "ks"
    imgs.mkdir()
    ks.mkdir()
    for s in range(2):
        np.save(imgs / f"im{s}.npy", _scene(seed=s))
    np.save(ks / "k.npy", _kernel())
    return imgs, ks


def test_cli_bench_nonblind(tmp_path, capsys):
    from hybrid_deblur.cli.main import main

    imgs, ks = _cli_folder(tmp_path)
    out = tmp_path / "o.json"
    rc = main(["bench", "nonblind", "--images", str(imgs), "--kernels", str(ks), "--noise", "0.01",
               "--methods", "blurred,skimage-wiener", "--json", str(out), "--csv",
               str(tmp_path / "o.csv"), "--limit", "1", "--no-progress"])
    assert rc == 0
    text = capsys.readouterr().out
    assert "| skimage-wiener[oracle] |" in text and "| blurred |" in text
    d = json.loads(out.read_text())
    assert d["summary"]["blurred"]["n"] == 1 and d["config"]["n_images"] == 1
    # with progress on and stderr not a terminal (captured): an estimate line, then lines
    rc = main(["bench", "nonblind", "--images", str(imgs), "--kernels", str(ks), "--noise", "0.01",
               "--methods", "blurred"])                       # 2 images: 2 steps
    err = capsys.readouterr().err.splitlines()
    assert rc == 0 and err[0].startswith("nonblind: first step") and "for 2 steps" in err[0]
    assert err[-1].startswith("nonblind: 2/2 (100%)")


def test_cli_bad_options_exit_2(tmp_path, capsys):
    from hybrid_deblur.cli.main import main

    imgs, ks = _cli_folder(tmp_path)
    base = ["bench", "nonblind", "--images", str(imgs), "--kernels", str(ks), "--no-progress"]
    with pytest.raises(SystemExit) as ei:
        main(base + ["--boundary", "mirror"])
    assert ei.value.code == 2
    with pytest.raises(SystemExit) as ei:
        main(base + ["--noise", "-1"])
    assert ei.value.code == 2
    capsys.readouterr()
    assert main(base + ["--methods", "blurred,nope"]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "nope" in err[0] and "skimage-wiener" in err[0]
    assert main(["bench"]) == 2


@pytest.mark.skipif(not (DATA / "levin2009" / "manifest.json").exists(), reason="no shared data")
def test_levin_cases_load():
    import importlib.util

    spec = importlib.util.spec_from_file_location(
        "levin_nonblind", Path(__file__).resolve().parents[1] / "benchmarks" / "levin_nonblind.py")
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    cases = mod.load_cases(DATA.resolve())
    assert len(cases) == 32
    c = cases[0]
    assert c.y.shape == c.ref.shape == (255, 255) and c.psf.shape == (19, 19)
    assert c.extra["ssd_reference"] == pytest.approx(33.2452)
    assert 0 <= c.y.min() and c.y.max() <= 1


def test_kernels_from_bank_name_and_folder(tmp_path):
    ks = NB.load_kernels("defocus")
    assert len(ks) == 23 and ks[0][0] == "defocus[0](radius=1)"
    assert all(abs(k.sum() - 1) < 1e-12 and k.min() >= 0 for _, k in ks)
    np.save(tmp_path / "a.npy", 2 * _kernel())
    ((name, k),) = NB.load_kernels(tmp_path)
    assert name == "a" and k.sum() == pytest.approx(1.0)
    with pytest.raises(ValueError, match="kernel bank"):
        NB.load_kernels("no_such_bank")


def test_failing_method_is_skipped_or_raised():
    def broken(y, psf, **_):
        raise RuntimeError("no shipped weights")

    imgs = [("i0", _scene())]
    cases = NB.synthesize_cases(imgs, [("k", _kernel())], noise=0.01)
    res = NB.evaluate_cases(cases, {"blurred": NB.BASELINES["blurred"], "broken": broken},
                            tuning="none", on_error="skip", progress=False)
    assert list(res.summary()) == ["blurred"]
    assert "no shipped weights" in res.config["skipped"]["broken"]
    assert "skipped broken" in res.markdown()
    with pytest.raises(RuntimeError):
        NB.evaluate_cases(cases, {"broken": broken}, tuning="none", progress=False)


def test_padded_skimage_baseline_helps_on_valid_data():
    imgs = [(f"i{s}", _scene((56, 56), seed=s)) for s in range(2)]
    res = NB.run_nonblind(imgs, [_kernel(9)], methods="skimage-wiener,skimage-wiener-pad",
                          noise=0.002, boundary="valid", progress=False, tuning="oracle")
    s = res.summary()
    assert s["skimage-wiener-pad[oracle]"]["mean_psnr"] > s["skimage-wiener[oracle]"]["mean_psnr"] + 1
    y = np.random.default_rng(0).random((2, 30, 31))
    assert NB.skimage_rl_pad(y, _kernel(), num_iter=3).shape == y.shape


def test_registry_method_on_colour_valid_data():
    x = np.stack([_scene((64, 64), seed=s) for s in range(3)])
    res = NB.run_nonblind([("rgb", x)], [_kernel(9)], methods="blurred,wiener",
                          noise=0.005, boundary="valid", progress=False)
    s = res.summary()
    assert s["wiener"]["n"] == 1
    assert s["wiener"]["mean_psnr"] > s["blurred"]["mean_psnr"] + 2


def test_bank_kernel_names_carry_their_manifest_parameters():
    """Issue 14: the CSV names bank kernels with their parameters, not just ``mixed[3]``."""
    from hybrid_deblur.psf import bank

    ks = NB.load_kernels("mixed")
    meta = bank.load("mixed").meta["params"][3]
    name = ks[3][0]
    assert name.startswith("mixed[3](")
    assert f"radius={meta['radius']:.4g}" in name
    assert f"seed={meta['trajectory']['seed']}" in name
    assert f"length={meta['trajectory']['length']:.4g}" in name
    assert len({n for n, _ in ks}) == len(ks)                 # still unique


def test_progress_prints_an_estimate_and_periodic_lines_without_a_terminal():
    """Issue 14: redirected stderr still gets a first-step estimate and periodic lines."""
    import io as _io

    from hybrid_deblur.analysis.nonblind_progress import Progress

    ticks = iter([0.0, 10.0, 20.0, 45.0, 46.0, 100.0])
    buf = _io.StringIO()
    with Progress(5, desc="nonblind", stream=buf, every=30.0, clock=lambda: next(ticks)) as p:
        for _ in range(5):
            p.update(1)
    lines = buf.getvalue().splitlines()
    assert lines[0] == "nonblind: first step 10 s -> about 50 s for 5 steps"
    # 20 s: too soon; 45 s: a line (35 s after the first); 46 s: too soon; 100 s: the last step
    assert lines[1] == "nonblind: 3/5 (60%), 45 s elapsed, about 30 s left"
    assert lines[2] == "nonblind: 5/5 (100%), 1.7 min elapsed, about 0 s left"
    assert len(lines) == 3
    quiet = _io.StringIO()
    with Progress(5, stream=quiet, enabled=False) as p:
        p.update(5)
    assert quiet.getvalue() == ""
