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


def engine_build() -> str:
    """Which flow network this process runs: the compiled build (``NEURONSIM_ACCEL=1``, neuronsim.hw.accel)
    or the pure-Python modules."""
    import neuronsim.hw.channel as channel
    import neuronsim.hw.xu as xu

    compiled = [m.__name__.rsplit(".", 1)[1] for m in (channel, xu)
                if m.__file__ and m.__file__.endswith((".so", ".pyd"))]
    return f"compiled ({', '.join(compiled)}; NEURONSIM_ACCEL=1)" if compiled else "pure Python"
