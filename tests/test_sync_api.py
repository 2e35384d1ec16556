"""The synchronous API: nrt_execute, nrt_execute_repeat, blocking tensor calls, batches, the timeout."""

from __future__ import annotations

import logging

import numpy as np

import neuronsim
from neuronsim import nrt
from tests.helpers import model_with_io, open_runtime, tensor

D = 50_000


def neff(duration_ns=D, kernel=lambda x: {"y": x + 1}):
    return neuronsim.Neff(inputs={"x": ((256,), "float32")}, outputs={"y": ((256,), "float32")},
                          duration_ns=duration_ns, kernel=kernel)


def test_nrt_execute_blocks_until_done_and_returns_its_status():
    sim, rt = open_runtime()
    model, ins, outs = model_with_io(rt, neff())
    x = np.arange(256, dtype=np.float32)
    assert rt.nrt_tensor_write(ins.tensors["x"], x, 0, x.nbytes) == nrt.NRT_SUCCESS
    t0 = sim.now_ns
    assert rt.nrt_execute(model, ins, outs) == nrt.NRT_SUCCESS
    assert sim.now_ns == t0 + 2000 + D  # the call's host cost, then the execution: the host waited
    y = np.empty(256, dtype=np.float32)
    assert rt.nrt_tensor_read(outs.tensors["y"], y, 0, y.nbytes) == nrt.NRT_SUCCESS
    np.testing.assert_array_equal(y, x + 1)


def test_reads_and_writes_are_blocking_and_exact():
    sim, rt = open_runtime()
    t = tensor(rt, 1 << 20)
    data = np.full(1 << 20, 5, np.uint8)
    t0 = sim.now_ns
    assert rt.nrt_tensor_write(t, data, 0, 1 << 20) == nrt.NRT_SUCCESS
    assert sim.now_ns == t0 + 1000 + 1300 + (1 << 20) // 16 + 1000  # call, DMA setup, PCIe, latency
    back = np.zeros(1 << 20, np.uint8)
    assert rt.nrt_tensor_read(t, back, 0, 1 << 20) == nrt.NRT_SUCCESS
    assert (back == 5).all()
    # they use their own queues: the nrta Tensor Op queues saw nothing
    last = nrt.Ref()
    rt.nrta_get_sequence(0, nrt.NRTA_XU_TENSOR_OP, 0, last)
    assert nrt.NRTA_SEQ_GET_SEQ_NUM(last.value) == 0


def test_copy_between_placements():
    sim, rt = open_runtime()
    a, b = tensor(rt, 64, name="a"), tensor(rt, 64, name="b")
    c = tensor(rt, 64, vnc=1, name="c")
    h = tensor(rt, 64, name="h", placement=nrt.NRT_TENSOR_PLACEMENT_HOST)
    rt.nrt_tensor_write(a, np.arange(64, dtype=np.uint8), 0, 64)
    assert rt.nrt_tensor_copy(a, 0, b, 0, 64) == nrt.NRT_SUCCESS
    assert rt.nrt_tensor_copy(a, 0, c, 0, 64) == nrt.NRT_INVALID  # another core
    assert rt.nrt_tensor_copy(b, 16, h, 0, 32) == nrt.NRT_SUCCESS  # device -> host
    out = np.zeros(32, np.uint8)
    assert rt.nrt_tensor_read(h, out, 0, 32) == nrt.NRT_SUCCESS
    np.testing.assert_array_equal(out, np.arange(16, 48, dtype=np.uint8))
    assert rt.nrt_tensor_copy(a, 60, b, 0, 8) == nrt.NRT_INVALID  # past the end


def test_batches_queue_every_op_then_wait():
    sim, rt = open_runtime()
    t = tensor(rt, 4096)
    ops = [nrt.nrt_tensor_batch_op_t(k * 1024, 1024, np.full(1024, k + 1, np.uint8)) for k in range(4)]
    assert rt.nrt_tensor_write_batch([nrt.nrt_tensor_batch_t(t, ops)], 1, False) == nrt.NRT_SUCCESS
    outs = [np.zeros(1024, np.uint8) for _ in range(4)]
    read_ops = [nrt.nrt_tensor_batch_op_t(k * 1024, 1024, outs[k]) for k in range(4)]
    assert rt.nrt_tensor_read_batch([nrt.nrt_tensor_batch_t(t, read_ops)], 1, False) == nrt.NRT_SUCCESS
    assert [int(o[0]) for o in outs] == [1, 2, 3, 4]
    bad = [nrt.nrt_tensor_batch_op_t(4000, 1024, np.zeros(1024, np.uint8))]
    assert rt.nrt_tensor_read_batch([nrt.nrt_tensor_batch_t(t, bad)], 1, False) == nrt.NRT_INVALID


