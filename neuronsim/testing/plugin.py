"""The neuronsim pytest plugin, registered through the ``pytest11`` entry point: installing neuronsim is enough.

* ``neuron_sim`` fixture: a fresh :class:`~neuronsim.Simulator` with recording and race detection on;
  the preset comes from ``@pytest.mark.neuron_instance("trn2.48xlarge", lnc=2)``, else from
  ``--neuron-instance`` (default ``trn1.2xlarge``); the seed is derived from the test's id (stable across
  runs) unless ``--neuron-seed`` is given; ``@pytest.mark.neuron_faults(plan)`` adds a fault plan.
* ``@pytest.mark.neuron_instances("trn1.2xlarge", "inf2.48xlarge", ...)`` runs a test once per preset.
* After a test that uses ``neuron_sim`` passes, the plugin lets the simulation finish and fails the
  test if it recorded hazards (cross-queue races) or broke an execution-unit invariant, with the
  report in the failure. A test that fails on its own gets the same report as a section.
* ``--neuron-trace-dir DIR`` writes the simulated timeline (a Chrome trace for Perfetto) of every
  failed test to ``DIR/<test id>.json``.
* Hypothesis (when installed): the plugin registers the ``neuronsim-ci`` and ``neuronsim-thorough``
  profiles (:mod:`neuronsim.testing.profiles`) and loads ``neuronsim-ci``, which fails fast, unless the
  session chose a profile itself (``--hypothesis-profile``, or a conftest that loaded one);
  ``--neuron-hypothesis-profile ci|thorough`` loads one of the two regardless, ``none`` leaves
  hypothesis's own. The profile that was active before is restored when the session ends.
"""

from __future__ import annotations

import re
import zlib
from pathlib import Path
from typing import Any

import pytest

from neuronsim.errors import DeadlockError
from neuronsim.invariants import check_invariants
from neuronsim.simulator import Simulator
from neuronsim.trace.chrome import write_chrome_trace

__all__ = ["NeuronSimCheckError"]

DEFAULT_INSTANCE = "trn1.2xlarge"
_SIM_KEY = pytest.StashKey[Simulator]()
_PROFILE_KEY = pytest.StashKey[str]()  # the hypothesis profile to restore at the end of the session

try:  # hypothesis is optional (the test extra); the plugin works without it
    from hypothesis import settings as _Settings

    from neuronsim.testing.profiles import PROFILES as _PROFILES

    _hypothesis_settings: type[_Settings] | None = _Settings
    # hypothesis's built-in profiles as they are before any conftest re-registers one: loading
    # ours replaces only these (the session chose nothing)
    _BUILTIN = {name: _Settings.get_profile(name) for name in ("default", "ci")}
except ImportError:  # pragma: no cover - exercised by the base install in CI (.ci/run)
    _hypothesis_settings = None
    _PROFILES = {}
    _BUILTIN = {}


class NeuronSimCheckError(AssertionError):
    """A test's simulation recorded hazards or broke an invariant."""


def pytest_addoption(parser: pytest.Parser) -> None:
    group = parser.getgroup("neuronsim", "neuronsim: simulated AWS Neuron devices")
    group.addoption("--neuron-instance", default=None, metavar="NAME",
                    help=f"preset for the neuron_sim fixture when a test has no marker (default {DEFAULT_INSTANCE})")
    group.addoption("--neuron-lnc", type=int, default=None, metavar="N", help="logical NeuronCore config (trn2)")
    group.addoption("--neuron-seed", type=int, default=None, metavar="N",
                    help="seed for every simulation (default: derived from each test's id)")
    group.addoption("--neuron-trace-dir", default=None, metavar="DIR",
                    help="write the simulated timeline of each failed test to DIR/<test id>.json")
    group.addoption("--neuron-no-checks", action="store_true",
                    help="do not fail tests on hazards or invariant violations")
    group.addoption("--neuron-hypothesis-profile", default=None, choices=["ci", "thorough", "none"],
                    help="hypothesis profile: ci (neuronsim-ci, fails fast; the default unless the session "
                         "loaded its own), thorough (neuronsim-thorough, 1,000 examples, full shrinking), "
                         "none (hypothesis's own)")


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line("markers", "neuron_instance(name, lnc=None): the preset the neuron_sim fixture uses")
    config.addinivalue_line("markers", "neuron_instances(*names): run the test once per preset")
    config.addinivalue_line("markers", "neuron_faults(plan): a fault plan (list of dicts or YAML path) for neuron_sim")
    _load_hypothesis_profile(config)


