"""The fabric a cluster's collectives cross: routes between its devices over NeuronLinks, the UltraServer's
Z rings and EFA (docs/explanation/architecture.md: routing is hardware). The channels a collective transfer
crosses over a route, and its cap, are the collectives' (:mod:`neuronsim.collectives.fabric`).
"""

from __future__ import annotations

from collections import deque
from typing import Any

from neuronsim.hw.channel import Channel
from neuronsim.hw.system import Link, System

__all__ = ["Fabric"]


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
