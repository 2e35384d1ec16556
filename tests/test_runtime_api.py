"""The nrt_* / nrta_* mirror: statuses, environment variables, tensors, models and data."""

from __future__ import annotations

import numpy as np
import pytest

import neuronsim
from neuronsim import nrt
from tests.helpers import load, model_with_io, open_runtime, schedule_execute, tensor, tensor_set

DEV = nrt.NRT_TENSOR_PLACEMENT_DEVICE
HOST = nrt.NRT_TENSOR_PLACEMENT_HOST


def small_neff(duration_ns=10_000, kernel=None):
    return neuronsim.Neff(inputs={"x": ((256,), "float32")}, outputs={"y": ((256,), "float32")},
                          duration_ns=duration_ns, kernel=kernel)


# -- init / close --------------------------------------------------------------------------------

def test_calls_outside_init_and_close():
    sim = neuronsim.Simulator("trn1.32xlarge")
    rt = sim.runtime()
    out = nrt.Ref()
    assert rt.nrt_tensor_allocate(DEV, 0, 16, "t", out) == nrt.NRT_UNINITIALIZED
    assert rt.nrta_get_sequence(0, nrt.NRTA_XU_COMPUTE, 0, out) == nrt.NRT_UNINITIALIZED
    assert out.value is None
    assert rt.nrt_init(nrt.NRT_FRAMEWORK_TYPE_NO_FW, "", "") == nrt.NRT_SUCCESS
    assert rt.nrt_close() == nrt.NRT_SUCCESS
    assert rt.nrt_tensor_allocate(DEV, 0, 16, "t", out) == nrt.NRT_CLOSED
    assert rt.nrta_is_completed(1, out) == nrt.NRT_CLOSED


def test_reinit_after_close_restarts_sequences():
    sim, rt = open_runtime()
    model, ins, outs = model_with_io(rt, small_neff())
    _, _, seq = schedule_execute(rt, model, ins, outs)
    assert nrt.NRTA_SEQ_GET_SEQ_NUM(seq.value) == 1
    rt.nrt_close()
    assert rt.nrt_init(nrt.NRT_FRAMEWORK_TYPE_NO_FW, "", "") == nrt.NRT_SUCCESS
    assert rt.nrta_execute_schedule(model, ins, outs, 0, nrt.Ref(), nrt.Ref()) == nrt.NRT_INVALID  # unloaded
    model, ins, outs = model_with_io(rt, small_neff())
    _, _, seq = schedule_execute(rt, model, ins, outs)
    assert nrt.NRTA_SEQ_GET_SEQ_NUM(seq.value) == 1


def test_init_costs_host_time_and_bad_framework_is_invalid():
    sim = neuronsim.Simulator("trn1.2xlarge")
    rt = sim.runtime()
    assert rt.nrt_init(nrt.NRT_FRAMEWORK_TYPE_INVALID, "", "") == nrt.NRT_INVALID
    assert rt.nrt_init(42, "", "") == nrt.NRT_INVALID
    assert sim.now_ns == 0
    assert rt.nrt_init(nrt.NRT_FRAMEWORK_TYPE_PYTORCH, "2.1", "") == nrt.NRT_SUCCESS
    assert sim.now_ns == 1_000_000
    assert rt.nrt_init(nrt.NRT_FRAMEWORK_TYPE_NO_FW, "", "") == nrt.NRT_FAILURE  # already initialised


@pytest.mark.parametrize(("preset", "lnc", "total"), [("trn1.32xlarge", None, 32), ("inf2.48xlarge", None, 24),
                                                      ("trn2.48xlarge", None, 64), ("trn2.48xlarge", 1, 128)])
