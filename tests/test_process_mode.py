"""Process mode: host threads on the host's CPUs, time slicing, API calls costing CPU time."""

from __future__ import annotations

import pytest

import neuronsim
from neuronsim import nrt
from neuronsim.errors import ConfigError, NeuronSimError
from neuronsim.workload.best_practices import collective_latencies
from tests.helpers import model_with_io

QUANTUM = 1_000_000


def runtime_with_model(duration_ns=50_000):
    sim = neuronsim.Simulator("trn1.2xlarge", record=True)
    rt = sim.runtime()
    rt.nrt_init(nrt.NRT_FRAMEWORK_TYPE_NO_FW, "", "")
    neff = neuronsim.Neff(inputs={"x": ((4,), "float32")}, outputs={"y": ((4,), "float32")}, duration_ns=duration_ns)
    return sim, rt, model_with_io(rt, neff)


def busy(thread):
    while True:
        yield from thread.compute(QUANTUM)


def test_two_busy_threads_pinned_to_one_cpu_each_get_half():
    sim = neuronsim.Simulator("trn1.2xlarge")
    rt = sim.runtime()
    a = sim.spawn(busy, rt, cpus="3", name="a")
    b = sim.spawn(busy, rt, cpus="3", name="b")
    c = sim.spawn(busy, rt, cpus="4", name="c")
    sim.run_for_ns(100 * QUANTUM)
    assert a.cpu_ns == b.cpu_ns == 50 * QUANTUM
    assert c.cpu_ns == 100 * QUANTUM  # alone on its CPU
    assert sim.hosts[0].utilisation(3, sim.now_ns) == 1.0


def test_a_call_costs_cpu_time_and_waits_for_a_busy_cpu():
    sim, rt, (model, ins, outs) = runtime_with_model()
    seqs = []

    def app(thread):
        ret, seq = nrt.Ref(), nrt.Ref()
        status = yield from thread.call(rt.nrta_execute_schedule, model, ins, outs, 0, ret, seq)
        assert status == nrt.NRT_SUCCESS
        seqs.append(seq.value)
        yield from thread.wait(seq.value)
        assert ret.value == nrt.NRT_SUCCESS

    t0 = sim.now_ns
    sim.spawn(busy, rt, cpus="0", name="hog")  # it takes CPU 0 first
    app_thread = sim.spawn(app, rt, cpus="0", name="app")
    sim.run_for_ns(10 * QUANTUM)
    request = rt.request(seqs[0])
    assert request.submit_ns == t0 + QUANTUM + 2000  # behind the hog's first slice, then the call's 2 us
    assert request.end_ns == request.submit_ns + 50_000
    assert app_thread.cpu_ns == 2000  # waiting used no CPU
    # the same thread alone on its own CPU makes the call at once
    sim2, rt2, (m2, i2, o2) = runtime_with_model()
    seqs.clear()

    def app2(thread):
        seq = nrt.Ref()
        yield from thread.call(rt2.nrta_execute_schedule, m2, i2, o2, 0, nrt.Ref(), seq)
        seqs.append(seq.value)

    t1 = sim2.now_ns
    sim2.spawn(busy, rt2, cpus="0")
    sim2.spawn(app2, rt2, cpus="1")
    sim2.run_for_ns(QUANTUM)
    assert rt2.request(seqs[0]).submit_ns == t1 + 2000


def test_threads_pipeline_requests_and_the_host_sees_completions():
    sim, rt, (model, ins, outs) = runtime_with_model(duration_ns=100_000)
    statuses = []

    def producer(thread):
        for _ in range(10):
            yield from thread.compute(30_000)  # host work per request, less than the device time
            ret, seq = nrt.Ref(), nrt.Ref()
            while (yield from thread.call(rt.nrta_execute_schedule, model, ins, outs, 0, ret, seq)) == \
                    nrt.NRT_QUEUE_FULL:
                yield thread.sleep(10_000)
            statuses.append(ret)
        last = nrt.Ref()
        yield from thread.call(rt.nrta_get_sequence, 0, nrt.NRTA_XU_COMPUTE, 0, last)

    sim.spawn(producer, rt, cpus="0-1")
    sim.run_until_idle()
    assert [r.value for r in statuses] == [nrt.NRT_SUCCESS] * 10
    runs = [r for r in rt.history if r.kind == "execute"]
    busy_ns = sum(r.end_ns - r.start_ns for r in runs)
    assert busy_ns / (runs[-1].end_ns - runs[0].start_ns) > 0.95  # async: the device never waited
    assert neuronsim.check_invariants(sim) == []


