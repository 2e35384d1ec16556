"""Simulated NEFFs: a model's named inputs and outputs, a cost model, and an optional numpy kernel.

``Neff(inputs={"x": ((1024,), "float32")}, outputs={"y": ((1024,), "float32")}, duration_ns=50_000,
kernel=lambda x: {"y": x * 2})``. Cost models:

* :class:`FixedCost` — the execution takes ``duration_ns`` (``Neff(duration_ns=...)``);
* :class:`Roofline` — fixed costs plus ``max(flops / core peak, hbm_bytes / HBM bandwidth)``: compute at
  the logical core's published TensorE peak (physical cores x per-core peak) and memory traffic on the
  core's HBM stack, where it contends with DMA transfers and the other cores on the stack.
"""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

import numpy as np

from neuronsim.nrt import nrt_dtype_t

__all__ = ["Neff", "FixedCost", "Roofline", "TensorSpec", "DTYPES", "CollectiveSpec", "PRECISIONS"]

# name -> (itemsize, numpy dtype the kernel sees, nrt_dtype_t)
DTYPES: dict[str, tuple[int, np.dtype, nrt_dtype_t]] = {
    "float32": (4, np.dtype(np.float32), nrt_dtype_t.NRT_DTYPE_FLOAT32),
    "float16": (2, np.dtype(np.float16), nrt_dtype_t.NRT_DTYPE_FLOAT16),
    "bfloat16": (2, np.dtype(np.uint16), nrt_dtype_t.NRT_DTYPE_BFLOAT16),
    "fp8_e3": (1, np.dtype(np.uint8), nrt_dtype_t.NRT_DTYPE_FP8_E3),
    "fp8_e4": (1, np.dtype(np.uint8), nrt_dtype_t.NRT_DTYPE_FP8_E4),
    "fp8_e5": (1, np.dtype(np.uint8), nrt_dtype_t.NRT_DTYPE_FP8_E5),
    "int8": (1, np.dtype(np.int8), nrt_dtype_t.NRT_DTYPE_INT8),
    "int16": (2, np.dtype(np.int16), nrt_dtype_t.NRT_DTYPE_INT16),
    "int32": (4, np.dtype(np.int32), nrt_dtype_t.NRT_DTYPE_INT32),
    "int64": (8, np.dtype(np.int64), nrt_dtype_t.NRT_DTYPE_INT64),
    "uint8": (1, np.dtype(np.uint8), nrt_dtype_t.NRT_DTYPE_UINT8),
    "uint16": (2, np.dtype(np.uint16), nrt_dtype_t.NRT_DTYPE_UINT16),
    "uint32": (4, np.dtype(np.uint32), nrt_dtype_t.NRT_DTYPE_UINT32),
    "uint64": (8, np.dtype(np.uint64), nrt_dtype_t.NRT_DTYPE_UINT64),
}


@dataclass(frozen=True)
class TensorSpec:
    """A named model input or output: shape and dtype, and the bytes that follow from them."""

    name: str
    shape: tuple[int, ...]
    dtype: str

    @property
    def size_bytes(self) -> int:
        return math.prod(self.shape) * DTYPES[self.dtype][0]

    @property
    def numpy_dtype(self) -> np.dtype:
        return DTYPES[self.dtype][1]

    @property
    def nrt_dtype(self) -> nrt_dtype_t:
        return DTYPES[self.dtype][2]


@dataclass(frozen=True)
class FixedCost:
    """An execution takes ``duration_ns`` whatever else runs."""

    duration_ns: int

    def __post_init__(self) -> None:
        if not isinstance(self.duration_ns, int) or self.duration_ns < 0:
            raise ValueError(f"duration_ns(={self.duration_ns!r}) must be an int >= 0.")


