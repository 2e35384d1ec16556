"""`neuronsim run`: the built-in pipeline, its report, determinism and bad arguments."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from neuronsim.cli import main
from neuronsim.workload.builtin_pipeline import run_demo


def test_run_prints_a_summary(capsys):
    assert main(["run", "--instance", "trn1.32xlarge", "--iterations", "10"]) == 0
    out = capsys.readouterr().out
    assert out.startswith("neuronsim run: demo pipeline on trn1.32xlarge (LNC=1), seed 0\n")
    assert "nc0/xu.compute.0" in out and "bottleneck:" in out
    assert "data check:      all outputs correct" in out


def test_run_is_deterministic(capsys):
    main(["run", "--iterations", "8", "--seed", "3"])
    first = capsys.readouterr().out
    main(["run", "--iterations", "8", "--seed", "3"])
    assert capsys.readouterr().out == first


def test_depth_keeps_the_core_busy():
    shallow = run_demo("trn1.2xlarge", cores=1, iterations=30, depth=1)
    deep = run_demo("trn1.2xlarge", cores=1, iterations=30, depth=2)
    util = {name: u for name, u, _ in deep["units"]}
    assert util["nc0/xu.compute.0"] > 0.95
    assert deep["elapsed_ns"] < shallow["elapsed_ns"]
    # depth 1 serialises write, execute and read: every iteration costs all three in turn
    assert shallow["elapsed_ns"] > 30 * (200_000 + 2 * 67_000)


def test_bad_run_arguments(capsys):
    assert main(["run", "--size", "1 parsec"]) == 2
    assert "unknown size unit 'parsec'" in capsys.readouterr().err
    assert main(["run", "--depth", "0"]) == 2
    assert "--depth: must be >= 1, not 0" in capsys.readouterr().err
    assert main(["run", "--instance", "trn2.48xlarge", "--lnc", "3"]) == 2


def test_best_practices_numa_table(capsys):
    assert main(["best-practices", "--scenario", "c"]) == 0
    out = capsys.readouterr().out.splitlines()
    assert out[0] == "best practices on trn1.32xlarge"
    local = out[-2].split()
    remote = out[-1].split()
    assert local[0] == "NUMA-local" and remote[0] == "remote"
    assert float(remote[-2]) > float(local[-2]) and float(remote[-1]) < float(local[-1])


def test_best_practices_bad_instance(capsys):
    assert main(["best-practices", "--instance", "trn9"]) == 2
    assert "unknown instance preset 'trn9'" in capsys.readouterr().err


def test_a_reader_that_leaves_early_gets_no_traceback():
    """`neuronsim ls --instance trn2.48xlarge --json | head -3`: the pipe's reader is gone before the command
    writes (here closed before the process has started up), so the write fails with EPIPE. The command stops
    quietly with status 1, as a Unix tool does, instead of a BrokenPipeError traceback."""
    proc = subprocess.Popen([sys.executable, "-m", "neuronsim", "ls", "--instance", "trn2.48xlarge", "--json"],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    proc.stdout.close()  # the reader leaves before the first line is written
    with proc.stderr:
        err = proc.stderr.read().decode()
    assert proc.wait() == 1
    assert err == ""


@pytest.mark.parametrize("flag", ["--out", "--trace"])
def test_an_empty_output_path_is_refused_before_the_run(flag, capsys):
    """An empty --out ran, exited 0 and wrote nothing (Path("") is the current folder)."""
    example = Path(__file__).parents[1] / "examples" / "workloads" / "inference-server.yaml"
    assert main(["run", str(example), "--until", "1ms", "--no-progress", flag, ""]) == 2
    assert f"neuronsim run: {flag}: an empty" in capsys.readouterr().err
