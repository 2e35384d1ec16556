"""The objects of the flow model: bandwidth channels (with their interval logs) and flows.

The model itself (max-min fair sharing of a fluid, whole-ns rounding, what a start or an end costs) is
described in :mod:`neuronsim.hw.channel`, the module to import these from; :mod:`neuronsim.hw.flows` holds
the network that moves flows over channels and :mod:`neuronsim.hw.filling` its max-min solve.
"""

from __future__ import annotations

from collections.abc import Sequence
from math import ceil, inf
from typing import TYPE_CHECKING, Any

from neuronsim.units import TRANSFER_SLACK, transfer_time_ns

if TYPE_CHECKING:
    from neuronsim.hw.flows import FlowNetwork

__all__ = ["Channel", "Flow", "TIME_SLACK_NS", "solo_ns", "channel_busy_ns"]

_SLACK = 1 - TRANSFER_SLACK
TIME_SLACK_NS = 1e-6  # absolute float slack (ns) before a continuous instant is rounded up to a whole ns
_FULL = 1e-9  # a channel within this fraction of its bandwidth is full (saturated)
COMPACT_MIN = 4096  # the shared heap is compacted once it holds this many entries and 4x its valid ones

# flow states
PENDING, ACTIVE, DELIVERED, ENDED, CANCELLED, SOLO = 0, 1, 2, 3, 4, 5


def _deliver_ns(t: float, d: float) -> int:
    """The whole ns by which a flow at instant ``t`` with ``d`` ns of bytes left has delivered them: the
    continuous instant ``t + d`` rounded up after the slacks (1e-12 of ``d`` and :data:`TIME_SLACK_NS`)."""
    return ceil(t + d - d * TRANSFER_SLACK - TIME_SLACK_NS)



class Channel:
    """A shared bandwidth resource.

    Args:
        name: entity path, e.g. ``dev0/hbm1`` or ``link.dev0-dev1``.
        bandwidth_bytes_per_ns: bytes per ns it moves (> 0). Setting it while flows cross the channel
            re-solves their rates from that instant (a degradation fault does this).

    Attributes:
        flows: the flows moving bytes over it now, each with the bytes it spends per byte of the flow.
        used: bytes per ns allocated to them now (never above the bandwidth, up to float error).
        bytes_moved: bytes of every flow that has finished over it (a cancelled flow: the bytes it moved).
        log: ``None``, or a list that gets ``(begin_ns, end_ns, bytes)`` for every interval over which its
            allocated rate was constant and positive (intervals never overlap; ``bytes / (end - begin)`` is
            the rate in GB/s); workload runs turn it on for utilisation over time and trace counters.
            Logging reads the model, it never changes it.
    """

    __slots__ = ("name", "bw", "flows", "waiting", "solo", "used", "bytes_moved", "log", "network", "_busy",
                 "_seg_t", "mark", "res", "dem", "nact")

    def __init__(self, name: str, bandwidth_bytes_per_ns: float) -> None:
        if not bandwidth_bytes_per_ns > 0:
            raise ValueError(f"bandwidth_bytes_per_ns(={bandwidth_bytes_per_ns}) must be > 0.")
        self.name = name
        self.bw = float(bandwidth_bytes_per_ns)
        self.flows: dict[Flow, float] = {}  # active flows -> bytes on this channel per byte of the flow
        self.waiting: dict[Flow, float] = {}  # registered flows still in their setup
        self.solo: Flow | None = None  # the last flow alone on all its channels (not in flows/waiting)
        self.used = 0.0
        self.bytes_moved = 0
        self.log: list[tuple[int, int, int]] | None = None
        self.network: FlowNetwork | None = None
        self._busy = 0.0  # integral of used / bw over time: ns at full bandwidth
        self._seg_t = 0.0  # start of the current constant-rate interval
        self.mark = 0
        self.res = self.dem = 0.0
        self.nact = 0

    @property
    def bandwidth_bytes_per_ns(self) -> float:
        return self.bw

    @bandwidth_bytes_per_ns.setter
    def bandwidth_bytes_per_ns(self, value: float) -> None:
        if not value > 0:
            raise ValueError(f"bandwidth_bytes_per_ns(={value}) must be > 0.")
        if self.network is not None and (self.flows or self.waiting or self.solo is not None):
            self.network.set_bandwidth(self, float(value))
        else:
            self.bw = float(value)

    @property
    def busy_ns(self) -> int:
        """Time it would have taken at full bandwidth to move what it moved (rounded to whole ns)."""
        return round(self._busy)

    def serialisation_ns(self, size_bytes: int) -> int:
        return transfer_time_ns(size_bytes, self.bw)

    def utilisation(self, elapsed_ns: int) -> float:
        """Fraction of its bandwidth used over ``elapsed_ns`` (0 when nothing elapsed)."""
        return min(1.0, self._busy / elapsed_ns) if elapsed_ns > 0 else 0.0

    def _set_used(self, t: float, used: float) -> None:
        """The allocated rate changes at ``t``: close the constant-rate interval that ends there."""
        old = self.used
        begin = self._seg_t
        if old > 0.0 and t > begin:
            self._busy += old * (t - begin) / self.bw
            if self.log is not None:
                self._log(begin, t, round(old * (t - begin)))
        self._seg_t = t
        self.used = used if used > 1e-12 * self.bw else 0.0

    def _log(self, begin: float, end: float, n: int, merge: bool = True) -> Any:
        """Log ``n`` bytes over ``[begin, end)``: whole ns outward, never overlapping the last interval; a
        sub-ns piece joins the last interval (unless ``merge`` is false). Returns the entry."""
        log = self.log
        b, e = int(begin), ceil(end - TIME_SLACK_NS)
        if log and log[-1][1] > b:
            b = log[-1][1]
        if e > b:
            entry = (b, e, n)
        elif merge and log and log[-1][1] == b:
            last = log[-1]
            log[-1] = (last[0], last[1], last[2] + n)
            return log[-1]
        else:
            entry = (b, b + 1, n)
        log.append(entry)  # type: ignore[union-attr]
        return entry

    def __repr__(self) -> str:
        return f"Channel({self.name!r}, {self.bw:g} B/ns, {len(self.flows)} flows)"


