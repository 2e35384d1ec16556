"""neuronsim: a hardware-faithful discrete-event simulator of AWS Neuron devices and the Neuron Runtime API."""

from neuronsim import nrt
from neuronsim.errors import ConfigError, DeadlockError, NeuronSimError, NrtError
from neuronsim.facade import Future, NeuronRuntime
from neuronsim.invariants import Violation, check_invariants
from neuronsim.sim.events import EventFd
from neuronsim.runtime.neff import CollectiveSpec, FixedCost, Neff, Roofline
from neuronsim.api.nrta import NrtRuntime
from neuronsim.api.nrta_2_28 import NrtRuntime228
from neuronsim.runtime.objects import Model, Tensor, TensorInfo, TensorInfoArray, TensorSet
from neuronsim.api.base import RuntimeBase
from neuronsim.simulator import Simulator
from neuronsim.threads import HostThread
from neuronsim.topology import Topology, load_topology, preset_names
from neuronsim.version import __version__

__all__ = [
    "ConfigError",
    "DeadlockError",
    "EventFd",
    "HostThread",
    "Model",
    "NrtRuntime",
    "NrtRuntime228",
    "RuntimeBase",
    "Tensor",
    "TensorInfo",
    "TensorInfoArray",
    "TensorSet",
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
