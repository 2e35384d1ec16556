"""Under random fault plans: exactly-once completion with a status, no silent hang, fatal faults stay
local to their unit, and the same seed gives the same outcome."""

from __future__ import annotations

import numpy as np
from hypothesis import given
from hypothesis import strategies as st

import neuronsim
from neuronsim import check_invariants, nrt
from neuronsim.sim.faults import FATAL_STATUSES
from neuronsim.testing.strategies import fault_plans


def run(plan, seed, steps):
    sim = neuronsim.Simulator("trn1.2xlarge", seed=seed, faults=plan, record=True)
    rt = sim.runtime(env={"NEURON_RT_EXEC_TIMEOUT": "1"})
    assert rt.nrt_init(nrt.NRT_FRAMEWORK_TYPE_NO_FW, "", "") == nrt.NRT_SUCCESS
    neff = neuronsim.Neff(inputs={"x": ((64,), "float32")}, outputs={"y": ((64,), "float32")}, duration_ns=20_000,
                          kernel=lambda x: {"y": x + 1})
    sets = []
    for vnc in (0, 1):
        m, x, y, ins, outs = nrt.Ref(), nrt.Ref(), nrt.Ref(), nrt.Ref(), nrt.Ref()
        rt.nrt_load(neff, vnc, -1, m)
        rt.nrt_tensor_allocate(nrt.NRT_TENSOR_PLACEMENT_DEVICE, vnc, 256, "x", x)
        rt.nrt_tensor_allocate(nrt.NRT_TENSOR_PLACEMENT_DEVICE, vnc, 256, "y", y)
        rt.nrt_allocate_tensor_set(ins)
        rt.nrt_allocate_tensor_set(outs)
        rt.nrt_add_tensor_to_tensor_set(ins.value, "x", x.value)
        rt.nrt_add_tensor_to_tensor_set(outs.value, "y", y.value)
        sets.append((m.value, ins.value, outs.value, x.value))
    accepted, refused_dead = [], []
    for kind, vnc in steps:
        model, ins, outs, x = sets[vnc]
        ret, seq = nrt.Ref(), nrt.Ref()
        if kind == "exec":
            status = rt.nrta_execute_schedule(model, ins, outs, 0, ret, seq)
            unit = (vnc, nrt.NRTA_XU_COMPUTE, 0)
        else:
            status = rt.nrta_tensor_write(x, np.ones(256, np.uint8), 0, 256, vnc, 0, ret, seq)
            unit = (vnc, nrt.NRTA_XU_TENSOR_OP, 0)
        if status == nrt.NRT_SUCCESS:
            accepted.append((seq.value, ret, unit))
        elif status == nrt.NRT_EXEC_UNIT_UNRECOVERABLE:
            refused_dead.append(unit)
        else:
            assert status == nrt.NRT_QUEUE_FULL
        sim.run_for_ns(5_000)
    sim.run_until_idle()  # terminates: every hang ends at NEURON_RT_EXEC_TIMEOUT
    return sim, rt, accepted, refused_dead


steps_strategy = st.lists(st.tuples(st.sampled_from(["exec", "write"]), st.integers(0, 1)), min_size=1, max_size=30)


@given(fault_plans(), steps_strategy, st.integers(0, 3))
def test_random_fault_plans(plan, steps, seed):
    sim, rt, accepted, refused_dead = run(plan, seed, steps)
    assert check_invariants(sim) == []
    for seq, ret, _ in accepted:
        assert ret.value is not None  # every accepted request completed with a status ...
        assert rt.request(seq).completions == 1  # ... exactly once
    dead = {}
    for req in rt.history:
        if req.fatal:
            dead[(req.unit.core_id, req.unit.kind)] = req.done_ns
            assert req.status in FATAL_STATUSES or req.fault.fatal
    for unit in refused_dead:
        assert rt.execution_unit(*unit).fatal_status is not None
    for req in rt.history:
        # a dead unit only affects its own later requests: on other units, no request is flushed
        if req.status == nrt.NRT_EXEC_UNIT_UNRECOVERABLE:
            assert (req.unit.core_id, req.unit.kind) in dead
    again = run(plan, seed, steps)[1]
    assert [(r.seq_id, int(r.status), r.start_ns, r.end_ns) for r in again.history] == \
        [(r.seq_id, int(r.status), r.start_ns, r.end_ns) for r in rt.history]
