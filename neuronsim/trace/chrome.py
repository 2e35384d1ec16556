"""A Chrome trace (Perfetto-compatible JSON) of the requests a simulation recorded.

Built after the fact from ``runtime.history`` (``Simulator(..., record=True)``), so tracing never
changes what is simulated. Its processes and threads are those of every neuronsim trace
(:class:`neuronsim.trace.writer.Tracks`): ``host`` (pid 0) with the direct-mode caller's thread, a
process per device and per logical core, a thread per execution-unit queue; a slice per request from its start to
its end, named by what it is (kind, model or tensor, bytes, sequence id, status; its args list the
address ranges it touches); a slice on the host track for the schedule call (:func:`call_slices`),
joined to the request's slice by a flow arrow that starts inside the call's slice and ends inside the
request's, so Perfetto binds both ends (:mod:`neuronsim.trace.check`). Times are in microseconds as the
format requires (``ts = ns / 1000``). Output is sorted, so the same run gives the same bytes.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from neuronsim.nrt import status_as_str
from neuronsim.trace.writer import HOST_PID, Tracks, write_trace

__all__ = ["chrome_trace", "write_chrome_trace", "call_slices", "inside"]


def _label(req: Any) -> str:
    kind = req.kind
    if kind == "execute":
        what = req.model.neff.name
    elif kind == "tensor_copy":
        what = f"{req.src.name} -> {req.dst.name}, {req.size} B"
    elif hasattr(req, "tensor"):
        what = f"{req.tensor.name}, {req.size} B"
    else:
        what = ""
    return f"{kind} {what} seq {req.seq_id:#x}".replace("  ", " ")


def _addresses(req: Any) -> list[str]:
    """The device (or host) address ranges a request touches, ``"0x...-0x... name"`` (A70)."""
    out = []
    for alloc, lo, hi, _write, name in req.accesses():
        out.append(f"{alloc.address + lo:#x}-{alloc.address + hi:#x} {name}")
    return out


def call_slices(submits: Any, cost_ns: int) -> dict[int, tuple[int, int]]:
    """``submit time -> (begin, end)`` of the host slice of the call(s) that submitted requests then.

    A call spends its host cost (``runtime.call_costs.schedule_ns``) before the request is submitted
    (docs/assumptions.md A5), so its slice is ``[t - cost, t]`` (at least 2 ns), starting no earlier than
    the previous call's slice ends: calls of one host track never overlap, and every slice has a
    length for a flow arrow to start inside. Calls that submit at the same nanosecond share a slice."""
    out: dict[int, tuple[int, int]] = {}
    previous: int | None = None
    for t in sorted(set(submits)):
        begin = t - max(2, cost_ns)
        if previous is not None and begin < previous:
            begin = previous
        out[t] = (max(0, begin), t)
        previous = t
    return out


def inside(begin_ns: int, end_ns: int) -> float | None:
    """Where a flow event binds to the slice ``[begin_ns, end_ns]``: the whole nanosecond in its middle,
    in microseconds; None for a slice shorter than 2 ns, which has no nanosecond strictly inside it
    (Perfetto reads times as whole nanoseconds)."""
    return (begin_ns + (end_ns - begin_ns) // 2) / 1000 if end_ns - begin_ns >= 2 else None


def chrome_trace(sim: Any) -> dict[str, Any]:
    """The trace of ``sim``'s recorded requests as a ``{"traceEvents": [...]}`` dict."""
    tracks = Tracks(sim)  # the one pid / tid scheme of every trace (neuronsim.trace.writer)
    host = tracks.thread(HOST_PID, "host thread (direct mode)")
    events: list[dict[str, Any]] = []
    requests = [req for rt in sim.runtimes for req in rt.history]
    tids: dict[tuple[int, str], tuple[int, int]] = {}
    for req in sorted(requests, key=lambda r: (r.unit.instance, r.unit.core_id, r.unit.name)):
        key = (req.unit.instance, req.unit.name)
        if key not in tids:
            tids[key] = tracks.queue(req.unit)
    ordered = sorted(requests, key=lambda r: (r.submit_ns, r.seq_id))
    calls = call_slices((r.submit_ns for r in ordered), sim.topology.spec.runtime.call_costs.schedule_ns)
    by_call: dict[int, list[Any]] = {}
    for req in ordered:
        by_call.setdefault(req.submit_ns, []).append(req)
    for t, (begin, end) in sorted(calls.items()):
        reqs = by_call[t]
        name = f"schedule {_label(reqs[0])}" if len(reqs) == 1 else f"schedule {len(reqs)} requests"
        events.append({"ph": "X", "pid": HOST_PID, "tid": host, "name": name, "cat": "api", "ts": begin / 1000,
                       "dur": (end - begin) / 1000, "args": {"seq": [f"{r.seq_id:#x}" for r in reqs]}})
    for flow_id, req in enumerate(ordered, start=1):
        pid, tid = tids[(req.unit.instance, req.unit.name)]
        label = _label(req)
        done = bool(req.completions)
        end_ns = req.end_ns if done else max(req.start_ns, sim.now_ns)
        args = {"seq": f"{req.seq_id:#x}", "status": status_as_str(req.status) if done else "in flight",
                "unit": req.unit.name, "submit_ns": req.submit_ns, "start_ns": req.start_ns,
                "end_ns": req.end_ns if done else None}
        if req.fault is not None:
            args["fault"] = req.fault.model_dump(exclude_none=True, mode="json")
        touched = _addresses(req)
        if touched:
            args["addresses"] = touched
        events.append({"ph": "X", "pid": pid, "tid": tid, "name": label if done else f"{label} (in flight)",
                       "cat": req.kind, "ts": req.start_ns / 1000, "dur": (end_ns - req.start_ns) / 1000,
                       "args": args})
        source, target = inside(*calls[req.submit_ns]), inside(req.start_ns, end_ns)
        if source is None or target is None:
            continue  # a request that took no time: its slice encloses no arrow end
        events.append({"ph": "s", "pid": HOST_PID, "tid": host, "id": flow_id, "cat": "request", "name": "request",
                       "ts": source})
        events.append({"ph": "f", "bp": "e", "pid": pid, "tid": tid, "id": flow_id, "cat": "request",
                       "name": "request", "ts": target})
    for hazard in sim.hazards:
        pid, tid = tids[(hazard.second.unit.instance, hazard.second.unit.name)]
        events.append({"ph": "i", "pid": pid, "tid": tid, "s": "g", "name": f"HAZARD {hazard.kind}",
                       "ts": hazard.second.start_ns / 1000, "args": {"detail": str(hazard)}})
    return {"traceEvents": tracks.meta + events, "displayTimeUnit": "ns",
            "otherData": {"instance": sim.topology.name, "lnc": sim.topology.lnc, "seed": sim.seed}}


def write_chrome_trace(sim: Any, path: str | Path) -> Path:
    """Write :func:`chrome_trace` to ``path`` with :func:`neuronsim.trace.writer.write_trace` (gzip when the
    name ends in ``.gz``); returns the path."""
    return write_trace(chrome_trace(sim), path)
