"""Fault plans: triggers, effects, fatal states, and bad plans."""

from __future__ import annotations

import logging

import numpy as np
import pytest
from hypothesis import event, given
from hypothesis import strategies as st

import neuronsim
from neuronsim import nrt
from neuronsim.errors import ConfigError
from tests.helpers import model_with_io, open_runtime, schedule_execute, tensor

D = 10_000  # execution time of the test model


def neff(kernel=None):
    return neuronsim.Neff(inputs={"x": ((64,), "float32")}, outputs={"y": ((64,), "float32")}, duration_ns=D,
                          kernel=kernel)


def run_executes(faults, n=5, preset="trn1.2xlarge", kernel=None, **kwargs):
    sim, rt = open_runtime(preset, env={}, faults=faults, **kwargs)
    model, ins, outs = model_with_io(rt, neff(kernel))
    results = []
    for _ in range(n):
        status, ret, seq = schedule_execute(rt, model, ins, outs)
        results.append((status, ret, seq))
    sim.run_until_idle()
    return sim, rt, results, (model, ins, outs)


def test_nth_request_fails_with_the_status_and_the_unit_dies(caplog):
    plan = [{"target": "xu", "core": 0, "xu": "compute", "queue": 0, "nth": 3, "status": "NRT_EXEC_HW_ERR_NC_UE"}]
    sim, rt, results, (model, ins, outs) = run_executes(plan)
    statuses = [ret.value for _, ret, _ in results]
    # 1, 2 succeed; 3 fails; 4 and 5 were queued behind it and are flushed (A17)
    assert statuses == [nrt.NRT_SUCCESS, nrt.NRT_SUCCESS, nrt.NRT_EXEC_HW_ERR_NC_UE,
                        nrt.NRT_EXEC_UNIT_UNRECOVERABLE, nrt.NRT_EXEC_UNIT_UNRECOVERABLE]
    assert rt.execution_unit(0, nrt.NRTA_XU_COMPUTE, 0).fatal_status == nrt.NRT_EXEC_HW_ERR_NC_UE
    with caplog.at_level(logging.ERROR, logger="neuronsim"):
        status, _, seq = schedule_execute(rt, model, ins, outs)
    assert status == nrt.NRT_EXEC_UNIT_UNRECOVERABLE and seq.value is None
    assert [r.getMessage() for r in caplog.records] == [  # it was refused without a line
        "nrta_execute_schedule: nc0/xu.compute.0 is in its terminal state after NRT_EXEC_HW_ERR_NC_UE: nrt_close "
        "and nrt_init to use it again (A17) -> NRT_EXEC_UNIT_UNRECOVERABLE"]
    # other units keep working: the Tensor Op queues of core 0 and the compute unit of core 1
    t = tensor(rt, 256)
    ret = nrt.Ref()
    assert rt.nrta_tensor_write(t, np.ones(256, np.uint8), 0, 256, 0, 0, ret, nrt.Ref()) == nrt.NRT_SUCCESS
    m1, i1, o1 = model_with_io(rt, neff(), vnc=1)
    status, ret1, _ = schedule_execute(rt, m1, i1, o1)
    sim.run_until_idle()
    assert status == nrt.NRT_SUCCESS and ret.value == ret1.value == nrt.NRT_SUCCESS
    assert sim.faults_fired == [(0, results[2][2].value, rt.request(results[2][2].value).start_ns)]


def test_an_nth_fault_counts_requests_another_fault_of_the_plan_hit_too():
    """``nth: 4`` hits the 4th matching request whether or not an earlier fault of the plan fired on the 2nd
    (it hit the 5th when one listed before it had fired: plan order changed the outcome) (A137)."""
    a = {"target": "xu", "core": 0, "xu": "compute", "nth": 2, "status": "NRT_EXEC_COMPLETED_WITH_ERR"}
    b = {"target": "xu", "core": 0, "xu": "compute", "nth": 4, "status": "NRT_EXEC_BAD_INPUT"}
    outcomes = []
    for plan in ([a, b], [b, a]):
        _, _, results, _ = run_executes(plan, n=6)
        outcomes.append([ret.value for _, ret, _ in results])
    assert outcomes[0] == outcomes[1] == [nrt.NRT_SUCCESS, nrt.NRT_EXEC_COMPLETED_WITH_ERR, nrt.NRT_SUCCESS,
                                          nrt.NRT_EXEC_BAD_INPUT, nrt.NRT_SUCCESS, nrt.NRT_SUCCESS]


