"""Failure atlas (issue 11): spec validation, cell synthesis identities, rows, report, CLI."""

from __future__ import annotations

import csv
import json

import numpy as np
import pytest

from hybrid_deblur import metrics as M
from hybrid_deblur.analysis.atlas_run import COLUMNS, run_atlas, run_cell, synthesize
from hybrid_deblur.analysis.atlas_spec import AXES, build_psf, load_spec, parse_spec
from hybrid_deblur.cli.main import main


def _spec(**over):
    d = {"atlas": {"n_images": 1, "image_size": 48},
         "axes": {"motion_length": [0, 5], "defocus_radius": [0, 2], "noise_sigma": [0.01]},
         "methods": {"nonblind": ["wiener", "hqs-tv"], "blind": ["parametric>hqs-tv"]}}
    for sec, vals in over.items():
        d.setdefault(sec, {}).update(vals)
    return parse_spec(d)


# ----------------------------------------------------------------------------- spec
@pytest.mark.parametrize("d, key", [
    ({"axes": {"motion_lenght": [3]}}, "'axes.motion_lenght'"),
    ({"axes": {"noise_sigma": []}}, "'axes.noise_sigma' is an empty range"),
    ({"axes": {"defocus_radius": {"start": 0, "stop": 4}}}, "'axes.defocus_radius'"),
    ({"axes": {"saturation": [0.7]}}, "'axes.saturation'"),
    ({"methods": {"nonblind": ["wiener", "nope"]}}, "'methods.nonblind' names the unknown method 'nope'"),
    ({"methods": {"blind": ["map"]}}, "'methods.blind' has 'map'"),
    ({"methods": {"blind": ["psychic>wiener"]}}, "'methods.blind'"),
    ({"atlas": {"image_size": 40}, "axes": {"motion_length": [35]}}, "'axes.motion_length'"),
    ({"atlas": {"sigmaa": 1}}, "'atlas.sigmaa'"),
    ({"atlas": {"n_images": 9}}, "'atlas.n_images'"),
    ({"grid": {}}, "'grid' is an unknown section"),
])
def test_bad_specs_name_the_key_in_one_line(d, key):
    with pytest.raises(ValueError) as ei:
        parse_spec(d)
    msg = str(ei.value)
    assert key in msg and "\n" not in msg


def test_kernel_too_large_for_blind_estimation_names_the_axis():
    with pytest.raises(ValueError, match="'axes.motion_length'.*at least"):
        parse_spec({"atlas": {"image_size": 64}, "axes": {"motion_length": [25]},
                    "methods": {"nonblind": [], "blind": ["map>wiener"]}})


def test_default_spec_meets_the_issue_grid():
    spec = load_spec()
    assert min(spec.axes["motion_length"]) == 0 and max(spec.axes["motion_length"]) == 35
    assert min(spec.axes["defocus_radius"]) == 0 and max(spec.axes["defocus_radius"]) == 8
    assert spec.axes["noise_sigma"] == (0.005, 0.01, 0.03)
    assert spec.n_images == 4 and len(spec.methods()) >= 5
    assert len(spec.cells()) == 4 * 3 * len(spec.axes["motion_length"]) * len(spec.axes["defocus_radius"])


def test_range_tables_and_cell_seeds_are_order_free():
    a = _spec(axes={"motion_length": {"start": 0, "stop": 10, "num": 3}})
    assert a.axes["motion_length"] == (0.0, 5.0, 10.0)
    b = _spec(axes={"motion_length": [10, 0, 5]})
    seeds_a = {c["key"]: c["seed"] for c in a.cells()}
    seeds_b = {c["key"]: c["seed"] for c in b.cells()}
    assert seeds_a == seeds_b and len(set(seeds_a.values())) == len(seeds_a)
    assert a.digest() != _spec(atlas={"seed": 1}).digest()


