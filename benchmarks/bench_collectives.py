"""CPU time of large collectives at both fidelity levels, beside raw SimPy in the same process.

    python benchmarks/bench_collectives.py

Times only the collective itself (the algorithm over the fabric and the completions), not the set-up
of tensors, processes and the static route table: a 64-rank 1 GiB all-reduce on trn2.48xlarge (KangaRing,
and Ring) and a 256-rank one on the Trn2 UltraServer (hierarchical over the Z rings). The
budget: the step-level run costs no more CPU time than 2 million raw SimPy timeouts; the analytical
path is at least 20x cheaper than step level. CPU time (``time.process_time``), so that time spent waiting
for a core on a shared machine counts in neither; each figure is the least of 3 runs on a fresh simulator
(nothing cached: ``benchmarks/bench_collective_sizes.py`` times repeated collectives).
"""

from __future__ import annotations

import time

from rawsimpy import raw_simpy_seconds

from neuronsim.collectives.engine import Fabric, StepRun, analytical_ns
from neuronsim.simulator import Simulator


def collective(instance: str, ranks: int, size: int, algorithm: str, fidelity: str) -> tuple[float, int, int]:
    """(CPU seconds, simulated ns, events) of one all-reduce, timed without set-up."""
    sim = Simulator(instance)
    per_instance = ranks // len(sim.systems)
    cores = [core for system in sim.systems for core in system.cores[:per_instance]]
    label, phases = sim.collectives.plan_for(cores, "allreduce", size, algorithm)  # as the runtime plans it
    assert label == algorithm, (label, algorithm)
    efa = sim.topology.spec.efa
    fabric = Fabric(sim.systems, sim.z_links, efa.latency_ns if efa else 0)
    devices = sim.topology.num_devices * len(sim.systems)
    for a in range(devices):  # routes are static per topology: built at set-up, like the runtime's
        for b in range(devices):
            fabric.route(a, b)
    step_ns = sim.topology.spec.chip.cc.step_latency_ns
    start = time.process_time()
    if fidelity == "analytical":
        simulated = analytical_ns(fabric, cores, phases, step_ns)
        events = 0
    else:
        ends: dict[int, int] = {}
        run = StepRun(sim.env, fabric, cores, phases, step_ns, lambda r, e: ends.__setitem__(r, e))
        run.start(0)
        sim.env.run()
        simulated = max(ends.values())
        events = run.events
    return time.process_time() - start, simulated, events


def main() -> None:
    budget = raw_simpy_seconds(2_000_000, time.process_time)
    print(f"raw SimPy, 2 million timeouts:           {budget * 1e3:9.1f} ms of CPU time (the step-level budget)")
    for instance, ranks, algorithm in (("trn2.48xlarge", 64, "kangaring"), ("trn2.48xlarge", 64, "ring"),
                                       ("trn2-ultraserver", 256, "hier")):
        step_s, step_ns, events = min(collective(instance, ranks, 1 << 30, algorithm, "step") for _ in range(3))
        fast_s, fast_ns, _ = min(collective(instance, ranks, 1 << 30, algorithm, "analytical") for _ in range(3))
        print(f"{ranks}-rank 1 GiB all-reduce, {algorithm}, {instance}:")
        print(f"  step level:  {step_s * 1e3:8.1f} ms CPU, {events} events, {step_ns / 1e3:9.1f} us simulated "
              f"({step_s / budget:.3f} of the budget)")
        print(f"  analytical:  {fast_s * 1e3:8.1f} ms CPU, {fast_ns / 1e3:9.1f} us simulated "
              f"({step_s / fast_s:.0f}x cheaper, {abs(fast_ns - step_ns) / step_ns * 100:.2f}% apart)")


if __name__ == "__main__":
    main()
