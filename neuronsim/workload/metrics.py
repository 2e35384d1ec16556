"""The summary of a workload run: throughput, latency, utilisation, queue depth and the bottleneck.

Everything is computed after the run from what it recorded (requests, iterations, the channels'
busy intervals, CPU time), over the measured window from the first iteration's start to the end of the
run, so tracing and metrics never change what is simulated. Utilisation is busy time over the window;
a queue's depth is the number of its requests accepted and not yet completed, averaged over time
(time-weighted) and at its maximum; latency is submit to completion per request kind, and arrival to
last step per iteration. :func:`summary` gives a JSON-able dict, :func:`render` the text the command
prints, :func:`write_outputs` the JSON, the CSV and (with matplotlib) the plots.
"""

from __future__ import annotations

import csv
import json
import re
from pathlib import Path
from typing import Any

import numpy as np

from neuronsim.extras import install_hint
from neuronsim.hw.channel import channel_busy_ns
from neuronsim.text import plural
from neuronsim.units import format_bytes, format_ns

__all__ = ["summary", "render", "write_outputs", "plots_available", "NO_PLOTS", "channel_kind", "busy_in_window", "depth_stats", "unit_label",
           "SATURATED"]

_KINDS = (("/hbm", "HBM stack"), ("/cc-dma", "DMA engine"), ("/dma", "DMA engine"), ("/hdma", "DMA engine"),
          ("pcie", "PCIe"), ("link.", "NeuronLink"), ("z.", "NeuronLink"), ("efa", "EFA"))
_SECTIONS = (("DMA engine", "dma"), ("HBM stack", "hbm"), ("PCIe", "pcie"), ("NeuronLink", "links"), ("EFA", "efa"))
TOP = 8  # rows per section in the text summary
BOTTLENECK_TIE = 0.02
SATURATED = 0.95  # a resource busy this share of the window is saturated (docs/assumptions.md A100)
KEEPS_UP = 0.95  # open arrivals: completions at this share of the arrival rate keep pace with it
_PRIORITY = {"host thread": 1, "host CPU": 2, "execution-unit queue": 3}  # hardware channels: 0


def _natural(name: str) -> tuple[Any, ...]:
    """``dev2`` before ``dev10``: digit runs compare as numbers."""
    return tuple(int(part) if part.isdigit() else part for part in re.split(r"(\d+)", name))


def _busiest_first(items: list[dict[str, Any]]) -> list[dict[str, Any]]:
    return sorted(items, key=lambda item: (-item["utilisation"], _natural(item["name"])))


def channel_kind(name: str) -> str:
    for needle, kind in _KINDS:
        if needle in name:
            return kind
    return "channel"


def busy_in_window(intervals: list[tuple[int, int]] | list[tuple[int, int, int]], lo: int, hi: int) -> int:
    """Total length of ``intervals`` (``(begin, end, ...)``) inside ``[lo, hi]``."""
    total = 0
    for item in intervals:
        b, e = item[0], item[1]
        b, e = max(b, lo), min(e, hi)
        if e > b:
            total += e - b
    return total


def depth_stats(intervals: list[tuple[int, int]], lo: int, hi: int) -> tuple[float, int]:
    """Time-weighted mean and maximum of how many ``[begin, end)`` intervals overlap, inside ``[lo, hi]``."""
    if hi <= lo or not intervals:
        return 0.0, 0
    events = sorted([(max(b, lo), 1) for b, e in intervals if min(e, hi) > max(b, lo)] +
                    [(min(e, hi), -1) for b, e in intervals if min(e, hi) > max(b, lo)],
                    key=lambda x: (x[0], x[1]))
    depth = peak = 0
    for _, step in events:
        depth += step
        peak = max(peak, depth)
    return busy_in_window(intervals, lo, hi) / (hi - lo), peak


def _percentiles(values: list[int]) -> dict[str, int]:
    if not values:
        return {"p50_ns": 0, "p90_ns": 0, "p99_ns": 0, "mean_ns": 0}
    array = np.asarray(values)
    p50, p90, p99 = (int(np.percentile(array, q, method="nearest")) for q in (50, 90, 99))
    return {"p50_ns": p50, "p90_ns": p90, "p99_ns": p99, "mean_ns": int(round(float(array.mean())))}


def unit_label(unit: Any, sim: Any) -> str:
    """An execution unit's name in reports: ``nc3/xu.compute.0``, prefixed ``i1/`` on a cluster."""
    return f"i{unit.instance}/{unit.name}" if sim.topology.num_instances > 1 else unit.name


