"""Process mode: host threads as SimPy processes that compete for the host's CPUs and call the API.

``sim.spawn(body, rt, cpus="0-3")`` starts a thread; ``body(thread)`` is a generator function. Inside it:

* ``status = yield from thread.call(rt.nrta_execute_schedule, model, ins, outs, 0, ret, seq)`` makes a
  mirror call: its host cost (``runtime.call_costs``) is spent as CPU time on one of the thread's CPUs,
  where it waits behind other threads, then the call acts;
* ``yield from thread.compute(ns)`` is the thread's own work (CPU time);
* ``yield from thread.wait(seq)`` blocks, without using a CPU, until a request completes;
* ``yield thread.sleep(ns)`` sleeps;
* ``with thread.iteration() as it:`` marks one iteration of a Python workload (``neuronsim run
  FILE.py:FUNCTION``): it arrives when the block is entered (or at ``arrival_ns``) and is done when the
  block ends; ``it.failed += 1`` counts a failed step. The summary's throughput and latency count these.

Blocking mirror calls (``nrt_execute`` in synchronous mode, ``nrt_tensor_read`` / ``nrt_tensor_write`` /
``nrt_tensor_copy``) block the thread, not the simulation: ``status = yield from thread.call(rt.nrt_execute,
model, ins, outs)`` submits the request, waits (using no CPU) until it completes and returns its status.
In implicit async a blocking tensor call first waits, in the thread, for the pending executions it
must, and ``nrt_async_drain_queued_execs`` blocks the thread until they are done. Calls that block
more than once (``nrt_execute_repeat``, batches) belong to direct mode; from a thread they raise
``NeuronSimError``.
"""

from __future__ import annotations

from collections.abc import Callable, Generator, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import simpy

from neuronsim.errors import NeuronSimError
from neuronsim.idlist import parse_id_list
from neuronsim.nrt import NRT_STATUS, NRTA_SEQ_GET_SEQ_NUM, Ref
from neuronsim.runtime.caller import ThreadCall

if TYPE_CHECKING:
    from neuronsim.api.base import RuntimeBase
    from neuronsim.sim.context import SimContext

__all__ = ["HostThread", "IterationRecord"]


@dataclass
class IterationRecord:
    """One iteration of a thread: when it arrived, when its last step completed, whether all succeeded."""

    thread: str
    index: int
    lanes: tuple[int, ...]
    arrival_ns: int
    done_ns: int = -1
    failed: int = 0
    opened_ns: int = -1  # when the thread opened it: later than arrival_ns if it waited for an in-flight slot


