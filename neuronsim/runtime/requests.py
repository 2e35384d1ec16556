"""The request kinds an execution unit runs, and what each does to the hardware and the data.

* ``WriteRequest`` (host -> tensor): host DMA engine, PCIe host-to-device, the tensor's HBM stack.
  The host bytes are taken when the DMA starts and land in device memory when it completes.
* ``ReadRequest`` (tensor -> host): HBM stack, PCIe device-to-host, host DMA engine. Device bytes
  are taken when the DMA starts; the host buffer is filled when it completes.
* ``CopyRequest`` (tensor -> tensor on one core): the core's DMA engines and the HBM stack(s),
  which see the bytes twice (read and write) when source and destination share a stack.
* ``ExecuteRequest``: the model's cost model on the core (a roofline's HBM bytes are a flow on the core's
  stack, paced by its compute); the inputs are read when it starts and the outputs written when it ends.

Transfers are flows of the simulation's :class:`~neuronsim.hw.channel.FlowNetwork`: they share every
channel of their path max-min fairly with whatever else crosses it (docs/assumptions.md A9), so a
request's end is known only when its flow ends (``ExecutionUnit.end_now``).

Each request writes its status into its ``ret`` cell in ``finish``, before the execution unit marks
it complete.
"""

from __future__ import annotations

import logging
import math
from typing import TYPE_CHECKING, Any

import numpy as np
from simpy.events import Timeout

from neuronsim.hw.channel import Channel, Flow
from neuronsim.nrt import NRT_STATUS, Ref, nrt_op_type_t
from neuronsim.runtime.neff import FixedCost, Roofline

if TYPE_CHECKING:
    from neuronsim.hw.system import CoreHW, System
    from neuronsim.runtime.objects import Model, Tensor

__all__ = ["WriteRequest", "ReadRequest", "CopyRequest", "ExecuteRequest"]

# NRT_STATUS members as module constants: reading an enum member off its class costs ~100 ns in CPython 3.11
# (a global ~10 ns), and every request reads a few on its hot path
_SUCCESS = NRT_STATUS.NRT_SUCCESS
_NUM_ERR = NRT_STATUS.NRT_EXEC_COMPLETED_WITH_NUM_ERR


class _Request:
    __slots__ = ("seq_num", "seq_id", "submit_ns", "start_ns", "end_ns", "done_ns", "ret", "status", "error",
                 "fatal", "completions", "fault", "unit")
    kind = "request"

    def __init__(self, ret: Ref | None) -> None:
        self.ret = ret
        self.seq_num = 0
        self.seq_id = 0
        self.submit_ns = self.start_ns = self.end_ns = self.done_ns = 0
        self.status = _SUCCESS
        self.error: BaseException | None = None
        self.fatal = False
        self.completions = 0
        self.fault: Any = None  # the fault that hit it, if any
        self.unit: Any = None  # the execution unit that accepted it

    @property
    def xu_name(self) -> str:
        return self.unit.name if self.unit is not None else ""

    @property
    def ok(self) -> bool:
        return self.status == _SUCCESS

    def _complete(self) -> None:
        if self.ret is not None:
            self.ret.value = self.status

    def abort(self, status: int) -> None:
        """Complete without running: write ``status``, move no data."""
        self.status = NRT_STATUS(status)
        self._complete()

    def accesses(self) -> list[tuple[Any, int, int, bool, str]]:
        """``(allocation, lo, hi, is_write, tensor name)`` of every tensor byte range it touches."""
        return []

    def stacks(self) -> set[tuple[int, int]]:
        """``(device, HBM stack)`` of every stack it touches (fault targets)."""
        return {(a.device_index, a.hbm_index) for a, *_ in self.accesses()}


