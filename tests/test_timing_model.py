"""Calibrated timing (issue 23): the roofline's fixed and efficiency terms in closed form, the derived
transformer and encoder steps against hand computations, host-based copies, properties of the
derivation, and docs/validation.md's timing section equal to what benchmarks/bench_timing.py prints."""

from __future__ import annotations

import math
from pathlib import Path

import pytest
import yaml
from hypothesis import given, settings
from hypothesis import strategies as st

import neuronsim
from neuronsim import nrt
from neuronsim.workload.models import architecture_neff, derive
from neuronsim.workload.runner import run_workload
from neuronsim.workload.spec import ArchitectureSpec, WorkloadSpec, load_workload
from tests.helpers import assert_page_shows_benchmark, model_with_io, open_runtime, schedule_execute, tensor

ROOT = Path(__file__).parents[1]
SCHEDULE = 2000  # runtime.call_costs.schedule_ns (A5)
HBM_BW = 410.0  # trn1 stack bandwidth, B/ns
BF16 = 91750.0  # trn1 NC-v2 TensorE BF16 peak, FLOP/ns
SETUP = 1300  # chip.dma.setup_latency_ns


def _run(cost: neuronsim.Roofline, instance: str = "trn1.2xlarge") -> int:
    sim, rt = open_runtime(instance, env={"NEURON_RT_VISIBLE_CORES": "0"})
    neff = neuronsim.Neff(inputs={"x": ((16,), "float32")}, outputs={"y": ((16,), "float32")}, cost=cost)
    model, ins, outs = model_with_io(rt, neff)
    t0 = sim.now_ns
    _, ret, seq = schedule_execute(rt, model, ins, outs)
    sim.run_until_idle()
    assert ret.value == nrt.NRT_SUCCESS
    return rt.request(seq.value).end_ns - t0 - SCHEDULE


def test_fixed_and_per_layer_costs_add_to_the_roofline():
    flops, hbm = 9_175_000_000, 41_000_000  # 100_000 ns of compute, 100_000 ns of HBM
    assert _run(neuronsim.Roofline(flops=flops, hbm_bytes=0)) == 100_000
    assert _run(neuronsim.Roofline(flops=flops, hbm_bytes=0, fixed_ns=7_000, layers=12, layer_ns=3_000)) \
        == 7_000 + 12 * 3_000 + 100_000
    assert _run(neuronsim.Roofline(flops=0, hbm_bytes=hbm, fixed_ns=5)) == 5 + 100_000