def _end_of(req: Any) -> int:
    return req.done_ns if req.completions else -1


def _started(req: Any) -> bool:
    """Whether ``req`` has started: it completed, or it is at the head of its queue."""
    if req.completions:
        return True
    pending = req.unit.pending()
    return bool(pending) and pending[0] is req


def summary(run: Any) -> dict[str, Any]:
    """The run's figures as a JSON-able dict (see the module docstring)."""
    sim = run.sim
    lo, hi = run.start_ns, run.end_ns
    window = max(1, hi - lo)
    spec = run.spec
    out: dict[str, Any] = {
        "workload": spec.name if spec is not None else "python workload",
        "instance": sim.topology.name, "lnc": sim.topology.lnc, "seed": sim.seed,
        "start_ns": lo, "elapsed_ns": hi - lo, "until_ns": run.until_ns,
        "num_instances": sim.topology.num_instances,
    }
    threads = []
    done_all = 0
    for thread in run.threads:
        its = [i for i in run.iterations if i.thread == thread.name]
        done = sorted(i.done_ns for i in its if 0 <= i.done_ns <= hi)
        done_all += len(done)
        steady = (len(done) - 1) * 1e9 / (done[-1] - done[0]) if len(done) >= 2 and done[-1] > done[0] else 0.0
        threads.append({
            "name": thread.name, "cpus": list(thread.affinity), "iterations_started": len(its),
            "iterations_completed": len(done), "iterations_failed": sum(1 for i in its if i.failed),
            "iterations_unfinished": sum(1 for i in its if i.done_ns < 0),
            "throughput_per_s": len(done) * 1e9 / window, "steady_throughput_per_s": steady,
            "latency": _percentiles([i.done_ns - i.arrival_ns for i in its if 0 <= i.done_ns <= hi]),
            "cpu_utilisation": thread.cpu_ns / window,
        })
    out["threads"] = threads
    out["throughput_per_s"] = done_all * 1e9 / window
    stats = getattr(run, "stats", None)  # the requests' running totals (A116), or every request
    if stats is not None:
        out["requests"], queues = _request_figures(stats, sim, lo, hi, window)
    else:
        out["requests"], queues = _request_figures_of(run.requests, sim, lo, hi, window)
    out["queues"] = _busiest_first(queues)
    channels: dict[str, list[dict[str, Any]]] = {key: [] for _, key in _SECTIONS}
    section = dict(_SECTIONS)
    all_channels = [c for system in sim.systems for c in system.channels()] + [link.channel for link in sim.z_links.values()]
    meters = getattr(run, "meters", None)  # the logs' running totals (A116), or the whole logs
    for channel in all_channels:
        if not (channel.log if meters is None else meters.used(channel)):
            continue
        key = section.get(channel_kind(channel.name))
        if key is None:
            continue
        if meters is None:
            moved = sum(n for b, e, n in channel.log if lo <= b < hi)
            full_ns = channel_busy_ns(channel, lo, hi)
        else:
            moved = meters.bytes_moved(channel, lo, hi)
            full_ns = meters.busy_ns(channel, lo, hi)
        # a channel's log holds constant-rate intervals: its utilisation is bytes over bandwidth (A50)
        channels[key].append({"name": channel.name, "utilisation": full_ns / window, "bytes": moved})
    out.update({key: _busiest_first(items) for key, items in channels.items()})
    cpus = []
    for i, host in enumerate(sim.hosts):
        for cpu, busy in enumerate(host.busy_ns):
            if busy:
                cpus.append({"name": f"cpu{cpu}" if len(sim.hosts) == 1 else f"i{i}/cpu{cpu}",
                             "utilisation": min(1.0, busy / window)})
    out["cpus"] = _busiest_first(cpus)
    candidates = [("execution-unit queue", q["name"], q["utilisation"]) for q in queues]
    for kind, key in _SECTIONS:
        candidates += [(kind, c["name"], c["utilisation"]) for c in channels[key]]
    candidates += [("host CPU", c["name"], c["utilisation"]) for c in cpus]
    candidates += [("host thread", t["name"], t["cpu_utilisation"]) for t in threads]
    out["bottleneck"], out["limit"] = _limit(run, candidates, threads)
    out["instances_used"] = _instances_used(run)
    out["iterations_marked"] = bool(run.iterations)
    out["errors"] = list(run.errors)
    return out


