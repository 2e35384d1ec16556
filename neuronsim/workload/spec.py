"""Workload files: models, host threads and their programs, validated as strictly as topologies.

A workload names the models it runs (inputs, outputs, a cost model), and the host threads that drive
them: each thread has a CPU affinity, the logical cores it drives, an API style, an in-flight limit,
how many iterations it runs (or for how long), how iterations arrive, and a program of steps that one
iteration runs. The reference is docs/reference/workload.md; :func:`load_workload` turns every problem
into a :class:`~neuronsim.errors.ConfigError` naming the file, the field and the reason.
"""

from __future__ import annotations

import copy
from functools import cached_property
from pathlib import Path
from typing import Annotated, Any, Literal

from pydantic import BeforeValidator, Discriminator, Field, Tag, field_validator, model_validator

from neuronsim.collectives.algorithms import ALGORITHMS
from neuronsim.collectives.data import REDUCIBLE
from neuronsim.errors import ConfigError
from neuronsim.idlist import parse_id_list
from neuronsim.sim.faults import FaultSpec
from neuronsim.runtime.neff import DTYPES
from neuronsim.runtime.neff_description import (  # the NEFF description lives with the NEFF; re-exported here
    COLLECTIVE_OPS,
    CostSpec,
    Duration,
    ModelSpec,
    NeffCollectiveSpec,
    NeffDescription,
    TensorDecl,
)
from neuronsim.topology.spec import MAX_INSTANCES, Bytes, CpuList, Spec, _fail
from neuronsim.yaml_loader import load_mapping, load_yaml_text, validate

__all__ = ["Duration", "WorkloadSpec", "ThreadSpec", "StepSpec", "ModelSpec", "ArchitectureSpec", "load_workload", "apply_overrides",
           "CostSpec", "NeffCollectiveSpec", "NeffDescription", "TensorDecl", "COLLECTIVE_OPS",
           "STEP_KINDS", "set_path"]

STEP_KINDS = ("write", "read", "execute", "collective", "compute", "sleep")
HOST_STEPS = ("compute", "sleep")
MAX_ITERATIONS = 10**8
"""The most iterations a thread may run, given or implied by ``rate x duration`` (docs/assumptions.md
A113: about 8 hours of wall time at the 3,500 write-execute-read iterations per second measured)."""
MAX_COMPUTE_NS = 1000 * 10**9
"""The longest ``compute`` step: 1,000 s, a million 1 ms CPU slices (A113; about 10 s of wall time)."""
MIN_RATE = 1e-9
"""The lowest arrival rate, per second: one per 31.7 years (A113)."""
MAX_RATE = 1e9
"""The highest arrival rate, per second: one per nanosecond, the clock's resolution (A113)."""
DEVICE_STEPS = ("write", "read", "execute", "collective")


