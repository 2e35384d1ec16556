"""Host threads running ahead (docs/assumptions.md A135) change nothing but the number of SimPy events.

``HostCPUs.fast_path = False`` turns off the host fast path and its run-ahead: every scenario here is run
both ways and must give the same log of what each thread and the driver saw, at what simulated time, the
same CPU time per CPU and per thread, and the same requests. Random programs for a few threads (computes,
sleeps, mirror calls, waits, eventfd signals, a thread spawned mid-run) on overlapping CPUs, driven by
``run_until_idle`` or by ``advance_to`` / ``run_for_ns`` steps with direct-mode calls between them (blocking
calls, eventfd waits with and without a timeout, the Pythonic API's futures), and implicit-async callbacks
that wait themselves; then the cases found by trying to break it (a workload file's streamed trace cut
at an end time, a wait inside a callback).
"""

from __future__ import annotations

import os
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import neuronsim
from neuronsim import nrt
from neuronsim.errors import DeadlockError
from neuronsim.hw.host import HostCPUs
from tests.helpers import model_with_io, tensor

THOROUGH = os.environ.get("HYPOTHESIS_PROFILE") == "thorough"
ROOT = Path(__file__).parents[1]
SIZE = 64  # bytes of each tensor a program writes and reads


@contextmanager
def host_fast_path(fast: bool) -> Iterator[None]:
    saved = HostCPUs.fast_path
    HostCPUs.fast_path = fast
    try:
        yield
    finally:
        HostCPUs.fast_path = saved


def both(scenario: Callable[[], Any]) -> Any:
    """``scenario()`` without the host fast path (the oracle), then with it: the two must be equal."""
    with host_fast_path(False):
        slow = scenario()
    with host_fast_path(True):
        fast = scenario()
    assert fast == slow
    return fast


# -- random programs -------------------------------------------------------------------------------------

_leaf = st.one_of(
    st.tuples(st.just("compute"), st.integers(1, 2_500)),
    st.tuples(st.just("sleep"), st.integers(0, 4_000)),
    st.tuples(st.just("write"), st.integers(0, 1)),  # Tensor Op queue
    st.tuples(st.just("read"), st.integers(0, 1)),
    st.tuples(st.just("execute")),
    st.tuples(st.just("wait")),  # the thread's last accepted request
    st.tuples(st.just("block")),  # a blocking nrt_execute: the thread waits, not the simulation
    st.tuples(st.just("get_sequence")),
    st.tuples(st.just("signal")),  # the thread writes the eventfd itself (user code)
    st.tuples(st.just("register")),  # nrta_event_register_seq_id_completion of its last request
    st.tuples(st.just("async")),  # an implicit-async nrt_execute on the second runtime (its callback runs later)
    st.tuples(st.just("spin"), st.integers(1, 1_500)),  # poll its last request with nrta_is_completed, computing
    st.tuples(st.just("join")),  # wait for the thread it spawned last to end (perhaps ended already)
)
_cpus = st.sampled_from(["0", "1", "0-1", "1-2", "0-2", "2"])
_program = st.lists(st.one_of(_leaf, st.tuples(st.just("spawn"), st.lists(_leaf, max_size=4), _cpus)),
                    min_size=1, max_size=8)
_driver = st.lists(st.one_of(
    st.tuples(st.just("advance"), st.integers(0, 9_000)),
    st.tuples(st.just("run_for"), st.integers(0, 9_000)),
    st.tuples(st.just("direct_write")),  # a direct-mode call: its host cost advances the clock
    st.tuples(st.just("direct_block")),  # a blocking nrt_execute: waits for a condition
    st.tuples(st.just("poll"), st.integers(0, 6_000)),  # an eventfd wait with a timeout
    st.tuples(st.just("read_efd")),  # a blocking eventfd read (a DeadlockError when nothing can signal)
    st.tuples(st.just("future")),  # the Pythonic API: a write's future, .result()
    st.tuples(st.just("spawn"), st.lists(_leaf, min_size=1, max_size=4), _cpus),
), max_size=6)
_callback = st.sampled_from(["none", "log", "poll", "read"])  # what the implicit-async callback does


