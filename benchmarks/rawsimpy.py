"""Raw SimPy in the same process: the yardstick every benchmark divides by (machines are noisy)."""

from __future__ import annotations

import time

import simpy


def raw_simpy_seconds(n: int, clock=time.perf_counter) -> float:
    """Seconds (of ``clock``: wall time by default, ``time.process_time`` for CPU time) for one SimPy
    process to yield ``n`` timeouts."""
    env = simpy.Environment()

    def proc():
        for _ in range(n):
            yield env.timeout(1)

    env.process(proc())
    start = clock()
    env.run()
    return clock() - start


def raw_simpy_timeouts_per_s(n: int, clock=time.perf_counter) -> float:
    return n / raw_simpy_seconds(n, clock)
