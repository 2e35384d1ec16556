"""The one YAML loader: a duplicate key in every kind of file is an error naming the file, the field,
the line and the key; libyaml and the pure-Python parser give the same data and the same errors."""

from __future__ import annotations

import pytest
import yaml

from neuronsim.cli import main
from neuronsim.errors import ConfigError
from neuronsim.sim.faults import load_fault_plan
from neuronsim.topology import preset_path
from neuronsim.yaml_loader import MAX_DEPTH, MAX_NODES, PARSER, load_yaml_file, load_yaml_text

WORKLOAD = """\
schema_version: 1
name: dup
instance: trn1.2xlarge
models:
  m:
    inputs: {x: 1 KiB}
    outputs: {y: 1 KiB}
    cost: {duration: 10 us}
threads:
  - cores: "0"
    iterations: 2
    in_flight: 2
    program:
      - {write: x}
      - {execute: m}
      - {read: y}
    in_flight: 4
"""


def _error(capsys) -> str:
    err = capsys.readouterr().err
    assert "Traceback" not in err
    assert err.count("\n") == 1, err
    return err


def test_duplicate_key_in_a_topology_file(tmp_path, capsys):
    text = preset_path("trn1.2xlarge").read_text()
    lines = text.splitlines()
    at = next(i for i, line in enumerate(lines) if line.startswith("name:"))
    lines.insert(at + 1, "name: other")
    path = tmp_path / "topo.yaml"
    path.write_text("\n".join(lines) + "\n")
    assert main(["validate", str(path)]) == 2
    assert _error(capsys) == (f"neuronsim: error: {path}: name: duplicate key 'name' at line {at + 2} "
                              f"(first at line {at + 1})\n")


def test_duplicate_key_in_a_nested_topology_field(tmp_path, capsys):
    data = yaml.safe_load(preset_path("trn1.32xlarge").read_text())
    text = yaml.safe_dump(data, sort_keys=False)
    # the third device gets its index twice
    first = text.index("- index: 2\n")
    text = text[:first] + "- index: 2\n  index: 3\n" + text[first + len("- index: 2\n"):]
    line = text[:first].count("\n") + 1
    path = tmp_path / "topo.yaml"
    path.write_text(text)
    assert main(["validate", str(path)]) == 2
    assert _error(capsys) == (f"neuronsim: error: {path}: devices[2].index: duplicate key 'index' at line {line + 1} "
                              f"(first at line {line})\n")


def test_duplicate_key_in_a_cluster_file(tmp_path, capsys):
    path = tmp_path / "cluster.yaml"
    path.write_text("schema_version: 1\nname: c\ninstance: trn1.32xlarge\ncount: 2\ncount: 4\n")
    assert main(["validate", str(path)]) == 2
    assert _error(capsys) == f"neuronsim: error: {path}: count: duplicate key 'count' at line 5 (first at line 4)\n"


def test_duplicate_key_in_a_workload_file(tmp_path, capsys):
    path = tmp_path / "w.yaml"
    path.write_text(WORKLOAD)
    assert main(["run", str(path), "--no-progress"]) == 2
    assert _error(capsys) == (f"neuronsim: error: {path}: threads[0].in_flight: duplicate key 'in_flight' at "
                              "line 17 (first at line 12)\n")


def test_duplicate_key_in_a_set_value(tmp_path, capsys):
    path = tmp_path / "w.yaml"
    path.write_text(WORKLOAD.replace("    in_flight: 4\n", ""))
    assert main(["run", str(path), "--set", "threads.0.arrivals={kind: fixed, kind: closed}"]) == 2
    assert _error(capsys) == (f"neuronsim: error: {path}: --set threads.0.arrivals: kind: duplicate key 'kind' at "
                              "line 1 (first at line 1)\n")


def test_duplicate_key_in_a_sweep_file(tmp_path, capsys):
    (tmp_path / "w.yaml").write_text(WORKLOAD.replace("    in_flight: 4\n", ""))
    path = tmp_path / "s.yaml"
    path.write_text("schema_version: 1\nname: s\nworkload: w.yaml\nparameters:\n  threads.0.in_flight: [1, 2]\n"
                    "  threads.0.in_flight: [4]\n")
    assert main(["sweep", str(path), "--out", str(tmp_path / "r.csv"), "--no-progress"]) == 2
    assert _error(capsys) == (f"neuronsim: error: {path}: parameters.threads.0.in_flight: duplicate key "
                              "'threads.0.in_flight' at line 6 (first at line 5)\n")


def test_duplicate_key_in_a_sweep_s_workload_file(tmp_path, capsys):
    (tmp_path / "w.yaml").write_text(WORKLOAD)
    path = tmp_path / "s.yaml"
    path.write_text("schema_version: 1\nname: s\nworkload: w.yaml\nparameters:\n  threads.0.in_flight: [1, 2]\n")
    assert main(["sweep", str(path), "--out", str(tmp_path / "r.csv"), "--no-progress"]) == 2
    assert _error(capsys) == (f"neuronsim: error: {tmp_path / 'w.yaml'}: threads[0].in_flight: duplicate key "
                              "'in_flight' at line 17 (first at line 12)\n")