def test_total_vnc_count_before_init(preset, lnc, total):
    rt = neuronsim.Simulator(preset, lnc=lnc).runtime(env={"NEURON_RT_VISIBLE_CORES": "4-7"})
    count = nrt.Ref()
    assert rt.nrt_get_total_vnc_count(count) == nrt.NRT_SUCCESS and count.value == total
    assert rt.nrt_get_total_nc_count(count) == nrt.NRT_SUCCESS and count.value == total
    assert rt.nrt_get_visible_vnc_count(count) == nrt.NRT_SUCCESS and count.value == 4
    assert rt.nrt_get_visible_nc_count(count) == nrt.NRT_SUCCESS and count.value == 4


def test_visible_cores_restart_at_zero_and_are_exclusive():
    sim = neuronsim.Simulator("trn1.32xlarge")
    a = sim.runtime(env={"NEURON_RT_VISIBLE_CORES": "3,4"})
    assert a.nrt_init(nrt.NRT_FRAMEWORK_TYPE_NO_FW, "", "") == nrt.NRT_SUCCESS
    assert a.visible_cores == (3, 4)
    t = nrt.Ref()
    assert a.nrt_tensor_allocate(DEV, 1, 16, "t", t) == nrt.NRT_SUCCESS
    assert t.value.core.id == 4
    assert a.nrt_tensor_allocate(DEV, 2, 16, "t", t) == nrt.NRT_INVALID
    b = sim.runtime(env={"NEURON_RT_VISIBLE_CORES": "4-5"})
    assert b.nrt_init(nrt.NRT_FRAMEWORK_TYPE_NO_FW, "", "") == nrt.NRT_RESOURCE
    c = sim.runtime(env={"NEURON_RT_NUM_CORES": "4"})
    assert c.nrt_init(nrt.NRT_FRAMEWORK_TYPE_NO_FW, "", "") == nrt.NRT_SUCCESS
    assert c.visible_cores == (5, 6, 7, 8)  # the first 4 free contiguous cores
    assert a.nrt_close() == nrt.NRT_SUCCESS
    assert b.nrt_init(nrt.NRT_FRAMEWORK_TYPE_NO_FW, "", "") == nrt.NRT_RESOURCE  # 5 is still c's
    d = sim.runtime(env={"NEURON_RT_VISIBLE_CORES": "3-4"})
    assert d.nrt_init(nrt.NRT_FRAMEWORK_TYPE_NO_FW, "", "") == nrt.NRT_SUCCESS


@pytest.mark.parametrize(("env", "status"), [
    ({"NEURON_RT_VISIBLE_CORES": "3,5,6"}, nrt.NRT_INVALID),  # not contiguous
    ({"NEURON_RT_VISIBLE_CORES": "30-33"}, nrt.NRT_INVALID),  # beyond the instance
    ({"NEURON_RT_VISIBLE_CORES": "two"}, nrt.NRT_INVALID),
    ({"NEURON_RT_NUM_CORES": "33"}, nrt.NRT_RESOURCE),
    ({"NEURON_LOGICAL_NC_CONFIG": "2"}, nrt.NRT_INVALID),  # trn1 has no LNC=2
    ({"NEURON_RT_EXEC_TIMEOUT": "soon"}, nrt.NRT_INVALID),
])
def test_bad_environment(env, status):
    rt = neuronsim.Simulator("trn1.32xlarge").runtime(env=env)
    assert rt.nrt_init(nrt.NRT_FRAMEWORK_TYPE_NO_FW, "", "") == status


def test_lnc_environment_is_the_process_own():
    sim = neuronsim.Simulator("trn2.48xlarge", lnc=1)
    rt2 = sim.runtime(env={"NEURON_LOGICAL_NC_CONFIG": "2", "NEURON_RT_VISIBLE_CORES": "1"})
    assert rt2.nrt_init(1, "", "") == nrt.NRT_SUCCESS  # LNC=2 core 1: physical cores 2-3 of device 0
    rt = sim.runtime(env={"NEURON_LOGICAL_NC_CONFIG": "1", "NEURON_RT_VISIBLE_CORES": "0"})
    assert rt.nrt_init(1, "", "") == nrt.NRT_SUCCESS
    taken = sim.runtime(env={"NEURON_LOGICAL_NC_CONFIG": "1", "NEURON_RT_VISIBLE_CORES": "3"})
    assert taken.nrt_init(1, "", "") == nrt.NRT_RESOURCE  # physical core 3 is rt2's


