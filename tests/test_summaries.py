"""Summaries a reader can trust (issue 21, item 5): the bottleneck line, Python workloads' iterations, one
rule for unit-less times, partial runtime overrides, idle cluster instances, demo-only flags."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml

import neuronsim
from neuronsim import nrt
from neuronsim.cli import main
from neuronsim.errors import ConfigError
from neuronsim.topology import preset_path
from neuronsim.workload.metrics import render, summary
from neuronsim.workload.runner import load_python_workload, run_workload
from neuronsim.workload.spec import load_workload

ROOT = Path(__file__).parents[1]


def one_thread(program, **thread):
    return load_workload({
        "schema_version": 1, "name": "t", "instance": "trn1.2xlarge",
        "models": {"m": {"inputs": {"x": "1 KiB"}, "outputs": {"y": "1 KiB"}, "cost": {"duration": "100 us"}}},
        "threads": [{"name": "t", "cpus": "0", "cores": "0", "program": program, **thread}]})


def bottleneck_lines(spec):
    text = render(summary(run_workload(spec)))
    return text[text.index("bottleneck:"):].splitlines()


def test_a_saturated_queue_is_the_bottleneck():
    spec = one_thread([{"execute": "m"}], iterations=50, in_flight=2)
    assert bottleneck_lines(spec) == ["bottleneck:      execution-unit queue nc0/xu.compute.0 (100.0 % busy)"]


def test_an_arrival_limited_run_names_no_bottleneck_and_gives_the_evidence():
    spec = one_thread([{"execute": "m"}], iterations=50, arrivals={"kind": "fixed", "rate": 2000})
    figures = summary(run_workload(spec))
    assert figures["bottleneck"] is None
    assert figures["limit"]["verdict"] == "arrival-limited"
    assert bottleneck_lines(spec) == [
        "bottleneck:      none saturated: arrival-limited",
        "  offered 2,000/s (fixed); 2,008/s completed as 2,008/s arrived",  # 49 in 24.4 ms, both
        "  0 of 50 waited on the host for an in-flight slot (in_flight 2: t)",
        "  busiest: execution-unit queue nc0/xu.compute.0, 20.3 % busy (saturated from 95 %)",  # 50 x 100 us in 24.6 ms
    ]


def test_a_closed_loop_with_one_in_flight_is_in_flight_limited():
    spec = one_thread([{"write": "x"}, {"execute": "m"}, {"read": "y", "queue": 1}], iterations=20, in_flight=1)
    lines = bottleneck_lines(spec)
    assert lines[:2] == [
        "bottleneck:      none saturated: in-flight-limited",
        "  closed loop (in_flight 1: t): an iteration opens when one ends, so throughput is in_flight / latency"]
    assert lines[2].startswith("  busiest: execution-unit queue nc0/xu.compute.0, ")


def test_one_request_is_one_request_not_one_requests():
    text = render(summary(run_workload(one_thread([{"write": "x"}, {"execute": "m"}], iterations=1))))
    assert "  execute         100.000 us  100.000 us  100.000 us  (1 request)\n" in text
    assert "  nc0/xu.compute.0" in text and "(1 requests)" not in text


def test_a_thread_busy_on_its_cpu_is_host_bound():
    spec = one_thread([{"compute": "400 us"}, {"execute": "m"}], iterations=20, in_flight=2)
    figures = summary(run_workload(spec))
    assert figures["limit"]["verdict"] == "host-bound"
    assert (figures["bottleneck"]["kind"], figures["bottleneck"]["name"]) == ("host thread", "t")
    line = bottleneck_lines(spec)[0]
    assert line.startswith("bottleneck:      host thread t (") and line.endswith(" % of a CPU): host-bound")


def test_a_python_workload_counts_the_iterations_it_marks(capsys):
    fn = load_python_workload(f"{ROOT / 'examples' / 'workloads' / 'serving_loop.py'}:workload")
    figures = summary(run_workload(fn, instance="inf2.xlarge"))
    assert [(t["name"], t["iterations_completed"]) for t in figures["threads"]] == [("server0", 200), ("server1", 200)]
    assert figures["threads"][0]["latency"] == {"p50_ns": 338_792, "p90_ns": 338_792, "p99_ns": 338_792,
                                                "mean_ns": 338_792}


def test_a_python_workload_that_marks_nothing_is_told_how(tmp_path, capsys):
    app = tmp_path / "app.py"
    app.write_text("def workload(sim):\n"
                   "    rt = sim.runtime()\n"
                   "    rt.nrt_init(1, '', '')\n"
                   "    def body(thread):\n"
                   "        yield from thread.compute(1000)\n"
                   "    sim.spawn(body, rt, cpus='0', name='app')\n")
    assert main(["run", f"{app}:workload", "--instance", "trn1.2xlarge", "--no-progress"]) == 0
    assert ("iterations:      none marked: a Python workload marks each with `with thread.iteration():` "
            "(docs/reference/workload.md); throughput and latency below count none\n") in capsys.readouterr().out


def test_unitless_times_are_refused_in_files_and_on_the_command_line(tmp_path, capsys):
    path = tmp_path / "w.yaml"
    data = {"schema_version": 1, "name": "w", "instance": "trn1.2xlarge",
            "models": {"m": {"cost": {"duration": "1 ms"}}},
            "threads": [{"iterations": 2, "program": [{"execute": "m"}, {"compute": 30}]}]}
    path.write_text(yaml.safe_dump(data))
    assert main(["run", str(path)]) == 2
    assert capsys.readouterr().err == (f"neuronsim: error: {path}: threads[0].program[1].compute: 30 has no unit: "
                                       "write 30 ns, 30 us, 30 ms or 30 s\n")
    data["threads"][0]["program"][1]["compute"] = "30 us"
    path.write_text(yaml.safe_dump(data))
    assert main(["run", str(path), "--until", "5"]) == 2
    assert capsys.readouterr().err == ("neuronsim: error: neuronsim run: --until: 5 has no unit: write 5 ns, 5 us, "
                                       "5 ms or 5 s\n")
    assert main(["run", str(path), "--set", "until=5", "--no-progress"]) == 2
    assert capsys.readouterr().err == f"neuronsim: error: {path}: until: 5 has no unit: write 5 ns, 5 us, 5 ms or 5 s\n"
    assert main(["run", str(path), "--until", "5ms", "--no-progress"]) == 0


def test_a_partial_runtime_in_a_topology_file_merges_onto_the_default(tmp_path):
    data = yaml.safe_load(preset_path("trn1.2xlarge").read_text())
    data["runtime"] = {"queue_capacity": 4, "call_costs": {"schedule_ns": "500 ns"}}
    path = tmp_path / "small-queues.yaml"
    path.write_text(yaml.safe_dump(data))
    runtime = neuronsim.Simulator(str(path)).topology.spec.runtime
    assert (runtime.queue_capacity, runtime.call_costs.schedule_ns, runtime.call_costs.query_ns) == (4, 500, 100)
    assert runtime.provenance["queue_capacity"] == (f"assumed: A101 set by {path} (a partial override of the "
                                                    "runtime parameters)")
    assert runtime.provenance["exec_timeout_ns"].startswith("published:")  # the default's, untouched
    data["runtime"] = {"queue_capacity": 0}
    path.write_text(yaml.safe_dump(data))
    with pytest.raises(ConfigError, match="runtime.queue_capacity: Input should be greater than or equal to 1"):
        neuronsim.Simulator(str(path))


def test_the_simulator_takes_the_common_runtime_knobs():
    sim = neuronsim.Simulator("trn1.2xlarge", queue_capacity=4)
    rt = sim.runtime()
    rt.nrt_init(nrt.NRT_FRAMEWORK_TYPE_NO_FW, "", "")
    neff = neuronsim.Neff(inputs={"x": ((4,), "float32")}, outputs={"y": ((4,), "float32")}, duration_ns=1_000_000)
    model, x, y, ins, outs = nrt.Ref(), nrt.Ref(), nrt.Ref(), nrt.Ref(), nrt.Ref()
    rt.nrt_load(neff, 0, -1, model)
    rt.nrt_tensor_allocate(nrt.NRT_TENSOR_PLACEMENT_DEVICE, 0, 16, "x", x)
    rt.nrt_tensor_allocate(nrt.NRT_TENSOR_PLACEMENT_DEVICE, 0, 16, "y", y)
    rt.nrt_allocate_tensor_set(ins)
    rt.nrt_allocate_tensor_set(outs)
    rt.nrt_add_tensor_to_tensor_set(ins.value, "x", x.value)
    rt.nrt_add_tensor_to_tensor_set(outs.value, "y", y.value)
    statuses = [rt.nrta_execute_schedule(model.value, ins.value, outs.value, 0, nrt.Ref(), nrt.Ref())
                for _ in range(5)]
    assert statuses == [nrt.NRT_SUCCESS] * 4 + [nrt.NRT_QUEUE_FULL]
    sim = neuronsim.Simulator("2x trn1.32xlarge", exec_timeout_ns=5_000_000, runtime={"queues": {"tensor_op": 1}})
    runtime = sim.topology.spec.runtime
    assert (runtime.exec_timeout_ns, runtime.queues.tensor_op, runtime.queues.compute) == (5_000_000, 1, 1)
    with pytest.raises(ConfigError, match="Simulator: runtime.queue_capacty: unknown key"):
        neuronsim.Simulator("trn1.2xlarge", runtime={"queue_capacty": 4})


def test_a_workload_runtime_override_and_its_errors(capsys):
    spec = one_thread([{"execute": "m"}], iterations=2)
    assert run_workload(load_workload(spec.model_dump(mode="json", exclude_defaults=True),
                                      ["runtime.queue_capacity=4"])).sim.topology.spec.runtime.queue_capacity == 4
    path = ROOT / "examples" / "workloads" / "inference-server.yaml"
    assert main(["run", str(path), "--set", "runtime.queue_capacity=0", "--until", "1ms"]) == 2
    assert capsys.readouterr().err == (f"neuronsim: error: {path}: runtime.queue_capacity: Input should be greater "
                                       "than or equal to 1\n")


def test_a_workload_on_part_of_a_cluster_says_so(capsys):
    spec = one_thread([{"execute": "m"}], iterations=2)
    text = render(summary(run_workload(spec, instance="2x trn1.32xlarge")))
    assert text.splitlines()[1] == ("instances:       the workload uses instance 0 of 2 only; instance 1 is idle "
                                    "(a thread's instance: field places it)")
    assert "instances:" not in render(summary(run_workload(spec)))


@pytest.mark.parametrize("flag", [["--cores", "4"], ["--iterations", "3"], ["--depth", "1"], ["--size", "1 KiB"],
                                  ["--duration", "1 ms"]])
def test_demo_only_flags_are_refused_with_a_workload(flag, capsys):
    assert main(["run", str(ROOT / "examples" / "workloads" / "dp-training.yaml"), *flag]) == 2
    assert capsys.readouterr().err.startswith(f"neuronsim: error: neuronsim run: {flag[0]}: option(s) of the built-in "
                                              "pipeline, not of a workload; with a WORKLOAD use --instance")
