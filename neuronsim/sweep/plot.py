"""A plot of a sweep: a metric against one parameter, a line per value of a second (needs matplotlib)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from neuronsim.errors import ConfigError
from neuronsim.extras import install_hint
from neuronsim.units import UnitError, parse_time_ns

__all__ = ["plot_sweep", "axis_values"]


def axis_values(values: list[Any]) -> tuple[list[float], str]:
    """Numbers to plot ``values`` at, and the axis' unit: numbers as they are, times in microseconds,
    anything else at positions 0, 1, ... (returned unit ``"category"``)."""
    try:
        return [float(v) for v in values], ""
    except (TypeError, ValueError):
        pass
    try:
        return [parse_time_ns(str(v)) / 1000 for v in values], "us"
    except UnitError:
        return [float(i) for i in range(len(values))], "category"


def plot_sweep(rows: list[dict[str, Any]], parameters: list[str], metrics: list[str], path: str | Path, *,
               x: str | None = None, y: str | None = None, series: str | None = None,
               title: str | None = None) -> Path:
    """Plot ``y`` (default the first metric) against ``x`` (default the first parameter), one line per
    value of ``series`` (default the second parameter, if any); the mean over repetitions, with the
    range as error bars. Failed points are left out. The figure's title is ``title`` (the sweep's name)
    and says how many points and repetitions each mean is over; the legend sits right of the axes, out
    of the data; whole-number parameters get whole-number ticks."""
    try:
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError:
        raise ConfigError("neuronsim sweep", f"plots need matplotlib, {install_hint('plots')}",
                          field="--plot") from None
    x = x or parameters[0]
    y = y or metrics[0]
    if series is None and len(parameters) > 1:
        series = next(p for p in parameters if p != x)
    for name, known, what in ((x, parameters, "parameter"), (series, parameters, "parameter"), (y, metrics, "metric")):
        if name is not None and name not in known:
            raise ConfigError("neuronsim sweep", f"{name!r} is not a {what} of the sweep ({', '.join(known)})",
                              field="--x" if name == x else "--y" if name == y else "--series")
    good = [r for r in rows if not r.get("error") and r.get(y) not in (None, "")]
    for r in good:
        try:
            float(r[y])
        except (TypeError, ValueError):
            raise ConfigError("neuronsim sweep", f"{y!r} is not a number (point {r.get('point')}: {r[y]!r}): plot a "
                              f"numeric metric (the results are written)", field="--y") from None
    xs = list(dict.fromkeys(r[x] for r in rows))
    positions, unit = axis_values(xs)
    where = dict(zip(xs, positions, strict=True))
    groups = list(dict.fromkeys(r[series] for r in rows)) if series else [None]
    fig, ax = plt.subplots(figsize=(9, 4.5), layout="constrained")
    for group in groups:
        points = []
        for value in xs:
            ys = [float(r[y]) for r in good if r[x] == value and (series is None or r[series] == group)]
            if ys:
                mean = sum(ys) / len(ys)
                points.append((where[value], mean, mean - min(ys), max(ys) - mean))
        if not points:
            continue
        points.sort()
        label = str(group) if series else None
        ax.errorbar([p[0] for p in points], [p[1] for p in points], yerr=[[p[2] for p in points], [p[3] for p in points]],
                    marker="o", capsize=3, label=label)
    if unit == "category":
        ax.set_xticks(positions, [str(v) for v in xs])
    elif all(float(p).is_integer() for p in positions) and len(positions) <= 12:
        ax.set_xticks(sorted(set(positions)), [f"{p:g}" for p in sorted(set(positions))])  # the swept values
    ax.set(xlabel=f"{x} ({unit})" if unit and unit != "category" else x, ylabel=y)
    if series:
        ax.legend(title=series, loc="upper left", bbox_to_anchor=(1.01, 1.0), fontsize="small",
                  title_fontsize="small", frameon=False)
    ax.grid(alpha=0.3)
    per_values: dict[tuple[str, ...], int] = {}
    for r in rows:
        key = tuple(str(r.get(p)) for p in parameters)
        per_values[key] = per_values.get(key, 0) + 1
    repetitions = max(per_values.values(), default=1)
    failed = len(rows) - len(good)
    runs = "one run per point" if repetitions == 1 else \
        f"mean of {repetitions} repetitions per point, their range as error bars"
    fig.suptitle(f"{title or 'sweep'}: {y} against {x}\n{runs}"
                 + (f"; {failed} failed row{'s' if failed != 1 else ''} left out" if failed else ""), fontsize=10)
    target = Path(path)
    target.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(target, dpi=100)
    plt.close(fig)
    return target
