"""Speed of the classical solvers vs scikit-image and vs the FFT floor (issue 3).

Side by side in one run, for every size x (gray, RGB) x (float32, float64):

* Wiener: ours (``boundary="auto"``: reflect + taper padding, and ``"circular"``) vs
  ``skimage.restoration.wiener(..., clip=False)`` (per channel), same balance.
* Richardson–Lucy time per iteration: ours (``auto`` = masked valid model on the grid
  ``>= n + k - 1``, and ``circular``; accelerated) vs ``skimage.restoration.richardson_lucy``.
* The FFT-pair floor: the fastest of ``scipy.fft`` (with workers) and ``torch.fft`` for one
  ``rfft2`` -> multiply -> ``irfft2`` pair, times two, plus the element-wise traffic of RL
  (one divide and one multiply over the image). Reported on the image grid and on the
  grid our ``auto`` mode uses.
* Time-to-quality: the time our accelerated RL (defaults) needs to reach the PSNR of
  scikit-image's 30 iterations on the same observation, vs the time of those 30 iterations.
* Peak memory (``tracemalloc``) of 5 RL iterations, in units of the image's bytes.

The observation is a Kodak image (or scikit-image's astronaut without ``--data``) resized to
``n x n``, blurred with a 19-px camera-shake-like kernel (``reflect`` boundary, so it has the
input's size and both libraries see the same array) plus Gaussian noise 0.01.

Usage (prints a markdown table, writes ``bench_out/classical_speed.json``)::

    .venv/bin/python benchmarks/classical_speed.py                 # 256..2048, all cores
    .venv/bin/python benchmarks/classical_speed.py --quick         # 256, 512 only
    .venv/bin/python benchmarks/classical_speed.py --sizes 1024,2048 --dtypes float32 --colors gray
"""

from __future__ import annotations

import argparse
import gc
import os
import sys
import time
import tracemalloc
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from hybrid_deblur import backend as B
from hybrid_deblur.io import atomic_save_json, imread, sample_image
from hybrid_deblur.physics import degrade
from hybrid_deblur.solvers import RichardsonLucy, richardson_lucy, wiener
from hybrid_deblur.physics.blur import clear_operator_cache as clear_otf_cache


def _median_time(fn, repeat: int, warmup: int = 1, setup=None) -> float:
    for _ in range(warmup):
        fn()
    ts = []
    for _ in range(repeat):
        if setup is not None:
            setup()
        t = time.perf_counter()
        fn()
        ts.append(time.perf_counter() - t)
    return float(np.median(ts))


