"""Every example command of the nccom-test documentation, run by ``neuronsim nccom-test``.

    python benchmarks/bench_nccom_examples.py [--only NAME ...]

Sources: ``tools/neuron-sys-tools/nccom-test.rst`` (aws-neuron-sdk @81ce03ae) and, for ``profiler``,
the Neuron Profiler 2.0 guide (reference/hardware.md §8.5 E). Each example's command is run as published
(an ``NEURON_RT_ROOT_COMM_ID=...`` prefix is the shell's and is dropped) on the instance the page states
or implies, with the JSON files the page shows (tests/data/nccom/). It prints, per table row, the size,
the published time and neuronsim's, with no tolerance: the published tables span four software eras
(docs/validation.md). tests/test_nccom_cli.py runs the same list for the tables' shape.
"""

from __future__ import annotations

import argparse
import contextlib
import io
import os
import shlex
import sys
from dataclasses import dataclass, field
from pathlib import Path

DATA = Path(__file__).resolve().parent.parent / "tests" / "data" / "nccom"
TIME_US = "time:avg(us)"


@dataclass(frozen=True)
class Example:
    """A documented command: the sizes of each table it prints and the published times, where printed."""

    name: str
    command: str  # as the page prints it, from "nccom-test"
    instance: str  # stated or inferred (why, in ``why``)
    why: str
    sizes: tuple[tuple[int, ...], ...]  # per table (stream), the size column the command asks for
    counts: tuple[tuple[int, ...], ...]
    published: tuple[tuple[float, ...], ...] = ()  # per table, the printed times (us); () when none printed
    columns: tuple[str, ...] = ("size(B)", "count(elems)", "type", TIME_US, "algbw(GB/s)", "busbw(GB/s)")
    heavy: tuple[str, ...] = ()  # flags that make the default test run quick (the shape does not change)
    note: str = ""
    extra: tuple[str, ...] = field(default_factory=tuple)  # neuronsim flags for the stated instance


def _geom(low: int, high: int, factor: int) -> tuple[int, ...]:
    out = [low]
    while out[-1] * factor <= high:
        out.append(out[-1] * factor)
    return tuple(out)


B_SIZES = _geom(1024, 1 << 30, 4)
D_SIZES = _geom(1024, 1 << 20, 8)
F_SIZES = _geom(4, 1 << 30, 16)
MULTI_SIZES = _geom(8, 1 << 30, 2)
STREAM0 = _geom(1024, 1 << 20, 2)

