"""Collective invariants over generated cases (neuronsim.testing.strategies.collectives): results equal an
independent numpy reference whatever the algorithm and fidelity, every rank completes exactly once;
all-reduce = reduce-scatter then all-gather (data, and time within 5 %); time monotone in message size;
every byte a plan routes is on its links, and each rank's collective DMA moves what the algorithm says."""

from __future__ import annotations

import dataclasses

import numpy as np
from hypothesis import event, given
from hypothesis import strategies as st

import neuronsim
from neuronsim import nrt
from neuronsim.collectives.nccom import run_nccom
from neuronsim.testing.strategies import COLLECTIVE_INSTANCES, CollectiveCase, collectives, run_collective

D = nrt.nrt_dtype_t
REDUCE = {nrt.NRT_OP_ADD: np.add, nrt.NRT_OP_MAX: np.maximum, nrt.NRT_OP_MIN: np.minimum}
NCCOM = {"allreduce": "allr", "allgather": "allg", "reducescatter": "redsct", "alltoall": "alltoall",
         "permute": "permute"}


def reference(case: CollectiveCase) -> list[np.ndarray]:
    """What each rank should hold: reductions in rank order in the element type (BF16 via float32, rounded
    to nearest even), written from scratch here rather than taken from neuronsim.collectives.data."""
    n, arrays = case.ranks, list(case.inputs)
    if case.operation in ("allreduce", "reducescatter"):
        fn = REDUCE[case.op]
        if case.dtype == D.NRT_DTYPE_BFLOAT16:
            acc = (arrays[0].astype(np.uint32) << 16).view(np.float32)
            for a in arrays[1:]:
                acc = fn(acc, (a.astype(np.uint32) << 16).view(np.float32)).astype(np.float32)
            bits = acc.view(np.uint32).astype(np.uint64)
            acc = ((bits + 0x7FFF + ((bits >> 16) & 1)) >> 16).astype(np.uint16)
        else:
            acc = arrays[0].copy()
            with np.errstate(over="ignore"):
                for a in arrays[1:]:
                    acc = fn(acc, a).astype(arrays[0].dtype)
        return [acc] * n if case.operation == "allreduce" else list(np.split(acc, n))
    if case.operation == "allgather":
        return [np.concatenate(arrays)] * n
    if case.operation == "alltoall":
        return [np.concatenate([np.split(a, n)[r] for a in arrays]) for r in range(n)]
    return [arrays[(r - 1) % n] for r in range(n)]  # permute: rank r receives from rank r - 1


def expected_algorithm(case: CollectiveCase) -> str | None:
    """The label the runtime must report for a forced algorithm (None: the runtime's own choice)."""
    if case.operation in ("alltoall", "permute"):
        return "mesh"
    if case.algorithm == "rdh" and case.ranks & (case.ranks - 1):
        return "ring"
    if case.algorithm == "kangaring" and not (case.instance == "trn2.48xlarge" and case.ranks % 4 == 0):
        return "ring"  # LNC=2 and whole chips only (ranks 0..r-1 fill chips of 4 logical cores)
    return case.algorithm


def work_ns(record) -> int:
    """The algorithm's time, without the fixed launch cost."""
    return max(record.ends_ns) - record.start_ns


@given(collectives(), st.sampled_from(["step", "analytical"]))
def test_results_equal_numpy_whatever_the_algorithm_and_fidelity(case, fidelity):
    outputs, record, sim = run_collective(case, fidelity=fidelity)
    assert expected_algorithm(case) in (None, record.algorithm)
    for got, want in zip(outputs, reference(case), strict=True):
        np.testing.assert_array_equal(got, want)
    # exactly once: one record, every rank ended once, not before the collective started
    assert len(sim.collectives.records) == 1
    assert len(record.ends_ns) == case.ranks and min(record.ends_ns) >= record.start_ns
    assert neuronsim.check_invariants(sim) == []


@given(collectives(operations=("allreduce",), algorithms=("ring", "mesh", "rdh", "kangaring"),
                   max_elements_per_rank=1 << 14), st.sampled_from(["step", "analytical"]))
def test_allreduce_is_reducescatter_then_allgather(case, fidelity):
    ar, ar_record, _ = run_collective(case, fidelity=fidelity)
    rs, rs_record, _ = run_collective(dataclasses.replace(case, operation="reducescatter"), fidelity=fidelity)
    ag, ag_record, _ = run_collective(dataclasses.replace(case, operation="allgather", inputs=tuple(rs)),
                                      fidelity=fidelity)
    for a, b in zip(ar, ag, strict=True):
        np.testing.assert_array_equal(a, b)
    assert ar_record.algorithm == rs_record.algorithm == ag_record.algorithm
    # Never slower than the two done one after the other; faster by at most the reduce-scatter's rank
    # skew (+5 %): in one all-reduce a rank starts its all-gather as soon as its own part of the
    # reduce-scatter is done, where two collectives wait for the slowest rank. The analytical path
    # reports one end for all ranks, so the skew is measured at step level.
    split = work_ns(rs_record) + work_ns(ag_record)
    if fidelity != "step":
        _, rs_record, _ = run_collective(dataclasses.replace(case, operation="reducescatter"), fidelity="step")
    skew = max(rs_record.ends_ns) - min(rs_record.ends_ns)
    assert -0.005 * split <= split - work_ns(ar_record) <= skew + 0.05 * split


