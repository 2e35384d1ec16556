"""Execution-unit queues: in-order servers with a capacity, a sequence counter and completion events.

An :class:`ExecutionUnit` is one ``(logical core, XU type, queue)``. It runs one request at a time in
submit order; different units run concurrently and meet only in the channels their requests
share (docs/explanation/hardware-model.md). Sequence numbers start at 1 and are consecutive per unit; ``completed_num`` is the number of
the last completed request (0 before any). A request counts against ``capacity`` from the submit that
accepts it until it completes. Each request costs one SimPy event: its own end, or, for a transfer or a
memory-bound execution, the end of its flow (:meth:`ExecutionUnit.end_now`).

A request is any object with ``start(now_ns) -> end_ns`` (start its flows, snapshot inputs). It returns
its end (int ns), or the :class:`~neuronsim.hw.channel.Flow` it ends with (it then calls
:meth:`ExecutionUnit.end_now` from the flow's end), or ``None`` when its end comes later through
:meth:`ExecutionUnit.end_at`;
``finish(now_ns)`` (land data, write the status) and ``abort(status)`` (write a failure status, move no
data); the unit sets its ``seq_num``, ``seq_id``, ``submit_ns``, ``start_ns``, ``end_ns``, ``done_ns``.

A request whose ``fatal`` flag is set when it finishes puts the unit into its terminal state: its
``fatal_status`` is set, every request still queued behind it completes at once with
``NRT_EXEC_UNIT_UNRECOVERABLE`` (docs/assumptions.md A17), and the runtime refuses new ones.
An optional ``faults`` hook may change a request's end time and outcome when it starts (for a flow, from
its end as projected then; a changed end is then fixed, while the flow still moves its bytes).
"""

from __future__ import annotations

from collections import deque
from collections.abc import Callable
from typing import Any, Protocol

import simpy
from simpy.core import SimTime
from simpy.events import NORMAL, Event, Timeout

__all__ = ["ExecutionUnit", "Request", "UNRECOVERABLE"]

UNRECOVERABLE = 101  # NRT_EXEC_UNIT_UNRECOVERABLE (the hw layer does not import the runtime's enums)


class Request(Protocol):
    seq_num: int
    submit_ns: int
    start_ns: int
    end_ns: int

    def start(self, now_ns: int) -> int: ...

    def finish(self, now_ns: int) -> None: ...