def test_the_terminal_state_lasts_until_close_and_reinit():
    plan = [{"target": "core", "core": 0, "status": "NRT_EXEC_HW_ERR_HBM_UE"}]
    sim, rt, results, (model, ins, outs) = run_executes(plan, n=1)
    assert results[0][1].value == nrt.NRT_EXEC_HW_ERR_HBM_UE
    assert schedule_execute(rt, model, ins, outs)[0] == nrt.NRT_EXEC_UNIT_UNRECOVERABLE
    rt.nrt_close()
    assert rt.nrt_init(nrt.NRT_FRAMEWORK_TYPE_NO_FW, "", "") == nrt.NRT_SUCCESS
    model, ins, outs = model_with_io(rt, neff())
    status, ret, _ = schedule_execute(rt, model, ins, outs)
    sim.run_until_idle()
    assert status == nrt.NRT_SUCCESS and ret.value == nrt.NRT_SUCCESS  # fired once (times: 1)


def test_non_fatal_status_leaves_the_unit_working():
    plan = [{"target": "xu", "core": 0, "xu": "compute", "nth": 2, "status": "NRT_EXEC_HW_ERR_REPAIRABLE_HBM_UE"}]
    _, rt, results, _ = run_executes(plan, n=4)
    assert [ret.value for _, ret, _ in results] == [0, 1205, 0, 0]
    assert rt.execution_unit(0, nrt.NRTA_XU_COMPUTE, 0).fatal_status is None


def test_numerical_error_fills_float_outputs_with_nan():
    plan = [{"target": "core", "core": 0, "nth": 1, "status": "NRT_EXEC_COMPLETED_WITH_NUM_ERR"}]
    sim, rt, results, (model, ins, outs) = run_executes(plan, n=2, kernel=lambda x: {"y": x + 1})
    assert [ret.value for _, ret, _ in results] == [1003, 0]
    y = np.empty(64, np.float32)
    sim2, rt2, results2, (_, _, outs2) = run_executes(plan, n=1, kernel=lambda x: {"y": x + 1})
    rt2.nrta_tensor_read(y, outs2.tensors["y"], 0, 256, 0, 0, nrt.Ref(), nrt.Ref())
    sim2.run_until_idle()
    assert np.isnan(y).all()


def test_hang_becomes_timeout_after_the_exec_timeout():
    plan = [{"target": "xu", "core": 0, "xu": "compute", "nth": 2, "hang": True}]
    sim, rt, results, _ = run_executes(plan, n=3)
    hung = rt.request(results[1][2].value)
    assert hung.status == nrt.NRT_TIMEOUT
    assert hung.end_ns - hung.start_ns == 30 * 10**9  # NEURON_RT_EXEC_TIMEOUT default 30 s
    assert results[2][1].value == nrt.NRT_EXEC_UNIT_UNRECOVERABLE


def test_hang_honours_neuron_rt_exec_timeout():
    sim = neuronsim.Simulator("trn1.2xlarge", record=True,
                              faults=[{"target": "core", "core": 0, "hang": True}])
    rt = sim.runtime(env={"NEURON_RT_EXEC_TIMEOUT": "2"})
    rt.nrt_init(1, "", "")
    model, ins, outs = model_with_io(rt, neff())
    _, ret, seq = schedule_execute(rt, model, ins, outs)
    sim.run_until_idle()
    req = rt.request(seq.value)
    assert ret.value == nrt.NRT_TIMEOUT and req.end_ns - req.start_ns == 2 * 10**9


