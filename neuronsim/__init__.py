"""neuronsim: a hardware-faithful discrete-event simulator of AWS Neuron devices and the Neuron Runtime API."""

from importlib.metadata import PackageNotFoundError, version

from neuronsim import nrt
from neuronsim.errors import ConfigError, DeadlockError, NeuronSimError, NrtError
from neuronsim.facade import Future, NeuronRuntime
from neuronsim.invariants import Violation, check_invariants
from neuronsim.runtime.neff import CollectiveSpec, FixedCost, Neff, Roofline
from neuronsim.simulator import Simulator
from neuronsim.topology import Topology, load_topology, preset_names

try:
    __version__ = version("neuronsim")
except PackageNotFoundError:  # pragma: no cover - running from a source tree without install
    __version__ = "0.0.0"

__all__ = [
    "ConfigError",
    "DeadlockError",
    "CollectiveSpec",
    "FixedCost",
    "Future",
    "Neff",
    "NeuronRuntime",
    "Roofline",
    "Simulator",
    "NeuronSimError",
    "NrtError",
    "Topology",
    "Violation",
    "__version__",
    "check_invariants",
    "load_topology",
    "nrt",
    "preset_names",
]
