"""Completion events: eventfd registration by sequence id and by execution unit."""

from __future__ import annotations

import pytest

import neuronsim
from neuronsim import DeadlockError, nrt
from tests.helpers import model_with_io, open_runtime, schedule_execute

D = 50_000


def setup():
    sim, rt = open_runtime("trn1.2xlarge", env={})
    neff = neuronsim.Neff(inputs={"x": ((8,), "float32")}, outputs={"y": ((8,), "float32")}, duration_ns=D)
    model, ins, outs = model_with_io(rt, neff)
    return sim, rt, (model, ins, outs)


def test_seq_registration_signals_on_completion_and_read_advances_time():
    sim, rt, io = setup()
    _, ret, seq = schedule_execute(rt, *io)
    efd = sim.eventfd()
    assert rt.nrta_event_register_seq_id_completion(seq.value, efd.fd) == nrt.NRT_SUCCESS
    assert not efd.readable
    assert efd.read() == 1  # blocks until the execution completes
    end = rt.request(seq.value).end_ns
    assert sim.now_ns == end and ret.value == nrt.NRT_SUCCESS


def test_registering_a_completed_sequence_signals_at_once():
    sim, rt, io = setup()
    _, _, seq = schedule_execute(rt, *io)
    sim.run_until_idle()
    efd = sim.eventfd(nonblock=True)
    assert rt.nrta_event_register_seq_id_completion(seq.value, efd) == nrt.NRT_SUCCESS
    assert efd.read() == 1
    with pytest.raises(BlockingIOError):
        efd.read()  # EAGAIN on an empty non-blocking eventfd


def test_minus_one_deregisters():
    sim, rt, io = setup()
    _, _, seq = schedule_execute(rt, *io)
    efd = sim.eventfd(nonblock=True)
    rt.nrta_event_register_seq_id_completion(seq.value, efd.fd)
    assert rt.nrta_event_register_seq_id_completion(seq.value, -1) == nrt.NRT_SUCCESS
    sim.run_until_idle()
    assert not efd.readable


def test_xu_registration_counts_every_completion_and_one_read_drains():
    sim, rt, io = setup()
    efd = sim.eventfd()
    assert rt.nrta_event_register_xu_completion(0, nrt.NRTA_XU_COMPUTE, 0, efd.fd) == nrt.NRT_SUCCESS
    for _ in range(3):
        schedule_execute(rt, *io)
    sim.run_until_idle()
    assert efd.read() == 3
    last = nrt.Ref()
    rt.nrta_get_sequence(0, nrt.NRTA_XU_COMPUTE, 0, last)
    assert nrt.NRTA_SEQ_GET_SEQ_NUM(last.value) == 3
    assert rt.nrta_event_register_xu_completion(0, nrt.NRTA_XU_COMPUTE, 0, -1) == nrt.NRT_SUCCESS
    schedule_execute(rt, *io)
    sim.run_until_idle()
    assert efd.poll(0) is False


def test_poll_with_a_timeout_advances_time():
    sim, rt, io = setup()
    _, _, seq = schedule_execute(rt, *io)
    efd = sim.eventfd()
    rt.nrta_event_register_seq_id_completion(seq.value, efd)
    t0 = sim.now_ns
    assert efd.poll(1000) is False and sim.now_ns == t0 + 1000
    assert efd.poll(None) is True


def test_bad_registrations():
    sim, rt, io = setup()
    efd = sim.eventfd()
    assert rt.nrta_event_register_seq_id_completion(12345, efd) == nrt.NRT_INVALID
    assert rt.nrta_event_register_seq_id_completion(1 << 48 | 1, 999) == nrt.NRT_INVALID  # no such fd
    assert rt.nrta_event_register_xu_completion(0, nrt.NRTA_XU_COMPUTE, 1, efd) == nrt.NRT_INVALID
    other = neuronsim.Simulator("trn1.2xlarge").eventfd()
    _, _, seq = schedule_execute(rt, *io)
    assert rt.nrta_event_register_seq_id_completion(seq.value, other) == nrt.NRT_INVALID


def test_a_read_nothing_can_satisfy_raises_with_the_wait_for_chain():
    sim, rt, io = setup()
    efd = sim.eventfd()
    rt.nrta_event_register_xu_completion(0, nrt.NRTA_XU_COMPUTE, 0, efd)
    with pytest.raises(DeadlockError) as info:
        efd.read()
    assert f"eventfd {efd.fd} waits for any completion on nc0/xu.compute.0" in info.value.wait_for


def test_status_as_str():
    _, rt, _ = setup()
    assert rt.nrt_get_status_as_str(nrt.NRT_QUEUE_FULL) == "NRT_QUEUE_FULL"
    assert rt.nrt_get_status_as_str(1206) == "NRT_NETWORK_PROXY_FAILURE"
    assert rt.nrt_get_status_as_str(8) == "NRT_STATUS_UNKNOWN"
