"""Variable-size collectives and custom permute pairs through the API, and nccom-test's --check as a
property: every operation and data type on random sizes, rank counts, replica groups, pairs and
counts gives every rank exactly the numpy result; busbw is algbw times the documented factor."""

from __future__ import annotations

import logging
import os

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from neuronsim import nrt
from neuronsim.collectives import nccom
from neuronsim.collectives.data import VariableCounts
from neuronsim.errors import NrtError
from neuronsim.simulator import Simulator

THOROUGH = os.environ.get("HYPOTHESIS_PROFILE") == "thorough"
# the documented factors (nccom-test.rst "Bus Bandwidth Calculation"), written out independently
FACTOR = {"allreduce": lambda r: 2 * (r - 1) / r, "allgather": lambda r: (r - 1) / r,
          "reducescatter": lambda r: (r - 1) / r, "alltoall": lambda r: (r - 1) / r,
          "alltoallv": lambda r: (r - 1) / r, "allgatherv": lambda r: (r - 1) / r, "sendrecv": lambda r: 1,
          "permute": lambda r: 1}
NAME = {"allreduce": "all_reduce", "allgather": "allg", "reducescatter": "reduce_scatter", "alltoall": "alltoall",
        "alltoallv": "alltoallv", "allgatherv": "all_gatherv", "sendrecv": "sendrecv", "permute": "permute"}
F32 = nrt.NRT_DTYPE_FLOAT32


# -- the API --------------------------------------------------------------------------------------


def _world(n: int, instance: str = "trn2.48xlarge"):
    sim = Simulator(instance)
    rt = sim.open(visible_cores=f"0-{n - 1}")
    for r in range(n):
        rt.comm_init(r, r, n)
    return sim, rt


def test_alltoallv_moves_each_block_to_its_displacement():
    n = 3
    send = [[1, 2, 0], [3, 0, 1], [2, 2, 2]]  # send[i][j]: elements rank i sends rank j
    sim, rt = _world(n)
    ins, outs, layouts = [], [], []
    for r in range(n):
        displs = list(np.cumsum([0] + send[r][:-1]))
        recv = [send[i][r] for i in range(n)]
        rdispls = [int(d) + 1 for d in np.cumsum([0] + recv[:-1])]  # one element of slack in front
        layouts.append(VariableCounts(send[r], [int(d) for d in displs], recv, rdispls))
        i = rt.allocate(4 * sum(send[r]), r)
        o = rt.allocate(4 * (sum(recv) + 1), r)
        rt.write(i, np.arange(sum(send[r]), dtype=np.float32) + 10 * r).result()
        rt.write(o, np.full(sum(recv) + 1, -1, dtype=np.float32)).result()
        ins.append(i)
        outs.append(o)
    futures = [rt.collective(nrt.NRT_CC_ALLTOALLV, ins[r], outs[r], group=range(n), rank=r, dtype=F32,
                             counts=layouts[r]) for r in range(n)]
    assert [f.wait() for f in futures] == [nrt.NRT_SUCCESS] * n
    got = [rt.read(outs[r]).result().view(np.float32).tolist() for r in range(n)]
    assert got == [[-1, 0, 10, 11, 12, 20, 21], [-1, 1, 2, 22, 23], [-1, 13, 24, 25]]
    assert sim.collectives.records[-1].operation == "alltoallv"
    assert sim.collectives.records[-1].algorithm == "mesh"


def test_allgatherv_gathers_unequal_blocks():
    n = 4
    sim, rt = _world(n)
    counts = [1, 3, 0, 2]
    displs = [0, 1, 4, 4]
    futures, outs = [], []
    for r in range(n):
        i = rt.allocate(4 * max(1, counts[r]), r)
        o = rt.allocate(4 * 6, r)
        rt.write(i, np.arange(max(1, counts[r]), dtype=np.float32) + 100 * r).result()
        outs.append(o)
        futures.append(rt.collective(nrt.NRT_CC_ALLGATHERV, i, o, group=range(n), rank=r, dtype=F32,
                                     counts=VariableCounts([counts[r]], [0], counts, displs)))
    for f in futures:
        f.result()
    for r in range(n):
        assert rt.read(outs[r]).result().view(np.float32).tolist() == [0, 100, 101, 102, 300, 301]


