"""Hypothesis profiles for tests that simulate (needs the ``hypothesis`` package).

A neuronsim example costs 10-200 ms of wall time (a simulator, a run to idle, the checks), a hundred
times a pure-Python example, so hypothesis's own defaults make a failing test slow to report: most of
the time goes to the *explain* phase (which re-runs the shrunk example hundreds of times to say which
parts did not matter) and to shrinking several distinct failures one after the other. Two profiles:

* ``neuronsim-ci`` (:data:`CI`, the pytest plugin's default): fails fast. 25 examples; a deadline of
  5 s per example (a slower one fails as ``DeadlineExceeded``); generation stops at the first failure
  (``report_multiple_bugs=False``), which is shrunk and reported; no explain phase; 25 steps per
  state-machine run; ``print_blob`` so a CI failure can be replayed with ``@reproduce_failure``.
* ``neuronsim-thorough`` (:data:`THOROUGH`): searches long. 1,000 examples, no deadline, every
  phase (explain included), every distinct failure, 50 steps per state-machine run.

How long each takes on the example project is in docs/howto/ci-without-hardware.md
(``benchmarks/bench_property_failure.py`` prints it). :func:`register` is idempotent; importing
:mod:`neuronsim.testing.strategies` or loading the plugin registers both.
"""

from __future__ import annotations

from datetime import timedelta

from hypothesis import HealthCheck, Phase, settings
from hypothesis.errors import InvalidArgument

__all__ = ["CI", "THOROUGH", "PROFILES", "register", "ci_settings", "thorough_settings"]

CI = "neuronsim-ci"
THOROUGH = "neuronsim-thorough"
PROFILES = {"ci": CI, "thorough": THOROUGH}  # --neuron-hypothesis-profile NAME -> profile

CI_MAX_EXAMPLES = 25
CI_DEADLINE = timedelta(seconds=5)  # per example: 25x the example project's slowest (~200 ms)
THOROUGH_MAX_EXAMPLES = 1000


def ci_settings() -> settings:
    """The ``neuronsim-ci`` settings (on hypothesis's ``default`` profile)."""
    return settings(
        settings.get_profile("default"),
        max_examples=CI_MAX_EXAMPLES,
        deadline=CI_DEADLINE,
        phases=(Phase.explicit, Phase.reuse, Phase.generate, Phase.shrink),
        report_multiple_bugs=False,
        stateful_step_count=25,
        print_blob=True,
        suppress_health_check=[HealthCheck.too_slow],
    )


def thorough_settings() -> settings:
    """The ``neuronsim-thorough`` settings (on hypothesis's ``default`` profile)."""
    return settings(
        settings.get_profile("default"),
        max_examples=THOROUGH_MAX_EXAMPLES,
        deadline=None,
        phases=tuple(Phase),
        report_multiple_bugs=True,
        stateful_step_count=50,
        suppress_health_check=[HealthCheck.too_slow],
    )


def register() -> None:
    """Register ``neuronsim-ci`` and ``neuronsim-thorough`` (loads neither)."""
    for name, make in ((CI, ci_settings), (THOROUGH, thorough_settings)):
        try:
            settings.get_profile(name)
        except InvalidArgument:
            settings.register_profile(name, make())


register()
