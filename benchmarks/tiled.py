"""Tiled vs whole-image deconvolution: equality, seams, throughput, memory, 3-D (issue 15).

Parts (``--parts``, comma-separated):

* ``equality`` — an ``--size``² (default 4096²) float32 synthetic scene, blurred (motion 15 px at
  30° ⊛ Gaussian σ 1, ``reflect``) + noise 0.01. Per method, the whole-image solve and the tiled
  solve (``--chunks``, automatic halo) with the *same* frozen parameters, both on one core
  (``HYBRID_DEBLUR_FFT_WORKERS=1``, one dask worker): max relative difference in the interior
  (one halo away from the true image border), PSNR of both against the scene and their
  difference, a seam ratio (mean |step| across tile seams / mean |step| elsewhere, 1 = no
  seam), ``tracemalloc`` peaks, and the throughput ratio t_whole / t_tiled (per core).
* ``stack`` — a 3-D stack (``--stack``, default 64x384x384) through 3-D tiles vs whole.
* ``rl3d`` — 3-D Richardson–Lucy per iteration, ``boundary="auto"`` vs ``"circular"``, and
  whether the automatic stop fires (issue 15 item 4; the solver is the engine's).
* ``big`` — a ``--big``² float32 image (default 20000² = 400 MP) written to disk tile by tile,
  restored from ``.npy`` to ``.npy`` by ``deconvolve_tiled`` in a child process (2 workers):
  wall time, peak RSS of the child (``wait4``), and a check of the output's centre against the
  whole-image solve of a 4096² crop around it. ``--big-budget`` seconds per method; a run cut
  by the budget reports the share of tiles done and the extrapolated time.

Usage (prints markdown tables, writes ``bench_out/tiled/tiled.json``)::

    OMP_NUM_THREADS=1 nice .venv/bin/python benchmarks/tiled.py --parts equality,stack,rl3d
    OMP_NUM_THREADS=1 nice .venv/bin/python benchmarks/tiled.py --parts big --big 20000
    .venv/bin/python benchmarks/tiled.py --quick        # 1024², small stack: a smoke run
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import time
import tracemalloc
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
os.environ.setdefault("HYBRID_DEBLUR_FFT_WORKERS", "1")

from hybrid_deblur.analysis.registry import get_method
from hybrid_deblur.physics import Blur
from hybrid_deblur.psf import combine, gaussian, linear_motion
from hybrid_deblur.scale import deconvolve_tiled, freeze_options
from hybrid_deblur.scale.arrays import NpyRegionWriter, open_input

SIGMA = 0.01


def kernel2d() -> np.ndarray:
    return combine(linear_motion(15, 30), gaussian(1.0)).astype(np.float64)


def kernel3d() -> np.ndarray:
    g = [np.exp(-0.5 * (np.arange(n) - n // 2) ** 2 / s ** 2) for s, n in ((1.5, 7), (1.2, 9), (1.2, 9))]
    k = g[0][:, None, None] * g[1][None, :, None] * g[2][None, None, :]
    return k / k.sum()


def scene(rows: np.ndarray, cols: np.ndarray, seed: int = 0) -> np.ndarray:
    """A deterministic piecewise-smooth scene at global pixel coordinates (tile-able)."""
    r, c = np.meshgrid(rows.astype(np.float64), cols.astype(np.float64), indexing="ij")
    x = 0.5 + 0.18 * np.sin(r / 37.0 + 0.3 * np.sin(c / 91.0)) * np.cos(c / 53.0)
    x += 0.12 * (np.sin(r / 5.3) * np.sin(c / 7.1) > 0.6)               # fine texture
    rng = np.random.default_rng(seed)
    cx, cy, rad = rng.uniform(0, 3e4, 4000), rng.uniform(0, 3e4, 4000), rng.uniform(20, 300, 4000)
    for i in np.nonzero((cx + rad > r.min()) & (cx - rad < r.max()) & (cy + rad > c.min())
                        & (cy - rad < c.max()))[0]:
        x += 0.2 * (((r - cx[i]) ** 2 + (c - cy[i]) ** 2) < rad[i] ** 2) * (1 if i % 2 else -1)
    return 0.1 + 0.8 * np.clip(x, 0, 1)   # in [0.1, 0.9]: with noise 0.01 the data stay > 0 (RL)


def observation(n0: int, n1: int, k: np.ndarray, off=(0, 0), seed: int = 1):
    """Sharp scene and blurred, noisy observation of the window at ``off`` (float32)."""
    m = k.shape[0]
    rows = np.arange(off[0] - m, off[0] + n0 + m)
    cols = np.arange(off[1] - m, off[1] + n1 + m)
    x = scene(rows, cols)
    y = Blur(k, "reflect")(x)[m:-m, m:-m]
    y = y + SIGMA * np.random.default_rng(seed + off[0] * 7 + off[1]).standard_normal(y.shape)
    return x[m:-m, m:-m].astype(np.float32), y.astype(np.float32)


def psnr(a, b) -> float:
    return float(10 * np.log10(1.0 / np.mean((a.astype(np.float64) - b) ** 2)))


def seam_ratio(x: np.ndarray, chunks: int, h: int) -> float:
    """Mean |step| across tile seams over mean |step| across other rows/columns (interior)."""
    x = x.astype(np.float64)
    out = []
    for ax in (0, 1):
        d = np.abs(np.diff(x, axis=ax))
        d = d[h:-h, h:-h]
        idx = np.arange(h, x.shape[ax] - 1 - h)
        seam = (idx + 1) % chunks == 0
        prof = d.mean(axis=1 - ax)
        out.append(float(prof[seam].mean() / prof[~seam].mean()) if seam.any() else float("nan"))
    return float(np.nanmax(out))


def timed(fn, *args, **kw):
    tracemalloc.start()
    t = time.perf_counter()
    out = fn(*args, **kw)
    dt = time.perf_counter() - t
    peak = tracemalloc.get_traced_memory()[1]
    tracemalloc.stop()
    return out, dt, peak


def part_equality(a, rep):
    k = kernel2d()
    x0, y = observation(a.size, a.size, k)
    deconvolve_tiled(y[:256, :256], k, "wiener", chunks=128, nsr=0.1)   # warm-up: dask imports
    rows = []
    for m in a.methods:
        user = {"num_iter": a.iters} if m in ("rl", "rl-tv") else {}
        opts = freeze_options(y, k, m, **user)
        mono, t_m, p_m = timed(get_method(m), y, k, **opts)
        (xt, info), t_t, p_t = timed(deconvolve_tiled, y, k, m, chunks=a.chunks, workers=1,
                                     freeze=False, return_info=True, **opts)
        h = info["halo"][0]
        s = (slice(h, -h), slice(h, -h))
        rel = float(np.abs(xt[s].astype(np.float64) - mono[s]).max() / np.abs(mono[s]).max())
        p1, p2 = psnr(mono[s], x0[s]), psnr(xt[s], x0[s])
        t_2 = timed(deconvolve_tiled, y, k, m, chunks=a.chunks, workers=2, freeze=False,
                    **opts)[1] if a.two_workers else None
        row = {"method": m, "size": a.size, "chunks": a.chunks, "halo": h, "tiles": info["tiles"],
               "options": info["options"], "max_rel_diff": rel, "psnr_whole": p1, "psnr_tiled": p2,
               "dpsnr": p2 - p1, "seam_ratio_tiled": seam_ratio(xt, a.chunks, h),
               "seam_ratio_whole": seam_ratio(mono, a.chunks, h), "t_whole_s": t_m,
               "t_tiled_s": t_t, "throughput_per_core": t_m / t_t, "t_tiled_2workers_s": t_2,
               "tracemalloc_whole_mib": p_m / 2**20, "tracemalloc_tiled_mib": p_t / 2**20,
               "load_avg": os.getloadavg()[0]}
        rows.append(row)
        print(f"  {m}: rel {rel:.2e}, dPSNR {p2 - p1:+.4f}, seams {row['seam_ratio_tiled']:.3f}, "
              f"whole {t_m:.1f} s, tiled {t_t:.1f} s (x{t_m / t_t:.2f}), load {row['load_avg']:.1f}",
              flush=True)
    rep["equality"] = rows


def part_stack(a, rep):
    k = kernel3d()
    z, n0, n1 = a.stack
    rng = np.random.default_rng(3)
    x0 = np.stack([scene(np.arange(n0), np.arange(n1) + 50 * i) for i in range(z)])
    x0 = x0 * (0.6 + 0.4 * np.sin(np.arange(z) / 5.0))[:, None, None]
    y = (Blur(k, "reflect", ndim=3)(x0) + SIGMA * rng.standard_normal(x0.shape)).astype(np.float32)
    rows = []
    for m, user in (("wiener", {}), ("rl", {"num_iter": 20})):
        opts = freeze_options(y, k, m, ndim=3, **user)
        mono, t_m, _ = timed(get_method(m), y, k, ndim=3, **opts)
        (xt, info), t_t, _ = timed(deconvolve_tiled, y, k, m,
                                   chunks=(z, a.stack_chunks, a.stack_chunks), workers=1,
                                   freeze=False, return_info=True, **opts)
        h = info["halo"]
        s = tuple(slice(hh, -hh) if c < n else slice(None) for hh, c, n in
                  zip(h, info["chunks"], y.shape))
        rel = float(np.abs(xt[s].astype(np.float64) - mono[s]).max() / np.abs(mono[s]).max())
        row = {"method": m, "shape": list(y.shape), "chunks": info["chunks"], "halo": h,
               "tiles": info["tiles"], "max_rel_diff": rel,
               "dpsnr": psnr(xt[s], x0[s]) - psnr(mono[s], x0[s]), "t_whole_s": t_m, "t_tiled_s": t_t}
        rows.append(row)
        print(f"  3-D {m}: rel {rel:.2e}, dPSNR {row['dpsnr']:+.4f}, whole {t_m:.1f} s, tiled {t_t:.1f} s",
              flush=True)
    rep["stack"] = rows


def part_rl3d(a, rep):
    k = kernel3d()
    rl = get_method("rl")
    rows = []
    for shape in ((32, 64, 64), (64, 128, 128)):
        rng = np.random.default_rng(5)
        x0 = np.stack([scene(np.arange(shape[1]), np.arange(shape[2]) + 9 * i) for i in range(shape[0])])
        y = Blur(k, "reflect", ndim=3)(x0) + SIGMA * rng.standard_normal(shape)
        row = {"shape": list(shape)}
        for b in ("circular", "auto"):
            ts = {}
            for n in (5, 25):
                best = np.inf
                for _ in range(2):
                    t = time.perf_counter()
                    rl(y, k, num_iter=n, boundary=b, ndim=3)
                    best = min(best, time.perf_counter() - t)
                ts[n] = best
            row[f"{b}_ms_per_iter"] = 1e3 * (ts[25] - ts[5]) / 20
            t = time.perf_counter()
            xa, info = rl(y, k, boundary=b, ndim=3, return_info=True)
            row[f"{b}_auto_stop"] = {"iterations": info.get("iterations"),
                                     "stop_reason": info.get("stop_reason"),
                                     "seconds": time.perf_counter() - t,
                                     "psnr": psnr(xa, x0)}
        row["auto_over_circular"] = row["auto_ms_per_iter"] / row["circular_ms_per_iter"]
        rows.append(row)
        print(f"  RL 3-D {shape}: auto {row['auto_ms_per_iter']:.1f} ms/it, circular "
              f"{row['circular_ms_per_iter']:.1f} ms/it (x{row['auto_over_circular']:.2f}); auto stop "
              f"{row['auto_auto_stop']}", flush=True)
    rep["rl3d"] = rows


def make_big(path: Path, n: int, k: np.ndarray, block: int = 2048) -> float:
    """The big input, written block by block: one blurred block of the scene, rolled by a
    different offset per block, each with its own noise (generating 400 MP of scene directly
    takes ~25 min on the shared machine; the content does not matter for time and memory)."""
    t = time.perf_counter()
    _, base = observation(block, block, k)
    rng = np.random.default_rng(11)
    w = NpyRegionWriter.create(path, (n, n), np.float32)
    for r in range(0, n, block):
        for c in range(0, n, block):
            y = np.roll(base, (7 * r // block * 97, 13 * c // block * 89), axis=(0, 1))
            y = y[:min(block, n - r), :min(block, n - c)]
            w[r:r + y.shape[0], c:c + y.shape[1]] = y + np.float32(SIGMA) * rng.standard_normal(
                y.shape, dtype=np.float32)
    return time.perf_counter() - t


CHILD = r"""
import json, sys, time
import numpy as np
from dask.diagnostics import ProgressBar
from hybrid_deblur.scale import deconvolve_tiled
a = json.loads(sys.argv[1])
k = np.load(a["psf"])
t = time.perf_counter()
with open(a["progress"], "w") as f, ProgressBar(dt=5, out=f):
    deconvolve_tiled(a["input"], k, a["method"], chunks=a["chunks"], workers=a["workers"],
                     output=a["output"], freeze=False, **a["options"])
