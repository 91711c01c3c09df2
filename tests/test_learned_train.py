"""Training stack: data determinism, loss goes down, exact resume, gloo data-parallel step, configs."""

from __future__ import annotations

import os
import socket
from pathlib import Path

import numpy as np
import pytest

torch = pytest.importorskip("torch")

from hybrid_deblur.learned.config import load_config, merge_defaults  # noqa: E402
from hybrid_deblur.learned.data import KERNEL_TYPES, PairSampler, sample_kernel, synthetic_images  # noqa: E402
from hybrid_deblur.learned.train import Trainer, train  # noqa: E402

torch.set_num_threads(1)
ROOT = Path(__file__).resolve().parents[1]
DATA = ROOT / ".." / "shared" / "data"

TINY = {
    "model": {"name": "unrolled-hqs", "stages": 2, "widths": [8, 16, 32]},
    "train": {"steps": 6, "batch_size": 2, "lr": 2e-3, "warmup": 2, "val_every": 0,
              "ckpt_every": 3, "log_every": 2, "threads": 1},
}


def _sampler(seed=0, patch=24):
    return PairSampler(images=synthetic_images(6, 64, seed=seed), patch=patch, max_kernel=9,
                       common_kernel=7, p_rotate=0.5, seed=seed)


def test_sampler_is_deterministic_and_aligned():
    s = _sampler()
    a, b = s.batch(5, 3), s.batch(5, 3)
    for key in a:
        assert torch.equal(a[key], b[key])
    assert not torch.equal(s.batch(6, 3)["y"], a["y"])
    assert not torch.equal(s.batch(5, 3, rank=1)["y"], a["y"])
    assert a["y"].shape == a["x"].shape == (3, 1, 24, 24)
    np.testing.assert_allclose(a["psf"].sum(dim=(-2, -1)).numpy(), 1.0, atol=1e-5)
    assert float(a["sigma"].min()) >= 0 and float(a["sigma"].max()) <= 0.2
    # noiseless pair: y is exactly the valid blur of the sharp scene around x
    s0 = PairSampler(images=synthetic_images(2, 64), patch=20, max_kernel=7, sigma=(0, 0),
                     p_poisson=0, seed=1)
    v = s0.validation(4, sigmas=[0.0])[0]
    assert v["y"].shape == (4, 1, 20, 20) and float(v["sigma"].max()) == 0.0


@pytest.mark.parametrize("kind", KERNEL_TYPES)
def test_kernel_kinds(kind):
    rng = np.random.default_rng(3)
    for _ in range(3):
        k, got = sample_kernel(rng, kinds={kind: 1.0}, max_size=41, p_large=0.5)
        assert got == kind and k.shape[0] == k.shape[1] and k.shape[0] % 2 == 1
        assert 3 <= k.shape[0] <= 41 and k.min() >= 0 and abs(k.sum() - 1) < 1e-9
    with pytest.raises(ValueError, match="unknown"):
        sample_kernel(rng, kinds={"blob": 1.0})


def test_tiny_training_run_lowers_the_loss(tmp_path):
    cfg = merge_defaults(TINY)
    cfg["train"].update(steps=40, ckpt_every=0, val_every=20, val_samples=4, lr=3e-3, warmup=3)
    out = train(cfg, out_dir=tmp_path, sampler=_sampler(), progress=False)
    losses = out["losses"]
    assert len(losses) == 40
    assert np.mean(losses[-8:]) < 0.8 * np.mean(losses[:4])
    assert [v["step"] for v in out["val_history"]] == [20, 40]
    assert (tmp_path / "log.csv").read_text().count("\n") == 41
    assert (tmp_path / "summary.json").exists() and (tmp_path / "checkpoint.pt").exists()


