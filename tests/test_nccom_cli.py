"""`neuronsim nccom-test`: every documented example command, the table's form, the flags and the errors.

The examples are benchmarks/bench_nccom_examples.py's list (one per command of nccom-test.rst and the
profiler guide). The default profile runs the heavy ones with fewer iterations (``Example.heavy``: the
table's shape does not depend on them); HYPOTHESIS_PROFILE=thorough runs every command exactly.
"""

from __future__ import annotations

import importlib.util
import json
import os
import re
import statistics
import sys
from pathlib import Path

import pytest

from neuronsim.cli import main
from neuronsim.collectives import nccom
from neuronsim.collectives.nccom import OPS, bus_factor, parse_size, render_table, run_nccom, sizes_for

ROOT = Path(__file__).resolve().parent.parent
DATA = Path(__file__).resolve().parent / "data" / "nccom"
_spec = importlib.util.spec_from_file_location("bench_nccom_examples", ROOT / "benchmarks" / "bench_nccom_examples.py")
assert _spec is not None and _spec.loader is not None
examples = importlib.util.module_from_spec(_spec)
sys.modules.setdefault("bench_nccom_examples", examples)  # dataclasses look their module up
_spec.loader.exec_module(examples)
THOROUGH = os.environ.get("HYPOTHESIS_PROFILE") == "thorough"


def _factor(op: str, ranks: int) -> float:
    return bus_factor(op, ranks)


# -- units ------------------------------------------------------------------------------------------


def test_sizes_take_the_documented_units():
    assert [parse_size(s) for s in ("4", "1kb", "512KB", "32M", "1MB", "1gb", "1GB", "8b", "2kb")] == [
        4, 1024, 524288, 32 << 20, 1 << 20, 1 << 30, 1 << 30, 8, 2048]


def test_size_steps_are_the_documented_ones():
    assert sizes_for(8, 16, stepbytes=4) == [8, 12, 16]  # "-b 8 -e 16 -i 4"
    assert sizes_for(8, 32, stepfactor=2) == [8, 16, 32]  # "-b 8 -e 32 -f 2"
    assert sizes_for(100, 200) == list(range(100, 201, 10))  # default -i: (max - min) / 10
    assert sizes_for(32 << 20, 32 << 20) == [32 << 20]


def test_every_documented_operation_name_is_taken():
    documented = {"all_reduce": "allreduce", "allr": "allreduce", "all_gather": "allgather", "allg": "allgather",
                  "all_gatherv": "allgatherv", "allgv": "allgatherv", "reduce_scatter": "reducescatter",
                  "redsct": "reducescatter", "sendrecv": "sendrecv", "alltoall": "alltoall",
                  "alltoallv": "alltoallv", "permute": "permute"}
    assert documented == OPS


def test_bus_factors_are_the_documented_ones():
    r = 32
    assert bus_factor("allr", r) == bus_factor("all_reduce", r) == 2 * (r - 1) / r
    for op in ("allg", "all_gather", "redsct", "reduce_scatter", "alltoall", "alltoallv", "allgv"):
        assert bus_factor(op, r) == (r - 1) / r
    assert bus_factor("permute", r) == bus_factor("sendrecv", r) == 1.0


# -- every documented example -------------------------------------------------------------------------


def _check_table(table: list[list[str]], lines: list[str], columns: tuple[str, ...], sizes: tuple[int, ...],
                 counts: tuple[int, ...], op: str, ranks: int) -> list[float]:
    header, rows = table[0], table[1:]
    assert tuple(header) == columns
    assert [int(r[0]) for r in rows] == list(sizes)
    assert [int(r[1]) for r in rows] == list(counts)
    # right-aligned columns: every row as wide as the header, each cell ending where its header name ends
    ends = [m.end() for m in re.finditer(r"\S+", lines[0])]
    for line in lines[1:]:
        assert [m.end() for m in re.finditer(r"\S+", line)] == ends, line
    algbw_at, busbw_at = columns.index("algbw(GB/s)"), columns.index("busbw(GB/s)")
    time_at = columns.index("time:avg(us)")
    busbws = []
    for row in rows:
        time_us, algbw, busbw = float(row[time_at]), float(row[algbw_at]), float(row[busbw_at])
        assert re.fullmatch(r"\d+\.\d{1,2}", row[time_at])  # round(avg, 2) as Python prints it
        assert re.fullmatch(r"\d+\.\d\d", row[algbw_at]) and re.fullmatch(r"\d+\.\d\d", row[busbw_at])
        assert algbw == pytest.approx(int(row[0]) / (time_us * 1e-6) / 1e9, abs=0.006 + algbw * 0.001)
        factor = _factor(op, ranks)  # both printed to 2 decimals: busbw within the rounding of each
        assert busbw == pytest.approx(algbw * factor, abs=0.005 * (factor + 1) + 1e-9 + busbw * 0.001)
        busbws.append(busbw)
    return busbws


