"""Parameter sweeps over workloads: ``neuronsim sweep`` (see docs/howto/sweeps.md)."""

from neuronsim.sweep.runner import Point, points, run_point, run_sweep
from neuronsim.sweep.spec import SweepSpec, load_sweep

__all__ = ["SweepSpec", "load_sweep", "Point", "points", "run_point", "run_sweep"]