class ArchitectureSpec(Spec):
    """A transformer decoder or a BERT-style encoder, described by its shape (docs/reference/workload.md)."""

    kind: Literal["transformer", "encoder"]
    layers: int = Field(ge=1)
    hidden: int = Field(ge=1)
    heads: int = Field(ge=1)
    kv_heads: int | None = Field(None, ge=1, description="Default: heads (multi-head attention).")
    ffn: int = Field(ge=1)
    vocab: int = Field(0, ge=0, description="Vocabulary (a decoder's LM head); 0 for an encoder.")
    gated_mlp: bool | None = Field(None, description="SwiGLU MLP (3 matrices); default: yes for a transformer.")
    dtype: Literal["bfloat16", "float16", "float32"] = "bfloat16"
    weight_dtype: Literal["bfloat16", "float16", "float32", "int8", "fp8_e4", "fp8_e5"] | None = None
    tp: int = Field(1, ge=1, description="Tensor-parallel degree: the ranks one execution spans.")
    batch: int = Field(1, ge=1)
    seq: int = Field(128, ge=1, description="Sequence length (prefill, encoder).")
    phase: Literal["prefill", "decode"] | None = Field(None, description="Default: decode for a transformer.")
    kv_len: int | None = Field(None, ge=1, description="Tokens in the KV cache a decode step attends to.")
    compute_efficiency: float | None = Field(None, ge=1e-6, le=1)
    memory_efficiency: float | None = Field(None, ge=1e-6, le=1)
    launch: Duration | None = None
    layer_cost: Duration | None = None

    @model_validator(mode="after")
    def _shape(self) -> ArchitectureSpec:
        if self.hidden % self.heads:
            raise _fail("heads", f"{self.heads} does not divide hidden ({self.hidden})")
        if self.kv_heads is not None and self.heads % self.kv_heads:
            raise _fail("kv_heads", f"{self.kv_heads} does not divide heads ({self.heads})")
        if self.kind == "encoder" and self.phase == "decode":
            raise _fail("phase", "an encoder has no decode phase")
        if self.kind == "transformer" and self.vocab < 1:
            raise _fail("vocab", "a transformer needs its vocabulary size (the LM head)")
        return self

    @property
    def step_phase(self) -> str:
        return self.phase or ("decode" if self.kind == "transformer" else "prefill")

    @property
    def inputs(self) -> dict[str, TensorDecl]:
        """The token ids of one step: ``input_ids`` int32 ``[batch, 1]`` in decode, ``[batch, seq]`` else."""
        return {"input_ids": TensorDecl(shape=(self.batch, 1 if self.step_phase == "decode" else self.seq),
                                        dtype="int32")}

    @property
    def outputs(self) -> dict[str, TensorDecl]:
        """A decoder's logits shard ``[batch, ceil(vocab / tp)]``; an encoder's hidden states ``[batch, seq, hidden]``."""
        if self.kind == "transformer":
            return {"logits": TensorDecl(shape=(self.batch, -(-self.vocab // self.tp)), dtype=self.dtype)}
        return {"hidden": TensorDecl(shape=(self.batch, self.seq, self.hidden), dtype=self.dtype)}


def _model_kind(value: Any) -> str:
    if isinstance(value, dict):
        return "ArchitectureSpec" if "kind" in value else "ModelSpec"
    return "ArchitectureSpec" if isinstance(value, ArchitectureSpec) else "ModelSpec"


AnyModelSpec = Annotated[Annotated[ModelSpec, Tag("ModelSpec")] | Annotated[ArchitectureSpec, Tag("ArchitectureSpec")],
                         Discriminator(_model_kind)]


class CollectiveStepSpec(Spec):
    """A collective among the thread's logical cores (one rank each, in the order of ``cores``)."""

    op: Literal[COLLECTIVE_OPS]  # type: ignore[valid-type]
    size: Bytes = Field(description="Input bytes per rank (output for allgather).")
    dtype: Literal[tuple(DTYPES)] = "bfloat16"  # type: ignore[valid-type]
    reduce: Literal["add", "max", "min"] = "add"
    group: str | None = Field(None, min_length=1, description="Threads whose collective steps name the same group "
                              "meet in one collective (their lanes, in thread order); default: this thread's lanes.")

    @model_validator(mode="after")
    def _elements(self) -> CollectiveStepSpec:
        """What ``nrta_cc_prepare`` would refuse on every rank, found in the file instead (A21: no FP8 or FP32R
        reduction; whole elements)."""
        itemsize, _, nrt_dtype = DTYPES[self.dtype]
        if self.size <= 0:
            raise _fail("size", f"{self.size} bytes: a collective moves at least one {itemsize}-byte element a rank")
        if self.op in ("allreduce", "reducescatter") and int(nrt_dtype) not in REDUCIBLE:
            raise _fail("dtype", f"an {self.op} cannot reduce {self.dtype}: the runtime has no reduction of it (A21)")
        if self.size % itemsize:
            raise _fail("size", f"{self.size} bytes is not a whole number of {itemsize}-byte {self.dtype} elements")
        return self


class StepSpec(Spec):
    """One step of a program: exactly one of the kinds in ``STEP_KINDS``."""

    id: str | None = Field(None, min_length=1)
    after: tuple[str, ...] | None = None
    queue: int = Field(0, ge=0, description="Tensor Op or Collectives queue of a write, read or collective.")
    write: str | None = None
    read: str | None = None
    execute: str | None = None
    collective: CollectiveStepSpec | None = None
    compute: Duration | None = None
    sleep: Duration | None = None

    @model_validator(mode="after")
    def _one_kind(self) -> StepSpec:
        kinds = [k for k in STEP_KINDS if getattr(self, k) is not None]
        if len(kinds) != 1:
            raise _fail("", f"a step has exactly one of {', '.join(STEP_KINDS)}; found "
                            f"{', '.join(kinds) if kinds else 'none'}")
        if self.compute is not None and self.compute > MAX_COMPUTE_NS:
            raise _fail("compute", f"{self.compute:,} ns is more than {MAX_COMPUTE_NS // 10**9:,} s, the longest "
                                   "host compute step (it runs as 1 ms CPU slices: split it, or use sleep)")
        return self

    @cached_property
    def kind(self) -> str:
        return next(k for k in STEP_KINDS if getattr(self, k) is not None)


def _arrivals(value: Any) -> Any:
    return {"kind": value} if isinstance(value, str) else value


class ArrivalSpec(Spec):
    """How iterations arrive: ``closed`` (the next when the window allows), ``fixed`` or ``poisson`` at ``rate``."""

    kind: Literal["closed", "fixed", "poisson"] = "closed"
    rate: float | None = Field(None, gt=0, description="Iterations per second (fixed, poisson).")

    @model_validator(mode="after")
    def _rate(self) -> ArrivalSpec:
        if (self.kind == "closed") != (self.rate is None):
            raise _fail("rate", "fixed and poisson arrivals need a rate (per second); closed has none")
        if self.rate is not None and not MIN_RATE <= self.rate <= MAX_RATE:
            raise _fail("rate", f"{self.rate:g} per second is outside {MIN_RATE:g} .. {MAX_RATE:g} (at most one "
                                "arrival per nanosecond, the clock's resolution; at least one per 31.7 years)")
        return self


class ThreadSpec(Spec):
    """A host thread: where it runs, which logical cores it drives, and its program."""

    name: str | None = Field(None, min_length=1)
    instance: int = Field(0, ge=0, le=MAX_INSTANCES - 1, description="Which instance of a cluster the thread runs on.")
    cpus: CpuList | None = None
    cores: CpuList = "0"
    dispatch: Literal["all", "round_robin"] = "all"
    style: Literal["nrta", "sync", "implicit_async"] = "nrta"
    in_flight: int = Field(2, ge=1, le=63)
    iterations: int | None = Field(None, ge=1, le=MAX_ITERATIONS)
    duration: Duration | None = None
    arrivals: Annotated[ArrivalSpec, BeforeValidator(_arrivals)] = ArrivalSpec()
    program: tuple[StepSpec, ...] = Field(min_length=1)

    @property
    def core_list(self) -> tuple[int, ...]:
        return tuple(parse_id_list(self.cores))

    def step_ids(self) -> list[str]:
        """Each step's id: its own, else what it names (the model of an execute, the tensor of a write or
        read, else its kind: ``collective``, ``compute``, ``sleep``), numbered from the second use
        (``decode2``)."""
        seen: dict[str, int] = {}
        ids = []
        for step in self.program:
            kind = step.kind
            named = getattr(step, kind)
            base = named.rpartition(".")[2] if isinstance(named, str) else kind
            seen[base] = seen.get(base, 0) + 1
            ids.append(step.id or (base if seen[base] == 1 else f"{base}{seen[base]}"))
        return ids


class CollectivesConfig(Spec):
    fidelity: Literal["step", "analytical"] = "step"
    algorithm: Literal[ALGORITHMS] | None = None  # type: ignore[valid-type]


class WorkloadSpec(Spec):
    """A workload file (docs/reference/workload.md)."""

    schema_version: Literal[1]
    name: str = Field(min_length=1)
    description: str = ""
    instance: str | None = None
    lnc: int | None = Field(None, ge=1, le=2)
    seed: int = Field(0, ge=0)
    until: Duration | None = None
    env: dict[str, str] = Field(default_factory=dict)
    runtime: dict[str, Any] | None = Field(None, description="A partial override of the instance's runtime "
                                           "parameters (queue_capacity: 4), merged onto the preset's.")
    collectives: CollectivesConfig = CollectivesConfig()
    faults: tuple[FaultSpec, ...] = ()
    models: dict[str, AnyModelSpec] = Field(min_length=1)
    threads: tuple[ThreadSpec, ...] = Field(min_length=1)

    def tensor_owner(self, ref: str) -> tuple[str, str, bool] | None:
        """``(model, tensor, is_input)`` of ``model.tensor`` or of a tensor name unique among the models."""
        if "." in ref:
            model, _, tensor = ref.partition(".")
            spec = self.models.get(model)
            if spec is None or (tensor not in spec.inputs and tensor not in spec.outputs):
                return None
            return model, tensor, tensor in spec.inputs
        found = [(m, ref, ref in s.inputs) for m, s in self.models.items() if ref in s.inputs or ref in s.outputs]
        return found[0] if len(found) == 1 else None

    @field_validator("env")
    @classmethod
    def _env(cls, env: dict[str, str]) -> dict[str, str]:
        for name in ("NEURON_RT_VISIBLE_CORES", "NEURON_RT_NUM_CORES"):
            if name in env:  # the runner gives each instance's runtime the cores its threads use
                raise _fail(name, "the workload sets the visible cores itself, from its threads' cores: remove it "
                                  "(a thread's cores field picks them)")
        return env

    @model_validator(mode="after")
    def _references(self) -> WorkloadSpec:
        styles = {t.style for t in self.threads}
        if "implicit_async" in styles and styles != {"implicit_async"}:
            raise _fail("threads", "implicit_async threads cannot share a process with nrta or sync threads "
                                   "(the runtime refuses nrta_* calls in implicit-async mode)")
        shapes: dict[str, tuple[str, Any]] = {}
        for i, thread in enumerate(self.threads):
            for k, step in enumerate(thread.program):
                cc = step.collective
                if cc is None or cc.group is None:
                    continue
                shape = cc.model_dump(exclude={"group"})
                where, first = shapes.setdefault(cc.group, (f"threads[{i}].program[{k}]", shape))
                if first != shape:
                    raise _fail(f"threads[{i}].program[{k}].collective", f"group {cc.group!r} is {first} at {where}; "
                                "every step of a group must run the same collective")
        names = [t.name for t in self.threads if t.name]
        if len(set(names)) != len(names):
            raise _fail("threads", "thread names must be unique")
        for i, thread in enumerate(self.threads):
            where = f"threads[{i}]"
            if thread.iterations is not None and thread.duration is not None:
                raise _fail(f"{where}.iterations", "give iterations or duration, not both")
            if thread.iterations is None and thread.duration is None and self.until is None:
                raise _fail(f"{where}.iterations", "give iterations or duration (or a workload-wide until)")
            rate = thread.arrivals.rate
            if thread.iterations is None and thread.duration is not None and rate is not None and \
                    rate * thread.duration / 1e9 > MAX_ITERATIONS:
                raise _fail(f"{where}.arrivals.rate", f"{rate:g} per second for {thread.duration:,} ns is "
                            f"{rate * thread.duration / 1e9:.3g} iterations, more than {MAX_ITERATIONS:,} (every "
                            "arrival before the end of the duration runs)")
            if thread.iterations is None and thread.arrivals.kind == "closed" and all(
                    step.kind in HOST_STEPS and not getattr(step, step.kind) for step in thread.program):
                raise _fail(f"{where}.program", "every step takes no time (compute or sleep of 0), so a closed loop "
                            "bounded by time (duration or until) would never move the clock: give a step a "
                            "time, or the thread iterations")
            ids = thread.step_ids()
            if len(set(ids)) != len(ids):
                raise _fail(f"{where}.program", f"step ids must be unique: {ids}")
            for k, step in enumerate(thread.program):
                at = f"{where}.program[{k}]"
                kind = step.kind
                if kind in ("write", "read"):
                    owner = self.tensor_owner(getattr(step, kind))
                    if owner is None:
                        raise _fail(f"{at}.{kind}", f"{getattr(step, kind)!r} is not an input or output of a model "
                                                    "(write model.tensor when two models share a name)")
                elif kind == "execute" and step.execute not in self.models:
                    raise _fail(f"{at}.execute", f"unknown model {step.execute!r}; known: {', '.join(self.models)}")
                elif step.execute is not None and \
                        isinstance(model := self.models[step.execute], ArchitectureSpec) and \
                        model.tp > 1 and (thread.dispatch != "all" or len(thread.core_list) != model.tp):
                    raise _fail(f"{at}.execute", f"model {step.execute!r} is tensor parallel over {model.tp} ranks: "
                                f"its thread needs dispatch: all over {model.tp} cores (it has "
                                f"{len(thread.core_list)}, dispatch {thread.dispatch})")
                elif kind == "collective":
                    if thread.dispatch != "all":
                        raise _fail(f"{at}.collective", "a collective needs dispatch: all (one rank per core)")
                    if thread.style != "nrta":
                        raise _fail(f"{at}.collective", "collectives are scheduled with nrta_cc_schedule: "
                                                        "style nrta")
                for ref in step.after or ():
                    if ref not in ids[:k]:
                        raise _fail(f"{at}.after", f"{ref!r} is not an earlier step of this program "
                                                   f"(earlier: {', '.join(ids[:k]) or 'none'})")
        return self


def set_path(data: Any, path: str, value: Any, source: str) -> None:
    """Set the field at dotted ``path`` (list items by index) of raw workload data to ``value``. Every mapping and
    list on the path is copied first, so a node the file shares through a YAML alias changes only where the
    path leads (``threads.0.program...`` changes thread 0's program, not every thread's)."""
    parts = path.split(".")
    node = data
    for depth, part in enumerate(parts):
        last = depth == len(parts) - 1
        key: Any = int(part) if isinstance(node, list) and part.isdigit() else part
        if isinstance(node, list):
            if not isinstance(key, int) or not 0 <= key < len(node):
                raise ConfigError(source, f"--set {path}: no item {part!r} here", field=".".join(parts[:depth + 1]))
        elif not isinstance(node, dict):
            raise ConfigError(source, f"--set {path}: {'.'.join(parts[:depth])} is not a mapping or a list")
        if last:
            node[key] = value
        else:
            if isinstance(node, dict) and key not in node:
                node[key] = {}
            child = node[key]
            if isinstance(child, (dict, list)):  # a YAML alias (``program: *serve``) shares it: change this path's copy
                child = node[key] = copy.copy(child)
            node = child


def apply_overrides(data: dict[str, Any], overrides: list[str], source: str) -> None:
    """Apply ``key.path=value`` overrides (values read as YAML scalars) to raw workload data."""
    for item in overrides:
        key, sep, text = item.partition("=")
        if not sep or not key.strip():
            raise ConfigError(source, f"--set needs key=value, not {item!r}")
        try:
            value = load_yaml_text(text, f"{source}: --set {key.strip()}") if text.strip() else ""
        except ConfigError as exc:
            if not exc.issues[0].reason.startswith("malformed YAML"):
                raise
            value = text  # not YAML: the text itself
        set_path(data, key.strip(), value, source)


def load_workload(path: str | Path | dict[str, Any], overrides: list[str] | None = None,
                  source: str | None = None) -> WorkloadSpec:
    """Read and validate a workload (a YAML path or a dict), after ``--set`` overrides."""
    if isinstance(path, dict):
        data = copy.deepcopy(path)  # the overrides may change it
        source = source or "workload"
    else:
        source = source or str(path)
        data = load_mapping(path, source)
    apply_overrides(data, overrides or [], source)
    return validate(WorkloadSpec, data, source)