def channel_busy_ns(channel: Channel, lo: int, hi: int) -> float:
    """Nanoseconds at full bandwidth that ``channel``'s logged traffic inside ``[lo, hi]`` amounts to
    (its utilisation over the window times the window); needs ``channel.log``."""
    total = 0.0
    for b, e, n in channel.log or ():
        bb, ee = max(b, lo), min(e, hi)
        if ee > bb:
            total += n * (ee - bb) / (e - b) / channel.bw
    return total


class Flow:
    """One transfer in the network (see the module docstring). Read-only outside the network.

    Attributes:
        size: the flow's own bytes (its rate is in these bytes per ns).
        arrive_ns: when its setup ends and it starts moving bytes.
        delivered_at: the continuous instant its last byte was delivered (``-1`` before; a flow alone on
            its channels has it from the start: ``finish_at``).
        end_ns: its end (whole ns), as projected now, final once ``done``:
            ``max(ceil(delivered_at) + latency_ns, not_before)``.
        rate: its current rate (bytes of the flow per ns).
        state: 0 in setup, 1 moving bytes, 2 delivered, 3 ended (``on_done`` called), 4 cancelled,
            5 alone on its channels from start to end (as long as no other flow joins them).
    """

    # set by FlowNetwork.start for every flow
    seq: int
    size: int
    arrive_ns: int
    hops: list[tuple[Channel, float, int]]
    state: int
    # class defaults: a flow alone sets only what differs (this is the hot path of every transfer); annotated,
    # so that the optional compiled build (neuronsim.accel) knows every attribute
    rem: float = 0.0
    rate: float = 0.0
    t0: float = 0.0
    version: int = 0
    shared: bool = False
    event: Any = None
    event_at: int = -1
    end_ns: int = -1
    deliver_ns: int = -1
    delivered_at: float = -1.0
    finish_at: float = inf
    mark: int = 0
    new_rate: float = 0.0
    tag: Any = None
    logged: Any = False
    latency_ns: int = 0
    not_before: int = 0
    cap: float = inf
    weight: float = 1.0
    on_done: Any = None

    @property
    def done(self) -> bool:
        return self.state == ENDED

    def __repr__(self) -> str:
        return f"Flow#{self.seq}({self.size} B, state={self.state}, rate={self.rate:g}, end={self.end_ns})"


def solo_ns(path: Sequence[tuple[Channel, int]], setup_ns: int = 0, latency_ns: int = 0) -> int:
    """Duration of a transfer over ``path`` alone on its channels: ``setup + max ceil(bytes / bw) + latency``."""
    longest = 0
    for channel, size in path:
        ser = transfer_time_ns(size, channel.bw)
        if ser > longest:
            longest = ser
    return setup_ns + longest + latency_ns
