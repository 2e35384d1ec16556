"""Parameter sweeps: points and values, local and Dask runs giving the same rows, resuming, failures."""

from __future__ import annotations

import pytest
import yaml

from neuronsim.cli import main
from neuronsim.sweep.runner import points, read_rows, run_sweep
from neuronsim.sweep.spec import load_sweep

BASE = {
    "schema_version": 1, "name": "tiny", "instance": "trn1.2xlarge",
    "models": {"m": {"inputs": {"x": "256 KiB"}, "outputs": {"y": "256 KiB"}, "cost": {"duration": "100 us"}}},
    "threads": [{"cpus": "0", "cores": "0", "iterations": 12, "arrivals": {"kind": "poisson", "rate": 8000},
                 "program": [{"write": "x"}, {"execute": "m"}, {"read": "y", "queue": 1}, {"compute": "10 us"}]}],
}


def sweep_file(tmp_path, parameters, **extra):
    data = {"schema_version": 1, "name": "tiny sweep", "workload": "workload.yaml", "parameters": parameters,
            "metrics": ["throughput_per_s", "threads.0.latency.p99_ns", "bottleneck.name"], **extra}
    (tmp_path / "workload.yaml").write_text(yaml.safe_dump(BASE))
    path = tmp_path / "sweep.yaml"
    path.write_text(yaml.safe_dump(data, sort_keys=False))
    return path


def test_points_are_the_product_of_the_values_times_the_repetitions(tmp_path):
    spec, _, _ = load_sweep(sweep_file(tmp_path, {
        "threads.0.in_flight": [1, 2],
        "threads.0.program.3.compute": {"range": {"start": 10, "stop": 50, "step": 20, "unit": "us"}},
        "models.m.cost.duration": {"sample": {"low": 50, "high": 500, "count": 2, "integer": True, "unit": "us"}},
    }, repetitions=2, seed=7))
    assert spec.values("threads.0.program.3.compute") == ["10 us", "30 us", "50 us"]
    samples = spec.values("models.m.cost.duration")
    assert samples == spec.values("models.m.cost.duration") and len(samples) == 2  # seeded
    assert all(50 <= int(s.split()[0]) <= 500 for s in samples)
    all_points = points(spec)
    assert len(all_points) == 2 * 3 * 2 * 2
    assert [p.seed for p in all_points[:2]] == [7, 8] and all_points[0].values[0] == ("threads.0.in_flight", 1)
    assert len({p.key for p in all_points}) == len(all_points)


def test_local_pool_and_dask_give_the_same_rows(tmp_path):
    pytest.importorskip("distributed")
    spec, base, source = load_sweep(sweep_file(tmp_path, {"threads.0.in_flight": [1, 2],
                                                          "threads.0.program.3.compute": ["10 us", "40 us"]},
                                               repetitions=2))
    local = run_sweep(spec, base, source, tmp_path / "local.csv", workers=2)
    on_dask = run_sweep(spec, base, source, tmp_path / "dask.csv", workers=2, dask="local")
    assert local.ran == on_dask.ran == 8 and local.failed == 0
    assert local.rows == on_dask.rows
    assert read_rows(tmp_path / "local.csv") == read_rows(tmp_path / "dask.csv")
    inline = run_sweep(spec, base, source, tmp_path / "inline.csv", workers=1)
    assert inline.rows == local.rows
    assert local.rows[0]["throughput_per_s"] > 0 and local.rows[0]["error"] == ""


def test_resumed_sweep_skips_finished_points(tmp_path):
    pytest.importorskip("pyarrow")
    path = sweep_file(tmp_path, {"threads.0.in_flight": [1, 2]})
    spec, base, source = load_sweep(path)
    first = run_sweep(spec, base, source, tmp_path / "r.parquet")
    assert (first.ran, first.skipped) == (2, 0)
    again = run_sweep(spec, base, source, tmp_path / "r.parquet")
    assert (again.ran, again.skipped) == (0, 2) and again.rows == first.rows
    wider = sweep_file(tmp_path, {"threads.0.in_flight": [1, 2, 3]})
    spec, base, source = load_sweep(wider)
    third = run_sweep(spec, base, source, tmp_path / "r.parquet")
    assert (third.ran, third.skipped) == (1, 2)
    assert third.rows[:2] == first.rows and [r["threads.0.in_flight"] for r in third.rows] == [1, 2, 3]


def test_a_failing_point_is_recorded_and_the_sweep_goes_on(tmp_path, capsys):
    path = sweep_file(tmp_path, {"threads.0.cores": ["0", "0-5", "1"]})  # trn1.2xlarge has cores 0-1
    assert main(["sweep", str(path), "--out", str(tmp_path / "r.csv"), "--no-progress"]) == 1
    out = capsys.readouterr().out
    assert "3 points (1 parameter x 1 repetition): 3 run, 0 already in the results, 1 failed" in out
    assert "point 1 (threads.0.cores=0-5, seed 0): ConfigError: " in out and "core 2 does not exist" in out
    rows = read_rows(tmp_path / "r.csv")
    assert [bool(r["error"]) for r in rows] == [False, True, False]
    assert rows[1]["throughput_per_s"] == "" and float(rows[2]["throughput_per_s"]) > 0


