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


def test_every_trace_uses_one_pid_and_tid_scheme():
    """A queue's track has the same pid, tid and names in a workload timeline and in a direct-mode trace."""
    import neuronsim
    from neuronsim.nrt import Ref
    from neuronsim.runtime.neff import Neff
    from neuronsim.trace.chrome import chrome_trace
    from neuronsim.trace.timeline import timeline
    from neuronsim.workload.runner import run_workload
    from neuronsim.workload.spec import load_workload

    def tracks(trace):
        names = {(e["pid"], e["tid"]): e["args"]["name"] for e in trace["traceEvents"]
                 if e["ph"] == "M" and e["name"] in ("process_name", "thread_name")}
        return {(names[(e["pid"], 0)], names[(e["pid"], e["tid"])], e["pid"], e["tid"])
                for e in trace["traceEvents"] if e["ph"] == "X" and e["cat"] == "execute"}

    spec = load_workload({"schema_version": 1, "name": "one", "instance": "trn1.2xlarge",
                          "models": {"m": {"inputs": {"x": "1 KiB"}, "outputs": {"y": "1 KiB"},
                                           "cost": {"duration": "10 us"}}},
                          "threads": [{"cpus": "0", "cores": "1", "iterations": 1, "program": [{"execute": "m"}]}]})
    from_run = tracks(timeline(run_workload(spec, records=True)))
    sim = neuronsim.Simulator("trn1.2xlarge", record=True)
    rt = sim.runtime()
    assert rt.nrt_init(1, "", "") == 0
    model, ins, outs = Ref(), Ref(), Ref()
    neff = Neff({"x": ((256,), "float32")}, {"y": ((256,), "float32")}, duration_ns=10_000, name="m.neff")
    assert rt.nrt_load(neff, 1, 1, model) == 0
    for io, ref in (("x", ins), ("y", outs)):
        tensor = Ref()
        assert rt.nrt_tensor_allocate(0, 1, 1024, io, tensor) == 0
        assert rt.nrt_allocate_tensor_set(ref) == 0
        assert rt.nrt_add_tensor_to_tensor_set(ref.value, io, tensor.value) == 0
    assert rt.nrt_execute(model.value, ins.value, outs.value) == 0
    direct = tracks(chrome_trace(sim))
    assert from_run == {("dev0 nc1", "xu.compute.0", 102, 1)}
    assert {(p, pid) for p, _, pid, _ in direct} == {("dev0 nc1", 102)}  # the same core process, the same pid
