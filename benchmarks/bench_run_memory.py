"""Peak memory of the LLM decode example by run length, with and without a trace (issue #22 item 1).

    python benchmarks/bench_run_memory.py [--tokens 200 2000] [--trace-tokens 200 2000]

Each run is ``neuronsim run examples/workloads/llm-decode.yaml --set threads.0.iterations=N
--no-progress [--trace FILE]`` in a process of its own; its peak resident memory is the child's
``ru_maxrss`` (``os.wait4``). Prints, per run, the peak memory, the wall and CPU time and the trace
file's size, then raw SimPy timeouts per CPU second measured in this process (the yardstick for the
times), and the ratio of the longest run's peak to the shortest's (issue #22: at most 1.2x, under 200 MB).
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from rawsimpy import raw_simpy_timeouts_per_s

EXAMPLE = Path(__file__).parents[1] / "examples" / "workloads" / "llm-decode.yaml"


def measure(tokens: int, trace: Path | None) -> tuple[float, float, float, int]:
    """``(peak MB, wall s, CPU s, trace bytes)`` of one run in its own process."""
    command = [sys.executable, "-m", "neuronsim", "run", str(EXAMPLE), "--set", f"threads.0.iterations={tokens}",
               "--no-progress"]
    if trace is not None:
        command += ["--trace", str(trace)]
    start = time.perf_counter()
    child = subprocess.Popen(command, stdout=subprocess.DEVNULL)
    _, status, usage = os.wait4(child.pid, 0)
    wall = time.perf_counter() - start
    child.returncode = os.waitstatus_to_exitcode(status)
    if child.returncode != 0:
        raise SystemExit(f"{' '.join(command)} exited with {child.returncode}")
    size = trace.stat().st_size if trace is not None else 0
    return usage.ru_maxrss / 1024, wall, usage.ru_utime + usage.ru_stime, size


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--tokens", type=int, nargs="+", default=[200, 2000])
    parser.add_argument("--trace-tokens", type=int, nargs="*", default=[200, 2000],
                        help="run lengths also measured with --trace (none: skip)")
    parser.add_argument("--gz", action="store_true", help="write the traces gzip-compressed (t.json.gz)")
    args = parser.parse_args()
    rows = []
    with tempfile.TemporaryDirectory() as folder:
        for traced in (False, True):
            for tokens in (args.trace_tokens if traced else args.tokens):
                trace = Path(folder) / (f"t{tokens}.json.gz" if args.gz else f"t{tokens}.json") if traced else None
                peak, wall, cpu, size = measure(tokens, trace)
                rows.append((traced, tokens, peak))
                what = f"--trace ({size / 1e6:,.1f} MB written)" if traced else "no trace"
                print(f"decode {tokens:>6} tokens, {what:<32} peak {peak:7.1f} MB  wall {wall:6.1f} s  CPU {cpu:6.1f} s",
                      flush=True)
                if trace is not None:
                    trace.unlink()
    raw = raw_simpy_timeouts_per_s(1_000_000, time.process_time)
    print(f"raw SimPy timeouts per CPU s (this process): {raw:,.0f}")
    for traced in (False, True):
        peaks = [(tokens, peak) for t, tokens, peak in rows if t == traced]
        if len(peaks) >= 2:
            (short, low), (long, high) = min(peaks), max(peaks)
            label = "with --trace" if traced else "without a trace"
            print(f"{label}: {long} tokens / {short} tokens peak = {high / low:.2f}x (goal: at most 1.2x, under 200 MB)")


if __name__ == "__main__":
    main()