def test_compute_efficiency_scales_the_compute_only():
    flops, hbm = 9_175_000_000, 41_000_000
    # compute-bound at 50 %: 200_000 ns; the 100_000 ns of HBM traffic are not inflated
    assert _run(neuronsim.Roofline(flops=flops, hbm_bytes=hbm, efficiency=0.5)) == 200_000
    # memory-bound: efficiency 0.5 on compute (200 us) leaves a 250 us memory term in charge
    assert _run(neuronsim.Roofline(flops=flops, hbm_bytes=hbm * 5 // 2, efficiency=0.5)) == 250_000


def test_memory_efficiency_scales_the_hbm_traffic_only():
    flops, hbm = 9_175_000_000, 41_000_000
    assert _run(neuronsim.Roofline(flops=0, hbm_bytes=hbm, memory_efficiency=0.25)) == 400_000
    assert _run(neuronsim.Roofline(flops=flops, hbm_bytes=0, memory_efficiency=0.25)) == 100_000


def test_precision_peaks():
    ops = 18_350_000_000
    assert _run(neuronsim.Roofline(flops=ops, hbm_bytes=0, precision="int8")) == math.ceil(ops / (2 * BF16))
    assert _run(neuronsim.Roofline(flops=ops, hbm_bytes=0, precision="fp8")) == math.ceil(ops / BF16)  # NC-v2: none
    peak_v3 = 78643.2 * 2 * 2  # trn2 LNC=2: two NC-v3, FP8 at twice BF16
    assert _run(neuronsim.Roofline(flops=ops, hbm_bytes=0, precision="fp8"), "trn2.48xlarge") == \
        math.ceil(ops / peak_v3)


def test_bad_roofline_terms_are_refused():
    for kwargs in ({"memory_efficiency": 0}, {"fixed_ns": -1}, {"layers": -2}, {"precision": "int4"}):
        with pytest.raises(ValueError):
            neuronsim.Roofline(flops=1, **kwargs)


SMALL = {"kind": "transformer", "layers": 2, "hidden": 64, "heads": 4, "kv_heads": 2, "ffn": 128, "vocab": 100,
         "batch": 3, "kv_len": 10}


def test_one_decode_step_of_a_small_transformer_by_hand():
    h, hd, kvh, ff, layers, vocab, b, ctx = 64, 16, 2, 128, 2, 100, 3, 10
    layer_params = h * h + h * kvh * hd + h * kvh * hd + h * h + 3 * h * ff  # Q, K, V, O, gate/up/down
    assert layer_params == 2 * 4096 + 2 * 2048 + 24576
    cost = derive(ArchitectureSpec(**SMALL))
    assert cost.flops == b * layers * (2 * layer_params + 4 * ctx * h) + b * 2 * h * vocab
    assert cost.weight_bytes == (layers * layer_params + h * vocab) * 2
    assert cost.kv_bytes == layers * 2 * kvh * hd * ctx * b * 2
    assert cost.collectives == ()  # tp 1
    tp = derive(ArchitectureSpec(**{**SMALL, "tp": 4}))
    assert tp.flops == math.ceil(cost.flops / 4) and tp.weight_bytes == math.ceil(cost.weight_bytes / 4)
    assert tp.kv_bytes == layers * 2 * 1 * hd * ctx * b * 2  # 2 KV heads over 4 ranks: one (replicated) each
    assert tp.collectives == (("allreduce", b * h * 2),) * (2 * layers) + (("allgather", b * vocab * 2),)


def test_int8_weights_halve_the_weight_bytes():
    bf16 = derive(ArchitectureSpec(**SMALL))
    int8 = derive(ArchitectureSpec(**{**SMALL, "weight_dtype": "int8"}))
    assert int8.weight_bytes * 2 == bf16.weight_bytes and int8.flops == bf16.flops


def test_an_encoder_matches_the_published_flop_formula():
    """reference/measurements.md M1: L (8H^2 + 4H FF + 4SH) S FLOPs per sequence; BERT-base 22.3 GFLOP."""
    spec = ArchitectureSpec(kind="encoder", layers=12, hidden=768, heads=12, ffn=3072, seq=128)
    cost = derive(spec)
    assert cost.flops == 12 * (8 * 768**2 + 4 * 768 * 3072 + 4 * 128 * 768) * 128
    assert round(cost.flops / 1e9, 1) == 22.3
    assert cost.weight_bytes == 12 * (4 * 768**2 + 2 * 768 * 3072) * 2 and cost.kv_bytes == 0


def test_the_architecture_neff_uses_the_chip_terms():
    sim = neuronsim.Simulator("trn1.2xlarge")
    execution = sim.topology.spec.chip.execution
    neff = architecture_neff("m", ArchitectureSpec(**{**SMALL, "tp": 2}), execution)
    assert neff.cost.fixed_ns == execution.launch_ns and neff.cost.layer_ns == execution.layer_ns
    assert neff.cost.layers == 2 and neff.cost.efficiency == execution.compute_efficiency
    assert [c.operation for c in neff.collectives] == ["allreduce"] * 4 + ["allgather"]
    own = architecture_neff("m", ArchitectureSpec(**{**SMALL, "launch": "1000 ns", "compute_efficiency": 0.5}), execution)
    assert own.cost.fixed_ns == 1000 and own.cost.efficiency == 0.5


ints = st.integers(1, 8)


@settings(max_examples=60, deadline=None)
@given(layers=ints, heads=st.sampled_from([1, 2, 4]), hd=st.sampled_from([8, 16]), ffn=st.integers(1, 512),
       vocab=st.integers(1, 1000), batch=ints, kv=st.integers(1, 64), tp=st.sampled_from([1, 2, 4, 8]),
       which=st.sampled_from(["layers", "ffn", "vocab", "batch", "kv_len", "hidden"]))
def test_cost_is_monotone_in_every_size_and_more_ranks_never_move_more_bytes(layers, heads, hd, ffn, vocab, batch,
                                                                            kv, tp, which):
    base = {"kind": "transformer", "layers": layers, "hidden": heads * hd, "heads": heads, "ffn": ffn,
            "vocab": vocab, "batch": batch, "kv_len": kv, "tp": tp}
    bigger = dict(base)
    bigger[which] = base[which] * 2
    a, b = derive(ArchitectureSpec(**base)), derive(ArchitectureSpec(**bigger))
    assert b.flops >= a.flops and b.hbm_bytes >= a.hbm_bytes
    more = derive(ArchitectureSpec(**{**base, "tp": tp * 2}))
    assert more.hbm_bytes <= a.hbm_bytes and more.flops <= a.flops


def test_time_is_monotone_in_layers_and_deterministic_through_the_engine():
    def tpot(layers: int) -> int:
        spec = {"schema_version": 1, "name": "t", "instance": "trn1.32xlarge",
                "collectives": {"fidelity": "analytical"},
                "models": {"m": {**SMALL, "layers": layers, "tp": 2}},
                "threads": [{"cores": "0-1", "dispatch": "all", "iterations": 2,
                             "program": [{"write": "input_ids"}, {"execute": "m"}, {"read": "logits"}]}]}
        run = run_workload(WorkloadSpec.model_validate(spec))
        return max(r.done_ns - r.arrival_ns for r in run.iterations)

    one, two = tpot(1), tpot(2)
    assert two > one and tpot(2) == two


def test_nrt_tensor_copy_is_host_based_at_the_published_rate():
    """reference/measurements.md M3: about 24 GiB/s on trn1.2xlarge, below the core's DMA rate."""
    sim, rt = open_runtime("trn1.2xlarge", env={"NEURON_RT_VISIBLE_CORES": "0"})
    size = 1 << 24
    a, b = tensor(rt, size, vnc=0, name="a"), tensor(rt, size, vnc=0, name="b")
    done, seq = nrt.Ref(), nrt.Ref()
    t0 = sim.now_ns
    assert rt.nrta_tensor_copy(a, 0, b, 0, size, 0, 0, done, seq) == nrt.NRT_SUCCESS
    sim.run_until_idle()
    rate = 24 * 2**30 / 1e9  # B/ns
    assert rt.request(seq.value).end_ns == t0 + SCHEDULE + SETUP + math.ceil(size / rate)


def test_the_validation_page_shows_what_the_timing_benchmark_prints():
    assert_page_shows_benchmark("timing", "bench_timing.py")


def test_a_tensor_parallel_model_needs_its_ranks_in_one_thread(tmp_path):
    spec = {"schema_version": 1, "name": "t", "instance": "trn1.32xlarge",
            "models": {"m": {**SMALL, "tp": 2}},
            "threads": [{"cores": "0-7", "dispatch": "all", "iterations": 1, "program": [{"execute": "m"}]}]}
    path = tmp_path / "w.yaml"
    path.write_text(yaml.safe_dump(spec))
    with pytest.raises(neuronsim.ConfigError) as info:
        load_workload(path)
    assert str(info.value) == (f"{path}: threads[0].program[0].execute: model 'm' is tensor parallel over 2 ranks: "
                               "its thread needs dispatch: all over 2 cores (it has 8, dispatch all)")


@settings(deadline=None)
@given(layers=ints, heads=st.sampled_from([1, 2, 4]), hd=st.sampled_from([8, 64]), ffn=st.integers(1, 4096),
       vocab=st.integers(1, 50_000), batch=ints, kv=st.integers(1, 4096),
       which=st.sampled_from(["layers", "ffn", "vocab", "batch", "kv_len", "hidden"]),
       kind=st.sampled_from(["transformer", "encoder"]))
def test_simulated_time_is_monotone_in_every_size_and_in_layers(layers, heads, hd, ffn, vocab, batch, kv, which,
                                                                kind):
    """Through the engine (one rank, the chip's fitted execution terms): doubling any size of the model
    never makes its execution faster, and the same model takes the same time twice."""
    execution = neuronsim.Simulator("trn1.2xlarge", timing_only=True).topology.spec.chip.execution
    base = {"kind": kind, "layers": layers, "hidden": heads * hd, "heads": heads, "ffn": ffn, "batch": batch}
    base.update({"vocab": vocab, "kv_len": kv} if kind == "transformer" else {"seq": kv})
    key = "seq" if which == "kv_len" and kind == "encoder" else which
    if key == "vocab" and kind == "encoder":
        key = "batch"
    bigger = {**base, key: base[key] * 2} if key != "hidden" else {**base, "hidden": heads * hd * 2}

    def ns(spec: dict) -> int:
        cost = architecture_neff("m", ArchitectureSpec(**spec), execution).cost
        assert isinstance(cost, neuronsim.Roofline)
        return _run(cost)

    small = ns(base)
    assert ns(bigger) >= small
    assert ns(base) == small
