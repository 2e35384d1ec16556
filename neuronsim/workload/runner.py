"""Running a workload: host threads in process mode driving the API, and what they leave behind.

Each thread of a :class:`~neuronsim.workload.spec.WorkloadSpec` becomes a process-mode thread
(:mod:`neuronsim.threads`) on its CPUs. Its lanes are the logical cores it drives. An *iteration* runs
the program once: on every lane (``dispatch: all``; host steps once, when every lane has reached them)
or on the next lane in turn (``round_robin``). The thread is an event loop, as an async serving loop
is: it schedules every step whose ``after`` steps have completed, in program order per lane and in
iteration order per step, keeps at most ``in_flight`` of its requests on any one queue and at most
``in_flight`` iterations open per lane (each open iteration has its own input and output buffers),
and otherwise sleeps (using no CPU) until one of its requests completes or the next iteration arrives.
Every schedule call spends its host cost as CPU time on the thread's CPUs. In ``sync`` style each step
is a blocking call (``nrt_execute``, ``nrt_tensor_write``, ``nrt_tensor_read``) that holds the thread
until it completes; in ``implicit_async`` style ``nrt_execute`` returns at once (the runtime's implicit
async mode, ``NEURON_RT_ASYNC_EXEC_MAX_INFLIGHT_REQUESTS = in_flight``) and a blocking tensor call
first waits for the pending executions that use its tensor.

The run is timing-only (no tensor bytes) and recorded: :class:`WorkloadRun` keeps every request and
iteration, which the summary, the metrics and the trace are computed from after the run.
"""

from __future__ import annotations

from collections.abc import Callable, Generator
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from neuronsim.errors import ConfigError, ConfigIssue
from neuronsim.idlist import parse_id_list
from neuronsim.nrt import (
    NRT_STATUS,
    Ref,
    nrt_cc_comm_t,
    nrt_cc_op_type_t,
    nrt_op_type_t,
    nrt_tensor_list_t,
    nrta_xu_t,
)
from neuronsim.runtime.neff import DTYPES, CollectiveSpec, Neff, Roofline
from neuronsim.sim.faults import FaultPlan
from neuronsim.threads import IterationRecord
from neuronsim.topology.spec import ExecutionSpec, InstanceSpec
from neuronsim.workload.models import architecture_neff
from neuronsim.workload.record import COMPACT_EVERY, ChannelMeters, RequestStats
from neuronsim.workload.spec import DEVICE_STEPS, ArchitectureSpec, StepSpec, ThreadSpec, WorkloadSpec

if TYPE_CHECKING:
    from neuronsim.simulator import Simulator
    from neuronsim.threads import HostThread

__all__ = ["run_workload", "WorkloadRun", "IterationRecord", "CallRecord", "neff_from_spec", "load_python_workload"]

S = NRT_STATUS
_XU = {"write": nrta_xu_t.NRTA_XU_TENSOR_OP, "read": nrta_xu_t.NRTA_XU_TENSOR_OP,
       "execute": nrta_xu_t.NRTA_XU_COMPUTE, "collective": nrta_xu_t.NRTA_XU_COLLECTIVES}
_CC_OPS = {"allreduce": nrt_cc_op_type_t.NRT_CC_ALLREDUCE, "allgather": nrt_cc_op_type_t.NRT_CC_ALLGATHER,
           "reducescatter": nrt_cc_op_type_t.NRT_CC_REDUCESCATTER, "alltoall": nrt_cc_op_type_t.NRT_CC_ALLTOALL,
           "permute": nrt_cc_op_type_t.NRT_CC_PERMUTE}
_REDUCE = {"add": nrt_op_type_t.NRT_OP_ADD, "max": nrt_op_type_t.NRT_OP_MAX, "min": nrt_op_type_t.NRT_OP_MIN}
_ARRIVALS_KEY = 0xA7  # the arrival streams' key under the simulator's seed


@dataclass
class CallRecord:
    """One API call a workload thread made: where and when (for the trace's host tracks and flows)."""

    thread: str
    name: str
    begin_ns: int  # when the thread started spending the call's cost
    end_ns: int  # when the call returned (the request was submitted)
    request: Any = None  # the request it submitted, if any
    status: int = 0


@dataclass
class WorkloadRun:
    """What a run leaves: the simulator, the requests, the iterations and the calls, by thread."""

    spec: WorkloadSpec | None
    sim: Simulator
    start_ns: int
    end_ns: int
    until_ns: int | None
    requests: list[Any] = field(default_factory=list)
    iterations: list[IterationRecord] = field(default_factory=list)
    calls: list[CallRecord] = field(default_factory=list)
    threads: list[HostThread] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)
    events: int = 0  # SimPy events the run processed
    completed: int = 0  # iterations completed so far
    meters: ChannelMeters | None = None  # the channels' running totals (A116)
    records: bool = True  # whether every record a trace or plots need was kept (run_workload(records=True))
    stats: RequestStats | None = None  # the requests' running totals (A116)
    stream: Any = None  # the trace written as the run goes (neuronsim.trace.stream.TraceStream), if asked

    def add_request(self, request: Any) -> None:
        """A request a thread's call submitted: counted, and kept in ``requests`` if the records are."""
        if self.stats is not None:
            self.stats.add(request)
        if self.records:
            self.requests.append(request)

    def add_call(self, call: CallRecord) -> None:
        """An API call a thread made: kept in ``calls`` if the records are (only the trace uses them)."""
        if self.stream is not None:
            self.stream.call(call)
        if self.records:
            self.calls.append(call)

    @property
    def elapsed_ns(self) -> int:
        return self.end_ns - self.start_ns


