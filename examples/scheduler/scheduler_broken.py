"""Deliberately broken variants of the scheduler, which its tests must catch."""

from __future__ import annotations

from scheduler import EXECUTE, WRITE, RequestScheduler, Ticket


class MissingWaitScheduler(RequestScheduler):
    """Schedules the execution right after scheduling the write, without waiting for the write to
    complete: a cross-queue read-after-write race."""

    def _start(self, ticket: Ticket, stage: str) -> None:
        super()._start(ticket, stage)
        if stage == WRITE and ticket.seq:
            super()._start(ticket, EXECUTE)


class LostCompletionScheduler(RequestScheduler):
    """Loses a failed request's completion: when a stage fails it forgets the request instead of
    finishing it, so whoever waits on it waits forever."""

    def _advance(self, ticket: Ticket) -> bool:
        if ticket.seq and ticket.ret.value != 0:
            self.active.remove(ticket)  # dropped: never finished, its slot never freed
            return True
        return super()._advance(ticket)
