"""`neuronsim ls` against the published neuron-ls tables and golden files."""

from __future__ import annotations

import json

import pytest

from neuronsim.cli import main
from neuronsim.topology import load_topology
from neuronsim.topology.neuronls import render_ls
from tests.data.published_neuron_ls import PUBLISHED_TABLES, TRN1_2XLARGE_VERBATIM, TRN2_VERBATIM


def _cells(line: str) -> list[str]:
    return [cell.strip() for cell in line.strip().strip("|").split("|")]


def _data_rows(text: str) -> list[list[str]]:
    return [_cells(line) for line in text.splitlines() if line.startswith("| ") and line[2].isdigit()]


@pytest.mark.parametrize("name", sorted(PUBLISHED_TABLES))
def test_rows_equal_the_published_table_cell_for_cell(name):
    ours = _data_rows(render_ls(load_topology(name)))
    published = _data_rows(PUBLISHED_TABLES[name])
    assert ours == published


def test_trn2_table_lines_are_verbatim():
    ours = render_ls(load_topology("trn2.48xlarge")).splitlines()
    published = TRN2_VERBATIM.splitlines()
    assert ours[0] == "instance-type: trn2.48xlarge"  # the docs' "trn2n" label is a typo (hardware.md §11)
    assert ours[1].startswith("instance-id: i-")
    assert ours[2] == published[2] == "logical-neuroncore-config: 2"
    for line in published[3:]:
        assert line in ours


def test_single_device_instance_is_verbatim_except_the_instance_id():
    ours = render_ls(load_topology("trn1.2xlarge")).splitlines()
    published = TRN1_2XLARGE_VERBATIM.splitlines()
    assert len(ours) == len(published)
    assert ours[0] == published[0]
    assert ours[2:] == published[2:]


def test_instance_id_is_stable_and_fake():
    a = load_topology("trn1.32xlarge").spec.display_instance_id
    assert a == load_topology("trn1.32xlarge").spec.display_instance_id
    assert a.startswith("i-") and len(a) == 19
    assert a != load_topology("trn2.48xlarge").spec.display_instance_id


@pytest.mark.parametrize(
    ("argv", "golden_name"),
    [
        (["ls", "--instance", "trn1.32xlarge"], "ls-trn1.32xlarge.txt"),
        (["ls", "--instance", "inf2.48xlarge"], "ls-inf2.48xlarge.txt"),
        (["ls", "--instance", "trn2.48xlarge"], "ls-trn2.48xlarge.txt"),
        (["ls", "--instance", "trn2.48xlarge", "--lnc", "1"], "ls-trn2.48xlarge-lnc1.txt"),
        (["ls", "--instance", "trn1.2xlarge"], "ls-trn1.2xlarge.txt"),
        (["ls", "--instance", "trn1.32xlarge", "--topology"], "ls-trn1.32xlarge-topology.txt"),
        (["ls", "--instance", "inf2.24xlarge", "--wide"], "ls-inf2.24xlarge-wide.txt"),
    ],
)
def test_ls_golden(argv, golden_name, capsys, golden):
    assert main(argv) == 0
    golden(golden_name, capsys.readouterr().out)


def test_lnc1_doubles_cores_and_renumbers():
    rows = _data_rows(render_ls(load_topology("trn2.48xlarge", lnc=1)))
    assert rows[0][1:3] == ["8", "0-7"]
    assert rows[15][1:3] == ["8", "120-127"]


def test_json_has_the_documented_keys(capsys):
    assert main(["ls", "--instance", "trn2.48xlarge", "--json"]) == 0
    data = json.loads(capsys.readouterr().out)
    assert len(data) == 16
    first = data[0]
    assert set(first) == {"neuron_device", "bdf", "cpu_affinity", "numa_node", "connected_to", "nc_count",
                          "logical_neuroncore_config", "memory_size", "neuroncore_ids", "neuron_processes"}
    assert first["memory_size"] == 103079215104  # the documented 96 GiB
    assert first["numa_node"] == "1"
    assert first["connected_to"] == [12, 3, 4, 1]
    assert first["nc_count"] == 4 and first["neuroncore_ids"] == [0, 1, 2, 3]
    assert first["logical_neuroncore_config"] == 2


def test_topology_file_renders_like_the_preset(capsys, tmp_path):
    from neuronsim.topology import preset_path

    text = preset_path("trn1.32xlarge").read_text().replace("chip: trainium", "chip: trainium")
    path = tmp_path / "mine.yaml"
    path.write_text(text)
    assert main(["ls", "--topology-file", str(path)]) == 0
    mine = capsys.readouterr().out
    assert main(["ls", "--instance", "trn1.32xlarge"]) == 0
    assert mine == capsys.readouterr().out


def test_python_dash_m_runs_the_cli():
    import subprocess
    import sys

    out = subprocess.run([sys.executable, "-m", "neuronsim", "ls", "--instance", "trn1.2xlarge"],
                         capture_output=True, text=True, check=True).stdout
    assert out.startswith("instance-type: trn1.2xlarge\n")


def test_a_topology_file_that_does_not_exist_is_file_not_found(capsys):
    """A path (it has a /) is a file, never a preset's name: it said "unknown instance preset '/nonexist'"."""
    assert main(["ls", "--topology-file", "/nonexistent/instance"]) == 2
    assert "/nonexistent/instance: file not found" in capsys.readouterr().err
