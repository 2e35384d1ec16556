"""The Simulator: one simulated instance (its hardware in SimPy time) and the host processes on it.

``sim = neuronsim.Simulator("trn1.32xlarge", seed=0)``; ``rt = sim.runtime(env={...})`` is one simulated
host process running the Neuron Runtime. The simulator owns the clock (integer nanoseconds), the
seeded random streams and the record of which process holds which NeuronCore; there is no global
state, so simulators in one process never interfere.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any, Literal, overload

import numpy as np
import simpy

from neuronsim.collectives.service import CollectiveService
from neuronsim.errors import ConfigError
from neuronsim.facade import NeuronRuntime
from neuronsim.hw.channel import FlowNetwork
from neuronsim.hw.host import HostCPUs
from neuronsim.hw.memory import MemoryPool
from neuronsim.hw.system import CoreHW, Link, System
from neuronsim.idlist import IdListError, parse_id_list
from neuronsim.api.nrta import NrtRuntime
from neuronsim.api.nrta_2_28 import NrtRuntime228
from neuronsim.api.base import RuntimeBase
from neuronsim.sim.context import SimContext
from neuronsim.sim.events import EventFd
from neuronsim.sim.faults import FaultInjector, FaultPlan
from neuronsim.sim.races import Hazard, RaceDetector
from neuronsim.threads import HostThread
from neuronsim.topology import ClusterSpec, InstanceSpec, load_topology
from neuronsim.topology.load import load_spec, with_runtime
from neuronsim.topology.model import Topology

__all__ = ["Simulator"]

APIS: dict[str, type[RuntimeBase]] = {"3.0": NrtRuntime, "2.28": NrtRuntime228}


class Simulator:
    """A simulated Neuron instance.

    Args:
        topology: a preset name (``"trn2.48xlarge"``), a topology YAML path, ``"<N>x <preset>"``, or a spec.
        seed: seed of every random stream the simulation draws from.
        lnc: logical NeuronCore config (trn2: 1 or 2; default the chip's).
        timing_only: keep no tensor bytes (tensors of tens of GiB cost no host memory; kernels don't run).
        record: keep every request in ``runtime.history`` (for invariant checks and tests; it grows
            with the run, so it is off by default).
        faults: a fault plan: a YAML path or a list of fault dicts (:mod:`neuronsim.sim.faults`).
        detect_races: record cross-queue tensor hazards in ``sim.hazards`` (it costs time).
        hang_polls: completion queries the host may make while nothing is in flight before the run
            stops with a ``DeadlockError`` (the host is spinning on something that can never happen).
        hang_queries: ``nrta_get_sequence`` polls of queues that have completed everything they accepted,
            made while nothing is in flight, before the run stops likewise (A73): such a poll is a plain
            query, so only an endless loop of them reaches this.
        cpu_quantum_ns: the time slice of process-mode threads sharing a CPU (A24).
        runtime: a partial override of the preset's runtime parameters, merged onto them field by field
            (``{"queue_capacity": 4, "call_costs": {"schedule_ns": 500}}``; the fields are those of a
            topology file's ``runtime``, docs/reference/topology.md); a value without a provenance entry
            is recorded as ``assumed: A101``.
        queue_capacity: requests an execution-unit queue holds (the preset's: 8, A1); shorthand for
            ``runtime={"queue_capacity": N}``.
        exec_timeout_ns: the default ``NEURON_RT_EXEC_TIMEOUT`` (30 s); shorthand as above.
        polling_threads: run the runtime's completion-polling threads (read, write, execute per core) on
            the devices' CPUs; each polls for ``poll_cpu_ns`` every ``poll_interval_ns`` while its queues
            have work (A26). Off by default: they cost events and, as the seed says, little else.

    A cluster topology (``"2x trn1.32xlarge"``, ``"trn2-ultraserver"``) simulates every instance: one
    ``System`` each (``sim.systems``), joined by their EFA devices and, on the UltraServer, by the Z-ring
    NeuronLinks; ``sim.runtime(instance=k)`` is a process on instance ``k``.
    """

    def __init__(
        self,
        topology: str | Path | InstanceSpec | ClusterSpec = "trn1.32xlarge",
        *,
        seed: int = 0,
        lnc: int | None = None,
        timing_only: bool = False,
        record: bool = False,
        faults: str | Path | list[dict] | FaultPlan | None = None,
        detect_races: bool = False,
        hang_polls: int = 100_000,
        hang_queries: int = 10_000_000,
        cpu_quantum_ns: int = 1_000_000,
        polling_threads: bool = False,
        poll_cpu_ns: int = 200,
        poll_interval_ns: int = 5_000,
        runtime: Mapping[str, Any] | None = None,
        queue_capacity: int | None = None,
        exec_timeout_ns: int | None = None,
    ) -> None:
        if isinstance(seed, bool) or not isinstance(seed, int) or seed < 0:
            raise ConfigError("Simulator", f"seed must be an int >= 0, not {seed!r}", field="seed")
        override = dict(runtime or {})
        if queue_capacity is not None:
            override["queue_capacity"] = queue_capacity
        if exec_timeout_ns is not None:
            override["exec_timeout_ns"] = exec_timeout_ns
        if override:
            spec = topology if isinstance(topology, (InstanceSpec, ClusterSpec)) else load_spec(topology)
            topology = with_runtime(spec, override, "Simulator")
        self.context = context = SimContext(
            load_topology(topology, lnc=lnc), seed=seed, timing_only=timing_only, record=record, faults=faults,
            detect_races=detect_races, hang_polls=hang_polls, hang_queries=hang_queries,
            cpu_quantum_ns=cpu_quantum_ns, polling_threads=polling_threads, poll_cpu_ns=poll_cpu_ns,
            poll_interval_ns=poll_interval_ns)
        self.threads: list[HostThread] = []
        self.runtimes: list[RuntimeBase] = []
        self.collectives = context.collectives = CollectiveService(context)
        context.spawn = self.spawn
        if context.fault_injector is not None:
            context.fault_injector.start_degrades(context.env)

    # -- the context's parts, as the simulator's attributes ------------------------------------------

    @property
    def topology(self) -> Topology:
        return self.context.topology

    @property
    def seed(self) -> int:
        return self.context.seed

    @property
    def seed_sequence(self) -> np.random.SeedSequence:
        return self.context.seed_sequence

    @property
    def env(self) -> simpy.Environment:
        return self.context.env

    @property
    def systems(self) -> list[System]:
        return self.context.systems

    @property
    def system(self) -> System:
        return self.context.system

    @property
    def network(self) -> FlowNetwork:
        return self.context.network

    @property
    def z_links(self) -> dict[tuple[int, int], Link]:
        return self.context.z_links

    @property
    def hosts(self) -> list[HostCPUs]:
        return self.context.hosts

    @property
    def host_memory(self) -> MemoryPool:
        return self.context.host_memory

    @property
    def core_owners(self) -> dict[tuple[int, int, int], Any]:
        return self.context.core_owners

    @property
    def hazards(self) -> list[Hazard]:
        return self.context.hazards

    @property
    def race_detector(self) -> RaceDetector | None:
        return self.context.race_detector

    @property
    def timing_only(self) -> bool:
        return self.context.timing_only

    @property
    def record(self) -> bool:
        return self.context.record

    @property
    def polling_threads(self) -> bool:
        return self.context.polling_threads

    @property
    def hang_polls(self) -> int:
        return self.context.hang_polls

    @property
    def hang_queries(self) -> int:
        return self.context.hang_queries

    @property
    def eventfds(self) -> dict[int, EventFd]:
        return self.context.eventfds

    @property
    def fault_plan(self) -> FaultPlan:
        return self.context.fault_plan

    @property
    def fault_injector(self) -> FaultInjector | None:
        return self.context.fault_injector

    # -- time --------------------------------------------------------------------------------------

    @property
    def now_ns(self) -> int:
        """Simulated time in integer nanoseconds."""
        return int(self.context.env.now)

    def advance_to(self, t_ns: int) -> None:
        """Process every event at or before ``t_ns``, then set the clock to ``t_ns`` (see
        :meth:`neuronsim.sim.context.SimContext.advance_to`)."""
        self.context.advance_to(t_ns)

    def run_for_ns(self, duration_ns: int) -> int:
        """Let the devices run for ``duration_ns`` of simulated time; returns the new time."""
        return self.context.run_for_ns(duration_ns)

    def run_until_idle(self) -> int:
        """Run until nothing is left to happen; returns the time then."""
        return self.context.run_until_idle()

    # -- logical cores at another LNC -----------------------------------------------------------------

    def topology_at(self, lnc: int) -> Topology:
        """This simulator's topology at logical NeuronCore size ``lnc``."""
        return self.context.topology_at(lnc)

    def cores_at(self, instance: int, lnc: int) -> list[CoreHW]:
        """The logical cores of instance ``instance`` at LNC ``lnc``, over the same devices."""
        return self.context.cores_at(instance, lnc)

    # -- processes ---------------------------------------------------------------------------------

    @overload
    def runtime(self, env: Mapping[str, str] | None = None, api: Literal["3.0"] = "3.0", instance: int = 0,
                numa_node: int | None = None) -> NrtRuntime: ...

    @overload
    def runtime(self, env: Mapping[str, str] | None, api: Literal["2.28"], instance: int = 0,
                numa_node: int | None = None) -> NrtRuntime228: ...

    @overload
    def runtime(self, env: Mapping[str, str] | None = None, *, api: Literal["2.28"], instance: int = 0,
                numa_node: int | None = None) -> NrtRuntime228: ...

    @overload
    def runtime(self, env: Mapping[str, str] | None = None, api: str = "3.0", instance: int = 0,
                numa_node: int | None = None) -> RuntimeBase: ...

    def runtime(self, env: Mapping[str, str] | None = None, api: str = "3.0", instance: int = 0,
                numa_node: int | None = None) -> RuntimeBase:
        """A new simulated host process; its environment variables are read at ``nrt_init``.

        Args:
            env: the process's environment variables.
            api: ``"3.0"`` (the default: status cells, ``lnc_idx``, events) or ``"2.28"`` (error trackers,
                split TENSOR_READ / TENSOR_WRITE units).
            instance: which instance of a cluster the process runs on.
            numa_node: the NUMA node of the process's host thread and buffers (``taskset``-like); transfers
                with devices on other nodes pay the cross-NUMA penalty (A4). Default: local to every
                device (A15).
        """
        if api not in APIS:
            raise ConfigError("Simulator.runtime", f"api must be one of {list(APIS)}, not {api!r}", field="api")
        if isinstance(instance, bool) or not isinstance(instance, int) or not 0 <= instance < len(self.systems):
            raise ConfigError("Simulator.runtime", f"instance must be 0-{len(self.systems) - 1}, not {instance!r}",
                              field="instance")
        nodes = [node.id for node in self.topology.spec.host.numa_nodes]
        if numa_node is not None and numa_node not in nodes:
            raise ConfigError("Simulator.runtime", f"NUMA node {numa_node!r} does not exist (host has {nodes})",
                              field="numa_node")
        rt = APIS[api](self.context, env, instance, numa_node)
        self.runtimes.append(rt)
        return rt

    def spawn(self, body: Callable[[HostThread], Any], rt: RuntimeBase, cpus: str | None = None,
              name: str = "", numa_node: int | None = None) -> HostThread:
        """Start a process-mode host thread of ``rt``: ``body(thread)`` is a generator function.

        Args:
            body: the thread's code; it yields SimPy events (``yield from thread.call(...)``...).
            rt: the runtime process the thread belongs to.
            cpus: its CPU affinity, ``taskset --cpu-list`` style (default: every CPU of the host).
            name: a name for traces and reports.
            numa_node: where its host buffers live (default: the NUMA node of its first CPU).
        """
        vcpus = self.topology.spec.host.vcpus
        text = cpus if cpus is not None else f"0-{vcpus - 1}"
        try:
            affinity = parse_id_list(text)
        except IdListError as exc:
            raise ConfigError("Simulator.spawn", str(exc), field="cpus") from None
        if any(c >= vcpus for c in affinity):
            raise ConfigError("Simulator.spawn", f"CPU list {text!r} is outside the host's {vcpus} vCPUs", field="cpus")
        thread = HostThread(self.context, rt, text, name or f"thread{len(self.threads)}", numa_node)
        thread.process = self.env.process(body(thread))
        self.threads.append(thread)
        self.context.run_ahead.threads = True
        return thread

    def eventfd(self, nonblock: bool = False) -> EventFd:
        """A new eventfd-like object for ``nrta_event_register_*`` (``efd.fd`` is its number)."""
        return self.context.eventfd(nonblock)

    def add_fault(self, fault: dict) -> None:
        """Add one fault (a dict as in a plan) to a running simulation; it applies from now on."""
        self.context.add_fault(fault, lambda: [xu for rt in self.runtimes for xu in rt.execution_units()])

    @property
    def faults_fired(self) -> list[tuple[int, int, int]]:
        """``(fault index, sequence id, time)`` of every fault that fired (sequence id 0 for degradations)."""
        return self.fault_injector.fired if self.fault_injector is not None else []

    def open(self, visible_cores: str | None = None, env: Mapping[str, str] | None = None, *,
             retry_queue_full: bool = True, numa_node: int | None = None) -> NeuronRuntime:
        """A new process with the Pythonic API, already initialised (``nrt_init``).

        Args:
            visible_cores: ``NEURON_RT_VISIBLE_CORES`` for the process, e.g. ``"0-1"``.
            env: further environment variables.
            retry_queue_full: on ``NRT_QUEUE_FULL`` wait for the oldest request and retry.

        Raises:
            NrtError: when ``nrt_init`` fails (the cores are taken, a bad variable...).
        """
        variables = dict(env or {})
        if visible_cores is not None:
            variables["NEURON_RT_VISIBLE_CORES"] = visible_cores
        return NeuronRuntime(self.runtime(variables, numa_node=numa_node), retry_queue_full=retry_queue_full)

    def __repr__(self) -> str:
        return f"Simulator({self.topology.name!r}, lnc={self.topology.lnc}, seed={self.seed}, now_ns={self.now_ns})"
