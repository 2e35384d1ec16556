"""The collectives' fixed software costs (runtime.collective_cost, docs/assumptions.md A34-A35) in closed
form, and docs/validation.md showing what benchmarks/bench_validation.py prints."""

from __future__ import annotations

import math
from pathlib import Path

import pytest

import neuronsim
from neuronsim.collectives import service as service_module
from neuronsim.collectives.algorithms import Transfer
from neuronsim.collectives.engine import _cap, _path
from neuronsim.collectives.nccom import run_nccom
from tests.helpers import assert_page_shows_benchmark

ROOT = Path(__file__).resolve().parent.parent


def cost():
    return neuronsim.Simulator("trn1.32xlarge", timing_only=True).topology.spec.runtime.collective_cost


def time_ns(op: str, ranks: int, size: int, nodes: int = 1, **kwargs) -> int:
    (row,) = run_nccom(op, instance="trn1.32xlarge", ranks=ranks, nodes=nodes, sizes=[size], dtype="fp32",
                       iterations=1, warmup=0, fidelity="analytical", **kwargs)
    return round(row.time_avg_us * 1000)


def test_the_shipped_costs_are_the_fitted_ones():
    c = cost()
    assert c.era == "2025"
    assert (c.era_2023.launch_ns, c.era_2023.per_rank_ns) == (48_816, 3_082)  # tables B and C
    assert (c.era_2025.launch_ns, c.era_2025.per_rank_ns) == (872, 54)  # table D, A34's split
    assert c.efa_message_ns == 3_777  # M4's 128 B row
    # the 2023 era's two fitted points: launch + 2 x per_rank and launch + 32 x per_rank
    assert (c.launch_ns(2, "2023"), c.launch_ns(32, "2023")) == (54_980, 147_440)
    assert c.launch_ns(32) == 2_600  # table D's 1 KiB row less the model's 3.56 us


@pytest.mark.parametrize("era", ["2023", "2025"])
@pytest.mark.parametrize(("op", "ranks"), [("allr", 2), ("allg", 8), ("allr", 32), ("redsct", 16)])
def test_a_collective_starts_launch_plus_per_rank_times_ranks_after_its_ranks_meet(era, op, ranks):
    c = cost()
    era_spec = c.era_2023 if era == "2023" else c.era_2025
    without = time_ns(op, ranks, 4096, launch_ns=0)
    assert time_ns(op, ranks, 4096, era=era) - without == era_spec.launch_ns + era_spec.per_rank_ns * ranks


def test_an_override_replaces_the_eras_cost_whatever_the_group():
    for ranks in (2, 32):
        assert time_ns("allr", ranks, 1024, launch_ns=10_000) - time_ns("allr", ranks, 1024, launch_ns=0) == 10_000


def test_an_unknown_era_is_refused_naming_the_eras():
    with pytest.raises(neuronsim.ConfigError, match="unknown software era '2024': one of 2023, 2025"):
        time_ns("allr", 2, 1024, era="2024")


def test_each_send_over_efa_costs_efa_message_ns_on_top_of_the_network_latency(monkeypatch):
    """A small 2-node all-reduce is hierarchical: intra Mesh reduce-scatter, an inter-node Mesh all-reduce
    (reduce-scatter then all-gather: two sends over EFA, one after the other) and an intra Mesh all-gather;
    so the EFA message cost lies twice on its critical path."""
    message = cost().efa_message_ns
    spec = neuronsim.Simulator("2x trn1.32xlarge", timing_only=True).topology.spec
    sim = neuronsim.Simulator("2x trn1.32xlarge", timing_only=True)
    assert sim.collectives.fabric.efa_latency_ns == spec.efa.latency_ns + message
    with_message = time_ns("allr", 64, 128, nodes=2)
    real = service_module.Fabric

    def without(systems, z_links, efa_latency_ns):
        return real(systems, z_links, efa_latency_ns - message)

    monkeypatch.setattr(service_module, "Fabric", without)
    assert with_message - time_ns("allr", 64, 128, nodes=2) == 2 * message
    # no EFA on one instance: the cost does not apply
    one = time_ns("allr", 32, 128)
    monkeypatch.setattr(service_module, "Fabric", real)
    assert time_ns("allr", 32, 128) == one


