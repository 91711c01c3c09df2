"""Denoiser prior (DRUNet), its trainer, and training checkpoints (checksum, config hash, NaN stop)."""

from __future__ import annotations

import hashlib
import math
from pathlib import Path

import numpy as np
import pytest

torch = pytest.importorskip("torch")

from hybrid_deblur.learned.denoiser import DRUNet, noise_map  # noqa: E402
from hybrid_deblur.learned.weights import (CheckpointError, load_checkpoint, save_checkpoint,  # noqa: E402
                                           shipped_weights)

torch.set_num_threads(1)
ROOT = Path(__file__).resolve().parents[1]
DATA = ROOT / ".." / "shared" / "data"


def _randomised(net):
    g = torch.Generator().manual_seed(0)
    with torch.no_grad():
        for p in net.parameters():
            p.copy_(torch.randn(p.shape, generator=g, dtype=p.dtype) * 0.1)
    return net


def test_drunet_starts_as_identity_and_keeps_shape():
    net = DRUNet(1, widths=(8, 16, 32))
    x = torch.rand(2, 1, 37, 29)
    assert torch.equal(net(x, 0.1), x)
    net3 = DRUNet(3, widths=(8, 16))
    assert net3(torch.rand(1, 3, 20, 22), torch.tensor([0.05])).shape == (1, 3, 20, 22)
    # a gray image through the colour model, colour through the gray model
    assert net3(torch.rand(2, 1, 16, 16), 0.1).shape == (2, 1, 16, 16)
    assert net(torch.rand(1, 3, 16, 16), 0.1).shape == (1, 3, 16, 16)


def test_drunet_is_bias_free_and_positively_homogeneous():
    net = _randomised(DRUNet(1, widths=(4, 8), blocks=1)).double()
    assert all(getattr(m, "bias", None) is None for m in net.modules()
               if isinstance(m, (torch.nn.Conv2d, torch.nn.ConvTranspose2d)))
    x = torch.rand(1, 1, 22, 18, dtype=torch.float64)
    out = net(x, 0.1)
    assert not torch.allclose(out, x)  # not the identity any more
    for a in (0.3, 2.5):
        torch.testing.assert_close(net(a * x, 0.1 * a), a * out, rtol=1e-10, atol=1e-12)


def test_colour_from_gray_is_the_gray_model_on_the_opponent_luminance_plane():
    from hybrid_deblur.learned.denoiser import colour_from_gray
    from hybrid_deblur.learned.pnp import OPPONENT

    gray = _randomised(DRUNet(1, widths=(4, 8))).double()
    col = colour_from_gray(gray).double()
    assert col.channels == 3 and col.config == dict(gray.config, channels=3)
    x = torch.rand(2, 3, 20, 18, dtype=torch.float64)
    M = torch.as_tensor(OPPONENT)
    o = torch.einsum("ij,bjhw->bihw", M, x)
    lum = o[:, :1]
    assert not torch.allclose(gray(lum, 0.1), lum)  # the gray model does something
    want = o.clone()
    want[:, :1] = gray(lum, 0.1)  # luminance denoised by the gray model, chroma planes kept
    torch.testing.assert_close(col(x, 0.1), torch.einsum("ji,bjhw->bihw", M, want), rtol=1e-10, atol=1e-12)
    # a neutral image stays neutral (the residual is the same on R, G and B)
    g = torch.rand(1, 1, 16, 16, dtype=torch.float64).expand(1, 3, 16, 16)
    out = col(g, 0.05)
    torch.testing.assert_close(out[:, 0], out[:, 2], rtol=0, atol=1e-14)
    with pytest.raises(ValueError, match="1-channel DRUNet"):
        colour_from_gray(col)


def test_noise_map_checks_its_input():
    x = torch.zeros(2, 1, 4, 5)
    assert noise_map(0.1, x).shape == (2, 1, 4, 5)
    assert torch.equal(noise_map(torch.tensor([0.1, 0.2]), x)[:, 0, 0, 0], torch.tensor([0.1, 0.2]))
    with pytest.raises(ValueError, match="sigma must be finite and >= 0"):
        noise_map(-0.1, x)
    with pytest.raises(ValueError, match="one value per batch entry"):
        noise_map([0.1, 0.2, 0.3], x)
    with pytest.raises(ValueError, match="sigma map must have shape"):
        noise_map(torch.zeros(2, 1, 3, 3), x)


