"""The timeline of a workload run: a Perfetto-compatible Chrome trace (JSON).

Processes (``pid``) and their tracks:

* ``host`` (pid 0): a track per workload thread with a slice per API call (from when the thread
  starts spending the call's cost to when the call returns) and per host step;
* a device (``dev3``, pid ``100 * (global device index + 1)``): a track per host DMA engine with a
  slice per transfer share, and counters of the bandwidth (GB/s) of each of its HBM stacks, PCIe
  directions and outgoing NeuronLinks (and EFA devices on the first device of an instance);
* a logical core (``dev3 nc13``, pid ``100 * (device + 1) + 1 + its index on the device``): a track
  per execution-unit queue with a slice per request (named by kind, model or tensor, bytes and
  sequence id; the full record in ``args``) and a zero-length ``done`` slice when it completes, its
  DMA rings as tracks, and a queue-depth counter per queue.

Every request that took time has a flow arrow from the call that scheduled it to its slice: it starts
inside the call's slice and ends inside the request's, so Perfetto binds both ends
(:mod:`neuronsim.trace.check`); requests that no workload thread's call recorded (a Python workload's,
or ones made outside its threads) get a call slice on a ``runtime (no workload thread)`` track ending
when they were submitted (:func:`~neuronsim.trace.chrome.call_slices`). Times are microseconds (the format's unit) with nanosecond decimals. The trace is built
after the run from what it recorded, so it never changes what was simulated; the same run gives the
same bytes (events are emitted in a fixed order and the JSON keys are sorted).
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any

from neuronsim.nrt import status_as_str
from neuronsim.trace.chrome import _addresses, _label, call_slices, inside
from neuronsim.trace.writer import HOST_PID, Tracks, write_trace

__all__ = ["timeline", "write_timeline"]


def _us(ns: int) -> float:
    return ns / 1000


def _counter(events: list[dict[str, Any]], pid: int, name: str, key: str,
             points: Sequence[tuple[int, float]]) -> None:
    """Counter events for a step function given as ``(time, value)`` points (the last value at a time wins)."""
    merged: dict[int, float] = {}
    for t, value in points:
        merged[t] = value
    for t in sorted(merged):
        events.append({"ph": "C", "pid": pid, "tid": 0, "name": name, "ts": _us(t), "args": {key: merged[t]}})


def _bandwidth_points(log: list[tuple[int, int, int]]) -> list[tuple[int, float]]:
    points: list[tuple[int, float]] = []
    for begin, end, size in log:
        points.append((begin, round(size / (end - begin), 3)))  # B/ns = GB/s
        points.append((end, 0.0))
    # a share starting where the last ended overrides its zero (points are applied in order)
    points.sort(key=lambda p: (p[0], p[1] != 0.0))
    return points


def thread_track(thread: Any) -> str:
    """A workload thread's track name on the host: ``decoder (cpus 0,1,2,3)``."""
    return f"{thread.name} (cpus {','.join(map(str, thread.affinity))})"


def call_event(call: Any, tid: int, last_end: dict[int, int]) -> tuple[dict[str, Any], float | None]:
    """An API call's slice on host track ``tid`` and where a flow from it starts. A call that cost (almost)
    nothing is 2 ns long, after the track's previous slice (``last_end``: track -> end, updated)."""
    label = call.name if call.request is None else f"{call.name} {_label(call.request)}"
    args: dict[str, Any] = {"status": status_as_str(call.status)} if call.request is not None or call.status else {}
    begin = call.begin_ns
    if call.end_ns - begin < 2:
        begin = max(call.end_ns - 2, last_end.get(tid, 0))
    last_end[tid] = call.end_ns
    return ({"ph": "X", "pid": HOST_PID, "tid": tid, "name": label, "cat": "api", "ts": _us(begin),
             "dur": _us(call.end_ns - begin), "args": args}, inside(begin, call.end_ns))


