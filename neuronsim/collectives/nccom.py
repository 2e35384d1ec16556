"""``neuronsim nccom-test``: nccom-test's interface over simulated collectives.

Every rank of a benchmark is a logical core of the simulated instance(s) (``-r`` ranks spread evenly
over ``-N`` nodes). For each message size, every rank schedules each operation (``nrta_cc_prepare`` +
``nrta_cc_schedule``) ``-w`` warm-up times and ``-n`` measured times (``-W`` and ``-I`` repeat that as
nccom-test repeats its NEFF). An operation's time runs from the moment the last rank of its replica
group reached it to the moment the last rank finished; several replica groups running one operation
at once take the longest of them. The table has nccom-test's columns and number formats
(``tools/neuron-sys-tools/nccom-test.rst``): ``algbw`` is ``size / time`` and ``busbw`` is ``algbw``
times the documented bus factor of the operation (:data:`BUS_FACTORS`), both in decimal GB/s as every
table the current tool prints computes them (docs/assumptions.md A90).

Streams (``--streams-json``) run side by side, one Collectives queue each, and print a table each.
"""

from __future__ import annotations

import json
import math
import re
import statistics
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from neuronsim.topology.spec import COLLECTIVE_ERAS
from neuronsim.collectives.data import ELEMENT, VariableCounts
from neuronsim.errors import ConfigError
from neuronsim.nrt import (
    NRT_STATUS,
    Ref,
    nrt_cc_comm_t,
    nrt_cc_op_type_t,
    nrt_dtype_t,
    nrt_op_type_t,
    nrt_tensor_list_t,
)

__all__ = ["NccomRow", "Bench", "run_nccom", "run_benches", "render_table", "rows_json", "parse_size", "sizes_for",
           "bus_factor", "default_instance", "load_replica_groups", "load_pairs", "load_metadata", "load_streams",
           "OPS", "DTYPES", "BUS_FACTORS"]

#: Every operation name nccom-test takes, to the operation it runs.
OPS = {"allr": "allreduce", "all_reduce": "allreduce", "allg": "allgather", "all_gather": "allgather",
       "allgv": "allgatherv", "all_gatherv": "allgatherv", "redsct": "reducescatter",
       "reduce_scatter": "reducescatter", "sendrecv": "sendrecv", "alltoall": "alltoall", "alltoallv": "alltoallv",
       "permute": "permute"}
_CC_OP = {"allreduce": nrt_cc_op_type_t.NRT_CC_ALLREDUCE, "allgather": nrt_cc_op_type_t.NRT_CC_ALLGATHER,
          "reducescatter": nrt_cc_op_type_t.NRT_CC_REDUCESCATTER, "alltoall": nrt_cc_op_type_t.NRT_CC_ALLTOALL,
          "permute": nrt_cc_op_type_t.NRT_CC_PERMUTE, "sendrecv": nrt_cc_op_type_t.NRT_CC_PERMUTE,
          "allgatherv": nrt_cc_op_type_t.NRT_CC_ALLGATHERV, "alltoallv": nrt_cc_op_type_t.NRT_CC_ALLTOALLV}
#: busbw / algbw per operation, for ``r`` ranks in a replica group (nccom-test.rst, "Bus Bandwidth Calculation").
BUS_FACTORS: dict[str, Callable[[int], float]] = {
    "allreduce": lambda r: 2 * (r - 1) / r, "allgather": lambda r: (r - 1) / r, "reducescatter": lambda r: (r - 1) / r,
    "alltoall": lambda r: (r - 1) / r, "alltoallv": lambda r: (r - 1) / r, "allgatherv": lambda r: (r - 1) / r,
    "sendrecv": lambda r: 1.0, "permute": lambda r: 1.0}
