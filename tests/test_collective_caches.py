"""Collectives cost by their shape: the plan cache, the path cache and the analytical memo change no result."""

from __future__ import annotations

from neuronsim.collectives import engine
from neuronsim.collectives.engine import _analytical, _path, analytical_ns
from neuronsim.simulator import Simulator


def _ranks(instance: str = "trn2.48xlarge", ranks: int = 64):
    sim = Simulator(instance)
    per_instance = ranks // len(sim.systems)
    return sim, [core for system in sim.systems for core in system.cores[:per_instance]]


def test_a_plan_is_built_once_per_group_operation_size_and_algorithm():
    sim, cores = _ranks()
    service = sim.collectives
    first = service.plan_for(cores, "allreduce", 1 << 20)
    assert service.plan_for(list(cores), "allreduce", 1 << 20) is first  # same group, a new list
    assert service.plan_for(cores, "allreduce", 2 << 20) is not first
    assert service.plan_for(cores[:32], "allreduce", 1 << 20) is not first
    ring = service.plan_for(cores, "allreduce", 1 << 20, "ring")
    assert ring[0] == "ring" and ring is not first
    service.algorithm = "ring"  # a run-wide override is part of the key
    assert service.plan_for(cores, "allreduce", 1 << 20)[1] == ring[1]
    service.algorithm = None
    assert service.plan_for(cores, "allreduce", 1 << 20) is first


def test_paths_from_the_cache_are_what_the_route_gives():
    sim, cores = _ranks()
    fabric = sim.collectives.fabric
    _, phases = sim.collectives.plan_for(cores, "allreduce", 1 << 30)  # KangaRing: duplicated writes
    t = phases[0].transfers[0]
    assert t.dup >= 0
    path, latency = _path(fabric, cores, t)
    src, dst, dup = cores[t.src], cores[t.dst], cores[t.dup]
    route = fabric.route(src.device.global_index, dst.device.global_index)
    expected = [(src.cc_dma, t.size), (src.hbm.channel, t.size)] + [(link.channel, t.size) for link in route]
    # a reduce-scatter step's write also reads the destination's partial sum (A36)
    assert t.reduce == 4
    expected += [(dst.hbm.channel, 2 * t.size), (dup.hbm.channel, t.size)]
    assert path == expected and latency == sum(link.latency_ns for link in route)
    # a copy within one core's stack: the stack carries the bytes twice, once in the path
    same = type(t)(t.src, t.src, 100)
    path, latency = _path(fabric, cores, same)
    assert path == [(src.cc_dma, 100), (src.hbm.channel, 200)] and latency == 0


def test_the_analytical_memo_gives_the_computed_result_and_sees_a_bandwidth_change():
    sim, cores = _ranks()
    fabric = sim.collectives.fabric
    step_ns = sim.topology.spec.chip.cc.step_latency_ns
    _, phases = sim.collectives.plan_for(cores, "allreduce", 64 << 20)
    fresh, shadows = _analytical(fabric, cores, phases, step_ns, 0)
    assert analytical_ns(fabric, cores, phases, step_ns) == fresh
    assert len(fabric.memo) == 1
    assert analytical_ns(fabric, cores, phases, step_ns) == fresh  # from the memo
    assert analytical_ns(fabric, cores, phases, step_ns, 1000) == _analytical(fabric, cores, phases, step_ns, 1000)[0]
    assert len(fabric.memo) == 2
    # a degraded channel (a fault divides its bandwidth) is seen: the result is computed again
    channel = next(ch for ch in shadows if ch.name.startswith("link"))
    channel.bandwidth_bytes_per_ns = channel.bandwidth_bytes_per_ns / 4
    slower = analytical_ns(fabric, cores, phases, step_ns)
    assert slower == _analytical(fabric, cores, phases, step_ns, 0)[0] and slower > fresh


def test_the_memo_is_bounded(monkeypatch):
    sim, cores = _ranks("trn2.48xlarge", 8)
    fabric = sim.collectives.fabric
    monkeypatch.setattr(engine, "MEMO_ENTRIES", 3)
    step_ns = sim.topology.spec.chip.cc.step_latency_ns
    for size in range(1, 8):
        _, phases = sim.collectives.plan_for(cores, "allgather", size << 10)
        analytical_ns(fabric, cores, phases, step_ns)
        assert len(fabric.memo) <= 3


def test_a_step_shifted_in_time_is_not_solved_again_and_ends_the_same():
    """A124: steps of one shape whose ranks start with the same offsets reuse the solved ends, shifted; the
    results equal solving every step (Mesh stages, hierarchical plans, rings out of lockstep)."""
    cases = [("trn2.48xlarge", 64, "allreduce", 1 << 10, None), ("trn2.48xlarge", 64, "allreduce", 64 << 10, None),
             ("trn2.48xlarge", 64, "allreduce", 8 << 20, "ring"), ("trn2.48xlarge", 16, "allgather", 1 << 20, "mesh"),
             ("trn2-ultraserver", 64, "allreduce", 1 << 10, None), ("trn2-ultraserver", 64, "allreduce", 1 << 30, None)]
    for instance, ranks, operation, size, algorithm in cases:
        sim, cores = _ranks(instance, ranks)
        fabric = sim.collectives.fabric
        step_ns = sim.topology.spec.chip.cc.step_latency_ns
        proxy_ns = sim.topology.spec.runtime.proxy_work_ns
        _, phases = sim.collectives.plan_for(cores, operation, size, algorithm)
        reused = _analytical(fabric, cores, phases, step_ns, proxy_ns)[0]
        solved = _analytical(fabric, cores, phases, step_ns, proxy_ns, reuse_steps=False)[0]
        assert reused == solved, (instance, ranks, operation, size, algorithm)
