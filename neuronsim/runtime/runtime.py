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

import functools
import itertools
import logging
from collections.abc import Callable, Mapping
from typing import TYPE_CHECKING, Any

import numpy as np

from neuronsim.collectives.data import ELEMENT, REDUCIBLE
from neuronsim.collectives.service import OPERATION_NAMES, CCContext
from neuronsim.errors import DeadlockError
from neuronsim.hw.channel import reserve
from neuronsim.hw.memory import MemoryPool, SparseBytes
from neuronsim.hw.xu import ExecutionUnit
from neuronsim.idlist import IdListError, is_contiguous, parse_id_list
from neuronsim.nrt import (
    NRT_OP_ADD,
    NRT_OP_MAX,
    NRT_OP_MIN,
    NRT_STATUS,
    NRTA_SEQ_NUM_MASK,
    Ref,
    nrt_cc_comm_t,
    nrt_framework_type_t,
    nrt_tensor_batch_t,
    nrt_tensor_list_t,
    nrt_tensor_placement_t,
    nrt_tensor_usage_t,
    status_as_str,
)
from neuronsim.runtime.events import EventFd, describe
from neuronsim.runtime.neff import Neff
from neuronsim.runtime.objects import Allocation, Model, Tensor, TensorInfo, TensorInfoArray, TensorSet
from neuronsim.runtime.requests import (
    CollectiveRequest,
    CopyRequest,
    ExecuteRequest,
    ReadRequest,
    WriteRequest,
)
from neuronsim.units import MiB, UnitError, parse_time_ns

if TYPE_CHECKING:
    from neuronsim.hw.channel import Channel
    from neuronsim.hw.system import CoreHW
    from neuronsim.simulator import Simulator

__all__ = ["RuntimeBase", "_mirror", "_ref", "_int", "_host_buffer", "_Status"]

log = logging.getLogger(__name__)

S = NRT_STATUS
HOST_TENSOR_MAX_BYTES = 4 * MiB  # nrt.h: a host-placed tensor "cannot be larger than 4MB"
API_KINDS = frozenset({"tensor_op", "compute", "collectives", "tensor_read", "tensor_write"})
ASYNC_HARD_LIMIT = 63  # implicit async: "the hard limit of 63" in-flight requests (runtime 2.25.57.0)


class _Status(Exception):
    """Raised inside a mirror method to return ``status``."""

    def __init__(self, status: NRT_STATUS) -> None:
        self.status = status


def _mirror(cost: str | None, *, needs_init: bool = True) -> Callable:
    """Wrap a mirror method: state check, host cost, argument errors -> statuses."""

    def decorate(fn: Callable) -> Callable:
        @functools.wraps(fn)
        def wrapper(self: RuntimeBase, *args: Any, **kwargs: Any) -> Any:
            if needs_init and self._state != "open":
                return S.NRT_CLOSED if self._state == "closed" else S.NRT_UNINITIALIZED
            if cost is not None:
                spend = self._cost_table[cost]
                if spend:
                    self._advance_to(self._env._now + spend)  # noqa: SLF001 - hot path
            try:
                return fn(self, *args, **kwargs)
            except _Status as exc:
                return exc.status
            except (TypeError, ValueError, AttributeError, IndexError, KeyError, OverflowError) as exc:
                log.debug("%s: bad argument: %s", fn.__name__, exc)
                return S.NRT_INVALID

        return wrapper

    return decorate


def _ref(cell: Any) -> Ref:
    if not isinstance(cell, Ref):
        raise _Status(S.NRT_INVALID)  # a NULL (or non-pointer) out-parameter
    return cell


def _int(value: Any) -> int:
    if type(value) is int:
        return value
    if isinstance(value, bool) or not isinstance(value, (int, np.integer)):
        raise _Status(S.NRT_INVALID)
    return int(value)


def _host_buffer(buf: Any, size: int, writable: bool) -> memoryview:
    try:
        view = memoryview(buf)
        if view.format != "B" or view.ndim != 1:
            view = view.cast("B")
    except TypeError:
        raise _Status(S.NRT_INVALID) from None
    if view.nbytes < size or (writable and view.readonly):
        raise _Status(S.NRT_INVALID)
    return view


