"""The resolved topology: a validated spec plus an LNC, with logical NeuronCores numbered as the
runtime numbers them.

At LNC=2 (trn2's default) a logical core is two adjacent physical cores of one device; at LNC=1 it
is one. Logical core ids run in device order, ``logical_cores_per_device`` per device, so trn2.48xlarge
has 64 (LNC=2) or 128 (LNC=1) and device ``d`` holds ids ``d*k .. d*k+k-1``.
"""

from __future__ import annotations

from dataclasses import dataclass

from neuronsim.errors import ConfigError
from neuronsim.topology.spec import ClusterSpec, InstanceSpec, ZRingSpec

__all__ = ["LogicalCore", "Topology", "resolve_lnc"]


@dataclass(frozen=True)
class LogicalCore:
    """One logical NeuronCore of an instance.

    Attributes:
        id: the runtime's id within the instance (NEURON CORE IDS).
        device: index of the device it belongs to.
        local_index: index within the device (0 .. logical_cores_per_device - 1).
        physical_cores: indices of its physical cores within the device.
        hbm_stack: index of the HBM stack its memory comes from.
    """

    id: int
    device: int
    local_index: int
    physical_cores: tuple[int, ...]
    hbm_stack: int


def resolve_lnc(spec: InstanceSpec, lnc: int | None, source: str = "") -> int:
    """The LNC to use: ``lnc`` checked against the chip, or the chip's default."""
    where = source or spec.name
    if lnc is None:
        return spec.default_lnc
    if isinstance(lnc, bool) or lnc not in (1, 2):
        raise ConfigError(where, f"logical NeuronCore config must be 1 or 2, not {lnc!r}", field="lnc")
    if spec.chip.lnc is None:
        raise ConfigError(where, f"{spec.name} has no logical NeuronCore config ({spec.chip.name} cores are "
                          "not grouped; LNC applies to trn2 and later): do not pass an LNC", field="lnc")
    if lnc not in spec.chip.lnc.allowed:
        raise ConfigError(where, f"LNC={lnc} is not supported by {spec.chip.name} "
                          f"(allowed: {list(spec.chip.lnc.allowed)})", field="lnc")
    return lnc


@dataclass(frozen=True)
class Topology:
    """A validated instance (or cluster of identical instances) at a chosen LNC."""

    spec: InstanceSpec
    lnc: int
    num_instances: int
    z_ring: ZRingSpec | None
    cluster: ClusterSpec | None
    logical_cores: tuple[LogicalCore, ...]

    @classmethod
    def build(cls, spec: InstanceSpec | ClusterSpec, *, lnc: int | None = None, source: str = "") -> Topology:
        instance = spec.instance if isinstance(spec, ClusterSpec) else spec
        lnc_value = resolve_lnc(instance, lnc, source)
        per_device = instance.logical_cores_per_device(lnc_value)
        per_stack = instance.chip.hbm.physical_cores_per_stack
        cores = []
        for dev in instance.devices:
            for local in range(per_device):
                physical = tuple(range(local * lnc_value, (local + 1) * lnc_value))
                cores.append(LogicalCore(
                    id=dev.index * per_device + local,
                    device=dev.index,
                    local_index=local,
                    physical_cores=physical,
                    hbm_stack=physical[0] // per_stack,
                ))
        cluster = spec if isinstance(spec, ClusterSpec) else None
        return cls(
            spec=instance,
            lnc=lnc_value,
            num_instances=cluster.count if cluster else 1,
            z_ring=cluster.z_ring if cluster else None,
            cluster=cluster,
            logical_cores=tuple(cores),
        )

    @property
    def name(self) -> str:
        return self.cluster.name if self.cluster else self.spec.name

    @property
    def num_devices(self) -> int:
        return len(self.spec.devices)

    @property
    def logical_cores_per_device(self) -> int:
        return self.spec.logical_cores_per_device(self.lnc)

    @property
    def shows_lnc(self) -> bool:
        """neuron-ls prints ``logical-neuroncore-config`` only on instances with LNC (trn2)."""
        return self.spec.chip.lnc is not None

    def cores_of_device(self, device: int) -> tuple[LogicalCore, ...]:
        k = self.logical_cores_per_device
        return self.logical_cores[device * k:(device + 1) * k]

    def links(self) -> list[tuple[int, int]]:
        """Undirected NeuronLink pairs ``(a, b)`` with ``a < b``, in device order."""
        return sorted({(min(d.index, p), max(d.index, p)) for d in self.spec.devices for p in d.connected})

    def hbm_bytes_per_logical_core(self) -> int:
        """HBM a logical core can allocate from its stack, after the runtime's reservation."""
        hbm = self.spec.chip.hbm
        cores_on_stack = max(1, hbm.physical_cores_per_stack // self.lnc)
        usable = (hbm.stack_capacity_bytes - hbm.carveout_bytes
                  - hbm.reserved_bytes_per_physical_core * hbm.physical_cores_per_stack)
        return usable // cores_on_stack