class _Task:
    __slots__ = ("step", "index", "lane", "issued", "done", "unit", "num", "request", "status")

    def __init__(self, step: StepSpec, index: int, lane: int | None) -> None:
        self.step, self.index, self.lane = step, index, lane
        self.issued = self.done = False
        self.unit: Any = None
        self.num = 0
        self.request: Any = None
        self.status = 0


class _Iteration:
    __slots__ = ("record", "lanes", "slot", "ordinal", "tasks", "host", "pos", "reached", "left", "dirty")

    def __init__(self, record: IterationRecord, lanes: tuple[int, ...], slot: int, ordinal: int,
                 program: tuple[StepSpec, ...]) -> None:
        self.record = record
        self.lanes = lanes
        self.slot = slot  # which buffer set of its lanes it uses
        self.ordinal = ordinal  # how many iterations its lanes ran before it
        self.tasks: dict[tuple[int, int], _Task] = {}
        self.host: dict[int, _Task] = {}
        for k, step in enumerate(program):
            if step.kind in DEVICE_STEPS:
                for lane in lanes:
                    self.tasks[(k, lane)] = _Task(step, k, lane)
            else:
                self.host[k] = _Task(step, k, None)
        self.pos = dict.fromkeys(lanes, 0)  # each lane's next step
        self.reached = dict.fromkeys(self.host, 0)  # host step -> lanes that have reached it
        if 0 in self.reached:
            self.reached[0] = len(lanes)
        self.left = len(self.tasks) + len(self.host)
        self.dirty = set(lanes)  # lanes whose readiness may have changed since they were last looked at

    def task(self, k: int, lane: int) -> _Task:
        return self.host.get(k) or self.tasks[(k, lane)]


