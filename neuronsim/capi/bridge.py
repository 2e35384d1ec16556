"""The Python side of ``libnrt.so``: each exported C function, over the Python mirror.

:func:`install` is run by the library's embedded interpreter on the first call. It defines one
``extern "Python"`` function per C entry point. The process gets one simulator, made from the
environment when it is first needed:

* ``NEURONSIM_INSTANCE`` (a preset or topology file, default ``trn1.32xlarge``), ``NEURONSIM_LNC``,
  ``NEURONSIM_SEED`` (default 0), ``NEURONSIM_FAULTS`` (a fault plan file), ``NEURONSIM_TRACE``
  (a Chrome trace written at ``nrt_close``);
* the real runtime's own variables (``NEURON_RT_VISIBLE_CORES``, ``NEURON_RT_EXEC_TIMEOUT``, ...),
  read at ``nrt_init`` as the real runtime reads them.

C pointers to runtime objects (models, tensors, tensor sets, collective contexts) are opaque handles:
addresses the library hands out and looks up again, never dereferenced; an unknown or NULL one
reaches the mirror as an invalid argument and gets the status the Python mirror returns. Out
parameters are written through their pointers; a request's ``NRT_STATUS *`` is written when the
request completes, as the runtime does. Nothing raised in Python crosses into C: an unexpected error
prints one line on standard error and returns ``NRT_FAILURE``.

The state behind them is :class:`neuronsim.capi.library.Library`; the eventfds of the C program are
:mod:`neuronsim.capi.eventfds`, the sys-trace and profile recorder :mod:`neuronsim.capi.systrace`, and the
profile and sys-trace entry points themselves (``nrt_profile_*``, ``nrt_sys_trace_*``)
:mod:`neuronsim.capi.tracing_entry_points`.
"""

from __future__ import annotations

import logging
from typing import Any

from neuronsim.capi.build import exported
from neuronsim.capi.eventfds import adopt_completion_eventfd, own_eventfd, wait_fds
from neuronsim.capi.library import BAD, Library
from neuronsim.capi.tracing_entry_points import install_tracing
from neuronsim.nrt import NRT_STATUS, Ref, status_as_str
from neuronsim.runtime.objects import Model

log = logging.getLogger("neuronsim.capi")

__all__ = ["install", "neff_from_bytes", "VERSION"]

S = NRT_STATUS
VERSION = (2, 31, 0, 0)  # the runtime the 3.0 async ABI shipped with (A30)


def neff_from_bytes(data: bytes) -> Any:
    """A Neff from the bytes ``nrt_load`` takes: a compiled NEFF file or a neuronsim NEFF description
    (JSON or YAML, :class:`neuronsim.workload.spec.NeffDescription`); see
    :func:`neuronsim.runtime.neff_file.neff_from_bytes`."""
    from neuronsim.runtime.neff_file import neff_from_bytes as read

    return read(data)


