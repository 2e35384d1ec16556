"""The event loop of one workload thread: its iterations, its lanes, and each step issued as a mirror call.

:func:`neuronsim.workload.runner.run_workload` makes one :class:`ThreadRunner` per thread of a workload
file and spawns its :meth:`ThreadRunner.body` as a process-mode host thread; the loop it runs is described
in :mod:`neuronsim.workload.runner`'s docstring.
"""

from __future__ import annotations

import heapq
from collections.abc import Generator
from typing import TYPE_CHECKING, Any

import numpy as np

from neuronsim.nrt import (
    NRT_STATUS,
    Ref,
    nrt_cc_comm_t,
    nrt_cc_op_type_t,
    nrt_op_type_t,
    nrt_tensor_list_t,
    nrta_xu_t,
)
from neuronsim.runtime.neff import DTYPES
from neuronsim.threads import IterationRecord
from neuronsim.workload.record import CallRecord, WorkloadRun
from neuronsim.workload.spec import DEVICE_STEPS, StepSpec, ThreadSpec

if TYPE_CHECKING:
    from neuronsim.threads import HostThread

__all__ = ["ThreadRunner"]

S = NRT_STATUS
_XU = {"write": nrta_xu_t.NRTA_XU_TENSOR_OP, "read": nrta_xu_t.NRTA_XU_TENSOR_OP,
       "execute": nrta_xu_t.NRTA_XU_COMPUTE, "collective": nrta_xu_t.NRTA_XU_COLLECTIVES}
_CC_OPS = {"allreduce": nrt_cc_op_type_t.NRT_CC_ALLREDUCE, "allgather": nrt_cc_op_type_t.NRT_CC_ALLGATHER,
           "reducescatter": nrt_cc_op_type_t.NRT_CC_REDUCESCATTER, "alltoall": nrt_cc_op_type_t.NRT_CC_ALLTOALL,
           "permute": nrt_cc_op_type_t.NRT_CC_PERMUTE}
_REDUCE = {"add": nrt_op_type_t.NRT_OP_ADD, "max": nrt_op_type_t.NRT_OP_MAX, "min": nrt_op_type_t.NRT_OP_MIN}


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
    __slots__ = ("record", "lanes", "slot", "ordinal", "tasks", "host", "pos", "reached", "left", "dirty",
                 "undone", "order", "heap")

    def __init__(self, record: IterationRecord, lanes: tuple[int, ...], slot: int, ordinal: int,
                 program: tuple[StepSpec, ...], order: dict[int, int]) -> None:
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
        # step -> its tasks not done yet (one per lane, or the host step's one): a host step waits for zeros
        self.undone = [len(lanes) if step.kind in DEVICE_STEPS else 1 for step in program]
        self.order = order  # lane -> its place in the thread's lane order
        # lanes whose readiness may have changed since they were last looked at: a set, and a heap of
        # (place, lane) holding the same lanes, so that they are looked at in lane order without sorting
        self.dirty: set[int] = set()
        self.heap: list[tuple[int, int]] = []
        self.mark_all()

    def task(self, k: int, lane: int) -> _Task:
        return self.host.get(k) or self.tasks[(k, lane)]

    def mark(self, lane: int) -> None:
        """Look at ``lane`` again."""
        if lane not in self.dirty:
            self.dirty.add(lane)
            heapq.heappush(self.heap, (self.order[lane], lane))

    def mark_all(self) -> None:
        """Look at every lane again."""
        self.dirty = set(self.lanes)
        self.heap = sorted((self.order[lane], lane) for lane in self.lanes)


class ThreadRunner:
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
        self.full_lanes = 0  # lanes whose lane_open is at the in-flight limit
        self.issued_upto: dict[tuple[int, int], int] = {}  # (step, lane) -> ordinal of the next to issue
        self.outstanding: dict[Any, int] = {}  # unit -> this thread's requests in flight on it
        self.next_arrival = self.sim.now_ns
        self.wake: Any = None
        self.thread: HostThread | None = None
        self.style = spec.style
        self.stopped = False
        self._buffer_keys: dict[int, str] = {}  # a write or read step -> its tensor's key in the buffers

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
        while self.next_arrival <= now and self._more():
            lanes = self._lanes_of(self.opened)
            # every lane (dispatch: all) or one: is any of them at its in-flight limit?
            if (self.lane_open[lanes[0]] >= in_flight) if len(lanes) == 1 else self.full_lanes:
                return  # the window is full: closed loop waits, open arrivals queue on the host
            ordinal = self.lane_ordinal[lanes[0]]
            # a closed loop's iteration arrives when it is opened; an open loop's when it was due
            arrival = now if self.spec.arrivals.kind == "closed" else self.next_arrival
            record = IterationRecord(self.name, self.opened, lanes, arrival, opened_ns=now)
            self.run.iterations.append(record)
            self.open.append(_Iteration(record, lanes, ordinal % in_flight, ordinal, self.program, self.lane_index))
            for lane in lanes:
                self.lane_ordinal[lane] += 1
                self.lane_open[lane] += 1
                if self.lane_open[lane] == in_flight:
                    self.full_lanes += 1
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
        program_length = len(self.program)
        after = self.after
        for it in self.open:
            heap, dirty = it.heap, it.dirty
            while heap:
                lane = heap[0][1]  # the first dirty lane in lane order; it stays dirty if it is the one
                k = it.pos[lane]
                if k < program_length:
                    host = it.host.get(k)
                    if host is not None:  # a host step: every lane must have reached it
                        if not host.issued and it.reached[k] == len(it.lanes):
                            undone = it.undone
                            if all(undone[j] == 0 for j in after[k]):
                                return it, host
                    else:
                        task = it.tasks[(k, lane)]
                        # the lane's previous iteration first
                        ready = self.issued_upto.get((k, lane), 0) == it.ordinal
                        if ready and self.style == "nrta":
                            ready = self.outstanding.get(self._unit(task), 0) < self.spec.in_flight
                        if ready and all(it.task(j, lane).done for j in after[k]):
                            return it, task
                heapq.heappop(heap)
                dirty.discard(lane)
        return None

    def _advance_lane(self, it: _Iteration, lane: int, k: int) -> None:
        """Lane ``lane`` of ``it`` moves on to step ``k``."""
        it.pos[lane] = k
        it.mark(lane)
        if k in it.reached:
            it.reached[k] += 1
            if it.reached[k] == len(it.lanes):
                it.mark_all()

    def _touch(self, lane: int) -> None:
        """Something of ``lane`` changed (a request scheduled or completed): look at it in every open iteration."""
        for it in self.open:
            if lane in it.pos:
                it.mark(lane)

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
            key = self._buffer_keys.get(task.index)
            if key is None:
                owner = self.workload.tensor_owner(tensor_name)
                assert owner is not None  # the workload's validation checked every step's tensor
                key = self._buffer_keys[task.index] = f"{owner[0]}.{owner[1]}"
            return (self.buffers[(lane, it.slot)][key],)
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
            request = unit._queue[-1] if status == S.NRT_SUCCESS else None  # noqa: SLF001 - the one just accepted
            if self.run.records or self.run.stream is not None:  # else nobody keeps the call: no record made
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
        it.undone[task.index] -= 1
        if task.lane is None:
            it.mark_all()
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
                if self.lane_open[lane] == self.spec.in_flight:
                    self.full_lanes -= 1
                self.lane_open[lane] -= 1
        if self.wake is not None and not self.wake.triggered:
            self.wake.succeed()