class _ThreadRunner:
    """The event loop of one workload thread (see the module docstring)."""

    def __init__(self, run: WorkloadRun, rt: Any, spec: ThreadSpec, name: str,
                 models: dict[tuple[str, int], Any], buffers: dict[tuple[int, int], dict[str, Any]],
                 sets: dict[tuple[int, int, str], tuple[Any, Any]],
                 stop_ns: int | None, rng: np.random.Generator, groups: dict[int, list[int]], offset: int,
                 index: int) -> None:
        self.run, self.rt, self.spec, self.name = run, rt, spec, name
        assert run.spec is not None  # a thread of a workload file
        self.workload = run.spec
        self.sim = rt.sim
        self.models, self.buffers, self.sets = models, buffers, sets
        self.groups, self.offset = groups, offset  # step -> ranks' global ids; this instance's first global id
        self.index = index  # the thread's position in the file (its collective buffers' key)
        self.program = spec.program
        self.ids = spec.step_ids()
        self.after = [self._after(k, step) for k, step in enumerate(self.program)]
        self.lanes = spec.core_list
        self.lane_index = {lane: i for i, lane in enumerate(self.lanes)}
        self.stop_ns = stop_ns
        self.rng = rng
        self.open: list[_Iteration] = []
        self.opened = 0
        self.lane_ordinal = dict.fromkeys(self.lanes, 0)
        self.lane_open = dict.fromkeys(self.lanes, 0)
        self.issued_upto: dict[tuple[int, int], int] = {}  # (step, lane) -> ordinal of the next to issue
        self.outstanding: dict[Any, int] = {}  # unit -> this thread's requests in flight on it
        self.next_arrival = self.sim.now_ns
        self.wake: Any = None
        self.thread: HostThread | None = None
        self.style = spec.style
        self.stopped = False

    def _after(self, k: int, step: StepSpec) -> tuple[int, ...]:
        if step.after is None:
            return (k - 1,) if k else ()
        return tuple(self.ids.index(ref) for ref in step.after)

    # -- iterations --------------------------------------------------------------------------------

    def _more(self) -> bool:
        spec = self.spec
        if self.stopped:
            return False
        if spec.iterations is not None and self.opened >= spec.iterations:
            return False
        if spec.duration is not None and self.next_arrival >= self.run.start_ns + spec.duration:
            return False
        return self.stop_ns is None or self.next_arrival < self.stop_ns

    def _lanes_of(self, index: int) -> tuple[int, ...]:
        if self.spec.dispatch == "all":
            return self.lanes
        return (self.lanes[index % len(self.lanes)],)

    def _open_ready(self) -> None:
        now = self.sim.now_ns
        in_flight = self.spec.in_flight
        while self._more() and self.next_arrival <= now:
            lanes = self._lanes_of(self.opened)
            if any(self.lane_open[lane] >= in_flight for lane in lanes):
                return  # the window is full: closed loop waits, open arrivals queue on the host
            ordinal = self.lane_ordinal[lanes[0]]
            # a closed loop's iteration arrives when it is opened; an open loop's when it was due
            arrival = now if self.spec.arrivals.kind == "closed" else self.next_arrival
            record = IterationRecord(self.name, self.opened, lanes, arrival, opened_ns=now)
            self.run.iterations.append(record)
            self.open.append(_Iteration(record, lanes, ordinal % in_flight, ordinal, self.program))
            for lane in lanes:
                self.lane_ordinal[lane] += 1
                self.lane_open[lane] += 1
            self.opened += 1
            self._next_arrival()

    def _next_arrival(self) -> None:
        arrivals = self.spec.arrivals
        rate = arrivals.rate
        if rate is None:  # closed, the one kind without a rate
            self.next_arrival = self.sim.now_ns
        elif arrivals.kind == "fixed":
            self.next_arrival = self.run.start_ns + round(self.opened * 1e9 / rate)
        else:
            self.next_arrival += max(1, round(self.rng.exponential(1e9 / rate)))

    # -- readiness -----------------------------------------------------------------------------------

    def _ready(self) -> tuple[_Iteration, _Task] | None:
        """The first task (iteration order, then lane order) that may be scheduled now.

        Only lanes marked dirty are looked at: a lane's readiness changes only when one of its own
        requests completes or is scheduled (deps, the same step of its previous iteration, its queues),
        when a host step completes, or when the last lane reaches a host step; those mark it."""
        order = self.lane_index
        program_length = len(self.program)
        for it in self.open:
            if not it.dirty:
                continue
            for lane in sorted(it.dirty, key=order.__getitem__):
                k = it.pos[lane]
                if k >= program_length:
                    it.dirty.discard(lane)
                    continue
                host = it.host.get(k)
                if host is not None:  # a host step: every lane must have reached it
                    if host.issued or it.reached[k] < len(it.lanes):
                        it.dirty.discard(lane)
                        continue
                    if all(it.task(j, other).done for j in self.after[k] for other in it.lanes):
                        return it, host
                    it.dirty.discard(lane)
                    continue
                task = it.tasks[(k, lane)]
                ready = self.issued_upto.get((k, lane), 0) == it.ordinal  # the lane's previous iteration first
                if ready and self.style == "nrta":
                    ready = self.outstanding.get(self._unit(task), 0) < self.spec.in_flight
                if ready and all(it.task(j, lane).done for j in self.after[k]):
                    return it, task
                it.dirty.discard(lane)
        return None

    def _advance_lane(self, it: _Iteration, lane: int, k: int) -> None:
        """Lane ``lane`` of ``it`` moves on to step ``k``."""
        it.pos[lane] = k
        it.dirty.add(lane)
        if k in it.reached:
            it.reached[k] += 1
            if it.reached[k] == len(it.lanes):
                it.dirty.update(it.lanes)

    def _touch(self, lane: int) -> None:
        """Something of ``lane`` changed (a request scheduled or completed): look at it in every open iteration."""
        for it in self.open:
            if lane in it.pos:
                it.dirty.add(lane)

    def _unit(self, task: _Task) -> Any:
        if task.unit is None:
            queue = task.step.queue if task.step.kind != "execute" else 0
            task.unit = self.rt.execution_unit(task.lane, int(_XU[task.step.kind]), queue)
        return task.unit

    # -- the loop ------------------------------------------------------------------------------------

    def body(self, thread: HostThread) -> Generator[Any, Any, None]:
        self.thread = thread
        env = self.sim.env
        while True:
            if self.stop_ns is not None and self.sim.now_ns >= self.stop_ns:
                self.stopped = True
            self._open_ready()
            found = None if self.stopped else self._ready()
            if found is not None:
                yield from self._issue(*found)
                continue
            if not self.open and not self._more():
                return
            self.wake = env.event()
            timers = []
            if self._more() and self.next_arrival > self.sim.now_ns:
                timers.append(env.timeout(self.next_arrival - self.sim.now_ns))
            if self.stop_ns is not None and self.stop_ns > self.sim.now_ns:
                timers.append(env.timeout(self.stop_ns - self.sim.now_ns))
            if not self.open and not timers:
                return
            yield env.any_of([self.wake, *timers]) if timers else self.wake
            self.wake = None

    def _issue(self, it: _Iteration, task: _Task) -> Generator[Any, Any, None]:
        task.issued = True
        step = task.step
        kind = step.kind
        thread = self.thread
        assert thread is not None
        if task.lane is None:
            begin = self.sim.now_ns
            if step.compute is not None:
                yield from thread.compute(step.compute)
            elif step.sleep is not None:
                yield thread.sleep(step.sleep)
            self.run.add_call(CallRecord(self.name, f"{kind} {step.compute or step.sleep} ns", begin,
                                             self.sim.now_ns))
            for lane in it.lanes:
                self._advance_lane(it, lane, task.index + 1)
            self._done(it, task, S.NRT_SUCCESS)
            return
        lane = task.lane
        self._advance_lane(it, lane, task.index + 1)
        self.issued_upto[(task.index, lane)] = it.ordinal + 1
        self._touch(lane)
        if self.style == "nrta":
            yield from self._issue_async(it, task, thread, lane)
        else:
            yield from self._issue_blocking(it, task, thread, lane)

    def _args(self, it: _Iteration, task: _Task, lane: int) -> tuple[Any, ...]:
        step = task.step
        tensor_name = step.write if step.write is not None else step.read
        if tensor_name is not None:
            owner = self.workload.tensor_owner(tensor_name)
            assert owner is not None  # the workload's validation checked every step's tensor
            model, tensor = owner[:2]
            return (self.buffers[(lane, it.slot)][f"{model}.{tensor}"],)
        if step.execute is not None:
            return (self.models[(step.execute, lane)],) + self.sets[(lane, it.slot, step.execute)]
        return ()

    def _issue_async(self, it: _Iteration, task: _Task, thread: HostThread,
                     lane: int) -> Generator[Any, Any, None]:
        step, rt = task.step, self.rt
        kind = step.kind
        unit = self._unit(task)
        while True:
            ret, seq = Ref(), Ref()
            begin = self.sim.now_ns
            if kind == "write":
                (tensor,) = self._args(it, task, lane)
                name = "nrta_tensor_write"
                status = yield from thread.call(rt.nrta_tensor_write, tensor, None, 0, tensor.size, lane, step.queue,
                                                ret, seq)
            elif kind == "read":
                (tensor,) = self._args(it, task, lane)
                name = "nrta_tensor_read"
                status = yield from thread.call(rt.nrta_tensor_read, None, tensor, 0, tensor.size, lane, step.queue,
                                                ret, seq)
            elif kind == "execute":
                model, ins, outs = self._args(it, task, lane)
                name = "nrta_execute_schedule"
                status = yield from thread.call(rt.nrta_execute_schedule, model, ins, outs, 0, ret, seq)
            else:
                name = "nrta_cc_schedule"
                status = yield from self._collective(it, task, thread, lane, ret, seq)
            request = unit.pending()[-1] if status == S.NRT_SUCCESS else None
            self.run.add_call(CallRecord(self.name, name, begin, self.sim.now_ns, request, int(status)))
            if status != S.NRT_QUEUE_FULL:
                break
            yield from thread.wait_unit(unit, unit.completed_num + 1)  # the oldest in flight, then retry
        if status != S.NRT_SUCCESS:
            self.run.errors.append(f"{self.name}: {name} on core {lane} returned {NRT_STATUS(status).name}")
            self._done(it, task, status)
            return
        self._track(it, task, unit, request)

    def _collective(self, it: _Iteration, task: _Task, thread: HostThread, lane: int, ret: Ref,
                    seq: Ref) -> Generator[Any, Any, int]:
        step, rt = task.step, self.rt
        cc = step.collective
        assert cc is not None  # a collective step
        ins, outs = self.buffers[(lane, it.slot)][f"t{self.index}.cc{task.index}"]
        group = self.groups[task.index]
        comm = nrt_cc_comm_t(replica_group=group, rank=group.index(self.offset + lane), rank_n=len(group), vnc=lane)
        ctx = Ref()
        status = yield from thread.call(rt.nrta_cc_prepare, comm, nrt_tensor_list_t([ins]), nrt_tensor_list_t([outs]),
                                        int(DTYPES[cc.dtype][2]), int(_REDUCE[cc.reduce]), int(_CC_OPS[cc.op]), ctx)
        if status != S.NRT_SUCCESS:
            return status
        return (yield from thread.call(rt.nrta_cc_schedule, ctx, step.queue, ret, seq))

    def _issue_blocking(self, it: _Iteration, task: _Task, thread: HostThread,
                        lane: int) -> Generator[Any, Any, None]:
        step, rt = task.step, self.rt
        kind = step.kind
        begin = self.sim.now_ns
        if kind == "execute":
            model, ins, outs = self._args(it, task, lane)
            name = "nrt_execute"
            while True:
                status = yield from thread.call(rt.nrt_execute, model, ins, outs)
                if status != S.NRT_QUEUE_FULL or self.style != "implicit_async":
                    break
                unit = rt._sync_unit(lane, "exec")  # noqa: SLF001 - the implicit-async queue
                yield from thread.wait_unit(unit, unit.completed_num + 1)
            if self.style == "implicit_async" and status == S.NRT_SUCCESS:
                request = rt._async_pending[-1]  # noqa: SLF001
                self.run.add_call(CallRecord(self.name, name, begin, self.sim.now_ns, request, int(status)))
                self._track(it, task, request.unit, request)
                return
        else:
            # in implicit async it first waits for pending executions (A23)
            (tensor,) = self._args(it, task, lane)
            name = f"nrt_tensor_{kind}"
            if kind == "write":
                status = yield from thread.call(rt.nrt_tensor_write, tensor, None, 0, tensor.size)
            else:
                status = yield from thread.call(rt.nrt_tensor_read, tensor, None, 0, tensor.size)
        thread.last_request, request = None, thread.last_request
        self.run.add_call(CallRecord(self.name, name, begin, self.sim.now_ns, request, int(status)))
        if request is not None:
            self.run.add_request(request)
        if status != S.NRT_SUCCESS:
            self.run.errors.append(f"{self.name}: {name} on core {lane} returned {NRT_STATUS(status).name}")
        self._done(it, task, status)

    def _track(self, it: _Iteration, task: _Task, unit: Any, request: Any) -> None:
        task.unit, task.request = unit, request
        self.run.add_request(request)
        self.outstanding[unit] = self.outstanding.get(unit, 0) + 1

        def completed() -> None:
            self.outstanding[unit] -= 1
            self.rt._observe(unit, request.seq_num)  # noqa: SLF001 - the thread is woken by the completion
            self._done(it, task, request.status)

        if request.seq_num <= unit.completed_num:
            completed()
        else:
            unit.seq_waiters.setdefault(request.seq_num, []).append(completed)

    def _done(self, it: _Iteration, task: _Task, status: int) -> None:
        task.done = True
        if task.lane is None:
            it.dirty.update(it.lanes)
        else:
            self._touch(task.lane)
        task.status = int(status)
        if status != S.NRT_SUCCESS:
            it.record.failed += 1
        it.left -= 1
        if it.left == 0:
            it.record.done_ns = self.sim.now_ns
            self.run.completed += 1
            self.open.remove(it)
            for lane in it.lanes:
                self.lane_open[lane] -= 1
        if self.wake is not None and not self.wake.triggered:
            self.wake.succeed()


