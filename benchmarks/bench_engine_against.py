"""The engine ratio of this checkout against an earlier commit's, measured the same way, in alternation.

    python benchmarks/bench_engine_against.py REV [--rounds N] [--pairs N] [--requests N] [--decode TOKENS]

Extracts commit ``REV`` (``git archive``) into a temporary directory, copies this checkout's
``benchmarks/bench_engine.py`` and ``benchmarks/rawsimpy.py`` into it (so both sides run the same
benchmark), then alternates: one process on ``REV``'s neuronsim, one on this checkout's, ``--rounds``
times. Each process prints the median ratio (mirror requests per CPU second over raw SimPy timeouts per
CPU second) of ``--pairs`` interleaved pairs of ``--requests`` requests. Prints every round and the
median of the rounds for each side. Issue 17 asked that the flow model not lower the ratio: compare
with the commit before it (df3b753). ``--decode TOKENS`` compares the decode example's cost per token
instead (``bench_decode_parts.py``'s whole program, in raw-timeout equivalents: lower is better).
"""

from __future__ import annotations

import argparse
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
from pathlib import Path

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent

PROBE = """
import statistics, sys, time
sys.path.insert(0, {bench!r})
from rawsimpy import raw_simpy_timeouts_per_s
import bench_engine, neuronsim
assert neuronsim.__file__.startswith({root!r}), neuronsim.__file__
ratios = []
for _ in range({pairs}):
    raw = raw_simpy_timeouts_per_s({requests} * 4, time.process_time)
    mirror, _ = bench_engine.mirror_requests_per_s({requests})
    ratios.append(mirror / raw)
print(statistics.median(ratios))
"""

DECODE_PROBE = """
import statistics, sys
sys.path.insert(0, {bench!r})
import bench_decode_parts, neuronsim, yaml, tempfile
from pathlib import Path
assert neuronsim.__file__.startswith({root!r}), neuronsim.__file__
doc = yaml.safe_load(bench_decode_parts.EXAMPLE.read_text())
doc["threads"][0]["iterations"] = {tokens}
with tempfile.TemporaryDirectory() as tmp:
    path = Path(tmp) / "decode.yaml"
    path.write_text(yaml.safe_dump(doc))
    print(statistics.median(bench_decode_parts.cost(path, {tokens})[0] for _ in range({pairs})))
"""


def ratio(root: Path, pairs: int, requests: int, tokens: int = 0) -> float:
    """The engine ratio of the neuronsim in ``root`` (the median of ``pairs``), or with ``tokens``: the decode
    example's raw-timeout equivalents per token (the median of ``pairs`` runs)."""
    if tokens:
        code = DECODE_PROBE.format(bench=str(root / "benchmarks"), root=str(root), pairs=pairs, tokens=tokens)
    else:
        code = PROBE.format(bench=str(root / "benchmarks"), root=str(root), pairs=pairs, requests=requests)
    env = dict(os.environ, PYTHONPATH=str(root))
    out = subprocess.run([sys.executable, "-c", code], env=env, cwd=root, check=True, capture_output=True, text=True)
    return float(out.stdout.split()[-1])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("rev")
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--pairs", type=int, default=3)
    parser.add_argument("--requests", type=int, default=30_000)
    parser.add_argument("--decode", type=int, default=0, metavar="TOKENS",
                        help="compare the decode example's cost per token (raw-timeout equivalents, lower is better; "
                             "benchmarks/bench_decode_parts.py's whole program) over TOKENS tokens instead")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        old = Path(tmp) / "old"
        old.mkdir()
        archive = subprocess.run(["git", "archive", args.rev], cwd=ROOT, check=True, capture_output=True).stdout
        subprocess.run(["tar", "-x", "-C", str(old)], input=archive, check=True)
        for name in ("bench_engine.py", "rawsimpy.py", "bench_decode_parts.py"):
            shutil.copy(HERE / name, old / "benchmarks" / name)
        before, after = [], []
        shown = "{:,.0f}" if args.decode else "{:.4f}"
        for k in range(args.rounds):
            before.append(ratio(old, args.pairs, args.requests, args.decode))
            after.append(ratio(ROOT, args.pairs, args.requests, args.decode))
            print(f"round {k + 1}: {args.rev} {shown.format(before[-1])}   this checkout {shown.format(after[-1])}")
    what = (f"{args.pairs} runs of the decode example's {args.decode} tokens each, raw-timeout equivalents per token"
            if args.decode else f"{args.pairs} interleaved pairs of {args.requests} requests each")
    print(f"median of {args.rounds} rounds ({what}, CPU time): "
          f"{args.rev} {shown.format(statistics.median(before))}, this checkout {shown.format(statistics.median(after))}")


if __name__ == "__main__":
    main()
