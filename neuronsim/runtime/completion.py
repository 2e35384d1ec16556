"""Completion for every API generation: ``nrta_is_completed``, ``nrta_get_sequence``, what the host has
observed (for race detection), spinning-host detection, and eventfd registration."""

from __future__ import annotations

from typing import Any

from neuronsim.errors import DeadlockError
from neuronsim.hw.xu import ExecutionUnit
from neuronsim.nrt import NRT_STATUS, NRTA_SEQ_NUM_MASK, status_as_str
from neuronsim.sim.events import EventFd, describe
from neuronsim.runtime.mirror import S, _int, _mirror, _ref, _refuse, _Status
from neuronsim.text import plural

__all__ = ["CompletionMixin"]


class CompletionMixin:
    """Completion queries and events (mixed into ``RuntimeBase``)."""


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

    @_mirror("query_ns")
    def nrta_is_completed(self, seq: Any, is_completed: Any) -> NRT_STATUS:
        """``nrta_is_completed(nrta_seq_t seq, bool *is_completed)``: ``NRT_INVALID`` only for an invalid id
        (unknown execution unit, counter 0, or a counter never issued: A11)."""
        out = _ref(is_completed, "is_completed")
        try:
            xu, num = self._decode(seq)
        except _Status:
            self._poll_state(f"nrta_is_completed({seq!r}) returned NRT_INVALID: no such request was accepted")
            raise
        done = num <= xu.completed_num
        out.value = done
        if done:
            self._observe(xu, num)
        else:
            self._poll_state(f"nrta_is_completed({xu.seq_id(num):#x})")
        return S.NRT_SUCCESS

    @_mirror("query_ns")
    def nrta_get_sequence(self, lnc: Any, xu: Any, queue: Any, seq: Any) -> NRT_STATUS:
        """``nrta_get_sequence(uint32_t lnc, nrta_xu_t xu, int queue, nrta_seq_t *seq)``: the full id of the last
        completed request on that queue (counter 0 with the queue's bits before any)."""
        out = _ref(seq, "seq")
        unit = self._xu(lnc, self._xu_type(xu), queue, "lnc")
        out.value = unit.seq_id(unit.completed_num)
        self._observe(unit, unit.completed_num)
        # a poll of a queue that has completed everything it accepted is a plain query (A73)
        self._poll_state(f"nrta_get_sequence({lnc}, {xu}, {queue}) = {out.value:#x}",
                         query=unit.completed_num == unit.last_submitted_num)
        return S.NRT_SUCCESS

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
            old_fd, listener = previous
            xu.listeners.remove(listener)
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

    def nrt_get_status_as_str(self, status: Any) -> str:
        """``const char *nrt_get_status_as_str(NRT_STATUS status)``: the enumerator's name (A19)."""
        return status_as_str(status)

