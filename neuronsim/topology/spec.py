"""Topology specs: the validated description of a Neuron instance or a cluster of them.

The data layer every other layer reads its hardware from. Specs are frozen pydantic models that
reject unknown keys; checks that span fields (links to devices that exist and go both ways, CPU
sets inside the host, NUMA nodes that exist, contiguous core ids) run after field validation and
report the field path they concern. Specs never import SimPy and never have side effects.

Every calibration parameter (a field declared with :func:`param`) must have a provenance entry in
the ``provenance`` map of the spec that owns it: ``"published: <source>"``, ``"inferred:
<derivation>"`` or ``"assumed: <reason>"``: the user's own words, or for the files neuronsim ships
the id of an entry in docs/assumptions.md (``"assumed: A3 ..."``; a test checks they do).
"""

from __future__ import annotations

import hashlib
import re
from typing import Annotated, Any, Literal

from pydantic import BaseModel, BeforeValidator, ConfigDict, Field, model_validator
from pydantic_core import PydanticCustomError

from neuronsim.idlist import IdListError, format_id_list, is_contiguous, parse_id_list
from neuronsim.units import UnitError, parse_bandwidth, parse_bytes, parse_time_ns

__all__ = [
    "Spec",
    "MAX_INSTANCES",
    "ChipSpec",
    "HBMSpec",
    "DMASpec",
    "ComputeSpec",
    "LNCSpec",
    "CCSpec",
    "DeviceSpec",
    "NeuronLinkSpec",
    "NUMANodeSpec",
    "HostSpec",
    "EFADeviceSpec",
    "EFASpec",
    "QueueCountsSpec",
    "CallCostsSpec",
    "RuntimeSpec",
    "InstanceSpec",
    "ZRingSpec",
    "ClusterSpec",
    "TopologySpec",
    "param",
    "param_fields",
]


def _unit(parser):
    def validate(value: Any) -> Any:
        if isinstance(value, (str, int, float)) and not isinstance(value, bool):
            try:
                return parser(value)
            except UnitError as exc:
                raise PydanticCustomError("unit", "{reason}", {"reason": str(exc)}) from None
        return value

    return BeforeValidator(validate)


Bytes = Annotated[int, _unit(parse_bytes), Field(ge=0)]
Nanoseconds = Annotated[int, _unit(parse_time_ns), Field(ge=0)]
BytesPerNs = Annotated[float, _unit(parse_bandwidth), Field(gt=0)]


def _cpu_list(value: Any) -> Any:
    if type(value) is int and value >= 0:  # one id, as YAML reads a bare number (cores: 0, --set threads.0.cores=3)
        value = str(value)
    if isinstance(value, str):
        try:
            parse_id_list(value)
        except IdListError as exc:
            raise PydanticCustomError("id_list", "{reason}", {"reason": str(exc)}) from None
    return value


CpuList = Annotated[str, BeforeValidator(_cpu_list)]

_PROVENANCE = re.compile(r"^(published|inferred|assumed):\s*\S")


def param(description: str, **kwargs: Any) -> Any:
    """A calibration parameter: a field that must carry a provenance entry."""
    return Field(description=description, json_schema_extra={"param": True}, **kwargs)


def _fail(path: str, reason: str) -> PydanticCustomError:
    return PydanticCustomError("topology", "{path}: {reason}", {"path": path, "reason": reason})


class Spec(BaseModel):
    """Base of every spec: frozen, unknown keys rejected, numbers finite (no ``.inf`` or ``.nan``)."""

    model_config = ConfigDict(extra="forbid", frozen=True, allow_inf_nan=False)


def param_fields(model: type[BaseModel], prefix: str = "") -> list[str]:
    """Dotted paths of the calibration parameters of ``model`` and of its nested specs that have
    no provenance map of their own."""
    paths: list[str] = []
    for name, info in model.model_fields.items():
        extra = info.json_schema_extra
        if isinstance(extra, dict) and extra.get("param"):
            paths.append(prefix + name)
            continue
        annotation = info.annotation
        candidates = getattr(annotation, "__args__", (annotation,))
        for candidate in candidates:
            if (
                isinstance(candidate, type)
                and issubclass(candidate, Spec)
                and "provenance" not in candidate.model_fields
            ):
                paths.extend(param_fields(candidate, f"{prefix}{name}."))
    return paths


