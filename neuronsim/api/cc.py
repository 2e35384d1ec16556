"""Collective calls of a runtime process: the world, ``nrta_cc_prepare`` and the shared scheduling path
(``nrta_cc_schedule`` itself differs by API generation and lives with each)."""

from __future__ import annotations

from typing import Any

import numpy as np

from neuronsim.api.mirror import S, _int, _mirror, _ref, _refuse, _show
from neuronsim.collectives.data import ELEMENT, REDUCIBLE, VARIABLE, check_counts, check_pairs
from neuronsim.collectives.service import OPERATION_NAMES, CCContext
from neuronsim.nrt import NRT_OP_ADD, NRT_OP_MAX, NRT_OP_MIN, NRT_STATUS, Ref, nrt_cc_comm_t, nrt_tensor_list_t
from neuronsim.runtime.objects import Tensor
from neuronsim.runtime.process import RuntimeProcess
from neuronsim.runtime.requests import CollectiveRequest

__all__ = ["CollectivesMixin"]

_OPERATIONS: dict[int, str] = {int(op): name for op, name in OPERATION_NAMES.items()}  # by the C value


class CollectivesMixin(RuntimeProcess):
    """Collectives (a part of ``RuntimeBase``)."""

    @_mirror("tensor_ns")
    def nrt_cc_global_comm_init(self, vnc: Any, g_device_id: Any, g_device_count: Any) -> NRT_STATUS:
        """``nrt_cc_global_comm_init(uint32_t vnc, uint32_t g_device_id, uint32_t g_device_count)``: this
        process's core ``vnc`` is global rank ``g_device_id`` of ``g_device_count``."""
        return self._join_world(vnc, g_device_id, g_device_count)

    def _join_world(self, vnc: Any, g_device_id: Any, g_device_count: Any) -> NRT_STATUS:
        self._core(vnc)
        rank, count = _int(g_device_id, "g_device_id"), _int(g_device_count, "g_device_count")
        service = self.sim.collectives
        if count < 1 or not 0 <= rank < count:
            _refuse(f"g_device_id {rank} out of range 0..{count - 1} (g_device_count {count})")
        if service.world_size and count != service.world_size:
            _refuse(f"g_device_count {count}: the world already has {service.world_size} ranks")
        current = service.world.get(rank)
        if current is not None and current != (self, vnc):
            _refuse(f"global rank {rank} is already another core's")
        return service.register(self, _int(vnc), rank, count)

    @_mirror("tensor_ns")
    def nrt_build_global_comm(self, vnc: Any, g_device_id: Any, g_device_count: Any) -> NRT_STATUS:
        """``nrt_build_global_comm(int32_t vnc, uint32_t g_device_id, uint32_t g_device_count)``."""
        return self._join_world(vnc, g_device_id, g_device_count)

    @_mirror("tensor_ns")
    def nrt_cc_create_stream(self, stream_id: Any) -> NRT_STATUS:
        """``nrt_cc_create_stream(uint32_t stream_id)`` (SDK 2.29): accepted; streams are not modelled."""
        if _int(stream_id, "stream_id") < 0:
            _refuse(f"stream_id {stream_id} is negative")
        return S.NRT_SUCCESS

    def _tensor_list(self, tensors: Any, what: str) -> list[Tensor]:
        if isinstance(tensors, nrt_tensor_list_t):
            if not isinstance(tensors.tensors, (list, tuple)) or type(tensors.num_tensors) is not int or \
                    not 0 <= tensors.num_tensors <= len(tensors.tensors):
                _refuse(f"{what}: tensors must be a list and num_tensors within it")
            items = tensors.tensors[:tensors.num_tensors]
        else:
            items = tensors
        if not isinstance(items, (list, tuple)) or not items:
            _refuse(f"{what} is {_show(items)}, not a non-empty nrt_tensor_list_t")
        return [self._device_tensor(t, f"{what}[{i}]") for i, t in enumerate(items)]

    @_mirror("schedule_ns")
    def nrta_cc_prepare(self, comm: Any, input: Any, output: Any, dtype: Any, op: Any, cc_op: Any,  # noqa: A002
                        cc_ctx: Any, *, counts: Any = None, pairs: Any = None) -> NRT_STATUS:
        """``nrta_cc_prepare(nrt_cc_comm_t *comm, nrt_tensor_list_t *input, nrt_tensor_list_t *output,
        nrt_dtype_t dtype, nrt_op_type_t op, nrt_cc_op_type_t cc_op, nrt_cc_context_t **cc_ctx)``.

        neuronsim extensions (keyword-only, not in the C API): ``counts``, this rank's
        :class:`~neuronsim.collectives.data.VariableCounts` for ``NRT_CC_ALLGATHERV`` / ``NRT_CC_ALLTOALLV``
        (element counts and displacements; the tensors must hold every region, receive regions must not
        overlap); ``pairs``, a permute's ``(source, target)`` group ranks (each a source and a target at
        most once; the default is ``r -> r + 1``). A bad one is ``NRT_INVALID`` with the reason logged."""
        out = _ref(cc_ctx, "cc_ctx")
        if not isinstance(comm, nrt_cc_comm_t):
            _refuse(f"comm is {_show(comm)}, not an nrt_cc_comm_t")
        service = self.sim.collectives
        replica_group = comm.replica_group
        if replica_group is not None and (not isinstance(replica_group, (list, tuple)) or (
                not set(map(type, replica_group)) <= {int}  # the common case, checked at C speed
                and not all(type(g) is int or (isinstance(g, np.integer)) for g in replica_group))):
            _refuse(f"comm.replica_group is {_show(replica_group)}, not a list of global device ids (or None)")
        group = service.group_of(replica_group)
        rank, vnc, rank_n = _int(comm.rank, "comm.rank"), _int(comm.vnc, "comm.vnc"), _int(comm.rank_n, "comm.rank_n")
        if len(group) != rank_n:
            _refuse(f"comm.rank_n {rank_n} but the replica group has {len(group)} ranks")
        if not 0 <= rank < len(group):
            _refuse(f"comm.rank {rank} out of range 0..{len(group) - 1}")
        if len(set(group)) != len(group):
            _refuse(f"comm.replica_group {list(group)} names a device twice")
        if service.world.get(group[rank]) != (self, vnc):  # this rank must be ours (the others join later)
            _refuse(f"global device {group[rank]} (comm.rank {rank}) is not this process's core {vnc}: name it "
                    "with nrt_cc_global_comm_init first")
        self._unsupported_ranks(len(group), "nrta_cc_prepare", "comm.rank_n")
        operation = _OPERATIONS.get(_int(cc_op, "cc_op"))
        if operation is None:
            _refuse(f"cc_op {cc_op} is not an nrt_cc_op_type_t value")
        element = ELEMENT.get(_int(dtype, "dtype"))
        if element is None:
            _refuse(f"dtype {dtype} is not an nrt_dtype_t the collectives take")
        reduces = operation in ("allreduce", "reducescatter")
        if reduces and _int(op, "op") not in (NRT_OP_ADD, NRT_OP_MAX, NRT_OP_MIN):
            _refuse(f"op {op}: a {operation} takes NRT_OP_ADD, NRT_OP_MAX or NRT_OP_MIN")
        if reduces and _int(dtype) not in REDUCIBLE:
            _refuse(f"dtype {dtype} cannot be reduced")
        inputs, outputs = self._tensor_list(input, "input"), self._tensor_list(output, "output")
        n = len(group)
        if len(inputs) != len(outputs):
            _refuse(f"{len(inputs)} input tensors but {len(outputs)} outputs")
        if any(t.core is not self._cores[vnc] for t in inputs + outputs):
            _refuse(f"every tensor must be on comm.vnc {vnc}")
        itemsize = element[0]
        if (counts is not None) != (operation in VARIABLE) or (pairs is not None and operation != "permute"):
            _refuse(f"counts are for allgatherv / alltoallv and pairs for permute, not {operation}")
        try:
            if pairs is not None:
                pairs = check_pairs(pairs, n)
            if operation in VARIABLE:
                for i, o in zip(inputs, outputs, strict=True):
                    if i.size % itemsize or o.size % itemsize:
                        _refuse(f"{i.name!r} or {o.name!r} is not whole {itemsize}-byte elements")
                    check_counts(operation, counts, rank, n, i.size // itemsize, o.size // itemsize)
        except ValueError as exc:  # the reason a layout is refused
            _refuse(str(exc))
        if operation in VARIABLE:
            size = outputs[0].size if operation == "allgatherv" else inputs[0].size
            out.value = CCContext(group, rank, vnc, inputs, outputs, _int(dtype), _int(op, "op"), operation, size,
                                  self, counts=counts)
            return S.NRT_SUCCESS
        for i, o in zip(inputs, outputs, strict=True):
            expected = {"allreduce": i.size, "allgather": i.size * n, "reducescatter": i.size // n,
                        "alltoall": i.size, "permute": i.size}[operation]
            if o.size != expected:
                _refuse(f"{operation} of {n} ranks: output {o.name!r} has {o.size} bytes, needs {expected} "
                        f"(input {i.name!r} has {i.size})")
            if i.size % itemsize or (operation in ("reducescatter", "alltoall") and i.size % (n * itemsize)):
                _refuse(f"input {i.name!r} of {i.size} bytes does not split into whole {itemsize}-byte elements "
                        f"per rank")
        size = outputs[0].size if operation == "allgather" else inputs[0].size
        out.value = CCContext(group, rank, vnc, inputs, outputs, _int(dtype), _int(op, "op"), operation, size, self,
                              pairs=pairs)
        return S.NRT_SUCCESS

    def _cc_request(self, cc_ctx: Any, queue: Any, ret_cell: Any, seq_cell: Ref, xu_type: int) -> NRT_STATUS:
        cell = cc_ctx if isinstance(cc_ctx, Ref) else None
        ctx = cell.value if cell is not None else cc_ctx
        if not isinstance(ctx, CCContext) or ctx.used or ctx.owner is not self:
            _refuse(f"cc_ctx is {_show(ctx)}, not an nrt_cc_context_t" if not isinstance(ctx, CCContext) else
                    "cc_ctx was already scheduled (a context is used once)" if ctx.used else
                    "cc_ctx belongs to another runtime process")
        xu = self._xu(ctx.vnc, xu_type, queue)
        status = self._schedule(xu, CollectiveRequest(ctx, self._cores[ctx.vnc], self.sim.collectives, ret_cell),
                                seq_cell)
        if status == S.NRT_SUCCESS:
            ctx.used = True  # "freed in the schedule thread post CC op execution"
        return status
