"""The flow-level contention model (neuronsim.hw.channel, docs/assumptions.md A9): exact closed forms on
the real presets, and properties of max-min fair sharing over random sets of flows."""

from __future__ import annotations

import math

import numpy as np
import simpy
from hypothesis import given
from hypothesis import strategies as st

import neuronsim
from neuronsim import nrt
from neuronsim.hw.channel import ACTIVE, PENDING, Channel, FlowNetwork
from tests.helpers import model_with_io, open_runtime, schedule_execute, tensor

SCHEDULE = 2000  # runtime.call_costs.schedule_ns (A5)
SETUP = 1300  # chip.dma.setup_latency_ns
PCIE_BW = 16.0
PCIE_LAT = 1000
HBM_BW = 410.0  # trn1 and inf2 stack bandwidth


def test_k_equal_writes_on_one_bottleneck_finish_together_at_k_times_the_single():
    """k writes of n bytes to k different tensors, one per Tensor Op queue, their bytes starting at the same
    instant (each queue's call is made before any of them starts: a thread-free batch in one call chain is
    impossible, so the writes are started on an offline network over the simulator's own channels): PCIe
    (16 B/ns) is the one bottleneck, so all k end together after k x ceil(n / 16)."""
    sim = neuronsim.Simulator("trn1.2xlarge")
    device = sim.system.devices[0]
    n = 1 << 16  # 4096 ns alone
    for k in (1, 2, 4):
        net = FlowNetwork(None)
        flows = [net.start(0, [(device.h2d_engines[i % len(device.h2d_engines)], n), (device.pcie_h2d, n),
                               (device.hbm[i % 2].channel, n)], SETUP, PCIE_LAT) for i in range(k)]
        net.run()
        assert [f.end_ns for f in flows] == [SETUP + k * (n // 16) + PCIE_LAT] * k


def test_k_equal_executions_on_one_stack_finish_together():
    """Two memory-bound executions on the two logical cores that share a trn2 HBM stack at LNC=1 (each
    reads 7.25 MB, 10_000 ns of the 725 B/ns stack alone) start 2 us apart (one schedule call): the stack
    is shared from the second's start, so they end 2 x 10_000 ns after the first started, minus the
    first's 2 us head start for the first (the same closed form as two writes sharing PCIe)."""
    sim, rt = open_runtime("trn2.48xlarge", env={"NEURON_RT_VISIBLE_CORES": "0-1"}, lnc=1)
    assert sim.system.cores[0].hbm is sim.system.cores[1].hbm
    neff = neuronsim.Neff(inputs={"x": ((16,), "float32")}, outputs={"y": ((16,), "float32")},
                          cost=neuronsim.Roofline(flops=0, hbm_bytes=7_250_000))
    m0, i0, o0 = model_with_io(rt, neff, vnc=0)
    m1, i1, o1 = model_with_io(rt, neff, vnc=1)
    t0 = sim.now_ns
    _, _, s0 = schedule_execute(rt, m0, i0, o0)
    _, _, s1 = schedule_execute(rt, m1, i1, o1)
    sim.run_until_idle()
    assert rt.request(s0.value).end_ns == t0 + SCHEDULE + 2 * 10_000 - SCHEDULE
    assert rt.request(s1.value).end_ns == t0 + SCHEDULE + 2 * 10_000


def test_small_write_beside_a_long_memory_bound_execution_on_inf2():
    """The issue's case: on inf2.48xlarge an execution reading 670 MB of core 0's HBM stack (410 B/ns:
    1_634_147 ns alone) and a 4 KiB tensor write to the same stack on the Tensor Op queue. The write gets its
    PCIe bottleneck's 16 B/ns on the stack and ends as it would alone, in microseconds; the execution ends
    later by exactly the write's bytes at the stack's bandwidth: ceil((670e6 + 4096) / 410)."""
    sim, rt = open_runtime("inf2.48xlarge", env={"NEURON_RT_VISIBLE_CORES": "0"})
    hbm = 670_000_000
    neff = neuronsim.Neff(inputs={"x": ((16,), "float32")}, outputs={"y": ((16,), "float32")},
                          cost=neuronsim.Roofline(flops=0, hbm_bytes=hbm))
    model, ins, outs = model_with_io(rt, neff)
    x = tensor(rt, 4096, vnc=0, name="token")
    assert x.alloc.channel is model.core.hbm.channel
    t0 = sim.now_ns
    _, _, eseq = schedule_execute(rt, model, ins, outs)
    wseq = nrt.Ref()
    rt.nrta_tensor_write(x, np.ones(4096, np.uint8), 0, 4096, 0, 0, nrt.Ref(), wseq)
    sim.run_until_idle()
    write = rt.request(wseq.value)
    assert write.end_ns - write.start_ns == SETUP + 4096 // 16 + PCIE_LAT == 2556  # 2.6 us, as alone
    assert rt.request(eseq.value).end_ns == t0 + SCHEDULE + math.ceil((hbm + 4096) / HBM_BW)
    assert math.ceil((hbm + 4096) / HBM_BW) - math.ceil(hbm / HBM_BW) == 10


def test_a_compute_bound_execution_paces_its_hbm_traffic():
    """A roofline whose compute takes longer than its bytes asks the stack for only bytes / compute time
    (A51): a write beside it on the same stack does not slow it, and it still ends at its compute time."""
    sim, rt = open_runtime()
    flops = 10**10
    neff = neuronsim.Neff(inputs={"x": ((16,), "float32")}, outputs={"y": ((16,), "float32")},
                          cost=neuronsim.Roofline(flops=flops, hbm_bytes=4_100_000))
    model, ins, outs = model_with_io(rt, neff)
    core = model.core
    compute_ns = math.ceil(flops / core.bf16_flops_per_ns)
    assert compute_ns > 10_000  # 4.1 MB alone would take 10_000 ns: compute bound
    x = tensor(rt, 1 << 20, vnc=0, name="same-stack")
    t0 = sim.now_ns
    _, _, eseq = schedule_execute(rt, model, ins, outs)
    wseq = nrt.Ref()
    rt.nrta_tensor_write(x, np.zeros(1 << 20, np.uint8), 0, 1 << 20, 0, 0, nrt.Ref(), wseq)
    sim.run_until_idle()
    assert rt.request(eseq.value).end_ns == t0 + SCHEDULE + compute_ns
    assert rt.request(wseq.value).end_ns == t0 + 2 * SCHEDULE + SETUP + (1 << 20) // 16 + PCIE_LAT


def test_a_degraded_channel_slows_the_flows_on_it_from_that_instant():
    env = simpy.Environment()
    net = FlowNetwork(env)
    link = Channel("link", 100.0)
    flow = net.start(0, [(link, 100_000)])
    assert flow.end_ns == 1000

    def degrade(_e):
        link.bandwidth_bytes_per_ns = 25.0

    env.timeout(400).callbacks.append(degrade)
    env.run()
    # 40_000 B by 400 ns, the other 60_000 at 25 B/ns: 2400 ns more
    assert flow.done and flow.end_ns == 2800 and env.now == 2800


def test_flows_on_separate_channels_never_interact():
    env = simpy.Environment()
    net = FlowNetwork(env)
    a, b = Channel("a", 10.0), Channel("b", 10.0)
    ends = []
    for i in range(5):
        net.start(0, [(a if i % 2 else b, 1000 * (i + 1))], 7, 3, lambda f: ends.append((f.seq, env.now)))
    env.run()
    # b carries flows 1, 3, 5 (1000, 3000, 5000 B) from 7 ns at 10/3 B/ns each: 1 delivers at 7 + 300;
    # 3 and 5 then share 5 B/ns each: 3's last 2000 B take 400 ns more; 5's last 2000 B alone take 200.
    # a carries 2 and 4 (2000, 4000 B) at 5 B/ns each: 2 delivers at 7 + 400, 4's last 2000 B take 200.
    # Every end is 3 ns (the latency) after its delivery.
    assert sorted(ends) == [(1, 310), (2, 410), (3, 710), (4, 610), (5, 910)]


def test_one_event_per_transfer_alone():
    """Transfers that share no channel cost one SimPy event each (their end) and no solve."""
    env = simpy.Environment()
    net = FlowNetwork(env)
    channels = [Channel(f"c{i}", 10.0) for i in range(4)]
    for i, ch in enumerate(channels):
        net.start(0, [(ch, 1000)], 5, 5)
    env.run()
    assert env.now == 5 + 100 + 5 and net.events == 4 and net.solves == 0


# -- properties over random flow sets -----------------------------------------------------------------

_BANDWIDTHS = st.sampled_from([0.5, 1.0, 3.7, 16.0, 100.0, 1000.0])
_FLOW = st.tuples(
    st.integers(0, 2000),  # start
    st.lists(st.tuples(st.integers(0, 4), st.integers(0, 200_000)), min_size=1, max_size=4, unique_by=lambda p: p[0]),
    st.integers(0, 300),  # setup
    st.integers(0, 300),  # latency
    st.sampled_from([math.inf, math.inf, 5.0, 50.0]),  # cap
    st.sampled_from([1.0, 1.0, 2.0]),  # weight
)


def _run(bandwidths, specs):
    """Run the flows on a SimPy-driven network; return its flows, channels, each flow's rate history
    (``[(instant, rate from then on)]``) and the trace of ends."""
    env = simpy.Environment()
    net = FlowNetwork(env)
    channels = [Channel(f"c{i}", bw) for i, bw in enumerate(bandwidths)]
    flows = []
    ended: dict[int, int] = {}
    history: dict[int, list[tuple[float, float]]] = {}
    trace = []

    def alone_rate(f):
        return min([f.cap] + [ch.bw / a for ch, a, _ in f.hops])

    def probe(t):  # after every instant at which flows that share channels start or end their bytes
        for f in flows:
            if not f.shared or not f.hops:
                continue
            points = history.setdefault(f.seq, [])
            if not points and f.arrive_ns < t and f.state != PENDING:
                points.append((float(f.arrive_ns), alone_rate(f)))  # it was alone until another joined it
            rate = f.rate if f.state == ACTIVE else 0.0
            if f.state == ACTIVE or (points and points[-1][1] != 0.0):
                if not points or points[-1][1] != rate:
                    points.append((t, rate))

    net.probe = probe

    def starter(spec):
        start, hops, setup, latency, cap, weight = spec
        yield env.timeout(start)
        path = [(channels[i], n) for i, n in hops]

        def done(f):
            assert f.seq not in ended  # ends exactly once
            assert f.end_ns == env.now
            ended[f.seq] = f.end_ns
            trace.append((f.seq, f.end_ns, f.delivered_at))

        flows.append(net.start(int(env.now), path, setup, latency, done, cap=cap, weight=weight))

    for spec in specs:
        env.process(starter(spec))
    env.run()
    for f in flows:
        if f.hops and not f.shared:  # alone from start to end
            history[f.seq] = [(float(f.arrive_ns), f.rate), (f.finish_at, 0.0)]
    return net, channels, flows, ended, history, trace


def _rate_at(points, t):
    rate = 0.0
    for when, r in points:
        if when > t:
            break
        rate = r
    return rate


@given(bandwidths=st.lists(_BANDWIDTHS, min_size=5, max_size=5), specs=st.lists(_FLOW, min_size=1, max_size=12))
def test_max_min_sharing_properties(bandwidths, specs):
    net, channels, flows, ended, history, trace = _run(bandwidths, specs)
    assert sorted(ended) == [f.seq for f in flows]  # every flow ends, exactly once
    moving = [f for f in flows if f.hops]
    # the allocation at every instant where any rate changes
    instants = sorted({t for points in history.values() for t, _ in points})
    for t in instants:
        rates = {f.seq: _rate_at(history[f.seq], t) for f in moving}
        for f in moving:  # a flow moves bytes exactly from its arrival to its delivery
            assert (rates[f.seq] > 0.0) == (f.arrive_ns <= t < f.delivered_at), (t, f, rates[f.seq])
        for ch in channels:
            on = [(f, a) for f in moving for c, a, _ in f.hops if c is ch and rates[f.seq] > 0.0]
            used = sum(a * rates[f.seq] for f, a in on)
            assert used <= ch.bw * (1 + 1e-9), (t, ch, used)  # never over its bandwidth
        for f in moving:
            x = rates[f.seq]
            if x == 0.0 or x >= f.cap * (1 - 1e-9):
                continue  # not moving, or held by its own demand
            # max-min: a full channel on its path where no flow gets more per unit of weight
            def bottleneck(ch):
                on = [(g, a) for g in moving for c, a, _ in g.hops if c is ch and rates[g.seq] > 0.0]
                full = sum(a * rates[g.seq] for g, a in on) >= ch.bw * (1 - 1e-7)
                return full and all(rates[g.seq] / g.weight <= x / f.weight * (1 + 1e-7) for g, _ in on)
            assert any(bottleneck(ch) for ch, _, _ in f.hops), (t, f)
        # work conservation: every channel with a flow in progress moves bytes (no flow waits at rate 0)
    for f in moving:
        alone = max(math.ceil(n / c.bw * (1 - 1e-12)) for c, _, n in f.hops)
        if f.cap < math.inf:
            alone = max(alone, math.ceil(f.size / f.cap * (1 - 1e-12)))
        assert f.end_ns >= f.arrive_ns + alone + f.latency_ns  # never faster than alone
        assert f.end_ns == math.ceil(f.delivered_at - 1e-6) + f.latency_ns  # rounded up to a whole ns
        # bytes delivered = bytes sent: the rate integrated from arrival to delivery is the flow's size
        points = history[f.seq] + [(f.delivered_at, 0.0)]
        moved = sum(r * (t1 - t0) for (t0, r), (t1, _) in zip(points, points[1:]) if t0 < f.delivered_at)
        assert math.isclose(moved, f.size, rel_tol=1e-6, abs_tol=1e-3), (f, moved)
    for ch in channels:
        assert ch.bytes_moved == sum(n for f in flows for c, _, n in f.hops if c is ch)
        assert not ch.flows and not ch.waiting and ch.used == 0.0
    # same inputs, same trace
    assert _run(bandwidths, specs)[-1] == trace


@given(bandwidths=st.lists(_BANDWIDTHS, min_size=5, max_size=5), specs=st.lists(_FLOW, min_size=1, max_size=8))
def test_offline_network_gives_the_same_ends(bandwidths, specs):
    """An offline network (the analytical path's) given the same flows ends them at the same times."""
    *_, trace = _run(bandwidths, specs)
    online = {seq: end for seq, end, _ in trace}
    net = FlowNetwork(None)
    channels = [Channel(f"c{i}", bw) for i, bw in enumerate(bandwidths)]
    ordered = sorted(enumerate(specs), key=lambda p: (p[1][0], p[0]))
    flows = [net.start(s[0], [(channels[i], n) for i, n in s[1]], s[2], s[3], cap=s[4], weight=s[5])
             for _, s in ordered]
    net.run()
    assert sorted(f.end_ns for f in flows) == sorted(online.values())
