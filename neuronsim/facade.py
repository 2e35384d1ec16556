"""A Pythonic facade over the same runtime: no prefixes, futures, exceptions.

``rt = sim.open(visible_cores="0-1")`` initialises a runtime process and returns a
:class:`NeuronRuntime`. Schedule methods return a :class:`Future`; ``future.result()`` advances
simulated time until the request completes and returns its value (the bytes read, for a read), or
raises :class:`~neuronsim.errors.NrtError` carrying the request's status. A refused call raises at
once, except ``NRT_QUEUE_FULL``, which by default waits for the oldest request on that queue and
retries, as the migration guide tells applications to do.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Any

import numpy as np

from neuronsim.errors import DeadlockError, NrtError
from neuronsim.nrt import (
    NRT_STATUS,
    NRTA_SEQ_GET_SEQ_NUM,
    NRTA_SEQ_GET_XU_ID,
    Ref,
    nrt_cc_comm_t,
    nrt_cc_op_type_t,
    nrt_op_type_t,
    nrt_tensor_list_t,
    nrta_xu_t,
)
from neuronsim.runtime.neff import Neff
from neuronsim.runtime.objects import Model, Tensor, TensorSet

if TYPE_CHECKING:
    from neuronsim.hw.xu import ExecutionUnit
    from neuronsim.api.nrta import NrtRuntime

__all__ = ["NeuronRuntime", "Future"]

S = NRT_STATUS
TENSOR_OP = int(nrta_xu_t.NRTA_XU_TENSOR_OP)
COMPUTE = int(nrta_xu_t.NRTA_XU_COMPUTE)
COLLECTIVES = int(nrta_xu_t.NRTA_XU_COLLECTIVES)


def _check(rt: NrtRuntime, status: int, what: str) -> None:
    """Raise ``NrtError`` for a failed call: ``what``, then the reason the runtime refused it with (the one it
    logs at ERROR, whatever the log level)."""
    reason = rt._log.take_reason(status)  # noqa: SLF001 - this call's refusal, or none
    if status != S.NRT_SUCCESS:
        raise NrtError(status, f"{what}: {reason}" if reason else what)


class Future:
    """A scheduled request: its sequence id now, its status and value when it completes."""

    __slots__ = ("_rt", "seq", "_ret", "_value", "_unit", "_what")

    def __init__(self, rt: NeuronRuntime, seq: int, ret: Ref, value: Any, unit: ExecutionUnit, what: str) -> None:
        self._rt = rt
        self._what = what  # the schedule call that made it, for the error
        self.seq = seq
        self._ret = ret
        self._value = value
        self._unit = unit

    @property
    def seq_num(self) -> int:
        return NRTA_SEQ_GET_SEQ_NUM(self.seq)

    def done(self) -> bool:
        """True once the request has completed (no host time is spent asking). Seeing it true is seeing the
        completion, as ``nrta_is_completed`` returning true is (the race detector counts it)."""
        num = NRTA_SEQ_GET_SEQ_NUM(self.seq)
        if num > self._unit.completed_num:
            return False
        self._rt.c._observe(self._unit, num)  # noqa: SLF001 - same package
        return True

    @property
    def status(self) -> NRT_STATUS | None:
        """The request's final status, ``None`` while it runs; a status seen is a completion seen, as with
        :meth:`done`."""
        if self._ret.value is None:
            return None
        self._rt.c._observe(self._unit, NRTA_SEQ_GET_SEQ_NUM(self.seq))  # noqa: SLF001 - same package
        return NRT_STATUS(self._ret.value)

    def wait(self) -> NRT_STATUS:
        """Advance simulated time until the request completes; returns its status."""
        self._rt._wait_unit(self._unit, NRTA_SEQ_GET_SEQ_NUM(self.seq))
        return NRT_STATUS(self._ret.value)

    def result(self) -> Any:
        """Wait, then return the value (the host array for a read) or raise ``NrtError``."""
        status = self.wait()
        if status != S.NRT_SUCCESS:
            raise NrtError(status, f"{self._what} request {self.seq:#x} completed with {status.name} "
                                   "(the runtime's log says why)")
        return self._value

    def __repr__(self) -> str:
        state = "pending" if self._ret.value is None else NRT_STATUS(self._ret.value).name
        return f"<Future seq={self.seq:#x} {state}>"


class NeuronRuntime:
    """An initialised runtime process with a Pythonic API (see the module docstring).

    Args:
        c: the C mirror (:class:`~neuronsim.api.nrta.NrtRuntime`) to drive; ``nrt_init`` is called.
        retry_queue_full: wait and retry on ``NRT_QUEUE_FULL`` instead of raising.
    """

    def __init__(self, c: NrtRuntime, *, retry_queue_full: bool = True, framework: int = 1) -> None:
        self.c = c
        self.sim = c.sim
        self.retry_queue_full = retry_queue_full
        _check(self.c, c.nrt_init(framework, "", ""), "nrt_init")

    # -- lifecycle ----------------------------------------------------------------------------------

    def close(self) -> None:
        self.c.nrt_close()

    def __enter__(self) -> NeuronRuntime:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    @property
    def num_cores(self) -> int:
        """Logical NeuronCores this process holds (in-process ids 0 .. num_cores - 1)."""
        return len(self.c.visible_cores)

    # -- models and tensors -------------------------------------------------------------------------

    def load(self, neff: Neff | bytes, core: int = -1) -> Model:
        """Load a :class:`Neff`, or the bytes of a compiled ``.neff`` file (``Path(p).read_bytes()``) or of
        a NEFF description, on ``core`` (-1: the first free one)."""
        out = Ref()
        _check(self.c, self.c.nrt_load(neff, core, -1, out), "nrt_load")
        return out.value

    def load_collectives(self, neff: Neff, core: int, rank: int, ranks: int) -> Model:
        """``nrt_load_collectives``: ``neff`` on ``core`` as rank ``rank`` of the ``ranks`` copies that meet at
        its collectives."""
        out = Ref()
        _check(self.c, self.c.nrt_load_collectives(neff, core, -1, rank, ranks, out), "nrt_load_collectives")
        return out.value

    def unload(self, model: Model) -> None:
        _check(self.c, self.c.nrt_unload(model), "nrt_unload")

    def allocate(self, size: int, core: int = 0, name: str = "", *, host: bool = False) -> Tensor:
        out = Ref()
        _check(self.c, self.c.nrt_tensor_allocate(1 if host else 0, -1 if host else core, size, name, out),
               f"nrt_tensor_allocate({size} bytes on core {core})")
        return out.value

    def allocate_io(self, model: Model) -> tuple[dict[str, Tensor], dict[str, Tensor]]:
        """Device tensors for every input and output of ``model``, on its core: ``(inputs, outputs)``,
        each a dict from the NEFF's tensor name to a tensor of its size, ready for :meth:`execute`."""
        inputs = {t.name: self.allocate(t.size_bytes, model.vnc, t.name) for t in model.neff.inputs}
        outputs = {t.name: self.allocate(t.size_bytes, model.vnc, t.name) for t in model.neff.outputs}
        return inputs, outputs

    def free(self, tensor: Tensor) -> None:
        _check(self.c, self.c.nrt_tensor_free(tensor), "nrt_tensor_free")

    def tensor_set(self, tensors: Mapping[str, Tensor] | TensorSet) -> TensorSet:
        if isinstance(tensors, TensorSet):
            return tensors
        out = Ref()
        _check(self.c, self.c.nrt_allocate_tensor_set(out), "nrt_allocate_tensor_set")
        for name, tensor in tensors.items():
            _check(self.c, self.c.nrt_add_tensor_to_tensor_set(out.value, name, tensor), f"nrt_add_tensor_to_tensor_set({name!r})")
        return out.value

    # -- scheduling -----------------------------------------------------------------------------------

    def _schedule(self, call: Any, args: tuple, unit_key: tuple[int, int, int], what: str,
                  value: Any = None) -> Future:
        while True:
            ret, seq = Ref(), Ref()
            status = call(*args, ret, seq)
            if status == S.NRT_QUEUE_FULL and self.retry_queue_full:
                unit = self.c.execution_unit(*unit_key)
                self._wait_unit(unit, unit.completed_num + 1)  # the oldest in flight
                continue
            _check(self.c, status, what)
            unit = self.c._xu_by_id[NRTA_SEQ_GET_XU_ID(seq.value)]  # noqa: SLF001 - same package
            return Future(self, seq.value, ret, value, unit, what)

    def _wait_unit(self, unit: ExecutionUnit, num: int) -> None:
        env = self.sim.env
        with self.sim.run_ahead.up_to(-1):  # a wait for a condition: no thread runs ahead (A135)
            while unit.completed_num < num:
                if env.peek() == float("inf"):
                    raise DeadlockError(f"the host waits for request {num} on {unit.name}, which can never "
                                        f"complete", [f"{unit.name}: completed up to {unit.completed_num}, last "
                                                      f"accepted {unit.last_submitted_num}, {unit.depth} in flight",
                                                      *self.sim.collectives.stalled()])
                env.step()
        self.c._spend(self.c._costs.query_ns)  # noqa: SLF001 - the completion check the host makes
        self.c._observe(unit, num)  # noqa: SLF001 - the host has now seen it complete

    def write(self, tensor: Tensor, data: Any, offset: int = 0, *, core: int | None = None, queue: int = 0) -> Future:
        """``nrta_tensor_write`` of all of ``data`` (bytes-like or numpy) at ``offset``."""
        try:
            raw = np.ascontiguousarray(data).data if isinstance(data, np.ndarray) else memoryview(data)
        except TypeError:  # a list has no bytes until a dtype is chosen: say so, not "memoryview: ..."
            raise TypeError(f"write({tensor.name!r}): data is a {type(data).__name__}, not bytes-like nor a numpy "
                            "array; np.asarray(data, dtype=...) makes one with the element type you mean") from None
        view = raw.cast("B")
        lnc = tensor.vnc if core is None else core
        return self._schedule(self.c.nrta_tensor_write, (tensor, view, offset, view.nbytes, lnc, queue),
                              (lnc, TENSOR_OP, queue), f"nrta_tensor_write({tensor.name!r})")

    def read(self, tensor: Tensor, out: Any = None, offset: int = 0, size: int | None = None, *,
             core: int | None = None, queue: int = 0) -> Future:
        """``nrta_tensor_read`` into ``out`` (a new uint8 array by default); the future's value is ``out``."""
        nbytes = (tensor.size - offset) if size is None else size
        if out is None:  # an offset past the end leaves no bytes: the runtime refuses the call, saying why
            out = np.zeros(max(nbytes, 0), dtype=np.uint8)
        lnc = tensor.vnc if core is None else core
        return self._schedule(self.c.nrta_tensor_read, (out, tensor, offset, nbytes, lnc, queue),
                              (lnc, TENSOR_OP, queue), f"nrta_tensor_read({tensor.name!r})", value=out)

    def copy(self, src: Tensor, dst: Tensor, size: int | None = None, *, src_offset: int = 0, dst_offset: int = 0,
             core: int | None = None, queue: int = 0) -> Future:
        nbytes = src.size - src_offset if size is None else size
        lnc = src.vnc if core is None else core
        return self._schedule(self.c.nrta_tensor_copy, (src, src_offset, dst, dst_offset, nbytes, lnc, queue),
                              (lnc, TENSOR_OP, queue), "nrta_tensor_copy")

    def execute(self, model: Model, inputs: Mapping[str, Tensor] | TensorSet,
                outputs: Mapping[str, Tensor] | TensorSet) -> Future:
        """``nrta_execute_schedule`` on the model's core (queue 0)."""
        return self._schedule(self.c.nrta_execute_schedule,
                              (model, self.tensor_set(inputs), self.tensor_set(outputs), 0),
                              (model.vnc, COMPUTE, 0), f"nrta_execute_schedule({model.neff.name!r})")

    def comm_init(self, core: int, global_id: int, world_size: int) -> None:
        """``nrt_cc_global_comm_init``: logical core ``core`` is global rank ``global_id`` of ``world_size``."""
        _check(self.c, self.c.nrt_cc_global_comm_init(core, global_id, world_size), "nrt_cc_global_comm_init")

    def collective(self, cc_op: int, input: Tensor, output: Tensor, *, group: Sequence[int], rank: int,  # noqa: A002
                   dtype: int, op: int = nrt_op_type_t.NRT_OP_ADD, counts: Any = None, pairs: Any = None,
                   queue: int = 0) -> Future:
        """``nrta_cc_prepare`` + ``nrta_cc_schedule`` of one rank's part of a collective, on ``input``'s core.

        ``cc_op`` is an ``nrt_cc_op_type_t`` (``NRT_CC_ALLGATHERV`` / ``NRT_CC_ALLTOALLV`` take this rank's
        ``counts``, a :class:`~neuronsim.collectives.data.VariableCounts`; ``NRT_CC_PERMUTE`` may take
        ``pairs``); ``group`` lists the ranks' global ids (``comm_init``) in rank order. A refused prepare
        raises ``NrtError`` at once, saying why; the future completes when the collective does.
        """
        ctx = Ref()
        comm = nrt_cc_comm_t(replica_group=list(group), rank=rank, rank_n=len(group), vnc=input.vnc)
        status = self.c.nrta_cc_prepare(comm, nrt_tensor_list_t([input]), nrt_tensor_list_t([output]), dtype, op, cc_op,
                                        ctx, counts=counts, pairs=pairs)
        _check(self.c, status, "nrta_cc_prepare")
        return self._schedule(self.c.nrta_cc_schedule, (ctx, queue), (input.vnc, COLLECTIVES, queue),
                              f"nrta_cc_schedule({nrt_cc_op_type_t(cc_op).name})")

    def pending(self, core: int, xu: nrta_xu_t = nrta_xu_t.NRTA_XU_COMPUTE, queue: int = 0) -> int:
        """How many requests one queue holds: accepted and not yet completed (its depth, against
        ``runtime.queue_capacity``). Reads the simulator's state: no host time, no C call.

        Raises:
            ValueError: no such queue in this process (not a C call, so no status)."""
        units = self.c._xus  # noqa: SLF001 - same package
        unit = units.get((core, int(xu), queue))
        if unit is None:
            queues = sorted(q for (c, x, q) in units if c == core and x == int(xu))
            raise ValueError(f"pending({core}, {nrta_xu_t(int(xu)).name}, queue={queue}): this process has "
                             + (f"queues {queues[0]}..{queues[-1]} of that unit on core {core}" if queues else
                                f"no such unit on core {core}"))
        return unit.depth

    def sequence(self, core: int, xu: nrta_xu_t = nrta_xu_t.NRTA_XU_COMPUTE, queue: int = 0) -> int:
        """``nrta_get_sequence``: the full sequence id of the last request completed on one queue (its
        counter is 0 before any); raises ``NrtError`` for a queue that does not exist."""
        out: Ref[int] = Ref()
        _check(self.c, self.c.nrta_get_sequence(core, xu, queue, out), f"nrta_get_sequence({core}, {int(xu)}, {queue})")
        return int(out.value)

    def wait_all(self) -> None:
        """Advance simulated time until every request this process has accepted, on every queue, has
        completed (their statuses stay in their futures); raises ``DeadlockError`` if one never can."""
        for unit in self.c.execution_units():
            if unit.depth:
                self._wait_unit(unit, unit.last_submitted_num)
