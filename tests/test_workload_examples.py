"""The example workloads run, and print exactly the summaries docs/examples/workloads.md shows.

``python -m pytest tests/test_workload_examples.py --update-golden`` regenerates the page's summaries
(and nothing else on it) from the current model, and the plots it links (docs/examples/plots/<example>/),
so numbers and plots on the page change only by regeneration.
"""

from __future__ import annotations

import re
import shlex
from pathlib import Path

import pytest

from neuronsim.cli import main

ROOT = Path(__file__).parents[1]
PAGE = ROOT / "docs" / "examples" / "workloads.md"
BLOCK = re.compile(r"<!-- summary: (.+?) -->\n```text\n(.*?)```", re.S)
EXAMPLES = BLOCK.findall(PAGE.read_text())
PLOTS = ROOT / "docs" / "examples" / "plots"


def test_every_example_workload_has_its_summary_in_the_docs():
    shown = {shlex.split(command)[0].partition(":")[0] for command, _ in EXAMPLES}
    assert shown == {f"examples/workloads/{p.name}" for p in (ROOT / "examples" / "workloads").iterdir()
                     if p.suffix in (".yaml", ".py")}


@pytest.mark.parametrize(("command", "expected"), EXAMPLES,
                         ids=[Path(shlex.split(c)[0].partition(":")[0]).stem for c, _ in EXAMPLES])
def test_example_prints_the_documented_summary(command, expected, capsys, request):
    path, *args = shlex.split(command)
    update = request.config.getoption("--update-golden")
    plots = ["--out", str(PLOTS / Path(path.partition(":")[0]).stem)] if update else []
    assert main(["run", str(ROOT / path), *args, "--no-progress", *plots]) == 0
    out = capsys.readouterr().out
    if update:
        out = "".join(line for line in out.splitlines(keepends=True) if not line.startswith("wrote:"))
        for name in ("summary.json", "summary.csv"):  # the page links the plots; the figures are in the text
            (PLOTS / Path(path.partition(":")[0]).stem / name).unlink()
        text = PAGE.read_text()
        PAGE.write_text(text.replace(f"<!-- summary: {command} -->\n```text\n{expected}```",
                                     f"<!-- summary: {command} -->\n```text\n{out}```"))
        return
    assert out == expected


def test_the_page_links_every_plot_of_every_example():
    text = PAGE.read_text()
    for command, _ in EXAMPLES:
        stem = Path(shlex.split(command)[0].partition(":")[0]).stem
        for plot in ("utilisation", "queue_depth", "latency"):
            link = f"plots/{stem}/{plot}.png"
            assert f"]({link})" in text, f"docs/examples/workloads.md does not show {link}"
            assert (PLOTS / stem / f"{plot}.png").stat().st_size > 10_000