def run_programs(programs: list[tuple[list[Any], str]], quantum_ns: int, driver: list[Any] | None,
                 callback: str, polling: bool = False) -> tuple[Any, ...]:
    """Run the threads' ``programs`` (each with its CPU list) driven by ``driver`` (None: run_until_idle,
    else its steps, then run_until_idle); what every thread and the driver saw, and the CPU times."""
    sim = neuronsim.Simulator("trn1.2xlarge", cpu_quantum_ns=quantum_ns, record=True, polling_threads=polling,
                              poll_cpu_ns=300, poll_interval_ns=700)
    api = sim.open("0")  # the Pythonic API on core 0; its mirror is what the threads call
    rt = api.c
    rt2 = sim.runtime(env={"NEURON_RT_VISIBLE_CORES": "1", "NEURON_RT_ASYNC_EXEC_MAX_INFLIGHT_REQUESTS": "2"})
    assert rt2.nrt_init(nrt.NRT_FRAMEWORK_TYPE_NO_FW, "", "") == nrt.NRT_SUCCESS
    neff = neuronsim.Neff(inputs={"x": ((16,), "float32")}, outputs={"y": ((16,), "float32")}, duration_ns=3_000)
    model, ins, outs = model_with_io(rt, neff)
    model2, ins2, outs2 = model_with_io(rt2, neff)
    data = tensor(rt, SIZE, name="data")
    efd = sim.eventfd()
    log: list[tuple[Any, ...]] = []
    rets: list[nrt.Ref] = []

    def on_async(params: Any, model_id: int, vnc: int, job_id: int, status: int) -> None:
        """The implicit-async callback: it runs inside an event, and may wait itself (A135: no thread runs
        ahead past what it waits for)."""
        begin = sim.now_ns
        seen: Any = None
        if callback == "poll":
            seen = efd.poll(1_500)
        elif callback == "read" and efd.counter:
            seen = efd.read()
        log.append(("callback", begin, job_id, int(status), seen, sim.now_ns))

    if callback != "none":
        assert rt2.nrt_register_async_exec_callback(on_async, None) == nrt.NRT_SUCCESS

    def body(name: str, program: list[Any]) -> Callable[[Any], Any]:
        def run(thread: Any) -> Any:
            seqs: list[tuple[int, nrt.Ref]] = []  # its accepted requests: sequence id, status cell
            children: list[Any] = []  # the threads it spawned
            for step, op in enumerate(program):
                kind = op[0]
                seen: Any = None
                if kind == "compute":
                    yield from thread.compute(op[1])
                elif kind == "sleep":
                    yield thread.sleep(op[1])
                elif kind in ("write", "read", "execute"):
                    ret, seq = nrt.Ref(), nrt.Ref()
                    if kind == "write":
                        call = (rt.nrta_tensor_write, data, bytes(SIZE), 0, SIZE, 0, op[1], ret, seq)
                    elif kind == "read":
                        call = (rt.nrta_tensor_read, bytearray(SIZE), data, 0, SIZE, 0, op[1], ret, seq)
                    else:
                        call = (rt.nrta_execute_schedule, model, ins, outs, 0, ret, seq)
                    status = yield from thread.call(*call)
                    seen = (int(status), seq.value)
                    if status == nrt.NRT_SUCCESS:
                        seqs.append((seq.value, ret))
                        rets.append(ret)
                elif kind == "wait":
                    if seqs:
                        yield from thread.wait(seqs[-1][0])
                        seen = seqs[-1][1].value  # its status, written when it completed
                elif kind == "block":
                    seen = int((yield from thread.call(rt.nrt_execute, model, ins, outs)))
                elif kind == "get_sequence":
                    out = nrt.Ref()
                    status = yield from thread.call(rt.nrta_get_sequence, 0, nrt.NRTA_XU_COMPUTE, 0, out)
                    seen = (int(status), out.value)
                elif kind == "signal":
                    efd.write(1)
                    seen = efd.counter
                elif kind == "register":
                    if seqs:
                        status = yield from thread.call(rt.nrta_event_register_seq_id_completion, seqs[-1][0],
                                                        efd.fd)
                        seen = (int(status), efd.counter)
                elif kind == "async":
                    seen = int((yield from thread.call(rt2.nrt_execute, model2, ins2, outs2)))
                elif kind == "spin":
                    if seqs:
                        polls, done = 0, nrt.Ref()
                        while True:
                            polls += 1
                            status = yield from thread.call(rt.nrta_is_completed, seqs[-1][0], done)
                            if status != nrt.NRT_SUCCESS or done.value:
                                break
                            yield from thread.compute(op[1])
                        seen = (int(status), polls)
                elif kind == "join":
                    if children:
                        seen = children[-1].process.triggered
                        yield children[-1].process
                elif kind == "spawn":
                    children.append(sim.spawn(body(f"{name}.{step}", op[1]), rt, cpus=op[2], name=f"{name}.{step}"))
                log.append((sim.now_ns, name, step, seen))
        return run

    for i, (program, cpus) in enumerate(programs):
        sim.spawn(body(f"t{i}", program), rt, cpus=cpus, name=f"t{i}")
    for step, op in enumerate(driver or ()):
        kind = op[0]
        seen: Any = None
        if kind == "advance":
            sim.advance_to(sim.now_ns + op[1])
        elif kind == "run_for":
            sim.run_for_ns(op[1])
        elif kind == "direct_write":
            ret, seq = nrt.Ref(), nrt.Ref()
            seen = (int(rt.nrta_tensor_write(data, bytes(SIZE), 0, SIZE, 0, 0, ret, seq)), seq.value)
        elif kind == "direct_block":
            seen = int(rt.nrt_execute(model, ins, outs))
        elif kind == "poll":
            seen = efd.poll(op[1])
        elif kind == "read_efd":
            try:
                seen = efd.read()
            except DeadlockError:
                seen = "deadlock"
        elif kind == "future":
            seen = int(api.write(data, bytes(SIZE)).wait())
        elif kind == "spawn":
            sim.spawn(body(f"d{step}", op[1]), rt, cpus=op[2], name=f"d{step}")
        log.append((sim.now_ns, "driver", step, seen))
    end = sim.run_until_idle()
    requests = [(r.kind, r.unit.name, r.seq_num, r.submit_ns, r.start_ns, r.end_ns, int(r.status))
                for runtime in (rt, rt2) for r in runtime.history]
    return (log, end, list(sim.hosts[0].busy_ns), [(t.name, t.cpu_ns) for t in sim.threads],
            [r.value for r in rets], requests, efd.counter)


