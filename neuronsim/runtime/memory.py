"""A runtime process's device memory: what tensors, loaded models and the shared scratchpad take from
each core's HBM stack, the runtime's out-of-memory report, and when a freed tensor's memory goes back.

Sizes and page rules from device-memory.rst; choices where it is silent in docs/assumptions.md (A72).
"""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING, Any

from neuronsim.hw.xu import ExecutionUnit
from neuronsim.runtime.checks import S, _Status
from neuronsim.runtime.neff import Neff
from neuronsim.runtime.objects import Model, Tensor
from neuronsim.runtime.state import HOST_TENSOR_MAX_BYTES, SCRATCHPAD_PAGE_ALIGN, SCRATCHPAD_PAGE_BYTES, ProcessState

if TYPE_CHECKING:
    from neuronsim.hw.system import CoreHW

__all__ = ["DeviceMemory", "format_bytes", "HOST_TENSOR_MAX_BYTES", "SCRATCHPAD_PAGE_BYTES", "SCRATCHPAD_PAGE_ALIGN"]



def format_bytes(n: int) -> str:
    """Bytes as the runtime's memory reports print them: ``4.000GB``, ``512.000MB``, ``0.000B``
    (binary multiples, three decimals; device-memory.rst)."""
    for unit, scale in (("GB", 1 << 30), ("MB", 1 << 20), ("KB", 1 << 10)):
        if n >= scale:
            return f"{n / scale:.3f}{unit}"
    return f"{n:.3f}B"


class DeviceMemory(ProcessState):
    """A runtime process's state with its device memory (:class:`~neuronsim.runtime.process.RuntimeProcess`
    builds on it)."""

    def _hbm_take(self, core: CoreHW, nbytes: int, usage: str, align: int = 0) -> int | None:
        """``nbytes`` of ``core``'s HBM stack for ``usage``; its address, or ``None`` after the runtime's
        out-of-memory report (device-memory.rst: ``TDRV:log_dev_mem Failed to allocate ...``)."""
        pool = core.hbm.pool
        address = pool.allocate(nbytes, align, usage)
        if address is None:
            self._log.log(logging.ERROR, "log_dev_mem", "TDRV:log_dev_mem Failed to allocate %s (alignment: %s, "
                          "usage: %s) on ND %d:NC %d", format_bytes(nbytes), format_bytes(align) if align else "none",
                          usage, core.device.index, core.local_index)
            columns = " | ".join(f"{name} {format_bytes(size)}" for name, size in sorted(pool.usage.items())
                                 if size)
            self._log.log(logging.ERROR, "log_dev_mem_usage_table", "TDRV:log_dev_mem_usage_table Displaying Current "
                          "Memory Utilization:\nND %d HBM %d | TOTAL %s | %s | free %s (largest free range %s)",
                          core.device.index, core.hbm_index, format_bytes(pool.used_bytes), columns,
                          format_bytes(pool.free_bytes), format_bytes(pool.largest_free()))
        return address

    def _take_model_memory(self, core: CoreHW, vnc: int, neff: Neff) -> list[tuple[Any, int]]:
        """What loading ``neff`` on ``vnc`` takes from its HBM: its weights, its I/O and any pages the
        core's shared scratchpad must grow by; all or nothing (``NRT_RESOURCE``)."""
        pool = core.hbm.pool
        taken: list[tuple[Any, int]] = []
        try:
            for usage, size in (("model constants", neff.weights_bytes), ("model io", neff.io_device_bytes)):
                if size:
                    address = self._hbm_take(core, size, usage)
                    if address is None:
                        raise _Status(S.NRT_RESOURCE, f"{neff.name}: {usage} of {size} bytes do not fit nc{vnc}'s HBM")
                    taken.append((pool, address))
            need = max([neff.scratchpad_bytes] + [m.neff.scratchpad_bytes for m in self._models.values()
                                                   if m.vnc == vnc])
            self._fit_scratchpad(core, vnc, need)
        except _Status:
            for owner, address in taken:
                owner.release(address)
            raise
        return taken

    def _fit_scratchpad(self, core: CoreHW, vnc: int, need: int) -> None:
        """Grow or shrink ``vnc``'s shared scratchpad to the pages ``need`` bytes take (device-memory.rst:
        one scratchpad per core, as large as the largest loaded NEFF's, in pages that need not be
        contiguous). Growing is all or nothing (``NRT_RESOURCE``)."""
        pages = self._scratchpad.setdefault(vnc, [])
        page = self.scratchpad_page_bytes
        wanted = -(-need // page)
        added: list[int] = []
        while len(pages) < wanted:
            address = self._hbm_take(core, page, "shared scratchpad", SCRATCHPAD_PAGE_ALIGN)
            if address is None:
                for _ in added:
                    pool, address = pages.pop()
                    pool.release(address)
                raise _Status(S.NRT_RESOURCE, f"nc{vnc}'s shared scratchpad cannot grow to {need} bytes")
            pages.append((core.hbm.pool, address))
            added.append(address)
        while len(pages) > wanted:
            pool, address = pages.pop()
            pool.release(address)

    def _release_model(self, model: Model) -> None:
        """Give back what ``model``'s load took; the shared scratchpad shrinks to what is left loaded."""
        model.unloaded = True
        self._models.pop(id(model), None)
        for pool, address in model.memory:
            pool.release(address)
        model.memory = []
        need = max([0] + [m.neff.scratchpad_bytes for m in self._models.values() if m.vnc == model.vnc])
        self._fit_scratchpad(model.core, model.vnc, need)

    def _free_tensor(self, t: Tensor) -> None:
        """The handle dies now; its memory goes back when its last tensor is freed and every accepted
        request that uses it has completed (A72)."""
        t.freed = True
        self._tensors.pop(id(t), None)
        alloc = t.alloc
        alloc.refs -= 1
        if alloc.refs:
            return
        users = []
        if self.sim.env.peek() == float("inf"):  # nothing in flight anywhere
            alloc.release()
            return
        for xu in (*self._xus.values(), *self._sync_units.values()):
            if xu.completed_num == xu.next_num - 1:  # its queue is empty (attribute reads: a hot loop)
                continue
            last = 0
            for request in xu.pending():
                if any(a is alloc for a, *_ in request.accesses()):
                    last = request.seq_num
            if last:
                users.append((xu, last))
        if not users:
            alloc.release()
            return
        self._log.log(logging.WARNING, "nrt_tensor_free", "NRT:nrt_tensor_free tensor %s is used by %d accepted "
                      "request(s) not yet complete; its memory is released when they complete", t.name or "UNNAMED",
                      len(users))
        left = [len(users)]

        def watch(xu: ExecutionUnit, last: int) -> None:
            def listener(unit: ExecutionUnit, request: Any) -> None:
                if request.seq_num < last:
                    return
                unit.listeners.remove(listener)
                left[0] -= 1
                if not left[0]:
                    alloc.release()

            xu.listeners.append(listener)

        for xu, last in users:
            watch(xu, last)
