"""Workload pipelines: closed forms of the summary, styles, arrivals, the trace, and file errors."""

from __future__ import annotations

import json
from math import ceil
from pathlib import Path

import pytest

from neuronsim.cli import main
from neuronsim.errors import ConfigError
from neuronsim.trace.timeline import timeline
from neuronsim.units import TRANSFER_SLACK
from neuronsim.workload.metrics import summary
from neuronsim.workload.runner import run_workload
from neuronsim.workload.spec import load_workload

SCHEDULE_NS = 2_000  # runtime call_costs.schedule_ns of the presets


def workload(program, *, models=None, **thread):
    base = {"name": "t", "cpus": "0", "cores": "0", "iterations": 20, "program": program}
    base.update(thread)
    return load_workload({
        "schema_version": 1, "name": "test", "instance": "trn1.2xlarge",
        "models": models or {"m": {"inputs": {"x": "1 KiB"}, "outputs": {"y": "1 KiB"},
                                   "cost": {"duration": "100 us"}}},
        "threads": [base],
    })


def test_one_queue_fixed_duration_throughput_is_one_over_duration():
    run = run_workload(workload([{"execute": "m"}], iterations=20))
    figures = summary(run)
    assert figures["elapsed_ns"] == SCHEDULE_NS + 20 * 100_000  # the first call, then the queue never idles
    (thread,) = figures["threads"]
    assert thread["iterations_completed"] == 20
    assert thread["steady_throughput_per_s"] == 1e9 / 100_000
    assert figures["throughput_per_s"] == 20 * 1e9 / (SCHEDULE_NS + 20 * 100_000)
    (queue,) = figures["queues"]
    assert queue["name"] == "nc0/xu.compute.0" and queue["utilisation"] == 20 * 100_000 / figures["elapsed_ns"]
    assert queue["depth_max"] == 2  # in_flight 2
    assert figures["bottleneck"] == {"kind": "execution-unit queue", "name": "nc0/xu.compute.0",
                                     "utilisation": queue["utilisation"]}


def test_in_flight_one_pays_the_host_call_every_time():
    figures = summary(run_workload(workload([{"execute": "m"}], iterations=10, in_flight=1)))
    assert figures["elapsed_ns"] == 10 * (SCHEDULE_NS + 100_000)
    assert figures["queues"][0]["depth_max"] == 1


def _pipeline(size, duration):
    models = {"m": {"inputs": {"x": size}, "outputs": {"y": "4 KiB"}, "cost": {"duration": duration}}}
    return workload([{"write": "x"}, {"execute": "m"}, {"read": "y", "queue": 1}], models=models, iterations=30)


def test_pipeline_limited_by_its_execution():
    figures = summary(run_workload(_pipeline("4 KiB", "500 us")))
    assert figures["threads"][0]["steady_throughput_per_s"] == 1e9 / 500_000
    assert figures["bottleneck"]["name"] == "nc0/xu.compute.0"


def test_pipeline_limited_by_its_writes():
    size = 64 << 20
    run = run_workload(_pipeline(size, "100 us"), records=True)
    system = run.sim.system
    device = system.devices[0]
    path = [device.h2d_engines[0], device.pcie_h2d, device.hbm[0].channel]
    slowest = max(ceil(size / c.bandwidth_bytes_per_ns * (1 - TRANSFER_SLACK)) for c in path)
    write_ns = system.dma_setup_ns + slowest + system.pcie_latency_ns  # a lone transfer's closed form
    writes = [r for r in run.requests if r.kind == "tensor_write"]
    assert {r.end_ns - r.start_ns for r in writes} == {write_ns}
    assert all(b.start_ns == a.end_ns for a, b in zip(writes, writes[1:], strict=False))  # the write queue never idles
    done = [i.done_ns for i in run.iterations]
    # one iteration per write; the last one's read no longer shares its HBM stack with a write, so it is quicker
    assert {b - a for a, b in zip(done, done[1:-1], strict=False)} == {write_ns}
    figures = summary(run)
    assert figures["threads"][0]["steady_throughput_per_s"] == pytest.approx(1e9 / write_ns, rel=1e-3)
    assert figures["bottleneck"] == {"kind": "PCIe", "name": "dev0/pcie.h2d",
                                     "utilisation": figures["pcie"][0]["utilisation"]}


