"""Rendering a topology as ``neuron-ls`` prints it (reference/nrt-api.md §5.1).

Pure functions from a :class:`~neuronsim.topology.model.Topology` to text or JSON-ready data:
the header lines, the boxed table (default, ``--wide`` and ``--topology`` column sets) and the
NeuronLink diagram. Columns are as wide as their widest cell or header word, padded by one
space; headers are centred with the odd space on the right; cells are left-aligned.
"""

from __future__ import annotations

from typing import Any

from neuronsim.idlist import format_id_list
from neuronsim.topology.model import Topology
from neuronsim.units import GiB

__all__ = ["render_ls", "ls_json", "render_table", "render_topology_diagram"]

# (header line 1, header line 2) of every column neuron-ls knows
_HEADERS = {
    "device": ("NEURON", "DEVICE"),
    "cores": ("NEURON", "CORES"),
    "core_ids": ("NEURON", "CORE IDS"),
    "memory": ("NEURON", "MEMORY"),
    "connected": ("CONNECTED", "DEVICES"),
    "bdf": ("PCI", "BDF"),
    "cpu": ("CPU", "AFFINITY"),
    "numa": ("NUMA", "NODE"),
    "pid": ("PID", ""),
    "command": ("COMMAND", ""),
    "version": ("RUNTIME", "VERSION"),
}


def _center(text: str, width: int) -> str:
    pad = width - len(text)
    left = pad // 2
    return " " * left + text + " " * (pad - left)


def render_table(columns: list[str], rows: list[dict[str, str]]) -> list[str]:
    """The boxed table neuron-ls prints, as lines."""
    widths = [max([len(w) for w in _HEADERS[c]] + [len(r[c]) for r in rows]) for c in columns]
    rule = "+" + "+".join("-" * (w + 2) for w in widths) + "+"
    lines = [rule]
    for part in (0, 1):
        lines.append("|" + "|".join(f" {_center(_HEADERS[c][part], w)} " for c, w in zip(columns, widths, strict=True)) + "|")
    lines.append(rule)
    for row in rows:
        lines.append("|" + "|".join(f" {row[c].ljust(w)} " for c, w in zip(columns, widths, strict=True)) + "|")
    lines.append(rule)
    return lines


def _short_bdf(bdf: str) -> str:
    return bdf[5:] if bdf.count(":") == 2 else bdf


def _rows(topo: Topology) -> list[dict[str, str]]:
    per_device = topo.logical_cores_per_device
    memory = f"{topo.spec.chip.hbm_bytes // GiB} GB"
    rows = []
    for dev in topo.spec.devices:
        ids = [core.id for core in topo.cores_of_device(dev.index)]
        rows.append({
            "device": str(dev.index),
            "cores": str(per_device),
            "core_ids": format_id_list(ids),
            "memory": memory,
            "connected": ", ".join(str(p) for p in dev.connected),
            "bdf": dev.bdf,
            "cpu": dev.cpu_affinity,
            "numa": str(dev.numa_node),
            "pid": "NA",
            "command": "NA",
            "version": "NA",
        })
    return rows


def _header(topo: Topology) -> list[str]:
    lines = [f"instance-type: {topo.spec.name}", f"instance-id: {topo.spec.display_instance_id}"]
    if topo.shows_lnc:
        lines.append(f"logical-neuroncore-config: {topo.lnc}")
    return lines


def render_ls(topo: Topology, *, wide: bool = False, topology: bool = False) -> str:
    """What ``neuron-ls`` prints on this instance (``--wide`` / ``--topology`` as the flags)."""
    rows = _rows(topo)
    multi = topo.num_devices > 1
    if wide:
        columns = ["device", "cores", "memory", "connected", "bdf", "pid", "command", "version"]
    elif topology:
        columns = ["device", "cores", "memory", "connected", "bdf"]
    else:
        columns = ["device", "cores", "core_ids", "memory", "connected", "bdf", "cpu", "numa"]
    if not multi:
        columns.remove("connected")
    if wide or topology:
        for row in rows:
            row["bdf"] = _short_bdf(row["bdf"])
    lines = _header(topo) + render_table(columns, rows)
    if topology and multi:
        lines += render_topology_diagram(topo)
    return "\n".join(lines) + "\n"


def ls_json(topo: Topology) -> list[dict[str, Any]]:
    """``neuron-ls --json-output``: one object per device with the documented keys."""
    out = []
    memory = topo.spec.chip.hbm_bytes
    for dev in topo.spec.devices:
        out.append({
            "neuron_device": dev.index,
            "bdf": dev.bdf,
            "cpu_affinity": dev.cpu_affinity,
            "numa_node": str(dev.numa_node),
            "connected_to": list(dev.connected) if dev.connected else None,
            "nc_count": topo.logical_cores_per_device,
            "logical_neuroncore_config": topo.lnc,
            "memory_size": memory,
            "neuroncore_ids": [core.id for core in topo.cores_of_device(dev.index)],
            "neuron_processes": [],
        })
    return out


def _box(index: int) -> str:
    return f"[{index:^3}]"


def render_topology_diagram(topo: Topology) -> list[str]:
    """The ``Neuron Device Topology`` drawing: the 4x4 torus grid, a ring, or a chain."""
    shape = topo.spec.neuronlink.topology if topo.spec.neuronlink else "none"
    n = topo.num_devices
    if shape == "torus-2d":
        side = int(round(n ** 0.5))
        grid = [list(range(r * side, (r + 1) * side)) for r in range(side)]
    else:
        grid = [list(range(n))]
    wrap = shape in ("torus-2d", "ring")
    lines = ["Neuron Device Topology"]

    def column_marks(mark: str) -> str:
        return "      " + "        ".join(mark for _ in grid[0])

    def row_line(devices: list[int]) -> str:
        body = "◄––►".join(_box(d) for d in devices)
        return f"*––►{body}◄––*" if wrap else f"    {body}"

    vertical = shape == "torus-2d"
    for r, devices in enumerate(grid):
        if vertical:
            if r == 0:
                lines += [column_marks("*"), column_marks("│"), column_marks("▼")]
            else:
                lines += [column_marks("▲"), column_marks("│"), column_marks("▼")]
        lines.append(row_line(devices))
    if vertical:
        lines += [column_marks("▲"), column_marks("│"), column_marks("*")]
    if wrap:
        lines += ["", "*––► = Wrap-around link"]
    return lines