class _Transfer(_Request):
    __slots__ = ("system", "tensor", "offset", "size", "engine", "host", "snapshot", "numa_remote")
    writes: bool  # True: the request writes the tensor (host to device); False: it reads it

    def __init__(self, system: System, tensor: Tensor, offset: int, size: int, engine: Channel,
                 host: memoryview | None, ret: Ref | None, numa_remote: bool = False) -> None:
        # _Request.__init__ inlined (one call less per request on the hot path); keep in step with it
        self.ret = ret
        self.seq_num = self.seq_id = self.submit_ns = self.start_ns = self.end_ns = self.done_ns = 0
        self.status = _SUCCESS
        self.error = self.fault = self.unit = None
        self.fatal = False
        self.completions = 0
        self.system = system
        self.tensor = tensor
        self.offset = offset
        self.size = size
        self.engine = engine
        self.host = host
        self.snapshot: Any = None
        self.numa_remote = numa_remote

    def _pcie(self, pcie: Channel, now_ns: int) -> Flow:
        system = self.system
        latency = system.pcie_latency_ns
        size = self.size
        pcie_bytes = size
        if self.numa_remote:
            # the remote socket's link carries the bytes at a fraction of PCIe bandwidth (A4)
            pcie_bytes = math.ceil(size / system.numa_remote_bandwidth_factor)
            latency += system.numa_remote_latency_ns
        path = ((self.engine, size), (pcie, pcie_bytes), (self.tensor.alloc.channel, size))
        # the flow's end is the request's: it calls the unit's _finish directly (one event per transfer)
        return system.network.start(now_ns, path, system.dma_setup_ns, latency, self.unit._finish, size=size)

    def accesses(self) -> list[tuple[Any, int, int, bool, str]]:
        lo = self.tensor.offset + self.offset
        return [(self.tensor.alloc, lo, lo + self.size, self.writes, self.tensor.name)]


class WriteRequest(_Transfer):
    __slots__ = ()
    kind = "tensor_write"
    writes = True

    def start(self, now_ns: int) -> Flow:
        if self.host is not None and self.tensor.alloc.storage is not None:
            self.snapshot = self.host[:self.size].tobytes()
        return self._pcie(self.tensor.core.device.pcie_h2d, now_ns)

    def finish(self, now_ns: int) -> None:
        storage = self.tensor.alloc.storage
        if storage is not None and self.snapshot is not None and self.status == _SUCCESS:
            storage.write(self.tensor.offset + self.offset, self.snapshot)
        self.snapshot = None
        if self.ret is not None:  # _complete, inlined (every transfer passes here)
            self.ret.value = self.status


class ReadRequest(_Transfer):
    __slots__ = ()
    kind = "tensor_read"
    writes = False

    def start(self, now_ns: int) -> Flow:
        storage = self.tensor.alloc.storage
        if storage is not None and self.host is not None:
            self.snapshot = storage.read_bytes(self.tensor.offset + self.offset, self.size)
        return self._pcie(self.tensor.core.device.pcie_d2h, now_ns)

    def finish(self, now_ns: int) -> None:
        if self.snapshot is not None and self.host is not None and self.status == _SUCCESS:
            self.host[:self.size] = self.snapshot
        self.snapshot = None
        if self.ret is not None:  # _complete, inlined (every transfer passes here)
            self.ret.value = self.status


class CopyRequest(_Request):
    __slots__ = ("system", "core", "src", "src_offset", "dst", "dst_offset", "size", "snapshot")
    kind = "tensor_copy"

    def __init__(self, system: System, core: CoreHW, src: Tensor, src_offset: int, dst: Tensor, dst_offset: int,
                 size: int, ret: Ref | None) -> None:
        super().__init__(ret)
        self.system = system
        self.core = core
        self.src, self.src_offset, self.dst, self.dst_offset, self.size = src, src_offset, dst, dst_offset, size
        self.snapshot: Any = None

    def start(self, now_ns: int) -> Flow:
        storage = self.src.alloc.storage
        if storage is not None:
            self.snapshot = storage.read_bytes(self.src.offset + self.src_offset, self.size)
        src_hbm = self.src.alloc.channel
        dst_hbm = self.dst.alloc.channel
        assert src_hbm is not None and dst_hbm is not None  # device tensors: their HBM stacks
        path = [(self.core.dma, self.size)]
        if self.core.device.host_copy is not None:  # host based (reference/measurements.md M3)
            path.append((self.core.device.host_copy, self.size))
        if src_hbm is dst_hbm:
            path.append((src_hbm, 2 * self.size))
        else:
            path += [(src_hbm, self.size), (dst_hbm, self.size)]
        return self.system.network.start(now_ns, path, self.system.dma_setup_ns, 0, self.unit._finish,
                                         size=self.size)

    def finish(self, now_ns: int) -> None:
        storage = self.dst.alloc.storage
        if storage is not None and self.snapshot is not None and self.status == _SUCCESS:
            storage.write(self.dst.offset + self.dst_offset, self.snapshot)
        self.snapshot = None
        self._complete()

    def accesses(self) -> list[tuple[Any, int, int, bool, str]]:
        src_lo = self.src.offset + self.src_offset
        dst_lo = self.dst.offset + self.dst_offset
        return [(self.src.alloc, src_lo, src_lo + self.size, False, self.src.name),
                (self.dst.alloc, dst_lo, dst_lo + self.size, True, self.dst.name)]


REDUCTIONS = {"add": nrt_op_type_t.NRT_OP_ADD, "max": nrt_op_type_t.NRT_OP_MAX, "min": nrt_op_type_t.NRT_OP_MIN}