class RuntimeBase:
    """A simulated Neuron Runtime in one host process (``libnrt`` as that process sees it).

    Created by :meth:`neuronsim.Simulator.runtime`. Environment variables (``env``) are read at
    ``nrt_init`` as the real runtime reads them. Subclasses give the API generation's execution-unit
    types (``XU_TABLE``: ``(C enum value, kind)``) and its ``nrta_*`` schedule calls.
    """

    XU_TABLE: tuple[tuple[int, str], ...] = ()
    API = ""

    def __init__(self, sim: Simulator, env: Mapping[str, str] | None = None, instance: int = 0) -> None:
        self.sim = sim
        self.instance = instance
        self.system = sim.systems[instance]
        self.env = dict(env or {})
        self.api = self.API
        self._state = "new"  # new -> open -> closed (-> open again after nrt_init)
        self._costs = sim.topology.spec.runtime.call_costs
        self._cost_table = self._costs.model_dump()
        self._env = sim.env
        self._advance_to = sim.advance_to
        self._engines: dict[tuple[int, int, bool], Channel] = {}
        self._sync_units: dict[tuple[int, str], ExecutionUnit] = {}
        self.async_depth = 0  # NEURON_RT_ASYNC_EXEC_MAX_INFLIGHT_REQUESTS, read at nrt_init
        self._async_callback: tuple[Callable, Any] | None = None
        self._async_pending: list[Any] = []
        self._job_ids = itertools.count(1)
        self._compute_type = next((t for t, kind in self.XU_TABLE if kind == "compute"), 1)
        self._cores: list[CoreHW] = []
        self._xus: dict[tuple[int, int, int], ExecutionUnit] = {}
        self._xu_by_id: dict[int, ExecutionUnit] = {}
        self._tensors: set[int] = set()
        self._models: dict[int, Model] = {}
        self._model_ids = itertools.count(10000)
        self.exec_timeout_ns = sim.topology.spec.runtime.exec_timeout_ns
        self.history: list[Any] = []
        self.observed: dict[int, int] = {}  # xu id -> highest completed number the host has seen
        self._races = sim.race_detector
        self._idle_polls = 0
        self._xu_fds: dict[int, tuple[Any, Callable]] = {}  # xu id -> (eventfd, listener)

    # -- helpers ----------------------------------------------------------------------------------

    def _spend(self, cost_ns: int) -> None:
        if cost_ns:
            self.sim.advance_to(self.sim.env.now + cost_ns)

    def _core(self, vnc: Any) -> CoreHW:
        index = _int(vnc)
        if not 0 <= index < len(self._cores):
            raise _Status(S.NRT_INVALID)
        return self._cores[index]

    def _tensor(self, tensor: Any) -> Tensor:
        if type(tensor) is not Tensor or tensor.freed or tensor.owner is not self:
            raise _Status(S.NRT_INVALID)
        return tensor

    def _device_tensor(self, tensor: Any) -> Tensor:
        if type(tensor) is not Tensor or tensor.freed or tensor.owner is not self or tensor.core_only is None:
            raise _Status(S.NRT_INVALID)  # [RE]: host tensors are rejected by the async paths
        return tensor

    def _xu(self, vnc: Any, xu_type: int, queue: Any) -> ExecutionUnit:
        if type(vnc) is not int or type(queue) is not int:
            vnc, queue = _int(vnc), _int(queue)
        xu = self._xus.get((vnc, xu_type, queue))
        if xu is None:
            raise _Status(S.NRT_INVALID)
        return xu

    def _schedule(self, xu: ExecutionUnit, request: Any, req_sequence: Ref) -> NRT_STATUS:
        """Submit ``request`` to ``xu``; the status of the schedule call."""
        if self.async_depth and xu.kind in API_KINDS:
            return S.NRT_INVALID  # implicit async and the explicit nrta_* API exclude each other (A23)
        if xu.fatal_status is not None:
            return S.NRT_EXEC_UNIT_UNRECOVERABLE
        if not xu.submit(request):
            return S.NRT_QUEUE_FULL
        self._idle_polls = 0
        if self._races is not None:
            self._races.on_schedule(request, xu.xu_id, self.observed)
        req_sequence.value = request.seq_id
        return S.NRT_SUCCESS

    @staticmethod
    def _range(tensor: Tensor, offset: Any, size: Any) -> tuple[int, int]:
        if type(offset) is int and type(size) is int:
            off, n = offset, size
        else:
            off, n = _int(offset), _int(size)
        if off < 0 or n <= 0 or off + n > tensor.size:
            raise _Status(S.NRT_INVALID)
        return off, n

    # -- init / close -----------------------------------------------------------------------------

    def _env_cores(self) -> list[int]:
        """Global logical core ids this process asks for (NEURON_RT_VISIBLE_CORES / NUM_CORES)."""
        topo = self.sim.topology
        total = len(topo.logical_cores)
        lnc_text = self.env.get("NEURON_LOGICAL_NC_CONFIG")
        if lnc_text is not None:
            if lnc_text.strip() not in ("1", "2") or int(lnc_text) != topo.lnc:
                raise _Status(S.NRT_INVALID)
        visible = self.env.get("NEURON_RT_VISIBLE_CORES")
        if visible is not None:
            try:
                ids = parse_id_list(visible)
            except IdListError:
                raise _Status(S.NRT_INVALID) from None
            if not is_contiguous(ids) or max(ids) >= total:
                raise _Status(S.NRT_INVALID)
            return sorted(ids)
        num_text = self.env.get("NEURON_RT_NUM_CORES")
        if num_text is not None:
            try:
                wanted = int(num_text)
            except ValueError:
                raise _Status(S.NRT_INVALID) from None
            if wanted < 0 or wanted > total:
                raise _Status(S.NRT_RESOURCE)
            if wanted == 0:
                return list(range(total))
            owners = self.sim.core_owners
            free = [c for c in range(total) if (self.instance, c) not in owners]
            for start in range(total - wanted + 1):
                run = list(range(start, start + wanted))
                if all((self.instance, c) not in owners for c in run):
                    return run
            log.error("NRT:nrt_allocate_neuron_cores NeuronCore(s) not available - Requested:%d Available:%d",
                      wanted, len(free))
            raise _Status(S.NRT_RESOURCE)
        return list(range(total))

    @_mirror(None, needs_init=False)
    def nrt_init(self, framework: Any, fw_version: Any, fal_version: Any) -> NRT_STATUS:
        """``NRT_STATUS nrt_init(nrt_framework_type_t framework, const char *fw_version, const char *fal_version)``."""
        if self._state == "open":
            return S.NRT_FAILURE
        try:
            nrt_framework_type_t(_int(framework))
        except ValueError:
            return S.NRT_INVALID
        if framework == nrt_framework_type_t.NRT_FRAMEWORK_TYPE_INVALID:
            return S.NRT_INVALID
        self._spend(self._costs.init_ns)
        timeout = self.env.get("NEURON_RT_EXEC_TIMEOUT")
        if timeout is not None:
            try:
                self.exec_timeout_ns = parse_time_ns(f"{int(timeout)} s")
            except (ValueError, UnitError):
                return S.NRT_INVALID
        depth_text = self.env.get("NEURON_RT_ASYNC_EXEC_MAX_INFLIGHT_REQUESTS")
        self.async_depth = 0
        if depth_text is not None:
            try:
                self.async_depth = min(int(depth_text), ASYNC_HARD_LIMIT)  # "the hard limit of 63"
            except ValueError:
                return S.NRT_INVALID
            if self.async_depth < 0:
                return S.NRT_INVALID
        ids = self._env_cores()
        taken = [c for c in ids if (self.instance, c) in self.sim.core_owners]
        if taken:
            log.error("NRT:nrt_allocate_neuron_cores NeuronCore(s) not available - Requested:nc%d-nc%d",
                      ids[0], ids[-1])
            return S.NRT_RESOURCE
        for c in ids:
            self.sim.core_owners[(self.instance, c)] = self
        self._cores = [self.system.cores[c] for c in ids]
        self._make_xus()
        self._state = "open"
        return S.NRT_SUCCESS

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
                    xu.timeout_ns = self.exec_timeout_ns
                    xu.faults = self.sim.fault_injector
                    self._xus[(vnc, xu_type, queue)] = xu
                    self._xu_by_id[xu_id] = xu

    @_mirror(None, needs_init=False)
    def nrt_close(self) -> NRT_STATUS:
        """``void nrt_close()``: releases the cores, models and tensors of this process."""
        if self._state != "open":
            return S.NRT_SUCCESS
        self._spend(self._costs.init_ns)
        for key in [key for key, owner in self.sim.core_owners.items() if owner is self]:
            del self.sim.core_owners[key]
        for model in self._models.values():
            model.unloaded = True
        self._models.clear()
        self._state = "closed"
        return S.NRT_SUCCESS

    # -- counts and info --------------------------------------------------------------------------

    @_mirror(None, needs_init=False)
    def nrt_get_total_vnc_count(self, vnc_count: Any) -> NRT_STATUS:
        """``nrt_get_total_vnc_count(uint32_t *vnc_count)``: every logical core of the instance."""
        _ref(vnc_count).value = len(self.sim.topology.logical_cores)
        return S.NRT_SUCCESS

    nrt_get_total_nc_count = nrt_get_total_vnc_count  # (deprecated twin)

    @_mirror(None, needs_init=False)
    def nrt_get_visible_vnc_count(self, vnc_count: Any) -> NRT_STATUS:
        """``nrt_get_visible_vnc_count(uint32_t *vnc_count)``: after NEURON_RT_VISIBLE_CORES / NUM_CORES."""
        cell = _ref(vnc_count)
        cell.value = len(self._cores) if self._state == "open" else len(self._env_cores())
        return S.NRT_SUCCESS

    nrt_get_visible_nc_count = nrt_get_visible_vnc_count  # (deprecated twin)

    @_mirror(None, needs_init=False)
    def nrt_get_instance_info(self, info: Any, instance_info_len: Any) -> NRT_STATUS:
        """``nrt_get_instance_info(nrt_instance_info_t *info, size_t len)``: fills a dict-like record."""
        spec = self.sim.topology.spec
        _ref(info).value = {"family": spec.nrt_instance_family, "size": spec.nrt_instance_size,
                            "arch_name": spec.chip.name, "device_revision": spec.chip.nc_version}
        return S.NRT_SUCCESS

    # -- models -----------------------------------------------------------------------------------

    @_mirror("load_ns")
    def nrt_load(self, neff: Any, vnc: Any, vnc_count: Any, model: Any) -> NRT_STATUS:
        """``nrt_load(const void *neff_bytes, size_t size, int32_t vnc, int32_t vnc_count, nrt_model_t **model)``.

        The Python mirror takes a :class:`neuronsim.Neff` in place of the bytes and their size
        (DESIGN.md: ``(neff, vnc, vnc_count, model_out)``). ``vnc`` -1 picks the first core with no
        model loaded; ``vnc_count`` is deprecated and must be -1 or 1.
        """
        out = _ref(model)
        if not isinstance(neff, Neff):
            return S.NRT_INVALID
        index, count = _int(vnc), _int(vnc_count)
        if count not in (-1, 1):
            return S.NRT_INVALID
        if index == -1:
            used = {m.vnc for m in self._models.values()}
            free = [i for i in range(len(self._cores)) if i not in used]
            if not free:
                return S.NRT_LOAD_NOT_ENOUGH_NC
            index = free[0]
        core = self._core(index)
        loaded = Model(neff, index, core, self, next(self._model_ids))
        self._models[id(loaded)] = loaded
        out.value = loaded
        return S.NRT_SUCCESS

    @_mirror("load_ns")
    def nrt_load_collectives(self, neff: Any, vnc: Any, vnc_count: Any, ctx_device_id: Any, ctx_device_count: Any,
                             model: Any) -> NRT_STATUS:
        """``nrt_load_collectives(const void *neff_bytes, size_t size, int32_t vnc, int32_t vnc_count,
        uint32_t ctx_device_id, uint32_t ctx_device_count, nrt_model_t **model)``: as ``nrt_load``, as rank
        ``ctx_device_id`` of the ``ctx_device_count`` copies of this NEFF; executions of the copies meet at
        each collective the NEFF declares (``Neff(collectives=...)``)."""
        out = _ref(model)
        rank, count = _int(ctx_device_id), _int(ctx_device_count)
        if count < 1 or not 0 <= rank < count:
            return S.NRT_INVALID
        key = (id(neff), count, rank)
        taken = self.sim.collectives.neff_ranks
        if key in taken and not taken[key].unloaded:
            return S.NRT_INVALID  # that rank of that NEFF is already loaded
        status = self.nrt_load.__wrapped__(self, neff, vnc, vnc_count, out)
        if status == S.NRT_SUCCESS:
            out.value.cc_rank, out.value.cc_count = rank, count
            taken[key] = out.value
        return status

    @_mirror("load_ns")
    def nrt_unload(self, model: Any) -> NRT_STATUS:
        """``nrt_unload(nrt_model_t *model)``."""
        if not isinstance(model, Model) or model.unloaded or model.owner is not self:
            return S.NRT_INVALID
        model.unloaded = True
        del self._models[id(model)]
        return S.NRT_SUCCESS

    def _model(self, model: Any) -> Model:
        if not isinstance(model, Model) or model.unloaded or model.owner is not self:
            raise _Status(S.NRT_INVALID)
        return model

    @_mirror("tensor_ns")
    def nrt_get_model_tensor_info(self, model: Any, tensor_info: Any) -> NRT_STATUS:
        """``nrt_get_model_tensor_info(nrt_model_t *model, nrt_tensor_info_array_t **tensor_info)``."""
        out = _ref(tensor_info)
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
        return S.NRT_SUCCESS if isinstance(tensor_info, TensorInfoArray) else S.NRT_INVALID

    @_mirror(None)
    def nrt_get_model_vnc_count(self, model: Any, vnc_count: Any) -> NRT_STATUS:
        """``nrt_get_model_vnc_count(const nrt_model_t *model, uint32_t *vnc_count)`` (deprecated)."""
        out = _ref(vnc_count)
        self._model(model)
        out.value = 1
        return S.NRT_SUCCESS

    nrt_get_model_nc_count = nrt_get_model_vnc_count

    # -- tensors ----------------------------------------------------------------------------------

    @_mirror("tensor_ns")
    def nrt_tensor_allocate(self, tensor_placement: Any, vnc: Any, size: Any, name: Any, tensor: Any) -> NRT_STATUS:
        """``nrt_tensor_allocate(nrt_tensor_placement_t placement, int vnc, size_t size, const char *name,
        nrt_tensor_t **tensor)``. Device tensors take HBM from the core's stack (``NRT_RESOURCE`` when it
        is exhausted); host tensors are limited to 4 MB as the header says."""
        out = _ref(tensor)
        placement = nrt_tensor_placement_t(_int(tensor_placement))
        nbytes = _int(size)
        if nbytes <= 0 or (name is not None and not isinstance(name, str)):
            return S.NRT_INVALID
        label = name or ""
        index = _int(vnc)
        if placement == nrt_tensor_placement_t.NRT_TENSOR_PLACEMENT_DEVICE:
            core = self._core(index)
            stack = core.hbm
            if not stack.pool.allocate(nbytes):
                log.error("NRT: failed to allocate %d bytes for tensor %r on nc%d (%d bytes free on %s)",
                          nbytes, label, index, stack.pool.free_bytes, stack.name)
                return S.NRT_RESOURCE
            storage = None if self.sim.timing_only else SparseBytes(nbytes)
            hbm_index = core.device.hbm.index(stack)
            alloc = Allocation(stack.pool, nbytes, storage, hbm_index, stack.channel, core.device.index)
        elif placement == nrt_tensor_placement_t.NRT_TENSOR_PLACEMENT_HOST:
            if nbytes > HOST_TENSOR_MAX_BYTES:
                return S.NRT_RESOURCE
            core = self._core(index) if index != -1 else (self._cores[0] if self._cores else None)
            pool: MemoryPool = self.sim.host_memory
            if not pool.allocate(nbytes):
                return S.NRT_RESOURCE
            storage = None if self.sim.timing_only else SparseBytes(nbytes)
            alloc = Allocation(pool, nbytes, storage, -1, None)
        else:
            return S.NRT_INVALID  # VIRTUAL support was removed in runtime 2.32
        t = Tensor(label, nbytes, 0, placement, index, core, alloc, self)
        self._tensors.add(id(t))
        out.value = t
        return S.NRT_SUCCESS

    @_mirror("tensor_ns")
    def nrt_tensor_allocate_slice(self, tensor_source: Any, offset: Any, size: Any, name: Any,
                                  tensor_slice: Any) -> NRT_STATUS:
        """``nrt_tensor_allocate_slice(const nrt_tensor_t *src, size_t offset, size_t size, const char *name,
        nrt_tensor_t **slice)``: shares the source's memory, reference-counted."""
        out = _ref(tensor_slice)
        src = self._tensor(tensor_source)
        off, n = self._range(src, offset, size)
        src.alloc.refs += 1
        t = Tensor(name or "", n, src.offset + off, src.placement, src.vnc, src.core, src.alloc, self)
        self._tensors.add(id(t))
        out.value = t
        return S.NRT_SUCCESS

    @_mirror("tensor_ns")
    def nrt_tensor_free(self, tensor: Any) -> NRT_STATUS:
        """``void nrt_tensor_free(nrt_tensor_t **tensor)``: frees and sets ``*tensor = NULL``.

        Takes the ``Ref`` that holds the tensor (or the tensor itself)."""
        cell = tensor if isinstance(tensor, Ref) else None
        t = self._tensor(cell.value if cell is not None else tensor)
        t.freed = True
        self._tensors.discard(id(t))
        t.alloc.refs -= 1
        if t.alloc.refs == 0:
            t.alloc.pool.release(t.alloc.size_bytes)
            t.alloc.storage = None
        if cell is not None:
            cell.value = None
        return S.NRT_SUCCESS

    def nrt_tensor_get_size(self, tensor: Any) -> int:
        """``size_t nrt_tensor_get_size(const nrt_tensor_t *tensor)`` (0 for an invalid tensor)."""
        if self._state != "open" or not isinstance(tensor, Tensor) or tensor.freed:
            return 0
        self._spend(self._costs.query_ns)
        return tensor.size

    @_mirror("tensor_ns")
    def nrt_tensor_get_device_allocation_info(self, tensor: Any, alloc_info: Any) -> NRT_STATUS:
        """``nrt_tensor_get_device_allocation_info(const nrt_tensor_t *, nrt_tensor_device_allocation_info_t *)``."""
        out = _ref(alloc_info)
        t = self._device_tensor(tensor)
        out.value = {"physical_address": id(t.alloc) + t.offset, "size": t.size, "hbm_index": t.alloc.hbm_index}
        return S.NRT_SUCCESS

    @_mirror("tensor_ns")
    def nrt_tensor_memset(self, tensor: Any, offset: Any, value: Any, size: Any) -> NRT_STATUS:
        """``nrt_tensor_memset(nrt_tensor_t *tensor, uint64_t offset, int value, size_t size)`` (blocking)."""
        t = self._tensor(tensor)
        off, n = self._range(t, offset, size)
        byte = _int(value) & 0xFF
        if t.on_device:
            _, end = reserve(self.sim.env.now, [(t.core.dma, n), (t.alloc.channel, n)],
                             setup_ns=self.system.dma_setup_ns)
            self.sim.advance_to(end)
        if t.alloc.storage is not None:
            t.alloc.storage.fill(t.offset + off, n, byte)
        return S.NRT_SUCCESS

    @_mirror("tensor_ns")
    def nrt_allocate_tensor_set(self, result: Any) -> NRT_STATUS:
        """``nrt_allocate_tensor_set(nrt_tensor_set_t **result)``."""
        _ref(result).value = TensorSet(self)
        return S.NRT_SUCCESS

    def _set(self, tensor_set: Any) -> TensorSet:
        if not isinstance(tensor_set, TensorSet) or tensor_set.destroyed or tensor_set.owner is not self:
            raise _Status(S.NRT_INVALID)
        return tensor_set

    @_mirror("tensor_ns")
    def nrt_add_tensor_to_tensor_set(self, tensor_set: Any, tensor_name: Any, tensor: Any) -> NRT_STATUS:
        """``nrt_add_tensor_to_tensor_set(nrt_tensor_set_t *set, const char *name, nrt_tensor_t *tensor)``."""
        s = self._set(tensor_set)
        if not isinstance(tensor_name, str) or not tensor_name:
            return S.NRT_INVALID
        s.tensors[tensor_name] = self._tensor(tensor)
        return S.NRT_SUCCESS

    @_mirror("tensor_ns")
    def nrt_get_tensor_from_tensor_set(self, tensor_set: Any, tensor_name: Any, tensor: Any) -> NRT_STATUS:
        """``nrt_get_tensor_from_tensor_set(set, name, nrt_tensor_t **tensor)``: ``NRT_FAILURE`` and nothing
        written when the name is not in the set."""
        out = _ref(tensor)
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

    # direct mode: the implicit host thread is placed on the device's node, so host memory is local (A15)
    _numa_remote = False

    def _write(self, t: Tensor, core: CoreHW, xu: ExecutionUnit, queue: int, buf: Any, offset: Any, size: Any,
               ret_cell: Any, seq_cell: Ref) -> NRT_STATUS:
        off, n = self._range(t, offset, size)
        host = None if (self.sim.timing_only and buf is None) else _host_buffer(buf, n, writable=False)
        request = WriteRequest(self.system, t, off, n, self._transfer_engine(core, queue, True), host,
                               ret_cell, self._numa_remote)
        return self._schedule(xu, request, seq_cell)

    def _read(self, t: Tensor, core: CoreHW, xu: ExecutionUnit, queue: int, buf: Any, offset: Any, size: Any,
              ret_cell: Any, seq_cell: Ref) -> NRT_STATUS:
        off, n = self._range(t, offset, size)
        host = None if (self.sim.timing_only and buf is None) else _host_buffer(buf, n, writable=True)
        request = ReadRequest(self.system, t, off, n, self._transfer_engine(core, queue, False), host,
                              ret_cell, self._numa_remote)
        return self._schedule(xu, request, seq_cell)

    def _copy(self, s: Tensor, core: CoreHW, xu: ExecutionUnit, src_offset: Any, dst: Any, dst_offset: Any,
              size: Any, ret_cell: Any, seq_cell: Ref) -> NRT_STATUS:
        d = self._device_tensor(dst)
        if s.core is not d.core:
            return S.NRT_INVALID  # "must both be allocated on the SAME Neuron Core"
        n = _int(size)
        so, _ = self._range(s, src_offset, n)
        do, _ = self._range(d, dst_offset, n)
        return self._schedule(xu, CopyRequest(self.system, core, s, so, d, do, n, ret_cell), seq_cell)

    def _execute(self, m: Model, xu: ExecutionUnit, input_set: Any, output_set: Any, ret_cell: Any,
                 seq_cell: Ref) -> NRT_STATUS:
        inputs = self._io(m.neff.input_sizes, input_set)
        outputs = self._io(m.neff.output_sizes, output_set)
        request = ExecuteRequest(m, inputs, outputs, ret_cell, run_kernel=not self.sim.timing_only)
        if m.cc_count:
            request.service = self.sim.collectives
        return self._schedule(xu, request, seq_cell)

    def _io(self, neff_tensors: tuple, tensor_set: Any) -> dict[str, Tensor]:
        s = self._set(tensor_set)
        tensors = s.tensors
        out = {}
        for name, size in neff_tensors:
            t = tensors.get(name)
            # names must match the NEFF's I/O names; "input tensor name/size does not match the model"
            if t is None or t.size != size or t.freed or t.core_only is None:
                raise _Status(S.NRT_INVALID)
            out[name] = t
        return out

    # -- the synchronous API (nrt.h) -------------------------------------------------------------------

    _SYNC_TYPE = 0xF  # the internal units of the blocking calls: an XU type no nrta_* call accepts

    def _sync_unit(self, vnc: int, kind: str) -> ExecutionUnit:
        """The internal queue the blocking reads (or writes) of core ``vnc`` use: separate DMA queues
        since SDK 2.30, invisible to nrta_get_sequence."""
        key = (vnc, kind)
        unit = self._sync_units.get(key)
        if unit is None:
            queue = {"read": 0, "write": 1, "copy": 2, "exec": 3}[kind]
            capacity = ASYNC_HARD_LIMIT if kind == "exec" else self.sim.topology.spec.runtime.queue_capacity
            unit = ExecutionUnit(self.sim.env, f"nc{vnc}/sync.{kind}", self._SYNC_TYPE | queue << 4 | vnc << 8,
                                 capacity)
            core = self._cores[vnc]
            unit.kind, unit.queue, unit.core_id, unit.device_index = f"sync_{kind}", queue, core.id, core.device.index
            unit.timeout_ns = self.exec_timeout_ns
            unit.faults = self.sim.fault_injector
            unit.history = self.history if self.sim.record else None
            self._sync_units[key] = unit
        return unit

    def _wait_for(self, unit: ExecutionUnit, num: int) -> None:
        """Block the (direct-mode) host until request ``num`` of ``unit`` completes."""
        env = self._env
        queue = env._queue  # noqa: SLF001
        while unit.completed_num < num:
            if not queue:
                raise DeadlockError(f"a blocking call waits for request {num} on {unit.name}, which can never "
                                    "complete", [f"{unit.name}: completed up to {unit.completed_num}"])
            env.step()
        self._observe(unit, num)

    def _blocking(self, unit: ExecutionUnit, request: Any) -> NRT_STATUS:
        """Submit ``request`` (waiting for room if the queue is full) and wait for it; its status."""
        while True:
            if unit.fatal_status is not None:
                return S.NRT_EXEC_UNIT_UNRECOVERABLE
            status = self._schedule(unit, request, Ref())
            if status != S.NRT_QUEUE_FULL:
                break
            self._wait_for(unit, unit.completed_num + 1)
        if status != S.NRT_SUCCESS:
            return status
        self._wait_for(unit, request.seq_num)
        return NRT_STATUS(request.status)

    @_mirror("schedule_ns")
    def nrt_execute(self, model: Any, input_set: Any, output_set: Any) -> NRT_STATUS:
        """``nrt_execute(nrt_model_t *model, const nrt_tensor_set_t *input_set, nrt_tensor_set_t *output_set)``:
        blocks until the execution completes; its status (``NRT_TIMEOUT`` past NEURON_RT_EXEC_TIMEOUT)."""
        m = self._model(model)
        xu = self._xu(m.vnc, self._compute_type, 0)
        inputs = self._io(m.neff.input_sizes, input_set)
        outputs = self._io(m.neff.output_sizes, output_set)
        request = ExecuteRequest(m, inputs, outputs, None, run_kernel=not self.sim.timing_only)
        if m.cc_count:
            request.service = self.sim.collectives
        if self.async_depth:
            return self._execute_async(m, request)
        return self._blocking(xu, request)

    def _execute_async(self, m: Model, request: Any) -> NRT_STATUS:
        """Implicit async: enqueue and return; the callback reports the status."""
        unit = self._sync_unit(m.vnc, "exec")
        if unit.fatal_status is not None:
            return S.NRT_EXEC_UNIT_UNRECOVERABLE
        if unit.depth >= self.async_depth:
            return S.NRT_QUEUE_FULL  # "Too many pending nrt_execute() requests"
        job_id = next(self._job_ids)

        def report(_unit: ExecutionUnit, done: Any) -> None:
            if done is request:
                unit.listeners.remove(report)
                self._async_pending.remove(request)
                if self._async_callback is not None:
                    callback, params = self._async_callback
                    callback(params, m.id, m.vnc, job_id, NRT_STATUS(request.status))

        unit.listeners.append(report)
        self._async_pending.append(request)
        return self._schedule(unit, request, Ref())

    @_mirror("tensor_ns")
    def nrt_register_async_exec_callback(self, callback: Any, params: Any) -> NRT_STATUS:
        """``nrt_register_async_exec_callback(NRT_ASYNC_EXEC_STATUS_CALLBACK callback, void *params)``: called as
        ``callback(params, model_id, vnc, job_id, status)`` when an implicit-async execution completes; a new
        registration replaces the previous one."""
        if callback is not None and not callable(callback):
            return S.NRT_INVALID
        self._async_callback = (callback, params) if callback is not None else None
        return S.NRT_SUCCESS

    @_mirror("tensor_ns")
    def nrt_async_drain_queued_execs(self, vnc: Any) -> NRT_STATUS:
        """``nrt_async_drain_queued_execs(int32_t vnc)``: blocks until the queued executions of ``vnc`` are done."""
        self._core(vnc)
        unit = self._sync_units.get((_int(vnc), "exec"))
        if unit is not None and unit.last_submitted_num:
            self._wait_for(unit, unit.last_submitted_num)
        return S.NRT_SUCCESS

    def _wait_pending_executions(self, alloc: Any = None) -> None:
        """Implicit async: block while pending executions use ``alloc`` (all of them, when None)."""
        for request in list(self._async_pending):
            uses = alloc is None or any(a is alloc for a, *_ in request.accesses())
            if uses and request in self._async_pending:
                self._wait_for(request.unit, request.seq_num)

    @_mirror("schedule_ns")
    def nrt_execute_repeat(self, model: Any, input_set: Any, output_set: Any, repeat_count: Any) -> NRT_STATUS:
        """``nrt_execute_repeat(model, input_set, output_set, int repeat_count)``: ``repeat_count`` executions,
        the outputs of one the inputs of the next (by position; the NEFF's outputs must match its inputs)."""
        m = self._model(model)
        count = _int(repeat_count)
        ins, outs = m.neff.inputs, m.neff.outputs
        if count < 1 or len(ins) != len(outs) or any(i.size_bytes != o.size_bytes for i, o in zip(ins, outs, strict=True)):
            return S.NRT_INVALID  # "This requires a specially compiled NEFF"
        inputs = self._io(m.neff.input_sizes, input_set)
        outputs = self._io(m.neff.output_sizes, output_set)
        xu = self._xu(m.vnc, self._compute_type, 0)
        for iteration in range(count):
            request = ExecuteRequest(m, inputs, outputs, None, run_kernel=not self.sim.timing_only)
            status = self._blocking(xu, request)
            if status != S.NRT_SUCCESS:
                return status
            if iteration + 1 < count:
                for i_spec, o_spec in zip(ins, outs, strict=True):
                    src, dst = outputs[o_spec.name], inputs[i_spec.name]
                    if src.alloc.storage is not None and dst.alloc.storage is not None:
                        dst.alloc.storage.write(dst.offset, src.alloc.storage.read_bytes(src.offset, src.size))
        return S.NRT_SUCCESS

    def _host_copy(self, src: Tensor, src_off: int, dst: Tensor | memoryview, dst_off: int, n: int) -> None:
        data = (src.alloc.storage.read_bytes(src.offset + src_off, n) if src.alloc.storage is not None
                else bytes(n))
        if isinstance(dst, memoryview):
            dst[:n] = data
        elif dst.alloc.storage is not None:
            dst.alloc.storage.write(dst.offset + dst_off, data)

    def _sync_write(self, t: Tensor, buf: Any, off: int, n: int) -> NRT_STATUS:
        host = None if (self.sim.timing_only and buf is None) else _host_buffer(buf, n, writable=False)
        if not t.on_device:
            if host is not None and t.alloc.storage is not None:
                t.alloc.storage.write(t.offset + off, host[:n].tobytes())
            return S.NRT_SUCCESS
        unit = self._sync_unit(t.vnc, "write")
        return self._blocking(unit, WriteRequest(self.system, t, off, n, self._transfer_engine(t.core, 0, True), host,
                                                 None, self._numa_remote))

    def _sync_read(self, t: Tensor, buf: Any, off: int, n: int) -> NRT_STATUS:
        host = None if (self.sim.timing_only and buf is None) else _host_buffer(buf, n, writable=True)
        if not t.on_device:
            if host is not None:
                self._host_copy(t, off, host, 0, n)
            return S.NRT_SUCCESS
        unit = self._sync_unit(t.vnc, "read")
        return self._blocking(unit, ReadRequest(self.system, t, off, n, self._transfer_engine(t.core, 1, False), host,
                                                None, self._numa_remote))

    @_mirror("tensor_ns")
    def nrt_tensor_write(self, tensor: Any, buf: Any, offset: Any, size: Any) -> NRT_STATUS:
        """``nrt_tensor_write(nrt_tensor_t *tensor, const void *buf, size_t offset, size_t size)``: blocking."""
        t = self._tensor(tensor)
        off, n = self._range(t, offset, size)
        if self._async_pending:
            self._wait_pending_executions(t.alloc)  # "block while tensors are in use by pending executions"
        return self._sync_write(t, buf, off, n)

    @_mirror("tensor_ns")
    def nrt_tensor_read(self, tensor: Any, buf: Any, offset: Any, size: Any) -> NRT_STATUS:
        """``nrt_tensor_read(const nrt_tensor_t *tensor, void *buf, size_t offset, size_t size)``: blocking."""
        t = self._tensor(tensor)
        off, n = self._range(t, offset, size)
        if self._async_pending:
            self._wait_pending_executions()  # "reading tensor data ... blocks until all pending executions complete"
        return self._sync_read(t, buf, off, n)

    @_mirror("tensor_ns")
    def nrt_tensor_copy(self, src: Any, src_offset: Any, dst: Any, dst_offset: Any, size: Any) -> NRT_STATUS:
        """``nrt_tensor_copy(const nrt_tensor_t *src, size_t src_offset, nrt_tensor_t *dst, size_t dst_offset,
        size_t size)``: blocking; two device tensors must be on the same NeuronCore."""
        s, d = self._tensor(src), self._tensor(dst)
        n = _int(size)
        so, _ = self._range(s, src_offset, n)
        do, _ = self._range(d, dst_offset, n)
        if s.on_device and d.on_device:
            if s.core is not d.core:
                return S.NRT_INVALID  # "they must both be allocated on the SAME Neuron Core"
            unit = self._sync_unit(s.vnc, "copy")
            return self._blocking(unit, CopyRequest(self.system, s.core, s, so, d, do, n, None))
        if not s.on_device and not d.on_device:
            self._host_copy(s, so, d, do, n)
            return S.NRT_SUCCESS
        if d.on_device:  # host -> device
            data = s.alloc.storage.read_bytes(s.offset + so, n) if s.alloc.storage is not None else None
            return self._sync_write(d, data, do, n)
        target = bytearray(n)
        status = self._sync_read(s, target, so, n)
        if status == S.NRT_SUCCESS and d.alloc.storage is not None:
            d.alloc.storage.write(d.offset + do, bytes(target))
        return status

    def _batches(self, batches: Any, num_batches: Any, write: bool) -> NRT_STATUS:
        items = list(batches)[:_int(num_batches)] if batches is not None else None
        if items is None or len(items) != _int(num_batches):
            return S.NRT_INVALID
        pending: list[tuple[ExecutionUnit, Any]] = []
        checked = []
        for batch in items:
            if not isinstance(batch, nrt_tensor_batch_t):
                return S.NRT_INVALID
            t = self._tensor(batch.tensor)
            for op in batch.ops[:batch.num_ops]:
                off, n = self._range(t, op.offset, op.size)
                checked.append((t, off, n, op.buffer))
        for t, off, n, buffer in checked:  # every op was valid: now run them, all queued before any wait
            if not t.on_device:
                status = self._sync_write(t, buffer, off, n) if write else self._sync_read(t, buffer, off, n)
                if status != S.NRT_SUCCESS:
                    return status
                continue
            host = None if (self.sim.timing_only and buffer is None) else _host_buffer(buffer, n, writable=not write)
            kind = "write" if write else "read"
            unit = self._sync_unit(t.vnc, kind)
            engine = self._transfer_engine(t.core, 0 if write else 1, write)
            cls = WriteRequest if write else ReadRequest
            request = cls(self.system, t, off, n, engine, host, None, self._numa_remote)
            while unit.full:
                self._wait_for(unit, unit.completed_num + 1)
            self._schedule(unit, request, Ref())
            pending.append((unit, request))
        worst = S.NRT_SUCCESS
        for unit, request in pending:
            self._wait_for(unit, request.seq_num)
            if request.status != S.NRT_SUCCESS and worst == S.NRT_SUCCESS:
                worst = NRT_STATUS(request.status)
        return worst

    @_mirror("tensor_ns")
    def nrt_tensor_write_batch(self, batches: Any, num_batches: Any, unsafe: Any) -> NRT_STATUS:
        """``nrt_tensor_write_batch(const nrt_tensor_batch_t *batches, uint64_t num_batches, bool unsafe)``:
        every op queued, then waited for; the first failure, if any."""
        return self._batches(batches, num_batches, write=True)

    @_mirror("tensor_ns")
    def nrt_tensor_read_batch(self, batches: Any, num_batches: Any, unsafe: Any) -> NRT_STATUS:
        """``nrt_tensor_read_batch(const nrt_tensor_batch_t *batches, uint64_t num_batches, bool unsafe)``."""
        return self._batches(batches, num_batches, write=False)

    # -- collectives --------------------------------------------------------------------------------

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

    # -- completion (every generation) -------------------------------------------------------------

    def _poll_state(self, what: str) -> None:
        """Count a query made while nothing is in flight; past the limit the host can only spin."""
        if self.sim.env.peek() != float("inf"):
            self._idle_polls = 0
            return
        self._idle_polls += 1
        if self._idle_polls >= self.sim.hang_polls:
            self._idle_polls = 0
            busy = [f"{xu.name}: completed up to {xu.completed_num} of {xu.last_submitted_num}"
                    for xu in self._xus.values() if xu.last_submitted_num]
            raise DeadlockError(
                f"the host has polled {self.sim.hang_polls} times while nothing is in flight: it waits on "
                "something the simulation can never deliver",
                [f"last query: {what}"] + (busy or ["no request was ever accepted"]))

    def _observe(self, xu: ExecutionUnit, num: int) -> None:
        if num > self.observed.get(xu.xu_id, 0):
            self.observed[xu.xu_id] = num

    def _decode(self, seq: Any) -> tuple[ExecutionUnit, int]:
        value = _int(seq)
        xu = self._xu_by_id.get((value >> 48) & 0xFFFF)
        num = value & NRTA_SEQ_NUM_MASK
        if xu is None or value < 0 or num == 0 or num > xu.last_submitted_num:
            raise _Status(S.NRT_INVALID)
        return xu, num

    @_mirror("query_ns")
    def nrta_is_completed(self, seq: Any, is_completed: Any) -> NRT_STATUS:
        """``nrta_is_completed(nrta_seq_t seq, bool *is_completed)``: ``NRT_INVALID`` only for an invalid id
        (unknown execution unit, counter 0, or a counter never issued: A11)."""
        out = _ref(is_completed)
        try:
            xu, num = self._decode(seq)
        except _Status:
            self._poll_state(f"nrta_is_completed({seq!r}) returned NRT_INVALID: no such request was accepted")
            raise
        done = num <= xu.completed_num
        out.value = done
        if done:
            self._observe(xu, num)
        else:
            self._poll_state(f"nrta_is_completed({xu.seq_id(num):#x})")
        return S.NRT_SUCCESS

    @_mirror("query_ns")
    def nrta_get_sequence(self, lnc: Any, xu: Any, queue: Any, seq: Any) -> NRT_STATUS:
        """``nrta_get_sequence(uint32_t lnc, nrta_xu_t xu, int queue, nrta_seq_t *seq)``: the full id of the last
        completed request on that queue (counter 0 with the queue's bits before any)."""
        out = _ref(seq)
        unit = self._xu(lnc, _int(xu), queue)
        out.value = unit.seq_id(unit.completed_num)
        self._observe(unit, unit.completed_num)
        self._poll_state(f"nrta_get_sequence({lnc}, {xu}, {queue}) = {out.value:#x}")
        return S.NRT_SUCCESS

    # -- completion events -------------------------------------------------------------------------

    def _eventfd(self, fd: Any) -> EventFd | None:
        """The eventfd ``fd`` names (an ``EventFd`` or its number); ``None`` for a negative number."""
        if isinstance(fd, EventFd):
            if fd.closed or fd.sim is not self.sim:
                raise _Status(S.NRT_INVALID)
            return fd
        number = _int(fd)
        if number < 0:
            return None
        found = self.sim.eventfds.get(number)
        if found is None or found.closed:
            raise _Status(S.NRT_INVALID)
        return found

    def _register_seq(self, xu: ExecutionUnit, num: int, efd: EventFd) -> None:
        """Signal ``efd`` when request ``num`` of ``xu`` completes (at once if it already has)."""
        observe = lambda: self._observe(xu, num)  # noqa: E731 - the host observes it by reading the fd
        if num <= xu.completed_num:
            efd.signal(1, observe)
            return
        label = describe(xu, num)
        efd.registrations.append(label)

        def waiter() -> None:
            if label in efd.registrations:
                efd.registrations.remove(label)
            efd.signal(1, observe)

        waiter.efd = efd  # type: ignore[attr-defined]
        xu.seq_waiters.setdefault(num, []).append(waiter)

    def _deregister_seq(self, xu: ExecutionUnit, num: int) -> None:
        for waiter in xu.seq_waiters.pop(num, []):
            efd = waiter.efd  # type: ignore[attr-defined]
            label = describe(xu, num)
            if label in efd.registrations:
                efd.registrations.remove(label)

    def _register_xu(self, xu: ExecutionUnit, efd: EventFd | None) -> None:
        label = f"any completion on {xu.name}"
        previous = self._xu_fds.pop(xu.xu_id, None)
        if previous is not None:
            old_fd, listener = previous
            xu.listeners.remove(listener)
            if label in old_fd.registrations:
                old_fd.registrations.remove(label)
        if efd is None:
            return

        def listener(unit: ExecutionUnit, request: Any) -> None:
            num = request.seq_num
            efd.signal(1, lambda: self._observe(unit, num))

        xu.listeners.append(listener)
        efd.registrations.append(label)
        self._xu_fds[xu.xu_id] = (efd, listener)

    def nrt_get_status_as_str(self, status: Any) -> str:
        """``const char *nrt_get_status_as_str(NRT_STATUS status)``: the enumerator's name (A19)."""
        return status_as_str(status)

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
