"""Each kind of bad topology input gets one clear message (file, field path, reason) and exit 2."""

from __future__ import annotations

import pytest
import yaml

from neuronsim.cli import main
from neuronsim.errors import ConfigError
from neuronsim.topology import load_topology, preset_path


def _preset_data(name: str = "trn1.32xlarge") -> dict:
    return yaml.safe_load(preset_path(name).read_text())


def _write(tmp_path, data, name="bad.yaml"):
    path = tmp_path / name
    path.write_text(data if isinstance(data, str) else yaml.safe_dump(data, sort_keys=False))
    return path


def _run_validate(path, capsys, *extra):
    status = main(["validate", str(path), *extra])
    err = capsys.readouterr().err
    return status, err


def _expect(tmp_path, capsys, data, field, reason, *extra):
    path = _write(tmp_path, data)
    status, err = _run_validate(path, capsys, *extra)
    assert status == 2
    assert err.count("\n") == 1, err  # one message
    assert err.startswith(f"neuronsim: error: {path}: {field}: "), err
    assert reason in err
    assert "Traceback" not in err


def test_malformed_yaml(tmp_path, capsys):
    path = _write(tmp_path, "schema_version: 1\nname: x\ndevices: [\n  {index: 0,\n")
    status, err = _run_validate(path, capsys)
    assert status == 2
    assert err.startswith(f"neuronsim: error: {path}: devices[0]: malformed YAML at line 5, column 1: ")
    assert "Traceback" not in err


def test_not_a_mapping(tmp_path, capsys):
    status, err = _run_validate(_write(tmp_path, "- 1\n- 2\n"), capsys)
    assert status == 2 and "must hold a mapping" in err


def test_unknown_key(tmp_path, capsys):
    data = _preset_data()
    data["devices"][3]["colour"] = "blue"
    _expect(tmp_path, capsys, data, "devices[3].colour", "unknown key")


def test_unknown_key_in_a_nested_part(tmp_path, capsys):
    data = _preset_data()
    data["host"]["numa_nodes"][0]["cores"] = 4
    _expect(tmp_path, capsys, data, "host.numa_nodes[0].cores", "unknown key")


def test_link_to_a_device_that_does_not_exist(tmp_path, capsys):
    data = _preset_data()
    data["devices"][2]["connected"] = [14, 1, 6, 17]
    _expect(tmp_path, capsys, data, "devices[2].connected[3]", "device 17 does not exist (devices are 0-15)")


def test_one_way_link(tmp_path, capsys):
    data = _preset_data()
    data["devices"][5]["connected"] = [1, 4, 9]  # drops 6, but 6 still lists 5
    _expect(tmp_path, capsys, data, "devices[6].connected[1]", "one-way link: device 6 lists 5 but device 5 does not list 6")


def test_duplicate_core_ids(tmp_path, capsys):
    data = _preset_data()
    data["devices"][1]["core_ids"] = "0-1"
    _expect(tmp_path, capsys, data, "devices[1].core_ids", "core id 0 is also on device 0")


def test_non_contiguous_core_ids(tmp_path, capsys):
    data = _preset_data()
    data["devices"][1]["core_ids"] = "2,4"
    _expect(tmp_path, capsys, data, "devices[1].core_ids", "'2,4' is not contiguous")


def test_cpu_set_outside_the_host(tmp_path, capsys):
    data = _preset_data()
    data["devices"][0]["cpu_affinity"] = "0-31,64-95,128"
    _expect(tmp_path, capsys, data, "devices[0].cpu_affinity", "CPU 128 is outside the host's CPUs (0-127)")


def test_numa_cpu_set_outside_the_host(tmp_path, capsys):
    data = _preset_data()
    data["host"]["numa_nodes"][1]["cpus"] = "32-63,96-130"
    _expect(tmp_path, capsys, data, "host.numa_nodes[1].cpus", "CPU 128 is outside the host's 128 vCPUs (0-127)")


def test_numa_node_that_does_not_exist(tmp_path, capsys):
    data = _preset_data()
    data["devices"][7]["numa_node"] = 3
    _expect(tmp_path, capsys, data, "devices[7].numa_node", "NUMA node 3 does not exist (host has [0, 1])")


def test_bad_unit(tmp_path, capsys):
    data = _preset_data()
    data["neuronlink"]["link_bandwidth_bytes_per_ns"] = "96 GiB"
    _expect(tmp_path, capsys, data, "neuronlink.link_bandwidth_bytes_per_ns", "unknown bandwidth unit 'GiB'")


def test_missing_provenance(tmp_path, capsys):
    data = _preset_data()
    del data["provenance"]["neuronlink.latency_ns"]
    _expect(tmp_path, capsys, data, "provenance.neuronlink.latency_ns", "missing: every parameter needs")


