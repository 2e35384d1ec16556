"""Instructions, not seconds: the engine ratio and a decode token counted by ``valgrind --tool=callgrind``.

    python benchmarks/bench_instructions.py [--tree PATH] [--against PATH] [--accel] [--fidelity step|analytical]

CPU time on these shared machines swings by 30 % between runs, even on an idle machine (raw SimPy itself
ran at 0.63-1.02 million timeouts per CPU second in three runs in a row on 2026-12-01); an instruction count
is the same for the same program and inputs, whatever the machine is doing. Each figure is the
difference between two runs under callgrind (one short, one long), divided by the work between them, so
that start-up (imports, the preset) cancels out:

- raw SimPy: instructions a timeout (one process yielding timeouts: the yardstick of every benchmark);
- the engine: instructions a mirror request of ``bench_engine.py`` (3,000 and 9,000 requests), and the
  *ratio by instructions*, raw SimPy's instructions a timeout over it;
- the decode example (``examples/workloads/llm-decode.yaml``): instructions a token (2 and 6 tokens), and
  the same in raw-timeout equivalents by instructions.

An instruction count is not a time: our code runs fewer instructions a cycle than raw SimPy's tight loop
(more objects, more memory), so the ratio by instructions is higher than ``bench_engine.py``'s ratio on CPU
time (docs/performance.md gives both). It is what to compare two versions by: ``--against PATH`` (another
checkout's tree, e.g. from ``git worktree add``) measures that tree the same way, in the same run, and
prints the change; both trees run this checkout's harness (``bench_engine.py``, ``rawsimpy.py`` and the decode
example), so the other tree must take the same calls and workload file. ``--accel`` sets ``NEURONSIM_ACCEL=1``
and needs a compiled build of each tree's own sources (``python -m neuronsim.hw.accel build`` run with that
tree's package); a tree without one is refused rather than measured in pure Python under the compiled label.
Needs valgrind (Debian's package); about 3 minutes a tree (callgrind runs programs ~50x slower). Exits 2, naming
the problem, without valgrind, for a tree with no ``neuronsim`` package, or with ``--accel`` and no build.
"""

from __future__ import annotations

import argparse
import os
import platform
import re
import shutil
import subprocess
import sys
import tempfile
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent

RAW = """
import sys
sys.path.insert(0, {bench!r})
from rawsimpy import raw_simpy_seconds
raw_simpy_seconds({n})
"""

ENGINE = """
import sys
sys.path.insert(0, {bench!r})
import neuronsim
assert neuronsim.__file__.startswith({tree!r}), neuronsim.__file__
from bench_engine import mirror_requests_per_s
mirror_requests_per_s({n})
"""

DECODE = """
import neuronsim
assert neuronsim.__file__.startswith({tree!r}), neuronsim.__file__
from neuronsim.workload.runner import run_workload
from neuronsim.workload.spec import load_workload
run_workload(load_workload({example!r}, ["threads.0.iterations={n}", "collectives.fidelity={fidelity}"]))
"""

COUNTS = {"raw": (100_000, 300_000), "engine": (3_000, 9_000), "decode": (2, 6)}


def instructions(code: str, tree: Path, accel: bool) -> int:
    """Instructions callgrind counts for ``python -c code`` with ``tree`` first on the path."""
    # the same hash seed and, where setarch can turn it off, no address randomisation: dicts keyed by strings
    # or ids then probe alike in every run
    env = dict(os.environ, PYTHONPATH=str(tree), NEURONSIM_ACCEL="1" if accel else "0", PYTHONHASHSEED="0")
    fixed = ["setarch", platform.machine(), "-R"] if shutil.which("setarch") else []
    with tempfile.TemporaryDirectory() as cwd:  # not the checkout: ``-c`` puts the current directory first on the path
        done = subprocess.run([*fixed, "valgrind", "--tool=callgrind", "--callgrind-out-file=/dev/null", sys.executable, "-c",
                               code], env=env, cwd=cwd, capture_output=True, text=True, check=False)
    found = re.search(r"Collected : (\d+)", done.stderr)
    if done.returncode != 0 or found is None:
        raise RuntimeError(f"callgrind run failed ({done.returncode}):\n{done.stderr[-3000:]}")
    return int(found.group(1))


