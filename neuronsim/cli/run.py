"""``neuronsim run``: a workload (a YAML file, or ``FILE.py:FUNCTION``) loaded, simulated and summarised, its
trace and metrics written; without a workload, the built-in pipeline
(:mod:`neuronsim.workload.builtin_pipeline`)."""

from __future__ import annotations

import argparse
import sys
from collections.abc import Callable
from typing import Any

from neuronsim.errors import ConfigError
from neuronsim.units import UnitError, parse_bytes, parse_duration
from neuronsim.workload.builtin_pipeline import DEMO_DEFAULTS, run_demo, summarise
from neuronsim.workload.command import Progress, check_output

__all__ = ["add_run_parser", "run_command"]


def add_run_parser(sub: Any) -> None:
    run = sub.add_parser("run", help="simulate a workload (or the built-in pipeline) and summarise it")
    run.add_argument("workload", nargs="?", metavar="WORKLOAD",
                     help="a workload YAML file, or FILE.py:FUNCTION (default: the built-in pipeline); a Python "
                     "workload is imported, so the file's top-level code runs: run only files you trust; if "
                     "FUNCTION is not in it, nothing else runs and the exit status is 2")
    run.add_argument("--instance", metavar="NAME", help="a preset or topology file (default: the workload's, "
                     "else trn1.32xlarge)")
    run.add_argument("--lnc", type=int, help="logical NeuronCore config (trn2: 1 or 2)")
    run.add_argument("--until", metavar="TIME", help="stop after this much simulated time, e.g. 10ms")
    run.add_argument("--trace", metavar="FILE", help="write a Perfetto / Chrome trace (JSON)")
    run.add_argument("--out", metavar="DIR", help="write summary.json, summary.csv (and plots) into DIR")
    run.add_argument("--set", dest="overrides", action="append", default=[], metavar="KEY=VALUE",
                     help="override a workload field, e.g. threads.0.in_flight=4 (repeatable)")
    run.add_argument("--no-progress", action="store_true", help="no progress bar on long runs")
    # the built-in pipeline's own options: refused with a WORKLOAD (defaults in DEMO_DEFAULTS)
    run.add_argument("--cores", type=int, help="built-in pipeline: logical cores to drive (default 2)")
    run.add_argument("--iterations", type=int, help="built-in pipeline: requests per core (default 50)")
    run.add_argument("--depth", type=int, help="built-in pipeline: input/output buffers per core (default 2)")
    run.add_argument("--size", help="built-in pipeline: input and output size (default 1 MiB)")
    run.add_argument("--duration", help="built-in pipeline: execution time of the model (default 200 us)")
    run.add_argument("--seed", type=int, help="seed of every random stream (default: the workload's, else 0)")
    run.set_defaults(handler=_cmd_run)


def _cmd_run(args: argparse.Namespace) -> int:
    given = [name for name in DEMO_DEFAULTS if getattr(args, name) is not None]
    if args.workload is not None:
        if given:  # a typo'd workload run must not silently ignore them
            raise ConfigError("neuronsim run", f"{', '.join('--' + n for n in given)}: option(s) of the built-in "
                              "pipeline, not of a workload; with a WORKLOAD use --instance, --lnc, --until, --trace, "
                              "--out, --set KEY=VALUE, --seed, --no-progress (or change the workload file)")
        return run_command(args)
    for name, default in DEMO_DEFAULTS.items():
        if getattr(args, name) is None:
            setattr(args, name, default)
    for name in ("until", "trace", "out"):
        if getattr(args, name) is not None:
            raise ConfigError("neuronsim run", "needs a WORKLOAD (the built-in pipeline has no options of a workload)",
                              field=f"--{name}")
    if args.overrides:
        raise ConfigError("neuronsim run", "needs a WORKLOAD", field="--set")
    try:
        size = parse_bytes(args.size)
        duration = parse_duration(args.duration)
    except UnitError as exc:
        raise ConfigError("neuronsim run", str(exc)) from None
    for name in ("cores", "iterations", "depth"):
        if getattr(args, name) < 1:
            raise ConfigError("neuronsim run", f"must be >= 1, not {getattr(args, name)}", field=f"--{name}")
    result = run_demo(args.instance or "trn1.32xlarge", lnc=args.lnc, cores=args.cores, iterations=args.iterations, depth=args.depth,
                      size_bytes=size, duration_ns=duration, seed=args.seed or 0)
    sys.stdout.write(summarise(result))
    return 0 if result["failed"] == 0 else 1


def _written(what: Callable[[], Any], source: str, field: str) -> Any:
    """``what()``, an ``OSError`` (a full disk, a folder removed meanwhile) becoming a ``ConfigError``."""
    try:
        return what()
    except OSError as exc:
        where = f" {str(exc.filename)!r}" if exc.filename else ""
        raise ConfigError(source, f"cannot write{where}: {exc.strerror or exc}", field=field) from None


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
    if args.trace is not None:
        check_output(args.trace, "neuronsim run", "--trace")
    if args.out is not None:
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
