"""Collectives in the runtime: the world of global device ids, communicators, contexts, and the
rendezvous that starts a collective once every rank's request has reached the head of its queue
(the contexts, rendezvous, records and timeout reports it uses are in :mod:`neuronsim.collectives.rendezvous`).

``nrt_cc_global_comm_init(vnc, g_device_id, g_device_count)`` names a process's logical core as global
rank ``g_device_id`` of a world of ``g_device_count``. A communicator (``nrt.nrt_cc_comm_t``) lists the
group's global ids in rank order. ``nrta_cc_prepare`` checks a rank's tensors and returns a context;
``nrta_cc_schedule`` puts a request on one of the rank's Collectives queues. The k-th collective a rank
schedules on a group meets the k-th of every other rank of the group: when the last of them starts, the
collective starts (after its fixed software cost, ``runtime.collective_cost``: the era's
``launch_ns + per_rank_ns x ranks``), inputs are read, the algorithm runs over the
fabric, and each rank's request completes when its part ends, with its outputs written.

A rank that arrives and whose peers do not all arrive waits until its timeout, then completes with
``NRT_TIMEOUT`` and its execution unit enters its terminal state (later schedules on it return
``NRT_EXEC_UNIT_UNRECOVERABLE``), as a long execution does: a standalone collective times out after its
runtime's Collectives XU wait timeout from its start (``cc_timeout_ns``: 30 s on the 3.0 API, 100 ms on
2.28, nrt-api.md §1.1), a NEFF's collective after ``NEURON_RT_EXEC_TIMEOUT`` from its execution's start.
A rank that arrives after a peer timed out waits for its own timeout too: the peer will never run it.
A fault that hits one rank's part of a collective (a core, XU, device or HBM fault) fails the collective
on every rank it spans, as a link or EFA fault does.
"""

from __future__ import annotations

import heapq
import logging
import math
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from simpy.events import Timeout

from neuronsim.collectives.algorithms import ALGORITHMS, Phase, plan, select_algorithm
from neuronsim.collectives.data import VARIABLE, ELEMENT, collective_outputs, counts_agree, transfer_matrix
from neuronsim.collectives.engine import Fabric, StepRun, analytical_ns, sends_over_efa
from neuronsim.collectives.rendezvous import (
    OPERATION_NAMES,
    SUPPORTED_RANK_COUNTS,
    CCContext,
    CollectiveRecord,
    CollectiveTimeout,
    RankCounts,
    Rendezvous,
)
from neuronsim.collectives.rendezvous import check_choice as _check_choice
from neuronsim.nrt import NRT_STATUS

if TYPE_CHECKING:
    from neuronsim.sim.context import SimContext

__all__ = ["CollectiveService", "CCContext", "CollectiveRecord", "CollectiveTimeout", "RankCounts",
           "SUPPORTED_RANK_COUNTS", "OPERATION_NAMES"]

_UNKNOWN = 1 << 62  # a collective's end on a core, until its algorithm has computed it
FIDELITIES = ("step", "analytical")
PLAN_ENTRIES = 4096  # plans cached per simulation (emptied when full)