class _WithProvenance(Spec):
    provenance: dict[str, str] = Field(
        default_factory=dict,
        description="Provenance of each calibration parameter, keyed by its dotted field path.",
    )

    @model_validator(mode="after")
    def _check_provenance(self) -> _WithProvenance:
        required = param_fields(type(self))
        for path in required:
            if not self._is_set(path):
                continue
            entry = self.provenance.get(path)
            if entry is None:
                raise _fail(f"provenance.{path}", "missing: every parameter needs 'published: <source>', "
                            "'inferred: <derivation>' or 'assumed: <reason>'")
            if not _PROVENANCE.match(entry):
                raise _fail(f"provenance.{path}", f"{entry!r} does not start with published:, inferred: or assumed:")
        unknown = sorted(set(self.provenance) - set(required))
        if unknown:
            raise _fail(f"provenance.{unknown[0]}", "is not a parameter of this spec")
        return self

    def _is_set(self, path: str) -> bool:
        node: Any = self
        for part in path.split("."):
            node = getattr(node, part, None)
            if node is None:
                return False
        return True


class HBMSpec(Spec):
    """High-bandwidth memory of one device."""

    stacks: int = param("Number of HBM stacks per device.", ge=1)
    stack_capacity_bytes: Bytes = param("Capacity of one stack.")
    stack_bandwidth_bytes_per_ns: BytesPerNs = param("Bandwidth of one stack, shared by the cores on it.")
    physical_cores_per_stack: int = param("Physical NeuronCores sharing one stack.", ge=1)
    reserved_bytes_per_physical_core: Bytes = param("HBM the runtime reserves per physical core (micro-code).")
    stack_base_addresses: tuple[Annotated[int, Field(ge=0)], ...] | None = param(
        "Device physical address of each stack's first byte (the driver's address map); "
        "default: stack s at s x 64 GiB.", default=None)
    alloc_granule_bytes: Bytes | None = param(
        "Device allocation granule: sizes round up to it, addresses are multiples of it; default 4 KiB.",
        default=None, gt=0)
    firmware_carveout_bytes: Bytes | None = param(
        "HBM the firmware keeps at the start of each stack, outside the allocator; default 0.", default=None)

    @model_validator(mode="after")
    def _check_addresses(self) -> HBMSpec:
        bases = self.stack_base_addresses
        if bases is not None:
            if len(bases) != self.stacks:
                raise _fail("stack_base_addresses", f"has {len(bases)} entries for {self.stacks} stacks")
            spans = sorted((b, b + self.stack_capacity_bytes) for b in bases)
            for (_, end), (start, _) in zip(spans, spans[1:]):
                if start < end:
                    raise _fail("stack_base_addresses", f"stacks overlap at {start:#x} "
                                f"(each holds {self.stack_capacity_bytes} bytes)")
        return self

    def base_address(self, stack: int) -> int:
        """Physical address of stack ``stack``'s first byte."""
        if self.stack_base_addresses is not None:
            return self.stack_base_addresses[stack]
        return stack * (64 << 30)

    @property
    def granule_bytes(self) -> int:
        return self.alloc_granule_bytes or 4096

    @property
    def carveout_bytes(self) -> int:
        return self.firmware_carveout_bytes or 0


class DMASpec(Spec):
    """DMA engines of one device."""

    engines_per_physical_core: int = param("DMA engines paired with each physical NeuronCore.", ge=1)
    queues_per_engine: int = param("DMA queues (rings) per engine.", ge=1)
    host_engines: int = param("Top-level host<->device DMA engines per device.", ge=1)
    engine_bandwidth_bytes_per_ns: BytesPerNs = param("Achievable bandwidth of one engine.")
    setup_latency_ns: Nanoseconds = param("Fixed cost of one DMA transfer (descriptor setup, semaphore).")
    packet_bytes: Bytes = param("DMA packetisation size; engines arbitrate between rings per packet.")


