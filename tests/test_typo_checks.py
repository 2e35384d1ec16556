"""Typos are errors (issue #18 item 8) and the texts a reader meets say what they mean (issue #21 item 8)."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest
import yaml

import neuronsim
from neuronsim import nrt
from neuronsim.cli import main
from neuronsim.errors import ConfigError
from neuronsim.workload.metrics import SUMMARY_SCHEMA, metric_problem, summary
from neuronsim.workload.runner import run_workload
from neuronsim.workload.spec import load_workload

EXAMPLES = Path(__file__).parents[1] / "examples"


# -- #18.8: typos are refused with the valid choices -------------------------------------------------

def test_a_misspelt_algorithm_is_refused_with_the_choices():
    sim = neuronsim.Simulator("trn1.2xlarge")
    with pytest.raises(ConfigError) as info:
        sim.collectives.algorithm = "rign"
    assert str(info.value) == ("sim.collectives.algorithm: 'rign' is not one of ring, mesh, rdh, kangaring, hier "
                               "(or None)")
    assert sim.collectives.algorithm is None  # unchanged
    sim.collectives.algorithm = "ring"
    sim.collectives.algorithm = None


def test_a_misspelt_per_call_algorithm_is_refused_too():
    sim = neuronsim.Simulator("trn1.2xlarge")
    rt = sim.runtime()
    assert rt.nrt_init(nrt.NRT_FRAMEWORK_TYPE_NO_FW, "", "") == nrt.NRT_SUCCESS
    x, y, ctx = nrt.Ref(), nrt.Ref(), nrt.Ref()
    rt.nrt_tensor_allocate(nrt.NRT_TENSOR_PLACEMENT_DEVICE, 0, 16, "x", x)
    rt.nrt_tensor_allocate(nrt.NRT_TENSOR_PLACEMENT_DEVICE, 0, 16, "y", y)
    assert rt.nrt_cc_global_comm_init(0, 0, 1) == nrt.NRT_SUCCESS
    comm = nrt.nrt_cc_comm_t([0], 0, 1, vnc=0)
    assert rt.nrta_cc_prepare(comm, [x.value], [y.value], nrt.NRT_DTYPE_FLOAT32, nrt.NRT_OP_ADD,
                              nrt.NRT_CC_ALLREDUCE, ctx) == nrt.NRT_SUCCESS
    with pytest.raises(ConfigError, match=r"^cc_ctx.algorithm: 'rign' is not one of ring, mesh, rdh, kangaring, "
                                          r"hier \(or None\)$"):
        ctx.value.algorithm = "rign"
    ctx.value.algorithm = "mesh"


def test_a_misspelt_fidelity_is_refused_with_the_choices():
    sim = neuronsim.Simulator("trn1.2xlarge")
    with pytest.raises(ConfigError) as info:
        sim.collectives.fidelity = "analytic"
    assert str(info.value) == "sim.collectives.fidelity: 'analytic' is not one of step, analytical"
    assert sim.collectives.fidelity == "step"
    sim.collectives.fidelity = "analytical"


def test_a_misspelt_sweep_metric_is_exit_2_before_any_point_runs(tmp_path, capsys):
    for name in ("depth-x-host-step.yaml", "serving-trn2.yaml"):
        shutil.copy(EXAMPLES / "sweeps" / name, tmp_path / name)
    path = tmp_path / "depth-x-host-step.yaml"
    data = yaml.safe_load(path.read_text())
    data["metrics"] = ["throughput_per_s", "threads.0.latency.p99"]
    path.write_text(yaml.safe_dump(data))
    out = tmp_path / "rows.csv"
    assert main(["sweep", str(path), "--out", str(out)]) == 2
    assert capsys.readouterr().err == (
        f"neuronsim: error: {path}: metrics.1: 'threads.0.latency.p99' is not in a run's summary: threads.0.latency "
        "has no 'p99' (did you mean 'p99_ns'?); it has p50_ns, p90_ns, p99_ns, mean_ns\n")
    assert not out.exists()  # no point ran


@pytest.mark.parametrize(("path", "problem"), [
    ("throughput_per_s", None), ("threads.0.latency.p99_ns", None), ("requests.execute.p50_ns", None),
    ("queues.3.depth_max", None), ("bottleneck.kind", None), ("threads.0.latency", None),
    ("threads.first.cpus", "threads is a list: the next part must be an index (0, 1, ...), not 'first'"),
    ("bottleneck.kind.x", "bottleneck.kind is a value (str), it has no 'x'"),
    ("througput_per_s", "the summary has no 'througput_per_s' (did you mean 'throughput_per_s'?); it has workload, "
                        "instance, lnc, seed, start_ns, elapsed_ns, until_ns, threads, throughput_per_s, requests, "
                        "queues, dma, hbm, pcie, links, efa, cpus, bottleneck, limit, num_instances, instances_used, "
                        "iterations_marked, errors"),
])
def test_metric_paths_are_checked_against_the_summary_schema(path, problem):
    assert metric_problem(path) == problem


def _leaves(node, prefix=()):
    if isinstance(node, dict):
        for key, value in node.items():
            yield from _leaves(value, (*prefix, str(key)))
    elif isinstance(node, list):
        for i, value in enumerate(node):
            yield from _leaves(value, (*prefix, str(i)))
    else:
        yield ".".join(prefix)


def test_every_path_of_real_summaries_is_in_the_schema():
    """The schema and summary() cannot drift apart: every leaf of the example workloads' summaries."""
    seen = 0
    for name in ("inference-server.yaml", "dp-training.yaml"):
        spec = load_workload(yaml.safe_load((EXAMPLES / "workloads" / name).read_text()), source=name)
        figures = summary(run_workload(spec, until_ns=2_000_000, source=name))
        for leaf in _leaves(figures):
            assert metric_problem(leaf) is None, (name, leaf)
            seen += 1
        assert set(figures) == set(SUMMARY_SCHEMA)
    assert seen > 50


