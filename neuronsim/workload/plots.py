"""Plots of a workload run (the optional ``plots`` extra: matplotlib), drawn as a profiler view is.

* ``utilisation.png``: a heat map per kind of resource (execution-unit queues, DMA engines, HBM stacks,
  PCIe, NeuronLink, EFA), one row per unit and one column per time bin, coloured by how busy the unit
  was in the bin (0-100 %), its mean over the window beside it. Only the busiest :data:`ROWS` units of
  each kind are drawn (each panel's title says how many of how many); units never busy are left out,
  and a kind whose busiest unit is under :data:`QUIET` is named at the bottom instead of drawn.
* ``queue_depth.png``: small multiples, one panel per queue for the :data:`QUEUES` deepest queues: the
  time-weighted mean depth per bin (filled) and the deepest it got in the bin (a step line), on whole-
  request ticks.
* ``latency.png``: the distribution of iteration latency (arrival to last step) per thread, as step
  histograms that do not hide each other (on a log count scale when a bin holds more than 50 and at
  least 20 times the emptiest drawn bin, so a tail shows next to the mode; a single spike stays
  linear), with each thread's p50 and p99 marked.

Every figure's title names the workload, the instance, the seed and the measured window, and legends
and colour bars sit outside the data. Time runs from the threads' start (the window's beginning), in
milliseconds. Imported only when matplotlib is installed; draws with the Agg backend and never warns.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
from matplotlib.ticker import MaxNLocator  # noqa: E402

from neuronsim.units import format_ns  # noqa: E402
from neuronsim.workload.metrics import unit_label  # noqa: E402

__all__ = ["write_plots", "BINS", "ROWS", "QUEUES", "binned_busy", "binned_depth"]

BINS = 120  # time bins across the window
ROWS = 8  # units per kind in the utilisation heat map
QUEUES = 6  # panels in the queue-depth plot
THREADS = 8  # threads in the latency plot
QUIET = 0.01  # a kind of resource whose busiest unit is busy less than this is named, not drawn
_KINDS = (("queues", "execution-unit queues"), ("dma", "DMA engines"), ("hbm", "HBM stacks"), ("pcie", "PCIe"),
          ("links", "NeuronLink"), ("efa", "EFA"))


def binned_busy(intervals: list[tuple[int, int]] | list[tuple[int, int, float]], edges: np.ndarray) -> np.ndarray:
    """The share of each bin ``[edges[k], edges[k + 1])`` that ``intervals`` cover: ``(begin, end)`` ns,
    or ``(begin, end, share)`` for an interval busy only ``share`` (0..1) of the time (a channel at part of
    its bandwidth), not overlapping each other. An array of ``len(edges) - 1`` values in 0..1."""
    if not intervals:
        return np.zeros(len(edges) - 1)
    spans = np.asarray([(b, e) for b, e, *_ in intervals], dtype=np.int64)
    share = np.asarray([rest[0] if rest else 1.0 for _, _, *rest in intervals], dtype=np.float64)
    lo, hi = edges[:-1], edges[1:]
    total = np.zeros(len(lo))
    for k in range(0, len(spans), 4096):  # in chunks: a long channel log times the bins stays small
        part = spans[k:k + 4096]
        cover = np.clip(np.minimum(part[:, 1:2], hi[None, :]) - np.maximum(part[:, 0:1], lo[None, :]), 0, None)
        total += share[k:k + 4096] @ cover
    return total / np.maximum(1, hi - lo)


def binned_depth(intervals: list[tuple[int, int]], edges: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """``(mean, peak)`` per bin of how many ``intervals`` (a queue's requests, submit to completion)
    overlap: the time-weighted mean and the most at any instant of the bin (completions at an instant
    count before submissions, so a queue that hands one request over to the next stays level)."""
    lo, hi = edges[:-1], edges[1:]
    mean = np.zeros(len(lo))
    peak = np.zeros(len(lo), dtype=np.int64)
    spans = [(int(b), int(e)) for b, e in intervals if e > b]
    if not spans:
        return mean, peak
    array = np.asarray(spans, dtype=np.int64)
    cover = np.clip(np.minimum(array[:, 1:2], hi[None, :]) - np.maximum(array[:, 0:1], lo[None, :]), 0, None)
    mean = cover.sum(axis=0) / np.maximum(1, hi - lo)
    events = sorted([(b, 1) for b, _ in spans] + [(e, -1) for _, e in spans])
    level, i = 0, 0
    for k in range(len(lo)):
        while i < len(events) and events[i][0] < lo[k]:
            level += events[i][1]
            i += 1
        most = level
        while i < len(events) and events[i][0] < hi[k]:
            level += events[i][1]
            i += 1
            most = max(most, level)
        peak[k] = most
    return mean, peak


def _title(figures: dict[str, Any], what: str) -> str:
    until = f", until {format_ns(figures['until_ns'])}" if figures.get("until_ns") is not None else ""
    return (f"{figures['workload']} on {figures['instance']} (LNC={figures['lnc']}), seed {figures['seed']}\n"
            f"{what}; window {format_ns(figures['elapsed_ns'])} from the threads' start{until}")


def _busy_intervals(run: Any) -> dict[str, list[tuple[int, int, float]]]:
    """Busy intervals ``(begin, end, share)`` of every queue (its requests, start to end, wholly busy)
    and channel (its constant-rate intervals, busy the share of its bandwidth in use), by the summary's
    names."""
    hi = run.end_ns
    out: dict[str, list[tuple[int, int, float]]] = {}
    for req in run.requests:
        end = req.end_ns if req.completions else hi
        if end > req.start_ns:
            out.setdefault(unit_label(req.unit, run.sim), []).append((req.start_ns, end, 1.0))
    channels = [c for system in run.sim.systems for c in system.channels()]
    channels += [link.channel for link in run.sim.z_links.values()]
    for channel in channels:
        if channel.log:
            # constant-rate intervals, each busy the share of the bandwidth its bytes used (A50), as the
            # summary's utilisation counts them (neuronsim.hw.channel.channel_busy_ns)
            out[channel.name] = [(b, e, min(1.0, n / ((e - b) * channel.bw))) for b, e, n in channel.log if e > b]
    return out


def _utilisation(run: Any, figures: dict[str, Any], edges: np.ndarray, path: Path) -> None:
    intervals = _busy_intervals(run)
    panels, quiet = [], []
    for key, title in _KINDS:
        busy = [item for item in figures.get(key, []) if item["utilisation"] > 0]
        if busy and busy[0]["utilisation"] < QUIET:
            top = busy[0]["utilisation"] * 100
            quiet.append(f"{title} ({len(figures[key])}, busiest {top:.1f} %)" if top >= 0.1 else
                         f"{title} ({len(figures[key])}, busiest under 0.1 %)")
        elif busy:
            rows = busy[:ROWS]
            grid = np.vstack([binned_busy(intervals.get(item["name"], []), edges) for item in rows]) * 100
            panels.append((f"{title}: the {len(rows)} busiest of {len(figures[key])}" if len(figures[key]) > len(rows)
                           else f"{title}: all {len(rows)}", [item["name"] for item in rows], grid))
    heights = [max(1.2, 0.28 * len(names) + 0.5) for _, names, _ in panels] or [1.0]
    fig, axes = plt.subplots(len(heights), 1, figsize=(11, 1.3 + sum(heights)), sharex=True, squeeze=False,
                             gridspec_kw={"height_ratios": heights}, layout="constrained")
    span_ms = (edges[-1] - edges[0]) / 1e6
    image = None
    for ax, (title, names, grid) in zip(axes[:, 0], panels, strict=False):
        image = ax.imshow(grid, aspect="auto", interpolation="nearest", cmap="viridis", vmin=0, vmax=100,
                          extent=(0, span_ms, len(names) - 0.5, -0.5))
        ax.set_yticks(range(len(names)), names, fontsize=8)
        ax.set_title(title, fontsize=9, loc="left")
        for row, value in enumerate(grid.mean(axis=1)):  # each unit's mean over the window, beside its row
            ax.text(1.005, row, f"{value:.1f} %", transform=ax.get_yaxis_transform(), fontsize=7, va="center")
    if not panels:
        axes[0, 0].text(0.5, 0.5, "no unit was busy in the window", ha="center", va="center",
                        transform=axes[0, 0].transAxes)
        axes[0, 0].set_yticks([])
    axes[-1, 0].set_xlabel("simulated time since the threads started (ms)")
    if image is not None:
        fig.colorbar(image, ax=axes[:, 0].tolist(), label="busy (% of each bin)", shrink=0.9, pad=0.01)
    fig.suptitle(_title(figures, f"utilisation per {format_ns(int(edges[1] - edges[0]))} bin"), fontsize=10)
    if quiet:
        fig.supxlabel(f"not drawn, under {QUIET * 100:.0f} % busy: " + "; ".join(quiet), fontsize=8)
    fig.savefig(path, dpi=100)
    plt.close(fig)


def _queue_depth(run: Any, figures: dict[str, Any], edges: np.ndarray, path: Path) -> None:
    hi = run.end_ns
    spans: dict[str, list[tuple[int, int]]] = {}
    for req in run.requests:
        spans.setdefault(unit_label(req.unit, run.sim), []).append((req.submit_ns, req.done_ns if req.completions else hi))
    queues = sorted((q for q in figures["queues"] if q["depth_mean"] > 0),
                    key=lambda q: (-q["depth_mean"], -q["depth_max"], q["name"]))[:QUEUES]
    fig, axes = plt.subplots(max(1, len(queues)), 1, figsize=(11, 1.2 + 1.25 * max(1, len(queues))), sharex=True,
                             squeeze=False, layout="constrained")
    x = (edges[:-1] - edges[0]) / 1e6
    width = (edges[1] - edges[0]) / 1e6
    for ax, queue in zip(axes[:, 0], queues, strict=False):
        mean, peak = binned_depth(spans.get(queue["name"], []), edges)
        ax.fill_between(x, mean, step="post", alpha=0.45, color="tab:blue", label="mean depth in the bin")
        ax.step(np.append(x, x[-1] + width), np.append(peak, peak[-1]), where="post", color="tab:red", linewidth=0.9,
                label="deepest in the bin")
        top = max(1, int(queue["depth_max"]))
        ax.set_ylim(0, top + 0.5)
        ax.yaxis.set_major_locator(MaxNLocator(integer=True, nbins=min(top, 4) + 1))
        ax.set_ylabel(queue["name"], rotation=0, ha="right", va="center", fontsize=8)
        ax.text(1.005, 0.5, f"mean {queue['depth_mean']:.2f}\nmax {queue['depth_max']}", transform=ax.transAxes,
                fontsize=8, va="center")
    if queues:
        handles, labels = axes[0, 0].get_legend_handles_labels()
        fig.legend(handles, labels, loc="outside lower center", ncols=2, fontsize=8, frameon=False)
        shown = f"the {len(queues)} deepest of {len(figures['queues'])} queues" if len(figures["queues"]) > len(queues) \
            else f"all {len(queues)} queues"
    else:
        axes[0, 0].text(0.5, 0.5, "no request was queued in the window", ha="center", va="center",
                        transform=axes[0, 0].transAxes)
        axes[0, 0].set_yticks([])
        shown = "no queue"
    axes[-1, 0].set_xlim(0, (edges[-1] - edges[0]) / 1e6)  # the window, as in the utilisation plot
    axes[-1, 0].set_xlabel("simulated time since the threads started (ms)")
    fig.suptitle(_title(figures, f"requests in each queue (submitted, not completed), {shown}, "
                                 f"per {format_ns(int(edges[1] - edges[0]))} bin"), fontsize=10)
    fig.savefig(path, dpi=100)
    plt.close(fig)


def _latency(run: Any, figures: dict[str, Any], path: Path) -> None:
    per_thread = []
    for thread in figures["threads"][:THREADS]:
        values = np.asarray([i.done_ns - i.arrival_ns for i in run.iterations
                             if i.thread == thread["name"] and 0 <= i.done_ns <= run.end_ns], dtype=np.int64)
        if len(values):
            per_thread.append((thread["name"], values))
    fig, ax = plt.subplots(figsize=(11, 4.2), layout="constrained")
    if per_thread:
        everything = np.concatenate([v for _, v in per_thread])
        scale, unit = (1e6, "ms") if np.percentile(everything, 50) >= 1e6 else (1e3, "us")
        low, high = everything.min() / scale, everything.max() / scale
        pad = max((high - low) * 0.03, low * 0.02, 1e-3)  # identical latencies get a bar, not an edge
        bins = np.linspace(low - pad, high + pad, 61)
        counts: list[float] = []  # the drawn bins that hold iterations, every thread's
        for k, (name, values) in enumerate(per_thread):
            color = f"C{k % 10}"
            p50, p99 = (np.percentile(values, q, method="nearest") / scale for q in (50, 99))
            drawn, _, _ = ax.hist(values / scale, bins=bins.tolist(), histtype="step", linewidth=1.4, color=color,
                                  label=f"{name}: p50 {p50:,.4g} {unit}, p99 {p99:,.4g} {unit}")
            counts.extend(float(c) for c in np.ravel(np.asarray(drawn)) if c > 0)
            ax.axvline(p50, color=color, linestyle="--", linewidth=0.8)
            ax.axvline(p99, color=color, linestyle=":", linewidth=0.8)
        ax.set_xlabel(f"iteration latency, arrival to last step ({unit}); dashed p50, dotted p99")
        if max(counts) > 50 and max(counts) >= 20 * min(counts):
            # a tail: where latency goes wrong stays visible next to the mode; bars start at one iteration
            ax.set_yscale("log")
            ax.set_ylim(0.7, max(counts) * 1.5)
            ax.set_ylabel("iterations (log scale)")
        else:
            ax.set_ylabel("iterations")
            ax.yaxis.set_major_locator(MaxNLocator(integer=True))
        ax.legend(loc="upper left", bbox_to_anchor=(1.01, 1.0), fontsize=8, frameon=False)
        shown = f"{len(per_thread)} of {len(figures['threads'])} threads" if len(figures["threads"]) > len(per_thread) \
            else "every thread"
    else:
        ax.text(0.5, 0.5, "no iteration completed in the window (a Python workload marks its iterations with "
                "thread.iteration())", ha="center", va="center", transform=ax.transAxes, fontsize=9)
        ax.set_xticks([])
        ax.set_yticks([])
        shown = "no iterations"
    fig.suptitle(_title(figures, f"iteration latency, {shown}"), fontsize=10)
    fig.savefig(path, dpi=100)
    plt.close(fig)


def write_plots(run: Any, figures: dict[str, Any], target: Path) -> list[Path]:
    """Write ``utilisation.png``, ``queue_depth.png`` and ``latency.png`` into ``target``; returns the paths."""
    lo, hi = run.start_ns, max(run.end_ns, run.start_ns + BINS)
    edges = np.linspace(lo, hi, BINS + 1).round().astype(np.int64)
    paths = [target / "utilisation.png", target / "queue_depth.png", target / "latency.png"]
    _utilisation(run, figures, edges, paths[0])
    _queue_depth(run, figures, edges, paths[1])
    _latency(run, figures, paths[2])
    return paths
