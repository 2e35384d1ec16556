"""The one trace writer: the bytes of json.dumps(trace, sort_keys=True), streamed; gzip for .gz names."""

from __future__ import annotations

import gzip
import json
from pathlib import Path

import pytest

from neuronsim.cli import main
from neuronsim.trace.writer import TraceWriter, write_trace

ROOT = Path(__file__).parents[1]
TRACE = {"traceEvents": [{"ph": "X", "pid": 0, "tid": 1, "name": "a \u00e9", "ts": 1.5, "dur": 0.001, "args": {"z": 1, "b": [None]}},
                         {"ph": "M", "pid": 0, "tid": 0, "name": "process_name", "args": {"name": "host"}}],
         "displayTimeUnit": "ns", "otherData": {"seed": 0, "instance": "trn1.2xlarge"}}


def _dumps(trace):
    return (json.dumps(trace, sort_keys=True, separators=(",", ":")) + "\n").encode()


@pytest.mark.parametrize("trace", [TRACE, {"traceEvents": []}, {"traceEvents": [], "displayTimeUnit": "ns"}])
def test_the_writer_gives_the_bytes_of_one_json_dumps(trace, tmp_path):
    assert write_trace(trace, tmp_path / "t.json").read_bytes() == _dumps(trace)


def test_a_gz_name_is_written_gzip_compressed_and_deterministic(tmp_path):
    a = write_trace(TRACE, tmp_path / "a" / "t.json.gz").read_bytes()
    b = write_trace(TRACE, tmp_path / "b" / "t.json.gz").read_bytes()
    assert a[:2] == b"\x1f\x8b" and a == b  # no time or file name in the header
    assert gzip.decompress(a) == _dumps(TRACE)


def test_a_failed_write_leaves_no_file(tmp_path):
    path = tmp_path / "t.json"
    with pytest.raises(RuntimeError), TraceWriter(path, {"displayTimeUnit": "ns"}) as out:
        out.event({"ph": "i"})
        raise RuntimeError("boom")
    assert not path.exists()


def test_neuronsim_run_writes_a_gz_trace_when_asked(tmp_path, capsys):
    path = ROOT / "examples" / "workloads" / "llm-decode.yaml"
    assert main(["run", str(path), "--set", "threads.0.iterations=2", "--no-progress",
                 "--trace", str(tmp_path / "t.json.gz")]) == 0
    assert main(["run", str(path), "--set", "threads.0.iterations=2", "--no-progress",
                 "--trace", str(tmp_path / "t.json")]) == 0
    capsys.readouterr()
    assert gzip.decompress((tmp_path / "t.json.gz").read_bytes()) == (tmp_path / "t.json").read_bytes()
    assert json.loads((tmp_path / "t.json").read_text())["traceEvents"]
