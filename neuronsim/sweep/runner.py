"""Running a sweep: its points, one simulation per point, in a process pool or on a Dask cluster.

Each point is independent and deterministic for its seed: :func:`run_point` rebuilds the workload from
the base and the point's values, runs it and returns one row (the point, its parameters, the seed, the
metrics, ``error``: empty, or why the point failed, in which case the metrics are empty and the sweep
goes on, ``neuronsim_version``: the version that wrote the row, and ``key``). :func:`run_sweep` skips
the points whose rows are already in the output (the finished ones; failed points run again), runs the
rest with ``workers`` local processes or on Dask, writes the rows as they come (every few seconds,
atomically) and returns them all, in point order.

A row is reused only when its ``key`` is the point's: the SHA-256 of :func:`resolve`'s canonical JSON,
everything that determines the row (the workload with the point's values set, the instance and the
content of its topology, the seed, the run length, the metrics, the neuronsim version). Change any of
them (the base workload's model, a topology file, the sweep's seed or instance, neuronsim) and the
points it touches run again; rows that are no longer points of the sweep are dropped from the file.
"""

from __future__ import annotations

import csv
import hashlib
import itertools
import json
import os
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from neuronsim import version as _version
from neuronsim.errors import ConfigError
from neuronsim.extras import install_hint
from neuronsim.sweep.spec import SweepSpec, with_values

__all__ = ["Point", "points", "resolve", "point_key", "run_point", "run_sweep", "read_rows", "write_rows",
           "SweepResult", "VERSION_COLUMN"]

VERSION_COLUMN = "neuronsim_version"

WRITE_EVERY_S = 5.0


@dataclass(frozen=True)
class Point:
    """One simulation of a sweep: parameter values, a repetition and its seed."""

    index: int
    values: tuple[tuple[str, Any], ...]
    repetition: int
    seed: int

    @property
    def key(self) -> str:
        """The point's place in this sweep (its values and repetition); :func:`point_key` is what
        identifies its row across runs."""
        return json.dumps({"parameters": dict(self.values), "repetition": self.repetition}, sort_keys=True)


def points(spec: SweepSpec) -> list[Point]:
    """Every combination of the parameters' values (the first parameter varies slowest), each repeated."""
    names = list(spec.parameters)
    out: list[Point] = []
    for combination in itertools.product(*(spec.values(n) for n in names)):
        for repetition in range(spec.repetitions):
            out.append(Point(len(out), tuple(zip(names, combination, strict=True)), repetition,
                             spec.seed + repetition))
    return out


def _topology(instance: Any, cache: dict[str, Any]) -> Any:
    """The SHA-256 of the validated content of ``instance`` (a preset, ``Nx preset`` or a topology file)
    as canonical JSON: computed once per instance, not per point."""
    from neuronsim.topology import load_spec

    if not isinstance(instance, str):
        return None
    if instance not in cache:
        cache[instance] = point_key(load_spec(instance).model_dump(mode="json"))
    return cache[instance]


def resolve(spec: SweepSpec, base: dict[str, Any], source: str, point: Point,
            topologies: dict[str, Any] | None = None) -> dict[str, Any]:
    """Everything that determines ``point``'s row, as JSON data: ``neuronsim`` (the version),
    ``workload`` (the base with the point's values set), ``parameters`` (the values), ``repetition``,
    ``seed``, ``instance`` (the sweep's, else the workload's) and ``topology`` (the SHA-256 of that
    instance's validated content as canonical JSON, so an edited topology file or preset counts),
    ``until`` (the sweep's) and ``metrics``."""
    data = with_values(base, dict(point.values), source)
    instance = spec.instance if spec.instance is not None else data.get("instance")
    return {"neuronsim": _version.__version__, "workload": data, "parameters": dict(point.values),
            "repetition": point.repetition, "seed": point.seed, "instance": instance,
            "topology": _topology(instance, topologies if topologies is not None else {}), "until": spec.until,
            "metrics": list(spec.metrics)}


def point_key(resolved: dict[str, Any]) -> str:
    """The SHA-256 (hex) of ``resolved`` as canonical JSON (keys sorted, no spaces, UTF-8)."""
    text = json.dumps(resolved, sort_keys=True, separators=(",", ":"), ensure_ascii=False, default=str)
    return hashlib.sha256(text.encode()).hexdigest()


