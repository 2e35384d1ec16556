"""Plots of a workload run (the optional ``plots`` extra: matplotlib): utilisation over time, queue
depth over time, latency distribution. Imported only when matplotlib is installed."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402

from neuronsim.workload.metrics import busy_in_window, unit_label  # noqa: E402

__all__ = ["write_plots"]

BINS = 100
SERIES = 6


def _intervals(run: Any) -> dict[str, list[tuple[int, int]]]:
    """Busy intervals of the busiest queues and channels, by name."""
    out: dict[str, list[tuple[int, int]]] = {}
    for req in run.requests:
        out.setdefault(unit_label(req.unit, run.sim), []).append((req.start_ns, req.end_ns))
    for system in run.sim.systems:
        for channel in system.channels():
            if channel.log:
                # constant-rate intervals, shortened to the time at full bandwidth they amount to (A50)
                out[channel.name] = [(b, b + round(n / channel.bandwidth_bytes_per_ns)) for b, _, n in channel.log]
    return out


def write_plots(run: Any, figures: dict[str, Any], target: Path) -> list[Path]:
    lo, hi = run.start_ns, run.end_ns
    edges = np.linspace(lo, hi, BINS + 1).astype(np.int64)
    written = []
    busiest = [q["name"] for q in figures["queues"][:SERIES // 2]]
    for key in ("dma", "hbm", "pcie", "links", "efa"):
        busiest += [c["name"] for c in figures[key][:1]]
    intervals = _intervals(run)
    fig, ax = plt.subplots(figsize=(9, 4))
    for name in busiest[:SERIES]:
        spans = intervals.get(name, [])
        util = [busy_in_window(spans, int(a), int(b)) / max(1, int(b) - int(a)) for a, b in zip(edges[:-1], edges[1:], strict=False)]
        ax.plot((edges[:-1] - lo) / 1e6, np.asarray(util) * 100, label=name)
    ax.set(xlabel="simulated time (ms)", ylabel="utilisation (%)", title=f"{figures['workload']}: utilisation")
    ax.legend(fontsize="small")
    written.append(target / "utilisation.png")
    fig.savefig(written[-1], dpi=100)
    plt.close(fig)
    fig, ax = plt.subplots(figsize=(9, 4))
    for queue in figures["queues"][:SERIES]:
        points = []
        for req in run.requests:
            if unit_label(req.unit, run.sim) == queue["name"]:
                points += [(req.submit_ns, 1), (req.done_ns if req.completions else hi, -1)]
        points.sort()
        times, depth, level = [lo], [0], 0
        for t, step in points:
            level += step
            times.append(t)
            depth.append(level)
        ax.step((np.asarray(times) - lo) / 1e6, depth, where="post", label=queue["name"])
    ax.set(xlabel="simulated time (ms)", ylabel="requests in the queue", title=f"{figures['workload']}: queue depth")
    ax.legend(fontsize="small")
    written.append(target / "queue_depth.png")
    fig.savefig(written[-1], dpi=100)
    plt.close(fig)
    fig, ax = plt.subplots(figsize=(9, 4))
    for thread in figures["threads"]:
        latencies = [i.done_ns - i.arrival_ns for i in run.iterations if i.thread == thread["name"] and i.done_ns >= 0]
        if latencies:
            ax.hist(np.asarray(latencies) / 1e3, bins=50, alpha=0.6, label=thread["name"])
    ax.set(xlabel="iteration latency (us)", ylabel="iterations", title=f"{figures['workload']}: latency")
    ax.legend(fontsize="small")
    written.append(target / "latency.png")
    fig.savefig(written[-1], dpi=100)
    plt.close(fig)
    return written
