"""The ``nrt_*`` calls every API generation shares: init and close, counts and info, models, tensors and
tensor sets, device memory queries.

``RuntimeBase`` is the mirror over a :class:`~neuronsim.runtime.process.RuntimeProcess`: methods take the C
arguments in C order and return an ``NRT_STATUS``; out-parameters are ``nrt.Ref`` cells. A bad argument
returns the status the real runtime returns (reference/nrt-api.md; choices where it is silent are in
docs/assumptions.md A10-A14) and never raises. The generations add their ``nrta_*`` calls:
:mod:`neuronsim.api.nrta` (3.0), :mod:`neuronsim.api.nrta_2_28` (2.28).

Direct mode: every call first spends its host cost (``runtime.call_costs``) in simulated time, during
which the devices run; then it acts. A poll therefore sees progress and a polling loop terminates.
"""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING, Any

from neuronsim.api.cc import CollectivesMixin
from neuronsim.api.completion import CompletionMixin
from neuronsim.api.mirror import S, _enum, _int, _mirror, _ref, _refuse, _show, _with_caller
from neuronsim.api.sync import SyncMixin
from neuronsim.errors import NeuronSimError
from neuronsim.hw.memory import MemoryPool, SparseBytes
from neuronsim.idlist import IdListError, parse_id_list
from neuronsim.nrt import NRT_STATUS, Ref, nrt_framework_type_t, nrt_tensor_placement_t, nrt_tensor_usage_t
from neuronsim.runtime.neff import Neff
from neuronsim.runtime.neff_file import NeffError, check_target
from neuronsim.runtime.objects import Allocation, Model, Tensor, TensorInfo, TensorInfoArray, TensorSet
from neuronsim.runtime.process import ASYNC_HARD_LIMIT, RuntimeProcess
from neuronsim.runtime.state import HOST_TENSOR_MAX_BYTES, SCRATCHPAD_PAGE_BYTES, _truthy
from neuronsim.units import MiB, UnitError, parse_time_ns

if TYPE_CHECKING:
    from neuronsim.runtime.caller import ThreadCall

__all__ = ["RuntimeBase"]


class RuntimeBase(SyncMixin, CollectivesMixin, CompletionMixin, RuntimeProcess):
    """A simulated Neuron Runtime in one host process (``libnrt`` as that process sees it): the calls of
    every generation over the process's state.

    Created by :meth:`neuronsim.Simulator.runtime`. Subclasses give the API generation's execution-unit
    types (``XU_TABLE``) and its ``nrta_*`` schedule calls.
    """

    # -- init / close -----------------------------------------------------------------------------

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

    @_mirror(None, needs_init=False)
    def nrt_close(self, *, caller: ThreadCall | None = None) -> NRT_STATUS:
        """``void nrt_close()``: releases the cores, models and tensors of this process.

        Requests still in flight run to their end first (docs/assumptions.md A138): from the host (direct mode) the call waits for
        them; from a process-mode thread, which cannot block inside a call, the cores stay this process's
        until the last of them completes. Either way no other process (or a new ``nrt_init``) runs on a core
        while this one's work is still on it."""
        if self._state != "open":
            return S.NRT_SUCCESS
        units = [*self._xus.values(), *self._sync_units.values()]
        if caller is None:
            for unit in units:
                if unit.completed_num < unit.last_submitted_num:
                    self._wait_for(unit, unit.last_submitted_num)
        self._spend(self._costs.init_ns, caller)
        owned = [key for key, owner in self.sim.core_owners.items() if owner is self]
        left = [unit for unit in units if unit.completed_num < unit.last_submitted_num]

        def release() -> None:
            if all(unit.completed_num >= unit.last_submitted_num for unit in left):
                for key in owned:
                    if self.sim.core_owners.get(key) is self:
                        del self.sim.core_owners[key]

        for unit in left:  # a thread's close: the cores are released when the last of them completes
            unit.seq_waiters.setdefault(unit.last_submitted_num, []).append(release)
        release()
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
                assert spec.output is not None  # a NEFF's collectives are resolved: output defaults to input
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
            core = self._core(index) if index != -1 else self._cores[0]  # an open process has cores
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
            channel = t.alloc.channel
            assert channel is not None  # a device tensor's HBM stack
            flow = self.sim.network.start(int(self.sim.env.now), [(t.core.dma, n), (channel, n)],
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
