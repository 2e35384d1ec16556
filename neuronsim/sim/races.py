"""Race detection: conflicting tensor accesses from different queues with no host-observed ordering.

The API's contract: requests on one execution-unit queue are ordered; across queues the host must
observe the producer's completion (``nrta_is_completed`` true, ``nrta_get_sequence`` past it, an event
read, a facade wait) before it schedules the consumer. A *hazard* is a pair of requests on different
queues that touch overlapping bytes of one allocation, at least one writing, where the second was
scheduled without the host having observed the first complete. This is a happens-before check: it
flags the missing wait even when this run's timing happened not to overlap (``Hazard.overlapped``
says whether it did).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

__all__ = ["Hazard", "RaceDetector"]


@dataclass(frozen=True, repr=False)
class Hazard:
    """Two requests that race on a tensor byte range.

    ``str(hazard)`` and ``repr(hazard)`` (what ``print(sim.hazards)`` shows) name the kind, the tensor,
    both byte ranges, and both requests' sequence ids, kinds, queues and times."""

    kind: str  # "read-after-write", "write-after-read", "write-after-write"
    first: Any  # the earlier-scheduled request
    second: Any
    tensor: str
    first_range: tuple[int, int]
    second_range: tuple[int, int]

    @property
    def first_seq(self) -> int:
        return self.first.seq_id

    @property
    def second_seq(self) -> int:
        return self.second.seq_id

    @property
    def first_times(self) -> tuple[int, int]:
        return (self.first.start_ns, self.first.end_ns)

    @property
    def second_times(self) -> tuple[int, int]:
        return (self.second.start_ns, self.second.end_ns)

    @property
    def overlapped(self) -> bool:
        """Whether the two requests' execution intervals overlapped in this run."""
        return self.first.start_ns < self.second.end_ns and self.second.start_ns < self.first.end_ns

    def __repr__(self) -> str:
        return f"<Hazard {self}>"

    def __str__(self) -> str:
        return (f"{self.kind} on tensor {self.tensor!r}: seq {self.first_seq:#x} ({self.first.kind} "
                f"{self.first.xu_name}, bytes [{self.first_range[0]}, {self.first_range[1]}), "
                f"{self.first.start_ns}-{self.first.end_ns} ns) and seq {self.second_seq:#x} ({self.second.kind} "
                f"{self.second.xu_name}, bytes [{self.second_range[0]}, {self.second_range[1]}), "
                f"{self.second.start_ns}-{self.second.end_ns} ns) with no completion observed in between")


class RaceDetector:
    """Checks each scheduled request against earlier unordered accesses to the same allocations."""

    def __init__(self, hazards: list[Hazard]) -> None:
        self.hazards = hazards
        self._accesses: dict[int, list[tuple[Any, int, int, int, int, bool, str]]] = {}  # request, xu, num, range, write, name

    def on_schedule(self, request: Any, xu_id: int, observed: dict[int, int]) -> None:
        """Record ``request``'s accesses; ``observed`` is the host's view of completed numbers per unit."""
        num = request.seq_num
        for alloc, lo, hi, write, name in request.accesses():
            key = id(alloc)
            entries = self._accesses.get(key, [])
            kept: list[tuple[Any, int, int, int, int, bool, str]] = []
            for entry in entries:
                other, other_xu, other_num, other_lo, other_hi, other_write = entry[:6]
                if other_num <= observed.get(other_xu, 0):
                    continue  # observed complete: ordered before everything scheduled from now on
                kept.append(entry)
                if other_xu == xu_id or not (write or other_write) or other_hi <= lo or hi <= other_lo:
                    continue
                kind = ("write-after-write" if write and other_write else
                        "read-after-write" if other_write else "write-after-read")
                self.hazards.append(Hazard(kind, other, request, entry[6], (other_lo, other_hi), (lo, hi)))
            kept.append((request, xu_id, num, lo, hi, write, name))
            self._accesses[key] = kept