def test_host_bound_pipeline_runs_at_the_thread_speed():
    program = [{"compute": "300 us"}, {"execute": "m"}]
    figures = summary(run_workload(workload(program, iterations=20)))
    assert figures["threads"][0]["steady_throughput_per_s"] == pytest.approx(1e9 / (300_000 + SCHEDULE_NS), rel=1e-12)
    assert figures["bottleneck"]["kind"] == "host thread"


def test_sync_style_never_overlaps_the_steps_of_one_thread():
    run = run_workload(load_workload({
        "schema_version": 1, "name": "sync", "instance": "trn1.2xlarge",
        "models": {"m": {"inputs": {"x": "1 MiB"}, "outputs": {"y": "1 MiB"}, "cost": {"duration": "100 us"}}},
        "threads": [{"cpus": "0", "cores": "0-1", "style": "sync", "iterations": 6,
                     "program": [{"write": "x"}, {"execute": "m"}, {"read": "y"}]}]}), records=True)
    reqs = sorted(run.requests, key=lambda r: r.submit_ns)
    assert [r.kind for r in reqs[:3]] == ["tensor_write", "execute", "tensor_read"]
    assert all(r.unit.name.split("/")[1].startswith("sync.") or r.kind == "execute" for r in reqs)
    for before, after in zip(reqs, reqs[1:], strict=False):
        assert after.submit_ns >= before.done_ns  # each blocking call returned before the next was made
    assert summary(run)["threads"][0]["iterations_completed"] == 6


def test_implicit_async_keeps_executions_in_flight():
    run = run_workload(load_workload({
        "schema_version": 1, "name": "implicit", "instance": "trn1.2xlarge",
        "models": {"m": {"inputs": {"x": "1 KiB"}, "outputs": {"y": "1 KiB"}, "cost": {"duration": "100 us"}}},
        "threads": [{"cpus": "0", "cores": "0", "style": "implicit_async", "in_flight": 4, "iterations": 12,
                     "program": [{"execute": "m"}]}]}))
    figures = summary(run)
    (queue,) = figures["queues"]
    assert queue["name"] == "nc0/sync.exec" and queue["depth_max"] == 4
    assert figures["threads"][0]["steady_throughput_per_s"] == 1e9 / 100_000


def _poisson(seed):
    spec = workload([{"execute": "m"}], iterations=50, arrivals={"kind": "poisson", "rate": 5000})
    return [i.arrival_ns for i in run_workload(spec, seed=seed).iterations]


def test_poisson_arrivals_follow_the_seed():
    first, again, other = _poisson(1), _poisson(1), _poisson(2)
    assert first == again and first != other
    gaps = [b - a for a, b in zip(first, first[1:], strict=False)]
    assert 100_000 < sum(gaps) / len(gaps) < 300_000  # mean 200 us at 5,000/s


def test_fixed_rate_arrivals_are_evenly_spaced():
    spec = workload([{"execute": "m"}], iterations=5, arrivals={"kind": "fixed", "rate": 1000})
    run = run_workload(spec)
    assert [i.arrival_ns - run.start_ns for i in run.iterations] == [0, 1_000_000, 2_000_000, 3_000_000, 4_000_000]
    assert all(i.done_ns - i.arrival_ns == SCHEDULE_NS + 100_000 for i in run.iterations)


def test_until_stops_the_run():
    spec = workload([{"execute": "m"}], iterations=1000)
    figures = summary(run_workload(spec, until_ns=1_000_000))
    assert figures["elapsed_ns"] == 1_000_000
    assert figures["threads"][0]["iterations_completed"] == 9  # 2 us, then one per 100 us


