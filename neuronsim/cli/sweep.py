"""``neuronsim sweep SWEEP.yaml --out results.parquet``: run a parameter sweep and write its rows."""

from __future__ import annotations

import argparse
import sys
from typing import Any

from neuronsim.text import plural

__all__ = ["add_sweep_parser"]


def add_sweep_parser(sub: Any) -> None:
    sweep = sub.add_parser("sweep", help="run a parameter sweep of a workload (process pool or Dask)")
    sweep.add_argument("file", metavar="SWEEP.yaml")
    sweep.add_argument("--out", required=True, metavar="FILE",
                       help="results: .parquet (CSV beside it when pyarrow is missing) or .csv; resumed if it exists")
    sweep.add_argument("--workers", type=int, default=1, help="local processes, or Dask workers with --dask local")
    sweep.add_argument("--dask", metavar="tcp://HOST:PORT|local", help="run on a Dask cluster (the sweep extra)")
    sweep.add_argument("--plot", metavar="FILE.png", help="plot a metric against a parameter (the plots extra)")
    sweep.add_argument("--x", help="the plot's parameter (default the first)")
    sweep.add_argument("--y", help="the plot's metric (default the first)")
    sweep.add_argument("--series", help="a line per value of this parameter (default the second)")
    sweep.add_argument("--no-progress", action="store_true")
    sweep.set_defaults(handler=_cmd_sweep)


def _cmd_sweep(args: argparse.Namespace) -> int:
    from neuronsim.sweep.plot import plot_sweep
    from neuronsim.sweep.runner import points, run_sweep
    from neuronsim.sweep.spec import load_sweep
    from neuronsim.workload.command import Progress

    spec, base, source = load_sweep(args.file)
    bar = None if args.no_progress or not sys.stderr.isatty() else Progress()
    try:
        result = run_sweep(spec, base, source, args.out, workers=args.workers, dask=args.dask, progress=bar)
    except KeyboardInterrupt:  # Ctrl-C: the points done are in the results; the same command resumes
        sys.stderr.write(f"neuronsim sweep: interrupted; the points that finished are in {args.out}: run the same "
                         "command to run the rest\n")
        return 130
    finally:
        if bar is not None:
            bar.close()
    total = len(points(spec))
    counts = f"{plural(len(spec.parameters), 'parameter')} x {plural(spec.repetitions, 'repetition')}"
    sys.stdout.write(f"neuronsim sweep: {spec.name}: {plural(total, 'point')} ({counts}): {result.ran} run, "
                     f"{result.skipped} already in the results, {result.failed} failed"
                     + (f"; {plural(result.dropped, 'row')} of the results no longer match a point (changed or "
                        "removed) and were dropped" if result.dropped else "") + "\n")
    for row in result.rows:
        if row.get("error"):
            values = ", ".join(f"{p}={row[p]}" for p in spec.parameters)
            sys.stdout.write(f"  point {row['point']} ({values}, seed {row['seed']}): {row['error']}\n")
    sys.stdout.write(f"wrote: {result.path}\n")
    if args.plot:
        plot = plot_sweep(result.rows, list(spec.parameters), list(spec.metrics), args.plot, x=args.x, y=args.y,
                          series=args.series, title=spec.name)
        sys.stdout.write(f"wrote: {plot}\n")
    return 1 if result.failed else 0
