"""The flow network's max-min solve: progressive filling over a connected component of flows.

Every flow's rate (its own bytes per ns, over its weight) rises together until a channel on its path is full
(within :data:`~neuronsim.hw.fluid._FULL` of its bandwidth) or the flow reaches its cap; a channel that
carries ``k`` bytes per byte of a flow spends ``k`` of its bandwidth per unit of the flow's rate
(:mod:`neuronsim.hw.channel` describes the model). :func:`fits` gives an arriving flow the room left on its
path when that keeps the allocation max-min fair (no solve); :func:`solve` re-solves the flows connected to
some channels and arriving flows, and projects every flow whose rate changed.
"""

from __future__ import annotations

import heapq
from math import ceil, inf
from typing import TYPE_CHECKING

from neuronsim.hw.fluid import _FULL, TIME_SLACK_NS, Channel, Flow, _deliver_ns
from neuronsim.units import TRANSFER_SLACK

if TYPE_CHECKING:
    from neuronsim.hw.flows import FlowNetwork

__all__ = ["fits", "settle", "project", "solve"]


def fits(f: Flow, t: float) -> bool:
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
    project(f, t)
    return True


def settle(f: Flow, t: float) -> None:
    if t > f.t0:
        f.rem -= f.rate * (t - f.t0)
        if f.rem < 0.0:
            f.rem = 0.0
        f.t0 = t


def project(f: Flow, t: float) -> None:
    """Project ``f``'s delivery from its remaining bytes and rate (at ``t``). Its end event is scheduled
    only once its bytes are delivered (a shared flow's end moves with every start and end near it)."""
    f.version += 1
    d = f.rem / f.rate if f.rem > f.size * 1e-12 else 0.0
    deliver = _deliver_ns(t, d)
    f.finish_at = t + d if t + d < deliver else float(deliver)
    f.deliver_ns = deliver
    f.end_ns = max(deliver + f.latency_ns, f.not_before)  # projected: its event is scheduled at delivery


def solve(net: FlowNetwork, seeds: list[Channel], new: list[Flow], t: float) -> None:
    """Max-min fair rates (progressive filling) for the flows connected to ``seeds`` and ``new``."""
    net.solves += 1
    net._mark += 1  # noqa: SLF001
    mark = net._mark  # noqa: SLF001
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
        settle(g, t)
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
    heap = net._shared  # noqa: SLF001
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
    if len(heap) > net._compact_at:  # noqa: SLF001
        net._compact()  # noqa: SLF001
