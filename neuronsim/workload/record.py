"""What a workload run keeps while it runs, bounded by what was asked for (docs/assumptions.md A116).

A run's summary needs, per channel, its busy time and the bytes it moved inside the measured window;
it does not need every constant-rate interval the channel went through. :class:`ChannelMeters` turns
the channels' interval logs (``Channel.log``, :mod:`neuronsim.hw.channel`) into running totals as the
run goes: every ``COMPACT_EVERY`` SimPy events the runner calls :meth:`ChannelMeters.compact`, which
folds the intervals that can no longer change into each channel's totals and drops them. What is
folded is computed with the same expressions, in the same order, as a pass over the whole log would
(:func:`neuronsim.hw.channel.channel_busy_ns`), so the figures are the same floats, bit for bit:

* only intervals that end at or before the current time are folded (the window's end is never
  earlier, so clipping at it cannot apply to them), and never a channel's last interval (the channel
  may still merge a sub-nanosecond piece into it, or remove it if its flow was alone and another
  joins: :meth:`neuronsim.hw.channel.FlowNetwork._materialise`);
* nothing is folded before the window's start is known (:meth:`ChannelMeters.start`);
* a channel's busy time divides by its bandwidth at the end of the run; a run whose bandwidths change
  (a ``degrade`` fault) is built with ``fold=False`` and keeps its logs whole, as does a run asked to
  keep its records (a trace or plots need every interval). A channel whose bandwidth changes anyway
  (a Python workload that sets it) stops being folded from then on; what was folded before stays
  divided by the bandwidth in force when it was folded.

:class:`WorkloadRun` is what a run leaves (its requests, iterations and API calls, :class:`CallRecord`,
by thread), holding these running totals.
"""

from __future__ import annotations

from collections import deque
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from neuronsim.threads import IterationRecord

if TYPE_CHECKING:
    from neuronsim.simulator import Simulator
    from neuronsim.threads import HostThread
    from neuronsim.workload.spec import WorkloadSpec

__all__ = ["ChannelMeters", "COMPACT_EVERY", "Quantiles", "RequestStats", "WorkloadRun", "CallRecord"]

COMPACT_EVERY = 20_000  # SimPy events between two compactions (and progress reports)


class _Meter:
    __slots__ = ("busy", "moved", "folded", "bw", "frozen")

    def __init__(self, bw: float) -> None:
        self.busy = 0.0  # sum over folded intervals of n * (ee - bb) / (e - b) / bw, in log order
        self.moved = 0  # bytes of folded intervals that begin in the window
        self.folded = 0  # intervals folded
        self.bw = bw  # the bandwidth the busy sum was divided by
        self.frozen = False  # the bandwidth changed: no more folding


class ChannelMeters:
    """Running per-channel totals of a run's channel logs (module docstring).

    Args:
        channels: the channels whose logs are turned on (``log = []``) and metered.
        fold: whether :meth:`compact` folds anything (``False``: the logs are kept whole).
    """

    def __init__(self, channels: list[Any], fold: bool = True) -> None:
        self.channels = channels
        self.fold = fold
        self.lo: int | None = None
        self._meters: dict[int, _Meter] = {}
        self.on_fold: Any = None  # called (channel, intervals folded, begin of the next) as they are folded
        for channel in channels:
            channel.log = []

    def start(self, lo: int) -> None:
        """The measured window starts at ``lo`` (ns); folding may begin."""
        self.lo = lo

    def compact(self, now: int) -> None:
        """Fold every interval that ended by ``now`` (except each channel's last) into its totals."""
        lo = self.lo
        if not self.fold or lo is None:
            return
        meters = self._meters
        for channel in self.channels:
            log = channel.log
            if log is None or len(log) < 2:
                continue
            meter = meters.get(id(channel))
            if meter is None:
                meter = meters[id(channel)] = _Meter(channel.bw)
            elif meter.frozen:
                continue
            bw = channel.bw
            if bw != meter.bw:
                if meter.folded:
                    meter.frozen = True
                    continue
                meter.bw = bw
            count = 0
            last = len(log) - 1
            busy, moved = meter.busy, meter.moved
            while count < last:
                b, e, n = log[count]
                if e > now:
                    break
                bb = b if b > lo else lo
                if e > bb:
                    busy += n * (e - bb) / (e - b) / bw
                if lo <= b:
                    moved += n
                count += 1
            if count:
                meter.busy, meter.moved = busy, moved
                meter.folded += count
                if self.on_fold is not None:
                    self.on_fold(channel, log[:count], log[count][0])
                del log[:count]

    def used(self, channel: Any) -> bool:
        """Whether ``channel`` logged anything in the run."""
        meter = self._meters.get(id(channel))
        return bool(channel.log) or (meter is not None and meter.folded > 0)

    def busy_ns(self, channel: Any, lo: int, hi: int) -> float:
        """:func:`~neuronsim.hw.channel.channel_busy_ns` over the whole run's log: the folded total,
        then the intervals still in the log, in order."""
        meter = self._meters.get(id(channel))
        total = 0.0
        if meter is not None and meter.folded:
            if lo != self.lo:  # pragma: no cover - the summary asks for the run's own window
                raise ValueError(f"the channels were metered from {self.lo} ns, not {lo} ns")
            total = meter.busy
        bw = channel.bw
        for b, e, n in channel.log or ():
            bb, ee = max(b, lo), min(e, hi)
            if ee > bb:
                total += n * (ee - bb) / (e - b) / bw
        return total

    def bytes_moved(self, channel: Any, lo: int, hi: int) -> int:
        """Bytes of the intervals that begin inside ``[lo, hi)``."""
        meter = self._meters.get(id(channel))
        moved = meter.moved if meter is not None else 0
        return moved + sum(n for b, e, n in channel.log or () if lo <= b < hi)


