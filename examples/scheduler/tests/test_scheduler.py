"""The scheduler's test suite: correctness, back-pressure, error handling, presets, properties."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import neuronsim
from neuronsim import nrt
from neuronsim.testing.strategies import fault_plans

N = 256  # float32 elements per request


def model(duration_ns=50_000):
    return neuronsim.Neff(inputs={"x": ((N,), "float32")}, outputs={"y": ((N,), "float32")},
                          duration_ns=duration_ns, kernel=lambda x: {"y": x * 2 + 1})


def start(sim, scheduler_class, cores=1, depth=2, duration_ns=50_000):
    rt = sim.runtime(env={"NEURON_RT_VISIBLE_CORES": f"0-{cores - 1}"})
    assert rt.nrt_init(nrt.NRT_FRAMEWORK_TYPE_NO_FW, "", "") == nrt.NRT_SUCCESS
    return scheduler_class(rt, model(duration_ns), cores=cores, depth=depth)


def inputs(n, cores=1, seed=0):
    rng = np.random.default_rng(seed)
    return [(i % cores, rng.standard_normal(N).astype(np.float32)) for i in range(n)]


def test_outputs_are_correct(neuron_sim, scheduler_class):
    sched = start(neuron_sim, scheduler_class, cores=2, depth=2)
    requests = inputs(12, cores=2)
    for ticket, (_, x) in zip(sched.run(requests), requests, strict=True):
        assert ticket.status == nrt.NRT_SUCCESS
        np.testing.assert_array_equal(ticket.y, x * 2 + 1)


def test_back_pressure_is_handled(neuron_sim, scheduler_class):
    """Depth 12 per core is more than the execution unit's capacity of 8: the scheduler meets
    NRT_QUEUE_FULL and must retry; every request still completes, in order, with the right data."""
    sched = start(neuron_sim, scheduler_class, depth=12, duration_ns=200_000)
    requests = inputs(30)
    tickets = sched.run(requests)
    assert [t.status for t in tickets] == [nrt.NRT_SUCCESS] * 30
    for ticket, (_, x) in zip(tickets, requests, strict=True):
        np.testing.assert_array_equal(ticket.y, x * 2 + 1)


@pytest.mark.neuron_faults([{"target": "xu", "core": 0, "xu": "compute", "nth": 3,
                             "status": "NRT_EXEC_COMPLETED_WITH_ERR"}])
def test_a_failed_execution_is_reported(neuron_sim, scheduler_class):
    sched = start(neuron_sim, scheduler_class, depth=2)
    tickets = sched.run(inputs(6))
    assert [t.status for t in tickets] == [0, 0, nrt.NRT_EXEC_COMPLETED_WITH_ERR, 0, 0, 0]
    assert tickets[2].y is None


@pytest.mark.neuron_faults([{"target": "core", "core": 0, "nth": 2, "status": "NRT_EXEC_HW_ERR_NC_UE"}])
def test_a_dead_unit_fails_the_rest_without_hanging(neuron_sim, scheduler_class):
    sched = start(neuron_sim, scheduler_class, depth=2)
    statuses = [t.status for t in sched.run(inputs(5))]
    assert statuses[0] == nrt.NRT_SUCCESS
    assert statuses[1] == nrt.NRT_EXEC_HW_ERR_NC_UE
    assert all(s == nrt.NRT_EXEC_UNIT_UNRECOVERABLE for s in statuses[2:])


@pytest.mark.neuron_instances("trn1.2xlarge", "inf2.xlarge", "trn2.48xlarge")
def test_runs_on_every_instance(neuron_sim, scheduler_class):
    sched = start(neuron_sim, scheduler_class, cores=2)
    assert all(t.status == nrt.NRT_SUCCESS for t in sched.run(inputs(8, cores=2)))


@settings(suppress_health_check=[HealthCheck.function_scoped_fixture])  # examples, deadline: the profile's
@given(plan=fault_plans(num_cores=2, allow_hang=False), n=st.integers(1, 16), depth=st.integers(1, 4))
def test_every_request_finishes_once_with_an_honest_status(scheduler_class, plan, n, depth):
    sim = neuronsim.Simulator("trn1.2xlarge", faults=plan, record=True, detect_races=True)
    sched = start(sim, scheduler_class, cores=2, depth=depth)
    tickets = sched.run(inputs(n, cores=2))
    by_seq = {req.seq_id: req for req in sim.runtimes[0].history}
    for ticket in tickets:
        assert ticket.status is not None
        failures = [by_seq[s].status for s in ticket.seqs if by_seq[s].status != nrt.NRT_SUCCESS]
        if failures:
            assert ticket.status == failures[0]  # the first failure is what the caller sees
    sim.run_until_idle()
    assert sim.hazards == []
    assert neuronsim.check_invariants(sim) == []
