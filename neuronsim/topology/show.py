"""``neuronsim show``: a topology as a tree of devices, logical and physical cores, links, NUMA nodes."""

from __future__ import annotations

from neuronsim.idlist import format_id_list
from neuronsim.text import plural
from neuronsim.topology.model import Topology
from neuronsim.units import format_bytes

__all__ = ["render_tree"]

_Node = tuple[str, list["_Node"]]  # (label, children)


def _bw(bytes_per_ns: float) -> str:
    return f"{bytes_per_ns:g} GB/s"


def _tree(label: str, children: list[_Node]) -> list[str]:
    """Lines of a tree whose nodes are ``(label, children)`` pairs."""
    lines = [label]

    def walk(nodes: list[_Node], prefix: str) -> None:
        for i, (text, kids) in enumerate(nodes):
            last = i == len(nodes) - 1
            lines.append(f"{prefix}{'└── ' if last else '├── '}{text}")
            walk(kids, prefix + ("    " if last else "│   "))

    walk(children, "")
    return lines


def render_tree(topo: Topology) -> str:
    """A text tree of the instance (and cluster) ``topo`` describes."""
    spec = topo.spec
    chip = spec.chip
    physical = chip.physical_cores * topo.num_devices
    host = spec.host
    host_node: _Node = (f"host: {host.vcpus} vCPUs, {format_bytes(host.memory_bytes)}, PCIe "
                 f"{_bw(host.pcie_bandwidth_bytes_per_ns)} per device",
                 [(f"numa{node.id}: cpus {node.cpus}, {format_bytes(node.memory_bytes)}", [])
                  for node in host.numa_nodes])
    devices: list[_Node] = []
    for dev in spec.devices:
        cores: list[_Node] = []
        for core in topo.cores_of_device(dev.index):
            cores.append((f"nc{core.id} (logical): physical {format_id_list(core.physical_cores)}, "
                          f"hbm stack {core.hbm_stack}", []))
        numa = f"numa{dev.numa_node}" if dev.numa_node >= 0 else "numa -1"
        devices.append((f"dev{dev.index}: {chip.name} ({chip.nc_version}), {dev.bdf}, {numa}, cpus "
                        f"{dev.cpu_affinity}, HBM {format_bytes(chip.hbm_bytes)} in {chip.hbm.stacks} stacks, "
                        f"{chip.dma.engines_per_physical_core * chip.physical_cores}+{chip.dma.host_engines} "
                        f"DMA engines", cores))
    children = [host_node, (f"devices ({topo.num_devices})", devices)]
    if spec.neuronlink is not None:
        link = spec.neuronlink
        pairs: list[_Node] = [(f"dev{a} <-> dev{b}", []) for a, b in topo.links()]
        children.append((f"neuronlink-{link.generation} {link.topology}: {plural(len(pairs), 'link')}, "
                         f"{_bw(link.link_bandwidth_bytes_per_ns)} per direction, {link.latency_ns} ns", pairs))
    if spec.efa is not None:
        efa = spec.efa
        children.append((f"efa: {plural(len(efa.devices), 'device')}, {_bw(efa.bandwidth_bytes_per_ns)} each, "
                         f"{efa.latency_ns} ns",
                         [(f"{e.bdf}: devices {', '.join(map(str, e.devices))}", []) for e in efa.devices]))
    devices_line = (f"{plural(topo.num_devices, 'device')}, LNC={topo.lnc}, {len(topo.logical_cores)} logical / "
                    f"{physical} physical NeuronCores")
    head = f"{topo.name}: {devices_line}"
    if topo.cluster is not None:
        z = topo.z_ring
        joined = (f"Z rings {_bw(z.link_bandwidth_bytes_per_ns)}, {z.latency_ns} ns, and EFA" if z
                  else "EFA")
        head = (f"{topo.name}: {topo.num_instances} x {spec.name} joined by {joined}\n"
                f"each instance: {devices_line}")
    return "\n".join(_tree(head, children)) + "\n"
