"""The C program's real eventfds and the simulation: an eventfd registered with the simulator (a signal
also writes to it), the reads the library did not see, and the watcher thread that runs the simulation while
a host thread is blocked on a simulated eventfd in a call the library cannot interpose (A-series: see
docs/assumptions.md, "the eventfd watcher")."""

from __future__ import annotations

import logging
import os
import sys
import threading
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from neuronsim.errors import DeadlockError
from neuronsim.sim.events import EventFd

if TYPE_CHECKING:
    from neuronsim.capi.library import Library

__all__ = ["OsEventFd", "Watcher", "adopt_completion_eventfd", "own_eventfd", "wait_fds", "eventfd_count",
           "eventfd_identity", "blocked_waits"]

log = logging.getLogger("neuronsim.capi")


def eventfd_count(fd: int) -> int | None:
    """The real eventfd's counter (``eventfd-count`` in /proc/self/fdinfo, hexadecimal); None if unknown."""
    try:
        with open(f"/proc/self/fdinfo/{fd}", encoding="ascii", errors="replace") as info:
            for line in info:
                if line.startswith("eventfd-count:"):
                    return int(line.split(":", 1)[1].strip(), 16)
    except (OSError, ValueError):
        pass
    return None


def eventfd_identity(fd: int) -> tuple[str | None, str | None]:
    """``(what fd is, its eventfd id)`` from /proc: ``"anon_inode:[eventfd]"`` for an eventfd (its
    ``eventfd-id`` tells a reused number's new eventfd from the old one), a path for anything else,
    ``(None, None)`` for a descriptor that is not open."""
    try:
        kind = os.readlink(f"/proc/self/fd/{fd}")
    except OSError:
        return None, None
    identity = None
    try:
        with open(f"/proc/self/fdinfo/{fd}", encoding="ascii", errors="replace") as info:
            for line in info:
                if line.startswith("eventfd-id:"):
                    identity = line.split(":", 1)[1].strip()
    except OSError:
        pass
    return kind, identity


# the system calls a thread blocks in while it waits on descriptors: (read-like, poll-like, select-like, epoll-like)
_SYSCALLS = {
    "x86_64": {"read": (0, 19), "poll": (7, 271), "select": (23, 270), "epoll": (232, 281, 441)},
    "aarch64": {"read": (63, 65), "poll": (73,), "select": (72,), "epoll": (22, 441)},
}