def test_collectives_in_a_workload():
    spec = load_workload({
        "schema_version": 1, "name": "cc", "instance": "trn1.32xlarge",
        "models": {"m": {"outputs": {"g": "1 MiB"}, "cost": {"duration": "50 us"}}},
        "threads": [{"cpus": "0", "cores": "0-3", "in_flight": 1, "iterations": 3,
                     "program": [{"execute": "m"}, {"collective": {"op": "allreduce", "size": "1 MiB"}}]}]})
    run = run_workload(spec, records=True)
    ccs = [r for r in run.requests if r.kind == "collective"]
    assert len(ccs) == 12 and all(r.status == 0 for r in ccs)
    assert {r.ctx.operation for r in ccs} == {"allreduce"} and {len(r.ctx.group) for r in ccs} == {4}
    assert summary(run)["links"]  # the ring's transfers are accounted on the links


def test_python_function_workload():
    def app(sim):
        rt = sim.runtime()
        rt.nrt_init(1, "", "")
        from neuronsim import Neff
        from neuronsim.nrt import Ref

        model = Ref()
        rt.nrt_load(Neff({"x": ((4,), "float32")}, {"y": ((4,), "float32")}, duration_ns=10_000), 0, -1, model)

        def body(thread):
            ins, outs = Ref(), Ref()
            rt.nrt_allocate_tensor_set(ins)
            rt.nrt_allocate_tensor_set(outs)
            for name, ref in (("x", ins), ("y", outs)):
                t = Ref()
                rt.nrt_tensor_allocate(0, 0, 16, name, t)
                rt.nrt_add_tensor_to_tensor_set(ref.value, name, t.value)
            for _ in range(3):
                ret, seq = Ref(), Ref()
                yield from thread.call(rt.nrta_execute_schedule, model.value, ins.value, outs.value, 0, ret, seq)
                yield from thread.wait(seq.value)

        sim.spawn(body, rt, cpus="0", name="app")

    run = run_workload(app, instance="trn1.2xlarge", records=True)
    figures = summary(run)
    assert figures["requests"]["execute"]["count"] == 3
    assert figures["requests"]["execute"]["p50_ns"] == 10_000
    trace = timeline(run)
    assert sum(1 for e in trace["traceEvents"] if e["ph"] == "s") == 3


# -- the trace -------------------------------------------------------------------------------------

_REQUIRED = {"X": {"name", "ph", "ts", "dur", "pid", "tid"}, "M": {"name", "ph", "pid", "tid", "args"},
             "C": {"name", "ph", "ts", "pid", "args"}, "s": {"name", "ph", "ts", "pid", "tid", "id", "cat"},
             "t": {"name", "ph", "ts", "pid", "tid", "id", "cat"}, "f": {"name", "ph", "ts", "pid", "tid", "id", "cat"}}


def check_chrome_trace(trace: dict) -> None:
    """The Chrome trace event format (JSON object form) as Perfetto reads it."""
    assert set(trace) >= {"traceEvents"} and isinstance(trace["traceEvents"], list)
    assert trace.get("displayTimeUnit", "ms") in ("ms", "ns")
    for event in trace["traceEvents"]:
        ph = event["ph"]
        assert ph in _REQUIRED, event
        assert _REQUIRED[ph] <= set(event), event
        assert isinstance(event["pid"], int) and isinstance(event.get("tid", 0), int)
        if "ts" in event:
            assert isinstance(event["ts"], (int, float)) and event["ts"] >= 0
        if ph == "X":
            assert isinstance(event["dur"], (int, float)) and event["dur"] >= 0
        if ph == "C":
            assert event["args"] and all(isinstance(v, (int, float)) for v in event["args"].values())
        if ph == "M":
            assert event["name"] in ("process_name", "thread_name", "process_sort_index", "thread_sort_index")
        if ph == "f":
            assert event.get("bp") == "e"


def _trace_run(seed=0):
    models = {"m": {"inputs": {"x": "1 MiB"}, "outputs": {"y": "1 MiB"}, "cost": {"duration": "200 us"}}}
    spec = workload([{"write": "x"}, {"execute": "m"}, {"read": "y", "queue": 1}, {"compute": "20 us"}],
                    models=models, cores="0-1", dispatch="round_robin", iterations=12,
                    arrivals={"kind": "poisson", "rate": 4000})
    return run_workload(spec, seed=seed, records=True)