def test_exec_timeout_env_is_read_at_init():
    rt = neuronsim.Simulator("trn1.2xlarge").runtime(env={"NEURON_RT_EXEC_TIMEOUT": "600"})
    assert rt.exec_timeout_ns == 30 * 10**9
    rt.nrt_init(1, "", "")
    assert rt.exec_timeout_ns == 600 * 10**9


# -- tensors ---------------------------------------------------------------------------------------

def test_hbm_capacity_is_accounted_per_stack():
    sim, rt = open_runtime("trn1.32xlarge")
    usable = 16 * 2**30 - 16 * 2**20 - 96 * 2**20  # firmware carve-out and micro-code taken
    big = nrt.Ref()
    assert rt.nrt_tensor_allocate(DEV, 0, usable, "all", big) == nrt.NRT_SUCCESS
    one = nrt.Ref()
    assert rt.nrt_tensor_allocate(DEV, 0, 1, "more", one) == nrt.NRT_RESOURCE
    assert one.value is None
    assert rt.nrt_tensor_allocate(DEV, 1, 1, "other core", one) == nrt.NRT_SUCCESS
    assert rt.nrt_tensor_free(big) == nrt.NRT_SUCCESS and big.value is None
    assert rt.nrt_tensor_allocate(DEV, 0, 1, "more", one) == nrt.NRT_SUCCESS


def test_trn2_lnc1_cores_share_a_stack():
    sim, rt = open_runtime("trn2.48xlarge", env={"NEURON_RT_VISIBLE_CORES": "0-1"}, lnc=1)
    usable = 24 * 2**30 - 16 * 2**20 - 2 * 96 * 2**20
    assert rt.nrt_tensor_allocate(DEV, 0, usable - 8192, "a", nrt.Ref()) == nrt.NRT_SUCCESS
    assert rt.nrt_tensor_allocate(DEV, 1, 8193, "b", nrt.Ref()) == nrt.NRT_RESOURCE  # three 4 KiB granules
    assert rt.nrt_tensor_allocate(DEV, 1, 8192, "b", nrt.Ref()) == nrt.NRT_SUCCESS


def test_allocation_arguments():
    sim, rt = open_runtime()
    out = nrt.Ref()
    assert rt.nrt_tensor_allocate(DEV, 0, 0, "empty", out) == nrt.NRT_INVALID
    assert rt.nrt_tensor_allocate(DEV, 0, -5, "neg", out) == nrt.NRT_INVALID
    assert rt.nrt_tensor_allocate(7, 0, 16, "bad placement", out) == nrt.NRT_INVALID
    assert rt.nrt_tensor_allocate(DEV, 0, 16, "no out", None) == nrt.NRT_INVALID
    assert rt.nrt_tensor_allocate(DEV, "0", 16, "str vnc", out) == nrt.NRT_INVALID
    assert rt.nrt_tensor_allocate(HOST, -1, 4 * 2**20 + 1, "too big", out) == nrt.NRT_RESOURCE
    assert out.value is None
    assert rt.nrt_tensor_allocate(HOST, -1, 4 * 2**20, "host", out) == nrt.NRT_SUCCESS
    assert rt.nrt_tensor_get_size(out.value) == 4 * 2**20