def test_a_blocking_call_blocks_the_thread_not_the_simulation():
    sim, rt, (model, ins, outs) = runtime_with_model(duration_ns=50_000)
    seen = []

    def app(thread):
        status = yield from thread.call(rt.nrt_execute, model, ins, outs)
        seen.append((status, sim.now_ns))

    def other(thread):
        yield thread.sleep(10_000)
        seen.append(("other", sim.now_ns))

    t0 = sim.now_ns
    sim.spawn(app, rt, cpus="0")
    sim.spawn(other, rt, cpus="1")
    sim.run_until_idle()
    # the call's 2 us on CPU 0, then the 50 us execution; the other thread ran meanwhile
    assert seen == [("other", t0 + 10_000), (nrt.NRT_SUCCESS, t0 + 2_000 + 50_000)]
    (run,) = [r for r in rt.history if r.kind == "execute"]
    assert run.unit.name.endswith("xu.compute.0") and run.submit_ns == t0 + 2_000


def test_calls_that_block_more_than_once_are_refused_from_threads():
    sim, rt, (model, ins, outs) = runtime_with_model()
    errors = []

    def app(thread):
        try:
            yield from thread.call(rt.nrt_execute_repeat, model, ins, outs, 2)
        except NeuronSimError as exc:
            errors.append(str(exc))

    sim.spawn(app, rt, cpus="0")
    sim.run_until_idle()
    assert errors and "blocks more than once" in errors[0]


def test_bad_affinity():
    sim = neuronsim.Simulator("trn1.2xlarge")
    with pytest.raises(ConfigError, match="outside the host's 8 vCPUs"):
        sim.spawn(busy, sim.runtime(), cpus="0-8")


def test_isolated_proxy_threads_give_a_lower_p99():
    shared = collective_latencies("trn1.32xlarge", isolate=False)
    isolated = collective_latencies("trn1.32xlarge", isolate=True)
    p99 = lambda xs: xs[min(len(xs) - 1, int(len(xs) * 0.99))]  # noqa: E731
    assert p99(isolated) < p99(shared)
    assert max(isolated) - min(isolated) < 1_000  # consistent: no queueing behind application threads
    assert p99(shared) > p99(isolated) + 100_000  # shared: the proxy waits for a slice of a busy CPU


def test_a_thread_on_the_other_socket_pays_the_numa_penalty():
    """trn1.32xlarge: device 0 sits on NUMA node 0 (CPUs 0-31,64-95); a thread on CPU 40 is on node 1."""
    ends = {}
    for cpus in ("0", "40"):
        sim = neuronsim.Simulator("trn1.32xlarge", record=True)
        rt = sim.runtime(env={"NEURON_RT_VISIBLE_CORES": "0"})
        rt.nrt_init(1, "", "")
        t = nrt.Ref()
        rt.nrt_tensor_allocate(nrt.NRT_TENSOR_PLACEMENT_DEVICE, 0, 1 << 20, "t", t)
        seqs = []

        def writer(thread, t=t, rt=rt, seqs=seqs):
            seq = nrt.Ref()
            yield from thread.call(rt.nrta_tensor_write, t.value, bytes(1 << 20), 0, 1 << 20, 0, 0, nrt.Ref(), seq)
            seqs.append(seq.value)

        thread = sim.spawn(writer, rt, cpus=cpus)
        sim.run_until_idle()
        request = rt.request(seqs[0])
        ends[thread.numa_node] = request.end_ns - request.start_ns
    assert ends[1] - ends[0] == -(-((1 << 20) * 4 // 3) // 16) - (1 << 20) // 16 + 400


def test_polling_threads_poll_while_work_is_pending_and_then_sleep():
    sim = neuronsim.Simulator("trn1.2xlarge", record=True, polling_threads=True)
    rt = sim.runtime()
    rt.nrt_init(1, "", "")
    pollers = [t for t in sim.threads if "/poll." in t.name]
    assert sorted(t.name for t in pollers) == sorted(f"nc{v}/poll.{k}" for v in (0, 1)
                                                     for k in ("read", "write", "execute"))
    neff = neuronsim.Neff(inputs={"x": ((4,), "float32")}, outputs={"y": ((4,), "float32")}, duration_ns=100_000)
    model, ins, outs = model_with_io(rt, neff)
    rt.nrta_execute_schedule(model, ins, outs, 0, nrt.Ref(), nrt.Ref())
    sim.run_until_idle()  # terminates: idle pollers sleep
    execute = next(t for t in pollers if t.name == "nc0/poll.execute")
    assert 100_000 // 5_200 <= execute.cpu_ns // 200 <= 100_000 // 5_000 + 2  # one 200 ns poll per 5 us interval
    assert next(t for t in pollers if t.name == "nc1/poll.execute").cpu_ns == 0
