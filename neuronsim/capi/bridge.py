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
"""

from __future__ import annotations

import logging
import os
import sys
import traceback
from collections.abc import Callable
from typing import Any

from neuronsim.errors import ConfigError, DeadlockError
from neuronsim.nrt import (
    NRT_STATUS,
    Ref,
    nrt_cc_comm_t,
    nrt_tensor_batch_op_t,
    nrt_tensor_batch_t,
    nrt_tensor_list_t,
    status_as_str,
)
from neuronsim.runtime.events import EventFd

log = logging.getLogger("neuronsim.capi")

__all__ = ["install", "neff_from_bytes", "VERSION"]

S = NRT_STATUS
_BAD = object()  # an unknown handle: the mirror refuses it as it refuses any bad argument
MAX_BYTES = 1 << 47  # no host buffer is larger: a bigger size is a bad argument (NRT_INVALID), not a crash
VERSION = (2, 31, 0, 0)  # the runtime the 3.0 async ABI shipped with (A30)


def neff_from_bytes(data: bytes) -> Any:
    """A Neff from the bytes ``nrt_load`` takes: a compiled NEFF file or a neuronsim NEFF description
    (JSON or YAML, :class:`neuronsim.workload.spec.NeffDescription`); see
    :func:`neuronsim.runtime.neff_file.neff_from_bytes`."""
    from neuronsim.runtime.neff_file import neff_from_bytes as read

    return read(data)


class _Cell(Ref):
    """A ``Ref`` whose value is a C ``T *``: setting it writes through the pointer."""

    __slots__ = ("_ptr",)

    def __init__(self, ptr: Any) -> None:
        object.__setattr__(self, "_ptr", ptr)

    @property
    def value(self) -> Any:  # type: ignore[override]
        return self._ptr[0]

    @value.setter
    def value(self, new: Any) -> None:
        if new is not None:
            self._ptr[0] = int(new)


class _OsEventFd(EventFd):
    """A real eventfd of the C program, registered with the simulator: a signal also writes to it."""

    def signal(self, value: int = 1, on_read: Callable[[], None] | None = None) -> None:
        super().signal(value, on_read)
        if not self.closed:
            os.write(self.fd, value.to_bytes(8, sys.byteorder))


class _Library:
    """The process's simulator, runtime and handles (one per process, as libnrt's own state)."""

    def __init__(self, ffi: Any, lib: Any, api: str) -> None:
        self.ffi, self.lib, self.api = ffi, lib, api
        self.sim: Any = None
        self.rt: Any = None
        self.objects: dict[int, Any] = {}
        self.addresses: dict[int, int] = {}
        self.next_address = 0x7E5100000000
        self.strings: dict[int, Any] = {}
        self.error_lists: dict[int, Any] = {}  # tracker address -> the C array its last get_list returned
        self.tensor_infos: dict[int, Any] = {}  # array address -> (C memory, the mirror's info)

    def runtime(self) -> Any:
        if self.rt is None:
            from neuronsim.simulator import Simulator

            env = os.environ
            trace = bool(env.get("NEURONSIM_TRACE"))
            self.sim = Simulator(env.get("NEURONSIM_INSTANCE", "trn1.32xlarge"),
                                 lnc=int(env["NEURONSIM_LNC"]) if env.get("NEURONSIM_LNC") else None,
                                 seed=int(env.get("NEURONSIM_SEED", "0")), faults=env.get("NEURONSIM_FAULTS") or None,
                                 record=trace)
            variables = {k: v for k, v in env.items() if k.startswith("NEURON_RT_") or k == "NEURONSIM_KERNELS"}
            self.rt = self.sim.runtime(variables, api=self.api)
        return self.rt

    # handles

    def handle(self, obj: Any, ctype: str) -> Any:
        address = self.addresses.get(id(obj))
        if address is None:
            address = self.next_address
            self.next_address += 0x40
            self.addresses[id(obj)] = address
            self.objects[address] = obj
        return self.ffi.cast(ctype, address)

    def obj(self, ptr: Any) -> Any:
        if ptr == self.ffi.NULL:
            return None
        return self.objects.get(int(self.ffi.cast("uintptr_t", ptr)))

    def cell(self, ptr: Any) -> _Cell | None:
        return None if ptr == self.ffi.NULL else _Cell(ptr)

    def buffer(self, ptr: Any, size: int) -> Any:
        """The C buffer ``ptr`` of ``size`` bytes; None (the mirror's NRT_INVALID) for NULL or a size no
        host buffer can have (UINT64_MAX, ...), which is logged."""
        if ptr == self.ffi.NULL:
            return None
        if not 0 <= size <= MAX_BYTES:
            log.error("NRT: a host buffer of %d bytes is impossible (the limit is %d): invalid size", size, MAX_BYTES)
            return None
        return self.ffi.buffer(ptr, size)

    def text(self, ptr: Any) -> str | None:
        return None if ptr == self.ffi.NULL else self.ffi.string(ptr).decode("utf-8", "replace")

    def out_handle(self, ptr: Any, ctype: str, status: int, value: Any) -> int:
        """Write the handle of ``value`` to ``*ptr`` when the call succeeded."""
        if status == S.NRT_SUCCESS and value is not None:
            ptr[0] = self.handle(value, ctype)
        return int(status)

    def tensor_list(self, ptr: Any) -> Any:
        if ptr == self.ffi.NULL:
            return None
        count = int(ptr.num_tensors)
        if count > 1 << 16 or (count and ptr.tensors == self.ffi.NULL):
            return None
        return nrt_tensor_list_t([self.obj(ptr.tensors[i]) for i in range(count)], count)

    def write_trace(self) -> None:
        path = os.environ.get("NEURONSIM_TRACE")
        if path and self.sim is not None:
            from neuronsim.trace.chrome import write_chrome_trace

            write_chrome_trace(self.sim, path)


def install(ffi: Any, lib: Any, api: str = "3.0") -> None:  # noqa: C901 - one short function per C entry point
    """Define the library's ``extern "Python"`` functions for API generation ``api`` (called once, by the
    embedded interpreter)."""
    state = _Library(ffi, lib, api)

    def export(error: Any = int(S.NRT_FAILURE)) -> Callable[[Callable[..., Any]], Callable[..., Any]]:
        def wrap(fn: Callable[..., Any]) -> Callable[..., Any]:
            def entry(*args: Any) -> Any:
                try:
                    return fn(*args)
                except ConfigError as exc:  # a bad NEURONSIM_* setting
                    sys.stderr.write(f"neuronsim: {fn.__name__}: {exc}\n")
                except Exception:  # noqa: BLE001 - nothing may cross into C: NRT_FAILURE, with the traceback
                    sys.stderr.write(f"neuronsim: {fn.__name__}: an error that is not the caller's (NRT_FAILURE):\n"
                                     f"{traceback.format_exc()}")
                return error

            entry.__name__ = fn.__name__
            return ffi.def_extern(name=fn.__name__)(entry)

        return wrap

    def rt() -> Any:
        return state.runtime()

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
            return int(S.NRT_INVALID)
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

    def neff(neff_bytes: Any, size: int) -> Any:
        """The NEFF bytes for the mirror (which reads a compiled NEFF or a description, and logs what is
        wrong with them); NULL or an impossible size is no NEFF."""
        if neff_bytes == ffi.NULL or not 0 < size <= MAX_BYTES:
            return None
        return ffi.buffer(neff_bytes, size)[:]

    @export()
    def nrt_load(neff_bytes: Any, size: int, vnc: int, vnc_count: int, model: Any) -> int:
        runtime = rt()
        if model == ffi.NULL:
            return int(S.NRT_INVALID)
        cell = Ref()
        status = runtime.nrt_load(neff(neff_bytes, size), int(vnc), int(vnc_count), cell)
        return state.out_handle(model, "nrt_model_t *", status, cell.value)

    @export()
    def nrt_load_collectives(neff_bytes: Any, size: int, vnc: int, vnc_count: int, ctx_device_id: int,
                             ctx_device_count: int, model: Any) -> int:
        runtime = rt()
        if model == ffi.NULL:
            return int(S.NRT_INVALID)
        cell = Ref()
        status = runtime.nrt_load_collectives(neff(neff_bytes, size), int(vnc), int(vnc_count), int(ctx_device_id),
                                              int(ctx_device_count), cell)
        return state.out_handle(model, "nrt_model_t *", status, cell.value)

    @export()
    def nrt_unload(model: Any) -> int:
        return int(rt().nrt_unload(o(model)))

    def count(call: str, *args: Any) -> int:
        out = args[-1]
        if out == ffi.NULL:
            return int(S.NRT_INVALID)
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
            return int(S.NRT_INVALID)
        cell = Ref()
        return state.out_handle(result, "nrt_tensor_set_t *", rt().nrt_allocate_tensor_set(cell), cell.value)

    @export(error=None)
    def nrt_destroy_tensor_set(tensor_set: Any) -> None:
        if tensor_set == ffi.NULL:
            return
        if rt().nrt_destroy_tensor_set(Ref(o(tensor_set[0]))) == S.NRT_SUCCESS:
            tensor_set[0] = ffi.NULL

    @export()
    def nrt_add_tensor_to_tensor_set(tensor_set: Any, name: Any, tensor: Any) -> int:
        return int(rt().nrt_add_tensor_to_tensor_set(o(tensor_set), state.text(name), o(tensor)))

    @export()
    def nrt_get_tensor_from_tensor_set(tensor_set: Any, name: Any, tensor: Any) -> int:
        if tensor == ffi.NULL:
            return int(S.NRT_INVALID)
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
            return int(S.NRT_INVALID)
        cell = Ref()
        status = rt().nrt_tensor_allocate(int(placement), int(vnc), int(size), state.text(name) or "", cell)
        return state.out_handle(tensor, "nrt_tensor_t *", status, cell.value)

    @export(error=None)
    def nrt_tensor_free(tensor: Any) -> None:
        if tensor == ffi.NULL:
            return
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
            return int(S.NRT_INVALID)
        cell = Ref()
        status = rt().nrt_tensor_allocate_slice(o(source), int(offset), int(size), state.text(name) or "", cell)
        return state.out_handle(tensor, "nrt_tensor_t *", status, cell.value)

    @export()
    def nrt_tensor_get_device_allocation_info(tensor: Any, info: Any) -> int:
        if info == ffi.NULL:
            return int(S.NRT_INVALID)
        cell = Ref()
        status = rt().nrt_tensor_get_device_allocation_info(o(tensor), cell)
        if status == S.NRT_SUCCESS:
            info.physical_address = int(cell.value["physical_address"]) & (2**64 - 1)
            info.size, info.hbm_index = int(cell.value["size"]), int(cell.value["hbm_index"])
        return int(status)

    def batches(ptr: Any, count: int) -> Any:
        if ptr == ffi.NULL or count > 1 << 20:
            return None
        out = []
        for i in range(int(count)):
            batch = ptr[i]
            n = int(batch.num_ops)
            if n and batch.ops == ffi.NULL:
                return None
            ops = [nrt_tensor_batch_op_t(int(batch.ops[k].offset), int(batch.ops[k].size),
                                         state.buffer(batch.ops[k].buffer, int(batch.ops[k].size)))
                   for k in range(n)]
            out.append(nrt_tensor_batch_t(o(batch.tensor), ops, n))
        return out

    @export()
    def nrt_tensor_read_batch(ptr: Any, count: int, unsafe: bool) -> int:
        return int(rt().nrt_tensor_read_batch(batches(ptr, count), int(count), bool(unsafe)))

    @export()
    def nrt_tensor_write_batch(ptr: Any, count: int, unsafe: bool) -> int:
        return int(rt().nrt_tensor_write_batch(batches(ptr, count), int(count), bool(unsafe)))

    @export()
    def nrt_get_model_tensor_info(model: Any, tensor_info: Any) -> int:
        if tensor_info == ffi.NULL:
            return int(S.NRT_INVALID)
        cell = Ref()
        status = rt().nrt_get_model_tensor_info(o(model), cell)
        if status != S.NRT_SUCCESS:
            return int(status)
        infos = cell.value.tensor_array
        array = ffi.new("nrt_tensor_info_array_t *", {"tensor_count": len(infos), "tensor_array": [{}] * len(infos)})
        keep = [array]
        for i, info in enumerate(infos):
            entry = array.tensor_array[i]
            entry.name = info.name.encode()[:255]
            entry.usage, entry.size, entry.dtype = int(info.usage), int(info.size), int(info.dtype)
            shape = ffi.new("uint32_t[]", list(info.shape) or [0])
            keep.append(shape)
            entry.shape, entry.ndim = shape, len(info.shape)
        address = int(ffi.cast("uintptr_t", array))
        state.tensor_infos[address] = (keep, cell.value)
        tensor_info[0] = array
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
            return int(S.NRT_INVALID)
        ver.rt_major, ver.rt_minor, ver.rt_patch, ver.rt_maintenance = VERSION
        ver.rt_detail = f"neuronsim {__version__} (simulated libnrt)".encode()[:127]
        ver.git_hash = b"neuronsim"
        return int(S.NRT_SUCCESS)

    @export()
    def nrta_cc_prepare(comm: Any, inputs: Any, outputs: Any, dtype: int, op: int, cc_op: int, cc_ctx: Any) -> int:
        if comm == ffi.NULL or cc_ctx == ffi.NULL:
            return int(S.NRT_INVALID)
        n = int(comm.rank_n)
        if n > 1 << 16:
            return int(S.NRT_INVALID)
        group = None if comm.replica_group == ffi.NULL else [int(comm.replica_group[i]) for i in range(n)]
        py_comm = nrt_cc_comm_t(group, int(comm.rank), n, int(comm.ctx_device_id), int(comm.ctx_device_count),
                                int(comm.vnc))
        cell = Ref()
        status = rt().nrta_cc_prepare(py_comm, state.tensor_list(inputs), state.tensor_list(outputs), int(dtype),
                                      int(op), int(cc_op), cell)
        return state.out_handle(cc_ctx, "nrt_cc_context_t *", status, cell.value)

    if api == "2.28":
        def tracker(err: Any) -> Any:
            return None if err == ffi.NULL else (o(err) or _BAD)

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
                return int(S.NRT_INVALID)
            return int(rt().nrta_cc_schedule(Ref(o(cc_ctx[0])), int(queue), tracker(err), state.cell(seq)))

        @export()
        def nrta_get_completion_handle(seq: int, fd: Any) -> int:
            if fd == ffi.NULL:
                return int(S.NRT_INVALID)
            cell = Ref()
            runtime = rt()
            status = runtime.nrta_get_completion_handle(int(seq), cell)
            if status == S.NRT_SUCCESS:
                efd = cell.value
                real = os.eventfd(0, os.EFD_NONBLOCK | os.EFD_CLOEXEC)
                pending = efd.counter
                efd.__class__ = _OsEventFd  # from now on a signal also writes to the real eventfd
                efd.fd = real
                runtime.sim.eventfds[real] = efd
                lib.neuronsim_mark_fd(real, 1)
                if pending:
                    os.write(real, pending.to_bytes(8, sys.byteorder))
                fd[0] = real
            return int(status)

        @export()
        def nrta_error_tracker_create(lnc_idx: int, error_tracker: Any) -> int:
            if error_tracker == ffi.NULL:
                return int(S.NRT_INVALID)
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
                return int(S.NRT_INVALID)
            items, count = Ref(), Ref()
            status = rt().nrta_error_tracker_get_list(o(error_tracker), items, count)
            if status == S.NRT_SUCCESS:
                array = ffi.new("nrta_error_t[]", max(1, len(items.value)))
                for i, error in enumerate(items.value):
                    array[i].seq_id, array[i].error_code = int(error.seq_id), int(error.error_code)
                state.error_lists[int(ffi.cast("uintptr_t", error_tracker))] = array  # valid until the next call
                errors[0] = array
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
                return int(S.NRT_INVALID)
            return int(rt().nrta_cc_schedule(Ref(o(cc_ctx[0])), int(queue), state.cell(ret), state.cell(seq)))

        def own_eventfd(fd: int) -> None:
            """Register a real eventfd of the C program as a simulated one (a signal writes to it)."""
            sim = rt().sim
            if fd < 0 or fd in sim.eventfds:
                return
            try:
                os.fstat(fd)
            except OSError:
                return  # not an open descriptor: the mirror refuses the fd
            sim.eventfds[fd] = _OsEventFd(sim, fd)
            lib.neuronsim_mark_fd(fd, 1)

        @export()
        def nrta_event_register_seq_id_completion(seq: int, fd: int) -> int:
            own_eventfd(int(fd))
            return int(rt().nrta_event_register_seq_id_completion(int(seq), int(fd)))

        @export()
        def nrta_event_register_xu_completion(lnc: int, xu: int, queue: int, fd: int) -> int:
            own_eventfd(int(fd))
            return int(rt().nrta_event_register_xu_completion(int(lnc), int(xu), int(queue), int(fd)))

    @export()
    def nrta_is_completed(seq: int, is_completed: Any) -> int:
        if is_completed == ffi.NULL:
            return int(S.NRT_INVALID)
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
        sim = rt().sim
        watched = [sim.eventfds.get(int(fds[i])) for i in range(int(count))]
        watched = [e for e in watched if e is not None and not e.closed]
        if not watched:
            return 0
        env = sim.env
        deadline = None if timeout_ms < 0 else sim.now_ns + int(timeout_ms) * 1_000_000
        while not any(e.counter for e in watched):
            due = env.peek()
            if deadline is not None and due > deadline:
                sim.advance_to(deadline)
                return 0
            if due == float("inf"):
                chain = [line for e in watched for line in e._chain()]  # noqa: SLF001 - the deadlock report
                sys.stderr.write(f"neuronsim: waiting on eventfd {int(fds[0])}: {DeadlockError('', chain)}\n")
                return 1
            env.step()
        return 0

    @export(error=None)
    def neuronsim_consumed(fd: int) -> None:
        """The C program read eventfd ``fd``: its simulated counter is reset as the real one was."""
        efd = rt().sim.eventfds.get(int(fd))
        if efd is not None:
            efd._consume()  # noqa: SLF001 - the host has now observed the completions it counted
