"""Timelines that open right (issue 21, item 7): every flow arrow binds to an enclosing slice in the
pytest plugin's failure traces, the C library's trace (tests/test_capi.py) and workload traces, by the
rules Perfetto's trace processor binds them (neuronsim.trace.check; the ``perfetto`` package's trace
processor downloads a binary on first use, which this offline CI cannot)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from neuronsim.trace.check import flow_problems
from neuronsim.trace.timeline import timeline
from neuronsim.workload.runner import load_python_workload, run_workload
from neuronsim.workload.spec import load_workload

ROOT = Path(__file__).parents[1]


def trace(*events):
    return {"traceEvents": list(events)}


def x(ts, dur, tid=1, name="a"):
    return {"ph": "X", "pid": 1, "tid": tid, "ts": ts, "dur": dur, "name": name}


def flow(ph, ts, tid=1, **extra):
    return {"ph": ph, "pid": 1, "tid": tid, "ts": ts, "id": 7, "cat": "request", "name": "request", **extra}


def test_the_check_encodes_perfettos_binding_rules():
    good = trace(x(0, 10), x(20, 10, tid=2), flow("s", 5), flow("f", 25, tid=2, bp="e"))
    assert flow_problems(good) == []
    on_an_instant = trace({"ph": "i", "pid": 1, "tid": 1, "ts": 5, "s": "t", "name": "schedule"}, x(20, 10, tid=2),
                          flow("s", 5), flow("f", 25, tid=2, bp="e"))
    assert flow_problems(on_an_instant) == [
        "flow 7 's' at 5 us on pid 1 tid 1: no slice encloses it (an instant or a zero-length slice does not)"]
    on_an_edge = trace(x(0, 10), x(20, 0, tid=2), flow("s", 10), flow("f", 20, tid=2, bp="e"))
    assert flow_problems(on_an_edge) == [
        "flow 7 's' at 10 us on pid 1 tid 1: no slice encloses it (an instant or a zero-length slice does not)",
        "flow 7 'f' at 20 us on pid 1 tid 2: no slice encloses it (an instant or a zero-length slice does not)"]
    next_slice = trace(x(0, 10), x(20, 10, tid=2), flow("s", 5), flow("f", 25, tid=2))
    assert flow_problems(next_slice) == [
        "flow 7 'f' at 25 us on pid 1 tid 2: binds to the next slice (no \"bp\": \"e\"), not to its enclosing one"]
    unpaired = trace(x(0, 10), flow("s", 5))
    assert flow_problems(unpaired) == ["flow 7 (request/request): phases in time order are ['s'], not one start, "
                                       "steps, one end"]
    overlapping = trace(x(0, 10, name="a"), x(5, 10, name="b"))
    assert flow_problems(overlapping) == ["pid 1 tid 1: slice 'b' [5000, 15000] ns overlaps 'a' [0, 10000] ns without nesting"]


RACY = """
import numpy as np
from neuronsim import nrt

def test_racy(neuron_sim):
    rt = neuron_sim.runtime()
    rt.nrt_init(nrt.NRT_FRAMEWORK_TYPE_NO_FW, "", "")
    t = nrt.Ref()
    rt.nrt_tensor_allocate(nrt.NRT_TENSOR_PLACEMENT_DEVICE, 0, 4096, "buf", t)
    for _ in range(3):
        rt.nrta_tensor_write(t.value, np.ones(4096, np.uint8), 0, 4096, 0, 0, nrt.Ref(), nrt.Ref())
    rt.nrta_tensor_read(np.zeros(4096, np.uint8), t.value, 0, 4096, 0, 1, nrt.Ref(), nrt.Ref())  # no wait
"""


def test_the_plugins_failure_trace_binds_every_flow(pytester):
    pytester.makepyfile(RACY)
    pytester.runpytest("--neuron-trace-dir", "traces").assert_outcomes(failed=1)
    (path,) = (pytester.path / "traces").iterdir()
    events = json.loads(path.read_text())["traceEvents"]
    assert flow_problems({"traceEvents": events}) == []
    starts = [e for e in events if e["ph"] == "s"]
    assert len(starts) == 4  # one arrow per request, from its schedule call's slice
    calls = [e for e in events if e["ph"] == "X" and e["cat"] == "api"]
    assert [c["dur"] for c in calls] == [2.0] * 4  # each schedule call's 2 us host cost (A5), one after the other
    assert all(c["name"].startswith("schedule tensor_") for c in calls)


@pytest.mark.parametrize("path", ["dp-training.yaml", "llm-decode.yaml", "inference-server.yaml"])
def test_workload_traces_bind_every_flow(path):
    overrides = [] if path == "inference-server.yaml" else ["threads.0.iterations=2"]
    run = run_workload(load_workload(ROOT / "examples" / "workloads" / path, overrides),
                       until_ns=20_000_000 if path == "inference-server.yaml" else None, records=True)
    events = timeline(run)["traceEvents"]
    assert flow_problems({"traceEvents": events}) == []
    finished = [r for r in run.requests if r.completions and r.end_ns > r.start_ns and r.end_ns <= run.sim.now_ns]
    assert sum(1 for e in events if e["ph"] == "s") == len(finished)  # every finished request has its arrow


def test_a_python_workloads_trace_binds_every_flow():
    run = run_workload(load_python_workload(f"{ROOT / 'examples' / 'workloads' / 'serving_loop.py'}:workload"),
                       instance="inf2.xlarge", records=True)
    events = timeline(run)["traceEvents"]
    assert flow_problems({"traceEvents": events}) == []
    assert sum(1 for e in events if e["ph"] == "s") == len(run.requests) == 1200
    assert any(e.get("args", {}).get("name") == "runtime (no workload thread)" for e in events if e["ph"] == "M")
