"""Where a token of the decode example goes: its program with steps left out, costed beside raw SimPy.

    python benchmarks/bench_decode_parts.py [--tokens N] [--fidelity step|analytical]

Runs ``examples/workloads/llm-decode.yaml`` (one host thread driving 64 logical cores of trn2.48xlarge)
with its program cut down, step by step, and prints each variant's cost per token in raw-timeout
equivalents (CPU seconds x raw SimPy timeouts per CPU second, measured in the same process before and after:
comparable across loads), its SimPy events per token, and the difference each step makes. The whole program
at ``--fidelity`` (default: the example's own, step) first, then without the all-gather, without the read
too, and each of the write, the execution and the all-gather alone (each variant keeps the 40 us sampling
step). Real time on a machine running raw SimPy at 2.0 million timeouts per CPU second (this machine, quiet)
allows 3.528 ms x 2.0e6 = 7,056 raw-timeout equivalents a token.

``--calls`` instead counts the Python function calls a token of the whole program makes (``cProfile``'s
count: the same on any machine and load, so two versions compare exactly; with ``PYTHONPATH`` pointing at
another checkout's tree, that version's count).
"""

from __future__ import annotations

import argparse
import copy
import statistics
import tempfile
import time
from pathlib import Path

import yaml
from rawsimpy import engine_build, raw_simpy_timeouts_per_s

from neuronsim.gctune import long_run_gc
from neuronsim.workload.runner import run_workload
from neuronsim.workload.spec import load_workload

EXAMPLE = Path(__file__).parents[1] / "examples" / "workloads" / "llm-decode.yaml"
SAMPLE = {"compute": "40 us"}


def variants(program: list[dict]) -> dict[str, list[dict]]:
    kinds = [next(iter(step)) for step in program]
    step_of = dict(zip(kinds, program, strict=True))
    return {
        "whole program": program,
        "without the all-gather": [s for k, s in zip(kinds, program, strict=True) if k != "collective"],
        "without all-gather and read": [s for k, s in zip(kinds, program, strict=True)
                                        if k not in ("collective", "read")],
        "write alone": [step_of["write"], SAMPLE],
        "execution alone": [step_of["execute"], SAMPLE],
        "all-gather alone": [step_of["collective"], SAMPLE],
    }


def cost(path: Path, tokens: int) -> tuple[float, float]:
    """(raw-timeout equivalents per token, SimPy events per token) of one run of the workload file."""
    spec = load_workload(path)
    raw = raw_simpy_timeouts_per_s(300_000, time.process_time)
    with long_run_gc():
        cpu = time.process_time()
        run = run_workload(spec)
        cpu = time.process_time() - cpu
    raw = (raw + raw_simpy_timeouts_per_s(300_000, time.process_time)) / 2
    return cpu * raw / tokens, run.events / tokens


def calls(tokens: int, fidelity: str) -> tuple[float, float]:
    """(Python function calls per token, SimPy events per token) of the whole program: deterministic."""
    import cProfile
    import pstats

    spec = load_workload(EXAMPLE, [f"threads.0.iterations={tokens}", f"collectives.fidelity={fidelity}"])
    profile = cProfile.Profile()
    profile.enable()
    run = run_workload(spec)
    profile.disable()
    return pstats.Stats(profile).total_calls / tokens, run.events / tokens


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--tokens", type=int, default=100)
    parser.add_argument("--fidelity", choices=("step", "analytical"), default="step")
    parser.add_argument("--repeats", type=int, default=3, help="interleaved runs of each variant; the median is kept")
    parser.add_argument("--calls", action="store_true", help="count the whole program's Python function calls")
    args = parser.parse_args()
    if args.calls:
        import neuronsim

        per_call, events = calls(args.tokens, args.fidelity)
        print(f"llm decode, {args.tokens} tokens at {args.fidelity} fidelity ({Path(neuronsim.__file__).parents[1]}): "
              f"{per_call:,.0f} Python function calls a token, {events:,.0f} SimPy events a token")
        return
    base = yaml.safe_load(EXAMPLE.read_text())
    files = {}
    with tempfile.TemporaryDirectory() as tmp:
        for name, program in variants(base["threads"][0]["program"]).items():
            doc = copy.deepcopy(base)
            doc["threads"][0]["program"] = program
            doc["threads"][0]["iterations"] = args.tokens
            doc["collectives"] = {"fidelity": args.fidelity}
            files[name] = Path(tmp) / f"{len(files)}.yaml"
            files[name].write_text(yaml.safe_dump(doc))
        runs: dict[str, list[tuple[float, float]]] = {name: [] for name in files}
        for _ in range(args.repeats):
            for name, path in files.items():
                runs[name].append(cost(path, args.tokens))
    print(f"engine: {engine_build()}")
    print(f"llm decode, {args.tokens} tokens, collectives at {args.fidelity} fidelity "
          f"(median of {args.repeats} interleaved runs; costs in raw-timeout equivalents)")
    figures = {name: (statistics.median(r[0] for r in rs), rs[0][1]) for name, rs in runs.items()}
    for name, (raw_eq, events) in figures.items():
        print(f"  {name:30s} {raw_eq:9,.0f} a token  {events:6.0f} events a token")
    whole = figures["whole program"][0]
    no_cc = figures["without the all-gather"][0]
    no_read = figures["without all-gather and read"][0]
    print(f"  the all-gather's 64 ranks:     {whole - no_cc:9,.0f} ({(whole - no_cc) / 64:,.0f} a rank)")
    print(f"  the 64 reads:                  {no_cc - no_read:9,.0f} ({(no_cc - no_read) / 64:,.0f} a read)")
    print(f"  real time at 2.0e6 raw timeouts per CPU s allows 7,056 a token: the whole program is "
          f"{whole / 7056:.1f}x that")


if __name__ == "__main__":
    main()
