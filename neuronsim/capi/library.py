"""The process's libnrt state, as the C side sees it: the simulator and runtime (made from the environment
on first use), the opaque handles handed out for runtime objects, the C objects the library allocates
(sys-trace options, string lists, buffers), and the conversions of C arguments the mirror takes."""

from __future__ import annotations

import logging
import os
import sys
import threading
import traceback
from collections.abc import Callable
from typing import Any

from neuronsim.capi.build import PREFIX
from neuronsim.capi.eventfds import Watcher
from neuronsim.capi.systrace import Recorder
from neuronsim.errors import ConfigError
from neuronsim.nrt import (
    NRT_STATUS,
    Ref,
    nrt_cc_comm_t,
    nrt_tensor_batch_op_t,
    nrt_tensor_batch_t,
    nrt_tensor_list_t,
)
from neuronsim.runtime.checks import ForeignHandle
from neuronsim.runtime.objects import Tensor

__all__ = ["Library", "Cell", "MAX_BYTES", "BAD"]

log = logging.getLogger("neuronsim.capi")
S = NRT_STATUS
BAD = object()  # an unknown handle: the mirror refuses it as it refuses any bad argument
MAX_BYTES = 1 << 47  # no host buffer is larger: a bigger size is a bad argument (NRT_INVALID), not a crash


class Cell(Ref):
    """A ``Ref`` whose value is a C ``T *``: setting it writes through the pointer."""

    __slots__ = ("_ptr",)
    _ptr: Any  # a cffi ``T *``

    def __init__(self, ptr: Any) -> None:
        object.__setattr__(self, "_ptr", ptr)

    @property
    def value(self) -> Any:
        return self._ptr[0]

    @value.setter
    def value(self, new: Any) -> None:
        if new is not None:
            self._ptr[0] = int(new)