def test_interrupted_run_resumes_exactly(tmp_path):
    cfg = merge_defaults(TINY)
    full = train(cfg, out_dir=tmp_path / "a", sampler=_sampler(), progress=False)
    part = train(cfg, out_dir=tmp_path / "b", sampler=_sampler(), progress=False, stop_after=3)
    assert len(part["losses"]) == 3
    res = train(cfg, out_dir=tmp_path / "b", sampler=_sampler(), progress=False, resume=True)
    assert res["losses"] == full["losses"]  # bit-exact on CPU
    from hybrid_deblur.learned.weights import CheckpointError, load_checkpoint

    a = load_checkpoint(tmp_path / "a" / "checkpoint.pt")
    b = load_checkpoint(tmp_path / "b" / "checkpoint.pt")
    for k in a["model"]:
        assert torch.equal(a["model"][k], b["model"][k]), k
        assert torch.equal(a["ema"][k], b["ema"][k]), k
    rows = (tmp_path / "b" / "log.csv").read_text().strip().splitlines()
    assert [int(r.split(",")[0]) for r in rows[1:]] == list(range(1, 7))
    with pytest.raises(CheckpointError, match="does not exist"):
        train(cfg, out_dir=tmp_path / "c", sampler=_sampler(), resume=True, progress=False)


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _ddp_worker(rank, world, port, out):
    import torch.distributed as dist

    torch.set_num_threads(1)
    dist.init_process_group("gloo", init_method=f"tcp://127.0.0.1:{port}", rank=rank,
                            world_size=world)
    try:
        cfg = merge_defaults(TINY)
        cfg["train"].update(steps=2, ckpt_every=0)
        tr = Trainer(cfg, out_dir=os.path.join(out, "run"), sampler=_sampler(), progress=False)
        tr.run()
        flat = torch.cat([p.detach().flatten() for p in tr.model.parameters()])
        torch.save(flat, os.path.join(out, f"rank{rank}.pt"))
    finally:
        dist.destroy_process_group()


def test_two_gloo_processes_run_a_data_parallel_step(tmp_path):
    import torch.multiprocessing as mp

    # single-process reference first (also warms up the imports that forked workers inherit)
    cfg = merge_defaults(TINY)
    cfg["train"].update(steps=2, ckpt_every=0)
    tr = Trainer(cfg, out_dir=tmp_path / "single", sampler=_sampler(), progress=False)
    tr.run()
    single = torch.cat([p.detach().flatten() for p in tr.model.parameters()])
    # fork: the workers inherit the imported modules (spawn would re-import torch: slow)
    method = "fork" if "fork" in mp.get_all_start_methods() else "spawn"
    mp.start_processes(_ddp_worker, args=(2, _free_port(), str(tmp_path)), nprocs=2, join=True,
                       start_method=method)
    a = torch.load(tmp_path / "rank0.pt", weights_only=True)
    b = torch.load(tmp_path / "rank1.pt", weights_only=True)
    assert torch.equal(a, b)  # gradients were all-reduced: replicas stayed identical
    assert not torch.equal(a, single)  # ... and differ from one process (ranks saw other data)


def test_configs_parse_and_unknown_keys_are_errors(tmp_path):
    for p in sorted((ROOT / "configs").glob("*.toml")):
        if p.name.startswith(("e2e_", "kernel_net")):  # other trainers' configs
            continue
        cfg = load_config(p)
        assert cfg["model"]["name"] in ("unrolled-hqs", "deep-wiener", "unrolled-rl")
        # input paths resolve against the config file, not the working directory
        for f in cfg["data"]["folders"]:
            assert Path(f).is_absolute() and (Path(f).is_dir() or not DATA.exists()), f
        assert Path(cfg["export"]["path"]).parent == ROOT / "hybrid_deblur" / "learned" / "weights"
    bad = tmp_path / "bad.toml"
    bad.write_text("[train]\nstep = 3\n")
    with pytest.raises(ValueError, match=r"unknown keys \['step'\]"):
        load_config(bad)
    with pytest.raises(ValueError, match="section"):
        merge_defaults({"optim": {}})
    with pytest.raises(OSError, match="does not exist"):
        PairSampler(["/nonexistent/folder"])


@pytest.mark.skipif(not (DATA / "train400").exists(), reason="needs ../shared/data")
def test_sampler_reads_the_shared_training_folder():
    s = PairSampler([DATA / "train400"], patch=32, max_kernel=15, seed=0)
    b = s.batch(0, 2)
    assert b["y"].shape == (2, 1, 32, 32) and len(s.val_ids) > 0
    assert not set(s.val_ids) & set(s.train_ids)
