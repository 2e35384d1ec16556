"""What nccom-test reads besides its flags: replica groups, permute's source-target pairs and the
variable-size metadata (JSON files), the streams of ``--streams-json``, and data-parallel groups."""

from __future__ import annotations

import json
import math
from pathlib import Path
from typing import Any

from neuronsim.collectives.data import VariableCounts
from neuronsim.collectives.nccom.options import (
    DTYPES,
    OPS,
    VARIABLE_ALIGN_BYTES,
    Bench,
    parse_size,
    sizes_for,
)
from neuronsim.errors import ConfigError

__all__ = ["load_replica_groups", "check_partition", "load_pairs", "load_metadata", "load_streams",
           "data_parallel_groups"]


def _read_json(path: str | Path, what: str) -> Any:
    try:
        text = Path(path).read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise ConfigError(str(path), f"cannot read the {what} file: {exc}") from None
    try:
        return json.loads(text)
    except (json.JSONDecodeError, RecursionError) as exc:
        raise ConfigError(str(path), f"not JSON: {exc}") from None


def _int_list(value: Any, source: str, where: str) -> list[int]:
    if not isinstance(value, list) or not all(isinstance(v, int) and not isinstance(v, bool) for v in value):
        raise ConfigError(source, f"must be a list of integers, not {value!r}"[:200], field=where)
    return [int(v) for v in value]


def _single_set(data: Any, source: str, key: str) -> list[Any]:
    if not isinstance(data, dict) or key not in data:
        raise ConfigError(source, f"needs a {key!r} key", field=key)
    sets = data[key]
    if not isinstance(sets, list) or len(sets) != 1 or not isinstance(sets[0], list) or not sets[0]:
        raise ConfigError(source, "must hold exactly one non-empty list (A94)", field=key)
    return sets[0]


def load_replica_groups(path: str | Path, ranks: int) -> list[list[int]]:
    """``--custom-replica-groups``: ``{"replica_groups": [[[0, 1, ...], [..]]]}``, groups of one size that
    partition the ranks ``0 .. ranks - 1``."""
    source = str(path)
    groups = [_int_list(g, source, f"replica_groups[0][{i}]")
              for i, g in enumerate(_single_set(_read_json(path, "replica groups"), source, "replica_groups"))]
    check_partition(groups, ranks, source)
    return groups


def check_partition(groups: list[list[int]], ranks: int, source: str) -> None:
    seen = sorted(r for g in groups for r in g)
    if seen != list(range(ranks)):
        missing = sorted(set(range(ranks)) - set(seen))
        extra = sorted({r for r in seen if seen.count(r) > 1 or not 0 <= r < ranks})
        raise ConfigError(source, f"the replica groups do not partition ranks 0..{ranks - 1}"
                          + (f": missing {missing[:8]}" if missing else "")
                          + (f": repeated or out of range {extra[:8]}" if extra else ""), field="replica_groups")
    if len({len(g) for g in groups}) != 1 or len(groups[0]) < 1:
        raise ConfigError(source, f"replica groups must have one size, not {sorted({len(g) for g in groups})}",
                          field="replica_groups")


def load_pairs(path: str | Path, ranks: int) -> tuple[tuple[int, int], ...]:
    """``--custom-src-target-pairs``: ``{"src_target_pairs": [[[src, target], ...]]}`` over ranks
    ``0 .. ranks - 1`` (of each replica group), each rank a source and a target at most once."""
    source = str(path)
    pairs = []
    for i, pair in enumerate(_single_set(_read_json(path, "source-target pairs"), source, "src_target_pairs")):
        values = _int_list(pair, source, f"src_target_pairs[0][{i}]")
        if len(values) != 2 or not all(0 <= v < ranks for v in values):
            raise ConfigError(source, f"{values} is not a [source, target] pair of ranks 0..{ranks - 1}",
                              field=f"src_target_pairs[0][{i}]")
        pairs.append((values[0], values[1]))
    for index, what in ((0, "source"), (1, "target")):
        seen = [p[index] for p in pairs]
        for rank in seen:
            if seen.count(rank) > 1:
                raise ConfigError(source, f"rank {rank} is a {what} more than once", field="src_target_pairs")
    return tuple(pairs)


