"""A check of a Chrome (JSON) trace against the rules by which Perfetto draws its slices and flow arrows.

Perfetto's trace processor imports a JSON trace event by event in timestamp order. A thread's slices
(``X``, ``B``/``E``) form a stack per ``(pid, tid)``: they must nest, never overlap partially. A flow
event (``s`` start, ``t`` step, ``f`` end with ``"bp": "e"``) is bound to the slice on top of its
thread's stack when it is read, the *enclosing* slice; a flow event with no slice open there is
dropped (``flow_no_enclosing_slice``), and so is its arrow. Instant events (``i``) are zero-length slices
that end as they begin, so they enclose nothing. An ``f`` without ``"bp": "e"`` binds to the next slice
that begins on the thread instead, which any later slice can take; this trace format never uses it.

:func:`flow_problems` lists every place a trace breaks these rules, so a test can require none. Because
events at the same timestamp may be read in either order, it requires a flow event to lie strictly
inside its enclosing slice (``begin < ts < end``), which binds the same way in either order. Perfetto's
own ``perfetto`` Python package needs a ``trace_processor_shell`` binary it downloads on first use, which
an offline CI cannot; this check encodes the same rules without it.
"""

from __future__ import annotations

from collections import defaultdict
from typing import Any

__all__ = ["flow_problems", "slice_problems"]

FLOW_PHASES = ("s", "t", "f")


def _ns(us: Any) -> int:
    """A trace time (microseconds, a JSON number) in integer nanoseconds, as Perfetto reads it."""
    return round(float(us) * 1000)


def _slices(events: list[dict[str, Any]]) -> dict[tuple[Any, Any], list[tuple[int, int, str]]]:
    """``(pid, tid) -> [(begin, end, name)]`` of the complete (``X``) slices, in nanoseconds."""
    out: dict[tuple[Any, Any], list[tuple[int, int, str]]] = defaultdict(list)
    for e in events:
        if e.get("ph") == "X":
            begin = _ns(e["ts"])
            out[(e.get("pid"), e.get("tid"))].append((begin, begin + _ns(e.get("dur", 0)), str(e.get("name", ""))))
    return out


def slice_problems(trace: dict[str, Any]) -> list[str]:
    """Slices on one thread that overlap without nesting (Perfetto keeps one and drops the other)."""
    problems = []
    for (pid, tid), slices in sorted(_slices(trace["traceEvents"]).items(), key=lambda kv: str(kv[0])):
        stack: list[tuple[int, int, str]] = []
        for begin, end, name in sorted(slices, key=lambda s: (s[0], -s[1])):
            while stack and stack[-1][1] <= begin:
                stack.pop()
            if stack and end > stack[-1][1]:
                problems.append(f"pid {pid} tid {tid}: slice {name!r} [{begin}, {end}] ns overlaps "
                                f"{stack[-1][2]!r} [{stack[-1][0]}, {stack[-1][1]}] ns without nesting")
            stack.append((begin, end, name))
    return problems


def _enclosing(slices: list[tuple[int, int, str]], ts: int) -> tuple[int, int, str] | None:
    """The innermost slice with ``begin < ts < end`` (the one on top of the stack at ``ts``)."""
    inside = [s for s in slices if s[0] < ts < s[1]]
    return min(inside, key=lambda s: s[1] - s[0]) if inside else None


def flow_problems(trace: dict[str, Any]) -> list[str]:
    """Every flow event that Perfetto would not bind to a slice, and every flow that is not one start and
    one end in time order (step events between), as readable lines; empty when every arrow draws."""
    events = trace["traceEvents"]
    slices = _slices(events)
    problems = slice_problems(trace)
    flows: dict[tuple[Any, Any, Any], list[dict[str, Any]]] = defaultdict(list)
    for e in events:
        ph = e.get("ph")
        if ph not in FLOW_PHASES:
            continue
        where = f"flow {e.get('id')!r} {ph!r} at {e.get('ts')} us on pid {e.get('pid')} tid {e.get('tid')}"
        if "id" not in e:
            problems.append(f"{where}: no id")
            continue
        flows[(e["id"], e.get("cat"), e.get("name"))].append(e)  # Perfetto keys v1 flows by id, cat and name
        if ph == "f" and e.get("bp") != "e":
            problems.append(f"{where}: binds to the next slice (no \"bp\": \"e\"), not to its enclosing one")
        if _enclosing(slices.get((e.get("pid"), e.get("tid")), []), _ns(e["ts"])) is None:
            problems.append(f"{where}: no slice encloses it (an instant or a zero-length slice does not)")
    for key, members in flows.items():
        phases = [m["ph"] for m in sorted(members, key=lambda m: (float(m["ts"]), FLOW_PHASES.index(m["ph"])))]
        if phases.count("s") != 1 or phases.count("f") != 1 or phases[0] != "s" or phases[-1] != "f":
            problems.append(f"flow {key[0]!r} ({key[1]}/{key[2]}): phases in time order are {phases}, "
                            "not one start, steps, one end")
    return problems
