"""Hang detection (the host waits on what can never happen) and the invariant checker."""

from __future__ import annotations

import pytest

import neuronsim
from neuronsim import DeadlockError, check_invariants, nrt
from tests.helpers import model_with_io, open_runtime, schedule_execute


def neff(duration_ns=10_000):
    return neuronsim.Neff(inputs={"x": ((8,), "float32")}, outputs={"y": ((8,), "float32")}, duration_ns=duration_ns)


def test_polling_for_a_request_that_was_refused_stops_with_a_report():
    sim, rt = open_runtime("trn1.2xlarge", env={}, hang_polls=1000)
    model, ins, outs = model_with_io(rt, neff(duration_ns=1_000_000))
    for _ in range(8):
        schedule_execute(rt, model, ins, outs)
    status, _, seq = schedule_execute(rt, model, ins, outs)
    assert status == nrt.NRT_QUEUE_FULL
    wanted = (1 << 48) | 9  # the caller assumes the refused request got number 9 and waits for it
    sim.run_until_idle()
    done = nrt.Ref(False)
    with pytest.raises(DeadlockError) as info:
        while not done.value:
            rt.nrta_is_completed(wanted, done)
    report = info.value
    assert "polled 1000 times while nothing is in flight" in report.summary
    assert report.wait_for[0].startswith(f"last query: nrta_is_completed({wanted}) returned NRT_INVALID")
    assert "nc0/xu.compute.0: completed up to 8 of 8" in report.wait_for


def test_polling_get_sequence_past_the_last_request_stops():
    sim, rt = open_runtime("trn1.2xlarge", env={}, hang_queries=500)
    model, ins, outs = model_with_io(rt, neff())
    schedule_execute(rt, model, ins, outs)
    last = nrt.Ref(0)
    with pytest.raises(DeadlockError, match="polled 500 times"):
        while nrt.NRTA_SEQ_GET_SEQ_NUM(last.value) < 2:  # only one request was scheduled
            rt.nrta_get_sequence(0, nrt.NRTA_XU_COMPUTE, 0, last)
    assert nrt.NRTA_SEQ_GET_SEQ_NUM(last.value) == 1


def test_a_long_but_finite_wait_is_not_a_hang():
    sim, rt = open_runtime("trn1.2xlarge", env={}, hang_polls=50)
    model, ins, outs = model_with_io(rt, neff(duration_ns=5_000_000))  # 50 000 polls of 100 ns
    _, ret, seq = schedule_execute(rt, model, ins, outs)
    done = nrt.Ref(False)
    while not done.value:
        rt.nrta_is_completed(seq.value, done)
    assert ret.value == nrt.NRT_SUCCESS


def test_invariants_hold_on_a_run_with_faults():
    plan = [{"target": "xu", "core": 0, "xu": "compute", "nth": 4, "status": "NRT_EXEC_HW_ERR_NC_UE"},
            {"target": "core", "core": 1, "probability": 0.5, "slowdown": 2}]
    sim, rt = open_runtime("trn1.2xlarge", env={}, faults=plan)
    for vnc in (0, 1):
        model, ins, outs = model_with_io(rt, neff(), vnc=vnc)
        for _ in range(12):
            schedule_execute(rt, model, ins, outs)
            sim.run_for_ns(3_000)
    sim.run_until_idle()
    assert len(rt.history) > 12
    assert check_invariants(sim) == []


def test_the_checker_finds_broken_records():
    sim, rt = open_runtime("trn1.2xlarge", env={})
    model, ins, outs = model_with_io(rt, neff())
    for _ in range(3):
        schedule_execute(rt, model, ins, outs)
    sim.run_until_idle()
    a, b, c = rt.history
    c_done = c.done_ns
    b.completions = 2
    c.done_ns = a.done_ns - 1
    found = {(v.invariant, v.seq_id) for v in check_invariants(rt.history)}
    assert found == {("completed exactly once", b.seq_id), ("in-order completion", c.seq_id)}
    c.seq_num = 7
    assert ("consecutive sequence numbers", c.seq_id) in {(v.invariant, v.seq_id) for v in check_invariants(rt.history)}
    a.unit.capacity = 1
    assert all(r.submit_ns < a.done_ns for r in (a, b, c))
    b.completions, c.seq_num, c.done_ns = 1, 3, c_done  # repaired, but now 3 were in flight with capacity 1
    assert [v.invariant for v in check_invariants(rt.history)] == ["capacity"]


def test_the_checker_needs_a_record():
    with pytest.raises(ValueError, match="record=True"):
        check_invariants(neuronsim.Simulator("trn1.2xlarge"))