def test_trace_is_a_chrome_trace_with_a_flow_for_every_request():
    run = _trace_run()
    trace = timeline(run)
    check_chrome_trace(trace)
    events = trace["traceEvents"]
    slices = {e["args"]["seq"]: e for e in events if e["ph"] == "X" and e.get("cat") in ("execute", "tensor_write",
                                                                                       "tensor_read")}
    assert len(slices) == len(run.requests) == 36
    flows: dict[int, list[str]] = {}
    for e in events:
        if e["ph"] in "stf":
            flows.setdefault(e["id"], []).append(e["ph"])
    assert len(flows) == 36 and all(phases == ["s", "f"] for phases in flows.values())  # call -> request slice
    from neuronsim.trace.check import flow_problems

    assert flow_problems(trace) == []  # each arrow end inside a slice, as Perfetto binds it
    names = {e["args"]["name"] for e in events if e["ph"] == "M" and e["name"] in ("process_name", "thread_name")}
    assert {"host", "dev0", "dev0 nc0", "dev0 nc1", "xu.compute.0", "xu.tensor_op.0", "t (cpus 0)"} <= names
    assert any(e["ph"] == "C" and e["name"] == "xu.compute.0 depth" for e in events)
    assert any(e["ph"] == "C" and e["name"] == "pcie.h2d GB/s" for e in events)
    assert any(e["ph"] == "X" and e.get("cat") == "dma" for e in events)
    write = next(e for e in events if e["ph"] == "X" and e.get("cat") == "tensor_write")
    assert write["name"].startswith("tensor_write m.x[") and "1048576 B seq 0x" in write["name"]


def test_same_seed_same_trace_bytes_and_tracing_changes_nothing(tmp_path):
    from neuronsim.trace.timeline import write_timeline

    first, second = _trace_run(), _trace_run()
    a = write_timeline(first, tmp_path / "a.json").read_bytes()
    b = write_timeline(second, tmp_path / "b.json").read_bytes()
    assert a == b
    untraced = summary(_trace_run())
    assert summary(first) == untraced  # building the trace did not change the run or its figures
    assert json.loads(a)["otherData"]["seed"] == 0


# -- the command ------------------------------------------------------------------------------------

GOOD = """\
schema_version: 1
name: cli
instance: trn1.2xlarge
models:
  m: {inputs: {x: 1 KiB}, outputs: {y: 1 KiB}, cost: {duration: 100 us}}
threads:
  - {cpus: "0", cores: "0", iterations: 5, program: [{execute: m}]}
"""


def test_run_command_writes_the_trace_and_the_metrics(tmp_path, capsys):
    path = tmp_path / "w.yaml"
    path.write_text(GOOD)
    status = main(["run", str(path), "--trace", str(tmp_path / "t.json"), "--out", str(tmp_path / "out"),
                   "--set", "threads.0.iterations=7", "--seed", "3"])
    out = capsys.readouterr().out
    assert status == 0
    assert "neuronsim run: cli on trn1.2xlarge (LNC=1), seed 3" in out
    assert "bottleneck:      execution-unit queue nc0/xu.compute.0" in out
    data = json.loads((tmp_path / "out" / "summary.json").read_text())
    assert data["threads"][0]["iterations_completed"] == 7
    rows = (tmp_path / "out" / "summary.csv").read_text().splitlines()
    assert rows[0] == "section,name,metric,value" and "thread,thread0,iterations_completed,7" in rows
    check_chrome_trace(json.loads((tmp_path / "t.json").read_text()))


@pytest.mark.parametrize(("change", "field", "reason"), [
    ("threads.0.program.0.execute=nope", "threads[0].program[0].execute", "unknown model 'nope'"),
    ("models.m.cost.duration=5 parsecs", "models.m.cost.duration", "unit"),
    ("threads.0.in_flight=0", "threads[0].in_flight", "greater than or equal to 1"),
    ("threads.0.colour=red", "threads[0].colour", "unknown key"),
    ("threads.0.program.0.after=[later]", "threads[0].program[0].after", "not an earlier step"),
    ("threads.0.cores=0-99", "threads[0].cores", "does not exist"),
])
def test_a_bad_workload_names_the_file_the_field_and_the_reason(tmp_path, capsys, change, field, reason):
    path = tmp_path / "w.yaml"
    path.write_text(GOOD)
    assert main(["run", str(path), "--set", change]) == 2
    err = capsys.readouterr().err
    assert f"{path}: {field}:" in err and reason in err


