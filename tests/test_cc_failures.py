"""Collectives that fail where the hardware fails (issues 18 and 19): a peer that never arrives times out,
a fault on one rank fails the collective on every rank, a slowdown past NEURON_RT_EXEC_TIMEOUT times out,
rank counts the runtime refuses are refused; every accepted request completes exactly once."""

from __future__ import annotations

import logging

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

import neuronsim
from neuronsim import DeadlockError, NrtError, check_invariants, nrt
from neuronsim.cli import main
from neuronsim.workload.metrics import summary
from neuronsim.workload.runner import run_workload
from neuronsim.workload.spec import load_workload

S = nrt.NRT_STATUS
SECOND = 10**9


def world(sim, ranks, env=None, api="3.0"):
    """One process owning cores 0..ranks-1, each a rank of the world; returns the runtime."""
    rt = sim.runtime(env={"NEURON_RT_VISIBLE_CORES": f"0-{ranks - 1}", **(env or {})}, api=api)
    assert rt.nrt_init(nrt.NRT_FRAMEWORK_TYPE_NO_FW, "", "") == S.NRT_SUCCESS
    for r in range(ranks):
        assert rt.nrt_cc_global_comm_init(r, r, ranks) == S.NRT_SUCCESS
    return rt


def prepare(rt, rank, ranks, size=256):
    i, o, ctx = nrt.Ref(), nrt.Ref(), nrt.Ref()
    rt.nrt_tensor_allocate(nrt.NRT_TENSOR_PLACEMENT_DEVICE, rank, size, f"in{rank}", i)
    rt.nrt_tensor_allocate(nrt.NRT_TENSOR_PLACEMENT_DEVICE, rank, size, f"out{rank}", o)
    assert rt.nrta_cc_prepare(nrt.nrt_cc_comm_t(list(range(ranks)), rank, ranks, vnc=rank), [i.value], [o.value],
                              nrt.NRT_DTYPE_FLOAT32, nrt.NRT_OP_ADD, nrt.NRT_CC_ALLREDUCE, ctx) == S.NRT_SUCCESS
    return ctx


def schedule(rt, rank, ranks):
    ret, seq = nrt.Ref(), nrt.Ref()
    assert rt.nrta_cc_schedule(prepare(rt, rank, ranks), 0, ret, seq) == S.NRT_SUCCESS
    return ret, seq


# -- issue 18, item 1: a peer that never arrives ------------------------------------------------------------


@pytest.mark.parametrize(("api", "timeout_ns"), [("3.0", 30 * SECOND), ("2.28", 100_000_000)])
def test_a_standalone_collective_whose_peer_never_arrives_times_out(api, timeout_ns, caplog):
    """nrta_cc_schedule on rank 0 of 2; rank 1 never schedules: NRT_TIMEOUT after the Collectives XU wait
    timeout (30 s since SDK 2.29, 100 ms before), a log line naming the collective and the ranks, the unit
    dead (NRT_EXEC_UNIT_UNRECOVERABLE), and run_until_idle ends there."""
    sim = neuronsim.Simulator("trn1.2xlarge", record=True)
    rt = world(sim, 2, api=api)
    ret, seq = schedule(rt, 0, 2) if api == "3.0" else (None, None)
    if api == "2.28":
        tracker, seq = nrt.Ref(), nrt.Ref()
        rt.nrta_error_tracker_create(0, tracker)
        assert rt.nrta_cc_schedule(prepare(rt, 0, 2), 0, tracker.value, seq) == S.NRT_SUCCESS
    request = rt.request(seq.value)
    with caplog.at_level(logging.ERROR, logger="neuronsim.runtime"):
        assert sim.run_until_idle() == request.start_ns + timeout_ns
    assert request.status == S.NRT_TIMEOUT and request.done_ns == request.start_ns + timeout_ns
    if ret is not None:
        assert ret.value == S.NRT_TIMEOUT
    assert sim.env.peek() == float("inf")  # idle: nothing left to happen
    assert (f"collective timeout ({timeout_ns // 10**6} ms) on nc0/xu.collectives.0: allreduce #1 of a group of "
            "2 ranks, rank 0 waited for its peers: ranks [0] arrived, ranks [1] never did") in caplog.text
    (timeout,) = sim.collectives.timeouts
    assert (timeout.rank, timeout.arrived, timeout.missing, timeout.timeout_ns) == (0, (0,), (1,), timeout_ns)
    assert request.unit.name == "nc0/xu.collectives.0" and request.unit.fatal_status == S.NRT_TIMEOUT
    if api == "3.0":
        assert rt.nrta_cc_schedule(prepare(rt, 0, 2), 0, nrt.Ref(), nrt.Ref()) == S.NRT_EXEC_UNIT_UNRECOVERABLE
    assert check_invariants(sim) == []