def test_slices_share_bytes_and_memset():
    sim, rt = open_runtime()
    base = tensor(rt, 1024, name="base")
    piece = nrt.Ref()
    assert rt.nrt_tensor_allocate_slice(base, 256, 128, "piece", piece) == nrt.NRT_SUCCESS
    assert rt.nrt_tensor_get_size(piece.value) == 128
    assert rt.nrt_tensor_allocate_slice(base, 1000, 25, "past the end", nrt.Ref()) == nrt.NRT_INVALID
    assert rt.nrt_tensor_memset(piece.value, 0, 0xAB, 128) == nrt.NRT_SUCCESS
    host = np.zeros(1024, dtype=np.uint8)
    ret, seq = nrt.Ref(), nrt.Ref()
    assert rt.nrta_tensor_read(host, base, 0, 1024, 0, 0, ret, seq) == nrt.NRT_SUCCESS
    sim.run_until_idle()
    expected = np.zeros(1024, dtype=np.uint8)
    expected[256:384] = 0xAB
    assert ret.value == nrt.NRT_SUCCESS and np.array_equal(host, expected)
    # freeing the base keeps the memory while the slice lives
    pool = base.alloc.pool
    used = pool.used_bytes
    rt.nrt_tensor_free(nrt.Ref(base))
    assert pool.used_bytes == used
    rt.nrt_tensor_free(piece)
    assert pool.used_bytes == used - 4096  # 1 KiB took one 4 KiB granule


def test_tensor_sets():
    sim, rt = open_runtime()
    t = tensor(rt, 16)
    s = tensor_set(rt, x=t)
    out = nrt.Ref("untouched")
    assert rt.nrt_get_tensor_from_tensor_set(s, "missing", out) == nrt.NRT_FAILURE
    assert out.value == "untouched"  # "nothing gets written"
    assert rt.nrt_get_tensor_from_tensor_set(s, "x", out) == nrt.NRT_SUCCESS and out.value is t
    cell = nrt.Ref(s)
    assert rt.nrt_destroy_tensor_set(cell) == nrt.NRT_SUCCESS and cell.value is None
    assert rt.nrt_add_tensor_to_tensor_set(s, "y", t) == nrt.NRT_INVALID


# -- models ----------------------------------------------------------------------------------------

def test_load_picks_the_first_free_core_and_reports_io():
    sim, rt = open_runtime()
    neff = small_neff()
    m0, m1 = load(rt, neff, -1), load(rt, neff, -1)
    assert (m0.vnc, m1.vnc) == (0, 1)
    assert rt.nrt_load(neff, -1, -1, nrt.Ref()) == nrt.NRT_LOAD_NOT_ENOUGH_NC
    assert rt.nrt_load(neff, 5, -1, nrt.Ref()) == nrt.NRT_INVALID
    assert rt.nrt_load(neff, 0, 2, nrt.Ref()) == nrt.NRT_INVALID
    assert rt.nrt_load(b"not a neff", 0, -1, nrt.Ref()) == nrt.NRT_INVALID
    info = nrt.Ref()
    assert rt.nrt_get_model_tensor_info(m0, info) == nrt.NRT_SUCCESS
    entries = [(i.name, i.usage, i.size, i.dtype, i.shape) for i in info.value.tensor_array]
    assert entries == [("x", nrt.NRT_TENSOR_USAGE_INPUT, 1024, nrt.NRT_DTYPE_FLOAT32, (256,)),
                       ("y", nrt.NRT_TENSOR_USAGE_OUTPUT, 1024, nrt.NRT_DTYPE_FLOAT32, (256,))]
    assert rt.nrt_unload(m0) == nrt.NRT_SUCCESS
    assert rt.nrt_unload(m0) == nrt.NRT_INVALID
    assert load(rt, neff, -1).vnc == 0


def test_execute_io_must_match_the_model():
    sim, rt = open_runtime()
    neff = small_neff()
    model, ins, outs = model_with_io(rt, neff)
    wrong_size = tensor_set(rt, x=tensor(rt, 512))
    wrong_name = tensor_set(rt, z=tensor(rt, 1024))
    seq = nrt.Ref()
    assert rt.nrta_execute_schedule(model, wrong_size, outs, 0, nrt.Ref(), seq) == nrt.NRT_INVALID
    assert rt.nrta_execute_schedule(model, wrong_name, outs, 0, nrt.Ref(), seq) == nrt.NRT_INVALID
    assert seq.value is None


# -- the async API: bad arguments change nothing ---------------------------------------------------