# ----------------------------------------------------------------------------- checkpoints
def test_checkpoint_refuses_damage_and_foreign_configs(tmp_path):
    p = tmp_path / "ck.pt"
    save_checkpoint(p, {"step": 7, "w": torch.arange(1000.0)}, cfg_hash="aaa")
    assert load_checkpoint(p, cfg_hash="aaa")["step"] == 7
    raw = bytearray(p.read_bytes())
    with pytest.raises(CheckpointError, match="another configuration"):
        load_checkpoint(p, cfg_hash="bbb")
    flipped = tmp_path / "flipped.pt"
    raw2 = bytearray(raw)
    raw2[len(raw2) // 2] ^= 0x01  # one byte flipped mid-file
    flipped.write_bytes(bytes(raw2))
    with pytest.raises(CheckpointError, match=r"flipped\.pt.*failed its checksum"):
        load_checkpoint(flipped)
    trunc = tmp_path / "trunc.pt"
    trunc.write_bytes(bytes(raw[:-100]))
    with pytest.raises(CheckpointError, match=r"trunc\.pt.*truncated"):
        load_checkpoint(trunc)
    plain = tmp_path / "plain.pt"
    torch.save({"step": 1}, plain)
    with pytest.raises(CheckpointError, match=r"plain\.pt.*not a hybrid_deblur checkpoint"):
        load_checkpoint(plain)
    with pytest.raises(CheckpointError, match="does not exist"):
        load_checkpoint(tmp_path / "missing.pt")


def _denoiser_args(tmp_path, *extra):
    return ["--device", "cpu", "--data", str(DATA), "--out", str(tmp_path), "--channels", "1",
            "--widths", "8", "16", "--patch", "16", "--batch", "2", "--limit-images", "40",
            "--threads", "1", "--val-every", "1000", "--ckpt-every", "2", "--log-seconds", "1e9",
            *extra]


def test_add_noise_low_share_keeps_the_default_draws_and_spreads_low_levels():
    from hybrid_deblur.learned.denoiser import SIGMA_MAX
    from hybrid_deblur.learned.denoiser_data import LOW_SIGMA_MIN, add_noise

    x = torch.full((4000, 1, 2, 2), 0.5)
    y0, s0 = add_noise(x, torch.Generator().manual_seed(1), p_poisson=0.0)
    y1, s1 = add_noise(x, torch.Generator().manual_seed(1), p_poisson=0.0, low_share=0.0)
    assert torch.equal(y0, y1) and torch.equal(s0, s1)  # default law: same draws as before
    _, su = add_noise(x, torch.Generator().manual_seed(2), p_poisson=0.0)
    _, sl = add_noise(x, torch.Generator().manual_seed(2), p_poisson=0.0, low_share=1.0)
    su, sl = su[:, 0, 0, 0], sl[:, 0, 0, 0]
    assert float(sl.min()) >= LOW_SIGMA_MIN * 0.999 and float(sl.max()) <= SIGMA_MAX * 1.001
    # log-uniform: log sigma has mean (log lo + log hi) / 2; under U[0, max] 5 % are < max / 20
    mid = 0.5 * (math.log(LOW_SIGMA_MIN) + math.log(SIGMA_MAX))
    assert abs(float(sl.log().mean()) - mid) < 0.1
    low = 2.55 / 255
    assert abs(float((su < low).float().mean()) - low / SIGMA_MAX) < 0.02
    frac = (math.log(low) - math.log(LOW_SIGMA_MIN)) / (math.log(SIGMA_MAX) - math.log(LOW_SIGMA_MIN))
    assert abs(float((sl < low).float().mean()) - frac) < 0.03  # 43 % instead of 5 %


@pytest.mark.slow
@pytest.mark.skipif(not (DATA / "train400").is_dir(), reason="../shared/data not present")
def test_denoiser_trainer_init_starts_from_given_weights_and_refuses_another_shape(tmp_path):
    from hybrid_deblur.learned.train_denoiser import main
    from hybrid_deblur.learned.weights import load_model, save_weights

    start = _randomised(DRUNet(1, widths=(8, 16)))
    save_weights(start, tmp_path / "start.pt")
    # lr 0: the weights cannot move, so the exported EMA must be the initial weights
    assert main(_denoiser_args(tmp_path / "a", "--steps", "1", "--lr", "0",
                               "--init", str(tmp_path / "start.pt"))) == 0
    got = load_model(tmp_path / "a" / "drunet_gray.pt").state_dict()  # float16 on disk
    for k, v in start.state_dict().items():
        torch.testing.assert_close(got[k], v, rtol=2e-3, atol=2e-4)
    save_weights(DRUNet(1, widths=(8, 32)), tmp_path / "other.pt")
    assert main(_denoiser_args(tmp_path / "b", "--steps", "1", "--init", str(tmp_path / "other.pt"))) == 2
    # gray weights start a colour run on the luminance plane (colour_from_gray)
    from hybrid_deblur.learned.denoiser import colour_from_gray

    args = _denoiser_args(tmp_path / "c", "--steps", "1", "--lr", "0", "--init", str(tmp_path / "start.pt"))
    args[args.index("--channels") + 1] = "3"
    assert main(args) == 0
    got = load_model(tmp_path / "c" / "drunet_color.pt").state_dict()
    for k, v in colour_from_gray(start).state_dict().items():
        torch.testing.assert_close(got[k], v, rtol=2e-3, atol=2e-4)


@pytest.mark.slow
@pytest.mark.skipif(not (DATA / "train400").is_dir(), reason="../shared/data not present")
def test_denoiser_trainer_resumes_exactly_and_refuses_a_damaged_checkpoint(tmp_path):
    from hybrid_deblur.learned.train_denoiser import main

    assert main(_denoiser_args(tmp_path / "a", "--steps", "5")) == 0
    assert main(_denoiser_args(tmp_path / "b", "--steps", "5", "--stop-after", "2")) == 0
    assert main(_denoiser_args(tmp_path / "b", "--steps", "5", "--resume")) == 0
    ca, cb = ((tmp_path / d / "curve.csv").read_text() for d in "ab")
    col = lambda t: [r.split(",")[3] for r in t.splitlines()[1:]]  # noqa: E731 - loss column
    assert len(col(ca)) == 5 and col(ca) == col(cb)
    for d in "ab":
        assert (tmp_path / d / "drunet_gray.pt").is_file() and (tmp_path / d / "drunet_gray.json").is_file()
    # a flipped byte is refused, naming the file (exit status 2), and the file is left alone
    ck = tmp_path / "b" / "checkpoint.pt"
    raw = bytearray(ck.read_bytes())
    raw[len(raw) // 2] ^= 0x10
    ck.write_bytes(bytes(raw))
    assert main(_denoiser_args(tmp_path / "b", "--steps", "8", "--resume")) == 2
    assert ck.read_bytes() == bytes(raw)
    # another configuration is refused
    assert main(_denoiser_args(tmp_path / "a", "--steps", "8", "--resume", "--lr", "1e-3")) == 2


@pytest.mark.slow
@pytest.mark.skipif(not (DATA / "train400").is_dir(), reason="../shared/data not present")
def test_extending_a_finished_run_equals_one_extended_run(tmp_path):
    """--lr-restart-at: 4 steps, then extended to 8 (interrupted at 6 and resumed) == one 8-step run."""
    from hybrid_deblur.learned.train_denoiser import main

    ext = ("--steps", "8", "--lr-restart-at", "4", "--restart-lr", "2e-4")
    assert main(_denoiser_args(tmp_path / "a", *ext)) == 0
    assert main(_denoiser_args(tmp_path / "b", "--steps", "4")) == 0
    assert main(_denoiser_args(tmp_path / "b", *ext, "--resume", "--stop-after", "6")) == 0
    assert main(_denoiser_args(tmp_path / "b", *ext, "--resume")) == 0
    rows = {}
    for d in "ab":
        lines = (tmp_path / d / "curve.csv").read_text().splitlines()
        head = lines[0].split(",")
        rows[d] = [dict(zip(head, r.split(","))) for r in lines[1:]]
    assert [r["step"] for r in rows["a"]] == [str(i) for i in range(1, 9)]
    for key in ("loss_1", "lr"):
        assert [r[key] for r in rows["a"]] == [r[key] for r in rows["b"]]
    lr = [float(r["lr"]) for r in rows["a"]]
    assert lr[3] < 0.2 * 4e-4 and lr[4] == pytest.approx(2e-4)  # first cosine decayed, second starts
    assert lr[4] > lr[5] > lr[6] > lr[7]
    # a restart point outside the budget is refused
    assert main(_denoiser_args(tmp_path / "c", "--steps", "4", "--lr-restart-at", "4")) == 2


@pytest.mark.slow
def test_unrolled_trainer_stops_on_nan_and_keeps_the_last_good_checkpoint(tmp_path, monkeypatch):
    from hybrid_deblur.learned.config import merge_defaults
    from hybrid_deblur.learned.data import PairSampler, synthetic_images
    from hybrid_deblur.learned.train import Trainer, TrainingDiverged, train

    cfg = merge_defaults({"model": {"name": "unrolled-hqs", "stages": 1, "widths": [8, 16]},
                          "train": {"steps": 8, "batch_size": 1, "warmup": 1, "val_every": 0,
                                    "ckpt_every": 3, "log_every": 1, "threads": 1}})
    sampler = PairSampler(images=synthetic_images(3, 48), patch=20, max_kernel=5, common_kernel=5)
    orig = Trainer.train_step

    def step(self):
        loss = orig(self)
        return math.nan if self.step == 5 else loss

    monkeypatch.setattr(Trainer, "train_step", step)
    with pytest.raises(TrainingDiverged, match=r"loss became nan at step 5.*checkpoint.pt is kept"):
        train(cfg, out_dir=tmp_path, sampler=sampler, progress=False)
    ck = tmp_path / "checkpoint.pt"
    st = load_checkpoint(ck)
    assert st["step"] == 3 and all(bool(torch.isfinite(v).all()) for v in st["model"].values())
    # the damaged checkpoint is refused on --resume, naming the file
    raw = bytearray(ck.read_bytes())
    raw[len(raw) // 2] ^= 0x01
    ck.write_bytes(bytes(raw))
    monkeypatch.setattr(Trainer, "train_step", orig)
    with pytest.raises(CheckpointError, match=r"checkpoint.pt.*failed its checksum"):
        train(cfg, out_dir=tmp_path, sampler=sampler, progress=False, resume=True)


@pytest.mark.skipif(not (DATA / "train400").is_dir(), reason="../shared/data not present")
def test_cli_train_never_writes_into_the_package_and_resolves_paths_from_the_config(tmp_path, monkeypatch):
    from hybrid_deblur.cli.main import main
    from hybrid_deblur.learned.weights import WEIGHTS_DIR

    def digest():
        return {p.name: hashlib.sha256(p.read_bytes()).hexdigest() for p in sorted(WEIGHTS_DIR.iterdir())
                if p.is_file()}

    before = digest()
    cdir = tmp_path / "cfg"
    cdir.mkdir()
    rel = Path(__import__("os").path.relpath(DATA.resolve() / "train400", cdir))
    ship = Path(__import__("os").path.relpath(WEIGHTS_DIR / "unrolled_hqs_gray.pt", cdir))
    (cdir / "tiny.toml").write_text(
        '[model]\nname = "unrolled-hqs"\nstages = 1\nwidths = [8, 16]\n'
        f'[data]\nfolders = ["{rel.as_posix()}"]\npatch = 20\nmax_kernel = 5\ncommon_kernel = 5\n'
        '[train]\nsteps = 2\nbatch_size = 1\nwarmup = 1\nval_every = 0\nckpt_every = 0\nthreads = 1\n'
        f'[export]\npath = "{ship.as_posix()}"\nname = "unrolled_hqs_gray"\n')
    monkeypatch.chdir(tmp_path)  # a working directory from which the relative data path is wrong
    assert main(["train", "--config", str(cdir / "tiny.toml"), "--out", "scratch_run"]) == 0
    assert digest() == before
    assert (tmp_path / "scratch_run" / "unrolled_hqs_gray.pt").is_file()
    assert (tmp_path / "scratch_run" / "unrolled_hqs_gray.json").is_file()
    assert main(["train", "--config", str(cdir / "tiny.toml"), "--out", "run2",
                 "--export", str(tmp_path / "mine.pt")]) == 0
    assert (tmp_path / "mine.pt").is_file() and digest() == before


@pytest.mark.skipif("drunet_gray" not in shipped_weights(), reason="no shipped denoiser")
def test_shipped_denoiser_lowers_the_error_of_a_noisy_image():
    from hybrid_deblur.learned.pnp import get_denoiser
    from hybrid_deblur.learned.data import synthetic_images

    x = torch.from_numpy(synthetic_images(1, 96, seed=3)[0])[None]
    g = torch.Generator().manual_seed(0)
    for c in (1, 3):
        net = get_denoiser(c)
        xc = x.expand(1, c, -1, -1) if c == 3 else x
        for s in (10 / 255, 25 / 255):
            y = xc + s * torch.randn(xc.shape, generator=g)
            with torch.no_grad():
                err_in = float(((y - xc) ** 2).mean())
                err_out = float(((net(y, s) - xc) ** 2).mean())
            assert err_out < 0.35 * err_in, (c, s, err_out / err_in)  # >= 4.5 dB better


@pytest.mark.slow
@pytest.mark.skipif(not (DATA / "train400").is_dir(), reason="../shared/data not present")
def test_a_briefly_trained_denoiser_lowers_the_error_of_a_noisy_image(tmp_path):
    from hybrid_deblur.learned.train_denoiser import main
    from hybrid_deblur.learned.weights import load_model
    from hybrid_deblur.io import imread

    assert main(_denoiser_args(tmp_path, "--steps", "40", "--lr", "2e-3", "--batch", "4",
                               "--patch", "32", "--ckpt-every", "0", "--widths", "16", "32")) == 0
    net = load_model(tmp_path / "drunet_gray.pt")  # sha256-checked export, float16 on disk
    x = torch.from_numpy(imread(DATA / "bsd68" / sorted(p.name for p in (DATA / "bsd68").iterdir()
                                                       if p.suffix == ".png")[0],
                                gray=True, dtype=np.float32))[None, None]
    g = torch.Generator().manual_seed(0)
    for s, most in ((15 / 255, 0.9), (40 / 255, 0.7)):  # measured 0.77, 0.49
        y = x + s * torch.randn(x.shape, generator=g)
        with torch.no_grad():
            ratio = float(((net(y, s) - x) ** 2).mean() / ((y - x) ** 2).mean())
        assert ratio < most, (s, ratio)  # an unseen test image, after 40 steps on train400 crops


def test_kernel_pool_identity_share_replaces_only_the_drawn_kernels():
    from hybrid_deblur.learned.denoiser_data import KernelPool

    base = KernelPool(12, seed=3).get()
    mixed = KernelPool(12, seed=3, identity_share=0.5).get()
    delta = torch.zeros(25, 25)
    delta[12, 12] = 1
    is_delta = [bool(torch.equal(k, delta)) for k in mixed]
    assert 2 <= sum(is_delta) <= 10
    for k0, k1, d in zip(base, mixed, is_delta):
        assert d or torch.equal(k0, k1)  # the others are the default pool's kernels
    with pytest.raises(ValueError, match="identity_share"):
        KernelPool(4, identity_share=1.5)


@pytest.mark.slow
@pytest.mark.skipif(not (DATA / "train400").is_dir(), reason="../shared/data not present")
def test_finetune_only_run_with_cg_steps_resumes_exactly(tmp_path):
    """--finetune-share 1 --init W: UnrolledHQS on the given denoiser, CG data steps, the
    engine's start, a faster hyper-network and 1x1 kernels; interrupted and resumed == one run."""
    from hybrid_deblur.learned.train_denoiser import main
    from hybrid_deblur.learned.weights import load_model, save_weights

    save_weights(_randomised(DRUNet(1, widths=(8, 16))), tmp_path / "start.pt")
    ft = ("--steps", "4", "--finetune-share", "1", "--init", str(tmp_path / "start.pt"), "--stages", "2",
          "--ft-patch", "28", "--ft-batch", "1", "--kernels", "6", "--workers", "1", "--ft-init",
          "observation", "--ft-data-solver", "cg", "--ft-hyper-lr", "1e-3", "--ft-identity-share", "0.3")
    assert main(_denoiser_args(tmp_path / "a", *ft)) == 0
    assert main(_denoiser_args(tmp_path / "b", *ft, "--stop-after", "2")) == 0
    assert main(_denoiser_args(tmp_path / "b", *ft, "--resume")) == 0
    col = {}
    for d in "ab":
        lines = (tmp_path / d / "curve.csv").read_text().splitlines()
        head = lines[0].split(",")
        col[d] = [dict(zip(head, r.split(",")))["loss_ft"] for r in lines[1:]]
    assert len(col["a"]) == 4 and col["a"] == col["b"]
    net = load_model(tmp_path / "a" / "unrolled_pnp_gray.pt")
    assert net.config["init"] == "observation" and net.data_solver == "cg"
    # fine-tune only needs the denoiser to start from
    assert main(_denoiser_args(tmp_path / "c", "--steps", "2", "--finetune-share", "1")) == 2
