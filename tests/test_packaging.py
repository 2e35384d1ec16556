"""Everything the package reads at run time ships in the wheel."""

from __future__ import annotations

import fnmatch
from pathlib import Path

import pytest

tomllib = pytest.importorskip("tomllib")  # Python >= 3.11

ROOT = Path(__file__).parents[1]


def test_every_data_file_matches_a_package_data_pattern():
    config = tomllib.loads((ROOT / "pyproject.toml").read_text())
    patterns = config["tool"]["setuptools"]["package-data"]["neuronsim"]
    package = ROOT / "neuronsim"
    data_files = [p.relative_to(package).as_posix() for p in package.rglob("*")
                  if p.is_file() and p.suffix not in (".py", ".pyc")]
    assert data_files
    unshipped = [f for f in data_files if not any(fnmatch.fnmatch(f, pat) and f.count("/") == pat.count("/")
                                                  for pat in patterns)]
    assert not unshipped, f"not in [tool.setuptools.package-data]: {unshipped}"


def test_every_python_folder_is_a_package_the_wheel_ships():
    from setuptools import find_packages

    shipped = set(find_packages(str(ROOT), include=["neuronsim*"]))
    folders = {p.parent.relative_to(ROOT).as_posix().replace("/", ".") for p in (ROOT / "neuronsim").rglob("*.py")}
    assert folders <= shipped, f"folders with Python code that find_packages misses: {sorted(folders - shipped)}"