@settings(max_examples=1000 if THOROUGH else 60, deadline=None)
@given(programs=st.lists(st.tuples(_program, _cpus), min_size=1, max_size=4),
       quantum_ns=st.sampled_from([50, 333, 1_000, 1_000_000]),
       driver=st.one_of(st.none(), _driver), callback=_callback, polling=st.booleans())
def test_random_threads_see_the_same_with_and_without_running_ahead(programs, quantum_ns, driver, callback, polling):
    both(lambda: run_programs(programs, quantum_ns, driver, callback, polling))


# -- the breaks found, each as it was found ----------------------------------------------------------------


def callback_wait(wait: str, drive: str) -> list[tuple[Any, ...]]:
    """An implicit-async execution whose completion callback waits (``wait``) while a thread, woken just
    after the completion, computes past the end of that wait; the simulation driven by ``drive``."""
    sim = neuronsim.Simulator("trn1.2xlarge", record=True)
    api = sim.open("0")
    rt = sim.runtime(env={"NEURON_RT_VISIBLE_CORES": "1", "NEURON_RT_ASYNC_EXEC_MAX_INFLIGHT_REQUESTS": "4"})
    assert rt.nrt_init(nrt.NRT_FRAMEWORK_TYPE_NO_FW, "", "") == nrt.NRT_SUCCESS
    neff = neuronsim.Neff(inputs={"x": ((4,), "float32")}, outputs={"y": ((4,), "float32")}, duration_ns=20_000)
    model, ins, outs = model_with_io(rt, neff)
    model0, ins0, outs0 = model_with_io(api.c, neff)  # on the explicit runtime's core 0
    data = api.allocate(SIZE)
    efd = sim.eventfd()
    log: list[tuple[Any, ...]] = []

    def callback(params: Any, model_id: int, vnc: int, job_id: int, status: int) -> None:
        begin = sim.now_ns
        if wait == "poll":  # nothing signals it: 1 us of simulated time passes
            seen: Any = efd.poll(1_000)
        elif wait == "read":  # the thread signals it after its first slice
            seen = efd.read()
        elif wait == "execute":  # a blocking call (on the other runtime): its host cost, then the execution
            seen = int(api.c.nrt_execute(model0, ins0, outs0))
        else:  # the Pythonic API: a future's result
            seen = int(api.write(data, bytes(SIZE)).wait())
        log.append(("callback", begin, seen, sim.now_ns))

    assert rt.nrt_register_async_exec_callback(callback, None) == nrt.NRT_SUCCESS
    assert rt.nrt_execute(model, ins, outs) == nrt.NRT_SUCCESS  # queued; it completes 20 us from now
    done = rt.history[-1].end_ns

    def body(thread: Any) -> Any:
        yield thread.sleep(done + 500 - sim.now_ns)  # wakes while the callback waits
        yield from thread.compute(1_000)
        efd.write(1)
        log.append(("signal", sim.now_ns))
        yield from thread.compute(5_000)
        log.append(("thread", sim.now_ns))

    sim.spawn(body, rt, cpus="0")
    if drive == "idle":
        sim.run_until_idle()
    else:
        sim.advance_to(done + 50_000)
    log.append(("end", sim.now_ns, list(sim.hosts[0].busy_ns)))
    return log


