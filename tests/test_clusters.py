"""Multi-instance clusters: one system per instance, EFA and UltraServer Z routes, hierarchical
collectives with real data, runtimes per instance."""

from __future__ import annotations

import pytest

import neuronsim
from neuronsim import nrt
from neuronsim.collectives.engine import Fabric
from neuronsim.collectives.nccom import run_nccom
from neuronsim.errors import ConfigError


def test_every_instance_is_simulated_with_its_own_hardware():
    sim = neuronsim.Simulator("2x trn1.32xlarge")
    assert len(sim.systems) == 2
    assert sim.systems[1].cores[0].dma.name == "i1/dev0/nc0/dma"
    assert sim.systems[1].devices[3].global_index == 19
    assert [e.tx.name for e in sim.systems[1].efa][:2] == ["i1/efa0.tx", "i1/efa1.tx"]


def test_runtimes_hold_cores_per_instance():
    sim = neuronsim.Simulator("2x trn1.32xlarge")
    a = sim.runtime(env={"NEURON_RT_VISIBLE_CORES": "0-3"}, instance=0)
    b = sim.runtime(env={"NEURON_RT_VISIBLE_CORES": "0-3"}, instance=1)
    assert a.nrt_init(1, "", "") == nrt.NRT_SUCCESS
    assert b.nrt_init(1, "", "") == nrt.NRT_SUCCESS  # the same ids on another instance are free
    assert b.system is sim.systems[1]
    with pytest.raises(ConfigError, match="instance must be 0-1"):
        sim.runtime(instance=2)


def test_routes_between_instances():
    efa = neuronsim.Simulator("2x trn1.32xlarge")
    fabric = Fabric(efa.systems, efa.z_links, efa.topology.spec.efa.latency_ns)
    hops = fabric.route(3, 16 + 5)  # device 3 of instance 0 to device 5 of instance 1
    assert [h.channel.name for h in hops] == ["efa1.tx", "i1/efa2.rx"]  # the EFA devices paired with 3 and 5
    assert sum(h.latency_ns for h in hops) == 15_000
    ultra = neuronsim.Simulator("trn2-ultraserver")
    fabric = Fabric(ultra.systems, ultra.z_links, ultra.topology.spec.efa.latency_ns)
    assert [h.channel.name for h in fabric.route(5, 16 + 5)] == ["z.i0dev5-i1dev5"]
    assert len(fabric.route(5, 32 + 5)) == 2  # two Z hops around the ring of four
    assert len(ultra.z_links) == 4 * 16 * 2



def test_a_degraded_efa_device_slows_what_crosses_it_exactly():
    plan = [{"target": "efa", "instance": 1, "device": 5, "degrade": 4, "at_ns": 100}]
    sim = neuronsim.Simulator("2x trn1.32xlarge", faults=plan)
    fabric = Fabric(sim.systems, sim.z_links, sim.topology.spec.efa.latency_ns)
    hops = fabric.route(3, 16 + 5)  # efa1.tx of instance 0, then i1/efa2.rx: the one paired with device 5
    bw = hops[0].channel.bandwidth_bytes_per_ns  # 12.5 B/ns (100 Gbps)
    sim.run_for_ns(100)
    efa2 = sim.systems[1].efa[2]
    assert (efa2.tx.bandwidth_bytes_per_ns, efa2.rx.bandwidth_bytes_per_ns) == (bw / 4, bw / 4)
    assert sim.systems[0].efa[2].rx.bandwidth_bytes_per_ns == bw  # the same index on instance 0 is untouched
    assert hops[0].channel.bandwidth_bytes_per_ns == bw
    path = [(h.channel, 1_000_000) for h in hops]
    # the receiving side is now the bottleneck: 1 MB at 3.125 B/ns, after the 15 us of EFA latency
    flow = sim.network.start(100, path, 0, sum(h.latency_ns for h in hops))
    sim.run_until_idle()
    assert flow.done and flow.end_ns == 100 + 320_000 + 15_000


@pytest.mark.parametrize(("instance", "ranks", "nodes"), [("trn1.32xlarge", 8, 2), ("trn2-ultraserver", 16, 4)])
@pytest.mark.parametrize("op", ["allr", "allg", "redsct"])
def test_hierarchical_collectives_are_correct_and_agree_across_fidelities(instance, ranks, nodes, op):
    step = run_nccom(op, instance=instance, ranks=ranks, nodes=nodes, sizes=[ranks * 4 * 64, ranks * 4 * 4096],
                     dtype="fp32", iterations=1, warmup=0, check=True)
    fast = run_nccom(op, instance=instance, ranks=ranks, nodes=nodes, sizes=[ranks * 4 * 64, ranks * 4 * 4096],
                     dtype="fp32", iterations=1, warmup=0, fidelity="analytical")
    for a, b in zip(step, fast, strict=True):
        assert a.check == "OK" and a.algorithm == "hier"
        assert abs(b.time_avg_us - a.time_avg_us) / a.time_avg_us <= 0.05


def test_crossing_efa_costs_its_latency_per_inter_step():
    one = run_nccom("allr", instance="trn1.32xlarge", ranks=2, sizes=[8], dtype="fp32", iterations=1, warmup=0)
    two = run_nccom("allr", instance="trn1.32xlarge", ranks=2, nodes=2, sizes=[8], dtype="fp32", iterations=1,
                    warmup=0)
    # one rank per node: inter-node reduce-scatter and all-gather, one step each, 15 us of EFA latency per step
    assert two[0].time_avg_us - one[0].time_avg_us >= 2 * 15 - 1


def test_nodes_must_divide_the_ranks():
    with pytest.raises(ConfigError, match="do not fit 2 x trn1.32xlarge"):
        run_nccom("allr", ranks=5, nodes=2, sizes=[1024])
    with pytest.raises(ConfigError, match="trn2-ultraserver has 4 instances, not 2"):
        run_nccom("allr", instance="trn2-ultraserver", ranks=8, nodes=2, sizes=[1024])


def test_each_level_of_a_hierarchical_collective_picks_its_own_algorithm():
    """'intra Mesh + inter Mesh for small messages, intra KangaRing + inter RDH for large' (A20)."""
    sim = neuronsim.Simulator("4x trn2.48xlarge")
    cores = [core for system in sim.systems for core in system.cores[:16]]  # 4 whole chips per instance
    names = {size: [p.name for p in sim.collectives.plan_for(cores, "allreduce", size)[1]]
             for size in (4096, 1 << 30)}
    assert names[4096] == ["hier intra mesh reduce-scatter", "hier inter mesh reduce-scatter",
                           "hier inter mesh all-gather", "hier intra mesh all-gather"]
    # 1 GiB: 64 MiB per rank inside (KangaRing), 16 MiB per rank across 4 instances (past RDH's range: Ring)
    assert names[1 << 30] == ["hier intra kangaring reduce-scatter", "hier inter ring reduce-scatter",
                              "hier inter ring all-gather", "hier intra kangaring all-gather"]
    # 32 MiB: 2 MiB per rank inside (KangaRing), 512 KiB per rank across (RDH): the published pairing
    label, phases = sim.collectives.plan_for(cores, "allreduce", 32 << 20)
    assert label == "hier"
    assert [p.name for p in phases] == ["hier intra kangaring reduce-scatter", "hier inter rdh halving 0",
                                        "hier inter rdh halving 1", "hier inter rdh doubling 1",
                                        "hier inter rdh doubling 0", "hier intra kangaring all-gather"]
