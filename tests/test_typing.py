"""The public API type-checks as users write it, and plain ``pytest`` collects what ``python -m pytest`` does.

mypy is in the ``typecheck`` extra (CI installs ``all``); these tests run it in-process (``mypy.api``) with ``--follow-imports=silent``,
so they judge the user's code against neuronsim's types, not neuronsim's own internals.
"""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

import pytest

from neuronsim import nrt

ROOT = Path(__file__).parents[1]
BLOCK = re.compile(r"```python\n(.*?)```", re.S)
EXCERPTS = "<!-- docs: excerpts from examples/ -->"

mypy_api = pytest.importorskip("mypy.api")


def _mypy(*args: str) -> tuple[str, int]:
    out, err, status = mypy_api.run(["--follow-imports=silent", "--no-incremental", "--python-version",
                                      f"{sys.version_info.major}.{sys.version_info.minor}", *args])
    return out + err, status


def test_every_enum_member_is_a_module_attribute():
    for enum in nrt._EXPORTED_ENUMS:
        for member in enum:
            assert getattr(nrt, member.name) is member, member.name


def test_the_mirror_surface_type_checks_strictly_and_runs():
    report, status = _mypy("--strict", str(ROOT / "tests" / "typecheck" / "mirror_surface.py"))
    assert status == 0, report
    assert "Success: no issues found" in report
    from tests.typecheck.mirror_surface import main
    assert main() > 0


def test_the_docs_examples_type_check(tmp_path):
    files = []
    for page in sorted((ROOT / "docs").rglob("*.md")):
        text = page.read_text()
        if "```python" not in text or EXCERPTS in text:
            continue
        out = tmp_path / (str(page.relative_to(ROOT / "docs")).replace("/", "__").replace(".md", ".py").replace("-", "_"))
        out.write_text("\n".join(BLOCK.findall(text)))
        files.append(str(out))
    assert files
    report, status = _mypy(*files)
    assert status == 0, report


def test_the_package_type_checks():
    """``mypy`` with the project's configuration ([tool.mypy] in pyproject.toml) finds no error in ``neuronsim/``.

    No module is exempt: the configuration has no ``ignore_errors`` override.
    """
    out, err, status = mypy_api.run(["--config-file", str(ROOT / "pyproject.toml"), "--no-incremental",
                                     "--python-version", f"{sys.version_info.major}.{sys.version_info.minor}",
                                     str(ROOT / "neuronsim")])
    assert status == 0, out + err
    assert "Success: no issues found" in out
    assert "ignore_errors" not in (ROOT / "pyproject.toml").read_text().split("[tool.mypy]")[1]


def test_a_wrongly_typed_call_is_caught():
    """The check can fail: a 2.28 runtime has no status cells on nrta_tensor_write."""
    bad = ("import neuronsim\nfrom neuronsim import nrt\nsim = neuronsim.Simulator('inf2.xlarge')\n"
           "rt = sim.runtime(api='2.28')\nrt.nrt_no_such_call()\nx: int = nrt.NRTA_SEQ_NUM_MAX\ny: str = nrt.NRT_SUCCESS\n")
    report, status = _mypy("-c", bad)
    assert status == 1
    assert '"NrtRuntime228" has no attribute "nrt_no_such_call"' in report
    assert 'Incompatible types in assignment (expression has type "NRT_STATUS", variable has type "str")' in report


def test_plain_pytest_collects_what_python_m_pytest_does():
    def collected(*cmd: str) -> list[str]:
        run = subprocess.run([*cmd, "--collect-only", "-q", "-p", "no:cacheprovider", "tests/test_units.py",
                              "tests/test_engine_exact.py"], cwd=ROOT, capture_output=True, text=True, check=False)
        assert run.returncode == 0, run.stdout + run.stderr
        return sorted(line for line in run.stdout.splitlines() if "::" in line)

    pytest_bin = Path(sys.executable).with_name("pytest")
    plain = collected(str(pytest_bin))
    assert plain and plain == collected(sys.executable, "-m", "pytest")
