"""The explicit async API as SDK 2.28 shipped it ("Gen-1", reference/nrt-api.md §1.3).

``sim.runtime(api="2.28")`` gives the generation the seed documents describe: an error tracker
(``nrta_error_tracker_create / get_list / destroy``) in place of the status pointer, split
TENSOR_READ / TENSOR_WRITE execution units chosen by the LNC that allocated the tensor (no
``lnc_idx``), and ``nrta_get_completion_handle``. The XU enum is the Gen-1 one:
``TENSOR_READ=0, TENSOR_WRITE=1, TENSOR_OP=2, COMPUTE=3, COLLECTIVES=4``.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, NamedTuple

from neuronsim import nrt_2_28 as nrt_constants
from neuronsim.collectives.service import CCContext
from neuronsim.nrt import NRT_STATUS, Ref, nrta_xu_t_2_28
from neuronsim.api.mirror import _int, _mirror, _ref, _refuse, _show
from neuronsim.api.base import RuntimeBase

if TYPE_CHECKING:
    from neuronsim.runtime.caller import ThreadCall

__all__ = ["NrtRuntime228", "ErrorTracker", "nrta_error_t"]

S = NRT_STATUS
X = nrta_xu_t_2_28
TENSOR_READ, TENSOR_WRITE, TENSOR_OP, COMPUTE, COLLECTIVES = (int(X.NRTA_XU_TENSOR_READ), int(X.NRTA_XU_TENSOR_WRITE),
                                                             int(X.NRTA_XU_TENSOR_OP), int(X.NRTA_XU_COMPUTE),
                                                             int(X.NRTA_XU_COLLECTIVES))


class nrta_error_t(NamedTuple):  # noqa: N801 - the C name
    """``typedef struct nrta_error { nrta_seq_t seq_id; uint64_t error_code; } nrta_error_t;``"""

    seq_id: int
    error_code: int


class ErrorTracker:
    """``nrta_error_tracker_t``: the errors of the requests scheduled with it, in completion order."""

    __slots__ = ("lnc_idx", "errors", "destroyed", "owner")

    def __init__(self, lnc_idx: int, owner: object) -> None:
        self.lnc_idx = lnc_idx
        self.errors: list[nrta_error_t] = []
        self.destroyed = False
        self.owner = owner

    def __repr__(self) -> str:
        return f"<nrta_error_tracker_t lnc {self.lnc_idx}, {len(self.errors)} errors>"


class _TrackedStatus:
    """Where a 2.28 request's final status goes: a failure is appended to the tracker."""

    __slots__ = ("tracker", "seq_id", "_value")

    def __init__(self, tracker: ErrorTracker | None) -> None:
        self.tracker = tracker
        self.seq_id = 0
        self._value: Any = None

    @property
    def value(self) -> Any:
        return self._value

    @value.setter
    def value(self, status: Any) -> None:
        self._value = status
        tracker = self.tracker
        if tracker is not None and not tracker.destroyed and status != S.NRT_SUCCESS:
            tracker.errors.append(nrta_error_t(self.seq_id, int(status)))