print(json.dumps({"seconds": time.perf_counter() - t}))
"""


def part_big(a, rep):
    import psutil

    k = kernel2d()
    d = Path(a.out)
    src, dst, kp = d / "big_in.npy", d / "big_out.npy", d / "big_k.npy"
    np.save(kp, k)
    if not (src.exists() and open_input(str(src)).shape == (a.big, a.big)):
        print(f"  writing the {a.big}² input ...", flush=True)
        rep.setdefault("big_input_seconds", make_big(src, a.big, k))
    cs = min(4096, a.big)
    lo = (a.big - cs) // 2
    y_c = open_input(str(src))[lo:lo + cs, lo:lo + cs]
    rows = []
    for m in a.big_methods:
        user = {"num_iter": a.big_iters} if m in ("rl", "rl-tv") else {}
        opts = freeze_options(y_c, k, m, **user)
        opts = {kk: (float(v) if isinstance(v, np.floating) else v) for kk, v in opts.items()}
        prog = d / f"big_{m}_progress.txt"
        args = {"input": str(src), "output": str(dst), "psf": str(kp), "method": m,
                "chunks": a.big_chunks, "workers": 2, "options": opts, "progress": str(prog)}
        env = {**os.environ, "OMP_NUM_THREADS": "1", "HYBRID_DEBLUR_FFT_WORKERS": "1",
               "PYTHONPATH": str(ROOT)}
        t0 = time.time()
        p = subprocess.Popen([sys.executable, "-c", CHILD, json.dumps(args)], env=env,
                             stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        peak_poll, cut = 0, False
        ps = psutil.Process(p.pid)
        while True:   # wait4 (not Popen.poll) so that the child's own rusage comes back
            pid, status, ru = os.wait4(p.pid, os.WNOHANG)
            if pid:
                break
            try:
                peak_poll = max(peak_poll, ps.memory_info().rss)
            except psutil.Error:
                pass
            if time.time() - t0 > a.big_budget:
                p.kill()
                cut = True
                _, status, ru = os.wait4(p.pid, 0)
                break
            time.sleep(0.5)
        p.returncode = os.waitstatus_to_exitcode(status)
        wall = time.time() - t0
        txt = prog.read_text() if prog.exists() else ""
        pct = [float(v) for v in __import__("re").findall(r"(\d+)% Completed", txt)]
        done = (pct[-1] / 100) if pct else float("nan")
        row = {"method": m, "size": a.big, "chunks": a.big_chunks, "workers": 2, "options": opts,
               "wall_s": wall, "completed": not cut and os.waitstatus_to_exitcode(status) == 0,
               "share_done": 1.0 if not cut else done,
               "extrapolated_s": wall / done if cut and np.isfinite(done) and done > 0 else wall,
               "peak_rss_gib": ru.ru_maxrss * 1024 / 2**30, "peak_rss_polled_gib": peak_poll / 2**30,
               "load_avg": os.getloadavg()[0]}
        if not cut and row["completed"]:
            mono = get_method(m)(y_c, k, **opts)               # whole-image solve of the crop
            q = cs // 4
            out = open_input(str(dst))[lo + q:lo + cs - q, lo + q:lo + cs - q]
            ref = mono[q:cs - q, q:cs - q]
            row["centre_vs_whole_crop_max_rel"] = float(np.abs(out.astype(np.float64) - ref).max()
                                                        / np.abs(ref).max())
        else:
            row["stderr"] = p.stderr.read()[-500:] if p.stderr else ""
        rows.append(row)
        print(f"  {a.big}² {m}: {'done' if row['completed'] else 'CUT'} in {wall:.0f} s "
              f"(share {row['share_done']:.2f}, extrapolated {row['extrapolated_s']:.0f} s), peak RSS "
              f"{row['peak_rss_gib']:.2f} GiB, centre check {row.get('centre_vs_whole_crop_max_rel')}",
              flush=True)
        if dst.exists():
            dst.unlink()
    if not a.keep_big:
        src.unlink()
    rep["big"] = rows


def table(rep) -> str:
    out = []
    if rep.get("equality"):
        out += [("| method | size | tiles (chunk+halo) | max rel diff (interior) | ΔPSNR dB | seam ratio "
                 "| whole s | tiled s (1 core) | throughput/core | tracemalloc whole/tiled MiB |"),
                "|---|---|---|---|---|---|---|---|---|---|"]
        for r in rep["equality"]:
            out.append(f"| {r['method']} | {r['size']}² | {r['tiles']} ({r['chunks']}+{r['halo']}) | "
                       f"{r['max_rel_diff']:.1e} | {r['dpsnr']:+.4f} | {r['seam_ratio_tiled']:.3f} | "
                       f"{r['t_whole_s']:.1f} | {r['t_tiled_s']:.1f} | {r['throughput_per_core']:.2f} | "
                       f"{r['tracemalloc_whole_mib']:.0f} / {r['tracemalloc_tiled_mib']:.0f} |")
    if rep.get("stack"):
        out += ["", "| 3-D method | shape | chunks | halo | max rel diff | ΔPSNR dB | whole s | tiled s |",
                "|---|---|---|---|---|---|---|---|"]
        for r in rep["stack"]:
            out.append(f"| {r['method']} | {r['shape']} | {r['chunks']} | {r['halo']} | "
                       f"{r['max_rel_diff']:.1e} | {r['dpsnr']:+.4f} | {r['t_whole_s']:.1f} | "
                       f"{r['t_tiled_s']:.1f} |")
    if rep.get("rl3d"):
        out += ["", "| RL 3-D shape | circular ms/it | auto ms/it | auto/circular | auto stop (auto) |",
                "|---|---|---|---|---|"]
        for r in rep["rl3d"]:
            s = r["auto_auto_stop"]
            out.append(f"| {r['shape']} | {r['circular_ms_per_iter']:.1f} | {r['auto_ms_per_iter']:.1f} | "
                       f"{r['auto_over_circular']:.2f} | {s['iterations']} ({s['stop_reason']}) |")
    if rep.get("big"):
        out += ["", "| big | method | done | wall s | extrapolated s | peak RSS GiB | centre vs whole crop |",
                "|---|---|---|---|---|---|---|"]
        for r in rep["big"]:
            out.append(f"| {r['size']}² | {r['method']} | {r['share_done']:.2f} | {r['wall_s']:.0f} | "
                       f"{r['extrapolated_s']:.0f} | {r['peak_rss_gib']:.2f} | "
                       f"{r.get('centre_vs_whole_crop_max_rel', float('nan')):.1e} |")
    return "\n".join(out)


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--parts", default="equality,stack,rl3d")
    p.add_argument("--size", type=int, default=4096)
    p.add_argument("--chunks", type=int, default=1024)
    p.add_argument("--methods", default="wiener,tikhonov,rl,hqs-tv")
    p.add_argument("--iters", type=int, default=30, help="RL iterations (equality)")
    p.add_argument("--two-workers", action="store_true", help="also time tiles with 2 workers")
    p.add_argument("--stack", default="64,384,384")
    p.add_argument("--stack-chunks", type=int, default=192)
    p.add_argument("--big", type=int, default=20000)
    p.add_argument("--big-chunks", type=int, default=2048)
    p.add_argument("--big-methods", default="wiener,rl")
    p.add_argument("--big-iters", type=int, default=10)
    p.add_argument("--big-budget", type=float, default=1500)
    p.add_argument("--keep-big", action="store_true")
    p.add_argument("--quick", action="store_true")
    p.add_argument("--out", default=str(ROOT / "bench_out" / "tiled"))
    a = p.parse_args(argv)
    if a.quick:
        a.size, a.chunks, a.stack, a.stack_chunks = 1024, 384, "32,160,160", 80
    a.methods = [m for m in a.methods.split(",") if m]
    a.big_methods = [m for m in a.big_methods.split(",") if m]
    a.stack = tuple(int(v) for v in a.stack.split(","))
    Path(a.out).mkdir(parents=True, exist_ok=True)
    jp = Path(a.out) / "tiled.json"
    rep = json.loads(jp.read_text()) if jp.exists() else {}
    rep["cores"] = os.cpu_count()
    for part in a.parts.split(","):
        print(f"== {part}", flush=True)
        {"equality": part_equality, "stack": part_stack, "rl3d": part_rl3d, "big": part_big}[part](a, rep)
        tmp = jp.with_suffix(".json.tmp")
        tmp.write_text(json.dumps(rep, indent=1, default=str))
        os.replace(tmp, jp)
    t = table(rep)
    print(t)
    (Path(a.out) / "tiled.md").write_text(t + "\n")


if __name__ == "__main__":
    main()
