"""Exact-nanosecond closed forms of the engine (docs/explanation/hardware-model.md)."""

from __future__ import annotations

import math

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

import neuronsim
from neuronsim import nrt
from neuronsim.hw.channel import Channel, reserve
from tests.helpers import model_with_io, open_runtime, schedule_execute, tensor

SCHEDULE = 2000  # runtime.call_costs.schedule_ns (A5)
SETUP = 1300  # chip.dma.setup_latency_ns
PCIE_BW = 16.0  # host.pcie_bandwidth_bytes_per_ns (A2)
PCIE_LAT = 1000  # host.pcie_latency_ns (A3)
HBM_BW = 410.0  # trn1 stack bandwidth


def test_preset_parameters_are_the_ones_the_closed_forms_use():
    sim = neuronsim.Simulator("trn1.32xlarge")
    spec = sim.topology.spec
    assert spec.runtime.call_costs.schedule_ns == SCHEDULE
    assert spec.chip.dma.setup_latency_ns == SETUP
    assert spec.host.pcie_bandwidth_bytes_per_ns == PCIE_BW
    assert spec.host.pcie_latency_ns == PCIE_LAT
    assert spec.chip.hbm.stack_bandwidth_bytes_per_ns == HBM_BW


def test_channel_single_transfer_and_back_to_back():
    link = Channel("link", 100.0)
    assert reserve(0, [(link, 1000)], latency_ns=50) == (0, 60)
    # k transfers asked at once finish one serialisation apart, each after the latency
    ends = [reserve(0, [(link, 1000)], latency_ns=50)[1] for _ in range(3)]
    assert ends == [70, 80, 90]
    assert link.busy_ns == 40 and link.bytes_moved == 4000


def test_path_is_bounded_by_its_slowest_channel_and_releases_fast_ones_early():
    slow, fast = Channel("slow", 10.0), Channel("fast", 1000.0)
    assert reserve(0, [(slow, 10_000), (fast, 10_000)], setup_ns=5) == (5, 1005)
    assert fast.free_at_ns == 15 and slow.free_at_ns == 1005
    # a transfer using only the fast channel is not held up by the slow one
    assert reserve(20, [(fast, 10_000)]) == (20, 30)


def test_a_busy_fast_channel_is_shared_not_held():
    """Two transfers crossing the same fast channel both stream at their own bottleneck's pace."""
    a, b, shared = Channel("a", 10.0), Channel("b", 10.0), Channel("shared", 1000.0)
    assert reserve(0, [(a, 10_000), (shared, 10_000)]) == (0, 1000)
    # shared is busy until 10 ns; b's transfer needs 10 ns of it within its 1000 ns: it starts at once
    assert reserve(0, [(b, 10_000), (shared, 10_000)]) == (0, 1000)
    assert shared.free_at_ns == 20 and shared.busy_ns == 20
    # but a transfer bottlenecked on the busy channel itself waits for it
    c = Channel("c", 1000.0)
    assert reserve(0, [(c, 10_000), (shared, 10_000)]) == (20, 30)


_BANDWIDTHS = st.sampled_from([0.5, 1.0, 3.7, 32.0, 100.0, 1000.0])
_REQUESTS = st.lists(st.tuples(st.integers(0, 500), st.lists(st.tuples(st.integers(0, 3), st.integers(0, 10**6)),
                                                          min_size=1, max_size=4, unique_by=lambda p: p[0]),
                               st.integers(0, 100), st.integers(0, 100)), min_size=1, max_size=20)


@given(bandwidths=st.lists(_BANDWIDTHS, min_size=4, max_size=4), requests=_REQUESTS)
def test_reserve_follows_the_documented_rule(bandwidths, requests):
    """The module's rule, written out literally: data starts at max(now + setup, max(free_at + ser - T)),
    each backlog grows by its own ser from max(free_at, now + setup), the end is data start + T + latency."""
    channels = [Channel(str(i), bw) for i, bw in enumerate(bandwidths)]
    model = [0, 0, 0, 0]
    now = 0
    for gap, hops, setup, latency in requests:
        now += gap
        sers = {i: (math.ceil(size / bandwidths[i] * (1 - neuronsim.units.TRANSFER_SLACK)) or 1) if size else 0
                for i, size in hops}
        longest = max(sers.values())
        start = max([now + setup] + [model[i] + ser - longest for i, ser in sers.items()])
        for i, ser in sers.items():
            model[i] = max(model[i], now + setup) + ser
        assert reserve(now, [(channels[i], size) for i, size in hops], setup, latency) == (
            start, start + longest + latency)
        assert [c.free_at_ns for c in channels] == model


