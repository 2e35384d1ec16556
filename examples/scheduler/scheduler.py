"""A small request scheduler over the Neuron Runtime's explicit async API (nrta_*, 3.0).

Each request runs write input -> execute -> read output on one logical core. Up to ``depth`` requests
are in flight per core, each with its own input and output buffers. The scheduler is event-driven:
it advances every request whose current stage has completed, schedules the next stage only after
observing the previous one complete (the API's contract across queues), retries NRT_QUEUE_FULL once a
slot frees, and reports every failure: a request's status is the first non-success status of its
stages, or of a refused schedule call.

This is the code under test of the example project; the tests next to it run it on neuronsim.
"""

from __future__ import annotations

from collections import deque
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from neuronsim import nrt

WRITE, EXECUTE, READ, DONE = "write", "execute", "read", "done"


@dataclass(eq=False)
class Ticket:
    """One request: where it runs, what stage it is in, and how it ended."""

    core: int
    x: np.ndarray
    stage: str = "queued"
    seq: int = 0
    ret: Any = field(default_factory=nrt.Ref)
    status: int | None = None
    y: np.ndarray | None = None
    seqs: list[int] = field(default_factory=list)
    slot: int = -1


class RequestScheduler:
    """Runs model requests on the cores of ``rt`` (an initialised ``NrtRuntime``).

    Args:
        rt: the C-mirror runtime (``sim.runtime(...)`` after ``nrt_init``).
        neff: the model; it has one input ``x`` and one output ``y`` of the same size.
        cores: how many of the process's cores to use.
        depth: requests in flight per core.
    """

    def __init__(self, rt: Any, neff: Any, cores: int = 1, depth: int = 2) -> None:
        self.rt = rt
        self.depth = depth
        self.pending: dict[int, deque[Ticket]] = {c: deque() for c in range(cores)}
        self.active: list[Ticket] = []
        self.cores = []
        for core in range(cores):
            model = nrt.Ref()
            assert rt.nrt_load(neff, core, -1, model) == nrt.NRT_SUCCESS
            slots = []
            for k in range(depth):
                x, y, ins, outs = nrt.Ref(), nrt.Ref(), nrt.Ref(), nrt.Ref()
                size = neff.inputs[0].size_bytes
                rt.nrt_tensor_allocate(nrt.NRT_TENSOR_PLACEMENT_DEVICE, core, size, f"x{core}.{k}", x)
                rt.nrt_tensor_allocate(nrt.NRT_TENSOR_PLACEMENT_DEVICE, core, size, f"y{core}.{k}", y)
                rt.nrt_allocate_tensor_set(ins)
                rt.nrt_allocate_tensor_set(outs)
                rt.nrt_add_tensor_to_tensor_set(ins.value, "x", x.value)
                rt.nrt_add_tensor_to_tensor_set(outs.value, "y", y.value)
                slots.append({"x": x.value, "y": y.value, "ins": ins.value, "outs": outs.value, "busy": False})
            self.cores.append({"model": model.value, "slots": slots})

    # -- public API ---------------------------------------------------------------------------------

    def submit(self, core: int, x: np.ndarray) -> Ticket:
        ticket = Ticket(core, np.ascontiguousarray(x, dtype=np.float32))
        self.pending[core].append(ticket)
        self.pump()
        return ticket

    def wait(self, ticket: Ticket) -> Ticket:
        """Block (in simulated time) until ``ticket`` is done."""
        while ticket.stage != DONE:
            if not self.pump():
                self._block()
        return ticket

    def run(self, requests: list[tuple[int, np.ndarray]]) -> list[Ticket]:
        tickets = [self.submit(core, x) for core, x in requests]
        return [self.wait(t) for t in tickets]

    # -- the engine -----------------------------------------------------------------------------------

    def pump(self) -> bool:
        """Advance every request whose stage completed and start queued ones; True if anything moved."""
        moved = False
        for ticket in list(self.active):
            if self._completed(ticket):
                moved |= self._advance(ticket)
        for core, queue in self.pending.items():
            while queue:
                slot = self._free_slot(core)
                if slot is None:
                    break
                ticket = queue.popleft()
                ticket.slot = slot
                self.cores[core]["slots"][slot]["busy"] = True
                self.active.append(ticket)
                self._start(ticket, WRITE)
                moved = True
        return moved

    def _free_slot(self, core: int) -> int | None:
        for k, slot in enumerate(self.cores[core]["slots"]):
            if not slot["busy"]:
                return k
        return None

    def _completed(self, ticket: Ticket) -> bool:
        if ticket.seq == 0:
            return True  # its last schedule call was refused with NRT_QUEUE_FULL: a retry is due
        done = nrt.Ref(False)
        self.rt.nrta_is_completed(ticket.seq, done)
        return bool(done.value)

    def _advance(self, ticket: Ticket) -> bool:
        """Move ``ticket`` to its next stage; False if a retry was refused again."""
        if ticket.seq == 0:
            self._start(ticket, ticket.stage)
            return ticket.seq != 0 or ticket.stage == DONE
        if ticket.ret.value != nrt.NRT_SUCCESS:
            self._finish(ticket, ticket.ret.value)
        elif ticket.stage == WRITE:
            self._start(ticket, EXECUTE)
        elif ticket.stage == EXECUTE:
            self._start(ticket, READ)
        else:
            self._finish(ticket, nrt.NRT_SUCCESS)
        return True

    def _start(self, ticket: Ticket, stage: str) -> None:
        slot = self.cores[ticket.core]["slots"][ticket.slot]
        ticket.stage, ticket.ret, ticket.seq = stage, nrt.Ref(), 0
        seq = nrt.Ref()
        if stage == WRITE:
            status = self.rt.nrta_tensor_write(slot["x"], ticket.x, 0, ticket.x.nbytes, ticket.core, 0,
                                               ticket.ret, seq)
        elif stage == EXECUTE:
            status = self.rt.nrta_execute_schedule(self.cores[ticket.core]["model"], slot["ins"], slot["outs"], 0,
                                                   ticket.ret, seq)
        else:
            ticket.y = np.empty_like(ticket.x)
            status = self.rt.nrta_tensor_read(ticket.y, slot["y"], 0, ticket.y.nbytes, ticket.core, 1,
                                              ticket.ret, seq)
        if status == nrt.NRT_SUCCESS:
            ticket.seq = seq.value
            ticket.seqs.append(seq.value)
        elif status != nrt.NRT_QUEUE_FULL:
            self._finish(ticket, status)  # refused for good (e.g. NRT_EXEC_UNIT_UNRECOVERABLE)

    def _finish(self, ticket: Ticket, status: int) -> None:
        ticket.stage, ticket.status = DONE, int(status)
        if status != nrt.NRT_SUCCESS:
            ticket.y = None
        self.cores[ticket.core]["slots"][ticket.slot]["busy"] = False
        self.active.remove(ticket)

    def _block(self) -> None:
        """Nothing can move until a device request completes: sleep on an eventfd signalled by any
        completion on the queues the scheduler uses. Register first, then look once more before
        sleeping: a completion that lands between the last look and the registration would otherwise
        never wake us (an XU-completion eventfd is not signalled for the past)."""
        efd = self.rt.sim.eventfd()
        queues = [(nrt.NRTA_XU_TENSOR_OP, 0), (nrt.NRTA_XU_TENSOR_OP, 1), (nrt.NRTA_XU_COMPUTE, 0)]
        for core in range(len(self.cores)):
            for xu, queue in queues:
                self.rt.nrta_event_register_xu_completion(core, xu, queue, efd)
        if not self.pump():
            efd.read()
        for core in range(len(self.cores)):
            for xu, queue in queues:
                self.rt.nrta_event_register_xu_completion(core, xu, queue, -1)
        efd.close()