def test_parquet_falls_back_to_csv_without_pyarrow(tmp_path, monkeypatch):
    import neuronsim.sweep.runner as runner

    monkeypatch.setattr(runner, "_has_pyarrow", lambda: False)
    spec, base, source = load_sweep(sweep_file(tmp_path, {"threads.0.in_flight": [1]}))
    result = run_sweep(spec, base, source, tmp_path / "r.parquet")
    assert result.path == tmp_path / "r.csv" and result.path.is_file()


@pytest.mark.parametrize(("parameters", "field", "reason"), [
    ({"threads.0.in_flight": []}, "parameters.threads.0.in_flight", "at least one value"),
    ({"threads.0.in_flight": [0]}, "parameters.threads.0.in_flight", "does not make a valid workload"),
    ({"threads.0.in_flight": {"range": {"start": 1, "stop": 2}}}, "parameters.threads.0.in_flight.range.step",
     "required field is missing"),
    ({"threads.9.in_flight": [1]}, "parameters.threads.9.in_flight", "no item '9'"),
])
def test_a_bad_sweep_file_names_the_field(tmp_path, capsys, parameters, field, reason):
    path = sweep_file(tmp_path, parameters)
    assert main(["sweep", str(path), "--out", str(tmp_path / "r.csv")]) == 2
    err = capsys.readouterr().err
    assert f"{path}: {field}" in err and reason in err, err


def test_sweep_plot(tmp_path, capsys, monkeypatch):
    pytest.importorskip("matplotlib")
    import matplotlib.figure

    captured = []
    real_savefig = matplotlib.figure.Figure.savefig

    def keep(fig, *args, **kwargs):  # look at the figure as it is written
        captured.append(fig)
        return real_savefig(fig, *args, **kwargs)

    monkeypatch.setattr(matplotlib.figure.Figure, "savefig", keep)
    path = sweep_file(tmp_path, {"threads.0.in_flight": [1, 2], "threads.0.program.3.compute": ["10 us", "40 us"]})
    plot = tmp_path / "plot.png"
    assert main(["sweep", str(path), "--out", str(tmp_path / "r.csv"), "--plot", str(plot), "--no-progress"]) == 0
    assert plot.stat().st_size > 1000
    assert capsys.readouterr().err == ""  # no matplotlib warning
    (fig,) = captured
    ax = fig.axes[0]
    assert fig._suptitle.get_text().endswith(": throughput_per_s against threads.0.in_flight\none run per point")
    assert [t.get_text() for t in ax.get_xticklabels()] == ["1", "2"]  # the swept values, whole numbers
    legend = ax.get_legend()
    assert legend.get_title().get_text() == "threads.0.program.3.compute"
    assert [t.get_text() for t in legend.get_texts()] == ["10 us", "40 us"]
    anchor = legend.get_bbox_to_anchor().transformed(ax.transAxes.inverted())
    assert anchor.x0 > 1.0  # right of the axes, out of the data


def test_the_example_sweep_depth_against_host_step(tmp_path):
    from pathlib import Path

    example = Path(__file__).parents[1] / "examples" / "sweeps" / "depth-x-host-step.yaml"
    spec, base, source = load_sweep(example)
    result = run_sweep(spec, base, source, tmp_path / "r.csv")
    assert result.ran == 20 and result.failed == 0
    by = {(r["threads.0.in_flight"], r["threads.0.program.3.compute"]): r for r in result.rows}
    for host in ("10 us", "50 us", "100 us", "200 us", "400 us"):
        rates = [by[(depth, host)]["throughput_per_s"] for depth in (1, 2, 4, 8)]
        assert all(b >= a * 0.999 for a, b in zip(rates, rates[1:], strict=False))  # depth never hurts
    # with room in the queues, a short host step leaves the 8 cores the bottleneck: 8 / 500 us
    assert 0.97 * 16_000 < by[(8, "10 us")]["throughput_per_s"] <= 16_000
    assert by[(8, "10 us")]["bottleneck.kind"] == "execution-unit queue"
    # a long one makes the thread the bottleneck: at most one request per host step and three 2 us calls.
    # The four logical cores of a device share its PCIe link fairly (A9), so writes the thread issued in a
    # burst all end together at the burst's end and the executions behind them start later; now and then
    # every open iteration waits on the device and the thread idles: within 4 % of the bound, not at it.
    assert by[(8, "400 us")]["bottleneck.kind"] == "host thread"
    assert 0.96 * 1e9 / 406_000 < by[(8, "400 us")]["throughput_per_s"] <= 1e9 / 406_000


def test_a_sweep_never_overwrites_a_file_that_is_not_its_results_and_plots_only_numbers(tmp_path, capsys):
    """--out naming another CSV (no key column) is refused, the file untouched (it was replaced); --y naming a
    text metric is exit 2 naming --y (a ValueError traceback after the run)."""
    path = sweep_file(tmp_path, {"threads.0.in_flight": [1]}, metrics=["throughput_per_s", "instance"])
    other = tmp_path / "mydata.csv"
    other.write_text("customer,revenue\nacme,10\n")
    assert main(["sweep", str(path), "--out", str(other), "--no-progress"]) == 2
    assert f"{other}: is not the results of a sweep (it has no key column)" in capsys.readouterr().err
    assert other.read_text() == "customer,revenue\nacme,10\n"
    pytest.importorskip("matplotlib")
    assert main(["sweep", str(path), "--out", str(tmp_path / "r.csv"), "--plot", str(tmp_path / "p.png"), "--y",
                 "instance", "--no-progress"]) == 2
    assert "--y: 'instance' is not a number (point 0: 'trn1.2xlarge')" in capsys.readouterr().err
