"""``neuronsim run``: a built-in inference pipeline on a preset, simulated in direct mode, summarised.

Per logical core, ``--iterations`` times: write an input to the device (Tensor Op queue 0), wait for
it, schedule the execution (Compute), then read the previous iteration's output (Tensor Op queue 1)
once that execution has completed. Inputs and outputs rotate through ``--depth`` buffers, so the
next write overlaps the current execution and the device stays busy, as the async API intends.
"""

from __future__ import annotations

import argparse
import sys
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import numpy as np

from neuronsim.nrt import NRT_STATUS
from neuronsim.runtime.neff import Neff
from neuronsim.text import plural
from neuronsim.units import format_bytes, format_ns, parse_bytes, parse_duration

if TYPE_CHECKING:
    from neuronsim.facade import Future
    from neuronsim.runtime.objects import Model, Tensor

__all__ = ["add_run_parser", "run_demo", "summarise"]


DEMO_DEFAULTS: dict[str, Any] = {"cores": 2, "iterations": 50, "depth": 2, "size": "1 MiB", "duration": "200 us"}


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


DEMO_DEFAULTS = {"cores": 2, "iterations": 50, "depth": 2, "size": "1 MiB", "duration": "200 us"}


def _cmd_run(args: argparse.Namespace) -> int:
    from neuronsim.errors import ConfigError
    from neuronsim.units import UnitError

    given = [name for name in DEMO_DEFAULTS if getattr(args, name) is not None]
    if args.workload is not None:
        if given:  # a typo'd workload run must not silently ignore them
            raise ConfigError("neuronsim run", f"{', '.join('--' + n for n in given)}: option(s) of the built-in "
                              "pipeline, not of a workload; with a WORKLOAD use --instance, --lnc, --until, --trace, "
                              "--out, --set KEY=VALUE, --seed, --no-progress (or change the workload file)")
        from neuronsim.workload.command import run_command

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


@dataclass
class _Lane:
    """One logical core's pipeline: its model, its ``depth`` input and output buffers, and per iteration the
    execution, the read of its output and the input written."""

    model: Model
    ins: list[Tensor]
    outs: list[Tensor]
    execs: list[Future] = field(default_factory=list)
    reads: list[Future] = field(default_factory=list)
    data: list[np.ndarray] = field(default_factory=list)