class ComputeSpec(Spec):
    """Peak throughput of one physical NeuronCore, used by roofline cost models."""

    bf16_flops_per_ns: float = param("TensorE dense BF16/FP16 peak of one physical core, FLOP per ns.", gt=0)
    fp32_flops_per_ns: float = param("TensorE FP32 peak of one physical core, FLOP per ns.", gt=0)
    fp8_flops_per_ns: float | None = param("TensorE FP8 peak of one physical core, FLOP per ns; absent: FP8 "
                                           "runs at the BF16 peak.", default=None, gt=0)
    int8_ops_per_ns: float | None = param("TensorE INT8 peak of one physical core, ops per ns; absent: INT8 runs "
                                          "at the BF16 peak.", default=None, gt=0)


class ExecutionSpec(Spec):
    """What an execution costs besides its roofline, and the efficiencies a model described by its
    architecture (``kind: transformer`` / ``encoder``) runs at; fitted on reference/measurements.md."""

    launch_ns: Nanoseconds = param("Fixed cost of one NEFF execution (launch, host and framework overhead).")
    layer_ns: Nanoseconds = param("Fixed cost of one transformer layer (its kernel launches and syncs).")
    compute_efficiency: float = param("Fraction of the TensorE peak an architecture-described model reaches.",
                                      gt=0, le=1)
    memory_efficiency: float = param("Fraction of the HBM stack bandwidth its weight and KV-cache streams reach.",
                                     gt=0, le=1)


class CCSpec(Spec):
    """Collective communication: what a collective's data movement costs on this chip."""

    dma_bandwidth_bytes_per_ns: BytesPerNs = param("Collective DMA bandwidth of one physical core, per direction.")
    step_latency_ns: Nanoseconds = param("Fixed cost of one algorithm step (CC-core semaphores, DMA setup).")
    accumulate_rate: float = param("Rate of an accumulating collective write (a reduce-scatter step: the DMA "
                                   "adds into the destination's partial sum) as a fraction of the copy rate "
                                   "dma_bandwidth_bytes_per_ns.", default=1.0, gt=0, le=1)
    accumulate_elements_per_ns: float | None = param(
        "Elements an accumulating collective write adds per ns on one physical core: a narrow type (1-byte "
        "elements) is bound by it rather than by accumulate_rate; absent: no element bound.", default=None, gt=0)


class LNCSpec(Spec):
    """Logical NeuronCore configuration (trn2 and later)."""

    default: Literal[1, 2] = Field(description="LNC the runtime uses when none is given.")
    allowed: tuple[Literal[1, 2], ...] = Field((1, 2), description="LNC values the chip supports.")

    @model_validator(mode="after")
    def _default_allowed(self) -> LNCSpec:
        if self.default not in self.allowed:
            raise _fail("default", f"{self.default} is not in allowed {list(self.allowed)}")
        return self


class ChipSpec(_WithProvenance):
    """One kind of Neuron chip (Trainium, Inferentia2, Trainium2)."""

    name: str = Field(description="Chip name, e.g. 'trainium'.")
    nc_version: str = Field(description="NeuronCore version: 'v2', 'v3'...")
    physical_cores: int = param("Physical NeuronCores per chip.", ge=1)
    cc_cores: int = param("Collective-communication cores per chip.", ge=0)
    neuronlink_ports: int = param("NeuronLink ports per chip.", ge=0)
    hbm: HBMSpec
    dma: DMASpec
    compute: ComputeSpec
    cc: CCSpec
    execution: ExecutionSpec | None = Field(None, description="Execution cost terms of architecture-described "
                                            "models; absent: none (no fixed costs, full efficiency).")
    lnc: LNCSpec | None = Field(None, description="LNC support; absent on chips without it (trn1, inf2).")

    @model_validator(mode="after")
    def _stacks_cover_cores(self) -> ChipSpec:
        if self.hbm.stacks * self.hbm.physical_cores_per_stack != self.physical_cores:
            raise _fail("hbm.physical_cores_per_stack", f"{self.hbm.stacks} stacks x "
                        f"{self.hbm.physical_cores_per_stack} cores does not cover {self.physical_cores} cores")
        if self.lnc is not None and 2 in self.lnc.allowed and self.physical_cores % 2:
            raise _fail("lnc.allowed", f"LNC=2 needs an even number of physical cores, not {self.physical_cores}")
        return self

    @property
    def hbm_bytes(self) -> int:
        return self.hbm.stacks * self.hbm.stack_capacity_bytes


