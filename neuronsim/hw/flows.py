"""The flow network: flows in progress over shared channels, their ends as SimPy events (or offline).

:mod:`neuronsim.hw.channel` describes the model and is the module to import from. This module keeps the
flows in progress, turns their starts and ends into SimPy events (one per flow end, plus one wake-up) and
calls the max-min solve (:mod:`neuronsim.hw.filling`) when a start or an end can change rates.
"""

from __future__ import annotations

import heapq
from collections.abc import Callable, Sequence
from math import ceil, inf
from typing import Any

from simpy.events import NORMAL, Event

from neuronsim.hw.filling import fits, settle, solve
from neuronsim.hw.fluid import (_FULL, _SLACK, ACTIVE, CANCELLED, COMPACT_MIN, DELIVERED, ENDED, PENDING, SOLO,
                                Channel, Flow)

__all__ = ["FlowNetwork"]


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
        logged: list[Any] | None = None
        for i, (channel, _, n) in enumerate(hops):
            channel.solo = f
            channel.network = self
            channel.bytes_moved += n
            channel._busy += n / channel.bw
            if channel.log is not None:  # log_solo, inlined (every transfer of a workload run passes here)
                if logged is None:
                    logged = f.logged = [None] * len(hops)
                logged[i] = channel._log(arrive, f.finish_at, n, merge=False)
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
            settle(f, now)
            seeds: list[Channel] = []
            for channel, a, _ in f.hops:
                del channel.flows[f]
                channel.bytes_moved += round(a * (f.size - f.rem))
                channel._set_used(now, channel.used - a * f.rate if channel.flows else 0.0)
                if channel.flows:
                    seeds.append(channel)
            if seeds:
                solve(self, seeds, [], now)
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
            solve(self, [channel], [], now)
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
            if not dirty and fits(f, t):
                heapq.heappush(heap, (f.finish_at, 0, f.seq, f.version, f))
                continue
            dirty = True
            f.rate = 0.0
            new.append(f)
        if seeds or new:
            solve(self, seeds, new, t)
        if self.probe is not None:
            self.probe(t)
        if self.env is not None:
            self._arm()

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
