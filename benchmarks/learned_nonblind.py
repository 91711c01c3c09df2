"""Learned non-blind models vs our best classical methods (BSD68 + unseen kernels, Levin 2009).

Protocol
--------
1. **BSD68, unseen kernels**: every BSD68 image (linear light) is blurred in ``valid`` mode by
   a kernel of the project's banks (``camera_shake``, ``mixed``; these kernels are *not* used
   in training: training draws fresh kernels from the generators with other seeds), image
   ``i`` with kernel ``i mod n`` (``pairing="cycle"``), Gaussian noise σ ∈ {0.01, 0.03};
   PSNR/SSIM on the valid region (DESIGN §7). Every method runs with its automatic
   parameters (σ estimated from ``y``; nothing is tuned on the test set).
2. **Levin 2009**: the 32 real captures with the true kernels, aligned PSNR/SSIM (±5 px,
   15 px border; cases from ``benchmarks/levin_nonblind.py``).
3. **Speed**: CPU inference time of a 512 x 512 image with a 25 x 25 kernel (1 thread and
   the default thread count), and seconds per megapixel.
4. **Training curves**: loss and validation PSNR of the runs in ``runs/`` → a PNG figure.

Targets: UnrolledHQS ≥ best classical + 1.5 dB at σ = 0.01 on BSD68 with unseen kernels;
Levin true kernels ≥ 34.5 dB aligned PSNR; 512² CPU inference < 1 s.

Run::

    python benchmarks/learned_nonblind.py [--data ../shared/data] [--out bench_out/learned_nonblind.json]
        [--limit 68] [--methods hqs-hl,wiener,unrolled-hqs,...] [--skip-levin]
"""

from __future__ import annotations

import argparse
import csv
import json
import os
import sys
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "benchmarks"))

from hybrid_deblur.analysis.nonblind import evaluate_cases, run_nonblind, to_jsonable, write_text_atomic  # noqa: E402

CLASSICAL = ("hqs-hl", "wiener")
LEARNED = ("unrolled-hqs", "deep-wiener", "unrolled-rl")
TARGET_GAIN, TARGET_LEVIN, TARGET_TIME = 1.5, 34.5, 1.0


def default_methods() -> list[str]:
    from hybrid_deblur.learned.weights import shipped_weights

    have = shipped_weights()
    stems = {"unrolled-hqs": "unrolled_hqs_gray", "deep-wiener": "deep_wiener_gray",
             "unrolled-rl": "unrolled_rl_gray"}
    return list(CLASSICAL) + [m for m in LEARNED if stems[m] in have]


def time_inference(size: int = 512, ksize: int = 25, repeats: int = 3) -> dict:
    """Seconds for one ``size``² gray image on the CPU, side by side in this run.

    UnrolledHQS (shipped weights, 1 thread and all cores) and, for scale, the classical
    ``hqs_hl`` it starts from and ``wiener`` (scipy.fft with ``HYBRID_DEBLUR_FFT_WORKERS``).
    """
    import torch

    from hybrid_deblur.learned.inference import get_model, restore_with
    from hybrid_deblur.psf import trajectory_motion
    from hybrid_deblur.solvers import hqs_hl, wiener

    model = get_model("unrolled-hqs")
    y = np.random.default_rng(0).random((size, size)).astype(np.float32)
    k = trajectory_motion(size=ksize, seed=3)

    def clock(fn):
        fn()  # warm-up (allocations, OTF cache)
        ts = []
        for _ in range(repeats):
            t0 = time.perf_counter()
            fn()
            ts.append(time.perf_counter() - t0)
        return {"median_s": float(np.median(ts)), "min_s": float(min(ts)),
                "s_per_megapixel": float(np.median(ts)) / (size * size / 1e6)}

    out = {}
    default = torch.get_num_threads()
    for threads in sorted({1, os.cpu_count() or 1}):
        torch.set_num_threads(threads)
        out[f"threads_{threads}"] = clock(lambda: restore_with(model, y, k, sigma=0.01))
    torch.set_num_threads(default)
    out["classical_hqs_hl"] = clock(lambda: hqs_hl(y, k, sigma=0.01))
    out["classical_wiener"] = clock(lambda: wiener(y, k, sigma=0.01))
    out["cpu_count"] = os.cpu_count()
    out["fft_workers"] = os.environ.get("HYBRID_DEBLUR_FFT_WORKERS", "all cores")
    out["load_average"] = list(os.getloadavg())
    return out