# -- requests ------------------------------------------------------------------------------------------

EXACT_VALUES = 65_536  # distinct values a Quantiles keeps exactly before it turns into a sketch (A117)
_SUB_BITS = 11  # the sketch's buckets: 2**11 per power of two, relative error <= 2**-12 (A117)


class Quantiles:
    """Percentiles of integer values (ns) without keeping every value (docs/assumptions.md A117).

    Exact while the values take at most :data:`EXACT_VALUES` distinct values: a count per value, and a
    percentile is the value NumPy's ``np.percentile(values, q, method="nearest")`` gives (the value of
    rank ``round((n - 1) * q / 100)``, half to even). Beyond that the counts are merged into log-linear
    buckets: values below ``2**11`` keep their own bucket, a larger value ``v`` shares one with the
    values that agree with it in its 11 leading bits, and a percentile is the middle of its bucket:
    the rank is still exact and the value is within ``2**-12`` (0.025 %) of the true one. The mean is
    always exact (an integer sum). Memory: at most 65,536 counts, or about 2,048 buckets per power of
    two that the values span.
    """

    __slots__ = ("counts", "n", "total", "exact")

    def __init__(self) -> None:
        self.counts: dict[int, int] = {}
        self.n = 0
        self.total = 0
        self.exact = True

    def add(self, value: int) -> None:
        self.n += 1
        self.total += value
        counts = self.counts
        key = value if self.exact else _bucket(value)
        counts[key] = counts.get(key, 0) + 1
        if self.exact and len(counts) > EXACT_VALUES:
            self.exact = False
            merged: dict[int, int] = {}
            for v, c in counts.items():
                b = _bucket(v)
                merged[b] = merged.get(b, 0) + c
            self.counts = merged

    def percentiles(self) -> dict[str, int]:
        """``p50_ns``, ``p90_ns``, ``p99_ns`` and ``mean_ns`` (all 0 without values)."""
        if not self.n:
            return {"p50_ns": 0, "p90_ns": 0, "p99_ns": 0, "mean_ns": 0}
        keys = sorted(self.counts)
        ranks = [round((self.n - 1) * (q / 100)) for q in (50, 90, 99)]
        out = []
        seen = 0
        i = 0
        for rank in ranks:  # nondecreasing
            while seen + self.counts[keys[i]] <= rank:
                seen += self.counts[keys[i]]
                i += 1
            out.append(keys[i] if self.exact else _middle(keys[i]))
        return {"p50_ns": out[0], "p90_ns": out[1], "p99_ns": out[2], "mean_ns": int(round(self.total / self.n))}


def _bucket(value: int) -> int:
    """The sketch's bucket of ``value``: its 11 leading bits (the value itself below 2**11)."""
    shift = value.bit_length() - _SUB_BITS
    return value if shift <= 0 else (value >> shift) << shift


def _middle(bucket: int) -> int:
    shift = bucket.bit_length() - _SUB_BITS
    return bucket if shift <= 0 else bucket + (1 << (shift - 1))


class _KindStats:
    __slots__ = ("count", "completed", "failed", "latency")

    def __init__(self) -> None:
        self.count = self.completed = self.failed = 0
        self.latency = Quantiles()


class _UnitStats:
    __slots__ = ("unit", "requests", "busy", "depth_ns", "peak", "ends", "pending", "last_seq")

    def __init__(self, unit: Any) -> None:
        self.unit = unit
        self.requests = 0
        self.busy = 0  # ns its started requests ran inside the window
        self.depth_ns = 0  # the sum over its requests of their time in the queue inside the window
        self.peak = 0  # the most requests in the queue at once inside the window
        self.ends: deque[int] = deque()  # clipped ends of the folded requests still in the queue
        self.pending: list[Any] = []  # requests recorded and not yet folded, in sequence order
        self.last_seq = 0