def test_slowdown_makes_a_straggler():
    plan = [{"target": "xu", "core": 0, "xu": "compute", "nth": 2, "slowdown": 3}]
    _, rt, results, _ = run_executes(plan, n=3)
    durations = [rt.request(seq.value).end_ns - rt.request(seq.value).start_ns for _, _, seq in results]
    assert durations == [D, 3 * D, D]
    assert all(ret.value == nrt.NRT_SUCCESS for _, ret, _ in results)


def test_at_time_hits_the_request_running_then():
    _, dry, dry_results, _ = run_executes([], n=4)
    ends = [dry.request(seq.value).end_ns for _, _, seq in dry_results]
    at = (ends[0] + ends[1]) // 2  # after the first has finished, while the second runs
    plan = [{"target": "core", "core": 0, "at_ns": at, "status": "NRT_EXEC_HW_ERR_DMA_ABORT"}]
    _, rt, results, _ = run_executes(plan, n=4)
    assert [rt.request(seq.value).end_ns for _, _, seq in results[:2]] == ends[:2]
    assert [ret.value for _, ret, _ in results] == [0, 1203, 101, 101]


def test_dma_target_fails_transfers_and_moves_no_data():
    plan = [{"target": "dma", "device": 0, "status": "NRT_EXEC_HW_ERR_DMA_ABORT", "fatal": False}]
    sim, rt = open_runtime("trn1.2xlarge", env={}, faults=plan)
    t = tensor(rt, 256)
    ret, ret2 = nrt.Ref(), nrt.Ref()
    rt.nrta_tensor_write(t, np.full(256, 7, np.uint8), 0, 256, 0, 0, ret, nrt.Ref())
    back = np.zeros(256, np.uint8)
    sim.run_until_idle()
    rt.nrta_tensor_read(back, t, 0, 256, 0, 0, ret2, nrt.Ref())
    sim.run_until_idle()
    assert ret.value == nrt.NRT_EXEC_HW_ERR_DMA_ABORT and ret2.value == nrt.NRT_SUCCESS
    assert not back.any()  # the failed write landed nothing


def test_hbm_target_hits_requests_on_that_stack_only():
    plan = [{"target": "hbm", "device": 0, "stack": 1, "status": "NRT_EXEC_HW_ERR_HBM_UE", "times": 5}]
    sim, rt = open_runtime("trn1.2xlarge", env={}, faults=plan)
    on0, on1 = tensor(rt, 256, vnc=0), tensor(rt, 256, vnc=1)
    r0, r1 = nrt.Ref(), nrt.Ref()
    rt.nrta_tensor_write(on0, np.ones(256, np.uint8), 0, 256, 0, 0, r0, nrt.Ref())
    rt.nrta_tensor_write(on1, np.ones(256, np.uint8), 0, 256, 1, 0, r1, nrt.Ref())
    sim.run_until_idle()
    assert (r0.value, r1.value) == (nrt.NRT_SUCCESS, nrt.NRT_EXEC_HW_ERR_HBM_UE)


def test_degraded_link_and_hbm():
    plan = [{"target": "link", "link": [0, 1], "degrade": 4, "at_ns": 1000},
            {"target": "hbm", "device": 0, "stack": 0, "degrade": 2}]
    sim = neuronsim.Simulator("trn1.32xlarge", faults=plan)
    link = sim.system.links[(0, 1)].channel
    before = link.bandwidth_bytes_per_ns
    sim.run_for_ns(999)
    assert link.bandwidth_bytes_per_ns == before
    sim.run_for_ns(1)
    assert link.bandwidth_bytes_per_ns == before / 4
    assert sim.system.links[(1, 0)].channel.bandwidth_bytes_per_ns == before / 4
    assert sim.system.devices[0].hbm[0].channel.bandwidth_bytes_per_ns == 205.0