def test_a_met_collective_leaves_no_timer_behind():
    """Both ranks arrive: the collective runs, and the simulation is idle at its end, not 30 s later."""
    sim = neuronsim.Simulator("trn1.2xlarge", record=True)
    rt = world(sim, 2)
    rets = [schedule(rt, r, 2)[0] for r in (0, 1)]
    end = sim.run_until_idle()
    assert [r.value for r in rets] == [S.NRT_SUCCESS] * 2
    assert end == max(sim.collectives.records[0].ends_ns) < SECOND
    assert sim.collectives.timeouts == []


def test_a_rank_that_arrives_after_its_peer_timed_out_times_out_too():
    """Rank 0 times out at 30 s; rank 1 schedules at 40 s: the collective can never run, so rank 1 waits
    its own 30 s and times out too (no data moves, nothing is lost)."""
    sim = neuronsim.Simulator("trn1.2xlarge", record=True)
    rt = world(sim, 2)
    r0, s0 = schedule(rt, 0, 2)
    sim.run_for_ns(40 * SECOND)
    assert r0.value == S.NRT_TIMEOUT
    r1, s1 = schedule(rt, 1, 2)
    start = rt.request(s1.value).start_ns
    assert sim.run_until_idle() == start + 30 * SECOND
    assert r1.value == S.NRT_TIMEOUT and sim.collectives.records == []
    assert sim.collectives.timeouts[1].arrived == (0, 1) and sim.collectives.timeouts[1].missing == ()
    assert check_invariants(sim) == []


TP = neuronsim.Neff(inputs={"x": ((4,), "float32")}, outputs={"y": ((4,), "float32")}, duration_ns=50_000,
                    collectives=[neuronsim.CollectiveSpec("allreduce", input="x", output="y", reduce="add")],
                    name="tp.neff")


def tp_rank0(env):
    """Rank 0 of 2 copies of a NEFF with an all-reduce; rank 1 is loaded but never executed."""
    sim = neuronsim.Simulator("trn1.2xlarge", record=True)
    rt = sim.runtime(env={"NEURON_RT_VISIBLE_CORES": "0-1", **env})
    assert rt.nrt_init(nrt.NRT_FRAMEWORK_TYPE_NO_FW, "", "") == S.NRT_SUCCESS
    models, sets = [], []
    for r in (0, 1):
        model = nrt.Ref()
        assert rt.nrt_load_collectives(TP, r, -1, r, 2, model) == S.NRT_SUCCESS
        x, y, ins, outs = nrt.Ref(), nrt.Ref(), nrt.Ref(), nrt.Ref()
        rt.nrt_tensor_allocate(nrt.NRT_TENSOR_PLACEMENT_DEVICE, r, 16, "x", x)
        rt.nrt_tensor_allocate(nrt.NRT_TENSOR_PLACEMENT_DEVICE, r, 16, "y", y)
        rt.nrt_allocate_tensor_set(ins)
        rt.nrt_allocate_tensor_set(outs)
        rt.nrt_add_tensor_to_tensor_set(ins.value, "x", x.value)
        rt.nrt_add_tensor_to_tensor_set(outs.value, "y", y.value)
        models.append(model.value)
        sets.append((ins.value, outs.value))
    return sim, rt, models, sets


def test_nrt_execute_of_a_neff_whose_peer_never_executes_times_out_at_the_exec_timeout():
    """Issue 18: it raised DeadlockError after 3 ms; now NRT_TIMEOUT at NEURON_RT_EXEC_TIMEOUT (5 s) from the
    execution's start, then NRT_EXEC_UNIT_UNRECOVERABLE."""
    sim, rt, models, sets = tp_rank0({"NEURON_RT_EXEC_TIMEOUT": "5"})
    t0 = sim.now_ns
    assert rt.nrt_execute(models[0], *sets[0]) == S.NRT_TIMEOUT
    (request,) = [r for r in rt.history if r.kind == "execute"]
    assert request.done_ns == request.start_ns + 5 * SECOND and request.start_ns - t0 < 10_000
    assert rt.nrt_execute(models[0], *sets[0]) == S.NRT_EXEC_UNIT_UNRECOVERABLE
    (timeout,) = sim.collectives.timeouts
    assert (timeout.operation, timeout.arrived, timeout.missing) == ("allreduce", (0,), (1,))
    assert check_invariants(sim) == []


