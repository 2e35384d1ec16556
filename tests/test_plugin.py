"""The pytest plugin, tested with pytester: fixture, markers, options, failure reports, timelines."""

from __future__ import annotations

import ast
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

RACY = """
import numpy as np
from neuronsim import nrt

def test_racy(neuron_sim):
    rt = neuron_sim.runtime()
    rt.nrt_init(nrt.NRT_FRAMEWORK_TYPE_NO_FW, "", "")
    t = nrt.Ref()
    rt.nrt_tensor_allocate(nrt.NRT_TENSOR_PLACEMENT_DEVICE, 0, 4096, "buf", t)
    rt.nrta_tensor_write(t.value, np.ones(4096, np.uint8), 0, 4096, 0, 0, nrt.Ref(), nrt.Ref())
    rt.nrta_tensor_read(np.zeros(4096, np.uint8), t.value, 0, 4096, 0, 1, nrt.Ref(), nrt.Ref())  # no wait
"""


def test_fixture_defaults(pytester):
    pytester.makepyfile("""
        def test_sim(neuron_sim):
            assert neuron_sim.topology.name == "trn1.2xlarge"
            assert neuron_sim.record and neuron_sim.race_detector is not None
            assert neuron_sim.now_ns == 0
    """)
    pytester.runpytest().assert_outcomes(passed=1)


def test_instance_marker_and_option(pytester):
    pytester.makepyfile("""
        import pytest

        @pytest.mark.neuron_instance("trn2.48xlarge", lnc=1)
        def test_marked(neuron_sim):
            assert len(neuron_sim.topology.logical_cores) == 128

        def test_unmarked(neuron_sim):
            assert neuron_sim.topology.name == "inf2.48xlarge"
    """)
    pytester.runpytest("--neuron-instance", "inf2.48xlarge").assert_outcomes(passed=2)


def test_instances_marker_runs_once_per_preset(pytester):
    pytester.makepyfile("""
        import pytest

        @pytest.mark.neuron_instances("trn1.2xlarge", "inf2.xlarge", "trn2.48xlarge")
        def test_each(neuron_sim):
            assert neuron_sim.topology.name in ("trn1.2xlarge", "inf2.xlarge", "trn2.48xlarge")
    """)
    result = pytester.runpytest("-v")
    result.assert_outcomes(passed=3)
    result.stdout.fnmatch_lines(["*test_each?trn1.2xlarge? PASSED*", "*test_each?trn2.48xlarge? PASSED*"])


def test_seed_is_stable_per_test_and_can_be_set(pytester):
    pytester.makepyfile("""
        def test_a(neuron_sim):
            print("SEED", neuron_sim.seed)
    """)
    import re

    def seeds(*args):
        return re.findall(r"SEED (\d+)", pytester.runpytest("-s", *args).stdout.str())

    first = seeds()
    assert len(first) == 1 and first == seeds()
    assert seeds("--neuron-seed", "42") == ["42"]


def test_faults_marker(pytester):
    pytester.makepyfile("""
        import pytest
        from neuronsim import nrt

        @pytest.mark.neuron_faults([{"target": "core", "core": 0, "status": "NRT_EXEC_HW_ERR_NC_UE"}])
        def test_fault(neuron_sim):
            assert neuron_sim.fault_plan.faults[0].status == nrt.NRT_EXEC_HW_ERR_NC_UE
    """)
    pytester.runpytest().assert_outcomes(passed=1)


def test_a_passing_test_with_a_race_fails_with_the_report(pytester):
    pytester.makepyfile(RACY)
    result = pytester.runpytest()
    result.assert_outcomes(failed=1)
    result.stdout.fnmatch_lines([
        "*NeuronSimCheckError: neuronsim: the simulation of this test broke the contract*",
        "*1 hazard(s)*",
        "*read-after-write on tensor 'buf': seq 0x1 (tensor_write nc0/xu.tensor_op.0*seq 0x10000000000001 "
        "(tensor_read nc0/xu.tensor_op.1*",
    ])
    pytester.runpytest("--neuron-no-checks").assert_outcomes(passed=1)


def test_trace_dir_gets_the_timeline_of_failed_tests(pytester):
    pytester.makepyfile(RACY + """

def test_fine(neuron_sim):
    pass
""")
    result = pytester.runpytest("--neuron-trace-dir", "traces")
    result.assert_outcomes(failed=1, passed=1)
    files = sorted((pytester.path / "traces").iterdir())
    assert [f.name for f in files] == ["test_trace_dir_gets_the_timeline_of_failed_tests.py_test_racy.json"]
    trace = json.loads(files[0].read_text())
    slices = [e for e in trace["traceEvents"] if e["ph"] == "X" and e["cat"] != "api"]  # requests, not calls
    assert [s["args"]["seq"] for s in slices] == ["0x1", "0x10000000000001"]
    assert any(e["name"].startswith("HAZARD read-after-write") for e in trace["traceEvents"])
    result.stdout.fnmatch_lines(["*simulated timeline written to traces*test_racy.json*"])


def test_a_test_failing_on_its_own_gets_the_report_as_a_section(pytester):
    pytester.makepyfile(RACY.replace("# no wait", "# no wait\n    assert False, 'my own check'"))
    result = pytester.runpytest()
    result.assert_outcomes(failed=1)
    result.stdout.fnmatch_lines(["*my own check*", "*neuronsim hazards and invariants*", "*read-after-write*"])


EXAMPLE = Path(__file__).parents[1] / "examples" / "scheduler"


def _run_example(impl: str, *selection: str) -> subprocess.CompletedProcess:
    env = dict(os.environ, SCHEDULER_IMPL=impl)
    return subprocess.run([sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", str(EXAMPLE / "tests"),
                           *selection], capture_output=True, text=True, env=env, cwd=EXAMPLE)