def _limit(run: Any, candidates: list[tuple[str, str, float]],
           threads: list[dict[str, Any]]) -> tuple[dict[str, Any] | None, dict[str, Any] | None]:
    """``(bottleneck, limit)``: the bottleneck is a saturated resource (busy >= SATURATED of the window)
    or None; the limit says what bounds the run (``verdict``) with its evidence (a list of lines):

    * ``saturated`` / ``host-bound``: a resource is saturated (host-bound when it is a host thread or
      CPU); among those within BOTTLENECK_TIE of the busiest, hardware (a channel) is named first, then
      a host thread, a CPU, a queue (a queue is busy while its requests wait for what they use);
    * ``arrival-limited``: nothing is saturated and every thread has open arrivals (fixed, poisson) whose
      completions keep pace with them while they arrive (at least KEEPS_UP of the arrival rate): the
      work offered is the limit;
    * ``in-flight-limited``: nothing is saturated and a thread's in-flight window is what waits: a closed
      loop opens an iteration only when one ends (throughput = in_flight / latency), or open arrivals
      fell behind while queued on the host for a slot;
    * ``unsaturated``: nothing is saturated in a Python workload (its arrivals are its own).
    """
    if not candidates:
        return None, None
    top = max(c[2] for c in candidates)
    near = [c for c in candidates if c[2] >= top - BOTTLENECK_TIE]
    kind, name, util = min(near, key=lambda c: (_PRIORITY.get(c[0], 0), -c[2], _natural(c[1])))
    busiest = {"kind": kind, "name": name, "utilisation": util}
    below = f"busiest: {kind} {name}, {util * 100:.1f} % busy (saturated from {SATURATED * 100:.0f} %)"

    def limit(verdict: str, *evidence: str) -> dict[str, Any]:
        return {"verdict": verdict, "evidence": list(evidence), "busiest": busiest}

    if util >= SATURATED:
        verdict = "host-bound" if kind in ("host thread", "host CPU") else "saturated"
        return busiest, limit(verdict, f"busy {util * 100:.1f} % of the window (saturated from "
                                       f"{SATURATED * 100:.0f} %)")
    spec = run.spec
    if spec is None:
        return None, limit("unsaturated", below)
    named = [(thread.name or f"thread{t}", thread) for t, thread in enumerate(spec.threads)]
    closed = [(n, t) for n, t in named if t.arrivals.kind == "closed"]
    open_threads = [(n, t) for n, t in named if t.arrivals.kind != "closed"]
    by_window: dict[int, list[str]] = {}
    for n, t in closed or open_threads:
        by_window.setdefault(t.in_flight, []).append(n)
    windows = "; ".join(f"in_flight {k}: {', '.join(v)}" for k, v in sorted(by_window.items()))
    if closed:
        return None, limit("in-flight-limited", f"closed loop ({windows}): an iteration opens when one ends, "
                           "so throughput is in_flight / latency", below)
    names = {n for n, _ in open_threads}
    arrived = [i for i in run.iterations if i.thread in names]
    waited = sum(1 for i in arrived if i.opened_ns > i.arrival_ns)
    offered = sum(t.arrivals.rate for _, t in open_threads)
    kinds = "/".join(sorted({t.arrivals.kind for _, t in open_threads}))
    pace = f"{len(arrived)} iteration(s)"
    keeps_up = True
    done = sorted(i.done_ns - i.arrival_ns for i in arrived if i.done_ns >= 0)
    if arrived and done:
        # do completions keep pace with arrivals (no growing backlog)? compare equal spans, the
        # completions' one a median latency later
        lag = done[len(done) // 2]
        first, last = min(i.arrival_ns for i in arrived), max(i.arrival_ns for i in arrived)
        span = last - lag - first
        if span > 0:
            came = sum(1 for i in arrived if i.arrival_ns <= first + span) * 1e9 / span
            went = sum(1 for i in arrived if first + lag <= i.done_ns <= last) * 1e9 / span
            keeps_up = went >= KEEPS_UP * came
            pace = f"{went:,.0f}/s completed as {came:,.0f}/s arrived"
    slots = f"{waited} of {len(arrived)} waited on the host for an in-flight slot ({windows})"
    if keeps_up:
        return None, limit("arrival-limited", f"offered {offered:,.0f}/s ({kinds}); {pace}", slots, below)
    return None, limit("in-flight-limited", f"completions fall behind arrivals: offered {offered:,.0f}/s ({kinds}); "
                       f"{pace}", slots, below)


def _instances_used(run: Any) -> list[int]:
    """The instances of a cluster the workload ran on: its threads' (a file), its runtimes' (Python)."""
    if run.spec is not None:
        return sorted({t.instance for t in run.spec.threads})
    return sorted({rt.instance for rt in run.sim.runtimes})


def _request_figures(stats: Any, sim: Any, lo: int, hi: int,
                     window: int) -> tuple[dict[str, Any], list[dict[str, Any]]]:
    """The ``requests`` section and the queues from a run's :class:`~neuronsim.workload.record.RequestStats`."""
    kinds = {kind: {"count": k.count, "completed": k.completed, "failed": k.failed, **k.latency.percentiles()}
             for kind, k in sorted(stats.kinds.items())}
    queues = []
    for u in stats.units.values():
        if not u.requests:
            continue
        mean, peak = (u.depth_ns / (hi - lo), u.peak) if hi > lo else (0.0, 0)
        queues.append({"name": unit_label(u.unit, sim), "kind": u.unit.kind, "requests": u.requests,
                       "utilisation": u.busy / window, "depth_mean": mean, "depth_max": peak})
    return kinds, queues


def _request_figures_of(requests: list[Any], sim: Any, lo: int, hi: int,
                        window: int) -> tuple[dict[str, Any], list[dict[str, Any]]]:
    """The same figures from every request (a run without running totals)."""
    kinds: dict[str, list[Any]] = {}
    for req in requests:
        kinds.setdefault(req.kind, []).append(req)
    figures = {
        kind: {"count": len(reqs), "completed": sum(1 for r in reqs if 0 <= _end_of(r) <= hi),
               "failed": sum(1 for r in reqs if r.completions and r.status != 0),
               **_percentiles([r.done_ns - r.submit_ns for r in reqs if 0 <= _end_of(r) <= hi])}
        for kind, reqs in sorted(kinds.items())
    }
    units: dict[str, list[Any]] = {}
    for req in requests:
        units.setdefault(unit_label(req.unit, sim), []).append(req)
    queues = []
    for name, reqs in units.items():
        # a queue runs one request at a time: the completed ones, and the one at its head still running (the
        # requests queued behind it have not started: counting them made a queue more than 100 % busy)
        busy = busy_in_window([(r.start_ns, r.end_ns if r.completions else hi) for r in reqs if _started(r)], lo, hi)
        mean, peak = depth_stats([(r.submit_ns, _end_of(r) if r.completions else hi) for r in reqs], lo, hi)
        queues.append({"name": name, "kind": reqs[0].unit.kind, "requests": len(reqs), "utilisation": busy / window,
                       "depth_mean": mean, "depth_max": peak})
    return figures, queues


def _pct(value: float) -> str:
    return f"{value * 100:5.1f} %"


def render(figures: dict[str, Any]) -> str:
    """The text summary ``neuronsim run`` prints."""
    until = f" (until {format_ns(figures['until_ns'])})" if figures["until_ns"] is not None else ""
    lines = [f"neuronsim run: {figures['workload']} on {figures['instance']} (LNC={figures['lnc']}), "
             f"seed {figures['seed']}",
             *_instance_lines(figures),
             f"simulated time:  {format_ns(figures['elapsed_ns'])}{until}",
             f"throughput:      {figures['throughput_per_s']:,.1f} iterations/s"]
    if not figures.get("iterations_marked", True) and figures["workload"] == "python workload":
        lines.append("iterations:      none marked: a Python workload marks each with `with thread.iteration():` "
                     "(docs/reference/workload.md); throughput and latency below count none")
    lines.append("threads (iterations, throughput, latency p50 / p90 / p99, CPU):")
    for t in figures["threads"]:
        lat = t["latency"]
        failed = f", {t['iterations_failed']} failed" if t["iterations_failed"] else ""
        if t.get("iterations_unfinished") and figures["until_ns"] is None:
            failed += f", {t['iterations_unfinished']} never finished"
        lines.append(f"  {t['name']:<14} {t['iterations_completed']:>6} done{failed}  {t['throughput_per_s']:>12,.1f}/s  "
                     f"{format_ns(lat['p50_ns']):>11} {format_ns(lat['p90_ns']):>11} {format_ns(lat['p99_ns']):>11}  "
                     f"{_pct(t['cpu_utilisation'])}")
    lines.append("requests, submit to completion (p50 / p90 / p99):")
    for kind, r in figures["requests"].items():
        failed = f", {r['failed']} failed" if r["failed"] else ""
        lines.append(f"  {kind:<14} {format_ns(r['p50_ns']):>11} {format_ns(r['p90_ns']):>11} "
                     f"{format_ns(r['p99_ns']):>11}  ({plural(r['count'], 'request')}{failed})")
    lines.append("execution-unit queues (utilisation, time-weighted depth mean / max):")
    lines += _rows(figures["queues"], lambda q: f"{_pct(q['utilisation'])}  {q['depth_mean']:6.2f} / "
                                                f"{q['depth_max']:<3} ({plural(q['requests'], 'request')})")
    for title, key in (("DMA engines", "dma"), ("HBM stacks", "hbm"), ("PCIe", "pcie"), ("NeuronLink", "links"),
                       ("EFA", "efa")):
        if figures[key]:
            lines.append(f"{title} (utilisation, bytes):")
            lines += _rows(figures[key], lambda c: f"{_pct(c['utilisation'])}  {format_bytes(c['bytes'])}")
    if figures["cpus"]:
        lines.append("host CPUs (utilisation):")
        lines += _rows(figures["cpus"], lambda c: _pct(c["utilisation"]))
    lines += _limit_lines(figures)
    for error in figures["errors"][:10]:
        lines.append(f"error: {error}")
    if len(figures["errors"]) > 10:
        lines.append(f"error: ... {len(figures['errors']) - 10} more")
    return "\n".join(lines) + "\n"


def _instance_lines(figures: dict[str, Any]) -> list[str]:
    from neuronsim.idlist import format_id_list

    used, count = figures.get("instances_used", [0]), figures.get("num_instances", 1)
    if count <= 1 or len(used) == count:
        return []
    idle = [i for i in range(count) if i not in used]
    which = f"instance {format_id_list(used)}" if len(used) == 1 else f"instances {format_id_list(used)}"
    rest = f"instance {format_id_list(idle)} is" if len(idle) == 1 else f"instances {format_id_list(idle)} are"
    return [f"instances:       the workload uses {which} of {count} only; {rest} idle "
            "(a thread's instance: field places it)"]


def _limit_lines(figures: dict[str, Any]) -> list[str]:
    b, limit = figures["bottleneck"], figures.get("limit")
    if limit is None:
        return []
    if b is not None:
        busy = "of a CPU" if b["kind"] == "host thread" else "busy"
        head = f"{b['kind']} {b['name']} ({b['utilisation'] * 100:.1f} % {busy})"
        return [f"bottleneck:      {head}" + (": host-bound" if limit["verdict"] == "host-bound" else "")]
    verdict = "" if limit["verdict"] == "unsaturated" else f": {limit['verdict']}"
    return [f"bottleneck:      none saturated{verdict}"] + [f"  {line}" for line in limit["evidence"]]


def _rows(items: list[dict[str, Any]], cell: Any) -> list[str]:
    width = max(22, *(len(i["name"]) for i in items[:TOP])) if items else 22
    lines = [f"  {i['name']:<{width}} {cell(i)}" for i in items[:TOP]]
    rest = items[TOP:]
    if rest:
        mean = sum(i["utilisation"] for i in rest) / len(rest)
        lines.append(f"  ... {len(rest)} more, mean {mean * 100:.1f} %")
    return lines


def csv_rows(figures: dict[str, Any]) -> list[tuple[str, str, str, Any]]:
    """The summary flattened to ``(section, name, metric, value)`` rows."""
    rows: list[tuple[str, str, str, Any]] = []
    for key in ("workload", "instance", "lnc", "seed", "elapsed_ns", "until_ns", "throughput_per_s"):
        rows.append(("run", "", key, figures[key]))
    for t in figures["threads"]:
        for key, value in t.items():
            if key == "latency":
                rows += [("thread", t["name"], f"latency_{k}", v) for k, v in value.items()]
            elif key != "name":
                rows.append(("thread", t["name"], key, value if key != "cpus" else " ".join(map(str, value))))
    for kind, r in figures["requests"].items():
        rows += [("request", kind, k, v) for k, v in r.items()]
    for section in ("queues", "dma", "hbm", "pcie", "links", "efa", "cpus"):
        for item in figures[section]:
            rows += [(section, item["name"], k, v) for k, v in item.items() if k != "name"]
    b = figures["bottleneck"]
    if b is not None:
        rows.append(("bottleneck", b["name"], b["kind"], b["utilisation"]))
    limit = figures.get("limit")
    if limit is not None:
        rows += [("limit", "", "verdict", limit["verdict"]), ("limit", "", "evidence", "; ".join(limit["evidence"]))]
    return rows


def write_outputs(run: Any, figures: dict[str, Any], directory: str | Path) -> list[Path]:
    """Write ``summary.json``, ``summary.csv`` and, with matplotlib and a run that kept its records
    (``run_workload(..., records=True)``), plots into ``directory``."""
    target = Path(directory)
    target.mkdir(parents=True, exist_ok=True)
    written = [target / "summary.json", target / "summary.csv"]
    written[0].write_text(json.dumps(figures, indent=2, sort_keys=True) + "\n", encoding="utf-8")
    with open(written[1], "w", newline="", encoding="utf-8") as handle:
        writer = csv.writer(handle)
        writer.writerow(["section", "name", "metric", "value"])
        writer.writerows(csv_rows(figures))
    if not getattr(run, "records", True):
        return written  # the plots are timelines: they need every record
    if not plots_available():
        return written
    from neuronsim.workload.plots import write_plots

    return written + write_plots(run, figures, target)


NO_PLOTS = f"plots:           not written: they need matplotlib, {install_hint('plots')}"


def plots_available() -> bool:
    """Whether matplotlib (the ``plots`` extra) is installed: without it :func:`write_outputs` writes no
    plots and ``neuronsim run --out`` prints :data:`NO_PLOTS`."""
    try:
        import matplotlib  # noqa: F401
    except ImportError:
        return False
    return True


# -- the summary's schema: what a metric path (a sweep's metrics, --y) may name --------------------------

_LATENCY: dict[str, Any] = {"p50_ns": int, "p90_ns": int, "p99_ns": int, "mean_ns": int}
_CHANNEL: list[Any] = [{"name": str, "utilisation": float, "bytes": int}]
#: The shape of :func:`summary`'s dict: a dict's keys (``"*"``: any key, e.g. a request kind), a list's
#: one item schema (indexed by number), a leaf's type. tests/test_typo_checks.py checks that every path
#: of real summaries is here, so the two cannot drift apart.
SUMMARY_SCHEMA: dict[str, Any] = {
    "workload": str, "instance": str, "lnc": int, "seed": int, "start_ns": int, "elapsed_ns": int,
    "until_ns": int,
    "threads": [{"name": str, "cpus": [int], "iterations_started": int, "iterations_completed": int,
                 "iterations_failed": int, "iterations_unfinished": int, "throughput_per_s": float, "steady_throughput_per_s": float,
                 "latency": _LATENCY, "cpu_utilisation": float}],
    "throughput_per_s": float,
    "requests": {"*": {"count": int, "completed": int, "failed": int, **_LATENCY}},
    "queues": [{"name": str, "kind": str, "requests": int, "utilisation": float, "depth_mean": float,
                "depth_max": int}],
    "dma": _CHANNEL, "hbm": _CHANNEL, "pcie": _CHANNEL, "links": _CHANNEL, "efa": _CHANNEL,
    "cpus": [{"name": str, "utilisation": float}],
    "bottleneck": {"kind": str, "name": str, "utilisation": float},
    "limit": {"verdict": str, "evidence": [str], "busiest": {"kind": str, "name": str, "utilisation": float}},
    "num_instances": int, "instances_used": [int], "iterations_marked": bool,
    "errors": [str],
}


def metric_problem(path: str, schema: Any = None) -> str | None:
    """Why ``path`` (a dotted path such as ``threads.0.latency.p99_ns``) names nothing in a run's summary,
    with the valid choices at the step that fails; ``None`` if it names something (a number, a text, or a
    whole section, which a sweep stores as JSON)."""
    import difflib

    node = SUMMARY_SCHEMA if schema is None else schema
    done: list[str] = []
    for part in path.split("."):
        here = ".".join(done) or "the summary"
        if isinstance(node, list):
            if not part.isdigit():
                return f"{here} is a list: the next part must be an index (0, 1, ...), not {part!r}"
            node = node[0]
        elif isinstance(node, dict):
            if part in node:
                node = node[part]
            elif "*" in node:
                node = node["*"]
            else:
                choices = list(node)
                close = difflib.get_close_matches(part, choices, n=1)
                hint = f" (did you mean {close[0]!r}?)" if close else ""
                return f"{here} has no {part!r}{hint}; it has {', '.join(choices)}"
        else:
            return f"{here} is a value ({node.__name__}), it has no {part!r}"
        done.append(part)
    return None
