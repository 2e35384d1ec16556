"""The example workloads run, and print exactly the summaries docs/examples/workloads.md shows."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from neuronsim.cli import main

ROOT = Path(__file__).parents[1]
PAGE = ROOT / "docs" / "examples" / "workloads.md"
BLOCK = re.compile(r"<!-- summary: (\S+) -->\n```text\n(.*?)```", re.S)
EXAMPLES = BLOCK.findall(PAGE.read_text())


def test_every_example_workload_has_its_summary_in_the_docs():
    shown = {path for path, _ in EXAMPLES}
    assert shown == {f"examples/workloads/{p.name}" for p in (ROOT / "examples" / "workloads").glob("*.yaml")}


@pytest.mark.parametrize(("path", "expected"), EXAMPLES, ids=[Path(p).stem for p, _ in EXAMPLES])
def test_example_prints_the_documented_summary(path, expected, capsys):
    assert main(["run", str(ROOT / path), "--no-progress"]) == 0
    assert capsys.readouterr().out == expected
