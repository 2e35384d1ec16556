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
import threading
import traceback
from collections.abc import Callable
from typing import Any

from neuronsim.capi.build import PREFIX, exported
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
from neuronsim.sim.events import EventFd
from neuronsim.runtime.objects import Model, Tensor

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


EVENT_TYPES = ("nc_exec_running",)  # the sys-trace events neuronsim records: each execution's start and stop


def _eventfd_count(fd: int) -> int | None:
    """The real eventfd's counter (``eventfd-count`` in /proc/self/fdinfo, hexadecimal); None if unknown."""
    try:
        with open(f"/proc/self/fdinfo/{fd}", encoding="ascii", errors="replace") as info:
            for line in info:
                if line.startswith("eventfd-count:"):
                    return int(line.split(":", 1)[1].strip(), 16)
    except (OSError, ValueError):
        pass
    return None


def _eventfd_identity(fd: int) -> tuple[str | None, str | None]:
    """``(what fd is, its eventfd id)`` from /proc: ``"anon_inode:[eventfd]"`` for an eventfd (its
    ``eventfd-id`` tells a reused number's new eventfd from the old one), a path for anything else,
    ``(None, None)`` for a descriptor that is not open."""
    try:
        kind = os.readlink(f"/proc/self/fd/{fd}")
    except OSError:
        return None, None
    identity = None
    try:
        with open(f"/proc/self/fdinfo/{fd}", encoding="ascii", errors="replace") as info:
            for line in info:
                if line.startswith("eventfd-id:"):
                    identity = line.split(":", 1)[1].strip()
    except OSError:
        pass
    return kind, identity


# the system calls a thread blocks in while it waits on descriptors: (read-like, poll-like, select-like, epoll-like)
_SYSCALLS = {
    "x86_64": {"read": (0, 19), "poll": (7, 271), "select": (23, 270), "epoll": (232, 281, 441)},
    "aarch64": {"read": (63, 65), "poll": (73,), "select": (72,), "epoll": (22, 441)},
}