#: nccom-test's data types (``fp8`` is ``fp8e4``); int64, uint64 and fp8e5 are neuronsim's additions.
DTYPES = {"uint8": nrt_dtype_t.NRT_DTYPE_UINT8, "int8": nrt_dtype_t.NRT_DTYPE_INT8,
          "fp8": nrt_dtype_t.NRT_DTYPE_FP8_E4, "fp8e4": nrt_dtype_t.NRT_DTYPE_FP8_E4,
          "uint16": nrt_dtype_t.NRT_DTYPE_UINT16, "int16": nrt_dtype_t.NRT_DTYPE_INT16,
          "fp16": nrt_dtype_t.NRT_DTYPE_FLOAT16, "bf16": nrt_dtype_t.NRT_DTYPE_BFLOAT16,
          "uint32": nrt_dtype_t.NRT_DTYPE_UINT32, "int32": nrt_dtype_t.NRT_DTYPE_INT32,
          "fp32": nrt_dtype_t.NRT_DTYPE_FLOAT32, "uint64": nrt_dtype_t.NRT_DTYPE_UINT64,
          "int64": nrt_dtype_t.NRT_DTYPE_INT64, "fp8e5": nrt_dtype_t.NRT_DTYPE_FP8_E5}
_REDUCING = ("allreduce", "reducescatter")
_SIZE = re.compile(r"^\s*(\d+)\s*([kmg]?)(i?b?)\s*$", re.I)
GB = 1e9  # A90: the tables since release 2.24 compute GB/s in decimal units
CHECK_LIMIT_BYTES = 4 << 30
#: The most rank-operations (ranks x operations) one run simulates; more is refused up front (A93).
MAX_RANK_OPERATIONS = 1_000_000
VARIABLE_ALIGN_BYTES = 32  # A91: a scaled variable-size block is a multiple of this many bytes
CHECK_MODES = ("random", "all_ones")


def parse_size(text: str, what: str = "size") -> int:
    """nccom-test sizes: ``4``, ``1kb``, ``512KB``, ``32M``, ``1GB`` (binary multiples, as its tables show)."""
    match = _SIZE.match(str(text))
    if not match:
        raise ConfigError("nccom-test", f"{text!r} is not a size (e.g. 4, 1kb, 32M, 1GB)", field=what)
    number, unit = int(match.group(1)), match.group(2).lower()
    return number << {"": 0, "k": 10, "m": 20, "g": 30}[unit]


def bus_factor(op: str, ranks: int) -> float:
    """busbw / algbw of ``op`` (a name nccom-test takes, or the operation) over ``ranks`` ranks."""
    return BUS_FACTORS[OPS.get(op, op)](ranks)


