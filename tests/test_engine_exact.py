"""Exact-nanosecond closed forms of the engine (docs/explanation/hardware-model.md)."""

from __future__ import annotations

import math

import numpy as np
import pytest

import neuronsim
from neuronsim import nrt
from neuronsim.hw.channel import Channel, FlowNetwork
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


def _ends(*transfers):
    """End of each ``(start, path, setup, latency)`` transfer, run together on an offline flow network."""
    net = FlowNetwork(None)
    flows = [net.start(t, path, setup, latency) for t, path, setup, latency in transfers]
    net.run()
    return [f.end_ns for f in flows]


def test_channel_single_transfer_and_k_at_once():
    link = Channel("link", 100.0)
    # alone: ceil(1000 / 100) of bytes, then the latency
    assert _ends((0, [(link, 1000)], 0, 50)) == [60]
    # k = 3 equal transfers started together on one channel share it equally (100/3 B/ns each): all three
    # deliver together after k x the single serialisation, ceil(3 * 1000 / 100) = 30, then the latency
    assert _ends(*[(0, [(link, 1000)], 0, 50)] * 3) == [80, 80, 80]
    assert link.busy_ns == 40 and link.bytes_moved == 4000


def test_path_is_bounded_by_its_slowest_channel_and_a_fast_channel_is_shared():
    slow, fast = Channel("slow", 10.0), Channel("fast", 1000.0)
    # alone: setup, then 10_000 B at the slow channel's 10 B/ns
    assert _ends((0, [(slow, 10_000), (fast, 10_000)], 5, 0)) == [1005]
    # a transfer on the fast channel alone, started while the first streams at 10 B/ns: max-min gives it
    # the rest of the fast channel, 1000 - 10 = 990 B/ns, not half: ceil(10_000 / 990) = 11 ns
    assert _ends((0, [(slow, 10_000), (fast, 10_000)], 5, 0), (20, [(fast, 10_000)], 0, 0)) == [1005, 31]


def test_two_flows_with_different_bottlenecks_get_max_min_rates():
    """a and b (10 B/ns) bottleneck their own flows; the flow through c (1000 B/ns) is bottlenecked on the
    shared channel (1000 B/ns) where the other two take 10 each: it gets 980, not an equal third."""
    a, b, shared, c = Channel("a", 10.0), Channel("b", 10.0), Channel("shared", 1000.0), Channel("c", 1000.0)
    ends = _ends((0, [(a, 10_000), (shared, 10_000)], 0, 0), (0, [(b, 10_000), (shared, 10_000)], 0, 0),
                 (0, [(c, 10_000), (shared, 10_000)], 0, 0))
    # 10_000 B at 10 B/ns each; ceil(10_000 / 980) = 11 for the third
    assert ends == [1000, 1000, 11]
    assert shared.bytes_moved == 30_000


def test_neuronlink_delivers_after_latency_plus_serialisation():
    sim = neuronsim.Simulator("trn1.32xlarge")
    link = sim.system.links[(0, 1)]
    assert link.latency_ns == 500
    size = 96 * 2**30 // 10**6  # bytes moved in 1000 ns at 96 GiB/s (rounded down)
    assert _ends((0, [(link.channel, size)], 0, link.latency_ns)) == [1000 + 500]
    # the link is busy for the serialisation only; two at once share it: both deliver after 2 x 1000 ns
    assert _ends(*[(0, [(link.channel, size)], 0, link.latency_ns)] * 2) == [2500, 2500]
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
    # The second write's bytes start SCHEDULE ns after the first's (its call came one call later); from then
    # on they share PCIe equally (8 B/ns each, the host DMA engines are 17 B/ns). PCIe is never idle, so
    # the last byte of the two leaves 2 x ser after the first started (work conservation); the first write
    # ends while the second still has the SCHEDULE ns it started late alone at the full 16 B/ns:
    #   first:  16 * SCHEDULE B alone, the rest at 8 B/ns: SCHEDULE + (2**20 - 16 * SCHEDULE) / 8 = 2 ser - SCHEDULE
    #   second: ends at 2 ser (every byte of both moved at 16 B/ns in total)
    assert rt.request(s1.value).end_ns == first_data + 2 * ser - SCHEDULE + PCIE_LAT
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
    # The write's bytes cross PCIe (16 B/ns, its bottleneck) and the execution's stack (410 B/ns). Max-min:
    # the write gets its 16 B/ns there, the execution the remaining 394 B/ns while the write streams. So the
    # write ends exactly as it would alone, and the stack moved the execution's bytes plus the write's
    # without a gap: the execution ends ceil((hbm_bytes + 2**20) / 410) after it started, later than alone
    # (100_000 ns) by the write's bytes at the stack's bandwidth.
    assert rt.request(wseq.value).end_ns == t0 + 2 * SCHEDULE + SETUP + (1 << 20) // 16 + PCIE_LAT
    assert rt.request(eseq.value).end_ns == t0 + SCHEDULE + math.ceil((hbm_bytes + (1 << 20)) / HBM_BW)
    assert math.ceil((hbm_bytes + (1 << 20)) / HBM_BW) == 100_000 + 2558
    # the same write to core 1 (its own HBM stack on trn1) shares nothing with it
    sim2, rt2 = open_runtime()
    model2, ins2, outs2 = model_with_io(rt2, neff)
    y = tensor(rt2, 1 << 20, vnc=1, name="other-stack")
    t1 = sim2.now_ns
    _, _, eseq2 = schedule_execute(rt2, model2, ins2, outs2)
    wseq2 = nrt.Ref()
    rt2.nrta_tensor_write(y, host, 0, 1 << 20, 1, 0, nrt.Ref(), wseq2)
    sim2.run_until_idle()
    assert rt2.request(wseq2.value).end_ns == t1 + 2 * SCHEDULE + SETUP + (1 << 20) // 16 + PCIE_LAT
    assert rt2.request(eseq2.value).end_ns == t1 + SCHEDULE + 100_000


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



