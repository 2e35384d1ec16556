"""Fault plans: seeded, exact failures injected into the simulated hardware.

``Simulator(..., faults=PLAN)`` where PLAN is a YAML path or a list of fault dicts. A fault has

* a **target**: ``device`` (its index), ``core`` (a logical core id as the instance numbers them),
  ``xu`` (a core, an execution-unit kind and a queue), ``dma`` (a device's DMA transfers), ``hbm`` (a
  device's stack), ``link`` (a NeuronLink pair), ``efa`` (the EFA device paired with a device, on
  any instance of a cluster); a status, hang or slowdown on a ``link`` or ``efa`` fails or slows every
  rank of each collective whose transfers cross it (its trigger counts those collectives), and one on a
  ``core``, ``xu``, ``device`` or ``hbm`` that matches one rank's part of a collective does the same to
  every rank of that collective;
* a **trigger**: ``at_ns`` (the first matching request still running at or after that time),
  ``nth`` (the Nth matching request to start, counting from 1), ``probability`` (each matching
  request, drawn from the fault's own seeded stream), or none (the first matching request);
* an **effect**: ``status`` (the request completes at its normal time with that ``NRT_STATUS``, moving
  no data; ``NRT_EXEC_COMPLETED_WITH_NUM_ERR`` fills float outputs with NaN), ``hang`` (the request
  never finishes; after ``NEURON_RT_EXEC_TIMEOUT``, for a standalone collective the Collectives XU wait
  timeout, it completes with ``NRT_TIMEOUT``), ``slowdown`` (the request takes that many times longer: a
  straggler; an execution slowed past ``NEURON_RT_EXEC_TIMEOUT`` times out) or ``degrade`` (a channel target's bandwidth
  is divided by that factor from the trigger time on: a degraded link);
* ``fatal`` (default: by status, docs/assumptions.md A16): the execution unit that ran the request
  enters its terminal state; ``times``: how often it fires (default 1; unlimited for ``probability``).
"""

from __future__ import annotations

import math
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal

import numpy as np
from pydantic import Field, field_validator, model_validator
from pydantic_core import PydanticCustomError

from neuronsim.errors import ConfigError
from neuronsim.nrt import NRT_STATUS
from neuronsim.topology.spec import Nanoseconds, Spec
from neuronsim.yaml_loader import load_yaml_file, validate

if TYPE_CHECKING:
    from neuronsim.hw.system import System
    from neuronsim.hw.xu import ExecutionUnit

__all__ = ["FaultSpec", "FaultPlan", "FaultInjector", "load_fault_plan", "FATAL_STATUSES"]

# statuses that leave the execution unit in its terminal state unless the fault says otherwise (A16)
FATAL_STATUSES = frozenset({
    NRT_STATUS.NRT_TIMEOUT, NRT_STATUS.NRT_HW_ERROR, NRT_STATUS.NRT_EXEC_HW_ERR_COLLECTIVES,
    NRT_STATUS.NRT_EXEC_HW_ERR_HBM_UE, NRT_STATUS.NRT_EXEC_HW_ERR_NC_UE, NRT_STATUS.NRT_EXEC_HW_ERR_DMA_ABORT,
    NRT_STATUS.NRT_EXEC_SW_NQ_OVERFLOW, NRT_STATUS.NRT_NETWORK_PROXY_FAILURE,
})
XU_KINDS = ("tensor_op", "compute", "collectives", "tensor_read", "tensor_write")
_FAULTS_SPAWN_KEY = 0xFA  # the fault streams' key under the simulator's seed


def _fail(path: str, reason: str) -> PydanticCustomError:
    return PydanticCustomError("topology", "{path}: {reason}", {"path": path, "reason": reason})