def test_probability_is_seeded():
    plan = [{"target": "core", "core": 0, "probability": 0.3, "status": "NRT_EXEC_COMPLETED_WITH_ERR"}]

    def outcome(seed):
        sim, rt = open_runtime("trn1.2xlarge", env={}, faults=plan, seed=seed)
        model, ins, outs = model_with_io(rt, neff())
        rets = []
        for _ in range(5):  # 5 batches of 8 (the queue's capacity)
            rets += [schedule_execute(rt, model, ins, outs)[1] for _ in range(8)]
            sim.run_until_idle()
        return [int(ret.value) for ret in rets]

    a = outcome(1)
    assert a == outcome(1)
    assert a != outcome(2)
    assert 3 <= a.count(1004) <= 25


def test_fault_plan_from_yaml(tmp_path):
    path = tmp_path / "plan.yaml"
    path.write_text("faults:\n  - {target: xu, core: 0, xu: compute, nth: 1, status: NRT_EXEC_HW_ERR_NC_UE}\n")
    _, _, results, _ = run_executes(str(path), n=1)
    assert results[0][1].value == nrt.NRT_EXEC_HW_ERR_NC_UE


@pytest.mark.parametrize(("plan", "field", "reason"), [
    ([{"target": "core", "status": "NRT_TIMEOUT"}], "[0].core", "a core fault needs core"),
    ([{"target": "core", "core": 0}], "[0].status", "give exactly one effect"),
    ([{"target": "core", "core": 0, "status": "NRT_OOPS"}], "[0].status", "unknown NRT_STATUS 'NRT_OOPS'"),
    ([{"target": "core", "core": 0, "hang": True, "slowdown": 2}], "[0].status", "exactly one effect"),
    ([{"target": "core", "core": 0, "nth": 2, "at_ns": 5, "hang": True}], "[0].nth", "at most one trigger"),
    ([{"target": "core", "core": 99, "hang": True}], "[0].core", "core 99 does not exist (cores are 0-1)"),
    ([{"target": "core", "core": 0, "hang": True, "colour": 1}], "[0].colour", "unknown key"),
    ([{"target": "link", "link": [0, 1], "hang": True}], "[0].link", "there is no NeuronLink between devices 0 and 1"),
    ([{"target": "efa", "device": 0, "degrade": 2}], "[0].device", "device 0 has no EFA device"),
    ([{"target": "core", "core": 0, "degrade": 2}], "[0].degrade", "degrade applies to channel targets"),
    ([{"target": "core", "core": 0, "status": "NRT_SUCCESS"}], "[0].status", "NRT_SUCCESS is not a fault"),
])
def test_bad_fault_plans(plan, field, reason):
    with pytest.raises(ConfigError) as info:
        neuronsim.Simulator("trn1.2xlarge", faults=plan)
    issue = info.value.issues[0]
    assert issue.field.replace("faults", "") == field
    assert reason in issue.reason


def test_a_plan_that_is_not_a_list():
    with pytest.raises(ConfigError, match="a fault plan is a list of faults"):
        neuronsim.Simulator("trn1.2xlarge", faults={"target": "core"})


def test_faults_name_an_instance_of_a_cluster():
    plan = [{"target": "core", "instance": 1, "core": 0, "status": "NRT_EXEC_HW_ERR_NC_UE"}]
    sim = neuronsim.Simulator("2x trn1.32xlarge", faults=plan)
    rets = []
    for node in (0, 1):
        rt = sim.runtime(env={"NEURON_RT_VISIBLE_CORES": "0"}, instance=node)
        rt.nrt_init(1, "", "")
        model, ins, outs = model_with_io(rt, neff())
        rets.append(schedule_execute(rt, model, ins, outs)[1])
    sim.run_until_idle()
    assert [r.value for r in rets] == [nrt.NRT_SUCCESS, nrt.NRT_EXEC_HW_ERR_NC_UE]
    with pytest.raises(ConfigError, match="instance 2 does not exist"):
        neuronsim.Simulator("2x trn1.32xlarge", faults=[dict(plan[0], instance=2)])


