"""The runtime's handle objects: tensors (``nrt_tensor_t``), tensor sets, loaded models, tensor info.

Handles are opaque to callers, as in C. A tensor is a window ``[offset, offset + size)`` onto an
allocation; slices share the allocation, which is released when its last tensor is freed.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from neuronsim.hw.memory import MemoryPool, SparseBytes
from neuronsim.nrt import nrt_tensor_placement_t, nrt_tensor_usage_t

if TYPE_CHECKING:
    from neuronsim.hw.channel import Channel
    from neuronsim.hw.system import CoreHW
    from neuronsim.runtime.neff import Neff

__all__ = ["Allocation", "Tensor", "TensorSet", "Model", "TensorInfo", "TensorInfoArray"]


class Allocation:
    """Memory taken from a pool at ``address``; given back when its last tensor is freed and no accepted
    request still uses it (docs/assumptions.md A72)."""

    __slots__ = ("pool", "size_bytes", "storage", "refs", "hbm_index", "channel", "device_index", "address",
                 "released")

    def __init__(self, pool: MemoryPool, size_bytes: int, storage: SparseBytes | None, hbm_index: int,
                 channel: Channel | None, device_index: int = -1, address: int = 0) -> None:
        self.pool = pool
        self.size_bytes = size_bytes
        self.storage = storage
        self.refs = 1
        self.hbm_index = hbm_index
        self.channel = channel  # the HBM stack's bandwidth channel; None for host memory
        self.device_index = device_index
        self.address = address  # the pool's address of the first byte
        self.released = False

    def release(self) -> None:
        """Give the bytes back to the pool (once)."""
        if not self.released:
            self.released = True
            self.pool.release(self.address)
            self.storage = None


class Tensor:
    """A simulated ``nrt_tensor_t``."""

    __slots__ = ("name", "size", "offset", "placement", "vnc", "core", "alloc", "freed", "owner", "core_only")

    def __init__(self, name: str, size: int, offset: int, placement: nrt_tensor_placement_t, vnc: int,
                 core: CoreHW, alloc: Allocation, owner: object) -> None:
        self.name = name
        self.size = size
        self.offset = offset
        self.placement = placement
        self.vnc = vnc
        self.core = core
        self.alloc = alloc
        self.freed = False
        self.owner = owner
        # the core of a device tensor, None for host memory (a fast check on the async paths)
        self.core_only = core if placement == nrt_tensor_placement_t.NRT_TENSOR_PLACEMENT_DEVICE else None

    @property
    def on_device(self) -> bool:
        return self.placement == nrt_tensor_placement_t.NRT_TENSOR_PLACEMENT_DEVICE

    @property
    def address(self) -> int:
        """The address of its first byte: its allocation's address plus its offset (a slice's parent's
        address plus the slice offset)."""
        return self.alloc.address + self.offset

    def __repr__(self) -> str:
        where = f"nc{self.vnc}" if self.on_device else "host"
        return f"<nrt_tensor_t {self.name!r} {self.size} B on {where}{' (freed)' if self.freed else ''}>"


class TensorSet:
    """A simulated ``nrt_tensor_set_t``: tensors by name."""

    __slots__ = ("tensors", "destroyed", "owner")

    def __init__(self, owner: object) -> None:
        self.tensors: dict[str, Tensor] = {}
        self.destroyed = False
        self.owner = owner

    def __repr__(self) -> str:
        return f"<nrt_tensor_set_t {sorted(self.tensors)}>"


class Model:
    """A loaded model (``nrt_model_t``): a NEFF on a logical core."""

    __slots__ = ("neff", "vnc", "core", "unloaded", "owner", "id", "cc_rank", "cc_count", "memory")

    def __init__(self, neff: Neff, vnc: int, core: CoreHW, owner: object, model_id: int) -> None:
        self.neff = neff
        self.vnc = vnc
        self.core = core
        self.unloaded = False
        self.owner = owner
        self.id = model_id
        self.cc_rank = -1  # nrt_load_collectives: this copy's ctx_device_id of ctx_device_count
        self.cc_count = 0
        self.memory: list[tuple[MemoryPool, int]] = []  # (pool, address) of what it holds on its core's HBM

    def __repr__(self) -> str:
        return f"<nrt_model_t {self.neff.name!r} on nc{self.vnc}{' (unloaded)' if self.unloaded else ''}>"


@dataclass(frozen=True)
class TensorInfo:
    """``nrt_tensor_info_t``."""

    name: str
    usage: nrt_tensor_usage_t
    size: int
    dtype: int
    shape: tuple[int, ...]

    @property
    def ndim(self) -> int:
        return len(self.shape)


@dataclass(frozen=True)
class TensorInfoArray:
    """``nrt_tensor_info_array_t``."""

    tensor_array: tuple[TensorInfo, ...] = field(default_factory=tuple)

    @property
    def tensor_count(self) -> int:
        return len(self.tensor_array)