def _metric(figures: Any, path: str) -> Any:
    node = figures
    for part in path.split("."):
        if isinstance(node, list):
            if not part.isdigit() or int(part) >= len(node):
                return None
            node = node[int(part)]
        elif isinstance(node, dict):
            if part not in node:
                return None
            node = node[part]
        else:
            return None
    return node if isinstance(node, (int, float, str)) or node is None else json.dumps(node, sort_keys=True)


def run_point(task: dict[str, Any]) -> dict[str, Any]:
    """Run one point (a picklable ``task`` dict, see :func:`run_sweep`); returns its row."""
    from neuronsim.gctune import long_run_gc
    from neuronsim.workload.metrics import summary
    from neuronsim.workload.runner import run_workload
    from neuronsim.workload.spec import load_workload

    row: dict[str, Any] = {"point": task["index"], "repetition": task["repetition"], "seed": task["seed"]}
    row.update(task["values"])
    for metric in task["metrics"]:
        row[metric] = None
    try:
        data = with_values(task["base"], task["values"], task["source"])
        spec = load_workload(data, source=task["source"])
        with long_run_gc():  # fewer collector passes over the long-lived graph (A121), restored after
            figures = summary(run_workload(spec, instance=task["instance"], seed=task["seed"],
                                           until_ns=task["until"], source=task["source"]))
        for metric in task["metrics"]:
            row[metric] = _metric(figures, metric)
        row["error"] = ""
    except Exception as exc:  # noqa: BLE001 - a failed point is recorded and the sweep goes on
        row["error"] = f"{type(exc).__name__}: {exc}"
    row[VERSION_COLUMN] = task["version"]
    row["key"] = task["key"]
    return row


def _columns(spec: SweepSpec) -> list[str]:
    return ["point", "repetition", "seed", *spec.parameters, *spec.metrics, "error", VERSION_COLUMN, "key"]


def _normalise(rows: list[dict[str, Any]], columns: list[str]) -> list[dict[str, Any]]:
    """Rows with every column, a column holding strings and numbers made all strings (Parquet needs one type)."""
    out = [{c: row.get(c) for c in columns} for row in rows]
    for column in columns:
        kinds = {type(r[column]) for r in out if r[column] is not None}
        if str in kinds and len(kinds) > 1:
            for r in out:
                if r[column] is not None:
                    r[column] = str(r[column])
        elif kinds == {int, float}:
            for r in out:
                value = r[column]
                if value is not None:
                    r[column] = float(value)
    return out


def _has_pyarrow() -> bool:
    try:
        import pyarrow  # noqa: F401
    except ImportError:
        return False
    return True


def output_path(path: str | Path) -> Path:
    """Where results go: ``path``, or the same name with ``.csv`` when Parquet is asked for without pyarrow."""
    target = Path(path)
    if target.suffix == ".parquet" and not _has_pyarrow():
        return target.with_suffix(".csv")
    return target


def write_rows(path: Path, rows: list[dict[str, Any]], columns: list[str]) -> None:
    """Write ``rows`` as Parquet (``.parquet``) or CSV, atomically (a temporary file, then a rename)."""
    rows = _normalise(rows, columns)
    temporary = path.with_name(f".{path.name}.tmp")
    path.parent.mkdir(parents=True, exist_ok=True)
    if path.suffix == ".parquet":
        import pyarrow as pa
        import pyarrow.parquet as pq

        table = pa.Table.from_pylist(rows) if rows else pa.table({c: [] for c in columns})
        pq.write_table(table.select(columns) if rows else table, temporary)
    else:
        with open(temporary, "w", newline="", encoding="utf-8") as handle:
            writer = csv.DictWriter(handle, fieldnames=columns)
            writer.writeheader()
            writer.writerows(rows)
    os.replace(temporary, path)


def read_rows(path: Path) -> list[dict[str, Any]]:
    """The rows of an earlier run's output (none when it does not exist)."""
    if not path.is_file():
        return []
    if path.suffix == ".parquet":
        import pyarrow.parquet as pq

        try:
            table = pq.read_table(path)
        except Exception as exc:  # noqa: BLE001 - a damaged file is the user's to move aside
            raise ConfigError(str(path), f"cannot read the earlier results: {exc}") from None
        columns, rows = list(table.column_names), table.to_pylist()
    else:
        try:
            with open(path, newline="", encoding="utf-8") as handle:
                reader = csv.DictReader(handle)
                rows = list(reader)
                columns = list(reader.fieldnames or ())
        except (OSError, UnicodeDecodeError, csv.Error) as exc:
            raise ConfigError(str(path), f"cannot read the earlier results (move the file aside): {exc}") from None
    if "key" not in columns:  # another file of the same name: never overwrite it
        raise ConfigError(str(path), "is not the results of a sweep (it has no key column): move it aside or give "
                                     "--out another name")
    return rows