def test_bad_arguments_return_statuses_and_consume_no_sequence_number():
    sim, rt = open_runtime()
    neff = small_neff()
    model, ins, outs = model_with_io(rt, neff)
    t = tensor(rt, 1024)
    host_t = nrt.Ref()
    rt.nrt_tensor_allocate(HOST, -1, 1024, "host", host_t)
    buf = np.zeros(1024, dtype=np.uint8)
    r, s = nrt.Ref(), nrt.Ref()
    bad = [
        rt.nrta_execute_schedule(model, ins, outs, 1, r, s),  # queue must be 0
        rt.nrta_execute_schedule(model, ins, outs, -1, r, s),
        rt.nrta_execute_schedule(None, ins, outs, 0, r, s),
        rt.nrta_execute_schedule(model, ins, outs, 0, None, s),  # NULL ret
        rt.nrta_execute_schedule(model, ins, outs, 0, r, None),  # NULL seq
        rt.nrta_tensor_write(t, buf, 0, 1024, 0, 2, r, s),  # Tensor Op queues are 0..1
        rt.nrta_tensor_write(t, buf, 0, 1024, 2, 0, r, s),  # no lnc 2 in this process
        rt.nrta_tensor_write(t, buf, 1, 1024, 0, 0, r, s),  # offset + size beyond the tensor
        rt.nrta_tensor_write(t, buf, 0, 0, 0, 0, r, s),  # empty transfer
        rt.nrta_tensor_write(t, None, 0, 1024, 0, 0, r, s),  # NULL buffer
        rt.nrta_tensor_write(t, buf[:10], 0, 1024, 0, 0, r, s),  # buffer too small
        rt.nrta_tensor_write(host_t.value, buf, 0, 1024, 0, 0, r, s),  # host tensors are rejected
        rt.nrta_tensor_read(bytes(1024), t, 0, 1024, 0, 0, r, s),  # read into a read-only buffer
        rt.nrta_tensor_read(buf, "tensor", 0, 1024, 0, 0, r, s),
        rt.nrta_tensor_copy(t, 0, tensor(rt, 1024, vnc=1), 0, 1024, 0, 0, r, s),  # different cores
        rt.nrta_is_completed(1, r),  # never issued
        rt.nrta_is_completed((0x7F << 48) | 1, r),  # no such execution unit
        rt.nrta_is_completed(None, r),
        rt.nrta_get_sequence(0, 3, 0, r),  # no such XU type
        rt.nrta_get_sequence(0, nrt.NRTA_XU_COLLECTIVES, 3, r),  # collectives queues are 0..2
        rt.nrta_get_sequence(9, nrt.NRTA_XU_COMPUTE, 0, r),
    ]
    assert bad == [nrt.NRT_INVALID] * len(bad)
    assert (r.value, s.value) == (None, None)
    assert rt.history == []
    for xu in rt.execution_units():
        assert xu.last_submitted_num == 0


def test_get_sequence_on_an_idle_queue_has_the_queue_bits_and_counter_zero():
    sim, rt = open_runtime()
    seq = nrt.Ref()
    assert rt.nrta_get_sequence(1, nrt.NRTA_XU_COMPUTE, 0, seq) == nrt.NRT_SUCCESS
    assert nrt.NRTA_SEQ_GET_SEQ_NUM(seq.value) == 0
    assert nrt.NRTA_SEQ_GET_XU_ID(seq.value) == 0x101  # {type 1, queue 0, vnc 1}
    assert rt.nrta_get_sequence(0, nrt.NRTA_XU_COLLECTIVES, 2, seq) == nrt.NRT_SUCCESS
    assert seq.value == (0x022 << 48)
    assert rt.nrta_get_sequence(1, nrt.NRTA_XU_TENSOR_OP, 1, seq) == nrt.NRT_SUCCESS
    assert seq.value == (0x110 << 48)