@dataclass(frozen=True)
class Roofline:
    """An execution bound by compute or HBM traffic, whichever is slower, plus fixed costs.

    Duration: ``fixed_ns + layers * layer_ns + max(flops / (peak * efficiency),
    hbm_bytes / (HBM rate * memory_efficiency))``, where ``peak`` is the logical core's TensorE peak
    at ``precision`` and the memory term is HBM traffic on the core's stack, contending with DMA
    transfers and the other cores there. The fixed terms follow the roofline part (their order does
    not change the duration); they stand for what a real NEFF pays besides its matmuls and weight
    streaming: kernel launches, semaphores and engine synchronisation per layer (reference/measurements.md
    M1-M2 show ~tens to ~100+ us per transformer layer that no efficiency can express).

    Args:
        flops: floating-point (or integer) operations of one execution.
        hbm_bytes: HBM bytes one execution moves; ``None`` means its inputs plus its outputs.
        precision: ``"bf16"`` (also FP16), ``"fp32"``, ``"fp8"`` or ``"int8"``: which TensorE peak applies.
            A precision without a published peak on the chip runs at the BF16 rate (NC-v2's cFP8 is
            listed at the BF16 rate, reference/hardware.md §2.4; docs/assumptions.md A31).
        efficiency: fraction of the compute peak reached (0 < efficiency <= 1). It does not scale the
            HBM bytes (``memory_efficiency`` does).
        memory_efficiency: fraction of the stack's HBM bandwidth the execution's traffic reaches
            (0 < memory_efficiency <= 1): its bytes are moved as ``hbm_bytes / memory_efficiency``.
        fixed_ns: a fixed cost of every execution, ns.
        layers: units of work the model declares (transformer layers, kernels); each costs ``layer_ns``.
        layer_ns: the fixed cost of one unit, ns.

    Raises:
        ValueError: a negative count or time, an efficiency outside (0, 1], an unknown precision.
    """

    flops: int
    hbm_bytes: int | None = None
    precision: str = "bf16"
    efficiency: float = 1.0
    memory_efficiency: float = 1.0
    fixed_ns: int = 0
    layers: int = 0
    layer_ns: int = 0

    def __post_init__(self) -> None:
        if self.flops < 0:
            raise ValueError(f"flops(={self.flops}) must be >= 0.")
        if self.hbm_bytes is not None and self.hbm_bytes < 0:
            raise ValueError(f"hbm_bytes(={self.hbm_bytes}) must be >= 0.")
        if self.precision not in PRECISIONS:
            raise ValueError(f"precision(={self.precision!r}) must be one of {list(PRECISIONS)}.")
        for name in ("efficiency", "memory_efficiency"):
            value = getattr(self, name)
            if not 0 < value <= 1:
                raise ValueError(f"{name}(={value}) must be in (0, 1].")
        for name in ("fixed_ns", "layers", "layer_ns"):
            if getattr(self, name) < 0:
                raise ValueError(f"{name}(={getattr(self, name)}) must be >= 0.")

    @property
    def overhead_ns(self) -> int:
        """The fixed part of the duration: ``fixed_ns + layers * layer_ns``."""
        return int(self.fixed_ns) + int(self.layers) * int(self.layer_ns)


#: Roofline precisions; each names a TensorE peak of the chip's ComputeSpec.
PRECISIONS = ("bf16", "fp32", "fp8", "int8")


CostModel = FixedCost | Roofline


