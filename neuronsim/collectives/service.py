"""Collectives in the runtime: the world of global device ids, communicators, contexts, and the
rendezvous that starts a collective once every rank's request has reached the head of its queue.

``nrt_cc_global_comm_init(vnc, g_device_id, g_device_count)`` names a process's logical core as global
rank ``g_device_id`` of a world of ``g_device_count``. A communicator (``nrt.nrt_cc_comm_t``) lists the
group's global ids in rank order. ``nrta_cc_prepare`` checks a rank's tensors and returns a context;
``nrta_cc_schedule`` puts a request on one of the rank's Collectives queues. The k-th collective a rank
schedules on a group meets the k-th of every other rank of the group: when the last of them starts, the
collective starts (after ``runtime.collective_launch_ns``), inputs are read, the algorithm runs over the
fabric, and each rank's request completes when its part ends, with its outputs written.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from simpy.events import Timeout

from neuronsim.collectives.algorithms import Phase, plan, select_algorithm
from neuronsim.collectives.data import VARIABLE, ELEMENT, collective_outputs, counts_agree, transfer_matrix
from neuronsim.collectives.engine import Fabric, StepRun, analytical_ns
from neuronsim.nrt import NRT_STATUS, nrt_cc_op_type_t

if TYPE_CHECKING:
    from neuronsim.simulator import Simulator

__all__ = ["CollectiveService", "CCContext", "CollectiveRecord", "OPERATION_NAMES"]

OPERATION_NAMES = {nrt_cc_op_type_t.NRT_CC_ALLREDUCE: "allreduce", nrt_cc_op_type_t.NRT_CC_ALLGATHER: "allgather",
                   nrt_cc_op_type_t.NRT_CC_REDUCESCATTER: "reducescatter",
                   nrt_cc_op_type_t.NRT_CC_ALLTOALL: "alltoall", nrt_cc_op_type_t.NRT_CC_PERMUTE: "permute",
                   nrt_cc_op_type_t.NRT_CC_ALLGATHERV: "allgatherv", nrt_cc_op_type_t.NRT_CC_ALLTOALLV: "alltoallv"}


@dataclass
class CCContext:
    """``nrt_cc_context_t``: one rank's prepared collective."""

    group: tuple[int, ...]
    rank: int
    vnc: int
    inputs: list[Any]
    outputs: list[Any]
    dtype: int
    op: int
    operation: str
    size: int
    owner: Any
    algorithm: str | None = None
    used: bool = False
    on_done: Any = None  # called (request, end_ns) instead of ending the request (collectives inside a NEFF)
    counts: Any = None  # VariableCounts of a variable-size operation
    pairs: tuple[tuple[int, int], ...] | None = None  # a permute's (source, target) ranks; None: r -> r + 1
    tag: Any = None  # the caller's label, copied to the CollectiveRecord (nccom-test's streams)


@dataclass
class CollectiveRecord:
    """What a collective did: for nccom-test and reports."""

    operation: str
    algorithm: str
    ranks: int
    size: int
    arrived_ns: int
    start_ns: int
    ends_ns: list[int] = field(default_factory=list)
    group: tuple[int, ...] = ()  # the ranks' global device ids, in rank order
    tag: Any = None  # the first rank's CCContext.tag

    @property
    def duration_ns(self) -> int:
        return max(self.ends_ns) - self.arrived_ns


_UNKNOWN = 1 << 62  # a collective's end on a core, until its algorithm has computed it


class _Rendezvous:
    def __init__(self, n: int) -> None:
        self.n = n
        self.requests: dict[int, Any] = {}
        self.arrived_ns = 0
        self.cells: list[list[int]] = []  # per rank: [its end], the CC-core it holds frees then

    def ranked(self) -> list[Any]:
        """Every rank's request, in rank order."""
        return [self.requests[r] for r in range(self.n)]


