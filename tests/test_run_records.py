"""A run keeps what was asked for (A116): folded channel logs give the same summary, bit for bit."""

from __future__ import annotations

import dataclasses
from pathlib import Path

import pytest

from neuronsim.hw.channel import channel_busy_ns
from neuronsim.workload import runner
from neuronsim.workload.metrics import summary
from neuronsim.workload.runner import run_workload
from neuronsim.workload.spec import load_workload

ROOT = Path(__file__).parents[1]
CASES = [("llm-decode.yaml", ["threads.0.iterations=6"], None),
         ("inference-server.yaml", [f"threads.{t}.iterations=40" for t in range(4)], None),
         ("inference-server.yaml", [f"threads.{t}.iterations=40" for t in range(4)], 7_000_000),
         ("dp-training.yaml", ["threads.0.iterations=2"], None)]


@pytest.mark.parametrize(("name", "sets", "until"), CASES, ids=["decode", "server", "server-until", "training"])
def test_folded_logs_give_the_summary_of_whole_logs(name, sets, until, monkeypatch):
    monkeypatch.setattr(runner, "COMPACT_EVERY", 37)  # fold often, at odd places
    monkeypatch.setattr(runner, "PROGRESS_EVERY", 37)
    spec = load_workload(ROOT / "examples" / "workloads" / name, sets)
    whole = run_workload(spec, until_ns=until, records=True)
    folded = run_workload(spec, until_ns=until)
    assert whole.events == folded.events and whole.end_ns == folded.end_ns
    meters = folded.meters
    assert meters is not None and meters.fold
    channels = meters.channels
    folded_count = sum(m.folded for m in meters._meters.values())  # noqa: SLF001
    assert folded_count > 0  # something was folded...
    kept = sum(len(c.log) for c in channels)
    assert kept < sum(len(c.log) for c in whole.meters.channels)  # ... and dropped
    assert summary(folded) == summary(whole)  # the same floats, not only the same text
    # ... as the figures computed from every request and every whole log
    assert summary(folded) == summary(dataclasses.replace(whole, stats=None, meters=None))
    assert folded.requests == [] and folded.calls == [] and len(whole.requests) > 0
    for a, b in zip(whole.meters.channels, channels, strict=True):
        assert meters.busy_ns(b, folded.start_ns, folded.end_ns) == channel_busy_ns(a, whole.start_ns, whole.end_ns)


def test_a_run_without_records_cannot_be_traced():
    from neuronsim.trace.timeline import timeline

    spec = load_workload(ROOT / "examples" / "workloads" / "llm-decode.yaml", ["threads.0.iterations=1"])
    with pytest.raises(ValueError, match=r"records=True"):
        timeline(run_workload(spec))


def test_a_degrade_fault_keeps_the_logs_whole():
    spec = load_workload(ROOT / "examples" / "workloads" / "llm-decode.yaml", ["threads.0.iterations=1"])
    spec = spec.model_copy(update={"faults": (*spec.faults, _degrade())})
    run = run_workload(spec)
    assert run.meters is not None and not run.meters.fold


def _degrade():
    from neuronsim.sim.faults import FaultSpec

    return FaultSpec(target="hbm", device=0, stack=0, degrade=2.0, at_ns=1_000_000)


def test_a_python_workload_is_summarised_from_its_runtimes_requests():
    from neuronsim.workload.runner import load_python_workload

    fn = load_python_workload(f"{ROOT / 'examples' / 'workloads' / 'serving_loop.py'}:workload")
    kept = run_workload(fn, instance="inf2.xlarge", records=True)
    folded = run_workload(fn, instance="inf2.xlarge")
    assert summary(folded) == summary(dataclasses.replace(kept, stats=None, meters=None))
    assert folded.requests == [] and len(kept.requests) == 1200


@pytest.mark.parametrize("seed", range(12))
def test_quantiles_are_numpys_nearest_percentiles_while_exact(seed):
    import numpy as np

    from neuronsim.workload.metrics import _percentiles
    from neuronsim.workload.record import Quantiles

    rng = np.random.default_rng(seed)
    n = int(rng.integers(1, 3000))
    values = [int(v) for v in rng.integers(0, int(rng.choice([3, 50, 10**6, 10**12])), n)]
    q = Quantiles()
    for v in values:
        q.add(v)
    assert q.exact and q.percentiles() == _percentiles(values)


def test_quantiles_beyond_the_exact_limit_are_within_their_bound(monkeypatch):
    import numpy as np

    from neuronsim.workload import record
    from neuronsim.workload.metrics import _percentiles

    monkeypatch.setattr(record, "EXACT_VALUES", 500)
    rng = np.random.default_rng(7)
    values = [int(v) for v in rng.lognormal(12, 2, 20_000)]
    q = record.Quantiles()
    for v in values:
        q.add(v)
    assert not q.exact and len(q.counts) < 20_000
    got, exact = q.percentiles(), _percentiles(values)
    assert got["mean_ns"] == exact["mean_ns"]  # the mean stays exact
    for key in ("p50_ns", "p90_ns", "p99_ns"):
        assert abs(got[key] - exact[key]) <= exact[key] * 2**-12, key  # A117's bound


@pytest.mark.parametrize(("name", "sets", "until", "degrade"), [(*case, False) for case in CASES] +
                         [(*CASES[0], True)], ids=["decode", "server", "server-until", "training", "degrade"])
def test_a_streamed_trace_has_the_events_of_the_timeline(name, sets, until, degrade, monkeypatch, tmp_path):
    import collections
    import json

    from neuronsim.trace.check import flow_problems
    from neuronsim.trace.timeline import timeline

    monkeypatch.setattr(runner, "COMPACT_EVERY", 37)
    monkeypatch.setattr(runner, "PROGRESS_EVERY", 37)
    spec = load_workload(ROOT / "examples" / "workloads" / name, sets)
    if degrade:  # no channel interval is folded: the channels' events are written at the end
        spec = spec.model_copy(update={"faults": (*spec.faults, _degrade())})
    whole = timeline(run_workload(spec, until_ns=until, records=True))
    path = tmp_path / "t.json"
    streamed_run = run_workload(spec, until_ns=until, trace=path)
    streamed = json.loads(path.read_text())
    assert flow_problems(streamed) == []
    assert {k: v for k, v in streamed.items() if k != "traceEvents"} == \
        {k: v for k, v in whole.items() if k != "traceEvents"}

    def bag(trace):
        """The events, with each thread id replaced by its thread's name (thread ids are numbered in the
        order tracks are first used) and without flow ids (numbered in another order)."""
        names = {(e["pid"], e["tid"]): e["args"]["name"] for e in trace["traceEvents"]
                 if e["ph"] == "M" and e["name"] == "thread_name"}
        out = collections.Counter()
        for e in trace["traceEvents"]:
            e = {k: v for k, v in e.items() if k != "id"}
            if e["tid"]:
                e["tid"] = names[(e["pid"], e["tid"])]
            if e["name"] == "thread_sort_index":
                e["args"] = {}
            out[json.dumps(e, sort_keys=True)] += 1
        return out

    assert bag(streamed) == bag(whole)
    assert summary(streamed_run) == summary(run_workload(spec, until_ns=until))