@pytest.mark.parametrize(("change", "field", "reason"), [
    ("threads.0.program.3.collective.dtype=fp8_e4", "threads[0].program[3].collective.dtype",
     "an allreduce cannot reduce fp8_e4: the runtime has no reduction of it (A21)"),
    ("threads.0.program.3.collective.size=3 B", "threads[0].program[3].collective.size",
     "3 bytes is not a whole number of 2-byte bfloat16 elements"),
    ("threads.0.program.3.collective.size=0 MB", "threads[0].program[3].collective.size",
     "0 bytes: a collective moves at least one 2-byte element a rank"),
    ("env.NEURON_RT_VISIBLE_CORES=abc", "env.NEURON_RT_VISIBLE_CORES",  # it was replaced, silently
     "the workload sets the visible cores itself, from its threads' cores: remove it"),
    ("instance=./nope.yaml", "instance", "nope.yaml: file not found"),  # it named neither the workload nor the field
])
def test_a_collective_step_the_runtime_would_refuse_is_refused_in_the_file(capsys, change, field, reason):
    """Found before the run (exit 2, the field), not by nrta_cc_prepare on every core after simulating (exit 1)."""
    example = Path(__file__).parents[1] / "examples" / "workloads" / "dp-training.yaml"
    assert main(["run", str(example), "--set", change]) == 2
    assert f"{example}: {field}: {reason}" in capsys.readouterr().err


@pytest.mark.parametrize(("change", "message"), [
    ("env.NEURON_RT_ASYNC_EXEC_MAX_INFLIGHT_REQUESTS=abc",
     "nrt_init failed: NRT_INVALID (NEURON_RT_ASYNC_EXEC_MAX_INFLIGHT_REQUESTS='abc' is not an integer)"),
    ("models.fwd_bwd.inputs.batch.shape=[4, 1024, 1024, 1024]",
     "nrt_load(fwd_bwd) failed: NRT_RESOURCE (fwd_bwd.neff: model io of 17179869188 bytes do not fit nc0's HBM)"),
])
def test_a_workload_whose_set_up_the_runtime_refuses_says_why(capsys, change, message):
    """The status of the set-up call and the runtime's reason (it gave the status alone; the reason was only on
    an earlier log line, absent at a quiet log level)."""
    example = Path(__file__).parents[1] / "examples" / "workloads" / "dp-training.yaml"
    assert main(["run", str(example), "--set", change]) == 2
    assert f"{example}: {message}" in capsys.readouterr().err


def test_set_through_a_yaml_alias_changes_only_the_path_it_names():
    """inference-server.yaml's four threads share one program (``program: *serve``): ``--set`` on thread 0's
    program changes thread 0 only, and a bad value is reported once, at thread 0."""
    from neuronsim.errors import ConfigError
    from neuronsim.workload.spec import load_workload

    example = Path(__file__).parents[1] / "examples" / "workloads" / "inference-server.yaml"
    spec = load_workload(example, ["threads.0.program.3.compute=1 ms"])
    assert [t.program[3].compute for t in spec.threads] == [1_000_000] + [spec.threads[1].program[3].compute] * 3
    assert spec.threads[1].program[3].compute != 1_000_000
    with pytest.raises(ConfigError) as info:
        load_workload(example, ["threads.0.program.3.compute=soon"])
    assert [issue.field for issue in info.value.issues] == ["threads[0].program[3].compute"]