@pytest.mark.parametrize("example", examples.EXAMPLES, ids=lambda e: e.name)
def test_documented_example(example):
    status, stdout, stderr = examples.run(example, quick=not THOROUGH)
    assert status == 0, stderr
    assert stderr.splitlines()[0].startswith(f"nccom-test: simulating {example.instance}")
    if "--instance" not in example.command + " ".join(example.extra):
        assert stderr.splitlines()[0].endswith("(no --instance given: the default for this command)")
    tables = examples.tables(stdout)
    assert len(tables) == len(example.sizes)
    blocks = [b for b in re.split(r"(?m)^(?=\s*size\(B\))", stdout) if b.strip()]
    argv = examples.argv_of(example)
    op = next(t for t in argv if t in OPS)
    ranks = int(argv[argv.index("-r") + 1])
    for index, (table, block) in enumerate(zip(tables, blocks, strict=True)):
        lines = block.splitlines()
        assert re.fullmatch(r"Avg bus bandwidth:\t\d+\.\d{4}GB/s", lines[-1])
        stream_op, stream_ranks = op, ranks
        if example.name == "streams":
            stream_op, stream_ranks = ("all_reduce", 16) if index == 0 else ("allg", 64)
        busbws = _check_table(table, lines[:-1], example.columns, example.sizes[index], example.counts[index],
                              stream_op, stream_ranks)
        assert float(lines[-1].split("\t")[1][:-4]) == pytest.approx(statistics.fmean(busbws), abs=0.006)
    if example.name == "io-size":
        rows = tables[0][1:]
        assert [(int(r[2]), int(r[3])) for r in rows] == [(s // 32, s) for s in example.sizes[0]]  # per rank
    if example.name == "algorithm":
        assert {r[-1] for r in tables[0][1:]} <= {"mesh", "rdh", "kangaring", "ring"}


def test_json_report_has_the_documented_fields(tmp_path, capsys):
    report = tmp_path / "nccom-results.json"
    argv = ["nccom-test", "-r", "32", "--minbytes", "1kb", "--maxbytes", "1mb", "--stepfactor", "8", "--datatype",
            "fp32", "--check", "allg", "--report-to-json-file", str(report), "-n", "2", "-w", "0"]
    assert main(argv) == 0
    rows = examples.tables(capsys.readouterr().out)[0][1:]
    results = json.loads(report.read_text())["results"]
    assert [list(r) for r in results] == [["size(B)", "count(elems)", "type", "algbw(GB/s)", "busbw(GB/s)",
                                           "time:avg(us)"]] * 4
    for row, item in zip(rows, results, strict=True):
        assert (item["size(B)"], item["count(elems)"], item["type"]) == (int(row[0]), int(row[1]), "fp32")
        assert item["time:avg(us)"] == float(row[3])
        assert f"{item['algbw(GB/s)']:.2f}" == row[4] and f"{item['busbw(GB/s)']:.2f}" == row[5]
        assert item["busbw(GB/s)"] == item["algbw(GB/s)"] * 31 / 32


def test_stats_print_one_column_per_statistic_in_order(capsys):
    assert main(["nccom-test", "-r", "2", "-b", "1kb", "-e", "1kb", "-t", "p99", "avg", "p50", "allr", "-n", "4"]) == 0
    header = capsys.readouterr().out.splitlines()[0].split()
    assert header[3:6] == ["time:p99(us)", "time:avg(us)", "time:p50(us)"]


def test_percentiles_are_nearest_rank():
    row = nccom.NccomRow(8, 8, "uint8", [1.0, 2.0, 3.0, 4.0, 10.0], 0, 0, "mesh", 8, 8)
    assert [row.stat(s) for s in ("p0", "p20", "p25", "p50", "p90", "p100", "avg")] == [1.0, 1.0, 2.0, 3.0, 10.0,
                                                                                       10.0, 4.0]
    assert render_table([row], stats=["avg", "p50"]).splitlines()[1].split()[3:5] == ["4.0", "3"]


def test_neff_iterations_multiply_operations():
    """'-n 15, -w 5, -I 10 would result in 200 operations with 150 measured'; with -W 5, 300 and 150."""
    for neff_warmup, total in ((None, 200), (5, 300)):
        rows = run_nccom("allr", ranks=2, sizes=[64], iterations=15, warmup=5, neff_iters=10, neff_warmup=neff_warmup,
                         fidelity="analytical")
        assert len(rows[0].times_us) == 150
    from neuronsim.simulator import Simulator

    created = []
    original = Simulator.__init__

    def spy(self, *args, **kwargs):
        original(self, *args, **kwargs)
        created.append(self)

    Simulator.__init__ = spy
    try:
        run_nccom("allr", ranks=2, sizes=[64], iterations=15, warmup=5, neff_iters=10, neff_warmup=5,
                  fidelity="analytical")
    finally:
        Simulator.__init__ = original
    assert len(created[0].collectives.records) == 300


def test_streams_run_side_by_side_on_their_own_queues(tmp_path):
    """Two streams on disjoint replica groups take about as long together as the longer alone."""
    groups = [[0, 1, 2, 3], [4, 5, 6, 7]]
    alone = run_nccom("allr", ranks=8, sizes=[1 << 20], iterations=2, warmup=0, groups=groups)[0].time_avg_us
    a = nccom.Bench("allr", "uint8", [1 << 20], groups)
    b = nccom.Bench("allg", "uint8", [1 << 20], [[0, 1, 2, 3, 4, 5, 6, 7]], ops_per_iter=2)
    both = nccom.run_benches([a, b], instance="trn1.32xlarge", ranks=8, iterations=2, warmup=0)
    assert [len(rows[0].times_us) for rows in both] == [2, 4]
    assert both[0][0].time_avg_us >= alone


def test_replica_groups_and_data_parallel_groups(capsys, tmp_path):
    groups = tmp_path / "rg.json"
    groups.write_text(json.dumps({"replica_groups": [[[0, 2], [1, 3]]]}))
    assert main(["nccom-test", "-r", "4", "-b", "4kb", "-e", "4kb", "allr", "--custom-replica-groups", str(groups),
                 "-c", "-n", "1", "-w", "0"]) == 0
    row = capsys.readouterr().out.splitlines()[1].split()
    assert float(row[5]) == pytest.approx(float(row[4]) * 2 * 1 / 2, abs=0.011)  # busbw over groups of 2
    assert nccom.data_parallel_groups(2, 8) == [[0, 4], [1, 5], [2, 6], [3, 7]]


def test_sendrecv_and_permute_pairs_with_check(capsys):
    assert main(["nccom-test", "-r", "4", "-b", "1kb", "-e", "1kb", "sendrecv", "-c", "-n", "1", "-w", "0"]) == 0
    pairs = str(DATA / "pairs.json")
    assert main(["nccom-test", "-r", "8", "-b", "1kb", "-e", "1kb", "--custom-src-target-pairs", pairs, "permute",
                 "-c", "all_ones", "-d", "bf16", "-n", "1", "-w", "0"]) == 0


def test_a_failed_check_is_reported_as_the_tool_does(monkeypatch, capsys):
    from neuronsim.collectives import service

    real = service.collective_outputs

    def corrupt(*args, **kwargs):
        outputs = real(*args, **kwargs)
        return [bytes([outputs[0][0] ^ 1]) + outputs[0][1:]] + outputs[1:]

    monkeypatch.setattr(service, "collective_outputs", corrupt)
    assert main(["nccom-test", "-r", "2", "-b", "1kb", "-e", "2kb", "-f", "2", "allr", "-c", "-n", "1",
                 "-w", "0"]) == 1
    lines = capsys.readouterr().out.splitlines()
    assert lines[1].split()[:3] == ["1024", "Check", "failed:"] and "rank 0 output element 0" in lines[1]
    assert lines[-1] == "2 errors found - test failed"


def test_a_failed_operation_without_check_is_a_failure_row():
    row = nccom.NccomRow(64, 64, "uint8", [1.0], 0.0, 0.0, "mesh", 64, 64, error="an operation completed with "
                         "NRT_TIMEOUT")
    lines = render_table([row]).splitlines()
    assert lines[1] == "     64    Failure: an operation completed with NRT_TIMEOUT"
    assert lines[-1] == "1 errors found - test failed"


def test_instance_given_is_named_without_the_default_note(capsys):
    assert main(["nccom-test", "-r", "2", "-b", "1kb", "-e", "1kb", "allr", "--instance", "trn2.48xlarge",
                 "-n", "1"]) == 0
    assert capsys.readouterr().err == "nccom-test: simulating trn2.48xlarge\n"


def _write(tmp_path, name, data):
    path = tmp_path / name
    path.write_text(json.dumps(data) if not isinstance(data, str) else data)
    return str(path)


@pytest.mark.parametrize(("argv", "message"), [
    (["-N", "0", "allr"], "-N: need at least one node"),
    (["-r", "99", "allr"], "-r: 99 ranks do not fit 1 x trn2.48xlarge (64 logical cores each"),
    (["-r", "40", "allr", "--instance", "trn1.32xlarge"], "-r: 40 ranks do not fit 1 x trn1.32xlarge (32 logical"),
    (["-r", "3", "-N", "2", "allr"], "3 ranks do not fit 2 x trn1.32xlarge (32 logical cores each, the same number of ranks on every node)"),
    (["-b", "1 parsec", "allr"], "'1 parsec' is not a size"),
    (["-b", "1mb", "-e", "1kb", "allr"], "-e 1024 is below -b 1048576"),
    (["-b", "0", "allr"], "-b: 0 bytes: the smallest size must be at least 1 byte"),
    (["-b", "1", "-e", "8", "-f", "1", "allr"], "-f 1 never grows the size"),
    (["-b", "1", "-e", "8", "-f", "2", "-i", "2", "allr"], "give -f (a factor) or -i (an increment), not both"),
    (["-n", "1e9", "allr"], "refuses more than 1000000 in one run"),
    (["-n", "2.5", "allr"], "'2.5' is not a whole number"),
    (["--launch-overhead", "soon", "allr"], "--launch-overhead"),
    (["-N", "2", "--instance", "inf2.48xlarge", "allr"], "inf2.48xlarge, which has no EFA"),
    (["-N", "2", "--hosts", "10.0.0.1", "allr"], "--hosts: -N 2 needs 2 hosts, 1 given (10.0.0.1)"),
    (["-t", "p50", "median", "allr"], "'median' is not a statistic"),
    (["alltoallv"], "alltoallv needs --variable-size-op-metadata FILE"),
    (["-d", "fp8", "allr"], "allr cannot reduce fp8"),
    (["-r", "4", "allgv", "--instance", "trn1.32xlarge", "--variable-size-op-metadata", "META"],
     "all_gatherv runs only on replica groups inside one Trainium device"),
    (["-r", "4", "allr", "--custom-replica-groups", "RG"], "the replica groups do not partition ranks 0..3"),
    (["permute", "--custom-src-target-pairs", "BADPAIRS"], "rank 1 is a target more than once"),
    (["-r", "2", "alltoallv", "--variable-size-op-metadata", "BADMETA"], "metadata[0].recv_counts: rank 0 expects 3 elements from rank 1, which sends 2"),
    (["--hosts-file", "/nonexistent/hosts", "allr"], "/nonexistent/hosts: cannot read the hosts file"),
    (["--streams-json", "BADSTREAM", "allr"], "streams[0]: unknown key 'colour'"),
    (["--streams-json", "BADOP", "allr"], "BADOP.json: streams[0].operation: unknown operation 'nope'"),  # was doubled
    (["allr", "-c", "sometimes"], "unrecognized arguments: sometimes"),
    (["-b", "1kb", "-e", "1kb", "allr", "--report-to-json-file", "/etc/hostname/r.json"],
     "--report-to-json-file: cannot write '/etc/hostname/r.json': '/etc/hostname' is a file, not a folder"),
    (["allr", "-w", "-1"], "nccom-test: -w: need -w >= 0, not -1"),  # it named -n whichever was wrong
    (["allr", "-I", "0"], "nccom-test: -I: need -I >= 1, not 0"),
    # a folder os.access lets root write to, where no file can be made: refused before anything runs
    (["-b", "1kb", "-e", "1kb", "allr", "--report-to-json-file", "/proc/r.json"],
     "--report-to-json-file: cannot write '/proc/r.json'"),
])
def test_bad_arguments_exit_2_with_one_line(argv, message, capsys, tmp_path):
    files = {"META": {"metadata": [{"send_counts": [4], "send_displs": [0], "recv_counts": [4] * 4,
                                    "recv_displs": [0, 4, 8, 12]}]},
             "RG": {"replica_groups": [[[0, 1], [1, 2]]]},
             "BADPAIRS": {"src_target_pairs": [[[0, 1], [1, 1]]]},
             "BADMETA": {"metadata": [{"send_counts": [1, 2], "send_displs": [0, 1], "recv_counts": [1, 3],
                                       "recv_displs": [0, 1]},
                                      {"send_counts": [2, 1], "send_displs": [0, 2], "recv_counts": [3, 1],
                                       "recv_displs": [0, 3]}]},
             "BADSTREAM": {"streams": [{"operation": "allr", "colour": "red"}]},
             "BADOP": {"streams": [{"operation": "nope"}]}}
    argv = [_write(tmp_path, f"{a}.json", files[a]) if a in files else a for a in argv]
    if "-r" not in argv:
        argv = ["-r", "2", *argv]
    assert main(["nccom-test", *argv]) == 2
    err = capsys.readouterr().err
    assert message in err
    assert len([line for line in err.splitlines() if line.startswith("neuronsim")]) == 1


def test_missing_rank_count_is_refused(capsys):
    assert main(["nccom-test", "allr"]) == 2
    assert "the following arguments are required: -r/--nworkers" in capsys.readouterr().err


def test_flags_without_effect_are_accepted(capsys, tmp_path):
    hosts = tmp_path / "hosts"
    hosts.write_text("10.0.0.1\n10.0.0.2\n")
    argv = ["nccom-test", "-r", "4", "-N", "2", "allr", "-b", "1kb", "-e", "1kb", "--hosts-file", str(hosts),
            "--unique-buff", "--coalesced-cc-size-ratio", "[1,2,1]", "--shared-output-buff", "--mpi-log-dir",
            str(tmp_path), "-S", "-u", "8", "--slurm-setup-script", "default", "--slurm-job-id", "7",
            "--slurm-use-head-node-neuron-bench", "--non-interactive", "--debug", "--sb2sb", "--input-shape",
            "[1,1][4,4]", "--output-shape", "[1,1][4,4]", "--cc-dim", "0", "--vcpu-pin-mode", "--data-collector-port",
            "60006", "--data-collector-host", "localhost", "--seed", "3", "-n", "1", "-w", "0"]
    assert main(argv) == 0
    assert capsys.readouterr().out.splitlines()[1].split()[0] == "1024"


def test_long_option_spellings(capsys):
    assert main(["nccom-test", "--nworkers", "2", "--nnodes", "1", "--minbytes", "1kb", "--maxbytes", "4kb",
                 "--stepbytes", "1kb", "--iters", "1", "--warmup_iters", "0", "--neff_iters", "1",
                 "--neff_warmup_iters", "0", "--datatype", "int16", "--check", "all_ones", "--stats", "avg",
                 "all_reduce"]) == 0
    assert [line.split()[0] for line in capsys.readouterr().out.splitlines()[1:-1]] == ["1024", "2048", "3072",
                                                                                      "4096"]


def test_the_reference_lists_every_flag():
    """docs/reference/cli.md's nccom-test section names every flag the command takes."""
    import argparse

    from neuronsim.cli import _parser

    parser = _parser()
    sub = next(a for a in parser._actions if isinstance(a, argparse._SubParsersAction))  # noqa: SLF001
    nccom_parser = sub.choices["nccom-test"]
    text = (ROOT / "docs" / "reference" / "cli.md").read_text(encoding="utf-8").split("## nccom-test", 1)[1]
    flags = [s for a in nccom_parser._actions for s in a.option_strings if s not in ("-h", "--help")]  # noqa: SLF001
    assert flags and [f for f in flags if f"`{f}" not in text and f"{f}`" not in text and f"/`{f}" not in text] == []
    for name in OPS:
        assert f"`{name}`" in text
