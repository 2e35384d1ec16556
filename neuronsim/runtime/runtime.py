"""One simulated host process of the Neuron Runtime: what every API generation shares.

``RuntimeBase`` holds a process's state (its cores, models, tensors, execution units) and the
``nrt_*`` calls and completion queries common to the 3.0 API (:mod:`neuronsim.runtime.nrta`) and the
2.28 API (:mod:`neuronsim.runtime.nrta_2_28`). Mirror methods take the C arguments in C order and
return an ``NRT_STATUS``; out-parameters are ``nrt.Ref`` cells. A bad argument returns the status the
real runtime returns (reference/nrt-api.md; choices where it is silent are in docs/assumptions.md
A10-A14) and never raises.

Direct mode: every call first spends its host cost (``runtime.call_costs``) in simulated time, during
which the devices run; then it acts. A poll therefore sees progress and a polling loop terminates.
"""

from __future__ import annotations

import hashlib
import itertools
import logging
from collections.abc import Callable, Mapping
from enum import IntEnum
from typing import TYPE_CHECKING, Any

from neuronsim.errors import NeuronSimError
from neuronsim.hw.memory import MemoryPool, SparseBytes
from neuronsim.hw.xu import ExecutionUnit
from neuronsim.idlist import IdListError, is_contiguous, parse_id_list
from neuronsim.nrt import (
    NRT_STATUS,
    Ref,
    nrt_framework_type_t,
    nrt_tensor_placement_t,
    nrt_tensor_usage_t,
)
from neuronsim.runtime.cc import CollectivesMixin
from neuronsim.runtime.completion import CompletionMixin
from neuronsim.runtime.log import TRACE, RuntimeLog
from neuronsim.runtime.mirror import S, _enum, _host_buffer, _int, _mirror, _ref, _refuse, _show, _Status, _with_caller
from neuronsim.runtime.neff import Neff
from neuronsim.runtime.neff_file import NeffError, check_target, load_kernels, neff_from_bytes
from neuronsim.runtime.objects import Allocation, Model, Tensor, TensorInfo, TensorInfoArray, TensorSet
from neuronsim.runtime.requests import (
    CopyRequest,
    ExecuteRequest,
    ReadRequest,
    WriteRequest,
)
from neuronsim.runtime.sync import ASYNC_HARD_LIMIT, SyncMixin
from neuronsim.units import MiB, UnitError, parse_time_ns

if TYPE_CHECKING:
    from neuronsim.hw.channel import Channel
    from neuronsim.runtime.caller import ThreadCall
    from neuronsim.hw.system import CoreHW
    from neuronsim.sim.context import SimContext

__all__ = ["RuntimeBase", "_mirror", "_ref", "_int", "_host_buffer", "_Status"]

log = logging.getLogger(__name__)


def _truthy(value: Any) -> bool:
    """An environment variable's boolean, as the runtime reads ``TRUE``/``1``/``yes``."""
    return str(value or "").strip().lower() in ("1", "true", "yes", "on")

HOST_TENSOR_MAX_BYTES = 4 * MiB  # nrt.h: a host-placed tensor "cannot be larger than 4MB"
SCRATCHPAD_PAGE_BYTES = 512 * MiB  # device-memory.rst: "The default scratchpad page size in Runtime is 512 MB"
SCRATCHPAD_PAGE_ALIGN = 4 * MiB  # the runtime's OOM line for a page: "(alignment: 4.000MB, usage: shared scratchpad)"


def format_bytes(n: int) -> str:
    """Bytes as the runtime's memory reports print them: ``4.000GB``, ``512.000MB``, ``0.000B``
    (binary multiples, three decimals; device-memory.rst)."""
    for unit, scale in (("GB", 1 << 30), ("MB", 1 << 20), ("KB", 1 << 10)):
        if n >= scale:
            return f"{n / scale:.3f}{unit}"
    return f"{n:.3f}B"
# hot-path statuses as module constants (an enum member read off its class costs ~100 ns in CPython 3.11)
_SUCCESS, _QUEUE_FULL, _UNRECOVERABLE = S.NRT_SUCCESS, S.NRT_QUEUE_FULL, S.NRT_EXEC_UNIT_UNRECOVERABLE
API_KINDS = frozenset({"tensor_op", "compute", "collectives", "tensor_read", "tensor_write"})