EXAMPLES = [
    Example("quick", "nccom-test -r 2 allr", "trn1.32xlarge",
            "2 ranks, from the trn1/inf2 era of the page (reference/hardware.md §8.5 A)",
            ((33554432,),), ((33554432,),), ((768,),), note="time(us) was the P50 then"),
    Example("sweep-fp32", "nccom-test -r 2 --minbytes 1kb --maxbytes 1gb --stepfactor 4 --datatype fp32 allr",
            "trn1.32xlarge", "as quick (§8.5 B)", (B_SIZES,), (tuple(s // 4 for s in B_SIZES),),
            ((58, 58, 58, 58, 60, 68, 107, 332, 1214, 4750, 18930),), heavy=("-n", "2", "-w", "0")),
    Example("allg-check", "nccom-test -r 32 --minbytes 1kb --maxbytes 1mb --stepfactor 8 --datatype fp32 --check allg",
            "trn1.32xlarge", "32 ranks on one instance (§8.5 C)", (D_SIZES,), (tuple(s // 4 for s in D_SIZES),),
            ((151, 149, 150, 179),), heavy=("-n", "2", "-w", "0")),
    Example("permute-pairs", "nccom-test -r 8 --custom-src-target-pairs pairs.json permute", "trn1.32xlarge",
            "not stated; 8 ranks fit any Trainium instance", ((33554432,),), ((33554432,),), ((894.24,),),
            heavy=("-n", "2", "-w", "0")),
    Example("io-size", "nccom-test -r 32 --minbytes 1kb --maxbytes 1mb --stepfactor 8 --datatype fp32 --check allg "
            "--show-input-output-size", "trn1.32xlarge", "32 ranks on one instance (§8.5 D)", (D_SIZES,),
            (tuple(s // 4 for s in D_SIZES),), ((6.16, 6.48, 8.17, 23.16),),
            columns=("size(B)", "count(elems)", "total_input_size(B)", "total_output_size(B)", "type", TIME_US,
                     "algbw(GB/s)", "busbw(GB/s)"), heavy=("-n", "2", "-w", "0")),
    Example("stats", "nccom-test -r 8 --minbytes 1kb --maxbytes 1mb --stepfactor 8 --datatype fp32 "
            "--stats avg p25 p50 p90 p99 --iters 1000 allg", "trn1.32xlarge", "not stated; 8 ranks fit trn1",
            (D_SIZES,), (tuple(s // 4 for s in D_SIZES),), ((10.0, 10.22, 11.31, 14.83),),
            columns=("size(B)", "count(elems)", "type", TIME_US, "time:p25(us)", "time:p50(us)", "time:p90(us)",
                     "time:p99(us)", "algbw(GB/s)", "busbw(GB/s)"), heavy=("--iters", "20")),
    Example("json", "nccom-test -r 32 --minbytes 1kb --maxbytes 1mb --stepfactor 8 --datatype fp32 --check allg "
            "--report-to-json-file nccom-results.json", "trn1.32xlarge", "32 ranks on one instance (§8.5 D)",
            (D_SIZES,), (tuple(s // 4 for s in D_SIZES),), ((6.19, 6.55, 8.18, 23.11),), heavy=("-n", "2", "-w", "0")),
    Example("algorithm", "nccom-test -r 16 allr -b 4 -e 1gb -f 16 -d fp32 --show-algorithm", "trn2.48xlarge",
            "kangaring needs LNC=2: Trn2 (§8.5 F)", (F_SIZES,), (tuple(max(1, s // 4) for s in F_SIZES),),
            ((299.91, 299.69, 299.82, 299.74, 574.15, 686.32, 2754.15, 9689.51),),
            columns=("size(B)", "count(elems)", "type", TIME_US, "algbw(GB/s)", "busbw(GB/s)", "algorithm"),
            heavy=("-n", "1", "-w", "0"), extra=("--instance", "trn2.48xlarge"),
            note="the page prints 4, 32, 512, ... 512 MiB: half of what its command asks after the first row"),
    Example("allgv", "nccom-test allgv -r 4 -N 1 -b 2048 -e 2048 -d fp16 --variable-size-op-metadata "
            "allgv_metadata.json", "trn2.48xlarge", "all_gatherv runs inside one Trainium device: 4 ranks are one "
            "trn2 device at LNC=2", ((2048,),), ((1024,),), ((16.28,),)),
    Example("streams", "nccom-test allg -r 64 -c --streams-json streams_example.json", "trn2.48xlarge",
            "64 ranks on one instance: trn2 at LNC=2", (STREAM0, (1024,) * len(STREAM0)),
            (tuple(s // 2 for s in STREAM0), (256,) * len(STREAM0)),
            ((101.14, 101.93, 101.45, 101.84, 102.21, 102.36, 103.28, 105.03, 107.37, 110.07, 117.67),
             (257.65, 258.55, 257.86, 258.51, 259.04, 257.72, 258.24, 258.33, 258.95, 259.09, 260.6)),
            heavy=("-n", "1", "-w", "0")),
    Example("multi-node", "nccom-test -r 64 -N 2 -b 8 -e 1GB -f 2 -n 50 -w 5 -d fp32 allr --hosts 127.0.0.1 "
            "10.1.4.138", "2 x trn1.32xlarge", "32 ranks a node, the page's trn1 era",
            (MULTI_SIZES,), (tuple(max(1, s // 4) for s in MULTI_SIZES),),
            ((520, 520, 523, 525, 553, 709, 782, 840, 881, 916, 1013, 1031, 1174, 1315, 1315, 1311, 1312, 1328,
              1329, 1378, 1419, 2138, 2711, 3963, 6279, 11954, 21803, 41806),),
            heavy=("-n", "1", "-w", "0", "--fidelity", "analytical")),
    Example("alltoallv", "nccom-test -r 2 -N 2 -d fp32 alltoallv -b 1MB -e 1MB --hosts 127.0.0.1 172.32.253.16 "
            "--variable-size-op-metadata alltoallv_metadata.json", "2 x trn1.32xlarge",
            "not stated; one rank a node over EFA", ((1048608,),), ((262152,),), ((955.05,),)),
    Example("mpi", "nccom-test -r 64 -N 2 -d fp32 allr --hosts 10.1.4.145 10.1.4.138", "2 x trn1.32xlarge",
            "32 ranks a node", ((33554432,),), ((8388608,),), heavy=("-n", "1", "-w", "0")),
    Example("slurm-setup", "nccom-test -r 64 -N 2 allr --slurm-mode --slurm-setup-script "
            "path/to/my/custom-setup-script.sh", "2 x trn1.32xlarge", "32 ranks a node", ((33554432,),),
            ((33554432,),), heavy=("-n", "1", "-w", "0")),
    Example("slurm-job", "nccom-test -r 64 -N 2 allr --slurm-mode --slurm-job-id 12345", "2 x trn1.32xlarge",
            "32 ranks a node", ((33554432,),), ((33554432,),), heavy=("-n", "1", "-w", "0")),
    Example("profiler", "nccom-test allg -b 512kb -e 512kb -r 32 -n 10 -d fp32 -w 1 -f 512", "trn1.32xlarge",
            "the guide: 'if using a trn1.2xlarge instance, change -r 32 to -r 2' (§8.5 E)", ((524288,),),
            ((131072,),), ((24.15,),)),
]


def argv_of(example: Example, *, quick: bool = False) -> list[str]:
    """The command's arguments for ``neuronsim.cli.main`` (``nccom-test`` first)."""
    return shlex.split(example.command) + list(example.extra) + (list(example.heavy) if quick else [])


def run(example: Example, *, quick: bool = False) -> tuple[int, str, str]:
    """Run the example in tests/data/nccom (its JSON files are there); (exit status, stdout, stderr)."""
    from neuronsim.cli import main

    out, err = io.StringIO(), io.StringIO()
    here = os.getcwd()
    os.chdir(DATA)
    try:
        with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
            status = main(argv_of(example, quick=quick))
    finally:
        os.chdir(here)
        (DATA / "nccom-results.json").unlink(missing_ok=True)
    return status, out.getvalue(), err.getvalue()


def tables(stdout: str) -> list[list[list[str]]]:
    """The printed tables: each a header row then one row of cells per size."""
    found: list[list[list[str]]] = []
    for line in stdout.splitlines():
        if line.split()[:1] == ["size(B)"]:
            found.append([line.split()])
        elif found and line and not line.startswith("Avg bus bandwidth"):
            found[-1].append(line.split())
    return found


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--only", nargs="+", default=None, help="example names")
    args = parser.parse_args()
    for example in EXAMPLES:
        if args.only and example.name not in args.only:
            continue
        status, stdout, stderr = run(example)
        print(f"{example.name}: {example.command}")
        print(f"  {stderr.strip()} (exit {status}); instance: {example.instance} ({example.why})")
        if example.note:
            print(f"  note: {example.note}")
        for index, table in enumerate(tables(stdout)):
            header = table[0]
            at = header.index(TIME_US)
            published = example.published[index] if example.published else ()
            print(f"  table {index}:  {'size(B)':>11} {'published(us)':>14} {'neuronsim(us)':>14}")
            for k, row in enumerate(table[1:]):
                shown = f"{published[k]:>14.2f}" if k < len(published) else f"{'-':>14}"
                print(f"  {'':9}  {row[0]:>11} {shown} {float(row[at]):>14.2f}")
        print()
        sys.stdout.flush()


if __name__ == "__main__":
    main()
