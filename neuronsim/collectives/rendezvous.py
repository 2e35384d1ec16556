"""What a collective is made of, around the service that runs it: a rank's prepared context
(``nrt_cc_context_t``), the rendezvous where a collective's ranks meet, the record of what it did, the report
of a rank that timed out, and the numbers of ranks a chip's collectives support.

:class:`neuronsim.collectives.service.CollectiveService` makes and reads these (and re-exports them).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from neuronsim.collectives.algorithms import ALGORITHMS
from neuronsim.nrt import nrt_cc_op_type_t

__all__ = ["CCContext", "CollectiveRecord", "CollectiveTimeout", "RankCounts", "SUPPORTED_RANK_COUNTS",
           "OPERATION_NAMES", "Rendezvous", "check_choice"]

OPERATION_NAMES = {nrt_cc_op_type_t.NRT_CC_ALLREDUCE: "allreduce", nrt_cc_op_type_t.NRT_CC_ALLGATHER: "allgather",
                   nrt_cc_op_type_t.NRT_CC_REDUCESCATTER: "reducescatter",
                   nrt_cc_op_type_t.NRT_CC_ALLTOALL: "alltoall", nrt_cc_op_type_t.NRT_CC_PERMUTE: "permute",
                   nrt_cc_op_type_t.NRT_CC_ALLGATHERV: "allgatherv", nrt_cc_op_type_t.NRT_CC_ALLTOALLV: "alltoallv"}


@dataclass
class CCContext:
    """``nrt_cc_context_t``: one rank's prepared collective."""

    group: tuple[int, ...]
    rank: int
    vnc: int
    inputs: list[Any]
    outputs: list[Any]
    dtype: int
    op: int
    operation: str
    size: int
    owner: Any
    algorithm: str | None = None
    used: bool = False
    on_done: Any = None  # called (request, end_ns) instead of ending the request (collectives inside a NEFF)
    counts: Any = None  # VariableCounts of a variable-size operation
    pairs: tuple[tuple[int, int], ...] | None = None  # a permute's (source, target) ranks; None: r -> r + 1
    tag: Any = None  # the caller's label, copied to the CollectiveRecord (nccom-test's streams)



def _get_algorithm(ctx: CCContext) -> str | None:
    return ctx._algorithm  # type: ignore[attr-defined]  # noqa: SLF001


def _set_algorithm(ctx: CCContext, value: str | None) -> None:
    check_choice("cc_ctx.algorithm", value, ALGORITHMS, none_ok=True)
    ctx._algorithm = value  # type: ignore[attr-defined]  # noqa: SLF001


# ``algorithm`` is checked whenever it is set, in __init__ too; a property on that one field (not a __setattr__
# on every field: a context is made per rank per collective, and __init__ sets 14 fields)
CCContext.algorithm = property(_get_algorithm, _set_algorithm)  # type: ignore[assignment]


@dataclass
class CollectiveRecord:
    """What a collective did: for nccom-test and reports."""

    operation: str
    algorithm: str
    ranks: int
    size: int
    arrived_ns: int
    start_ns: int
    ends_ns: list[int] = field(default_factory=list)
    group: tuple[int, ...] = ()  # the ranks' global device ids, in rank order
    tag: Any = None  # the first rank's CCContext.tag
    launch_ns: int = 0  # its fixed software cost (start_ns - launch_ns: when it could start)

    @property
    def duration_ns(self) -> int:
        return max(self.ends_ns) - self.arrived_ns


@dataclass(frozen=True)
class RankCounts:
    """The numbers of ranks a chip's collectives support: ``counts``, or a multiple of ``multiple_of``."""

    counts: tuple[int, ...]
    multiple_of: int | None = None
    message: str = ""  # the runtime's log line when it refuses one

    def allows(self, ranks: int) -> bool:
        return ranks in self.counts or (self.multiple_of is not None and ranks % self.multiple_of == 0)


# What nrt_load_collectives accepts, by chip (absent: any number; docs/assumptions.md A60). Trainium: the
# runtime's own refusal, "Unsupported topology. Supported number of Neuron Cores is 1, 2, 8, 16 or a multiple
# of 32.  For other configurations, such as multiples of 2, consider using inf2 instances" (NRT 2.20 log,
# huggingface/optimum-neuron#619), returning status 2, NRT_INVALID (24 cores of a trn1.32xlarge,
# huggingface/optimum-neuron#424).
SUPPORTED_RANK_COUNTS = {
    "trainium": RankCounts((1, 2, 8, 16), 32, "Unsupported topology. Supported number of Neuron Cores is 1, 2, 8, 16 "
                           "or a multiple of 32.  For other configurations, such as multiples of 2, consider "
                           "using inf2 instances"),
}


@dataclass
class CollectiveTimeout:
    """A rank's request that waited for peers that never came: what hang reports and tests read."""

    operation: str
    index: int  # the how-manieth collective of its group (from 0)
    group: tuple[Any, ...]  # the ranks' global device ids (a NEFF's copies: its ranks), in rank order
    rank: int
    arrived: tuple[int, ...]  # ranks that had arrived when it timed out
    missing: tuple[int, ...]  # ranks that had not
    start_ns: int
    timeout_ns: int
    unit: str

    def __str__(self) -> str:
        return (f"{self.operation} #{self.index + 1} of a group of {len(self.group)} ranks timed out on rank "
                f"{self.rank} ({self.unit}) after {self.timeout_ns // 1_000_000} ms: ranks "
                f"{list(self.arrived)} arrived, ranks {list(self.missing)} never did")



class Rendezvous:
    """The ranks of one collective meeting: the k-th collective each rank of a group schedules."""

    def __init__(self, n: int, group: tuple[Any, ...], index: int) -> None:
        self.n = n
        self.group = group
        self.index = index  # the how-manieth collective of its group
        self.requests: dict[int, Any] = {}
        self.arrived_ns = 0
        self.cells: list[list[int]] = []  # per rank: [its end], the CC-core it holds frees then
        self.waiting: set[int] = set()  # ranks arrived, not started and not timed out (their deadlines live)
        self.timed_out: set[int] = set()

    def ranked(self) -> list[Any]:
        """Every rank's request, in rank order."""
        return [self.requests[r] for r in range(self.n)]

    def describe(self) -> str:
        first = next(iter(self.requests.values()))
        arrived = sorted(self.requests)
        missing = [r for r in range(self.n) if r not in self.requests]
        return (f"{first.ctx.operation} #{self.index + 1} of a group of {self.n} ranks: ranks {arrived} arrived, "
                f"ranks {missing} never did" + (f" (ranks {sorted(self.timed_out)} timed out)" if self.timed_out
                                                   else ""))


def check_choice(what: str, value: Any, choices: tuple[str, ...], none_ok: bool = False) -> None:
    """A misspelt choice is an error listing the valid ones, never a silent default."""
    if (value is None and none_ok) or value in choices:
        return
    from neuronsim.errors import ConfigError

    raise ConfigError(what, f"{value!r} is not one of {', '.join(choices)}" + (" (or None)" if none_ok else ""))

