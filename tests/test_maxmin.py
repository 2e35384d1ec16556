"""The flow model over arrays (neuronsim.hw.maxmin, A134): a batch of flows known in advance ends when the flow
network would end them, and the analytical collective path costs its large steps with it to the same ns."""

from __future__ import annotations

from math import inf

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from neuronsim.collectives import engine
from neuronsim.hw.channel import Channel, FlowNetwork
from neuronsim.hw.maxmin import batch_ends
from neuronsim.simulator import Simulator

_BW = st.sampled_from([16.0, 100.0, 186.5, 410.0, 820.0, 2.5])
_FLOW = st.tuples(
    st.sampled_from([0, 0, 0, 5, 40, 1000]),  # start
    st.lists(st.tuples(st.integers(0, 5), st.sampled_from([1, 1, 2])), min_size=1, max_size=4,
             unique_by=lambda hop: hop[0]),  # path: (channel, load)
    st.sampled_from([1, 16, 1000, 4096, 12345, 1 << 20]),  # size
    st.sampled_from([1, 30, 1300]),  # setup
    st.sampled_from([0, 7, 650]),  # latency
    st.sampled_from([inf, inf, 50.0, 3.25]),  # cap
)


def _both(bandwidths, specs):
    """Ends from an offline FlowNetwork and from batch_ends, flows given in start order."""
    specs = sorted(specs, key=lambda s: s[0])
    channels = [Channel(f"c{i}", bw) for i, bw in enumerate(bandwidths)]
    net = FlowNetwork(None)
    flows = [net.start(s[0], [(channels[c], k * s[2]) for c, k in s[1]], s[3], s[4], size=s[2], cap=s[5])
             for s in specs]
    net.run()
    ptr = np.cumsum([0] + [len(s[1]) for s in specs])
    got = batch_ends(np.array([s[0] for s in specs]), np.array([s[0] + s[3] for s in specs]),
                     np.array([float(s[2]) for s in specs]), np.array([s[5] for s in specs]),
                     np.array([s[4] for s in specs]), ptr, np.array([c for s in specs for c, _ in s[1]]),
                     np.array([float(k) for s in specs for _, k in s[1]]), np.array(bandwidths))
    return [f.end_ns for f in flows], got.tolist()


@settings(max_examples=300, deadline=None)
@given(bandwidths=st.lists(_BW, min_size=6, max_size=6), specs=st.lists(_FLOW, min_size=1, max_size=12))
def test_a_batch_ends_when_the_flow_network_ends_it(bandwidths, specs):
    expected, got = _both(bandwidths, specs)
    assert got == expected


def test_a_flow_alone_rounds_as_one_transfer_alone_and_shared_flows_split_the_bottleneck():
    # alone: setup + ceil(bytes / bw) + latency (at least 1 ns of bytes); two on one channel: 2 x the bytes
    expected, got = _both([100.0, 100.0, 100.0], [(0, [(0, 1)], 1, 10, 5, inf), (0, [(1, 1)], 1000, 10, 0, inf),
                                                   (0, [(2, 1)], 1000, 10, 0, inf), (0, [(2, 1)], 1000, 10, 0, inf)])
    assert got == expected == [16, 20, 30, 30]
    # a flow whose channel another used before it started, and was done with, is alone again (replayed)
    expected, got = _both([100.0], [(0, [(0, 1)], 1000, 10, 0, inf), (500, [(0, 1)], 1000, 10, 0, inf)])
    assert got == expected == [20, 520]


@pytest.mark.parametrize("instance, ranks, operation, size, algorithm", [
    ("trn2.48xlarge", 64, "allreduce", 1 << 10, None),
    ("trn2.48xlarge", 64, "allreduce", 64 << 10, None),
    ("trn2.48xlarge", 32, "allgather", 1 << 20, "mesh"),
    ("trn2.48xlarge", 64, "alltoall", 1 << 20, None),
    ("trn1.32xlarge", 32, "reducescatter", 256 << 10, "mesh"),
    ("trn2-ultraserver", 128, "allreduce", 64 << 10, None),
    ("trn2-ultraserver", 256, "allreduce", 1 << 30, None),
])
def test_the_analytical_path_costs_a_large_step_over_arrays_to_the_same_ns(monkeypatch, instance, ranks, operation,
                                                                         size, algorithm):
    """Steps of at least BATCH_MIN transfers over arrays, and every step flow by flow (an offline FlowNetwork or
    the closed form): the same duration."""
    sim = Simulator(instance)
    per = ranks // len(sim.systems)
    cores = [core for system in sim.systems for core in system.cores[:per]]
    fabric = sim.collectives.fabric
    step_ns = sim.topology.spec.chip.cc.step_latency_ns
    proxy_ns = sim.topology.spec.runtime.proxy_work_ns
    _, phases = sim.collectives.plan_for(cores, operation, size, algorithm)
    assert any(len(p.transfers) >= engine.BATCH_MIN for p in phases)
    batched = engine._analytical(fabric, cores, phases, step_ns, proxy_ns)[0]
    monkeypatch.setattr(engine, "BATCH_MIN", 1 << 40)
    assert batched == engine._analytical(fabric, cores, phases, step_ns, proxy_ns)[0]