class _EmbeddedArrival:
    """A NEFF's execution arriving at one of its collectives (what the rendezvous sees)."""

    __slots__ = ("ctx", "core", "unit", "results", "algorithm", "request")

    def __init__(self, ctx: Any, core: Any, unit: Any, request: Any) -> None:
        self.ctx, self.core, self.unit, self.request = ctx, core, unit, request
        self.results: list[bytes] = []
        self.algorithm = ""


class ExecuteRequest(_Request):
    __slots__ = ("model", "inputs", "outputs", "snapshot", "run_kernel", "service", "flow", "hung")
    kind = "execute"

    def __init__(self, model: Model, inputs: dict[str, Tensor], outputs: dict[str, Tensor], ret: Ref | None,
                 run_kernel: bool) -> None:
        # _Request.__init__ inlined (one call less per request on the hot path); keep in step with it
        self.ret = ret
        self.seq_num = self.seq_id = self.submit_ns = self.start_ns = self.end_ns = self.done_ns = 0
        self.status = _SUCCESS
        self.error = self.fault = self.unit = None
        self.fatal = False
        self.completions = 0
        self.model = model
        self.inputs = inputs
        self.outputs = outputs
        self.snapshot: dict[str, np.ndarray] | None = None
        self.run_kernel = run_kernel
        self.service: Any = None  # the collective service, for a NEFF loaded with nrt_load_collectives
        self.flow: Any = None  # a roofline's HBM traffic, while it runs
        self.hung = False  # past NEURON_RT_EXEC_TIMEOUT: its end logs the runtime's execution-timeout line

    def start(self, now_ns: int) -> int | Flow | None:
        end = self._compute(now_ns)
        flow = self.flow
        if flow is not None:
            end = flow.end_ns  # as projected now; it moves if other traffic shares the stack
        assert end is not None  # _compute returns None only when it started a flow
        timeout = self.unit.timeout_ns
        if timeout and end - now_ns > timeout:
            # NEURON_RT_EXEC_TIMEOUT: "(FATAL-RT-UNDEFINED-STATE) execution timeout": NRT_TIMEOUT, unit dead
            self.status = NRT_STATUS.NRT_TIMEOUT
            self.fatal = self.hung = True
            self.snapshot = None
            if flow is not None:
                flow.on_done = None  # its bytes still load the stack, as the hung kernel's would
                self.flow = None
            return now_ns + timeout
        model = self.model
        if flow is not None:  # it ends with its HBM traffic (_memory_done), then runs its collectives if any
            return None if model.neff.collectives and model.cc_count and self.service is not None else flow
        if not (model.neff.collectives and model.cc_count and self.service is not None):
            return end
        # the NEFF's collectives follow its compute: each meets the same execution on the other ranks
        Timeout(self.unit.env, end - now_ns).callbacks.append(lambda _e: self._collective(0))
        return None

    def _memory_done(self, flow: Any) -> None:
        """The roofline's HBM bytes are delivered and its compute time is over (``flow.end_ns`` is now)."""
        self.flow = None
        now = flow.end_ns
        timeout = self.unit.timeout_ns
        if timeout and now - self.start_ns > timeout:
            # contention stretched it past the timeout after it started: seen at its end (docs/assumptions.md A52)
            self.status = NRT_STATUS.NRT_TIMEOUT
            self.fatal = self.hung = True
            self.snapshot = None
            self.unit.end_now(self)
            return
        model = self.model
        if model.neff.collectives and model.cc_count and self.service is not None:
            self._collective(0)
        else:
            self.unit.end_now(self)

    def _tensor(self, name: str) -> Tensor:
        return self.inputs[name] if name in self.inputs else self.outputs[name]

    def _collective(self, index: int) -> None:
        extra = self.service.neff_launch_ns
        if extra:  # runtime.neff_collective_ns: what a NEFF's own collective costs besides the standalone launch
            Timeout(self.unit.env, extra).callbacks.append(lambda _e: self._arrive(index))
        else:
            self._arrive(index)

    def _arrive(self, index: int) -> None:
        from neuronsim.collectives.service import CCContext

        model = self.model
        spec = model.neff.collectives[index]
        if spec.input is not None and self.snapshot is not None:
            self._run_kernel()  # the collective works on what the compute produced
        group = tuple(("neff", id(model.neff), model.cc_count, i) for i in range(model.cc_count))
        dtype: int
        op: int
        if spec.input is not None:
            src, dst = self._tensor(spec.input), self._tensor(spec.output)  # type: ignore[arg-type]
            dtype = model.neff.tensor(spec.input).nrt_dtype
            ins, outs, op = [src], [dst], REDUCTIONS[spec.reduce]
        else:
            ins, outs, dtype, op = [], [], 0xA, 0
        # a NEFF's ranks are named (neff, id, count, rank), not by global device ids as a comm's are
        ctx = CCContext(group, model.cc_rank, model.vnc, ins, outs, dtype, op, spec.operation,  # type: ignore[arg-type]
                        spec.size_bytes, model.owner, spec.algorithm,
                        on_done=lambda arrival, end: self._after(index, end, arrival))
        self.service.arrive(_EmbeddedArrival(ctx, model.core, self.unit, self), int(self.unit.env.now))

    def _after(self, index: int, end_ns: int, arrival: _EmbeddedArrival) -> None:
        timeout = self.unit.timeout_ns
        if timeout and end_ns - self.start_ns > timeout and self.status == _SUCCESS:
            # its collectives took it past NEURON_RT_EXEC_TIMEOUT: "execution timeout", unit dead
            self.status = NRT_STATUS.NRT_TIMEOUT
            self.fatal = self.hung = True
            end_ns = self.start_ns + timeout
        # a failed collective (a network fault) ends the execution: it issues no more
        last = index + 1 == len(self.model.neff.collectives) or self.status != _SUCCESS
        if last and not arrival.results:
            self.unit.end_at(self, end_ns)
            return

        def resume(_e: Any) -> None:
            if arrival.results and self.status == _SUCCESS:
                dst = arrival.ctx.outputs[0]
                if dst.alloc.storage is not None:
                    dst.alloc.storage.write(dst.offset, arrival.results[0])
            if last:
                self.unit.end_at(self, end_ns)
            else:
                self._collective(index + 1)

        Timeout(self.unit.env, max(0, end_ns - int(self.unit.env.now))).callbacks.append(resume)

    def _compute(self, now_ns: int) -> int | None:
        neff = self.model.neff
        if self.run_kernel and neff.kernel is not None:
            self.snapshot = {}
            for spec in neff.inputs:
                tensor = self.inputs[spec.name]
                storage = tensor.alloc.storage
                assert storage is not None  # kernels run only when tensors hold bytes (not timing-only)
                raw = storage.read(tensor.offset, spec.size_bytes)
                self.snapshot[spec.name] = raw.view(spec.numpy_dtype).reshape(spec.shape)
        cost = neff.cost
        if isinstance(cost, FixedCost):
            return now_ns + cost.duration_ns
        return self._roofline(cost, now_ns)

    def _roofline(self, cost: Roofline, now_ns: int) -> int | None:
        core = self.model.core
        peak = core.peak_flops_per_ns(cost.precision)
        compute_ns = math.ceil(cost.flops / (peak * cost.efficiency)) if cost.flops else 0
        hbm_bytes = cost.hbm_bytes if cost.hbm_bytes is not None else self.model.neff.io_bytes
        overhead = cost.overhead_ns
        if not hbm_bytes:
            return now_ns + compute_ns + overhead
        stack = core.hbm.channel
        size = hbm_bytes if cost.memory_efficiency == 1.0 else math.ceil(hbm_bytes / cost.memory_efficiency)
        # a flow on the core's stack, paced by the compute (it needs no more than size / compute_ns), that
        # cannot end before the compute does: max(compute time, its bytes at the rate it gets) (A51); the
        # fixed costs follow it (its "latency")
        network = stack.network
        assert network is not None  # an HBM stack's channel is in the simulation's flow network
        self.flow = network.start(now_ns, ((stack, size),), 0, overhead, self._memory_done,
                                        not_before=now_ns + compute_ns + overhead,
                                        cap=size / compute_ns if compute_ns else math.inf)
        return None

    def stacks(self) -> set[tuple[int, int]]:
        core = self.model.core
        return super().stacks() | {(core.device.index, core.hbm_index)}

    def accesses(self) -> list[tuple[Any, int, int, bool, str]]:
        out = [(t.alloc, t.offset, t.offset + t.size, False, t.name) for t in self.inputs.values()]
        out += [(t.alloc, t.offset, t.offset + t.size, True, t.name) for t in self.outputs.values()]
        return out

    def finish(self, now_ns: int) -> None:
        status = self.status
        if status is not _SUCCESS:  # the common case skips both comparisons
            if self.hung:
                self._log_timeout()
            if status == _NUM_ERR:
                self._nan_outputs()
                self.snapshot = None
            elif status != _SUCCESS:
                self.snapshot = None
        if self.snapshot is not None:
            self._run_kernel()
        if self.ret is not None:  # _complete, inlined
            self.ret.value = self.status

    def _log_timeout(self) -> None:
        """The runtime's line for an execution past ``NEURON_RT_EXEC_TIMEOUT`` (nrt-api.md §3), at its end."""
        model, core = self.model, self.model.core
        owner: Any = model.owner
        owner._log.log(  # noqa: SLF001 - the owning process's log (NEURON_RT_LOG_LEVEL)
            logging.ERROR, "nrt_execute", "NRT:nrt_execute (FATAL-RT-UNDEFINED-STATE) execution timeout (%d ms) on "
            "Neuron Device %d NC %d, model %s, waiting for execution completion notification",
            self.unit.timeout_ns // 1_000_000, core.device.index, core.local_index, model.neff.name,
            status=NRT_STATUS.NRT_TIMEOUT)

    def _run_kernel(self) -> None:
        """Run the NEFF's kernel on the inputs read at start and write its outputs."""
        neff = self.model.neff
        nan = False
        try:
            results = neff.kernel(**self.snapshot)  # type: ignore[misc, arg-type]
            for spec in neff.outputs:
                value = np.ascontiguousarray(results[spec.name], dtype=spec.numpy_dtype)
                if value.size * value.itemsize != spec.size_bytes:
                    raise ValueError(f"kernel output {spec.name!r} has {value.nbytes} bytes, "
                                     f"expected {spec.size_bytes}")
                tensor = self.outputs[spec.name]
                storage = tensor.alloc.storage
                assert storage is not None  # kernels run only when tensors hold bytes (not timing-only)
                storage.write(tensor.offset, value.reshape(-1).view(np.uint8))
                nan = nan or _has_nan(value, spec.dtype)
        except Exception as exc:  # noqa: BLE001 - a user kernel's failure becomes the request's status
            self.error = exc
            self.status = NRT_STATUS.NRT_FAILURE
        self.snapshot = None
        if nan and self.status == _SUCCESS and getattr(self.model.owner, "fail_on_nan", False):
            # NEURON_FAIL_ON_NAN=1: "execution was completed with numerical errors (produced NaN)"; the
            # outputs are written (A75)
            self.status = NRT_STATUS.NRT_EXEC_COMPLETED_WITH_NUM_ERR

    def _nan_outputs(self) -> None:
        """NRT_EXEC_COMPLETED_WITH_NUM_ERR: the execution produced NaN; float outputs are filled with it."""
        for spec in self.model.neff.outputs:
            tensor = self.outputs[spec.name]
            storage = tensor.alloc.storage
            if storage is None:
                continue
            kind = spec.numpy_dtype.kind
            if kind == "f":
                nan = np.full(spec.shape, np.nan, dtype=spec.numpy_dtype)
            elif spec.dtype == "bfloat16":
                nan = np.full(spec.shape, 0x7FC0, dtype=np.uint16)  # bfloat16 quiet NaN
            else:
                continue
            storage.write(tensor.offset, nan.reshape(-1).view(np.uint8))


