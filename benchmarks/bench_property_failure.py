"""How long the example project's test suite takes to fail (and to pass) under each hypothesis profile.

    python benchmarks/bench_property_failure.py [--profiles ci,thorough] [--scheduler MissingWaitScheduler]

Runs the docs' "try the broken scheduler" command (docs/howto/ci-without-hardware.md),
``SCHEDULER_IMPL=MissingWaitScheduler python -m pytest examples``, from the repository root with
``--neuron-hypothesis-profile`` set to each profile, then the passing suite (``RequestScheduler``).
Every run starts with an empty hypothesis database (``HYPOTHESIS_STORAGE_DIRECTORY`` in a fresh
temporary folder), so a failure found by an earlier run is not replayed for free. Prints each run's
wall time, exit code and pytest's last line. It measures; it asserts nothing about the times.
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).parents[1]


def run(profile: str, scheduler: str) -> tuple[float, int, str]:
    with tempfile.TemporaryDirectory() as storage:
        env = dict(os.environ, SCHEDULER_IMPL=scheduler, HYPOTHESIS_STORAGE_DIRECTORY=storage)
        env.pop("HYPOTHESIS_PROFILE", None)
        start = time.perf_counter()
        done = subprocess.run([sys.executable, "-m", "pytest", "examples", "-q", "-p", "no:cacheprovider",
                               "--neuron-hypothesis-profile", profile], cwd=ROOT, env=env,
                              capture_output=True, text=True, check=False)
        wall = time.perf_counter() - start
    lines = [line for line in done.stdout.splitlines() if line.strip()]
    return wall, done.returncode, lines[-1] if lines else done.stderr.strip()[-200:]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--profiles", default="ci,thorough", help="comma-separated: ci, thorough, none")
    parser.add_argument("--scheduler", default="MissingWaitScheduler", help="the broken scheduler to run")
    args = parser.parse_args()
    print(f"{'profile':<10} {'scheduler':<22} {'wall':>9}  exit  pytest")
    for profile in args.profiles.split(","):
        for scheduler in (args.scheduler, "RequestScheduler"):
            wall, code, last = run(profile, scheduler)
            print(f"{profile:<10} {scheduler:<22} {wall:8.1f}s  {code:>4}  {last}", flush=True)


if __name__ == "__main__":
    main()