class RequestStats:
    """What the summary reports of a run's requests, folded as they complete (A116).

    Per request kind: how many, how many completed inside the window and failed, and the latency
    (submit to completion) percentiles (:class:`Quantiles`). Per execution-unit queue: its requests,
    the time it ran one inside the window, and its depth (time-weighted mean and maximum). The same
    numbers :func:`neuronsim.workload.metrics.summary` computed from every request: a request is folded
    once it has completed (so its end is at most the current time, and the window's end is never
    earlier), in sequence order per queue (a queue runs and completes its requests in order, so the
    running maximum of its depth needs only the ends of those still in it); what has not completed at
    the end of the run is folded then, with the window's end as its end.
    """

    def __init__(self) -> None:
        self.lo: int | None = None
        self.kinds: dict[str, _KindStats] = {}
        self.units: dict[int, _UnitStats] = {}
        self._recorded = 0
        self.on_fold: Any = None  # called with each request as it is folded (a streamed trace)

    def start(self, lo: int) -> None:
        self.lo = lo

    def add(self, request: Any) -> None:
        """Record ``request`` (accepted by its queue; in sequence order per queue)."""
        unit = request.unit
        stats = self.units.get(id(unit))
        if stats is None:
            stats = self.units[id(unit)] = _UnitStats(unit)
        if request.seq_num <= stats.last_seq:  # pragma: no cover - a neuronsim bug
            raise RuntimeError(f"{unit.name}: request {request.seq_num} recorded after {stats.last_seq}")
        stats.last_seq = request.seq_num
        stats.pending.append(request)
        self._recorded += 1

    def compact(self) -> None:
        """Fold every completed request whose queue has completed everything recorded before it."""
        if self.lo is None or not self._recorded:
            return
        self._recorded = 0
        for stats in self.units.values():
            pending = stats.pending
            count = 0
            for request in pending:
                if not request.completions:
                    break
                self._fold(stats, request, None)
                count += 1
            if count:
                del pending[:count]

    def finish(self, hi: int) -> None:
        """Fold what is left at the end of the run (the window ends at ``hi``)."""
        for stats in self.units.values():
            for request in stats.pending:
                self._fold(stats, request, hi)
            stats.pending = []
            stats.ends.clear()

    def horizon(self, unit: Any, now: int) -> int:
        """The earliest a request of ``unit`` not folded yet was submitted (``now`` if none is left)."""
        stats = self.units.get(id(unit))
        return stats.pending[0].submit_ns if stats is not None and stats.pending else now

    def _fold(self, stats: _UnitStats, request: Any, hi: int | None) -> None:
        if self.on_fold is not None:
            self.on_fold(request)
        lo = self.lo
        assert lo is not None
        kind = self.kinds.get(request.kind)
        if kind is None:
            kind = self.kinds[request.kind] = _KindStats()
        kind.count += 1
        stats.requests += 1
        done = request.done_ns if request.completions else -1
        if request.completions:
            if request.status != 0:
                kind.failed += 1
            if hi is None or done <= hi:
                kind.completed += 1
                kind.latency.add(done - request.submit_ns)
            begin, end = request.start_ns, request.end_ns
            started = True
        else:
            assert hi is not None
            pending = stats.unit.pending()
            started = bool(pending) and pending[0] is request
            begin, end = request.start_ns, hi
            done = hi
        if hi is not None:
            end, done = min(end, hi), min(done, hi)
        if started:
            b = begin if begin > lo else lo
            if end > b:
                stats.busy += end - b
        b = request.submit_ns if request.submit_ns > lo else lo
        if done > b:
            stats.depth_ns += done - b
            ends = stats.ends
            while ends and ends[0] <= b:
                ends.popleft()
            ends.append(done)
            if len(ends) > stats.peak:
                stats.peak = len(ends)


@dataclass
class CallRecord:
    """One API call a workload thread made: where and when (for the trace's host tracks and flows)."""

    thread: str
    name: str
    begin_ns: int  # when the thread started spending the call's cost
    end_ns: int  # when the call returned (the request was submitted)
    request: Any = None  # the request it submitted, if any
    status: int = 0


@dataclass
class WorkloadRun:
    """What a run leaves: the simulator, the requests, the iterations and the calls, by thread."""

    spec: WorkloadSpec | None
    sim: Simulator
    start_ns: int
    end_ns: int
    until_ns: int | None
    requests: list[Any] = field(default_factory=list)
    iterations: list[IterationRecord] = field(default_factory=list)
    calls: list[CallRecord] = field(default_factory=list)
    threads: list[HostThread] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)
    events: int = 0  # SimPy events the run processed
    completed: int = 0  # iterations completed so far
    meters: ChannelMeters | None = None  # the channels' running totals (A116)
    records: bool = True  # whether every record a trace or plots need was kept (run_workload(records=True))
    stats: RequestStats | None = None  # the requests' running totals (A116)
    stream: Any = None  # the trace written as the run goes (neuronsim.trace.stream.TraceStream), if asked

    def add_request(self, request: Any) -> None:
        """A request a thread's call submitted: counted, and kept in ``requests`` if the records are."""
        if self.stats is not None:
            self.stats.add(request)
        if self.records:
            self.requests.append(request)

    def add_call(self, call: CallRecord) -> None:
        """An API call a thread made: kept in ``calls`` if the records are (only the trace uses them)."""
        if self.stream is not None:
            self.stream.call(call)
        if self.records:
            self.calls.append(call)

    @property
    def elapsed_ns(self) -> int:
        return self.end_ns - self.start_ns
