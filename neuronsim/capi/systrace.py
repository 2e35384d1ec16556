"""What ``nrt_sys_trace_*`` and ``nrt_profile_*`` record: each execution's start and stop, seen as it
completes (the execution units' listeners), returned as sys-trace events or written as a Chrome trace."""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING, Any

from neuronsim.nrt import NRT_STATUS

if TYPE_CHECKING:
    from neuronsim.capi.library import Library

__all__ = ["EVENT_TYPES", "Recorder"]

log = logging.getLogger("neuronsim.capi")
S = NRT_STATUS
EVENT_TYPES = ("nc_exec_running",)  # the sys-trace events neuronsim records: each execution's start and stop


class Recorder:
    """Executions seen as they complete (the execution units' listeners): the events
    ``nrt_sys_trace_fetch_events`` returns (``nc_exec_running`` start and stop, in simulated
    nanoseconds) and the Chrome trace ``nrt_profile_stop`` writes."""

    def __init__(self, library: Library) -> None:
        self.library = library
        self.config: dict | None = None
        self.events: list[dict] = []
        self.profiled: Any = None
        self.profile_events: list[dict] = []
        self.attached: set[int] = set()
        self.tracking = 0

    def attach(self) -> None:
        rt = self.library.runtime()
        for vnc in range(len(rt.visible_cores)):
            rt._sync_unit(vnc, "exec")  # noqa: SLF001 - nrt_execute's unit, made now so it is listened to
        for unit in list(rt._xus.values()) + list(rt._sync_units.values()):  # noqa: SLF001
            if id(unit) not in self.attached:
                self.attached.add(id(unit))
                unit.listeners.append(self.done)

    def done(self, unit: Any, request: Any) -> None:
        if getattr(request, "kind", None) != "execute":
            return
        model = request.model
        self.tracking += 1
        if self.config is not None:
            cores = self.config["cores"]
            if "nc_exec_running" in self.config["types"] and (not cores or model.vnc in cores):
                for phase, at in (("start", request.start_ns), ("stop", request.end_ns)):
                    self.events.append({"event_type": "nc_exec_running", "phase": phase, "tracking_id": self.tracking,
                                        "nc_idx": model.vnc, "timestamp_ns": at,
                                        "data": {"nc_timestamp_ns": at, "model_name": model.neff.name,
                                                 "model_id": model.id, "status": int(request.status)}})
        if self.profiled is not None and model is self.profiled:
            self.profile_events.append({"name": f"execute {model.neff.name}", "ph": "X", "pid": model.vnc,
                                        "tid": 0, "ts": request.start_ns / 1000,
                                        "dur": (request.end_ns - request.start_ns) / 1000,
                                        "args": {"status": int(request.status), "tracking_id": self.tracking}})

    def start(self, config: dict) -> NRT_STATUS:
        if self.config is not None:
            return S.NRT_INVALID  # already started
        self.attach()
        self.config = config
        self.events = []
        return S.NRT_SUCCESS

    def stop(self) -> NRT_STATUS:
        if self.config is None:
            return S.NRT_INVALID
        self.config = None
        return S.NRT_SUCCESS

    def fetch(self, nc: int | None, most: int) -> tuple[NRT_STATUS, str]:
        """The events recorded since the last fetch (of core ``nc``, else all), as JSON ``{"events": [...]}``;
        ``most`` > 0 keeps only the first ``most`` per core."""
        import json

        if self.config is None:
            return S.NRT_INVALID, ""
        taken = [e for e in self.events if nc is None or e["nc_idx"] == nc]
        self.events = [e for e in self.events if not (nc is None or e["nc_idx"] == nc)]
        if most > 0:
            per: dict[int, int] = {}
            kept = []
            for event in taken:
                per[event["nc_idx"]] = per.get(event["nc_idx"], 0) + 1
                if per[event["nc_idx"]] <= most:
                    kept.append(event)
            taken = kept
        return S.NRT_SUCCESS, json.dumps({"events": taken})

    def profile(self, model: Any, filename: str | None) -> None:
        self.attach()
        self.profiled = model
        self.profile_events = []

    def profile_stop(self, filename: str | None) -> NRT_STATUS:
        import json

        if self.profiled is None or not filename:
            return S.NRT_INVALID
        try:
            with open(filename, "w", encoding="utf-8") as out:
                json.dump({"traceEvents": self.profile_events, "displayTimeUnit": "ns"}, out)
        except OSError as exc:
            log.error("NRT: nrt_profile_stop: cannot write %s: %s", filename, exc)
            return S.NRT_FAILURE
        self.profiled = None
        return S.NRT_SUCCESS
