"""A resumed sweep reuses a row only when everything that determined it is unchanged (issue #19, item 5):
the key is the SHA-256 of the resolved point, and the results say which neuronsim wrote them."""

from __future__ import annotations

import hashlib
import json

import yaml

import neuronsim
from neuronsim.cli import main
from neuronsim.sweep.runner import VERSION_COLUMN, points, read_rows, run_sweep
from neuronsim.sweep.spec import load_sweep
from neuronsim.topology import load_spec, preset_path

METRICS = ["throughput_per_s", "threads.0.steady_throughput_per_s", "threads.0.latency.p50_ns"]


def workload(duration="1 ms", arrivals="closed", instance="trn1.2xlarge"):
    return {"schema_version": 1, "name": "resume", "instance": instance,
            "models": {"m": {"inputs": {"x": "4 KiB"}, "outputs": {"y": "4 KiB"}, "cost": {"duration": duration}}},
            "threads": [{"cpus": "0", "cores": "0", "iterations": 8, "arrivals": arrivals,
                         "program": [{"write": "x"}, {"execute": "m"}, {"read": "y", "queue": 1}]}]}


def write(tmp_path, base, **sweep):
    (tmp_path / "workload.yaml").write_text(yaml.safe_dump(base))
    data = {"schema_version": 1, "name": "resume", "workload": "workload.yaml",
            "parameters": {"threads.0.in_flight": [1, 2]}, "metrics": METRICS, **sweep}
    path = tmp_path / "sweep.yaml"
    path.write_text(yaml.safe_dump(data, sort_keys=False))
    return path


def sweep(path, out):
    spec, base, source = load_sweep(path)
    return run_sweep(spec, base, source, out)


def fresh(tmp_path, path, name):
    """The rows a sweep of ``path`` writes into a new file."""
    return sweep(path, tmp_path / name).rows


def test_a_changed_base_workload_runs_again(tmp_path, capsys):
    out = tmp_path / "r.csv"
    path = write(tmp_path, workload("1 ms"))
    assert main(["sweep", str(path), "--out", str(out), "--no-progress"]) == 0
    assert main(["sweep", str(path), "--out", str(out), "--no-progress"]) == 0
    assert "2 points (1 parameter x 1 repetition): 0 run, 2 already in the results, 0 failed\n" in \
        capsys.readouterr().out
    old = read_rows(out)
    path = write(tmp_path, workload("100 us"))  # the case: the model's duration changes
    assert main(["sweep", str(path), "--out", str(out), "--no-progress"]) == 0
    assert ("2 points (1 parameter x 1 repetition): 2 run, 0 already in the results, 0 failed; 2 rows of the "
            "results no longer match a point (changed or removed) and were dropped\n") in capsys.readouterr().out
    new = read_rows(out)
    fresh(tmp_path, path, "fresh.csv")
    assert new == read_rows(tmp_path / "fresh.csv")
    # two in flight keep the core busy: one execution per duration, 1 ms before, 100 us now
    assert (old[1]["threads.0.steady_throughput_per_s"], new[1]["threads.0.steady_throughput_per_s"]) == \
        ("1000.0", "10000.0")


def test_a_changed_seed_runs_again(tmp_path):
    out = tmp_path / "r.csv"
    poisson = {"kind": "poisson", "rate": 5000}
    first = sweep(write(tmp_path, workload("100 us", poisson), seed=1), out)
    path = write(tmp_path, workload("100 us", poisson), seed=2)
    again = sweep(path, out)
    assert (again.ran, again.skipped, again.dropped) == (2, 0, 2)
    assert again.rows == fresh(tmp_path, path, "fresh.csv")
    assert [r["seed"] for r in again.rows] == [2, 2] and again.rows != first.rows


def test_a_changed_instance_runs_again(tmp_path):
    out = tmp_path / "r.csv"
    first = sweep(write(tmp_path, workload("100 us")), out)
    path = write(tmp_path, workload("100 us"), instance="trn1.32xlarge")  # the sweep's instance overrides
    again = sweep(path, out)
    assert (again.ran, again.skipped) == (2, 0)
    assert again.rows == fresh(tmp_path, path, "fresh.csv")
    assert first.rows[0]["key"] != again.rows[0]["key"]


def test_an_edited_topology_file_runs_again(tmp_path):
    out = tmp_path / "r.csv"
    topology = tmp_path / "my-trn1.yaml"
    text = preset_path("trn1.2xlarge").read_text()
    topology.write_text(text)
    path = write(tmp_path, workload("100 us", instance=str(topology)))
    first = sweep(path, out)
    assert (sweep(path, out).ran, sweep(path, out).skipped) == (0, 2)
    topology.write_text(text.replace("pcie_bandwidth_bytes_per_ns: 16 GB/s", "pcie_bandwidth_bytes_per_ns: 1 GB/s"))
    again = sweep(path, out)
    assert (again.ran, again.skipped) == (2, 0)
    assert again.rows == fresh(tmp_path, path, "fresh.csv")
    assert all(a["key"] != b["key"] for a, b in zip(again.rows, first.rows, strict=True))


def test_rows_of_another_neuronsim_run_again(tmp_path, monkeypatch):
    out = tmp_path / "r.csv"
    path = write(tmp_path, workload("100 us"))
    first = sweep(path, out)
    assert [r[VERSION_COLUMN] for r in read_rows(out)] == [neuronsim.__version__] * 2
    monkeypatch.setattr(neuronsim.version, "__version__", "99.0.0")
    again = sweep(path, out)
    assert (again.ran, again.skipped) == (2, 0)
    assert [r[VERSION_COLUMN] for r in read_rows(out)] == ["99.0.0"] * 2
    assert [r["throughput_per_s"] for r in again.rows] == [r["throughput_per_s"] for r in first.rows]


def test_the_key_is_the_sha256_of_the_resolved_point(tmp_path):
    base = workload("100 us")
    path = write(tmp_path, base, until="5 ms", seed=3)
    spec, loaded, source = load_sweep(path)
    result = run_sweep(spec, loaded, source, tmp_path / "r.csv")
    for point, row in zip(points(spec), result.rows, strict=True):
        data = json.loads(json.dumps(base))
        data["threads"][0]["in_flight"] = dict(point.values)["threads.0.in_flight"]
        resolved = {"neuronsim": neuronsim.__version__, "workload": data, "parameters": dict(point.values),
                    "repetition": 0, "seed": 3, "instance": "trn1.2xlarge",
                    "topology": sha256(load_spec("trn1.2xlarge").model_dump(mode="json")), "until": 5_000_000,
                    "metrics": METRICS}
        assert row["key"] == sha256(resolved)


def sha256(data):
    return hashlib.sha256(json.dumps(data, sort_keys=True, separators=(",", ":"), ensure_ascii=False).encode()).hexdigest()


def test_reordered_values_reuse_their_rows_at_their_new_places(tmp_path):
    out = tmp_path / "r.csv"
    first = sweep(write(tmp_path, workload("100 us")), out)
    path = write(tmp_path, workload("100 us"))
    data = yaml.safe_load(path.read_text())
    data["parameters"]["threads.0.in_flight"] = [2, 1]
    path.write_text(yaml.safe_dump(data))
    again = sweep(path, out)
    assert (again.ran, again.skipped) == (0, 2)
    assert [(r["point"], str(r["threads.0.in_flight"])) for r in again.rows] == [(0, "2"), (1, "1")]
    assert [r["key"] for r in again.rows] == [r["key"] for r in reversed(first.rows)]
