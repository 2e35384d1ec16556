"""Sweep files: a base workload, the parameters to vary, the metrics to collect, repetitions.

A parameter is a dotted path into the workload file (the paths ``neuronsim run --set`` takes) and its
values: a list, a range (``{range: {start, stop, step, unit}}``, ``stop`` included when the steps
land on it), or seeded random samples (``{sample: {low, high, count, scale: linear | log, integer,
unit}}``). The points are every combination of the parameters' values, times ``repetitions`` (each
repetition a different seed). A metric is a dotted path into the run's summary (``throughput_per_s``,
``threads.0.latency.p99_ns``, ``bottleneck.name``, ``queues.0.depth_mean``).
"""

from __future__ import annotations

import copy
import math
from pathlib import Path
from typing import Any, Literal

import numpy as np
from pydantic import Field, ValidationError, model_validator

from neuronsim.errors import ConfigError
from neuronsim.topology.spec import Spec, _fail
from neuronsim.workload.spec import Duration
from neuronsim.yaml_loader import issues_from_validation, load_mapping, validate

__all__ = ["SweepSpec", "load_sweep", "with_values", "DEFAULT_METRICS"]

DEFAULT_METRICS = ("throughput_per_s", "threads.0.latency.p50_ns", "threads.0.latency.p99_ns", "bottleneck.kind",
                   "bottleneck.name", "bottleneck.utilisation")
_SAMPLES_KEY = 0x5E  # the sweep's sample stream under its seed
MAX_POINTS = 100_000
"""The most points a sweep may have, repetitions included (docs/assumptions.md A114)."""


class RangeSpec(Spec):
    start: float
    stop: float
    step: float = Field(gt=0)
    unit: str | None = Field(None, description="Appended to every value, e.g. 'us' makes '50 us'.")


class SampleSpec(Spec):
    low: float
    high: float
    count: int = Field(ge=1, le=MAX_POINTS)
    scale: Literal["linear", "log"] = "linear"
    integer: bool = False
    unit: str | None = None

    @model_validator(mode="after")
    def _bounds(self) -> SampleSpec:
        if not self.high > self.low:
            raise _fail("high", "must be greater than low")
        if self.scale == "log" and self.low <= 0:
            raise _fail("low", "a log scale needs low > 0")
        return self


class ParameterSpec(Spec):
    """``{range: ...}`` or ``{sample: ...}`` (a plain list is given directly)."""

    range: RangeSpec | None = None
    sample: SampleSpec | None = None

    @model_validator(mode="after")
    def _one(self) -> ParameterSpec:
        if (self.range is None) == (self.sample is None):
            raise _fail("", "give a list of values, a range or a sample")
        return self


def _number(value: float, integer: bool) -> int | float:
    return int(round(value)) if integer or float(value).is_integer() else float(value)


