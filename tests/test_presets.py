"""Every preset against the figures of reference/hardware.md."""

from __future__ import annotations

import pytest

from neuronsim.errors import ConfigError
from neuronsim.idlist import parse_id_list
from neuronsim.topology import load_spec, load_topology, preset_names
from neuronsim.units import GiB

EXPECTED = {
    # name: (devices, logical cores at default LNC, HBM per device GiB, link degree, NUMA nodes, vCPUs, EFA devices)
    "trn1.2xlarge": (1, 2, 32, 0, 1, 8, 0),
    "trn1.32xlarge": (16, 32, 32, 4, 2, 128, 8),
    "trn1n.32xlarge": (16, 32, 32, 4, 2, 128, 16),
    "inf2.xlarge": (1, 2, 32, 0, 1, 4, 0),
    "inf2.8xlarge": (1, 2, 32, 0, 1, 32, 0),
    "inf2.24xlarge": (6, 12, 32, None, 2, 96, 0),
    "inf2.48xlarge": (12, 24, 32, 2, 4, 192, 0),
    "trn2.3xlarge": (1, 4, 96, 0, 1, 12, 0),  # issue #18: one device, 4 logical cores at LNC=2, 96 GB
    "trn2.48xlarge": (16, 64, 96, 4, 2, 192, 16),
    "trn2u.48xlarge": (16, 64, 96, 4, 2, 192, 16),
}


def test_the_preset_list():
    assert set(preset_names()) == set(EXPECTED) | {"trn2-ultraserver"}


@pytest.mark.parametrize("name", sorted(EXPECTED))
def test_preset_figures(name):
    devices, cores, hbm_gib, degree, numa, vcpus, efa = EXPECTED[name]
    topo = load_topology(name)
    spec = topo.spec
    assert topo.num_devices == devices
    assert len(topo.logical_cores) == cores
    assert spec.chip.hbm_bytes == hbm_gib * GiB
    assert len(spec.host.numa_nodes) == numa
    assert spec.host.vcpus == vcpus
    assert (len(spec.efa.devices) if spec.efa else 0) == efa
    if degree is not None:
        assert {len(d.connected) for d in spec.devices} == {degree}
    all_cpus = sorted(c for node in spec.host.numa_nodes for c in parse_id_list(node.cpus))
    assert all_cpus == list(range(vcpus))


def test_torus_neighbours_are_row_and_column():
    for name in ("trn1.32xlarge", "trn2.48xlarge"):
        for dev in load_spec(name).devices:
            d = dev.index
            row, col = divmod(d, 4)
            expected = {row * 4 + (col + 1) % 4, row * 4 + (col - 1) % 4, (d + 4) % 16, (d - 4) % 16}
            assert set(dev.connected) == expected


def test_inf2_48_is_a_ring_of_12():
    for dev in load_spec("inf2.48xlarge").devices:
        assert set(dev.connected) == {(dev.index + 1) % 12, (dev.index - 1) % 12}


def test_inf2_24_is_a_chain_of_6():
    topo = load_topology("inf2.24xlarge")
    assert topo.links() == [(0, 1), (1, 2), (2, 3), (3, 4), (4, 5)]
    degrees = [len(d.connected) for d in topo.spec.devices]
    assert degrees == [1, 2, 2, 2, 2, 1]


def test_numa_layouts():
    trn1 = load_spec("trn1.32xlarge")
    assert [d.numa_node for d in trn1.devices] == [0, 0, 1, 1, 0, 0, 1, 1, 0, 0, 1, 1, 0, 0, 1, 1]
    inf2 = load_spec("inf2.48xlarge")
    assert [d.numa_node for d in inf2.devices] == [2, 3, 2, 3, 2, 3, 1, 1, 0, 0, 0, 1]
    trn2 = load_spec("trn2.48xlarge")
    assert [d.numa_node for d in trn2.devices] == [1, 1, 1, 1] + [0] * 8 + [1, 1, 1, 1]
    for spec in (trn1, inf2, trn2):
        for dev in spec.devices:
            node = next(n for n in spec.host.numa_nodes if n.id == dev.numa_node)
            assert dev.cpu_affinity == node.cpus


