"""Bandwidth channels and the flow-level contention model every transfer goes through.

A :class:`Channel` is anything with a bandwidth that transfers share: a DMA engine (or a group of
engines working one transfer together), a PCIe direction, an HBM stack, a NeuronLink direction,
an EFA device. The contention model (docs/explanation/hardware-model.md, docs/assumptions.md A9) is
*max-min fair sharing* of a fluid:

* a transfer is a :class:`Flow` over a path of ``(channel, bytes it carries there)``; it costs a fixed
  ``setup_ns`` (descriptor generation, semaphores) during which it moves nothing, then its bytes at a
  rate that changes as other flows start and end, then a fixed ``latency_ns`` (wire, hops);
* while flows are in progress their rates are the max-min fair allocation (progressive filling): every
  flow's rate (its own bytes per ns, over its *weight*) rises together until a channel on its path is
  full or the flow reaches its *cap*; a channel that carries ``k`` bytes per byte of the flow (an HBM
  stack that sees a copy's read and write) spends ``k`` of its bandwidth per unit of the flow's rate;
* rates are recomputed when a flow starts or ends (or a channel's bandwidth changes), only for the flows
  connected to it through shared channels, and each flow's completion is projected again from its
  remaining bytes.

Time. Flows evolve in continuous time inside the network; everything visible outside it is a whole
nanosecond: a flow's *end* is ``ceil(the instant its last byte is delivered) + latency_ns`` (and never
before its ``not_before``). Float error is absorbed by a relative slack of 1e-12 and an absolute one of
1e-6 ns (:data:`TIME_SLACK_NS`) before rounding up. So a transfer alone ends at
``now + setup + max over its channels of ceil(bytes / bandwidth) + latency``, the same as
:func:`neuronsim.units.transfer_time_ns` gives; ``k`` equal transfers that start together on one
bottleneck of bandwidth ``B`` all end at ``now + setup + ceil(k * size / B) + latency``.

Cost. A start or an end re-solves only the flows that share a channel with it, transitively (its
connected component), and not even those when it cannot change them (a flow that fits in the room left
on every channel and is the fastest on the channel it fills; a flow ending on channels none of which was
full with others). A flow that shares no channel with any other costs no solve at all and is processed
lazily. Each flow's end is one SimPy event: a flow alone schedules it when it starts (its end is known);
a flow that shares a channel schedules it once its bytes are delivered (before that its end moves with
every start and end near it), and the network keeps one wake-up, replaced (the old made inert) when the
first instant at which a shared flow starts or ends its bytes moves. Arrivals and departures at the same
instant are solved together.

Determinism. Flows are kept in insertion-ordered containers and solved in a fixed order; no iteration
depends on hashing; the same calls give the same trace.

A network without a SimPy environment (``FlowNetwork(None)``) runs the same model offline in its own
clock (:meth:`FlowNetwork.run`): the analytical collective path uses it.
"""

from __future__ import annotations

from neuronsim.hw.fluid import (_FULL, _SLACK, ACTIVE, CANCELLED, COMPACT_MIN, DELIVERED, ENDED, PENDING, SOLO,
                                TIME_SLACK_NS, Channel, Flow, _deliver_ns, channel_busy_ns, solo_ns)
from neuronsim.hw.flows import FlowNetwork, _succeeded_at

__all__ = ["Channel", "Flow", "FlowNetwork", "TIME_SLACK_NS", "solo_ns", "channel_busy_ns"]
# also importable from here, as before the split: the flow states, the model's constants, _deliver_ns
_REEXPORTED = (_FULL, _SLACK, ACTIVE, CANCELLED, COMPACT_MIN, DELIVERED, ENDED, PENDING, SOLO, _deliver_ns,
               _succeeded_at)
