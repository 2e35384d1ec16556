"""The docs' code runs: every ```python block of a page, in order, in one namespace per page."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

ROOT = Path(__file__).parents[1]
DOCS = ROOT / "docs"
EXCERPTS = "<!-- docs: excerpts from examples/ -->"
PAGES = sorted(p for p in DOCS.rglob("*.md") if "```python" in p.read_text() and EXCERPTS not in p.read_text())
EXCERPT_PAGES = sorted(p for p in DOCS.rglob("*.md") if EXCERPTS in p.read_text())
BLOCK = re.compile(r"```python\n(.*?)```", re.S)


@pytest.mark.parametrize("page", PAGES, ids=lambda p: str(p.relative_to(DOCS)))
def test_page_examples_run(page, tmp_path, monkeypatch, capsys):
    monkeypatch.chdir(tmp_path)
    namespace: dict = {"__name__": "__docs__"}
    for i, block in enumerate(BLOCK.findall(page.read_text())):
        exec(compile(block, f"{page.name}[{i}]", "exec"), namespace)  # noqa: S102 - our own docs


def test_there_are_runnable_pages():
    assert any(p.name == "first-simulation.md" for p in PAGES)


@pytest.mark.parametrize("page", EXCERPT_PAGES, ids=lambda p: str(p.relative_to(DOCS)))
def test_excerpts_match_the_example_project(page):
    sources = "\n".join(p.read_text() for p in (ROOT / "examples").rglob("*.py"))
    blocks = BLOCK.findall(page.read_text())
    assert blocks
    for block in blocks:
        assert block.rstrip("\n") in sources, f"not an excerpt of examples/: {block[:200]!r}"