def _kernel(size: int = 19) -> np.ndarray:
    """A smooth, curved motion kernel (deterministic)."""
    k = np.zeros((size, size))
    t = np.linspace(0, 1, 400)
    ys = (size // 2) + 0.35 * size * np.sin(2.2 * t) - 0.15 * size
    xs = 2 + (size - 5) * t
    for yv, xv in zip(ys, xs):
        iy, ix = round(yv), round(xv)
        k[min(max(iy, 0), size - 1), min(max(ix, 0), size - 1)] += 1.0
    from scipy.ndimage import gaussian_filter

    k = gaussian_filter(k, 0.6)
    return k / k.sum()


def _image(n: int, rgb: bool, data: Path) -> np.ndarray:
    from scipy.ndimage import zoom

    src = data / "kodak24" / "kodim05.png"
    if src.exists():
        img = imread(src, linear=False)
    else:
        img = sample_image("astronaut", linear=False)
    if img.ndim == 2:
        img = np.stack([img] * 3)
    f = n / min(img.shape[-2:])
    if abs(f - 1) > 1e-9:
        img = np.stack([zoom(c, f, order=1) for c in img])
    h, w = img.shape[-2:]
    img = img[:, (h - n) // 2:(h - n) // 2 + n, (w - n) // 2:(w - n) // 2 + n]
    if not rgb:
        img = img.mean(axis=0)
    return np.clip(img, 0, 1)


def _psnr(a, ref) -> float:
    return float(10 * np.log10(1.0 / np.mean((np.asarray(a, np.float64) - ref) ** 2)))


def _floor_functions(shape, dtype) -> dict:
    """Callables for one FFT pair per backend (rfft2 * H -> irfft2) and RL's element-wise work."""
    rng = np.random.default_rng(0)
    x = rng.random(shape).astype(dtype)
    H = B.rfftn(x, axes=(-2, -1))

    def pair_scipy():
        X = B.rfftn(x, axes=(-2, -1))
        X *= H
        return B.irfftn(X, s=shape[-2:], axes=(-2, -1))

    fns = {"scipy": pair_scipy}
    try:
        import torch

        torch.set_num_threads(B.fft_workers())
        xt = torch.from_numpy(x)
        Ht = torch.fft.rfft2(xt)

        def pair_torch():
            X = torch.fft.rfft2(xt)
            X.mul_(Ht)
            return torch.fft.irfft2(X, s=shape[-2:])

        fns["torch"] = pair_torch
    except ImportError:  # pragma: no cover - torch missing
        pass
    a = rng.random(shape).astype(dtype) + 0.5
    yy = rng.random(shape).astype(dtype)
    xx = rng.random(shape).astype(dtype)
    tmp = np.empty_like(a)

    def elementwise():  # ratio = y / (A x); x *= A^T(ratio): one divide, one multiply
        np.divide(yy, a, out=tmp)
        np.multiply(xx, tmp, out=tmp)

    return {"pairs": fns, "elementwise": elementwise}


def _timed(fn) -> float:
    t = time.perf_counter()
    fn()
    return time.perf_counter() - t


def _interleaved(fns: dict, rounds: int) -> dict:
    """Time every callable once per round, round-robin, so that machine load hits all alike.

    Returns the per-name list of times (seconds)."""
    for f in fns.values():  # warm-up
        f()
    out = {name: [] for name in fns}
    for _ in range(rounds):
        for name, f in fns.items():
            out[name].append(_timed(f))
    return out


def _peak_memory(fn) -> int:
    gc.collect()
    tracemalloc.start()
    tracemalloc.reset_peak()
    base = tracemalloc.get_traced_memory()[0]
    fn()
    peak = tracemalloc.get_traced_memory()[1]
    tracemalloc.stop()
    return int(peak - base)


def _per_channel(fn, y, *a, **kw):
    if y.ndim == 2:
        return fn(y, *a, **kw)
    return np.stack([fn(c, *a, **kw) for c in y])


def run_case(n: int, rgb: bool, dtype, data: Path, repeat: int, rl_steps: int,
             ttq: bool, sk_iters: int = 30) -> dict:
    from skimage.restoration import richardson_lucy as sk_rl
    from skimage.restoration import wiener as sk_wiener

    x = _image(n, rgb, data).astype(dtype)
    k = _kernel().astype(dtype)
    y, _ = degrade(x, k, boundary="reflect", noise=0.01, seed=0)
    y = y.astype(dtype)
    res: dict = {"size": n, "color": "rgb" if rgb else "gray", "dtype": np.dtype(dtype).name,
                 "psf": list(k.shape), "image_bytes": int(y.nbytes)}
    nsr = 1e-2
    # ---------------------------------------------------------------- Wiener
    # warm: the PSF's operator, OTF and filter are cached (repeated solves with one PSF)
    wt = _interleaved({
        "skimage": lambda: _per_channel(sk_wiener, y, k, nsr, clip=False),
        "ours_auto": lambda: wiener(y, k, nsr=nsr, reg="laplacian"),
        "ours_circular": lambda: wiener(y, k, nsr=nsr, reg="laplacian", boundary="circular"),
    }, repeat)
    # cold: every call starts from an empty cache (first solve with a new PSF)
    cold = _interleaved({
        "skimage": lambda: _per_channel(sk_wiener, y, k, nsr, clip=False),
        "ours_auto_cold": lambda: (clear_otf_cache(), wiener(y, k, nsr=nsr, reg="laplacian")),
    }, repeat)
    wt["ours_auto_cold"] = cold["ours_auto_cold"]
    wt["skimage_cold_round"] = cold["skimage"]
    med = {kk: float(np.median(v)) for kk, v in wt.items()}

    def ratio_med(num, den, times):
        return float(np.median(np.asarray(times[num]) / np.asarray(times[den])))

    res["wiener"] = {"skimage_s": med["skimage"], "ours_auto_s": med["ours_auto"],
                     "ours_circular_s": med["ours_circular"],
                     "ours_auto_cold_s": med["ours_auto_cold"],
                     "speedup_auto": ratio_med("skimage", "ours_auto", wt),
                     "speedup_auto_cold": ratio_med("skimage_cold_round", "ours_auto_cold", wt),
                     "speedup_circular": ratio_med("skimage", "ours_circular", wt),
                     "psnr_skimage": _psnr(_per_channel(sk_wiener, y, k, nsr, clip=False), x),
                     "psnr_ours_auto": _psnr(wiener(y, k, nsr=nsr, reg="laplacian"), x),
                     "psnr_ours_auto_nsr": _psnr(wiener(y, k), x)}
    # ---------------------------------------------------------------- RL per iteration
    solvers = {bnd: RichardsonLucy(y, k, boundary=bnd).init() for bnd in ("auto", "circular")}
    for sv in solvers.values():
        for _ in range(3):
            sv.step()
    res["grids"] = {bnd: list(sv.geom.grid) for bnd, sv in solvers.items()}
    lead = (3,) if rgb else ()
    fl_img = _floor_functions(lead + (n, n), dtype)
    fl_auto = _floor_functions(lead + tuple(res["grids"]["auto"]), dtype)
    pre = _interleaved(fl_img["pairs"], 3)
    fastest = min(pre, key=lambda b: np.median(pre[b]))
    pair_img, pair_auto = fl_img["pairs"][fastest], fl_auto["pairs"][fastest]

    def floor(pair, ew):
        def f():
            pair()
            pair()
            ew()
        return f

    rt = _interleaved({
        "floor_img": floor(pair_img, fl_img["elementwise"]),
        "floor_auto": floor(pair_auto, fl_auto["elementwise"]),
        "ours_auto": lambda: solvers["auto"].step(),
        "ours_circular": lambda: solvers["circular"].step(),
        "skimage": lambda: _per_channel(sk_rl, y, k, 1, clip=False),
    }, max(rl_steps, repeat))
    med = {kk: float(np.median(v)) for kk, v in rt.items()}
    res["rl_iteration"] = {
        "skimage_s": med["skimage"], "ours_auto_s": med["ours_auto"],
        "ours_circular_s": med["ours_circular"],
        "speedup_auto": ratio_med("skimage", "ours_auto", rt),
        "speedup_circular": ratio_med("skimage", "ours_circular", rt),
        "floor_image_grid_s": med["floor_img"], "floor_auto_grid_s": med["floor_auto"],
        "fft_backend": fastest,
        "fft_pair_by_backend": {b: float(np.median(v)) for b, v in pre.items()},
        "ratio_circular_to_floor": ratio_med("ours_circular", "floor_img", rt),
        "ratio_auto_to_its_floor": ratio_med("ours_auto", "floor_auto", rt),
        "ratio_auto_to_image_floor": ratio_med("ours_auto", "floor_img", rt),
        "skimage_ratio_to_floor": ratio_med("skimage", "floor_img", rt),
    }
    # ---------------------------------------------------------------- memory
    y_c = np.ascontiguousarray(y)
    clear_otf_cache()
    mem_ours = _peak_memory(lambda: richardson_lucy(y_c, k, 5))
    clear_otf_cache()
    mem_circ = _peak_memory(lambda: richardson_lucy(y_c, k, 5, boundary="circular"))
    mem_sk = _peak_memory(lambda: _per_channel(sk_rl, y_c, k, 5, clip=False))
    res["memory"] = {"ours_auto_x": mem_ours / y.nbytes, "ours_circular_x": mem_circ / y.nbytes,
                     "skimage_x": mem_sk / y.nbytes}
    # ---------------------------------------------------------------- time to quality
    if ttq:
        t0 = time.perf_counter()
        sk_out = _per_channel(sk_rl, y, k, sk_iters, clip=False)
        t_sk30 = time.perf_counter() - t0
        p_sk = _psnr(sk_out, x)
        b = 2 * k.shape[-1]  # interior: away from scikit-image's border ringing
        inner = (Ellipsis, slice(b, -b), slice(b, -b))
        p_sk_in = _psnr(sk_out[inner], x[inner])
        ps, ps_in = [], []

        def rec(i, xi, r, p):
            ps.append(p)
            ps_in.append(_psnr(xi[inner], x[inner]))

        richardson_lucy(y, k, 60, callback=rec, reference=x)
        hit = next((i + 1 for i, p in enumerate(ps) if p >= p_sk), None)
        hit_in = next((i + 1 for i, p in enumerate(ps_in) if p >= p_sk_in), None)
        entry = {"skimage_iters": sk_iters, "skimage_psnr": p_sk, "skimage_s": t_sk30,
                 "ours_iters": hit, "ours_best_psnr": float(max(ps)),
                 "skimage_psnr_interior": p_sk_in, "ours_iters_interior": hit_in}
        if hit_in is not None:
            t_in = _median_time(lambda: richardson_lucy(y, k, hit_in), max(1, repeat // 2))
            entry.update(ours_interior_s=t_in, speedup_interior=t_sk30 / t_in)
        if hit is not None:
            t_ours = _median_time(lambda: richardson_lucy(y, k, hit), max(1, repeat // 2))
            entry.update(ours_s=t_ours, speedup=t_sk30 / t_ours,
                         ours_psnr=_psnr(richardson_lucy(y, k, hit), x))
        t_auto = _median_time(lambda: richardson_lucy(y, k), max(1, repeat // 2))
        xa, info = richardson_lucy(y, k, return_info=True)
        entry.update(ours_default_s=t_auto, ours_default_iters=info["iterations"],
                     ours_default_psnr=_psnr(xa, x))
        res["time_to_quality"] = entry
    return res


def _table(results) -> str:
    head = ("| size | color | dtype | Wiener speed-up auto (cold), circ | RL it. ms sk / ours auto / "
            "ours circ | floor ms (img, auto grid) | RL/floor circ, auto(own), auto(img) | "
            "sk RL/floor | time-to-quality sk30 -> ours (it, x) | peak mem ours auto/circ/sk |")
    lines = [head, "|" + "---|" * 10]
    for r in results:
        w, it, m = r["wiener"], r["rl_iteration"], r["memory"]
        tq = r.get("time_to_quality")
        tqs = "—"
        if tq:
            tqs = (f"{tq['skimage_psnr']:.2f} dB in {tq['skimage_s']:.2f}s -> "
                   + (f"{tq['ours_iters']} it, {tq['ours_s']:.3f}s, **{tq['speedup']:.1f}x**"
                      if tq.get("ours_iters") else "not reached")
                   + f"; interior {tq['skimage_psnr_interior']:.2f} dB -> "
                   + (f"{tq['ours_iters_interior']} it, **{tq['speedup_interior']:.1f}x**"
                      if tq.get("ours_iters_interior") else "not reached"))
        lines.append(
            f"| {r['size']} | {r['color']} | {r['dtype']} | {w['speedup_auto']:.1f}x "
            f"({w['speedup_auto_cold']:.1f}x), {w['speedup_circular']:.1f}x | {1e3 * it['skimage_s']:.1f} / {1e3 * it['ours_auto_s']:.1f}"
            f" / {1e3 * it['ours_circular_s']:.1f} | {1e3 * it['floor_image_grid_s']:.1f}, "
            f"{1e3 * it['floor_auto_grid_s']:.1f} | {it['ratio_circular_to_floor']:.2f}, "
            f"{it['ratio_auto_to_its_floor']:.2f}, {it['ratio_auto_to_image_floor']:.2f} | "
            f"{it['skimage_ratio_to_floor']:.2f} | {tqs} | {m['ours_auto_x']:.1f} / "
            f"{m['ours_circular_x']:.1f} / {m['skimage_x']:.1f} |")
    return "\n".join(lines)


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--data", default=str(ROOT / ".." / "shared" / "data"))
    ap.add_argument("--out", default=str(ROOT / "bench_out" / "classical_speed.json"))
    ap.add_argument("--sizes", default="256,512,1024,2048")
    ap.add_argument("--colors", default="gray,rgb")
    ap.add_argument("--dtypes", default="float32,float64")
    ap.add_argument("--quick", action="store_true", help="sizes 256,512 and fewer repeats")
    ap.add_argument("--repeat", type=int, default=5)
    ap.add_argument("--rl-steps", type=int, default=6)
    ap.add_argument("--no-ttq", action="store_true", help="skip the time-to-quality runs")
    ap.add_argument("--ttq-max-size", type=int, default=2048,
                    help="largest size for the time-to-quality runs (30 scikit-image iterations)")
    args = ap.parse_args(argv)
    sizes = [256, 512] if args.quick else [int(s) for s in args.sizes.split(",") if s]
    repeat = 3 if args.quick else args.repeat
    data = Path(args.data)
    results = []
    t0 = time.perf_counter()
    try:
        from tqdm import tqdm
    except ImportError:  # pragma: no cover
        def tqdm(it, **kw):
            return it
    combos = [(n, c, d) for n in sizes for c in args.colors.split(",")
              for d in args.dtypes.split(",")]
    for n, c, d in tqdm(combos, desc="classical_speed", disable=not sys.stderr.isatty()):
        r = run_case(n, c == "rgb", np.dtype(d), data, repeat, args.rl_steps,
                     ttq=not args.no_ttq and n <= args.ttq_max_size)
        results.append(r)
        print(f"[{time.perf_counter() - t0:7.1f}s] done {n} {c} {d}", file=sys.stderr, flush=True)
    meta = {"fft_workers": B.fft_workers(), "cpu_count": os.cpu_count(),
            "omp_num_threads": os.environ.get("OMP_NUM_THREADS"), "repeat": repeat,
            "rl_steps": args.rl_steps, "total_s": time.perf_counter() - t0,
            "data": str(data), "numpy": np.__version__}
    table = _table(results)
    print(table)
    out = Path(args.out)
    out.parent.mkdir(parents=True, exist_ok=True)
    atomic_save_json(out, {"meta": meta, "results": results, "table": table})
    print(f"\nwrote {out}", file=sys.stderr)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
