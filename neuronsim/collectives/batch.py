"""The analytical path's large steps over arrays: a phase's transfers, their paths and their costs at once.

``engine._analytical`` costs a step of a few transfers with Python objects (a route per transfer, an
offline :class:`~neuronsim.hw.flows.FlowNetwork` where the step is not symmetric). A step of many transfers
(a Mesh stage: ``n (n - 1)`` of them; a hierarchical level over many groups) is costed here instead, by its
shape: the transfers as integer arrays, each route looked up once per device pair, each path built as rows
of channel indices, and the step's flows solved together by :func:`neuronsim.hw.maxmin.batch_ends` (the same
max-min model and rounding, array operations per instant instead of Python per flow; A134). A symmetric
step whose ranks start together is costed in closed form, as in ``engine._step_ends``; a step of one shape
whose ranks start with the offsets of one solved before reuses its ends, shifted (A124).
"""

from __future__ import annotations

from itertools import chain
from math import inf
from typing import Any

import numpy as np

from neuronsim.collectives.algorithms import Phase
from neuronsim.hw.channel import Channel, _deliver_ns
from neuronsim.hw.maxmin import batch_ends
from neuronsim.hw.system import CoreHW

__all__ = ["BATCH_MIN", "Group", "PhaseArrays", "phase_arrays", "batch_phase"]

BATCH_MIN = 64  # a phase of at least this many transfers is costed over arrays


class PhaseArrays:
    """One phase's transfers over a group, sorted by sender (the order among senders ready at once), as arrays:
    ``src``, ``dst``, ``dup`` (rank indices; ``dup`` -1 for none), ``size`` (bytes, float), ``cap`` (bytes per
    ns, ``inf`` for a copy), ``setup`` and ``latency`` (ns), and the paths: entries ``ptr[i]:ptr[i + 1]`` of
    ``chan`` (indices into ``channels``) and ``load`` (bytes a channel carries per byte sent)."""

    __slots__ = ("src", "dst", "dup", "size", "cap", "setup", "latency", "ptr", "chan", "load", "symmetric",
                 "touched")

    def __init__(self, src: np.ndarray, dst: np.ndarray, dup: np.ndarray, size: np.ndarray, cap: np.ndarray,
                 setup: np.ndarray, latency: np.ndarray, ptr: np.ndarray, chan: np.ndarray, load: np.ndarray) -> None:
        self.src, self.dst, self.dup, self.size, self.cap = src, dst, dup, size, cap
        self.setup, self.latency, self.ptr, self.chan, self.load = setup, latency, ptr, chan, load
        self.symmetric: float | None = None  # the common rate, 0 if not symmetric; None until computed
        # per rank role (sender, receiver, duplicate): (flows in rank order, the ranks, where each one's begin)
        self.touched: list[tuple[np.ndarray, np.ndarray, np.ndarray]] | None = None

    def latest(self, ready: np.ndarray, ends: np.ndarray) -> np.ndarray:
        """``ready`` raised, rank by rank, to the latest end of a transfer it sends, receives or duplicates."""
        if self.touched is None:
            self.touched = []
            for ranks in (self.src, self.dst, self.dup):
                order = np.flatnonzero(ranks >= 0)
                order = order[np.argsort(ranks[order], kind="stable")]
                if order.size:
                    sorted_ranks = ranks[order]
                    begins = np.flatnonzero(np.r_[True, sorted_ranks[1:] != sorted_ranks[:-1]])
                    self.touched.append((order, sorted_ranks[begins], begins))
        after = ready.copy()
        for order, ranks, begins in self.touched:
            after[ranks] = np.maximum(after[ranks], np.maximum.reduceat(ends[order], begins))
        return after


