"""``hybrid-deblur atlas``: the failure atlas — sweep degradations, map where each method fails."""

from __future__ import annotations


def add_parser(sub):
    p = sub.add_parser(
        "atlas",
        help="failure atlas: sweep blur x noise x light x ..., heatmaps and failure boundaries",
        description="Runs a sweep spec (TOML; default: motion x defocus x noise, 240 cells) on Dask "
                    "and writes OUT/results.csv, results.json, figures/ and index.html. A killed "
                    "run resumes where it stopped when started again with the same --out.",
    )
    p.add_argument("--spec", default=None, help="sweep spec (TOML); default: the shipped default spec")
    p.add_argument("--out", default="atlas_out", help="output folder (default ./atlas_out)")
    p.add_argument("--scheduler", default=None, metavar="ADDRESS",
                   help="use a running Dask scheduler (tcp://host:port) instead of a LocalCluster")
    p.add_argument("--workers", type=int, default=None,
                   help="LocalCluster worker processes (default: one per core)")
    p.add_argument("--serial", action="store_true", help="run in this process, without Dask")
    p.add_argument("--report-only", action="store_true",
                   help="redraw the tables, figures and index.html from the finished cells in OUT "
                        "(a partial or running sweep too); run nothing")
    p.add_argument("--no-progress", dest="progress", action="store_false", help="no progress bar")
    return p


def run(args) -> int:
    from ..analysis.atlas_report import make_report

    if args.report_only:
        from ..analysis.atlas_run import refresh_tables

        rows = refresh_tables(args.out)
        page = make_report(args.out)
        print(f"{len({r['cell'] for r in rows})} finished cells")
        print(f"wrote {page}")
        return 0
    if args.workers is not None and args.workers < 1:
        raise ValueError(f"--workers={args.workers} must be >= 1")
    from ..analysis.atlas_run import run_atlas
    from ..analysis.atlas_spec import load_spec

    spec = load_spec(args.spec)
    res = run_atlas(spec, args.out, scheduler=args.scheduler, workers=args.workers,
                    serial=args.serial, progress=args.progress)
    from ..analysis.atlas_report import method_summary, summary_markdown

    print(summary_markdown(method_summary(res.rows, spec.methods(), spec.fail_gap_db)), end="")
    m = res.meta
    print(f"{m['cells']} cells ({m['computed']} computed now, {m['mode']}) in {m['wall_s']:.1f} s; "
          f"wrote {res.out}/results.csv and {res.out}/index.html")
    if m.get("cells_timed"):
        import os

        n = os.cpu_count() or 1
        print(f"CPU time in the {m['cells_timed']} timed cells: {m['cell_cpu_s']:.0f} s, i.e. about "
              f"{m['cell_cpu_s'] / n / 60:.1f} min on {n} idle cores (load average now "
              f"{m['loadavg'][0] if m.get('loadavg') else float('nan'):.1f})")
    return 0