@dataclass(frozen=True)
class CollectiveSpec:
    """A collective a NEFF issues after its compute (for ``nrt_load_collectives``).

    Args:
        operation: ``"allreduce"``, ``"allgather"``, ``"reducescatter"``, ``"alltoall"`` or ``"permute"``.
        size_bytes: the message size as nccom-test counts it (the all-reduce buffer, the all-gather
            output, the reduce-scatter input); taken from the tensors when ``input`` is given.
        algorithm: force an algorithm (else the runtime selects one).
        input: the NEFF tensor (an input, or an output the kernel wrote) the collective reads; without
            one the collective is timing only and moves no tensor data.
        output: the NEFF output it writes (default ``input``, in place: an all-reduce of an output).
        reduce: ``"add"``, ``"max"`` or ``"min"`` (all-reduce and reduce-scatter).
    """

    operation: str
    size_bytes: int = 0
    algorithm: str | None = None
    input: str | None = None
    output: str | None = None
    reduce: str = "add"

    def __post_init__(self) -> None:
        if self.operation not in ("allreduce", "allgather", "reducescatter", "alltoall", "permute"):
            raise ValueError(f"operation(={self.operation!r}) is not a collective")
        if self.output is not None and self.input is None:
            raise ValueError("output needs input")
        if self.size_bytes < (0 if self.input is not None else 1):
            raise ValueError(f"size_bytes(={self.size_bytes}) must be >= 1 (or give input).")
        if self.reduce not in ("add", "max", "min"):
            raise ValueError(f"reduce(={self.reduce!r}) must be add, max or min")

    def resolved(self, tensors: Mapping[str, TensorSpec], outputs: set[str]) -> CollectiveSpec:
        """This spec checked against a NEFF's tensors, with ``output`` and ``size_bytes`` filled in."""
        if self.input is None:
            return self
        output = self.output or self.input
        for role, name in (("input", self.input), ("output", output)):
            if name not in tensors:
                raise ValueError(f"collective {role} {name!r} is not a tensor of the NEFF")
        if output not in outputs:
            raise ValueError(f"collective output {output!r} must be an output of the NEFF")
        src, dst = tensors[self.input], tensors[output]
        if src.dtype != dst.dtype:
            raise ValueError(f"collective input {src.name!r} is {src.dtype}, its output {dst.name!r} is {dst.dtype}")
        if self.operation in ("allreduce", "alltoall", "permute") and src.size_bytes != dst.size_bytes:
            raise ValueError(f"{self.operation} needs input and output of one size, not {src.size_bytes} and "
                             f"{dst.size_bytes} bytes")
        from neuronsim.collectives.data import REDUCIBLE

        if self.operation in ("allreduce", "reducescatter") and src.nrt_dtype not in REDUCIBLE:
            raise ValueError(f"{src.dtype} cannot be reduced")
        size = dst.size_bytes if self.operation == "allgather" else src.size_bytes
        if self.size_bytes and self.size_bytes != size:
            raise ValueError(f"size_bytes(={self.size_bytes}) is not the tensors' {size}")
        return dataclasses.replace(self, output=output, size_bytes=size)


def _specs(kind: str, tensors: Mapping[str, Any]) -> tuple[TensorSpec, ...]:
    out = []
    for name, desc in tensors.items():
        try:
            shape, dtype = desc
            shape = tuple(int(d) for d in shape)
        except (TypeError, ValueError):
            raise ValueError(f"{kind}[{name!r}] must be (shape, dtype), not {desc!r}") from None
        if dtype not in DTYPES:
            raise ValueError(f"{kind}[{name!r}]: unknown dtype {dtype!r}; known: {', '.join(DTYPES)}")
        if any(d < 0 for d in shape):
            raise ValueError(f"{kind}[{name!r}]: negative dimension in {shape}")
        out.append(TensorSpec(name, shape, dtype))
    return tuple(out)