def neff_from_spec(name: str, spec: Any, execution: ExecutionSpec | None = None) -> Neff:
    """The :class:`~neuronsim.runtime.neff.Neff` of a workload model (a :class:`ModelSpec`, a
    :class:`NeffDescription` with the collectives it issues, or an :class:`ArchitectureSpec` costed with
    the chip's ``execution`` terms)."""
    if isinstance(spec, ArchitectureSpec):
        return architecture_neff(name, spec, execution)
    inputs = {t: (tuple(d.shape), d.dtype) for t, d in spec.inputs.items()}
    outputs = {t: (tuple(d.shape), d.dtype) for t, d in spec.outputs.items()}
    collectives = [CollectiveSpec(c.operation, c.size or 0, c.algorithm, c.input, c.output, c.reduce)
                   for c in getattr(spec, "collectives", ())]
    cost = spec.cost
    if cost.duration is not None:
        return Neff(inputs, outputs, duration_ns=cost.duration, name=f"{name}.neff", collectives=collectives)
    roofline = Roofline(int(cost.flops), cost.hbm_bytes, cost.precision, cost.efficiency, cost.memory_efficiency,
                        cost.fixed, cost.layers, cost.layer)
    return Neff(inputs, outputs, cost=roofline, name=f"{name}.neff", collectives=collectives)