def test_the_facade_raises_nrt_timeout_for_a_missing_peer():
    sim = neuronsim.Simulator("trn1.2xlarge")
    rt = sim.open("0-1", env={"NEURON_RT_EXEC_TIMEOUT": "5"})
    model = rt.load_collectives(TP, 0, 0, 2)
    x, y = rt.allocate(16, 0, "x"), rt.allocate(16, 0, "y")
    with pytest.raises(NrtError) as caught:
        rt.execute(model, {"x": x}, {"y": y}).result()
    assert caught.value.status == S.NRT_TIMEOUT
    with pytest.raises(NrtError) as caught:
        rt.execute(model, {"x": x}, {"y": y})
    assert caught.value.status == S.NRT_EXEC_UNIT_UNRECOVERABLE


def test_with_no_timeout_a_hang_names_the_collective_and_the_ranks():
    """NEURON_RT_EXEC_TIMEOUT=0 (no limit): the wait can never end, and hang detection says which collective
    waits, which ranks arrived and which did not."""
    sim = neuronsim.Simulator("trn1.2xlarge")
    rt = sim.open("0-1", env={"NEURON_RT_EXEC_TIMEOUT": "0"})
    model = rt.load_collectives(TP, 0, 0, 2)
    future = rt.execute(model, {"x": rt.allocate(16, 0, "x")}, {"y": rt.allocate(16, 0, "y")})
    with pytest.raises(DeadlockError) as caught:
        future.wait()
    assert ("nc0/xu.compute.0 (rank 0) waits in allreduce #1 of a group of 2 ranks: ranks [0] arrived, "
            "ranks [1] never did; no timeout: waits forever") in caught.value.wait_for


RANK1_NEVER = """
schema_version: 1
name: a rank that never reaches its third collective
instance: trn1.32xlarge
models:
  step:
    inputs: {x: {shape: [1024], dtype: float32}}
    outputs: {y: {shape: [1024], dtype: float32}}
    cost: {duration: 100 us}
threads:
  - name: rank0
    cores: "0"
    iterations: 3
    program:
      - {execute: step}
      - {collective: {op: allreduce, size: 1 MB, dtype: float32, group: dp}}
  - name: rank1
    cores: "1"
    iterations: 2
    program:
      - {execute: step}
      - {collective: {op: allreduce, size: 1 MB, dtype: float32, group: dp}}
"""


def test_neuronsim_run_reports_a_collective_whose_rank_never_arrives(tmp_path, capsys):
    path = tmp_path / "missing.yaml"
    path.write_text(RANK1_NEVER)
    assert main(["run", str(path), "--no-progress"]) == 1
    out = capsys.readouterr().out
    assert "rank0               3 done, 1 failed" in out
    assert ("error: collective timeout: allreduce #3 of a group of 2 ranks timed out on rank 0 "
            "(nc0/xu.collectives.0) after 30000 ms: ranks [0] arrived, ranks [1] never did") in out
    assert "simulated time:  30.000 s" in out


def test_an_iteration_cut_short_by_a_hang_is_reported_as_never_finished(tmp_path):
    """A run that ends by itself with an iteration still open (here a standalone collective with no timeout:
    the Collectives timeout set to 0 from the runtime) names it and its waiting collective."""
    spec = load_workload(_write(tmp_path, RANK1_NEVER))
    sim_holder = {}

    original = neuronsim.Simulator.runtime

    def runtime(self, *args, **kwargs):
        rt = original(self, *args, **kwargs)
        rt.cc_timeout_ns = 0  # before nrt_init: the Collectives XU waits forever
        sim_holder["sim"] = self
        return rt

    neuronsim.Simulator.runtime = runtime
    try:
        run = run_workload(spec)
    finally:
        neuronsim.Simulator.runtime = original
    figures = summary(run)
    rank0 = next(t for t in figures["threads"] if t["name"] == "rank0")
    assert (rank0["iterations_completed"], rank0["iterations_unfinished"]) == (2, 1)
    assert "rank0: iteration 2 (cores [0]) never finished" in figures["errors"]
    assert ("hang: nc0/xu.collectives.0 (rank 0) waits in allreduce #3 of a group of 2 ranks: ranks [0] arrived, "
            "ranks [1] never did; no timeout: waits forever") in figures["errors"]


