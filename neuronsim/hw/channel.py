"""Bandwidth channels and the contention model every transfer goes through.

A :class:`Channel` is anything with a bandwidth that transfers share: a DMA engine (or a group of
engines working one transfer together), a PCIe direction, an HBM stack, a NeuronLink direction,
an EFA device. The contention model (docs/explanation/hardware-model.md) is *work-conserving FIFO reservation*:

* a transfer of ``size`` bytes over a path of channels asks at time ``now`` with a fixed setup
  cost ``setup_ns`` (descriptor generation, semaphores) and a fixed ``latency_ns`` (wire/hops);
* each channel needs its own serialisation time ``ser = ceil(size / bandwidth)``; the slowest channel's
  ``ser`` is the transfer's streaming time ``T``;
* the data starts at the earliest time ``data_start >= now + setup_ns`` at which every channel, busy
  until its ``free_at``, can still do its own share by ``data_start + T``:
  ``data_start = max(now + setup_ns, max(free_at + ser - T))``; so the bottleneck channel must be free,
  while a fast channel may still be finishing earlier work (it is shared, not held);
* each channel's backlog then grows by its own ``ser`` from ``max(free_at, now + setup_ns)`` (a fluid,
  work-conserving queue: no idle gap opens when the transfer itself is held back by a slower channel);
* the transfer completes at ``data_start + T + latency_ns``.

Requests are served strictly in the order they ask (no backfilling), which makes the model
deterministic and gives closed forms: a lone transfer takes ``setup + ceil(size/min bw) + latency``;
k back-to-back transfers on one channel finish ``ceil(size/bw)`` apart. Reservation is O(path
length) and schedules no SimPy events of its own.
"""

from __future__ import annotations

from collections.abc import Sequence
from math import ceil

from neuronsim.units import TRANSFER_SLACK, transfer_time_ns  # noqa: F401 - documented twin

_SLACK = 1 - TRANSFER_SLACK

__all__ = ["Channel", "reserve", "serialise", "reserve_serialised"]


class Channel:
    """A shared bandwidth resource.

    Args:
        name: entity path, e.g. ``dev0/hbm1`` or ``link.dev0-dev1``.
        bandwidth_bytes_per_ns: bytes per ns it moves (> 0).

    Attributes:
        free_at_ns: the time its last reservation ends.
        busy_ns: total time it has been reserved.
        bytes_moved: total bytes it has carried.
        log: ``None``, or a list that gets ``(begin_ns, end_ns, bytes)`` of every share the channel
            serves (its busy intervals, which never overlap); workload runs turn it on for utilisation
            over time and trace counters. Logging reads the reservation, it never changes it.
    """

    __slots__ = ("name", "bandwidth_bytes_per_ns", "free_at_ns", "busy_ns", "bytes_moved", "log")

    def __init__(self, name: str, bandwidth_bytes_per_ns: float) -> None:
        if not bandwidth_bytes_per_ns > 0:
            raise ValueError(f"bandwidth_bytes_per_ns(={bandwidth_bytes_per_ns}) must be > 0.")
        self.name = name
        self.bandwidth_bytes_per_ns = float(bandwidth_bytes_per_ns)
        self.free_at_ns = 0
        self.busy_ns = 0
        self.bytes_moved = 0
        self.log: list[tuple[int, int, int]] | None = None

    def serialisation_ns(self, size_bytes: int) -> int:
        return transfer_time_ns(size_bytes, self.bandwidth_bytes_per_ns)

    def utilisation(self, elapsed_ns: int) -> float:
        """Fraction of ``elapsed_ns`` the channel was reserved (0 when nothing elapsed)."""
        return min(1.0, self.busy_ns / elapsed_ns) if elapsed_ns > 0 else 0.0

    def __repr__(self) -> str:
        return f"Channel({self.name!r}, {self.bandwidth_bytes_per_ns:g} B/ns, free_at={self.free_at_ns})"


def serialise(path: Sequence[tuple[Channel, int]]) -> tuple[list[tuple[Channel, int, int]], int]:
    """Each channel's serialisation time for its bytes: ``([(channel, bytes, ser)], longest ser)``.

    A transfer costed many times over the same channels (the analytical collective path) serialises
    once and reserves with :func:`reserve_serialised`."""
    hops = []
    longest = 0
    for channel, size_bytes in path:  # transfer_time_ns inlined: the hot path of every request
        ser = (ceil(size_bytes / channel.bandwidth_bytes_per_ns * _SLACK) or 1) if size_bytes > 0 else 0
        hops.append((channel, size_bytes, ser))
        if ser > longest:
            longest = ser
    return hops, longest


def reserve_serialised(now_ns: int, hops: Sequence[tuple[Channel, int, int]], longest: int, setup_ns: int = 0,
                       latency_ns: int = 0) -> tuple[int, int]:
    """:func:`reserve` for a path :func:`serialise` d already."""
    ready = now_ns + setup_ns
    latest = 0  # max(free_at + ser): every channel must finish its own share by data_start + longest
    for channel, _, ser in hops:
        finish = channel.free_at_ns + ser
        if finish > latest:
            latest = finish
    # a channel may still be busy when data starts, as long as it finishes its share in time
    data_start = latest - longest if latest - longest > ready else ready
    for channel, size_bytes, ser in hops:
        # a work-conserving backlog: the channel's share is queued from the request's ready time, so a
        # transfer held back by a slower channel leaves no idle gap that later transfers could not use
        free_at = channel.free_at_ns
        begin = free_at if free_at > ready else ready
        channel.free_at_ns = begin + ser
        channel.busy_ns += ser
        channel.bytes_moved += size_bytes
        if channel.log is not None and ser:
            channel.log.append((begin, begin + ser, size_bytes))
    return data_start, data_start + longest + latency_ns


def reserve(
    now_ns: int,
    path: Sequence[tuple[Channel, int]],
    setup_ns: int = 0,
    latency_ns: int = 0,
) -> tuple[int, int]:
    """Reserve a transfer over ``path``, a sequence of ``(channel, bytes it carries)``.

    A channel may carry a different byte count than the others (an HBM stack sees both the read and
    the write of a copy). Returns ``(data_start_ns, end_ns)``.
    """
    hops, longest = serialise(path)
    return reserve_serialised(now_ns, hops, longest, setup_ns, latency_ns)