def request_args(req: Any, done: int | None) -> dict[str, Any]:
    """The ``args`` of a request's slice (``done``: its completion, None while in flight)."""
    args: dict[str, Any] = {"seq": f"{req.seq_id:#x}", "unit": req.unit.name, "submit_ns": req.submit_ns,
                            "start_ns": req.start_ns, "end_ns": req.end_ns if done is not None else None,
                            "status": status_as_str(req.status) if done is not None else "in flight"}
    if getattr(req, "size", None) is not None:
        args["bytes"] = req.size
    touched = _addresses(req)
    if touched:
        args["addresses"] = touched  # the device address ranges it reads and writes (A70)
    if req.kind == "collective":
        args.update(operation=req.ctx.operation, ranks=len(req.ctx.group), rank=req.ctx.rank, bytes=req.ctx.size,
                    algorithm=req.algorithm)
    return args


def request_events(req: Any, pid: int, tid: int, label: str, args: dict[str, Any], done: int) -> list[dict[str, Any]]:
    """A completed request's slice on its queue's track and its completion marker (``done``, ns)."""
    return [{"ph": "X", "pid": pid, "tid": tid, "name": label, "cat": req.kind, "ts": _us(req.start_ns),
             "dur": _us(req.end_ns - req.start_ns), "args": args},
            {"ph": "X", "pid": pid, "tid": tid, "name": f"done seq {req.seq_id:#x}", "cat": "completion",
             "ts": _us(done), "dur": 0}]


def flow_events(origin: tuple[int, int, float], pid: int, tid: int, flow_id: int, target: float) -> list[dict[str, Any]]:
    """The arrow from the call that submitted a request (``origin``: its pid, tid and a time inside it, us)
    to the request on its queue's track (``target``, a time inside the request)."""
    return [{"ph": "s", "pid": origin[0], "tid": origin[1], "id": flow_id, "cat": "request", "name": "request",
             "ts": origin[2]},
            {"ph": "f", "bp": "e", "pid": pid, "tid": tid, "id": flow_id, "cat": "request", "name": "request",
             "ts": target}]


def channel_roles(sim: Any, tracks: Tracks) -> list[tuple[Any, str, Any, Any, int]]:
    """``(channel, role, system, device, pid)`` of every channel a timeline draws, in its fixed order: a
    host DMA engine (``engine``) or a core's DMA ring (``ring``) as slices, an HBM stack, PCIe direction,
    NeuronLink or EFA device as a bandwidth counter (``counter``), an UltraServer Z link as a counter of
    the first device (``z``)."""
    out = []
    for system in sim.systems:
        for device in system.devices:
            pid = tracks.device_pid(system.instance, device.index)
            pairs = [(c, "engine") for c in device.h2d_engines + device.d2h_engines]
            pairs += [(core.dma, "ring") for core in device.cores] + [(core.cc_dma, "ring") for core in device.cores]
            pairs += [(stack.channel, "counter") for stack in device.hbm] + [(device.pcie_h2d, "counter"),
                                                                             (device.pcie_d2h, "counter")]
            pairs += [(link.channel, "counter") for (src, _), link in sorted(system.links.items()) if src == device.index]
            if device.index == 0:
                pairs += [(c, "counter") for efa in system.efa for c in (efa.tx, efa.rx)]
            out += [(channel, how, system, device, pid) for channel, how in pairs]
    out += [(link.channel, "z", None, None, tracks.device_pid(0, 0)) for _, link in sorted(sim.z_links.items())]
    return out


