"""The explicit async API, generation 3.0 (SDK >= 2.29): ``nrta_*`` with status cells and ``lnc_idx``.

``NrtRuntime`` is what ``Simulator.runtime(env=...)`` returns by default. Execution units per logical
core: Tensor Op x 2 (reads, writes and copies), Compute x 1, Collectives x 3. Every schedule call takes
an ``NRT_STATUS *ret`` cell, written when the request completes, before it is reported complete.
Completion events (SDK >= 2.30): ``nrta_event_register_seq_id_completion`` and
``nrta_event_register_xu_completion`` with eventfd-like objects (:class:`~neuronsim.sim.events.EventFd`).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from neuronsim import nrt as nrt_constants
from neuronsim.nrt import NRT_STATUS, Ref, nrta_xu_t
from neuronsim.api.mirror import _host_buffer, _mirror, _ref, _refuse
from neuronsim.runtime.objects import Model, Tensor
from neuronsim.runtime.requests import ReadRequest, WriteRequest
from neuronsim.api.base import RuntimeBase

if TYPE_CHECKING:
    from neuronsim.runtime.caller import ThreadCall
    from neuronsim.hw.system import CoreHW
    from neuronsim.hw.xu import ExecutionUnit

__all__ = ["NrtRuntime"]

S = NRT_STATUS
TENSOR_OP, COMPUTE, COLLECTIVES = (int(nrta_xu_t.NRTA_XU_TENSOR_OP), int(nrta_xu_t.NRTA_XU_COMPUTE),
                                   int(nrta_xu_t.NRTA_XU_COLLECTIVES))


class NrtRuntime(RuntimeBase):
    """A runtime process speaking the 3.0 explicit async API (the default)."""

    XU_TABLE = ((TENSOR_OP, "tensor_op"), (COMPUTE, "compute"), (COLLECTIVES, "collectives"))
    XU_ENUM = nrta_xu_t
    API = "3.0"
    nrt = nrt_constants  # this generation's constants: rt.nrt.NRTA_XU_COMPUTE == 1

    def _tensor_op(self, tensor: Any, lnc_idx: Any, queue: Any, what: str = "tensor"
                   ) -> tuple[Tensor, ExecutionUnit, CoreHW]:
        t = self._device_tensor(tensor, what)
        xu = self._xu(lnc_idx, TENSOR_OP, queue)
        core = self._cores[int(lnc_idx)]
        if core.device is not t.core.device:  # A12: lnc_idx must be a core of the tensor's device
            _refuse(f"lnc_idx {int(lnc_idx)} is on device {core.device.index}, {what} {t.name!r} on device "
                    f"{t.core.device.index} (A12)")
        return t, xu, core

    def _transfer(self, request_cls: type[WriteRequest] | type[ReadRequest], tensor: Any, buf: Any, offset: Any,
                  size: Any, lnc_idx: Any, queue: Any, ret: Any, req_sequence: Any, caller: ThreadCall | None
                  ) -> NRT_STATUS:
        """``nrta_tensor_write`` (``request_cls`` is :class:`WriteRequest`) or ``nrta_tensor_read`` on the Tensor Op
        unit. The hot path first (A123): when every argument check of ``_tensor_op`` and ``_range`` passes on
        plain ints, the request is built and scheduled inline; any other call takes the general path, which
        makes the same checks in their order and refuses with their reasons."""
        write = request_cls is WriteRequest
        if type(tensor) is Tensor and type(ret) is Ref and type(req_sequence) is Ref and type(lnc_idx) is int \
                and type(queue) is int and type(offset) is int and type(size) is int:
            xu = self._xus.get((lnc_idx, TENSOR_OP, queue))
            if xu is not None and not tensor.freed and tensor.owner is self and tensor.core_only is not None \
                    and offset >= 0 and size > 0 and offset + size <= tensor.size:
                core = self._cores[lnc_idx]
                if core.device is tensor.core.device:  # a well-formed call: the checks below all pass
                    node = self.numa_node if caller is None else caller.numa_node
                    host = None if (self.sim.timing_only and buf is None) else \
                        _host_buffer(buf, size, writable=not write)
                    request = request_cls(self.system, tensor, offset, size, self._transfer_engine(core, queue, write),
                                          host, ret, node is not None and core.device.numa_node != node)
                    return self._schedule(xu, request, req_sequence)
        ret_cell, seq_cell = _ref(ret, "ret"), _ref(req_sequence, "req_sequence")
        t, xu, core = self._tensor_op(tensor, lnc_idx, queue)
        if write:
            return self._write(t, core, xu, queue, buf, offset, size, ret_cell, seq_cell, caller)
        return self._read(t, core, xu, queue, buf, offset, size, ret_cell, seq_cell, caller)

    @_mirror("schedule_ns")
    def nrta_tensor_write(self, tensor: Any, buf: Any, offset: Any, size: Any, lnc_idx: Any, queue: Any,
                          ret: Any, req_sequence: Any, *, caller: ThreadCall | None = None) -> NRT_STATUS:
        """``nrta_tensor_write(nrt_tensor_t *tensor, const void *buf, uint64_t offset, uint64_t size, int lnc_idx,
        int queue, NRT_STATUS *exec_ret, nrta_seq_t *req_sequence)``."""
        return self._transfer(WriteRequest, tensor, buf, offset, size, lnc_idx, queue, ret, req_sequence, caller)

    @_mirror("schedule_ns")
    def nrta_tensor_read(self, buf: Any, tensor: Any, offset: Any, size: Any, lnc_idx: Any, queue: Any,
                         ret: Any, req_sequence: Any, *, caller: ThreadCall | None = None) -> NRT_STATUS:
        """``nrta_tensor_read(void *buf, nrt_tensor_t *tensor, uint64_t offset, uint64_t size, int lnc_idx,
        int queue, NRT_STATUS *exec_ret, nrta_seq_t *req_sequence)``."""
        return self._transfer(ReadRequest, tensor, buf, offset, size, lnc_idx, queue, ret, req_sequence, caller)

    @_mirror("schedule_ns")
    def nrta_tensor_copy(self, src: Any, src_offset: Any, dst: Any, dst_offset: Any, size: Any, lnc_idx: Any,
                         queue: Any, ret: Any, req_sequence: Any) -> NRT_STATUS:
        """``nrta_tensor_copy(nrt_tensor_t *src, uint64_t src_offset, nrt_tensor_t *dst, uint64_t dst_offset,
        uint64_t size, int lnc_idx, int queue, NRT_STATUS *exec_ret, nrta_seq_t *req_sequence)``: both tensors
        on the same logical core."""
        ret_cell, seq_cell = _ref(ret, "ret"), _ref(req_sequence, "req_sequence")
        s, xu, core = self._tensor_op(src, lnc_idx, queue, "src")
        return self._copy(s, core, xu, src_offset, dst, dst_offset, size, ret_cell, seq_cell)

    @_mirror("schedule_ns")
    def nrta_execute_schedule(self, model: Any, input: Any, output: Any, queue: Any, ret: Any,  # noqa: A002
                              req_sequence: Any) -> NRT_STATUS:
        """``nrta_execute_schedule(nrt_model_t *model, const nrt_tensor_set_t *input, nrt_tensor_set_t *output,
        int queue, NRT_STATUS *ret, nrta_seq_t *req_sequence)``: queue must be 0."""
        if type(model) is Model and type(ret) is Ref and type(req_sequence) is Ref and type(queue) is int \
                and model.owner is self and not model.unloaded:
            xu = self._xus.get((model.vnc, COMPUTE, queue))
            if xu is not None:  # a well-formed call (A123): the model and queue checks below pass
                return self._execute(model, xu, input, output, ret, req_sequence)
        ret_cell, seq_cell = _ref(ret, "ret"), _ref(req_sequence, "req_sequence")
        m = self._model(model)
        return self._execute(m, self._xu(m.vnc, COMPUTE, queue), input, output, ret_cell, seq_cell)

    @_mirror("schedule_ns")
    def nrta_cc_schedule(self, cc_ctx: Any, queue: Any, ret: Any, req_sequence: Any) -> NRT_STATUS:
        """``nrta_cc_schedule(nrt_cc_context_t **cc_ctx, int queue, NRT_STATUS *ret, nrta_seq_t *req_sequence)``:
        one of the rank's three Collectives queues."""
        ret_cell, seq_cell = _ref(ret, "ret"), _ref(req_sequence, "req_sequence")
        return self._cc_request(cc_ctx, queue, ret_cell, seq_cell, COLLECTIVES)

    @_mirror("query_ns")
    def nrta_event_register_seq_id_completion(self, seq: Any, fd: Any) -> NRT_STATUS:
        """``nrta_event_register_seq_id_completion(nrta_seq_t seq, int fd)``: signal ``fd`` when ``seq``
        completes (at once if it already has); ``fd`` -1 deregisters."""
        xu, num = self._decode(seq)
        efd = self._eventfd(fd)
        if efd is None:
            self._deregister_seq(xu, num)
        else:
            self._register_seq(xu, num, efd)
        return S.NRT_SUCCESS

    @_mirror("query_ns")
    def nrta_event_register_xu_completion(self, lnc: Any, xu: Any, queue: Any, fd: Any) -> NRT_STATUS:
        """``nrta_event_register_xu_completion(int lnc, nrta_xu_t xu, int queue, int fd)``: signal ``fd`` on
        every completion on that queue; a negative ``fd`` deregisters."""
        unit = self._xu(lnc, self._xu_type(xu), queue, "lnc")
        self._register_xu(unit, self._eventfd(fd))
        return S.NRT_SUCCESS