def _write(tmp_path, text, name="w.yaml"):
    path = tmp_path / name
    path.write_text(text)
    return str(path)


@given(st.integers(2, 6).flatmap(lambda n: st.tuples(st.just(n), st.sets(st.integers(0, n - 1), min_size=1,
                                                                          max_size=n - 1))),
       st.lists(st.integers(0, 3 * SECOND), min_size=6, max_size=6), st.sampled_from([1, 5, 30]))
def test_property_every_joined_rank_times_out_at_its_timeout_and_the_simulation_goes_idle(group, delays, timeout_s):
    """For any group where some ranks never join: every joined request ends with NRT_TIMEOUT exactly its
    timeout after it started (a NEFF's: NEURON_RT_EXEC_TIMEOUT from the execution's start), its unit is dead,
    and the simulation then has nothing left to do."""
    n, joined = group
    sim = neuronsim.Simulator("trn1.32xlarge", record=True)
    rt = world(sim, n)
    rt_cc = {r: None for r in joined}
    for rank in sorted(joined, key=lambda r: delays[r]):
        sim.advance_to(max(sim.now_ns, delays[rank]))
        rt_cc[rank] = schedule(rt, rank, n)
    end = sim.run_until_idle()
    assert sim.env.peek() == float("inf")
    starts = []
    for rank in joined:
        ret, seq = rt_cc[rank]
        request = rt.request(seq.value)
        assert ret.value == S.NRT_TIMEOUT
        assert request.done_ns == request.start_ns + 30 * SECOND
        assert rt.execution_unit(rank, nrt.NRTA_XU_COLLECTIVES, 0).fatal_status == S.NRT_TIMEOUT
        starts.append(request.start_ns)
    assert end == max(starts) + 30 * SECOND
    assert sorted((t.rank, t.missing) for t in sim.collectives.timeouts) == \
        sorted((r, tuple(m for m in range(n) if m not in joined)) for r in joined)
    assert check_invariants(sim) == []
    # the same for NEFF executions, timed by NEURON_RT_EXEC_TIMEOUT
    neff = neuronsim.Neff(inputs={"x": ((4,), "float32")}, outputs={"y": ((4,), "float32")}, duration_ns=10_000,
                          collectives=[neuronsim.CollectiveSpec("allreduce", 16)])
    sim = neuronsim.Simulator("inf2.48xlarge", record=True)  # any number of copies (trn1: 1, 2, 8, 16, 32k)
    rt = sim.runtime(env={"NEURON_RT_VISIBLE_CORES": f"0-{n - 1}", "NEURON_RT_EXEC_TIMEOUT": str(timeout_s)})
    rt.nrt_init(nrt.NRT_FRAMEWORK_TYPE_NO_FW, "", "")
    executions = {}
    for rank in sorted(joined, key=lambda r: delays[r]):
        sim.advance_to(max(sim.now_ns, delays[rank]))
        model, x, y, ins, outs = nrt.Ref(), nrt.Ref(), nrt.Ref(), nrt.Ref(), nrt.Ref()
        assert rt.nrt_load_collectives(neff, rank, -1, rank, n, model) == S.NRT_SUCCESS
        rt.nrt_tensor_allocate(0, rank, 16, "x", x)
        rt.nrt_tensor_allocate(0, rank, 16, "y", y)
        rt.nrt_allocate_tensor_set(ins)
        rt.nrt_allocate_tensor_set(outs)
        rt.nrt_add_tensor_to_tensor_set(ins.value, "x", x.value)
        rt.nrt_add_tensor_to_tensor_set(outs.value, "y", y.value)
        ret, seq = nrt.Ref(), nrt.Ref()
        assert rt.nrta_execute_schedule(model.value, ins.value, outs.value, 0, ret, seq) == S.NRT_SUCCESS
        executions[rank] = (ret, seq)
    sim.run_until_idle()
    assert sim.env.peek() == float("inf")
    for ret, seq in executions.values():
        request = rt.request(seq.value)
        assert ret.value == S.NRT_TIMEOUT and request.done_ns == request.start_ns + timeout_s * SECOND
    assert check_invariants(sim) == []


