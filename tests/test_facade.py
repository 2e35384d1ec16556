"""The Pythonic facade: futures, NrtError, queue-full retry, over the same runtime."""

from __future__ import annotations

import numpy as np
import pytest

import neuronsim
from neuronsim import NrtError, nrt


def make_neff(duration_ns=30_000):
    return neuronsim.Neff(inputs={"a": ((128,), "int32"), "b": ((128,), "int32")},
                          outputs={"sum": ((128,), "int32")}, duration_ns=duration_ns,
                          kernel=lambda a, b: {"sum": a + b})


def test_round_trip_with_futures():
    sim = neuronsim.Simulator("inf2.xlarge")
    rt = sim.open()
    model = rt.load(make_neff())
    inputs, outputs = rt.allocate_io(model)
    a, b = np.arange(128, dtype=np.int32), np.full(128, 5, dtype=np.int32)
    w1, w2 = rt.write(inputs["a"], a), rt.write(inputs["b"], b, queue=1)
    assert not w1.done() and w1.status is None
    w1.result(), w2.result()
    run = rt.execute(model, inputs, outputs)
    assert run.seq_num == 1 and nrt.NRTA_SEQ_GET_XU_ID(run.seq) == nrt.NRTA_XU_COMPUTE
    run.result()
    got = rt.read(outputs["sum"]).result().view(np.int32)
    np.testing.assert_array_equal(got, a + b)


def test_refused_calls_raise_nrt_error_with_the_status():
    sim = neuronsim.Simulator("trn1.2xlarge")
    rt = sim.open(visible_cores="0")
    t = rt.allocate(64)
    with pytest.raises(NrtError) as info:
        rt.write(t, np.zeros(128, np.uint8))  # more bytes than the tensor
    assert info.value.status == nrt.NRT_INVALID
    # nrtpy's format, then the reason the runtime logs at ERROR (the error says why without the log)
    assert str(info.value) == ("NRT Error NRT_INVALID(2): nrta_tensor_write(''): offset 0 + size 128 is outside "
                               "tensor '' of 64 bytes")
    with pytest.raises(NrtError) as info:
        rt.allocate(64 * 2**30)
    assert info.value.status == nrt.NRT_RESOURCE
    assert str(info.value).endswith(": failed to allocate 68719476736 bytes for tensor '' on nc0")


def test_an_nrt_error_carries_its_own_calls_reason_whatever_the_log_level():
    sim = neuronsim.Simulator("trn1.2xlarge")
    rt = sim.open(visible_cores="0", env={"NEURON_RT_LOG_LEVEL": "QUIET"})
    with pytest.raises(NrtError) as info:
        rt.sequence(0, queue=7)
    assert str(info.value) == "NRT Error NRT_INVALID(2): nrta_get_sequence(0, 1, 7): queue 7 out of range 0..0 (compute queues)"
    # a refusal of a call made outside the facade is dropped by the next facade call: no later error reports it
    assert rt.c.nrt_tensor_free(None) == nrt.NRT_INVALID
    t = rt.allocate(64)
    f = rt.read(t)
    assert f.result().nbytes == 64
    assert rt.c._log.last_refusal is None  # noqa: SLF001 - consumed by the facade call that followed


def test_a_list_to_write_is_a_type_error_that_says_what_to_pass():
    sim = neuronsim.Simulator("trn1.2xlarge")
    rt = sim.open(visible_cores="0")
    t = rt.allocate(64, name="x")
    with pytest.raises(TypeError) as info:
        rt.write(t, [0] * 16)
    assert str(info.value) == ("write('x'): data is a list, not bytes-like nor a numpy array; "
                               "np.asarray(data, dtype=...) makes one with the element type you mean")


def test_failed_request_raises_on_result():
    sim = neuronsim.Simulator("trn1.2xlarge")
    rt = sim.open()
    neff = neuronsim.Neff(inputs={"x": ((4,), "float32")}, outputs={"y": ((4,), "float32")}, duration_ns=10,
                          kernel=lambda x: {"z": x})
    model = rt.load(neff)
    ins, outs = rt.allocate_io(model)
    future = rt.execute(model, ins, outs)
    with pytest.raises(NrtError) as info:
        future.result()
    assert info.value.status == nrt.NRT_FAILURE and future.status == nrt.NRT_FAILURE
    assert str(info.value) == (f"NRT Error NRT_FAILURE(1): nrta_execute_schedule('{neff.name}') request {future.seq:#x} "
                               "completed with NRT_FAILURE (the runtime's log says why)")


def test_user_mistakes_the_facade_makes_before_any_c_call_say_what_is_wrong():
    sim = neuronsim.Simulator("trn1.2xlarge")
    rt = sim.open(visible_cores="0", env={"NEURON_RT_LOG_LEVEL": "QUIET"})
    t = rt.allocate(16, name="a")
    with pytest.raises(NrtError) as info:  # past the end: no bytes to read into, the runtime refuses it
        rt.read(t, offset=99)
    assert str(info.value) == ("NRT Error NRT_INVALID(2): nrta_tensor_read('a'): offset 99, size -83: need offset >= 0 "
                               "and size > 0")
    with pytest.raises(ValueError, match=r"^pending\(0, NRTA_XU_COMPUTE, queue=7\): this process has queues 0\.\.0 "):
        rt.pending(0, queue=7)
    rt.free(t)
    with pytest.raises(NrtError) as info:
        rt.tensor_set({"x": t})
    assert str(info.value) == "NRT Error NRT_INVALID(2): nrt_add_tensor_to_tensor_set('x'): tensor 'a' was freed"


def test_queue_full_is_retried_after_the_oldest_completes():
    sim = neuronsim.Simulator("trn1.2xlarge")
    rt = sim.open()
    model = rt.load(make_neff(duration_ns=100_000))
    ins, outs = rt.allocate_io(model)
    futures = [rt.execute(model, ins, outs) for _ in range(12)]
    assert [f.seq_num for f in futures] == list(range(1, 13))
    assert rt.pending(0) == 8
    rt.wait_all()
    assert all(f.status == nrt.NRT_SUCCESS for f in futures)
    strict = neuronsim.Simulator("trn1.2xlarge").open(retry_queue_full=False)
    m = strict.load(make_neff(duration_ns=100_000))
    i, o = strict.allocate_io(m)
    for _ in range(8):
        strict.execute(m, i, o)
    with pytest.raises(NrtError) as info:
        strict.execute(m, i, o)
    assert info.value.status == nrt.NRT_QUEUE_FULL


def test_context_manager_closes_and_frees_the_cores():
    sim = neuronsim.Simulator("trn1.2xlarge")
    with sim.open(visible_cores="0-1"):
        with pytest.raises(NrtError) as info:
            sim.open(visible_cores="1")
        assert info.value.status == nrt.NRT_RESOURCE
    sim.open(visible_cores="1").close()
