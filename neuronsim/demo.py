"""``neuronsim run``: placeholder wired later."""

from __future__ import annotations


def add_run_parser(sub) -> None:  # noqa: ANN001
    return None
