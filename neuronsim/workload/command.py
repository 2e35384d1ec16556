"""``neuronsim run WORKLOAD``: load, simulate, print the summary, write the trace and the metrics."""

from __future__ import annotations

import argparse
import sys
import time
from typing import Any

from neuronsim.errors import ConfigError
from neuronsim.units import UnitError, format_ns, parse_time_ns

__all__ = ["run_command", "Progress"]


class Progress:
    """A progress bar on stderr (over simulated time, or iterations), shown once a run has taken a second
    of wall time."""

    WIDTH = 30

    def __init__(self, stream: Any = None, after_s: float = 1.0) -> None:
        self.stream = stream if stream is not None else sys.stderr
        self.started = time.monotonic()
        self.after_s = after_s
        self.shown = False

    def __call__(self, done: int, total: int, unit: str = "ns") -> None:
        if not self.shown and time.monotonic() - self.started < self.after_s:
            return
        self.shown = True
        fraction = min(1.0, done / total) if total else 1.0
        bar = "#" * int(fraction * self.WIDTH)
        what = f"{format_ns(done)} of {format_ns(total)}" if unit == "ns" else f"{done} of {total} {unit}"
        self.stream.write(f"\r[{bar:<{self.WIDTH}}] {fraction * 100:5.1f} %  {what}")
        self.stream.flush()

    def close(self) -> None:
        if self.shown:
            self.stream.write("\n")
            self.stream.flush()


def run_command(args: argparse.Namespace) -> int:
    from neuronsim.trace.timeline import write_timeline
    from neuronsim.workload.metrics import render, summary, write_outputs
    from neuronsim.workload.runner import load_python_workload, run_workload
    from neuronsim.workload.spec import load_workload

    until = None
    if args.until is not None:
        try:
            until = parse_time_ns(args.until)
        except UnitError as exc:
            raise ConfigError("neuronsim run", str(exc), field="--until") from None
        if until <= 0:
            raise ConfigError("neuronsim run", "must be > 0", field="--until")
    if args.seed is not None and args.seed < 0:
        raise ConfigError("neuronsim run", f"must be >= 0, not {args.seed}", field="--seed")
    source = args.workload
    if ":" in source and source.rpartition(":")[0].endswith(".py"):
        if args.overrides:
            raise ConfigError(source, "--set applies to workload files, not Python workloads")
        workload: Any = load_python_workload(source)
        if args.instance is None:
            raise ConfigError(source, "a Python workload needs --instance", field="--instance")
    else:
        workload = load_workload(source, args.overrides)
    show = None if args.no_progress or not sys.stderr.isatty() else Progress()
    try:
        run = run_workload(workload, instance=args.instance, lnc=args.lnc, seed=args.seed, until_ns=until,
                           source=source, progress=show)
    finally:
        if show is not None:
            show.close()
    figures = summary(run)
    sys.stdout.write(render(figures))
    if args.trace:
        write_timeline(run, args.trace)
        sys.stdout.write(f"trace:           {args.trace}\n")
    if args.out:
        for path in write_outputs(run, figures, args.out):
            sys.stdout.write(f"wrote:           {path}\n")
    failed = sum(t["iterations_failed"] for t in figures["threads"])
    return 1 if failed or figures["errors"] else 0
