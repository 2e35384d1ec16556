"""A first test: the neuron_sim fixture comes from neuronsim's pytest plugin."""

import numpy as np

import neuronsim
from neuronsim import nrt


def test_first(neuron_sim):
    rt = neuron_sim.open()  # nrt_init on all cores of the preset (trn1.2xlarge unless told otherwise)
    neff = neuronsim.Neff(inputs={"x": ((4,), "float32")}, outputs={"y": ((4,), "float32")},
                          duration_ns=10_000, kernel=lambda x: {"y": x + 1})
    model = rt.load(neff)
    ins, outs = rt.allocate_io(model)
    rt.write(ins["x"], np.arange(4, dtype=np.float32)).result()
    assert rt.execute(model, ins, outs).result() is None
    y = rt.read(outs["y"]).result().view(np.float32)
    np.testing.assert_array_equal(y, [1, 2, 3, 4])
    assert neuron_sim.now_ns > 10_000  # simulated nanoseconds, not wall time


def test_back_pressure_at_the_api(neuron_sim):
    rt = neuron_sim.runtime()
    rt.nrt_init(nrt.NRT_FRAMEWORK_TYPE_NO_FW, "", "")
    neff = neuronsim.Neff(inputs={"x": ((4,), "float32")}, outputs={"y": ((4,), "float32")}, duration_ns=1_000_000)
    model, x, y, ins, outs = nrt.Ref(), nrt.Ref(), nrt.Ref(), nrt.Ref(), nrt.Ref()
    rt.nrt_load(neff, 0, -1, model)
    rt.nrt_tensor_allocate(nrt.NRT_TENSOR_PLACEMENT_DEVICE, 0, 16, "x", x)
    rt.nrt_tensor_allocate(nrt.NRT_TENSOR_PLACEMENT_DEVICE, 0, 16, "y", y)
    rt.nrt_allocate_tensor_set(ins)
    rt.nrt_allocate_tensor_set(outs)
    rt.nrt_add_tensor_to_tensor_set(ins.value, "x", x.value)
    rt.nrt_add_tensor_to_tensor_set(outs.value, "y", y.value)
    statuses = [rt.nrta_execute_schedule(model.value, ins.value, outs.value, 0, nrt.Ref(), nrt.Ref())
                for _ in range(9)]
    assert statuses == [nrt.NRT_SUCCESS] * 8 + [nrt.NRT_QUEUE_FULL]  # capacity 8 (docs/assumptions.md A1)