class Neff:
    """A simulated NEFF: what ``nrt_load`` accepts in place of NEFF bytes.

    Args:
        inputs: name -> ``(shape, dtype)`` of each input.
        outputs: name -> ``(shape, dtype)`` of each output.
        duration_ns: a fixed execution time (shorthand for ``cost=FixedCost(duration_ns)``).
        cost: a cost model (:class:`FixedCost` or :class:`Roofline`).
        kernel: optional callable taking the inputs as numpy arrays (keyword arguments by name) and
            returning a dict of output arrays; run when the execution ends unless in timing-only mode.
        name: a name for traces and logs.
        collectives: collectives the model issues after its compute, in order; load it with
            ``nrt_load_collectives`` on every rank. One with an ``input`` runs on the NEFF's tensors
            (the kernel's outputs are written first); one without is timing only.
        weights_bytes: device memory of the model's constants and code ("model constants" in the
            runtime's memory report), taken from the core's HBM at ``nrt_load``.
        scratchpad_bytes: the scratchpad the NEFF declares; loaded NEFFs share one scratchpad per core
            that grows in pages to the largest of them (docs/assumptions.md A71).
        io_device_bytes: device memory the load takes for the model's I/O; ``None`` (the default):
            its inputs' and outputs' bytes (A71). ``0`` for a NEFF whose I/O lives only in tensors the
            application allocates.

    ``device_bytes`` is what a load takes apart from the shared scratchpad (weights plus I/O); the reader
    of compiled ``.neff`` files (:mod:`neuronsim.runtime.neff_file`) sets ``weights_bytes`` and
    ``scratchpad_bytes`` from the subgraphs' ``def.json``.
    """

    def __init__(
        self,
        inputs: Mapping[str, Any],
        outputs: Mapping[str, Any],
        duration_ns: int | None = None,
        *,
        cost: CostModel | None = None,
        kernel: Callable[..., Mapping[str, Any]] | None = None,
        name: str = "model.neff",
        collectives: tuple[CollectiveSpec, ...] | list[CollectiveSpec] = (),
        weights_bytes: int = 0,
        scratchpad_bytes: int = 0,
        io_device_bytes: int | None = None,
    ) -> None:
        if (duration_ns is None) == (cost is None):
            raise ValueError("give exactly one of duration_ns and cost")
        self.inputs = _specs("inputs", inputs)
        self.outputs = _specs("outputs", outputs)
        names = [t.name for t in self.inputs + self.outputs]
        if len(set(names)) != len(names):
            raise ValueError(f"input and output names must be unique: {names}")
        self.cost: CostModel = FixedCost(duration_ns) if duration_ns is not None else cost  # type: ignore[assignment]
        self.kernel = kernel
        self.name = name
        by_name = {t.name: t for t in self.inputs + self.outputs}
        self.collectives = tuple(c.resolved(by_name, {t.name for t in self.outputs}) for c in collectives)
        # what a compiled NEFF file's header and kelf say (neuronsim.runtime.neff_file); defaults otherwise
        self.uuid: str | None = None
        self.version: tuple[int, int] | None = None  # a compiled file's NEFF version (major, minor)
        self.target: str | None = None
        self.cores = 1
        self.subgraphs = 1
        self.source = "python"
        self.input_sizes = tuple((t.name, t.size_bytes) for t in self.inputs)
        self.output_sizes = tuple((t.name, t.size_bytes) for t in self.outputs)
        for label, value in (("weights_bytes", weights_bytes), ("scratchpad_bytes", scratchpad_bytes),
                             ("io_device_bytes", 0 if io_device_bytes is None else io_device_bytes)):
            if isinstance(value, bool) or not isinstance(value, int) or value < 0:
                raise ValueError(f"{label}(={value!r}) must be an int >= 0.")
        self.weights_bytes = weights_bytes
        self.scratchpad_bytes = scratchpad_bytes
        self.io_device_bytes = self.io_bytes if io_device_bytes is None else io_device_bytes

    def tensor(self, name: str) -> TensorSpec:
        """The input or output named ``name``."""
        return next(t for t in self.inputs + self.outputs if t.name == name)

    @property
    def io_bytes(self) -> int:
        return sum(t.size_bytes for t in self.inputs + self.outputs)

    @property
    def device_bytes(self) -> int:
        """Device memory a load takes for this NEFF alone: weights plus I/O (the shared scratchpad
        is accounted per core)."""
        return self.weights_bytes + self.io_device_bytes

    def __repr__(self) -> str:
        return f"Neff({self.name!r}, inputs={[t.name for t in self.inputs]}, outputs={[t.name for t in self.outputs]})"
