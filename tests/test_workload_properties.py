"""Invariants of workload runs over generated workloads: exactly-once completion, per-queue order,
in-flight limits, the runtime's invariants, and determinism."""

from __future__ import annotations

from hypothesis import given

import neuronsim
from neuronsim.testing.strategies import workload_files
from neuronsim.workload.metrics import summary
from neuronsim.workload.runner import run_workload
from neuronsim.workload.spec import load_workload


@given(workload_files(instance="trn1.32xlarge", max_cores=4))
def test_every_iteration_and_request_completes_once_in_order(data):
    spec = load_workload(data)
    run = run_workload(spec, records=True)
    expected = sum(t.iterations for t in spec.threads)
    assert len(run.iterations) == expected
    assert all(i.done_ns >= i.arrival_ns >= run.start_ns and i.failed == 0 for i in run.iterations)
    assert all(r.completions == 1 and r.status == 0 for r in run.requests)
    per_unit: dict[str, list] = {}
    for req in run.requests:
        per_unit.setdefault(req.unit.name, []).append(req)
    limits = {t.name: t.in_flight for t in spec.threads}
    for reqs in per_unit.values():
        reqs.sort(key=lambda r: r.seq_num)
        assert [r.start_ns for r in reqs] == sorted(r.start_ns for r in reqs)  # FIFO per queue
        assert all(a.end_ns <= b.start_ns for a, b in zip(reqs, reqs[1:], strict=False))  # one at a time
    figures = summary(run)
    for queue in figures["queues"]:
        if not queue["name"].split("/")[1].startswith("sync."):
            assert queue["depth_max"] <= max(limits.values()) * len(spec.threads)
    assert neuronsim.check_invariants(run.sim) == []
    assert summary(run_workload(load_workload(data))) == figures  # same file, same seed: same figures
