"""Models described by their architecture: a transformer (decoder) or an encoder, as a NEFF per rank.

``kind: transformer`` and ``kind: encoder`` in a workload file (or :class:`ArchitectureSpec` in Python)
describe a model by its shape instead of its FLOPs. :func:`derive` turns one into what one execution on
one tensor-parallel rank does: its FLOPs, its HBM bytes (weights, KV cache) and the collectives it
issues, and :func:`architecture_neff` into the :class:`~neuronsim.runtime.neff.Neff` the runtime
executes, through the same engine as any NEFF (its HBM traffic contends on the stack, its collectives
run on the fabric with the other ranks' copies).

Formulas (per execution, ``H`` hidden size, ``hd = H / heads``, ``kvh`` KV heads, ``FF`` FFN size,
``L`` layers, ``V`` vocabulary, ``t`` the tensor-parallel degree, ``b`` batch):

* parameters of one layer: attention ``2 H^2 + 2 H kvh hd`` (Q and O are ``H x H``, K and V
  ``H x kvh hd``) plus the MLP, ``3 H FF`` gated (Llama's SwiGLU) or ``2 H FF`` (BERT);
* tokens processed: ``b`` in decode, ``b S`` in prefill and in an encoder (``S`` the sequence);
* FLOPs: ``tokens x L x (2 P_layer + 4 C H)`` with ``C`` the context a token attends to (the KV-cache
  length in decode, ``S`` otherwise), plus the LM head ``2 H V`` for each sequence's last token; the
  encoder formula is reference/measurements.md M1's ``L (8H^2 + 4H FF + 4SH) S``;
* HBM bytes: the weights once (``(L P_layer + H V) x`` the weight dtype's size), plus the KV cache
  read in decode (written in prefill): ``L x 2 x ceil(kvh / t) x hd x C x b x`` the dtype's size
  (a rank holds at least one KV head: heads are replicated when ``t > kvh``); activations are not
  counted (they stay in SBUF);
* FLOPs and weight bytes divide by ``t`` (Megatron-style tensor parallelism); with ``t > 1`` every
  layer issues two all-reduces of ``tokens x H`` activations (after attention's output projection
  and after the MLP), and a decoder all-gathers the logits (``b x V`` values) at the end.

int8 or fp8 weights halve the weight bytes against bf16 (the matmuls still run at ``precision``, as
transformers-neuronx dequantises them). Where a field is left out, the chip's calibrated
``execution`` terms apply (``topologies/chips/*.yaml``, fitted on reference/measurements.md).
"""

from __future__ import annotations

import math
from dataclasses import dataclass

from neuronsim.runtime.neff import DTYPES, CollectiveSpec, Neff, Roofline
from neuronsim.topology.spec import ExecutionSpec
from neuronsim.workload.spec import ArchitectureSpec

__all__ = ["ArchitectureSpec", "StepCost", "derive", "architecture_neff"]


@dataclass(frozen=True)
class StepCost:
    """What one execution does on one tensor-parallel rank.

    Attributes:
        flops: operations on this rank.
        weight_bytes: weight bytes this rank streams from HBM.
        kv_bytes: KV-cache bytes this rank reads (decode) or writes (prefill).
        tokens: tokens the step processes (all ranks together).
        collectives: ``(operation, bytes)`` in issue order, nccom-test sizes.
    """

    flops: int
    weight_bytes: int
    kv_bytes: int
    tokens: int
    collectives: tuple[tuple[str, int], ...]

    @property
    def hbm_bytes(self) -> int:
        return self.weight_bytes + self.kv_bytes


def derive(spec: ArchitectureSpec) -> StepCost:
    """The FLOPs, HBM bytes and collectives of one execution of ``spec`` on one rank (formulas above)."""
    h, layers, t = spec.hidden, spec.layers, spec.tp
    hd = h // spec.heads
    kvh = spec.kv_heads or spec.heads
    gated = spec.gated_mlp if spec.gated_mlp is not None else spec.kind == "transformer"
    layer_params = 2 * h * h + 2 * h * kvh * hd + (3 if gated else 2) * h * spec.ffn
    decode = spec.step_phase == "decode"
    tokens = spec.batch * (1 if decode else spec.seq)
    context = (spec.kv_len or spec.seq) if decode else spec.seq
    flops = tokens * layers * (2 * layer_params + 4 * context * h) + spec.batch * 2 * h * spec.vocab
    act = DTYPES[spec.dtype][0]
    weight_size = DTYPES[spec.weight_dtype or spec.dtype][0]
    weights = (layers * layer_params + h * spec.vocab) * weight_size
    kv = layers * 2 * math.ceil(kvh / t) * hd * context * spec.batch * act if spec.kind == "transformer" else 0
    collectives: list[tuple[str, int]] = []
    if t > 1:
        collectives = [("allreduce", tokens * h * act)] * (2 * layers)
        if spec.vocab:
            collectives.append(("allgather", spec.batch * spec.vocab * act))
    return StepCost(math.ceil(flops / t), math.ceil(weights / t), kv, tokens, tuple(collectives))


def architecture_neff(name: str, spec: ArchitectureSpec, execution: ExecutionSpec | None) -> Neff:
    """The NEFF one rank of ``spec`` loads: its signature (token ids in; this rank's logits shard or the
    encoder's hidden states out), a :class:`Roofline` with the chip's ``execution`` terms (or the spec's
    own), and its collectives (timing only). Load it with ``nrt_load_collectives`` as rank ``r`` of
    ``spec.tp`` when ``tp > 1``."""
    cost = derive(spec)
    step_tokens = 1 if spec.step_phase == "decode" else spec.seq
    inputs = {"input_ids": ((spec.batch, step_tokens), "int32")}
    outputs: dict[str, tuple[tuple[int, ...], str]]  # name -> (shape, dtype)
    if spec.kind == "transformer":
        outputs = {"logits": ((spec.batch, math.ceil(spec.vocab / spec.tp)), spec.dtype)}
    else:
        outputs = {"hidden": ((spec.batch, spec.seq, spec.hidden), spec.dtype)}

    def pick(own: float | int | None, field: str, neutral: float | int) -> float | int:
        if own is not None:
            return own
        return getattr(execution, field) if execution is not None else neutral

    roofline = Roofline(
        flops=cost.flops, hbm_bytes=cost.hbm_bytes, precision="fp32" if spec.dtype == "float32" else "bf16",
        efficiency=float(pick(spec.compute_efficiency, "compute_efficiency", 1.0)),
        memory_efficiency=float(pick(spec.memory_efficiency, "memory_efficiency", 1.0)),
        fixed_ns=int(pick(spec.launch, "launch_ns", 0)), layers=spec.layers,
        layer_ns=int(pick(spec.layer_cost, "layer_ns", 0)))
    collectives = [CollectiveSpec(op, size) for op, size in cost.collectives]
    return Neff(inputs, outputs, cost=roofline, name=f"{name}.neff", collectives=collectives)
