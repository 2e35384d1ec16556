"""Collective calls of a runtime process: the world, ``nrta_cc_prepare`` and the shared scheduling path
(``nrta_cc_schedule`` itself differs by API generation and lives with each)."""

from __future__ import annotations

from typing import Any

from neuronsim.collectives.data import ELEMENT, REDUCIBLE
from neuronsim.collectives.service import OPERATION_NAMES, CCContext
from neuronsim.nrt import (
    NRT_OP_ADD,
    NRT_OP_MAX,
    NRT_OP_MIN,
    NRT_STATUS,
    Ref,
    nrt_cc_comm_t,
    nrt_tensor_list_t,
)
from neuronsim.runtime.mirror import S, _int, _mirror, _ref, _Status
from neuronsim.runtime.objects import Tensor
from neuronsim.runtime.requests import CollectiveRequest

__all__ = ["CollectivesMixin"]


class CollectivesMixin:
    """Collectives (mixed into ``RuntimeBase``)."""


    @_mirror("tensor_ns")
    def nrt_cc_global_comm_init(self, vnc: Any, g_device_id: Any, g_device_count: Any) -> NRT_STATUS:
        """``nrt_cc_global_comm_init(uint32_t vnc, uint32_t g_device_id, uint32_t g_device_count)``: this
        process's core ``vnc`` is global rank ``g_device_id`` of ``g_device_count``."""
        self._core(vnc)
        return self.sim.collectives.register(self, _int(vnc), _int(g_device_id), _int(g_device_count))

    @_mirror("tensor_ns")
    def nrt_build_global_comm(self, vnc: Any, g_device_id: Any, g_device_count: Any) -> NRT_STATUS:
        """``nrt_build_global_comm(int32_t vnc, uint32_t g_device_id, uint32_t g_device_count)``."""
        self._core(vnc)
        return self.sim.collectives.register(self, _int(vnc), _int(g_device_id), _int(g_device_count))

    @_mirror("tensor_ns")
    def nrt_cc_create_stream(self, stream_id: Any) -> NRT_STATUS:
        """``nrt_cc_create_stream(uint32_t stream_id)`` (SDK 2.29): accepted; streams are not modelled."""
        return S.NRT_SUCCESS if _int(stream_id) >= 0 else S.NRT_INVALID

    def _tensor_list(self, tensors: Any) -> list[Tensor]:
        items = tensors.tensors[:tensors.num_tensors] if isinstance(tensors, nrt_tensor_list_t) else tensors
        if not isinstance(items, (list, tuple)) or not items:
            raise _Status(S.NRT_INVALID)
        return [self._device_tensor(t) for t in items]

    @_mirror("schedule_ns")
    def nrta_cc_prepare(self, comm: Any, input: Any, output: Any, dtype: Any, op: Any, cc_op: Any,  # noqa: A002
                        cc_ctx: Any) -> NRT_STATUS:
        """``nrta_cc_prepare(nrt_cc_comm_t *comm, nrt_tensor_list_t *input, nrt_tensor_list_t *output,
        nrt_dtype_t dtype, nrt_op_type_t op, nrt_cc_op_type_t cc_op, nrt_cc_context_t **cc_ctx)``."""
        out = _ref(cc_ctx)
        if not isinstance(comm, nrt_cc_comm_t):
            return S.NRT_INVALID
        service = self.sim.collectives
        group = service.group_of(comm.replica_group)
        rank, vnc = _int(comm.rank), _int(comm.vnc)
        if len(group) != _int(comm.rank_n) or not 0 <= rank < len(group) or len(set(group)) != len(group):
            return S.NRT_INVALID
        if service.world.get(group[rank]) != (self, vnc):
            return S.NRT_INVALID  # this rank must be ours, named by nrt_cc_global_comm_init (the others join later)
        operation = OPERATION_NAMES.get(_int(cc_op))
        element = ELEMENT.get(_int(dtype))
        if operation is None or element is None:
            return S.NRT_INVALID
        reduces = operation in ("allreduce", "reducescatter")
        if reduces and (_int(op) not in (NRT_OP_ADD, NRT_OP_MAX, NRT_OP_MIN) or _int(dtype) not in REDUCIBLE):
            return S.NRT_INVALID
        inputs, outputs = self._tensor_list(input), self._tensor_list(output)
        n = len(group)
        if len(inputs) != len(outputs) or any(t.core is not self._cores[vnc] for t in inputs + outputs):
            return S.NRT_INVALID
        itemsize = element[0]
        for i, o in zip(inputs, outputs, strict=True):
            expected = {"allreduce": i.size, "allgather": i.size * n, "reducescatter": i.size // n,
                        "alltoall": i.size, "permute": i.size}[operation]
            if o.size != expected or i.size % itemsize or (operation in ("reducescatter", "alltoall") and
                                                           i.size % (n * itemsize)):
                return S.NRT_INVALID
        size = outputs[0].size if operation == "allgather" else inputs[0].size
        out.value = CCContext(group, rank, vnc, inputs, outputs, _int(dtype), _int(op), operation, size, self)
        return S.NRT_SUCCESS

    def _cc_request(self, cc_ctx: Any, queue: Any, ret_cell: Any, seq_cell: Ref, xu_type: int) -> NRT_STATUS:
        cell = cc_ctx if isinstance(cc_ctx, Ref) else None
        ctx = cell.value if cell is not None else cc_ctx
        if not isinstance(ctx, CCContext) or ctx.used or ctx.owner is not self:
            return S.NRT_INVALID
        xu = self._xu(ctx.vnc, xu_type, queue)
        status = self._schedule(xu, CollectiveRequest(ctx, self._cores[ctx.vnc], self.sim.collectives, ret_cell),
                                seq_cell)
        if status == S.NRT_SUCCESS:
            ctx.used = True  # "freed in the schedule thread post CC op execution"
        return status