def test_an_assumption_in_the_user_own_words_validates(tmp_path, capsys):
    data = _preset_data()
    data["host"]["provenance"]["pcie_latency_ns"] = "assumed: we measured 1.2 us on our own hosts"
    status, err = _run_validate(_write(tmp_path, data), capsys)
    assert status == 0 and err == ""
    data["host"]["provenance"]["pcie_latency_ns"] = "guessed: 1 us"
    _expect(tmp_path, capsys, data, "host.provenance.pcie_latency_ns",
            "does not start with published:, inferred: or assumed:")
    data["host"]["provenance"]["pcie_latency_ns"] = "assumed:   "
    _expect(tmp_path, capsys, data, "host.provenance.pcie_latency_ns",
            "does not start with published:, inferred: or assumed:")


def test_lnc_other_than_1_or_2(capsys):
    assert main(["ls", "--instance", "trn2.48xlarge", "--lnc", "4"]) == 2
    err = capsys.readouterr().err
    assert err == "neuronsim: error: trn2.48xlarge: lnc: logical NeuronCore config must be 1 or 2, not 4\n"


def test_lnc_that_is_not_a_number(capsys):
    assert main(["ls", "--instance", "trn2.48xlarge", "--lnc", "two"]) == 2
    assert "LNC must be 1 or 2, not 'two'" in capsys.readouterr().err


def test_lnc_on_an_instance_that_has_none(capsys):
    assert main(["ls", "--instance", "inf2.48xlarge", "--lnc", "2"]) == 2
    err = capsys.readouterr().err
    assert err.startswith("neuronsim: error: inf2.48xlarge: lnc: inf2.48xlarge has no logical NeuronCore config")


def test_unknown_preset_lists_the_known_ones(capsys):
    assert main(["ls", "--instance", "trn3.48xlarge"]) == 2
    err = capsys.readouterr().err
    assert "unknown instance preset 'trn3.48xlarge'; known presets: inf2.24xlarge, inf2.48xlarge," in err
    assert "trn2.48xlarge" in err


def test_missing_file(tmp_path, capsys):
    status, err = _run_validate(tmp_path / "nope.yaml", capsys)
    assert status == 2 and err == f"neuronsim: error: {tmp_path / 'nope.yaml'}: file not found\n"


def test_usage_error_exits_2(capsys):
    assert main(["ls", "--instance", "trn1.2xlarge", "--topology-file", "x.yaml"]) == 2
    assert "argument --topology-file: not allowed with argument --instance" in capsys.readouterr().err


def test_config_error_carries_the_parts():
    with pytest.raises(ConfigError) as info:
        load_topology("trn2.48xlarge", lnc=3)
    issue = info.value.issues[0]
    assert (info.value.source, issue.field) == ("trn2.48xlarge", "lnc")


def test_valid_file_validates(tmp_path, capsys):
    path = _write(tmp_path, _preset_data())
    assert main(["validate", str(path)]) == 0
    assert capsys.readouterr().out == (f"{path}: valid (trn1.32xlarge: 16 devices per instance, 32 logical "
                                       "NeuronCores at LNC=1, 32 NeuronLink links)\n")


def test_show_tree(capsys):
    assert main(["show", "trn2.48xlarge"]) == 0
    out = capsys.readouterr().out
    assert out.startswith("trn2.48xlarge: 16 devices, LNC=2, 64 logical / 128 physical NeuronCores\n")
    assert "nc17 (logical): physical 2-3, hbm stack 1" in out
    assert "neuronlink-v3 torus-2d: 32 links" in out
    assert "numa1: cpus 48-95,144-191, 1 TiB" in out


def test_show_says_one_device_not_one_devices(capsys):
    assert main(["show", "inf2.xlarge"]) == 0
    assert capsys.readouterr().out.startswith("inf2.xlarge: 1 device, LNC=1, 2 logical / 2 physical NeuronCores\n")


def test_show_cluster(capsys):
    assert main(["show", "trn2-ultraserver"]) == 0
    out = capsys.readouterr().out
    assert out.startswith("trn2-ultraserver: 4 x trn2u.48xlarge joined by Z rings 128 GB/s, 500 ns, and EFA\n")


# -- the corpus (tests/bad_input_corpus.py): every case exits 2 naming file and field, or runs and ends --------

from tests.bad_input_corpus import cases  # noqa: E402

CORPUS = cases()
CASE_SECONDS = 5  # no case may take longer (wall time, in-process)


class _TooSlow(Exception):
    pass


def _alarm(signum, frame):
    raise _TooSlow