def test_missing_and_malformed_files_exit_2(tmp_path, capsys):
    assert main(["run", str(tmp_path / "none.yaml")]) == 2
    assert "file not found" in capsys.readouterr().err
    bad = tmp_path / "bad.yaml"
    bad.write_text("name: [unclosed\n")
    assert main(["run", str(bad)]) == 2
    assert f"{bad}: name[1]: malformed YAML at line 2, column 1: " in capsys.readouterr().err
    with pytest.raises(ConfigError, match="give iterations or duration"):
        load_workload({"schema_version": 1, "name": "x", "models": {"m": {"cost": {"duration": "1 ns"}}},
                       "threads": [{"program": [{"execute": "m"}]}]})


def test_progress_bar_draws_over_simulated_time():
    import io

    from neuronsim.workload.command import Progress

    stream = io.StringIO()
    bar = Progress(stream, after_s=0.0)
    spec = workload([{"execute": "m"}], iterations=1000)
    run_workload(spec, until_ns=2_000_000, progress=bar)
    bar.close()
    text = stream.getvalue()
    assert text.startswith("\r[") and "100.0 %  2.000 ms of 2.000 ms" in text and text.endswith("\n")
    quiet = io.StringIO()
    late = Progress(quiet, after_s=3600.0)  # a short run shows nothing
    run_workload(spec, until_ns=2_000_000, progress=late)
    late.close()
    assert quiet.getvalue() == ""
    counted = io.StringIO()
    bar = Progress(counted, after_s=0.0)  # no end time: over the iterations
    run_workload(workload([{"execute": "m"}], iterations=30_000), progress=bar)
    assert counted.getvalue().endswith("100.0 %  30000 of 30000 iterations")


def test_duration_bounds_the_arrivals():
    spec = workload([{"execute": "m"}], iterations=None, duration="1 ms", arrivals={"kind": "fixed", "rate": 10_000})
    run = run_workload(spec)
    assert len(run.iterations) == 10  # at 0, 100 us, ..., 900 us


def test_python_workload_from_the_command_line(tmp_path, capsys):
    app = tmp_path / "app.py"
    app.write_text(
        "from neuronsim import Neff\n"
        "from neuronsim.nrt import Ref\n\n"
        "def workload(sim):\n"
        "    rt = sim.runtime()\n"
        "    rt.nrt_init(1, '', '')\n"
        "    model = Ref()\n"
        "    rt.nrt_load(Neff({'x': ((4,), 'float32')}, {'y': ((4,), 'float32')}, duration_ns=5_000), 0, -1, model)\n"
        "    def body(thread):\n"
        "        sets = []\n"
        "        for name in ('x', 'y'):\n"
        "            s, t = Ref(), Ref()\n"
        "            rt.nrt_allocate_tensor_set(s)\n"
        "            rt.nrt_tensor_allocate(0, 0, 16, name, t)\n"
        "            rt.nrt_add_tensor_to_tensor_set(s.value, name, t.value)\n"
        "            sets.append(s.value)\n"
        "        ret, seq = Ref(), Ref()\n"
        "        yield from thread.call(rt.nrta_execute_schedule, model.value, sets[0], sets[1], 0, ret, seq)\n"
        "        yield from thread.wait(seq.value)\n"
        "    sim.spawn(body, rt, cpus='0', name='app')\n")
    assert main(["run", f"{app}:workload", "--instance", "trn1.2xlarge"]) == 0
    out = capsys.readouterr().out
    assert "neuronsim run: python workload on trn1.2xlarge" in out and "execute           5.000 us" in out
    assert main(["run", f"{app}:nope", "--instance", "trn1.2xlarge"]) == 2
    assert "has no function 'nope'" in capsys.readouterr().err


def test_plots_when_matplotlib_is_installed(tmp_path):
    pytest.importorskip("matplotlib")
    from neuronsim.workload.metrics import write_outputs

    run = _trace_run()
    written = write_outputs(run, summary(run), tmp_path)
    assert [p.name for p in written] == ["summary.json", "summary.csv", "utilisation.png", "queue_depth.png",
                                         "latency.png"]
    assert all(p.stat().st_size > 1000 for p in written[2:])


