"""The 2.28 generation: error trackers, split TENSOR_READ / TENSOR_WRITE units, completion handles."""

from __future__ import annotations

import inspect

import numpy as np

import neuronsim
from neuronsim import nrt
from neuronsim.nrt import nrta_xu_t_2_28 as XU

D = 20_000


def open_228(faults=None):
    sim = neuronsim.Simulator("trn1.2xlarge", faults=faults, record=True)
    rt = sim.runtime(api="2.28")
    assert rt.nrt_init(nrt.NRT_FRAMEWORK_TYPE_NO_FW, "", "") == nrt.NRT_SUCCESS
    neff = neuronsim.Neff(inputs={"x": ((256,), "float32")}, outputs={"y": ((256,), "float32")}, duration_ns=D,
                          kernel=lambda x: {"y": -x})
    model = nrt.Ref()
    rt.nrt_load(neff, 0, -1, model)
    cells = {n: nrt.Ref() for n in ("x", "y", "ins", "outs")}
    rt.nrt_tensor_allocate(nrt.NRT_TENSOR_PLACEMENT_DEVICE, 0, 1024, "x", cells["x"])
    rt.nrt_tensor_allocate(nrt.NRT_TENSOR_PLACEMENT_DEVICE, 0, 1024, "y", cells["y"])
    rt.nrt_allocate_tensor_set(cells["ins"])
    rt.nrt_allocate_tensor_set(cells["outs"])
    rt.nrt_add_tensor_to_tensor_set(cells["ins"].value, "x", cells["x"].value)
    rt.nrt_add_tensor_to_tensor_set(cells["outs"].value, "y", cells["y"].value)
    return sim, rt, model.value, {k: v.value for k, v in cells.items()}


def test_a_2_28_program_reports_its_failed_requests_with_their_sequence_ids():
    """The seeds' workflow: create a tracker, pass it to schedule calls, read the errors after completion."""
    plan = [{"target": "xu", "core": 0, "xu": "compute", "nth": 2, "status": "NRT_EXEC_COMPLETED_WITH_NUM_ERR"},
            {"target": "xu", "core": 0, "xu": "tensor_read", "nth": 1, "status": "NRT_EXEC_HW_ERR_DMA_ABORT",
             "fatal": False}]
    sim, rt, model, t = open_228(plan)
    tracker = nrt.Ref()
    assert rt.nrta_error_tracker_create(0, tracker) == nrt.NRT_SUCCESS
    x = np.arange(256, dtype=np.float32)
    wseq = nrt.Ref()
    assert rt.nrta_tensor_write(t["x"], x, 0, 1024, 0, tracker.value, wseq) == nrt.NRT_SUCCESS
    assert nrt.NRTA_SEQ_GET_XU_ID(wseq.value) == XU.NRTA_XU_TENSOR_WRITE
    sim.run_until_idle()
    exec_seqs = []
    for _ in range(3):
        seq = nrt.Ref()
        assert rt.nrta_execute_schedule(model, t["ins"], t["outs"], 0, tracker.value, seq) == nrt.NRT_SUCCESS
        exec_seqs.append(seq.value)
    assert nrt.NRTA_SEQ_GET_XU_ID(exec_seqs[0]) == XU.NRTA_XU_COMPUTE
    sim.run_until_idle()
    y = np.empty(256, dtype=np.float32)
    rseq = nrt.Ref()
    assert rt.nrta_tensor_read(y, t["y"], 0, 1024, 1, tracker.value, rseq) == nrt.NRT_SUCCESS
    assert nrt.NRTA_SEQ_GET_XU_ID(rseq.value) == (XU.NRTA_XU_TENSOR_READ | 1 << 4)
    sim.run_until_idle()
    errors, count = nrt.Ref(), nrt.Ref()
    assert rt.nrta_error_tracker_get_list(tracker.value, errors, count) == nrt.NRT_SUCCESS
    assert count.value == 2
    assert [(e.seq_id, e.error_code) for e in errors.value] == [(exec_seqs[1], 1003), (rseq.value, 1203)]
    assert rt.nrta_error_tracker_get_list(tracker.value, errors, count) == nrt.NRT_SUCCESS
    assert count.value == 0  # reading drained it
    assert rt.nrta_error_tracker_destroy(tracker.value) == nrt.NRT_SUCCESS
    assert rt.nrta_error_tracker_get_list(tracker.value, errors, count) == nrt.NRT_INVALID


def test_split_units_run_a_read_and_a_write_concurrently():
    sim, rt, model, t = open_228()
    ws, rs = nrt.Ref(), nrt.Ref()
    rt.nrta_tensor_write(t["x"], np.zeros(1024, np.uint8), 0, 1024, 0, None, ws)
    rt.nrta_tensor_read(np.zeros(1024, np.uint8), t["y"], 0, 1024, 0, None, rs)
    assert nrt.NRTA_SEQ_GET_SEQ_NUM(ws.value) == nrt.NRTA_SEQ_GET_SEQ_NUM(rs.value) == 1
    assert nrt.NRTA_SEQ_GET_XU_ID(ws.value) != nrt.NRTA_SEQ_GET_XU_ID(rs.value)
    last = nrt.Ref()
    assert rt.nrta_get_sequence(0, XU.NRTA_XU_TENSOR_WRITE, 0, last) == nrt.NRT_SUCCESS
    assert rt.nrta_get_sequence(0, XU.NRTA_XU_COLLECTIVES, 1, last) == nrt.NRT_INVALID  # Gen-1: queue 0 only


def test_gen1_signatures_and_no_lnc_idx():
    sim, rt, model, t = open_228()
    seq = nrt.Ref()
    params = list(inspect.signature(rt.nrta_tensor_write).parameters)
    assert params == ["tensor", "buf", "offset", "size", "queue", "err", "req_sequence"]
    assert not hasattr(rt, "nrta_event_register_seq_id_completion")  # arrived in SDK 2.30
    other = neuronsim.Simulator("trn1.2xlarge").runtime(api="2.28")
    other.nrt_init(1, "", "")
    foreign = nrt.Ref()
    other.nrta_error_tracker_create(0, foreign)
    assert rt.nrta_execute_schedule(model, t["ins"], t["outs"], 0, foreign.value, seq) == nrt.NRT_INVALID
    wrong_lnc = nrt.Ref()
    rt.nrta_error_tracker_create(1, wrong_lnc)
    assert rt.nrta_execute_schedule(model, t["ins"], t["outs"], 0, wrong_lnc.value, seq) == nrt.NRT_INVALID
    assert rt.nrta_error_tracker_create(5, nrt.Ref()) == nrt.NRT_INVALID
    assert seq.value is None


def test_completion_handle_is_readable_once_complete():
    sim, rt, model, t = open_228()
    seq, fd = nrt.Ref(), nrt.Ref()
    rt.nrta_execute_schedule(model, t["ins"], t["outs"], 0, None, seq)
    assert rt.nrta_get_completion_handle(seq.value, fd) == nrt.NRT_SUCCESS
    assert fd.value.poll(0) is False
    assert fd.value.poll(None) is True
    assert sim.now_ns == rt.request(seq.value).end_ns
    fd.value.close()
