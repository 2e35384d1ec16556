"""Each kind of bad topology input gets one clear message (file, field path, reason) and exit 2."""

from __future__ import annotations

import pytest
import yaml

from neuronsim.cli import main
from neuronsim.errors import ConfigError
from neuronsim.topology import load_topology, preset_path


def _preset_data(name: str = "trn1.32xlarge") -> dict:
    return yaml.safe_load(preset_path(name).read_text())


def _write(tmp_path, data, name="bad.yaml"):
    path = tmp_path / name
    path.write_text(data if isinstance(data, str) else yaml.safe_dump(data, sort_keys=False))
    return path


def _run_validate(path, capsys, *extra):
    status = main(["validate", str(path), *extra])
    err = capsys.readouterr().err
    return status, err


def _expect(tmp_path, capsys, data, field, reason, *extra):
    path = _write(tmp_path, data)
    status, err = _run_validate(path, capsys, *extra)
    assert status == 2
    assert err.count("\n") == 1, err  # one message
    assert err.startswith(f"neuronsim: error: {path}: {field}: "), err
    assert reason in err
    assert "Traceback" not in err


def test_malformed_yaml(tmp_path, capsys):
    path = _write(tmp_path, "schema_version: 1\nname: x\ndevices: [\n  {index: 0,\n")
    status, err = _run_validate(path, capsys)
    assert status == 2
    assert err.startswith(f"neuronsim: error: {path}: devices[0]: malformed YAML at line 5, column 1: ")
    assert "Traceback" not in err


def test_not_a_mapping(tmp_path, capsys):
    status, err = _run_validate(_write(tmp_path, "- 1\n- 2\n"), capsys)
    assert status == 2 and "must hold a mapping" in err


def test_unknown_key(tmp_path, capsys):
    data = _preset_data()
    data["devices"][3]["colour"] = "blue"
    _expect(tmp_path, capsys, data, "devices[3].colour", "unknown key")


def test_unknown_key_in_a_nested_part(tmp_path, capsys):
    data = _preset_data()
    data["host"]["numa_nodes"][0]["cores"] = 4
    _expect(tmp_path, capsys, data, "host.numa_nodes[0].cores", "unknown key")


def test_link_to_a_device_that_does_not_exist(tmp_path, capsys):
    data = _preset_data()
    data["devices"][2]["connected"] = [14, 1, 6, 17]
    _expect(tmp_path, capsys, data, "devices[2].connected[3]", "device 17 does not exist (devices are 0-15)")


def test_one_way_link(tmp_path, capsys):
    data = _preset_data()
    data["devices"][5]["connected"] = [1, 4, 9]  # drops 6, but 6 still lists 5
    _expect(tmp_path, capsys, data, "devices[6].connected[1]", "one-way link: device 6 lists 5 but device 5 does not list 6")


def test_duplicate_core_ids(tmp_path, capsys):
    data = _preset_data()
    data["devices"][1]["core_ids"] = "0-1"
    _expect(tmp_path, capsys, data, "devices[1].core_ids", "core id 0 is also on device 0")


def test_non_contiguous_core_ids(tmp_path, capsys):
    data = _preset_data()
    data["devices"][1]["core_ids"] = "2,4"
    _expect(tmp_path, capsys, data, "devices[1].core_ids", "'2,4' is not contiguous")


def test_cpu_set_outside_the_host(tmp_path, capsys):
    data = _preset_data()
    data["devices"][0]["cpu_affinity"] = "0-31,64-95,128"
    _expect(tmp_path, capsys, data, "devices[0].cpu_affinity", "CPU 128 is outside the host's CPUs (0-127)")


def test_numa_cpu_set_outside_the_host(tmp_path, capsys):
    data = _preset_data()
    data["host"]["numa_nodes"][1]["cpus"] = "32-63,96-130"
    _expect(tmp_path, capsys, data, "host.numa_nodes[1].cpus", "CPU 128 is outside the host's 128 vCPUs (0-127)")


def test_numa_node_that_does_not_exist(tmp_path, capsys):
    data = _preset_data()
    data["devices"][7]["numa_node"] = 3
    _expect(tmp_path, capsys, data, "devices[7].numa_node", "NUMA node 3 does not exist (host has [0, 1])")


