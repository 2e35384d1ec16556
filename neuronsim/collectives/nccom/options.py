"""nccom-test's vocabulary: the operations and data types it takes, its sizes, bus factors and limits,
the instance it is assumed to run on, a benchmark (:class:`Bench`) and a row of its table (:class:`NccomRow`)."""

from __future__ import annotations

import math
import re
import statistics
from collections.abc import Callable
from dataclasses import dataclass

from neuronsim.collectives.data import VariableCounts
from neuronsim.errors import ConfigError
from neuronsim.nrt import nrt_cc_op_type_t, nrt_dtype_t

__all__ = ["OPS", "BUS_FACTORS", "DTYPES", "GB", "CHECK_LIMIT_BYTES", "MAX_RANK_OPERATIONS",
           "VARIABLE_ALIGN_BYTES", "CHECK_MODES", "parse_size", "bus_factor", "sizes_for", "default_instance",
           "Bench", "NccomRow"]


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