def install(ffi: Any, lib: Any, api: str = "3.0") -> None:  # noqa: C901 - one short function per C entry point
    """Define the library's ``extern "Python"`` functions for API generation ``api`` (called once, by the
    embedded interpreter)."""
    state = Library(ffi, lib, api)
    export = state.export


    def rt() -> Any:
        return state.runtime()

    def null(call: str, reason: str) -> int:
        """A NULL pointer (or a struct size too small) where the call needs one it can write: ``NRT_INVALID``,
        with the runtime's ERROR line saying which (as the mirror's own refusals do)."""
        rt()._log.refused(call, reason, S.NRT_INVALID)  # noqa: SLF001 - the process's log
        return int(S.NRT_INVALID)

    o = state.obj

    @export(error=ffi.NULL)
    def nrt_get_status_as_str(status: int) -> Any:
        text = state.strings.get(int(status))
        if text is None:
            text = state.strings[int(status)] = ffi.new("char[]", status_as_str(int(status)).encode())
        return text

    @export()
    def nrt_get_instance_info(info: Any, length: int) -> int:
        if info == ffi.NULL or length < ffi.sizeof("nrt_instance_info_t"):
            return null("nrt_get_instance_info", "info is NULL" if info == ffi.NULL else
                        f"instance_info_len {int(length)} is less than sizeof(nrt_instance_info_t), "
                        f"{ffi.sizeof('nrt_instance_info_t')}")
        cell = Ref()
        status = rt().nrt_get_instance_info(cell, int(length))
        if status == S.NRT_SUCCESS:
            data = cell.value
            info.family, info.size = int(data["family"]), int(data["size"])
            info.arch_name = str(data["arch_name"]).encode()[:15]
            info.device_revision = str(data["device_revision"]).encode()[:7]
        return int(status)

    @export()
    def nrt_init(framework: int, fw_version: Any, fal_version: Any) -> int:
        return int(rt().nrt_init(int(framework), state.text(fw_version), state.text(fal_version)))

    @export(error=None)
    def nrt_close() -> None:
        if state.rt is not None:
            state.rt.nrt_close()
            state.write_trace()

    @export()
    def nrt_load(neff_bytes: Any, size: int, vnc: int, vnc_count: int, model: Any) -> int:
        runtime = rt()
        if model == ffi.NULL:
            return null("nrt_load", "model is NULL")
        cell = Ref()
        status = runtime.nrt_load(state.neff(neff_bytes, size), int(vnc), int(vnc_count), cell)
        return state.out_handle(model, "nrt_model_t *", status, cell.value)

    @export()
    def nrt_load_collectives(neff_bytes: Any, size: int, vnc: int, vnc_count: int, ctx_device_id: int,
                             ctx_device_count: int, model: Any) -> int:
        runtime = rt()
        if model == ffi.NULL:
            return null("nrt_load_collectives", "model is NULL")
        cell = Ref()
        status = runtime.nrt_load_collectives(state.neff(neff_bytes, size), int(vnc), int(vnc_count), int(ctx_device_id),
                                              int(ctx_device_count), cell)
        return state.out_handle(model, "nrt_model_t *", status, cell.value)

    @export()
    def nrt_unload(model: Any) -> int:
        return int(rt().nrt_unload(o(model)))

    def count(call: str, *args: Any) -> int:
        out = args[-1]
        if out == ffi.NULL:
            return null(call, "vnc_count is NULL")
        cell = Ref()
        status = getattr(rt(), call)(*args[:-1], cell)
        if status == S.NRT_SUCCESS:
            out[0] = int(cell.value)
        return int(status)

    @export()
    def nrt_get_model_nc_count(model: Any, vnc_count: Any) -> int:
        return count("nrt_get_model_nc_count", o(model), vnc_count)

    @export()
    def nrt_get_model_vnc_count(model: Any, vnc_count: Any) -> int:
        return count("nrt_get_model_vnc_count", o(model), vnc_count)

    @export()
    def nrt_get_total_nc_count(vnc_count: Any) -> int:
        return count("nrt_get_total_nc_count", vnc_count)

    @export()
    def nrt_get_total_vnc_count(vnc_count: Any) -> int:
        return count("nrt_get_total_vnc_count", vnc_count)

    @export()
    def nrt_get_visible_nc_count(vnc_count: Any) -> int:
        return count("nrt_get_visible_nc_count", vnc_count)

    @export()
    def nrt_get_visible_vnc_count(vnc_count: Any) -> int:
        return count("nrt_get_visible_vnc_count", vnc_count)

    @export()
    def nrt_allocate_tensor_set(result: Any) -> int:
        if result == ffi.NULL:
            return null("nrt_allocate_tensor_set", "result is NULL")
        cell = Ref()
        return state.out_handle(result, "nrt_tensor_set_t *", rt().nrt_allocate_tensor_set(cell), cell.value)

    @export(error=None)
    def nrt_destroy_tensor_set(tensor_set: Any) -> None:
        if tensor_set == ffi.NULL or tensor_set[0] == ffi.NULL:
            return  # free(NULL): nothing to destroy, nothing logged (A136)
        if rt().nrt_destroy_tensor_set(Ref(o(tensor_set[0]))) == S.NRT_SUCCESS:
            tensor_set[0] = ffi.NULL

    @export()
    def nrt_add_tensor_to_tensor_set(tensor_set: Any, name: Any, tensor: Any) -> int:
        return int(rt().nrt_add_tensor_to_tensor_set(o(tensor_set), state.text(name), o(tensor)))

    @export()
    def nrt_get_tensor_from_tensor_set(tensor_set: Any, name: Any, tensor: Any) -> int:
        if tensor == ffi.NULL:
            return null("nrt_get_tensor_from_tensor_set", "tensor is NULL")
        cell = Ref()
        status = rt().nrt_get_tensor_from_tensor_set(o(tensor_set), state.text(name), cell)
        return state.out_handle(tensor, "nrt_tensor_t *", status, cell.value)

    @export()
    def nrt_execute(model: Any, inputs: Any, outputs: Any) -> int:
        return int(rt().nrt_execute(o(model), o(inputs), o(outputs)))

    @export()
    def nrt_execute_repeat(model: Any, inputs: Any, outputs: Any, repeat_count: int) -> int:
        return int(rt().nrt_execute_repeat(o(model), o(inputs), o(outputs), int(repeat_count)))

    @export()
    def nrt_build_global_comm(vnc: int, g_device_id: int, g_device_count: int) -> int:
        return int(rt().nrt_build_global_comm(int(vnc), int(g_device_id), int(g_device_count)))

    @export()
    def nrt_cc_global_comm_init(vnc: int, g_device_id: int, g_device_count: int) -> int:
        return int(rt().nrt_cc_global_comm_init(int(vnc), int(g_device_id), int(g_device_count)))

    @export()
    def nrt_cc_create_stream(stream_id: int) -> int:
        return int(rt().nrt_cc_create_stream(int(stream_id)))

    @export()
    def nrt_tensor_allocate(placement: int, vnc: int, size: int, name: Any, tensor: Any) -> int:
        if tensor == ffi.NULL:
            return null("nrt_tensor_allocate", "tensor is NULL")
        cell = Ref()
        status = rt().nrt_tensor_allocate(int(placement), int(vnc), int(size), state.text(name) or "", cell)
        return state.out_handle(tensor, "nrt_tensor_t *", status, cell.value)

    @export(error=None)
    def nrt_tensor_free(tensor: Any) -> None:
        if tensor == ffi.NULL or tensor[0] == ffi.NULL:
            return  # free(NULL): a cleanup path's already-freed or never-allocated tensor; nothing logged (A136)
        if rt().nrt_tensor_free(Ref(o(tensor[0]))) == S.NRT_SUCCESS:
            tensor[0] = ffi.NULL

    @export()
    def nrt_tensor_read(tensor: Any, buf: Any, offset: int, size: int) -> int:
        return int(rt().nrt_tensor_read(o(tensor), state.buffer(buf, size), int(offset), int(size)))

    @export()
    def nrt_tensor_write(tensor: Any, buf: Any, offset: int, size: int) -> int:
        return int(rt().nrt_tensor_write(o(tensor), state.buffer(buf, size), int(offset), int(size)))

    @export()
    def nrt_tensor_copy(src: Any, src_offset: int, dst: Any, dst_offset: int, size: int) -> int:
        return int(rt().nrt_tensor_copy(o(src), int(src_offset), o(dst), int(dst_offset), int(size)))

    @export(error=0)
    def nrt_tensor_get_size(tensor: Any) -> int:
        return int(rt().nrt_tensor_get_size(o(tensor)))

    @export()
    def nrt_tensor_memset(tensor: Any, offset: int, value: int, size: int) -> int:
        return int(rt().nrt_tensor_memset(o(tensor), int(offset), int(value), int(size)))

    @export()
    def nrt_tensor_allocate_slice(source: Any, offset: int, size: int, name: Any, tensor: Any) -> int:
        if tensor == ffi.NULL:
            return null("nrt_tensor_allocate_slice", "tensor is NULL")
        cell = Ref()
        status = rt().nrt_tensor_allocate_slice(o(source), int(offset), int(size), state.text(name) or "", cell)
        return state.out_handle(tensor, "nrt_tensor_t *", status, cell.value)

    @export()
    def nrt_tensor_get_device_allocation_info(tensor: Any, info: Any) -> int:
        if info == ffi.NULL:
            return null("nrt_tensor_get_device_allocation_info", "info is NULL")
        cell = Ref()
        status = rt().nrt_tensor_get_device_allocation_info(o(tensor), cell)
        if status == S.NRT_SUCCESS:
            info.physical_address = int(cell.value["physical_address"]) & (2**64 - 1)
            info.size, info.hbm_index = int(cell.value["size"]), int(cell.value["hbm_index"])
        return int(status)

    @export()
    def nrt_tensor_read_batch(ptr: Any, count: int, unsafe: bool) -> int:
        return int(rt().nrt_tensor_read_batch(state.batches(ptr, count), int(count), bool(unsafe)))

    @export()
    def nrt_tensor_write_batch(ptr: Any, count: int, unsafe: bool) -> int:
        return int(rt().nrt_tensor_write_batch(state.batches(ptr, count), int(count), bool(unsafe)))

    @export()
    def nrt_get_model_tensor_info(model: Any, tensor_info: Any) -> int:
        if tensor_info == ffi.NULL:
            return null("nrt_get_model_tensor_info", "tensor_info is NULL")
        cell = Ref()
        status = rt().nrt_get_model_tensor_info(o(model), cell)
        if status != S.NRT_SUCCESS:
            return int(status)
        tensor_info[0] = state.tensor_info_array(cell.value)
        return int(S.NRT_SUCCESS)

    @export()
    def nrt_free_model_tensor_info(tensor_info: Any) -> int:
        held = state.tensor_infos.pop(int(ffi.cast("uintptr_t", tensor_info)), None)
        return int(rt().nrt_free_model_tensor_info(held[1] if held else None))

    @export()
    def nrt_register_async_exec_callback(callback: Any, params: Any) -> int:
        if callback == ffi.NULL:
            return int(rt().nrt_register_async_exec_callback(None, None))

        def call(user: Any, model_id: int, vnc: int, job_id: int, status: int) -> None:
            callback(user, int(model_id), int(vnc), int(job_id), int(status))

        return int(rt().nrt_register_async_exec_callback(call, params))

    @export()
    def nrt_async_drain_queued_execs(vnc: int) -> int:
        return int(rt().nrt_async_drain_queued_execs(int(vnc)))

    @export()
    def nrt_get_version(ver: Any, size: int) -> int:
        from neuronsim import __version__

        if ver == ffi.NULL or size < ffi.sizeof("nrt_version_t"):
            return null("nrt_get_version", "ver is NULL" if ver == ffi.NULL else
                        f"size {int(size)} is less than sizeof(nrt_version_t), {ffi.sizeof('nrt_version_t')}")
        ver.rt_major, ver.rt_minor, ver.rt_patch, ver.rt_maintenance = VERSION
        ver.rt_detail = f"neuronsim {__version__} (simulated libnrt)".encode()[:127]
        ver.git_hash = b"neuronsim"
        return int(S.NRT_SUCCESS)

    @export()
    def nrta_cc_prepare(comm: Any, inputs: Any, outputs: Any, dtype: int, op: int, cc_op: int, cc_ctx: Any) -> int:
        if comm == ffi.NULL or cc_ctx == ffi.NULL:
            return null("nrta_cc_prepare", f"{'comm' if comm == ffi.NULL else 'cc_ctx'} is NULL")
        py_comm = state.comm(comm)
        if py_comm is None:
            return int(S.NRT_INVALID)
        cell = Ref()
        status = rt().nrta_cc_prepare(py_comm, state.tensor_list(inputs), state.tensor_list(outputs), int(dtype),
                                      int(op), int(cc_op), cell)
        return state.out_handle(cc_ctx, "nrt_cc_context_t *", status, cell.value)

    if api == "2.28":
        def tracker(err: Any) -> Any:
            return None if err == ffi.NULL else (o(err) or BAD)

        @export()
        def nrta_tensor_write(tensor: Any, buf: Any, offset: int, size: int, queue: int, err: Any, seq: Any) -> int:
            return int(rt().nrta_tensor_write(o(tensor), state.buffer(buf, size), int(offset), int(size), int(queue),
                                              tracker(err), state.cell(seq)))

        @export()
        def nrta_tensor_read(buf: Any, tensor: Any, offset: int, size: int, queue: int, err: Any, seq: Any) -> int:
            return int(rt().nrta_tensor_read(state.buffer(buf, size), o(tensor), int(offset), int(size), int(queue),
                                             tracker(err), state.cell(seq)))

        @export()
        def nrta_tensor_copy(src: Any, src_offset: int, dst: Any, dst_offset: int, size: int, queue: int, err: Any,
                             seq: Any) -> int:
            return int(rt().nrta_tensor_copy(o(src), int(src_offset), o(dst), int(dst_offset), int(size), int(queue),
                                             tracker(err), state.cell(seq)))

        @export()
        def nrta_execute_schedule(model: Any, inputs: Any, outputs: Any, queue: int, err: Any, seq: Any) -> int:
            return int(rt().nrta_execute_schedule(o(model), o(inputs), o(outputs), int(queue), tracker(err),
                                                  state.cell(seq)))

        @export()
        def nrta_cc_schedule(cc_ctx: Any, queue: int, err: Any, seq: Any) -> int:
            if cc_ctx == ffi.NULL:
                return null("nrta_cc_schedule", "cc_ctx is NULL")
            return int(rt().nrta_cc_schedule(Ref(o(cc_ctx[0])), int(queue), tracker(err), state.cell(seq)))

        @export()
        def nrta_get_completion_handle(seq: int, fd: Any) -> int:
            if fd == ffi.NULL:
                return null("nrta_get_completion_handle", "fd is NULL")
            cell = Ref()
            status = rt().nrta_get_completion_handle(int(seq), cell)
            if status == S.NRT_SUCCESS:
                fd[0] = adopt_completion_eventfd(state, cell.value)
            return int(status)

        @export()
        def nrta_error_tracker_create(lnc_idx: int, error_tracker: Any) -> int:
            if error_tracker == ffi.NULL:
                return null("nrta_error_tracker_create", "error_tracker is NULL")
            cell = Ref()
            status = rt().nrta_error_tracker_create(int(lnc_idx), cell)
            return state.out_handle(error_tracker, "nrta_error_tracker_t *", status, cell.value)

        @export(error=None)
        def nrta_error_tracker_destroy(error_tracker: Any) -> None:
            rt().nrta_error_tracker_destroy(o(error_tracker))
            state.error_lists.pop(int(ffi.cast("uintptr_t", error_tracker)), None)

        @export()
        def nrta_error_tracker_get_list(error_tracker: Any, errors: Any, error_count: Any) -> int:
            if errors == ffi.NULL or error_count == ffi.NULL:
                return null("nrta_error_tracker_get_list", f"{'errors' if errors == ffi.NULL else 'error_count'} is NULL")
            items, count = Ref(), Ref()
            status = rt().nrta_error_tracker_get_list(o(error_tracker), items, count)
            if status == S.NRT_SUCCESS:
                errors[0] = state.error_array(error_tracker, items.value)
                error_count[0] = len(items.value)
            return int(status)

    else:
        @export()
        def nrta_tensor_write(tensor: Any, buf: Any, offset: int, size: int, lnc: int, queue: int, ret: Any,
                              seq: Any) -> int:
            return int(rt().nrta_tensor_write(o(tensor), state.buffer(buf, size), int(offset), int(size), int(lnc),
                                              int(queue), state.cell(ret), state.cell(seq)))

        @export()
        def nrta_tensor_read(buf: Any, tensor: Any, offset: int, size: int, lnc: int, queue: int, ret: Any,
                             seq: Any) -> int:
            return int(rt().nrta_tensor_read(state.buffer(buf, size), o(tensor), int(offset), int(size), int(lnc),
                                             int(queue), state.cell(ret), state.cell(seq)))

        @export()
        def nrta_tensor_copy(src: Any, src_offset: int, dst: Any, dst_offset: int, size: int, lnc: int, queue: int,
                             ret: Any, seq: Any) -> int:
            return int(rt().nrta_tensor_copy(o(src), int(src_offset), o(dst), int(dst_offset), int(size), int(lnc),
                                             int(queue), state.cell(ret), state.cell(seq)))

        @export()
        def nrta_execute_schedule(model: Any, inputs: Any, outputs: Any, queue: int, ret: Any, seq: Any) -> int:
            return int(rt().nrta_execute_schedule(o(model), o(inputs), o(outputs), int(queue), state.cell(ret),
                                                  state.cell(seq)))

        @export()
        def nrta_cc_schedule(cc_ctx: Any, queue: int, ret: Any, seq: Any) -> int:
            if cc_ctx == ffi.NULL:
                return null("nrta_cc_schedule", "cc_ctx is NULL")
            return int(rt().nrta_cc_schedule(Ref(o(cc_ctx[0])), int(queue), state.cell(ret), state.cell(seq)))

        @export()
        def nrta_event_register_seq_id_completion(seq: int, fd: int) -> int:
            own_eventfd(state, int(fd))
            return int(rt().nrta_event_register_seq_id_completion(int(seq), int(fd)))

        @export()
        def nrta_event_register_xu_completion(lnc: int, xu: int, queue: int, fd: int) -> int:
            own_eventfd(state, int(fd))
            return int(rt().nrta_event_register_xu_completion(int(lnc), int(xu), int(queue), int(fd)))

    @export()
    def nrta_is_completed(seq: int, is_completed: Any) -> int:
        if is_completed == ffi.NULL:
            return null("nrta_is_completed", "is_completed is NULL")
        cell = Ref()
        status = rt().nrta_is_completed(int(seq), cell)
        if status == S.NRT_SUCCESS:
            is_completed[0] = bool(cell.value)
        return int(status)

    @export()
    def nrta_get_sequence(lnc: int, xu: int, queue: int, seq: Any) -> int:
        return int(rt().nrta_get_sequence(int(lnc), int(xu), int(queue), state.cell(seq)))

    @export(error=0)
    def neuronsim_now_ns() -> int:
        return rt().sim.now_ns

    @export(error=1)
    def neuronsim_wait_fds(fds: Any, count: int, timeout_ms: int) -> int:
        """Run the simulation until one of ``fds`` (simulated eventfds) is signalled, or for ``timeout_ms``
        of simulated time (negative: without limit); 1 when nothing left can signal them."""
        return wait_fds(rt().sim, [int(fds[i]) for i in range(int(count))], int(timeout_ms))

    @export(error=None)
    def neuronsim_consumed(fd: int) -> None:
        """The C program read eventfd ``fd``: its simulated counter is reset as the real one was."""
        efd = rt().sim.eventfds.get(int(fd))
        if efd is not None:
            efd._consume()  # noqa: SLF001 - the host has now observed the completions it counted

    @export(error=None)
    def neuronsim_closed(fd: int) -> None:
        """The C program closed simulated eventfd ``fd``: registrations on it are gone with it."""
        efd = rt().sim.eventfds.pop(int(fd), None)
        if efd is not None:
            efd.close()

    @export(error=0)
    def neuronsim_ping() -> int:
        return 0x6E73  # the library's C side knows the Python side started

    # -- simulated beyond the async API ----------------------------------------------------------------

    @export(error=ffi.NULL)
    def nrt_tensor_get_va(tensor: Any) -> Any:
        """A real pointer to the tensor's bytes (valid until the tensor is freed): its allocation becomes
        one contiguous array the simulator reads and writes through."""
        return state.tensor_va(o(tensor))

    @export()
    def nrt_memcpy_to_device(dest: Any, src: Any, size: int) -> int:
        """Copy ``size`` bytes to memory ``nrt_tensor_get_va`` returned (the only device memory a host
        process can address here); anything else is NRT_INVALID."""
        return int(state.copy_to_device(dest, src, int(size)))

    @export()
    def nrt_get_model_info(model: Any, info: Any, info_size_in: int, info_size_out: Any) -> int:
        m = o(model)
        runtime = rt()
        if info == ffi.NULL or info_size_in < ffi.sizeof("nrt_model_info_t"):
            return null("nrt_get_model_info", "info is NULL" if info == ffi.NULL else f"info_size_in {int(info_size_in)} "
                        f"is less than sizeof(nrt_model_info_t), {ffi.sizeof('nrt_model_info_t')}")
        if not isinstance(m, Model) or m.unloaded or m.owner is not runtime:
            return null("nrt_get_model_info", "model is NULL" if model == ffi.NULL else
                        "model was unloaded" if isinstance(m, Model) and m.unloaded else
                        "model is not one this process loaded")
        info.vnc = int(m.vnc)
        if info_size_out != ffi.NULL:
            info_size_out[0] = ffi.sizeof("nrt_model_info_t")
        return int(S.NRT_SUCCESS)

    @export()
    def nrt_get_vnc_memory_stats(vnc: int, stats: Any, stats_size_in: int, stats_size_out: Any) -> int:
        if stats == ffi.NULL or stats_size_out == ffi.NULL or stats_size_in < ffi.sizeof("nrt_vnc_memory_stats_t"):
            return null("nrt_get_vnc_memory_stats", "stats is NULL" if stats == ffi.NULL else "stats_size_out is NULL"
                        if stats_size_out == ffi.NULL else f"stats_size_in {int(stats_size_in)} is less than "
                        f"sizeof(nrt_vnc_memory_stats_t), {ffi.sizeof('nrt_vnc_memory_stats_t')}")
        cell, size = Ref(), Ref()
        status = rt().nrt_get_vnc_memory_stats(int(vnc), cell, int(stats_size_in), size)
        if status == S.NRT_SUCCESS:
            stats.bytes_used, stats.bytes_limit = int(cell.value["bytes_used"]), int(cell.value["bytes_limit"])
            stats_size_out[0] = ffi.sizeof("nrt_vnc_memory_stats_t")
        return int(status)

    @export()
    def nrt_get_model_instance_count(model: Any, instance_count: Any) -> int:
        m = o(model)
        if instance_count == ffi.NULL:
            return null("nrt_get_model_instance_count", "instance_count is NULL")
        if not isinstance(m, Model) or m.unloaded:
            return null("nrt_get_model_instance_count", "model is NULL" if model == ffi.NULL else
                        "model was unloaded" if isinstance(m, Model) else "model is not one this process loaded")
        instance_count[0] = 1
        return int(S.NRT_SUCCESS)

    @export()
    def nrt_barrier(vnc: int, g_device_id: int, g_device_count: int) -> int:
        """A barrier of one rank passes at once; across several ranks (all of them callers in this one
        process, one after another) it cannot be met by a single thread: not simulated."""
        runtime = rt()
        if not 0 <= g_device_id < max(1, g_device_count) or not 0 <= vnc < len(runtime.visible_cores):
            return int(S.NRT_INVALID)
        if g_device_count == 1:
            return int(S.NRT_SUCCESS)
        return state.not_simulated("nrt_barrier", "NRT_STATUS", f"a barrier of {g_device_count} ranks")

    install_tracing(state, ffi, o)

    # -- everything else the headers declare: exported, not simulated ----------------------------------

    from neuronsim.capi.build import _split, declarations

    for declaration in declarations(api)[1]:
        kind, name, _, _ = _split(declaration)
        if name in state.defined:
            continue
        error = {"NRT_STATUS": int(S.NRT_FAILURE), "void": None}.get(kind, ffi.NULL if "*" in kind else 0)

        def unsupported(*_args: Any, _name: str = name, _kind: str = kind) -> Any:
            return state.not_simulated(_name, _kind)

        unsupported.__name__ = name
        export(error=error)(unsupported)
    missing = set(exported(api)) - state.defined
    assert not missing, f"libnrt entry points without code: {sorted(missing)}"