def _check(status: int, what: str, source: str) -> None:
    if status != S.NRT_SUCCESS:
        raise ConfigError(source, f"{what} failed: {NRT_STATUS(status).name}")


def run_workload(workload: WorkloadSpec | Callable[[Simulator], Any], *, instance: str | None = None,
                 lnc: int | None = None, seed: int | None = None, until_ns: int | None = None,
                 source: str = "workload", progress: Callable[[int, int, str], None] | None = None,
                 records: bool = False, trace: str | Path | None = None) -> WorkloadRun:
    """Simulate a workload; returns the :class:`WorkloadRun` the summary and trace are built from.

    Args:
        workload: a validated spec, or a Python function ``fn(sim)`` that creates runtimes and spawns
            process-mode threads on the simulator it is given (its requests are all recorded).
        instance, lnc, seed, until_ns: override the workload's own (``--instance`` and so on).
        source: the file name errors are reported against.
        progress: called as ``progress(done, total, unit)`` as the run goes on: simulated time (``"ns"``)
            on a run with an end time, else completed iterations (``"iterations"``) when all threads
            have a count, else simulated time up to the longest thread ``duration``.
        records: keep every request (``run.requests``), API call (``run.calls``) and channel interval
            (``Channel.log``), as a trace or plots need; otherwise requests and channel logs are folded
            into running totals as the run goes (A116) and the run's memory does not grow with them
            (a Python workload's requests are kept by its runtimes until the run ends).
        trace: a workload file's run writes its timeline to this file as it goes
            (:mod:`neuronsim.trace.stream`, A118; ``.gz``: gzip-compressed). Not for a Python workload:
            give it ``records=True`` and write :func:`neuronsim.trace.timeline.write_timeline` after.
    """
    from neuronsim.simulator import Simulator

    spec = workload if isinstance(workload, WorkloadSpec) else None
    name = instance or (spec.instance if spec else None)
    if name is None:
        raise ConfigError(source, "no instance: give --instance or an instance field", field="instance")
    seed = seed if seed is not None else (spec.seed if spec else 0)
    lnc = lnc if lnc is not None else (spec.lnc if spec else None)
    until_ns = until_ns if until_ns is not None else (spec.until if spec else None)
    faults = list(spec.faults) if spec and spec.faults else None
    try:
        sim = Simulator(name, lnc=lnc, seed=seed, timing_only=True, record=records or spec is None,
                        faults=FaultPlan(faults=tuple(faults)) if faults else None,
                        runtime=spec.runtime if spec else None)
    except ConfigError as exc:
        if instance is None and exc.source == name:  # the workload's instance does not load: name the file
            raise ConfigError(source, [ConfigIssue("instance", issue.render(name).removeprefix(f"{name}: "))
                                       for issue in exc.issues]) from None
        if faults and exc.source == "faults":  # a fault of the workload's plan names what does not exist
            raise ConfigError(source, [ConfigIssue(("faults" if i.field.startswith("[") else "") + i.field, i.reason)
                                       for i in exc.issues]) from None
        if exc.source == "Simulator":  # a bad runtime override: the workload file's field
            raise ConfigError(source, exc.issues) from None
        raise
    channels = [c for system in sim.systems for c in system.channels()] + [link.channel for link in sim.z_links.values()]
    # the logs are folded into running totals as the run goes, unless every interval is wanted or a
    # bandwidth changes during the run (A116)
    meters = ChannelMeters(channels, fold=not records and not any(f.degrade for f in faults or ()))
    if spec is None:
        start = sim.now_ns
        workload(sim)  # type: ignore[operator]
        run = WorkloadRun(None, sim, start, start, until_ns)
    else:
        run = _start(spec, sim, until_ns, source)
    run.meters = meters
    run.records = records
    meters.start(run.start_ns)
    stats = RequestStats()
    stats.start(run.start_ns)
    if spec is not None:
        run.stats = stats  # its threads' requests are counted as they go
    if trace is not None:
        if spec is None:
            raise ValueError("a Python workload's trace is written after the run: records=True, then write_timeline")
        from neuronsim.trace.stream import TraceStream

        run.stream = stream = TraceStream(run, trace)
        stats.on_fold = stream.request
        meters.on_fold = stream.intervals
    try:
        run.events = _advance(sim, until_ns, progress, run)
    except BaseException:
        if run.stream is not None:
            run.stream.abort()
        raise
    run.end_ns = sim.now_ns if until_ns is None else min(sim.now_ns, run.start_ns + until_ns)
    run.threads = list(sim.threads)
    if spec is None:  # a Python workload's requests: every request of its runtimes, kept until now
        run.requests = [r for rt in sim.runtimes for r in rt.history]
        for request in run.requests:
            stats.add(request)
        run.stats = stats
        if not records:
            run.requests = []
        # iterations a Python workload marked with thread.iteration()
        run.iterations = sorted((r for t in sim.threads for r in t.iterations), key=lambda r: (r.arrival_ns, r.thread))
    stats.finish(run.end_ns)
    if run.stream is not None:
        run.stream.finish()
    _report_hangs(run)
    return run


