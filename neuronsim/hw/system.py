"""The hardware of one instance as SimPy-time components, and the one builder from a topology.

``build_system(topology)`` is the only place that maps specs to components; the components
themselves (:class:`HBMStack`, :class:`Device`, :class:`CoreHW`, channels, links) take plain values.

Per device: HBM stacks (a capacity pool and a bandwidth channel each, shared by the cores on the
stack); per logical core a DMA channel standing for its engines working one transfer together
(16 engines per physical core); the host DMA engines (the first half carry host-to-device traffic,
the second half device-to-host, docs/assumptions.md A8); a PCIe channel per direction to the
device's NUMA node. Per NeuronLink pair a channel per direction. Transfers share the channels as
flows of one :class:`~neuronsim.hw.channel.FlowNetwork` per simulation (``System.network``).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from typing import Any

from neuronsim.hw.channel import Channel
from neuronsim.hw.memory import MemoryPool
from neuronsim.topology.model import Topology

__all__ = ["HBMStack", "Device", "CoreHW", "Link", "EFADevice", "System", "build_system", "build_cores"]


@dataclass
class HBMStack:
    name: str
    pool: MemoryPool
    channel: Channel


@dataclass
class Link:
    """One direction of a NeuronLink: busy for the serialisation time, delivers after latency too."""

    src: int
    dst: int
    channel: Channel
    latency_ns: int
    efa: bool = False  # an EFA hop (driven by the network proxy thread), not a NeuronLink


@dataclass
class Device:
    index: int
    numa_node: int
    hbm: list[HBMStack]
    h2d_engines: list[Channel]
    d2h_engines: list[Channel]
    pcie_h2d: Channel
    pcie_d2h: Channel
    cores: list[CoreHW] = field(default_factory=list)
    instance: int = 0
    host_copy: Channel | None = None  # the host-driven copy path (nrt_tensor_copy), when its rate is capped
    efa: int = -1  # the EFA device it is paired with, -1 if none

    @property
    def global_index(self) -> int:
        """Its index in the whole cluster: ``instance * devices per instance + index``."""
        return self.instance * self.per_instance + self.index

    per_instance: int = 1


@dataclass
class CoreHW:
    """A logical NeuronCore's hardware: its HBM stack, DMA engines and compute peak."""

    id: int
    device: Device
    local_index: int
    physical_cores: int
    hbm: HBMStack
    hbm_index: int
    dma: Channel
    cc_dma: Channel
    bf16_flops_per_ns: float
    fp32_flops_per_ns: float
    fp8_flops_per_ns: float | None = None
    int8_ops_per_ns: float | None = None
    cc_accumulate_rate: float = 1.0  # an accumulating collective write's rate over cc_dma's (cc.accumulate_rate)
    cc_accumulate_elements_per_ns: float | None = None  # and its element rate at most (cc.accumulate_elements_per_ns)

    @property
    def name(self) -> str:
        return f"nc{self.id}"

    def peak_flops_per_ns(self, precision: str) -> float:
        """TensorE peak of this logical core at ``precision`` (``"bf16"``, ``"fp32"``, ``"fp8"``,
        ``"int8"``), operations per ns; a precision the chip publishes no peak for runs at BF16's (A31)."""
        if precision == "fp32":
            return self.fp32_flops_per_ns
        if precision == "fp8" and self.fp8_flops_per_ns is not None:
            return self.fp8_flops_per_ns
        if precision == "int8" and self.int8_ops_per_ns is not None:
            return self.int8_ops_per_ns
        return self.bf16_flops_per_ns


@dataclass
class EFADevice:
    """One EFA network device of an instance: a channel per direction."""

    index: int
    tx: Channel
    rx: Channel


@dataclass
class System:
    topology: Topology
    devices: list[Device]
    cores: list[CoreHW]
    links: dict[tuple[int, int], Link]
    dma_setup_ns: int
    pcie_latency_ns: int
    numa_remote_bandwidth_factor: float
    numa_remote_latency_ns: int
    instance: int = 0
    efa: list[EFADevice] = field(default_factory=list)
    network: Any = None  # the FlowNetwork every transfer of the simulation goes through (set by the Simulator)

    def channels(self) -> list[Channel]:
        """Every channel, in a fixed order (devices, then links)."""
        out: list[Channel] = []
        for dev in self.devices:
            out += [stack.channel for stack in dev.hbm]
            out += [core.dma for core in dev.cores] + [core.cc_dma for core in dev.cores]
            out += dev.h2d_engines + dev.d2h_engines + [dev.pcie_h2d, dev.pcie_d2h]
            out += [dev.host_copy] if dev.host_copy is not None else []
        out += [link.channel for link in self.links.values()]
        out += [c for e in self.efa for c in (e.tx, e.rx)]
        return out


