"""Wall time of a 200-point sweep with 1 and 2 local workers, the speed-up, and a resumed run (every row reused).

    python benchmarks/bench_sweep.py [--points 200] [--iterations 200]

The points are the base of examples/sweeps/ (one serving thread, 8 logical cores of trn2.48xlarge) at
8 in-flight limits x 25 host steps, each run for ``--iterations`` iterations. One worker runs the points
in this process; two run them in a pool of two processes. The results of both are checked equal. The
resumed run finds every point's row in the results: its time is the resume keys (a SHA-256 of each
resolved point) and reading the file.
"""

from __future__ import annotations

import argparse
import os
import tempfile
import time
from pathlib import Path

import yaml

from neuronsim.sweep.runner import run_sweep
from neuronsim.sweep.spec import load_sweep

BASE = Path(__file__).parents[1] / "examples" / "sweeps" / "serving-trn2.yaml"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--points", type=int, default=200, help="a multiple of 8")
    parser.add_argument("--iterations", type=int, default=200)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as folder:
        work = Path(folder)
        base = yaml.safe_load(BASE.read_text())
        base["threads"][0]["iterations"] = args.iterations
        (work / "base.yaml").write_text(yaml.safe_dump(base, sort_keys=False))
        steps = args.points // 8
        sweep = {"schema_version": 1, "name": "bench", "workload": "base.yaml",
                 "parameters": {"threads.0.in_flight": list(range(1, 9)),
                                "threads.0.program.3.compute": {"range": {"start": 10, "stop": 10 * steps,
                                                                          "step": 10, "unit": "us"}}},
                 "metrics": ["throughput_per_s", "threads.0.latency.p99_ns"]}
        (work / "sweep.yaml").write_text(yaml.safe_dump(sweep, sort_keys=False))
        spec, data, source = load_sweep(work / "sweep.yaml")
        times = {}
        rows = {}
        for workers in (1, 2):
            start = time.perf_counter()
            result = run_sweep(spec, data, source, work / f"r{workers}.csv", workers=workers)
            times[workers] = time.perf_counter() - start
            rows[workers] = result.rows
            assert result.failed == 0 and result.ran == 8 * steps
        assert rows[1] == rows[2], "the points must not depend on where they ran"
        start = time.perf_counter()
        resumed = run_sweep(spec, data, source, work / "r1.csv")
        times["resume"] = time.perf_counter() - start
        assert (resumed.ran, resumed.skipped) == (0, 8 * steps)
    print(f"sweep of {8 * steps} points ({args.iterations} iterations each) on {os.cpu_count()} CPUs")
    print(f"1 worker (in process):   {times[1]:7.2f} s  ({times[1] / (8 * steps) * 1e3:.1f} ms per point)")
    print(f"2 workers (processes):   {times[2]:7.2f} s  ({times[2] / (8 * steps) * 1e3:.1f} ms per point)")
    print(f"speed-up:                {times[1] / times[2]:7.2f}x")
    print(f"resumed (all reused):    {times['resume']:7.2f} s  ({times['resume'] / (8 * steps) * 1e3:.2f} ms per point)")


if __name__ == "__main__":
    main()
