"""The simulation context: what every layer below the ``Simulator`` shares, as one object.

A :class:`SimContext` holds the SimPy environment (the clock, integer nanoseconds), the seeded random
streams, the topology and the hardware built from it (one ``System`` per instance, the flow network
every transfer shares, the UltraServer's Z-ring links), the hosts' CPUs and memory, the record of which
process holds which physical core, the fault hook and the race detector. The runtime, the
collectives, host threads and eventfds take it; none of them imports the ``Simulator``, which builds
the context (:mod:`neuronsim.simulator`, the composition root) and hands out runtimes.

Two hooks are set by the composition root: ``collectives`` (the collective service, which the runtime
calls through the :class:`Collectives` protocol) and ``spawn`` (starts a process-mode host thread,
for the runtime's own polling threads).
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any, Protocol

import numpy as np
import simpy

from neuronsim.errors import ConfigError
from neuronsim.hw.channel import Channel, FlowNetwork
from neuronsim.hw.host import HostCPUs, RunAhead
from neuronsim.hw.memory import MemoryPool
from neuronsim.hw.system import CoreHW, Link, System, build_cores, build_system
from neuronsim.sim.events import EventFd
from neuronsim.sim.faults import FaultInjector, FaultPlan, load_fault_plan
from neuronsim.sim.races import Hazard, RaceDetector
from neuronsim.topology.model import Topology

__all__ = ["Collectives", "SimContext"]


class Collectives(Protocol):
    """What the runtime asks of the collective machinery (:class:`neuronsim.collectives.service.CollectiveService`)."""

    world: dict[int, tuple[Any, int]]
    world_size: int
    neff_ranks: dict[tuple[int, int, int], Any]
    neff_launch_ns: int

    def register(self, rt: Any, vnc: int, g_device_id: int, g_device_count: int) -> Any:
        """Join rank ``g_device_id`` of a ``g_device_count``-rank world; an ``NRT_STATUS``."""
        ...

    def unsupported(self, ranks: int, call: str) -> str | None:
        """The runtime's message when it refuses a group of ``ranks`` ranks, else ``None``."""
        ...

    def group_of(self, replica_group: Any) -> tuple[int, ...]:
        """The global ranks of a replica group (``None``: the whole world)."""
        ...

    def arrive(self, request: Any, now: int) -> None:
        """A rank's collective request starts on its queue at ``now`` (ns)."""
        ...

    def stalled(self) -> list[str]:
        """What ranks wait for, for deadlock reports."""
        ...


