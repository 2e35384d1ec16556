"""Memory: sparse byte storage for tensors and capacity pools for HBM stacks and host memory.

``SparseBytes`` holds real bytes lazily, one page at a time: a 20 GiB tensor that is written in one
4 KiB corner costs one page of host memory; unwritten bytes read as zero, as freshly allocated
device memory does here. In timing-only mode no storage is created at all.

``MemoryPool`` accounts capacity and fails at once (the runtime turns that into ``NRT_RESOURCE``)
rather than blocking.
"""

from __future__ import annotations

import numpy as np

__all__ = ["SparseBytes", "MemoryPool", "PAGE_BYTES"]

PAGE_BYTES = 1 << 20


class SparseBytes:
    """``size_bytes`` bytes, zero until written, backed by lazily created 1 MiB numpy pages."""

    __slots__ = ("size_bytes", "_pages")

    def __init__(self, size_bytes: int) -> None:
        if size_bytes < 0:
            raise ValueError(f"size_bytes(={size_bytes}) must be >= 0.")
        self.size_bytes = size_bytes
        self._pages: dict[int, np.ndarray] = {}

    @property
    def resident_bytes(self) -> int:
        """Host memory the pages actually hold."""
        return sum(page.nbytes for page in self._pages.values())

    def _page(self, index: int) -> np.ndarray:
        page = self._pages.get(index)
        if page is None:
            length = min(PAGE_BYTES, self.size_bytes - index * PAGE_BYTES)
            page = np.zeros(length, dtype=np.uint8)
            self._pages[index] = page
        return page

    def write(self, offset: int, data: np.ndarray | bytes | memoryview) -> None:
        """Store ``data`` (bytes-like, uint8 view taken) at ``offset``."""
        if type(data) is bytes:
            index, start = divmod(offset, PAGE_BYTES)
            n = len(data)
            if start + n <= PAGE_BYTES and offset + n <= self.size_bytes:  # one page: the common small case
                page = self._pages.get(index)
                if page is None:
                    page = self._page(index)
                page.data[start:start + n] = data
                return
        src = np.frombuffer(data, dtype=np.uint8) if not isinstance(data, np.ndarray) else data.view(np.uint8)
        src = src.reshape(-1)
        end = offset + src.size
        if offset < 0 or end > self.size_bytes:
            raise IndexError(f"write [{offset}, {end}) outside {self.size_bytes} bytes")
        pos = offset
        while pos < end:
            index, start = divmod(pos, PAGE_BYTES)
            take = min(PAGE_BYTES - start, end - pos)
            self._page(index)[start:start + take] = src[pos - offset:pos - offset + take]
            pos += take

    def fill(self, offset: int, size: int, value: int) -> None:
        """Set ``size`` bytes at ``offset`` to ``value`` (memset)."""
        end = offset + size
        pos = offset
        while pos < end:
            index, start = divmod(pos, PAGE_BYTES)
            take = min(PAGE_BYTES - start, end - pos)
            if value == 0 and index not in self._pages:
                pos += take
                continue
            self._page(index)[start:start + take] = value
            pos += take

    def flat(self) -> np.ndarray:
        """All ``size_bytes`` as one contiguous uint8 array, which the pages become views of (later writes
        and reads go through it): what ``nrt_tensor_get_va`` points into. It costs the full size in
        host memory from then on."""
        pages = self._pages
        first = pages.get(0)
        if first is not None and first.base is not None and first.base.size == self.size_bytes:
            return first.base
        whole = np.zeros(self.size_bytes, dtype=np.uint8)
        for index in range((self.size_bytes + PAGE_BYTES - 1) // PAGE_BYTES):
            start = index * PAGE_BYTES
            view = whole[start:start + PAGE_BYTES]
            old = pages.get(index)
            if old is not None:
                view[:] = old
            pages[index] = view
        return whole

    def read_bytes(self, offset: int, size: int) -> bytes:
        """``size`` bytes from ``offset`` as ``bytes``."""
        index, start = divmod(offset, PAGE_BYTES)
        if start + size <= PAGE_BYTES and 0 <= offset and offset + size <= self.size_bytes:
            page = self._pages.get(index)
            return bytes(size) if page is None else bytes(page.data[start:start + size])
        return self.read(offset, size).tobytes()

    def read(self, offset: int, size: int) -> np.ndarray:
        """A fresh uint8 array with ``size`` bytes from ``offset``."""
        end = offset + size
        if offset < 0 or end > self.size_bytes:
            raise IndexError(f"read [{offset}, {end}) outside {self.size_bytes} bytes")
        out = np.zeros(size, dtype=np.uint8)
        pos = offset
        while pos < end:
            index, start = divmod(pos, PAGE_BYTES)
            take = min(PAGE_BYTES - start, end - pos)
            page = self._pages.get(index)
            if page is not None:
                out[pos - offset:pos - offset + take] = page[start:start + take]
            pos += take
        return out


class MemoryPool:
    """One memory's address range (an HBM stack, host memory): first-fit allocation of disjoint,
    aligned ranges, failing at once (the runtime turns that into ``NRT_RESOURCE``) rather than blocking.

    The device allocator is the Neuron driver's (aws-neuron-driver ``neuron_mempool.c``): a genpool
    per HBM stack whose minimum allocation is the host page (``mempool_min_alloc_size = PAGE_SIZE``,
    4 KiB), first fit, sizes rounded up to that granule; the firmware's 16 MiB carve-out sits at the
    start of the range (``MEMPOOL_CARVEOUT_SIZE``). Addresses are a pure function of the sequence of
    allocations and frees, so they are the same in every run of one program (docs/assumptions.md A70).

    Args:
        name: entity path, e.g. ``dev3/hbm1``.
        capacity_bytes: size of the address range, in bytes.
        base_address: address of its first byte.
        granule_bytes: allocation granule: every size is rounded up to it and every address is a
            multiple of it (relative to ``base_address``).
        reserved: ``(label, bytes)`` ranges taken at the start for the life of the memory (firmware
            carve-out, the runtime's micro-code reservation); they count as used.

    Invariants: ``used_bytes`` is the sum of the (rounded) live allocations; live ranges never
    overlap and lie inside ``[base_address, base_address + capacity_bytes)``.
    """

    __slots__ = ("name", "capacity_bytes", "used_bytes", "peak_bytes", "base_address", "granule_bytes",
                 "reserved_bytes", "usage", "_free", "_live")

    def __init__(self, name: str, capacity_bytes: int, base_address: int = 0, granule_bytes: int = 1,
                 reserved: tuple[tuple[str, int], ...] = ()) -> None:
        if capacity_bytes < 0:
            raise ValueError(f"capacity_bytes(={capacity_bytes}) must be >= 0.")
        if granule_bytes < 1:
            raise ValueError(f"granule_bytes(={granule_bytes}) must be >= 1.")
        if base_address < 0:
            raise ValueError(f"base_address(={base_address}) must be >= 0.")
        self.name = name
        self.capacity_bytes = capacity_bytes
        self.base_address = base_address
        self.granule_bytes = granule_bytes
        self.used_bytes = 0
        self.peak_bytes = 0
        self._free: list[list[int]] = [[base_address, base_address + capacity_bytes]] if capacity_bytes else []
        self._live: dict[int, tuple[int, str]] = {}  # address -> (rounded size, usage)
        self.usage: dict[str, int] = {}  # bytes in use per usage label ("tensors", "model constants", ...)
        for label, size in reserved:
            if size and self.allocate(size, usage=label) is None:
                raise ValueError(f"{name}: reservation {label!r} of {size} bytes does not fit in {capacity_bytes}")
        self.reserved_bytes = self.used_bytes

    @property
    def free_bytes(self) -> int:
        return self.capacity_bytes - self.used_bytes

    def rounded(self, size_bytes: int) -> int:
        """``size_bytes`` rounded up to the granule (what an allocation of that size takes)."""
        g = self.granule_bytes
        return -(-size_bytes // g) * g

    def largest_free(self) -> int:
        """The largest contiguous free range, in bytes."""
        return max((end - start for start, end in self._free), default=0)

    def allocate(self, size_bytes: int, align: int = 0, usage: str = "") -> int | None:
        """Take ``size_bytes`` (rounded up to the granule) at the lowest address that fits, aligned to
        ``align`` bytes when given, counted under ``usage``; its address, or ``None`` (nothing taken)
        when no free range fits."""
        if size_bytes <= 0:
            raise ValueError(f"size_bytes(={size_bytes}) must be > 0.")
        size = self.rounded(size_bytes)
        align = max(align, self.granule_bytes)
        free = self._free
        for i, (start, end) in enumerate(free):
            address = start
            if align > 1:
                address = self.base_address + -(-(start - self.base_address) // align) * align
            if address + size > end:
                continue
            pieces = []
            if address > start:
                pieces.append([start, address])
            if address + size < end:
                pieces.append([address + size, end])
            free[i:i + 1] = pieces
            self._live[address] = (size, usage)
            self.usage[usage] = self.usage.get(usage, 0) + size
            self.used_bytes += size
            if self.used_bytes > self.peak_bytes:
                self.peak_bytes = self.used_bytes
            return address
        return None

    def release(self, address: int) -> int:
        """Give back the allocation at ``address``; the bytes returned."""
        entry = self._live.pop(address, None)
        if entry is None:
            raise ValueError(f"{self.name}: no allocation at {address:#x}")
        size, usage = entry
        self.usage[usage] -= size
        self.used_bytes -= size
        free = self._free
        lo, hi = 0, len(free)
        while lo < hi:  # bisect on the range starts
            mid = (lo + hi) // 2
            if free[mid][0] < address:
                lo = mid + 1
            else:
                hi = mid
        start, end = address, address + size
        if lo < len(free) and free[lo][0] == end:  # merge with the range after
            end = free[lo][1]
            del free[lo]
        if lo > 0 and free[lo - 1][1] == start:  # and the one before
            free[lo - 1][1] = end
        else:
            free.insert(lo, [start, end])
        return size

    def allocations(self) -> list[tuple[int, int]]:
        """Live ``(address, bytes)`` ranges in address order (reservations included)."""
        return sorted((address, size) for address, (size, _) in self._live.items())
