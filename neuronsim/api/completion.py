"""Completion queries for every API generation: ``nrta_is_completed``, ``nrta_get_sequence`` (what the host
has observed and spinning-host detection are the process's: :mod:`neuronsim.runtime.process`)."""

from __future__ import annotations

from typing import Any

from neuronsim.api.mirror import S, _mirror, _ref, _Status
from neuronsim.nrt import NRT_STATUS, status_as_str
from neuronsim.runtime.process import RuntimeProcess

__all__ = ["CompletionMixin"]


class CompletionMixin(RuntimeProcess):
    """Completion queries (a part of ``RuntimeBase``)."""

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

    def nrt_get_status_as_str(self, status: Any) -> str:
        """``const char *nrt_get_status_as_str(NRT_STATUS status)``: the enumerator's name (A19)."""
        return status_as_str(status)
