"""Bandwidth channels and the flow-level contention model every transfer goes through.

A :class:`Channel` is anything with a bandwidth that transfers share: a DMA engine (or a group of
engines working one transfer together), a PCIe direction, an HBM stack, a NeuronLink direction,
an EFA device. The contention model (docs/explanation/hardware-model.md, docs/assumptions.md A9) is
*max-min fair sharing* of a fluid:

* a transfer is a :class:`Flow` over a path of ``(channel, bytes it carries there)``; it costs a fixed
  ``setup_ns`` (descriptor generation, semaphores) during which it moves nothing, then its bytes at a
  rate that changes as other flows start and end, then a fixed ``latency_ns`` (wire, hops);
* while flows are in progress their rates are the max-min fair allocation (progressive filling): every
  flow's rate (its own bytes per ns, over its *weight*) rises together until a channel on its path is
  full or the flow reaches its *cap*; a channel that carries ``k`` bytes per byte of the flow (an HBM
  stack that sees a copy's read and write) spends ``k`` of its bandwidth per unit of the flow's rate;
* rates are recomputed when a flow starts or ends (or a channel's bandwidth changes), only for the flows
  connected to it through shared channels, and each flow's completion is projected again from its
  remaining bytes.

Time. Flows evolve in continuous time inside the network; everything visible outside it is a whole
nanosecond: a flow's *end* is ``ceil(the instant its last byte is delivered) + latency_ns`` (and never
before its ``not_before``). Float error is absorbed by a relative slack of 1e-12 and an absolute one of
1e-6 ns (:data:`TIME_SLACK_NS`) before rounding up. So a transfer alone ends at
``now + setup + max over its channels of ceil(bytes / bandwidth) + latency``, the same as
:func:`neuronsim.units.transfer_time_ns` gives; ``k`` equal transfers that start together on one
bottleneck of bandwidth ``B`` all end at ``now + setup + ceil(k * size / B) + latency``.

Cost. A start or an end re-solves only the flows that share a channel with it, transitively (its
connected component), and not even those when it cannot change them (a flow that fits in the room left
on every channel and is the fastest on the channel it fills; a flow ending on channels none of which was
full with others). A flow that shares no channel with any other costs no solve at all and is processed
lazily. Each flow's end is one SimPy event: a flow alone schedules it when it starts (its end is known);
a flow that shares a channel schedules it once its bytes are delivered (before that its end moves with
every start and end near it), and the network keeps one wake-up, replaced (the old made inert) when the
first instant at which a shared flow starts or ends its bytes moves. Arrivals and departures at the same
instant are solved together.

Determinism. Flows are kept in insertion-ordered containers and solved in a fixed order; no iteration
depends on hashing; the same calls give the same trace.

A network without a SimPy environment (``FlowNetwork(None)``) runs the same model offline in its own
clock (:meth:`FlowNetwork.run`): the analytical collective path uses it.
"""

from __future__ import annotations

import heapq
from collections.abc import Callable, Sequence
from math import ceil, inf
from typing import Any

from simpy.events import NORMAL, Event

from neuronsim.units import TRANSFER_SLACK, transfer_time_ns

__all__ = ["Channel", "Flow", "FlowNetwork", "TIME_SLACK_NS", "solo_ns", "channel_busy_ns"]

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