@pytest.mark.parametrize("case", CORPUS, ids=[c.name for c in CORPUS])
def test_bad_input_corpus(case, tmp_path, capsys):
    import signal
    import time

    for name, data in case.files.items():
        (tmp_path / name).write_bytes(data)
    argv = [a.replace("{d}", str(tmp_path)) for a in case.argv]
    previous = signal.signal(signal.SIGALRM, _alarm)
    signal.alarm(CASE_SECONDS * 4)  # a hang fails the case instead of the run
    started = time.monotonic()
    try:
        status = main(argv)
    except _TooSlow:
        pytest.fail(f"still running after {CASE_SECONDS * 4} s: neuronsim {' '.join(argv)}")
    finally:
        signal.alarm(0)
        signal.signal(signal.SIGALRM, previous)
    elapsed = time.monotonic() - started
    out, err = capsys.readouterr()
    assert "Traceback" not in err + out
    assert elapsed < CASE_SECONDS, f"{elapsed:.1f} s"
    if case.expect == "runs":
        assert status in (0, 1), err
        return
    assert status == 2, (out, err)
    source = str(tmp_path / case.file) if "." in case.file and " " not in case.file else case.file
    prefix = f"neuronsim: error: {source}: "
    first, *more = err.splitlines()
    assert first.startswith(prefix), err
    assert all(line.startswith(f"{source}: ") for line in more), err  # one line per problem, each in the format
    rest = first[len(prefix):]
    if case.field is not None:
        if case.field:
            assert rest.startswith(f"{case.field}: "), err
        else:
            assert not rest.split(": ")[0].replace("_", "").replace(".", "").isidentifier() or "YAML" in rest or \
                "UTF-8" in rest, err
    assert case.reason in rest, err


# -- issue #19 item 2: refused up front with the reason, or run and ended, at the limits ------------------

def _spec(**thread):
    from neuronsim.workload.spec import load_workload

    data = yaml.safe_load(_corpus_workload())
    data["threads"][0].update(thread)
    return load_workload(data, source="w.yaml")


def _corpus_workload() -> str:
    from tests.bad_input_corpus import WORKLOAD

    return WORKLOAD


def test_a_zero_time_program_with_a_count_runs_and_ends():
    from neuronsim.workload.metrics import summary
    from neuronsim.workload.runner import run_workload

    spec = _spec(iterations=1000, program=[{"compute": 0}, {"sleep": "0 ns"}])
    figures = summary(run_workload(spec))
    assert figures["threads"][0]["iterations_completed"] == 1000
    assert figures["elapsed_ns"] == 0


def test_a_zero_time_program_for_a_time_is_refused():
    with pytest.raises(ConfigError) as info:
        _spec(iterations=None, duration="1 ms", program=[{"compute": 0}, {"sleep": "0 ns"}])
    assert str(info.value) == ("w.yaml: threads[0].program: every step takes no time (compute or sleep of 0), so a "
                               "closed loop bounded by time (duration or until) would never move the clock: give a "
                               "step a time, or the thread iterations")
    # a time on any step, or open arrivals, moves the clock
    _spec(iterations=None, duration="1 ms", program=[{"compute": 0}, {"sleep": "1 ns"}])
    _spec(iterations=None, duration="1 ms", program=[{"compute": 0}], arrivals={"kind": "fixed", "rate": 1000})


def test_the_iteration_limit_counts_open_arrivals():
    from neuronsim.workload.spec import MAX_ITERATIONS

    _spec(iterations=MAX_ITERATIONS)
    with pytest.raises(ConfigError, match=r"^w.yaml: threads\[0\].iterations: Input should be less than or equal "
                                          r"to 100000000$"):
        _spec(iterations=MAX_ITERATIONS + 1)
    _spec(iterations=None, duration="100 s", arrivals={"kind": "fixed", "rate": 1e6})  # 10**8 arrivals
    with pytest.raises(ConfigError) as info:
        _spec(iterations=None, duration="101 s", arrivals={"kind": "fixed", "rate": 1e6})
    assert str(info.value) == ("w.yaml: threads[0].arrivals.rate: 1e+06 per second for 101,000,000,000 ns is 1.01e+08 "
                               "iterations, more than 100,000,000 (every arrival before the end of the duration runs)")


def test_the_longest_compute_step():
    from neuronsim.workload.spec import MAX_COMPUTE_NS

    _spec(program=[{"compute": "1000 s"}])
    with pytest.raises(ConfigError) as info:
        _spec(program=[{"compute": f"{MAX_COMPUTE_NS + 1} ns"}])  # a time takes its unit
    assert str(info.value) == ("w.yaml: threads[0].program[0].compute: 1,000,000,000,001 ns is more than 1,000 s, the "
                               "longest host compute step (it runs as 1 ms CPU slices: split it, or use sleep)")


def test_the_arrival_rate_range():
    _spec(arrivals={"kind": "poisson", "rate": 1e9})
    _spec(arrivals={"kind": "fixed", "rate": 1e-9})
    for rate in (1.000001e9, 0.999999e-9):
        with pytest.raises(ConfigError, match=r"^w.yaml: threads\[0\].arrivals.rate: .* per second is outside "
                                              r"1e-09 \.\. 1e\+09"):
            _spec(arrivals={"kind": "poisson", "rate": rate})