@pytest.mark.parametrize("drive", ["idle", "advance"])
@pytest.mark.parametrize("wait", ["poll", "read", "execute", "future"])
def test_a_wait_inside_a_callback_lets_no_thread_run_ahead(wait: str, drive: str) -> None:
    """A callback runs inside an event of a loop that lets threads run ahead (``run_until_idle``,
    ``advance_to``); a wait it makes is a loop of its own that acts when its condition holds, so no thread
    may run ahead while it waits: not past its deadline (``poll``), not past the signal that ends it
    (``read``). Found by the property above: the callback's poll of 1 us returned 4.5 us late."""
    log = both(lambda: callback_wait(wait, drive))
    (_, begin, seen, end), = [entry for entry in log if entry[0] == "callback"]
    if wait == "poll":
        assert (seen, end) == (False, begin + 1_000)
    elif wait == "read":
        assert (seen, end) == (1, begin + 500 + 1_000)
        assert ("signal", end) in log
    assert log[-2] == ("thread", begin + 500 + 6_000) or wait in ("execute", "future")


def streamed(spec: Any, until_ns: int, path: Path) -> tuple[bytes, str, list[tuple[int, int, str]]]:
    from neuronsim.workload.metrics import render, summary
    from neuronsim.workload.runner import run_workload

    progress: list[tuple[int, int, str]] = []
    run = run_workload(spec, until_ns=until_ns, trace=path, progress=lambda *a: progress.append(a))
    return path.read_bytes(), render(summary(run)), progress


@pytest.mark.parametrize(("name", "sets", "until_ns"), [
    ("inference-server.yaml", [f"threads.{t}.iterations=40" for t in range(4)], 7_000_000),
    ("llm-decode.yaml", ["threads.0.iterations=3"], 3_000_000)], ids=["server", "decode"])
def test_a_streamed_trace_of_a_run_with_an_end_is_the_same(name: str, sets: list[str], until_ns: int,
                                                           tmp_path: Path) -> None:
    """A workload file's trace written as the run goes (A118) writes what each compaction folded, and a run
    with an end time compacts after each fiftieth of it: a thread running ahead past that point moved the
    compaction, and the trace's events came in another order (same summary). The runner lets a thread run
    ahead to the end of the current fiftieth only."""
    from neuronsim.workload.spec import load_workload

    spec = load_workload(ROOT / "examples" / "workloads" / name, sets)
    trace, text, progress = both(lambda: streamed(spec, until_ns, tmp_path / "t.json"))
    assert len(progress) > 5 and progress[-1] == (until_ns, until_ns, "ns")


