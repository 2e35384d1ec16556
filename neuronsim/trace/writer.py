"""The one writer of Chrome / Perfetto trace files (JSON object form), plain or gzip-compressed.

Every trace neuronsim writes (``neuronsim run --trace``, the pytest plugin's failure traces, the C
library's ``NEURONSIM_TRACE``, the facade) goes through :class:`TraceWriter`: the file's top-level keys
come first (``displayTimeUnit``, ``otherData``), then the events one at a time, so the text of the
whole trace is never held in memory; the bytes are those of ``json.dumps(trace, sort_keys=True,
separators=(",", ":")) + "\\n"`` (the keys sort before ``traceEvents``). A file name that ends in
``.gz`` is written gzip-compressed (Perfetto and ``chrome://tracing`` open it as it is), with no time
or name in its header, so the same run gives the same bytes.
"""

from __future__ import annotations

import gzip
import json
from collections.abc import Iterable
from pathlib import Path
from types import TracebackType
from typing import IO, Any

__all__ = ["TraceWriter", "write_trace"]

_ENCODE = json.JSONEncoder(sort_keys=True, separators=(",", ":")).encode


class TraceWriter:
    """Write a trace file event by event.

    Args:
        path: the file (its folder is made); ``.gz`` at the end: gzip-compressed.
        meta: the top-level keys other than ``traceEvents`` (sorted before it, as JSON sorts them).

    Use as a context manager: ``with TraceWriter(path, {"displayTimeUnit": "ns"}) as out: out.event(e)``;
    the file is complete once the block ends without an exception.
    """

    def __init__(self, path: str | Path, meta: dict[str, Any] | None = None) -> None:
        self.path = Path(path)
        meta = dict(meta or {})
        if "traceEvents" in meta:
            raise ValueError("meta holds the keys other than traceEvents")
        if any(key > "traceEvents" for key in meta):  # pragma: no cover - no such key in the format
            raise ValueError("meta keys must sort before traceEvents")
        self.path.parent.mkdir(parents=True, exist_ok=True)
        raw = open(self.path, "wb")  # noqa: SIM115 - closed by close()
        self._raw = raw
        self._out: IO[bytes] = gzip.GzipFile(filename="", mode="wb", fileobj=raw, mtime=0) \
            if self.path.name.endswith(".gz") else raw
        head = _ENCODE(meta)[:-1]  # '{"a":1,...' without its closing brace
        self._out.write(((head + ",") if meta else head).encode() + b'"traceEvents":[')
        self._first = True
        self.count = 0

    def event(self, event: dict[str, Any]) -> None:
        """Append one trace event."""
        text = _ENCODE(event).encode()
        if self._first:
            self._first = False
            self._out.write(text)
        else:
            self._out.write(b"," + text)
        self.count += 1

    def events(self, events: Iterable[dict[str, Any]]) -> None:
        for event in events:
            self.event(event)

    def close(self) -> Path:
        """Finish the file; returns its path."""
        self._out.write(b"]}\n")
        if self._out is not self._raw:
            self._out.close()
        self._raw.close()
        return self.path

    def __enter__(self) -> TraceWriter:
        return self

    def __exit__(self, kind: type[BaseException] | None, value: BaseException | None,
                 traceback: TracebackType | None) -> None:
        if kind is None:
            self.close()
        else:  # leave no half-written file that looks like a trace
            if self._out is not self._raw:
                self._out.close()
            self._raw.close()
            self.path.unlink(missing_ok=True)


def write_trace(trace: dict[str, Any], path: str | Path) -> Path:
    """Write a ``{"traceEvents": [...], ...}`` dict to ``path`` (gzip if it ends in ``.gz``); returns the path."""
    meta = {key: value for key, value in trace.items() if key != "traceEvents"}
    with TraceWriter(path, meta) as out:
        out.events(trace["traceEvents"])
    return out.path