def test_trn2_lnc():
    assert len(load_topology("trn2.48xlarge").logical_cores) == 64
    lnc1 = load_topology("trn2.48xlarge", lnc=1)
    assert len(lnc1.logical_cores) == 128
    assert lnc1.cores_of_device(4)[0].id == 32
    lnc2 = load_topology("trn2.48xlarge", lnc=2)
    core = lnc2.cores_of_device(4)[1]
    assert (core.id, core.physical_cores, core.hbm_stack) == (17, (2, 3), 1)


def test_ultraserver_is_four_trn2u_with_z_rings():
    topo = load_topology("trn2-ultraserver")
    assert topo.num_instances == 4
    assert topo.spec.name == "trn2u.48xlarge"
    assert topo.num_devices * topo.num_instances == 64
    assert topo.z_ring is not None and topo.z_ring.link_bandwidth_bytes_per_ns == 128.0
    assert len(topo.logical_cores) * topo.num_instances == 256


def test_clusters_of_any_preset():
    topo = load_topology("2x trn1.32xlarge")
    assert (topo.num_instances, topo.spec.name, topo.z_ring) == (2, "trn1.32xlarge", None)
    with pytest.raises(ConfigError, match="no EFA devices"):
        load_topology("2x inf2.48xlarge")


def test_bandwidth_figures():
    trn1 = load_spec("trn1.32xlarge")
    assert trn1.neuronlink.link_bandwidth_bytes_per_ns * 4 == pytest.approx(384 * GiB / 1e9)
    assert trn1.chip.hbm.stack_bandwidth_bytes_per_ns * 2 == pytest.approx(820)
    assert trn1.efa.bandwidth_bytes_per_ns * 8 == pytest.approx(800 / 8)  # 800 Gbps per instance
    trn2 = load_spec("trn2.48xlarge")
    assert trn2.neuronlink.link_bandwidth_bytes_per_ns * 4 == pytest.approx(1024)
    assert trn2.chip.hbm.stack_bandwidth_bytes_per_ns * 4 == pytest.approx(2900)
    assert trn2.efa.bandwidth_bytes_per_ns == pytest.approx(25)  # 200 Gbps
    assert trn2.chip.dma.engines_per_physical_core * trn2.chip.physical_cores + trn2.chip.dma.host_engines == 132
    assert trn2.runtime.queues.model_dump() == {"tensor_op": 2, "compute": 1, "collectives": 3}


def test_every_assumption_is_documented():
    import re
    from pathlib import Path

    from neuronsim.topology.spec import ChipSpec  # noqa: F401 - imported for the side of clarity

    docs = (Path(__file__).parents[1] / "docs" / "assumptions.md").read_text()
    documented = set(re.findall(r"^## (A\d+)\b", docs, flags=re.M))
    used: set[str] = set()
    root = Path(__file__).parents[1] / "neuronsim" / "topologies"
    for path in root.rglob("*.yaml"):
        used |= set(re.findall(r"assumed: (A\d+)", path.read_text()))
    assert used, "the presets should record assumptions"
    assert used <= documented, f"undocumented assumptions: {sorted(used - documented)}"
    # a user may write an assumption in their own words; the shipped files cite one of ours
    for path in root.rglob("*.yaml"):
        for entry in re.findall(r'"(assumed:[^"]*)"', path.read_text()):
            assert re.match(r"assumed: A\d+ ", entry), f"{path.name}: {entry!r} names no assumption id"


def test_trn2_3xlarge_at_both_lnc():
    assert len(load_topology("trn2.3xlarge", lnc=1).logical_cores) == 8
    spec = load_spec("trn2.3xlarge")
    assert spec.nrt_instance_size == 8  # NRT_INSTANCE_SIZE_3XL
    assert spec.neuronlink is None and spec.efa is None
