"""Installable as documented (issue 21, item 1): every install command in docs/ and the README is one
CI runs (.ci/run builds the wheel and the sdist, installs the wheel with each extra in a fresh
environment and runs an example from it, and installs from a git URL); the test extra stays light."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from neuronsim.cli import main

tomllib = pytest.importorskip("tomllib")  # Python >= 3.11

ROOT = Path(__file__).parents[1]
CONFIG = tomllib.loads((ROOT / "pyproject.toml").read_text())
EXTRAS = set(CONFIG["project"]["optional-dependencies"])
VERSION = CONFIG["project"]["version"]
CI = (ROOT / ".ci" / "run").read_text()
PAGES = [ROOT / "README.md", *sorted((ROOT / "docs").rglob("*.md"))]
# the forms .ci/run exercises: a checkout (editable or not), the built wheel, a git URL
FORMS = [re.compile(r'^pip install (-e )?(\.|"\.\[(?P<a>[a-z,]+)\]")$'),
         re.compile(rf'^pip install "dist/neuronsim-{re.escape(VERSION)}-py3-none-any\.whl\[(?P<a>[a-z,]+)\]"$'),
         re.compile(r'^pip install "neuronsim\[(?P<a>[a-z,]+)\] @ git\+\S+"$'),
         re.compile(r"^pip install build$")]


def install_commands() -> list[tuple[str, str]]:
    found = []
    for page in PAGES:
        for command in re.findall(r"pip install [^`\n#;&]*", page.read_text()):
            command = command.strip().rstrip(")")
            found.append((page.relative_to(ROOT).as_posix(), command))
    return found


def test_every_install_command_in_the_docs_is_one_ci_runs():
    commands = install_commands()
    assert len(commands) >= 10
    for page, command in commands:
        match = next((m for form in FORMS if (m := form.match(command))), None)
        assert match is not None, f"{page}: {command!r} is not a form CI installs (docs/howto/install.md)"
        extras = set((match.groupdict().get("a") or "").split(",")) - {""}
        assert extras <= EXTRAS, f"{page}: {command!r} names an extra pyproject.toml lacks"


def test_a_local_git_url_in_the_docs_names_its_host():
    """`pip install "neuronsim @ git+file:///path"` (an empty host) is refused by the pip a fresh venv has
    on Python 3.11 (23.2.1: its packaging 21.3 says "Invalid requirement ... It looks like a path"; pip 24.1
    and later accept it); `git+file://localhost/path` installs with both, so that is the form the docs give."""
    urls = [(page.relative_to(ROOT).as_posix(), url) for page in PAGES
            for url in re.findall(r"git\+file://\S*", page.read_text())]
    assert urls
    for page, url in urls:
        assert url.startswith("git+file://localhost/"), f"{page}: {url!r} has no host: old pip refuses it"


def test_ci_installs_the_wheel_with_each_extra_and_from_a_git_url():
    assert "-m build --outdir" in CI and 'sdist="$work/dist/neuronsim-$version.tar.gz"' in CI
    loop = re.search(r"^for extra in (.*); do$", CI, re.M)
    assert loop, "no loop over the extras in .ci/run"
    assert loop.group(1).split()[0] == "none" and set(loop.group(1).split()[1:]) == set(EXTRAS), \
        "CI must install the wheel with no extra and with every extra pyproject.toml declares"
    assert 'spec="$wheel[$extra]"' in CI and 'neuronsim @ git+file://$repo' in CI
    assert "neuronsim --version" in CI and "capi-config --cflags" in CI and "examples/capi/scheduler.c" in CI
    assert {"plots", "sweep", "capi", "test"} <= EXTRAS


def test_the_test_extra_stays_light_and_all_brings_every_extra():
    extras = CONFIG["project"]["optional-dependencies"]
    assert extras["test"] == ["pytest>=8", "hypothesis>=6.100"]
    assert extras["all"] == ["neuronsim[test,plots,sweep,capi,typecheck,accel]"]


def test_the_readme_keeps_its_two_set_up_commands():
    readme = (ROOT / "README.md").read_text()
    assert readme.count("<!-- ci:main -->") == 1 and readme.count("<!-- ci:test -->") == 1
    assert ('python -m venv .venv && . .venv/bin/activate && pip install -e ".[test]" && '
            "neuronsim run examples/workloads/inference-server.yaml") in readme
    # the test command installs what the suite needs (mypy for tests/test_typing.py, matplotlib, ...)
    assert '<!-- ci:test -->\n```sh\npip install -e ".[all]" && python -m pytest\n```' in readme
    assert "[[ \"$test_command\" == *'pip install -e \".[all]\"'* ]]" in CI


def test_version(capsys):
    assert main(["--version"]) == 0
    assert capsys.readouterr().out == f"neuronsim {VERSION}\n"
