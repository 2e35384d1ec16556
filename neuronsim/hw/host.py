"""The host's CPUs and the threads that run on them (process mode).

Each vCPU is a SimPy resource of capacity 1. A thread asking for ``work_ns`` of CPU time gets it in
slices of at most ``quantum_ns``: it takes a CPU of its affinity (a free one, else the one with the
shortest queue, lowest id first), runs one slice, releases it and queues again. Runnable threads that
outnumber the CPUs of their affinity therefore share them round-robin; two always-busy threads pinned
to one CPU each get half of it. A thread does not migrate while it waits for a CPU (docs/assumptions.md
A24).
"""

from __future__ import annotations

from collections.abc import Generator, Sequence
from typing import Any

import simpy

__all__ = ["HostCPUs"]


class HostCPUs:
    """The vCPUs of one host.

    Args:
        env: the simulation environment.
        vcpus: how many CPUs (ids 0 .. vcpus - 1).
        quantum_ns: the longest slice a thread runs before it yields its CPU (>= 1).
    """

    def __init__(self, env: simpy.Environment, vcpus: int, quantum_ns: int) -> None:
        if vcpus < 1:
            raise ValueError(f"vcpus(={vcpus}) must be >= 1.")
        if quantum_ns < 1:
            raise ValueError(f"quantum_ns(={quantum_ns}) must be >= 1.")
        self.env = env
        self.quantum_ns = quantum_ns
        self.cpus = [simpy.Resource(env, capacity=1) for _ in range(vcpus)]
        self.busy_ns = [0] * vcpus

    def _pick(self, affinity: Sequence[int]) -> int:
        best = affinity[0]
        best_load = None
        for cpu in affinity:
            resource = self.cpus[cpu]
            load = resource.count + len(resource.queue)
            if best_load is None or load < best_load:
                best, best_load = cpu, load
        return best

    def run(self, affinity: Sequence[int], work_ns: int) -> Generator[simpy.Event, Any, int]:
        """Spend ``work_ns`` of CPU time on the affinity's CPUs; returns the CPU the last slice ran on."""
        remaining = work_ns
        cpu = affinity[0]
        while remaining > 0:
            cpu = self._pick(affinity)
            with self.cpus[cpu].request() as request:
                yield request
                piece = min(self.quantum_ns, remaining)
                yield self.env.timeout(piece)
                self.busy_ns[cpu] += piece
                remaining -= piece
        return cpu

    def utilisation(self, cpu: int, elapsed_ns: int) -> float:
        return min(1.0, self.busy_ns[cpu] / elapsed_ns) if elapsed_ns > 0 else 0.0
