"""``neuronsim run``'s built-in inference pipeline on a preset, simulated in direct mode, summarised
(the subcommand itself is :mod:`neuronsim.cli.run`).

Per logical core, ``--iterations`` times: write an input to the device (Tensor Op queue 0), wait for
it, schedule the execution (Compute), then read the previous iteration's output (Tensor Op queue 1)
once that execution has completed. Inputs and outputs rotate through ``--depth`` buffers, so the
next write overlaps the current execution and the device stays busy, as the async API intends.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import numpy as np

from neuronsim.nrt import NRT_STATUS
from neuronsim.runtime.neff import Neff
from neuronsim.text import plural
from neuronsim.units import format_bytes, format_ns

if TYPE_CHECKING:
    from neuronsim.facade import Future
    from neuronsim.runtime.objects import Model, Tensor

__all__ = ["DEMO_DEFAULTS", "run_demo", "summarise"]


DEMO_DEFAULTS: dict[str, Any] = {"cores": 2, "iterations": 50, "depth": 2, "size": "1 MiB", "duration": "200 us"}



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