def load_metadata(path: str | Path, op: str, ranks: int) -> list[VariableCounts]:
    """``--variable-size-op-metadata``: ``{"metadata": [{"send_counts": [...], "send_displs": [...],
    "recv_counts": [...], "recv_displs": [...]}, ...]}``, one entry for every rank or one per rank, in
    elements. Empty receive lists are derived from the senders; given ones must match them."""
    source = str(path)
    data = _read_json(path, "variable-size metadata")
    entries = data.get("metadata") if isinstance(data, dict) else None
    if not isinstance(entries, list) or len(entries) not in (1, ranks):
        raise ConfigError(source, f"needs a list of 1 or {ranks} entries (one per rank)", field="metadata")
    sends = 1 if op == "allgatherv" else ranks
    raw = []
    for i, entry in enumerate(entries):
        if not isinstance(entry, dict):
            raise ConfigError(source, "must be an object", field=f"metadata[{i}]")
        unknown = set(entry) - {"send_counts", "send_displs", "recv_counts", "recv_displs"}
        if unknown:
            raise ConfigError(source, f"unknown field {sorted(unknown)[0]!r}", field=f"metadata[{i}]")
        lists = {k: _int_list(entry.get(k, []), source, f"metadata[{i}].{k}")
                 for k in ("send_counts", "send_displs", "recv_counts", "recv_displs")}
        for key in ("send_counts", "send_displs"):
            if len(lists[key]) != sends:
                raise ConfigError(source, f"has {len(lists[key])} entries; {op} over {ranks} ranks needs {sends}",
                                  field=f"metadata[{i}].{key}")
        for key in ("recv_counts", "recv_displs"):
            if lists[key] and len(lists[key]) != ranks:
                raise ConfigError(source, f"has {len(lists[key])} entries; {op} over {ranks} ranks needs {ranks} "
                                  "(or none, to derive them)", field=f"metadata[{i}].{key}")
        if any(v < 0 for key in lists for v in lists[key]):
            raise ConfigError(source, "counts and displacements cannot be negative", field=f"metadata[{i}]")
        raw.append(lists)
    per_rank = raw * ranks if len(raw) == 1 else raw
    layouts = []
    for j in range(ranks):
        sent = [per_rank[i]["send_counts"][0 if op == "allgatherv" else j] for i in range(ranks)]
        given = per_rank[j]["recv_counts"]
        if given and given != sent:
            i = next(k for k in range(ranks) if given[k] != sent[k])
            raise ConfigError(source, f"rank {j} expects {given[i]} elements from rank {i}, which sends {sent[i]}",
                              field=f"metadata[{0 if len(raw) == 1 else j}].recv_counts")
        displs = per_rank[j]["recv_displs"] or [sum(sent[:i]) for i in range(ranks)]
        layouts.append(VariableCounts(per_rank[j]["send_counts"], per_rank[j]["send_displs"], sent, displs))
    return layouts


