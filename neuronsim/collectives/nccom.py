"""``neuronsim nccom-test``: nccom-test's interface over simulated collectives.

For each message size, every rank schedules the collective (``nrta_cc_prepare`` + ``nrta_cc_schedule``)
``-w`` warm-up times and ``-n`` measured times; an operation's time runs from the moment the last rank
reached it to the moment the last rank finished. The table has nccom-test's columns; ``algbw`` is
size / time and ``busbw`` is algbw times the documented bus factor (all-reduce 2(r-1)/r; all-gather,
reduce-scatter, all-to-all (r-1)/r; permute 1), both in GiB/s as the nccom-test documentation
defines them (reference/hardware.md §8.4).
"""

from __future__ import annotations

import json
import re
import statistics
from dataclasses import asdict, dataclass
from typing import Any

import numpy as np

from neuronsim.collectives.data import ELEMENT, collective_outputs
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

__all__ = ["NccomRow", "run_nccom", "render_table", "parse_size", "OPS", "DTYPES", "bus_factor"]

OPS = {"allr": nrt_cc_op_type_t.NRT_CC_ALLREDUCE, "allg": nrt_cc_op_type_t.NRT_CC_ALLGATHER,
       "redsct": nrt_cc_op_type_t.NRT_CC_REDUCESCATTER, "alltoall": nrt_cc_op_type_t.NRT_CC_ALLTOALL,
       "permute": nrt_cc_op_type_t.NRT_CC_PERMUTE}
DTYPES = {"fp32": nrt_dtype_t.NRT_DTYPE_FLOAT32, "fp16": nrt_dtype_t.NRT_DTYPE_FLOAT16,
          "bf16": nrt_dtype_t.NRT_DTYPE_BFLOAT16, "uint8": nrt_dtype_t.NRT_DTYPE_UINT8,
          "int8": nrt_dtype_t.NRT_DTYPE_INT8, "uint16": nrt_dtype_t.NRT_DTYPE_UINT16,
          "int16": nrt_dtype_t.NRT_DTYPE_INT16, "uint32": nrt_dtype_t.NRT_DTYPE_UINT32,
          "int32": nrt_dtype_t.NRT_DTYPE_INT32, "uint64": nrt_dtype_t.NRT_DTYPE_UINT64,
          "int64": nrt_dtype_t.NRT_DTYPE_INT64, "fp8e4": nrt_dtype_t.NRT_DTYPE_FP8_E4,
          "fp8e5": nrt_dtype_t.NRT_DTYPE_FP8_E5}
_SIZE = re.compile(r"^\s*(\d+)\s*([kmg]?b?)\s*$", re.I)
GiB = float(1 << 30)
CHECK_LIMIT_BYTES = 4 << 30


def parse_size(text: str) -> int:
    """nccom-test sizes: ``4``, ``1kb``, ``512KB``, ``32mb``, ``1gb`` (binary multiples, as its tables show)."""
    match = _SIZE.match(str(text))
    if not match:
        raise ConfigError("nccom-test", f"{text!r} is not a size (e.g. 4, 1kb, 32mb, 1gb)")
    number, unit = int(match.group(1)), match.group(2).lower().rstrip("b")
    return number << {"": 0, "k": 10, "m": 20, "g": 30}[unit]


def bus_factor(op: str, ranks: int) -> float:
    if op == "allr":
        return 2 * (ranks - 1) / ranks
    if op == "permute":
        return 1.0
    return (ranks - 1) / ranks


@dataclass
class NccomRow:
    size: int
    count: int
    dtype: str
    time_avg_us: float
    algbw: float
    busbw: float
    algorithm: str
    total_input_size: int
    total_output_size: int
    time_p50_us: float
    time_p90_us: float
    time_p99_us: float
    check: str


def _sizes_for(op: str, size: int, ranks: int) -> tuple[int, int]:
    """(input bytes, output bytes) per rank for a message of ``size``."""
    if op == "allg":
        return size // ranks, size
    if op == "redsct":
        return size, size // ranks
    return size, size


def _pattern(rank: int, nbytes: int, element: np.dtype) -> bytes:
    count = nbytes // element.itemsize
    values = (np.arange(count) % 7 + rank + 1).astype(element)
    return values.tobytes()


