"""The channels a collective transfer crosses over the fabric (:class:`~neuronsim.hw.fabric.Fabric`'s routes).

A transfer from rank ``a`` to rank ``b`` is a flow (docs/explanation/hardware-model.md) over: the
sender's collective DMA channel, the sender's HBM stack (read), every NeuronLink direction on the route
(shortest path over the instance's link graph and the UltraServer's Z rings, ties broken by neighbour
order; between instances no NeuronLink joins, the EFA devices paired with the two devices), and the
receiver's HBM stack (write; and the duplicated write's stack for KangaRing). A reduce-scatter transfer
accumulates into the receiver's partial sum: it also reads that stack, and it moves at most
``cc.accumulate_rate`` of the sender's collective DMA bandwidth and at most
``cc.accumulate_elements_per_ns`` elements a ns (the flow's *cap*, :func:`_cap`).

Routes and paths are static per topology, so both are cached on the :class:`Fabric` (A124; it lives in
:mod:`neuronsim.hw.fabric` and is importable from here and from :mod:`neuronsim.collectives.engine`); the
engine costs transfers over them.
"""

from __future__ import annotations

from math import inf

from neuronsim.collectives.algorithms import Transfer
from neuronsim.hw.channel import Channel
from neuronsim.hw.fabric import Fabric
from neuronsim.hw.system import CoreHW

__all__ = ["Fabric", "crosses_efa"]


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