def run_demo(instance: str, *, lnc: int | None = None, cores: int = 2, iterations: int = 50, depth: int = 2,
             size_bytes: int = 1 << 20, duration_ns: int = 200_000, seed: int = 0,
             numa_node: int | None = None) -> dict[str, Any]:
    """Run the pipeline; returns the figures :func:`summarise` prints."""
    from neuronsim.errors import ConfigError
    from neuronsim.simulator import Simulator

    sim = Simulator(instance, lnc=lnc, seed=seed, record=True)
    total = len(sim.topology.logical_cores)
    if cores > total:
        raise ConfigError("neuronsim run", f"{sim.topology.name} has {total} logical cores, not {cores}",
                          field="--cores")
    rt = sim.open(visible_cores=f"0-{cores - 1}", numa_node=numa_node)
    elements = max(1, size_bytes // 4)
    neff = Neff(inputs={"x": ((elements,), "float32")}, outputs={"y": ((elements,), "float32")},
                duration_ns=duration_ns, kernel=lambda x: {"y": x * 2}, name="demo.neff")
    lanes: list[_Lane] = []
    rng = np.random.default_rng(sim.seed_sequence.spawn(1)[0])
    for core in range(cores):
        model = rt.load(neff, core)
        ins = [rt.allocate(elements * 4, core, f"x{k}") for k in range(depth)]
        outs = [rt.allocate(elements * 4, core, f"y{k}") for k in range(depth)]
        lanes.append(_Lane(model, ins, outs))
    start_ns = sim.now_ns
    wrong = 0
    for i in range(iterations):
        slot = i % depth
        for lane in lanes:
            if depth == 1 and i >= 1:
                # one buffer: the previous output must be read out before the next execution overwrites it
                lane.execs[i - 1].wait()
                lane.reads.append(rt.read(lane.outs[0], queue=1))
            if i >= depth:
                lane.reads[i - depth].wait()  # the output buffer is free again
            data = rng.standard_normal(elements).astype(np.float32)
            lane.data.append(data)
            rt.write(lane.ins[slot], data).wait()
            lane.execs.append(rt.execute(lane.model, {"x": lane.ins[slot]}, {"y": lane.outs[slot]}))
            if depth > 1 and i >= 1:
                lane.execs[i - 1].wait()
                lane.reads.append(rt.read(lane.outs[(i - 1) % depth], queue=1))
    for lane in lanes:
        lane.execs[-1].wait()
        lane.reads.append(rt.read(lane.outs[(iterations - 1) % depth], queue=1))
    rt.wait_all()
    for lane in lanes:
        for read, data in zip(lane.reads, lane.data, strict=True):
            if not np.array_equal(read.result().view(np.float32), data * 2):
                wrong += 1
    elapsed = sim.now_ns - start_ns
    history = rt.c.history
    kinds: dict[str, list[int]] = {}
    for req in history:
        kinds.setdefault(req.kind, []).append(req.end_ns - req.submit_ns)
    units = []
    for unit in rt.c.execution_units():
        if unit.last_submitted_num:
            units.append((unit.name, unit.busy_ns / elapsed if elapsed else 0.0, unit.last_submitted_num))
    channels = [(c.name, c.utilisation(elapsed)) for c in sim.system.channels() if c.busy_ns]
    return {
        "instance": sim.topology.name, "lnc": sim.topology.lnc, "seed": seed, "cores": cores,
        "iterations": iterations, "depth": depth, "size_bytes": elements * 4, "duration_ns": duration_ns,
        "elapsed_ns": elapsed, "executions": cores * iterations, "latencies": kinds, "units": units,
        "channels": channels, "wrong": wrong,
        "failed": sum(1 for r in history if r.status != NRT_STATUS.NRT_SUCCESS) + wrong,
    }


def _pct(values: list[int], q: float) -> int:
    return int(np.percentile(np.asarray(values), q, method="nearest"))


def summarise(result: dict[str, Any]) -> str:
    """The text report of a :func:`run_demo` result."""
    from neuronsim.workload.metrics import SATURATED

    elapsed = result["elapsed_ns"]
    lines = [
        f"neuronsim run: demo pipeline on {result['instance']} (LNC={result['lnc']}), seed {result['seed']}",
        f"  {plural(result['cores'], 'logical core')} x {plural(result['iterations'], 'iteration')}, depth "
        f"{result['depth']}: "
        f"write {format_bytes(result['size_bytes'])} -> execute ({format_ns(result['duration_ns'])}) -> "
        f"read {format_bytes(result['size_bytes'])}",
        f"simulated time:  {format_ns(elapsed)}",
        f"throughput:      {result['executions'] / (elapsed / 1e9):,.1f} executions/s",
        "latency, submit to completion (p50 / p90 / p99):",
    ]
    for kind, values in sorted(result["latencies"].items()):
        lines.append(f"  {kind:<13} {format_ns(_pct(values, 50)):>11} {format_ns(_pct(values, 90)):>11} "
                     f"{format_ns(_pct(values, 99)):>11}  ({plural(len(values), 'request')})")
    lines.append("execution-unit utilisation:")
    for name, util, count in result["units"]:
        lines.append(f"  {name:<22} {util * 100:6.1f} %  ({plural(count, 'request')})")
    busiest = max(result["channels"], key=lambda c: c[1], default=None)
    if busiest is not None:
        lines.append(f"busiest link or memory: {busiest[0]} ({busiest[1] * 100:.1f} % busy)")
    top = max(result["units"] + ([(busiest[0], busiest[1], 0)] if busiest else []), key=lambda u: u[1])
    if top[1] >= SATURATED:  # only a saturated resource is a bottleneck (docs/assumptions.md A100)
        lines.append(f"bottleneck:      {top[0]} ({top[1] * 100:.1f} % busy)")
    else:
        lines.append(f"bottleneck:      none saturated (busiest: {top[0]}, {top[1] * 100:.1f} % busy)")
    lines.append(f"data check:      {'all outputs correct' if result['wrong'] == 0 else str(result['wrong']) + ' wrong'}")
    return "\n".join(lines) + "\n"
