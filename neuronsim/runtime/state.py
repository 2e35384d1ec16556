"""The state of one simulated host process of the Neuron Runtime, and the operations the API calls.

:class:`ProcessState` holds what a process of ``libnrt`` holds: its logical cores, models, tensors and
tensor sets, its execution units (XU queues and their sequence numbers); on it build its device memory
(:class:`~neuronsim.runtime.memory.DeviceMemory`) and completion as it sees it
(:class:`~neuronsim.runtime.process.RuntimeProcess`). The mirror classes of the API layer (:mod:`neuronsim.api`:
the 3.0 and 2.28 ``nrt_*`` / ``nrta_*`` calls, the synchronous and implicit-async calls) extend
:class:`~neuronsim.runtime.process.RuntimeProcess`: each
call checks its C arguments and calls the operations here. An operation refuses a bad argument by
raising :class:`~neuronsim.runtime.checks._Status` (:mod:`neuronsim.runtime.checks`), which the call
returns as its status.

Direct mode: the caller is the process's own host thread (``caller=None``) and host costs advance
simulated time; a process-mode thread passes its :class:`~neuronsim.runtime.caller.ThreadCall`.
"""

from __future__ import annotations

import hashlib
import itertools
import logging
from collections.abc import Callable, Mapping
from enum import IntEnum
from typing import TYPE_CHECKING, Any

from neuronsim.hw.xu import ExecutionUnit
from neuronsim.idlist import IdListError, is_contiguous, parse_id_list
from neuronsim.nrt import NRT_STATUS, Ref
from neuronsim.runtime.checks import S, _host_buffer, _int, _refuse, _show, _Status
from neuronsim.runtime.log import TRACE, RuntimeLog
from neuronsim.runtime.neff import Neff
from neuronsim.runtime.neff_file import NeffError, load_kernels, neff_from_bytes
from neuronsim.units import MiB
from neuronsim.runtime.objects import Model, Tensor, TensorSet
from neuronsim.runtime.requests import CopyRequest, ExecuteRequest, ReadRequest, WriteRequest

if TYPE_CHECKING:
    from neuronsim.hw.channel import Channel
    from neuronsim.hw.system import CoreHW
    from neuronsim.runtime.caller import ThreadCall
    from neuronsim.sim.context import SimContext

__all__ = ["ProcessState", "API_KINDS", "HOST_TENSOR_MAX_BYTES", "SCRATCHPAD_PAGE_BYTES", "SCRATCHPAD_PAGE_ALIGN"]

log = logging.getLogger(__name__)


def _truthy(value: Any) -> bool:
    """An environment variable's boolean, as the runtime reads ``TRUE``/``1``/``yes``."""
    return str(value or "").strip().lower() in ("1", "true", "yes", "on")


HOST_TENSOR_MAX_BYTES = 4 * MiB  # nrt.h: a host-placed tensor "cannot be larger than 4MB"
SCRATCHPAD_PAGE_BYTES = 512 * MiB  # device-memory.rst: "The default scratchpad page size in Runtime is 512 MB"
SCRATCHPAD_PAGE_ALIGN = 4 * MiB  # the runtime's OOM line for a page: "(alignment: 4.000MB, usage: shared scratchpad)"
# hot-path statuses as module constants (an enum member read off its class costs ~100 ns in CPython 3.11)
_SUCCESS, _QUEUE_FULL, _UNRECOVERABLE = S.NRT_SUCCESS, S.NRT_QUEUE_FULL, S.NRT_EXEC_UNIT_UNRECOVERABLE
# the schedule call of each request kind, for the line of a call refused on a dead unit
_SCHEDULE_CALLS = {"tensor_write": "nrta_tensor_write", "tensor_read": "nrta_tensor_read",
                   "tensor_copy": "nrta_tensor_copy", "execute": "nrta_execute_schedule", "collective": "nrta_cc_schedule"}
API_KINDS = frozenset({"tensor_op", "compute", "collectives", "tensor_read", "tensor_write"})