def timeline(run: Any) -> dict[str, Any]:
    """The trace of a :class:`~neuronsim.workload.runner.WorkloadRun` as a ``{"traceEvents": [...]}`` dict.

    Raises:
        ValueError: the run did not keep its records (``run_workload(..., records=True)``).
    """
    if not getattr(run, "records", True):
        raise ValueError("the run kept no records to trace: run it with run_workload(..., records=True)")
    sim = run.sim
    tracks = Tracks(sim)  # the one pid / tid scheme (neuronsim.trace.writer)
    events: list[dict[str, Any]] = []
    device_name = tracks.device_name

    # host threads: API calls and host steps
    call_of: dict[int, tuple[int, int, float | None]] = {}  # id(request) -> (pid, tid, ts inside its call)
    thread_tids = {thread.name: tracks.thread(HOST_PID, thread_track(thread)) for thread in run.threads}
    last_end: dict[int, int] = {}
    for call in sorted(run.calls, key=lambda c: (thread_tids[c.thread], c.begin_ns, c.end_ns)):
        tid = thread_tids[call.thread]
        event, origin_ts = call_event(call, tid, last_end)
        events.append(event)
        if call.request is not None:
            call_of[id(call.request)] = (HOST_PID, tid, origin_ts)
    direct_tid = None
    direct_origin: dict[int, float | None] = {}
    unrecorded = [r for r in run.requests if id(r) not in call_of]
    direct_calls = call_slices((r.submit_ns for r in unrecorded), sim.topology.spec.runtime.call_costs.schedule_ns)
    # requests on their queues, with flows and depth counters
    depth_points: dict[tuple[int, str], list[tuple[int, int]]] = {}
    ordered = sorted(run.requests, key=lambda r: (r.submit_ns, r.unit.instance, r.unit.core_id, r.unit.name, r.seq_num))
    for flow_id, req in enumerate(ordered, start=1):
        unit = req.unit
        pid, tid = tracks.queue(unit)
        label = _label(req)
        done = req.done_ns if req.completions else None
        args = request_args(req, done)
        origin = call_of.get(id(req))
        if origin is None:
            if direct_tid is None:
                direct_tid = tracks.thread(0, "runtime (no workload thread)")
            span = direct_calls.pop(req.submit_ns, None)
            if span is not None:  # one slice for the calls that submitted at this nanosecond
                begin, end = span
                events.append({"ph": "X", "pid": 0, "tid": direct_tid, "name": f"schedule {label}", "cat": "api",
                               "ts": _us(begin), "dur": _us(end - begin)})
                direct_origin = {req.submit_ns: inside(begin, end)}
            origin = (0, direct_tid, direct_origin.get(req.submit_ns))
        if done is None:
            continue
        events += request_events(req, pid, tid, label, args, done)
        target = inside(req.start_ns, req.end_ns)
        if origin[2] is None or target is None:
            continue  # a call or a request that took no time encloses no arrow end
        events += flow_events((origin[0], origin[1], origin[2]), pid, tid, flow_id, target)
        key = (pid, unit.name.split("/", 1)[-1])
        depth_points.setdefault(key, []).extend([(req.submit_ns, 1), (done, -1)])
    for (pid, name), deltas in sorted(depth_points.items()):
        level = 0
        points = []
        for t, step in sorted(deltas):
            level += step
            points.append((t, level))
        _counter(events, pid, f"{name} depth", "requests", points)
    # channels: DMA engines as slices, the rest as bandwidth counters
    for channel, how, system, device, pid in channel_roles(sim, tracks):
        if not channel.log:
            continue
        if how == "z":
            _counter(events, pid, f"{channel.name} GB/s", "GB/s", _bandwidth_points(channel.log))
            continue
        tracks.process(pid, device_name(system.instance, device.index))
        short = channel.name.rsplit("/", 1)[-1] if how != "counter" or "/" in channel.name else channel.name
        if how == "counter":
            _counter(events, pid, f"{short} GB/s", "GB/s", _bandwidth_points(channel.log))
            continue
        owner = pid
        if how == "ring":
            core = next(c for c in device.cores if channel in (c.dma, c.cc_dma))
            owner = tracks.core(system.instance, device.index, core.id, core.local_index)
        tid = tracks.thread(owner, short)
        for begin, end, size in channel.log:
            events.append({"ph": "X", "pid": owner, "tid": tid, "name": f"DMA {size} B", "cat": "dma",
                           "ts": _us(begin), "dur": _us(end - begin), "args": {"bytes": size}})
    spec = run.spec
    return {"traceEvents": tracks.meta + events, "displayTimeUnit": "ns",
            "otherData": {"workload": spec.name if spec is not None else "python workload",
                          "instance": sim.topology.name, "lnc": sim.topology.lnc, "seed": sim.seed}}


def write_timeline(run: Any, path: str | Path) -> Path:
    """Write :func:`timeline` to ``path`` with :func:`neuronsim.trace.writer.write_trace` (gzip when the name
    ends in ``.gz``); returns the path."""
    return write_trace(timeline(run), path)