def test_build_psf_composes_shapes_and_tiles():
    from hybrid_deblur.psf import combine, disk, linear_motion

    v = {"motion_length": 9.0, "motion_angle": 0.0, "defocus_radius": 2.0}
    np.testing.assert_allclose(build_psf(v, 0), combine(linear_motion(9, 0), disk(2)), atol=1e-15)
    tiles = build_psf(dict(v, nonuniformity=0.5), 0, tiles=True)
    np.testing.assert_allclose(tiles[4], build_psf(v, 0), atol=1e-15)  # centre tile = uniform
    assert tiles[8].shape[0] > tiles[0].shape[0]  # the far corner blurs more
    assert build_psf({}, 0).shape == (1, 1)


# ----------------------------------------------------------------------------- synthesis
def _cell(spec, **values):
    c = spec.cells()[0]
    return dict(c, values=dict(c["values"], **values))


def test_uniform_cell_equals_physics_degrade():
    from hybrid_deblur.analysis.atlas_run import load_image
    from hybrid_deblur.physics import crop_valid, degrade

    spec = _spec()
    cell = _cell(spec, motion_length=5.0, defocus_radius=2.0)
    obs = synthesize(cell, spec)
    x = load_image(cell["image"], 48)
    y, _ = degrade(x, obs["psf"], boundary="valid", noise=0.01, seed=cell["seed"])
    np.testing.assert_array_equal(obs["y"], y)
    np.testing.assert_array_equal(obs["ref"], crop_valid(x, obs["psf"].shape))


def test_identity_cell_and_saturation_share():
    spec = _spec()
    obs = synthesize(_cell(spec, noise_sigma=0.0), spec)
    np.testing.assert_allclose(obs["y"], obs["ref"], rtol=0, atol=1e-12)
    assert obs["snr_db"] > 200  # no noise: only FFT round-off
    obs = synthesize(_cell(spec, noise_sigma=0.0, saturation=0.2, motion_length=5.0), spec)
    assert np.mean(obs["y"] >= 1.0) == pytest.approx(0.2, abs=0.01)
    assert obs["ref"].max() <= 1.0


def test_photon_noise_gives_the_expected_low_light_snr():
    spec = _spec()
    obs = synthesize(_cell(spec, noise_sigma=0.0, photons=2.0, motion_length=5.0), spec)
    c = obs["clean"]
    want = 10 * np.log10(np.mean(c ** 2) / (np.mean(c) / 2.0))  # Poisson variance = mean / photons
    assert obs["snr_db"] == pytest.approx(want, abs=0.5)
    assert obs["snr_db"] < 5


def test_nonuniform_cell_uses_the_space_varying_operator():
    spec = _spec()
    a = synthesize(_cell(spec, motion_length=5.0, noise_sigma=0.0), spec)
    b = synthesize(_cell(spec, motion_length=5.0, noise_sigma=0.0, nonuniformity=1.0), spec)
    np.testing.assert_array_equal(a["psf"], b["psf"])  # non-blind methods get the centre kernel
    assert b["y"].shape[0] < a["y"].shape[0]  # larger corner kernels: smaller valid image
    assert not np.allclose(b["y"], a["y"][: b["y"].shape[0], : b["y"].shape[1]])


# ----------------------------------------------------------------------------- rows
def test_cell_rows_cross_check_the_solvers():
    from hybrid_deblur.solvers import estimate_noise, wiener

    spec = _spec()
    cell = spec.cells()[3]
    res = run_cell(cell, spec)
    rows = {r["method"]: r for r in res["rows"]}
    assert list(rows) == ["wiener", "hqs-tv", "parametric>hqs-tv"]
    assert all(set(r) == set(COLUMNS) for r in rows.values())
    obs = synthesize(cell, spec)
    x = wiener(obs["y"], obs["psf"], boundary="auto", sigma=estimate_noise(obs["y"]))
    assert rows["wiener"]["psnr"] == pytest.approx(M.psnr(x, obs["ref"]), abs=1e-12)
    assert rows["wiener"]["input_psnr"] == pytest.approx(M.psnr(obs["y"], obs["ref"]), abs=1e-12)
    assert rows["wiener"]["gap_true"] == 0.0
    b = rows["parametric>hqs-tv"]
    assert b["gap_true"] == pytest.approx(b["psnr"] - rows["hqs-tv"]["psnr"], abs=1e-12)
    assert 0 <= b["kernel_similarity"] <= 1 and b["error_ratio"] > 0
    assert b["failed"] == (b["gap_input"] < 0 or b["gap_true"] < -1.0)
    assert run_cell(cell, spec)["rows"][0]["psnr"] == rows["wiener"]["psnr"]  # deterministic


