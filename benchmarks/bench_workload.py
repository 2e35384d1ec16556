"""The trn2.48xlarge LLM decode example for 1,000 iterations, against raw SimPy in the same process.

    python benchmarks/bench_workload.py [--iterations N]

Prints the wall time, the SimPy events the run processed and their rate, the simulated time and its
ratio to wall time, and raw SimPy timeouts per second measured in the same process (the yardstick:
events per second over raw timeouts per second is the figure to compare across machines).
"""

from __future__ import annotations

import argparse
import time
from pathlib import Path

from rawsimpy import raw_simpy_timeouts_per_s

from neuronsim.workload.metrics import summary
from neuronsim.workload.runner import run_workload
from neuronsim.workload.spec import load_workload

EXAMPLE = Path(__file__).parents[1] / "examples" / "workloads" / "llm-decode.yaml"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--iterations", type=int, default=1000)
    args = parser.parse_args()
    raw_before = raw_simpy_timeouts_per_s(1_000_000)
    spec = load_workload(EXAMPLE, [f"threads.0.iterations={args.iterations}"])
    start = time.perf_counter()
    run = run_workload(spec)
    wall = time.perf_counter() - start
    raw_after = raw_simpy_timeouts_per_s(1_000_000)
    raw = (raw_before + raw_after) / 2
    figures = summary(run)
    thread = figures["threads"][0]
    simulated_s = figures["elapsed_ns"] / 1e9
    requests = sum(r["count"] for r in figures["requests"].values())
    print(f"llm decode on {figures['instance']} (LNC={figures['lnc']}): {thread['iterations_completed']} iterations, "
          f"{len(spec.threads[0].core_list)} logical cores, {requests} requests")
    print(f"wall time:                  {wall:8.2f} s (simulation and thread loop, without loading)")
    print(f"simulated time:             {simulated_s * 1e3:8.2f} ms ({thread['throughput_per_s']:.1f} tokens/s)")
    print(f"simulated / wall time:      {simulated_s / wall:8.4f}")
    print(f"SimPy events processed:     {run.events:8d} ({run.events / wall:,.0f} per wall second)")
    print(f"raw SimPy timeouts/s:       {raw:,.0f} (same process, before and after)")
    print(f"events/s over raw timeouts/s: {run.events / wall / raw:.3f}")
    print(f"wall time per iteration:    {wall / max(1, thread['iterations_completed']) * 1e3:8.2f} ms")


if __name__ == "__main__":
    main()
