"""The legacy implicit-async mode (NEURON_RT_ASYNC_EXEC_MAX_INFLIGHT_REQUESTS) and its limits."""

from __future__ import annotations

import numpy as np

import neuronsim
from neuronsim import nrt
from neuronsim.workload.best_practices import execution_loop
from tests.helpers import model_with_io, tensor

D = 1_000_000


def open_async(depth: str):
    sim = neuronsim.Simulator("trn1.2xlarge", record=True)
    rt = sim.runtime(env={"NEURON_RT_ASYNC_EXEC_MAX_INFLIGHT_REQUESTS": depth})
    assert rt.nrt_init(nrt.NRT_FRAMEWORK_TYPE_NO_FW, "", "") == nrt.NRT_SUCCESS
    neff = neuronsim.Neff(inputs={"x": ((256,), "float32")}, outputs={"y": ((256,), "float32")}, duration_ns=D,
                          kernel=lambda x: {"y": x * 3})
    return sim, rt, *model_with_io(rt, neff)


def test_execute_returns_at_once_and_the_callback_fires_once_per_execution():
    sim, rt, model, ins, outs = open_async("3")
    calls = []
    assert rt.nrt_register_async_exec_callback(lambda *args: calls.append(args), "ctx") == nrt.NRT_SUCCESS
    t0 = sim.now_ns
    assert [rt.nrt_execute(model, ins, outs) for _ in range(3)] == [nrt.NRT_SUCCESS] * 3
    assert sim.now_ns - t0 == 3 * 2000  # returned at once: only the calls' host time
    assert rt.nrt_execute(model, ins, outs) == nrt.NRT_QUEUE_FULL  # depth 3
    assert rt.nrt_async_drain_queued_execs(0) == nrt.NRT_SUCCESS
    assert sim.now_ns >= t0 + 3 * D
    assert [(c[0], c[1], c[2], c[3], c[4]) for c in calls] == [("ctx", model.id, 0, k, nrt.NRT_SUCCESS)
                                                              for k in (1, 2, 3)]


def test_reads_block_until_pending_executions_finish():
    sim, rt, model, ins, outs = open_async("2")
    x = np.ones(256, np.float32)
    assert rt.nrt_tensor_write(ins.tensors["x"], x, 0, 1024) == nrt.NRT_SUCCESS
    rt.nrt_execute(model, ins, outs)
    t0 = sim.now_ns
    y = np.zeros(256, np.float32)
    assert rt.nrt_tensor_read(outs.tensors["y"], y, 0, 1024) == nrt.NRT_SUCCESS
    assert sim.now_ns > t0 + D // 2  # it waited for the execution
    np.testing.assert_array_equal(y, x * 3)
    other = tensor(rt, 1024, name="unrelated")
    rt.nrt_execute(model, ins, outs)
    t1 = sim.now_ns
    rt.nrt_tensor_write(other, np.zeros(1024, np.uint8), 0, 1024)  # a write blocks only on tensors in use
    assert sim.now_ns - t1 < D // 2


def test_the_64th_in_flight_request_is_refused():
    sim, rt, model, ins, outs = open_async("100")  # above the hard limit of 63
    statuses = [rt.nrt_execute(model, ins, outs) for _ in range(64)]
    assert statuses == [nrt.NRT_SUCCESS] * 63 + [nrt.NRT_QUEUE_FULL]


def test_implicit_async_and_the_explicit_api_exclude_each_other():
    sim, rt, model, ins, outs = open_async("2")
    ret, seq = nrt.Ref(), nrt.Ref()
    assert rt.nrta_execute_schedule(model, ins, outs, 0, ret, seq) == nrt.NRT_INVALID
    assert rt.nrta_tensor_write(ins.tensors["x"], np.zeros(1024, np.uint8), 0, 1024, 0, 0, ret, seq) == nrt.NRT_INVALID
    assert seq.value is None


def test_bad_depth_and_sync_mode_by_default():
    rt = neuronsim.Simulator("trn1.2xlarge").runtime(env={"NEURON_RT_ASYNC_EXEC_MAX_INFLIGHT_REQUESTS": "x"})
    assert rt.nrt_init(1, "", "") == nrt.NRT_INVALID
    sim = neuronsim.Simulator("trn1.2xlarge")
    rt = sim.runtime(env={"NEURON_RT_ASYNC_EXEC_MAX_INFLIGHT_REQUESTS": "0"})
    rt.nrt_init(1, "", "")
    neff = neuronsim.Neff(inputs={"x": ((4,), "float32")}, outputs={"y": ((4,), "float32")}, duration_ns=D)
    model, ins, outs = model_with_io(rt, neff)
    t0 = sim.now_ns
    assert rt.nrt_execute(model, ins, outs) == nrt.NRT_SUCCESS
    assert sim.now_ns - t0 == 2000 + D  # 0: synchronous


def _loop(mode: str, host_ns: int, device_ns: int, n: int = 40) -> float:
    return execution_loop("trn1.2xlarge", mode, 2, host_ns, device_ns, n).utilisation


def test_synchronous_utilisation_is_d_over_d_plus_h():
    for device_ns, host_ns in ((1_000_000, 500_000), (200_000, 800_000)):
        expected = device_ns / (device_ns + host_ns)
        assert abs(_loop("sync", host_ns, device_ns) - expected) / expected < 0.02


def test_async_with_depth_two_keeps_the_core_busy_when_h_is_below_d():
    for mode in ("implicit", "explicit"):
        assert _loop(mode, host_ns=600_000, device_ns=1_000_000) >= 0.95