def test_neuronlink_delivers_after_latency_plus_serialisation():
    sim = neuronsim.Simulator("trn1.32xlarge")
    link = sim.system.links[(0, 1)]
    assert link.latency_ns == 500
    size = 96 * 2**30 // 10**6  # bytes moved in 1000 ns at 96 GiB/s (rounded down)
    start, end = reserve(0, [(link.channel, size)], latency_ns=link.latency_ns)
    assert (start, end) == (0, 1000 + 500)
    # busy for the serialisation only: the next transfer starts at 1000, not 1500
    assert reserve(0, [(link.channel, size)], latency_ns=link.latency_ns) == (1000, 2500)
    assert (0, 12) in sim.system.links and (12, 0) in sim.system.links and (0, 5) not in sim.system.links


def test_one_write_of_n_bytes():
    sim, rt = open_runtime()
    x = tensor(rt, 1 << 20)
    host = np.ones(1 << 20, dtype=np.uint8)
    t0 = sim.now_ns
    ret, seq = nrt.Ref(), nrt.Ref()
    assert rt.nrta_tensor_write(x, host, 0, 1 << 20, 0, 0, ret, seq) == nrt.NRT_SUCCESS
    assert sim.now_ns == t0 + SCHEDULE
    expected_end = t0 + SCHEDULE + SETUP + math.ceil((1 << 20) / PCIE_BW) + PCIE_LAT
    assert expected_end == t0 + 69_836
    sim.advance_to(expected_end - 1)
    done = nrt.Ref()
    xu = rt.execution_unit(0, nrt.NRTA_XU_TENSOR_OP, 0)
    assert xu.completed_num == 0 and ret.value is None
    sim.advance_to(expected_end)
    assert xu.completed_num == 1 and ret.value == nrt.NRT_SUCCESS
    assert rt.nrta_is_completed(seq.value, done) == nrt.NRT_SUCCESS and done.value is True
    assert rt.request(seq.value).end_ns == expected_end


def test_k_executes_on_one_queue():
    duration = 50_000
    sim, rt = open_runtime()
    neff = neuronsim.Neff(inputs={"x": ((16,), "float32")}, outputs={"y": ((16,), "float32")}, duration_ns=duration)
    model, ins, outs = model_with_io(rt, neff)
    t0 = sim.now_ns
    seqs = []
    for _ in range(5):
        status, _, seq = schedule_execute(rt, model, ins, outs)
        assert status == nrt.NRT_SUCCESS
        seqs.append(seq.value)
    sim.run_until_idle()
    ends = [rt.request(s).end_ns for s in seqs]
    assert ends == [t0 + SCHEDULE + j * duration for j in range(1, 6)]
    starts = [rt.request(s).start_ns for s in seqs]
    assert starts == [t0 + SCHEDULE] + ends[:-1]
    assert [nrt.NRTA_SEQ_GET_SEQ_NUM(s) for s in seqs] == [1, 2, 3, 4, 5]


def test_two_queues_run_concurrently():
    """A read (device-to-host) on Tensor Op queue 1 and an execute on Compute queue 0 overlap fully."""
    duration = 100_000
    sim, rt = open_runtime()
    neff = neuronsim.Neff(inputs={"x": ((16,), "float32")}, outputs={"y": ((16,), "float32")}, duration_ns=duration)
    model, ins, outs = model_with_io(rt, neff)
    buf = tensor(rt, 1 << 20, name="buf")
    host = np.zeros(1 << 20, dtype=np.uint8)
    t0 = sim.now_ns
    _, _, eseq = schedule_execute(rt, model, ins, outs)
    ret, rseq = nrt.Ref(), nrt.Ref()
    assert rt.nrta_tensor_read(host, buf, 0, 1 << 20, 0, 1, ret, rseq) == nrt.NRT_SUCCESS
    sim.run_until_idle()
    assert rt.request(eseq.value).end_ns == t0 + SCHEDULE + duration
    read_start = t0 + 2 * SCHEDULE
    assert rt.request(rseq.value).start_ns == read_start
    assert rt.request(rseq.value).end_ns == read_start + SETUP + (1 << 20) // 16 + PCIE_LAT


def test_two_writes_on_two_queues_share_the_pcie_link():
    sim, rt = open_runtime()
    a, b = tensor(rt, 1 << 20, name="a"), tensor(rt, 1 << 20, name="b")
    host = np.zeros(1 << 20, dtype=np.uint8)
    t0 = sim.now_ns
    s1, s2 = nrt.Ref(), nrt.Ref()
    rt.nrta_tensor_write(a, host, 0, 1 << 20, 0, 0, nrt.Ref(), s1)
    rt.nrta_tensor_write(b, host, 0, 1 << 20, 0, 1, nrt.Ref(), s2)
    sim.run_until_idle()
    ser = (1 << 20) // 16
    first_data = t0 + SCHEDULE + SETUP
    assert rt.request(s1.value).end_ns == first_data + ser + PCIE_LAT
    # the second waits for the link (FIFO reservation), then streams
    assert rt.request(s2.value).end_ns == first_data + 2 * ser + PCIE_LAT