def allreduces(sim, groups: list[list[tuple[int, int]]], size: int = 1 << 16):
    """One all-reduce per group, in order; a group lists its ranks as (instance, core). Returns each
    collective's ret cells and output tensors (with their runtimes)."""
    world = sorted({rank for group in groups for rank in group})
    ids = {rank: i for i, rank in enumerate(world)}
    runtimes = {}
    for instance in sorted({i for i, _ in world}):
        cores = [c for i, c in world if i == instance]
        rt = sim.runtime(env={"NEURON_RT_VISIBLE_CORES": f"0-{max(cores)}", "NEURON_RT_EXEC_TIMEOUT": "1"},
                         instance=instance)
        assert rt.nrt_init(1, "", "") == nrt.NRT_SUCCESS
        runtimes[instance] = rt
    for (instance, core), g in ids.items():
        assert runtimes[instance].nrt_cc_global_comm_init(core, g, len(world)) == nrt.NRT_SUCCESS
    out = []
    for group in groups:
        cells = []
        for rank, (instance, core) in enumerate(group):
            rt = runtimes[instance]
            i, o, ctx, ret = nrt.Ref(), nrt.Ref(), nrt.Ref(), nrt.Ref()
            rt.nrt_tensor_allocate(0, core, size, "i", i)
            rt.nrt_tensor_allocate(0, core, size, "o", o)
            rt.nrt_tensor_write(i.value, np.ones(size, np.uint8), 0, size)
            comm = nrt.nrt_cc_comm_t([ids[r] for r in group], rank, len(group), vnc=core)
            assert rt.nrta_cc_prepare(comm, [i.value], [o.value], nrt.NRT_DTYPE_UINT8, nrt.NRT_OP_ADD,
                                      nrt.NRT_CC_ALLREDUCE, ctx) == nrt.NRT_SUCCESS
            assert rt.nrta_cc_schedule(ctx, 0, ret, nrt.Ref()) == nrt.NRT_SUCCESS
            cells.append((rt, ret, o.value))
        out.append(cells)
    sim.run_until_idle()
    return out


def read(rt, tensor, size: int = 1 << 16):
    buf = np.zeros(size, np.uint8)
    rt.nrt_tensor_read(tensor, buf, 0, size)
    return buf


def test_an_efa_fault_fails_every_rank_of_the_collectives_crossing_it():
    """A status on the EFA device paired with device 0 of instance 0: the 4-rank collective over EFA fails on
    every rank of both instances, moving no data; one inside instance 1 does not cross it; the fault
    fired once (not fatal here), so the next one crossing it succeeds."""
    plan = [{"target": "efa", "instance": 0, "device": 0, "status": "NRT_NETWORK_PROXY_FAILURE", "fatal": False}]
    sim = neuronsim.Simulator("2x trn1.32xlarge", faults=plan, record=True)
    across = [(0, 0), (0, 1), (1, 0), (1, 1)]
    first, inside, again = allreduces(sim, [across, [(1, 0), (1, 1)], across])
    assert [ret.value for _, ret, _ in first] == [nrt.NRT_NETWORK_PROXY_FAILURE] * 4
    assert all(not read(rt, out).any() for rt, _, out in first)  # no data moved
    assert [ret.value for _, ret, _ in inside + again] == [nrt.NRT_SUCCESS] * 6
    assert all((read(rt, out) == 4).all() for rt, _, out in again)
    assert [index for index, _, _ in sim.faults_fired] == [0]


def test_a_hung_link_times_out_every_rank_after_the_collectives_timeout_and_nth_counts_collectives():
    plan = [{"target": "link", "link": [0, 1], "hang": True, "nth": 2}]
    sim = neuronsim.Simulator("trn1.32xlarge", faults=plan, record=True)
    ranks = [(0, c) for c in range(4)]  # devices 0 and 1: the ring crosses link 0-1
    first, second = allreduces(sim, [ranks, ranks])
    assert [ret.value for _, ret, _ in first] == [nrt.NRT_SUCCESS] * 4
    assert [ret.value for _, ret, _ in second] == [nrt.NRT_TIMEOUT] * 4
    record = sim.collectives.records[1]
    # a standalone collective: the Collectives XU wait timeout (30 s on the 3.0 API) from each rank's start,
    # not NEURON_RT_EXEC_TIMEOUT (1 s here), which governs executions
    parts = [r for r in first[0][0].history if r.kind == "collective"][4:]
    assert record.ends_ns == [r.start_ns + 30 * 10**9 for r in parts] == [r.end_ns for r in parts]
    rt = first[0][0]
    assert rt.execution_unit(0, nrt.NRTA_XU_COLLECTIVES, 0).fatal_status == nrt.NRT_TIMEOUT  # a hang is fatal


