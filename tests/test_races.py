"""Race detection: a missing cross-queue wait is flagged with the right pair; the fixed program is not."""

from __future__ import annotations

import numpy as np

import neuronsim
from neuronsim import nrt
from tests.helpers import model_with_io, open_runtime, schedule_execute, tensor


def program(wait_for_the_write: bool, wait_style: str = "poll"):
    sim, rt = open_runtime("trn1.2xlarge", env={}, detect_races=True)
    neff = neuronsim.Neff(inputs={"x": ((256,), "float32")}, outputs={"y": ((256,), "float32")}, duration_ns=5000,
                          kernel=lambda x: {"y": x * 3})
    model, ins, outs = model_with_io(rt, neff)
    x = np.ones(256, np.float32)
    wret, wseq = nrt.Ref(), nrt.Ref()
    rt.nrta_tensor_write(ins.tensors["x"], x, 0, 1024, 0, 0, wret, wseq)
    if wait_for_the_write:
        if wait_style == "poll":
            done = nrt.Ref(False)
            while not done.value:
                rt.nrta_is_completed(wseq.value, done)
        elif wait_style == "get_sequence":
            last = nrt.Ref(0)
            while nrt.NRTA_SEQ_GET_SEQ_NUM(last.value) < nrt.NRTA_SEQ_GET_SEQ_NUM(wseq.value):
                rt.nrta_get_sequence(0, nrt.NRTA_XU_TENSOR_OP, 0, last)
        else:
            efd = sim.eventfd()
            rt.nrta_event_register_seq_id_completion(wseq.value, efd)
            efd.read()
    _, eret, eseq = schedule_execute(rt, model, ins, outs)
    done = nrt.Ref(False)
    while not done.value:
        rt.nrta_is_completed(eseq.value, done)
    y = np.zeros(256, np.float32)
    rt.nrta_tensor_read(y, outs.tensors["y"], 0, 1024, 0, 1, nrt.Ref(), nrt.Ref())
    sim.run_until_idle()
    return sim, wseq.value, eseq.value, y


def test_missing_wait_is_a_read_after_write_hazard_with_the_right_pair():
    sim, wseq, eseq, y = program(wait_for_the_write=False)
    assert len(sim.hazards) == 1
    hazard = sim.hazards[0]
    assert (hazard.kind, hazard.first_seq, hazard.second_seq) == ("read-after-write", wseq, eseq)
    assert hazard.tensor == "x" and hazard.first_range == hazard.second_range == (0, 1024)
    assert hazard.overlapped
    assert "with no completion observed in between" in str(hazard)
    assert not y.any()  # and the data shows it: the execution read zeros


def test_the_same_program_with_the_wait_is_clean():
    for style in ("poll", "get_sequence", "eventfd"):
        sim, _, _, y = program(wait_for_the_write=True, wait_style=style)
        assert sim.hazards == [], style
        np.testing.assert_array_equal(y, np.full(256, 3.0, np.float32))


def test_a_hazard_that_did_not_overlap_in_time_is_still_flagged():
    """The write finished long before the read was scheduled, but the host never observed it."""
    sim, rt = open_runtime("trn1.2xlarge", env={}, detect_races=True)
    t = tensor(rt, 4096)
    w = nrt.Ref()
    rt.nrta_tensor_write(t, np.ones(4096, np.uint8), 0, 4096, 0, 0, nrt.Ref(), w)
    sim.run_for_ns(1_000_000)
    r = nrt.Ref()
    rt.nrta_tensor_read(np.zeros(4096, np.uint8), t, 0, 4096, 0, 1, nrt.Ref(), r)
    sim.run_until_idle()
    assert [(h.first_seq, h.second_seq, h.overlapped) for h in sim.hazards] == [(w.value, r.value, False)]


def test_same_queue_and_disjoint_ranges_do_not_race():
    sim, rt = open_runtime("trn1.2xlarge", env={}, detect_races=True)
    t = tensor(rt, 4096)
    buf = np.ones(4096, np.uint8)
    rt.nrta_tensor_write(t, buf, 0, 2048, 0, 0, nrt.Ref(), nrt.Ref())
    rt.nrta_tensor_read(np.zeros(4096, np.uint8), t, 0, 2048, 0, 0, nrt.Ref(), nrt.Ref())  # same queue: ordered
    rt.nrta_tensor_write(t, buf, 2048, 2048, 0, 1, nrt.Ref(), nrt.Ref())  # other queue, other bytes
    u = tensor(rt, 4096, name="u")
    rt.nrta_tensor_read(np.zeros(4096, np.uint8), u, 0, 1024, 0, 0, nrt.Ref(), nrt.Ref())  # two reads on two
    rt.nrta_tensor_read(np.zeros(4096, np.uint8), u, 0, 1024, 0, 1, nrt.Ref(), nrt.Ref())  # queues do not race
    sim.run_until_idle()
    assert sim.hazards == []
    r = nrt.Ref()
    rt.nrta_tensor_read(np.zeros(4096, np.uint8), t, 1000, 100, 0, 1, nrt.Ref(), r)  # but this one does
    assert [(h.kind, h.second_seq) for h in sim.hazards] == [("read-after-write", r.value)]


def test_detection_is_off_by_default():
    plain = neuronsim.Simulator("trn1.2xlarge")
    assert plain.race_detector is None and plain.hazards == []


def test_a_facade_future_seen_done_or_with_its_status_counts_as_a_completion_seen():
    """Polling ``Future.done()`` (the facade's nrta_is_completed) or its ``status`` before executing is correct
    code: no hazard (both were flagged read-after-write); executing without looking is still flagged."""
    for look in ("done", "status", None):
        sim = neuronsim.Simulator("trn1.2xlarge", detect_races=True)
        rt = sim.open(visible_cores="0")
        neff = neuronsim.Neff(inputs={"x": ((256,), "float32")}, outputs={"y": ((256,), "float32")},
                              duration_ns=5000, kernel=lambda x: {"y": x * 3})
        model = rt.load(neff)
        ins, outs = rt.allocate_io(model)
        write = rt.write(ins["x"], np.ones(256, np.float32))
        if look == "done":
            while not write.done():
                sim.run_for_ns(1000)
        elif look == "status":
            while write.status is None:
                sim.run_for_ns(1000)
        else:
            sim.run_for_ns(100_000)  # it completed, but nobody looked
        rt.execute(model, ins, outs).result()
        assert [h.kind for h in sim.hazards] == ([] if look else ["read-after-write"]), look
