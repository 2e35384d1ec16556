"""Topology layer: validated specs of Neuron instances, presets, LNC resolution, neuron-ls rendering."""

from neuronsim.topology.load import cluster_of, load_spec, load_topology, preset_names, preset_path
from neuronsim.topology.model import LogicalCore, Topology, resolve_lnc
from neuronsim.topology.spec import ClusterSpec, InstanceSpec, TopologySpec

__all__ = [
    "ClusterSpec",
    "InstanceSpec",
    "LogicalCore",
    "Topology",
    "TopologySpec",
    "cluster_of",
    "load_spec",
    "load_topology",
    "preset_names",
    "preset_path",
    "resolve_lnc",
]