class ProcessState:
    """The state of a simulated Neuron Runtime in one host process (``libnrt`` as that process sees it).

    The API generation's class (:class:`neuronsim.api.NrtRuntime`, :class:`neuronsim.api.NrtRuntime228`)
    gives its execution-unit types (``XU_TABLE``: ``(C enum value, kind)``) and its calls. Environment
    variables (``env``) are read at ``nrt_init`` as the real runtime reads them.
    """

    XU_TABLE: tuple[tuple[int, str], ...] = ()
    XU_ENUM: type[IntEnum] = IntEnum  # the generation's nrta_xu_t (rt.nrt.nrta_xu_t)

    API = ""

    CC_TIMEOUT_NS = 30_000_000_000  # the Collectives XU wait timeout: 30 s since SDK 2.29 (nrt-api.md §1.1)

    def __init__(self, sim: SimContext, env: Mapping[str, str] | None = None, instance: int = 0,
                 numa_node: int | None = None) -> None:
        self.sim = sim
        self._generation = 0  # counts nrt_init calls (stale polling threads stop)
        self._proxy_cpus: tuple[int, ...] = ()
        self.instance = instance
        # the NUMA node of the direct-mode host thread and its buffers; None: local to every device (A15)
        self.numa_node = numa_node
        self.system = sim.systems[instance]
        self.env = dict(env or {})
        self.api = self.API
        self._log = RuntimeLog(self.env, lambda: sim.env._now)  # noqa: SLF001 - NEURON_RT_LOG_LEVEL
        self._state = "new"  # new -> open -> closed (-> open again after nrt_init)
        self._costs = sim.topology.spec.runtime.call_costs
        self._cost_table = self._costs.model_dump()
        self._env = sim.env
        self._advance_to = sim.advance_to
        self._engines: dict[tuple[int, int, bool], Channel] = {}
        self._sync_units: dict[tuple[int, str], ExecutionUnit] = {}
        self.async_depth = 0  # NEURON_RT_ASYNC_EXEC_MAX_INFLIGHT_REQUESTS, read at nrt_init
        self.lnc = sim.topology.lnc  # NEURON_LOGICAL_NC_CONFIG / NEURON_RT_VIRTUAL_CORE_SIZE, read at nrt_init
        self.fail_on_nan = False  # NEURON_FAIL_ON_NAN=1 / NEURON_RT_NUMERICAL_ERRORS_VERBOSITY=critical
        self._async_callback: tuple[Callable, Any] | None = None
        self._async_pending: list[Any] = []
        self._job_ids = itertools.count(1)
        self._compute_type = next((t for t, kind in self.XU_TABLE if kind == "compute"), 1)
        self._cores: list[CoreHW] = []
        self._xus: dict[tuple[int, int, int], ExecutionUnit] = {}
        self._xu_by_id: dict[int, ExecutionUnit] = {}
        self._tensors: dict[int, Tensor] = {}  # live tensors by id (freed at nrt_close)
        self._scratchpad: dict[int, list[tuple[Any, int]]] = {}  # vnc -> shared scratchpad pages (pool, address)
        self.scratchpad_page_bytes = SCRATCHPAD_PAGE_BYTES  # NEURON_SCRATCHPAD_PAGE_SIZE, read at nrt_init
        self._models: dict[int, Model] = {}
        self._model_ids = itertools.count(10000)
        self.exec_timeout_ns = sim.topology.spec.runtime.exec_timeout_ns
        # a standalone collective waits this long for its peers (set before nrt_init to change it; 0: forever)
        self.cc_timeout_ns = self.CC_TIMEOUT_NS
        self.history: list[Any] = []
        self.observed: dict[int, int] = {}  # xu id -> highest completed number the host has seen
        self._races = sim.race_detector
        self._idle_polls = 0
        self._idle_queries = 0
        self._xu_fds: dict[int, tuple[Any, Callable]] = {}  # xu id -> (eventfd, listener)

    # -- lookups and argument checks ------------------------------------------------------------

    def _spend(self, cost_ns: int, caller: ThreadCall | None = None) -> None:
        if cost_ns and caller is None:  # a process-mode thread pays its costs as CPU time instead
            self.sim.advance_to(int(self.sim.env.now) + cost_ns)

    def _core(self, vnc: Any, what: str = "vnc") -> CoreHW:
        index = _int(vnc, what)
        if not 0 <= index < len(self._cores):
            _refuse(f"{what} {index} out of range 0..{len(self._cores) - 1} (this process's logical cores)")
        return self._cores[index]

    def _tensor(self, tensor: Any, what: str = "tensor") -> Tensor:
        if type(tensor) is not Tensor or tensor.freed or tensor.owner is not self:
            _refuse(self._why_not_tensor(tensor, what))
        return tensor

    def _why_not_tensor(self, tensor: Any, what: str) -> str:
        if isinstance(tensor, Ref):
            return f"{what} is {_show(tensor)}: pass its .value"
        if type(tensor) is not Tensor:
            return f"{what} is {_show(tensor)}, not an nrt_tensor_t"
        if tensor.freed:
            return f"{what} {tensor.name!r} was freed"
        return f"{what} {tensor.name!r} belongs to another runtime process"

    def _device_tensor(self, tensor: Any, what: str = "tensor") -> Tensor:
        t = self._tensor(tensor, what)
        if t.core_only is None:  # [RE]: host tensors are rejected by the async paths
            _refuse(f"{what} {t.name!r} is a host tensor; the nrta_* calls take device tensors")
        return t

    def _xu(self, vnc: Any, xu_type: Any, queue: Any, vnc_what: str = "lnc_idx") -> ExecutionUnit:
        if type(vnc) is not int or type(queue) is not int or type(xu_type) is not int:
            vnc, queue = _int(vnc, vnc_what), _int(queue, "queue")
            xu_type = self._xu_type(xu_type)
        xu = self._xus.get((vnc, xu_type, queue))
        if xu is None:
            if not 0 <= vnc < len(self._cores):
                _refuse(f"{vnc_what} {vnc} out of range 0..{len(self._cores) - 1} (this process's logical cores)")
            kind = dict(self.XU_TABLE).get(xu_type)
            if kind is None:
                _refuse(f"xu {xu_type} is not an execution-unit type of the {self.API} API ({self._xu_names()})")
            _refuse(f"queue {queue} out of range 0..{self._queue_count(kind) - 1} ({kind} queues)")
        return xu

    def _xu_names(self) -> str:
        return ", ".join(f"{member.name}={int(member)}" for member in self.XU_ENUM
                         if member.name != "NRTA_XU_TYPE_NUM")

    def _xu_type(self, xu: Any) -> int:
        """An ``nrta_xu_t`` argument as this generation's integer; a member of another enum (the other
        generation's ``nrta_xu_t``) is refused, as its value names a different unit here."""
        mine = self.XU_ENUM
        if isinstance(xu, IntEnum) and type(xu) is not mine:
            other = "3.0" if self.API != "3.0" else "2.28"
            here = next((m.name for m in mine if int(m) == int(xu)), None)
            right = getattr(mine, xu.name, None)
            _refuse(f"xu {xu.name} is the {other} API's value {int(xu)}" +
                    (f" (here {int(xu)} is {here})" if here else "") + f"; this runtime speaks {self.API}: use "
                    + (f"rt.nrt.{xu.name} ({int(right)})" if right is not None else
                       f"one of {self._xu_names()}"))
        return _int(xu, "xu")

    def _model(self, model: Any) -> Model:
        if not isinstance(model, Model) or model.unloaded or model.owner is not self:
            _refuse(f"model is {_show(model)}, not an nrt_model_t" if not isinstance(model, Model) else
                    f"model {model.neff.name!r} was unloaded" if model.unloaded else
                    f"model {model.neff.name!r} belongs to another runtime process")
        return model

    def _set(self, tensor_set: Any) -> TensorSet:
        if not isinstance(tensor_set, TensorSet) or tensor_set.destroyed or tensor_set.owner is not self:
            _refuse(f"tensor set is {_show(tensor_set)}" + (": pass its .value" if isinstance(tensor_set, Ref) else
                                                            ", not an nrt_tensor_set_t")
                    if not isinstance(tensor_set, TensorSet) else "tensor set was destroyed" if tensor_set.destroyed
                    else "tensor set belongs to another runtime process")
        return tensor_set

    @staticmethod
    def _range(tensor: Tensor, offset: Any, size: Any, what: str = "offset") -> tuple[int, int]:
        if type(offset) is int and type(size) is int:
            off, n = offset, size
        else:
            off, n = _int(offset, what), _int(size, "size")
        if off < 0 or n <= 0 or off + n > tensor.size:
            _refuse(f"{what} {off} + size {n} is outside tensor {tensor.name!r} of {tensor.size} bytes" if n > 0
                    and off >= 0 else f"{what} {off}, size {n}: need offset >= 0 and size > 0")
        return off, n

    def _io(self, neff_tensors: tuple, tensor_set: Any, what: str = "input") -> dict[str, Tensor]:
        s = self._set(tensor_set)
        tensors = s.tensors
        out = {}
        for name, size in neff_tensors:
            t = tensors.get(name)
            # names must match the NEFF's I/O names; "input tensor name/size does not match the model"
            if t is None:
                _refuse(f"{what} set has no tensor {name!r} (it has {sorted(tensors) or 'none'})")
            if t.size != size:
                _refuse(f"{what} tensor {name!r} has {t.size} bytes, the model's has {size}")
            if t.freed:
                _refuse(f"{what} tensor {name!r} was freed")
            if t.core_only is None:
                _refuse(f"{what} tensor {name!r} is a host tensor; executions take device tensors")
            out[name] = t
        return out

    def _unsupported_ranks(self, ranks: int, call: str, what: str) -> None:
        """Refuse a collective group of ``ranks`` ranks the runtime does not support on this instance (A60),
        after the runtime's own line."""
        message = self.sim.collectives.unsupported(ranks, call)
        if message is not None:
            self._log.log(logging.ERROR, call, "NRT:%s %s", call, message)
            _refuse(f"{what} {ranks}: the runtime supports no collective group of {ranks} ranks on "
                    f"{self.sim.topology.name} (A60)")

    # -- scheduling ------------------------------------------------------------------------------

    def _schedule(self, xu: ExecutionUnit, request: Any, req_sequence: Ref) -> NRT_STATUS:
        """Submit ``request`` to ``xu``; the status of the schedule call."""
        if self.async_depth and xu.kind in API_KINDS:  # implicit async and the explicit nrta_* API exclude each other
            _refuse("NEURON_RT_ASYNC_EXEC_MAX_INFLIGHT_REQUESTS (implicit async) is set: the explicit nrta_* calls "
                    "are refused in this mode (A23)")
        if xu.fatal_status is not None:
            return self._dead(xu, _SCHEDULE_CALLS.get(request.kind, "schedule"))
        if not xu.submit(request):
            if self._log.level is not None and self._log.level <= 10:
                self._log.log(10, "schedule", "%s is full (%d in flight) -> NRT_QUEUE_FULL", xu.name, xu.depth)
            return _QUEUE_FULL
        self._idle_polls = self._idle_queries = 0
        if self._races is not None:
            self._races.on_schedule(request, xu.xu_id, self.observed)
        req_sequence.value = request.seq_id
        if self._log.level == TRACE:
            self._log.log(TRACE, "schedule", "%s accepted %s as %#x", xu.name, type(request).__name__, request.seq_id)
        return _SUCCESS

    def _dead(self, xu: ExecutionUnit, call: str) -> NRT_STATUS:
        """``call`` refused on ``xu``, in its terminal state (A17): the runtime's line, and the status."""
        self._log.refused(call, f"{xu.name} is in its terminal state after {S(xu.fatal_status or 0).name}: nrt_close and "
                                f"nrt_init to use it again (A17)", _UNRECOVERABLE)
        return _UNRECOVERABLE

    def _transfer_engine(self, core: CoreHW, queue: int, to_device: bool) -> Channel:
        """The host DMA engine a tensor-op queue of ``core`` uses (A8), cached."""
        key = (core.id, queue, to_device)
        engine = self._engines.get(key)
        if engine is None:
            engines = core.device.h2d_engines if to_device else core.device.d2h_engines
            queues = self.sim.topology.spec.runtime.queues.tensor_op
            engine = self._engines[key] = engines[(core.local_index * queues + queue) % len(engines)]
        return engine

    def proxy_affinity(self, core: CoreHW) -> tuple[int, ...]:
        """The CPUs of ``core``'s network proxy thread: ``NEURON_RT_LOW_LATENCY_TASKS_CPU_AFFINITY`` if set
        (read at nrt_init), else the device's CPU affinity (neuron-ls CPU AFFINITY)."""
        if self._proxy_cpus:
            return self._proxy_cpus
        return self.sim.topology.spec.devices[core.device.index].cpus

    def _remote(self, core: CoreHW, caller: ThreadCall | None = None) -> bool:
        """Whether host memory (on the calling host thread's NUMA node) is remote to ``core``'s device (A4,
        A15)."""
        node = self.numa_node if caller is None else caller.numa_node
        return node is not None and core.device.numa_node != node

    def _write(self, t: Tensor, core: CoreHW, xu: ExecutionUnit, queue: int, buf: Any, offset: Any, size: Any,
               ret_cell: Any, seq_cell: Ref, caller: ThreadCall | None = None) -> NRT_STATUS:
        off, n = self._range(t, offset, size)
        host = None if (self.sim.timing_only and buf is None) else _host_buffer(buf, n, writable=False)
        request = WriteRequest(self.system, t, off, n, self._transfer_engine(core, queue, True), host,
                               ret_cell, self._remote(core, caller))
        return self._schedule(xu, request, seq_cell)

    def _read(self, t: Tensor, core: CoreHW, xu: ExecutionUnit, queue: int, buf: Any, offset: Any, size: Any,
              ret_cell: Any, seq_cell: Ref, caller: ThreadCall | None = None) -> NRT_STATUS:
        off, n = self._range(t, offset, size)
        host = None if (self.sim.timing_only and buf is None) else _host_buffer(buf, n, writable=True)
        request = ReadRequest(self.system, t, off, n, self._transfer_engine(core, queue, False), host,
                              ret_cell, self._remote(core, caller))
        return self._schedule(xu, request, seq_cell)

    def _copy(self, s: Tensor, core: CoreHW, xu: ExecutionUnit, src_offset: Any, dst: Any, dst_offset: Any,
              size: Any, ret_cell: Any, seq_cell: Ref) -> NRT_STATUS:
        d = self._device_tensor(dst, "dst")
        if s.core is not d.core:  # "must both be allocated on the SAME Neuron Core"
            _refuse(f"src {s.name!r} is on nc{s.vnc} and dst {d.name!r} on nc{d.vnc}: both must be on the same core")
        n = _int(size, "size")
        so, _ = self._range(s, src_offset, n, "src_offset")
        do, _ = self._range(d, dst_offset, n, "dst_offset")
        return self._schedule(xu, CopyRequest(self.system, core, s, so, d, do, n, ret_cell), seq_cell)

    def _execute(self, m: Model, xu: ExecutionUnit, input_set: Any, output_set: Any, ret_cell: Any,
                 seq_cell: Ref) -> NRT_STATUS:
        inputs = self._io(m.neff.input_sizes, input_set)
        outputs = self._io(m.neff.output_sizes, output_set, "output")
        request = ExecuteRequest(m, inputs, outputs, ret_cell, run_kernel=not self.sim.timing_only)
        if m.cc_count:
            request.service = self.sim.collectives
        return self._schedule(xu, request, seq_cell)

    # -- init: cores, execution units, polling threads ----------------------------------------------

    def _process_lnc(self) -> int:
        """The logical NeuronCore size this process asks for: ``NEURON_LOGICAL_NC_CONFIG`` or its older
        name ``NEURON_RT_VIRTUAL_CORE_SIZE`` (nrt-api.md §4; A74), else the simulator's LNC."""
        topo = self.sim.topology
        given: dict[str, int] = {}
        for name in ("NEURON_LOGICAL_NC_CONFIG", "NEURON_RT_VIRTUAL_CORE_SIZE"):
            text = self.env.get(name)
            if text is None:
                continue
            if text.strip() not in ("1", "2"):
                self._log.log(logging.ERROR, "nrt_init", "NRT:nrt_init %s=%s: LNC can only be set to 1 or 2", name,
                              text)
                _refuse(f"{name}={text!r}: LNC can only be set to 1 or 2")
            given[name] = int(text)
        if not given:
            return topo.lnc
        if len(set(given.values())) > 1:
            self._log.log(logging.ERROR, "nrt_init", "NRT:nrt_init NEURON_LOGICAL_NC_CONFIG=%d and "
                          "NEURON_RT_VIRTUAL_CORE_SIZE=%d disagree", given["NEURON_LOGICAL_NC_CONFIG"],
                          given["NEURON_RT_VIRTUAL_CORE_SIZE"])
            _refuse("NEURON_LOGICAL_NC_CONFIG and NEURON_RT_VIRTUAL_CORE_SIZE disagree")
        lnc = next(iter(given.values()))
        chip = topo.spec.chip
        allowed = chip.lnc.allowed if chip.lnc is not None else (1,)
        if lnc not in allowed:
            self._log.log(logging.ERROR, "nrt_init", "NRT:nrt_init LNC=%d is not supported on %s (%s)", lnc,
                          topo.spec.name, f"allowed: {list(allowed)}" if chip.lnc is not None else
                          "its cores are not grouped")
            _refuse(f"LNC={lnc} is not supported on {topo.spec.name}")
        return lnc

    def _owner_keys(self, topo: Any, ids: list[int]) -> list[tuple[int, int, int]]:
        """The physical cores behind logical cores ``ids`` of ``topo``: ``(instance, device, core)``;
        the runtime binds them to one process at a time, whatever LNC each process uses."""
        return [(self.instance, topo.logical_cores[c].device, p) for c in ids
                for p in topo.logical_cores[c].physical_cores]

    def _env_cores(self) -> list[int]:
        """Logical core ids (at this process's LNC) it asks for (NEURON_RT_VISIBLE_CORES / NUM_CORES)."""
        topo = self.sim.topology_at(self._process_lnc())
        total = len(topo.logical_cores)
        visible = self.env.get("NEURON_RT_VISIBLE_CORES")
        if visible is not None:
            try:
                ids = parse_id_list(visible)
            except IdListError as exc:
                _refuse(f"NEURON_RT_VISIBLE_CORES={visible!r}: {exc}")
            if not is_contiguous(ids):
                _refuse(f"NEURON_RT_VISIBLE_CORES={visible!r}: the resulting range must be contiguous")
            if max(ids) >= total:
                _refuse(f"NEURON_RT_VISIBLE_CORES={visible!r}: core {max(ids)} out of range 0..{total - 1}")
            return sorted(ids)
        num_text = self.env.get("NEURON_RT_NUM_CORES")
        if num_text is not None:
            try:
                wanted = int(num_text)
            except ValueError:
                _refuse(f"NEURON_RT_NUM_CORES={num_text!r} is not an integer")
            if wanted < 0 or wanted > total:
                _refuse(f"NEURON_RT_NUM_CORES={wanted}: the instance has {total} logical cores", S.NRT_RESOURCE)
            if wanted == 0:
                return list(range(total))
            owners = self.sim.core_owners
            free = [c for c in range(total) if not any(k in owners for k in self._owner_keys(topo, [c]))]
            for start in range(total - wanted + 1):
                run = list(range(start, start + wanted))
                if all(c in free for c in run):
                    return run
            self._log.log(logging.ERROR, "nrt_init", "NRT:nrt_allocate_neuron_cores NeuronCore(s) not available - "
                          "Requested:%d Available:%d", wanted, len(free))
            _refuse(f"NEURON_RT_NUM_CORES={wanted}: no {wanted} contiguous free cores ({len(free)} free)",
                    S.NRT_RESOURCE)
        return list(range(total))

    def _start_pollers(self) -> None:
        """The runtime's completion-polling threads (the seed: read, write and execute per core): on the
        device's CPUs, each polls briefly and yields while its queues have work, and sleeps otherwise."""
        sim = self.sim
        spawn = sim.spawn
        assert spawn is not None  # the composition root (Simulator) plugs it in before any runtime exists
        poll_ns, interval_ns = sim.poll_cpu_ns, sim.poll_interval_ns
        kinds = {"read": ("tensor_op", "tensor_read"), "write": ("tensor_op", "tensor_write"), "execute": ("compute",)}
        generation = self._generation
        for vnc, core in enumerate(self._cores):
            cpus = self.sim.topology.spec.devices[core.device.index].cpu_affinity
            for name, xu_kinds in kinds.items():
                units = [u for (v, _, _), u in self._xus.items() if v == vnc and u.kind in xu_kinds]

                def poller(thread: Any, units: list = units) -> Any:
                    while self._state == "open" and self._generation == generation:
                        if any(u.depth for u in units):
                            yield from thread.compute(poll_ns)  # one poll, then yield the CPU
                            yield thread.sleep(interval_ns)
                        else:
                            wake = sim.env.event()
                            for u in units:
                                u.on_submit.append(wake)
                            yield wake
                            for u in units:
                                if wake in u.on_submit:
                                    u.on_submit.remove(wake)

                spawn(poller, self, cpus=cpus, name=f"nc{vnc}/poll.{name}")

    def _queue_count(self, kind: str) -> int:
        queues = self.sim.topology.spec.runtime.queues
        return {"tensor_op": queues.tensor_op, "tensor_read": queues.tensor_op, "tensor_write": queues.tensor_op,
                "compute": queues.compute, "collectives": queues.collectives}[kind]

    def _make_xus(self) -> None:
        rt = self.sim.topology.spec.runtime
        self._xus.clear()
        self._xu_by_id.clear()
        self._xu_fds.clear()
        self._sync_units.clear()
        self.observed.clear()
        for vnc, core in enumerate(self._cores):
            for xu_type, kind in self.XU_TABLE:
                for queue in range(self._queue_count(kind)):
                    xu_id = xu_type | (queue << 4) | (vnc << 8)  # {type:4, queue:4, vnc:8} ([RE])
                    xu = ExecutionUnit(self.sim.env, f"nc{vnc}/xu.{kind}.{queue}", xu_id, rt.queue_capacity)
                    xu.history = self.history if self.sim.record else None
                    xu.kind, xu.queue, xu.core_id, xu.device_index = kind, queue, core.id, core.device.index
                    xu.instance = self.instance
                    xu.timeout_ns = self.cc_timeout_ns if kind == "collectives" else self.exec_timeout_ns
                    xu.faults = self.sim.fault_injector
                    self._xus[(vnc, xu_type, queue)] = xu
                    self._xu_by_id[xu_id] = xu

    def _neff_from_bytes(self, data: bytes, call: str = "nrt_load") -> Neff:
        """The Neff of NEFF bytes; the same bytes give the same Neff in one simulation, as one NEFF file
        loaded on every rank is one model (``nrt_load_collectives`` ranks meet per NEFF). Bad bytes log
        why and raise ``_Status`` with the status ``nrt_load`` returns."""
        kernels = self.env.get("NEURONSIM_KERNELS") or None
        validate = _truthy(self.env.get("NEURON_RT_VALIDATE_HASH"))
        key = (hashlib.sha256(data).digest(), kernels, validate)
        cache = self.sim.neff_files
        found = cache.get(key)
        if found is None:
            finder = self.sim.kernel_finders
            if kernels and kernels not in finder:
                finder[kernels] = load_kernels(kernels)  # an import error is the user's: it surfaces
            try:
                found = neff_from_bytes(data, validate_hash=validate, kernels=finder.get(kernels) if kernels else None)
            except NeffError as exc:
                raise _Status(exc.status, str(exc)) from None
            cache[key] = found
        return found

    # -- Python-side conveniences (not part of the C surface) -------------------------------------

    @property
    def visible_cores(self) -> tuple[int, ...]:
        """Global logical core ids this process holds (in-process ids are their positions)."""
        return tuple(core.id for core in self._cores)

    def execution_unit(self, vnc: int, xu: int, queue: int) -> ExecutionUnit:
        """The execution unit behind ``(vnc, xu, queue)`` (for inspection and tests)."""
        return self._xus[(vnc, int(xu), queue)]

    def execution_units(self) -> list[ExecutionUnit]:
        return list(self._xus.values())

    def request(self, seq: int) -> Any:
        """The request with sequence id ``seq`` (needs ``Simulator(record=True)``)."""
        for req in self.history:
            if req.seq_id == seq:
                return req
        raise KeyError(seq)
