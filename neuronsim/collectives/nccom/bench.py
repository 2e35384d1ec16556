"""The benchmark run: every stream at every size on a simulated cluster, its operations scheduled
with ``nrta_cc_prepare`` + ``nrta_cc_schedule``, timed, checked, and made into rows."""

from __future__ import annotations

import statistics
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from neuronsim.collectives.data import ELEMENT, VariableCounts
from neuronsim.collectives.nccom.check import _compare, expected_outputs, _fill, _io_sizes, _round_size
from neuronsim.collectives.nccom.inputs import check_partition, _scaled
from neuronsim.collectives.nccom.options import (
    _CC_OP,
    CHECK_LIMIT_BYTES,
    CHECK_MODES,
    DTYPES,
    GB,
    MAX_RANK_OPERATIONS,
    OPS,
    _REDUCING,
    Bench,
    NccomRow,
    bus_factor,
    default_instance,
)
from neuronsim.errors import ConfigError
from neuronsim.nrt import (
    NRT_STATUS,
    Ref,
    nrt_cc_comm_t,
    nrt_dtype_t,
    nrt_op_type_t,
    nrt_tensor_list_t,
)
from neuronsim.topology.spec import COLLECTIVE_ERAS

__all__ = ["run_benches", "run_nccom"]


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
    for flag, value, least in (("-n", iterations, 1), ("-w", warmup, 0), ("-I", neff_iters, 1), ("-W", neff_warmup, 0)):
        if value is not None and value < least:  # the flag that is wrong, not always -n
            raise ConfigError("nccom-test", f"need {flag} >= {least}, not {value}", field=flag)
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