def test_duplicate_key_in_a_fault_plan(tmp_path):
    path = tmp_path / "faults.yaml"
    path.write_text("faults:\n  - target: core\n    core: 0\n    core: 1\n    status: NRT_TIMEOUT\n")
    with pytest.raises(ConfigError) as info:
        load_fault_plan(path)
    assert str(info.value) == f"{path}: faults[0].core: duplicate key 'core' at line 4 (first at line 3)"


def test_duplicate_key_in_a_workload_s_inline_fault(tmp_path, capsys):
    path = tmp_path / "w.yaml"
    path.write_text(WORKLOAD.replace("    in_flight: 4\n", "") +
                    "faults:\n  - {target: core, core: 0, status: NRT_TIMEOUT, status: NRT_FAILURE}\n")
    assert main(["run", str(path), "--no-progress"]) == 2
    assert _error(capsys) == (f"neuronsim: error: {path}: faults[0].status: duplicate key 'status' at line 18 "
                              "(first at line 18)\n")


def test_a_merge_key_may_be_overridden():
    text = "base: &b {x: 1, y: 2}\nd:\n  <<: *b\n  x: 3\n"
    assert load_yaml_text(text, "f") == {"base": {"x": 1, "y": 2}, "d": {"x": 3, "y": 2}}


def test_keys_equal_as_values_are_duplicates():
    with pytest.raises(ConfigError, match=r"^f: a\[1\]: duplicate key 1 at line 3 \(first at line 2\)$"):
        load_yaml_text("a:\n  1: x\n  0x1: y\n", "f")


CASES = {
    "deep flow": ("a: " + "[" * 5000 + "]" * 5000, f"f: a: nested deeper than {MAX_DEPTH} levels"),
    "deep block": ("".join("  " * i + "k:\n" for i in range(MAX_DEPTH + 5)), f"f: k: nested deeper than {MAX_DEPTH} levels"),
    "deep by aliases": ("a0: &a1 [1]\n" + "".join(f"a{i}: &a{i + 1} [*a{i}]\n" for i in range(1, MAX_DEPTH + 5)),
                        f"f: a{MAX_DEPTH - 1}: nested deeper than {MAX_DEPTH} levels"),
    "billion laughs": ("a: &a [x,x,x,x,x,x,x,x,x,x]\n" + "".join(
        f"{b}: &{b} [{', '.join([f'*{a}'] * 10)}]\n" for a, b in zip("abcde", "bcdef", strict=True)) +
        "g: [*f, *f, *f, *f, *f, *f, *f, *f, *f, *f]\n",
        f"f: f[7]: more than {MAX_NODES:,} values once aliases are expanded (at line 6, column 36)"),
    "recursive alias": ("a: &a [1, *a]\n", "f: a[1]: alias *a at line 1, column 11 is inside the node it names"),
    "undefined alias": ("a: *zz\n", "f: a: alias *zz at line 1, column 4 names no anchor"),
    "a 5,000-digit integer": ("a: " + "1" * 5000 + "\n", "f: at line 1, column 4: cannot read "
                              "'111111111111111111111111111111'... (5,000 characters): an integer has at most 4,300 digits"),
    "a 13th month": ("a: 2001-13-01\n", "f: at line 1, column 4: cannot read '2001-13-01': month must be in 1..12"),
    "a control character": ("a: b\x07c\n", "f: character U+0007 at line 1, column 5 is not allowed in YAML "
                            "(control characters other than tab and newlines)"),
    "two documents": ("a: 1\n---\nb: 2\n", "f: a second document at line 2, column 1: a file holds one"),
    "a Python object": ("a: !!python/object:os.system x\n", "f: at line 1, column 4: could not determine a "
                        "constructor for the tag 'tag:yaml.org,2002:python/object:os.system'"),
}


@pytest.mark.parametrize("pure", [False, True], ids=["default", "pure-python"])
@pytest.mark.parametrize("name", list(CASES))
def test_the_rules_hold_with_either_parser(name, pure):
    text, message = CASES[name]
    with pytest.raises(ConfigError) as info:
        load_yaml_text(text, "f", pure=pure)
    assert str(info.value) == message


def test_both_parsers_read_every_shipped_file_alike():
    from pathlib import Path

    import neuronsim

    root = Path(neuronsim.__file__).parents[1]
    files = sorted((root / "neuronsim" / "topologies").rglob("*.yaml")) + sorted((root / "examples").rglob("*.yaml"))
    assert len(files) > 15
    for path in files:
        fast, pure = load_yaml_file(path), load_yaml_file(path, pure=True)
        assert fast == pure == yaml.safe_load(path.read_text())


def test_the_default_parser_is_libyaml_when_pyyaml_has_it():
    assert PARSER == ("libyaml" if getattr(yaml, "__with_libyaml__", False) else "python")


def test_not_utf8(tmp_path):
    path = tmp_path / "latin1.yaml"
    path.write_bytes("name: caf\u00e9\n".encode("latin-1"))
    with pytest.raises(ConfigError) as info:
        load_yaml_file(path)
    assert str(info.value) == f"{path}: not UTF-8 text: byte 0xe9 at offset 9 (line 1); save the file as UTF-8"


def test_a_byte_order_mark_is_allowed(tmp_path):
    path = tmp_path / "bom.yaml"
    path.write_bytes(b"\xef\xbb\xbfa: 1\n")
    assert load_yaml_file(path) == {"a": 1}


def test_a_directory_is_not_a_file(tmp_path):
    with pytest.raises(ConfigError, match="is a directory, not a file$"):
        load_yaml_file(tmp_path)