def training_curves(runs: list[Path], png: Path) -> dict:
    """Plot loss (moving average) and validation PSNR of each run folder; return the data."""
    data = {}
    for r in runs:
        log, summ = r / "log.csv", r / "summary.json"
        if not log.exists():
            continue
        rows = list(csv.DictReader(log.read_text().splitlines()))
        if len(rows) < 2:
            continue
        steps = np.array([int(x["step"]) for x in rows])
        loss = np.array([float(x["loss"]) for x in rows])
        val = json.loads(summ.read_text())["val_history"] if summ.exists() else []
        data[r.name] = {"steps": steps.tolist(), "loss": loss.tolist(), "val": val}
    if not data:
        return {}
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(1, 2, figsize=(10, 3.6))
    for name, d in data.items():
        loss = np.asarray(d["loss"])
        w = max(1, min(100, len(loss) // 8))
        sm = np.convolve(loss, np.ones(w) / w, mode="valid")
        ax[0].plot(d["steps"][w - 1:], sm, label=name)
        if d["val"]:
            ax[1].plot([v["step"] for v in d["val"]], [v["psnr"] for v in d["val"]], "o-", label=name)
    ax[0].set(xlabel="step", ylabel="L1 loss (moving avg)", yscale="log", title="training loss")
    ax[1].set(xlabel="step", ylabel="PSNR [dB]", title="validation PSNR (EMA; each run its own held-out set)")
    for a in ax:
        a.legend(fontsize=8)
        a.grid(alpha=0.3)
    fig.tight_layout()
    png.parent.mkdir(parents=True, exist_ok=True)
    tmp = png.with_name(f".{png.name}.tmp.png")
    fig.savefig(tmp, dpi=110)
    os.replace(tmp, png)
    plt.close(fig)
    return {k: {"final_loss_avg": float(np.mean(v["loss"][-25:])), "val": v["val"]} for k, v in data.items()}


def merge_reports(report: dict, files: list[Path]) -> None:
    """Add the methods of earlier runs (same protocol) that this run did not compute."""
    for f in files:
        if not f.exists():
            print(f"--merge: {f} does not exist; skipped", file=sys.stderr)
            continue
        prev = json.loads(f.read_text())
        for s, old in prev.get("bsd68", {}).items():
            cur = report.setdefault("bsd68", {}).setdefault(s, {"summary": {}, "rows": []})
            new = [m for m in old["summary"] if m not in cur["summary"]]
            cur["summary"] = {**{m: old["summary"][m] for m in new}, **cur["summary"]}
            cur["rows"] = [r for r in old["rows"] if r["method"] in new] + cur["rows"]
        if "levin" in prev:
            cur = report.setdefault("levin", {"summary": {}, "rows": []})
            new = [m for m in prev["levin"]["summary"] if m not in cur["summary"]]
            cur["summary"] = {**{m: prev["levin"]["summary"][m] for m in new}, **cur["summary"]}
            cur["rows"] = [r for r in prev["levin"]["rows"] if r["method"] in new] + cur["rows"]
        if "speed_512" in prev and "speed_512" not in report:
            report["speed_512"] = prev["speed_512"]


def _table(summary: dict, title: str) -> str:
    lines = [f"### {title}", "", "| method | mean PSNR | mean SSIM | time/img [s] | n |", "|---|---|---|---|---|"]
    for m, d in summary.items():
        lines.append(f"| {m} | {d['mean_psnr']:.2f} | {d['mean_ssim']:.4f} | "
                     f"{d.get('mean_time_s', float('nan')):.2f} | {d.get('n', '')} |")
    return "\n".join(lines)


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--data", default=str(ROOT / ".." / "shared" / "data"))
    ap.add_argument("--out", default="bench_out/learned_nonblind.json")
    ap.add_argument("--methods", default=None, help="comma-separated (default: classical + shipped learned)")
    ap.add_argument("--banks", default="camera_shake,mixed", help="kernel banks (unseen in training)")
    ap.add_argument("--sigmas", default="0.01,0.03")
    ap.add_argument("--limit", type=int, default=None, help="first N BSD68 images (default all 68)")
    ap.add_argument("--skip-levin", action="store_true")
    ap.add_argument("--skip-bsd", action="store_true")
    ap.add_argument("--skip-speed", action="store_true")
    ap.add_argument("--runs", default="runs/unrolled_hqs_gray,runs/deep_wiener_gray,runs/unrolled_rl_gray")
    ap.add_argument("--threads", type=int, default=1, help="torch threads for the quality runs")
    ap.add_argument("--merge", default=None,
                    help="comma-separated JSONs of earlier runs of this script (same protocol) whose "
                         "methods are added to the tables (read at the end of this run)")
    ap.add_argument("--no-progress", dest="progress", action="store_false")
    args = ap.parse_args(argv)

    import torch

    torch.set_num_threads(args.threads)
    data = Path(args.data)
    out = Path(args.out)
    methods = [m.strip() for m in (args.methods or ",".join(default_methods())).split(",") if m.strip()]
    report: dict = {"methods": methods, "data": str(data), "protocol": __doc__.split("Run::")[0].strip()}
    md = ["## Learned non-blind benchmark", ""]
    targets: dict = {}
    if not args.skip_bsd:
        if not (data / "bsd68").exists():
            print(f"bsd68 not found under {data}; pass --data", file=sys.stderr)
            return 2
        from hybrid_deblur.analysis.nonblind import load_kernels

        kernels = []
        for b in args.banks.split(","):
            kernels += load_kernels(b.strip())
        # interleave banks so that "cycle" pairing spreads every bank over the images
        order = sorted(range(len(kernels)), key=lambda i: (i % 7, i))
        kernels = [kernels[i] for i in order]
        report["bsd68"] = {}
        for s in [float(v) for v in args.sigmas.split(",")]:
            res = run_nonblind(data / "bsd68", kernels, methods=methods, noise=s, boundary="valid",
                               seed=1, pairing="cycle", gray=True, limit=args.limit, tuning="none",
                               progress=args.progress)
            report["bsd68"][str(s)] = {"summary": res.summary(), "rows": res.rows}
            print(_table(res.summary(), f"BSD68 sigma={s}"), flush=True)
    if not args.skip_levin and (data / "levin2009" / "manifest.json").exists():
        from levin_nonblind import load_cases

        cases = load_cases(data)
        res = evaluate_cases(cases, methods, boundary=None, aligned=True, border=15, tuning="none",
                             progress=args.progress, config={"benchmark": "levin2009 true kernels"})
        report["levin"] = {"summary": res.summary(), "rows": res.rows}
        print(_table(res.summary(), "Levin"), flush=True)
    merge_reports(report, [Path(p) for p in (args.merge or "").split(",") if p])
    for s, sec in report.get("bsd68", {}).items():
        summ = sec["summary"]
        md += [_table(summ, f"BSD68 gray, unseen bank kernels ({args.banks}), valid blur, sigma={s}"), ""]
        if float(s) == 0.01 and "unrolled-hqs" in summ:
            cl = {m: d for m, d in summ.items() if m in CLASSICAL}
            if cl:
                best = max(cl, key=lambda m: cl[m]["mean_psnr"])
                gain = summ["unrolled-hqs"]["mean_psnr"] - cl[best]["mean_psnr"]
                targets["bsd68_gain_over_best_classical_sigma_0.01"] = {
                    "best_classical": best, "gain_db": gain, "target_db": TARGET_GAIN,
                    "met": gain >= TARGET_GAIN}
    if "levin" in report:
        summ = report["levin"]["summary"]
        md += [_table(summ, "Levin 2009, 32 real captures, true kernels, aligned ±5 px, 15 px border"), ""]
        if "unrolled-hqs" in summ:
            v = summ["unrolled-hqs"]["mean_psnr"]
            targets["levin_unrolled_hqs_aligned_psnr"] = {"psnr": v, "target": TARGET_LEVIN,
                                                          "met": v >= TARGET_LEVIN}
    if not args.skip_speed:
        sp = time_inference()
        report["speed_512"] = sp
        best = min(v["median_s"] for k, v in sp.items() if k.startswith("threads_"))
        targets["cpu_inference_512"] = {"seconds": best, "target": TARGET_TIME, "met": best < TARGET_TIME,
                                        "detail": {k: v for k, v in sp.items()}}
        md += ["### CPU inference, UnrolledHQS, 512 x 512, 25 x 25 kernel", "",
               "| method | median [s] | s / megapixel |", "|---|---|---|"]
        md += [f"| UnrolledHQS, {k.split('_')[1]} thread(s) | {v['median_s']:.3f} | {v['s_per_megapixel']:.3f} |"
               for k, v in sp.items() if k.startswith("threads_")]
        md += [f"| {k.replace('classical_', '')} (classical, same run) | {v['median_s']:.3f} | "
               f"{v['s_per_megapixel']:.3f} |" for k, v in sp.items() if k.startswith("classical_")]
        md += [f"(load average during the run: {', '.join(f'{v:.1f}' for v in sp['load_average'])} "
               f"on {sp['cpu_count']} cores)"]
        md.append("")
    try:
        curves = training_curves([Path(r) for r in args.runs.split(",") if r],
                                 out.with_name("learned_train_curves.png"))
    except Exception as exc:  # a figure must never cost the measured numbers
        curves = {"error": f"{type(exc).__name__}: {exc}"}
    report["training"] = curves
    report["targets"] = targets
    md += ["### Targets", ""] + [f"- {k}: {json.dumps(to_jsonable(v))}" for k, v in targets.items()]
    out.parent.mkdir(parents=True, exist_ok=True)
    write_text_atomic(out, json.dumps(to_jsonable(report), indent=2))
    write_text_atomic(out.with_suffix(".md"), "\n".join(md) + "\n")
    print("\n".join(md[-len(targets) - 2:]))
    return 0


if __name__ == "__main__":
    sys.exit(main())
