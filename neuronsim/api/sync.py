"""The synchronous API of ``nrt.h`` and the legacy implicit-async mode.

``nrt_execute`` / ``nrt_execute_repeat`` block until done (on the Compute queue); ``nrt_tensor_read`` /
``nrt_tensor_write`` / ``nrt_tensor_copy`` and the batch calls block on internal queues of their own (DMA
queues separate from the ``nrta_*`` Tensor Op queues since SDK 2.30). With
``NEURON_RT_ASYNC_EXEC_MAX_INFLIGHT_REQUESTS`` > 0, ``nrt_execute`` returns at once and reports through
``nrt_register_async_exec_callback`` (A23). The waits themselves are the process's
(:mod:`neuronsim.runtime.process`): the direct-mode host steps the simulation, a process-mode thread is
handed the request.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from neuronsim.api.mirror import S, _host_buffer, _int, _mirror, _refuse, _show
from neuronsim.hw.xu import ExecutionUnit
from neuronsim.nrt import NRT_STATUS, Ref, nrt_tensor_batch_op_t, nrt_tensor_batch_t
from neuronsim.runtime.process import RuntimeProcess
from neuronsim.runtime.requests import CopyRequest, ExecuteRequest, ReadRequest, WriteRequest

if TYPE_CHECKING:
    from neuronsim.runtime.caller import ThreadCall

__all__ = ["SyncMixin"]


class SyncMixin(RuntimeProcess):
    """The blocking calls and implicit async of a runtime process (a part of ``RuntimeBase``)."""

    @_mirror("schedule_ns")
    def nrt_execute(self, model: Any, input_set: Any, output_set: Any, *,
                    caller: ThreadCall | None = None) -> NRT_STATUS:
        """``nrt_execute(nrt_model_t *model, const nrt_tensor_set_t *input_set, nrt_tensor_set_t *output_set)``:
        blocks until the execution completes; its status (``NRT_TIMEOUT`` past NEURON_RT_EXEC_TIMEOUT)."""
        m = self._model(model)
        xu = self._xu(m.vnc, self._compute_type, 0)
        inputs = self._io(m.neff.input_sizes, input_set)
        outputs = self._io(m.neff.output_sizes, output_set, "output")
        request = ExecuteRequest(m, inputs, outputs, None, run_kernel=not self.sim.timing_only)
        if m.cc_count:
            request.service = self.sim.collectives
        if self.async_depth:
            return self._execute_async(m, request)
        return self._blocking(xu, request, caller)

    @_mirror("tensor_ns")
    def nrt_register_async_exec_callback(self, callback: Any, params: Any) -> NRT_STATUS:
        """``nrt_register_async_exec_callback(NRT_ASYNC_EXEC_STATUS_CALLBACK callback, void *params)``: called as
        ``callback(params, model_id, vnc, job_id, status)`` when an implicit-async execution completes; a new
        registration replaces the previous one."""
        if callback is not None and not callable(callback):
            _refuse(f"callback is {_show(callback)}, not callable")
        self._async_callback = (callback, params) if callback is not None else None
        return S.NRT_SUCCESS

    @_mirror("tensor_ns")
    def nrt_async_drain_queued_execs(self, vnc: Any, *, caller: ThreadCall | None = None) -> NRT_STATUS:
        """``nrt_async_drain_queued_execs(int32_t vnc)``: blocks until the queued executions of ``vnc`` are done."""
        self._core(vnc)
        unit = self._sync_units.get((_int(vnc, "vnc"), "exec"))
        if unit is not None and unit.last_submitted_num:
            self._wait_for(unit, unit.last_submitted_num, defer=True, caller=caller)
        return S.NRT_SUCCESS

    @_mirror("schedule_ns")
    def nrt_execute_repeat(self, model: Any, input_set: Any, output_set: Any, repeat_count: Any, *,
                           caller: ThreadCall | None = None) -> NRT_STATUS:
        """``nrt_execute_repeat(model, input_set, output_set, int repeat_count)``: ``repeat_count`` executions,
        the outputs of one the inputs of the next (by position; the NEFF's outputs must match its inputs)."""
        m = self._model(model)
        count = _int(repeat_count, "repeat_count")
        ins, outs = m.neff.inputs, m.neff.outputs
        if count < 1:
            _refuse(f"repeat_count {count} must be >= 1")
        if len(ins) != len(outs) or any(i.size_bytes != o.size_bytes for i, o in zip(ins, outs, strict=True)):
            _refuse(f"model {m.neff.name!r}: its outputs do not match its inputs by position "
                    "(nrt_execute_repeat requires a specially compiled NEFF)")
        inputs = self._io(m.neff.input_sizes, input_set)
        outputs = self._io(m.neff.output_sizes, output_set, "output")
        xu = self._xu(m.vnc, self._compute_type, 0)
        for iteration in range(count):
            request = ExecuteRequest(m, inputs, outputs, None, run_kernel=not self.sim.timing_only)
            status = self._blocking(xu, request, caller)
            if status != S.NRT_SUCCESS:
                return status
            if iteration + 1 < count:
                for i_spec, o_spec in zip(ins, outs, strict=True):
                    src, dst = outputs[o_spec.name], inputs[i_spec.name]
                    if src.alloc.storage is not None and dst.alloc.storage is not None:
                        dst.alloc.storage.write(dst.offset, src.alloc.storage.read_bytes(src.offset, src.size))
        return S.NRT_SUCCESS

    @_mirror("tensor_ns")
    def nrt_tensor_write(self, tensor: Any, buf: Any, offset: Any, size: Any, *,
                         caller: ThreadCall | None = None) -> NRT_STATUS:
        """``nrt_tensor_write(nrt_tensor_t *tensor, const void *buf, size_t offset, size_t size)``: blocking."""
        t = self._tensor(tensor)
        off, n = self._range(t, offset, size)
        if self._async_pending:
            self._wait_pending_executions(t.alloc, caller)  # "block while tensors are in use by pending executions"
        return self._sync_write(t, buf, off, n, caller)

    @_mirror("tensor_ns")
    def nrt_tensor_read(self, tensor: Any, buf: Any, offset: Any, size: Any, *,
                        caller: ThreadCall | None = None) -> NRT_STATUS:
        """``nrt_tensor_read(const nrt_tensor_t *tensor, void *buf, size_t offset, size_t size)``: blocking."""
        t = self._tensor(tensor)
        off, n = self._range(t, offset, size)
        if self._async_pending:
            self._wait_pending_executions(None, caller)  # "reading tensor data ... blocks until all pending executions complete"
        return self._sync_read(t, buf, off, n, caller)

    @_mirror("tensor_ns")
    def nrt_tensor_copy(self, src: Any, src_offset: Any, dst: Any, dst_offset: Any, size: Any, *,
                        caller: ThreadCall | None = None) -> NRT_STATUS:
        """``nrt_tensor_copy(const nrt_tensor_t *src, size_t src_offset, nrt_tensor_t *dst, size_t dst_offset,
        size_t size)``: blocking; two device tensors must be on the same NeuronCore."""
        s, d = self._tensor(src, "src"), self._tensor(dst, "dst")
        n = _int(size, "size")
        so, _ = self._range(s, src_offset, n, "src_offset")
        do, _ = self._range(d, dst_offset, n, "dst_offset")
        if s.on_device and d.on_device:
            if s.core is not d.core:  # "they must both be allocated on the SAME Neuron Core"
                _refuse(f"src {s.name!r} is on nc{s.vnc} and dst {d.name!r} on nc{d.vnc}: both must be on the same "
                        "core")
            unit = self._sync_unit(s.vnc, "copy")
            return self._blocking(unit, CopyRequest(self.system, s.core, s, so, d, do, n, None), caller)
        if not s.on_device and not d.on_device:
            self._host_copy(s, so, d, do, n)
            return S.NRT_SUCCESS
        if d.on_device:  # host -> device
            data = s.alloc.storage.read_bytes(s.offset + so, n) if s.alloc.storage is not None else None
            return self._sync_write(d, data, do, n, caller)
        target = bytearray(n)
        status = self._sync_read(s, target, so, n, caller)
        if status == S.NRT_SUCCESS and d.alloc.storage is not None:
            d.alloc.storage.write(d.offset + do, bytes(target))
        return status

    def _batches(self, batches: Any, num_batches: Any, write: bool, caller: ThreadCall | None = None) -> NRT_STATUS:
        count = _int(num_batches, "num_batches")
        if not isinstance(batches, (list, tuple)):
            _refuse(f"batches is {_show(batches)}, not a list of nrt_tensor_batch_t")
        if count < 0 or count > len(batches):
            _refuse(f"num_batches {count} out of range 0..{len(batches)} (the batches given)")
        pending: list[tuple[ExecutionUnit, Any]] = []
        checked = []
        for i, batch in enumerate(batches[:count]):
            if not isinstance(batch, nrt_tensor_batch_t):
                _refuse(f"batches[{i}] is {_show(batch)}, not an nrt_tensor_batch_t")
            t = self._tensor(batch.tensor, f"batches[{i}].tensor")
            ops = batch.ops
            if not isinstance(ops, (list, tuple)) or type(batch.num_ops) is not int or \
                    not 0 <= batch.num_ops <= len(ops):
                _refuse(f"batches[{i}]: ops must be a list of nrt_tensor_batch_op_t and num_ops within it")
            for j, op in enumerate(ops[:batch.num_ops]):
                if not isinstance(op, nrt_tensor_batch_op_t):
                    _refuse(f"batches[{i}].ops[{j}] is {_show(op)}, not an nrt_tensor_batch_op_t")
                off, n = self._range(t, op.offset, op.size, f"batches[{i}].ops[{j}].offset")
                checked.append((t, off, n, op.buffer))
        for t, off, n, buffer in checked:  # every op was valid: now run them, all queued before any wait
            if not t.on_device:
                status = (self._sync_write(t, buffer, off, n, caller) if write else
                          self._sync_read(t, buffer, off, n, caller))
                if status != S.NRT_SUCCESS:
                    return status
                continue
            host = None if (self.sim.timing_only and buffer is None) else _host_buffer(buffer, n, writable=not write)
            kind = "write" if write else "read"
            unit = self._sync_unit(t.vnc, kind)
            engine = self._transfer_engine(t.core, 0 if write else 1, write)
            cls = WriteRequest if write else ReadRequest
            request = cls(self.system, t, off, n, engine, host, None, self._remote(t.core, caller))
            while unit.full:
                self._wait_for(unit, unit.completed_num + 1, caller=caller)
            self._schedule(unit, request, Ref())
            pending.append((unit, request))
        worst = S.NRT_SUCCESS
        for unit, request in pending:
            self._wait_for(unit, request.seq_num, caller=caller)
            if request.status != S.NRT_SUCCESS and worst == S.NRT_SUCCESS:
                worst = NRT_STATUS(request.status)
        return worst

    @_mirror("tensor_ns")
    def nrt_tensor_write_batch(self, batches: Any, num_batches: Any, unsafe: Any, *,
                               caller: ThreadCall | None = None) -> NRT_STATUS:
        """``nrt_tensor_write_batch(const nrt_tensor_batch_t *batches, uint64_t num_batches, bool unsafe)``:
        every op queued, then waited for; the first failure, if any."""
        return self._batches(batches, num_batches, True, caller)

    @_mirror("tensor_ns")
    def nrt_tensor_read_batch(self, batches: Any, num_batches: Any, unsafe: Any, *,
                              caller: ThreadCall | None = None) -> NRT_STATUS:
        """``nrt_tensor_read_batch(const nrt_tensor_batch_t *batches, uint64_t num_batches, bool unsafe)``."""
        return self._batches(batches, num_batches, False, caller)
