"""nccom-test's output: the table (its columns and number formats) and the JSON report."""

from __future__ import annotations

import json
import statistics
from collections.abc import Callable
from typing import Any

from neuronsim.collectives.nccom.options import GB, NccomRow

__all__ = ["render_table", "rows_json"]


def _stat_text(name: str, value: float) -> str:
    """``avg`` as nccom-test prints it (rounded to 2 decimals, shortest form: 10.0, 6.16); a percentile
    as whole microseconds (A95)."""
    return repr(round(value, 2)) if name == "avg" else str(round(value))


def render_table(rows: list[NccomRow], *, show_algorithm: bool = False, show_io: bool = False,
                 stats: list[str] | None = None) -> str:
    """nccom-test's table for one stream and its ``Avg bus bandwidth`` line: columns right-aligned to the
    wider of name and values, four spaces apart; a size whose --check failed prints its size and the
    failure instead of figures."""
    stats = stats or ["avg"]
    columns: list[tuple[str, Callable[[NccomRow], str]]] = [("size(B)", lambda r: str(r.size)),
                                                            ("count(elems)", lambda r: str(r.count))]
    if show_io:
        columns += [("total_input_size(B)", lambda r: str(r.total_input_size)),
                    ("total_output_size(B)", lambda r: str(r.total_output_size))]
    columns.append(("type", lambda r: r.dtype))

    def stat_column(s: str) -> Callable[[NccomRow], str]:
        return lambda r: _stat_text(s, r.stat(s))

    columns += [(f"time:{s}(us)", stat_column(s)) for s in stats]
    columns += [("algbw(GB/s)", lambda r: f"{r.algbw:.2f}"), ("busbw(GB/s)", lambda r: f"{r.busbw:.2f}")]
    if show_algorithm:
        columns.append(("algorithm", lambda r: r.algorithm))
    good = [row for row in rows if not row.error]
    cells = [[fn(row) for _, fn in columns] for row in good]
    widths = [max([len(name)] + [len(c[i]) for c in cells]) for i, (name, _) in enumerate(columns)]
    lines = ["    ".join(name.rjust(w) for (name, _), w in zip(columns, widths, strict=True))]
    filled = iter(cells)
    for row in rows:
        if row.error:
            what = "Check failed" if row.checked else "Failure"
            lines.append(f"{str(row.size).rjust(widths[0])}    {what}: {row.error}")
        else:
            lines.append("    ".join(c.rjust(w) for c, w in zip(next(filled), widths, strict=True)))
    average = statistics.fmean(r.busbw for r in good) if good else 0.0
    lines.append(f"Avg bus bandwidth:\t{average:.4f}GB/s")
    errors = sum(1 for r in rows if r.error)
    if errors:
        lines.append(f"{errors} errors found - test failed")
    return "\n".join(lines) + "\n"


def rows_json(streams: list[list[NccomRow]], *, show_algorithm: bool = False, show_io: bool = False,
              stats: list[str] | None = None) -> str:
    """The ``--report-to-json-file`` document: ``{"results": [...]}`` with the documented keys
    (``size(B)``, ``count(elems)``, ``type``, ``algbw(GB/s)``, ``busbw(GB/s)``, ``time:avg(us)``), plus one
    key per other statistic, the algorithm, the per-rank sizes, the stream and a failed check where they
    apply. Bandwidths are full precision; times as printed for ``avg`` (2 decimals)."""
    stats = stats or ["avg"]
    results = []
    for index, rows in enumerate(streams):
        for row in rows:
            item: dict[str, Any] = {"size(B)": row.size, "count(elems)": row.count}
            if show_io:
                item["total_input_size(B)"] = row.total_input_size
                item["total_output_size(B)"] = row.total_output_size
            item.update({"type": row.dtype, "algbw(GB/s)": row.algbw, "busbw(GB/s)": row.busbw})
            for s in stats:
                value = row.stat(s)
                item[f"time:{s}(us)"] = round(value, 2) if s == "avg" else round(value)
            if show_algorithm:
                item["algorithm"] = row.algorithm
            if len(streams) > 1:
                item["stream"] = index
            if row.error:
                item["check"] = row.error
            results.append(item)
    return json.dumps({"results": results}, indent=4) + "\n"