def test_queue_full_changes_nothing():
    sim, rt = open_runtime()
    model, ins, outs = model_with_io(rt, small_neff(duration_ns=1_000_000))
    seqs = []
    for _ in range(8):
        status, _, seq = schedule_execute(rt, model, ins, outs)
        assert status == nrt.NRT_SUCCESS
        seqs.append(seq.value)
    xu = rt.execution_unit(0, nrt.NRTA_XU_COMPUTE, 0)
    assert xu.depth == 8
    ret, seq = nrt.Ref(), nrt.Ref()
    assert rt.nrta_execute_schedule(model, ins, outs, 0, ret, seq) == nrt.NRT_QUEUE_FULL
    assert (ret.value, seq.value, xu.depth, xu.last_submitted_num) == (None, None, 8, 8)
    sim.run_for_ns(1_000_000)  # the first completes
    status, _, seq = schedule_execute(rt, model, ins, outs)
    assert status == nrt.NRT_SUCCESS and seq.value == seqs[-1] + 1


# -- data ------------------------------------------------------------------------------------------

def test_kernel_computes_real_outputs():
    sim, rt = open_runtime()
    neff = small_neff(kernel=lambda x: {"y": x * 2 + 1})
    model, ins, outs = model_with_io(rt, neff)
    x = np.linspace(-1, 1, 256, dtype=np.float32)
    xt = ins.tensors["x"]
    r = nrt.Ref()
    rt.nrta_tensor_write(xt, x, 0, x.nbytes, 0, 0, r, nrt.Ref())
    sim.run_until_idle()
    _, eret, _ = schedule_execute(rt, model, ins, outs)
    sim.run_until_idle()
    y = np.empty(256, dtype=np.float32)
    rt.nrta_tensor_read(y, outs.tensors["y"], 0, y.nbytes, 0, 0, nrt.Ref(), nrt.Ref())
    sim.run_until_idle()
    assert eret.value == nrt.NRT_SUCCESS
    np.testing.assert_array_equal(y, x * 2 + 1)


def test_a_failing_kernel_is_the_request_status():
    sim, rt = open_runtime()
    model, ins, outs = model_with_io(rt, small_neff(kernel=lambda x: {"y": x[:3]}))
    _, ret, seq = schedule_execute(rt, model, ins, outs)
    sim.run_until_idle()
    assert ret.value == nrt.NRT_FAILURE
    assert "expected 1024" in str(rt.request(seq.value).error)


def test_ordering_bugs_show_up_as_wrong_data():
    """An execute scheduled on Compute before the write on Tensor Op completes reads the old bytes."""
    sim, rt = open_runtime()
    model, ins, outs = model_with_io(rt, small_neff(kernel=lambda x: {"y": x}))
    x = np.full(256, 7.0, dtype=np.float32)
    rt.nrta_tensor_write(ins.tensors["x"], x, 0, x.nbytes, 0, 0, nrt.Ref(), nrt.Ref())
    schedule_execute(rt, model, ins, outs)  # no wait: the execution starts before the write lands
    sim.run_until_idle()
    y = np.empty(256, dtype=np.float32)
    rt.nrta_tensor_read(y, outs.tensors["y"], 0, y.nbytes, 0, 0, nrt.Ref(), nrt.Ref())
    sim.run_until_idle()
    assert not y.any()  # zeros: the input was read before the write landed


def test_host_buffer_is_filled_only_when_the_read_completes():
    sim, rt = open_runtime()
    t = tensor(rt, 4096)
    rt.nrt_tensor_memset(t, 0, 1, 4096)
    host = np.full(4096, 9, dtype=np.uint8)
    ret, seq = nrt.Ref(), nrt.Ref()
    rt.nrta_tensor_read(host, t, 0, 4096, 0, 0, ret, seq)
    assert (host == 9).all() and ret.value is None
    sim.run_until_idle()
    assert (host == 1).all() and ret.value == nrt.NRT_SUCCESS


