"""Costing a collective over the fabric: the step-level engine and the analytical fast path.

Each transfer is a flow over the channels :mod:`neuronsim.collectives.fabric` gives it (the sender's
collective DMA channel and HBM stack, the route's NeuronLink or EFA directions, the receiver's stack;
an accumulating reduce-scatter write capped at ``cc.accumulate_rate`` of the sender's DMA bandwidth,
reference/hardware.md §4.2). A step costs ``cc.step_latency_ns`` of setup, then its bytes at their
max-min fair rate, then the route's link latencies. (:class:`Fabric` lives in
:mod:`neuronsim.collectives.fabric`; importing it from here keeps working.)

* **Step level** (``fidelity="step"``): rank ``r`` starts step ``k`` when its own step ``k - 1`` sends
  are done and every step ``k - 1`` transfer into it has arrived; its sends start then as flows of the
  simulation's network, so they share every channel with whatever else runs. One SimPy event per
  transfer (its flow's end); a step starts inside the end that allows it.
* **Analytical** (``fidelity="analytical"``): steps costed one at a time alone on the fabric, in closed
  form where a step's flows are symmetric and start together, else by an offline flow network
  (:func:`analytical_ns`), or, for a phase of :data:`~neuronsim.collectives.batch.BATCH_MIN` transfers
  or more, over arrays by its shape (:mod:`neuronsim.collectives.batch`, A134). No SimPy events.
  ``tests/test_collectives.py`` keeps the two within 5 % of each other.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np
from simpy.events import Timeout

from neuronsim.collectives.algorithms import Phase, Transfer
from neuronsim.collectives.batch import BATCH_MIN, Group, batch_phase, phase_arrays
from neuronsim.collectives.fabric import Fabric, _cap, _path, crosses_efa
from neuronsim.hw.channel import Channel, Flow, FlowNetwork, _deliver_ns
from neuronsim.hw.system import CoreHW

__all__ = ["Fabric", "analytical_ns", "StepRun", "sends_over_efa", "crosses_efa", "_cap", "_path"]


def _symmetric_rate(routed: list[tuple[Any, ...]]) -> float:
    """The rate every flow of a step gets when they all start together, if max-min gives them one rate
    (equal sizes, and every flow crosses a channel that the common rate fills); 0 if not symmetric."""
    if not routed:
        return 0.0
    size, cap = routed[0][5], routed[0][6]
    if size <= 0 or any(item[5] != size or item[4] != routed[0][4] or item[6] != cap for item in routed):
        return 0.0
    load: dict[Channel, float] = {}
    for item in routed:
        for channel, n in item[2]:
            load[channel] = load.get(channel, 0.0) + n / size
    rate = min(channel.bw / demand for channel, demand in load.items())
    if cap < rate * (1 + 1e-9):
        return cap  # every flow at its cap: nothing is full
    for item in routed:
        if not any(channel.bw / load[channel] <= rate * (1 + 1e-9) for channel, _ in item[2]):
            return 0.0
    return rate


def _step_ends(routed: list[tuple[Any, ...]], ready: list[int], rate: float,
               seen: dict[tuple[int, tuple[int, ...]], tuple[int, list[int]]] | None = None,
               shape: int = 0) -> list[int]:
    """When each transfer of one step ends, its senders starting at ``ready``, alone on the fabric.

    ``seen`` (with ``shape``, the id of the step's transfers): steps of this shape solved before, by their
    start times relative to the earliest; a step of the same shape whose ranks start with the same offsets
    ends with the same offsets (the model is invariant under a shift in time; A124), so it is not solved
    again (a ring's steps once its ranks are out of lockstep)."""
    starts = [ready[item[0]] for item in routed]
    first = min(starts)
    if rate and first == max(starts):
        # symmetric and in lockstep: every flow gets ``rate`` from setup to the end (closed form)
        setup, size = routed[0][4], routed[0][5]
        deliver = _deliver_ns(float(starts[0] + setup), size / rate)
        return [deliver + item[3] for item in routed]
    key = None
    if seen is not None:
        key = (shape, tuple(start - first for start in starts))
        hit = seen.get(key)
        if hit is not None:
            shift = first - hit[0]
            return [end + shift for end in hit[1]]
    network = FlowNetwork(None)  # the step level's shares, event by event, offline
    flows = [network.start(start, item[2], item[4], item[3], size=item[5], cap=item[6]) for start, item in
             sorted(zip(starts, routed, strict=True), key=lambda pair: pair[0])]
    network.run()
    order = sorted(range(len(routed)), key=lambda i: starts[i])
    ends = [0] * len(routed)
    for i, flow in zip(order, flows, strict=True):
        ends[i] = flow.end_ns
    if key is not None:
        seen[key] = (first, ends)  # type: ignore[index]
    return ends


def analytical_ns(fabric: Fabric, cores: list[CoreHW], phases: list[Phase], step_latency_ns: int,
                  proxy_ns: int = 0) -> int:
    """Fast-path duration of ``phases``, alone on the fabric (no other traffic, no SimPy events).

    Steps are costed one at a time, in dependency order: each rank's step starts when its previous
    step's sends and every transfer into it are done, and the step's transfers share the channels
    max-min fairly, as flows of the step level do. A step whose transfers start together and are
    *symmetric* (equal sizes, every one crossing a channel that their common max-min rate fills: a ring,
    RDH or mesh step on a uniform fabric) costs ``setup + ceil(size / rate) + its route latency`` in
    closed form; any other step (ranks out of lockstep, routes of different bottlenecks) is solved event by
    event by an offline :class:`~neuronsim.hw.channel.FlowNetwork`, as the step level would, except that
    a step's transfers never overlap the next step's; a phase of ``BATCH_MIN`` transfers or more is costed
    over arrays with the same model and rounding (:mod:`neuronsim.collectives.batch`, A134). A repeated phase is iterated until every rank's
    per-step increment stops changing, then extrapolated (a ring's steady state is periodic), so a 64-rank
    ring costs a handful of steps, not 126. A send over EFA first needs ``proxy_ns`` of its network
    proxy thread, uncontended here.
    """
    key = (id(phases), tuple(map(id, cores)), step_latency_ns, proxy_ns)  # cores live as long as the fabric
    memo = fabric.memo
    hit = memo.get(key)
    if hit is not None and hit[0] is phases and all(channel.bw == bw for channel, bw in hit[2]):
        return hit[1]  # the same plan on the same ranks over channels of the same bandwidths: the same result
    result, shadows = _analytical(fabric, cores, phases, step_latency_ns, proxy_ns)
    if len(memo) >= MEMO_ENTRIES:
        memo.clear()
    memo[key] = (phases, result, tuple((channel, channel.bw) for channel in shadows))
    return result


MEMO_ENTRIES = 4096  # analytical results kept per fabric (a plan's phases stay alive while memoised)


def _analytical(fabric: Fabric, cores: list[CoreHW], phases: list[Phase], step_latency_ns: int,
                proxy_ns: int, reuse_steps: bool = True) -> tuple[int, dict[Channel, Channel]]:
    """:func:`analytical_ns` without its memo: the duration, and the channels it read (with their shadows).
    ``reuse_steps=False`` solves every step, even one shifted in time from a step solved before (A124)."""
    n = len(cores)
    ready = [0] * n
    shadows: dict[Channel, Channel] = {}

    def shadow(channel: Channel) -> Channel:
        copy = shadows.get(channel)
        if copy is None:
            copy = shadows[channel] = Channel(channel.name, channel.bw)
        return copy

    # phases repeat transfers: each distinct one is routed once
    costed: dict[Transfer, tuple[Any, ...]] = {}
    seen: dict[tuple[int, tuple[int, ...]], tuple[int, list[int]]] | None = {} if reuse_steps else None
    group: Group | None = None  # the large phases' ranks, channels and routes as arrays
    batched: dict[tuple[Any, ...], tuple[int, Any]] | None = {} if reuse_steps else None
    for phase in phases:
        if len(phase.transfers) >= BATCH_MIN:  # costed by its shape, over arrays (A134)
            if group is None:
                group = Group(fabric, cores)
            arrays = phase_arrays(group, phase, step_latency_ns, proxy_ns)
            ready = batch_phase(arrays, np.array(ready, dtype=np.int64), phase.repeat, group.bandwidths(), batched,
                                id(phase.transfers)).tolist()
            continue
        routed = []
        for t in phase.transfers:
            cost = costed.get(t)
            if cost is None:
                path, latency = _path(fabric, cores, t)
                setup = step_latency_ns + (proxy_ns if proxy_ns and crosses_efa(fabric, cores, t) else 0)
                touched = (t.src, t.dst, t.dup) if t.dup >= 0 else (t.src, t.dst)
                cost = costed[t] = (t.src, touched, [(shadow(ch), size) for ch, size in path], latency,
                                    setup, t.size, _cap(cores, t))
            routed.append(cost)
        routed.sort(key=lambda item: item[0])  # by sender: the order among senders ready at once
        rate = _symmetric_rate(routed)
        increments: list[int] | None = None
        for done_steps in range(phase.repeat):
            after = list(ready)
            for item, end in zip(routed, _step_ends(routed, ready, rate, seen, id(phase.transfers)), strict=True):
                for rank in item[1]:
                    if end > after[rank]:
                        after[rank] = end
            step = [a - r for r, a in zip(ready, after, strict=True)]
            ready = after
            if step == increments:  # converged: every later step advances every rank by the same amount
                left = phase.repeat - done_steps - 1
                ready = [r + left * d for r, d in zip(ready, step, strict=True)]
                break
            increments = step
    for channel in group.channels if group is not None else ():
        shadows.setdefault(channel, channel)
    return max(ready, default=0), shadows


_Prepared = tuple[list[list[tuple[Transfer, list[tuple[Channel, int]], int, float]]], list[int], list[bool]]


def _prepare(fabric: Fabric, cores: list[CoreHW], phases: list[Phase]) -> list[_Prepared]:
    """Per phase: each rank's sends as ``(transfer, path, latency, cap)``, the arrivals each rank waits for, and
    whether each rank sends over EFA; cached per plan and group (a plan's phases are immutable, its paths
    static per topology), so a collective repeated with the same shape is not prepared again."""
    key = (id(phases), tuple(map(id, cores)))  # the cached value keeps phases alive: ids are not reused
    hit = fabric.prepared.get(key)
    if hit is not None and hit[0] is phases:
        return hit[1]
    n = len(cores)
    out: list[_Prepared] = []
    for phase in phases:
        sends: list[list[tuple[Transfer, list[tuple[Channel, int]], int, float]]] = [[] for _ in range(n)]
        expected = [0] * n
        efa = [False] * n
        for t in phase.transfers:
            path, latency = _path(fabric, cores, t)
            sends[t.src].append((t, path, latency, _cap(cores, t)))
            if not efa[t.src] and crosses_efa(fabric, cores, t):
                efa[t.src] = True
            expected[t.dst] += 1
            if t.dup >= 0:
                expected[t.dup] += 1
        out.append((sends, expected, efa))
    if len(fabric.prepared) >= MEMO_ENTRIES:
        fabric.prepared.clear()
    fabric.prepared[key] = (phases, out)
    return out


def sends_over_efa(fabric: Fabric, cores: list[CoreHW], phases: list[Phase]) -> bool:
    """Whether any transfer of ``phases`` over ``cores`` leaves its instance over EFA (cached with the plan)."""
    return any(any(efa) for _, _, efa in _prepare(fabric, cores, phases))


class StepRun:
    """One collective at step level: calls ``done(rank, end_ns)`` once per rank when it finishes."""

    def __init__(self, env: Any, fabric: Fabric, cores: list[CoreHW], phases: list[Phase], step_latency_ns: int,
                 done: Callable[[int, int], None], proxies: list[tuple[Any, tuple[int, ...]]] | None = None,
                 proxy_ns: int = 0) -> None:
        self.env = env
        # per rank: (host CPUs, the proxy thread's affinity); an EFA send first runs the proxy for proxy_ns
        self.proxies = proxies
        self.proxy_ns = proxy_ns
        self.fabric = fabric
        self.cores = cores
        self.step_latency_ns = step_latency_ns
        self.done = done
        n = len(cores)
        self.n = n
        # per step: each rank's sends (with their paths), how many arrivals each rank waits for, and which
        # ranks send over EFA; prepared once per plan and group (_prepare)
        prepared = _prepare(fabric, cores, phases)
        self.steps = [prepared[i] for i, phase in enumerate(phases) for _ in range(phase.repeat)]
        self._arrived: list[list[int]] = []  # per step: latest arrival per rank
        self._count: list[list[int]] = []
        self._own: list[list[int]] = []  # per step: own sends' end (-1 while any is in flight, -2 once moved on)
        self._left: list[list[int]] = []  # per step: own sends still in flight
        self._own_end: list[list[int]] = []  # per step: the latest end of own sends so far
        self.network = fabric.systems[0].network
        self.events = 0  # SimPy events: step starts that wait, and one per transfer (its flow's end)

    def start(self, at_ns: int) -> None:
        """Begin every rank's first step at ``at_ns`` (now or later)."""
        now = at_ns
        if not self.steps:
            for rank in range(self.n):
                self.done(rank, now)
            return
        for _ in self.steps:
            self._arrived.append([0] * self.n)
            self._count.append([0] * self.n)
            self._own.append([-1] * self.n)
            self._left.append([0] * self.n)
            self._own_end.append([0] * self.n)
        for rank in range(self.n):
            self._at(now, rank, 0)

    def _at(self, when: int, rank: int, step: int) -> None:
        delay = max(0, when - int(self.env.now))
        if self.proxies is not None and self.proxy_ns and self.steps[step][2][rank]:
            self.events += 1
            self.env.process(self._proxied(delay, rank, step))
            return
        if delay == 0:
            self._run(rank, step)  # already at a flow's end: no event of its own
            return
        self.events += 1
        Timeout(self.env, delay).callbacks.append(lambda _e: self._run(rank, step))

    def _proxied(self, delay: int, rank: int, step: int) -> Any:
        """The rank's network proxy thread drives its EFA sends: it needs a CPU of its affinity first."""
        yield self.env.timeout(delay)
        host, affinity = self.proxies[rank]  # type: ignore[index]
        yield from host.run(affinity, self.proxy_ns)
        self._run(rank, step)

    def _run(self, rank: int, step: int) -> None:
        now = int(self.env.now)
        sends = self.steps[step][0][rank]
        if not sends:
            self._own[step][rank] = now
            self._maybe_next(rank, step)
            return
        self._left[step][rank] = len(sends)
        self._own[step][rank] = -1
        self.events += len(sends)
        start = self.network.start
        setup = self.step_latency_ns
        for t, path, latency, cap in sends:
            start(now, path, setup, latency,
                  lambda flow, t=t, rank=rank, step=step: self._delivered(flow, t, rank, step), size=t.size,
                  cap=cap)

    def _delivered(self, flow: Flow, t: Transfer, rank: int, step: int) -> None:
        end = flow.end_ns
        for target in ((t.dst, t.dup) if t.dup >= 0 else (t.dst,)):
            if end > self._arrived[step][target]:
                self._arrived[step][target] = end
            self._count[step][target] += 1
            self._maybe_next(target, step)
        left = self._left[step][rank] - 1
        self._left[step][rank] = left
        if end > self._own_end[step][rank]:
            self._own_end[step][rank] = end
        if left == 0:
            self._own[step][rank] = self._own_end[step][rank]
            self._maybe_next(rank, step)

    def _maybe_next(self, rank: int, step: int) -> None:
        own = self._own[step][rank]
        if own < 0 or self._count[step][rank] < self.steps[step][1][rank]:
            return
        ready = max(own, self._arrived[step][rank])
        self._own[step][rank] = -2  # moved on: never again
        if step + 1 < len(self.steps):
            self._at(ready, rank, step + 1)
        else:
            self.done(rank, ready)