@given(st.sampled_from(sorted(COLLECTIVE_INSTANCES)), st.integers(2, 32), st.sampled_from(sorted(NCCOM)),
       st.sampled_from(["ring", "mesh", "rdh", "kangaring"]), st.sampled_from(["step", "analytical"]),
       st.integers(0, 24), st.integers(0, 24))
def test_time_is_monotone_in_message_size(instance, ranks, operation, algorithm, fidelity, a, b):
    ranks = min(ranks, COLLECTIVE_INSTANCES[instance])
    small, large = sorted((ranks * 4 << a, ranks * 4 << b))
    rows = run_nccom(NCCOM[operation], instance=instance, ranks=ranks, sizes=[small, large], dtype="fp32",
                     iterations=1, warmup=0, algorithm=algorithm, fidelity=fidelity)
    assert rows[0].time_avg_us <= rows[1].time_avg_us


@given(collectives(instances=("trn1.32xlarge", "trn2.48xlarge", "inf2.48xlarge"), max_ranks=32,
                   max_elements_per_rank=1 << 10))
def test_bytes_on_every_link_and_dma_are_accounted(case):
    """Every link carries exactly the bytes the plan routes over it (ranks' sends, never the duplicated
    writes), and each rank's collective DMA sends what the algorithm's volume formula says."""
    sim = neuronsim.Simulator(case.instance, record=True)
    size = {"allgather": case.output_bytes}.get(case.operation, case.inputs[0].nbytes)
    hw = sim.system.cores[:case.ranks]  # the first logical cores: the ranks run_collective uses
    algorithm, phases = sim.collectives.plan_for(hw, case.operation, size, case.algorithm)
    links: dict[str, int] = {}
    sends = [0] * case.ranks
    for phase in phases:
        for t in phase.transfers:
            sends[t.src] += t.size * phase.repeat
            for link in sim.collectives.fabric.route(hw[t.src].device.global_index, hw[t.dst].device.global_index):
                links[link.channel.name] = links.get(link.channel.name, 0) + t.size * phase.repeat
    _, record, sim = run_collective(case, sim=sim)
    assert record.algorithm == algorithm
    moved = {link.channel.name: link.channel.bytes_moved for link in sim.system.links.values()
             if link.channel.bytes_moved}
    assert moved == links
    assert [core.cc_dma.bytes_moved for core in hw] == sends
    n, chunk = case.ranks, max(1, size // case.ranks)
    volume = {  # bytes each rank sends, by algorithm and operation
        ("ring", "allreduce"): 2 * (n - 1) * chunk, ("ring", "allgather"): (n - 1) * chunk,
        ("ring", "reducescatter"): (n - 1) * chunk,
        ("mesh", "allreduce"): 2 * (n - 1) * chunk, ("mesh", "allgather"): (n - 1) * chunk,
        ("mesh", "reducescatter"): (n - 1) * chunk, ("mesh", "alltoall"): (n - 1) * chunk,
        ("mesh", "permute"): size,
    }
    if (algorithm, case.operation) in volume:
        assert sends == [volume[algorithm, case.operation]] * n
    elif algorithm == "rdh":  # halving sends size/2 + size/4 + ..., doubling chunk + 2 chunk + ...
        steps = n.bit_length() - 1
        halving = sum(max(1, size >> (k + 1)) for k in range(steps))
        doubling = sum(chunk << k for k in range(steps))
        per_op = {"allreduce": halving + doubling, "reducescatter": halving, "allgather": doubling}
        assert sends == [per_op[case.operation]] * n
    else:  # KangaRing: primaries (even local cores) send 2 size / n per step over a ring of n / 2
        big, steps = max(1, 2 * size // n), n // 2 - 1
        per_op = {"allreduce": 2 * steps * big, "reducescatter": steps * big, "allgather": steps * big}
        assert sends == [per_op[case.operation] if c.local_index % 2 == 0 else 0 for c in hw]


def schedule_groups(sim, cores: int, collectives: list[tuple[tuple[int, ...], int]], size: int = 1 << 20):
    """Schedule all-reduces on groups of logical cores: ``(group, queue)`` each, every core issuing its
    collectives in list order (a consistent order, so the queues alone cannot deadlock). Returns the
    ret cells per collective (one per rank)."""
    rt = sim.runtime(env={"NEURON_RT_VISIBLE_CORES": f"0-{cores - 1}"})
    assert rt.nrt_init(1, "", "") == nrt.NRT_SUCCESS
    for c in range(cores):
        assert rt.nrt_cc_global_comm_init(c, c, cores) == nrt.NRT_SUCCESS
    rets = []
    for group, queue in collectives:
        cells = []
        for rank, core in enumerate(group):
            i, o, ctx, ret = nrt.Ref(), nrt.Ref(), nrt.Ref(), nrt.Ref()
            rt.nrt_tensor_allocate(0, core, size, "i", i)
            rt.nrt_tensor_allocate(0, core, size, "o", o)
            comm = nrt.nrt_cc_comm_t(list(group), rank, len(group), vnc=core)
            assert rt.nrta_cc_prepare(comm, [i.value], [o.value], nrt.NRT_DTYPE_FLOAT32, nrt.NRT_OP_ADD,
                                      nrt.NRT_CC_ALLREDUCE, ctx) == nrt.NRT_SUCCESS
            assert rt.nrta_cc_schedule(ctx, queue, ret, nrt.Ref()) == nrt.NRT_SUCCESS
            cells.append(ret)
        rets.append(cells)
    sim.run_until_idle()
    return rets


@given(st.lists(st.tuples(st.lists(st.integers(0, 3), min_size=2, max_size=4, unique=True), st.integers(0, 2)),
                min_size=1, max_size=8), st.sampled_from([1, 2]), st.sampled_from(["step", "analytical"]))
def test_a_core_runs_no_more_collectives_at_once_than_it_has_cc_cores(collectives, lnc, fidelity):
    """trn2: 2 CC-cores per logical core at LNC=1, 4 at LNC=2 ("up to 4 concurrent CC streams"). Every
    collective completes (taking a rank's CC-cores all at once cannot deadlock), no core ever runs more
    than its CC-cores, and a collective that had to wait started the moment a CC-core it needed freed."""
    sim = neuronsim.Simulator("trn2.48xlarge", lnc=lnc, record=True, timing_only=True)
    sim.collectives.fidelity = fidelity
    service = sim.collectives
    rets = schedule_groups(sim, 4, [(tuple(g), q) for g, q in collectives], size=8 << 20)
    assert all(cell.value == nrt.NRT_SUCCESS for cells in rets for cell in cells)
    assert service.cc_cores_per_core == {1: 2, 2: 4}[lnc]
    assert len(service.records) == len(collectives) and all(cell[0] <= sim.env.now for cells in service.cc_running.values() for cell in cells)
    assert sorted(r.group for r in service.records) == sorted(tuple(g) for g, _ in collectives)
    held: dict[int, list[tuple[int, int]]] = {}  # core -> [(admitted, released)]
    for record in service.records:  # in start order; world ids are core ids here
        for rank, core in enumerate(record.group):
            held.setdefault(core, []).append((record.start_ns - record.launch_ns, record.ends_ns[rank]))
    for intervals in held.values():
        for t, _ in intervals:
            assert sum(1 for a, b in intervals if a <= t < b) <= service.cc_cores_per_core
    for record in service.records:
        group = record.group
        admitted = record.start_ns - record.launch_ns
        if admitted > record.arrived_ns:
            event("a collective waited for a CC-core")
            assert any(b == admitted for core in group for _, b in held[core])


def test_a_third_concurrent_collective_waits_for_a_cc_core_at_lnc_1_exactly():
    def records(lnc: int, limit: bool = True):
        sim = neuronsim.Simulator("trn2.48xlarge", lnc=lnc, record=True, timing_only=True)
        sim.collectives.fidelity = "analytical"
        sim.collectives.cc_core_limit = limit
        schedule_groups(sim, 2, [((0, 1), 0), ((0, 1), 1), ((0, 1), 2)], size=16 << 20)
        return sim.collectives.records, sim.collectives.launch_for(2)

    (a, b, c), launch = records(1)
    alone = max(a.ends_ns) - a.start_ns
    assert c.arrived_ns < max(a.ends_ns) - launch  # the three overlap (calls cost host time)
    assert (a.start_ns, b.start_ns) == (a.arrived_ns + launch, b.arrived_ns + launch)  # two CC-cores
    assert c.start_ns == max(a.ends_ns) + launch  # the third takes the first CC-core freed
    assert max(c.ends_ns) == c.start_ns + alone
    for lnc, limit in ((2, True), (1, False)):  # four CC-cores at LNC=2; or the limit switched off
        (a, b, c), _ = records(lnc, limit)
        assert c.start_ns == c.arrived_ns + launch