class DeviceSpec(Spec):
    """One Neuron device as neuron-ls lists it."""

    index: int = Field(ge=0, description="Device index (NEURON DEVICE).")
    core_ids: str | None = Field(None, description="NEURON CORE IDS at the default LNC, e.g. '0-1'; checked.")
    bdf: str = Field(description="PCI bus/device/function, e.g. '0000:10:1c.0'.")
    cpu_affinity: CpuList = Field(description="CPUs local to the device, e.g. '0-31,64-95'.")
    numa_node: int = Field(ge=-1, description="NUMA node of the device; -1 when the host reports none.")
    connected: tuple[int, ...] = Field((), description="NeuronLink neighbours in neuron-ls order.")

    @property
    def cpus(self) -> tuple[int, ...]:
        return parse_id_list(self.cpu_affinity)


class NeuronLinkSpec(Spec):
    """Chip-to-chip NeuronLink inside an instance; one link per connected pair and direction."""

    generation: str = Field(description="'v2', 'v3'...")
    link_bandwidth_bytes_per_ns: BytesPerNs = param("Bandwidth of one link in one direction.")
    latency_ns: Nanoseconds = param("Latency of one hop.")
    topology: Literal["torus-2d", "ring", "chain", "none"] = Field(description="Shape of the link graph.")


class NUMANodeSpec(Spec):
    """A host NUMA node."""

    id: int = Field(ge=0)
    cpus: CpuList = Field(description="CPU list of the node.")
    memory_bytes: Bytes = Field(description="Host memory of the node.")


class HostSpec(_WithProvenance):
    """The host: CPUs, NUMA nodes and the PCIe link from each device."""

    vcpus: int = param("vCPUs of the instance.", ge=1)
    memory_bytes: Bytes = param("Host memory of the instance.")
    numa_nodes: tuple[NUMANodeSpec, ...] = Field(min_length=1)
    pcie_bandwidth_bytes_per_ns: BytesPerNs = param("Host<->device PCIe bandwidth per device and direction.")
    pcie_latency_ns: Nanoseconds = param("Host<->device PCIe latency.")
    numa_remote_bandwidth_factor: float = param(
        "Fraction of PCIe bandwidth left when host memory is on another NUMA node.", gt=0, le=1
    )
    numa_remote_latency_ns: Nanoseconds = param("Extra latency when host memory is on another NUMA node.")

    @model_validator(mode="after")
    def _numa(self) -> HostSpec:
        seen: dict[int, int] = {}
        for i, node in enumerate(self.numa_nodes):
            if node.id in seen:
                raise _fail(f"numa_nodes[{i}].id", f"NUMA node {node.id} is listed twice")
            seen[node.id] = i
            bad = [c for c in parse_id_list(node.cpus) if c >= self.vcpus]
            if bad:
                raise _fail(f"numa_nodes[{i}].cpus", f"CPU {bad[0]} is outside the host's {self.vcpus} vCPUs "
                            f"(0-{self.vcpus - 1})")
        owner: dict[int, int] = {}
        for i, node in enumerate(self.numa_nodes):
            for cpu in parse_id_list(node.cpus):
                if cpu in owner:
                    raise _fail(f"numa_nodes[{i}].cpus", f"CPU {cpu} is also in NUMA node {owner[cpu]}")
                owner[cpu] = node.id
        return self

    def numa_node_of_cpu(self, cpu: int) -> int:
        for node in self.numa_nodes:
            if cpu in parse_id_list(node.cpus):
                return node.id
        raise KeyError(cpu)