class Group:
    """What a collective's phases over one group of cores share: its channels, numbered as met (``channels``),
    each rank's collective DMA channel, HBM stack and device, the caps of its accumulating writes, and the
    route between two devices as channel indices (looked up once per pair)."""

    __slots__ = ("fabric", "channels", "cc", "hbm", "dev", "ndev", "base", "elems", "slot", "routes", "_table",
                 "_bw")

    def __init__(self, fabric: Any, cores: list[CoreHW]) -> None:
        self.fabric = fabric
        self.channels: dict[Channel, int] = {}
        index = self.index
        self.cc = np.array([index(core.cc_dma) for core in cores], dtype=np.int64)
        self.hbm = np.array([index(core.hbm.channel) for core in cores], dtype=np.int64)
        self.dev = np.array([core.device.global_index for core in cores], dtype=np.int64)
        self.ndev = int(self.dev.max()) + 1 if cores else 1
        # caps (engine._cap): an accumulating write moves at most accumulate_rate x the sender's DMA bandwidth
        self.base = np.array([inf if core.cc_accumulate_rate >= 1 else core.cc_dma.bw * core.cc_accumulate_rate
                              for core in cores])
        self.elems = np.array([inf if core.cc_accumulate_elements_per_ns is None
                               else core.cc_accumulate_elements_per_ns for core in cores])
        self.slot = np.full(self.ndev * self.ndev, -1, dtype=np.int64)  # device pair -> its row in routes
        self.routes: list[tuple[list[int], int, bool]] = []  # (link channels, latency, over EFA) per row
        self._table: tuple[np.ndarray, np.ndarray, np.ndarray] | None = None
        self._bw: np.ndarray | None = None

    def index(self, channel: Channel) -> int:
        i = self.channels.get(channel)
        if i is None:
            i = self.channels[channel] = len(self.channels)
        return i

    def table(self, keys: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
        """For device pairs ``keys`` (``src * ndev + dst``): each one's row, and the rows' link channels (-1
        padded), latencies and EFA flags; each pair's route is looked up once per collective."""
        rows = self.slot[keys]
        if (rows < 0).any():
            missing = np.sort(keys[rows < 0])  # (not np.unique: its first call imports numpy.ma, 30+ ms)
            for key in missing[np.r_[True, missing[1:] != missing[:-1]]].tolist():
                route = self.fabric.route(key // self.ndev, key % self.ndev)
                self.slot[key] = len(self.routes)
                self.routes.append(([self.index(link.channel) for link in route],
                                    sum(link.latency_ns for link in route), bool(route) and route[0].efa))
            self._table = None
            rows = self.slot[keys]
        if self._table is None:
            hops = max(1, max(len(r[0]) for r in self.routes))
            links = np.full((len(self.routes), hops), -1, dtype=np.int64)
            for i, route in enumerate(self.routes):
                if route[0]:
                    links[i, :len(route[0])] = route[0]
            self._table = (links, np.array([r[1] for r in self.routes], dtype=np.int64),
                           np.array([r[2] for r in self.routes], dtype=bool))
        return (rows, *self._table)

    def bandwidths(self) -> np.ndarray:
        """Every channel's bandwidth now, by index (read once per collective: nothing changes them meanwhile)."""
        if self._bw is None or len(self._bw) != len(self.channels):
            self._bw = np.array([channel.bw for channel in self.channels])
        return self._bw


def phase_arrays(group: Group, phase: Phase, step_latency_ns: int, proxy_ns: int) -> PhaseArrays:
    """``phase`` over ``group`` as :class:`PhaseArrays` (channels numbered in ``group.channels``).

    The same paths as ``engine._shape``: the sender's collective DMA channel and HBM stack (read), every
    NeuronLink or EFA direction of the route, the receiver's stack (write; read too for an accumulating
    write) and the duplicated write's stack, a channel met twice carrying the bytes twice."""
    transfers = phase.transfers  # named tuples (src, dst, size, dup, reduce)
    t = np.fromiter(chain.from_iterable(transfers), dtype=np.int64, count=5 * len(transfers)).reshape(-1, 5)
    t = t[np.argsort(t[:, 0], kind="stable")]
    src, dst, size, dup, red = t[:, 0], t[:, 1], t[:, 2], t[:, 3], t[:, 4]
    cc, hbm, dev = group.cc, group.hbm, group.dev
    reducing = red > 0
    cap = np.full(len(src), inf)
    if reducing.any():
        s = src[reducing]
        cap[reducing] = np.minimum(group.base[s], group.elems[s] * red[reducing])
    # routes: once per device pair
    pair, links, latency_p, efa_p = group.table(dev[src] * group.ndev + dev[dst])
    # paths as rows: cc, stack read, links..., stack write, duplicated write (-1: absent)
    n = len(src)
    hs, hd = hbm[src], hbm[dst]
    has_dup = dup >= 0
    hdup = np.where(has_dup, hbm[np.where(has_dup, dup, 0)], -1)
    write = np.where(reducing, 2, 1)
    same_d = hd == hs
    dup_s = has_dup & (hdup == hs)
    dup_d = has_dup & ~dup_s & (hdup == hd)
    width = 4 + links.shape[1]
    rows = np.full((n, width), -1, dtype=np.int64)
    loads = np.zeros((n, width))
    rows[:, 0], loads[:, 0] = cc[src], 1.0
    rows[:, 1], loads[:, 1] = hs, 1 + np.where(same_d, write, 0) + dup_s
    rows[:, 2:2 + links.shape[1]] = links[pair]
    loads[:, 2:2 + links.shape[1]] = 1.0
    rows[:, -2] = np.where(same_d, -1, hd)
    loads[:, -2] = write + dup_d
    rows[:, -1] = np.where(has_dup & ~dup_s & ~dup_d, hdup, -1)
    loads[:, -1] = 1.0
    present = rows >= 0
    ptr = np.zeros(n + 1, dtype=np.int64)
    np.cumsum(present.sum(axis=1), out=ptr[1:])
    setup = np.full(n, step_latency_ns, dtype=np.int64)
    if proxy_ns:
        setup += np.where(efa_p[pair], proxy_ns, 0)
    return PhaseArrays(src, dst, dup, size.astype(np.float64), cap, setup, latency_p[pair], ptr, rows[present],
                       loads[present])


def _symmetric_rate(p: PhaseArrays, bw: np.ndarray) -> float:
    """``engine._symmetric_rate`` over arrays: the rate every flow gets when they all start together, if max-min
    gives them one rate; 0 if not symmetric."""
    size = p.size[0]
    if size <= 0 or (p.size != size).any() or (p.setup != p.setup[0]).any():
        return 0.0
    cap = p.cap[0]
    if cap == inf:
        if (p.cap != inf).any():
            return 0.0
    elif (p.cap != cap).any():
        return 0.0
    demand = np.bincount(p.chan, weights=p.load, minlength=len(bw))
    used = np.flatnonzero(demand)
    fill = np.full(len(bw), inf)
    fill[used] = bw[used] / demand[used]
    rate = float(fill[used].min())
    if cap < rate * (1 + 1e-9):
        return float(cap)
    tight = fill[p.chan] <= rate * (1 + 1e-9)
    if np.bincount(np.repeat(np.arange(len(p.size)), np.diff(p.ptr)), weights=tight,
                   minlength=len(p.size)).min() == 0:
        return 0.0
    return rate


def batch_phase(p: PhaseArrays, ready: np.ndarray, repeat: int, bw: np.ndarray,
                seen: dict[tuple[Any, ...], tuple[int, np.ndarray]] | None, shape: int) -> np.ndarray:
    """Every rank's ready time after ``repeat`` steps of phase ``p`` (``engine._analytical``'s loop, over arrays):
    a rank starts a step when its previous step's sends and every transfer into it are done."""
    if p.symmetric is None:
        p.symmetric = _symmetric_rate(p, bw)
    rate = p.symmetric
    increments: np.ndarray | None = None
    for done_steps in range(repeat):
        starts = ready[p.src]
        ends = _ends(p, starts, rate, bw, seen, shape)
        after = p.latest(ready, ends)
        step = after - ready
        ready = after
        if increments is not None and np.array_equal(step, increments):
            ready = ready + (repeat - done_steps - 1) * step  # converged: every later step the same
            break
        increments = step
    return ready


def _ends(p: PhaseArrays, starts: np.ndarray, rate: float, bw: np.ndarray,
          seen: dict[tuple[Any, ...], tuple[int, np.ndarray]] | None, shape: int) -> np.ndarray:
    first = int(starts.min())
    if rate and first == int(starts.max()):  # symmetric and in lockstep: closed form
        deliver = _deliver_ns(float(first + int(p.setup[0])), float(p.size[0]) / rate)
        return deliver + p.latency
    key = None
    if seen is not None:
        key = (shape, (starts - first).tobytes())
        hit = seen.get(key)
        if hit is not None:
            return hit[1] + (first - hit[0])
    order = np.argsort(starts, kind="stable")  # the flow network's start order
    counts = np.diff(p.ptr)[order]
    ptr = np.zeros(len(order) + 1, dtype=np.int64)
    np.cumsum(counts, out=ptr[1:])
    lengths = counts
    pos = np.repeat(np.arange(len(order)), lengths)
    entries = np.arange(int(ptr[-1])) - ptr[:-1][pos] + p.ptr[:-1][order][pos]
    s = starts[order]
    solved = batch_ends(s, s + p.setup[order], p.size[order], p.cap[order], p.latency[order], ptr,
                        p.chan[entries], p.load[entries], bw)
    ends = np.empty_like(solved)
    ends[order] = solved
    if key is not None and seen is not None:
        seen[key] = (first, ends)
    return ends
