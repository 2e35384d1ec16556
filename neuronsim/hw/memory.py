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
    """Capacity accounting for one memory (an HBM stack, host memory).

    Args:
        name: entity path, e.g. ``dev3/hbm1``.
        capacity_bytes: bytes that can be allocated.
    """

    __slots__ = ("name", "capacity_bytes", "used_bytes", "peak_bytes")

    def __init__(self, name: str, capacity_bytes: int) -> None:
        if capacity_bytes < 0:
            raise ValueError(f"capacity_bytes(={capacity_bytes}) must be >= 0.")
        self.name = name
        self.capacity_bytes = capacity_bytes
        self.used_bytes = 0
        self.peak_bytes = 0

    @property
    def free_bytes(self) -> int:
        return self.capacity_bytes - self.used_bytes

    def allocate(self, size_bytes: int) -> bool:
        """Take ``size_bytes``; False (and nothing taken) when they do not fit."""
        if size_bytes > self.free_bytes:
            return False
        self.used_bytes += size_bytes
        self.peak_bytes = max(self.peak_bytes, self.used_bytes)
        return True

    def release(self, size_bytes: int) -> None:
        if size_bytes > self.used_bytes:
            raise ValueError(f"{self.name}: releasing {size_bytes} bytes but only {self.used_bytes} are used")
        self.used_bytes -= size_bytes