class FaultSpec(Spec):
    """One fault of a plan (see the module docstring)."""

    target: Literal["device", "core", "xu", "dma", "hbm", "link", "efa"]
    instance: int = Field(0, ge=0, description="Which instance of a cluster (device and core ids are its own).")
    device: int | None = Field(None, ge=0)
    core: int | None = Field(None, ge=0)
    xu: Literal["tensor_op", "compute", "collectives", "tensor_read", "tensor_write"] | None = None
    queue: int | None = Field(None, ge=0)
    stack: int | None = Field(None, ge=0)
    link: tuple[int, int] | None = None
    at_ns: Nanoseconds | None = None
    nth: int | None = Field(None, ge=1)
    probability: float | None = Field(None, gt=0, le=1)
    status: NRT_STATUS | None = None
    hang: bool = False
    slowdown: float | None = Field(None, ge=1)
    degrade: float | None = Field(None, ge=1)
    fatal: bool | None = None
    times: int | None = Field(None, ge=1)

    @field_validator("status", mode="before")
    @classmethod
    def _status_name(cls, value: Any) -> Any:
        if isinstance(value, str):
            try:
                return NRT_STATUS[value]
            except KeyError:
                raise PydanticCustomError("unit", "{reason}", {"reason": f"unknown NRT_STATUS {value!r}"}) from None
        return value

    @model_validator(mode="after")
    def _shape(self) -> FaultSpec:
        needs = {"device": ("device",), "core": ("core",), "xu": ("core", "xu"), "dma": ("device",),
                 "hbm": ("device", "stack"), "link": ("link",), "efa": ("device",)}[self.target]
        for name in needs:
            if getattr(self, name) is None:
                raise _fail(name, f"a {self.target} fault needs {name}")
        effects = [e for e in ("status", "slowdown", "degrade") if getattr(self, e) is not None]
        if self.hang:
            effects.append("hang")
        if len(effects) != 1:
            raise _fail("status", f"give exactly one effect of status, hang, slowdown, degrade (got {effects or 'none'})")
        triggers = [t for t in ("at_ns", "nth", "probability") if getattr(self, t) is not None]
        if len(triggers) > 1:
            raise _fail(triggers[1], f"give at most one trigger (got {', '.join(triggers)})")
        if self.status == NRT_STATUS.NRT_SUCCESS:
            raise _fail("status", "NRT_SUCCESS is not a fault")
        if self.degrade is not None:
            if self.target not in ("dma", "hbm", "link", "efa"):
                raise _fail("degrade", "degrade applies to channel targets: dma, hbm, link, efa")
            if self.nth is not None or self.probability is not None:
                raise _fail("degrade", "a degraded channel is triggered by at_ns (or from the start)")
        return self

    @property
    def effect(self) -> str:
        if self.hang:
            return "hang"
        return next(e for e in ("status", "slowdown", "degrade") if getattr(self, e) is not None)

    @property
    def is_fatal(self) -> bool:
        if self.fatal is not None:
            return self.fatal
        return self.hang or (self.status is not None and self.status in FATAL_STATUSES)

    @property
    def max_times(self) -> float:
        if self.times is not None:
            return self.times
        return math.inf if self.probability is not None else 1


class FaultPlan(Spec):
    faults: tuple[FaultSpec, ...] = ()


def load_fault_plan(plan: str | Path | list[dict[str, Any]] | FaultPlan | None) -> FaultPlan:
    """A validated plan from a YAML path (a list, or a mapping with ``faults:``) or a list of dicts."""
    if plan is None:
        return FaultPlan()
    if isinstance(plan, FaultPlan):
        return plan
    source = "faults"
    data: Any = plan
    if isinstance(plan, (str, Path)):
        source = str(plan)
        data = load_yaml_file(plan, source)
    if isinstance(data, dict) and set(data) == {"faults"}:
        data = data["faults"]
    if not isinstance(data, list):
        raise ConfigError(source, "a fault plan is a list of faults (or a mapping with a 'faults' list)")
    return validate(FaultPlan, {"faults": data}, source)


class _Armed:
    __slots__ = ("spec", "index", "fired", "count", "rng")

    def __init__(self, spec: FaultSpec, index: int, seed: int) -> None:
        self.spec = spec
        self.index = index
        self.fired = 0
        self.count = 0
        self.rng = np.random.default_rng(np.random.SeedSequence(seed, spawn_key=(_FAULTS_SPAWN_KEY, index)))