def test_the_c_api_returns_nrt_timeout_then_unrecoverable(tmp_path):
    pytest.importorskip("cffi")
    from tests.test_capi import compile_c, run
    from neuronsim.capi.build import build, include_dir

    build(tmp_path)
    source = tmp_path / "missing.c"
    source.write_text(C_MISSING_PEER)
    flags = ([f"-I{include_dir()}"], ["-L" + str(tmp_path), "-lnrt", f"-Wl,-rpath,{tmp_path}"])
    result = run(compile_c(source, tmp_path / "missing", flags), NEURONSIM_INSTANCE="trn1.2xlarge",
                 NEURON_RT_EXEC_TIMEOUT="5", NEURONSIM_CAPI_DIR=str(tmp_path))
    assert result.returncode == 0, result.stderr
    # the call costs 2 us of host time, then the execution waits its 5 s (NEURON_RT_EXEC_TIMEOUT) from its start
    assert result.stdout.splitlines() == ["load 0", "execute 5 after 5000002000 ns", "again 101"]
    assert ("NRT:nrt_execute (FATAL-RT-UNDEFINED-STATE) execution timeout (5000 ms) on Neuron Device 0 NC 0, "
            "model tp.neff, waiting for execution completion notification: allreduce #1 of a group of 2 ranks, rank 0 "
            "waited for its peers: ranks [0] arrived, ranks [1] never did") in result.stderr


C_MISSING_PEER = r"""
#include <inttypes.h>
#include <stdio.h>
#include "nrt/nrt.h"
#include "nrt/neuronsim.h"

static const char NEFF[] = "name: tp\ninputs: {x: {shape: [4], dtype: float32}}\n"
                           "outputs: {y: {shape: [4], dtype: float32}}\ncost: {duration: 50 us}\n"
                           "collectives:\n- {operation: allreduce, input: x, output: y, reduce: add}\n";

int main(void) {
    nrt_init(NRT_FRAMEWORK_TYPE_NO_FW, "", "");
    nrt_model_t *model = NULL;
    printf("load %d\n", nrt_load_collectives(NEFF, sizeof NEFF - 1, 0, -1, 0, 2, &model));
    nrt_tensor_t *x = NULL, *y = NULL;
    nrt_tensor_allocate(NRT_TENSOR_PLACEMENT_DEVICE, 0, 16, "x", &x);
    nrt_tensor_allocate(NRT_TENSOR_PLACEMENT_DEVICE, 0, 16, "y", &y);
    nrt_tensor_set_t *in = NULL, *out = NULL;
    nrt_allocate_tensor_set(&in);
    nrt_allocate_tensor_set(&out);
    nrt_add_tensor_to_tensor_set(in, "x", x);
    nrt_add_tensor_to_tensor_set(out, "y", y);
    uint64_t t0 = neuronsim_now_ns();
    NRT_STATUS s = nrt_execute(model, in, out);  /* rank 1 is never executed */
    printf("execute %d after %" PRIu64 " ns\n", s, neuronsim_now_ns() - t0);
    printf("again %d\n", nrt_execute(model, in, out));
    nrt_close();
    return 0;
}
"""


# -- issue 19, item 1: a fault on one rank fails the collective on every rank --------------------------------

CORE_FAULT = """
schema_version: 1
name: four ranks all-reducing, a fault on core 0's third collective
instance: trn1.32xlarge
models:
  step:
    inputs: {x: {shape: [1024], dtype: float32}}
    outputs: {y: {shape: [1024], dtype: float32}}
    cost: {duration: 100 us}
faults:
  - {target: xu, core: 0, xu: collectives, nth: 3, status: NRT_EXEC_HW_ERR_COLLECTIVES}
threads:
  - name: trainer
    cores: "0-3"
    in_flight: IN_FLIGHT
    iterations: 25
    program:
      - {execute: step}
      - {collective: {op: allreduce, size: 1 MB, dtype: float32}}
"""


