"""The neuronsim NEFF description: a model (a NEFF) given by its named inputs and outputs, a cost and the
collectives it issues, as workload files name models and as the C ABI's ``nrt_load`` /
``nrt_load_collectives`` take NEFF bytes that are not a compiled file (YAML or JSON,
:func:`neuronsim.runtime.neff_file.neff_from_bytes`). :func:`neff_from_description` turns one into a
:class:`~neuronsim.runtime.neff.Neff`. The reference is docs/reference/workload.md ("models").

It lives with the NEFF (:mod:`neuronsim.runtime.neff`, :mod:`neuronsim.runtime.neff_file`), below the
workload layer, which imports it (:mod:`neuronsim.workload.spec`).
"""

from __future__ import annotations

from typing import Annotated, Any, Literal

from pydantic import BeforeValidator, Field, PlainSerializer, model_validator

from neuronsim.collectives.algorithms import ALGORITHMS
from neuronsim.runtime.neff import DTYPES, CollectiveSpec, Neff, Roofline
from neuronsim.topology.spec import Bytes, Spec, _fail
from neuronsim.units import UnitError, parse_bytes, parse_duration

__all__ = ["Duration", "TensorDecl", "CostSpec", "ModelSpec", "NeffCollectiveSpec", "NeffDescription",
           "COLLECTIVE_OPS", "neff_from_description"]

COLLECTIVE_OPS = ("allreduce", "allgather", "reducescatter", "alltoall", "permute")


def _duration(value: Any) -> Any:
    """A time with its unit (``30 us``); a bare number is refused (:func:`neuronsim.units.parse_duration`)."""
    if isinstance(value, (str, int, float)) and not isinstance(value, bool):
        try:
            return parse_duration(value)
        except UnitError as exc:
            from pydantic_core import PydanticCustomError

            raise PydanticCustomError("unit", "{reason}", {"reason": str(exc)}) from None
    return value


# a time whose field name does not say its unit: "30 us", never a bare 30 (docs/reference/workload.md)
# (written back as "N ns" in JSON mode, so a dumped workload loads again)
Duration = Annotated[int, BeforeValidator(_duration), Field(ge=0), PlainSerializer(lambda ns: f"{ns} ns", when_used="json")]


def _tensor_decl(value: Any) -> Any:
    """``512 KiB`` (or a byte count) is a uint8 tensor of that size; else ``{shape: [...], dtype: ...}``."""
    if isinstance(value, (str, int)) and not isinstance(value, bool):
        try:
            return {"shape": [parse_bytes(value)], "dtype": "uint8"}
        except UnitError as exc:
            from pydantic_core import PydanticCustomError

            raise PydanticCustomError("unit", "{reason}", {"reason": str(exc)}) from None
    return value


class TensorDecl(Spec):
    """A model input or output: its shape and element type."""

    shape: tuple[Annotated[int, Field(ge=1)], ...] = Field(min_length=1)
    dtype: Literal[tuple(DTYPES)] = "uint8"  # type: ignore[valid-type]

    @property
    def size_bytes(self) -> int:
        size = DTYPES[self.dtype][0]
        for n in self.shape:
            size *= n
        return size


class CostSpec(Spec):
    """A model's cost: a fixed ``duration``, or a roofline (``flops`` and optionally ``hbm_bytes``)."""

    duration: Duration | None = None
    flops: float | None = Field(None, ge=0)
    hbm_bytes: Bytes | None = None
    precision: Literal["bf16", "fp32", "fp8", "int8"] = "bf16"
    efficiency: float = Field(1.0, ge=1e-6, le=1, description="Fraction of peak compute, 1e-6 to 1 (A113).")
    memory_efficiency: float = Field(1.0, ge=1e-6, le=1, description="Fraction of peak HBM bandwidth, 1e-6 to 1.")
    fixed: Duration = 0
    layers: int = Field(0, ge=0)
    layer: Duration = 0

    @model_validator(mode="after")
    def _one(self) -> CostSpec:
        if (self.duration is None) == (self.flops is None):
            raise _fail("", "give either duration (a fixed cost) or flops (a roofline), not both or neither")
        roofline_only = ("hbm_bytes", "efficiency", "memory_efficiency", "fixed", "layers", "layer")
        if self.duration is not None and self.model_fields_set & set(roofline_only):
            raise _fail("", f"{', '.join(roofline_only)} belong to a roofline (flops), not to a fixed duration")
        return self


class ModelSpec(Spec):
    """One model (a NEFF): named inputs and outputs and a cost."""

    inputs: dict[str, Annotated[TensorDecl, BeforeValidator(_tensor_decl)]] = Field(default_factory=dict)
    outputs: dict[str, Annotated[TensorDecl, BeforeValidator(_tensor_decl)]] = Field(default_factory=dict)
    cost: CostSpec

    @model_validator(mode="after")
    def _names(self) -> ModelSpec:
        both = set(self.inputs) & set(self.outputs)
        if both:
            raise _fail("outputs", f"{sorted(both)[0]!r} is also an input (names must be unique)")
        return self


class NeffCollectiveSpec(Spec):
    """A collective a NEFF issues after its compute (:class:`neuronsim.CollectiveSpec`)."""

    operation: Literal[COLLECTIVE_OPS]  # type: ignore[valid-type]
    size: Bytes | None = Field(None, description="Message size as nccom-test counts it; default: from the tensors.")
    input: str | None = Field(None, min_length=1, description="The NEFF tensor it reads (none: timing only).")
    output: str | None = Field(None, min_length=1, description="The NEFF output it writes (default: input).")
    reduce: Literal["add", "max", "min"] = "add"
    algorithm: Literal[ALGORITHMS] | None = None  # type: ignore[valid-type]


class NeffDescription(ModelSpec):
    """What the C ABI's ``nrt_load`` / ``nrt_load_collectives`` take for NEFF bytes: a model, named, with
    the collectives it issues (run when loaded with ``nrt_load_collectives``)."""

    name: str = "model"
    collectives: list[NeffCollectiveSpec] = Field(default_factory=list)


def neff_from_description(name: str, spec: ModelSpec) -> Neff:
    """The :class:`~neuronsim.runtime.neff.Neff` of a model description (a :class:`ModelSpec`, or a
    :class:`NeffDescription` with the collectives it issues), named ``<name>.neff``."""
    inputs = {t: (tuple(d.shape), d.dtype) for t, d in spec.inputs.items()}
    outputs = {t: (tuple(d.shape), d.dtype) for t, d in spec.outputs.items()}
    collectives = [CollectiveSpec(c.operation, c.size or 0, c.algorithm, c.input, c.output, c.reduce)
                   for c in getattr(spec, "collectives", ())]
    cost = spec.cost
    if cost.duration is not None:
        return Neff(inputs, outputs, duration_ns=cost.duration, name=f"{name}.neff", collectives=collectives)
    roofline = Roofline(int(cost.flops or 0), cost.hbm_bytes, cost.precision, cost.efficiency, cost.memory_efficiency,
                        cost.fixed, cost.layers, cost.layer)
    return Neff(inputs, outputs, cost=roofline, name=f"{name}.neff", collectives=collectives)