def _has_nan(value: np.ndarray, dtype: str) -> bool:
    """Whether a kernel output holds a NaN (bfloat16 is carried as uint16: exponent all ones, mantissa
    not zero)."""
    if value.dtype.kind == "f":
        return bool(np.isnan(value).any())
    if dtype == "bfloat16":
        return bool((((value & 0x7F80) == 0x7F80) & ((value & 0x7F) != 0)).any())
    return False


class CollectiveRequest(_Request):
    """One rank's part of a collective; it ends when the collective's algorithm is done for that rank."""

    __slots__ = ("ctx", "core", "service", "results", "algorithm")
    kind = "collective"

    def __init__(self, ctx: Any, core: CoreHW, service: Any, ret: Ref | None) -> None:
        super().__init__(ret)
        self.ctx = ctx
        self.core = core
        self.service = service
        self.results: list[bytes] = []
        self.algorithm = ""

    def start(self, now_ns: int) -> None:
        self.service.arrive(self, now_ns)
        return None

    def finish(self, now_ns: int) -> None:
        if self.status == _SUCCESS:
            for tensor, data in zip(self.ctx.outputs, self.results, strict=False):
                if tensor.alloc.storage is not None:
                    tensor.alloc.storage.write(tensor.offset, data)
        self.results = []
        self._complete()

    def accesses(self) -> list[tuple[Any, int, int, bool, str]]:
        out = [(t.alloc, t.offset, t.offset + t.size, False, t.name) for t in self.ctx.inputs]
        out += [(t.alloc, t.offset, t.offset + t.size, True, t.name) for t in self.ctx.outputs]
        return out
