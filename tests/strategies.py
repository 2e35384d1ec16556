"""Shared hypothesis strategies for neuronsim's own tests."""

from __future__ import annotations

import yaml
from hypothesis import strategies as st

from neuronsim.idlist import format_id_list
from neuronsim.topology import preset_path
from neuronsim.topology.spec import InstanceSpec


def _chip(name: str) -> dict:
    return yaml.safe_load((preset_path("trn1.2xlarge").parent / "chips" / f"{name}.yaml").read_text())


def _runtime() -> dict:
    return yaml.safe_load((preset_path("trn1.2xlarge").parent / "runtimes" / "default.yaml").read_text())


@st.composite
def instance_specs(draw) -> InstanceSpec:
    """Valid instance specs by construction: 1-16 devices on a ring, a chain or no links,
    1-4 NUMA nodes, trn1 or trn2 chips (so with and without LNC)."""
    chip_name = draw(st.sampled_from(["trainium", "inferentia2", "trainium2"]))
    chip = _chip(chip_name)
    n = draw(st.integers(1, 16))
    shape = "none" if n == 1 else draw(st.sampled_from(["ring", "chain"] if n > 2 else ["chain"]))
    if shape == "ring" and chip["neuronlink_ports"] < 2:
        shape = "chain"
    num_numa = draw(st.integers(1, 4))
    cpus_per_node = draw(st.integers(1, 8))
    vcpus = num_numa * cpus_per_node
    nodes = [{"id": k, "cpus": format_id_list(range(k * cpus_per_node, (k + 1) * cpus_per_node)),
              "memory_bytes": draw(st.integers(1, 64)) * 2**30} for k in range(num_numa)]
    per_device = chip["physical_cores"] // (chip.get("lnc") or {}).get("default", 1)
    devices = []
    for i in range(n):
        if shape == "ring":
            connected = [(i - 1) % n, (i + 1) % n] if n > 2 else [1 - i]
        elif shape == "chain":
            connected = [j for j in (i - 1, i + 1) if 0 <= j < n]
        else:
            connected = []
        node = draw(st.integers(0, num_numa - 1))
        devices.append({"index": i, "core_ids": format_id_list(range(i * per_device, (i + 1) * per_device)),
                        "bdf": f"0000:{i:02x}:1e.0", "cpu_affinity": nodes[node]["cpus"], "numa_node": node,
                        "connected": connected})
    host_prov = {k: "assumed: A2 generated" for k in ("vcpus", "memory_bytes", "pcie_bandwidth_bytes_per_ns",
                                                        "pcie_latency_ns", "numa_remote_bandwidth_factor",
                                                        "numa_remote_latency_ns")}
    data = {
        "schema_version": 1,
        "name": f"gen{n}.{shape}",
        "chip": chip,
        "runtime": _runtime(),
        "devices": devices,
        "host": {"vcpus": vcpus, "memory_bytes": sum(nd["memory_bytes"] for nd in nodes), "numa_nodes": nodes,
                 "pcie_bandwidth_bytes_per_ns": draw(st.sampled_from(["16 GB/s", "32 GB/s", 64.0])),
                 "pcie_latency_ns": draw(st.integers(0, 5000)), "numa_remote_bandwidth_factor": 0.75,
                 "numa_remote_latency_ns": 400, "provenance": host_prov},
    }
    if shape != "none":
        data["neuronlink"] = {"generation": "v2", "topology": shape,
                              "link_bandwidth_bytes_per_ns": draw(st.sampled_from(["96 GiB/s", "256 GB/s", 50])),
                              "latency_ns": draw(st.integers(0, 2000))}
        data["provenance"] = {"neuronlink.link_bandwidth_bytes_per_ns": "assumed: A6 generated",
                              "neuronlink.latency_ns": "assumed: A6 generated"}
    return InstanceSpec.model_validate(data)