def test_permute_pairs_leave_unnamed_targets_zero():
    n = 4
    sim, rt = _world(n)
    outs, futures = [], []
    for r in range(n):
        i, o = rt.allocate(8, r), rt.allocate(8, r)
        rt.write(i, np.full(2, r + 1, dtype=np.float32)).result()
        rt.write(o, np.full(2, 9, dtype=np.float32)).result()
        outs.append(o)
        futures.append(rt.collective(nrt.NRT_CC_PERMUTE, i, o, group=range(n), rank=r, dtype=F32,
                                     pairs=[(0, 2), (2, 0), (3, 3)]))
    for f in futures:
        f.result()
    assert [rt.read(o).result().view(np.float32).tolist() for o in outs] == [[3, 3], [0, 0], [1, 1], [4, 4]]


@pytest.mark.parametrize(("cc_op", "counts", "pairs", "reason"), [
    (nrt.NRT_CC_ALLTOALLV, VariableCounts([1], [0], [1, 1], [0, 1]), None, "send_counts has 1 entries, the group needs 2"),
    (nrt.NRT_CC_ALLTOALLV, VariableCounts([1, 2], [0, 1], [1, 1], [0, 1]), None, "lie beyond the tensor's 2 elements"),
    (nrt.NRT_CC_ALLTOALLV, VariableCounts([1, 1], [0, 1], [1, 1], [0, 0]), None, "receive regions overlap"),
    (nrt.NRT_CC_ALLTOALLV, None, None, "counts are for allgatherv / alltoallv"),
    (nrt.NRT_CC_ALLGATHERV, VariableCounts([2], [0], [1, 2], [0, 1]), None, "rank 0 sends 2 elements but"),
    (nrt.NRT_CC_ALLREDUCE, VariableCounts([1, 1], [0, 1], [1, 1], [0, 1]), None, "counts are for"),
    (nrt.NRT_CC_ALLGATHER, None, [(0, 1), (1, 0)], "pairs for permute"),
    (nrt.NRT_CC_PERMUTE, None, [(0, 1), (1, 1)], "rank 1 as a target more than once"),
    (nrt.NRT_CC_PERMUTE, None, [(0, 2)], "outside 0..1"),
])
def test_prepare_refuses_bad_layouts_with_the_reason(cc_op, counts, pairs, reason, caplog):
    sim, rt = _world(2)
    size = 8 if cc_op != nrt.NRT_CC_ALLGATHER else 4
    i, o = rt.allocate(size, 0), rt.allocate(8 if cc_op == nrt.NRT_CC_ALLGATHER else 16, 0)
    comm = nrt.nrt_cc_comm_t(replica_group=[0, 1], rank=0, rank_n=2, vnc=0)
    ctx = nrt.Ref()
    with caplog.at_level(logging.DEBUG, logger="neuronsim.runtime"):
        status = rt.c.nrta_cc_prepare(comm, nrt.nrt_tensor_list_t([i]), nrt.nrt_tensor_list_t([o]), F32,
                                      nrt.NRT_OP_ADD, cc_op, ctx, counts=counts, pairs=pairs)
    assert status == nrt.NRT_INVALID and ctx.value is None
    assert any(r.message.startswith("nrta_cc_prepare") and reason in r.message for r in caplog.records), caplog.text
    with pytest.raises(NrtError):
        rt.collective(cc_op, i, o, group=[0, 1], rank=0, dtype=F32, counts=counts, pairs=pairs)


def test_ranks_whose_layouts_disagree_all_fail():
    """Rank 1 expects 2 elements from rank 0, which sends it 1: the collective fails on both ranks (A27)."""
    sim, rt = _world(2)
    layouts = [VariableCounts([1, 1], [0, 1], [1, 1], [0, 1]), VariableCounts([1, 1], [0, 1], [2, 1], [0, 2])]
    futures = [rt.collective(nrt.NRT_CC_ALLTOALLV, rt.allocate(8, r), rt.allocate(12, r), group=[0, 1], rank=r,
                             dtype=F32, counts=layouts[r]) for r in range(2)]
    assert [f.wait() for f in futures] == [nrt.NRT_EXEC_BAD_INPUT] * 2


def test_metadata_scales_to_the_size_as_the_alltoallv_example_shows():
    """1MB fp32 with send counts [512, 1024] prints 1048608 bytes, 262152 elements (nccom-test.rst)."""
    layouts = [VariableCounts([512, 1024], [0, 512], [512, 512], [0, 512]),
               VariableCounts([512, 1024], [0, 512], [1024, 1024], [0, 1024])]
    scaled = nccom._scaled(layouts, "alltoallv", 1 << 20, 4)  # noqa: SLF001 - the documented figure
    assert sum(scaled[0].send_counts) == 262152
    assert scaled[0].send_counts == (87384, 174768) and scaled[0].send_displs == (0, 87384)
    assert nccom._scaled(layouts, "alltoallv", 1536 * 4, 4) is layouts  # noqa: SLF001 - its own total