def blocked_waits(skip: int) -> set[int]:
    """The descriptors the process's threads (other than thread ``skip``) are blocked waiting to read, from
    /proc/self/task/*/syscall (the call and its arguments while a thread sleeps in it)."""
    import ctypes
    import platform

    calls = _SYSCALLS.get(platform.machine())
    if calls is None:
        return set()
    out: set[int] = set()
    try:
        tasks = os.listdir("/proc/self/task")
    except OSError:
        return out
    for task in tasks:
        if task == str(skip):
            continue
        try:
            with open(f"/proc/self/task/{task}/syscall", encoding="ascii") as handle:
                fields = handle.read().split()
        except OSError:
            continue
        if len(fields) < 4 or fields[0] == "running" or not fields[0].lstrip("-").isdigit():
            continue
        number, args = int(fields[0]), [int(a, 16) for a in fields[1:7]]
        if number in calls["read"]:
            out.add(args[0])
        elif number in calls["poll"] and 0 < args[1] <= 1024 and args[0]:
            raw = ctypes.string_at(args[0], 8 * args[1])  # struct pollfd {int fd; short events, revents;}
            out.update(int.from_bytes(raw[8 * i:8 * i + 4], sys.byteorder, signed=True) for i in range(args[1]))
        elif number in calls["select"] and 0 < args[0] <= 65536 and args[1]:
            bits = int.from_bytes(ctypes.string_at(args[1], (args[0] + 7) // 8), "little")
            out.update(fd for fd in range(args[0]) if bits >> fd & 1)
        elif number in calls["epoll"]:
            try:
                with open(f"/proc/self/fdinfo/{args[0]}", encoding="ascii") as info:
                    out.update(int(line.split()[1]) for line in info if line.startswith("tfd:"))
            except (OSError, ValueError, IndexError):
                pass
    return out


class Watcher(threading.Thread):
    """Runs the simulation while a thread of the host is blocked waiting on a simulated eventfd, in a way
    the library cannot see (a ``read``, ``poll``, ``select`` or ``epoll_wait`` that was not interposed:
    the library was dlopen()ed with RTLD_LOCAL, or is driven from Python). Every ``period_s`` it looks at
    what the process's threads are blocked in (/proc/self/task/*/syscall); when one waits on a
    simulated eventfd that has a registration, it runs the simulation, holding the library's lock, until
    one of the eventfds it waits on is signalled, exactly as an interposed ``read`` would. Simulated time
    therefore advances only while the host is blocked with work in flight, and by what that work takes:
    the same calls give the same simulated times, however long the host took in real time."""

    def __init__(self, library: Library, period_s: float = 0.002) -> None:
        super().__init__(name="neuronsim-eventfd-watcher", daemon=True)
        self.library = library
        self.period_s = period_s
        self.reported: set[tuple[int, int]] = set()

    def run(self) -> None:
        import time

        me = threading.get_native_id()
        while True:
            time.sleep(self.period_s)
            sim = self.library.sim
            if sim is None:
                continue
            with self.library.lock:
                owned = [e for e in list(sim.eventfds.values()) if isinstance(e, OsEventFd) and not e.closed]
                for efd in owned:
                    efd.sync()
            waiting = [e.fd for e in owned if e.counter == 0 and e.registrations]
            if not waiting:
                continue
            blocked = blocked_waits(me) & set(waiting)
            if not blocked:
                continue
            with self.library.lock:
                blocked = blocked_waits(me) & set(waiting)  # still blocked, now that no call can run
                watched = [sim.eventfds[fd] for fd in sorted(blocked) if fd in sim.eventfds]
                watched = [e for e in watched if not e.closed and e.counter == 0]
                env = sim.env
                while watched and not any(e.counter for e in watched):
                    if env.peek() == float("inf"):
                        key = (watched[0].fd, sim.now_ns)
                        if key not in self.reported:
                            self.reported.add(key)
                            chain = [line for e in watched for line in e._chain()]  # noqa: SLF001
                            sys.stderr.write(f"neuronsim: a thread waits on eventfd {watched[0].fd}: "
                                             f"{DeadlockError('', chain)}\n")
                        break
                    env.step()


class OsEventFd(EventFd):
    """A real eventfd of the C program, registered with the simulator: a signal also writes to it."""

    identity: str | None  # the kernel's eventfd-id, set when it is registered (a reused number has another)

    def sync(self) -> None:
        """Catch up with reads the library did not see (libc's ``read`` under RTLD_LOCAL, Python's
        ``os.read``): a real counter of 0 means the host consumed what was signalled."""
        if self.counter and not self.closed and eventfd_count(self.fd) == 0:
            self._consume()

    def signal(self, value: int = 1, on_read: Callable[[], None] | None = None) -> None:
        super().signal(value, on_read)
        if not self.closed:
            os.write(self.fd, value.to_bytes(8, sys.byteorder))


def adopt_completion_eventfd(library: Library, efd: EventFd) -> int:
    """``nrta_get_completion_handle``'s simulated eventfd, given a real one: from now on a signal also
    writes to it (what it counted already is written now); returns the real descriptor."""
    real = os.eventfd(0, os.EFD_NONBLOCK | os.EFD_CLOEXEC)
    pending = efd.counter
    efd.__class__ = OsEventFd  # from now on a signal also writes to the real eventfd
    efd.fd = real
    library.sim.eventfds[real] = efd
    library.lib.neuronsim_mark_fd(real, 1)
    efd.identity = eventfd_identity(real)[1]  # type: ignore[attr-defined]
    library.watch()
    if pending:
        os.write(real, pending.to_bytes(8, sys.byteorder))
    return real


def own_eventfd(library: Library, fd: int) -> None:
    """Register a real eventfd of the C program as a simulated one (a signal writes to it). A number
    whose eventfd was closed and made again is a new eventfd; a descriptor that is not an eventfd
    (a regular file, stdout) is refused: the mirror then returns NRT_INVALID."""
    sim = library.runtime().sim
    if fd < 0:
        return
    kind, identity = eventfd_identity(fd)
    known = sim.eventfds.get(fd)
    if kind != "anon_inode:[eventfd]":
        if known is not None:
            known.close()
            del sim.eventfds[fd]
        if kind is not None:
            log.error("NRT: fd %d is not an eventfd (it is %s): refused", fd, kind)
        return
    if known is not None and not known.closed and getattr(known, "identity", identity) == identity:
        if isinstance(known, OsEventFd):
            known.sync()  # the kernel reuses eventfd ids: a closed and remade eventfd may look the same
        return
    if known is not None:
        known.close()  # its number was closed and reused: what was registered on it is gone
    efd = sim.eventfds[fd] = OsEventFd(sim, fd)
    efd.identity = identity
    library.lib.neuronsim_mark_fd(fd, 1)
    library.watch()


def wait_fds(sim: Any, fds: list[int], timeout_ms: int) -> int:
    """Run the simulation until one of ``fds`` (simulated eventfds) is signalled, or for ``timeout_ms``
    of simulated time (negative: without limit); 1 when nothing left can signal them."""
    watched = [sim.eventfds.get(fd) for fd in fds]
    watched = [e for e in watched if e is not None and not e.closed]
    if not watched:
        return 0
    env = sim.env
    deadline = None if timeout_ms < 0 else sim.now_ns + int(timeout_ms) * 1_000_000
    with sim.run_ahead.up_to(-1):  # a wait for a condition: no thread runs ahead (A135)
        while not any(e.counter for e in watched):
            due = env.peek()
            if deadline is not None and due > deadline:
                sim.advance_to(deadline)
                return 0
            if due == float("inf"):
                chain = [line for e in watched for line in e._chain()]  # noqa: SLF001 - the deadlock report
                sys.stderr.write(f"neuronsim: waiting on eventfd {fds[0]}: {DeadlockError('', chain)}\n")
                return 1
            env.step()
    return 0