def sizes_for(minbytes: int, maxbytes: int, stepfactor: int | None = None, stepbytes: int | None = None) -> list[int]:
    """The sizes nccom-test runs: from ``minbytes`` to ``maxbytes`` times ``stepfactor``, or plus
    ``stepbytes`` (default ``(max - min) / 10``, at least 1)."""
    if minbytes < 1:
        raise ConfigError("nccom-test", f"{minbytes} bytes: the smallest size must be at least 1 byte", field="-b")
    if maxbytes < minbytes:
        raise ConfigError("nccom-test", f"-e {maxbytes} is below -b {minbytes}", field="-e")
    if stepfactor is not None and stepbytes is not None:
        raise ConfigError("nccom-test", "give -f (a factor) or -i (an increment), not both", field="-f")
    sizes = [minbytes]
    if stepfactor is not None:
        if stepfactor < 2:
            raise ConfigError("nccom-test", f"-f {stepfactor} never grows the size; it must be at least 2", field="-f")
        while sizes[-1] * stepfactor <= maxbytes:
            sizes.append(sizes[-1] * stepfactor)
        return sizes
    step = stepbytes if stepbytes is not None else max(1, (maxbytes - minbytes) // 10)
    if step < 1:
        raise ConfigError("nccom-test", f"-i {step} never grows the size; it must be at least 1 byte", field="-i")
    count = (maxbytes - minbytes) // step + 1
    if count > 100_000:
        raise ConfigError("nccom-test", f"-b {minbytes} -e {maxbytes} -i {step} asks for {count} sizes "
                          "(at most 100000)", field="-i")
    return list(range(minbytes, maxbytes + 1, step))


def default_instance(op: str, ranks: int, nodes: int = 1) -> str:
    """The instance nccom-test is assumed to run on when ``--instance`` is not given (A92): trn1.32xlarge
    while its 32 cores hold the ranks of a node, trn2.48xlarge (64 logical cores at LNC=2) beyond that,
    and for all-gather-v, which the tool runs only inside one Trainium device (trn2's has 4 ranks)."""
    per_node = ranks // max(nodes, 1)
    if OPS.get(op, op) == "allgatherv" or per_node > 32:
        return "trn2.48xlarge"
    return "trn1.32xlarge"


# -- input files ------------------------------------------------------------------------------------


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


# -- benchmark description ------------------------------------------------------------------------------


@dataclass
class Bench:
    """One stream's operation: what it runs, on which sizes and replica groups."""

    op: str  # the name as given (allr, all_reduce, ...)
    dtype: str
    sizes: list[int]
    groups: list[list[int]] | None = None  # partition of the ranks; None: one group of every rank
    pairs: tuple[tuple[int, int], ...] | None = None  # permute: (source, target) ranks of each group
    metadata: list[VariableCounts] | None = None  # allgv / alltoallv: per group rank, as given
    ops_per_iter: int = 1

    @property
    def operation(self) -> str:
        return OPS[self.op]


@dataclass
class NccomRow:
    """One size of one stream: what nccom-test prints, and the per-operation times behind it."""

    size: int
    count: int
    dtype: str
    times_us: list[float]
    algbw: float  # GB/s
    busbw: float  # GB/s
    algorithm: str
    total_input_size: int  # bytes per rank
    total_output_size: int
    error: str = ""  # the --check failure, if any
    ranks: int = 0  # the replica group size busbw used
    checked: bool = False  # whether --check ran

    @property
    def check(self) -> str:
        """``OK`` or ``FAILED`` after --check, else ``""``."""
        return ("FAILED" if self.error else "OK") if self.checked else ""

    @property
    def time_avg_us(self) -> float:
        return statistics.fmean(self.times_us)

    def stat(self, name: str) -> float:
        """``avg`` or a percentile ``pNN`` of the operation times, in us (nearest rank, A95)."""
        if name == "avg":
            return self.time_avg_us
        ordered = sorted(self.times_us)
        q = float(name[1:])
        index = max(0, math.ceil(q / 100 * len(ordered)) - 1)
        return ordered[min(index, len(ordered) - 1)]


def _io_sizes(operation: str, size: int, ranks: int, counts: VariableCounts | None, itemsize: int) -> tuple[int, int]:
    """(input bytes, output bytes) per rank for a message of ``size`` (rank 0's, for the v-variants)."""
    if counts is not None:
        in_elements = max([d + c for c, d in zip(counts.send_counts, counts.send_displs, strict=True)] + [0])
        out_elements = max([d + c for c, d in zip(counts.recv_counts, counts.recv_displs, strict=True)] + [0])
        return in_elements * itemsize, out_elements * itemsize
    if operation == "allgather":
        return size // ranks, size
    if operation == "reducescatter":
        return size, size // ranks
    return size, size


def _round_size(operation: str, size: int, itemsize: int, ranks: int) -> int:
    unit = itemsize * ranks if operation in ("allgather", "reducescatter", "alltoall") else itemsize
    return max(size - size % unit, unit)


def _fill(mode: str, element: np.dtype, dtype: str, count: int, rng: np.random.Generator) -> np.ndarray:
    """A rank's input for --check: ones, or pseudo-random values whose sums are exact in the type (floats
    as small integers, A96; fp32 as uniform [0, 1), compared with a tolerance)."""
    if mode == "all_ones":
        one = {"bf16": 0x3F80, "fp8": 0x38, "fp8e4": 0x38, "fp8e5": 0x3C}.get(dtype, 1)
        return np.full(count, one, dtype=element)
    if dtype == "fp32":
        return rng.random(count, dtype=np.float32)
    if dtype == "fp16":
        return rng.integers(0, 4, count).astype(np.float16)
    if dtype == "bf16":
        return (rng.integers(0, 4, count).astype(np.float32).view(np.uint32) >> 16).astype(np.uint16)
    if element.kind in "iu" and dtype not in ("fp8", "fp8e4", "fp8e5"):
        info = np.iinfo(element)
        return rng.integers(info.min, info.max, count, dtype=element, endpoint=True)
    return rng.integers(0, 256, count, dtype=np.uint8)  # fp8: any byte; only moved, never reduced


def _as_values(arrays: list[np.ndarray], dtype: str) -> list[np.ndarray]:
    if dtype == "bf16":
        return [(a.astype(np.uint32) << 16).view(np.float32).astype(np.float64) for a in arrays]
    if dtype in ("fp32", "fp16"):
        return [a.astype(np.float64) for a in arrays]
    return arrays


def expected_outputs(operation: str, inputs: list[np.ndarray], dtype: str, counts: list[VariableCounts] | None,
                     pairs: tuple[tuple[int, int], ...] | None, out_elements: list[int]) -> list[np.ndarray]:
    """The golden output of every rank of a group (``out_elements`` each), computed here independently of
    the simulator (sums in float64 for floating types, wrapping in the element type for integers)."""
    n = len(inputs)
    element = inputs[0].dtype
    if operation in _REDUCING:
        values = _as_values(inputs, dtype)
        total = np.sum(np.stack(values), axis=0, dtype=values[0].dtype)
        if operation == "allreduce":
            return [total] * n
        chunk = total.size // n
        return [total[r * chunk:(r + 1) * chunk] for r in range(n)]
    if operation == "allgather":
        return [np.concatenate(inputs)] * n
    if operation == "alltoall":
        chunk = inputs[0].size // n
        return [np.concatenate([inputs[j][r * chunk:(r + 1) * chunk] for j in range(n)]) for r in range(n)]
    if operation in ("permute", "sendrecv"):
        table = pairs if pairs is not None else tuple((r, (r + 1) % n) for r in range(n))
        outs = [np.zeros(out_elements[r], dtype=element) for r in range(n)]
        for src, dst in table:
            outs[dst] = inputs[src].copy()
        return outs
    assert counts is not None
    outs = [np.zeros(out_elements[r], dtype=element) for r in range(n)]
    for dst in range(n):
        for src in range(n):
            k = 0 if operation == "allgatherv" else dst
            c, d = counts[src].send_counts[k], counts[src].send_displs[k]
            at = counts[dst].recv_displs[src]
            outs[dst][at:at + c] = inputs[src][d:d + c]
    return outs


def _compare(got: np.ndarray, want: np.ndarray, dtype: str, reduced: bool, ranks: int) -> int:
    """Index of the first element where ``got`` misses ``want`` (-1: none). Reduced floating-point
    results are compared with a tolerance, as nccom-test does; everything else bit for bit."""
    if reduced and dtype in ("fp32", "fp16", "bf16"):
        values = _as_values([got], dtype)[0]
        bad = ~np.isclose(values, want, rtol=1e-5 * ranks, atol=1e-6 * ranks)
    else:
        bad = got.view(np.uint8) != want.astype(got.dtype).view(np.uint8)
        if got.itemsize > 1:
            bad = bad.reshape(-1, got.itemsize).any(axis=1)
    hits = np.flatnonzero(bad)
    return int(hits[0]) if hits.size else -1


# -- the run --------------------------------------------------------------------------------------


@dataclass
class _Case:
    """One stream at one size: its tensors on every rank of every group."""

    bench: Bench
    index: int
    size: int
    itemsize: int
    element: np.dtype
    groups: list[list[int]]
    counts: list[VariableCounts] | None
    in_bytes: list[int] = field(default_factory=list)  # per global rank
    out_bytes: list[int] = field(default_factory=list)
    ins: list[Any] = field(default_factory=list)
    outs: list[Any] = field(default_factory=list)
    inputs: list[np.ndarray] = field(default_factory=list)
    times: list[float] = field(default_factory=list)
    algorithm: str = ""
    failed: str = ""
    checked: bool = False


def run_benches(benches: list[Bench], *, instance: str | None = None, ranks: int = 2, nodes: int = 1,
                iterations: int = 20, warmup: int = 5, neff_iters: int | None = None,
                neff_warmup: int | None = None, lnc: int | None = None, algorithm: str | None = None,
                fidelity: str = "step", check: bool | str = False, launch_ns: int | None = None,
                era: str | None = None, seed: int = 0, max_rank_operations: int = MAX_RANK_OPERATIONS,
                announce: Callable[[str], None] | None = None) -> list[list[NccomRow]]:
    """Run streams of operations side by side on a simulated cluster; one list of rows per stream.

    Stream ``i`` uses Collectives queue ``i`` (mod the queues per core). At step ``k`` stream ``i``
    runs its ``k``-th size (its last once it has no more). ``check`` (``True`` / ``"random"`` /
    ``"all_ones"``) fills the inputs and compares every rank's output with :func:`expected_outputs`.
    ``launch_ns`` replaces every collective's fixed software cost; ``era`` picks the software era of
    ``runtime.collective_cost`` (``"2023"`` or ``"2025"``). ``announce`` is called with what is simulated (e.g. ``2 x trn1.32xlarge``) once the arguments are
    checked, before the run. Raises ``ConfigError`` (the CLI's exit 2) for what the tool would refuse."""
    from neuronsim.simulator import Simulator
    from neuronsim.topology import load_spec
    from neuronsim.topology.spec import ClusterSpec

    check_mode = ("random" if check is True else check) or ""
    if check_mode and check_mode not in CHECK_MODES:
        raise ConfigError("nccom-test", f"--check takes {' or '.join(CHECK_MODES)}, not {check_mode!r}", field="--check")
    if nodes < 1:
        raise ConfigError("nccom-test", f"need at least one node, not {nodes}", field="-N")
    if ranks < 1:
        raise ConfigError("nccom-test", f"need at least one rank, not {ranks}", field="-r")
    if iterations < 1 or warmup < 0 or (neff_iters is not None and neff_iters < 1) or \
            (neff_warmup is not None and neff_warmup < 0):
        raise ConfigError("nccom-test", "need -n >= 1, -w >= 0, -I >= 1, -W >= 0", field="-n")
    for bench in benches:
        if bench.op not in OPS:
            raise ConfigError("nccom-test", f"unknown operation {bench.op!r}; known: {', '.join(OPS)}")
        if bench.dtype not in DTYPES:
            raise ConfigError("nccom-test", f"unknown data type {bench.dtype!r}; known: {', '.join(DTYPES)}",
                              field="-d")
        if bench.operation in _REDUCING and DTYPES[bench.dtype] in (nrt_dtype_t.NRT_DTYPE_FP8_E4,
                                                                     nrt_dtype_t.NRT_DTYPE_FP8_E5):
            raise ConfigError("nccom-test", f"{bench.op} cannot reduce {bench.dtype}: the runtime has no fp8 "
                              "reduction (A21)", field="-d")
        if bench.ops_per_iter < 1:
            raise ConfigError("nccom-test", f"ops_per_iter must be at least 1, not {bench.ops_per_iter}",
                              field="ops_per_iter")
        if bench.operation in ("allgatherv", "alltoallv") and bench.metadata is None:
            raise ConfigError("nccom-test", f"{bench.op} needs --variable-size-op-metadata FILE",
                              field="--variable-size-op-metadata")
        if bench.pairs is not None and bench.operation != "permute":
            raise ConfigError("nccom-test", f"--custom-src-target-pairs is for permute, not {bench.op}",
                              field="--custom-src-target-pairs")
        if not bench.sizes or min(bench.sizes) < 1:
            raise ConfigError("nccom-test", "every size must be at least 1 byte", field="-b")
    neff_runs = (neff_iters or 1) + (neff_warmup or 0)
    per_neff = iterations + warmup
    steps = max(len(b.sizes) for b in benches)
    rank_ops = steps * neff_runs * per_neff * sum(b.ops_per_iter for b in benches) * ranks
    if rank_ops > max_rank_operations:
        raise ConfigError("nccom-test", f"{steps} sizes x {neff_runs * per_neff} operations x {ranks} ranks is "
                          f"{rank_ops} rank-operations; neuronsim simulates each, and refuses more than "
                          f"{max_rank_operations} in one run (A93): lower -n, -w, -I, -W or the sizes", field="-n")

    instance = instance or default_instance(benches[0].op, ranks, nodes)
    spec = load_spec(instance)
    if isinstance(spec, ClusterSpec):
        if nodes not in (1, spec.count):
            raise ConfigError("nccom-test", f"{spec.name} has {spec.count} instances, not {nodes}", field="-N")
    elif nodes > 1:
        if spec.efa is None:
            raise ConfigError("nccom-test", f"{nodes} nodes of {spec.name}, which has no EFA: nccom-test runs on "
                              f"a single {spec.name.split('.')[0]} instance only", field="-N")
        instance = f"{nodes}x {instance}"
    sim = Simulator(instance, lnc=lnc, seed=seed, timing_only=not check_mode)
    nodes = sim.topology.num_instances
    per_node_total = len(sim.topology.logical_cores)
    if ranks % nodes or not 1 <= ranks // nodes <= per_node_total:
        raise ConfigError("nccom-test", f"{ranks} ranks do not fit {nodes} x {sim.topology.spec.name} "
                          f"({per_node_total} logical cores each, the same number of ranks on every node)",
                          field="-r")
    per_node = ranks // nodes
    sim.collectives.fidelity = fidelity
    sim.collectives.algorithm = algorithm
    if launch_ns is not None:
        sim.collectives.launch_ns = launch_ns
    if era is not None:
        if era not in COLLECTIVE_ERAS:
            raise ConfigError("nccom-test", f"unknown software era {era!r}: one of {', '.join(COLLECTIVE_ERAS)}",
                              field="era")
        sim.collectives.era = era
    queues = sim.topology.spec.runtime.queues.collectives
    runtimes = []
    for node in range(nodes):
        node_rt = sim.runtime(env={"NEURON_RT_VISIBLE_CORES": f"0-{per_node - 1}"}, instance=node)
        if node_rt.nrt_init(1, "", "") != NRT_STATUS.NRT_SUCCESS:
            raise ConfigError("nccom-test", "nrt_init failed")
        runtimes.append(node_rt)
    where = [(runtimes[g // per_node], g % per_node) for g in range(ranks)]  # global rank -> (process, core)
    for g, (node_rt, vnc) in enumerate(where):
        node_rt.nrt_cc_global_comm_init(vnc, g, ranks)
    for bench in benches:
        groups = bench.groups or [list(range(ranks))]
        check_partition(groups, ranks, bench.op)
        n = len(groups[0])
        if bench.pairs is not None and any(max(p) >= n for p in bench.pairs):
            raise ConfigError("nccom-test", f"the source-target pairs name ranks beyond a group of {n}",
                              field="--custom-src-target-pairs")
        if bench.metadata is not None and len(bench.metadata) != n:
            raise ConfigError("nccom-test", f"the metadata describes {len(bench.metadata)} ranks; the replica "
                              f"groups have {n}", field="--variable-size-op-metadata")
        if bench.operation == "allgatherv":
            for group in groups:
                chips = {where[g][0]._core(where[g][1]).device.global_index for g in group}  # noqa: SLF001
                if len(chips) > 1 or not sim.topology.spec.chip.name.lower().startswith("trainium"):
                    raise ConfigError("nccom-test", f"all_gatherv runs only on replica groups inside one Trainium "
                                      f"device; ranks {group[0]}..{group[-1]} span {len(chips)} devices of "
                                      f"{sim.topology.spec.name}", field="-r")

    if announce is not None:
        announce(f"{nodes} x {sim.topology.spec.name}" if nodes > 1 else sim.topology.spec.name)
    rng = np.random.default_rng(seed)
    rows: list[list[NccomRow]] = [[] for _ in benches]
    for step in range(steps):
        cases = [_prepare_case(bench, index, bench.sizes[min(step, len(bench.sizes) - 1)], ranks, where, check_mode,
                               rng, sim)
                 for index, bench in enumerate(benches)]
        for neff in range(neff_runs):
            for it in range(per_neff):
                measured = neff >= (neff_warmup or 0) and it >= warmup
                _iteration(sim, cases, where, queues, measured)
        for case in cases:
            if check_mode:
                case.failed = _verify(case, where, sim)
                case.checked = True
            for g in range(ranks):
                where[g][0].nrt_tensor_free(case.ins[g])
                where[g][0].nrt_tensor_free(case.outs[g])
            rows[case.index].append(_row(case))
    return rows


def _prepare_case(bench: Bench, index: int, size: int, ranks: int, where: list[tuple[Any, int]], check_mode: str,
                  rng: np.random.Generator, sim: Any) -> _Case:
    code = DTYPES[bench.dtype]
    itemsize, element = ELEMENT[code]
    groups = bench.groups or [list(range(ranks))]
    n = len(groups[0])
    counts = None
    if bench.metadata is not None:
        counts = _scaled(bench.metadata, bench.operation, size, itemsize)
        size = (sum(counts[0].recv_counts) if bench.operation == "allgatherv" else sum(counts[0].send_counts)) * itemsize
    else:
        size = _round_size(bench.operation, size, itemsize, n)
    case = _Case(bench, index, size, itemsize, element, groups, counts)
    case.in_bytes = [0] * ranks
    case.out_bytes = [0] * ranks
    case.ins = [None] * ranks
    case.outs = [None] * ranks
    case.inputs = [np.zeros(0, dtype=element)] * ranks
    for group in groups:
        for r, g in enumerate(group):
            in_b, out_b = _io_sizes(bench.operation, size, n, counts[r] if counts else None, itemsize)
            in_b, out_b = max(in_b, itemsize), max(out_b, itemsize)
            rt, vnc = where[g]
            i, o = Ref(), Ref()
            if rt.nrt_tensor_allocate(0, vnc, in_b, f"in{g}", i) or rt.nrt_tensor_allocate(0, vnc, out_b, f"out{g}", o):
                raise ConfigError("nccom-test", f"not enough device memory for {size} bytes on {ranks} ranks", field="-b")
            case.ins[g], case.outs[g], case.in_bytes[g], case.out_bytes[g] = i.value, o.value, in_b, out_b
    if check_mode:
        needed = sum(case.in_bytes) + 2 * sum(case.out_bytes)
        if needed > CHECK_LIMIT_BYTES:
            raise ConfigError("nccom-test", f"--check keeps every rank's bytes in host memory: {ranks} ranks at "
                              f"{size} bytes need about {needed / 2**30:.1f} GiB (limit "
                              f"{CHECK_LIMIT_BYTES // 2**30} GiB); check smaller sizes", field="--check")
        for g in range(ranks):
            data = _fill(check_mode, element, bench.dtype, case.in_bytes[g] // itemsize, rng)
            case.inputs[g] = data
            rt, vnc = where[g]
            rt.nrta_tensor_write(case.ins[g], data.tobytes(), 0, case.in_bytes[g], vnc, 0, Ref(), Ref())
        sim.run_until_idle()
    return case


def _iteration(sim: Any, cases: list[_Case], where: list[tuple[Any, int]], queues: int, measured: bool) -> None:
    """One iteration of every stream: each rank schedules its operations in one order (stream, operation,
    group); then the simulation runs until all are done."""
    first = len(sim.collectives.records)
    failures: list[tuple[_Case, Ref]] = []
    for case in cases:
        bench = case.bench
        code = DTYPES[bench.dtype]
        cc_op = _CC_OP[bench.operation]
        pairs = bench.pairs
        if bench.operation == "sendrecv":
            pairs = None
        for k in range(bench.ops_per_iter):
            for group in case.groups:
                for r, g in enumerate(group):
                    rt, vnc = where[g]
                    comm = nrt_cc_comm_t(replica_group=list(group), rank=r, rank_n=len(group), vnc=vnc)
                    ctx, ret, seq = Ref(), Ref(), Ref()
                    extra: dict[str, Any] = {}
                    if case.counts is not None:
                        extra["counts"] = case.counts[r]
                    if pairs is not None:
                        extra["pairs"] = pairs
                    status = rt.nrta_cc_prepare(comm, nrt_tensor_list_t([case.ins[g]]),
                                                nrt_tensor_list_t([case.outs[g]]), code, nrt_op_type_t.NRT_OP_ADD,
                                                cc_op, ctx, **extra)
                    if status != NRT_STATUS.NRT_SUCCESS:
                        raise ConfigError("nccom-test", f"{bench.op} of {case.size} bytes ({bench.dtype}) over "
                                          f"{len(group)} ranks: nrta_cc_prepare returned {status.name}", field=bench.op)
                    ctx.value.tag = (case.index, k)
                    queue = case.index % queues
                    while (status := rt.nrta_cc_schedule(ctx, queue, ret, seq)) == NRT_STATUS.NRT_QUEUE_FULL:
                        sim.run_until_idle()  # every earlier operation is scheduled on every rank: they finish
                    if status != NRT_STATUS.NRT_SUCCESS:
                        raise ConfigError("nccom-test", f"scheduling {bench.op} of {case.size} bytes failed: "
                                          f"{status.name}", field=bench.op)
                    failures.append((case, ret))
    sim.run_until_idle()
    for case, ret in failures:
        if ret.value != NRT_STATUS.NRT_SUCCESS and not case.failed:
            status = ret.value.name if isinstance(ret.value, NRT_STATUS) else ret.value
            case.failed = f"an operation completed with {status}"
    if not measured:
        return
    durations: dict[tuple[int, int], int] = {}
    for record in sim.collectives.records[first:]:
        if record.tag is not None:
            durations[record.tag] = max(durations.get(record.tag, 0), record.duration_ns)
            cases[record.tag[0]].algorithm = record.algorithm
    for case in cases:
        for k in range(case.bench.ops_per_iter):
            case.times.append(durations[(case.index, k)] / 1000)


def _verify(case: _Case, where: list[tuple[Any, int]], sim: Any) -> str:
    """Read every rank's output and compare it with the golden one; the first difference, or ''."""
    if case.failed:
        return case.failed
    got = []
    for g, (rt, vnc) in enumerate(where):
        buf = np.zeros(case.out_bytes[g], dtype=np.uint8)
        rt.nrta_tensor_read(buf, case.outs[g], 0, case.out_bytes[g], vnc, 0, Ref(), Ref())
        got.append(buf)
    sim.run_until_idle()
    operation = case.bench.operation
    for group in case.groups:
        n = len(group)
        inputs = [case.inputs[g] for g in group]
        golden = expected_outputs(operation, inputs, case.bench.dtype, case.counts, case.bench.pairs,
                                  [case.out_bytes[g] // case.itemsize for g in group])
        for r, g in enumerate(group):
            values = got[g].view(case.element)
            want = golden[r]
            if values.size != want.size:
                return f"rank {g} has {values.size} output elements, expected {want.size}"
            at = _compare(values, want, case.bench.dtype, operation in _REDUCING, n)
            if at >= 0:
                return f"rank {g} output element {at} is wrong"
    return ""


def _row(case: _Case) -> NccomRow:
    n = len(case.groups[0])
    times = case.times
    avg = statistics.fmean(times)
    algbw = case.size / (avg * 1e-6) / GB if avg > 0 else 0.0
    first = case.groups[0][0]
    return NccomRow(case.size, case.size // case.itemsize, case.bench.dtype, list(times), algbw,
                    algbw * bus_factor(case.bench.operation, n), case.algorithm, case.in_bytes[first],
                    case.out_bytes[first], case.failed, n, case.checked)


def run_nccom(op: str, *, instance: str | None = "trn1.32xlarge", ranks: int = 2, nodes: int = 1, sizes: list[int],
              dtype: str = "uint8", iterations: int = 20, warmup: int = 5, lnc: int | None = None,
              algorithm: str | None = None, fidelity: str = "step", check: bool | str = False,
              launch_ns: int | None = None, era: str | None = None, seed: int = 0, groups: list[list[int]] | None = None,
              pairs: tuple[tuple[int, int], ...] | None = None, metadata: list[VariableCounts] | None = None,
              **options: Any) -> list[NccomRow]:
    """Run nccom-test's measurement of one operation on a simulated instance; one row per size.

    ``op``: a name nccom-test takes (:data:`OPS`); ``sizes`` in bytes; ``instance=None`` picks
    :func:`default_instance`. ``groups``, ``pairs`` and ``metadata`` are the contents of
    ``--custom-replica-groups``, ``--custom-src-target-pairs`` and ``--variable-size-op-metadata``."""
    bench = Bench(op, dtype, list(sizes), groups, pairs, metadata)
    return run_benches([bench], instance=instance, ranks=ranks, nodes=nodes, iterations=iterations, warmup=warmup,
                       lnc=lnc, algorithm=algorithm, fidelity=fidelity, check=check, launch_ns=launch_ns,
                       era=era, seed=seed, **options)[0]


# -- output ---------------------------------------------------------------------------------------


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


# -- streams ----------------------------------------------------------------------------------------

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
            raise ConfigError(source, exc.issues[0].reason, field=f"{where}.{exc.issues[0].field.lstrip('-')}") \
                from None
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