def _load_hypothesis_profile(config: pytest.Config) -> None:
    """Load ``neuronsim-ci`` unless the session chose a profile; the option chooses explicitly."""
    chosen = config.getoption("--neuron-hypothesis-profile")
    if _hypothesis_settings is None:
        if chosen in ("ci", "thorough"):
            raise pytest.UsageError("--neuron-hypothesis-profile needs hypothesis: pip install hypothesis")
        return
    current = _hypothesis_settings.get_current_profile_name()
    if chosen is None:
        untouched = _BUILTIN.get(current) is not None and _hypothesis_settings.get_profile(current) is _BUILTIN[current]
        if not untouched or config.getoption("hypothesis_profile", None):
            return  # the session chose a profile (a conftest or --hypothesis-profile): keep it
        chosen = "ci"
    if chosen == "none":
        return
    config.stash[_PROFILE_KEY] = current
    _hypothesis_settings.load_profile(_PROFILES[chosen])


def pytest_unconfigure(config: pytest.Config) -> None:
    previous = config.stash.get(_PROFILE_KEY, None)
    if previous is not None and _hypothesis_settings is not None:
        _hypothesis_settings.load_profile(previous)


def pytest_report_header(config: pytest.Config) -> str | None:
    if _hypothesis_settings is None or _PROFILE_KEY not in config.stash:
        return None
    return f"neuronsim: hypothesis profile {_hypothesis_settings.get_current_profile_name()}"


def pytest_generate_tests(metafunc: pytest.Metafunc) -> None:
    marker = metafunc.definition.get_closest_marker("neuron_instances")
    if marker is not None and "neuron_sim" in metafunc.fixturenames:
        names = list(marker.args)
        metafunc.parametrize("neuron_sim", names, indirect=True, ids=names)


def _seed(request: pytest.FixtureRequest) -> int:
    given = request.config.getoption("--neuron-seed")
    if given is not None:
        return int(given)
    return zlib.crc32(request.node.nodeid.encode())


@pytest.fixture
def neuron_sim(request: pytest.FixtureRequest) -> Simulator:
    """A fresh Simulator for this test (recording and race detection on)."""
    marker = request.node.get_closest_marker("neuron_instance")
    lnc = request.config.getoption("--neuron-lnc")
    if hasattr(request, "param"):
        instance = request.param
    elif marker is not None:
        instance = marker.args[0] if marker.args else marker.kwargs["name"]
        lnc = marker.kwargs.get("lnc", lnc)
    else:
        instance = request.config.getoption("--neuron-instance") or DEFAULT_INSTANCE
    faults_marker = request.node.get_closest_marker("neuron_faults")
    faults = faults_marker.args[0] if faults_marker is not None else None
    sim = Simulator(instance, lnc=lnc, seed=_seed(request), record=True, detect_races=True, faults=faults)
    request.node.stash[_SIM_KEY] = sim
    return sim


def _report(sim: Simulator) -> str | None:
    try:
        sim.run_until_idle()  # let every accepted request finish before judging the run
    except DeadlockError as exc:  # pragma: no cover - run_until_idle always terminates today
        return str(exc)
    lines = []
    if sim.hazards:
        lines.append(f"{len(sim.hazards)} hazard(s): requests on different queues touched the same bytes with no "
                     "completion observed in between:")
        lines += [f"  {hazard}" for hazard in sim.hazards]
    violations = check_invariants(sim)
    if violations:
        lines.append(f"{len(violations)} invariant violation(s):")
        lines += [f"  {violation}" for violation in violations]
    return "\n".join(lines) if lines else None


@pytest.hookimpl(wrapper=True)
def pytest_runtest_call(item: pytest.Item) -> Any:
    result = yield
    sim = item.stash.get(_SIM_KEY, None)
    if sim is not None and not item.config.getoption("--neuron-no-checks"):
        report = _report(sim)
        if report:
            raise NeuronSimCheckError(f"neuronsim: the simulation of this test broke the contract\n{report}")
    return result


def _trace_name(nodeid: str) -> str:
    return re.sub(r"[^A-Za-z0-9_.-]+", "_", nodeid).strip("_")[:200] + ".json"


@pytest.hookimpl(wrapper=True)
def pytest_runtest_makereport(item: pytest.Item, call: pytest.CallInfo[Any]) -> Any:
    report = yield
    sim = item.stash.get(_SIM_KEY, None)
    if sim is None or not report.failed or call.when != "call":
        return report
    if not isinstance(call.excinfo.value if call.excinfo else None, NeuronSimCheckError):
        found = _report(sim)  # the test failed on its own: what the simulation saw may explain why
        if found:
            report.sections.append(("neuronsim hazards and invariants", found))
    directory = item.config.getoption("--neuron-trace-dir")
    if directory:
        path = write_chrome_trace(sim, Path(directory) / _trace_name(item.nodeid))
        report.sections.append(("neuronsim timeline", f"simulated timeline written to {path} "
                                "(open it in https://ui.perfetto.dev)"))
    return report