def test_the_plots_read_as_a_profiler_view_and_warn_nothing(tmp_path, capsys):
    pytest.importorskip("matplotlib")
    import warnings

    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    import numpy as np

    from neuronsim.workload import plots

    captured = {}
    real_savefig = matplotlib.figure.Figure.savefig

    def keep(fig, path, **kwargs):  # look at each figure as it is written
        captured[Path(path).name] = fig
        return real_savefig(fig, path, **kwargs)

    example = Path(__file__).parents[1] / "examples" / "workloads" / "inference-server.yaml"
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # a matplotlib warning fails the test
        original = matplotlib.figure.Figure.savefig
        matplotlib.figure.Figure.savefig = keep
        try:
            assert main(["run", str(example), "--until", "20ms", "--no-progress", "--out", str(tmp_path)]) == 0
        finally:
            matplotlib.figure.Figure.savefig = original
    assert capsys.readouterr().err == ""
    title = captured["utilisation.png"]._suptitle.get_text()
    assert title.startswith("inference server on inf2.48xlarge (LNC=1), seed 0\nutilisation per ")
    assert "window 20.000 ms from the threads' start, until 20.000 ms" in title
    heat = captured["utilisation.png"].axes
    assert heat[0].get_title(loc="left") == "execution-unit queues: the 8 busiest of 72"
    assert len(heat[0].get_yticks()) == plots.ROWS  # only the busiest rows
    depth = captured["queue_depth.png"].axes
    assert len(depth) == plots.QUEUES
    ticks = depth[0].get_yticks()
    assert all(float(t).is_integer() for t in ticks)  # whole requests
    latency = captured["latency.png"]
    assert latency.axes[0].get_legend() is not None
    anchor = latency.axes[0].get_legend().get_bbox_to_anchor().transformed(latency.axes[0].transAxes.inverted())
    assert anchor.x0 > 1.0  # the legend sits outside the data, right of the axes
    plt.close("all")
    assert np.allclose(plots.binned_busy([(0, 50), (150, 200)], np.array([0, 100, 200])), [0.5, 0.5])
    mean, peak = plots.binned_depth([(0, 100), (50, 150), (100, 200)], np.array([0, 100, 200]))
    assert mean.tolist() == [1.5, 1.5] and peak.tolist() == [2, 2]  # completions before submissions at 100


def test_without_matplotlib_the_run_says_which_extra_adds_the_plots(tmp_path, capsys, monkeypatch):
    import sys

    monkeypatch.setitem(sys.modules, "matplotlib", None)  # as in a base install: import matplotlib fails
    monkeypatch.setitem(sys.modules, "neuronsim.workload.plots", None)
    example = Path(__file__).parents[1] / "examples" / "workloads" / "inference-server.yaml"
    assert main(["run", str(example), "--until", "5ms", "--no-progress", "--out", str(tmp_path)]) == 0
    out = capsys.readouterr().out
    assert out.endswith('plots:           not written: they need matplotlib, the plots extra (pip install ".[plots]" '
                        'in a checkout, or the wheel with [plots]; docs/howto/install.md)\n')
    assert sorted(p.name for p in tmp_path.iterdir()) == ["summary.csv", "summary.json"]


def test_a_fault_plan_in_the_workload_fails_its_iterations(capsys, tmp_path):
    spec = load_workload({
        "schema_version": 1, "name": "faulty", "instance": "trn1.2xlarge",
        "faults": [{"target": "xu", "core": 0, "xu": "compute", "nth": 3, "status": "NRT_EXEC_BAD_INPUT"}],
        "models": {"m": {"inputs": {"x": "1 KiB"}, "outputs": {"y": "1 KiB"}, "cost": {"duration": "100 us"}}},
        "threads": [{"cpus": "0", "cores": "0", "iterations": 5, "program": [{"execute": "m"}]}]})
    run = run_workload(spec)
    assert [i.failed for i in run.iterations] == [0, 0, 1, 0, 0]
    figures = summary(run)
    assert figures["threads"][0]["iterations_failed"] == 1 and figures["requests"]["execute"]["failed"] == 1
    path = tmp_path / "faulty.yaml"
    import yaml

    path.write_text(yaml.safe_dump(spec.model_dump(mode="json", exclude_defaults=True)))
    assert main(["run", str(path)]) == 1
    assert "1 failed" in capsys.readouterr().out


