"""``hybrid-deblur demo``: the main job — blur a bundled image and restore it with every method."""

from __future__ import annotations

import json


def add_parser(sub):
    p = sub.add_parser(
        "demo",
        help="mixed motion + defocus + noise on a bundled image, restored by every method",
        description="Writes OUT/demo.png (before/after figure) and OUT/metrics.json.",
    )
    p.add_argument("--out", default="demo_out", help="output folder (default ./demo_out)")
    p.add_argument("--image", default="camera",
                   help="scikit-image sample name (camera, astronaut, ...) or an image path")
    p.add_argument("--methods", default=None, help="comma-separated methods (default: all available but deep-wiener, unrolled-rl)")
    p.add_argument("--no-blind", dest="blind", action="store_false", help="skip the blind path")
    p.add_argument("--size", type=int, default=384, help="central crop size (default 384)")
    p.add_argument("--seed", type=int, default=0)
    return p


def run(args) -> int:
    from ..pipeline.demo import run_demo

    # None: run_demo's default set (available methods but registry.NOT_DEFAULT and those
    # that ship no weights)
    methods = (None if args.methods is None
               else [m.strip() for m in args.methods.split(",") if m.strip()])
    summary = run_demo(args.out, image=args.image, methods=methods, blind=args.blind, size=args.size,
                       seed=args.seed)
    if summary.get("note"):  # issue 14: colour turned to grey is said
        print(f"note: {summary['note']}")
    b = summary["blurred"]
    print(f"{'method':<24} {'PSNR dB':>8} {'SSIM':>7} {'time s':>7}")
    print(f"{'blurred input':<24} {b['psnr']:>8.2f} {b['ssim']:>7.4f} {'':>7}")
    for name, r in summary["results"].items():
        if "error" in r:
            print(f"{name:<24} failed: {r['error']}")
        else:
            print(f"{name:<24} {r['psnr']:>8.2f} {r['ssim']:>7.4f} {r['seconds']:>7.2f}")
    if summary.get("skipped_no_weights"):
        print(f"(not shown, no shipped weights: {', '.join(summary['skipped_no_weights'])})")
    print(f"wrote {args.out}/demo.png and {args.out}/metrics.json")
    ok = [r for r in summary["results"].values() if "error" not in r]
    if not ok:
        print(json.dumps(summary["results"], indent=1))
        return 1
    return 0