@pytest.mark.parametrize("in_flight", [1, 3])
def test_a_core_fault_on_one_rank_fails_that_collective_on_every_rank(tmp_path, in_flight):
    """Issue 19's reproduction: it left ranks 1-3's fourth collectives pending ("completed 0 times") and, with
    requests queued behind them, a Collectives queue 142.3 % busy. Now the third collective fails with the
    fault's status on all four ranks, each rank's Collectives unit dies (the status is fatal, A16), every
    later collective completes or is refused with NRT_EXEC_UNIT_UNRECOVERABLE, and all 25 iterations end."""
    spec = load_workload(_write(tmp_path, CORE_FAULT.replace("IN_FLIGHT", str(in_flight))))
    run = run_workload(spec, records=True)
    assert check_invariants(run.sim) == []
    collectives = [r for r in run.requests if r.kind == "collective"]
    by_core = {c: [r for r in collectives if r.unit.core_id == c] for c in range(4)}
    for core, requests in by_core.items():
        assert [r.status for r in requests[:3]] == [S.NRT_SUCCESS] * 2 + [S.NRT_EXEC_HW_ERR_COLLECTIVES]
        assert all(r.status == S.NRT_EXEC_UNIT_UNRECOVERABLE for r in requests[3:])  # flushed behind it
        assert requests[0].unit.fatal_status == S.NRT_EXEC_HW_ERR_COLLECTIVES
    figures = summary(run)
    (thread,) = figures["threads"]
    assert (thread["iterations_completed"], thread["iterations_unfinished"]) == (25, 0)
    assert all(q["utilisation"] <= 1.0 for q in figures["queues"])
    assert main(["run", _write(tmp_path, CORE_FAULT.replace("IN_FLIGHT", str(in_flight)), "cli.yaml"),
                 "--no-progress"]) == 1


def test_a_queue_is_never_more_than_100_percent_busy_when_the_run_is_cut(tmp_path):
    """The 142.3 % came from counting requests queued behind a waiting collective as busy from time 0: a
    queue runs one request at a time, so only its head counts while it waits. Rank 0 runs 6 iterations
    with 4 in flight, rank 1 one: rank 0's second collective waits (until its timeout, past the cut) with
    three more queued behind it."""
    text = RANK1_NEVER.replace("iterations: 3", "iterations: 6\n    in_flight: 4").replace(
        "iterations: 2", "iterations: 1")
    run = run_workload(load_workload(_write(tmp_path, text)), until_ns=10_000_000, records=True)
    figures = summary(run)
    queue = next(q for q in figures["queues"] if q["name"] == "nc0/xu.collectives.0")
    head = next(r for r in run.requests if r.unit.name == "nc0/xu.collectives.0" and not r.completions)
    assert queue["depth_max"] == 4
    assert queue["utilisation"] == pytest.approx((run.end_ns - head.start_ns + sum(
        r.end_ns - r.start_ns for r in run.requests if r.unit is head.unit and r.completions)) / run.elapsed_ns)
    assert queue["utilisation"] <= 1.0


# -- issue 19, item 2: a slowdown past NEURON_RT_EXEC_TIMEOUT times out --------------------------------------


@pytest.mark.parametrize("call", ["nrta_execute_schedule", "nrt_execute"])
def test_a_slowdown_past_the_exec_timeout_times_out(call):
    """A 1 s execution slowed 100 times would take 100 s; NEURON_RT_EXEC_TIMEOUT is 30 s: NRT_TIMEOUT at
    30 s, the unit dead."""
    sim = neuronsim.Simulator("trn1.2xlarge", record=True, faults=[{"target": "core", "core": 0, "slowdown": 100}])
    rt = sim.open("0", env={"NEURON_RT_EXEC_TIMEOUT": "30"})
    neff = neuronsim.Neff(inputs={"x": ((4,), "float32")}, outputs={"y": ((4,), "float32")}, duration_ns=SECOND)
    model = rt.load(neff, 0)
    x, y = rt.allocate(16, 0, "x"), rt.allocate(16, 0, "y")
    ins, outs = rt.tensor_set({"x": x}), rt.tensor_set({"y": y})
    if call == "nrt_execute":
        assert rt.c.nrt_execute(model, ins, outs) == S.NRT_TIMEOUT
        assert rt.c.nrt_execute(model, ins, outs) == S.NRT_EXEC_UNIT_UNRECOVERABLE
    else:
        future = rt.execute(model, ins, outs)
        assert future.wait() == S.NRT_TIMEOUT
        with pytest.raises(NrtError) as caught:
            rt.execute(model, ins, outs)
        assert caught.value.status == S.NRT_EXEC_UNIT_UNRECOVERABLE
    (request,) = [r for r in rt.c.history if r.kind == "execute" and r.completions]
    assert request.end_ns - request.start_ns == 30 * SECOND and request.fatal
    assert check_invariants(sim) == []


