"""The public strategies produce valid values; the contract state machine passes a correct wrapper
and catches broken ones."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import Phase, given, settings
from hypothesis import strategies as st

import neuronsim
from neuronsim import nrt
from neuronsim.workload.builtin_pipeline import run_demo
from neuronsim.sim.faults import load_fault_plan
from neuronsim.testing import strategies as ns
from neuronsim.testing.contract import NrtaContract, ReferenceWrapper
from neuronsim.topology.spec import InstanceSpec


@given(ns.topologies())
def test_topologies_validate(spec):
    assert InstanceSpec.model_validate(spec.model_dump()) == spec
    neuronsim.Simulator(spec)


@given(ns.neffs())
def test_neffs_load_and_run(neff):
    sim = neuronsim.Simulator("trn1.2xlarge")
    rt = sim.open()
    model = rt.load(neff)
    ins, outs = rt.allocate_io(model)
    assert rt.execute(model, ins, outs).wait() == nrt.NRT_SUCCESS


@given(ns.tensor_sizes(1 << 16).flatmap(lambda n: st.tuples(st.just(n), ns.host_buffers(n))))
def test_tensor_sizes_and_buffers_round_trip(size_and_buffer):
    size, buf = size_and_buffer
    assert buf.nbytes == size
    rt = neuronsim.Simulator("trn1.2xlarge").open()
    t = rt.allocate(size)
    rt.write(t, buf).result()
    np.testing.assert_array_equal(rt.read(t).result(), buf)


@settings(max_examples=10)
@given(ns.workloads())
def test_workloads_run(kwargs):
    result = run_demo("trn1.2xlarge", **kwargs)
    assert result["failed"] == 0


@given(ns.fault_plans(num_cores=32, num_devices=16))
def test_fault_plans_validate(plan):
    load_fault_plan(plan)
    neuronsim.Simulator("trn1.32xlarge", faults=plan)


@given(ns.api_calls())
def test_api_call_sequences_replay(calls):
    sim = neuronsim.Simulator("trn1.2xlarge", record=True)
    rt = sim.runtime()
    rt.nrt_init(nrt.NRT_FRAMEWORK_TYPE_NO_FW, "", "")
    results = ns.replay(rt, calls)
    assert len(results) == len(calls)
    assert {status for _, status, _, _ in results} <= {0, 2, 7}  # success, invalid (bad queue), queue full
    sim.run_until_idle()
    assert neuronsim.check_invariants(sim) == []


def test_every_strategy_is_exercised():
    assert set(ns.__all__) >= {"topologies", "neffs", "tensor_sizes", "host_buffers", "workloads", "fault_plans",
                               "api_calls", "collectives", "run_collective"}  # collectives: test_collective_properties


class ReferenceContract(NrtaContract):
    pass


ReferenceContract.TestCase.settings = settings(max_examples=25, stateful_step_count=20, deadline=None)
TestReferenceWrapper = ReferenceContract.TestCase


class LosesErrors(ReferenceWrapper):
    def wait(self, handle):
        super().wait(handle)
        return nrt.NRT_SUCCESS  # a wrapper that swallows failures


class SkipsTheWait(ReferenceWrapper):
    def schedule(self, core):
        model = self.models[core]
        inputs, outputs = self.rt.allocate_io(model)
        write = self.rt.write(inputs["x"], bytes(1024))  # no wait before the execution: a race
        return {"futures": [write, self.rt.execute(model, inputs, outputs)], "outputs": outputs, "status": 0}


# Skipping the wait shows as a race, or, when a fault fails the write, as a wait that reports the request
# done while its execution is still in flight; which one the search meets first depends on its seed.
@pytest.mark.parametrize(("wrapper", "message"), [(LosesErrors, "lost error"),
                                                  (SkipsTheWait, "read-after-write|must poll as done")])
def test_the_contract_catches_broken_wrappers(wrapper, message):
    class Broken(NrtaContract):
        def make_wrapper(self, sim):
            return wrapper(sim, self.cores)

    Broken.TestCase.settings = settings(max_examples=60, stateful_step_count=20, deadline=None, database=None,
                                        report_multiple_bugs=False, phases=[Phase.generate])  # found, not shrunk
    with pytest.raises(AssertionError, match=message):
        Broken.TestCase().runTest()