def test_the_validation_page_shows_what_the_nccom_validation_benchmark_prints():
    assert_page_shows_benchmark("validation", "bench_validation.py")


# -- accumulating writes (cc.accumulate_rate, cc.accumulate_elements_per_ns; docs/assumptions.md A36-A37) --

def chip_cc():
    return neuronsim.Simulator("trn1.32xlarge", timing_only=True).topology.spec.chip.cc


def two_rank_ns(op: str, size: int, dtype: str, fidelity: str = "analytical") -> int:
    """Two ranks on trn1.32xlarge's device 0 (no NeuronLink), Ring, no fixed software cost."""
    (row,) = run_nccom(op, instance="trn1.32xlarge", ranks=2, sizes=[size], dtype=dtype, iterations=1,
                       warmup=0, fidelity=fidelity, algorithm="ring", launch_ns=0)
    return round(row.time_avg_us * 1000)


def test_the_shipped_accumulate_terms_are_the_published_and_fitted_ones():
    cc = chip_cc()
    assert cc.accumulate_rate == 0.5  # hardware.md §4.2: accumulate DMA at 50 % before NeuronCore-v4
    assert cc.accumulate_elements_per_ns == 32.7  # table A (uint8) against table B (fp32), A37
    assert cc.dma_bandwidth_bytes_per_ns == pytest.approx(85.05)  # table B's 1 GiB point, A36
    for chip in ("inf2.48xlarge", "trn2.48xlarge"):
        other = neuronsim.Simulator(chip, timing_only=True).topology.spec.chip.cc
        assert (other.accumulate_rate, other.accumulate_elements_per_ns) == (0.5, 32.7)


@pytest.mark.parametrize(("dtype", "element"), [("fp32", 4), ("bf16", 2), ("uint8", 1)])
@pytest.mark.parametrize("fidelity", ["analytical", "step"])
def test_a_two_rank_ring_all_reduce_accumulates_at_the_slower_of_half_the_copy_rate_and_the_element_rate(
        dtype, element, fidelity):
    """Ring all-reduce over two ranks: one reduce-scatter step (the chunk accumulated into the peer's
    partial sum, capped at min(0.5 x 85.05, 32.7 x element bytes) B/ns) then one all-gather step at the
    collective DMA's copy rate; each step costs its 1.5 us setup first (no link: one device)."""
    cc = chip_cc()
    chunk = 16 << 20
    accumulate = min(cc.accumulate_rate * cc.dma_bandwidth_bytes_per_ns, cc.accumulate_elements_per_ns * element)
    expected = (2 * cc.step_latency_ns + math.ceil(chunk / accumulate - 1e-6)
                + math.ceil(chunk / cc.dma_bandwidth_bytes_per_ns - 1e-6))
    assert abs(two_rank_ns("allr", 2 * chunk, dtype, fidelity) - expected) <= 1
    # all-gather alone moves at the copy rate, whatever the dtype
    assert abs(two_rank_ns("allg", 2 * chunk, dtype, fidelity)
               - (cc.step_latency_ns + math.ceil(chunk / cc.dma_bandwidth_bytes_per_ns - 1e-6))) <= 1


def test_only_reduce_scatter_transfers_accumulate_and_they_read_the_destinations_partial_sum():
    sim = neuronsim.Simulator("trn1.32xlarge", timing_only=True)
    cores = sim.system.cores[:4]
    for algorithm in ("ring", "mesh", "rdh"):
        _, phases = sim.collectives.plan_for(cores, "allreduce", 1 << 20, algorithm, element_bytes=2)
        for phase in phases:
            reducing = "reduce-scatter" in phase.name or "halving" in phase.name
            assert {t.reduce for t in phase.transfers} == ({2} if reducing else {0}), phase.name
    a, b = cores[0], cores[1]
    loads, _ = _path(sim.collectives.fabric, cores, Transfer(0, 1, 1000, reduce=4))
    assert dict(loads) == {a.cc_dma: 1000, a.hbm.channel: 1000, b.hbm.channel: 2000}
    assert _cap(cores, Transfer(0, 1, 1000, reduce=4)) == pytest.approx(0.5 * a.cc_dma.bw)
    assert _cap(cores, Transfer(0, 1, 1000, reduce=1)) == pytest.approx(32.7)
    assert _cap(cores, Transfer(0, 1, 1000)) == math.inf