def test_a_slowdown_within_the_exec_timeout_still_succeeds():
    sim = neuronsim.Simulator("trn1.2xlarge", record=True, faults=[{"target": "core", "core": 0, "slowdown": 20}])
    rt = sim.open("0")
    neff = neuronsim.Neff(inputs={"x": ((4,), "float32")}, outputs={"y": ((4,), "float32")}, duration_ns=SECOND)
    model = rt.load(neff, 0)
    future = rt.execute(model, {"x": rt.allocate(16, 0, "x")}, {"y": rt.allocate(16, 0, "y")})
    assert future.wait() == S.NRT_SUCCESS
    (request,) = [r for r in rt.c.history if r.kind == "execute"]
    assert request.end_ns - request.start_ns == 20 * SECOND


# -- issue 18, item 6: rank counts the runtime refuses -------------------------------------------------------


@pytest.mark.parametrize(("instance", "count", "status"), [
    ("trn1.32xlarge", 4, S.NRT_INVALID), ("trn1.32xlarge", 24, S.NRT_INVALID), ("trn1.32xlarge", 3, S.NRT_INVALID),
    ("trn1.32xlarge", 2, S.NRT_SUCCESS), ("trn1.32xlarge", 8, S.NRT_SUCCESS), ("trn1.32xlarge", 16, S.NRT_SUCCESS),
    ("trn1.32xlarge", 32, S.NRT_SUCCESS), ("trn1.32xlarge", 64, S.NRT_SUCCESS), ("trn1.32xlarge", 1, S.NRT_SUCCESS),
    ("inf2.48xlarge", 6, S.NRT_SUCCESS), ("inf2.48xlarge", 24, S.NRT_SUCCESS), ("trn2.48xlarge", 12, S.NRT_SUCCESS),
])
def test_nrt_load_collectives_refuses_the_rank_counts_the_runtime_refuses(instance, count, status, caplog):
    """trn1: "Unsupported topology. Supported number of Neuron Cores is 1, 2, 8, 16 or a multiple of 32"
    with status 2 (NRT_INVALID), as 24 cores of a trn1.32xlarge got; inf2 and trn2 take any count (A60)."""
    sim = neuronsim.Simulator(instance)
    rt = sim.runtime()
    rt.nrt_init(nrt.NRT_FRAMEWORK_TYPE_NO_FW, "", "")
    with caplog.at_level(logging.ERROR, logger="neuronsim.runtime"):
        assert rt.nrt_load_collectives(TP, 0, -1, 0, count, nrt.Ref()) == status
    line = ("NRT:nrt_load_collectives Unsupported topology. Supported number of Neuron Cores is 1, 2, 8, 16 or "
            "a multiple of 32.  For other configurations, such as multiples of 2, consider using inf2 instances")
    refused = (f"nrt_load_collectives: ctx_device_count {count}: the runtime supports no collective group of "
               f"{count} ranks on {instance} (A60) -> NRT_INVALID")
    assert caplog.messages == ([line, refused] if status == S.NRT_INVALID else [])


def test_nrta_cc_prepare_refuses_them_when_the_standalone_check_is_on():
    """The record shows the refusal in nrt_load_collectives only; standalone collectives (nccom-test's path)
    accept any count unless sim.collectives.check_standalone_ranks is set (A60)."""
    for check, expected in ((False, S.NRT_SUCCESS), (True, S.NRT_INVALID)):
        sim = neuronsim.Simulator("trn1.32xlarge")
        sim.collectives.check_standalone_ranks = check
        rt = world(sim, 4)
        i, o, ctx = nrt.Ref(), nrt.Ref(), nrt.Ref()
        rt.nrt_tensor_allocate(0, 0, 64, "i", i)
        rt.nrt_tensor_allocate(0, 0, 64, "o", o)
        assert rt.nrta_cc_prepare(nrt.nrt_cc_comm_t([0, 1, 2, 3], 0, 4, vnc=0), [i.value], [o.value],
                                  nrt.NRT_DTYPE_FLOAT32, nrt.NRT_OP_ADD, nrt.NRT_CC_ALLREDUCE, ctx) == expected
    sim.collectives.supported_ranks = None  # the parameter: any count
    assert rt.nrta_cc_prepare(nrt.nrt_cc_comm_t([0, 1, 2, 3], 0, 4, vnc=0), [i.value], [o.value],
                              nrt.NRT_DTYPE_FLOAT32, nrt.NRT_OP_ADD, nrt.NRT_CC_ALLREDUCE, ctx) == S.NRT_SUCCESS