class ExecutionUnit:
    """One execution-unit queue.

    Args:
        env: the simulation environment.
        name: entity path, e.g. ``nc0/xu.compute.0``.
        xu_id: the 16-bit id placed in the top bits of its sequence ids.
        capacity: requests it holds from submit to completion (>= 1).
    """

    __slots__ = ("env", "name", "xu_id", "capacity", "_queue", "next_num", "completed_num", "busy_ns",
                 "listeners", "seq_waiters", "fatal_status", "_seq_base", "history", "faults", "core_id",
                 "device_index", "kind", "queue", "timeout_ns", "on_submit", "instance")

    def __init__(self, env: simpy.Environment, name: str, xu_id: int, capacity: int) -> None:
        if capacity < 1:
            raise ValueError(f"capacity(={capacity}) must be >= 1.")
        if not 0 <= xu_id <= 0xFFFF:
            raise ValueError(f"xu_id(={xu_id}) must fit in 16 bits.")
        self.env = env
        self.name = name
        self.xu_id = xu_id
        self.capacity = capacity
        self._queue: deque[Any] = deque()
        self.next_num = 1
        self.completed_num = 0
        self.busy_ns = 0
        self.listeners: list[Callable[[ExecutionUnit, Any], None]] = []
        self.seq_waiters: dict[int, list[Callable[[], None]]] = {}
        self.fatal_status: int | None = None
        self._seq_base = xu_id << 48
        self.history: list[Any] | None = None
        self.faults: Any = None
        # set by the runtime: the global logical core and device it belongs to, its kind and queue index,
        # and the execution timeout a hung request ends at
        self.core_id = -1
        self.device_index = -1
        self.instance = 0
        self.kind = ""
        self.queue = 0
        self.timeout_ns = 0
        self.on_submit: list[Any] = []  # events to trigger when a request is accepted (sleeping pollers)

    # -- state -------------------------------------------------------------------------------------

    @property
    def depth(self) -> int:
        """Requests accepted and not yet completed."""
        return len(self._queue)

    @property
    def full(self) -> bool:
        return len(self._queue) >= self.capacity

    def seq_id(self, num: int) -> int:
        """The full 64-bit sequence id of counter value ``num``."""
        return self._seq_base | num

    @property
    def last_submitted_num(self) -> int:
        return self.next_num - 1

    def pending(self) -> tuple[Any, ...]:
        return tuple(self._queue)

    # -- operation ---------------------------------------------------------------------------------

    def submit(self, request: Any) -> int:
        """Accept ``request`` and return its sequence number, or 0 (nothing changed) when full."""
        queue = self._queue
        if len(queue) >= self.capacity:
            return 0
        num = self.next_num
        self.next_num = num + 1
        request.seq_num = num
        request.seq_id = self._seq_base | num
        request.unit = self
        request.submit_ns = self.env._now  # noqa: SLF001 - hot path
        queue.append(request)
        if self.history is not None:
            self.history.append(request)
        if self.on_submit:
            for event in self.on_submit:
                if not event.triggered:
                    event.succeed()
            self.on_submit.clear()
        if len(queue) == 1:
            if self.faults is None:  # _start's common case, inlined (one call less per request)
                now = request.start_ns = self.env._now  # noqa: SLF001 - hot path
                end = request.start(now)
                if end is not None and end.__class__ is int:
                    request.end_ns = end
                    event = Event(self.env)
                    event._ok = True  # noqa: SLF001
                    event._value = None  # noqa: SLF001
                    event.callbacks.append(self._finish)
                    self.env.schedule(event, NORMAL, end - now)
            else:
                self._start(request)
        return num

    def _start(self, request: Any) -> None:
        env = self.env
        now = env._now  # noqa: SLF001 - hot path
        request.start_ns = now
        end = request.start(now)
        if end is None:
            return  # its end depends on others (a collective's rendezvous): it calls end_at later
        if end.__class__ is not int:  # a flow: the request ends when the flow does (it calls end_now)
            if self.faults is None:
                return
            fixed = self.faults.on_start(self, request, now, end.end_ns)  # its end as projected now
            if fixed == end.end_ns:
                return
            end.on_done = None  # a fault fixed its end (a hang, a slowdown); the bytes still flow
            end = fixed
        elif self.faults is not None:
            end = self.faults.on_start(self, request, now, end)
        request.end_ns = end
        # a Timeout without its constructor: an already-succeeded event scheduled at ``end``
        event = Event(env)
        event._ok = True  # noqa: SLF001
        event._value = None  # noqa: SLF001
        event.callbacks.append(self._finish)
        env.schedule(event, NORMAL, end - now)

    def end_at(self, request: Any, end_ns: int) -> None:
        """End the running ``request`` at ``end_ns`` (for requests whose ``start`` returned None)."""
        now = self.env._now  # noqa: SLF001
        if self.faults is not None:
            end_ns = self.faults.on_start(self, request, request.start_ns, end_ns)
        request.end_ns = max(end_ns, now)
        Timeout(self.env, request.end_ns - now).callbacks.append(self._finish)

    def end_now(self, request: Any) -> None:
        """End the running ``request`` now, from its flow's end (no event of its own; the faults saw its
        projected end when it started)."""
        request.end_ns = self.env._now  # noqa: SLF001
        self._finish(None)

    def _finish(self, _event: Any) -> None:
        """The running request ends now (an event's callback, or a flow's ``on_done``: ``_event`` unused)."""
        queue = self._queue
        request = queue.popleft()
        # the request to start next, if one waits: not one a listener submits to the then idle unit (an
        # implicit-async callback's nrt_execute, a thread that runs while a callback waits), which starts at once
        head = queue[0] if queue else None
        now = self.env._now  # noqa: SLF001 - hot path
        request.end_ns = now  # its end is now, whatever moved it (a flow's end, a fault)
        self.busy_ns += now - request.start_ns
        request.finish(now)  # the status is written here, before the completion is visible
        num = request.seq_num  # _completed, inlined on the hot path (worth ~8 % of bench_engine's ratio); keep in step
        request.done_ns = now
        request.completions += 1
        self.completed_num = num
        fatal = request.fatal
        if fatal:  # terminal from its completion on: a listener's schedule call is refused (A17)
            self.fatal_status = int(request.status)
        if self.seq_waiters:
            for waiter in self.seq_waiters.pop(num, ()):
                waiter()
        if self.listeners:
            for listener in tuple(self.listeners):
                listener(self, request)
        if fatal:
            while queue:
                flushed = queue.popleft()
                flushed.start_ns = flushed.end_ns = now
                flushed.abort(UNRECOVERABLE)
                self._completed(flushed, now)
        elif head is not None:
            self._start(head)

    def _completed(self, request: Any, now: SimTime) -> None:
        num = request.seq_num
        request.done_ns = now
        request.completions += 1
        self.completed_num = num
        if self.seq_waiters:
            for waiter in self.seq_waiters.pop(num, ()):
                waiter()
        if self.listeners:
            for listener in tuple(self.listeners):
                listener(self, request)