def test_execute_repeat_feeds_outputs_back():
    sim, rt = open_runtime()
    model, ins, outs = model_with_io(rt, neff())
    rt.nrt_tensor_write(ins.tensors["x"], np.zeros(256, np.float32), 0, 1024)
    assert rt.nrt_execute_repeat(model, ins, outs, 5) == nrt.NRT_SUCCESS
    y = np.empty(256, np.float32)
    rt.nrt_tensor_read(outs.tensors["y"], y, 0, 1024)
    assert (y == 5).all()
    other = neuronsim.Neff(inputs={"x": ((256,), "float32")}, outputs={"y": ((8,), "float32")}, duration_ns=10)
    m2, i2, o2 = model_with_io(rt, other, vnc=1)
    assert rt.nrt_execute_repeat(m2, i2, o2, 2) == nrt.NRT_INVALID  # not a repeatable NEFF


def test_exec_timeout_turns_a_long_execution_into_nrt_timeout(caplog):
    sim = neuronsim.Simulator("trn1.2xlarge", record=True)
    rt = sim.runtime(env={"NEURON_RT_EXEC_TIMEOUT": "1"})
    rt.nrt_init(1, "", "")
    model, ins, outs = model_with_io(rt, neff(duration_ns=3 * 10**9))
    t0 = sim.now_ns
    with caplog.at_level(logging.ERROR, logger="neuronsim"):
        assert rt.nrt_execute(model, ins, outs) == nrt.NRT_TIMEOUT
    assert sim.now_ns - t0 == 2000 + 10**9
    # the runtime's line (nrt-api.md §3), at the timeout (it logged nothing)
    assert [r.getMessage() for r in caplog.records] == [
        f"NRT:nrt_execute (FATAL-RT-UNDEFINED-STATE) execution timeout (1000 ms) on Neuron Device 0 NC 0, model "
        f"{model.neff.name}, waiting for execution completion notification"]
    assert rt.nrt_execute(model, ins, outs) == nrt.NRT_EXEC_UNIT_UNRECOVERABLE  # the unit is dead
    assert neuronsim.check_invariants(sim) == []


def test_host_tensors_with_the_blocking_calls():
    sim, rt = open_runtime()
    h1 = tensor(rt, 64, name="h1", placement=nrt.NRT_TENSOR_PLACEMENT_HOST)
    h2 = tensor(rt, 64, name="h2", placement=nrt.NRT_TENSOR_PLACEMENT_HOST)
    d = tensor(rt, 64, name="d")
    data = np.arange(64, dtype=np.uint8)
    t0 = sim.now_ns
    assert rt.nrt_tensor_write(h1, data, 0, 64) == nrt.NRT_SUCCESS
    assert sim.now_ns - t0 == 1000  # a memcpy: only the call's host cost, no DMA
    assert rt.nrt_tensor_copy(h1, 8, h2, 0, 32) == nrt.NRT_SUCCESS  # host -> host
    assert rt.nrt_tensor_copy(h2, 0, d, 16, 32) == nrt.NRT_SUCCESS  # host -> device, over DMA
    out = np.zeros(64, np.uint8)
    assert rt.nrt_tensor_read(d, out, 0, 64) == nrt.NRT_SUCCESS
    expected = np.zeros(64, np.uint8)
    expected[16:48] = data[8:40]
    np.testing.assert_array_equal(out, expected)
    batch_out = np.zeros(16, np.uint8)
    op = nrt.nrt_tensor_batch_op_t(0, 16, batch_out)
    assert rt.nrt_tensor_read_batch([nrt.nrt_tensor_batch_t(h1, [op])], 1, False) == nrt.NRT_SUCCESS
    np.testing.assert_array_equal(batch_out, data[:16])
    assert rt.nrt_tensor_read_batch(None, 1, False) == nrt.NRT_INVALID
    assert rt.nrt_tensor_read_batch(["not a batch"], 1, False) == nrt.NRT_INVALID