class EFADeviceSpec(Spec):
    """One EFA network device and the Neuron devices it serves."""

    bdf: str
    devices: tuple[int, ...] = Field(min_length=1, description="Neuron devices paired with this EFA device.")


class EFASpec(_WithProvenance):
    """Elastic Fabric Adapter devices of an instance."""

    bandwidth_bytes_per_ns: BytesPerNs = param("Bandwidth of one EFA device and direction.")
    latency_ns: Nanoseconds = param("HBM-to-HBM latency between instances.")
    devices: tuple[EFADeviceSpec, ...] = Field(min_length=1)


class QueueCountsSpec(Spec):
    """Execution-unit queues per logical NeuronCore (3.0 API)."""

    tensor_op: int = param("Tensor Op XU queues per logical core.", ge=1)
    compute: int = param("Compute XU queues per logical core.", ge=1)
    collectives: int = param("Collectives XU queues per logical core.", ge=1)


class CallCostsSpec(Spec):
    """Host CPU time each runtime call costs in direct mode."""

    schedule_ns: Nanoseconds = param("An nrta_* schedule call (accepted or refused).")
    query_ns: Nanoseconds = param("nrta_is_completed / nrta_get_sequence.")
    tensor_ns: Nanoseconds = param("Tensor and tensor-set management calls (allocate, free, add, get...).")
    load_ns: Nanoseconds = param("nrt_load / nrt_unload.")
    init_ns: Nanoseconds = param("nrt_init / nrt_close.")


class CollectiveEraSpec(Spec):
    """The fixed software cost of one collective in one software era: ``launch_ns + per_rank_ns x ranks``."""

    launch_ns: Nanoseconds = param("Fixed software cost of one collective, whatever its group.")
    per_rank_ns: Nanoseconds = param("Software cost per rank of the collective's group (synchronisation, "
                                     "per-peer set-up), added to launch_ns.")


COLLECTIVE_ERAS = ("2023", "2025")


class CollectiveCostSpec(Spec):
    """The collectives' software costs (docs/assumptions.md A34-A36).

    A collective starts ``launch_ns + per_rank_ns x ranks`` of its era after its last rank arrives; every
    send over EFA costs ``efa_message_ns`` besides the EFA latency and the proxy thread's CPU time.
    ``era`` picks the software generation: ``"2025"`` (Neuron 2.21 and later, the default) or
    ``"2023"`` (the 2023 runtimes of hardware.md §8.5 A-C)."""

    era: Literal["2023", "2025"] = Field("2025", description="Software era whose fixed costs apply.")
    era_2025: CollectiveEraSpec
    era_2023: CollectiveEraSpec
    efa_message_ns: Nanoseconds = param("Software cost of one send over EFA (the proxy's and the network "
                                        "stack's), per collective step, on top of the EFA latency.")

    def launch_ns(self, ranks: int, era: str | None = None) -> int:
        """Fixed cost (ns) of one collective over ``ranks`` ranks in ``era`` (default: ``self.era``)."""
        chosen = self.era_2023 if (era or self.era) == "2023" else self.era_2025
        return chosen.launch_ns + chosen.per_rank_ns * ranks


class RuntimeSpec(_WithProvenance):
    """Runtime parameters of the simulated Neuron Runtime."""

    queues: QueueCountsSpec
    queue_capacity: int = param("Requests an XU queue holds from submit to completion.", ge=1)
    call_costs: CallCostsSpec
    exec_timeout_ns: Nanoseconds = param("Default NEURON_RT_EXEC_TIMEOUT.")
    collective_cost: CollectiveCostSpec
    host_copy_bandwidth_bytes_per_ns: BytesPerNs | None = param(
        "Rate of the host-driven device-to-device copy (nrt_tensor_copy, nrta_tensor_copy) per device; absent: "
        "the core's DMA rate.", default=None)
    neff_collective_ns: Nanoseconds | None = param("Fixed cost of a collective a NEFF issues (nrt_load_collectives), "
                                                   "on top of collective_cost; absent: none.", default=None)
    proxy_work_ns: Nanoseconds = param("CPU time a rank's network proxy thread spends per collective step over EFA.")