def test_timing_only_keeps_no_bytes():
    sim, rt = open_runtime("trn2.48xlarge", env={"NEURON_RT_VISIBLE_CORES": "0"}, timing_only=True)
    big = tensor(rt, 20 * 2**30)
    assert big.alloc.storage is None
    ret = nrt.Ref()
    assert rt.nrta_tensor_write(big, None, 0, 1 << 30, 0, 0, ret, nrt.Ref()) == nrt.NRT_SUCCESS
    sim.run_until_idle()
    assert ret.value == nrt.NRT_SUCCESS


def test_simulators_do_not_interfere_and_are_deterministic():
    def run(seed):
        sim, rt = open_runtime(seed=seed)
        model, ins, outs = model_with_io(rt, small_neff())
        t = tensor(rt, 1 << 16)
        host = np.zeros(1 << 16, dtype=np.uint8)
        for i in range(20):
            rt.nrta_tensor_write(t, host, 0, 1 << 16, 0, i % 2, nrt.Ref(), nrt.Ref())
            schedule_execute(rt, model, ins, outs)
            sim.run_for_ns(3_000)
        sim.run_until_idle()
        return [(r.kind, r.seq_id, r.submit_ns, r.start_ns, r.end_ns, int(r.status)) for r in rt.history]

    assert run(0) == run(0)
    a_sim, a_rt = open_runtime()
    b_sim, b_rt = open_runtime()
    assert a_rt.nrt_tensor_allocate(DEV, 0, 16, "a", nrt.Ref()) == nrt.NRT_SUCCESS
    assert b_sim.now_ns < a_sim.now_ns


def test_nrt_close_lets_the_work_in_flight_finish_before_another_process_gets_the_cores():
    """Four 2 ms executions in flight at nrt_close: from the host the call waits for them (their status cells
    are written), and a second process's execution on core 0 starts only after them; from a process-mode
    thread the close returns at once and the cores stay held (NRT_RESOURCE) until the last completes (A138).
    It released the cores at once: the second process ran on core 0 under the first one's executions."""
    two_ms = neuronsim.Neff(inputs={"x": ((4,), "float32")}, outputs={"y": ((4,), "float32")}, duration_ns=2_000_000)
    sim, a = open_runtime("trn1.2xlarge", env={"NEURON_RT_VISIBLE_CORES": "0"})
    model, ins, outs = model_with_io(a, two_ms)
    rets = [schedule_execute(a, model, ins, outs)[1] for _ in range(4)]
    started = sim.now_ns
    a.nrt_close()
    assert [r.value for r in rets] == [nrt.NRT_SUCCESS] * 4 and sim.now_ns >= started + 4 * 2_000_000
    b = sim.runtime(env={"NEURON_RT_VISIBLE_CORES": "0"})
    assert b.nrt_init(nrt.NRT_FRAMEWORK_TYPE_NO_FW, "", "") == nrt.NRT_SUCCESS
    assert b.nrt_close() == nrt.NRT_SUCCESS

    sim, a = open_runtime("trn1.2xlarge", env={"NEURON_RT_VISIBLE_CORES": "0"})
    model, ins, outs = model_with_io(a, two_ms)
    seen = {}

    def closer(thread):
        for _ in range(4):
            ret, seq = nrt.Ref(), nrt.Ref()
            yield from thread.call(a.nrta_execute_schedule, model, ins, outs, 0, ret, seq)
        yield from thread.call(a.nrt_close)
        seen["closed_at"] = sim.now_ns

    sim.spawn(closer, a, cpus="0")
    sim.run_for_ns(2_000_000)  # the close has returned; two executions are still to run
    b = sim.runtime(env={"NEURON_RT_VISIBLE_CORES": "0"})
    assert "closed_at" in seen and b.nrt_init(nrt.NRT_FRAMEWORK_TYPE_NO_FW, "", "") == nrt.NRT_RESOURCE
    sim.run_until_idle()
    assert b.nrt_init(nrt.NRT_FRAMEWORK_TYPE_NO_FW, "", "") == nrt.NRT_SUCCESS
