"""The collective fabric: routes between the devices of a cluster and the channels a transfer crosses.

A transfer from rank ``a`` to rank ``b`` is a flow (docs/explanation/hardware-model.md) over: the
sender's collective DMA channel, the sender's HBM stack (read), every NeuronLink direction on the route
(shortest path over the instance's link graph and the UltraServer's Z rings, ties broken by neighbour
order; between instances no NeuronLink joins, the EFA devices paired with the two devices), and the
receiver's HBM stack (write; and the duplicated write's stack for KangaRing). A reduce-scatter transfer
accumulates into the receiver's partial sum: it also reads that stack, and it moves at most
``cc.accumulate_rate`` of the sender's collective DMA bandwidth and at most
``cc.accumulate_elements_per_ns`` elements a ns (the flow's *cap*, :func:`_cap`).

Routes and paths are static per topology, so both are cached on the :class:`Fabric` (A124); the
engine (:mod:`neuronsim.collectives.engine`) costs transfers over them.
"""

from __future__ import annotations

from collections import deque
from math import inf
from typing import Any

from neuronsim.collectives.algorithms import Transfer
from neuronsim.hw.channel import Channel
from neuronsim.hw.system import CoreHW, Link, System

__all__ = ["Fabric", "crosses_efa"]


class Fabric:
    """Routes between the devices of a cluster (global device ids: ``instance * devices + index``).

    Over NeuronLinks (each instance's, and the UltraServer's Z rings) the route is a shortest path, ties
    broken by neighbour order. Between instances that no NeuronLink joins, a transfer leaves through the
    EFA device paired with its device (the ``tx`` channel, plus the EFA latency) and enters through the
    receiving device's (``rx``).
    """

    def __init__(self, systems: System | list[System], z_links: dict[tuple[int, int], Link] | None = None,
                 efa_latency_ns: int = 0) -> None:
        systems = systems if isinstance(systems, list) else [systems]
        self.systems = systems
        self.per_instance = len(systems[0].devices)
        self.efa_latency_ns = efa_latency_ns
        self.links: dict[tuple[int, int], Link] = dict(z_links or {})
        n = self.per_instance
        for system in systems:
            base = system.instance * n
            for (a, b), link in system.links.items():
                self.links[(base + a, base + b)] = link
        neighbours: dict[int, list[int]] = {g: [] for g in range(n * len(systems))}
        for system in systems:
            base = system.instance * n
            for dev in system.topology.spec.devices:
                neighbours[base + dev.index] += [base + p for p in dev.connected]
        for a, b in sorted(z_links or {}):
            neighbours[a].append(b)
        self._routes: dict[tuple[int, int], list[Link]] = {}
        self._next: dict[int, dict[int, int]] = {}
        # ids of (src core, dst core, dup core or None) -> (channel, bytes per byte sent) in path order, latency
        self._paths: dict[tuple[int, int, int, bool], tuple[tuple[tuple[Channel, int], ...], int]] = {}
        # analytical results: (id(phases), cores, step, proxy) -> (phases, result, ((channel, bandwidth), ...))
        self.memo: dict[tuple[Any, ...], tuple[Any, int, tuple[tuple[Channel, float], ...]]] = {}
        self.prepared: dict[tuple[Any, ...], tuple[Any, Any]] = {}  # StepRun's per-phase sends (_prepare)
        for src in neighbours:
            parent = {src: src}
            queue = deque([src])
            while queue:
                here = queue.popleft()
                for peer in neighbours[here]:
                    if peer not in parent:
                        parent[peer] = here
                        queue.append(peer)
            self._next[src] = parent

    def _efa_route(self, src: int, dst: int) -> list[Link]:
        n = self.per_instance
        a_sys, b_sys = self.systems[src // n], self.systems[dst // n]
        a_dev, b_dev = a_sys.devices[src % n], b_sys.devices[dst % n]
        if a_dev.efa < 0 or b_dev.efa < 0:
            raise ValueError(f"no route from device {src} to device {dst}: no NeuronLink and no EFA device")
        tx, rx = a_sys.efa[a_dev.efa].tx, b_sys.efa[b_dev.efa].rx
        return [Link(src, dst, tx, self.efa_latency_ns, efa=True), Link(src, dst, rx, 0, efa=True)]

    def route(self, src: int, dst: int) -> list[Link]:
        """The hops from global device ``src`` to global device ``dst`` (empty on one device)."""
        key = (src, dst)
        found = self._routes.get(key)
        if found is None:
            if src == dst:
                found = []
            elif dst not in self._next[src]:
                found = self._efa_route(src, dst)
            else:
                parent = self._next[src]
                hops = []
                here = dst
                while here != src:
                    hops.append((parent[here], here))
                    here = parent[here]
                found = [self.links[hop] for hop in reversed(hops)]
            self._routes[key] = found
        return found


def crosses_efa(fabric: Fabric, cores: list[CoreHW], t: Transfer) -> bool:
    route = fabric.route(cores[t.src].device.global_index, cores[t.dst].device.global_index)
    return bool(route) and route[0].efa


def _cap(cores: list[CoreHW], t: Transfer) -> float:
    """The most bytes per ns transfer ``t`` moves: unbounded for a copy; for an accumulating write
    (``t.reduce``, its element size) the slower of ``cc.accumulate_rate`` x the sender's collective DMA
    bandwidth and ``cc.accumulate_elements_per_ns`` x its element size."""
    if not t.reduce:
        return inf
    core = cores[t.src]
    rate = inf if core.cc_accumulate_rate >= 1 else core.cc_dma.bw * core.cc_accumulate_rate
    if core.cc_accumulate_elements_per_ns is not None:
        rate = min(rate, core.cc_accumulate_elements_per_ns * t.reduce)
    return rate


def _shape(fabric: Fabric, src: CoreHW, dst: CoreHW, dup: CoreHW | None, reduce: bool = False
           ) -> tuple[tuple[tuple[Channel, int], ...], int]:
    """The channels a transfer from ``src`` to ``dst`` (and ``dup``'s duplicated write) crosses, each with the
    bytes it carries per byte sent, in path order, and the route's latency; cached per core triple (routes
    and channels are static per topology). An accumulating write (``reduce``) also reads the destination's
    partial sum (2R1W): its destination stack carries its bytes twice."""
    key = (id(src), id(dst), id(dup), reduce)  # cores live as long as the fabric
    found = fabric._paths.get(key)  # noqa: SLF001
    if found is None:
        loads: dict[Channel, int] = {src.cc_dma: 1}
        loads[src.hbm.channel] = loads.get(src.hbm.channel, 0) + 1
        latency = 0
        for link in fabric.route(src.device.global_index, dst.device.global_index):
            loads[link.channel] = loads.get(link.channel, 0) + 1
            latency += link.latency_ns
        loads[dst.hbm.channel] = loads.get(dst.hbm.channel, 0) + (2 if reduce else 1)
        if dup is not None:
            loads[dup.hbm.channel] = loads.get(dup.hbm.channel, 0) + 1
        found = fabric._paths[key] = (tuple(loads.items()), latency)  # noqa: SLF001
    return found


def _path(fabric: Fabric, cores: list[CoreHW], t: Transfer) -> tuple[list[tuple[Channel, int]], int]:
    """``[(channel, bytes)]`` of transfer ``t`` over ``cores`` in path order, and its route latency."""
    shape, latency = _shape(fabric, cores[t.src], cores[t.dst], cores[t.dup] if t.dup >= 0 else None,
                            bool(t.reduce))
    size = t.size
    return [(channel, k * size) for channel, k in shape], latency