_NRT_FAMILIES = {
    "trn1": 2, "trn1n": 3, "inf2": 4, "trn2": 5, "trn2n": 6, "trn2u": 9, "trn3": 14,
}


class InstanceSpec(_WithProvenance):
    """One EC2 instance: its Neuron devices, their links, the host and the runtime parameters."""

    schema_version: Literal[1] = Field(description="Schema version of the file.")
    name: str = Field(description="Instance type, e.g. 'trn1.32xlarge'.")
    instance_id: str | None = Field(None, description="EC2 instance id; a stable fake one is derived from the name.")
    chip: ChipSpec
    devices: tuple[DeviceSpec, ...] = Field(min_length=1)
    neuronlink: NeuronLinkSpec | None = None
    host: HostSpec
    efa: EFASpec | None = None
    runtime: RuntimeSpec

    @model_validator(mode="after")
    def _cross_checks(self) -> InstanceSpec:
        n = len(self.devices)
        for i, dev in enumerate(self.devices):
            if dev.index != i:
                raise _fail(f"devices[{i}].index", f"device indices must be 0..{n - 1} in order; found {dev.index}")
        numa_ids = {node.id for node in self.host.numa_nodes}
        host_cpus = {c for node in self.host.numa_nodes for c in parse_id_list(node.cpus)}
        per_device = self.logical_cores_per_device(self.default_lnc)
        core_owner: dict[int, int] = {}
        for i, dev in enumerate(self.devices):
            if dev.numa_node != -1 and dev.numa_node not in numa_ids:
                raise _fail(f"devices[{i}].numa_node", f"NUMA node {dev.numa_node} does not exist "
                            f"(host has {sorted(numa_ids)})")
            outside = [c for c in dev.cpus if c not in host_cpus]
            if outside:
                raise _fail(f"devices[{i}].cpu_affinity", f"CPU {outside[0]} is outside the host's CPUs "
                            f"({format_id_list(sorted(host_cpus))})")
            for j, peer in enumerate(dev.connected):
                if peer == i:
                    raise _fail(f"devices[{i}].connected[{j}]", f"device {i} cannot link to itself")
                if not 0 <= peer < n:
                    raise _fail(f"devices[{i}].connected[{j}]", f"device {peer} does not exist (devices are 0-{n - 1})")
            if len(set(dev.connected)) != len(dev.connected):
                raise _fail(f"devices[{i}].connected", "a neighbour is listed twice")
            if dev.core_ids is not None:
                try:
                    ids = parse_id_list(dev.core_ids)
                except IdListError as exc:
                    raise _fail(f"devices[{i}].core_ids", str(exc)) from None
                for core in ids:
                    if core in core_owner:
                        raise _fail(f"devices[{i}].core_ids", f"core id {core} is also on device {core_owner[core]}")
                    core_owner[core] = i
                if not is_contiguous(ids):
                    raise _fail(f"devices[{i}].core_ids", f"{dev.core_ids!r} is not contiguous")
                expected = tuple(range(i * per_device, (i + 1) * per_device))
                if tuple(sorted(ids)) != expected:
                    raise _fail(f"devices[{i}].core_ids", f"{dev.core_ids!r} should be "
                                f"{format_id_list(expected)} ({per_device} logical cores per device, "
                                "numbered in device order)")
        for i, dev in enumerate(self.devices):  # after every endpoint is known to exist
            for j, peer in enumerate(dev.connected):
                if i not in self.devices[peer].connected:
                    raise _fail(f"devices[{i}].connected[{j}]", f"one-way link: device {i} lists {peer} but "
                                f"device {peer} does not list {i}")
        has_links = any(dev.connected for dev in self.devices)
        if has_links and self.neuronlink is None:
            raise _fail("neuronlink", "devices list connected neighbours but there is no neuronlink section")
        if self.neuronlink is not None:
            for i, dev in enumerate(self.devices):
                if len(dev.connected) > self.chip.neuronlink_ports:
                    raise _fail(f"devices[{i}].connected", f"{len(dev.connected)} links exceed the chip's "
                                f"{self.chip.neuronlink_ports} NeuronLink ports")
        if self.efa is not None:
            served: dict[int, int] = {}
            for k, efa in enumerate(self.efa.devices):
                for j, d in enumerate(efa.devices):
                    if not 0 <= d < n:
                        raise _fail(f"efa.devices[{k}].devices[{j}]", f"device {d} does not exist")
                    if d in served:
                        raise _fail(f"efa.devices[{k}].devices[{j}]", f"device {d} is already served by "
                                    f"efa.devices[{served[d]}]")
                    served[d] = k
        return self

    # -- derived facts -------------------------------------------------------------------------------

    @property
    def default_lnc(self) -> int:
        return self.chip.lnc.default if self.chip.lnc is not None else 1

    def logical_cores_per_device(self, lnc: int) -> int:
        return self.chip.physical_cores // lnc

    @property
    def display_instance_id(self) -> str:
        if self.instance_id:
            return self.instance_id
        return "i-" + hashlib.sha256(self.name.encode()).hexdigest()[:17]

    @property
    def family(self) -> str:
        return self.name.split(".", 1)[0]

    @property
    def nrt_instance_family(self) -> int:
        return _NRT_FAMILIES.get(self.family, 0)

    @property
    def nrt_instance_size(self) -> int:
        size = self.name.split(".", 1)[1] if "." in self.name else ""
        sizes = {"xlarge": 0, "2xlarge": 1, "4xlarge": 2, "6xlarge": 3, "8xlarge": 4,
                 "24xlarge": 5, "32xlarge": 6, "48xlarge": 7, "3xlarge": 8}
        return sizes.get(size, 9)

    def efa_of_device(self, device: int) -> int | None:
        if self.efa is None:
            return None
        for k, efa in enumerate(self.efa.devices):
            if device in efa.devices:
                return k
        return None


