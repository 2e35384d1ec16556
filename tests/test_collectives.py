"""Collectives: real data for every operation, dtype and reduction; algorithm independence; the two
fidelity levels within 5 %; all-reduce = reduce-scatter + all-gather; monotone time; link accounting."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import neuronsim
from neuronsim import nrt
from neuronsim.collectives.algorithms import plan, select_algorithm
from neuronsim.collectives.engine import Fabric, StepRun
from neuronsim.collectives.nccom import run_nccom

OPS = {"allreduce": nrt.NRT_CC_ALLREDUCE, "allgather": nrt.NRT_CC_ALLGATHER,
       "reducescatter": nrt.NRT_CC_REDUCESCATTER, "alltoall": nrt.NRT_CC_ALLTOALL, "permute": nrt.NRT_CC_PERMUTE}
NP = {nrt.NRT_DTYPE_FLOAT32: np.float32, nrt.NRT_DTYPE_INT32: np.int32, nrt.NRT_DTYPE_FLOAT16: np.float16,
      nrt.NRT_DTYPE_UINT8: np.uint8, nrt.NRT_DTYPE_INT64: np.int64}


def collective(instance, ranks, operation, dtype, op, inputs, algorithm=None, fidelity="step"):
    """Run one collective on ``ranks`` cores with the given per-rank input arrays; returns outputs, record."""
    sim = neuronsim.Simulator(instance, record=True)
    sim.collectives.algorithm = algorithm
    sim.collectives.fidelity = fidelity
    rt = sim.runtime(env={"NEURON_RT_VISIBLE_CORES": f"0-{ranks - 1}"})
    assert rt.nrt_init(1, "", "") == nrt.NRT_SUCCESS
    n_in = inputs[0].nbytes
    n_out = {"allgather": n_in * ranks, "reducescatter": n_in // ranks}.get(operation, n_in)
    ins, outs, rets = [], [], []
    for r in range(ranks):
        assert rt.nrt_cc_global_comm_init(r, r, ranks) == nrt.NRT_SUCCESS
        i, o = nrt.Ref(), nrt.Ref()
        rt.nrt_tensor_allocate(0, r, n_in, f"in{r}", i)
        rt.nrt_tensor_allocate(0, r, n_out, f"out{r}", o)
        rt.nrta_tensor_write(i.value, inputs[r], 0, n_in, r, 0, nrt.Ref(), nrt.Ref())
        ins.append(i.value)
        outs.append(o.value)
    sim.run_until_idle()
    for r in range(ranks):
        comm = nrt.nrt_cc_comm_t(list(range(ranks)), r, ranks, vnc=r)
        ctx, ret = nrt.Ref(), nrt.Ref()
        assert rt.nrta_cc_prepare(comm, [ins[r]], [outs[r]], dtype, op, OPS[operation], ctx) == nrt.NRT_SUCCESS
        assert rt.nrta_cc_schedule(ctx, r % 3, ret, nrt.Ref()) == nrt.NRT_SUCCESS
        rets.append(ret)
    sim.run_until_idle()
    assert all(ret.value == nrt.NRT_SUCCESS for ret in rets)
    results = []
    for r in range(ranks):
        buf = np.zeros(n_out, np.uint8)
        rt.nrta_tensor_read(buf, outs[r], 0, n_out, r, 0, nrt.Ref(), nrt.Ref())
        results.append(buf)
    sim.run_until_idle()
    assert neuronsim.check_invariants(sim) == []
    return [b.view(inputs[0].dtype) for b in results], sim.collectives.records[-1], sim


def reference(operation, arrays, op):
    fn = {nrt.NRT_OP_ADD: np.add, nrt.NRT_OP_MAX: np.maximum, nrt.NRT_OP_MIN: np.minimum}[op]
    n = len(arrays)
    acc = arrays[0].copy()
    for a in arrays[1:]:
        acc = fn(acc, a).astype(arrays[0].dtype)
    if operation == "allreduce":
        return [acc] * n
    if operation == "allgather":
        return [np.concatenate(arrays)] * n
    if operation == "reducescatter":
        return list(np.split(acc, n))
    if operation == "alltoall":
        return [np.concatenate([np.split(a, n)[r] for a in arrays]) for r in range(n)]
    return [arrays[(r - 1) % n] for r in range(n)]


DATA_CASES = [(operation, dtype, op) for operation in OPS for dtype in NP
              for op in ((nrt.NRT_OP_ADD, nrt.NRT_OP_MAX, nrt.NRT_OP_MIN)
                         if operation in ("allreduce", "reducescatter") else (nrt.NRT_OP_ADD,))]


@pytest.mark.parametrize(("operation", "dtype", "op"), DATA_CASES)
def test_results_equal_numpy(operation, dtype, op):
    rng = np.random.default_rng(int(dtype) * 10 + int(op))
    arrays = [(rng.standard_normal(64) * 50).astype(NP[dtype]) for _ in range(4)]
    got, record, _ = collective("trn1.32xlarge", 4, operation, dtype, op, arrays)
    for g, want in zip(got, reference(operation, arrays, op), strict=True):
        np.testing.assert_array_equal(g, want)


def test_bfloat16_reduces_in_float32_and_rounds_to_nearest_even():
    values = [np.array([1.0, 2.5, -3.0, 1e3], np.float32) for _ in range(4)]
    bf16 = [(v.view(np.uint32) >> 16).astype(np.uint16) for v in values]
    got, _, _ = collective("trn1.2xlarge", 2, "allreduce", nrt.NRT_DTYPE_BFLOAT16, nrt.NRT_OP_ADD, bf16[:2])
    as_float = (got[0].astype(np.uint32) << 16).view(np.float32)
    np.testing.assert_array_equal(as_float, values[0] * 2)


@settings(max_examples=12)
@given(st.sampled_from(["allreduce", "allgather", "reducescatter"]), st.sampled_from([2, 4, 8]),
       st.sampled_from(["ring", "mesh", "rdh"]), st.integers(0, 2**16))
def test_results_do_not_depend_on_the_algorithm(operation, ranks, algorithm, seed):
    arrays = [np.random.default_rng(seed + r).integers(-1000, 1000, 8 * ranks).astype(np.int32)
              for r in range(ranks)]
    base, _, _ = collective("trn1.32xlarge", ranks, operation, nrt.NRT_DTYPE_INT32, nrt.NRT_OP_ADD, arrays, "ring")
    other, record, _ = collective("trn1.32xlarge", ranks, operation, nrt.NRT_DTYPE_INT32, nrt.NRT_OP_ADD, arrays,
                                  algorithm)
    assert record.algorithm == algorithm
    for a, b in zip(base, other, strict=True):
        np.testing.assert_array_equal(a, b)


def test_allreduce_equals_reducescatter_then_allgather():
    ranks = 8
    arrays = [np.random.default_rng(r).standard_normal(4096).astype(np.float32) for r in range(ranks)]
    ar, ar_record, _ = collective("trn1.32xlarge", ranks, "allreduce", nrt.NRT_DTYPE_FLOAT32, nrt.NRT_OP_ADD,
                                  arrays, "ring")
    rs, rs_record, _ = collective("trn1.32xlarge", ranks, "reducescatter", nrt.NRT_DTYPE_FLOAT32, nrt.NRT_OP_ADD,
                                  arrays, "ring")
    ag, ag_record, _ = collective("trn1.32xlarge", ranks, "allgather", nrt.NRT_DTYPE_FLOAT32, nrt.NRT_OP_ADD, rs,
                                  "ring")
    for a, b in zip(ar, ag, strict=True):
        np.testing.assert_array_equal(a, b)
    def work(record):  # the algorithm's time, without the fixed launch cost
        return max(record.ends_ns) - record.start_ns

    split = work(rs_record) + work(ag_record)
    assert abs(work(ar_record) - split) / split < 0.05


CASES = [("trn1.32xlarge", 2, "allr"), ("trn1.32xlarge", 32, "allg"), ("trn1.32xlarge", 32, "redsct"),
         ("trn2.48xlarge", 16, "allr"), ("trn2.48xlarge", 64, "allr"), ("inf2.48xlarge", 24, "allr"),
         ("trn1.32xlarge", 16, "alltoall"), ("trn1.32xlarge", 8, "permute")]


@pytest.mark.parametrize(("instance", "ranks", "op"), CASES)
def test_step_level_and_analytical_agree_within_5_percent(instance, ranks, op):
    sizes = [ranks * 4 * k for k in (256, 16384, 1 << 18)]
    for algorithm in (None, "ring", "mesh", "rdh", "kangaring"):
        if algorithm == "rdh" and ranks & (ranks - 1):
            continue
        step = run_nccom(op, instance=instance, ranks=ranks, sizes=sizes, dtype="fp32", iterations=1, warmup=0,
                         algorithm=algorithm, fidelity="step")
        fast = run_nccom(op, instance=instance, ranks=ranks, sizes=sizes, dtype="fp32", iterations=1, warmup=0,
                         algorithm=algorithm, fidelity="analytical")
        for a, b in zip(step, fast, strict=True):
            assert abs(b.time_avg_us - a.time_avg_us) / a.time_avg_us <= 0.05, (algorithm, a.size)


@pytest.mark.parametrize(("instance", "ranks", "op"), CASES[:5])
def test_time_is_monotone_in_message_size(instance, ranks, op):
    sizes = [ranks * 4 << k for k in range(0, 22, 3)]
    for algorithm in ("ring", "mesh"):
        rows = run_nccom(op, instance=instance, ranks=ranks, sizes=sizes, dtype="fp32", iterations=1, warmup=0,
                         algorithm=algorithm, fidelity="analytical")
        times = [r.time_avg_us for r in rows]
        assert times == sorted(times)


def test_bytes_on_every_link_are_accounted():
    """A ring all-gather on 8 devices of the torus: every link carries exactly the chunks routed over it."""
    sim = neuronsim.Simulator("trn1.32xlarge")
    cores = [sim.system.cores[2 * d] for d in range(16)]
    locations = [(c.device.index, c.local_index) for c in cores]
    phases = plan("allgather", "ring", locations, 16 * 4096, side=4)
    fabric = Fabric(sim.system)
    expected: dict = {}
    for phase in phases:
        for t in phase.transfers:
            for link in fabric.route(cores[t.src].device.index, cores[t.dst].device.index):
                expected[link.channel.name] = expected.get(link.channel.name, 0) + t.size * phase.repeat
    ends = {}
    StepRun(sim.env, fabric, cores, phases, 1500, lambda r, e: ends.__setitem__(r, e)).start(0)
    sim.run_until_idle()
    moved = {link.channel.name: link.channel.bytes_moved for link in sim.system.links.values()
             if link.channel.bytes_moved}
    assert moved == expected
    assert len(ends) == 16
    assert sum(moved.values()) == 16 * 15 * 4096  # snake order: every ring hop is one link


def test_selection_follows_the_documented_sweet_spots():
    # table F's labels (16 ranks): mesh to 128 KiB, RDH at 2 MiB, KangaRing at 32 MiB and above
    assert [select_algorithm("allreduce", 16, s, True) for s in (4, 131072, 2 << 20, 32 << 20, 512 << 20)] == \
        ["mesh", "mesh", "rdh", "kangaring", "kangaring"]
    assert select_algorithm("allreduce", 12, 32 << 20, False) == "ring"  # no power of two, no KangaRing
    assert select_algorithm("allgather", 32, 1 << 30, False) == "ring"
    assert select_algorithm("allgather", 32, 1 << 30, True) == "kangaring"  # its duplication serves AG and RS too


def test_kangaring_needs_every_rank_of_each_chip():
    arrays = [np.ones(1 << 16, np.float32) for _ in range(3)]
    _, record, _ = collective("trn2.48xlarge", 3, "allreduce", nrt.NRT_DTYPE_FLOAT32, nrt.NRT_OP_ADD, arrays,
                              "kangaring")
    assert record.algorithm == "ring"


def test_prepare_checks_its_arguments():
    sim = neuronsim.Simulator("trn1.32xlarge")
    rt = sim.runtime(env={"NEURON_RT_VISIBLE_CORES": "0-1"})
    rt.nrt_init(1, "", "")
    t = []
    for r in range(2):
        rt.nrt_cc_global_comm_init(r, r, 2)
        i, o = nrt.Ref(), nrt.Ref()
        rt.nrt_tensor_allocate(0, r, 64, "i", i)
        rt.nrt_tensor_allocate(0, r, 64, "o", o)
        t.append((i.value, o.value))
    comm = nrt.nrt_cc_comm_t([0, 1], 0, 2, vnc=0)
    ctx = nrt.Ref()
    F32, ADD, AR = nrt.NRT_DTYPE_FLOAT32, nrt.NRT_OP_ADD, nrt.NRT_CC_ALLREDUCE
    bad = [
        rt.nrta_cc_prepare(comm, [t[0][0]], [t[0][1]], F32, nrt.NRT_OP_FMA, AR, ctx),  # FMA is no reduction here
        rt.nrta_cc_prepare(comm, [t[0][0]], [t[0][1]], nrt.NRT_DTYPE_FP8_E4, ADD, AR, ctx),  # fp8 cannot be reduced
        rt.nrta_cc_prepare(comm, [t[0][0]], [t[0][1]], F32, ADD, nrt.NRT_CC_ALLGATHER, ctx),  # output must be 2x
        rt.nrta_cc_prepare(comm, [t[1][0]], [t[0][1]], F32, ADD, AR, ctx),  # a tensor of the other rank
        rt.nrta_cc_prepare(nrt.nrt_cc_comm_t([0, 1], 1, 2, vnc=0), [t[0][0]], [t[0][1]], F32, ADD, AR, ctx),
        rt.nrta_cc_prepare(nrt.nrt_cc_comm_t([0, 0], 0, 2, vnc=0), [t[0][0]], [t[0][1]], F32, ADD, AR, ctx),
        rt.nrta_cc_prepare(comm, [], [], F32, ADD, AR, ctx),
        rt.nrta_cc_prepare("comm", [t[0][0]], [t[0][1]], F32, ADD, AR, ctx),
        rt.nrt_cc_global_comm_init(0, 5, 2),
    ]
    assert bad == [nrt.NRT_INVALID] * len(bad) and ctx.value is None
    assert rt.nrta_cc_prepare(comm, nrt.nrt_tensor_list_t([t[0][0]]), nrt.nrt_tensor_list_t([t[0][1]]), F32, ADD, AR,
                              ctx) == nrt.NRT_SUCCESS
    seq = nrt.Ref()
    assert rt.nrta_cc_schedule(ctx, 3, nrt.Ref(), seq) == nrt.NRT_INVALID  # queues 0..2
    assert rt.nrta_cc_schedule(ctx, 2, nrt.Ref(), seq) == nrt.NRT_SUCCESS
    assert nrt.NRTA_SEQ_GET_XU_ID(seq.value) == (nrt.NRTA_XU_COLLECTIVES | 2 << 4)
    assert rt.nrta_cc_schedule(ctx, 2, nrt.Ref(), nrt.Ref()) == nrt.NRT_INVALID  # the context is used up


def test_a_collective_waits_for_every_rank_and_faults_reach_it():
    sim = neuronsim.Simulator("trn1.2xlarge", record=True,
                              faults=[{"target": "xu", "core": 1, "xu": "collectives", "status": "NRT_EXEC_HW_ERR_COLLECTIVES"}])
    rt = sim.runtime()
    rt.nrt_init(1, "", "")
    ctxs = []
    for r in range(2):
        rt.nrt_cc_global_comm_init(r, r, 2)
        i, o, ctx = nrt.Ref(), nrt.Ref(), nrt.Ref()
        rt.nrt_tensor_allocate(0, r, 64, "i", i)
        rt.nrt_tensor_allocate(0, r, 64, "o", o)
        rt.nrta_cc_prepare(nrt.nrt_cc_comm_t([0, 1], r, 2, vnc=r), [i.value], [o.value], nrt.NRT_DTYPE_FLOAT32,
                           nrt.NRT_OP_ADD, nrt.NRT_CC_ALLREDUCE, ctx)
        ctxs.append(ctx)
    r0 = nrt.Ref()
    rt.nrta_cc_schedule(ctxs[0], 0, r0, nrt.Ref())
    sim.run_for_ns(1_000_000)
    assert r0.value is None  # rank 1 has not joined: rank 0 waits
    r1 = nrt.Ref()
    rt.nrta_cc_schedule(ctxs[1], 0, r1, nrt.Ref())
    sim.run_until_idle()
    # the fault on rank 1's part fails the collective on every rank it spans (issue 19), fatally on each
    assert (r0.value, r1.value) == (nrt.NRT_EXEC_HW_ERR_COLLECTIVES, nrt.NRT_EXEC_HW_ERR_COLLECTIVES)
    for r in (0, 1):
        assert rt.execution_unit(r, nrt.NRTA_XU_COLLECTIVES, 0).fatal_status == nrt.NRT_EXEC_HW_ERR_COLLECTIVES


def test_collectives_inside_a_neff_loaded_with_nrt_load_collectives():
    sim = neuronsim.Simulator("inf2.48xlarge", record=True)  # trn1 refuses 4 copies (A60), inf2 runs them
    rt = sim.runtime(env={"NEURON_RT_VISIBLE_CORES": "0-3"})
    rt.nrt_init(1, "", "")
    neff = neuronsim.Neff(inputs={"x": ((16,), "float32")}, outputs={"y": ((16,), "float32")}, duration_ns=40_000,
                          collectives=[neuronsim.CollectiveSpec("allreduce", 4 << 20)])
    runs = []
    for r in range(4):
        model = nrt.Ref()
        assert rt.nrt_load_collectives(neff, r, -1, r, 4, model) == nrt.NRT_SUCCESS
        x, y = nrt.Ref(), nrt.Ref()
        rt.nrt_tensor_allocate(0, r, 64, "x", x)
        rt.nrt_tensor_allocate(0, r, 64, "y", y)
        ins, outs = nrt.Ref(), nrt.Ref()
        rt.nrt_allocate_tensor_set(ins)
        rt.nrt_allocate_tensor_set(outs)
        rt.nrt_add_tensor_to_tensor_set(ins.value, "x", x.value)
        rt.nrt_add_tensor_to_tensor_set(outs.value, "y", y.value)
        runs.append((model.value, ins.value, outs.value))
    assert rt.nrt_load_collectives(neff, 0, -1, 2, 4, nrt.Ref()) == nrt.NRT_INVALID  # rank 2 is loaded already
    assert rt.nrt_load_collectives(neff, 0, -1, 4, 4, nrt.Ref()) == nrt.NRT_INVALID
    rets = []
    for r, (model, ins, outs) in enumerate(runs):
        ret, seq = nrt.Ref(), nrt.Ref()
        assert rt.nrta_execute_schedule(model, ins, outs, 0, ret, seq) == nrt.NRT_SUCCESS
        rets.append((ret, seq))
        if r == 0:
            sim.run_for_ns(500_000)
            assert ret.value is None  # computed, then waiting for the other ranks at the all-reduce
    sim.run_until_idle()
    assert all(ret.value == nrt.NRT_SUCCESS for ret, _ in rets)
    record = sim.collectives.records[-1]
    assert (record.operation, record.ranks, record.size) == ("allreduce", 4, 4 << 20)
    first = rt.request(rets[0][1].value)
    last = rt.request(rets[3][1].value)
    assert first.end_ns == max(record.ends_ns) and last.end_ns == max(record.ends_ns)
    assert last.end_ns - last.start_ns > 40_000  # compute, then the collective
    assert neuronsim.check_invariants(sim) == []


def test_ranks_that_disagree_fail_with_bad_input():
    sim = neuronsim.Simulator("trn1.2xlarge", record=True)
    rt = sim.runtime()
    rt.nrt_init(1, "", "")
    rets = []
    for r, (size, op) in enumerate(((64, nrt.NRT_CC_ALLREDUCE), (128, nrt.NRT_CC_ALLREDUCE))):
        rt.nrt_cc_global_comm_init(r, r, 2)
        i, o, ctx, ret = nrt.Ref(), nrt.Ref(), nrt.Ref(), nrt.Ref()
        rt.nrt_tensor_allocate(0, r, size, "i", i)
        rt.nrt_tensor_allocate(0, r, size, "o", o)
        assert rt.nrta_cc_prepare(nrt.nrt_cc_comm_t([0, 1], r, 2, vnc=r), [i.value], [o.value],
                                  nrt.NRT_DTYPE_FLOAT32, nrt.NRT_OP_ADD, op, ctx) == nrt.NRT_SUCCESS
        rt.nrta_cc_schedule(ctx, 0, ret, nrt.Ref())
        rets.append(ret)
    sim.run_until_idle()
    assert [r.value for r in rets] == [nrt.NRT_EXEC_BAD_INPUT] * 2
    assert rt.execution_unit(0, nrt.NRTA_XU_COLLECTIVES, 0).fatal_status is None
    assert neuronsim.check_invariants(sim) == []


def test_collectives_inside_a_neff_work_on_its_tensors():
    """Tensor parallelism: each rank's kernel computes a partial product, the NEFF all-reduces it in place
    (MAX here), then all-gathers it into a second output; every rank reads back the numpy result."""
    ranks = 4
    sim = neuronsim.Simulator("inf2.48xlarge", record=True)  # trn1 refuses 4 copies (A60), inf2 runs them
    rt = sim.runtime(env={"NEURON_RT_VISIBLE_CORES": f"0-{ranks - 1}"})
    rt.nrt_init(1, "", "")
    neff = neuronsim.Neff(inputs={"x": ((8,), "int32")}, outputs={"y": ((8,), "int32"), "g": ((8 * ranks,), "int32")},
                          duration_ns=10_000, kernel=lambda x: {"y": x * 3, "g": np.zeros(8 * ranks, np.int32)},
                          collectives=[neuronsim.CollectiveSpec("allreduce", input="y", reduce="max"),
                                       neuronsim.CollectiveSpec("allgather", input="y", output="g")])
    assert [(c.output, c.size_bytes) for c in neff.collectives] == [("y", 32), ("g", 32 * ranks)]
    assert rt.nrt_load_collectives(neff, 0, -1, 0, 2, nrt.Ref()) == nrt.NRT_INVALID  # g holds 4 ranks' y, not 2
    xs = [np.arange(8, dtype=np.int32) * (r + 1) - 5 * r for r in range(ranks)]
    cells = []
    for r in range(ranks):
        model = nrt.Ref()
        assert rt.nrt_load_collectives(neff, r, -1, r, ranks, model) == nrt.NRT_SUCCESS
        tensors = {name: nrt.Ref() for name in ("x", "y", "g")}
        for name, size in (("x", 32), ("y", 32), ("g", 32 * ranks)):
            rt.nrt_tensor_allocate(0, r, size, name, tensors[name])
        rt.nrt_tensor_write(tensors["x"].value, xs[r], 0, 32)
        ins, outs = nrt.Ref(), nrt.Ref()
        rt.nrt_allocate_tensor_set(ins)
        rt.nrt_allocate_tensor_set(outs)
        rt.nrt_add_tensor_to_tensor_set(ins.value, "x", tensors["x"].value)
        for name in ("y", "g"):
            rt.nrt_add_tensor_to_tensor_set(outs.value, name, tensors[name].value)
        ret = nrt.Ref()
        assert rt.nrta_execute_schedule(model.value, ins.value, outs.value, 0, ret, nrt.Ref()) == nrt.NRT_SUCCESS
        cells.append((ret, tensors))
    sim.run_until_idle()
    reduced = np.maximum.reduce([x * 3 for x in xs])
    for ret, tensors in cells:
        assert ret.value == nrt.NRT_SUCCESS
        y, g = np.zeros(8, np.int32), np.zeros(8 * ranks, np.int32)
        rt.nrt_tensor_read(tensors["y"].value, y, 0, 32)
        rt.nrt_tensor_read(tensors["g"].value, g, 0, 32 * ranks)
        np.testing.assert_array_equal(y, reduced)
        np.testing.assert_array_equal(g, np.tile(reduced, ranks))
    assert [r.operation for r in sim.collectives.records] == ["allreduce", "allgather"]
    assert neuronsim.check_invariants(sim) == []


@pytest.mark.parametrize(("spec", "message"), [
    ({"operation": "allreduce", "input": "nope"}, "not a tensor"),
    ({"operation": "allreduce", "input": "x"}, "must be an output"),
    ({"operation": "allreduce", "input": "x", "output": "g"}, "one size"),
    ({"operation": "allreduce", "input": "y", "output": "h"}, "is int32, its output 'h' is float32"),
    ({"operation": "allreduce", "input": "y", "size_bytes": 64}, "not the tensors' 32"),
    ({"operation": "allreduce", "input": "y", "reduce": "mul"}, "add, max or min"),
    ({"operation": "allreduce", "output": "y"}, "output needs input"),
])
def test_a_neff_collective_must_fit_its_tensors(spec, message):
    with pytest.raises(ValueError, match=message):
        neuronsim.Neff(inputs={"x": ((8,), "int32")},
                       outputs={"y": ((8,), "int32"), "g": ((32,), "int32"), "h": ((8,), "float32")},
                       duration_ns=1, collectives=[neuronsim.CollectiveSpec(**spec)])


def test_an_algorithm_forced_per_call_beats_the_run_wide_one():
    sim = neuronsim.Simulator("trn1.32xlarge", record=True)
    sim.collectives.algorithm = "ring"
    rt = sim.runtime(env={"NEURON_RT_VISIBLE_CORES": "0-3"})
    rt.nrt_init(1, "", "")
    for per_call in ("mesh", None):
        for r in range(4):
            rt.nrt_cc_global_comm_init(r, r, 4)
            i, o, ctx = nrt.Ref(), nrt.Ref(), nrt.Ref()
            rt.nrt_tensor_allocate(0, r, 4096, "i", i)
            rt.nrt_tensor_allocate(0, r, 4096, "o", o)
            rt.nrta_cc_prepare(nrt.nrt_cc_comm_t([0, 1, 2, 3], r, 4, vnc=r), [i.value], [o.value],
                               nrt.NRT_DTYPE_FLOAT32, nrt.NRT_OP_ADD, nrt.NRT_CC_ALLREDUCE, ctx)
            ctx.value.algorithm = per_call
            rt.nrta_cc_schedule(ctx, 0, nrt.Ref(), nrt.Ref())
        sim.run_until_idle()
    assert [r.algorithm for r in sim.collectives.records] == ["mesh", "ring"]