def _two_instances(**collective):
    cc = {"op": "allreduce", "size": "4 MiB", "dtype": "bfloat16", "group": "dp", **collective}
    program = [{"execute": "m"}, {"collective": cc}]
    return {
        "schema_version": 1, "name": "2-node dp", "instance": "2x trn1.32xlarge",
        "models": {"m": {"outputs": {"g": "4 MiB"}, "cost": {"duration": "100 us"}}},
        "threads": [{"name": "node0", "instance": 0, "cpus": "0", "cores": "0-1", "in_flight": 1, "iterations": 3,
                     "program": program},
                    {"name": "node1", "instance": 1, "cpus": "0", "cores": "0-1", "in_flight": 1, "iterations": 3,
                     "program": program}],
    }


def test_threads_on_two_instances_meet_in_one_collective_over_efa():
    run = run_workload(load_workload(_two_instances()), records=True)
    ccs = [r for r in run.requests if r.kind == "collective"]
    assert len(ccs) == 12 and all(r.status == 0 for r in ccs)
    assert {r.ctx.group for r in ccs} == {(0, 1, 2, 3)}  # global ids: instance 0's cores, then instance 1's
    assert {r.unit.instance for r in ccs} == {0, 1}
    figures = summary(run)
    assert figures["efa"] and figures["efa"][0]["bytes"] > 0  # the hierarchical all-reduce crossed EFA
    names = {q["name"] for q in figures["queues"]}
    assert {"i0/nc0/xu.compute.0", "i1/nc1/xu.collectives.0"} <= names
    assert [t["iterations_completed"] for t in figures["threads"]] == [3, 3]
    check_chrome_trace(timeline(run))


def test_a_group_runs_one_collective_and_instances_must_exist():
    with pytest.raises(ConfigError, match=r"threads\[1\]\.program\[1\]\.collective: group 'dp' is .* at threads\[0\]\.program\[1\]"):
        data = _two_instances()
        data["threads"][0]["program"] = [{"execute": "m"}, {"collective": {"op": "allgather", "size": "4 MiB",
                                                                           "group": "dp"}}]
        load_workload(data)
    data = _two_instances()
    data["instance"] = "trn1.32xlarge"
    with pytest.raises(ConfigError, match=r"threads\[1\]\.instance: instance 1 does not exist"):
        run_workload(load_workload(data))


def test_implicit_async_read_waits_for_every_pending_execution_of_the_process():
    # found by the property test: a blocking read in implicit async waits for all pending executions,
    # also another thread's on another core; from a thread that wait is the thread's, not an error
    spec = load_workload({
        "schema_version": 1, "name": "implicit", "instance": "trn1.32xlarge",
        "models": {"m": {"inputs": {"x": "4 KiB"}, "outputs": {"y": "4 KiB"}, "cost": {"duration": "300 us"}}},
        "threads": [{"name": "reader", "cpus": "0", "cores": "0", "style": "implicit_async", "in_flight": 1,
                     "iterations": 1, "program": [{"write": "x"}, {"write": "x"}, {"read": "y"}]},
                    {"name": "runner", "cpus": "1", "cores": "4", "style": "implicit_async", "in_flight": 1,
                     "iterations": 1, "program": [{"write": "x"}, {"execute": "m"}]}]})
    run = run_workload(spec, records=True)
    (execute,) = [r for r in run.requests if r.kind == "execute"]
    (read,) = [r for r in run.requests if r.kind == "tensor_read"]
    assert read.submit_ns >= execute.done_ns
    assert all(i.done_ns >= 0 and i.failed == 0 for i in run.iterations)


def test_a_bare_number_is_one_core_or_cpu():
    """--set threads.0.cores=0 (YAML reads a number) was "Input should be a valid string"."""
    from neuronsim.workload.spec import load_workload

    example = Path(__file__).parents[1] / "examples" / "workloads" / "inference-server.yaml"
    spec = load_workload(example, ["threads.0.cores=3", "threads.0.cpus=1"])
    assert (spec.threads[0].cores, spec.threads[0].cpus) == ("3", "1")