class FaultInjector:
    """Applies a plan to requests as they start (installed as every execution unit's ``faults`` hook)."""

    def __init__(self, plan: FaultPlan, system: System, seed: int, source: str = "faults",
                 systems: list[System] | None = None) -> None:
        self.system = system
        self.systems = systems or [system]
        self.armed: list[_Armed] = []
        self.fired: list[tuple[int, int, int]] = []  # (fault index, seq id, time)
        self.seed = seed
        self.count = 0
        self.degrades: list[tuple[int, FaultSpec]] = []
        self._check_targets(plan, source)
        for spec in plan.faults:
            self._arm(spec)

    def _arm(self, spec: FaultSpec) -> None:
        index = self.count
        self.count += 1
        if spec.effect == "degrade":
            self.degrades.append((index, spec))
        else:
            self.armed.append(_Armed(spec, index, self.seed))

    def add(self, spec: FaultSpec, env: Any) -> None:
        """Arm one more fault now (a degradation starts at ``max(now, at_ns)``)."""
        self._check_targets(FaultPlan(faults=(spec,)), "add_fault")
        before = len(self.degrades)
        self._arm(spec)
        if len(self.degrades) > before:
            self._start_degrade(env, *self.degrades[-1], delay=max(0, (spec.at_ns or 0) - int(env.now)))

    def _check_targets(self, plan: FaultPlan, source: str) -> None:
        topo = self.system.topology
        for i, spec in enumerate(plan.faults):
            where = f"[{i}]"
            if spec.instance >= topo.num_instances:
                raise ConfigError(source, f"instance {spec.instance} does not exist ({topo.num_instances} "
                                  "instances)", field=f"{where}.instance")
            if spec.device is not None and spec.device >= topo.num_devices:
                raise ConfigError(source, f"device {spec.device} does not exist (devices are 0-{topo.num_devices - 1})",
                                  field=f"{where}.device")
            if spec.core is not None and spec.core >= len(topo.logical_cores):
                raise ConfigError(source, f"core {spec.core} does not exist (cores are 0-{len(topo.logical_cores) - 1})",
                                  field=f"{where}.core")
            if spec.stack is not None and spec.stack >= topo.spec.chip.hbm.stacks:
                raise ConfigError(source, f"stack {spec.stack} does not exist ({topo.spec.chip.hbm.stacks} stacks "
                                  "per device)", field=f"{where}.stack")
            if spec.target == "efa" and spec.device is not None and self.system.devices[spec.device].efa < 0:
                raise ConfigError(source, f"device {spec.device} has no EFA device", field=f"{where}.device")
            if spec.link is not None and tuple(spec.link) not in self.system.links:
                raise ConfigError(source, f"there is no NeuronLink between devices {spec.link[0]} and {spec.link[1]}",
                                  field=f"{where}.link")

    def start_degrades(self, env: Any) -> None:
        """Schedule the bandwidth degradations of the plan."""
        for index, spec in self.degrades:
            self._start_degrade(env, index, spec, delay=spec.at_ns or 0)

    def _start_degrade(self, env: Any, index: int, spec: FaultSpec, delay: int) -> None:
        channels = self._channels(spec)
        factor = spec.degrade or 1.0

        def degrade(_event: Any) -> None:
            for channel in channels:
                channel.bandwidth_bytes_per_ns /= factor
            self.fired.append((index, 0, int(env.now)))

        env.timeout(delay).callbacks.append(degrade)

    def _channels(self, spec: FaultSpec) -> list:
        if spec.target == "link":
            a, b = spec.link  # type: ignore[misc]
            links = self.systems[spec.instance].links
            return [links[(a, b)].channel, links[(b, a)].channel]
        system = self.systems[spec.instance]
        device = system.devices[spec.device]  # type: ignore[index]
        if spec.target == "efa":  # the EFA device paired with the Neuron device: both directions
            efa = system.efa[device.efa]
            return [efa.tx, efa.rx]
        if spec.target == "hbm":
            return [device.hbm[spec.stack].channel]  # type: ignore[index]
        return device.h2d_engines + device.d2h_engines + [core.dma for core in device.cores]

    @staticmethod
    def _matches(spec: FaultSpec, xu: ExecutionUnit, request: Any) -> bool:
        if xu.instance != spec.instance:
            return False
        target = spec.target
        core = xu.core_id
        if target == "core":
            return core == spec.core
        if target == "xu":
            return core == spec.core and xu.kind == spec.xu and (spec.queue is None or xu.queue == spec.queue)
        device = xu.device_index
        if target == "device":
            return device == spec.device
        if target == "dma":
            return device == spec.device and request.kind in ("tensor_write", "tensor_read", "tensor_copy")
        if target == "hbm":
            return (spec.device, spec.stack) in request.stacks()
        return False

    @property
    def network_channels(self) -> set:
        """The channels of the link and EFA faults that fail or slow collectives (not degradations)."""
        return {ch for armed in self.armed if armed.spec.target in ("link", "efa") for ch in self._channels(armed.spec)}

    def on_collective(self, crossed: set, seq_id: int, start: int, end: int) -> FaultSpec | None:
        """The link or EFA fault that hits a collective whose transfers use the channels ``crossed`` (and
        that would run from ``start`` to ``end``), if one fires; it then applies to every rank."""
        for armed in self.armed:
            spec = armed.spec
            if spec.target not in ("link", "efa") or armed.fired >= spec.max_times:
                continue
            if not crossed.intersection(self._channels(spec)):
                continue
            if not self._triggered(armed, end):
                continue
            armed.fired += 1
            self.fired.append((armed.index, seq_id, start))
            return spec
        return None

    @staticmethod
    def _triggered(armed: _Armed, end: int) -> bool:
        spec = armed.spec
        if spec.at_ns is not None:
            return end >= spec.at_ns
        if spec.nth is not None:
            armed.count += 1
            return armed.count >= spec.nth
        if spec.probability is not None:
            return bool(armed.rng.random() < spec.probability)
        return True

    def on_collective_ranks(self, parts: list[tuple[ExecutionUnit, Any]], start: int, end: int) -> FaultSpec | None:
        """The core, XU, device or HBM fault that hits one rank's part of a collective, if one fires (ranks
        looked at in rank order, each counting as one matching request of its unit); the service then
        applies it to every rank. ``parts``: each rank's ``(execution unit, request)``."""
        for xu, request in parts:
            armed = self._first(xu, request, end, collective=True)
            if armed is not None:
                armed.fired += 1
                self.fired.append((armed.index, request.seq_id, start))
                return armed.spec
        return None

    def _first(self, xu: ExecutionUnit, request: Any, end: int, collective: bool = False) -> _Armed | None:
        """The first fault of the plan (in plan order) that fires on the request: every armed fault that matches
        it counts it (an ``nth``'s count, a ``probability``'s draw) whether or not an earlier one fires, so a
        fault's trigger does not depend on the others in the plan (A137)."""
        hit = None
        for armed in self.armed:
            spec = armed.spec
            if (collective and spec.target in ("link", "efa")) or armed.fired >= spec.max_times or \
                    not self._matches(spec, xu, request):
                continue
            if self._triggered(armed, end) and hit is None:
                hit = armed
        return hit

    def on_start(self, xu: ExecutionUnit, request: Any, now: int, end: int) -> int:
        """The end time of ``request`` after the plan's faults; may set its status and fatal flag.

        A collective's parts are not looked at here: the collective service decides for all its ranks at
        once (:meth:`on_collective_ranks`). A slowdown that takes an execution past its unit's timeout
        (``NEURON_RT_EXEC_TIMEOUT``) ends it with ``NRT_TIMEOUT`` at the timeout, fatally."""
        if request.kind == "collective":
            return end
        armed = self._first(xu, request, end)
        if armed is None:
            return end
        spec = armed.spec
        armed.fired += 1
        request.fault = spec
        self.fired.append((armed.index, request.seq_id, now))
        effect = spec.effect
        if effect == "status":
            request.status = spec.status
            request.fatal = spec.is_fatal
        elif effect == "hang":
            request.status = NRT_STATUS.NRT_TIMEOUT
            request.fatal = spec.is_fatal
            if request.kind == "execute":
                request.hung = True  # the runtime's execution-timeout line at its end
            return now + xu.timeout_ns
        else:
            slowed = now + math.ceil((end - now) * (spec.slowdown or 1.0))
            timeout = xu.timeout_ns
            if timeout and request.kind == "execute" and slowed - request.start_ns > timeout:
                request.status = NRT_STATUS.NRT_TIMEOUT  # "(FATAL-RT-UNDEFINED-STATE) execution timeout"
                request.fatal = request.hung = True
                return request.start_ns + timeout
            return slowed
        return end
