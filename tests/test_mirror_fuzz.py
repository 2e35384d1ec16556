"""The mirror never raises: any method of either API generation, called with any mix of junk and real
objects (models, tensors, sets, contexts, communicators of this runtime), returns a status; the
simulation then still runs to idle, every request completes once, the invariants hold."""

from __future__ import annotations

import inspect

import numpy as np
from hypothesis import given
from hypothesis import strategies as st

import neuronsim
from neuronsim import nrt
from neuronsim.runtime.nrta import NrtRuntime
from neuronsim.runtime.nrta_2_28 import NrtRuntime228

METHODS = {api: sorted(n for n in dir(cls) if n.startswith(("nrt_", "nrta_")))
           for api, cls in (("3.0", NrtRuntime), ("2.28", NrtRuntime228))}
ARITY = {(api, name): sum(1 for p in inspect.signature(getattr(cls, name)).parameters.values()
                          if p.kind is p.POSITIONAL_OR_KEYWORD) - 1  # C arguments, not keyword-only extensions
         for api, cls in (("3.0", NrtRuntime), ("2.28", NrtRuntime228)) for name in METHODS[api]}


def world(api: str):
    """A runtime with a loaded model, device and host tensors, tensor sets and a collective context."""
    sim = neuronsim.Simulator("trn1.2xlarge", record=True)
    rt = sim.runtime(api=api)
    assert rt.nrt_init(nrt.NRT_FRAMEWORK_TYPE_NO_FW, "", "") == nrt.NRT_SUCCESS
    neff = neuronsim.Neff({"x": ((4,), "float32")}, {"y": ((4,), "float32")}, duration_ns=1000,
                          kernel=lambda x: {"y": x + 1})
    model, x, y, host, ins, outs, ctx = (nrt.Ref() for _ in range(7))
    rt.nrt_load(neff, 0, -1, model)
    rt.nrt_tensor_allocate(nrt.NRT_TENSOR_PLACEMENT_DEVICE, 0, 16, "x", x)
    rt.nrt_tensor_allocate(nrt.NRT_TENSOR_PLACEMENT_DEVICE, 0, 16, "y", y)
    rt.nrt_tensor_allocate(nrt.NRT_TENSOR_PLACEMENT_HOST, -1, 16, "h", host)
    rt.nrt_allocate_tensor_set(ins)
    rt.nrt_allocate_tensor_set(outs)
    rt.nrt_add_tensor_to_tensor_set(ins.value, "x", x.value)
    rt.nrt_add_tensor_to_tensor_set(outs.value, "y", y.value)
    rt.nrt_cc_global_comm_init(0, 0, 1)
    comm = nrt.nrt_cc_comm_t([0], 0, 1, vnc=0)
    rt.nrta_cc_prepare(comm, [x.value], [y.value], nrt.NRT_DTYPE_FLOAT32, nrt.NRT_OP_ADD, nrt.NRT_CC_ALLREDUCE, ctx)
    pool = [None, 0, 1, 2, -1, 4, 16, 2**40, 3.5, "x", "y", b"\0" * 16, np.zeros(16, np.uint8),
            np.zeros(4, np.float32), model.value, x.value, y.value, host.value, ins.value, outs.value, comm, ctx,
            ctx.value, neff, [x.value], nrt.nrt_tensor_list_t([y.value]), object()]
    return sim, rt, pool


@given(st.sampled_from(["3.0", "2.28"]), st.data())
def test_any_call_returns_a_status_and_the_simulation_stays_sound(api, data):
    sim, rt, pool = world(api)
    for _ in range(data.draw(st.integers(1, 12))):
        name = data.draw(st.sampled_from(METHODS[api]))
        args = [pool[i] if i >= 0 else nrt.Ref() for i in
                data.draw(st.lists(st.integers(-3, len(pool) - 1), min_size=ARITY[api, name],
                                   max_size=ARITY[api, name]))]
        result = getattr(rt, name)(*args)
        if name == "nrt_tensor_get_size":  # size_t: the size, 0 for a bad tensor
            assert type(result) is int and result >= 0
        elif isinstance(result, int) and not isinstance(result, bool):
            nrt.NRT_STATUS(result)  # a status the runtime defines (ValueError otherwise)
        else:
            assert result is None or isinstance(result, str), (name, result)  # void; nrt_get_status_as_str
        if data.draw(st.booleans()):
            sim.run_for_ns(data.draw(st.integers(0, 50_000)))
    sim.run_until_idle()
    assert neuronsim.check_invariants(sim) == []