class SweepSpec(Spec):
    """A sweep file (docs/howto/sweeps.md)."""

    schema_version: Literal[1]
    name: str = Field(min_length=1)
    description: str = ""
    workload: str | dict[str, Any] = Field(description="A workload file (relative to the sweep) or one inline.")
    instance: str | None = None
    until: Duration | None = None
    seed: int = Field(0, ge=0)
    repetitions: int = Field(1, ge=1, le=MAX_POINTS)
    parameters: dict[str, Any] = Field(min_length=1, description="path -> a list of values, {range: ...} or "
                                                                  "{sample: ...}")
    metrics: tuple[str, ...] = DEFAULT_METRICS

    @model_validator(mode="after")
    def _lists(self) -> SweepSpec:
        for path, values in self.parameters.items():
            if isinstance(values, list):
                if not values:
                    raise _fail(f"parameters.{path}", "needs at least one value")
                continue
            if not isinstance(values, dict):
                raise _fail(f"parameters.{path}", "give a list of values, a range or a sample")
            try:
                parameter = ParameterSpec.model_validate(values)
            except ValidationError as exc:
                issue = issues_from_validation(exc)[0]
                where = f"parameters.{path}" + (f".{issue.field}" if issue.field else "")
                raise _fail(where, issue.reason) from None
            r = parameter.range
            if r is not None:
                count = (r.stop - r.start) / r.step + 1
                if not math.isfinite(count) or count > MAX_POINTS:
                    raise _fail(f"parameters.{path}", f"a range from {r.start:g} to {r.stop:g} in steps of {r.step:g}"
                                f" has {count:.3g} values, more than {MAX_POINTS:,} (the most points a sweep runs)")
        total = self.repetitions
        for path in self.parameters:
            total *= self.count(path)
        if total > MAX_POINTS:
            raise _fail("parameters", f"{total:,} points (the product of the parameters' values, times "
                                      f"{self.repetitions} repetitions) is more than {MAX_POINTS:,}")
        if not self.metrics:
            raise _fail("metrics", "needs at least one metric")
        from neuronsim.workload.metrics import metric_problem

        for i, metric in enumerate(self.metrics):  # checked before any point runs
            problem = metric_problem(metric)
            if problem is not None:
                raise _fail(f"metrics.{i}", f"{metric!r} is not in a run's summary: {problem}")
        return self

    def _parameter(self, path: str) -> list[Any] | ParameterSpec:
        """Parameter ``path`` as given: its list of values, or its range or sample."""
        raw = self.parameters[path]
        return raw if isinstance(raw, list) else ParameterSpec.model_validate(raw)

    def count(self, path: str) -> int:
        """How many values parameter ``path`` takes (without making them)."""
        spec = self._parameter(path)
        if isinstance(spec, list):
            return len(spec)
        if spec.range is not None:
            r = spec.range
            return max(0, math.floor((r.stop - r.start) / r.step + 1e-9) + 1)
        assert spec.sample is not None
        return spec.sample.count

    def values(self, path: str) -> list[Any]:
        """The values parameter ``path`` takes, in order."""
        spec = self._parameter(path)
        if isinstance(spec, list):
            return list(spec)
        if spec.range is not None:
            r = spec.range
            count = self.count(path)
            integer = all(float(v).is_integer() for v in (r.start, r.step))
            out = [_number(r.start + i * r.step, integer) for i in range(max(0, count))]
            return [f"{v} {r.unit}" for v in out] if r.unit else out
        s = spec.sample
        assert s is not None
        index = list(self.parameters).index(path)
        rng = np.random.default_rng(np.random.SeedSequence([self.seed, _SAMPLES_KEY, index]))
        if s.scale == "log":
            raw = np.exp(rng.uniform(math.log(s.low), math.log(s.high), s.count))
        else:
            raw = rng.uniform(s.low, s.high, s.count)
        out = [_number(float(v), s.integer) for v in raw]
        return [f"{v} {s.unit}" for v in out] if s.unit else out


def with_values(base: dict[str, Any], values: dict[str, Any], source: str) -> dict[str, Any]:
    """A copy of the raw workload ``base`` with each dotted path set to its value."""
    from neuronsim.workload.spec import set_path

    data = copy.deepcopy(base)
    for path, value in values.items():
        set_path(data, path, value, source)
    return data


def _check_instances(spec: SweepSpec, base: dict[str, Any], source: str, workload_source: str) -> None:
    """Every instance a point may run on loads (a preset, ``Nx preset`` or a topology file)."""
    from neuronsim.topology import load_spec

    candidates: list[tuple[Any, str, str]] = []
    if spec.instance is not None:
        candidates.append((spec.instance, source, "instance"))
    else:
        if "instance" in spec.parameters:
            candidates += [(v, source, "parameters.instance") for v in spec.values("instance")]
        else:
            candidates.append((base.get("instance"), workload_source, "instance"))
    seen = set()
    for value, where, field in candidates:
        if not isinstance(value, str) or value in seen:
            continue
        seen.add(value)
        try:
            load_spec(value)
        except ConfigError as exc:
            raise ConfigError(where, f"{value!r} does not load: {exc}", field=field) from None


def load_sweep(path: str | Path) -> tuple[SweepSpec, dict[str, Any], str]:
    """Read and validate a sweep file; returns ``(spec, base workload data, the workload's source)``.

    The base workload (a file relative to the sweep, or inline) and every point of the sweep are
    validated here, so a bad parameter path or value is reported before anything runs."""
    from neuronsim.workload.spec import load_workload

    source = str(path)
    spec = validate(SweepSpec, load_mapping(path, source), source)
    if isinstance(spec.workload, str):
        workload_path = Path(path).parent / spec.workload
        if not workload_path.is_file():
            raise ConfigError(source, f"workload file {str(workload_path)!r} not found", field="workload")
        workload_source = str(workload_path)
        base = load_mapping(workload_path, workload_source)
    else:
        workload_source = f"{source}: workload"
        base = copy.deepcopy(spec.workload)
    load_workload(base, source=workload_source)  # the base itself must be valid
    _check_instances(spec, base, source, workload_source)
    for name in spec.parameters:
        for value in spec.values(name):
            try:
                load_workload(with_values(base, {name: value}, workload_source), source=workload_source)
            except ConfigError as exc:
                raise ConfigError(source, f"value {value!r} does not make a valid workload: {exc}",
                                  field=f"parameters.{name}") from None
    return spec, base, workload_source
