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
"""

from __future__ import annotations

from typing import Any

__all__ = ["ChannelMeters", "COMPACT_EVERY"]

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
