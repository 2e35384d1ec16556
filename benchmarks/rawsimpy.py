"""Raw SimPy in the same process: the yardstick every benchmark divides by (machines are noisy)."""

from __future__ import annotations

import time

import simpy


def raw_simpy_seconds(n: int) -> float:
    """Wall seconds for one SimPy process to yield ``n`` timeouts."""
    env = simpy.Environment()

    def proc():
        for _ in range(n):
            yield env.timeout(1)

    env.process(proc())
    start = time.perf_counter()
    env.run()
    return time.perf_counter() - start


def raw_simpy_timeouts_per_s(n: int) -> float:
    return n / raw_simpy_seconds(n)