class SimContext:
    """The clock, streams, topology, hardware, hosts and fault hook of one simulation (module docstring).

    Args are those of :class:`neuronsim.Simulator` that shape the simulation below the runtime; the
    ``Simulator`` checks and documents them.
    """

    def __init__(self, topology: Topology, *, seed: int, timing_only: bool, record: bool,
                 faults: str | Path | list[dict] | FaultPlan | None, detect_races: bool, hang_polls: int,
                 hang_queries: int, cpu_quantum_ns: int, polling_threads: bool, poll_cpu_ns: int,
                 poll_interval_ns: int) -> None:
        self.topology = topology
        self.seed = seed
        self.seed_sequence = np.random.SeedSequence(seed)
        self.env = simpy.Environment()
        self.systems: list[System] = [build_system(topology, i) for i in range(topology.num_instances)]
        self.network = FlowNetwork(self.env)  # every transfer's flow, on every instance (docs/assumptions.md A9)
        for system in self.systems:
            system.network = self.network
            for channel in system.channels():
                channel.network = self.network
        self.system = self.systems[0]
        self.z_links = self._z_links()
        for link in self.z_links.values():
            link.channel.network = self.network
        if isinstance(cpu_quantum_ns, bool) or not isinstance(cpu_quantum_ns, int) or cpu_quantum_ns < 1:
            raise ConfigError("Simulator", f"cpu_quantum_ns must be an int >= 1, not {cpu_quantum_ns!r}",
                              field="cpu_quantum_ns")
        self.run_ahead = RunAhead()  # how far a host thread may advance the clock itself (A135)
        self.hosts = [HostCPUs(self.env, topology.spec.host.vcpus, cpu_quantum_ns, self.run_ahead)
                      for _ in self.systems]
        self.polling_threads = polling_threads
        self.poll_cpu_ns = poll_cpu_ns
        self.poll_interval_ns = poll_interval_ns
        self.timing_only = timing_only
        self.record = record
        # host memory: 64-byte granules from an address like a Linux process's heap mappings (A70)
        self.host_memory = MemoryPool("host", topology.spec.host.memory_bytes, base_address=0x7F00_0000_0000,
                                      granule_bytes=64)
        # (instance, device, physical core) -> the process holding it
        self.core_owners: dict[tuple[int, int, int], Any] = {}
        self._topologies: dict[int, Topology] = {topology.lnc: topology}
        self._core_views: dict[tuple[int, int], list[CoreHW]] = {}
        self.hazards: list[Hazard] = []
        self.race_detector = RaceDetector(self.hazards) if detect_races else None
        if isinstance(hang_polls, bool) or not isinstance(hang_polls, int) or hang_polls < 1:
            raise ConfigError("Simulator", f"hang_polls must be an int >= 1, not {hang_polls!r}", field="hang_polls")
        self.hang_polls = hang_polls
        if isinstance(hang_queries, bool) or not isinstance(hang_queries, int) or hang_queries < 1:
            raise ConfigError("Simulator", f"hang_queries must be an int >= 1, not {hang_queries!r}",
                              field="hang_queries")
        self.hang_queries = hang_queries
        self.eventfds: dict[int, EventFd] = {}  # fd -> its eventfd
        self.next_fd = 3  # 0-2 are stdin, stdout and stderr
        self.neff_files: dict[tuple, Any] = {}  # NEFF bytes loaded -> their Neff (runtime.nrt_load)
        self.kernel_finders: dict[str, Any] = {}  # NEURONSIM_KERNELS value -> its kernel finder
        self.collectives: Collectives | Any = None  # set by the composition root
        self.spawn: Callable[..., Any] | None = None  # set by the composition root: starts a host thread
        plan = load_fault_plan(faults)
        self.fault_plan = plan
        self.fault_injector = (FaultInjector(plan, self.system, seed, str(faults) if isinstance(faults, (str, Path))
                                             else "faults", self.systems) if plan.faults else None)

    # -- time --------------------------------------------------------------------------------------

    @property
    def now_ns(self) -> int:
        """Simulated time in integer nanoseconds."""
        return int(self.env.now)

    def advance_to(self, t_ns: int) -> None:
        """Process every event at or before ``t_ns``, then set the clock to ``t_ns``.

        Unlike ``env.run(until=t)``, events due exactly at ``t_ns`` are processed, so a completion at
        ``t`` is visible to a host call that ends at ``t``.
        """
        env = self.env
        queue, step = env._queue, env.step  # noqa: SLF001 - env.peek() inlined on the hot path
        run_ahead = self.run_ahead
        if not run_ahead.threads:  # direct mode alone (the hot path of every call's host cost)
            while queue and queue[0][0] <= t_ns:
                step()
        elif queue and queue[0][0] <= t_ns:
            # run_ahead.up_to(t_ns), inlined: this runs at every direct-mode call's host cost
            saved, run_ahead.until_ns = run_ahead.until_ns, t_ns  # nothing acts before t_ns but the events
            try:
                while queue and queue[0][0] <= t_ns:
                    step()
            finally:
                run_ahead.until_ns = saved
        if t_ns > env._now:  # noqa: SLF001
            env._now = t_ns  # noqa: SLF001 - SimPy keeps the clock here; nothing is due before t_ns

    def run_for_ns(self, duration_ns: int) -> int:
        """Let the devices run for ``duration_ns`` of simulated time; returns the new time."""
        if isinstance(duration_ns, bool) or not isinstance(duration_ns, int) or duration_ns < 0:
            raise ValueError(f"duration_ns(={duration_ns!r}) must be an int >= 0.")
        self.advance_to(int(self.env.now) + duration_ns)
        return int(self.env.now)

    def run_until_idle(self) -> int:
        """Run until nothing is left to happen; returns the time then."""
        with self.run_ahead.up_to(float("inf")):
            self.env.run()
        return int(self.env.now)

    def eventfd(self, nonblock: bool = False) -> EventFd:
        """A new eventfd-like object for ``nrta_event_register_*`` (``efd.fd`` is its number, from 3 up)."""
        efd = EventFd(self, self.next_fd, nonblock)
        self.eventfds[self.next_fd] = efd
        self.next_fd += 1
        return efd

    # -- logical cores at another LNC -----------------------------------------------------------------

    def topology_at(self, lnc: int) -> Topology:
        """This simulation's topology at logical NeuronCore size ``lnc`` (a process may ask for its own
        with ``NEURON_LOGICAL_NC_CONFIG``)."""
        topo = self._topologies.get(lnc)
        if topo is None:
            base = self.topology
            topo = self._topologies[lnc] = Topology.build(base.cluster or base.spec, lnc=lnc)
        return topo

    def cores_at(self, instance: int, lnc: int) -> list[CoreHW]:
        """The logical cores of instance ``instance`` at LNC ``lnc``, over the same devices."""
        if lnc == self.topology.lnc:
            return self.systems[instance].cores
        key = (instance, lnc)
        cores = self._core_views.get(key)
        if cores is None:
            cores = self._core_views[key] = build_cores(self.systems[instance], self.topology_at(lnc))
        return cores

    # -- faults --------------------------------------------------------------------------------------

    def add_fault(self, fault: dict, units: Callable[[], list[Any]]) -> None:
        """Add one fault (a dict as in a plan) from now on; ``units()`` lists the execution units that
        must see the injector when it is created now."""
        plan = load_fault_plan([fault])
        if self.fault_injector is None:
            self.fault_injector = FaultInjector(FaultPlan(), self.system, self.seed, systems=self.systems)
            for xu in units():
                xu.faults = self.fault_injector
        self.fault_injector.add(plan.faults[0], self.env)
        self.fault_plan = FaultPlan(faults=self.fault_plan.faults + plan.faults)

    # -- the UltraServer's Z rings ------------------------------------------------------------------

    def _z_links(self) -> dict[tuple[int, int], Link]:
        """The UltraServer's Z rings: device d of instance i linked to device d of instances i +- 1,
        keyed by global device ids."""
        z = self.topology.z_ring
        links: dict[tuple[int, int], Link] = {}
        if z is None:
            return links
        n, k = self.topology.num_devices, self.topology.num_instances
        for i in range(k):
            for j in {(i + 1) % k, (i - 1) % k} - {i}:
                for d in range(n):
                    src, dst = i * n + d, j * n + d
                    links[(src, dst)] = Link(src, dst, Channel(f"z.i{i}dev{d}-i{j}dev{d}", z.link_bandwidth_bytes_per_ns),
                                             z.latency_ns)
        return links