# -- --check over every operation and data type ---------------------------------------------------------


@st.composite
def _benchmark(draw, operation: str):
    if operation == "allgatherv":
        instance, ranks = "trn2.48xlarge", draw(st.integers(2, 4))  # inside one trn2 device at LNC=2
    else:
        instance = draw(st.sampled_from(["trn1.32xlarge", "trn2.48xlarge"]))
        ranks = draw(st.integers(2, 8))
    groups = None
    if operation != "allgatherv" and draw(st.booleans()):
        size = draw(st.sampled_from([d for d in range(1, ranks + 1) if ranks % d == 0]))
        order = draw(st.permutations(range(ranks)))
        groups = [sorted(order[k:k + size]) for k in range(0, ranks, size)]
    n = len(groups[0]) if groups else ranks
    pairs = None
    if operation == "permute" and draw(st.booleans()):
        sources = draw(st.lists(st.integers(0, n - 1), unique=True, max_size=n))
        targets = draw(st.permutations(range(n)))[:len(sources)]
        pairs = tuple(zip(sources, targets, strict=True))
    metadata = None
    if operation in ("allgatherv", "alltoallv"):
        sends = 1 if operation == "allgatherv" else n
        counts = [draw(st.lists(st.integers(0, 5), min_size=sends, max_size=sends)) for _ in range(n)]
        metadata = []
        for r in range(n):
            sent = [counts[i][0 if operation == "allgatherv" else r] for i in range(n)]
            gaps = draw(st.lists(st.integers(0, 2), min_size=n, max_size=n))
            recv_displs = [int(sum(sent[:i]) + sum(gaps[:i + 1])) for i in range(n)]
            metadata.append(VariableCounts(counts[r], [int(sum(counts[r][:k])) for k in range(sends)], sent,
                                           recv_displs))
    dtypes = [d for d in nccom.DTYPES if not (operation in ("allreduce", "reducescatter") and d.startswith("fp8"))]
    benches = []
    for dtype in dtypes:
        itemsize = np.dtype(nccom.ELEMENT[nccom.DTYPES[dtype]][1]).itemsize
        if metadata is not None:
            total = sum(metadata[0].recv_counts) if operation == "allgatherv" else sum(metadata[0].send_counts)
            size = max(1, total) * itemsize
        else:
            unit = itemsize * (n if operation in ("allgather", "reducescatter", "alltoall") else 1)
            size = unit * draw(st.integers(1, 40))
        benches.append(nccom.Bench(NAME[operation], dtype, [size], groups, pairs, metadata))
    return instance, ranks, benches, draw(st.sampled_from(["random", "all_ones"])), draw(st.integers(0, 1000))


@pytest.mark.parametrize("operation", sorted(FACTOR))
@settings(max_examples=100 if THOROUGH else 6)
@given(data=st.data())
def test_check_passes_for_every_operation_and_data_type(operation, data):
    instance, ranks, benches, mode, seed = data.draw(_benchmark(operation))
    streams = nccom.run_benches(benches, instance=instance, ranks=ranks, iterations=1, warmup=0, check=mode,
                                seed=seed, fidelity="analytical")
    for bench, rows in zip(benches, streams, strict=True):
        row = rows[0]
        assert row.checked and row.error == "", (bench.dtype, row.error)
        n = len(bench.groups[0]) if bench.groups else ranks
        assert row.ranks == n
        assert row.busbw == row.algbw * FACTOR[operation](n)
        assert row.algbw == row.size / (row.time_avg_us * 1e-6) / 1e9


def test_check_finds_a_wrong_byte_in_a_variable_size_result(monkeypatch):
    from neuronsim.collectives import service

    real = service.collective_outputs

    def corrupt(*args, **kwargs):
        outputs = real(*args, **kwargs)
        return outputs[:-1] + [bytes([outputs[-1][0] ^ 0x40]) + outputs[-1][1:]]

    monkeypatch.setattr(service, "collective_outputs", corrupt)
    metadata = [VariableCounts([2], [0], [2, 2], [0, 2])] * 2
    rows = nccom.run_nccom("allgv", instance="trn2.48xlarge", ranks=2, sizes=[16], dtype="fp32", iterations=1,
                           warmup=0, check="random", metadata=metadata)
    assert rows[0].error == "rank 1 output element 0 is wrong"
