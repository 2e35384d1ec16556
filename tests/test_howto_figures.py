"""The figures the how-to pages quote in prose are the ones the simulator prints for the commands beside them
(the pages' code blocks run in test_docs.py; prose numbers do not, so they are checked here)."""

from __future__ import annotations

import re
from pathlib import Path

import yaml

from neuronsim.workload.metrics import summary
from neuronsim.workload.runner import run_workload
from neuronsim.workload.spec import load_workload

PIPELINE = Path(__file__).parents[1] / "docs" / "howto" / "simulate-a-pipeline.md"


def test_the_pipeline_howto_quotes_what_a_closed_loop_reaches_with_two_and_one_in_flight():
    """simulate-a-pipeline.md §3: `--set threads.0.arrivals=closed` with two in flight saturates the compute
    queues, with one it is in-flight-limited, at the rates the page gives (rounded to the hundred). 200
    iterations instead of the file's 2,000 keep the test fast: one in flight prints the same throughput
    (5,437.6/s, every iteration 367.81 us), two in flight 8,893.7/s against 8,945.4/s (both about 8,900)."""
    page = PIPELINE.read_text()
    base = yaml.safe_load(re.findall(r"```yaml\n(.*?)```", page, re.S)[0])
    figures = {}
    for depth in (2, 1):
        spec = load_workload(base, ["threads.0.arrivals=closed", f"threads.0.in_flight={depth}",
                                    "threads.0.iterations=200"])
        figures[depth] = summary(run_workload(spec))
    assert figures[2]["limit"]["verdict"] == "saturated"
    assert figures[2]["bottleneck"]["name"] == "nc0/xu.compute.0"
    assert figures[1]["limit"]["verdict"] == "in-flight-limited"
    two, one = (round(figures[d]["throughput_per_s"], -2) for d in (2, 1))
    assert (two, one) == (8900, 5400)
    assert (f"two in flight saturate the\ncompute queues (about {two:,.0f} requests/s) and one is "
            f"`in-flight-limited` (about {one:,.0f}/s)") in page
