"""A fault campaign (issue 19): random fault plans over workloads with collectives, on several instances
(trn1.32xlarge, trn1.2xlarge, inf2.24xlarge, trn2.48xlarge, and two trn1.32xlarge joined by EFA).

Whatever fails, every accepted request completes exactly once with a status, every queue, channel and CPU
is at most 100 % busy, every iteration ends, and the run ends. Plans mix core, XU (Compute, Collectives,
Tensor Op), device, HBM, DMA, NeuronLink and EFA faults with every trigger and effect (statuses fatal or not,
hangs, slowdowns past NEURON_RT_EXEC_TIMEOUT); workloads mix one thread over every rank with a thread per
rank whose iteration counts may differ (a rank that never reaches a collective). 1,000 plans under the
``thorough`` hypothesis profile, a few under ``ci``."""

from __future__ import annotations

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from neuronsim import check_invariants
from neuronsim.testing.strategies import FAULT_STATUSES
from neuronsim.workload.metrics import summary
from neuronsim.workload.runner import run_workload
from neuronsim.workload.spec import load_workload

THOROUGH = settings.default.max_examples >= 1000
PLANS = 1000 if THOROUGH else 12

# instance -> (logical cores usable, devices, HBM stacks per device, a NeuronLink between devices 0 and 1)
INSTANCES = {"trn1.32xlarge": (4, 2, 2, True), "inf2.24xlarge": (4, 2, 2, True), "trn2.48xlarge": (4, 1, 4, False),
             "trn1.2xlarge": (2, 1, 2, False), "2x trn1.32xlarge": (4, 1, 2, False)}
CLUSTER = "2x trn1.32xlarge"  # two ranks on each instance, joined over EFA


@st.composite
def faults(draw, cores: int, devices: int, stacks: int, link: bool, cluster: bool = False) -> list[dict]:
    plan = []
    for _ in range(draw(st.integers(0, 3))):
        target = draw(st.sampled_from(["core", "xu", "xu", "device", "hbm", "dma"] + (["link"] if link else []) +
                                      (["efa"] if cluster else [])))
        fault: dict = {"target": target}
        if cluster:
            fault["instance"] = draw(st.integers(0, 1))
            if target == "efa":
                fault["device"] = 0
        if target in ("core", "xu"):
            fault["core"] = draw(st.integers(0, cores - 1))
        if target == "xu":
            fault["xu"] = draw(st.sampled_from(["compute", "collectives", "tensor_op"]))
        if target in ("device", "hbm", "dma"):
            fault["device"] = draw(st.integers(0, devices - 1))
        if target == "hbm":
            fault["stack"] = draw(st.integers(0, stacks - 1))
        if target == "link":
            fault["link"] = [0, 1]
        trigger = draw(st.sampled_from(["nth", "probability", "at_ns", "none"]))
        if trigger == "nth":
            fault["nth"] = draw(st.integers(1, 8))
        elif trigger == "probability":
            fault["probability"] = draw(st.sampled_from([0.1, 0.5]))
        elif trigger == "at_ns":
            fault["at_ns"] = draw(st.integers(0, 2_000_000))
        effect = draw(st.sampled_from(["status", "status", "hang", "slowdown"]))
        if effect == "status":
            fault["status"] = draw(st.sampled_from(FAULT_STATUSES + ("NRT_EXEC_HW_ERR_COLLECTIVES", "NRT_TIMEOUT")))
        elif effect == "hang":
            fault["hang"] = True
        else:
            fault["slowdown"] = draw(st.sampled_from([1.5, 4.0, 1e6]))  # 1e6: a 100 us step takes 100 s
        fatal = draw(st.sampled_from([None, None, True, False]))
        if fatal is not None:
            fault["fatal"] = fatal
        plan.append(fault)
    return plan


@st.composite
def campaigns(draw) -> dict:
    instance = draw(st.sampled_from(sorted(INSTANCES)))
    usable, devices, stacks, link = INSTANCES[instance]
    ranks = draw(st.integers(2, usable))
    op = draw(st.sampled_from(["allreduce", "allgather", "reducescatter"]))
    program = [{"write": "x"}, {"execute": "step"},
               {"id": "cc", "collective": {"op": op, "size": "48 KiB", "dtype": "float32", "group": "g"},
                "after": ["step"]}]
    if draw(st.booleans()):  # a second collective on another Collectives queue
        program.append({"collective": {"op": "allreduce", "size": "48 KiB", "dtype": "float32", "group": "g2"},
                        "queue": 1, "after": ["step"]})
    if draw(st.booleans()):
        program.append({"read": "y", "queue": 1, "after": ["step"]})
    iterations = draw(st.integers(2, 6))
    in_flight = draw(st.integers(1, 3))
    if instance == CLUSTER:  # a thread per rank, two on each instance
        threads = [{"name": f"rank{r}", "instance": r // 2, "cores": str(r % 2), "in_flight": in_flight,
                    "iterations": iterations - draw(st.sampled_from([0, 0, 0, 1])), "program": program}
                   for r in range(4)]
        ranks = 2  # cores per instance, for the fault targets
    elif draw(st.booleans()):  # one thread drives every rank
        threads = [{"name": "all", "cores": f"0-{ranks - 1}", "in_flight": in_flight, "iterations": iterations,
                    "program": program}]
    else:  # a thread per rank; a rank may run fewer iterations: its peers' last collectives never meet
        threads = [{"name": f"rank{r}", "cores": str(r), "in_flight": in_flight,
                    "iterations": iterations - draw(st.sampled_from([0, 0, 0, 1])), "program": program}
                   for r in range(ranks)]
    return {
        "schema_version": 1, "name": "fault campaign", "instance": instance, "seed": draw(st.integers(0, 3)),
        "env": {"NEURON_RT_EXEC_TIMEOUT": str(draw(st.sampled_from([1, 30])))},
        "collectives": {"fidelity": draw(st.sampled_from(["step", "analytical"]))},
        "faults": draw(faults(ranks, devices, stacks, link and ranks > 2, instance == CLUSTER)),
        "models": {"step": {"inputs": {"x": {"shape": [1024], "dtype": "float32"}},
                            "outputs": {"y": {"shape": [1024], "dtype": "float32"}},
                            "cost": {"duration": "100 us"}}},
        "threads": threads,
    }


@settings(max_examples=PLANS, deadline=None, suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])
@given(campaigns())
def test_fault_campaign_every_request_completes_once_and_nothing_is_over_100_percent(workload):
    spec = load_workload(workload)
    run = run_workload(spec, records=True)
    assert run.events < 1_000_000  # the run ended, and in few events
    assert check_invariants(run.sim) == []  # every accepted request completed exactly once, with a status
    figures = summary(run)
    for section in ("queues", "dma", "hbm", "pcie", "links", "efa", "cpus"):
        for item in figures[section]:
            assert 0.0 <= item["utilisation"] <= 1.0, (section, item)
    for thread, t in zip(spec.threads, figures["threads"], strict=True):
        assert t["iterations_unfinished"] == 0
        assert t["iterations_completed"] == thread.iterations  # every iteration ended, failed or not
    assert not any(e.startswith(("hang:", f"{t['name']}: iteration")) for e in figures["errors"] for t in
                   figures["threads"])
