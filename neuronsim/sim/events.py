"""Eventfd-like completion events for ``nrta_event_register_*`` and ``nrta_get_completion_handle``.

An :class:`EventFd` is a counter, as a Linux eventfd in its default mode: a signal adds 1, a read
returns the count and resets it to 0. A blocking read in direct mode advances simulated time until
the count is non-zero; if nothing in the simulation can ever signal it, the read raises
:class:`~neuronsim.errors.DeadlockError` with the wait-for chain instead of hanging. A non-blocking
read of 0 raises ``BlockingIOError`` (EAGAIN), as ``read(2)`` on an ``EFD_NONBLOCK`` eventfd does.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from neuronsim.errors import DeadlockError

if TYPE_CHECKING:
    from neuronsim.sim.context import SimContext

__all__ = ["EventFd", "describe"]


class EventFd:
    """A simulated eventfd. Create with ``sim.eventfd(nonblock=False)`` (or ``rt.sim.eventfd()``); ``.fd``
    is its number.

    Attributes:
        registrations: what the runtime has registered on it (descriptions, for deadlock reports).
    """

    def __init__(self, sim: SimContext, fd: int, nonblock: bool = False) -> None:
        self.sim = sim
        self.fd = fd
        self.nonblock = nonblock
        self.counter = 0
        self.closed = False
        self.registrations: list[str] = []
        self._on_read: list[Callable[[], None]] = []  # observations the host makes by reading

    def fileno(self) -> int:
        return self.fd

    def signal(self, value: int = 1, on_read: Callable[[], None] | None = None) -> None:
        """Add ``value`` to the counter (what the runtime does on a completion)."""
        if self.closed:
            return
        self.counter += value
        if on_read is not None:
            self._on_read.append(on_read)

    write = signal

    @property
    def readable(self) -> bool:
        return self.counter > 0

    def _consume(self) -> int:
        value, self.counter = self.counter, 0
        observers, self._on_read = self._on_read, []
        for observe in observers:
            observe()
        return value

    def read(self) -> int:
        """The counter's value, reset to 0; blocks (advancing simulated time) while it is 0."""
        if self.closed:
            raise ValueError(f"eventfd {self.fd} is closed")
        if self.counter == 0:
            if self.nonblock:
                raise BlockingIOError(11, "Resource temporarily unavailable")
            self._wait(None)
        return self._consume()

    def poll(self, timeout_ns: int | None = 0) -> bool:
        """True when readable; waits up to ``timeout_ns`` of simulated time (``None``: forever)."""
        if self.counter == 0 and timeout_ns != 0:
            self._wait(timeout_ns)
        return self.counter > 0

    def _wait(self, timeout_ns: int | None) -> None:
        sim = self.sim
        env = sim.env
        deadline = None if timeout_ns is None else sim.now_ns + timeout_ns
        # a wait for a condition, even one made inside a loop that drives the clock to a time (a callback): no
        # thread runs ahead while it waits, past a signal it makes or past the deadline (A135)
        with sim.run_ahead.up_to(-1):
            while self.counter == 0:
                due = env.peek()
                if deadline is not None and due > deadline:
                    sim.advance_to(deadline)
                    return
                if due == float("inf"):
                    raise DeadlockError(f"the host waits on eventfd {self.fd}, which nothing can signal any more "
                                        f"(at {sim.now_ns} ns nothing is in flight)",
                                        self._chain() + sim.collectives.stalled())
                env.step()

    def _chain(self) -> list[str]:
        if not self.registrations:
            return [f"eventfd {self.fd} is registered for no completion"]
        return [f"eventfd {self.fd} waits for {what}" for what in self.registrations]

    def close(self) -> None:
        self.closed = True

    def __repr__(self) -> str:
        return f"<EventFd {self.fd} counter={self.counter}{' closed' if self.closed else ''}>"


def describe(xu: Any, num: int) -> str:
    """``seq 0x... on nc0/xu.compute.0 (completed up to N, M in flight)`` for reports."""
    return (f"seq {xu.seq_id(num):#x} on {xu.name} (completed up to {xu.completed_num}, "
            f"{xu.depth} in flight{', unit dead: status ' + str(xu.fatal_status) if xu.fatal_status else ''})")