def _blocked_waits(skip: int) -> set[int]:
    """The descriptors the process's threads (other than thread ``skip``) are blocked waiting to read, from
    /proc/self/task/*/syscall (the call and its arguments while a thread sleeps in it)."""
    import ctypes
    import platform

    calls = _SYSCALLS.get(platform.machine())
    if calls is None:
        return set()
    out: set[int] = set()
    try:
        tasks = os.listdir("/proc/self/task")
    except OSError:
        return out
    for task in tasks:
        if task == str(skip):
            continue
        try:
            with open(f"/proc/self/task/{task}/syscall", encoding="ascii") as handle:
                fields = handle.read().split()
        except OSError:
            continue
        if len(fields) < 4 or fields[0] == "running" or not fields[0].lstrip("-").isdigit():
            continue
        number, args = int(fields[0]), [int(a, 16) for a in fields[1:7]]
        if number in calls["read"]:
            out.add(args[0])
        elif number in calls["poll"] and 0 < args[1] <= 1024 and args[0]:
            raw = ctypes.string_at(args[0], 8 * args[1])  # struct pollfd {int fd; short events, revents;}
            out.update(int.from_bytes(raw[8 * i:8 * i + 4], sys.byteorder, signed=True) for i in range(args[1]))
        elif number in calls["select"] and 0 < args[0] <= 65536 and args[1]:
            bits = int.from_bytes(ctypes.string_at(args[1], (args[0] + 7) // 8), "little")
            out.update(fd for fd in range(args[0]) if bits >> fd & 1)
        elif number in calls["epoll"]:
            try:
                with open(f"/proc/self/fdinfo/{args[0]}", encoding="ascii") as info:
                    out.update(int(line.split()[1]) for line in info if line.startswith("tfd:"))
            except (OSError, ValueError, IndexError):
                pass
    return out


class _Watcher(threading.Thread):
    """Runs the simulation while a thread of the host is blocked waiting on a simulated eventfd, in a way
    the library cannot see (a ``read``, ``poll``, ``select`` or ``epoll_wait`` that was not interposed:
    the library was dlopen()ed with RTLD_LOCAL, or is driven from Python). Every ``period_s`` it looks at
    what the process's threads are blocked in (/proc/self/task/*/syscall); when one waits on a
    simulated eventfd that has a registration, it runs the simulation, holding the library's lock, until
    one of the eventfds it waits on is signalled, exactly as an interposed ``read`` would. Simulated time
    therefore advances only while the host is blocked with work in flight, and by what that work takes:
    the same calls give the same simulated times, however long the host took in real time."""

    def __init__(self, library: _Library, period_s: float = 0.002) -> None:
        super().__init__(name="neuronsim-eventfd-watcher", daemon=True)
        self.library = library
        self.period_s = period_s
        self.reported: set[tuple[int, int]] = set()

    def run(self) -> None:
        import time

        me = threading.get_native_id()
        while True:
            time.sleep(self.period_s)
            sim = self.library.sim
            if sim is None:
                continue
            with self.library.lock:
                owned = [e for e in list(sim.eventfds.values()) if isinstance(e, _OsEventFd) and not e.closed]
                for efd in owned:
                    efd.sync()
            waiting = [e.fd for e in owned if e.counter == 0 and e.registrations]
            if not waiting:
                continue
            blocked = _blocked_waits(me) & set(waiting)
            if not blocked:
                continue
            with self.library.lock:
                blocked = _blocked_waits(me) & set(waiting)  # still blocked, now that no call can run
                watched = [sim.eventfds[fd] for fd in sorted(blocked) if fd in sim.eventfds]
                watched = [e for e in watched if not e.closed and e.counter == 0]
                env = sim.env
                while watched and not any(e.counter for e in watched):
                    if env.peek() == float("inf"):
                        key = (watched[0].fd, sim.now_ns)
                        if key not in self.reported:
                            self.reported.add(key)
                            chain = [line for e in watched for line in e._chain()]  # noqa: SLF001
                            sys.stderr.write(f"neuronsim: a thread waits on eventfd {watched[0].fd}: "
                                             f"{DeadlockError('', chain)}\n")
                        break
                    env.step()


class _Recorder:
    """Executions seen as they complete (the execution units' listeners): the events
    ``nrt_sys_trace_fetch_events`` returns (``nc_exec_running`` start and stop, in simulated
    nanoseconds) and the Chrome trace ``nrt_profile_stop`` writes."""

    def __init__(self, library: _Library) -> None:
        self.library = library
        self.config: dict | None = None
        self.events: list[dict] = []
        self.profiled: Any = None
        self.profile_events: list[dict] = []
        self.attached: set[int] = set()
        self.tracking = 0

    def attach(self) -> None:
        rt = self.library.runtime()
        for vnc in range(len(rt.visible_cores)):
            rt._sync_unit(vnc, "exec")  # noqa: SLF001 - nrt_execute's unit, made now so it is listened to
        for unit in list(rt._xus.values()) + list(rt._sync_units.values()):  # noqa: SLF001
            if id(unit) not in self.attached:
                self.attached.add(id(unit))
                unit.listeners.append(self.done)

    def done(self, unit: Any, request: Any) -> None:
        if getattr(request, "kind", None) != "execute":
            return
        model = request.model
        self.tracking += 1
        if self.config is not None:
            cores = self.config["cores"]
            if "nc_exec_running" in self.config["types"] and (not cores or model.vnc in cores):
                for phase, at in (("start", request.start_ns), ("stop", request.end_ns)):
                    self.events.append({"event_type": "nc_exec_running", "phase": phase, "tracking_id": self.tracking,
                                        "nc_idx": model.vnc, "timestamp_ns": at,
                                        "data": {"nc_timestamp_ns": at, "model_name": model.neff.name,
                                                 "model_id": model.id, "status": int(request.status)}})
        if self.profiled is not None and model is self.profiled:
            self.profile_events.append({"name": f"execute {model.neff.name}", "ph": "X", "pid": model.vnc,
                                        "tid": 0, "ts": request.start_ns / 1000,
                                        "dur": (request.end_ns - request.start_ns) / 1000,
                                        "args": {"status": int(request.status), "tracking_id": self.tracking}})

    def start(self, config: dict) -> NRT_STATUS:
        if self.config is not None:
            return S.NRT_INVALID  # already started
        self.attach()
        self.config = config
        self.events = []
        return S.NRT_SUCCESS

    def stop(self) -> NRT_STATUS:
        if self.config is None:
            return S.NRT_INVALID
        self.config = None
        return S.NRT_SUCCESS

    def fetch(self, nc: int | None, most: int) -> tuple[NRT_STATUS, str]:
        """The events recorded since the last fetch (of core ``nc``, else all), as JSON ``{"events": [...]}``;
        ``most`` > 0 keeps only the first ``most`` per core."""
        import json

        if self.config is None:
            return S.NRT_INVALID, ""
        taken = [e for e in self.events if nc is None or e["nc_idx"] == nc]
        self.events = [e for e in self.events if not (nc is None or e["nc_idx"] == nc)]
        if most > 0:
            per: dict[int, int] = {}
            kept = []
            for event in taken:
                per[event["nc_idx"]] = per.get(event["nc_idx"], 0) + 1
                if per[event["nc_idx"]] <= most:
                    kept.append(event)
            taken = kept
        return S.NRT_SUCCESS, json.dumps({"events": taken})

    def profile(self, model: Any, filename: str | None) -> None:
        self.attach()
        self.profiled = model
        self.profile_events = []

    def profile_stop(self, filename: str | None) -> NRT_STATUS:
        import json

        if self.profiled is None or not filename:
            return S.NRT_INVALID
        try:
            with open(filename, "w", encoding="utf-8") as out:
                json.dump({"traceEvents": self.profile_events, "displayTimeUnit": "ns"}, out)
        except OSError as exc:
            log.error("NRT: nrt_profile_stop: cannot write %s: %s", filename, exc)
            return S.NRT_FAILURE
        self.profiled = None
        return S.NRT_SUCCESS


class _Cell(Ref):
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


class _OsEventFd(EventFd):
    """A real eventfd of the C program, registered with the simulator: a signal also writes to it."""

    identity: str | None  # the kernel's eventfd-id, set when it is registered (a reused number has another)

    def sync(self) -> None:
        """Catch up with reads the library did not see (libc's ``read`` under RTLD_LOCAL, Python's
        ``os.read``): a real counter of 0 means the host consumed what was signalled."""
        if self.counter and not self.closed and _eventfd_count(self.fd) == 0:
            self._consume()

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
        self.lock = threading.RLock()
        self.watcher: Any = None  # the thread that runs the simulation while the host blocks on an eventfd
        self.told: set[str] = set()  # functions whose "not simulated" line was logged
        self.regions: dict[int, tuple[int, Any]] = {}  # nrt_tensor_get_va address -> (size, the array)
        self.c_objects: dict[int, Any] = {}  # address of a C object the library handed out -> (kind, value)
        self.traces: Any = None  # the sys-trace / profile recorder, once started

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

    def watch(self) -> None:
        """Start the eventfd watcher (:class:`_Watcher`) once an eventfd of the host is registered."""
        if self.watcher is None:
            self.watcher = _Watcher(self)
            self.watcher.start()

    def recorder(self) -> _Recorder:
        if self.traces is None:
            self.traces = _Recorder(self)
        return self.traces

    def write_trace(self) -> None:
        path = os.environ.get("NEURONSIM_TRACE")
        if path and self.sim is not None:
            from neuronsim.trace.chrome import write_chrome_trace

            write_chrome_trace(self.sim, path)


def install(ffi: Any, lib: Any, api: str = "3.0") -> None:  # noqa: C901 - one short function per C entry point
    """Define the library's ``extern "Python"`` functions for API generation ``api`` (called once, by the
    embedded interpreter)."""
    state = _Library(ffi, lib, api)

    lock = state.lock

    def export(error: Any = int(S.NRT_FAILURE)) -> Callable[[Callable[..., Any]], Callable[..., Any]]:
        def wrap(fn: Callable[..., Any]) -> Callable[..., Any]:
            def entry(*args: Any) -> Any:
                with lock:  # one caller at a time in the simulator (the eventfd watcher is another)
                    try:
                        return fn(*args)
                    except ConfigError as exc:  # a bad NEURONSIM_* setting
                        sys.stderr.write(f"neuronsim: {fn.__name__}: {exc}\n")
                    except Exception:  # noqa: BLE001 - nothing may cross into C: NRT_FAILURE, with the traceback
                        sys.stderr.write(f"neuronsim: {fn.__name__}: an error that is not the caller's "
                                         f"(NRT_FAILURE):\n{traceback.format_exc()}")
                    return error

            entry.__name__ = fn.__name__
            defined.add(fn.__name__)
            return ffi.def_extern(name=PREFIX + fn.__name__)(entry)

        return wrap

    defined: set[str] = set()

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
                efd.identity = _eventfd_identity(real)[1]
                state.watch()
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
            """Register a real eventfd of the C program as a simulated one (a signal writes to it). A number
            whose eventfd was closed and made again is a new eventfd; a descriptor that is not an eventfd
            (a regular file, stdout) is refused: the mirror then returns NRT_INVALID."""
            sim = rt().sim
            if fd < 0:
                return
            kind, identity = _eventfd_identity(fd)
            known = sim.eventfds.get(fd)
            if kind != "anon_inode:[eventfd]":
                if known is not None:
                    known.close()
                    del sim.eventfds[fd]
                if kind is not None:
                    log.error("NRT: fd %d is not an eventfd (it is %s): refused", fd, kind)
                return
            if known is not None and not known.closed and getattr(known, "identity", identity) == identity:
                if isinstance(known, _OsEventFd):
                    known.sync()  # the kernel reuses eventfd ids: a closed and remade eventfd may look the same
                return
            if known is not None:
                known.close()  # its number was closed and reused: what was registered on it is gone
            efd = sim.eventfds[fd] = _OsEventFd(sim, fd)
            efd.identity = identity
            lib.neuronsim_mark_fd(fd, 1)
            state.watch()

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
        t = o(tensor)
        runtime = rt()
        if not isinstance(t, Tensor) or t.freed or t.owner is not runtime or t.alloc.storage is None:
            log.error("NRT: nrt_tensor_get_va: not a live tensor with bytes (timing-only runs keep none)")
            return ffi.NULL
        whole = t.alloc.storage.flat()
        address = int(whole.ctypes.data) + t.offset
        state.regions[address] = (t.size, whole)
        return ffi.cast("void *", address)

    @export()
    def nrt_memcpy_to_device(dest: Any, src: Any, size: int) -> int:
        """Copy ``size`` bytes to memory ``nrt_tensor_get_va`` returned (the only device memory a host
        process can address here); anything else is NRT_INVALID."""
        if dest == ffi.NULL or src == ffi.NULL or not 0 <= size <= MAX_BYTES:
            return int(S.NRT_INVALID)
        target = int(ffi.cast("uintptr_t", dest))
        for base, (length, _) in state.regions.items():
            if base <= target and target + size <= base + length:
                ffi.memmove(dest, src, size)
                return int(S.NRT_SUCCESS)
        log.error("NRT: nrt_memcpy_to_device: %#x (+%d bytes) is not device memory of a tensor (nrt_tensor_get_va)",
                  target, size)
        return int(S.NRT_INVALID)

    @export()
    def nrt_get_model_info(model: Any, info: Any, info_size_in: int, info_size_out: Any) -> int:
        m = o(model)
        runtime = rt()
        if info == ffi.NULL or info_size_in < ffi.sizeof("nrt_model_info_t") or not isinstance(m, Model) \
                or m.unloaded or m.owner is not runtime:
            return int(S.NRT_INVALID)
        info.vnc = int(m.vnc)
        if info_size_out != ffi.NULL:
            info_size_out[0] = ffi.sizeof("nrt_model_info_t")
        return int(S.NRT_SUCCESS)

    @export()
    def nrt_get_vnc_memory_stats(vnc: int, stats: Any, stats_size_in: int, stats_size_out: Any) -> int:
        if stats == ffi.NULL or stats_size_out == ffi.NULL or stats_size_in < ffi.sizeof("nrt_vnc_memory_stats_t"):
            return int(S.NRT_INVALID)
        cell, size = Ref(), Ref()
        status = rt().nrt_get_vnc_memory_stats(int(vnc), cell, int(stats_size_in), size)
        if status == S.NRT_SUCCESS:
            stats.bytes_used, stats.bytes_limit = int(cell.value["bytes_used"]), int(cell.value["bytes_limit"])
            stats_size_out[0] = ffi.sizeof("nrt_vnc_memory_stats_t")
        return int(status)

    @export()
    def nrt_get_model_instance_count(model: Any, instance_count: Any) -> int:
        m = o(model)
        if instance_count == ffi.NULL or not isinstance(m, Model) or m.unloaded:
            return int(S.NRT_INVALID)
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
        return not_simulated("nrt_barrier", "NRT_STATUS", f"a barrier of {g_device_count} ranks")

    @export()
    def nrt_profile_start(model: Any, filename: Any) -> int:
        m = o(model)
        if not isinstance(m, Model) or m.unloaded or filename == ffi.NULL:
            return int(S.NRT_INVALID)
        state.recorder().profile(m, state.text(filename))
        return int(S.NRT_SUCCESS)

    @export()
    def nrt_profile_stop(filename: Any) -> int:
        if filename == ffi.NULL:
            return int(S.NRT_INVALID)
        return int(state.recorder().profile_stop(state.text(filename)))

    def new_object(kind: str, value: Any, ctype: str) -> Any:
        holder = ffi.new("char[16]")
        address = int(ffi.cast("uintptr_t", holder))
        state.c_objects[address] = (kind, value, holder)
        return ffi.cast(ctype, holder)

    def c_object(ptr: Any, kind: str) -> Any:
        found = state.c_objects.get(int(ffi.cast("uintptr_t", ptr))) if ptr != ffi.NULL else None
        return found[1] if found is not None and found[0] == kind else None

    def free_object(ptr: Any) -> None:
        if ptr != ffi.NULL:
            state.c_objects.pop(int(ffi.cast("uintptr_t", ptr)), None)

    @export()
    def nrt_sys_trace_config_allocate(options: Any) -> int:
        if options == ffi.NULL:
            return int(S.NRT_INVALID)
        options[0] = new_object("config", {"cores": set(), "types": set(EVENT_TYPES), "max": 0},
                                "nrt_sys_trace_config_t *")
        return int(S.NRT_SUCCESS)

    @export(error=None)
    def nrt_sys_trace_config_set_defaults(options: Any) -> None:
        config = c_object(options, "config")
        if config is not None:
            config.update(cores=set(), types=set(EVENT_TYPES), max=0)

    @export(error=None)
    def nrt_sys_trace_config_free(options: Any) -> None:
        free_object(options)

    @export(error=None)
    def nrt_sys_trace_config_set_max_events_per_nc(options: Any, max_events_per_nc: int) -> None:
        config = c_object(options, "config")
        if config is not None:
            config["max"] = int(max_events_per_nc)

    @export(error=None)
    def nrt_sys_trace_config_set_capture_enabled_for_nc(options: Any, nc_idx: int, enabled: bool) -> None:
        config = c_object(options, "config")
        if config is not None:
            (config["cores"].add if enabled else config["cores"].discard)(int(nc_idx))

    @export()
    def nrt_sys_trace_config_set_capture_enabled_for_event_type(options: Any, event_type: Any, enabled: bool) -> int:
        config = c_object(options, "config")
        name = state.text(event_type)
        if config is None or name not in EVENT_TYPES:
            return int(S.NRT_INVALID)
        (config["types"].add if enabled else config["types"].discard)(name)
        return int(S.NRT_SUCCESS)

    def string_list(names: list[str], out: Any, count: Any) -> int:
        if out == ffi.NULL or count == ffi.NULL:
            return int(S.NRT_INVALID)
        strings = [ffi.new("char[]", n.encode()) for n in names]
        array = ffi.new("const char *[]", strings + [ffi.NULL])
        state.c_objects[int(ffi.cast("uintptr_t", array))] = ("strings", strings, array)
        out[0] = array
        count[0] = len(names)
        return int(S.NRT_SUCCESS)

    @export()
    def nrt_sys_trace_get_event_types(event_types: Any, count: Any) -> int:
        return string_list(list(EVENT_TYPES), event_types, count)

    @export(error=None)
    def nrt_sys_trace_free_event_types(event_types: Any, count: int) -> None:
        free_object(event_types)

    @export()
    def nrt_sys_trace_config_get_enabled_event_types(options: Any, event_types: Any, count: Any) -> int:
        config = c_object(options, "config")
        if config is None:
            return int(S.NRT_INVALID)
        return string_list([t for t in EVENT_TYPES if t in config["types"]], event_types, count)

    @export()
    def nrt_sys_trace_start(options: Any) -> int:
        config: dict[str, Any] | None = (c_object(options, "config") if options != ffi.NULL
                                          else {"cores": set(), "types": set(EVENT_TYPES), "max": 0})
        if config is None:
            return int(S.NRT_INVALID)
        return int(state.recorder().start(dict(config, cores=set(config["cores"]), types=set(config["types"]))))

    @export()
    def nrt_sys_trace_stop() -> int:
        return int(state.recorder().stop())

    @export()
    def nrt_sys_trace_fetch_options_allocate(options: Any) -> int:
        if options == ffi.NULL:
            return int(S.NRT_INVALID)
        options[0] = new_object("fetch", {"nc": None, "max": 0}, "nrt_sys_trace_fetch_options_t *")
        return int(S.NRT_SUCCESS)

    @export(error=None)
    def nrt_sys_trace_fetch_options_set_defaults(options: Any) -> None:
        fetch = c_object(options, "fetch")
        if fetch is not None:
            fetch.update(nc=None, max=0)

    @export(error=None)
    def nrt_sys_trace_fetch_options_free(options: Any) -> None:
        free_object(options)

    @export(error=None)
    def nrt_sys_trace_fetch_options_set_max_events_per_nc(options: Any, max_events_per_nc: int) -> None:
        fetch = c_object(options, "fetch")
        if fetch is not None:
            fetch["max"] = int(max_events_per_nc)

    @export(error=None)
    def nrt_sys_trace_fetch_options_set_nc_idx(options: Any, nc_idx: int) -> None:
        fetch = c_object(options, "fetch")
        if fetch is not None:
            fetch["nc"] = int(nc_idx)

    @export()
    def nrt_sys_trace_fetch_events(buffer: Any, written_size: Any, options: Any) -> int:
        if buffer == ffi.NULL or written_size == ffi.NULL:
            return int(S.NRT_INVALID)
        fetch: dict[str, Any] | None = (c_object(options, "fetch") if options != ffi.NULL
                                         else {"nc": None, "max": 0})
        if fetch is None:
            return int(S.NRT_INVALID)
        status, text = state.recorder().fetch(fetch["nc"], fetch["max"])
        if status != S.NRT_SUCCESS:
            return int(status)
        data = text.encode()
        out = ffi.new("char[]", data + b"\0")
        state.c_objects[int(ffi.cast("uintptr_t", out))] = ("buffer", None, out)
        buffer[0] = out
        written_size[0] = len(data)
        return int(S.NRT_SUCCESS)

    @export(error=None)
    def nrt_sys_trace_buffer_free(buffer: Any) -> None:
        free_object(buffer)

    # -- everything else the headers declare: exported, not simulated ----------------------------------

    def not_simulated(name: str, kind: str, what: str = "") -> Any:
        if name not in state.told:
            state.told.add(name)
            returns = {"NRT_STATUS": "NRT_FAILURE", "void": "nothing"}.get(kind, "NULL" if "*" in kind else "0")
            log.error("NRT: %s is not simulated by neuronsim%s: it returns %s", name, f" ({what})" if what else "",
                      returns)
        if kind == "NRT_STATUS":
            return int(S.NRT_FAILURE)
        return None if kind == "void" else (ffi.NULL if "*" in kind else 0)

    from neuronsim.capi.build import _split, declarations

    for declaration in declarations(api)[1]:
        kind, name, _, _ = _split(declaration)
        if name in defined:
            continue
        error = {"NRT_STATUS": int(S.NRT_FAILURE), "void": None}.get(kind, ffi.NULL if "*" in kind else 0)

        def unsupported(*_args: Any, _name: str = name, _kind: str = kind) -> Any:
            return not_simulated(_name, _kind)

        unsupported.__name__ = name
        export(error=error)(unsupported)
    missing = set(exported(api)) - defined
    assert not missing, f"libnrt entry points without code: {sorted(missing)}"

