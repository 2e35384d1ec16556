"""The simulation context and what lives with it below the runtime: fault plans, the race detector,
simulated eventfds (docs/explanation/architecture.md)."""

from neuronsim.sim.context import Collectives, SimContext

__all__ = ["Collectives", "SimContext"]
