"""Exceptions shared by every layer.

``ConfigError`` is what a bad file or bad argument becomes: it names the source (a file path
or a preset name), the field path inside it and the reason. The CLI prints it and exits 2.
``NrtError`` belongs to the Pythonic facade; the C mirror never raises, it returns statuses.
"""

from __future__ import annotations

from dataclasses import dataclass

from neuronsim.nrt import status_label

__all__ = ["NeuronSimError", "ConfigError", "ConfigIssue", "NrtError", "DeadlockError"]


class NeuronSimError(Exception):
    """Base class of every exception neuronsim raises on purpose."""


@dataclass(frozen=True)
class ConfigIssue:
    """One problem in a configuration source: where it is and what is wrong."""

    field: str
    reason: str

    def render(self, source: str) -> str:
        where = f"{source}: {self.field}" if self.field else source
        return f"{where}: {self.reason}"


class ConfigError(NeuronSimError):
    """A configuration source (file, preset name, argument) is invalid.

    Attributes:
        source: the file path or name the problem is in.
        issues: one ``ConfigIssue`` per problem, each with a field path and a reason.
    """

    def __init__(self, source: str, issues: list[ConfigIssue] | ConfigIssue | str, field: str = "") -> None:
        if isinstance(issues, str):
            issues = [ConfigIssue(field, issues)]
        elif isinstance(issues, ConfigIssue):
            issues = [issues]
        self.source = source
        self.issues = list(issues)
        super().__init__("\n".join(issue.render(source) for issue in self.issues))


class NrtError(NeuronSimError):
    """A Neuron Runtime call failed; ``status`` is the ``NRT_STATUS`` it returned."""

    def __init__(self, status: int, message: str = "") -> None:
        self.status = status
        label = status_label(status)
        # nrtpy's format: "NRT Error NRT_FAILURE(1): Failed to load model"
        super().__init__(f"NRT Error {label}: {message}" if message else f"NRT Error {label}")


class DeadlockError(NeuronSimError):
    """The host waits on something the simulation can never deliver.

    Attributes:
        wait_for: the wait-for chain, one line per link: who waits on what, and why it cannot complete.
    """

    def __init__(self, summary: str, wait_for: list[str]) -> None:
        self.summary = summary
        self.wait_for = list(wait_for)
        lines = [summary] + [f"  {line}" for line in self.wait_for]
        super().__init__("\n".join(lines))
