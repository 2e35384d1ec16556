"""An invariant checker over a run's record, for neuronsim's tests and for users' own runs.

``check_invariants(sim)`` (or a list of requests) returns every violation of the execution-unit
contract it finds, as :class:`Violation` records; an empty list means the run kept it:

* sequence numbers consecutive per queue, from 1;
* completion in order per queue (in number order, at non-decreasing times);
* queue occupancy (accepted and not completed) never above the capacity;
* every accepted request completed exactly once, with a status written to its ``ret`` cell.

Recording must be on: ``Simulator(..., record=True)``.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

__all__ = ["Violation", "check_invariants"]


@dataclass(frozen=True)
class Violation:
    """One broken invariant: which, on which request (sequence id) and queue, and what was seen."""

    invariant: str
    seq_id: int
    unit: str
    detail: str

    def __str__(self) -> str:
        return f"{self.invariant}: seq {self.seq_id:#x} on {self.unit}: {self.detail}"


def _requests(source: Any) -> list[Any]:
    if hasattr(source, "runtimes"):
        if not getattr(source, "record", True):
            raise ValueError("check_invariants needs a record: create the Simulator with record=True")
        return [req for rt in source.runtimes for req in rt.history]
    return list(source)


def check_invariants(source: Any, *, in_flight_ok: bool = False) -> list[Violation]:
    """Violations in the requests of ``source`` (a Simulator with ``record=True``, or requests).

    Args:
        source: a Simulator created with ``record=True``, or an iterable of its requests.
        in_flight_ok: the run is not over: requests not completed yet are not violations (they
            still must not have completed more than once).
    """
    requests: Iterable[Any] = _requests(source)
    by_unit: dict[int, list[Any]] = defaultdict(list)
    units: dict[int, Any] = {}
    for req in requests:
        by_unit[id(req.unit)].append(req)
        units[id(req.unit)] = req.unit
    out: list[Violation] = []
    for key, reqs in by_unit.items():
        unit = units[key]
        name = unit.name
        nums = [r.seq_num for r in reqs]
        for expected, (num, req) in enumerate(zip(nums, reqs, strict=True), start=1):
            if num != expected:
                out.append(Violation("consecutive sequence numbers", req.seq_id, name,
                                     f"counter {num} where {expected} was due"))
                break
        done = [r for r in reqs if r.completions]
        for prev, cur in zip(done, done[1:], strict=False):
            if cur.seq_num < prev.seq_num or cur.done_ns < prev.done_ns:
                out.append(Violation("in-order completion", cur.seq_id, name,
                                     f"completed at {cur.done_ns} ns, after seq {prev.seq_id:#x} at {prev.done_ns} ns"))
        for req in reqs:
            if req.completions == 0 and in_flight_ok:
                continue
            if req.completions != 1:
                out.append(Violation("completed exactly once", req.seq_id, name,
                                     f"completed {req.completions} times"))
            elif req.ret is not None and req.ret.value is None:
                out.append(Violation("status written", req.seq_id, name, "completed with no status in its ret cell"))
        # occupancy: +1 at submit, -1 at completion; a completion at t frees its slot for a submit at t
        events = sorted([(r.submit_ns, 1, r.seq_id) for r in reqs] +
                        [(r.done_ns, 0, r.seq_id) for r in reqs if r.completions])
        depth = 0
        for time_ns, kind, seq_id in events:
            depth += 1 if kind else -1
            if depth > unit.capacity:
                out.append(Violation("capacity", seq_id, name,
                                     f"{depth} requests in flight at {time_ns} ns, capacity {unit.capacity}"))
                break
    return out