class CollectiveService:
    """The simulator's collective machinery (one per Simulator).

    ``algorithm`` forces one of ``ALGORITHMS`` for every collective (``None``: the runtime's selection,
    A20) and ``fidelity`` is ``"step"`` or ``"analytical"``; any other value raises ``ConfigError``
    naming the valid ones.
    """

    @property
    def algorithm(self) -> str | None:
        return self._algorithm

    @algorithm.setter
    def algorithm(self, value: str | None) -> None:
        _check_choice("sim.collectives.algorithm", value, ALGORITHMS, none_ok=True)
        self._algorithm = value

    @property
    def fidelity(self) -> str:
        return self._fidelity

    @fidelity.setter
    def fidelity(self, value: str) -> None:
        _check_choice("sim.collectives.fidelity", value, FIDELITIES)
        self._fidelity = value

    def __init__(self, sim: SimContext) -> None:
        self.sim = sim
        efa = sim.topology.spec.efa
        cost = sim.topology.spec.runtime.collective_cost
        self.cost = cost
        # a send over EFA: the network's latency plus its per-message software cost (A35)
        self.fabric = Fabric(sim.systems, sim.z_links, efa.latency_ns + cost.efa_message_ns if efa is not None else 0)
        self.world: dict[int, tuple[Any, int]] = {}  # global device id -> (runtime, vnc)
        self.world_size = 0
        self._algorithm = None  # a run-wide override (str | None, as its setter takes)
        self._plans: dict[tuple[Any, ...], tuple[str, list[Phase]]] = {}  # plan_for's cache
        self._fidelity = "step"
        self.era: str | None = None  # a run-wide software era (runtime.collective_cost.era when None)
        self.launch_ns: int | None = None  # a run-wide fixed cost replacing the era's (--launch-overhead)
        self.neff_launch_ns = sim.topology.spec.runtime.neff_collective_ns or 0  # more, for a NEFF's own collectives
        self.records: list[CollectiveRecord] = []
        self.neff_ranks: dict[tuple[int, int, int], Any] = {}  # (NEFF, copies, rank) -> model
        self._counters: dict[tuple[tuple[int, ...], int], int] = {}
        self._pending: dict[tuple[tuple[int, ...], int], Rendezvous] = {}
        # CC-cores: a logical core runs at most cc_cores / logical cores per chip collectives at once
        # (hardware.md §7: "up to 4 concurrent CC streams" at LNC=2, 2 at LNC=1; A28)
        topo = sim.topology
        self.cc_core_limit = True  # False: what-if without the limit
        self.cc_cores_per_core = max(1, topo.spec.chip.cc_cores // topo.logical_cores_per_device)
        # id(CoreHW) -> a cell per collective holding one of its CC-cores: [its end on that core], _UNKNOWN
        # until known; a CC-core frees at that end without an event of its own: an event is scheduled only
        # when a collective waits
        self.cc_running: dict[int, list[list[int]]] = {}
        self._admission: list[Rendezvous] = []  # met, waiting for a CC-core on some rank, in order
        # rank counts the runtime refuses (A60): checked by nrt_load_collectives; by nrta_cc_prepare too when
        # check_standalone_ranks is set (the record shows the refusal only for a NEFF's collectives)
        self.supported_ranks: RankCounts | None = SUPPORTED_RANK_COUNTS.get(topo.spec.chip.name)
        self.check_standalone_ranks = False
        # ranks waiting for peers: a heap of (deadline, order, meeting, rank), one armed event at the earliest
        # live deadline, taken off the event queue when no rank waits (so a met collective leaves no timer)
        self._deadlines: list[tuple[int, int, Rendezvous, int]] = []
        self._deadline_order = 0
        self._armed: Any = None
        self._armed_at = 0
        self._stalled: dict[Rendezvous, None] = {}  # ranks wait in these (unmet, or met with a rank timed out)
        self.timeouts: list[CollectiveTimeout] = []

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

    def unsupported(self, ranks: int, call: str) -> str | None:
        """The runtime's message when it refuses a collective group of ``ranks`` ranks on this instance
        (``call``: ``nrt_load_collectives``, or ``nrta_cc_prepare`` when ``check_standalone_ranks``), else None."""
        rule = self.supported_ranks
        if rule is None or (call == "nrta_cc_prepare" and not self.check_standalone_ranks) or rule.allows(ranks):
            return None
        return rule.message

    def group_of(self, replica_group: Any) -> tuple[int, ...]:
        if replica_group is None:
            return tuple(range(self.world_size))
        return tuple(map(int, replica_group))

    def arrive(self, request: Any, now: int) -> None:
        ctx: CCContext = request.ctx
        own = ctx.group[ctx.rank]
        key = (ctx.group, own)
        k = self._counters.get(key, 0)
        self._counters[key] = k + 1
        meeting = self._pending.get((ctx.group, k))
        if meeting is None:
            meeting = self._pending[(ctx.group, k)] = Rendezvous(len(ctx.group), ctx.group, k)
        meeting.requests[ctx.rank] = request
        if len(meeting.requests) == meeting.n:
            del self._pending[(ctx.group, k)]
            if not meeting.timed_out:
                meeting.waiting.clear()
                self._stalled.pop(meeting, None)
                meeting.arrived_ns = now
                self._arm()  # its ranks' deadlines are dead now
                if self._mismatched(meeting, now):
                    return
                self._admission.append(meeting)
                self._admit(now)
                return
        # it waits for peers (or for a meeting that can never run: a peer timed out): until its deadline
        self._stalled[meeting] = None
        deadline = self._deadline(request)
        if deadline is not None:
            meeting.waiting.add(ctx.rank)
            self._deadline_order += 1
            heapq.heappush(self._deadlines, (deadline, self._deadline_order, meeting, ctx.rank))
            self._arm()

    @staticmethod
    def _deadline(request: Any) -> int | None:
        """When a rank's request that waits for its peers times out (None: never, a timeout of 0)."""
        execution = getattr(request, "request", None)
        if execution is not None:  # a NEFF's collective: NEURON_RT_EXEC_TIMEOUT from the execution's start
            timeout = execution.unit.timeout_ns
            return execution.start_ns + timeout if timeout else None
        timeout = request.unit.timeout_ns  # the Collectives XU wait timeout (RuntimeBase.cc_timeout_ns)
        return request.start_ns + timeout if timeout else None

    def _arm(self) -> None:
        """Keep one event armed at the earliest deadline of a rank that still waits, and none when none does."""
        heap = self._deadlines
        while heap and heap[0][3] not in heap[0][2].waiting:
            heapq.heappop(heap)
        env = self.sim.env
        if not heap:
            if self._armed is not None:
                _unschedule(env, self._armed)
                self._armed = None
            return
        at = heap[0][0]
        if self._armed is not None:
            if self._armed_at <= at:
                return  # it fires first, finds nothing due, and re-arms
            _unschedule(env, self._armed)
        event = Timeout(env, max(0, at - int(env.now)))
        event.callbacks.append(self._expire)
        self._armed, self._armed_at = event, at

    def _expire(self, event: Any) -> None:
        if event is not self._armed:
            return
        self._armed = None
        now = int(self.sim.env.now)
        heap = self._deadlines
        while heap and heap[0][0] <= now:
            deadline, _, meeting, rank = heapq.heappop(heap)
            if rank in meeting.waiting:
                self._time_out(meeting, rank, deadline)
        self._arm()

    def _time_out(self, meeting: Rendezvous, rank: int, deadline: int) -> None:
        """``rank`` waited for its peers until its deadline: NRT_TIMEOUT, and its unit enters its terminal state."""
        meeting.waiting.discard(rank)
        meeting.timed_out.add(rank)
        request = meeting.requests[rank]
        victim = getattr(request, "request", request)  # a NEFF's collective fails its execution
        timeout = deadline - victim.start_ns
        arrived = tuple(sorted(meeting.requests))
        missing = tuple(r for r in range(meeting.n) if r not in meeting.requests)
        record = CollectiveTimeout(request.ctx.operation, meeting.index, meeting.group, rank, arrived, missing,
                                   victim.start_ns, timeout, request.unit.name)
        self.timeouts.append(record)
        detail = (f"{request.ctx.operation} #{meeting.index + 1} of a group of {meeting.n} ranks, rank {rank} waited "
                  f"for its peers: ranks {list(arrived)} arrived, ranks {list(missing)} never did")
        log = request.ctx.owner._log  # noqa: SLF001 - the owning process's log (NEURON_RT_LOG_LEVEL)
        if victim is not request:  # a NEFF's execution: the runtime's execution-timeout line (nrt-api.md §3)
            core = request.core
            log.log(logging.ERROR, "nrt_execute", "NRT:nrt_execute (FATAL-RT-UNDEFINED-STATE) execution timeout "
                    "(%d ms) on Neuron Device %d NC %d, model %s, waiting for execution completion notification: %s",
                    timeout // 1_000_000, core.device.index, core.local_index, victim.model.neff.name, detail)
        else:
            log.log(logging.ERROR, "nrta_cc_schedule", "NRT:nrta_cc_schedule (FATAL-RT-UNDEFINED-STATE) collective "
                    "timeout (%d ms) on %s: %s", timeout // 1_000_000, request.unit.name, detail)
        if len(meeting.timed_out) == meeting.n:
            self._stalled.pop(meeting, None)  # every rank came and every one has timed out
        victim.status = NRT_STATUS.NRT_TIMEOUT
        victim.fatal = True
        request.unit.end_at(victim, deadline)

    def stalled(self) -> list[str]:
        """A line per collective some rank waits in for peers (unmet, or met after a peer timed out):
        which collective, the ranks that arrived and those that did not (for hang reports)."""
        lines = []
        for meeting in self._stalled:
            for rank in sorted(r for r in meeting.requests if r not in meeting.timed_out):
                request = meeting.requests[rank]
                deadline = self._deadline(request)
                when = f"times out at {deadline} ns" if deadline is not None else "no timeout: waits forever"
                lines.append(f"{request.unit.name} (rank {rank}) waits in {meeting.describe()}; {when}")
        return sorted(lines)

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
                 matrix: list[list[int]] | None = None, element_bytes: int = 4) -> tuple[str, list[Phase]]:
        """The algorithm a collective of ``operation`` over ``cores`` (in rank order) runs, and its phases
        (its reduce-scatter steps accumulate ``element_bytes``-byte elements).

        ``requested`` (per call), else the run-wide ``algorithm``, else the runtime's selection; RDH falls
        back to Ring off a power of two, KangaRing where some chip is not whole (hardware.md §8.2).
        All-to-all, permute and the variable-size operations always write directly and are labelled
        ``mesh``; ``matrix`` gives their bytes per (source, destination) where they are not uniform."""
        key = None
        if matrix is None:  # cached per (group, operation, size, algorithm asked for): plans are immutable
            key = (tuple(map(id, cores)), operation, size, requested, self._algorithm)  # cores live as long as it
            cached = self._plans.get(key)
            if cached is not None:
                return cached
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
        phases = plan(operation, algorithm, locations, size, side, primaries, instance_of, kangaring_ok, matrix,
                      element_bytes)
        if algorithm == "hier" and not any(p.name.startswith("hier") for p in phases) and phases:
            algorithm = "ring"
        planned = (algorithm, phases)
        if key is not None:
            if len(self._plans) >= PLAN_ENTRIES:
                self._plans.clear()
            self._plans[key] = planned
        return planned

    def _faults(self, requests: list[Any], cores: list[Any], phases: list[Phase],
                start: int) -> Callable[[Any, int], int] | None:
        """The plan's faults on a collective, decided once, at its first rank's end, then applied to every
        rank: a link or EFA fault whose channels its transfers cross, else a core, XU, device or HBM fault
        that matches one rank's part (a failed collective fails on every rank it spans). A status ends every
        rank at its normal end; a hang ends every rank with NRT_TIMEOUT after its timeout (the Collectives
        XU wait timeout for a standalone collective, NEURON_RT_EXEC_TIMEOUT from a NEFF's execution start);
        a slowdown stretches every rank's part, into NRT_TIMEOUT when it passes that timeout."""
        injector = self.sim.fault_injector
        if injector is None or not injector.armed:
            return None
        watched = injector.network_channels
        crossed: set = set()
        if watched:
            crossed = {link.channel for phase in phases for t in phase.transfers
                       for link in self.fabric.route(cores[t.src].device.global_index,
                                                     cores[t.dst].device.global_index)}
        network = bool(crossed & watched)
        # a NEFF's collective: a fault on a rank's execution is decided at the execution's end instead
        standalone = not any(hasattr(req, "request") for req in requests)
        if not network and not standalone:
            return None
        decided: list[Any] = []

        def apply(req: Any, end: int) -> int:
            victim = getattr(req, "request", req)  # a NEFF's embedded collective: its execution
            if not decided:
                spec = injector.on_collective(crossed, victim.seq_id, start, end) if network else None
                if spec is None and standalone:
                    spec = injector.on_collective_ranks([(r.unit, r) for r in requests], start, end)
                decided.append(spec)
            spec = decided[0]
            if spec is None:
                return end
            victim.fault = spec
            timeout = self._timeout_of(req)
            if spec.effect == "slowdown":
                end = start + math.ceil((end - start) * spec.slowdown)
                if timeout and end - victim.start_ns > timeout:
                    victim.status, victim.fatal = NRT_STATUS.NRT_TIMEOUT, True
                    return victim.start_ns + timeout
                return end
            victim.fatal = spec.is_fatal
            if spec.effect == "hang":
                victim.status = NRT_STATUS.NRT_TIMEOUT
                return victim.start_ns + timeout
            victim.status = spec.status
            return end

        return apply

    @staticmethod
    def _timeout_of(request: Any) -> int:
        """A rank's timeout: NEURON_RT_EXEC_TIMEOUT for a NEFF's collective, the Collectives XU wait timeout
        for a standalone one (0: none)."""
        return getattr(request, "request", request).unit.timeout_ns

    @staticmethod
    def _signature(ctx: CCContext) -> tuple:
        if ctx.operation in VARIABLE:  # sizes differ by rank; the layouts must agree (counts_agree)
            return (ctx.operation, ctx.dtype, len(ctx.inputs))
        return (ctx.operation, ctx.dtype, ctx.op, ctx.size, tuple(t.size for t in ctx.inputs),
                tuple(t.size for t in ctx.outputs), ctx.pairs)

    def _mismatched(self, meeting: Rendezvous, now: int) -> bool:
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

    def launch_for(self, ranks: int) -> int:
        """Fixed software cost (ns) of one collective over ``ranks`` ranks: the run-wide override if set,
        else ``runtime.collective_cost`` of the run's era (``launch_ns + per_rank_ns x ranks``)."""
        if self.launch_ns is not None:
            return self.launch_ns
        return self.cost.launch_ns(ranks, self.era)

    def _start(self, meeting: Rendezvous, now: int) -> None:
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
        algorithm, phases = self.plan_for(cores, first.operation, first.size, first.algorithm, matrix,
                                          ELEMENT[first.dtype][0])
        launch = self.launch_for(meeting.n)
        start = now + launch
        topo = self.sim.topology
        record = CollectiveRecord(first.operation, algorithm, meeting.n, first.size, meeting.arrived_ns, start,
                                  [0] * meeting.n, first.group, first.tag, launch)
        self.records.append(record)
        step_ns = topo.spec.chip.cc.step_latency_ns
        for req in requests:
            req.algorithm = algorithm

        faults = self._faults(requests, cores, phases, start)

        def done(rank: int, end: int) -> None:
            req = requests[rank]
            if faults is not None:
                end = faults(req, end)
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
            proxies = None  # needed only when a send crosses EFA (its rank's network proxy thread drives it)
            if proxy_ns and sends_over_efa(self.fabric, cores, phases):
                proxies = [(self.sim.hosts[c.device.instance], req.ctx.owner.proxy_affinity(c))
                           for c, req in zip(cores, requests, strict=True)]
            StepRun(self.sim.env, self.fabric, cores, phases, step_ns, done, proxies, proxy_ns).start(start)


def _unschedule(env: Any, event: Any) -> None:
    """Take a scheduled, not yet processed event off SimPy's queue (a timer no longer needed)."""
    queue = env._queue  # noqa: SLF001 - SimPy has no cancel; its queue is a heap of (time, priority, id, event)
    for i, item in enumerate(queue):
        if item[3] is event:
            queue[i] = queue[-1]
            queue.pop()
            heapq.heapify(queue)
            return
