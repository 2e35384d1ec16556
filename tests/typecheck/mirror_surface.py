"""The mirror surface of DESIGN.md as a user writes it: checked by ``mypy --strict`` (tests/test_typing.py)
and run by it too, so the types it relies on are the ones the code returns."""

from __future__ import annotations

import numpy as np

import neuronsim
from neuronsim import nrt


def main() -> int:
    sim = neuronsim.Simulator("trn1.32xlarge", seed=0)
    rt: neuronsim.NrtRuntime = sim.runtime(env={"NEURON_RT_VISIBLE_CORES": "0-1"})
    assert rt.nrt_init(nrt.NRT_FRAMEWORK_TYPE_NO_FW, "", "") == nrt.NRT_SUCCESS

    neff = neuronsim.Neff(inputs={"x": ((1024,), "float32")}, outputs={"y": ((1024,), "float32")},
                          duration_ns=50_000, kernel=lambda x: {"y": x * 2})
    model: nrt.Ref[neuronsim.Model] = nrt.Ref()
    assert rt.nrt_load(neff, 0, -1, model) == nrt.NRT_SUCCESS
    tensor: nrt.Ref[neuronsim.Tensor] = nrt.Ref()
    assert rt.nrt_tensor_allocate(nrt.NRT_TENSOR_PLACEMENT_DEVICE, 0, 4096, "x", tensor) == nrt.NRT_SUCCESS
    host_buf = np.arange(1024, dtype=np.float32)
    ret: nrt.Ref[int] = nrt.Ref()
    seq: nrt.Ref[int] = nrt.Ref()
    rt.nrta_tensor_write(tensor.value, host_buf, 0, 4096, 0, 0, ret, seq)
    done: nrt.Ref[bool] = nrt.Ref()
    rt.nrta_is_completed(seq.value, done)
    last = nrt.Ref()
    rt.nrta_get_sequence(0, nrt.NRTA_XU_COMPUTE, 0, last)
    sim.run_until_idle()
    assert ret.value == nrt.NRT_SUCCESS
    assert nrt.NRTA_SEQ_GET_XU_ID(seq.value) == nrt.NRTA_XU_TENSOR_OP
    assert nrt.NRTA_SEQ_GET_SEQ_NUM(seq.value) <= nrt.NRTA_SEQ_NUM_MAX

    old: neuronsim.NrtRuntime228 = sim.runtime({"NEURON_RT_VISIBLE_CORES": "2"}, api="2.28")
    tracker = nrt.Ref()
    assert old.nrt_init(nrt.NRT_FRAMEWORK_TYPE_NO_FW, "", "") == nrt.NRT_SUCCESS
    assert old.nrta_error_tracker_create(0, tracker) == nrt.NRT_SUCCESS
    return sim.now_ns


if __name__ == "__main__":
    print(main())
