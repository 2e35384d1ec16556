"""A workload run's timeline written while the run goes (``neuronsim run --trace`` on a workload file).

The same events as :func:`neuronsim.trace.timeline.timeline` (the same tracks, slices, flows and
counters; flow ids in the order requests complete instead of the order they were submitted, and events
in the order they become final instead of grouped by kind), written through the one trace writer
(:class:`neuronsim.trace.writer.TraceWriter`) as they become final, so a traced run's memory does not
grow with its length (docs/assumptions.md A118):

* an API call's slice when the call returns (a thread's calls come in time order, so a call shorter
  than 2 ns is widened after the previous one exactly as the timeline does);
* a request's slice, its completion and its flow arrow when it is folded into the run's totals
  (:class:`neuronsim.workload.record.RequestStats`: once completed, in order per queue);
* a queue's depth counter up to the first request of that queue still in flight (later points wait);
* a channel's DMA slices and bandwidth counter as its intervals are folded
  (:class:`neuronsim.workload.record.ChannelMeters`), its counter up to the first interval not folded.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from neuronsim.trace.chrome import _label, inside
from neuronsim.trace.timeline import (
    call_event,
    channel_roles,
    flow_events,
    request_args,
    request_events,
    thread_track,
)
from neuronsim.trace.writer import HOST_PID, TraceWriter, Tracks

__all__ = ["TraceStream"]


def _us(ns: int) -> float:
    return ns / 1000


class TraceStream:
    """The timeline of a workload-file run, written as it goes (module docstring).

    Args:
        run: the :class:`~neuronsim.workload.runner.WorkloadRun`, its threads spawned.
        path: the trace file (``.gz``: gzip-compressed).
    """

    def __init__(self, run: Any, path: str | Path) -> None:
        sim = run.sim
        self.sim = sim
        self.tracks = tracks = Tracks(sim)
        spec = run.spec
        self.out = TraceWriter(path, {"displayTimeUnit": "ns", "otherData": {
            "workload": spec.name if spec is not None else "python workload", "instance": sim.topology.name,
            "lnc": sim.topology.lnc, "seed": sim.seed}})
        self._meta = 0  # metadata events of tracks written so far
        self.thread_tids = {t.name: tracks.thread(HOST_PID, thread_track(t)) for t in sim.threads}
        self.last_end: dict[int, int] = {}
        self.call_of: dict[int, tuple[int, int, float | None]] = {}
        self.flows = 0
        self.depth: dict[tuple[int, str], list[Any]] = {}  # key -> [level, held deltas, unit]
        self.channels = {id(role[0]): role for role in channel_roles(sim, tracks)}
        self.points: dict[int, list[tuple[int, float]]] = {}  # a counter channel's held points

    def _emit(self, event: dict[str, Any]) -> None:
        meta = self.tracks.meta
        while self._meta < len(meta):  # a track first used: its names and sort index first
            self.out.event(meta[self._meta])
            self._meta += 1
        self.out.event(event)

    # -- calls and requests ----------------------------------------------------------------------------

    def call(self, call: Any) -> None:
        """An API call returned (a :class:`~neuronsim.workload.runner.CallRecord`)."""
        tid = self.thread_tids[call.thread]
        event, origin_ts = call_event(call, tid, self.last_end)
        self._emit(event)
        if call.request is not None:
            self.call_of[id(call.request)] = (HOST_PID, tid, origin_ts)

    def request(self, req: Any) -> None:
        """A request folded into the run's totals (completed, or in flight at the end)."""
        origin = self.call_of.pop(id(req), None)
        unit = req.unit
        pid, tid = self.tracks.queue(unit)  # its queue's track, even if it draws nothing there
        if not req.completions or origin is None:
            return  # in flight at the end (the timeline draws nothing for it either)
        label = _label(req)
        done = req.done_ns
        for event in request_events(req, pid, tid, label, request_args(req, done), done):
            self._emit(event)
        target = inside(req.start_ns, req.end_ns)
        if origin[2] is None or target is None:
            return
        self.flows += 1
        for event in flow_events((origin[0], origin[1], origin[2]), pid, tid, self.flows, target):
            self._emit(event)
        key = (pid, unit.name.split("/", 1)[-1])
        entry = self.depth.get(key)
        if entry is None:
            entry = self.depth[key] = [0, [], unit]
        entry[1].extend([(req.submit_ns, 1), (done, -1)])

    def depths(self, horizon: Any) -> None:
        """Write each queue's depth points before ``horizon(unit)`` (ns; None: all)."""
        for (pid, name), entry in self.depth.items():
            deltas = entry[1]
            if not deltas:
                continue
            limit = horizon(entry[2])
            deltas.sort()
            level = entry[0]
            merged: dict[int, int] = {}
            count = 0
            for t, step in deltas:
                if limit is not None and t >= limit:
                    break
                level += step
                merged[t] = level
                count += 1
            for t in sorted(merged):
                self._emit({"ph": "C", "pid": pid, "tid": 0, "name": f"{name} depth", "ts": _us(t),
                            "args": {"requests": merged[t]}})
            entry[0] = level
            del deltas[:count]

    # -- channels --------------------------------------------------------------------------------------

    def intervals(self, channel: Any, entries: list[tuple[int, int, int]], rest: int | None) -> None:
        """``channel``'s intervals ``entries`` are final; its next interval begins at ``rest`` (None: no more)."""
        info = self.channels.get(id(channel))
        if info is None:
            return
        _, how, system, device, pid = info
        tracks = self.tracks
        if how in ("counter", "z"):
            points = self.points.setdefault(id(channel), [])
            if not entries and not points:
                return
            for begin, end, size in entries:
                points.append((begin, round(size / (end - begin), 3)))  # B/ns = GB/s
                points.append((end, 0.0))
            if how == "counter":
                tracks.process(pid, tracks.device_name(system.instance, device.index))
                name = channel.name.rsplit("/", 1)[-1] if "/" in channel.name else channel.name
            else:
                name = channel.name
            points.sort(key=lambda p: (p[0], p[1] != 0.0))
            merged: dict[int, float] = {}
            count = 0
            for t, value in points:
                if rest is not None and t >= rest:
                    break
                merged[t] = value
                count += 1
            for t in sorted(merged):
                self._emit({"ph": "C", "pid": pid, "tid": 0, "name": f"{name} GB/s", "ts": _us(t),
                            "args": {"GB/s": merged[t]}})
            del points[:count]
            return
        if not entries:
            return
        tracks.process(pid, tracks.device_name(system.instance, device.index))
        short = channel.name.rsplit("/", 1)[-1]
        owner = pid
        if how == "ring":
            core = next(c for c in device.cores if channel in (c.dma, c.cc_dma))
            owner = tracks.core(system.instance, device.index, core.id, core.local_index)
        tid = tracks.thread(owner, short)
        for begin, end, size in entries:
            self._emit({"ph": "X", "pid": owner, "tid": tid, "name": f"DMA {size} B", "cat": "dma",
                        "ts": _us(begin), "dur": _us(end - begin), "args": {"bytes": size}})

    def finish(self) -> Path:
        """Write what is left (every channel's remaining intervals, every depth point) and close the file."""
        for channel, *_ in self.channels.values():
            self.intervals(channel, list(channel.log or ()), None)
        self.depths(lambda unit: None)
        meta = self.tracks.meta
        while self._meta < len(meta):
            self.out.event(meta[self._meta])
            self._meta += 1
        return self.out.close()

    def abort(self) -> None:
        self.out.__exit__(RuntimeError, None, None)
