"""The host's CPUs and the threads that run on them (process mode).

Each vCPU is a SimPy resource of capacity 1. A thread asking for ``work_ns`` of CPU time gets it in
slices of at most ``quantum_ns``: it takes a CPU of its affinity (a free one, else the one with the
shortest queue, lowest id first), runs one slice, releases it and queues again. Runnable threads that
outnumber the CPUs of their affinity therefore share them round-robin; two always-busy threads pinned
to one CPU each get half of it. A thread does not migrate while it waits for a CPU (docs/assumptions.md
A24).

A slice on a free CPU takes a fast path with the same simulated times and the same order of events
(docs/assumptions.md A122): the CPU is held by a token instead of a ``simpy.Resource`` request, and the
release event, which does nothing when no thread queued for the CPU meanwhile, is left out (a thread
that queued is granted by a real release event, as before). When, besides, the slice starts with
nothing else due at this instant (no other event at the current time and the thread resumed by an
event only it waits on), the request event is left out too: it would have been processed next, so the
slice's timeout gets the same place among the events either way. A slice then costs one event instead
of three. And when that slice would end before anything else is due, and the loop driving the
simulation will not act before its end (:class:`RunAhead`), the thread advances the clock itself
instead of yielding the slice's timeout (A135): a run of host calls with nothing happening between
them costs no event at all (:meth:`HostCPUs.ahead` spends such slices without even a generator; a
thread's call and compute try it first). ``HostCPUs.fast_path = False`` turns the fast path off (tests compare both).
"""

from __future__ import annotations

from collections.abc import Generator, Iterator, Sequence
from contextlib import contextmanager
from typing import Any, cast

import simpy
from simpy.events import NORMAL, Event, Timeout, Process
from simpy.resources.resource import Request

__all__ = ["HostCPUs", "RunAhead"]


class RunAhead:
    """How far a host thread may advance the clock itself (docs/assumptions.md A135).

    ``until_ns`` is set by the loop that drives the simulation to a time before which that loop will not
    act (the end of ``env.run()``, of ``SimContext.advance_to``, of a workload run); ``-1`` (the default,
    and whenever the driver waits for a condition rather than a time) lets no thread run ahead. One is
    shared by the hosts of a simulation."""

    __slots__ = ("until_ns", "threads")

    def __init__(self) -> None:
        self.until_ns: float = -1.0
        self.threads = False  # whether a host thread was ever spawned (else no driver needs to set until_ns)

    @contextmanager
    def up_to(self, until_ns: float) -> Iterator[None]:
        """``with run_ahead.up_to(t):`` around a driving loop that will not act before ``t`` (``inf``: until
        nothing is left; ``-1``: a wait for a condition, which acts as soon as it holds, so no thread runs
        ahead, even inside a loop that allowed it); the limit in force before is restored after."""
        held, self.until_ns = self.until_ns, until_ns
        try:
            yield
        finally:
            self.until_ns = held


