"""The example project's test setup: which scheduler implementation the tests exercise.

``SCHEDULER_IMPL`` selects it (``RequestScheduler`` by default; neuronsim's own tests set it to a
deliberately broken variant to show that these tests catch it). The ``neuron_sim`` fixture and the
``neuron_*`` markers come from neuronsim's pytest plugin: installing neuronsim is enough.
"""

from __future__ import annotations

import os
import sys
from pathlib import Path

import pytest
from hypothesis import settings

# neuronsim's plugin loads its fast-failing neuronsim-ci profile; CI (HYPOTHESIS_PROFILE=ci) runs the same
# derandomized, like neuronsim's own suite
settings.register_profile("ci", settings.get_profile("neuronsim-ci"), derandomize=True, database=None)
if os.environ.get("HYPOTHESIS_PROFILE") == "ci":
    settings.load_profile("ci")

sys.path.insert(0, str(Path(__file__).parents[1]))

import scheduler  # noqa: E402
import scheduler_broken  # noqa: E402


@pytest.fixture
def scheduler_class():
    name = os.environ.get("SCHEDULER_IMPL", "RequestScheduler")
    return getattr(scheduler, name, None) or getattr(scheduler_broken, name)