class NrtRuntime228(RuntimeBase):
    """A runtime process speaking the 2.28 (Gen-1, error-tracker) async API."""

    XU_TABLE = ((TENSOR_READ, "tensor_read"), (TENSOR_WRITE, "tensor_write"), (TENSOR_OP, "tensor_op"),
                (COMPUTE, "compute"), (COLLECTIVES, "collectives"))
    XU_ENUM = nrta_xu_t_2_28
    API = "2.28"
    nrt = nrt_constants  # this generation's constants: rt.nrt.NRTA_XU_COMPUTE == 3
    CC_TIMEOUT_NS = 100_000_000  # the Collectives XU wait timeout before SDK 2.29: 100 ms (nrt-api.md §1.1)

    def _queue_count(self, kind: str) -> int:
        if kind == "collectives":
            return 1  # the Gen-1 header: nrta_cc_schedule "queue must be 0" (A18)
        return super()._queue_count(kind)

    def _status_sink(self, err: Any, lnc: int) -> _TrackedStatus:
        if err is None:
            return _TrackedStatus(None)  # a NULL tracker: errors are not recorded
        self._check_tracker(err, "err")
        if err.lnc_idx != lnc:  # A18: a tracker serves the LNC it was created for
            _refuse(f"err is the error tracker of lnc {err.lnc_idx}; this request runs on lnc {lnc} (A18)")
        return _TrackedStatus(err)

    def _check_tracker(self, tracker: Any, what: str) -> ErrorTracker:
        if not isinstance(tracker, ErrorTracker):
            _refuse(f"{what} is {_show(tracker)}" + (": pass its .value" if isinstance(tracker, Ref) else
                                                     ", not an nrta_error_tracker_t"))
        if tracker.destroyed:
            _refuse(f"{what} was destroyed")
        if tracker.owner is not self:
            _refuse(f"{what} belongs to another runtime process")
        return tracker

    def _tracked(self, status: NRT_STATUS, sink: _TrackedStatus, seq_cell: Any) -> NRT_STATUS:
        if status == S.NRT_SUCCESS:
            sink.seq_id = seq_cell.value
        return status

    def _tracked_transfer(self, write: bool, tensor: Any, buf: Any, offset: Any, size: Any, queue: Any, err: Any,
                          req_sequence: Any, caller: ThreadCall | None) -> NRT_STATUS:
        """A tensor write (``write``) or read on the TENSOR_WRITE or TENSOR_READ unit of the tensor's LNC, its
        failure reported to ``err`` (``_tracked`` inlined: as many calls as before)."""
        seq_cell = _ref(req_sequence, "req_sequence")
        t = self._device_tensor(tensor)
        sink = self._status_sink(err, t.vnc)
        if write:
            xu = self._xu(t.vnc, TENSOR_WRITE, queue)
            status = self._write(t, t.core, xu, queue, buf, offset, size, sink, seq_cell, caller)
        else:
            xu = self._xu(t.vnc, TENSOR_READ, queue)
            status = self._read(t, t.core, xu, queue, buf, offset, size, sink, seq_cell, caller)
        if status == S.NRT_SUCCESS:
            sink.seq_id = seq_cell.value
        return status

    @_mirror("schedule_ns")
    def nrta_tensor_write(self, tensor: Any, buf: Any, offset: Any, size: Any, queue: Any, err: Any,
                          req_sequence: Any, *, caller: ThreadCall | None = None) -> NRT_STATUS:
        """``nrta_tensor_write(nrt_tensor_t *tensor, const void *buf, uint64_t offset, uint64_t size, int queue,
        nrta_error_tracker_t *err, nrta_seq_t *req_sequence)``: TENSOR_WRITE unit of the tensor's LNC."""
        return self._tracked_transfer(True, tensor, buf, offset, size, queue, err, req_sequence, caller)

    @_mirror("schedule_ns")
    def nrta_tensor_read(self, buf: Any, tensor: Any, offset: Any, size: Any, queue: Any, err: Any,
                         req_sequence: Any, *, caller: ThreadCall | None = None) -> NRT_STATUS:
        """``nrta_tensor_read(void *buf, nrt_tensor_t *tensor, uint64_t offset, uint64_t size, int queue,
        nrta_error_tracker_t *err, nrta_seq_t *req_sequence)``: TENSOR_READ unit of the tensor's LNC."""
        return self._tracked_transfer(False, tensor, buf, offset, size, queue, err, req_sequence, caller)

    @_mirror("schedule_ns")
    def nrta_tensor_copy(self, src: Any, src_offset: Any, dst: Any, dst_offset: Any, size: Any, queue: Any,
                         err: Any, req_sequence: Any) -> NRT_STATUS:
        """``nrta_tensor_copy(nrt_tensor_t *src, uint64_t src_offset, nrt_tensor_t *dst, uint64_t dst_offset,
        uint64_t size, int queue, nrta_error_tracker_t *err, nrta_seq_t *req_sequence)``: TENSOR_OP unit."""
        seq_cell = _ref(req_sequence, "req_sequence")
        s = self._device_tensor(src, "src")
        sink = self._status_sink(err, s.vnc)
        xu = self._xu(s.vnc, TENSOR_OP, queue)
        status = self._copy(s, s.core, xu, src_offset, dst, dst_offset, size, sink, seq_cell)
        return self._tracked(status, sink, seq_cell)

    @_mirror("schedule_ns")
    def nrta_execute_schedule(self, model: Any, input: Any, output: Any, queue: Any, err: Any,  # noqa: A002
                              req_sequence: Any) -> NRT_STATUS:
        """``nrta_execute_schedule(nrt_model_t *model, const nrt_tensor_set_t *input, nrt_tensor_set_t *output,
        int queue, nrta_error_tracker_t *err, nrta_seq_t *req_sequence)``: queue must be 0."""
        seq_cell = _ref(req_sequence, "req_sequence")
        m = self._model(model)
        sink = self._status_sink(err, m.vnc)
        status = self._execute(m, self._xu(m.vnc, COMPUTE, queue), input, output, sink, seq_cell)
        return self._tracked(status, sink, seq_cell)

    @_mirror("schedule_ns")
    def nrta_cc_schedule(self, cc_ctx: Any, queue: Any, err: Any, req_sequence: Any) -> NRT_STATUS:
        """``nrta_cc_schedule(nrt_cc_context_t **cc_ctx, int queue, nrta_error_tracker_t *err,
        nrta_seq_t *req_sequence)``: queue must be 0 (Gen-1)."""
        seq_cell = _ref(req_sequence, "req_sequence")
        ctx = cc_ctx.value if isinstance(cc_ctx, Ref) else cc_ctx
        if not isinstance(ctx, CCContext):
            _refuse(f"cc_ctx is {_show(ctx)}, not an nrt_cc_context_t")
        sink = self._status_sink(err, ctx.vnc)
        return self._tracked(self._cc_request(cc_ctx, queue, sink, seq_cell, COLLECTIVES), sink, seq_cell)

    @_mirror("query_ns")
    def nrta_get_completion_handle(self, seq: Any, fd: Any) -> NRT_STATUS:
        """``nrta_get_completion_handle(nrta_seq_t seq, int *fd)``: ``fd.value`` is a pollable eventfd that is
        readable once ``seq`` has completed; close it when done."""
        out = _ref(fd, "fd")
        xu, num = self._decode(seq)
        efd = self.sim.eventfd(nonblock=True)
        self._register_seq(xu, num, efd)
        out.value = efd
        return S.NRT_SUCCESS

    @_mirror("tensor_ns")
    def nrta_error_tracker_create(self, lnc_idx: Any, error_tracker: Any) -> NRT_STATUS:
        """``nrta_error_tracker_create(uint32_t lnc_idx, nrta_error_tracker_t **error_tracker)``."""
        out = _ref(error_tracker, "error_tracker")
        self._core(lnc_idx, "lnc_idx")
        out.value = ErrorTracker(_int(lnc_idx), self)
        return S.NRT_SUCCESS

    @_mirror("tensor_ns")
    def nrta_error_tracker_destroy(self, error_tracker: Any) -> NRT_STATUS:
        """``void nrta_error_tracker_destroy(nrta_error_tracker_t *error_tracker)``."""
        if not isinstance(error_tracker, ErrorTracker) or error_tracker.destroyed:
            self._check_tracker(error_tracker, "error_tracker")
        error_tracker.destroyed = True
        error_tracker.errors.clear()
        return S.NRT_SUCCESS

    @_mirror("query_ns")
    def nrta_error_tracker_get_list(self, error_tracker: Any, list: Any, error_count: Any) -> NRT_STATUS:  # noqa: A002
        """``nrta_error_tracker_get_list(nrta_error_tracker_t *, const nrta_error_t **list, size_t *error_count)``:
        the errors recorded since the last call (reading drains the list, A18)."""
        list_cell, count_cell = _ref(list, "list"), _ref(error_count, "error_count")
        tracker = self._check_tracker(error_tracker, "error_tracker")
        errors, tracker.errors = tuple(tracker.errors), []
        list_cell.value = errors
        count_cell.value = len(errors)
        return S.NRT_SUCCESS