def test_run_report_and_report_only(tmp_path, capsys):
    spec = _spec(axes={"defocus_radius": [0]}, methods={"blind": []})
    res = run_atlas(spec, tmp_path, serial=True, progress=False, report=False)
    with open(tmp_path / "results.csv") as f:
        table = list(csv.DictReader(f))
    assert [r["method"] for r in table] == ["wiener", "hqs-tv"] * 2
    assert float(table[3]["psnr"]) == pytest.approx(res.rows[3]["psnr"], abs=1e-9)
    d = json.loads((tmp_path / "results.json").read_text())
    assert d["digest"] == spec.digest() and "numpy" in d["versions"] and d["run"]["cells"] == 2
    # --report-only redraws from the finished cells: drop one cell to mimic a partial run
    next(iter(sorted((tmp_path / "cells").iterdir()))).unlink()
    assert main(["atlas", "--out", str(tmp_path), "--report-only"]) == 0
    assert (tmp_path / "figures" / "overview_gap_input.png").stat().st_size > 10_000
    assert "hqs-tv" in (tmp_path / "index.html").read_text()
    d = json.loads((tmp_path / "results.json").read_text())
    assert d["run"]["partial"] and d["run"]["finished"] == 1 and len(d["rows"]) == 2
    assert d["run"]["cells_timed"] == 1 and 0 < d["run"]["cell_cpu_s"] <= 1.5 * d["run"]["cell_wall_s"]
    # a different spec into the same folder is refused
    with pytest.raises(ValueError, match="another spec"):
        run_atlas(_spec(atlas={"seed": 3}), tmp_path, serial=True, progress=False, report=False)


def test_cli_bad_spec_is_one_line_naming_the_key(tmp_path, capsys):
    p = tmp_path / "bad.toml"
    p.write_text('[axes]\nmotion_length = [0, 5]\nblur_kind = ["box"]\n')
    assert main(["atlas", "--spec", str(p), "--out", str(tmp_path / "o"), "--serial"]) == 2
    err = capsys.readouterr().err.strip()
    assert err.count("\n") == 0 and "'axes.blur_kind'" in err


def test_every_axis_has_a_default_and_a_unit():
    for (default, unit, meaning) in AXES.values():
        assert isinstance(default, float) and isinstance(unit, str) and meaning


def test_failure_boundary_closes_failing_regions():
    from matplotlib.figure import Figure

    from hybrid_deblur.analysis.atlas_report import _boundary

    def segments(data):
        ax = Figure().add_subplot()
        _boundary(ax, np.asarray(data, float), 0.0, color="k", style="solid")
        return sorted(tuple(map(tuple, s)) for c in ax.collections for s in c.get_segments())

    # one failing corner cell: two inner edges + two outer edges = a closed square
    assert len(segments([[-1, 2, 3], [4, 5, 6]])) == 4
    # a failing column: its 2 inner edges to the right + 4 outer edges; nothing to NaN cells
    assert len(segments([[-1, 2, np.nan], [-3, 5, np.nan]])) == 6
    assert segments([[1, 2], [3, np.nan]]) == []
    # the edge between a failing and a passing cell sits half-way between their centres
    assert ((0.5, -0.5), (0.5, 0.5)) in segments([[-1, 1]])
