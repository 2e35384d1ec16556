"""Property tests of the topology layer: round trip, link symmetry, contiguous core ids."""

from __future__ import annotations

import pytest
from hypothesis import given

from neuronsim.testing.strategies import topologies as instance_specs
from neuronsim.topology import load_spec, load_topology, preset_names
from neuronsim.topology.model import Topology
from neuronsim.topology.spec import ClusterSpec, InstanceSpec


def _round_trip(spec):
    model = type(spec)
    assert model.model_validate(spec.model_dump()) == spec
    assert model.model_validate_json(spec.model_dump_json()) == spec


@pytest.mark.parametrize("name", preset_names())
def test_presets_round_trip(name):
    _round_trip(load_spec(name))


def _check_links(spec: InstanceSpec) -> None:
    for dev in spec.devices:
        for peer in dev.connected:
            assert dev.index in spec.devices[peer].connected


def _check_core_ids(topo: Topology) -> None:
    ids = [core.id for core in topo.logical_cores]
    assert ids == list(range(len(ids)))
    for dev in topo.spec.devices:
        dev_ids = [c.id for c in topo.cores_of_device(dev.index)]
        assert dev_ids == list(range(dev_ids[0], dev_ids[0] + topo.logical_cores_per_device))
        physical = sorted(p for c in topo.cores_of_device(dev.index) for p in c.physical_cores)
        assert physical == list(range(topo.spec.chip.physical_cores))


@given(instance_specs())
def test_generated_specs_round_trip_and_are_consistent(spec):
    _round_trip(spec)
    _check_links(spec)
    allowed = spec.chip.lnc.allowed if spec.chip.lnc else (None,)
    for lnc in allowed:
        _check_core_ids(load_topology(spec, lnc=lnc))


@pytest.mark.parametrize("name", preset_names())
def test_presets_links_symmetric_and_core_ids_contiguous_under_every_lnc(name):
    spec = load_spec(name)
    instance = spec.instance if isinstance(spec, ClusterSpec) else spec
    _check_links(instance)
    for lnc in (instance.chip.lnc.allowed if instance.chip.lnc else (None,)):
        _check_core_ids(load_topology(spec, lnc=lnc))
