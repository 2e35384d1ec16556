"""The examples of reference/nrt-api.md (§1.4), ported line by line to the Python mirror."""

from __future__ import annotations

import neuronsim
from neuronsim import nrt
from tests.helpers import model_with_io, open_runtime


def neff(duration_ns=20_000):
    return neuronsim.Neff(inputs={"x": ((64,), "float32")}, outputs={"y": ((64,), "float32")},
                          duration_ns=duration_ns)


def pending_executions(rt, lnc, compute_queue, last_submitted):
    """The docs' "Finding Number of Pending Executions":

        nrta_get_sequence(lnc, NRTA_XU_COMPUTE, compute_queue, &last_completed);
        assert(NRTA_SEQ_GET_XU_ID(last_submitted) == NRTA_SEQ_GET_XU_ID(last_completed));
        return last_submitted - last_completed;
    """
    last_completed = nrt.Ref()
    assert rt.nrta_get_sequence(lnc, nrt.NRTA_XU_COMPUTE, compute_queue, last_completed) == nrt.NRT_SUCCESS
    assert nrt.NRTA_SEQ_GET_XU_ID(last_submitted) == nrt.NRTA_SEQ_GET_XU_ID(last_completed.value)
    return last_submitted - last_completed.value


def test_pending_executions_is_last_submitted_minus_last_completed():
    sim, rt = open_runtime()
    model, ins, outs = model_with_io(rt, neff(), vnc=1)
    last_submitted = None
    for _ in range(5):
        seq = nrt.Ref()
        assert rt.nrta_execute_schedule(model, ins, outs, 0, nrt.Ref(), seq) == nrt.NRT_SUCCESS
        last_submitted = seq.value
    # five schedules took 10 us of host time: nothing has completed yet (20 us each)
    assert pending_executions(rt, 1, 0, last_submitted) == 5
    sim.run_for_ns(2 * 20_000)
    assert pending_executions(rt, 1, 0, last_submitted) == 3
    sim.run_until_idle()
    assert pending_executions(rt, 1, 0, last_submitted) == 0


def test_polling_loop_terminates_with_the_status_written():
    """The polling example:

        nrta_execute_schedule(model, inputs, outputs, 0, &ret, &seq);
        bool done = false;
        while (!done) { nrta_is_completed(seq, &done); }
        // ret holds the request's status
    """
    sim, rt = open_runtime()
    model, ins, outs = model_with_io(rt, neff())
    ret, seq = nrt.Ref(), nrt.Ref()
    assert rt.nrta_execute_schedule(model, ins, outs, 0, ret, seq) == nrt.NRT_SUCCESS
    done = nrt.Ref(False)
    polls = 0
    while not done.value:
        assert rt.nrta_is_completed(seq.value, done) == nrt.NRT_SUCCESS
        polls += 1
    assert ret.value == nrt.NRT_SUCCESS
    assert polls == 20_000 // 100  # each poll costs 100 ns of host time (A5)


def test_polling_on_get_sequence_like_spike():
    """Spike / TorchNeuron: not complete while NRTA_SEQ_GET_SEQ_NUM(wait_seq) > NRTA_SEQ_GET_SEQ_NUM(latest)."""
    sim, rt = open_runtime()
    model, ins, outs = model_with_io(rt, neff())
    seqs = []
    for _ in range(3):
        seq = nrt.Ref()
        rt.nrta_execute_schedule(model, ins, outs, 0, nrt.Ref(), seq)
        seqs.append(seq.value)
    wait_seq = seqs[-1]
    latest = nrt.Ref()
    while True:
        rt.nrta_get_sequence(0, nrt.NRTA_XU_COMPUTE, 0, latest)
        if not nrt.NRTA_SEQ_GET_SEQ_NUM(wait_seq) > nrt.NRTA_SEQ_GET_SEQ_NUM(latest.value):
            break
    assert latest.value == wait_seq
    assert all(rt.request(s).end_ns <= sim.now_ns for s in seqs)


def test_queue_full_retry():
    """Migration guide §5: on NRT_QUEUE_FULL "wait for at least one in-flight request to complete, then
    retry the schedule call"."""
    sim, rt = open_runtime()
    model, ins, outs = model_with_io(rt, neff(duration_ns=100_000))
    submitted, retries = [], 0
    while len(submitted) < 20:
        ret, seq = nrt.Ref(), nrt.Ref()
        status = rt.nrta_execute_schedule(model, ins, outs, 0, ret, seq)
        if status == nrt.NRT_QUEUE_FULL:
            retries += 1
            oldest = submitted[len(submitted) - 8]  # capacity 8 (A1): the oldest in flight
            done = nrt.Ref(False)
            while not done.value:
                rt.nrta_is_completed(oldest[1].value, done)
            continue
        assert status == nrt.NRT_SUCCESS
        submitted.append((ret, seq))
    sim.run_until_idle()
    assert retries == 12
    nums = [nrt.NRTA_SEQ_GET_SEQ_NUM(seq.value) for _, seq in submitted]
    assert nums == list(range(1, 21))  # refused calls consumed no numbers
    assert all(ret.value == nrt.NRT_SUCCESS for ret, _ in submitted)
    # the device never idled once the queue was full: 20 executions back to back
    first = rt.request(submitted[0][1].value)
    last = rt.request(submitted[-1][1].value)
    assert last.end_ns - first.start_ns == 20 * 100_000
