"""Issue #22's engine figures, beside raw SimPy in the same process.

    python benchmarks/bench_scale.py [--tokens N] [--pairs N]

Prints, on CPU time (``time.process_time``; wall time too where it is the figure asked for):

* the engine ratio (mirror requests per CPU second over raw SimPy timeouts per CPU second, the
  workload of ``bench_engine.py``), as the median of interleaved pairs;
* the LLM decode example (``examples/workloads/llm-decode.yaml``) at ``--tokens`` tokens: SimPy events
  per token, wall and CPU time, simulated time over wall time, with the host fast path on and off and
  with the run's collector settings on and off (A121, A122), checking that every variant's summary is
  identical;
* ``Simulator("trn2.48xlarge")`` construction: the first (spec read and validated) and later ones
  (validated spec reused, A120).
"""

from __future__ import annotations

import argparse
import statistics
import time
from pathlib import Path

from bench_engine import mirror_requests_per_s
from rawsimpy import engine_build, raw_simpy_timeouts_per_s

import neuronsim
from neuronsim.gctune import long_run_gc
from neuronsim.hw.host import HostCPUs
from neuronsim.topology import load as topology_load
from neuronsim.workload.metrics import render, summary
from neuronsim.workload.runner import run_workload
from neuronsim.workload.spec import load_workload

EXAMPLE = Path(__file__).parents[1] / "examples" / "workloads" / "llm-decode.yaml"


def engine_ratio(pairs: int, requests: int) -> None:
    ratios = []
    for _ in range(pairs):  # interleaved, so that a noisy neighbour hits both alike
        raw = raw_simpy_timeouts_per_s(requests * 4, time.process_time)
        mirror, _ = mirror_requests_per_s(requests)
        ratios.append(mirror / raw)
    print(f"engine ratio (mirror / raw, CPU time): {statistics.median(ratios):.3f}  (median of {pairs} interleaved "
          f"pairs of {requests} requests; range {min(ratios):.3f}-{max(ratios):.3f})")


def decode(tokens: int, host_fast: bool, gc_tuned: bool) -> tuple[str, int, float, float, float]:
    spec = load_workload(EXAMPLE, [f"threads.0.iterations={tokens}"])
    saved = HostCPUs.fast_path
    HostCPUs.fast_path = host_fast
    try:
        wall, cpu = time.perf_counter(), time.process_time()
        with long_run_gc(enabled=gc_tuned):
            run = run_workload(spec)
        wall, cpu = time.perf_counter() - wall, time.process_time() - cpu
    finally:
        HostCPUs.fast_path = saved
    figures = summary(run)
    return render(figures), run.events, wall, cpu, figures["elapsed_ns"] / 1e9


def construction(repeats: int) -> None:
    topology_load._SPEC_CACHE.clear()  # noqa: SLF001 - the first construction of a process
    start = time.perf_counter()
    neuronsim.Simulator("trn2.48xlarge")
    first = time.perf_counter() - start
    later = []
    for _ in range(repeats):
        start = time.perf_counter()
        neuronsim.Simulator("trn2.48xlarge")
        later.append(time.perf_counter() - start)
    print(f'Simulator("trn2.48xlarge"): first {first * 1e3:.1f} ms, later {statistics.median(later) * 1e3:.1f} ms '
          f"(median of {repeats}; wall time)")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--tokens", type=int, default=200)
    parser.add_argument("--pairs", type=int, default=5, help="interleaved raw/mirror pairs for the engine ratio")
    parser.add_argument("--requests", type=int, default=30_000)
    parser.add_argument("--repeats", type=int, default=3, help="interleaved runs of each decode variant")
    args = parser.parse_args()
    print(f"engine: {engine_build()}")
    construction(20)
    engine_ratio(args.pairs, args.requests)
    raw = raw_simpy_timeouts_per_s(1_000_000, time.process_time)
    print(f"raw SimPy timeouts per CPU s: {raw:,.0f}")
    variants = {"host fast path, tuned collector": (True, True), "host fast path, default collector": (True, False),
                "slow host path, tuned collector": (False, True), "slow host path, default collector": (False, False)}
    results: dict[str, list[tuple[int, float, float, float]]] = {name: [] for name in variants}
    reference = None
    for _ in range(args.repeats):
        for name, (host_fast, gc_tuned) in variants.items():
            text, events, wall, cpu, simulated = decode(args.tokens, host_fast, gc_tuned)
            if reference is None:
                reference = text
            elif text != reference:
                raise SystemExit(f"{name}: the summary differs")
            results[name].append((events, wall, cpu, simulated))
    print(f"llm decode, {args.tokens} tokens (median of {args.repeats} interleaved runs; summaries identical):")
    for name, runs in results.items():
        events, simulated = runs[0][0], runs[0][3]
        wall = statistics.median(r[1] for r in runs)
        cpu = statistics.median(r[2] for r in runs)
        print(f"  {name:34s} {events / args.tokens:7.0f} events/token  wall {wall:6.2f} s  CPU {cpu:6.2f} s  "
              f"simulated/wall {simulated / wall:.3f}  simulated/CPU {simulated / cpu:.3f}")


if __name__ == "__main__":
    main()
