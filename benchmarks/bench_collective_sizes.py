"""What a collective costs by its shape: 64- and 256-rank all-reduces of 1 KiB, 64 KiB and 1 GiB at both
fidelities, in raw-timeout equivalents (CPU time x raw SimPy timeouts per CPU second, same process).

    python benchmarks/bench_collective_sizes.py [--repeats N] [--sizes 1KiB,64KiB,1GiB]

Each all-reduce is planned as the runtime plans it (``CollectiveService.plan_for``: the algorithm the
runtime selects) and costed as the runtime costs it: step level runs ``StepRun`` on the simulation's flow
network to the end; analytical calls ``analytical_ns``. "first" is a fresh simulator (no cached plan,
route or result); "again" is a second identical collective on the same simulator (cached plan and, for
the analytical path, the memoised result where it is exact). Set-up (tensors, the static route table) is
not timed, and the garbage of earlier cases is collected before each case's first call (``gc.collect()``),
so that no case pays for a predecessor's (a step-level run leaves millions of objects in cycles behind; the
collector's runs during a case are timed). Medians of ``--repeats`` runs, interleaved with raw SimPy.
"""

from __future__ import annotations

import argparse
import gc
import statistics
import time

from rawsimpy import raw_simpy_timeouts_per_s

from neuronsim.collectives.engine import StepRun, analytical_ns
from neuronsim.simulator import Simulator

CASES = (("trn2.48xlarge", 64), ("trn2-ultraserver", 256))
SIZES = ((1 << 10, "1 KiB"), (64 << 10, "64 KiB"), (1 << 30, "1 GiB"))
_UNITS = {"KiB": 1 << 10, "MiB": 1 << 20, "GiB": 1 << 30}


def _sizes(text: str) -> tuple[tuple[int, str], ...]:
    """``1KiB,64KiB,1GiB`` -> ((1024, "1 KiB"), ...)."""
    out = []
    for item in text.split(","):
        number, unit = item.strip()[:-3], item.strip()[-3:]
        out.append((int(number) * _UNITS[unit], f"{number} {unit}"))
    return tuple(out)


def _setup(instance: str, ranks: int) -> tuple[Simulator, list]:
    sim = Simulator(instance)
    per_instance = ranks // len(sim.systems)
    cores = [core for system in sim.systems for core in system.cores[:per_instance]]
    fabric = sim.collectives.fabric
    devices = sim.topology.num_devices * len(sim.systems)
    for a in range(devices):  # routes are static per topology: built at set-up, like the runtime's
        for b in range(devices):
            fabric.route(a, b)
    return sim, cores


def _one(sim: Simulator, cores: list, size: int, fidelity: str) -> tuple[float, int, str, int]:
    """(CPU seconds, simulated ns, algorithm, SimPy events) of one all-reduce planned and costed."""
    service = sim.collectives
    step_ns = sim.topology.spec.chip.cc.step_latency_ns
    proxy_ns = sim.topology.spec.runtime.proxy_work_ns
    start_ns = int(sim.env.now)
    begin = time.process_time()
    algorithm, phases = service.plan_for(cores, "allreduce", size)
    if fidelity == "analytical":
        simulated = analytical_ns(service.fabric, cores, phases, step_ns, proxy_ns)
        events = 0
    else:
        ends: dict[int, int] = {}
        run = StepRun(sim.env, service.fabric, cores, phases, step_ns, lambda r, e: ends.__setitem__(r, e))
        run.start(start_ns)
        sim.env.run()
        simulated = max(ends.values()) - start_ns
        events = run.events
    return time.process_time() - begin, simulated, algorithm, events


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--sizes", type=_sizes, default=SIZES, help="comma-separated, e.g. 1MiB,32MiB")
    args = parser.parse_args()
    raws = []
    rows: dict[tuple, list[float]] = {}
    info: dict[tuple, tuple] = {}
    for _ in range(args.repeats):
        raws.append(raw_simpy_timeouts_per_s(500_000, time.process_time))
        raw = raws[-1]
        for instance, ranks in CASES:
            for size, label in args.sizes:
                for fidelity in ("step", "analytical"):
                    sim, cores = _setup(instance, ranks)
                    gc.collect()  # earlier cases' garbage is not this case's cost
                    first = _one(sim, cores, size, fidelity)
                    again = _one(sim, cores, size, fidelity)
                    assert first[1] == again[1], (first, again)
                    rows.setdefault((ranks, label, fidelity, "first"), []).append(first[0] * raw)
                    rows.setdefault((ranks, label, fidelity, "again"), []).append(again[0] * raw)
                    info[(ranks, label, fidelity)] = (instance, first[1], first[2], first[3])
    raw = statistics.median(raws)
    print(f"raw SimPy timeouts per CPU s: {raw:12,.0f}  (median of {args.repeats})")
    print("all-reduce               algorithm   simulated us   step: first     again   analytical: first     again"
          "   step/analytical first  again")
    for instance, ranks in CASES:
        for _size, label in args.sizes:
            med = {key[2:]: statistics.median(v) for key, v in rows.items() if key[:2] == (ranks, label)}
            _, step_ns, algorithm, events = info[(ranks, label, "step")]
            _, fast_ns, _, _ = info[(ranks, label, "analytical")]
            apart = abs(fast_ns - step_ns) / step_ns * 100
            print(f"{ranks:>3} ranks {label:>6} {instance:>16} {algorithm:>6} {step_ns / 1e3:9.1f} ({apart:.2f}%)"
                  f" {med[('step', 'first')]:10,.0f} {med[('step', 'again')]:9,.0f}"
                  f" {med[('analytical', 'first')]:17,.0f} {med[('analytical', 'again')]:9,.0f}"
                  f" {med[('step', 'first')] / med[('analytical', 'first')]:12.1f}x"
                  f" {med[('step', 'again')] / med[('analytical', 'again')]:6.1f}x   ({events} events)")
    print("(costs in raw-timeout equivalents: CPU seconds x raw SimPy timeouts per CPU second)")


if __name__ == "__main__":
    main()
