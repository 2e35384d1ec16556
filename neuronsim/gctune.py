"""Garbage-collection settings for long runs (``neuronsim run``, sweeps), restored afterwards.

A simulation allocates many short-lived objects (events, requests, generator frames) and keeps a large,
long-lived object graph (the topology, the runtimes, the channels). CPython's default thresholds
(700, 10, 10) make the young-generation collector run every 700 net allocations and re-scan the
long-lived graph in the older generations. :func:`long_run_gc` freezes the objects that exist when the
run starts (``gc.freeze``: the collector no longer scans them) and raises the young generation's
threshold (docs/assumptions.md A121). Collection still happens: cycles are still freed, only less
often. Simulated results do not depend on it (the collector never changes what a run computes; a test
compares a workload's summary and trace bytes with and without it).
"""

from __future__ import annotations

import gc
from collections.abc import Iterator
from contextlib import contextmanager

__all__ = ["long_run_gc", "LONG_RUN_THRESHOLD"]

LONG_RUN_THRESHOLD = (50_000, 20, 20)  # gen0 allocations, gen1 and gen2 collection counts (A121)


@contextmanager
def long_run_gc(threshold: tuple[int, int, int] = LONG_RUN_THRESHOLD, *, enabled: bool = True) -> Iterator[None]:
    """Within the block: objects alive at its start frozen, collector thresholds ``threshold``.

    On leaving (normally or by an exception) the previous thresholds are restored and the frozen
    objects returned to the collector (``gc.unfreeze``). ``enabled=False`` changes nothing.
    """
    if not enabled:
        yield
        return
    saved = gc.get_threshold()
    gc.freeze()
    gc.set_threshold(*threshold)
    try:
        yield
    finally:
        gc.set_threshold(*saved)
        gc.unfreeze()