class _RefSub(nrt.Ref):
    """A Ref subclass: accepted by the mirror, but it takes the general path, not the hot one (A123)."""


def _mixed_calls(general: bool, caplog):
    """Writes, executes and reads, some refused, through the hot path (plain ints and ``nrt.Ref``) or the
    general one (numpy integers and a Ref subclass): every status, sequence id, end, byte and log line."""
    caplog.clear()
    sim, rt = open_runtime()
    neff = neuronsim.Neff(inputs={"x": ((16,), "float32")}, outputs={"y": ((16,), "float32")}, duration_ns=3_000)
    model, ins, outs = model_with_io(rt, neff)
    x = tensor(rt, 256, name="x2")
    host = np.arange(256, dtype=np.uint8)
    back = np.zeros(256, dtype=np.uint8)
    i = np.int64 if general else int
    cell = _RefSub if general else nrt.Ref
    seen = []
    for k in range(40):
        ret, seq = cell(), cell()
        if k % 4 == 0:
            status = rt.nrta_tensor_write(x, host, i(k % 7), i(64), i(0), i(0), ret, seq)
        elif k % 4 == 1:
            status = rt.nrta_execute_schedule(model, ins, outs, i(0), ret, seq)
        elif k % 4 == 2:
            status = rt.nrta_tensor_read(back, x, i(0), i(256 if k % 3 else 300), i(0), i(1), ret, seq)
        else:
            status = rt.nrta_tensor_write(x, host, i(0), i(16), i(1), i(0), ret, seq)  # lnc 1: the other core of the device
        seen.append((int(status), seq.value, sim.now_ns, ret))
    sim.run_until_idle()
    done = [(s, q, t, None if ret.value is None else int(ret.value),
             rt.request(q).end_ns if q is not None else None) for s, q, t, ret in seen]
    return done, back.tobytes(), sim.now_ns, [r.getMessage() for r in caplog.records]


def test_the_hot_nrta_path_and_the_general_one_agree(caplog):
    """A123: a well-formed nrta_tensor_write / read / execute_schedule takes an inlined path; the same
    calls with numpy integers and a Ref subclass take the general one: same statuses, ids, times, bytes."""
    fast = _mixed_calls(False, caplog)
    general = _mixed_calls(True, caplog)
    assert fast == general
    statuses = [s for s, *_ in fast[0]]
    assert statuses.count(int(nrt.NRT_SUCCESS)) >= 20 and int(nrt.NRT_INVALID) in statuses
    assert any("outside tensor" in line for line in fast[3])
    assert fast[1] != bytes(256)  # the reads brought back what the writes wrote
    assert len({q for _, q, *_ in fast[0] if q is not None}) == statuses.count(int(nrt.NRT_SUCCESS))


def test_mirror_calls_by_keyword_and_by_position_are_the_same_call():
    """The wrapper takes a mirror method's parameters by name: positional, keyword and mixed calls reach
    the same method; a wrong call is still the general wrapper's TypeError."""
    sim, rt = open_runtime()
    x = tensor(rt, 64)
    host = np.ones(64, dtype=np.uint8)
    seqs = []
    for call in (lambda r, s: rt.nrta_tensor_write(x, host, 0, 64, 0, 0, r, s),
                 lambda r, s: rt.nrta_tensor_write(x, host, 0, 64, 0, 0, ret=r, req_sequence=s),
                 lambda r, s: rt.nrta_tensor_write(req_sequence=s, ret=r, queue=0, lnc_idx=0, size=64, offset=0,
                                                   buf=host, tensor=x)):
        ret, seq = nrt.Ref(), nrt.Ref()
        assert call(ret, seq) == nrt.NRT_SUCCESS
        seqs.append(seq.value & 0xFFFF)
    assert seqs == [1, 2, 3]
    with pytest.raises(TypeError, match=r"^nrta_tensor_write\(\): got an unexpected keyword argument 'bogus'$"):
        rt.nrta_tensor_write(x, host, 0, 64, 0, 0, nrt.Ref(), nrt.Ref(), bogus=1)
    with pytest.raises(TypeError, match=r"^nrta_tensor_write\(\): missing a required argument: 'offset'$"):
        rt.nrta_tensor_write(x, host, size=64, lnc_idx=0, queue=0, ret=nrt.Ref(), req_sequence=nrt.Ref())
    assert rt.nrt_tensor_free.__wrapped__.__name__ == "nrt_tensor_free"