class CollectiveService:
    """The simulator's collective machinery (one per Simulator)."""

    def __init__(self, sim: Simulator) -> None:
        self.sim = sim
        efa = sim.topology.spec.efa
        self.fabric = Fabric(sim.systems, sim.z_links, efa.latency_ns if efa is not None else 0)
        self.world: dict[int, tuple[Any, int]] = {}  # global device id -> (runtime, vnc)
        self.world_size = 0
        self.algorithm: str | None = None  # a run-wide override
        self.fidelity = "step"
        self.launch_ns = sim.topology.spec.runtime.collective_launch_ns  # overridable (a software era)
        self.records: list[CollectiveRecord] = []
        self.neff_ranks: dict[tuple[int, int, int], Any] = {}  # (NEFF, copies, rank) -> model
        self._counters: dict[tuple[tuple[int, ...], int], int] = {}
        self._pending: dict[tuple[tuple[int, ...], int], _Rendezvous] = {}
        # CC-cores: a logical core runs at most cc_cores / logical cores per chip collectives at once
        # (hardware.md §7: "up to 4 concurrent CC streams" at LNC=2, 2 at LNC=1; A28)
        topo = sim.topology
        self.cc_core_limit = True  # False: what-if without the limit
        self.cc_cores_per_core = max(1, topo.spec.chip.cc_cores // topo.logical_cores_per_device)
        # id(CoreHW) -> a cell per collective holding one of its CC-cores: [its end on that core], _UNKNOWN
        # until known; a CC-core frees at that end without an event of its own: an event is scheduled only
        # when a collective waits
        self.cc_running: dict[int, list[list[int]]] = {}
        self._admission: list[_Rendezvous] = []  # met, waiting for a CC-core on some rank, in order

    def register(self, rt: Any, vnc: int, g_device_id: int, g_device_count: int) -> NRT_STATUS:
        if g_device_count < 1 or not 0 <= g_device_id < g_device_count:
            return NRT_STATUS.NRT_INVALID
        if self.world_size and g_device_count != self.world_size:
            return NRT_STATUS.NRT_INVALID
        current = self.world.get(g_device_id)
        if current is not None and current != (rt, vnc):
            return NRT_STATUS.NRT_INVALID
        self.world_size = g_device_count
        self.world[g_device_id] = (rt, vnc)
        return NRT_STATUS.NRT_SUCCESS

    def group_of(self, replica_group: Any) -> tuple[int, ...]:
        if replica_group is None:
            return tuple(range(self.world_size))
        return tuple(int(g) for g in replica_group)

    def arrive(self, request: Any, now: int) -> None:
        ctx: CCContext = request.ctx
        own = ctx.group[ctx.rank]
        key = (ctx.group, own)
        k = self._counters.get(key, 0)
        self._counters[key] = k + 1
        meeting = self._pending.setdefault((ctx.group, k), _Rendezvous(len(ctx.group)))
        meeting.requests[ctx.rank] = request
        if len(meeting.requests) == meeting.n:
            del self._pending[(ctx.group, k)]
            meeting.arrived_ns = now
            if self._mismatched(meeting, now):
                return
            self._admission.append(meeting)
            self._admit(now)

    def _running(self, core: Any, now: int) -> list[list[int]]:
        """The cells of the collectives holding a CC-core of ``core`` at ``now``."""
        cells = [cell for cell in self.cc_running.get(id(core), ()) if cell[0] > now]
        self.cc_running[id(core)] = cells
        return cells

    def _admit(self, now: int) -> None:
        """Start, in order, every met collective that finds a free CC-core on each of its ranks' cores; all
        of a collective's CC-cores are taken at once, so no collective holds one while waiting for another.
        One that waits is looked at again when a CC-core it needs frees (at the earliest known end)."""
        waiting = []
        for meeting in self._admission:
            requests = meeting.ranked()
            if self.cc_core_limit:
                full = [cells for cells in (self._running(req.core, now) for req in requests)
                        if len(cells) >= self.cc_cores_per_core]
                if full:
                    waiting.append(meeting)
                    ends = [cell[0] for cells in full for cell in cells if cell[0] != _UNKNOWN]
                    if ends:
                        self._wake(min(ends), now)
                    continue
            meeting.cells = [[_UNKNOWN] for _ in requests]
            for req, cell in zip(requests, meeting.cells, strict=True):
                self.cc_running.setdefault(id(req.core), []).append(cell)
            self._start(meeting, now)
        self._admission = waiting

    def _wake(self, at: int, now: int) -> None:
        Timeout(self.sim.env, at - now).callbacks.append(lambda _e: self._admit(int(self.sim.env.now)))

    def plan_for(self, cores: list[Any], operation: str, size: int, requested: str | None = None,
                 matrix: list[list[int]] | None = None) -> tuple[str, list[Phase]]:
        """The algorithm a collective of ``operation`` over ``cores`` (in rank order) runs, and its phases.

        ``requested`` (per call), else the run-wide ``algorithm``, else the runtime's selection; RDH falls
        back to Ring off a power of two, KangaRing where some chip is not whole (hardware.md §8.2).
        All-to-all, permute and the variable-size operations always write directly and are labelled
        ``mesh``; ``matrix`` gives their bytes per (source, destination) where they are not uniform."""
        topo = self.sim.topology
        n = len(cores)
        devices = {c.device.global_index for c in cores}
        whole_chips = all(sum(1 for c in cores if c.device.global_index == d) == topo.logical_cores_per_device
                          for d in devices)
        kangaring_ok = topo.lnc == 2 and whole_chips
        instance_of = [c.device.instance for c in cores]
        instances = len(set(instance_of))
        algorithm = requested or self.algorithm or select_algorithm(operation, n, size, kangaring_ok, instances)
        if operation in ("alltoall", "permute") or matrix is not None:
            algorithm = "mesh"
        if algorithm == "kangaring" and not kangaring_ok:
            algorithm = "ring"  # KangaRing needs every rank of each chip (hardware.md §8.2)
        if algorithm == "rdh" and n & (n - 1):
            algorithm = "ring"
        locations = [(c.device.global_index, c.local_index) for c in cores]
        side = round(topo.num_devices ** 0.5) if topo.spec.neuronlink and topo.spec.neuronlink.topology == "torus-2d" \
            else None
        primaries = [i for i, c in enumerate(cores) if c.local_index % 2 == 0]
        phases = plan(operation, algorithm, locations, size, side, primaries, instance_of, kangaring_ok, matrix)
        if algorithm == "hier" and not any(p.name.startswith("hier") for p in phases) and phases:
            algorithm = "ring"
        return algorithm, phases

    def _network_fault(self, requests: list[Any], cores: list[Any], phases: list[Phase],
                       start: int) -> Callable[[Any, int], int] | None:
        """Apply a link or EFA fault of the plan to a collective whose transfers cross it: decided once, at
        its first rank's end, then applied to every rank (a status at the normal end, a hang ending in
        NRT_TIMEOUT after NEURON_RT_EXEC_TIMEOUT, a slowdown)."""
        injector = self.sim.fault_injector
        watched = injector.network_channels if injector is not None else set()
        if not watched:
            return None
        crossed = {link.channel for phase in phases for t in phase.transfers
                   for link in self.fabric.route(cores[t.src].device.global_index, cores[t.dst].device.global_index)}
        if not crossed & watched:
            return None
        decided: list[Any] = []

        def apply(req: Any, end: int) -> int:
            victim = getattr(req, "request", req)  # a NEFF's embedded collective: its execution
            if not decided:
                decided.append(injector.on_collective(crossed, victim.seq_id, start, end))
            spec = decided[0]
            if spec is None:
                return end
            victim.fault = spec
            if spec.effect == "slowdown":
                return start + math.ceil((end - start) * spec.slowdown)
            victim.fatal = spec.is_fatal
            if spec.effect == "hang":
                victim.status = NRT_STATUS.NRT_TIMEOUT
                return start + req.unit.timeout_ns
            victim.status = spec.status
            return end

        return apply

    @staticmethod
    def _signature(ctx: CCContext) -> tuple:
        if ctx.operation in VARIABLE:  # sizes differ by rank; the layouts must agree (counts_agree)
            return (ctx.operation, ctx.dtype, len(ctx.inputs))
        return (ctx.operation, ctx.dtype, ctx.op, ctx.size, tuple(t.size for t in ctx.inputs),
                tuple(t.size for t in ctx.outputs), ctx.pairs)

    def _mismatched(self, meeting: _Rendezvous, now: int) -> bool:
        """Ranks that disagree on what they run together: every rank's request fails, none moves data (A27)."""
        requests = meeting.ranked()
        first = requests[0].ctx
        if all(self._signature(req.ctx) == self._signature(first) for req in requests[1:]) and (
                first.operation not in VARIABLE or counts_agree(first.operation, [req.ctx.counts for req in requests])):
            return False
        for req in requests:
            victim = getattr(req, "request", req)  # a NEFF's embedded collective fails its execution
            victim.status = NRT_STATUS.NRT_EXEC_BAD_INPUT
            if req.ctx.on_done is not None:
                req.ctx.on_done(req, now)
            else:
                req.unit.end_at(req, now)
        return True

    def _start(self, meeting: _Rendezvous, now: int) -> None:
        requests = meeting.ranked()
        first = requests[0].ctx
        cores = [req.core for req in requests]
        # data: read every rank's inputs now, compute every rank's outputs
        if first.inputs and all(t.alloc.storage is not None for req in requests for t in req.ctx.inputs):
            for index in range(len(first.inputs)):
                inputs = [req.ctx.inputs[index].alloc.storage.read_bytes(req.ctx.inputs[index].offset,
                                                                         req.ctx.inputs[index].size)
                          for req in requests]
                bases = None
                if first.operation in VARIABLE:
                    bases = [req.ctx.outputs[index].alloc.storage.read_bytes(req.ctx.outputs[index].offset,
                                                                             req.ctx.outputs[index].size)
                             if req.ctx.outputs[index].alloc.storage is not None
                             else bytes(req.ctx.outputs[index].size) for req in requests]
                outputs = collective_outputs(first.operation, inputs, first.dtype, first.op,
                                             [req.ctx.counts for req in requests], first.pairs, bases)
                for req, data in zip(requests, outputs, strict=True):
                    req.results.append(data)
        matrix = None
        if first.operation in VARIABLE or first.pairs is not None:
            matrix = transfer_matrix(first.operation, meeting.n, ELEMENT[first.dtype][0],
                                     [req.ctx.counts for req in requests], first.pairs, first.size)
        algorithm, phases = self.plan_for(cores, first.operation, first.size, first.algorithm, matrix)
        start = now + self.launch_ns
        topo = self.sim.topology
        record = CollectiveRecord(first.operation, algorithm, meeting.n, first.size, meeting.arrived_ns, start,
                                  [0] * meeting.n, first.group, first.tag)
        self.records.append(record)
        step_ns = topo.spec.chip.cc.step_latency_ns
        for req in requests:
            req.algorithm = algorithm

        network = self._network_fault(requests, cores, phases, start)

        def done(rank: int, end: int) -> None:
            req = requests[rank]
            if network is not None:
                end = network(req, end)
            record.ends_ns[rank] = end
            meeting.cells[rank][0] = end  # its CC-core on this rank's core frees then
            if self._admission:
                self._wake(max(end, int(self.sim.env.now)), int(self.sim.env.now))
            if req.ctx.on_done is not None:
                req.ctx.on_done(req, end)
            else:
                req.unit.end_at(req, end)

        proxy_ns = topo.spec.runtime.proxy_work_ns
        if self.fidelity == "analytical":
            end = start + analytical_ns(self.fabric, cores, phases, step_ns, proxy_ns)
            for rank in range(meeting.n):
                done(rank, end)
        else:
            proxies = [(self.sim.hosts[c.device.instance], req.ctx.owner.proxy_affinity(c))
                       for c, req in zip(cores, requests, strict=True)]
            StepRun(self.sim.env, self.fabric, cores, phases, step_ns, done, proxies, proxy_ns).start(start)
