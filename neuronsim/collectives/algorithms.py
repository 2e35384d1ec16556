"""Collective algorithms as phases of point-to-point transfers between ranks.

An algorithm turns ``(operation, ranks, size)`` into :class:`Phase` s: a transfer pattern (which rank
sends how many bytes to which) repeated some number of steps. The step-level engine runs every step;
the analytical path costs one step of each phase and multiplies. Sizes follow nccom-test: ``size`` is
the all-reduce buffer, the all-gather *output*, the reduce-scatter *input*, the all-to-all buffer.

* **Ring** (fallback): ranks in ring order (devices in snake order over the torus, cores in order);
  all-reduce = reduce-scatter + all-gather, ``n - 1`` steps each of ``size / n``.
* **Mesh** (small messages): every rank writes directly to every other rank in one step per stage.
* **RDH**: recursive halving (reduce-scatter) and doubling (all-gather) with partner ``i XOR 2^k``;
  the torus seen as a hypercube; needs a power-of-two rank count.
* **Hierarchical** (groups spanning instances): a level inside each instance and one among the
  same-position ranks across instances (over EFA or the UltraServer's Z rings), each with the
  algorithm its own bytes per rank select (``plan_hierarchical``).
* **KangaRing** (LNC=2, every rank of each chip in the group; all-reduce, all-gather, reduce-scatter):
  a ring over the primary ranks (two per chip), so half the steps of Ring, each carrying twice the
  bytes; the destination's secondary gets its copy by DMA write duplication (an extra HBM write, no
  extra read or link traffic).

Selection (reference/hardware.md §8.2, docs/assumptions.md A20): Mesh below 16 KiB per rank, RDH below
0.875 MiB per rank (the figure's 1 MB and 56 MB boundaries at 64 ranks, scaled by rank count), then
KangaRing where it applies, else Ring; RDH only for power-of-two groups; all-to-all and permute write
directly (Mesh).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import NamedTuple

__all__ = ["Phase", "Transfer", "ALGORITHMS", "OPERATIONS", "plan", "select_algorithm", "ring_order"]

ALGORITHMS = ("ring", "mesh", "rdh", "kangaring", "hier")
OPERATIONS = ("allreduce", "allgather", "reducescatter", "alltoall", "permute", "allgatherv", "alltoallv")
MESH_BYTES_PER_RANK = (1 << 20) // 64  # 1 MiB at 64 ranks
RDH_BYTES_PER_RANK = (56 << 20) // 64  # 56 MiB at 64 ranks


class Transfer(NamedTuple):
    """``src`` sends ``size`` bytes to ``dst`` (rank indices); ``dup`` is a duplicated write target;
    ``reduce``: 0 for a copy, else the element size (bytes) of a write that accumulates into what ``dst``
    holds (a reduce-scatter step): it runs at the chip's accumulate rate (``cc.accumulate_rate``, and at
    most ``cc.accumulate_elements_per_ns`` elements a ns) and reads the destination's partial sum too.

    A named tuple, not a frozen dataclass: a Mesh stage holds ``n (n - 1)`` of them (16,128 at 256 ranks),
    a tuple is built several times faster, and the analytical path reads a phase as one integer array
    (``neuronsim.collectives.batch``)."""

    src: int
    dst: int
    size: int
    dup: int = -1
    reduce: int = 0


@dataclass(frozen=True)
class Phase:
    name: str
    transfers: tuple[Transfer, ...]
    repeat: int


def ring_order(locations: list[tuple[int, int]], side: int | None = None) -> list[int]:
    """Rank indices in ring order: instance by instance, devices in snake (boustrophedon) order over a
    ``side`` x ``side`` torus so consecutive devices are neighbours, cores of a device consecutive.
    ``locations`` hold (global device id, core index within the device)."""
    def key(i: int) -> tuple[int, int, int, int]:
        device, core = locations[i]
        if side:
            instance, local = divmod(device, side * side)
            row, col = divmod(local, side)
            col = col if row % 2 == 0 else side - 1 - col
            return (instance, row, col, core)
        return (0, device, 0, core)

    return sorted(range(len(locations)), key=key)


def _pairs(order: list[int], size: int, reduce: int = 0) -> tuple[Transfer, ...]:
    n = len(order)
    return tuple(Transfer(order[i], order[(i + 1) % n], size, reduce=reduce) for i in range(n))


def select_algorithm(operation: str, n: int, size: int, kangaring_ok: bool, instances: int = 1) -> str:
    """The algorithm the runtime picks (see the module docstring)."""
    if n <= 1:
        return "ring"
    if instances > 1 and operation in ("allreduce", "allgather", "reducescatter"):
        return "hier"
    per_rank = size / n
    if operation in ("alltoall", "permute", "allgatherv", "alltoallv"):
        return "mesh"
    if per_rank < MESH_BYTES_PER_RANK:
        return "mesh"
    if per_rank < RDH_BYTES_PER_RANK and n & (n - 1) == 0:
        return "rdh"
    return "kangaring" if kangaring_ok else "ring"


def _on(phases: list[Phase], members: list[int]) -> list[Phase]:
    """``phases`` planned over a subgroup (local rank indices), on the ranks ``members`` names."""
    return [Phase(p.name, tuple(Transfer(members[t.src], members[t.dst], t.size, members[t.dup] if t.dup >= 0 else -1,
                                         t.reduce) for t in p.transfers), p.repeat) for p in phases]


def _side_by_side(plans: list[list[Phase]], level: str) -> list[Phase]:
    """Subgroups running one algorithm at once: their k-th phases merge (they have one shape)."""
    return [Phase(f"hier {level} {parts[0].name}", tuple(t for part in parts for t in part.transfers), parts[0].repeat)
            for parts in zip(*plans, strict=True)]


def plan_hierarchical(operation: str, locations: list[tuple[int, int]], size: int, side: int | None,
                      instance_of: list[int], primaries: list[int] | None = None,
                      kangaring_ok: bool = False, element_bytes: int = 4) -> list[Phase] | None:
    """Hierarchical schemes across instances (internode-collective-comm.rst): all-reduce = intra-instance
    reduce-scatter, inter-instance all-reduce among same-position ranks, intra-instance all-gather;
    all-gather = inter then intra; reduce-scatter = intra then inter. Each level picks its own algorithm
    by its bytes per rank, as one instance does ("intra Mesh + inter Mesh for small messages, intra
    KangaRing + inter RDH for large"; A20); KangaRing only inside an instance. None when the instances
    hold different numbers of ranks."""
    groups: dict[int, list[int]] = {}
    for rank, instance in enumerate(instance_of):
        groups.setdefault(instance, []).append(rank)
    members = [groups[i] for i in sorted(groups)]
    m, k = len(members[0]), len(members)
    if any(len(g) != m for g in members) or operation not in ("allreduce", "allgather", "reducescatter"):
        return None
    primary = set(primaries or ())
    # same-position ranks across instances (position in each instance's ring order)
    intra_orders = [[g[i] for i in ring_order([locations[r] for r in g], side)] for g in members]
    inter_groups = [[intra_orders[i][j] for i in range(k)] for j in range(m)]

    def level(op: str, groups_: list[list[int]], nbytes: int, name: str, intra: bool) -> list[Phase]:
        n = len(groups_[0])
        if n < 2:
            return []
        algorithm = select_algorithm(op, n, nbytes, kangaring_ok and intra)
        plans = [_on(plan(op, algorithm, [locations[r] for r in g], nbytes, side,
                          [i for i, r in enumerate(g) if r in primary] if intra else None,
                          element_bytes=element_bytes), g) for g in groups_]
        return _side_by_side(plans, name)

    share = max(1, size // m)  # what each rank holds after the intra-instance reduce-scatter
    if operation == "allreduce":
        return (level("reducescatter", members, size, "intra", True) + level("allreduce", inter_groups, share, "inter", False)
                + level("allgather", members, size, "intra", True))
    if operation == "allgather":
        return level("allgather", inter_groups, share, "inter", False) + level("allgather", members, size, "intra", True)
    return level("reducescatter", members, size, "intra", True) + level("reducescatter", inter_groups, share, "inter", False)


def plan(operation: str, algorithm: str, locations: list[tuple[int, int]], size: int,
         side: int | None = None, primaries: list[int] | None = None,
         instance_of: list[int] | None = None, kangaring_ok: bool = False,
         matrix: list[list[int]] | None = None, element_bytes: int = 4) -> list[Phase]:
    """The phases of ``operation`` by ``algorithm`` over ranks at ``locations`` ((device, core) each).
    A reduce-scatter step's transfers accumulate ``element_bytes``-byte elements (``Transfer.reduce``).

    ``matrix`` (bytes ``[src][dst]``): the variable-size operations and a permute over named pairs write
    every block directly, in one step."""
    n = len(locations)
    if operation not in OPERATIONS:
        raise ValueError(f"unknown collective {operation!r}")
    if n == 1:
        return []
    if matrix is not None:
        direct = tuple(Transfer(i, j, b) for i, row in enumerate(matrix) for j, b in enumerate(row) if b and i != j)
        return [Phase(f"mesh {operation}", direct, 1)] if direct else []
    chunk = max(1, size // n)
    if operation == "permute":
        return [Phase("permute", tuple(Transfer(i, (i + 1) % n, size) for i in range(n)), 1)]
    if algorithm == "hier":
        hierarchical = plan_hierarchical(operation, locations, size, side, instance_of or [0] * n, primaries,
                                         kangaring_ok, element_bytes)
        if hierarchical is not None:
            return hierarchical
        algorithm = "ring"
    if algorithm == "mesh" or operation == "alltoall":
        stages = {"allreduce": ["reduce-scatter", "all-gather"], "allgather": ["all-gather"],
                  "reducescatter": ["reduce-scatter"], "alltoall": ["all-to-all"]}[operation]
        return [Phase(f"mesh {stage}", tuple(Transfer(i, j, chunk, reduce=element_bytes if stage == "reduce-scatter" else 0)
                                            for i in range(n) for j in range(n) if i != j), 1) for stage in stages]
    if algorithm == "rdh":
        if n & (n - 1):
            raise ValueError(f"RDH needs a power-of-two rank count, not {n}")
        steps = n.bit_length() - 1
        halving = [Phase(f"rdh halving {k}", tuple(Transfer(i, i ^ (1 << k), max(1, size >> (k + 1)),
                                                           reduce=element_bytes) for i in range(n)), 1) for k in range(steps)]
        doubling = [Phase(f"rdh doubling {k}", tuple(Transfer(i, i ^ (1 << k), chunk << k) for i in range(n)), 1)
                    for k in reversed(range(steps))]
        return {"allreduce": halving + doubling, "reducescatter": halving, "allgather": doubling}[operation]
    order = ring_order(locations, side)
    if algorithm == "kangaring" and primaries and len(primaries) >= 2:
        prim = [i for i in order if i in set(primaries)]
        secondary = {p: s for p, s in zip(prim, [i for i in order if i not in set(primaries)], strict=False)}
        big = max(1, 2 * size // n)
        steps = len(prim) - 1
        scatter, gather = (Phase(f"kangaring {name}", tuple(
            Transfer(prim[i], prim[(i + 1) % len(prim)], big, secondary.get(prim[(i + 1) % len(prim)], -1), reduce)
            for i in range(len(prim))), steps) for name, reduce in (("reduce-scatter", element_bytes), ("all-gather", 0)))
        return {"allreduce": [scatter, gather], "reducescatter": [scatter], "allgather": [gather]}[operation]
    ring, reducing = _pairs(order, chunk), _pairs(order, chunk, reduce=element_bytes)
    if operation == "allreduce":
        return [Phase("ring reduce-scatter", reducing, n - 1), Phase("ring all-gather", ring, n - 1)]
    return [Phase(f"ring {operation}", reducing if operation == "reducescatter" else ring, n - 1)]