def _report_hangs(run: WorkloadRun) -> None:
    """Errors for what a run leaves undone: collectives that timed out waiting for peers and, on a run that
    ended by itself (no ``until``), the iterations that never finished and the collectives still waiting."""
    sim = run.sim
    for timeout in sim.collectives.timeouts:
        run.errors.append(f"collective timeout: {timeout}")
    if run.until_ns is not None:
        return
    for record in run.iterations:
        if record.done_ns < 0:
            run.errors.append(f"{record.thread}: iteration {record.index} (cores {list(record.lanes)}) never finished")
    for line in sim.collectives.stalled():
        run.errors.append(f"hang: {line}")


PROGRESS_EVERY = 20_000  # events between progress reports on a run without an end time


def _advance(sim: Simulator, until_ns: int | None, progress: Callable[[int, int, str], None] | None,
             run: WorkloadRun) -> int:
    """Run to the end (or for ``until_ns``); returns how many SimPy events were processed. Progress is
    reported over simulated time when the run has an end time, else over iterations when their number
    is known, else over simulated time up to the longest thread ``duration`` (the bar stays full while
    the iterations that arrived before it finish)."""
    env = sim.env
    queue, step = env._queue, env.step  # noqa: SLF001 - Simulator.advance_to's loop, counting events
    end = float("inf") if until_ns is None else sim.now_ns + until_ns
    chunk = max(1, until_ns // 50) if until_ns is not None else 0
    spec = run.spec
    counts = [t.iterations for t in spec.threads if t.iterations is not None] if spec is not None else []
    total = sum(counts) if spec is not None and len(counts) == len(spec.threads) else None
    # threads that run for a duration (and no end time): progress over the longest duration
    horizon = max((t.duration for t in spec.threads if t.duration is not None), default=0) \
        if spec is not None and until_ns is None and not total else 0
    events = 0
    meters, stats = run.meters, run.stats
    while queue and queue[0][0] <= end:
        if chunk:
            limit = min(end, queue[0][0] + chunk)
            for _ in range(COMPACT_EVERY):
                if not queue or queue[0][0] > limit:
                    break
                step()
                events += 1
        else:
            for _ in range(PROGRESS_EVERY):
                if not queue:
                    break
                step()
                events += 1
        if meters is not None:
            meters.compact(sim.now_ns)  # fold what can no longer change (A116)
        if stats is not None:
            stats.compact()
            if run.stream is not None:
                now = sim.now_ns
                run.stream.depths(lambda unit: stats.horizon(unit, now))
        if progress is None:
            continue
        if until_ns is not None:
            progress(min(until_ns, int(env.now) - (int(end) - until_ns)), until_ns, "ns")
        elif total:
            progress(run.completed, total, "iterations")
        elif horizon:
            progress(min(horizon, int(env.now) - run.start_ns), horizon, "ns")
    if until_ns is not None and end > env._now:  # noqa: SLF001
        env._now = end  # noqa: SLF001 - nothing is due before the end
    return events


def _check_placement(spec: WorkloadSpec, sim: Simulator, source: str) -> None:
    total = len(sim.topology.logical_cores)
    vcpus = sim.topology.spec.host.vcpus
    instances = sim.topology.num_instances
    for i, thread in enumerate(spec.threads):
        if thread.instance >= instances:
            raise ConfigError(source, f"instance {thread.instance} does not exist: {sim.topology.name} has "
                              f"{instances} (0-{instances - 1})", field=f"threads[{i}].instance")
        bad = [c for c in thread.core_list if c >= total]
        if bad:
            raise ConfigError(source, f"core {bad[0]} does not exist: {sim.topology.name} has {total} logical cores "
                              f"at LNC={sim.topology.lnc} (0-{total - 1})", field=f"threads[{i}].cores")
        if thread.cpus is not None and any(c >= vcpus for c in parse_id_list(thread.cpus)):
            raise ConfigError(source, f"CPU list {thread.cpus!r} is outside the host's {vcpus} vCPUs",
                              field=f"threads[{i}].cpus")
        queues = sim.topology.spec.runtime.queues
        for k, step in enumerate(thread.program):
            if step.kind not in ("write", "read", "collective") or thread.style != "nrta":
                continue
            kind = "collectives" if step.kind == "collective" else "tensor_op"
            count = getattr(queues, kind)
            if step.queue >= count:
                raise ConfigError(source, f"queue {step.queue} does not exist: the runtime has {count} "
                                  f"{kind.replace('_', ' ')} queue{'s' if count != 1 else ''} per logical core "
                                  f"(0-{count - 1})", field=f"threads[{i}].program[{k}].queue")


def collective_groups(spec: WorkloadSpec, offsets: dict[int, int]) -> dict[tuple[int, int], list[int]]:
    """``(thread, step) -> the global ids of the collective's ranks``: a step's own thread's lanes, or, for
    a named ``group``, the lanes of every thread that has a step of that group, in thread order (a
    thread's lane ``c`` on instance ``i`` is global id ``offsets[i] + c``)."""
    named: dict[str, list[int]] = {}
    members: dict[tuple[int, int], str | None] = {}
    for t, thread in enumerate(spec.threads):
        ids = [offsets[thread.instance] + c for c in thread.core_list]
        for k, step in enumerate(thread.program):
            if step.collective is not None:
                group = step.collective.group
                members[(t, k)] = group
                if group is not None and not set(ids) <= set(named.get(group, [])):
                    named.setdefault(group, []).extend(i for i in ids if i not in named.get(group, []))
    return {key: (named[g] if g is not None else [offsets[spec.threads[key[0]].instance] + c
                                                   for c in spec.threads[key[0]].core_list])
            for key, g in members.items()}


def _start(spec: WorkloadSpec, sim: Simulator, until_ns: int | None, source: str) -> WorkloadRun:
    _check_placement(spec, sim, source)
    instances = sorted({t.instance for t in spec.threads})
    top = {i: max(c for t in spec.threads if t.instance == i for c in t.core_list) for i in instances}
    offsets, world = {}, 0
    for i in instances:  # global ids, instance-major: the collective world of every process
        offsets[i], world = world, world + top[i] + 1
    groups = collective_groups(spec, offsets)
    sim.collectives.fidelity = spec.collectives.fidelity
    sim.collectives.algorithm = spec.collectives.algorithm
    execution = sim.topology.spec.chip.execution if isinstance(sim.topology.spec, InstanceSpec) else \
        sim.topology.spec.instance.chip.execution
    neffs = {name: neff_from_spec(name, m, execution) for name, m in spec.models.items()}
    placed = {}
    for i in instances:
        env = dict(spec.env)
        env["NEURON_RT_VISIBLE_CORES"] = f"0-{top[i]}"
        if spec.threads[0].style == "implicit_async":
            env["NEURON_RT_ASYNC_EXEC_MAX_INFLIGHT_REQUESTS"] = str(max(t.in_flight for t in spec.threads))
        rt = sim.runtime(env, instance=i)
        _check(rt.nrt_init(1, "", ""), "nrt_init", source)
        if groups:
            for core in range(top[i] + 1):
                _check(rt.nrt_cc_global_comm_init(core, offsets[i] + core, world), "nrt_cc_global_comm_init", source)
        placed[i] = (rt, *_allocate(spec, rt, i, neffs, groups, source))
    start = sim.now_ns
    run = WorkloadRun(spec, sim, start, start, until_ns)
    streams = sim.seed_sequence.spawn(_ARRIVALS_KEY + len(spec.threads))[_ARRIVALS_KEY:]
    stop = start + until_ns if until_ns is not None else None
    vcpus = sim.topology.spec.host.vcpus
    for t, thread in enumerate(spec.threads):
        name = thread.name or f"thread{t}"
        rt, models, buffers, sets = placed[thread.instance]
        mine = {k: ids for (owner, k), ids in groups.items() if owner == t}
        runner = _ThreadRunner(run, rt, thread, name, models, buffers, sets, stop, np.random.default_rng(streams[t]),
                               mine, offsets[thread.instance], t)
        sim.spawn(runner.body, rt, cpus=thread.cpus or f"0-{vcpus - 1}", name=name)
    return run


def _allocate(spec: WorkloadSpec, rt: Any, instance: int, neffs: dict[str, Neff],
              groups: dict[tuple[int, int], list[int]], source: str) -> tuple[dict, dict, dict]:
    """Load the models and allocate the buffers of the threads on ``instance``: ``(models, buffers, sets)``."""
    here = [(t, thread) for t, thread in enumerate(spec.threads) if thread.instance == instance]
    used = sorted({c for _, thread in here for c in thread.core_list})
    models: dict[tuple[str, int], Any] = {}
    buffers: dict[tuple[int, int], dict[str, Any]] = {}
    sets: dict[tuple[int, int, str], tuple[Any, Any]] = {}
    slots = {c: max(thread.in_flight for _, thread in here if c in thread.core_list) for c in used}
    for _, thread in here:
        for step in thread.program:
            if step.execute is not None:
                neff = neffs[step.execute]
                ranks = len(thread.core_list) if neff.collectives else 0
                for rank, core in enumerate(thread.core_list):
                    if (step.execute, core) not in models:
                        out = Ref()
                        if ranks:  # one copy per core, rank r of the thread's cores: their collectives meet
                            status = rt.nrt_load_collectives(neff, core, -1, rank, ranks, out)
                        else:
                            status = rt.nrt_load(neff, core, -1, out)
                        _check(status, f"nrt_load({step.execute})", source)
                        models[(step.execute, core)] = out.value
    for core in used:
        for slot in range(slots[core]):
            tensors: dict[str, Any] = {}
            for model_name, model in spec.models.items():
                for tensor_name, decl in list(model.inputs.items()) + list(model.outputs.items()):
                    out = Ref()
                    status = rt.nrt_tensor_allocate(0, core, decl.size_bytes, f"{model_name}.{tensor_name}[{slot}]",
                                                    out)
                    _check(status, f"allocating {model_name}.{tensor_name} on core {core}", source)
                    tensors[f"{model_name}.{tensor_name}"] = out.value
                for io in ("inputs", "outputs"):
                    ref = Ref()
                    rt.nrt_allocate_tensor_set(ref)
                    for tensor_name in getattr(model, io):
                        rt.nrt_add_tensor_to_tensor_set(ref.value, tensor_name, tensors[f"{model_name}.{tensor_name}"])
                    tensors[f"{model_name}:{io}"] = ref.value
                sets[(core, slot, model_name)] = (tensors[f"{model_name}:inputs"], tensors[f"{model_name}:outputs"])
            buffers[(core, slot)] = tensors
    for t, thread in here:
        for k, step in enumerate(thread.program):
            cc = step.collective
            if cc is None:
                continue
            n = len(groups[(t, k)])
            in_size, out_size = {"allgather": (cc.size // n, cc.size), "reducescatter": (cc.size, cc.size // n)}.get(
                cc.op, (cc.size, cc.size))
            for core in thread.core_list:
                for slot in range(slots[core]):
                    pair = []
                    for what, nbytes in (("in", in_size), ("out", out_size)):
                        out = Ref()
                        _check(rt.nrt_tensor_allocate(0, core, nbytes, f"t{t}.cc{k}.{what}[{slot}]", out),
                               f"allocating the collective's {what}put on core {core}", source)
                        pair.append(out.value)
                    buffers[(core, slot)][f"t{t}.cc{k}"] = tuple(pair)
    return models, buffers, sets


def load_python_workload(ref: str) -> Callable[[Simulator], Any]:
    """``path/to/file.py:function`` -> the function (a Python workload for :func:`run_workload`).

    The file is imported, so its top-level code runs (as ``python file.py`` would run it): run only
    files you trust. Then ``function`` must be a function of it; nothing else of it runs here.

    Raises:
        ConfigError: naming the file: not ``FILE.py:FUNCTION``, not found, its import raised (the
            exception's type and message), or no function of that name.
    """
    import importlib.util

    path, sep, func = ref.rpartition(":")
    if not sep or not path.endswith(".py") or not func.isidentifier():
        raise ConfigError(ref, "a Python workload is FILE.py:FUNCTION")
    if not Path(path).is_file():
        raise ConfigError(path, "file not found")
    module_spec = importlib.util.spec_from_file_location(f"_neuronsim_workload_{Path(path).stem}", path)
    module = importlib.util.module_from_spec(module_spec)  # type: ignore[arg-type]
    try:
        module_spec.loader.exec_module(module)  # type: ignore[union-attr]
    except Exception as exc:  # noqa: BLE001 - a user file's error, reported against it
        raise ConfigError(path, f"cannot import: {type(exc).__name__}: {exc}") from None
    if not hasattr(module, func):
        known = sorted(n for n, v in vars(module).items() if callable(v) and not n.startswith("_")
                       and getattr(v, "__module__", None) == module.__name__)
        raise ConfigError(path, f"has no function {func!r}" + (f" (it has: {', '.join(known)})" if known else ""),
                          field=func)
    fn = getattr(module, func)
    if not callable(fn):
        kind = type(fn).__name__
        raise ConfigError(path, f"{func!r} is not a function ({'an' if kind[0] in 'aeiou' else 'a'} {kind})",
                          field=func)
    return fn