class FlowNetwork:
    """The flows in progress and their max-min fair rates (module docstring).

    Args:
        env: the SimPy environment whose clock it follows, or ``None`` for an offline network driven by
            :meth:`run` (its own clock, no SimPy events).

    Attributes:
        flows_started: flows started so far.
        solves: component re-solves done so far (progressive filling runs).
        events: SimPy events it scheduled (flow ends, replaced ends and wake-ups).
        probe: ``None``, or a callable given each instant once every start and end of bytes of flows that
            share channels has been processed there (the property tests check the allocation there).
    """

    def __init__(self, env: Any = None) -> None:
        self.env = env
        self.now = 0.0  # every internal event at or before this has been processed
        self._shared: list[tuple[float, int, int, int, Flow]] = []  # (t, 0 end / 1 arrival, seq, version, flow)
        self._compact_at = COMPACT_MIN  # drop stale entries from _shared when it grows past this
        self._offline: list[tuple[int, int, int, Flow]] = []  # offline ends: (end_ns, seq, version, flow)
        self._seq = 0
        self._mark = 0
        self._wake: Any = None
        self._wake_at = -1
        self.solves = 0
        self.events = 0
        self.probe: Callable[[float], None] | None = None

    @property
    def flows_started(self) -> int:
        return self._seq

    # -- public ------------------------------------------------------------------------------------

    def start(self, now_ns: int, path: Sequence[tuple[Channel, int]], setup_ns: int = 0, latency_ns: int = 0,
              on_done: Callable[[Flow], None] | None = None, *, size: int | None = None, not_before: int = 0,
              cap: float = inf, weight: float = 1.0, tag: Any = None) -> Flow:
        """Start a transfer at ``now_ns`` (the current time) over ``path``: ``(channel, bytes)`` pairs, each
        channel once.

        Args:
            setup_ns: ns before it moves bytes. latency_ns: ns after its last byte before it ends.
            on_done: called with the flow at its end (``flow.end_ns`` is then the current time).
            size: its own bytes (default: the most any channel carries). Its rate is in these bytes per ns.
            not_before: it never ends before this time (an execution's compute time).
            cap: the most bytes per ns it takes (its demand; an execution paced by its compute).
            weight: its share relative to others (max-min fair in rate / weight); 1 unless the hardware
                record says otherwise (docs/assumptions.md A9).
        Returns:
            the :class:`Flow`; ``flow.end_ns`` is its projected end (final once ``flow.done``).
        """
        if self._shared and self.env is not None:
            self.advance(now_ns)
        f = Flow()
        self._seq = seq = self._seq + 1
        f.seq = seq
        f.on_done = on_done
        if latency_ns:
            f.latency_ns = latency_ns
        if not_before:
            f.not_before = not_before
        if cap != inf:
            f.cap = cap
        if weight != 1.0:
            f.weight = weight
        if tag is not None:
            f.tag = tag
        if size is None:
            size = 0
            for _, n in path:
                if n > size:
                    size = n
        f.size = size
        arrive = now_ns + setup_ns
        f.arrive_ns = arrive
        hops = []
        alone = True
        longest = 0.0  # the most ns any channel needs for its bytes, alone
        if size > 0:
            for channel, n in path:
                if n <= 0:
                    continue
                hops.append((channel, n / size, n))
                if alone:
                    if channel.flows or channel.waiting:
                        alone = False
                    else:
                        solo = channel.solo  # a flow alone there is over only once its bytes are delivered
                        if solo is not None and solo.finish_at > now_ns:
                            alone = False
                x = n / channel.bw
                if x > longest:
                    longest = x
        f.hops = hops
        if not hops:  # nothing to move: it ends after its setup and latency
            f.state = DELIVERED
            f.delivered_at = float(arrive)
            f.end_ns = max(arrive + latency_ns, not_before)
            self._schedule_end(f)
            return f
        # max over channels of ceil(bytes / bw) is ceil of the max (transfer_time_ns, as alone always was)
        ser = ceil(longest * _SLACK) or 1
        rate = size / longest
        if cap != inf:
            s = ceil(size / cap * _SLACK) or 1
            if s > ser:
                ser = s
            if cap < rate:
                rate = cap
        if not alone:
            # its end as if alone, until its arrival is solved (what a fault plan or a timeout sees now)
            end = arrive + ser + latency_ns
            f.end_ns = end if end > not_before else not_before
            f.deliver_ns = arrive + ser
            f.rem = float(size)
            self._join(f, now_ns)
            return f
        # alone on its channels: its end is known now, and stays so unless another flow joins them
        f.state = SOLO
        f.rate = rate
        f.deliver_ns = deliver = arrive + ser
        finish = arrive + size / rate
        f.finish_at = f.delivered_at = finish if finish < deliver else float(deliver)
        end = deliver + latency_ns
        f.end_ns = end = end if end > not_before else not_before
        for channel, _, n in hops:
            channel.solo = f
            channel.network = self
            channel.bytes_moved += n
            channel._busy += n / channel.bw
            if channel.log is not None:
                self._log_solo(f, channel, n)
        env = self.env
        if env is None:
            f.event = True
            f.event_at = end
            heapq.heappush(self._offline, (end, seq, 0, f))
            return f
        # _succeeded_at inlined (the hot path): an already-succeeded event at its end
        event = Event(env)
        event._ok = True  # noqa: SLF001
        event._value = f  # noqa: SLF001
        event.callbacks.append(self._ended)
        now = env._now  # noqa: SLF001
        env.schedule(event, NORMAL, end - now if end > now else 0)
        f.event = event
        f.event_at = end
        self.events += 1
        return f

    @staticmethod
    def _log_solo(f: Flow, channel: Channel, n: int) -> None:
        logged = f.logged
        if not logged:
            logged = f.logged = [None] * len(f.hops)
        for i, hop in enumerate(f.hops):
            if hop[0] is channel:
                logged[i] = channel._log(f.arrive_ns, f.finish_at, n, merge=False)

    def cancel(self, f: Flow) -> None:
        """Stop ``f`` now (it never ends; the bytes it moved count on its channels)."""
        if f.state in (ENDED, CANCELLED):
            return
        now = self._clock()
        self.advance(now)
        if f.state == SOLO:
            self._materialise(f, now)
        if f.event is not None and f.event is not True:
            f.event.callbacks.clear()
        f.event = None
        old = f.state
        f.state = CANCELLED
        f.version += 1
        if old == PENDING:
            for channel, _, _ in f.hops:
                del channel.waiting[f]
        elif old == ACTIVE:
            self._settle(f, now)
            seeds: list[Channel] = []
            for channel, a, _ in f.hops:
                del channel.flows[f]
                channel.bytes_moved += round(a * (f.size - f.rem))
                channel._set_used(now, channel.used - a * f.rate if channel.flows else 0.0)
                if channel.flows:
                    seeds.append(channel)
            if seeds:
                self._solve(seeds, [], now)
        self._arm()

    def set_bandwidth(self, channel: Channel, bandwidth: float) -> None:
        """Change ``channel``'s bandwidth now and re-solve the flows on it."""
        now = self._clock()
        self.advance(now)
        solo = channel.solo
        if solo is not None and solo.state == SOLO and solo.finish_at > now:
            self._materialise(solo, now)
        channel.solo = None
        channel._set_used(now, channel.used)
        channel.bw = bandwidth
        if channel.flows:
            self._solve([channel], [], now)
        self._arm()

    def active(self) -> list[Flow]:
        """Flows moving bytes now (after processing everything up to now), in start order."""
        now = self._clock()
        self.advance(now)
        out: dict[Flow, None] = {}
        for _, _, _, _, f in self._shared:
            if f.state == ACTIVE:
                out[f] = None
        return sorted(out, key=lambda f: f.seq)

    def run(self, until: float = inf) -> int:
        """Offline network: process every flow and end in time order (calling ``on_done``, which may start
        more flows at the current time); returns the time of the last end."""
        last = 0
        heap = self._offline
        while True:
            t = heap[0][0] if heap else inf
            if self._shared and self._shared[0][0] < t:
                t = self._shared[0][0]
            if t == inf or t > until:
                return last
            self.advance(t)
            while heap and heap[0][0] <= t:
                end, _, _, f = heapq.heappop(heap)
                if f.event_at != end or f.state not in (DELIVERED, SOLO):
                    continue  # its end moved, or it ended already
                f.state = ENDED
                last = end
                if end > self.now:
                    self.now = float(end)
                if f.on_done is not None:
                    f.on_done(f)

    # -- internals ---------------------------------------------------------------------------------

    def _clock(self) -> float:
        return self.env._now if self.env is not None else self.now  # noqa: SLF001

    def _join(self, f: Flow, now: float) -> None:
        """Register ``f``, which shares a channel with another flow: its arrival becomes a wake-up, and
        flows alone on its channels until now are turned into shared flows."""
        for channel, _, _ in f.hops:
            solo = channel.solo
            if solo is not None:
                if solo.state == SOLO and solo.finish_at > now:
                    self._materialise(solo, now)
                channel.solo = None
        for channel, a, _ in f.hops:
            channel.waiting[f] = a
        f.state = PENDING
        f.shared = True
        heapq.heappush(self._shared, (float(f.arrive_ns), 1, f.seq, 0, f))
        self._arm()

    def _materialise(self, g: Flow, now: float) -> None:
        """``g`` was alone on its channels, accounted from start to end; another flow joins one of them
        at ``now``: undo that accounting and make it a shared flow in its setup or in progress. (A flow is
        alone only on channels where no other is in progress or to come, so its logged interval is the
        last of each of its channels.)"""
        g.shared = True
        g.version += 1
        g.rem = float(g.size)
        if g.event is not None:  # its end moves with the flows it now shares with: scheduled at delivery
            if g.event is not True:
                g.event.callbacks.clear()
            g.event = None
            g.event_at = -1
        logged = g.logged
        for i, (channel, _, n) in enumerate(g.hops):
            if channel.solo is g:
                channel.solo = None
            channel.bytes_moved -= n
            channel._busy -= n / channel.bw
            if logged and channel.log:
                entry = logged[i]
                log = channel.log
                for k in range(len(log) - 1, -1, -1):  # it is the last (see above); equal, not identical:
                    if log[k] == entry:  # the compiled build (neuronsim.hw.accel) re-boxes tuples
                        del log[k]
                        break
        g.logged = False
        if g.arrive_ns > now:
            g.state = PENDING
            for channel, a, _ in g.hops:
                channel.waiting[g] = a
            heapq.heappush(self._shared, (float(g.arrive_ns), 1, g.seq, g.version, g))
        else:
            g.state = ACTIVE
            g.t0 = float(g.arrive_ns)
            g.delivered_at = -1.0
            for channel, a, _ in g.hops:
                channel.flows[g] = a
                channel._set_used(float(g.arrive_ns), channel.used + a * g.rate)
            heapq.heappush(self._shared, (g.finish_at, 0, g.seq, g.version, g))

    def _top(self) -> float:
        """Time of the first valid entry of the shared heap (stale ones dropped), inf if none."""
        heap = self._shared
        while heap:
            t, kind, _, version, f = heap[0]
            if f.version == version and f.state == (PENDING if kind else ACTIVE):
                return t
            heapq.heappop(heap)
        return inf

    def advance(self, t: float) -> None:
        """Process every start and end of bytes of shared flows at or before ``t``, in time order."""
        while self._shared:
            nxt = self._top()
            if nxt > t:
                break
            self._step(nxt)
        if t > self.now:
            self.now = t

    def _step(self, t: float) -> None:
        """Every internal event at instant ``t``: ends of bytes first, then arrivals, then one solve."""
        ends: list[Flow] = []
        arrivals: list[Flow] = []
        heap = self._shared
        while heap and heap[0][0] == t:
            _, kind, _, version, f = heapq.heappop(heap)
            if f.version != version or f.state != (PENDING if kind else ACTIVE):
                continue
            (arrivals if kind else ends).append(f)
        if len(ends) > 1:
            ends.sort(key=lambda f: f.seq)
        if len(arrivals) > 1:
            arrivals.sort(key=lambda f: f.seq)
        seeds: list[Channel] = []
        new: list[Flow] = []
        dirty = False
        for f in ends:
            f.state = DELIVERED
            f.delivered_at = t
            f.rem = 0.0
            f.version += 1
            if not dirty:
                for channel, _, _ in f.hops:
                    if len(channel.flows) > 1 and channel.used >= channel.bw * (1 - _FULL):
                        dirty = True  # others may take what it leaves: re-solve from here on
                        break
            for channel, a, n in f.hops:
                del channel.flows[f]
                channel.bytes_moved += n
                channel._set_used(t, channel.used - a * f.rate if channel.flows else 0.0)
                if dirty and channel.flows:
                    seeds.append(channel)
            f.end_ns = max(f.deliver_ns + f.latency_ns, f.not_before)  # final: one event at it
            self._schedule_end(f)
        for f in arrivals:
            f.state = ACTIVE
            f.t0 = t
            f.version += 1
            for channel, a, _ in f.hops:
                del channel.waiting[f]
                channel.flows[f] = a
            if not dirty and self._fits(f, t):
                heapq.heappush(heap, (f.finish_at, 0, f.seq, f.version, f))
                continue
            dirty = True
            f.rate = 0.0
            new.append(f)
        if seeds or new:
            self._solve(seeds, new, t)
        if self.probe is not None:
            self.probe(t)
        if self.env is not None:
            self._arm()

    def _fits(self, f: Flow, t: float) -> bool:
        """Give an arriving flow the room left on its path if that keeps the allocation max-min fair."""
        x = f.cap
        for channel, a, _ in f.hops:
            room = (channel.bw - channel.used) / a
            if room < x:
                x = room
        if x <= 0.0:
            return False
        norm = x / f.weight
        ok = x >= f.cap * (1 - _FULL)
        if not ok:
            for channel, a, _ in f.hops:
                if channel.bw - channel.used - a * x <= channel.bw * _FULL:  # it fills this channel
                    for g in channel.flows:
                        if g is not f and g.rate / g.weight > norm * (1 + _FULL):
                            break
                    else:
                        ok = True
                        break
        if not ok:
            return False
        f.rate = x
        for channel, a, _ in f.hops:
            channel._set_used(t, channel.used + a * x)
        self._project(f, t)
        return True

    def _settle(self, f: Flow, t: float) -> None:
        if t > f.t0:
            f.rem -= f.rate * (t - f.t0)
            if f.rem < 0.0:
                f.rem = 0.0
            f.t0 = t

    def _project(self, f: Flow, t: float) -> None:
        """Project ``f``'s delivery from its remaining bytes and rate (at ``t``). Its end event is scheduled
        only once its bytes are delivered (a shared flow's end moves with every start and end near it)."""
        f.version += 1
        d = f.rem / f.rate if f.rem > f.size * 1e-12 else 0.0
        deliver = _deliver_ns(t, d)
        f.finish_at = t + d if t + d < deliver else float(deliver)
        f.deliver_ns = deliver
        f.end_ns = max(deliver + f.latency_ns, f.not_before)  # projected: its event is scheduled at delivery

    def _solve(self, seeds: list[Channel], new: list[Flow], t: float) -> None:
        """Max-min fair rates (progressive filling) for the flows connected to ``seeds`` and ``new``."""
        self.solves += 1
        self._mark += 1
        mark = self._mark
        flows: list[Flow] = []
        chans: list[Channel] = []
        stack: list[Channel] = []
        for f in new:
            if f.mark != mark:
                f.mark = mark
                flows.append(f)
                for channel, _, _ in f.hops:
                    if channel.mark != mark:
                        channel.mark = mark
                        stack.append(channel)
        for channel in seeds:
            if channel.mark != mark:
                channel.mark = mark
                stack.append(channel)
        while stack:
            channel = stack.pop()
            chans.append(channel)
            for g in channel.flows:
                if g.mark != mark:
                    g.mark = mark
                    flows.append(g)
                    for other, _, _ in g.hops:
                        if other.mark != mark:
                            other.mark = mark
                            stack.append(other)
        flows.sort(key=lambda g: g.seq)
        for channel in chans:
            channel.res = channel.bw
            channel.dem = 0.0
            channel.nact = 0
        for g in flows:
            self._settle(g, t)
            w = g.weight
            for channel, a, _ in g.hops:
                channel.dem += a * w
                channel.nact += 1
        level = 0.0
        left = len(flows)
        open_chans = [channel for channel in chans if channel.nact]
        capped = [g for g in flows if g.cap < inf]
        frozen = -mark  # a flow's mark once its rate is fixed
        while left:
            step = inf
            for channel in open_chans:
                v = channel.res / channel.dem
                if v < step:
                    step = v
            for g in capped:
                if g.mark == mark:
                    v = g.cap / g.weight - level
                    if v < step:
                        step = v
            if step == inf:  # pragma: no cover - every flow crosses a channel
                raise RuntimeError("progressive filling made no progress")
            if step < 0.0:
                step = 0.0
            level += step
            fix: list[Flow] = []
            for channel in open_chans:
                channel.res -= step * channel.dem
                if channel.res <= channel.bw * _FULL:  # full: every flow still rising on it stops here
                    fix.extend(channel.flows)
            for g in capped:
                if g.mark == mark and g.cap / g.weight <= level * (1 + _FULL):
                    fix.append(g)
            for g in fix:
                if g.mark != mark:
                    continue
                g.mark = frozen
                left -= 1
                w = g.weight
                rate = w * level
                g.new_rate = g.cap if rate > g.cap else rate
                for channel, a, _ in g.hops:
                    channel.nact -= 1
                    channel.dem = channel.dem - a * w if channel.nact else 0.0
            open_chans = [channel for channel in open_chans if channel.nact]
        for channel in chans:
            used = 0.0
            for g, a in channel.flows.items():
                used += a * g.new_rate
            channel._set_used(t, used)
        heap = self._shared
        push = heapq.heappush
        for g in flows:
            rate = g.new_rate
            if rate == g.rate:  # its projection, invariant under settling, still holds
                continue
            g.rate = rate
            # _project, inlined (this loop runs over the whole component)
            version = g.version = g.version + 1
            rem = g.rem
            d = rem / rate if rem > g.size * 1e-12 else 0.0
            deliver = ceil(t + d - d * TRANSFER_SLACK - TIME_SLACK_NS)  # _deliver_ns
            finish = t + d
            g.finish_at = finish = finish if finish < deliver else float(deliver)
            g.deliver_ns = deliver
            end = deliver + g.latency_ns
            g.end_ns = end if end > g.not_before else g.not_before
            push(heap, (finish, 0, g.seq, version, g))
        if len(heap) > self._compact_at:
            self._compact()

    def _compact(self) -> None:
        """Drop the shared heap's stale entries (a flow re-projected leaves its old one behind): every re-solve
        of a component pushes one entry per flow whose rate changed, so without this the heap grows with the
        number of solves, not of flows. Valid entries keep their keys, so the order of processing is the same."""
        heap = self._shared  # in place: callers up the stack hold it
        heap[:] = [e for e in heap if e[4].version == e[3] and e[4].state == (PENDING if e[1] else ACTIVE)]
        heapq.heapify(heap)
        self._compact_at = max(COMPACT_MIN, 4 * len(heap))

    # -- events ------------------------------------------------------------------------------------

    def _schedule_end(self, f: Flow) -> None:
        """(Re)schedule ``f``'s end event at ``f.end_ns``: one SimPy event, the old one made inert."""
        end = f.end_ns
        if f.event_at == end and f.event is not None:
            return
        env = self.env
        if env is None:
            f.event_at = end
            heapq.heappush(self._offline, (end, f.seq, f.version, f))
            f.event = True
            return
        if f.event is not None:
            f.event.callbacks.clear()
        f.event = _succeeded_at(env, end, f, self._ended)
        f.event_at = end
        self.events += 1

    def _ended(self, event: Event) -> None:
        f: Flow = event._value  # noqa: SLF001
        if f.event is not event:
            return
        now = self.env._now  # noqa: SLF001
        if self._shared:
            self.advance(now)
        f.event = None
        state = f.state
        if (state != DELIVERED and state != SOLO) or f.end_ns != now:  # pragma: no cover - a neuronsim bug
            raise RuntimeError(f"{f!r} ended at {now} ns before its bytes were delivered")
        f.state = ENDED
        if f.on_done is not None:
            f.on_done(f)
        if self._shared:
            self._arm()

    def _arm(self) -> None:
        """Keep one wake-up at the first instant a shared flow starts or ends its bytes."""
        env = self.env
        if env is None:
            return
        t = self._top() if self._shared else inf
        if t == inf:
            if self._wake is not None:
                self._wake.callbacks.clear()
                self._wake = None
                self._wake_at = -1
            return
        at = ceil(t)
        if self._wake is not None and self._wake_at == at:
            return
        if self._wake is not None:
            self._wake.callbacks.clear()
        self._wake = _succeeded_at(env, at, None, self._woken)
        self._wake_at = at
        self.events += 1

    def _woken(self, event: Event) -> None:
        if self._wake is not event:
            return
        self._wake = None
        self._wake_at = -1
        self.advance(self.env._now)  # noqa: SLF001
        self._arm()


def _succeeded_at(env: Any, at: int, value: Any, callback: Callable[[Event], None]) -> Event:
    """An already-succeeded event carrying ``value``, scheduled at time ``at`` (or now, if that has passed),
    that calls ``callback``: one heap entry, no process. The add-flow hot path inlines the same lines."""
    event = Event(env)
    event._ok = True  # noqa: SLF001
    event._value = value  # noqa: SLF001
    event.callbacks.append(callback)
    now = env._now  # noqa: SLF001
    env.schedule(event, NORMAL, at - now if at > now else 0)
    return event