def run_nccom(op: str, *, instance: str = "trn1.32xlarge", ranks: int = 2, nodes: int = 1, sizes: list[int],
              dtype: str = "uint8", iterations: int = 20, warmup: int = 5, lnc: int | None = None,
              algorithm: str | None = None, fidelity: str = "step", check: bool = False,
              launch_ns: int | None = None, seed: int = 0) -> list[NccomRow]:
    """Run nccom-test's measurement on a simulated instance; one row per size."""
    from neuronsim.simulator import Simulator

    if op not in OPS:
        raise ConfigError("nccom-test", f"unknown operation {op!r}; known: {', '.join(OPS)}")
    if dtype not in DTYPES:
        raise ConfigError("nccom-test", f"unknown data type {dtype!r}; known: {', '.join(DTYPES)}", field="-d")
    if nodes < 1:
        raise ConfigError("nccom-test", f"need at least one node, not {nodes}", field="-N")
    from neuronsim.topology import load_spec
    from neuronsim.topology.spec import ClusterSpec

    spec = load_spec(instance)
    if nodes > 1 and not isinstance(spec, ClusterSpec):
        instance = f"{nodes}x {instance}"
    elif isinstance(spec, ClusterSpec) and nodes not in (1, spec.count):
        raise ConfigError("nccom-test", f"{spec.name} has {spec.count} instances, not {nodes}", field="-N")
    sim = Simulator(instance, lnc=lnc, seed=seed, timing_only=not check)
    nodes = sim.topology.num_instances
    per_node_total = len(sim.topology.logical_cores)
    if ranks % nodes or not 1 <= ranks // nodes <= per_node_total:
        raise ConfigError("nccom-test", f"{ranks} ranks do not fit {nodes} x {sim.topology.spec.name} "
                          f"({per_node_total} logical cores each, the same number of ranks on every node)",
                          field="-r")
    per_node = ranks // nodes
    if check:
        needed = max(sum(_sizes_for(op, size, ranks)) for size in sizes) * ranks * 3  # inputs, outputs, reference
        if needed > CHECK_LIMIT_BYTES:
            raise ConfigError("nccom-test", f"--check keeps every rank's bytes in host memory: {ranks} ranks at "
                              f"{max(sizes)} bytes need about {needed / 2**30:.1f} GiB (limit "
                              f"{CHECK_LIMIT_BYTES // 2**30} GiB); check smaller sizes", field="--check")
    sim.collectives.fidelity = fidelity
    sim.collectives.algorithm = algorithm
    if launch_ns is not None:
        sim.collectives.launch_ns = launch_ns
    runtimes = []
    for node in range(nodes):
        node_rt = sim.runtime(env={"NEURON_RT_VISIBLE_CORES": f"0-{per_node - 1}"}, instance=node)
        if node_rt.nrt_init(1, "", "") != NRT_STATUS.NRT_SUCCESS:
            raise ConfigError("nccom-test", "nrt_init failed")
        runtimes.append(node_rt)
    # global rank g runs on node g // per_node, core g % per_node
    where = [(runtimes[g // per_node], g % per_node) for g in range(ranks)]
    for g, (node_rt, vnc) in enumerate(where):
        node_rt.nrt_cc_global_comm_init(vnc, g, ranks)
    code = DTYPES[dtype]
    itemsize, element = ELEMENT[code]
    cc_op = OPS[op]
    reduce_op = nrt_op_type_t.NRT_OP_ADD
    rows = []
    for size in sizes:
        size = max(size - size % (itemsize * ranks), itemsize * ranks) if op in ("allg", "redsct", "alltoall") \
            else max(size - size % itemsize, itemsize)
        in_bytes, out_bytes = _sizes_for(op, size, ranks)
        ins, outs = [], []
        for r in range(ranks):
            rt, vnc = where[r]
            i, o = Ref(), Ref()
            if rt.nrt_tensor_allocate(0, vnc, in_bytes, f"in{r}", i) or rt.nrt_tensor_allocate(0, vnc, out_bytes,
                                                                                               f"out{r}", o):
                raise ConfigError("nccom-test", f"not enough device memory for {size} bytes on {ranks} ranks")
            ins.append(i.value)
            outs.append(o.value)
        if check:
            for r in range(ranks):
                rt, vnc = where[r]
                rt.nrta_tensor_write(ins[r], _pattern(r, in_bytes, element), 0, in_bytes, vnc, 0, Ref(), Ref())
            sim.run_until_idle()
        times = []
        status_ok = True
        for it in range(warmup + iterations):
            rets = []
            for r in range(ranks):
                rt, vnc = where[r]
                comm = nrt_cc_comm_t(replica_group=list(range(ranks)), rank=r, rank_n=ranks, vnc=vnc)
                ctx, ret, seq = Ref(), Ref(), Ref()
                status = rt.nrta_cc_prepare(comm, nrt_tensor_list_t([ins[r]]), nrt_tensor_list_t([outs[r]]), code,
                                            reduce_op, cc_op, ctx)
                if status == NRT_STATUS.NRT_SUCCESS:
                    status = rt.nrta_cc_schedule(ctx, 0, ret, seq)
                if status != NRT_STATUS.NRT_SUCCESS:
                    raise ConfigError("nccom-test", f"scheduling {op} of {size} bytes failed: {status.name}")
                rets.append(ret)
            sim.run_until_idle()
            status_ok &= all(ret.value == NRT_STATUS.NRT_SUCCESS for ret in rets)
            if it >= warmup:
                times.append(sim.collectives.records[-1].duration_ns / 1000)
        verdict = ""
        if check:
            expected = collective_outputs({"allr": "allreduce", "allg": "allgather", "redsct": "reducescatter",
                                           "alltoall": "alltoall", "permute": "permute"}[op],
                                          [_pattern(r, in_bytes, element) for r in range(ranks)], code, reduce_op)
            got = []
            for r in range(ranks):
                rt, vnc = where[r]
                buf = np.zeros(out_bytes, dtype=np.uint8)
                rt.nrta_tensor_read(buf, outs[r], 0, out_bytes, vnc, 0, Ref(), Ref())
                got.append(buf)
            sim.run_until_idle()
            good = status_ok and all(g.tobytes() == e for g, e in zip(got, expected, strict=True))
            verdict = "OK" if good else "FAILED"
        for r in range(ranks):
            where[r][0].nrt_tensor_free(ins[r])
            where[r][0].nrt_tensor_free(outs[r])
        avg = statistics.fmean(times)
        algbw = size / (avg * 1e-6) / GiB
        quantiles = np.percentile(np.asarray(times), [50, 90, 99])
        rows.append(NccomRow(size, size // itemsize, dtype, avg, algbw, algbw * bus_factor(op, ranks),
                             sim.collectives.records[-1].algorithm, in_bytes * ranks if op != "allg" else in_bytes,
                             out_bytes, float(quantiles[0]), float(quantiles[1]), float(quantiles[2]), verdict))
    return rows


def render_table(rows: list[NccomRow], *, show_algorithm: bool = False, show_io: bool = False,
                 stats: bool = False, check: bool = False) -> str:
    """The nccom-test table (current format: ``time:avg(us)``) and its average bus bandwidth line."""
    columns: list[tuple[str, Any]] = [("size(B)", lambda r: str(r.size)), ("count(elems)", lambda r: str(r.count))]
    if show_io:
        columns += [("total_input_size(B)", lambda r: str(r.total_input_size)),
                    ("total_output_size(B)", lambda r: str(r.total_output_size))]
    columns += [("type", lambda r: r.dtype), ("time:avg(us)", lambda r: f"{r.time_avg_us:.2f}")]
    if stats:
        columns += [("time:p50(us)", lambda r: f"{r.time_p50_us:.2f}"), ("time:p90(us)", lambda r: f"{r.time_p90_us:.2f}"),
                    ("time:p99(us)", lambda r: f"{r.time_p99_us:.2f}")]
    columns += [("algbw(GB/s)", lambda r: f"{r.algbw:.2f}"), ("busbw(GB/s)", lambda r: f"{r.busbw:.2f}")]
    if show_algorithm:
        columns.append(("algorithm", lambda r: r.algorithm))
    if check:
        columns.append(("check", lambda r: r.check))
    cells = [[fn(row) for _, fn in columns] for row in rows]
    widths = [max([len(name)] + [len(c[i]) for c in cells]) for i, (name, _) in enumerate(columns)]
    lines = ["    ".join(name.rjust(w) for (name, _), w in zip(columns, widths, strict=True))]
    lines += ["    ".join(c.rjust(w) for c, w in zip(row, widths, strict=True)) for row in cells]
    average = statistics.fmean(r.busbw for r in rows) if rows else 0.0
    lines.append(f"Avg bus bandwidth:\t{average:.4f}GB/s")
    return "\n".join(lines) + "\n"


def rows_json(rows: list[NccomRow]) -> str:
    return json.dumps({"results": [asdict(r) for r in rows]}, indent=2)