def test_the_example_suite_passes_on_the_real_scheduler():
    result = _run_example("RequestScheduler")
    assert result.returncode == 0, result.stdout[-3000:]


@pytest.mark.parametrize(("impl", "selection", "evidence"), [
    ("MissingWaitScheduler", ["-k", "outputs_are_correct"], "read-after-write on tensor 'x0.0'"),
    ("LostCompletionScheduler", ["-k", "failed_execution"], "DeadlockError: the host waits on eventfd"),
])
def test_the_example_suite_catches_the_broken_schedulers(impl, selection, evidence):
    result = _run_example(impl, *selection)
    assert result.returncode == 1
    assert "1 failed" in result.stdout
    assert evidence in result.stdout


def test_the_how_to_gives_the_command_for_each_broken_scheduler():
    """docs/howto/ci-without-hardware.md shows both broken schedulers' failures and says "Try them": it gives
    the SCHEDULER_IMPL command for each class the example project ships, so a reader need not open the file."""
    tree = ast.parse((EXAMPLE / "scheduler_broken.py").read_text())
    broken = [node.name for node in tree.body if isinstance(node, ast.ClassDef)]
    assert broken == ["MissingWaitScheduler", "LostCompletionScheduler"]
    page = (Path(__file__).parents[1] / "docs" / "howto" / "ci-without-hardware.md").read_text()
    for name in broken:
        assert f"`SCHEDULER_IMPL={name} python -m pytest examples`" in page, name


def test_the_broken_scheduler_fails_fast_under_the_default_profile(tmp_path):
    """The docs' "try the broken scheduler" property test under the plugin's neuronsim-ci profile: one
    failure, shrunk, reported with its replay blob; no explain phase, no second failure shrunk after it
    (benchmarks/bench_property_failure.py prints how long it takes)."""
    env = {k: v for k, v in os.environ.items() if k != "HYPOTHESIS_PROFILE"}
    env.update(SCHEDULER_IMPL="MissingWaitScheduler", HYPOTHESIS_STORAGE_DIRECTORY=str(tmp_path))
    result = subprocess.run([sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", str(EXAMPLE / "tests"),
                             "-k", "honest_status"], capture_output=True, text=True, env=env, cwd=EXAMPLE)
    assert result.returncode == 1
    assert "1 failed" in result.stdout
    # shrunk to the smallest case: one request, no faults
    assert ("Failing test case: test_every_request_finishes_once_with_an_honest_status(\n"
            "E           scheduler_class=scheduler_broken.MissingWaitScheduler,\n"
            "E           plan=[],\nE           n=1,\nE           depth=1,\nE       )") in result.stdout
    assert "@reproduce_failure(" in result.stdout
    assert "distinct failures" not in result.stdout  # report_multiple_bugs=False
    assert "The test always failed when commented parts were varied together" not in result.stdout  # no explain


PROFILE_PROBE = """
from hypothesis import Phase, settings

def test_profile():
    s = settings()
    print("PROFILE", settings.get_current_profile_name(), s.max_examples, s.deadline,
          Phase.explain in s.phases, s.report_multiple_bugs)
"""


def _profile(pytester, *args):
    import re

    result = pytester.runpytest_subprocess("-s", *args)
    if "--neuron-hypothesis-profile" not in args or "none" not in args:
        assert "neuronsim: hypothesis profile" in result.stdout.str() or "mine" in result.stdout.str()
    return re.findall(r"PROFILE (.*)", result.stdout.str())


def _hypothesis_ci_variables() -> list[str]:
    """The environment variables by which hypothesis detects a CI run (and then loads its own "ci" profile)."""
    try:
        from hypothesis._settings import _CI_VARS  # private; the names below are its 6.1xx contents
        return list(_CI_VARS)
    except ImportError:  # pragma: no cover - depends on the hypothesis release
        return ["CI", "TF_BUILD", "BUILDKITE", "CIRCLECI", "CIRRUS_CI", "CODEBUILD_BUILD_ID", "GITHUB_ACTIONS",
                "GITLAB_CI", "HEROKU_TEST_RUN_ID", "TEAMCITY_VERSION"]


def test_the_plugin_loads_the_fast_profile_unless_the_session_chose_one(pytester, monkeypatch):
    pytester.makepyfile(PROFILE_PROBE)
    # "none" leaves hypothesis's own choice, which is its "ci" profile when it sees a CI runner: run the
    # probes as on a developer's machine so that the expected default does not depend on where this runs
    for name in _hypothesis_ci_variables():
        monkeypatch.delenv(name, raising=False)
    env_profile = os.environ.pop("HYPOTHESIS_PROFILE", None)
    try:
        assert _profile(pytester) == ["neuronsim-ci 25 0:00:05 False False"]
        assert _profile(pytester, "--neuron-hypothesis-profile", "thorough") == [
            "neuronsim-thorough 1000 None True True"]
        assert _profile(pytester, "--neuron-hypothesis-profile", "none") == ["default 100 0:00:00.200000 True True"]
        pytester.makeconftest("""
            from hypothesis import settings
            settings.register_profile("mine", max_examples=7)
            settings.load_profile("mine")
        """)
        assert _profile(pytester) == ["mine 7 0:00:00.200000 True True"]  # the session's own choice is kept
        assert _profile(pytester, "--neuron-hypothesis-profile", "ci") == ["neuronsim-ci 25 0:00:05 False False"]
    finally:
        if env_profile is not None:
            os.environ["HYPOTHESIS_PROFILE"] = env_profile