def _core_hw(topology: Topology, device: Device, core: Any, pre: str, tag: str = "") -> CoreHW:
    chip = topology.spec.chip
    dma = chip.dma
    physical = len(core.physical_cores)
    d = device.index
    return CoreHW(
        id=core.id,
        device=device,
        local_index=core.local_index,
        physical_cores=physical,
        hbm=device.hbm[core.hbm_stack],
        hbm_index=core.hbm_stack,
        dma=Channel(f"{pre}dev{d}/nc{core.id}{tag}/dma",
                    dma.engine_bandwidth_bytes_per_ns * dma.engines_per_physical_core * physical),
        cc_dma=Channel(f"{pre}dev{d}/nc{core.id}{tag}/cc-dma", chip.cc.dma_bandwidth_bytes_per_ns * physical),
        bf16_flops_per_ns=chip.compute.bf16_flops_per_ns * physical,
        fp32_flops_per_ns=chip.compute.fp32_flops_per_ns * physical,
        fp8_flops_per_ns=(chip.compute.fp8_flops_per_ns * physical
                          if chip.compute.fp8_flops_per_ns is not None else None),
        int8_ops_per_ns=(chip.compute.int8_ops_per_ns * physical
                         if chip.compute.int8_ops_per_ns is not None else None),
        cc_accumulate_rate=chip.cc.accumulate_rate,
        cc_accumulate_elements_per_ns=(chip.cc.accumulate_elements_per_ns * physical
                                       if chip.cc.accumulate_elements_per_ns is not None else None),
    )


def build_cores(system: System, topology: Topology) -> list[CoreHW]:
    """Logical cores of ``topology``'s LNC over ``system``'s devices (their HBM stacks, host engines and
    PCIe are the devices' own): the cores a process sees when it asks for an LNC other than the one
    ``system`` was built at (``NEURON_LOGICAL_NC_CONFIG``). Their DMA channels are their own; they
    share nothing with the system's cores of the other LNC but the devices, as the runtime binds
    physical cores to one process at a time."""
    pre = f"i{system.instance}/" if system.instance else ""
    tag = f".lnc{topology.lnc}"
    return [_core_hw(topology, system.devices[core.device], core, pre, tag) for core in topology.logical_cores]


def build_system(topology: Topology, instance: int = 0) -> System:
    """Components for instance ``instance`` of ``topology`` at its LNC (names get an ``i<k>/`` prefix
    beyond the first instance)."""
    spec = topology.spec
    pre = f"i{instance}/" if instance else ""
    chip = spec.chip
    hbm = chip.hbm
    dma = chip.dma
    host = spec.host
    devices: list[Device] = []
    cores: list[CoreHW] = []
    reserved = (("firmware", hbm.carveout_bytes),
                ("model code", hbm.reserved_bytes_per_physical_core * hbm.physical_cores_per_stack))
    half = max(1, dma.host_engines // 2)
    for dev_spec in spec.devices:
        d = dev_spec.index
        stacks = [HBMStack(f"{pre}dev{d}/hbm{s}",
                           MemoryPool(f"{pre}dev{d}/hbm{s}", hbm.stack_capacity_bytes, hbm.base_address(s),
                                      hbm.granule_bytes, reserved),
                           Channel(f"{pre}dev{d}/hbm{s}", hbm.stack_bandwidth_bytes_per_ns)) for s in range(hbm.stacks)]
        engines = [Channel(f"{pre}dev{d}/hdma{e}", dma.engine_bandwidth_bytes_per_ns)
                   for e in range(dma.host_engines)]
        efa_index = spec.efa_of_device(d)  # None: no EFA device serves it (or the instance has none)
        device = Device(
            index=d,
            numa_node=max(dev_spec.numa_node, 0),
            hbm=stacks,
            h2d_engines=engines[:half],
            d2h_engines=engines[half:] or engines[:half],
            pcie_h2d=Channel(f"{pre}dev{d}/pcie.h2d", host.pcie_bandwidth_bytes_per_ns),
            pcie_d2h=Channel(f"{pre}dev{d}/pcie.d2h", host.pcie_bandwidth_bytes_per_ns),
            instance=instance,
            host_copy=(Channel(f"{pre}dev{d}/hdma-copy", spec.runtime.host_copy_bandwidth_bytes_per_ns)
                       if spec.runtime.host_copy_bandwidth_bytes_per_ns is not None else None),
            efa=-1 if efa_index is None else efa_index,
            per_instance=len(spec.devices),
        )
        for core in topology.cores_of_device(d):
            hw = _core_hw(topology, device, core, pre)
            device.cores.append(hw)
            cores.append(hw)
        devices.append(device)
    links: dict[tuple[int, int], Link] = {}
    if spec.neuronlink is not None:
        nl = spec.neuronlink
        for a, b in topology.links():
            for src, dst in ((a, b), (b, a)):
                links[(src, dst)] = Link(src, dst, Channel(f"{pre}link.dev{src}-dev{dst}",
                                                           nl.link_bandwidth_bytes_per_ns), nl.latency_ns)
    efa = []
    if spec.efa is not None:
        for k in range(len(spec.efa.devices)):
            efa.append(EFADevice(k, Channel(f"{pre}efa{k}.tx", spec.efa.bandwidth_bytes_per_ns),
                                 Channel(f"{pre}efa{k}.rx", spec.efa.bandwidth_bytes_per_ns)))
    return System(
        topology=topology,
        devices=devices,
        cores=cores,
        links=links,
        dma_setup_ns=dma.setup_latency_ns,
        pcie_latency_ns=host.pcie_latency_ns,
        numa_remote_bandwidth_factor=host.numa_remote_bandwidth_factor,
        numa_remote_latency_ns=host.numa_remote_latency_ns,
        instance=instance,
        efa=efa,
    )