def test_a_write_and_an_execute_contend_for_hbm():
    sim, rt = open_runtime()
    hbm_bytes = 41_000_000  # 100_000 ns of the stack at 410 B/ns
    neff = neuronsim.Neff(inputs={"x": ((16,), "float32")}, outputs={"y": ((16,), "float32")},
                          cost=neuronsim.Roofline(flops=0, hbm_bytes=hbm_bytes))
    model, ins, outs = model_with_io(rt, neff)
    x = tensor(rt, 1 << 20, vnc=0, name="same-stack")
    host = np.zeros(1 << 20, dtype=np.uint8)
    t0 = sim.now_ns
    _, _, eseq = schedule_execute(rt, model, ins, outs)
    wseq = nrt.Ref()
    rt.nrta_tensor_write(x, host, 0, 1 << 20, 0, 0, nrt.Ref(), wseq)
    sim.run_until_idle()
    hbm_free = t0 + SCHEDULE + 100_000
    assert rt.request(eseq.value).end_ns == hbm_free
    # the write streams at PCIe speed; the stack, busy with the execution until hbm_free, does the write's
    # share (1 MiB at 410 B/ns) after that: the write ends one HBM serialisation after hbm_free
    assert rt.request(wseq.value).end_ns == hbm_free + math.ceil((1 << 20) / HBM_BW) + PCIE_LAT
    # the same write to core 1 (its own HBM stack on trn1) does not wait
    sim2, rt2 = open_runtime()
    model2, ins2, outs2 = model_with_io(rt2, neff)
    y = tensor(rt2, 1 << 20, vnc=1, name="other-stack")
    t1 = sim2.now_ns
    schedule_execute(rt2, model2, ins2, outs2)
    wseq2 = nrt.Ref()
    rt2.nrta_tensor_write(y, host, 0, 1 << 20, 1, 0, nrt.Ref(), wseq2)
    sim2.run_until_idle()
    assert rt2.request(wseq2.value).end_ns == t1 + 2 * SCHEDULE + SETUP + (1 << 20) // 16 + PCIE_LAT


def test_roofline_compute_bound():
    sim, rt = open_runtime("trn2.48xlarge", env={"NEURON_RT_VISIBLE_CORES": "0"})
    flops = 10**9
    neff = neuronsim.Neff(inputs={"x": ((16,), "float32")}, outputs={"y": ((16,), "float32")},
                          cost=neuronsim.Roofline(flops=flops, hbm_bytes=0))
    model, ins, outs = model_with_io(rt, neff)
    t0 = sim.now_ns
    _, _, seq = schedule_execute(rt, model, ins, outs)
    sim.run_until_idle()
    peak = 78643.2 * 2  # LNC=2: two physical NC-v3
    assert rt.request(seq.value).end_ns == t0 + SCHEDULE + math.ceil(flops / peak)


def test_completion_at_t_is_visible_to_a_call_ending_at_t():
    sim, rt = open_runtime()
    neff = neuronsim.Neff(inputs={"x": ((16,), "float32")}, outputs={"y": ((16,), "float32")}, duration_ns=100)
    model, ins, outs = model_with_io(rt, neff)
    _, ret, seq = schedule_execute(rt, model, ins, outs)
    # the query costs 100 ns: it ends exactly when the execution does and sees it complete
    done = nrt.Ref()
    assert rt.nrta_is_completed(seq.value, done) == nrt.NRT_SUCCESS
    assert done.value is True and ret.value == nrt.NRT_SUCCESS


def test_remote_numa_host_memory_pays_the_configured_penalty_exactly():
    """trn1.32xlarge: device 0 is on NUMA node 0. A host thread on node 1 reaches it across sockets:
    PCIe carries the bytes at 75 % of its bandwidth (ceil(N / 0.75) at 16 B/ns) and 400 ns more latency."""
    results = {}
    for node in (0, 1):
        sim = neuronsim.Simulator("trn1.32xlarge", record=True)
        rt = sim.runtime(env={"NEURON_RT_VISIBLE_CORES": "0"}, numa_node=node)
        rt.nrt_init(nrt.NRT_FRAMEWORK_TYPE_NO_FW, "", "")
        x = tensor(rt, 1 << 20)
        t0 = sim.now_ns
        seq = nrt.Ref()
        rt.nrta_tensor_write(x, np.zeros(1 << 20, np.uint8), 0, 1 << 20, 0, 0, nrt.Ref(), seq)
        sim.run_until_idle()
        results[node] = rt.request(seq.value).end_ns - t0
    assert results[0] == SCHEDULE + SETUP + (1 << 20) // 16 + PCIE_LAT
    remote_pcie = math.ceil(math.ceil((1 << 20) / 0.75) / 16)
    assert results[1] == SCHEDULE + SETUP + remote_pcie + PCIE_LAT + 400
    assert results[1] - results[0] == remote_pcie - (1 << 20) // 16 + 400


def test_numa_node_must_exist():
    with pytest.raises(neuronsim.ConfigError, match="NUMA node 5 does not exist"):
        neuronsim.Simulator("trn1.32xlarge").runtime(numa_node=5)
