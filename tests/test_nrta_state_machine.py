"""A hypothesis state machine over the nrta_* mirror: the contract's invariants under random schedules."""

from __future__ import annotations

from collections import Counter

import numpy as np
from hypothesis import settings
from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, initialize, invariant, precondition, rule

import neuronsim
from neuronsim import nrt

SIZE = 4096
CAPACITY = 8


class NrtaContract(RuleBasedStateMachine):
    @initialize()
    def start(self):
        self.sim = neuronsim.Simulator("trn1.2xlarge", seed=0)
        self.rt = self.sim.runtime()
        assert self.rt.nrt_init(nrt.NRT_FRAMEWORK_TYPE_NO_FW, "", "") == nrt.NRT_SUCCESS
        self.tensors = []
        for vnc in (0, 1):
            for k in range(2):
                cell = nrt.Ref()
                assert self.rt.nrt_tensor_allocate(nrt.NRT_TENSOR_PLACEMENT_DEVICE, vnc, SIZE, f"t{vnc}{k}",
                                                   cell) == nrt.NRT_SUCCESS
                self.tensors.append(cell.value)
        neff = neuronsim.Neff(inputs={"x": ((SIZE // 4,), "float32")}, outputs={"y": ((SIZE // 4,), "float32")},
                              duration_ns=7_000, kernel=lambda x: {"y": x + 1})
        self.models = []
        for vnc in (0, 1):
            m = nrt.Ref()
            assert self.rt.nrt_load(neff, vnc, -1, m) == nrt.NRT_SUCCESS
            ins, outs = nrt.Ref(), nrt.Ref()
            self.rt.nrt_allocate_tensor_set(ins)
            self.rt.nrt_allocate_tensor_set(outs)
            self.rt.nrt_add_tensor_to_tensor_set(ins.value, "x", self.tensors[vnc * 2])
            self.rt.nrt_add_tensor_to_tensor_set(outs.value, "y", self.tensors[vnc * 2 + 1])
            self.models.append((m.value, ins.value, outs.value))
        self.accepted: list[tuple[int, nrt.Ref]] = []  # (seq id, ret cell)
        self.last_num: dict[int, int] = {}  # xu id -> last accepted counter
        self.completions: Counter[int] = Counter()
        self.seen_completed: dict[int, int] = {}
        for xu in self.rt.execution_units():
            xu.listeners.append(lambda unit, req: self.completions.update([req.seq_id]))

    def _in_flight(self, xu_id: int) -> int:
        return sum(1 for seq, ret in self.accepted if nrt.NRTA_SEQ_GET_XU_ID(seq) == xu_id and ret.value is None)

    def _check_schedule(self, status, ret, seq, xu_id):
        if status == nrt.NRT_QUEUE_FULL:
            assert self._in_flight(xu_id) == CAPACITY  # refused exactly when full ...
            assert (ret.value, seq.value) == (None, None)  # ... and nothing changed
            return
        assert status == nrt.NRT_SUCCESS
        assert nrt.NRTA_SEQ_GET_XU_ID(seq.value) == xu_id
        num = nrt.NRTA_SEQ_GET_SEQ_NUM(seq.value)
        assert num == self.last_num.get(xu_id, 0) + 1  # consecutive per queue
        self.last_num[xu_id] = num
        assert self._in_flight(xu_id) < CAPACITY
        self.accepted.append((seq.value, ret))

    @rule(k=st.integers(0, 3), lnc=st.integers(0, 1), queue=st.integers(0, 1), fill=st.integers(0, 255))
    def write(self, k, lnc, queue, fill):
        t = self.tensors[k]
        if t.core.device is not self.rt._cores[lnc].device:  # noqa: SLF001
            return
        ret, seq = nrt.Ref(), nrt.Ref()
        status = self.rt.nrta_tensor_write(t, np.full(SIZE, fill, np.uint8), 0, SIZE, lnc, queue, ret, seq)
        self._check_schedule(status, ret, seq, 0x000 | queue << 4 | lnc << 8)

    @rule(k=st.integers(0, 3), lnc=st.integers(0, 1), queue=st.integers(0, 1))
    def read(self, k, lnc, queue):
        ret, seq = nrt.Ref(), nrt.Ref()
        status = self.rt.nrta_tensor_read(np.zeros(SIZE, np.uint8), self.tensors[k], 0, SIZE, lnc, queue, ret, seq)
        self._check_schedule(status, ret, seq, 0x000 | queue << 4 | lnc << 8)

    @rule(vnc=st.integers(0, 1))
    def execute(self, vnc):
        model, ins, outs = self.models[vnc]
        ret, seq = nrt.Ref(), nrt.Ref()
        status = self.rt.nrta_execute_schedule(model, ins, outs, 0, ret, seq)
        self._check_schedule(status, ret, seq, 0x001 | vnc << 8)

    @rule(vnc=st.integers(0, 1), queue=st.integers(0, 1))
    def copy(self, vnc, queue):
        ret, seq = nrt.Ref(), nrt.Ref()
        src, dst = self.tensors[vnc * 2], self.tensors[vnc * 2 + 1]
        status = self.rt.nrta_tensor_copy(src, 0, dst, 0, SIZE, vnc, queue, ret, seq)
        self._check_schedule(status, ret, seq, 0x000 | queue << 4 | vnc << 8)

    @rule(ns=st.integers(0, 50_000))
    def advance(self, ns):
        self.sim.run_for_ns(ns)

    @precondition(lambda self: self.accepted)
    @rule(i=st.integers(0, 10**6))
    def poll(self, i):
        seq, ret = self.accepted[i % len(self.accepted)]
        done = nrt.Ref()
        assert self.rt.nrta_is_completed(seq, done) == nrt.NRT_SUCCESS
        if done.value:
            assert ret.value == nrt.NRT_SUCCESS  # written before it is reported complete

    @rule(k=st.integers(0, 3), fill=st.integers(0, 255))
    def write_then_read_back(self, k, fill):
        self.sim.run_until_idle()
        t = self.tensors[k]
        lnc = t.vnc
        data = (np.arange(SIZE) * 7 + fill).astype(np.uint8)
        ret, seq = nrt.Ref(), nrt.Ref()
        status = self.rt.nrta_tensor_write(t, data, 0, SIZE, lnc, 0, ret, seq)
        self._check_schedule(status, ret, seq, 0x000 | lnc << 8)
        done = nrt.Ref(False)
        while not done.value:
            self.rt.nrta_is_completed(seq.value, done)
        back = np.zeros(SIZE, np.uint8)
        ret2, seq2 = nrt.Ref(), nrt.Ref()
        status = self.rt.nrta_tensor_read(back, t, 0, SIZE, lnc, 1, ret2, seq2)
        self._check_schedule(status, ret2, seq2, 0x010 | lnc << 8)
        done.value = False
        while not done.value:
            self.rt.nrta_is_completed(seq2.value, done)
        assert np.array_equal(back, data)

    @invariant()
    def completion_in_order_and_sequence_monotone(self):
        if not hasattr(self, "rt"):
            return
        for xu in self.rt.execution_units():
            cell = nrt.Ref()
            assert self.rt.nrta_get_sequence(xu.xu_id >> 8, xu.xu_id & 0xF, (xu.xu_id >> 4) & 0xF, cell) == 0
            num = nrt.NRTA_SEQ_GET_SEQ_NUM(cell.value)
            assert num >= self.seen_completed.get(xu.xu_id, 0)  # monotone
            assert num <= self.last_num.get(xu.xu_id, 0)  # never past the last accepted
            self.seen_completed[xu.xu_id] = num
            assert xu.depth <= CAPACITY
        for seq, ret in self.accepted:
            unit = self.rt._xu_by_id[nrt.NRTA_SEQ_GET_XU_ID(seq)]  # noqa: SLF001
            done = nrt.NRTA_SEQ_GET_SEQ_NUM(seq) <= unit.completed_num
            assert done == (ret.value is not None)  # in order: exactly the prefix has completed
            assert self.completions[seq] == (1 if done else 0)

    def teardown(self):
        if not hasattr(self, "rt"):
            return
        self.sim.run_until_idle()
        for seq, ret in self.accepted:
            assert ret.value == nrt.NRT_SUCCESS
            assert self.completions[seq] == 1  # exactly once
        assert isinstance(self.sim.now_ns, int)


NrtaContract.TestCase.settings = settings(stateful_step_count=40, deadline=None)
TestNrtaContract = NrtaContract.TestCase