class RuntimeBase(SyncMixin, CollectivesMixin, CompletionMixin):
    """A simulated Neuron Runtime in one host process (``libnrt`` as that process sees it).

    Created by :meth:`neuronsim.Simulator.runtime`. Environment variables (``env``) are read at
    ``nrt_init`` as the real runtime reads them. Subclasses give the API generation's execution-unit
    types (``XU_TABLE``: ``(C enum value, kind)``) and its ``nrta_*`` schedule calls.
    """

    XU_TABLE: tuple[tuple[int, str], ...] = ()
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

    # -- helpers ----------------------------------------------------------------------------------

    def _spend(self, cost_ns: int, caller: ThreadCall | None = None) -> None:
        if cost_ns and caller is None:  # a process-mode thread pays its costs as CPU time instead
            self.sim.advance_to(self.sim.env.now + cost_ns)

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
        return ", ".join(f"{member.name}={int(member)}" for member in self.nrt.nrta_xu_t
                         if member.name != "NRTA_XU_TYPE_NUM")

    def _xu_type(self, xu: Any) -> int:
        """An ``nrta_xu_t`` argument as this generation's integer; a member of another enum (the other
        generation's ``nrta_xu_t``) is refused, as its value names a different unit here."""
        mine = self.nrt.nrta_xu_t
        if isinstance(xu, IntEnum) and type(xu) is not mine:
            other = "3.0" if self.API != "3.0" else "2.28"
            here = next((m.name for m in mine if int(m) == int(xu)), None)
            right = getattr(mine, xu.name, None)
            _refuse(f"xu {xu.name} is the {other} API's value {int(xu)}" +
                    (f" (here {int(xu)} is {here})" if here else "") + f"; this runtime speaks {self.API}: use "
                    + (f"rt.nrt.{xu.name} ({int(right)})" if right is not None else
                       f"one of {self._xu_names()}"))
        return _int(xu, "xu")

    def _schedule(self, xu: ExecutionUnit, request: Any, req_sequence: Ref) -> NRT_STATUS:
        """Submit ``request`` to ``xu``; the status of the schedule call."""
        if self.async_depth and xu.kind in API_KINDS:  # implicit async and the explicit nrta_* API exclude each other
            _refuse("NEURON_RT_ASYNC_EXEC_MAX_INFLIGHT_REQUESTS (implicit async) is set: the explicit nrta_* calls "
                    "are refused in this mode (A23)")
        if xu.fatal_status is not None:
            return _UNRECOVERABLE
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

    # -- init / close -----------------------------------------------------------------------------

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

    @_mirror(None, needs_init=False)
    def nrt_init(self, framework: Any, fw_version: Any, fal_version: Any, *,
                 caller: ThreadCall | None = None) -> NRT_STATUS:
        """``NRT_STATUS nrt_init(nrt_framework_type_t framework, const char *fw_version, const char *fal_version)``."""
        if self._state == "open":
            _refuse("already initialized (call nrt_close first)", S.NRT_FAILURE)
        if _enum(framework, nrt_framework_type_t, "framework") == nrt_framework_type_t.NRT_FRAMEWORK_TYPE_INVALID:
            _refuse("framework is NRT_FRAMEWORK_TYPE_INVALID")
        self._spend(self._costs.init_ns, caller)
        timeout = self.env.get("NEURON_RT_EXEC_TIMEOUT")
        if timeout is not None:
            try:
                self.exec_timeout_ns = parse_time_ns(f"{int(timeout)} s")
            except (ValueError, UnitError):
                _refuse(f"NEURON_RT_EXEC_TIMEOUT={timeout!r} is not a number of seconds")
        depth_text = self.env.get("NEURON_RT_ASYNC_EXEC_MAX_INFLIGHT_REQUESTS")
        self.async_depth = 0
        if depth_text is not None:
            try:
                self.async_depth = min(int(depth_text), ASYNC_HARD_LIMIT)  # "the hard limit of 63"
            except ValueError:
                _refuse(f"NEURON_RT_ASYNC_EXEC_MAX_INFLIGHT_REQUESTS={depth_text!r} is not an integer")
            if self.async_depth < 0:
                _refuse(f"NEURON_RT_ASYNC_EXEC_MAX_INFLIGHT_REQUESTS={depth_text!r} is negative")
        self.fail_on_nan = (self.env.get("NEURON_FAIL_ON_NAN", "").strip() == "1"
                            or self.env.get("NEURON_RT_NUMERICAL_ERRORS_VERBOSITY", "").strip().lower() == "critical")
        page_text = self.env.get("NEURON_SCRATCHPAD_PAGE_SIZE")  # MB; "a multiple of 512 and less than 4096"
        self.scratchpad_page_bytes = SCRATCHPAD_PAGE_BYTES
        if page_text is not None:
            try:
                page_mb = int(page_text)
            except ValueError:
                _refuse(f"NEURON_SCRATCHPAD_PAGE_SIZE={page_text!r} is not an integer (MB)")
            if page_mb <= 0 or page_mb % 512 or page_mb >= 4096:
                self._log.log(logging.ERROR, "nrt_init", "NRT:nrt_init NEURON_SCRATCHPAD_PAGE_SIZE=%s: the size must "
                              "be a multiple of 512 and less than 4096 (MB)", page_text)
                _refuse(f"NEURON_SCRATCHPAD_PAGE_SIZE={page_text!r} is not a multiple of 512 below 4096 (MB)")
            self.scratchpad_page_bytes = page_mb * MiB
        proxy_text = self.env.get("NEURON_RT_LOW_LATENCY_TASKS_CPU_AFFINITY")
        self._proxy_cpus: tuple[int, ...] = ()
        if proxy_text is not None:
            try:
                self._proxy_cpus = parse_id_list(proxy_text)
            except IdListError as exc:
                _refuse(f"NEURON_RT_LOW_LATENCY_TASKS_CPU_AFFINITY={proxy_text!r}: {exc}")
            vcpus = self.sim.topology.spec.host.vcpus
            if any(c >= vcpus for c in self._proxy_cpus):
                _refuse(f"NEURON_RT_LOW_LATENCY_TASKS_CPU_AFFINITY={proxy_text!r}: the host has CPUs 0..{vcpus - 1}")
        lnc = self._process_lnc()
        ids = self._env_cores()
        topo = self.sim.topology_at(lnc)
        keys = self._owner_keys(topo, ids)
        if any(k in self.sim.core_owners for k in keys):
            free = sum(not any(k in self.sim.core_owners for k in self._owner_keys(topo, [c]))
                       for c in range(len(topo.logical_cores)))
            self._log.log(logging.ERROR, "nrt_init", "NRT:nrt_allocate_neuron_cores NeuronCore(s) not available - "
                          "Requested:nc%d-nc%d Available:%d", ids[0], ids[-1], free)
            _refuse(f"cores nc{ids[0]}-nc{ids[-1]} are held by another runtime process", S.NRT_RESOURCE)
        for key in keys:
            self.sim.core_owners[key] = self
        self.lnc = lnc
        cores = self.sim.cores_at(self.instance, lnc)
        self._cores = [cores[c] for c in ids]
        self._make_xus()
        self._state = "open"
        self._generation += 1
        if self.sim.polling_threads:
            self._start_pollers()
        self._log.log(logging.INFO, "nrt_init", "nrt_init: API %s, logical cores nc%d-nc%d of instance %d", self.API,
                      ids[0], ids[-1], self.instance)
        return S.NRT_SUCCESS

    def _start_pollers(self) -> None:
        """The runtime's completion-polling threads (the seed: read, write and execute per core): on the
        device's CPUs, each polls briefly and yields while its queues have work, and sleeps otherwise."""
        sim = self.sim
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

                sim.spawn(poller, self, cpus=cpus, name=f"nc{vnc}/poll.{name}")

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

    @_mirror(None, needs_init=False)
    def nrt_close(self, *, caller: ThreadCall | None = None) -> NRT_STATUS:
        """``void nrt_close()``: releases the cores, models and tensors of this process."""
        if self._state != "open":
            return S.NRT_SUCCESS
        self._spend(self._costs.init_ns, caller)
        for key in [key for key, owner in self.sim.core_owners.items() if owner is self]:
            del self.sim.core_owners[key]
        for model in list(self._models.values()):
            self._release_model(model)
        for t in list(self._tensors.values()):
            self._free_tensor(t)  # its handle is refused from now on, also after a new nrt_init
        self._scratchpad.clear()
        self._state = "closed"
        return S.NRT_SUCCESS

    # -- counts and info --------------------------------------------------------------------------

    @_mirror(None, needs_init=False)
    def nrt_get_total_vnc_count(self, vnc_count: Any) -> NRT_STATUS:
        """``nrt_get_total_vnc_count(uint32_t *vnc_count)``: every logical core of the instance."""
        _ref(vnc_count, "vnc_count").value = len(self.sim.topology_at(self._process_lnc()).logical_cores)
        return S.NRT_SUCCESS

    nrt_get_total_nc_count = nrt_get_total_vnc_count  # (deprecated twin)

    @_mirror(None, needs_init=False)
    def nrt_get_visible_vnc_count(self, vnc_count: Any) -> NRT_STATUS:
        """``nrt_get_visible_vnc_count(uint32_t *vnc_count)``: after NEURON_RT_VISIBLE_CORES / NUM_CORES."""
        cell = _ref(vnc_count, "vnc_count")
        cell.value = len(self._cores) if self._state == "open" else len(self._env_cores())
        return S.NRT_SUCCESS

    nrt_get_visible_nc_count = nrt_get_visible_vnc_count  # (deprecated twin)

    @_mirror(None, needs_init=False)
    def nrt_get_instance_info(self, info: Any, instance_info_len: Any) -> NRT_STATUS:
        """``nrt_get_instance_info(nrt_instance_info_t *info, size_t len)``: fills a dict-like record."""
        spec = self.sim.topology.spec
        _ref(info, "info").value = {"family": spec.nrt_instance_family, "size": spec.nrt_instance_size,
                            "arch_name": spec.chip.name, "device_revision": spec.chip.nc_version}
        return S.NRT_SUCCESS

    # -- models -----------------------------------------------------------------------------------

    @_mirror("load_ns")
    def nrt_load(self, neff: Any, vnc: Any, vnc_count: Any, model: Any) -> NRT_STATUS:
        """``nrt_load(const void *neff_bytes, size_t size, int32_t vnc, int32_t vnc_count, nrt_model_t **model)``.

        The Python mirror takes a :class:`neuronsim.Neff`, or the bytes of a compiled ``.neff`` file or
        of a neuronsim NEFF description, in place of the bytes and their size (DESIGN.md: ``(neff, vnc,
        vnc_count, model_out)``; :mod:`neuronsim.runtime.neff_file`). Bad bytes return the status the
        runtime gives (``NRT_INVALID``, ``NRT_UNSUPPORTED_NEFF_VERSION``) and log why; a NEFF compiled for
        another chip is ``NRT_INVALID``; one needing more cores than are free from ``vnc`` is
        ``NRT_LOAD_NOT_ENOUGH_NC``. ``vnc`` -1 picks the first core with no model loaded; ``vnc_count``
        is deprecated and must be -1 or 1.
        """
        out = _ref(model, "model")
        if isinstance(neff, (bytes, bytearray, memoryview)):
            neff = self._neff_from_bytes(bytes(neff))
        if not isinstance(neff, Neff):
            _refuse(f"neff is {_show(neff)}, not a NEFF")
        index, count = _int(vnc, "vnc"), _int(vnc_count, "vnc_count")
        if count not in (-1, 1):
            _refuse(f"vnc_count {count}: it is deprecated and must be -1 or 1")
        try:
            check_target(neff, self.sim.topology.spec.chip.nc_version, _truthy(self.env.get("NEURON_RT_ALLOW_LEGACY_NEFF")))
        except NeffError as exc:
            _refuse(str(exc), exc.status)
        used = {m.vnc for m in self._models.values()}
        if index == -1:
            free = [i for i in range(len(self._cores)) if i not in used]
            if not free:
                _refuse(f"vnc -1: every one of the {len(self._cores)} logical cores has a model loaded",
                        S.NRT_LOAD_NOT_ENOUGH_NC)
            index = free[0]
        core = self._core(index)
        if neff.cores > 1 and index + neff.cores > len(self._cores):
            _refuse(f"{neff.name} needs {neff.cores} NeuronCores from nc{index}, {len(self._cores)} are visible",
                    S.NRT_LOAD_NOT_ENOUGH_NC)
        memory = self._take_model_memory(core, index, neff)
        loaded = Model(neff, index, core, self, next(self._model_ids))
        loaded.memory = memory
        self._models[id(loaded)] = loaded
        out.value = loaded
        return S.NRT_SUCCESS

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

    @_mirror("load_ns")
    def nrt_load_collectives(self, neff: Any, vnc: Any, vnc_count: Any, ctx_device_id: Any, ctx_device_count: Any,
                             model: Any) -> NRT_STATUS:
        """``nrt_load_collectives(const void *neff_bytes, size_t size, int32_t vnc, int32_t vnc_count,
        uint32_t ctx_device_id, uint32_t ctx_device_count, nrt_model_t **model)``: as ``nrt_load``, as rank
        ``ctx_device_id`` of the ``ctx_device_count`` copies of this NEFF; executions of the copies meet at
        each collective the NEFF declares (``Neff(collectives=...)``)."""
        out = _ref(model, "model")
        rank, count = _int(ctx_device_id, "ctx_device_id"), _int(ctx_device_count, "ctx_device_count")
        if count < 1 or not 0 <= rank < count:
            _refuse(f"ctx_device_id {rank} out of range 0..{count - 1} (ctx_device_count {count})")
        self._unsupported_ranks(count, "nrt_load_collectives", "ctx_device_count")
        if isinstance(neff, (bytes, bytearray, memoryview)):
            neff = self._neff_from_bytes(bytes(neff), "nrt_load_collectives")
        if not isinstance(neff, Neff):
            _refuse(f"neff is {_show(neff)}, not a NEFF")
        for spec in neff.collectives:
            if spec.input is not None:  # all-gather writes count inputs, reduce-scatter a count-th of one
                src, dst = neff.tensor(spec.input).size_bytes, neff.tensor(spec.output).size_bytes
                if (spec.operation == "allgather" and dst != src * count) or \
                        (spec.operation == "reducescatter" and src != dst * count):
                    _refuse(f"the NEFF's {spec.operation} of {spec.input!r} ({src} bytes) into {spec.output!r} "
                            f"({dst} bytes) does not fit ctx_device_count {count}")
        key = (id(neff), count, rank)
        taken = self.sim.collectives.neff_ranks
        if key in taken and not taken[key].unloaded:
            _refuse(f"rank {rank} of {count} of this NEFF is already loaded")
        status = self.nrt_load.__wrapped__(self, neff, vnc, vnc_count, out)
        if status == S.NRT_SUCCESS:
            out.value.cc_rank, out.value.cc_count = rank, count
            taken[key] = out.value
        return status

    @_mirror("load_ns")
    def nrt_unload(self, model: Any) -> NRT_STATUS:
        """``nrt_unload(nrt_model_t *model)``."""
        self._release_model(self._model(model))
        return S.NRT_SUCCESS

    def _model(self, model: Any) -> Model:
        if not isinstance(model, Model) or model.unloaded or model.owner is not self:
            _refuse(f"model is {_show(model)}, not an nrt_model_t" if not isinstance(model, Model) else
                    f"model {model.neff.name!r} was unloaded" if model.unloaded else
                    f"model {model.neff.name!r} belongs to another runtime process")
        return model

    @_mirror("tensor_ns")
    def nrt_get_model_tensor_info(self, model: Any, tensor_info: Any) -> NRT_STATUS:
        """``nrt_get_model_tensor_info(nrt_model_t *model, nrt_tensor_info_array_t **tensor_info)``."""
        out = _ref(tensor_info, "tensor_info")
        neff = self._model(model).neff
        infos = [TensorInfo(t.name, nrt_tensor_usage_t.NRT_TENSOR_USAGE_INPUT, t.size_bytes, int(t.nrt_dtype), t.shape)
                 for t in neff.inputs]
        infos += [TensorInfo(t.name, nrt_tensor_usage_t.NRT_TENSOR_USAGE_OUTPUT, t.size_bytes, int(t.nrt_dtype),
                             t.shape) for t in neff.outputs]
        out.value = TensorInfoArray(tuple(infos))
        return S.NRT_SUCCESS

    @_mirror(None)
    def nrt_free_model_tensor_info(self, tensor_info: Any) -> NRT_STATUS:
        """``nrt_free_model_tensor_info(nrt_tensor_info_array_t *tensor_info)``."""
        if not isinstance(tensor_info, TensorInfoArray):
            _refuse(f"tensor_info is {_show(tensor_info)}, not an nrt_tensor_info_array_t")
        return S.NRT_SUCCESS

    @_mirror(None)
    def nrt_get_model_vnc_count(self, model: Any, vnc_count: Any) -> NRT_STATUS:
        """``nrt_get_model_vnc_count(const nrt_model_t *model, uint32_t *vnc_count)`` (deprecated)."""
        out = _ref(vnc_count, "vnc_count")
        out.value = self._model(model).neff.cores
        return S.NRT_SUCCESS

    nrt_get_model_nc_count = nrt_get_model_vnc_count

    # -- tensors ----------------------------------------------------------------------------------

    @_mirror("tensor_ns")
    def nrt_tensor_allocate(self, tensor_placement: Any, vnc: Any, size: Any, name: Any, tensor: Any) -> NRT_STATUS:
        """``nrt_tensor_allocate(nrt_tensor_placement_t placement, int vnc, size_t size, const char *name,
        nrt_tensor_t **tensor)``. Device tensors take HBM from the core's stack (``NRT_RESOURCE`` when it
        is exhausted); host tensors are limited to 4 MB as the header says."""
        out = _ref(tensor, "tensor")
        placement = _enum(tensor_placement, nrt_tensor_placement_t, "tensor_placement")
        nbytes = _int(size, "size")
        if nbytes <= 0:
            _refuse(f"size {nbytes} must be > 0")
        if name is not None and not isinstance(name, str):
            _refuse(f"name is {_show(name)}, not a string")
        label = name or ""
        index = _int(vnc, "vnc")
        if placement == nrt_tensor_placement_t.NRT_TENSOR_PLACEMENT_DEVICE:
            core = self._core(index)
            stack = core.hbm
            address = self._hbm_take(core, nbytes, "tensors")
            if address is None:
                self._log.log(logging.ERROR, "nrt_tensor_allocate", "NRT:nrt_tensor_allocate Failed to allocate nrt "
                              "tensor %s", label or "UNNAMED")
                _refuse(f"failed to allocate {nbytes} bytes for tensor {label!r} on nc{index}", S.NRT_RESOURCE)
            storage = None if self.sim.timing_only else SparseBytes(nbytes)
            alloc = Allocation(stack.pool, nbytes, storage, core.hbm_index, stack.channel, core.device.index,
                               address)
        elif placement == nrt_tensor_placement_t.NRT_TENSOR_PLACEMENT_HOST:
            if nbytes > HOST_TENSOR_MAX_BYTES:
                _refuse(f"size {nbytes}: a host tensor cannot be larger than 4MB", S.NRT_RESOURCE)
            core = self._core(index) if index != -1 else (self._cores[0] if self._cores else None)
            pool: MemoryPool = self.sim.host_memory
            address = pool.allocate(nbytes, usage="tensors")
            if address is None:
                _refuse(f"failed to allocate {nbytes} bytes of host memory", S.NRT_RESOURCE)
            storage = None if self.sim.timing_only else SparseBytes(nbytes)
            alloc = Allocation(pool, nbytes, storage, -1, None, address=address)
        else:
            _refuse("NRT_TENSOR_PLACEMENT_VIRTUAL is not supported (removed in runtime 2.32)")
        t = Tensor(label, nbytes, 0, placement, index, core, alloc, self)
        self._tensors[id(t)] = t
        out.value = t
        return S.NRT_SUCCESS

    @_mirror("tensor_ns")
    def nrt_tensor_allocate_slice(self, tensor_source: Any, offset: Any, size: Any, name: Any,
                                  tensor_slice: Any) -> NRT_STATUS:
        """``nrt_tensor_allocate_slice(const nrt_tensor_t *src, size_t offset, size_t size, const char *name,
        nrt_tensor_t **slice)``: shares the source's memory, reference-counted."""
        out = _ref(tensor_slice, "tensor_slice")
        src = self._tensor(tensor_source, "tensor_source")
        off, n = self._range(src, offset, size)
        src.alloc.refs += 1
        t = Tensor(name or "", n, src.offset + off, src.placement, src.vnc, src.core, src.alloc, self)
        self._tensors[id(t)] = t
        out.value = t
        return S.NRT_SUCCESS

    @_mirror("tensor_ns")
    def nrt_tensor_free(self, tensor: Any) -> NRT_STATUS:
        """``void nrt_tensor_free(nrt_tensor_t **tensor)``: frees and sets ``*tensor = NULL``.

        Takes the ``Ref`` that holds the tensor (or the tensor itself)."""
        cell = tensor if isinstance(tensor, Ref) else None
        t = self._tensor(cell.value if cell is not None else tensor)
        self._free_tensor(t)
        if cell is not None:
            cell.value = None
        return S.NRT_SUCCESS

    def _free_tensor(self, t: Tensor) -> None:
        """The handle dies now; its memory goes back when its last tensor is freed and every accepted
        request that uses it has completed (A72)."""
        t.freed = True
        self._tensors.pop(id(t), None)
        alloc = t.alloc
        alloc.refs -= 1
        if alloc.refs:
            return
        users = []
        if self.sim.env.peek() == float("inf"):  # nothing in flight anywhere
            alloc.release()
            return
        for xu in (*self._xus.values(), *self._sync_units.values()):
            if xu.completed_num == xu.next_num - 1:  # its queue is empty (attribute reads: a hot loop)
                continue
            last = 0
            for request in xu.pending():
                if any(a is alloc for a, *_ in request.accesses()):
                    last = request.seq_num
            if last:
                users.append((xu, last))
        if not users:
            alloc.release()
            return
        self._log.log(logging.WARNING, "nrt_tensor_free", "NRT:nrt_tensor_free tensor %s is used by %d accepted "
                      "request(s) not yet complete; its memory is released when they complete", t.name or "UNNAMED",
                      len(users))
        left = [len(users)]

        def watch(xu: ExecutionUnit, last: int) -> None:
            def listener(unit: ExecutionUnit, request: Any) -> None:
                if request.seq_num < last:
                    return
                unit.listeners.remove(listener)
                left[0] -= 1
                if not left[0]:
                    alloc.release()

            xu.listeners.append(listener)

        for xu, last in users:
            watch(xu, last)

    # -- device memory ----------------------------------------------------------------------------

    def _hbm_take(self, core: CoreHW, nbytes: int, usage: str, align: int = 0) -> int | None:
        """``nbytes`` of ``core``'s HBM stack for ``usage``; its address, or ``None`` after the runtime's
        out-of-memory report (device-memory.rst: ``TDRV:log_dev_mem Failed to allocate ...``)."""
        pool = core.hbm.pool
        address = pool.allocate(nbytes, align, usage)
        if address is None:
            self._log.log(logging.ERROR, "log_dev_mem", "TDRV:log_dev_mem Failed to allocate %s (alignment: %s, "
                          "usage: %s) on ND %d:NC %d", format_bytes(nbytes), format_bytes(align) if align else "none",
                          usage, core.device.index, core.local_index)
            columns = " | ".join(f"{name} {format_bytes(size)}" for name, size in sorted(pool.usage.items())
                                 if size)
            self._log.log(logging.ERROR, "log_dev_mem_usage_table", "TDRV:log_dev_mem_usage_table Displaying Current "
                          "Memory Utilization:\nND %d HBM %d | TOTAL %s | %s | free %s (largest free range %s)",
                          core.device.index, core.hbm_index, format_bytes(pool.used_bytes), columns,
                          format_bytes(pool.free_bytes), format_bytes(pool.largest_free()))
        return address

    def _take_model_memory(self, core: CoreHW, vnc: int, neff: Neff) -> list[tuple[Any, int]]:
        """What loading ``neff`` on ``vnc`` takes from its HBM: its weights, its I/O and any pages the
        core's shared scratchpad must grow by; all or nothing (``NRT_RESOURCE``)."""
        pool = core.hbm.pool
        taken: list[tuple[Any, int]] = []
        try:
            for usage, size in (("model constants", neff.weights_bytes), ("model io", neff.io_device_bytes)):
                if size:
                    address = self._hbm_take(core, size, usage)
                    if address is None:
                        raise _Status(S.NRT_RESOURCE, f"{neff.name}: {usage} of {size} bytes do not fit nc{vnc}'s HBM")
                    taken.append((pool, address))
            need = max([neff.scratchpad_bytes] + [m.neff.scratchpad_bytes for m in self._models.values()
                                                   if m.vnc == vnc])
            self._fit_scratchpad(core, vnc, need)
        except _Status:
            for owner, address in taken:
                owner.release(address)
            raise
        return taken

    def _fit_scratchpad(self, core: CoreHW, vnc: int, need: int) -> None:
        """Grow or shrink ``vnc``'s shared scratchpad to the pages ``need`` bytes take (device-memory.rst:
        one scratchpad per core, as large as the largest loaded NEFF's, in pages that need not be
        contiguous). Growing is all or nothing (``NRT_RESOURCE``)."""
        pages = self._scratchpad.setdefault(vnc, [])
        page = self.scratchpad_page_bytes
        wanted = -(-need // page)
        added = []
        while len(pages) < wanted:
            address = self._hbm_take(core, page, "shared scratchpad", SCRATCHPAD_PAGE_ALIGN)
            if address is None:
                for _ in added:
                    pool, address = pages.pop()
                    pool.release(address)
                raise _Status(S.NRT_RESOURCE, f"nc{vnc}'s shared scratchpad cannot grow to {need} bytes")
            pages.append((core.hbm.pool, address))
            added.append(address)
        while len(pages) > wanted:
            pool, address = pages.pop()
            pool.release(address)

    def _release_model(self, model: Model) -> None:
        """Give back what ``model``'s load took; the shared scratchpad shrinks to what is left loaded."""
        model.unloaded = True
        self._models.pop(id(model), None)
        for pool, address in model.memory:
            pool.release(address)
        model.memory = []
        need = max([0] + [m.neff.scratchpad_bytes for m in self._models.values() if m.vnc == model.vnc])
        self._fit_scratchpad(model.core, model.vnc, need)

    @_with_caller
    def nrt_tensor_get_size(self, tensor: Any, *, caller: ThreadCall | None = None) -> int:
        """``size_t nrt_tensor_get_size(const nrt_tensor_t *tensor)`` (0 for an invalid tensor)."""
        if self._state != "open" or not isinstance(tensor, Tensor) or tensor.freed:
            return 0
        self._spend(self._costs.query_ns, caller)
        return tensor.size

    @_mirror("tensor_ns")
    def nrt_tensor_get_device_allocation_info(self, tensor: Any, alloc_info: Any) -> NRT_STATUS:
        """``nrt_tensor_get_device_allocation_info(const nrt_tensor_t *, nrt_tensor_device_allocation_info_t *)``."""
        out = _ref(alloc_info, "alloc_info")
        t = self._device_tensor(tensor)
        out.value = {"physical_address": t.address, "size": t.size, "hbm_index": t.alloc.hbm_index}
        return S.NRT_SUCCESS

    @_with_caller
    def nrt_tensor_get_va(self, tensor: Any, *, caller: ThreadCall | None = None) -> int | None:
        """``void *nrt_tensor_get_va(const nrt_tensor_t *tensor)``: the address of the tensor's first byte
        (for a device tensor its device address, A70), or ``None`` (NULL) for an invalid tensor."""
        if self._state != "open" or type(tensor) is not Tensor or tensor.freed or tensor.owner is not self:
            return None
        self._spend(self._costs.query_ns, caller)
        return tensor.address

    @_mirror("query_ns")
    def nrt_get_vnc_memory_stats(self, vnc: Any, stats: Any, stats_size_in: Any, stats_size_out: Any) -> NRT_STATUS:
        """``nrt_get_vnc_memory_stats(uint32_t vnc, nrt_vnc_memory_stats_t *stats, size_t stats_size_in,
        size_t *stats_size_out)``: ``{"bytes_used", "bytes_limit"}`` of the core's HBM stack (shared with
        the other cores on that stack)."""
        out, size_out = _ref(stats), _ref(stats_size_out)
        pool = self._core(vnc).hbm.pool
        out.value = {"bytes_used": pool.used_bytes - pool.reserved_bytes,
                     "bytes_limit": pool.capacity_bytes - pool.reserved_bytes}
        size_out.value = _int(stats_size_in)
        return S.NRT_SUCCESS

    @_mirror("tensor_ns")
    def nrt_tensor_memset(self, tensor: Any, offset: Any, value: Any, size: Any, *,
                          caller: ThreadCall | None = None) -> NRT_STATUS:
        """``nrt_tensor_memset(nrt_tensor_t *tensor, uint64_t offset, int value, size_t size)`` (blocking)."""
        t = self._tensor(tensor)
        off, n = self._range(t, offset, size)
        byte = _int(value, "value") & 0xFF
        if t.on_device:
            if caller is not None:
                raise NeuronSimError("nrt_tensor_memset blocks: call it in direct mode, not from a thread")
            flow = self.sim.network.start(int(self.sim.env.now), [(t.core.dma, n), (t.alloc.channel, n)],
                                          self.system.dma_setup_ns)
            while not flow.done:  # its end moves only if other traffic shares its channels meanwhile
                self.sim.advance_to(flow.end_ns)
        if t.alloc.storage is not None:
            t.alloc.storage.fill(t.offset + off, n, byte)
        return S.NRT_SUCCESS

    @_mirror("tensor_ns")
    def nrt_allocate_tensor_set(self, result: Any) -> NRT_STATUS:
        """``nrt_allocate_tensor_set(nrt_tensor_set_t **result)``."""
        _ref(result, "result").value = TensorSet(self)
        return S.NRT_SUCCESS

    def _set(self, tensor_set: Any) -> TensorSet:
        if not isinstance(tensor_set, TensorSet) or tensor_set.destroyed or tensor_set.owner is not self:
            _refuse(f"tensor set is {_show(tensor_set)}" + (": pass its .value" if isinstance(tensor_set, Ref) else
                                                            ", not an nrt_tensor_set_t")
                    if not isinstance(tensor_set, TensorSet) else "tensor set was destroyed" if tensor_set.destroyed
                    else "tensor set belongs to another runtime process")
        return tensor_set

    @_mirror("tensor_ns")
    def nrt_add_tensor_to_tensor_set(self, tensor_set: Any, tensor_name: Any, tensor: Any) -> NRT_STATUS:
        """``nrt_add_tensor_to_tensor_set(nrt_tensor_set_t *set, const char *name, nrt_tensor_t *tensor)``."""
        s = self._set(tensor_set)
        if not isinstance(tensor_name, str) or not tensor_name:
            _refuse(f"tensor_name is {_show(tensor_name)}, not a non-empty string")
        s.tensors[tensor_name] = self._tensor(tensor)
        return S.NRT_SUCCESS

    @_mirror("tensor_ns")
    def nrt_get_tensor_from_tensor_set(self, tensor_set: Any, tensor_name: Any, tensor: Any) -> NRT_STATUS:
        """``nrt_get_tensor_from_tensor_set(set, name, nrt_tensor_t **tensor)``: ``NRT_FAILURE`` and nothing
        written when the name is not in the set."""
        out = _ref(tensor, "tensor")
        s = self._set(tensor_set)
        found = s.tensors.get(tensor_name) if isinstance(tensor_name, str) else None
        if found is None:
            return S.NRT_FAILURE
        out.value = found
        return S.NRT_SUCCESS

    @_mirror("tensor_ns")
    def nrt_destroy_tensor_set(self, tensor_set: Any) -> NRT_STATUS:
        """``void nrt_destroy_tensor_set(nrt_tensor_set_t **tensor_set)``: sets ``*tensor_set = NULL``.

        Takes the ``Ref`` that holds the set (or the set itself); the tensors are not freed."""
        cell = tensor_set if isinstance(tensor_set, Ref) else None
        s = self._set(cell.value if cell is not None else tensor_set)
        s.destroyed = True
        s.tensors.clear()
        if cell is not None:
            cell.value = None
        return S.NRT_SUCCESS

    # -- the explicit async API (3.0) -------------------------------------------------------------

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