class Library:
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
        self.lock = threading.RLock()
        self.watcher: Any = None  # the thread that runs the simulation while the host blocks on an eventfd
        self.told: set[str] = set()  # functions whose "not simulated" line was logged
        self.regions: dict[int, tuple[int, Any]] = {}  # nrt_tensor_get_va address -> (size, the array)
        self.c_objects: dict[int, Any] = {}  # address of a C object the library handed out -> (kind, value)
        self.traces: Any = None  # the sys-trace / profile recorder, once started
        self.defined: set[str] = set()  # the entry points defined so far

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

    def export(self, error: Any = int(S.NRT_FAILURE)) -> Callable[[Callable[..., Any]], Callable[..., Any]]:
        """A decorator: ``fn`` becomes the library's entry point of its name. One caller at a time runs in
        the simulator (the eventfd watcher is another); nothing raised crosses into C: the entry returns
        ``error`` after one line on standard error (with the traceback when it is not the caller's error)."""
        def wrap(fn: Callable[..., Any]) -> Callable[..., Any]:
            def entry(*args: Any) -> Any:
                with self.lock:
                    try:
                        return fn(*args)
                    except ConfigError as exc:  # a bad NEURONSIM_* setting
                        sys.stderr.write(f"neuronsim: {fn.__name__}: {exc}\n")
                    except Exception:  # noqa: BLE001 - nothing may cross into C: NRT_FAILURE, with the traceback
                        sys.stderr.write(f"neuronsim: {fn.__name__}: an error that is not the caller's "
                                         f"(NRT_FAILURE):\n{traceback.format_exc()}")
                    return error

            entry.__name__ = fn.__name__
            self.defined.add(fn.__name__)
            return self.ffi.def_extern(name=PREFIX + fn.__name__)(entry)

        return wrap

    def neff(self, neff_bytes: Any, size: int) -> Any:
        """The NEFF bytes for the mirror (which reads a compiled NEFF or a description, and logs what is
        wrong with them); NULL or an impossible size is no NEFF."""
        if neff_bytes == self.ffi.NULL or not 0 < size <= MAX_BYTES:
            return None
        return self.ffi.buffer(neff_bytes, size)[:]

    def batches(self, ptr: Any, count: int) -> Any:
        """A C ``nrt_tensor_batch_t[count]`` as the mirror's list; None (NRT_INVALID) for NULL or a bad one."""
        if ptr == self.ffi.NULL or count > 1 << 20:
            return None
        out = []
        for i in range(int(count)):
            batch = ptr[i]
            n = int(batch.num_ops)
            if n and batch.ops == self.ffi.NULL:
                return None
            ops = [nrt_tensor_batch_op_t(int(batch.ops[k].offset), int(batch.ops[k].size),
                                         self.buffer(batch.ops[k].buffer, int(batch.ops[k].size)))
                   for k in range(n)]
            out.append(nrt_tensor_batch_t(self.obj(batch.tensor), ops, n))
        return out

    # C objects the library allocates (sys-trace options, string lists, buffers), kept until freed

    def new_object(self, kind: str, value: Any, ctype: str) -> Any:
        holder = self.ffi.new("char[16]")
        address = int(self.ffi.cast("uintptr_t", holder))
        self.c_objects[address] = (kind, value, holder)
        return self.ffi.cast(ctype, holder)

    def c_object(self, ptr: Any, kind: str) -> Any:
        found = self.c_objects.get(int(self.ffi.cast("uintptr_t", ptr))) if ptr != self.ffi.NULL else None
        return found[1] if found is not None and found[0] == kind else None

    def free_object(self, ptr: Any) -> None:
        if ptr != self.ffi.NULL:
            self.c_objects.pop(int(self.ffi.cast("uintptr_t", ptr)), None)

    def string_list(self, names: list[str], out: Any, count: Any) -> int:
        """Write a NULL-terminated C array of ``names`` to ``*out`` and its length to ``*count``."""
        if out == self.ffi.NULL or count == self.ffi.NULL:
            return int(S.NRT_INVALID)
        strings = [self.ffi.new("char[]", n.encode()) for n in names]
        array = self.ffi.new("const char *[]", strings + [self.ffi.NULL])
        self.c_objects[int(self.ffi.cast("uintptr_t", array))] = ("strings", strings, array)
        out[0] = array
        count[0] = len(names)
        return int(S.NRT_SUCCESS)

    def not_simulated(self, name: str, kind: str, what: str = "") -> Any:
        """What a declared function neuronsim does not simulate returns (``kind`` its C return type), with
        one log line the first time."""
        if name not in self.told:
            self.told.add(name)
            returns = {"NRT_STATUS": "NRT_FAILURE", "void": "nothing"}.get(kind, "NULL" if "*" in kind else "0")
            log.error("NRT: %s is not simulated by neuronsim%s: it returns %s", name, f" ({what})" if what else "",
                      returns)
        if kind == "NRT_STATUS":
            return int(S.NRT_FAILURE)
        return None if kind == "void" else (self.ffi.NULL if "*" in kind else 0)

    def tensor_info_array(self, value: Any) -> Any:
        """The C ``nrt_tensor_info_array_t *`` of the mirror's tensor info, kept (with its shapes) until
        ``nrt_free_model_tensor_info``."""
        infos = value.tensor_array
        array = self.ffi.new("nrt_tensor_info_array_t *", {"tensor_count": len(infos),
                                                           "tensor_array": [{}] * len(infos)})
        keep = [array]
        for i, info in enumerate(infos):
            entry = array.tensor_array[i]
            entry.name = info.name.encode()[:255]
            entry.usage, entry.size, entry.dtype = int(info.usage), int(info.size), int(info.dtype)
            shape = self.ffi.new("uint32_t[]", list(info.shape) or [0])
            keep.append(shape)
            entry.shape, entry.ndim = shape, len(info.shape)
        self.tensor_infos[int(self.ffi.cast("uintptr_t", array))] = (keep, value)
        return array

    def error_array(self, tracker: Any, items: list[Any]) -> Any:
        """The C ``nrta_error_t[]`` of a tracker's errors, valid until its next ``get_list``."""
        array = self.ffi.new("nrta_error_t[]", max(1, len(items)))
        for i, error in enumerate(items):
            array[i].seq_id, array[i].error_code = int(error.seq_id), int(error.error_code)
        self.error_lists[int(self.ffi.cast("uintptr_t", tracker))] = array
        return array

    def comm(self, ptr: Any) -> Any:
        """A C ``nrt_cc_comm_t *`` (not NULL) as the mirror's; None (NRT_INVALID) for an impossible rank count."""
        n = int(ptr.rank_n)
        if n > 1 << 16:
            return None
        group = None if ptr.replica_group == self.ffi.NULL else [int(ptr.replica_group[i]) for i in range(n)]
        return nrt_cc_comm_t(group, int(ptr.rank), n, int(ptr.ctx_device_id), int(ptr.ctx_device_count), int(ptr.vnc))

    def c_text(self, text: str) -> tuple[Any, int]:
        """``text`` as a NUL-terminated C buffer the library keeps until it is freed, and its length."""
        data = text.encode()
        out = self.ffi.new("char[]", data + b"\0")
        self.c_objects[int(self.ffi.cast("uintptr_t", out))] = ("buffer", None, out)
        return out, len(data)

    def tensor_va(self, t: Any) -> Any:
        """A real pointer to tensor ``t``'s bytes (valid until it is freed): its allocation becomes one
        contiguous array the simulator reads and writes through; NULL, logged, for anything else."""
        if not isinstance(t, Tensor) or t.freed or t.owner is not self.runtime() or t.alloc.storage is None:
            log.error("NRT: nrt_tensor_get_va: not a live tensor with bytes (timing-only runs keep none)")
            return self.ffi.NULL
        whole = t.alloc.storage.flat()
        address = int(whole.ctypes.data) + t.offset
        self.regions[address] = (t.size, whole)
        return self.ffi.cast("void *", address)

    def copy_to_device(self, dest: Any, src: Any, size: int) -> NRT_STATUS:
        """Copy ``size`` bytes to memory :meth:`tensor_va` returned; anything else is NRT_INVALID."""
        if dest == self.ffi.NULL or src == self.ffi.NULL or not 0 <= size <= MAX_BYTES:
            return S.NRT_INVALID
        target = int(self.ffi.cast("uintptr_t", dest))
        for base, (length, _) in self.regions.items():
            if base <= target and target + size <= base + length:
                self.ffi.memmove(dest, src, size)
                return S.NRT_SUCCESS
        log.error("NRT: nrt_memcpy_to_device: %#x (+%d bytes) is not device memory of a tensor (nrt_tensor_get_va)",
                  target, size)
        return S.NRT_INVALID

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
        """The runtime object behind a handle: None for NULL, a :class:`ForeignHandle` (refused, its address in the
        log line) for a pointer the library never handed out."""
        if ptr == self.ffi.NULL:
            return None
        address = int(self.ffi.cast("uintptr_t", ptr))
        found = self.objects.get(address)
        return found if found is not None else ForeignHandle(address)

    def cell(self, ptr: Any) -> Cell | None:
        return None if ptr == self.ffi.NULL else Cell(ptr)

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

    def watch(self) -> None:
        """Start the eventfd watcher (:class:`Watcher`) once an eventfd of the host is registered."""
        if self.watcher is None:
            self.watcher = Watcher(self)
            self.watcher.start()

    def recorder(self) -> Recorder:
        if self.traces is None:
            self.traces = Recorder(self)
        return self.traces

    def write_trace(self) -> None:
        path = os.environ.get("NEURONSIM_TRACE")
        if path and self.sim is not None:
            from neuronsim.trace.chrome import write_chrome_trace

            write_chrome_trace(self.sim, path)
