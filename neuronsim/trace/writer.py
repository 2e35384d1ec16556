"""The one writer of Chrome / Perfetto trace files (JSON object form), plain or gzip-compressed, and the
one scheme of process and thread ids every trace uses (:class:`Tracks`).

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
from typing import Any

__all__ = ["TraceWriter", "write_trace", "Tracks", "HOST_PID"]

HOST_PID = 0

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
        self._out: Any = gzip.GzipFile(filename="", mode="wb", fileobj=raw, mtime=0) \
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


class Tracks:
    """The process and thread ids of every neuronsim trace, and their metadata events.

    * ``host`` (pid ``HOST_PID`` = 0): a thread per host thread (workload threads, the direct-mode caller);
    * a device (``dev3``, ``i1/dev3`` on a cluster): pid ``100 * (global device index + 1)``, where the
      global index is ``instance * devices per instance + device``; its DMA engines and counters;
    * a logical core (``dev3 nc13``): pid ``device pid + 1 + its index on the device``, a thread per
      execution-unit queue (``xu.compute.0``) and per DMA ring.

    Thread ids count from 1 within a process in the order tracks are first asked for; every process and
    thread gets a name and a sort index. ``meta`` holds those metadata events.
    """

    def __init__(self, sim: Any) -> None:
        self.sim = sim
        self.meta: list[dict[str, Any]] = []
        self.tids: dict[tuple[int, str], int] = {}
        self.pids: set[int] = set()
        self._count: dict[int, int] = {}
        self.process(HOST_PID, "host")

    def process(self, pid: int, name: str) -> None:
        if pid not in self.pids:
            self.pids.add(pid)
            self.meta.append({"ph": "M", "pid": pid, "tid": 0, "name": "process_name", "args": {"name": name}})
            self.meta.append({"ph": "M", "pid": pid, "tid": 0, "name": "process_sort_index", "args": {"sort_index": pid}})

    def thread(self, pid: int, name: str) -> int:
        key = (pid, name)
        tid = self.tids.get(key)
        if tid is None:
            tid = self._count[pid] = self._count.get(pid, 0) + 1
            self.tids[key] = tid
            self.meta.append({"ph": "M", "pid": pid, "tid": tid, "name": "thread_name", "args": {"name": name}})
            self.meta.append({"ph": "M", "pid": pid, "tid": tid, "name": "thread_sort_index",
                              "args": {"sort_index": tid}})
        return tid

    def device_pid(self, instance: int, device: int) -> int:
        return 100 * (instance * self.sim.topology.num_devices + device + 1)

    def device_name(self, instance: int, device: int) -> str:
        return f"dev{device}" if self.sim.topology.num_instances == 1 else f"i{instance}/dev{device}"

    def device(self, instance: int, device: int) -> int:
        """The pid of a device's process (named)."""
        pid = self.device_pid(instance, device)
        self.process(pid, self.device_name(instance, device))
        return pid

    def core(self, instance: int, device: int, core_id: int, local_index: int) -> int:
        """The pid of a logical core's process (named; its device's too)."""
        pid = self.device(instance, device) + 1 + local_index
        self.process(pid, f"{self.device_name(instance, device)} nc{core_id}")
        return pid

    def queue(self, unit: Any) -> tuple[int, int]:
        """``(pid, tid)`` of an execution-unit queue's track."""
        core = self.sim.systems[unit.instance].cores[unit.core_id]
        pid = self.core(unit.instance, unit.device_index, unit.core_id, core.local_index)
        return pid, self.thread(pid, unit.name.split("/", 1)[-1])