class HostCPUs:
    """The vCPUs of one host.

    Args:
        env: the simulation environment.
        vcpus: how many CPUs (ids 0 .. vcpus - 1).
        quantum_ns: the longest slice a thread runs before it yields its CPU (>= 1).
    """

    fast_path = True  # the uncontended fast path (A122); False: every slice requests and releases a Resource

    def __init__(self, env: simpy.Environment, vcpus: int, quantum_ns: int, run_ahead: RunAhead | None = None) -> None:
        if vcpus < 1:
            raise ValueError(f"vcpus(={vcpus}) must be >= 1.")
        if quantum_ns < 1:
            raise ValueError(f"quantum_ns(={quantum_ns}) must be >= 1.")
        self.env = env
        self.quantum_ns = quantum_ns
        self.cpus = [simpy.Resource(env, capacity=1) for _ in range(vcpus)]
        self.busy_ns = [0] * vcpus
        self.run_ahead = run_ahead if run_ahead is not None else RunAhead()

    def _pick(self, affinity: Sequence[int]) -> int:
        best = affinity[0]
        best_load = None
        cpus = self.cpus
        for cpu in affinity:
            resource = cpus[cpu]
            load = len(resource.users) + len(resource.put_queue)
            if load == 0:
                return cpu  # the first free one: no other can have a shorter queue
            if best_load is None or load < best_load:
                best, best_load = cpu, load
        return best

    def ahead(self, affinity: Sequence[int], work_ns: int, owner: Any) -> int:
        """Spend what of ``work_ns`` the thread ``owner`` can spend now without an event; returns the ns spent.

        These are the slices :meth:`run` would run ahead (A135), taken in the same order on the same CPUs:
        each on a free CPU, the owner's process running and resumed by its ``private`` event, ending no
        later than the driver allows and strictly before anything else is due. It stops at the first slice
        that cannot (0 when the first cannot); :meth:`run` spends the rest, slice by slice as it would have
        (only the last slice of ``work_ns`` can be shorter than the quantum, so the rest slices the same).
        No generator and no event: the common case of a host call on an idle host costs a function call.
        """
        env = self.env
        process: Process | None = owner.process
        if process is None or not self.fast_path:
            return 0
        if env._active_proc is not process or process._target is not owner.private:  # noqa: SLF001
            return 0
        until = self.run_ahead.until_ns
        queue = env._queue  # noqa: SLF001
        cpus, quantum = self.cpus, self.quantum_ns
        spent = 0
        while spent < work_ns:
            cpu = self._pick(affinity)
            resource = cpus[cpu]
            if resource.users or resource.put_queue:
                break
            piece = work_ns - spent
            if piece > quantum:
                piece = quantum
            end = env._now + piece  # noqa: SLF001
            if end > until or (queue and queue[0][0] <= end):
                break
            env._now = end  # noqa: SLF001 - run ahead (A135)
            self.busy_ns[cpu] += piece
            spent += piece
        return spent

    def run(self, affinity: Sequence[int], work_ns: int, owner: Any = None) -> Generator[simpy.Event, Any, int]:
        """Spend ``work_ns`` of CPU time on the affinity's CPUs; returns the CPU the last slice ran on.

        ``owner`` (a :class:`~neuronsim.threads.HostThread`, optional) lets a slice leave out its request
        event when that cannot change the order of events: its ``process`` is the running process and
        was resumed by ``owner.private``, an event only it waits on; the slice's timeout becomes the
        owner's ``private`` event.
        """
        remaining = work_ns
        cpu = affinity[0]
        env = self.env
        while remaining > 0:
            cpu = self._pick(affinity)
            resource = self.cpus[cpu]
            if self.fast_path and not resource.users and not resource.put_queue:
                piece = min(self.quantum_ns, remaining)
                token = Event(env)
                # the token stands in for a Request: SimPy keeps it in ``users`` and takes it back in release
                held = cast(Request, token)
                resource.users.append(held)  # the CPU is held: other threads queue behind it
                try:
                    queue = env._queue  # noqa: SLF001 - is anything else due at this instant?
                    process: Process | None = None if owner is None else owner.process
                    if (process is None or env._active_proc is not process  # noqa: SLF001
                            or process._target is not owner.private  # noqa: SLF001
                            or (queue and queue[0][0] <= env._now)):  # noqa: SLF001
                        token._ok = True  # noqa: SLF001 - the request's grant, at its place in the queue
                        token._value = None  # noqa: SLF001
                        env.schedule(token, NORMAL)
                        yield token
                        if owner is not None:
                            owner.private = token  # only this thread waited on it
                    end = env._now + piece  # noqa: SLF001
                    if (process is not None and end <= self.run_ahead.until_ns
                            and process._target is owner.private  # noqa: SLF001
                            and (not queue or queue[0][0] > end)):
                        env._now = end  # noqa: SLF001 - run ahead: the timeout would be the next event (A135)
                    else:
                        timeout = Timeout(env, piece)
                        if owner is not None:
                            owner.private = timeout
                        yield timeout
                except BaseException:
                    resource.release(held)  # as leaving the request's block does
                    raise
                self.busy_ns[cpu] += piece
                remaining -= piece
                if resource.put_queue:  # a thread queued meanwhile: a real release grants it
                    resource.release(held)
                else:
                    resource.users.remove(held)
                continue
            with resource.request() as request:
                yield request
                piece = min(self.quantum_ns, remaining)
                yield self.env.timeout(piece)
                self.busy_ns[cpu] += piece
                remaining -= piece
        return cpu

    def utilisation(self, cpu: int, elapsed_ns: int) -> float:
        return min(1.0, self.busy_ns[cpu] / elapsed_ns) if elapsed_ns > 0 else 0.0