def refusal(tree: Path, accel: bool) -> str | None:
    """Why ``tree`` cannot be measured (no package; with ``accel``, no compiled build of its sources), or None."""
    if not (tree / "neuronsim" / "__init__.py").is_file():
        return f"{tree}: no neuronsim package there (give the checkout's root, the folder that holds neuronsim/)"
    if accel:
        probe = "from neuronsim.hw._accel_path import enabled; print(enabled() is not None)"
        with tempfile.TemporaryDirectory() as cwd:
            done = subprocess.run([sys.executable, "-c", probe], cwd=cwd, capture_output=True, text=True, check=False,
                                  env=dict(os.environ, PYTHONPATH=str(tree), NEURONSIM_ACCEL="1"))
        if done.stdout.strip() != "True":
            return (f"{tree}: no compiled build of its sources (run `python -m neuronsim.hw.accel build` with "
                    f"PYTHONPATH={tree}), so --accel would measure it in pure Python")
    return None


def measure(trees: list[Path], accel: bool, fidelity: str) -> dict[Path, dict[str, float]]:
    """Per tree, instructions a unit of each kind (a raw timeout, a mirror request, a decode token); the
    callgrind runs two at a time (one a core)."""
    jobs = {}
    for tree in trees:
        fields = {"bench": str(HERE), "tree": str(tree / "neuronsim"), "fidelity": fidelity,
                  "example": str(ROOT / "examples" / "workloads" / "llm-decode.yaml")}
        for kind, template in (("raw", RAW), ("engine", ENGINE), ("decode", DECODE)):
            for n in COUNTS[kind]:
                jobs[(tree, kind, n)] = template.format(n=n, **fields)
    with ThreadPoolExecutor(max_workers=2) as pool:
        counts = dict(zip(jobs, pool.map(lambda key: instructions(jobs[key], key[0], accel), jobs), strict=True))
    return {tree: {kind: (counts[(tree, kind, hi)] - counts[(tree, kind, lo)]) / (hi - lo)
                   for kind, (lo, hi) in COUNTS.items()} for tree in trees}


def report(name: str, m: dict[str, float], fidelity: str) -> None:
    raw = m["raw"]
    print(f"{name}:")
    print(f"  raw SimPy:        {raw:12,.0f} instructions a timeout")
    print(f"  mirror request:   {m['engine']:12,.0f} instructions a request   ratio by instructions {raw / m['engine']:.3f}")
    print(f"  decode token:     {m['decode']:12,.0f} instructions a token ({fidelity} fidelity) = "
          f"{m['decode'] / raw:,.0f} raw-timeout equivalents by instructions")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--tree", type=Path, default=ROOT, help="the checkout to measure (default: this one)")
    parser.add_argument("--against", type=Path, help="another checkout's tree, measured the same way")
    parser.add_argument("--accel", action="store_true", help="NEURONSIM_ACCEL=1 (the compiled build)")
    parser.add_argument("--fidelity", choices=("step", "analytical"), default="step",
                        help="the decode example's collectives (default: step, the example's own)")
    args = parser.parse_args()
    if shutil.which("valgrind") is None:
        print("valgrind is not installed (Debian: apt-get install valgrind): nothing measured", file=sys.stderr)
        raise SystemExit(2)
    trees = [args.tree.resolve()] + ([args.against.resolve()] if args.against else [])
    for tree in trees:
        why = refusal(tree, args.accel)
        if why is not None:
            print(f"bench_instructions: {why}", file=sys.stderr)
            raise SystemExit(2)
    figures = measure(trees, args.accel, args.fidelity)
    print(f"callgrind instruction counts ({'compiled build' if args.accel else 'pure Python'}; "
          f"{sys.version.split()[0]})")
    for tree, m in figures.items():
        report(str(tree), m, args.fidelity)
    if args.against:
        new, old = figures[trees[0]], figures[trees[1]]
        print(f"change ({trees[0].name} against {trees[1].name}): mirror request "
              f"{new['engine'] / old['engine'] - 1:+.1%}, decode token {new['decode'] / old['decode'] - 1:+.1%}")


if __name__ == "__main__":
    main()