def test_the_largest_cluster(capsys):
    assert main(["validate", "1024x trn1.32xlarge"]) == 0
    assert main(["validate", "1025x trn1.32xlarge"]) == 2
    assert capsys.readouterr().err == (
        "neuronsim: error: 1025x trn1.32xlarge: count: 1,025 instances is more than 1,024, the most neuronsim "
        "simulates (A112: each instance's hardware is built up front, about 10 ms and 0.3 MB of memory each)\n")


def test_the_largest_id_and_quantities():
    from neuronsim.idlist import IdListError, parse_id_list
    from neuronsim.units import MAX_BYTES, MAX_NS, UnitError, parse_bytes, parse_time_ns

    assert len(parse_id_list("0-65535")) == 65_536
    with pytest.raises(IdListError, match=r"^id 65536 in '0-65536' is above 65,535, the largest id neuronsim accepts$"):
        parse_id_list("0-65536")
    assert parse_bytes(f"{MAX_BYTES} B") == parse_bytes(MAX_BYTES) == 2**64 - 1
    assert parse_bytes("16777215 TiB") == 2**64 - 2**40
    with pytest.raises(UnitError, match="is more than 18,446,744,073,709,551,615 bytes"):
        parse_bytes("16777216 TiB")  # 2**64
    assert parse_time_ns(MAX_NS) == 2**63 - 1
    with pytest.raises(UnitError, match="is more than 9,223,372,036,854,775,807 nanoseconds"):
        parse_time_ns("9223372037 s")
    with pytest.raises(UnitError, match=r"^'1e-999999999 B' is too small a size"):
        parse_bytes("1e-999999999 B")  # was 0 bytes: the product underflowed
    assert parse_bytes("1.5e3 KiB") == 1_536_000


def test_status_as_str_of_numbers_that_are_not_statuses():
    from neuronsim.simulator import Simulator

    rt = Simulator("trn1.2xlarge").runtime()
    for value in (float("inf"), float("-inf"), float("nan"), 10**100, -1, 8, "x", None):
        assert rt.nrt_get_status_as_str(value) == "NRT_STATUS_UNKNOWN"
    assert rt.nrt_get_status_as_str(4.0) == "NRT_RESOURCE"  # a C double converted to the enum


# -- issue #19 item 6: FILE.py:FUNCTION executes FILE.py; a missing FUNCTION stops everything else -----------

APP = """\
import pathlib
pathlib.Path(__file__).with_name("imported").write_text("top-level code ran")


def workload(sim):
    pathlib.Path(__file__).with_name("ran").write_text("the workload ran")
    sim.runtime()
"""


def test_a_missing_function_stops_after_the_import(tmp_path, capsys):
    app = tmp_path / "app.py"
    app.write_text(APP)
    assert main(["run", f"{app}:serve", "--instance", "trn1.2xlarge", "--no-progress"]) == 2
    assert capsys.readouterr().err == f"neuronsim: error: {app}: serve: has no function 'serve' (it has: workload)\n"
    assert (tmp_path / "imported").read_text() == "top-level code ran"  # the file was executed, as documented
    assert not (tmp_path / "ran").exists()


def test_arguments_are_checked_before_the_file_runs(tmp_path, capsys):
    app = tmp_path / "app.py"
    app.write_text(APP)
    assert main(["run", f"{app}:workload", "--no-progress"]) == 2
    assert capsys.readouterr().err == f"neuronsim: error: {app}: --instance: a Python workload needs --instance\n"
    assert main(["run", f"{app}:workload", "--instance", "trn1.2xlarge", "--trace", str(tmp_path)]) == 2
    assert capsys.readouterr().err == f"neuronsim: error: neuronsim run: --trace: {str(tmp_path)!r} is a folder, not a file\n"
    assert not (tmp_path / "imported").exists()
    assert main(["run", f"{app}:workload", "--instance", "trn1.2xlarge", "--no-progress"]) == 0
    assert (tmp_path / "ran").read_text() == "the workload ran"


def test_the_help_says_the_file_runs(capsys):
    assert main(["run", "--help"]) == 0
    assert "the file's top-level code runs: run only files you trust" in " ".join(capsys.readouterr().out.split())


def test_a_run_for_a_duration_shows_its_progress():
    from neuronsim.workload.runner import run_workload

    spec = _spec(iterations=None, duration="50 ms")
    calls = []
    run_workload(spec, progress=lambda done, total, unit: calls.append((done, total, unit)))
    assert calls and {(total, unit) for _, total, unit in calls} == {(50_000_000, "ns")}
    done = [d for d, _, _ in calls]
    assert done == sorted(done) and 0 < done[0] and done[-1] == 50_000_000