def _scaled(layouts: list[VariableCounts], op: str, size: int, itemsize: int) -> list[VariableCounts]:
    """The metadata's layouts scaled so that the size (all-gather-v: the gathered output; all-to-all-v:
    rank 0's sends) is ``size`` bytes: counts and displacements keep their proportions, in blocks of a
    multiple of ``VARIABLE_ALIGN_BYTES`` (A91). The metadata's own total is used as it stands."""
    first = layouts[0]
    total = sum(first.recv_counts) if op == "allgatherv" else sum(first.send_counts)
    elements = max(1, size // itemsize)
    if total == elements or total == 0:
        return layouts
    values = [v for lay in layouts for v in (*lay.send_counts, *lay.send_displs, *lay.recv_counts, *lay.recv_displs)]
    unit_in = math.gcd(*values) or 1
    parts = total // unit_in
    align = max(1, VARIABLE_ALIGN_BYTES // itemsize)
    unit = -(-elements // parts)
    unit = -(-unit // align) * align

    def scale(values: tuple[int, ...]) -> list[int]:
        return [v // unit_in * unit for v in values]

    return [VariableCounts(scale(lay.send_counts), scale(lay.send_displs), scale(lay.recv_counts),
                           scale(lay.recv_displs)) for lay in layouts]



_STREAM_KEYS = {"operation", "datatype", "minbytes", "maxbytes", "stepbytes", "stepfactor", "ops_per_iter",
                "custom_replica_groups", "custom_src_target_pairs", "variable_size_op_metadata",
                "data_parallel_dimension"}
#: Collective operation flags a stream may carry that change nothing in simulation (as on the CLI).
_STREAM_NO_EFFECT = {"unique_buff", "shared_output_buff", "coalesced_cc_size_ratio", "sb2sb", "input_shape",
                     "output_shape", "cc_dim"}


def _resolve(name: str, base: Path) -> Path:
    path = Path(name)
    return path if path.is_absolute() or path.exists() else base / path


def load_streams(path: str | Path, defaults: dict[str, Any], ranks: int) -> list[Bench]:
    """``--streams-json``: ``{"streams": [{...}, ...]}``; stream ``i`` is entry ``i``, whose keys are the
    long CLI flags with ``_`` for ``-`` (``operation``, ``datatype``, ``minbytes``, ...) plus
    ``ops_per_iter``; what an entry leaves out comes from the command line (``defaults``: the same keys).
    Files named inside are found beside the current directory or, failing that, beside the JSON."""
    source = str(path)
    data = _read_json(path, "streams")
    streams = data.get("streams") if isinstance(data, dict) else None
    if not isinstance(streams, list) or not streams:
        raise ConfigError(source, "needs a non-empty list of operations", field="streams")
    base = Path(path).parent
    benches = []
    for i, entry in enumerate(streams):
        where = f"streams[{i}]"
        if not isinstance(entry, dict):
            raise ConfigError(source, "must be an object", field=where)
        unknown = set(entry) - _STREAM_KEYS - _STREAM_NO_EFFECT
        if unknown:
            raise ConfigError(source, f"unknown key {sorted(unknown)[0]!r}; known: {', '.join(sorted(_STREAM_KEYS))}",
                              field=where)
        merged = {**defaults, **{k: v for k, v in entry.items() if k in _STREAM_KEYS}}
        try:
            op = str(merged["operation"])
            if op not in OPS:
                raise ConfigError(source, f"unknown operation {op!r}", field=f"{where}.operation")
            low = parse_size(str(merged["minbytes"]), f"{where}.minbytes")
            high = parse_size(str(merged["maxbytes"]), f"{where}.maxbytes") if merged.get("maxbytes") is not None \
                else max(low, parse_size("32M"))
            factor = merged.get("stepfactor")
            step = merged.get("stepbytes")
            sizes = sizes_for(low, high, parse_size(str(factor), f"{where}.stepfactor") if factor is not None
                              else None, parse_size(str(step), f"{where}.stepbytes") if step is not None else None)
        except ConfigError as exc:
            field = exc.issues[0].field.lstrip("-")
            raise ConfigError(source, exc.issues[0].reason,  # a field raised above already names the stream
                              field=field if field.startswith(where) else f"{where}.{field}") from None
        ops_per_iter = merged.get("ops_per_iter", 1)
        if isinstance(ops_per_iter, bool) or not isinstance(ops_per_iter, int) or ops_per_iter < 1:
            raise ConfigError(source, f"must be an integer >= 1, not {ops_per_iter!r}", field=f"{where}.ops_per_iter")
        datatype = merged.get("datatype", "uint8")
        if datatype not in DTYPES:
            raise ConfigError(source, f"unknown data type {datatype!r}", field=f"{where}.datatype")
        operation = OPS[op]
        groups = None
        if merged.get("custom_replica_groups"):
            groups = load_replica_groups(_resolve(str(merged["custom_replica_groups"]), base), ranks)
        elif merged.get("data_parallel_dimension"):
            groups = data_parallel_groups(int(merged["data_parallel_dimension"]), ranks)
        n = len(groups[0]) if groups else ranks
        pairs = load_pairs(_resolve(str(merged["custom_src_target_pairs"]), base), n) \
            if merged.get("custom_src_target_pairs") else None
        metadata = load_metadata(_resolve(str(merged["variable_size_op_metadata"]), base), operation, n) \
            if merged.get("variable_size_op_metadata") and operation in ("allgatherv", "alltoallv") else None
        benches.append(Bench(op, datatype, sizes, groups, pairs, metadata, ops_per_iter))
    return benches


def data_parallel_groups(dimension: int, ranks: int) -> list[list[int]]:
    """``--data-parallel-dimension d``: ``ranks / d`` groups of ``d`` ranks running at once, each taking
    one rank of every block of ``ranks / d`` consecutive ranks (one rank per node when ``d`` is the node
    count, as the documentation intends it)."""
    if dimension < 1 or ranks % dimension:
        raise ConfigError("nccom-test", f"{dimension} does not divide {ranks} ranks", field="--data-parallel-dimension")
    stride = ranks // dimension
    return [[i + k * stride for k in range(dimension)] for i in range(stride)]
