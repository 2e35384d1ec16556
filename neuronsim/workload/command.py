"""``neuronsim run WORKLOAD``: load, simulate, print the summary, write the trace and the metrics."""

from __future__ import annotations

import argparse
import os
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from neuronsim.errors import ConfigError
from neuronsim.units import UnitError, format_ns, parse_duration

__all__ = ["run_command", "Progress", "check_output"]


def check_output(path: str | Path, source: str, field: str, *, directory: bool = False) -> Path:
    """``path``, checked before anything runs to be a file (or, with ``directory``, a folder) that can
    be written: not a folder (a file), not a file (a folder), in a folder that exists or can be made.

    Raises:
        ConfigError: naming ``source`` and ``field`` (``neuronsim run``, ``--trace``) and the reason.
    """
    target = Path(path)
    if directory and target.exists() and not target.is_dir():
        raise ConfigError(source, f"{str(target)!r} is a file, not a folder", field=field)
    if not directory and target.is_dir():
        raise ConfigError(source, f"{str(target)!r} is a folder, not a file", field=field)
    if target.exists():
        if not os.access(target, os.W_OK):
            raise ConfigError(source, f"cannot write {str(target)!r}: permission denied", field=field)
        return target
    folder = target.parent
    while not folder.exists() and folder != folder.parent:
        folder = folder.parent
    if not folder.is_dir():
        raise ConfigError(source, f"cannot write {str(target)!r}: {str(folder)!r} is a file, not a folder",
                          field=field)
    if not os.access(folder, os.W_OK | os.X_OK):
        raise ConfigError(source, f"cannot write {str(target)!r}: permission denied in {str(folder)!r}", field=field)
    return target


def _written(what: Callable[[], Any], source: str, field: str) -> Any:
    """``what()``, an ``OSError`` (a full disk, a folder removed meanwhile) becoming a ``ConfigError``."""
    try:
        return what()
    except OSError as exc:
        where = f" {str(exc.filename)!r}" if exc.filename else ""
        raise ConfigError(source, f"cannot write{where}: {exc.strerror or exc}", field=field) from None


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


def _plots(out: str | None) -> bool:
    """Whether ``--out`` will write plots (matplotlib installed): they are timelines, built from every record."""
    if not out:
        return False
    import importlib.util

    return importlib.util.find_spec("matplotlib") is not None


def run_command(args: argparse.Namespace) -> int:
    from neuronsim.gctune import long_run_gc
    from neuronsim.trace.timeline import write_timeline
    from neuronsim.workload.metrics import NO_PLOTS, plots_available, render, summary, write_outputs
    from neuronsim.workload.runner import load_python_workload, run_workload
    from neuronsim.workload.spec import load_workload

    until = None
    if args.until is not None:
        try:
            until = parse_duration(args.until)
        except UnitError as exc:
            raise ConfigError("neuronsim run", str(exc), field="--until") from None
        if until <= 0:
            raise ConfigError("neuronsim run", "must be > 0", field="--until")
    if args.seed is not None and args.seed < 0:
        raise ConfigError("neuronsim run", f"must be >= 0, not {args.seed}", field="--seed")
    if args.trace:
        check_output(args.trace, "neuronsim run", "--trace")
    if args.out:
        check_output(args.out, "neuronsim run", "--out", directory=True)
    source = args.workload
    if ":" in source and source.rpartition(":")[0].endswith(".py"):
        path = source.rpartition(":")[0]
        if args.overrides:
            raise ConfigError(path, "--set applies to workload files, not Python workloads", field="--set")
        if args.instance is None:
            raise ConfigError(path, "a Python workload needs --instance", field="--instance")
        # the file runs (its top-level code) when it is imported; nothing else runs unless FUNCTION is there
        workload: Any = load_python_workload(source)
    else:
        workload = load_workload(source, args.overrides)
    show = None if args.no_progress or not sys.stderr.isatty() else Progress()
    # a workload file's trace is written as the run goes (A118); a Python workload's after it, from its records
    stream = args.trace if args.trace and not callable(workload) else None
    records = bool(args.trace and stream is None) or _plots(args.out)

    def simulate() -> Any:
        return run_workload(workload, instance=args.instance, lnc=args.lnc, seed=args.seed, until_ns=until,
                            source=source, progress=show, records=records, trace=stream)

    try:
        with long_run_gc():  # fewer collector passes over the long-lived graph (A121), restored after
            run = _written(simulate, "neuronsim run", "--trace") if stream else simulate()
    finally:
        if show is not None:
            show.close()
    figures = summary(run)
    sys.stdout.write(render(figures))
    if args.trace:
        if stream is None:
            _written(lambda: write_timeline(run, args.trace), "neuronsim run", "--trace")
        sys.stdout.write(f"trace:           {args.trace}\n")
    if args.out:
        for path in _written(lambda: write_outputs(run, figures, args.out), "neuronsim run", "--out"):
            sys.stdout.write(f"wrote:           {path}\n")
        if not plots_available():
            sys.stdout.write(NO_PLOTS + "\n")
    failed = sum(t["iterations_failed"] for t in figures["threads"])
    return 1 if failed or figures["errors"] else 0
