"""A serving loop written in Python against the mirror, run as a workload:

    neuronsim run examples/workloads/serving_loop.py:workload --instance inf2.xlarge

Two server threads (CPUs 0 and 1), one per NeuronCore of an inf2.xlarge. Requests arrive at a fixed
2,000/s per core; each is served in turn: write its 64 KiB input (Tensor Op queue 0), run a 300 us
model, read the 64 KiB output back (Tensor Op queue 1), then 20 us of host post-processing. Each
request is one iteration, marked with ``thread.iteration(arrival_ns=...)``: its latency runs from when
it was due, so the time it waited behind the request before it counts. The summary and the plots
then count iterations as they do for a YAML workload (docs/examples/workloads.md shows this one's).
"""

from __future__ import annotations

from neuronsim import Neff
from neuronsim.nrt import NRT_STATUS, Ref

REQUESTS = 200  # per core
RATE = 2_000  # requests per second per core
SIZE = 64 * 1024  # bytes in, bytes out
MODEL = Neff({"x": ((SIZE,), "uint8")}, {"y": ((SIZE,), "uint8")}, duration_ns=300_000, name="model.neff")


def _tensor_set(rt, name, tensor):
    tensors = Ref()
    rt.nrt_allocate_tensor_set(tensors)
    rt.nrt_add_tensor_to_tensor_set(tensors.value, name, tensor)
    return tensors.value


def workload(sim):
    """Start the server threads on ``sim`` (``neuronsim run`` simulates them and summarises every
    request and every iteration they mark)."""
    rt = sim.runtime(env={"NEURON_RT_VISIBLE_CORES": "0-1"})
    assert rt.nrt_init(1, "", "") == NRT_STATUS.NRT_SUCCESS
    for core in (0, 1):
        model, x, y = Ref(), Ref(), Ref()
        assert rt.nrt_load(MODEL, core, -1, model) == NRT_STATUS.NRT_SUCCESS
        rt.nrt_tensor_allocate(0, core, SIZE, f"x{core}", x)
        rt.nrt_tensor_allocate(0, core, SIZE, f"y{core}", y)
        ins, outs = _tensor_set(rt, "x", x.value), _tensor_set(rt, "y", y.value)
        sim.spawn(_server(rt, core, model.value, x.value, y.value, ins, outs), rt, cpus=str(core),
                  name=f"server{core}")


def _server(rt, core, model, x, y, ins, outs):
    def body(thread):
        start = thread.sim.now_ns
        for k in range(REQUESTS):
            due = start + k * 1_000_000_000 // RATE
            if thread.sim.now_ns < due:
                yield thread.sleep(due - thread.sim.now_ns)  # idle until the next request arrives
            with thread.iteration(arrival_ns=due) as it:
                for call, args in ((rt.nrta_tensor_write, (x, None, 0, SIZE, core, 0)),
                                   (rt.nrta_execute_schedule, (model, ins, outs, 0)),
                                   (rt.nrta_tensor_read, (None, y, 0, SIZE, core, 1))):
                    ret, seq = Ref(), Ref()
                    status = yield from thread.call(call, *args, ret, seq)
                    if status == NRT_STATUS.NRT_SUCCESS:
                        yield from thread.wait(seq.value)  # each step needs the one before it
                    if status != NRT_STATUS.NRT_SUCCESS or ret.value != NRT_STATUS.NRT_SUCCESS:
                        it.failed += 1
                        break
                else:
                    yield from thread.compute(20_000)  # post-processing on the host

    return body
