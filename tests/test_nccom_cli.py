"""`neuronsim nccom-test`: nccom-test's table, bus factors, --check, JSON report and bad input."""

from __future__ import annotations

import json

import pytest

from neuronsim.cli import main
from neuronsim.collectives.nccom import bus_factor, parse_size


def test_sizes_are_binary_as_in_nccom_test():
    assert [parse_size(s) for s in ("4", "1kb", "512KB", "32mb", "1gb", "8b")] == [4, 1024, 524288, 32 << 20,
                                                                                 1 << 30, 8]


def test_bus_factors_are_the_documented_ones():
    assert bus_factor("allr", 32) == pytest.approx(2 * 31 / 32)
    assert bus_factor("allg", 32) == bus_factor("redsct", 32) == bus_factor("alltoall", 32) == pytest.approx(31 / 32)
    assert bus_factor("permute", 32) == 1.0


def test_table_layout_and_numbers(capsys):
    argv = ["nccom-test", "-r", "32", "--minbytes", "1kb", "--maxbytes", "1mb", "--stepfactor", "8", "--datatype",
            "fp32", "--check", "allg", "--show-input-output-size", "--show-algorithm", "-n", "2", "-w", "1"]
    assert main(argv) == 0
    lines = capsys.readouterr().out.splitlines()
    assert lines[0].split() == ["size(B)", "count(elems)", "total_input_size(B)", "total_output_size(B)", "type",
                                "time:avg(us)", "algbw(GB/s)", "busbw(GB/s)", "algorithm", "check"]
    rows = [line.split() for line in lines[1:5]]
    assert [r[0] for r in rows] == ["1024", "8192", "65536", "524288"]
    assert [r[1:4] for r in rows[:1]] == [["256", "32", "1024"]]  # as published: input = size / ranks
    for r in rows:
        time_us, algbw, busbw = float(r[5]), float(r[6]), float(r[7])
        assert algbw == pytest.approx(int(r[0]) / (time_us * 1e-6) / 2**30, abs=0.006)
        assert busbw == pytest.approx(algbw * 31 / 32, abs=0.011)
        assert r[9] == "OK"
    assert lines[5].startswith("Avg bus bandwidth:\t") and lines[5].endswith("GB/s")


def test_stats_and_json_report(tmp_path, capsys):
    report = tmp_path / "nccom-results.json"
    assert main(["nccom-test", "-r", "4", "-b", "64kb", "-e", "256kb", "-f", "4", "allr", "--stats",
                 "--report-to-json-file", str(report), "-n", "3", "-w", "0"]) == 0
    header = capsys.readouterr().out.splitlines()[0].split()
    assert header[4:7] == ["time:p50(us)", "time:p90(us)", "time:p99(us)"]
    results = json.loads(report.read_text())["results"]
    assert [r["size"] for r in results] == [65536, 262144]
    assert {"time_avg_us", "algbw", "busbw", "algorithm"} <= set(results[0])


def test_fidelity_and_algorithm_options(capsys):
    base = ["nccom-test", "-r", "8", "-b", "8mb", "allr", "--show-algorithm", "-n", "1", "-w", "0"]
    main(base + ["--algorithm", "ring"])
    step = capsys.readouterr().out.splitlines()[1].split()
    main(base + ["--algorithm", "ring", "--fidelity", "analytical"])
    fast = capsys.readouterr().out.splitlines()[1].split()
    assert step[-1] == fast[-1] == "ring"
    assert abs(float(step[3]) - float(fast[3])) / float(step[3]) < 0.05


@pytest.mark.parametrize(("argv", "message"), [
    (["-N", "0", "allr"], "-N: need at least one node"),
    (["-r", "99", "allr"], "-r: 99 ranks do not fit 1 x trn1.32xlarge (32 logical cores each"),
    (["-b", "1 parsec", "allr"], "'1 parsec' is not a size"),
    (["-b", "1mb", "-e", "1kb", "allr"], "need -f >= 2, -e >= -b"),
    (["--launch-overhead", "soon", "allr"], "--launch-overhead"),
])
def test_bad_arguments_exit_2(argv, message, capsys):
    assert main(["nccom-test", *argv]) == 2
    assert message in capsys.readouterr().err