class HostThread:
    """One host thread of a runtime process (see the module docstring)."""

    def __init__(self, sim: SimContext, rt: RuntimeBase, cpus: str, name: str, numa_node: int | None = None) -> None:
        self.sim = sim
        self.rt = rt
        self.name = name
        self.affinity = parse_id_list(cpus)
        # its host buffers live on this node: given, else the node of its first CPU (first-touch)
        self.numa_node = numa_node if numa_node is not None else sim.topology.spec.host.numa_node_of_cpu(
            self.affinity[0])
        self.cpu_ns = 0
        self.process: simpy.Process | None = None
        self.last_request: Any = None  # the request of the thread's last blocking call
        self.private: simpy.Event | None = None  # the last event only this thread's process waited on (A122)
        self.iterations: list[IterationRecord] = []  # IterationRecords marked with iteration()

    def compute(self, duration_ns: int) -> Generator[simpy.Event, Any, None]:
        """The thread's own work: ``duration_ns`` of CPU time."""
        host = self.sim.hosts[self.rt.instance]
        spent = host.ahead(self.affinity, duration_ns, self)  # on an idle host: all of it, no event (A135)
        if spent < duration_ns:
            yield from host.run(self.affinity, duration_ns - spent, self)
        self.cpu_ns += duration_ns

    def call(self, method: Callable[..., Any], *args: Any) -> Generator[simpy.Event, Any, Any]:
        """A mirror call: its host cost as CPU time, then the call; returns what the call returns.

        The call is made through the method's ``from_thread`` entry with this thread passed explicitly (a
        :class:`~neuronsim.runtime.caller.ThreadCall`): it spends no direct-mode host cost (spent above, on
        this thread's CPU), its transfers use this thread's buffers (its NUMA node), and a blocking call
        hands its request back here instead of stepping the simulation."""
        rt = getattr(method, "__self__", None)
        if rt is None or not hasattr(rt, "_cost_table"):
            raise NeuronSimError(f"{method!r} is not a runtime's mirror call")
        kind = getattr(method, "cost_kind", None)
        cost = rt._cost_table.get(kind, 0) if kind else 0  # noqa: SLF001
        if cost:  # compute(cost), inlined: most calls run ahead (A135) and need no generator of their own
            host = self.sim.hosts[self.rt.instance]
            spent = host.ahead(self.affinity, cost, self)
            if spent < cost:
                yield from host.run(self.affinity, cost - spent, self)
            self.cpu_ns += cost
        caller = ThreadCall(self, self.numa_node)
        entry = getattr(method, "from_thread", None)
        result = entry(rt, caller, *args) if entry is not None else method(*args)
        block, waits = caller.block, caller.waits
        for unit, num in waits:  # implicit async: pending executions that use the tensor (or drain)
            yield from self.wait_unit(unit, num)
        if block is None or result != NRT_STATUS.NRT_SUCCESS:
            return result
        unit, request = block
        self.last_request = request
        while True:
            status = rt._schedule(unit, request, Ref())  # noqa: SLF001
            if status != NRT_STATUS.NRT_QUEUE_FULL:
                break
            yield from self.wait_unit(unit, unit.completed_num + 1)
        if status != NRT_STATUS.NRT_SUCCESS:
            return status
        yield from self.wait_unit(unit, request.seq_num)
        return NRT_STATUS(request.status)

    def wait(self, seq: int) -> Generator[simpy.Event, Any, None]:
        """Block (using no CPU) until request ``seq`` of this thread's runtime has completed."""
        unit = self.rt._xu_by_id.get((seq >> 48) & 0xFFFF)  # noqa: SLF001
        if unit is None:
            raise NeuronSimError(f"{seq:#x} is not a sequence id of this runtime")
        yield from self.wait_unit(unit, NRTA_SEQ_GET_SEQ_NUM(seq))

    def wait_unit(self, unit: Any, num: int) -> Generator[simpy.Event, Any, None]:
        """Block (using no CPU) until request ``num`` of execution unit ``unit`` has completed (any unit of
        the runtime, the internal queues of the blocking calls included)."""
        if num > unit.completed_num:
            event = self.sim.env.event()
            unit.seq_waiters.setdefault(num, []).append(lambda: event.succeed())
            self.private = event
            yield event
        self.rt._observe(unit, num)  # noqa: SLF001

    @contextmanager
    def iteration(self, arrival_ns: int | None = None) -> Iterator[Any]:
        """Mark one iteration (a request served, a training step) of a Python workload.

        ``with thread.iteration() as it:`` around the code of one iteration (``yield from`` inside the
        block is fine): it arrives at ``arrival_ns`` (default: when the block is entered; give the due
        time of an open-loop arrival that waited), is opened when the block is entered and done when it
        ends normally; ``it.failed += 1`` counts a failed step. Returns the
        :class:`IterationRecord`, which ``thread.iterations`` keeps and the
        workload summary reads (an iteration whose block never ended has ``done_ns == -1``).
        """
        now = self.sim.now_ns
        record = IterationRecord(self.name, len(self.iterations), (), now if arrival_ns is None else int(arrival_ns),
                                 opened_ns=now)
        self.iterations.append(record)
        yield record
        record.done_ns = self.sim.now_ns

    def sleep(self, duration_ns: int) -> simpy.Event:
        return self.sim.env.timeout(duration_ns)

    def __repr__(self) -> str:
        return f"<HostThread {self.name!r} cpus {self.affinity}>"
