"""A runtime process (:class:`RuntimeProcess`): its state, its device memory, and completion as it sees it: the internal queues of the blocking calls, blocking (the
direct-mode host steps the simulation; a process-mode thread is handed the request), implicit-async
executions, what the host has observed complete (for race detection), spinning-host detection, and
eventfd registrations.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from neuronsim.errors import DeadlockError, NeuronSimError
from neuronsim.hw.xu import ExecutionUnit
from neuronsim.nrt import NRT_STATUS, NRTA_SEQ_NUM_MASK, Ref
from neuronsim.runtime.checks import S, _host_buffer, _int, _refuse
from neuronsim.runtime.memory import DeviceMemory
from neuronsim.runtime.requests import ReadRequest, WriteRequest
from neuronsim.sim.events import EventFd, describe
from neuronsim.text import plural

# the blocking call of each request kind, for the line of a call refused on a unit in its terminal state (A17)
_BLOCKING_CALLS = {"tensor_write": "nrt_tensor_write", "tensor_read": "nrt_tensor_read", "tensor_copy": "nrt_tensor_copy",
                   "execute": "nrt_execute"}

if TYPE_CHECKING:
    from neuronsim.runtime.caller import ThreadCall
    from neuronsim.runtime.objects import Model, Tensor

__all__ = ["RuntimeProcess", "ASYNC_HARD_LIMIT"]

ASYNC_HARD_LIMIT = 63  # implicit async: "the hard limit of 63" in-flight requests (runtime 2.25.57.0)


class RuntimeProcess(DeviceMemory):
    """One simulated host process of the Neuron Runtime: the state (:class:`~neuronsim.runtime.state.ProcessState`,
    :class:`~neuronsim.runtime.memory.DeviceMemory`) the API layer's mirror classes (:mod:`neuronsim.api`)
    extend, with the waits for completion the blocking calls and completion queries make."""

    _SYNC_TYPE = 0xF  # the internal units of the blocking calls: an XU type no nrta_* call accepts

    def _sync_unit(self, vnc: int, kind: str) -> ExecutionUnit:
        """The internal queue the blocking reads (or writes) of core ``vnc`` use: separate DMA queues
        since SDK 2.30, invisible to nrta_get_sequence."""
        key = (vnc, kind)
        unit = self._sync_units.get(key)
        if unit is None:
            queue = {"read": 0, "write": 1, "copy": 2, "exec": 3}[kind]
            capacity = ASYNC_HARD_LIMIT if kind == "exec" else self.sim.topology.spec.runtime.queue_capacity
            unit = ExecutionUnit(self.sim.env, f"nc{vnc}/sync.{kind}", self._SYNC_TYPE | queue << 4 | vnc << 8,
                                 capacity)
            core = self._cores[vnc]
            unit.kind, unit.queue, unit.core_id, unit.device_index = f"sync_{kind}", queue, core.id, core.device.index
            unit.instance = self.instance
            unit.timeout_ns = self.exec_timeout_ns
            unit.faults = self.sim.fault_injector
            unit.history = self.history if self.sim.record else None
            self._sync_units[key] = unit
        return unit

    def _wait_for(self, unit: ExecutionUnit, num: int, defer: bool = False, caller: ThreadCall | None = None) -> None:
        """Block the (direct-mode) host until request ``num`` of ``unit`` completes. From a process-mode
        thread (``caller``) a ``defer``-able wait is handed to ``thread.call`` (``caller.waits``), which makes
        it before the call's own request is submitted; any other is refused."""
        if caller is not None:
            if defer:
                caller.waits.append((unit, num))
                return
            raise NeuronSimError("a blocking call from a process-mode thread: schedule the request and "
                                 "`yield from thread.wait(seq)` instead")
        if unit.completed_num < num:
            env = self._env
            queue = env._queue  # noqa: SLF001
            # a wait for a condition, even one made inside a loop that drives the clock to a time (a callback):
            # no thread runs ahead while it waits (A135)
            with self.sim.run_ahead.up_to(-1):
                while unit.completed_num < num:
                    if not queue:
                        raise DeadlockError(f"a blocking call waits for request {num} on {unit.name}, which can "
                                            "never complete", [f"{unit.name}: completed up to {unit.completed_num}",
                                                               *self.sim.collectives.stalled()])
                    env.step()
        self._observe(unit, num)

    def _blocking(self, unit: ExecutionUnit, request: Any, caller: ThreadCall | None = None) -> NRT_STATUS:
        """Submit ``request`` (waiting for room if the queue is full) and wait for it; its status.

        From a process-mode thread (``caller``) the submit and the wait are the thread's: the request is
        handed to ``thread.call`` (``caller.block``), which submits it, blocks the thread until it completes
        and returns its status."""
        if caller is not None:
            if caller.block is not None:
                raise NeuronSimError("this call blocks more than once (repeat or batch calls): use it from "
                                     "direct mode, or one blocking call per request from a thread")
            if unit.fatal_status is not None:
                return self._dead(unit, _BLOCKING_CALLS.get(request.kind, "blocking call"))
            caller.block = (unit, request)
            return S.NRT_SUCCESS
        while True:
            if unit.fatal_status is not None:
                return self._dead(unit, _BLOCKING_CALLS.get(request.kind, "blocking call"))
            status = self._schedule(unit, request, Ref())
            if status != S.NRT_QUEUE_FULL:
                break
            self._wait_for(unit, unit.completed_num + 1)
        if status != S.NRT_SUCCESS:
            return status
        self._wait_for(unit, request.seq_num)
        return NRT_STATUS(request.status)

    def _execute_async(self, m: Model, request: Any) -> NRT_STATUS:
        """Implicit async: enqueue and return; the callback reports the status."""
        unit = self._sync_unit(m.vnc, "exec")
        if unit.fatal_status is not None:
            return self._dead(unit, "nrt_execute")
        if unit.depth >= self.async_depth:
            return S.NRT_QUEUE_FULL  # "Too many pending nrt_execute() requests"
        job_id = next(self._job_ids)

        def report(_unit: ExecutionUnit, done: Any) -> None:
            if done is request:
                unit.listeners.remove(report)
                self._async_pending.remove(request)
                if self._async_callback is not None:
                    callback, params = self._async_callback
                    callback(params, m.id, m.vnc, job_id, NRT_STATUS(request.status))

        unit.listeners.append(report)
        self._async_pending.append(request)
        return self._schedule(unit, request, Ref())

    def _wait_pending_executions(self, alloc: Any = None, caller: ThreadCall | None = None) -> None:
        """Implicit async: block while pending executions use ``alloc`` (all of them, when None)."""
        for request in list(self._async_pending):
            uses = alloc is None or any(a is alloc for a, *_ in request.accesses())
            if uses and request in self._async_pending:
                self._wait_for(request.unit, request.seq_num, defer=True, caller=caller)

    def _host_copy(self, src: Tensor, src_off: int, dst: Tensor | memoryview, dst_off: int, n: int) -> None:
        data = (src.alloc.storage.read_bytes(src.offset + src_off, n) if src.alloc.storage is not None
                else bytes(n))
        if isinstance(dst, memoryview):
            dst[:n] = data
        elif dst.alloc.storage is not None:
            dst.alloc.storage.write(dst.offset + dst_off, data)

    def _sync_write(self, t: Tensor, buf: Any, off: int, n: int, caller: ThreadCall | None = None) -> NRT_STATUS:
        host = None if (self.sim.timing_only and buf is None) else _host_buffer(buf, n, writable=False)
        if not t.on_device:
            if host is not None and t.alloc.storage is not None:
                t.alloc.storage.write(t.offset + off, host[:n].tobytes())
            return S.NRT_SUCCESS
        unit = self._sync_unit(t.vnc, "write")
        return self._blocking(unit, WriteRequest(self.system, t, off, n, self._transfer_engine(t.core, 0, True), host,
                                                 None, self._remote(t.core, caller)), caller)

    def _sync_read(self, t: Tensor, buf: Any, off: int, n: int, caller: ThreadCall | None = None) -> NRT_STATUS:
        host = None if (self.sim.timing_only and buf is None) else _host_buffer(buf, n, writable=True)
        if not t.on_device:
            if host is not None:
                self._host_copy(t, off, host, 0, n)
            return S.NRT_SUCCESS
        unit = self._sync_unit(t.vnc, "read")
        return self._blocking(unit, ReadRequest(self.system, t, off, n, self._transfer_engine(t.core, 1, False), host,
                                                None, self._remote(t.core, caller)), caller)

    # -- completion as the host sees it ----------------------------------------------------------

    def _poll_state(self, what: str, query: bool = False) -> None:
        """Count a query made while nothing is in flight; past the limit the host can only spin.

        A wait (a poll for a request not yet complete, or for one never accepted) counts toward
        ``sim.hang_polls``; a plain query (``nrta_get_sequence`` of a queue that has completed all it
        accepted) toward the much larger ``sim.hang_queries``, so a bounded monitoring loop never trips
        it while an endless one still ends (A73)."""
        if self.sim.env.peek() != float("inf"):
            self._idle_polls = self._idle_queries = 0
            return
        if query:
            self._idle_queries += 1
            count, limit = self._idle_queries, self.sim.hang_queries
        else:
            self._idle_polls += 1
            count, limit = self._idle_polls, self.sim.hang_polls
        if count >= limit:
            self._idle_polls = self._idle_queries = 0
            busy = [f"{xu.name}: completed up to {xu.completed_num} of {xu.last_submitted_num}"
                    for xu in self._xus.values() if xu.last_submitted_num]
            raise DeadlockError(
                f"the host has polled {limit} times while nothing is in flight: it waits on "
                "something the simulation can never deliver",
                [f"last query: {what}"] + (busy or ["no request was ever accepted"]))

    def _observe(self, xu: ExecutionUnit, num: int) -> None:
        if num > self.observed.get(xu.xu_id, 0):
            self.observed[xu.xu_id] = num

    def _decode(self, seq: Any) -> tuple[ExecutionUnit, int]:
        value = _int(seq, "seq")
        xu = self._xu_by_id.get((value >> 48) & 0xFFFF)
        num = value & NRTA_SEQ_NUM_MASK
        if xu is None or value < 0 or num == 0 or num > xu.last_submitted_num:
            _refuse(f"seq {value:#x} is not a request id of this process" if xu is None or value < 0 else
                    f"seq {value:#x}: counter 0 is never issued" if num == 0 else
                    f"seq {value:#x}: {xu.name} has accepted only {plural(xu.last_submitted_num, 'request')}")
        return xu, num

    # -- completion events -------------------------------------------------------------------------

    def _eventfd(self, fd: Any) -> EventFd | None:
        """The eventfd ``fd`` names (an ``EventFd`` or its number); ``None`` for a negative number."""
        if isinstance(fd, EventFd):
            if fd.closed or fd.sim is not self.sim:
                _refuse(f"fd {fd.fd} is closed" if fd.closed else f"fd {fd.fd} belongs to another simulator")
            return fd
        number = _int(fd, "fd")
        if number < 0:
            return None
        found = self.sim.eventfds.get(number)
        if found is None or found.closed:
            _refuse(f"fd {number} is not an open eventfd of this simulator")
        return found

    def _register_seq(self, xu: ExecutionUnit, num: int, efd: EventFd) -> None:
        """Signal ``efd`` when request ``num`` of ``xu`` completes (at once if it already has)."""
        observe = lambda: self._observe(xu, num)  # noqa: E731 - the host observes it by reading the fd
        if num <= xu.completed_num:
            efd.signal(1, observe)
            return
        label = describe(xu, num)
        efd.registrations.append(label)

        def waiter() -> None:
            if label in efd.registrations:
                efd.registrations.remove(label)
            efd.signal(1, observe)

        waiter.efd = efd  # type: ignore[attr-defined]
        xu.seq_waiters.setdefault(num, []).append(waiter)

    def _deregister_seq(self, xu: ExecutionUnit, num: int) -> None:
        for waiter in xu.seq_waiters.pop(num, []):
            efd = waiter.efd  # type: ignore[attr-defined]
            label = describe(xu, num)
            if label in efd.registrations:
                efd.registrations.remove(label)

    def _register_xu(self, xu: ExecutionUnit, efd: EventFd | None) -> None:
        label = f"any completion on {xu.name}"
        previous = self._xu_fds.pop(xu.xu_id, None)
        if previous is not None:
            old_fd, old_listener = previous
            xu.listeners.remove(old_listener)
            if label in old_fd.registrations:
                old_fd.registrations.remove(label)
        if efd is None:
            return

        def listener(unit: ExecutionUnit, request: Any) -> None:
            num = request.seq_num
            efd.signal(1, lambda: self._observe(unit, num))

        xu.listeners.append(listener)
        efd.registrations.append(label)
        self._xu_fds[xu.xu_id] = (efd, listener)