class ZRingSpec(_WithProvenance):
    """The Trn2 UltraServer's Z dimension: devices with the same index in each instance form a ring."""

    link_bandwidth_bytes_per_ns: BytesPerNs = param("Bandwidth of one Z link in one direction.")
    latency_ns: Nanoseconds = param("Latency of one Z hop.")


MAX_INSTANCES = 1024
"""The most instances a cluster may have (docs/assumptions.md A112)."""


def _digits(value: int) -> str:
    text = str(value) if value < 10**40 else None
    return f"{value:,}" if text is not None else f"a {len(str(value)):,}-digit number of"


class ClusterSpec(_WithProvenance):
    """N identical instances joined by EFA, optionally by UltraServer Z rings too."""

    schema_version: Literal[1]
    name: str = Field(description="Cluster name, e.g. 'trn2-ultraserver' or '2x trn1.32xlarge'.")
    instance: InstanceSpec = Field(description="The instance every node of the cluster is.")
    count: int = Field(ge=1, description="Number of instances.")
    z_ring: ZRingSpec | None = Field(None, description="NeuronLink Z rings across instances (UltraServer).")

    @model_validator(mode="after")
    def _cluster(self) -> ClusterSpec:
        if self.count > MAX_INSTANCES:
            raise _fail("count", f"{_digits(self.count)} instances is more than {MAX_INSTANCES:,}, the most "
                                 "neuronsim simulates (A112: each instance's hardware is built up front, about 10 ms "
                                 "and 0.3 MB of memory each)")
        if self.count > 1 and self.instance.efa is None and self.z_ring is None:
            raise _fail("instance.efa", f"{self.instance.name} has no EFA devices and no Z rings join the "
                        f"{self.count} instances")
        if self.z_ring is not None and self.count < 2:
            raise _fail("z_ring", "Z rings need at least 2 instances")
        return self


TopologySpec = InstanceSpec | ClusterSpec