@dataclass
class SweepResult:
    rows: list[dict[str, Any]]
    ran: int
    skipped: int
    failed: int
    path: Path
    dropped: int = 0  # rows of the file that are no longer points of the sweep (a point changed, or went)


def run_sweep(spec: SweepSpec, base: dict[str, Any], source: str, out: str | Path, *, workers: int = 1,
              dask: str | None = None, progress: Callable[[int, int, str], None] | None = None) -> SweepResult:
    """Run the points of ``spec`` not already in ``out``; see the module docstring.

    Args:
        workers: local processes (or, with ``dask="local"``, workers of a local Dask cluster).
        dask: ``None`` (a local process pool), ``"local"`` (a Dask ``LocalCluster``) or a scheduler
            address (``tcp://host:8786``).
        progress: called as ``progress(done, total, "points")`` as points finish.
    """
    from neuronsim.workload.command import check_output

    if workers < 1:
        raise ConfigError("neuronsim sweep", f"must be >= 1, not {workers}", field="--workers")
    path = output_path(out)
    check_output(path, "neuronsim sweep", "--out")
    columns = _columns(spec)
    all_points = points(spec)
    topologies: dict[str, Any] = {}
    keys = {p.index: point_key(resolve(spec, base, source, p, topologies)) for p in all_points}
    order = {keys[p.index]: p.index for p in all_points}
    earlier = read_rows(path)
    rows = {r["key"]: r for r in earlier if r.get("key") in order and not r.get("error")}
    for key, row in rows.items():
        row["point"] = order[key]  # its place in this sweep (the values' order may have changed)
    todo = [p for p in all_points if keys[p.index] not in rows]
    tasks = [{"index": p.index, "values": dict(p.values), "repetition": p.repetition, "seed": p.seed,
              "key": keys[p.index], "base": base, "source": source, "metrics": list(spec.metrics),
              "instance": spec.instance, "until": spec.until, "version": _version.__version__} for p in todo]
    skipped = len(rows)
    dropped = sum(1 for r in earlier if r.get("key") not in order)
    last_write = time.monotonic()

    def ordered() -> list[dict[str, Any]]:
        return sorted(rows.values(), key=lambda r: order[r["key"]])

    def take(row: dict[str, Any]) -> None:
        nonlocal last_write
        rows[row["key"]] = row
        if progress is not None:
            progress(len(rows) - skipped, len(tasks), "points")
        if time.monotonic() - last_write >= WRITE_EVERY_S:
            write_rows(path, ordered(), columns)
            last_write = time.monotonic()

    if tasks:
        if dask is not None:
            _run_dask(tasks, dask, workers, take)
        elif workers == 1:
            for task in tasks:
                take(run_point(task))
        else:
            _run_pool(tasks, workers, take)
    result = ordered()
    write_rows(path, result, columns)
    return SweepResult(result, len(tasks), skipped, sum(1 for r in result if r.get("error")), path, dropped)


def _run_pool(tasks: list[dict[str, Any]], workers: int, take: Callable[[dict[str, Any]], None]) -> None:
    from concurrent.futures import ProcessPoolExecutor, as_completed

    with ProcessPoolExecutor(max_workers=workers) as pool:
        futures = [pool.submit(run_point, task) for task in tasks]
        for future in as_completed(futures):
            take(future.result())


def _run_dask(tasks: list[dict[str, Any]], address: str, workers: int, take: Callable[[dict[str, Any]], None]) -> None:
    try:
        from distributed import Client, LocalCluster, as_completed
    except ImportError:
        raise ConfigError("neuronsim sweep", f"--dask needs Dask, {install_hint('sweep')}",
                          field="--dask") from None
    cluster = None
    try:
        if address == "local":
            cluster = LocalCluster(n_workers=workers, threads_per_worker=1, processes=True, dashboard_address=None)
            client = Client(cluster)
        else:
            client = Client(address, timeout="10s")
    except OSError as exc:
        raise ConfigError("neuronsim sweep", f"cannot reach the Dask scheduler {address!r}: {exc}",
                          field="--dask") from None
    try:
        futures = client.map(run_point, tasks, pure=False)
        for future in as_completed(futures):
            take(future.result())
    finally:
        client.close()
        if cluster is not None:
            cluster.close()