@pytest.mark.parametrize("queued", [False, True])
def test_an_async_callback_that_schedules_the_next_execution(queued: bool) -> None:
    """An implicit-async callback that calls ``nrt_execute`` runs while its unit is between two requests: a
    request it submits to the idle unit starts at once, and the unit does not start it a second time when
    the callback returns (it did: the request's end came twice and the second ``_finish`` raised
    IndexError). Found by the property above (a thread's execution submitted while a callback waited)."""
    sim = neuronsim.Simulator("trn1.2xlarge", record=True)
    rt = sim.runtime(env={"NEURON_RT_ASYNC_EXEC_MAX_INFLIGHT_REQUESTS": "4"})
    assert rt.nrt_init(nrt.NRT_FRAMEWORK_TYPE_NO_FW, "", "") == nrt.NRT_SUCCESS
    neff = neuronsim.Neff(inputs={"x": ((4,), "float32")}, outputs={"y": ((4,), "float32")}, duration_ns=20_000)
    model, ins, outs = model_with_io(rt, neff)
    cost = rt._cost_table["schedule_ns"]  # noqa: SLF001 - nrt_execute's host cost
    done: list[tuple[int, int, int]] = []

    def callback(params: Any, model_id: int, vnc: int, job_id: int, status: int) -> None:
        done.append((job_id, int(status), sim.now_ns))
        if job_id == 1:
            assert rt.nrt_execute(model, ins, outs) == nrt.NRT_SUCCESS

    assert rt.nrt_register_async_exec_callback(callback, None) == nrt.NRT_SUCCESS
    for _ in range(2 if queued else 1):
        assert rt.nrt_execute(model, ins, outs) == nrt.NRT_SUCCESS
    first = rt.history[-1 if not queued else -2].end_ns
    sim.run_until_idle()
    runs = [r for r in rt.history if r.kind == "execute"]
    assert done == [(k + 1, 0, r.end_ns) for k, r in enumerate(runs)]
    assert [r.end_ns - r.start_ns for r in runs] == [20_000] * (3 if queued else 2)
    assert all(a.end_ns <= b.start_ns for a, b in zip(runs, runs[1:]))  # one at a time
    if not queued:  # the unit was idle when the callback's request came, after its host cost
        assert runs[1].start_ns == first + cost


def test_an_async_callback_of_a_fatal_failure_cannot_schedule_on_its_unit() -> None:
    """The unit is terminal from the fatal completion on (A17): the callback's ``nrt_execute`` is refused
    (before, it was accepted, started on the idle unit, then flushed, and its end raised IndexError)."""
    sim = neuronsim.Simulator("trn1.2xlarge", record=True,
                              faults=[{"target": "core", "core": 0, "nth": 1, "status": int(nrt.NRT_EXEC_HW_ERR_NC_UE)}])
    rt = sim.runtime(env={"NEURON_RT_ASYNC_EXEC_MAX_INFLIGHT_REQUESTS": "4"})
    assert rt.nrt_init(nrt.NRT_FRAMEWORK_TYPE_NO_FW, "", "") == nrt.NRT_SUCCESS
    neff = neuronsim.Neff(inputs={"x": ((4,), "float32")}, outputs={"y": ((4,), "float32")}, duration_ns=20_000)
    model, ins, outs = model_with_io(rt, neff)
    seen: list[tuple[int, int, int]] = []

    def callback(params: Any, model_id: int, vnc: int, job_id: int, status: int) -> None:
        seen.append((job_id, int(status), int(rt.nrt_execute(model, ins, outs))))

    assert rt.nrt_register_async_exec_callback(callback, None) == nrt.NRT_SUCCESS
    assert rt.nrt_execute(model, ins, outs) == nrt.NRT_SUCCESS
    sim.run_until_idle()
    assert seen == [(1, nrt.NRT_EXEC_HW_ERR_NC_UE, nrt.NRT_EXEC_UNIT_UNRECOVERABLE)]
    assert [r.status for r in rt.history if r.kind == "execute"] == [nrt.NRT_EXEC_HW_ERR_NC_UE]