def test_built_in_pipeline_flags_with_a_workload_are_exit_2_with_the_valid_options(capsys):
    workload = str(EXAMPLES / "workloads" / "inference-server.yaml")
    assert main(["run", workload, "--iterations", "1", "--cores", "9", "--size", "1 XB"]) == 2
    assert capsys.readouterr().err == (
        "neuronsim: error: neuronsim run: --cores, --iterations, --size: option(s) of the built-in pipeline, not of "
        "a workload; with a WORKLOAD use --instance, --lnc, --until, --trace, --out, --set KEY=VALUE, --seed, "
        "--no-progress (or change the workload file)\n")


def test_the_built_in_pipeline_still_takes_them(capsys):
    assert main(["run", "--instance", "trn1.2xlarge", "--cores", "1", "--iterations", "2"]) == 0
    out = capsys.readouterr().out
    assert "  1 logical core x 2 iterations, depth 2: write 1 MiB -> execute (200.000 us) -> read 1 MiB" in out


# -- #21.8: texts that say what they mean ----------------------------------------------------------

def test_validate_agrees_in_number(capsys):
    assert main(["validate", "trn1.2xlarge"]) == 0
    assert capsys.readouterr().out == ("trn1.2xlarge: valid (trn1.2xlarge: 1 device per instance, 2 logical "
                                       "NeuronCores at LNC=1, 0 NeuronLink links)\n")


def test_ls_without_arguments_lists_the_presets(capsys):
    assert main(["ls"]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert lines[0] == ("neuronsim ls: there is no local Neuron device to list; pick an instance: neuronsim ls "
                        "--instance NAME (or --topology-file FILE). Presets:")
    assert [line.split()[0] for line in lines[1:]] == sorted(neuronsim.preset_names())
    assert "  trn1.2xlarge           trainium, 1 device per instance, 2 logical NeuronCores at LNC=1" in lines


def test_a_printed_hazard_names_its_kind_tensor_ranges_sequence_ids_and_queues():
    from tests.test_races import program

    sim, wseq, eseq, _ = program(wait_for_the_write=False)
    text = repr(sim.hazards)
    assert text == (
        f"[<Hazard read-after-write on tensor 'x': seq {wseq:#x} (tensor_write nc0/xu.tensor_op.0, bytes [0, 1024), "
        f"{sim.hazards[0].first.start_ns}-{sim.hazards[0].first.end_ns} ns) and seq {eseq:#x} (execute "
        f"nc0/xu.compute.0, bytes [0, 1024), {sim.hazards[0].second.start_ns}-{sim.hazards[0].second.end_ns} ns) "
        "with no completion observed in between>]")
    assert "object at 0x" not in text


def test_the_facade_pending_is_the_depth_and_sequence_is_nrta_get_sequence():
    sim = neuronsim.Simulator("trn1.2xlarge")
    with sim.open() as frt:
        model = frt.load(neuronsim.Neff({"x": ((4,), "float32")}, {"y": ((4,), "float32")}, duration_ns=10_000))
        ins, outs = frt.allocate_io(model)
        first, second = frt.execute(model, ins, outs), frt.execute(model, ins, outs)
        assert frt.pending(0) == 2
        assert frt.sequence(0) == (nrt.NRTA_XU_COMPUTE << 48)  # nothing completed: counter 0, the queue's bits
        first.wait()
        assert (frt.pending(0), frt.sequence(0)) == (1, first.seq)
        frt.wait_all()
        assert (frt.pending(0), frt.sequence(0)) == (0, second.seq)
        with pytest.raises(neuronsim.NrtError, match=r"NRT_INVALID\(2\): nrta_get_sequence\(0, 1, 5\)"):
            frt.sequence(0, queue=5)


def test_every_public_facade_method_is_in_the_reference():
    text = (Path(__file__).parents[1] / "docs" / "reference" / "nrta.md").read_text()
    names = [n for n in dir(neuronsim.NeuronRuntime) if not n.startswith("_")]
    assert [n for n in names if f"`{n}" not in text] == []


def test_the_core_allocation_error_is_two_well_formed_console_lines(monkeypatch, capsys):
    from neuronsim.runtime.log import LOGGER

    monkeypatch.setattr(LOGGER, "propagate", False)
    sim = neuronsim.Simulator("trn1.2xlarge")
    assert sim.runtime(env={"NEURON_RT_VISIBLE_CORES": "1"}).nrt_init(1, "", "") == nrt.NRT_SUCCESS
    capsys.readouterr()
    assert sim.runtime(env={"NEURON_RT_VISIBLE_CORES": "1"}).nrt_init(1, "", "") == nrt.NRT_RESOURCE
    assert capsys.readouterr().err.splitlines() == [
        "2000000 ns ERROR  NRT:nrt_allocate_neuron_cores NeuronCore(s) not available - Requested:nc1-nc1 Available:1",
        "2000000 ns ERROR  NRT:nrt_init: cores nc1-nc1 are held by another runtime process -> NRT_RESOURCE"]