def test_a_slow_link_slows_the_collectives_crossing_it_exactly():
    def duration(plan):
        sim = neuronsim.Simulator("trn1.32xlarge", faults=plan, record=True)
        sim.collectives.fidelity = "analytical"
        allreduces(sim, [[(0, c) for c in range(4)]])
        record = sim.collectives.records[0]
        return max(record.ends_ns) - record.start_ns

    normal = duration(None)
    assert duration([{"target": "link", "link": [1, 0], "slowdown": 3}]) == 3 * normal
    assert duration([{"target": "link", "link": [2, 3], "slowdown": 3}]) == normal  # not on the route


@given(st.lists(st.lists(st.sampled_from([(i, c) for i in (0, 1) for c in range(4)]), min_size=2, max_size=4,
                         unique=True), min_size=1, max_size=5),
       st.sampled_from([{"target": "efa", "instance": 0, "device": 0}, {"target": "efa", "instance": 1, "device": 1},
                        {"target": "link", "link": [0, 1]}, {"target": "link", "instance": 1, "link": [1, 0]}]),
       st.sampled_from([{"status": "NRT_NETWORK_PROXY_FAILURE", "fatal": False}, {"hang": True, "fatal": False},
                        {"slowdown": 2.0}]),
       st.sampled_from([{}, {"nth": 2}, {"probability": 0.5, "times": 3}]))
def test_a_network_fault_hits_whole_collectives_and_only_those_crossing_it(groups, target, effect, trigger):
    fault = {**target, **effect, **trigger}
    sim = neuronsim.Simulator("2x trn1.32xlarge", faults=[fault], record=True)
    results = allreduces(sim, groups, size=4096)
    hit = [(index, seq) for index, seq, _ in sim.faults_fired]
    assert len(hit) <= fault.get("times", 1)
    watched = sim.fault_injector.network_channels
    fabric = sim.collectives.fabric
    hung = "hang" in effect
    failed = knock_on = 0
    for group, cells in zip(groups, results, strict=True):
        statuses = {ret.value for _, ret, _ in cells}
        cores = [sim.systems[i].cores[c] for i, c in group]
        _, phases = sim.collectives.plan_for(cores, "allreduce", 4096)
        crossed = {link.channel for phase in phases for t in phase.transfers
                   for link in fabric.route(cores[t.src].device.global_index, cores[t.dst].device.global_index)}
        if hung and statuses != {nrt.NRT_SUCCESS} and (statuses != {nrt.NRT_TIMEOUT} or not crossed & watched):
            # a hang holds its ranks' queues for the whole collectives timeout: a later collective whose
            # other ranks waited as long for them times out too (or, behind a rank that did, is refused)
            assert statuses <= {nrt.NRT_TIMEOUT, nrt.NRT_EXEC_UNIT_UNRECOVERABLE}
            knock_on += 1
            continue
        assert len(statuses) == 1  # every rank of a collective has the same outcome
        failed += statuses != {nrt.NRT_SUCCESS}
        assert statuses == {nrt.NRT_SUCCESS} or crossed & watched  # only a collective crossing it fails
    event(f"collectives failed: {min(failed, 2)}{'+' if failed >= 2 else ''}")
    if "slowdown" in effect:
        assert failed == 0
    elif hung:
        assert failed + knock_on >= len(hit)
    else:
        assert failed == len(hit)
    assert neuronsim.check_invariants(sim) == []
