"""The runtime's log: what a simulated ``libnrt`` process says, at the level ``NEURON_RT_LOG_LEVEL`` sets.

Every runtime process (``sim.runtime(env=...)``) logs on the Python logger ``neuronsim.runtime``. Its
level is the process's own, read from its environment as the runtime reads it
(reference/nrt-api.md §4): ``NEURON_RT_LOG_LEVEL_NRT`` if set, else ``NEURON_RT_LOG_LEVEL``, one of
``ERROR`` (the default), ``WARNING``, ``INFO``, ``DEBUG``, ``TRACE`` or ``QUIET`` (nothing), case-insensitive.
An unknown value is an ERROR line (whatever the level) and the level stays ``ERROR`` (A80).

What is logged:

* ``ERROR``: every refused call, as ``"<call>: <reason> -> <STATUS>"``, e.g.
  ``nrta_tensor_write: queue 3 out of range 0..1 (tensor_op queues) -> NRT_INVALID``; before it, where
  the real runtime has one, its own line with its component, verbatim
  (``NRT:nrt_allocate_neuron_cores NeuronCore(s) not available - Requested:nc1-nc1 Available:0``,
  ``TDRV:log_dev_mem Failed to allocate ...``);
* ``WARNING``: settings the runtime ignores or corrects;
* ``INFO``: ``nrt_init`` (the cores taken), ``nrt_load`` / ``nrt_unload``, ``nrt_close``;
* ``DEBUG``: a schedule call that returned ``NRT_QUEUE_FULL`` (back-pressure, not an error);
* ``TRACE`` (level 5): every accepted request with its sequence id.

Where it goes: to the handlers of the ``neuronsim.runtime`` logger (or its ancestors) when the
application has configured any (``logging.basicConfig``, pytest's log capture); otherwise to stderr, one
line per record, ``"<simulated ns> ns <LEVEL>  NRT:<message>"`` (no ``NRT:`` added to a line that has its
component already), as the real runtime writes to its console.
A level set on the ``neuronsim`` or ``neuronsim.runtime`` logger also filters (the root logger's level
does not: ``NEURON_RT_LOG_LEVEL`` decides). Each record carries ``nrt_call`` (the C function) and,
for a refusal, ``nrt_status`` (the ``NRT_STATUS``) as attributes.
"""

from __future__ import annotations

import logging
import re
import sys
from collections.abc import Callable, Mapping
from typing import Any

__all__ = ["LOGGER", "TRACE", "LEVELS", "RuntimeLog"]

LOGGER = logging.getLogger("neuronsim.runtime")
TRACE = 5  # the runtime's TRACE, below logging.DEBUG
logging.addLevelName(TRACE, "TRACE")
_COMPONENT = re.compile(r"^(NRT|TDRV|NMGR|KMGR):")
LEVELS: dict[str, int | None] = {"ERROR": logging.ERROR, "WARNING": logging.WARNING, "WARN": logging.WARNING,
                                 "INFO": logging.INFO, "DEBUG": logging.DEBUG, "TRACE": TRACE, "QUIET": None}


class _Console(logging.Handler):
    """The process's console: stderr as it is when the record is written (so capture works)."""

    def __init__(self, clock: Callable[[], float]) -> None:
        super().__init__()
        self.clock = clock

    def emit(self, record: logging.LogRecord) -> None:
        message = record.getMessage()
        component = "" if _COMPONENT.match(message) else "NRT:"  # the runtime's own lines carry theirs
        sys.stderr.write(f"{self.clock()} ns {record.levelname:<5}  {component}{message}\n")


def _gate(logger: logging.Logger) -> int:
    """The lowest level a level set on ``logger`` or its ancestors below the root lets through."""
    node: Any = logger
    while node is not None and node.parent is not None:  # the root's level is not the application's choice here
        if node.level:
            return node.level
        node = node.parent
    return 0


class RuntimeLog:
    """One runtime process's log (see the module docstring).

    Args:
        env: the process's environment (``NEURON_RT_LOG_LEVEL``, ``NEURON_RT_LOG_LEVEL_NRT``).
        clock: the simulated time in ns, for the console line.
    """

    __slots__ = ("level", "_console", "_clock", "last_refusal")

    def __init__(self, env: Mapping[str, str], clock: Callable[[], float]) -> None:
        self._clock = clock
        self._console: _Console | None = None
        # (call, reason, status) of the last refused call, logged or not: the facade's NrtError says why
        self.last_refusal: tuple[str, str, Any] | None = None
        self.level: int | None = logging.ERROR
        for key in ("NEURON_RT_LOG_LEVEL", "NEURON_RT_LOG_LEVEL_NRT"):  # the component's own wins
            text = env.get(key)
            if text is None:
                continue
            if text.strip().upper() in LEVELS:
                self.level = LEVELS[text.strip().upper()]
            else:
                self.log(logging.ERROR, "nrt_init", "%s=%r is not one of ERROR, WARNING, INFO, DEBUG, TRACE, "
                         "QUIET: the level stays %s", key, text,
                         logging.getLevelName(self.level) if self.level else "QUIET")

    def enabled(self, level: int) -> bool:
        """Whether a record at ``level`` would be written."""
        return self.level is not None and level >= self.level and level >= _gate(LOGGER)

    def log(self, level: int, call: str, message: str, *args: Any, status: Any = None) -> None:
        """Write ``message % args`` at ``level`` if the process's level lets it through."""
        if not self.enabled(level):
            return
        record = LOGGER.makeRecord(LOGGER.name, level, "(neuronsim)", 0, message, args, None, call,
                                   {"nrt_call": call, "nrt_status": status})
        if LOGGER.hasHandlers():
            LOGGER.handle(record)
        else:
            if self._console is None:
                self._console = _Console(self._clock)
            self._console.handle(record)

    def take_reason(self, status: Any) -> str | None:
        """The reason of the last refusal if it gave ``status`` (the call just made was refused with it), else
        None; either way the refusal is forgotten, so no later failure reports it (the facade's ``NrtError``,
        a workload's set-up error)."""
        refusal, self.last_refusal = self.last_refusal, None
        if refusal is None or not refusal[1] or refusal[2] != status:
            return None
        return refusal[1]

    def refused(self, call: str, reason: str, status: Any) -> None:
        """The ERROR line of a refused call: ``"<call>: <reason> -> <STATUS>"``; kept as ``last_refusal``
        whatever the level."""
        self.last_refusal = (call, reason, status)
        if self.level is not None and self.level <= logging.ERROR:
            self.log(logging.ERROR, call, "%s: %s -> %s", call, reason or "refused", getattr(status, "name", status),
                     status=status)