def test_bad_unit(tmp_path, capsys):
    data = _preset_data()
    data["neuronlink"]["link_bandwidth_bytes_per_ns"] = "96 GiB"
    _expect(tmp_path, capsys, data, "neuronlink.link_bandwidth_bytes_per_ns", "unknown bandwidth unit 'GiB'")


def test_missing_provenance(tmp_path, capsys):
    data = _preset_data()
    del data["provenance"]["neuronlink.latency_ns"]
    _expect(tmp_path, capsys, data, "provenance.neuronlink.latency_ns", "missing: every parameter needs")


def test_an_assumption_in_the_user_own_words_validates(tmp_path, capsys):
    data = _preset_data()
    data["host"]["provenance"]["pcie_latency_ns"] = "assumed: we measured 1.2 us on our own hosts"
    status, err = _run_validate(_write(tmp_path, data), capsys)
    assert status == 0 and err == ""
    data["host"]["provenance"]["pcie_latency_ns"] = "guessed: 1 us"
    _expect(tmp_path, capsys, data, "host.provenance.pcie_latency_ns",
            "does not start with published:, inferred: or assumed:")
    data["host"]["provenance"]["pcie_latency_ns"] = "assumed:   "
    _expect(tmp_path, capsys, data, "host.provenance.pcie_latency_ns",
            "does not start with published:, inferred: or assumed:")


def test_lnc_other_than_1_or_2(capsys):
    assert main(["ls", "--instance", "trn2.48xlarge", "--lnc", "4"]) == 2
    err = capsys.readouterr().err
    assert err == "neuronsim: error: trn2.48xlarge: lnc: logical NeuronCore config must be 1 or 2, not 4\n"


def test_lnc_that_is_not_a_number(capsys):
    assert main(["ls", "--instance", "trn2.48xlarge", "--lnc", "two"]) == 2
    assert "LNC must be 1 or 2, not 'two'" in capsys.readouterr().err


def test_lnc_on_an_instance_that_has_none(capsys):
    assert main(["ls", "--instance", "inf2.48xlarge", "--lnc", "2"]) == 2
    err = capsys.readouterr().err
    assert err.startswith("neuronsim: error: inf2.48xlarge: lnc: inf2.48xlarge has no logical NeuronCore config")


def test_unknown_preset_lists_the_known_ones(capsys):
    assert main(["ls", "--instance", "trn3.48xlarge"]) == 2
    err = capsys.readouterr().err
    assert "unknown instance preset 'trn3.48xlarge'; known presets: inf2.24xlarge, inf2.48xlarge," in err
    assert "trn2.48xlarge" in err


def test_missing_file(tmp_path, capsys):
    status, err = _run_validate(tmp_path / "nope.yaml", capsys)
    assert status == 2 and err == f"neuronsim: error: {tmp_path / 'nope.yaml'}: file not found\n"


def test_usage_error_exits_2(capsys):
    assert main(["ls", "--instance", "trn1.2xlarge", "--topology-file", "x.yaml"]) == 2
    assert "argument --topology-file: not allowed with argument --instance" in capsys.readouterr().err


def test_config_error_carries_the_parts():
    with pytest.raises(ConfigError) as info:
        load_topology("trn2.48xlarge", lnc=3)
    issue = info.value.issues[0]
    assert (info.value.source, issue.field) == ("trn2.48xlarge", "lnc")


def test_valid_file_validates(tmp_path, capsys):
    path = _write(tmp_path, _preset_data())
    assert main(["validate", str(path)]) == 0
    assert capsys.readouterr().out == (f"{path}: valid (trn1.32xlarge: 16 devices per instance, 32 logical "
                                       "NeuronCores at LNC=1, 32 NeuronLink links)\n")


def test_show_tree(capsys):
    assert main(["show", "trn2.48xlarge"]) == 0
    out = capsys.readouterr().out
    assert out.startswith("trn2.48xlarge: 16 devices, LNC=2, 64 logical / 128 physical NeuronCores\n")
    assert "nc17 (logical): physical 2-3, hbm stack 1" in out
    assert "neuronlink-v3 torus-2d: 32 links" in out
    assert "numa1: cpus 48-95,144-191, 1 TiB" in out


def test_show_cluster(capsys):
    assert main(["show", "trn2-ultraserver"]) == 0
    out = capsys.readouterr().out
    assert out.startswith("trn2-ultraserver: 4 x trn2u.48xlarge joined by Z rings 128 GB/s, 500 ns, and EFA\n")
