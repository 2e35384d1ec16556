"""A hypothesis state machine over loads, allocations, slices, frees, unloads and nrt_close on two cores
of an inf2.xlarge (one 16 GiB stack each).

A model of the device memory kept by the test (live ranges per stack, first fit in 4 KiB granules,
scratchpad pages of 512 MiB aligned to 4 MiB) predicts every outcome: each call succeeds exactly when
the model finds room and returns ``NRT_RESOURCE`` exactly when it does not, at the address the model
predicts. Invariants: allocated + loaded never exceeds a stack, live ranges never overlap, the pool's
ranges are the model's, and every byte comes back at unload, free and close. A second test frees
tensors while requests that use them are queued, on two runtimes, and closes at any moment: every
accepted request completes once with a status and every byte comes back.
"""

from __future__ import annotations

from hypothesis import event
from hypothesis import strategies as st
from hypothesis.stateful import Bundle, RuleBasedStateMachine, consumes, initialize, invariant, rule

import neuronsim
from neuronsim import nrt

GiB, MiB, KiB = 2**30, 2**20, 2**10
GRANULE = 4 * KiB
PAGE, PAGE_ALIGN = 512 * MiB, 4 * MiB
STACK = 16 * GiB
RESERVED = 16 * MiB + 96 * MiB  # firmware carve-out, micro-code
DEV = nrt.NRT_TENSOR_PLACEMENT_DEVICE

sizes = st.one_of(st.integers(1, 64 * KiB), st.integers(1, 6 * GiB),
                  st.sampled_from([GRANULE, GRANULE + 1, 4 * GiB, 9 * GiB, STACK - RESERVED, STACK - RESERVED + 1]))


def up(n: int, to: int) -> int:
    return -(-n // to) * to


class Model:
    """The test's own account of one stack: live ``address -> size`` and first fit over its gaps."""

    def __init__(self, base: int) -> None:
        self.base = base
        self.live = {base: 16 * MiB, base + 16 * MiB: 96 * MiB}  # carve-out, micro-code

    def fit(self, size: int, align: int = GRANULE) -> int | None:
        cursor = self.base
        for address in sorted(self.live) + [self.base + STACK]:
            start = self.base + up(cursor - self.base, align)
            if start + size <= address:
                return start
            cursor = max(cursor, address + self.live.get(address, 0))
        return None

    def take(self, size: int, align: int = GRANULE) -> int | None:
        address = self.fit(up(size, GRANULE), align)
        if address is not None:
            self.live[address] = up(size, GRANULE)
        return address

    def used(self) -> int:
        return sum(self.live.values())


class DeviceMemory(RuleBasedStateMachine):
    tensors = Bundle("tensors")
    models = Bundle("models")

    @initialize()
    def start(self):
        self.sim = neuronsim.Simulator("inf2.xlarge", timing_only=True)
        self.rt = self.sim.runtime()
        assert self.rt.nrt_init(nrt.NRT_FRAMEWORK_TYPE_NO_FW, "", "") == nrt.NRT_SUCCESS
        self.pools = [self.sim.system.devices[0].hbm[s].pool for s in (0, 1)]
        self.model = [Model(p.base_address) for p in self.pools]
        self.allocs: dict[int, list] = {}  # id(allocation) -> [stack, address, live handles]
        self.scratch: list[list[int]] = [[], []]  # page addresses per core, in allocation order
        self.loaded: list[list[tuple]] = [[], []]  # (handle, scratchpad bytes, [(address)...]) per core

    # -- tensors ---------------------------------------------------------------------------------------

    @rule(target=tensors, vnc=st.sampled_from([0, 1]), size=sizes)
    def allocate(self, vnc, size):
        cell = nrt.Ref()
        status = self.rt.nrt_tensor_allocate(DEV, vnc, size, "t", cell)
        expected = self.model[vnc].take(size)
        event(f"allocate: {'NRT_RESOURCE' if expected is None else 'NRT_SUCCESS'}")
        if expected is None:
            assert status == nrt.NRT_RESOURCE and cell.value is None
            return None
        assert status == nrt.NRT_SUCCESS
        t = cell.value
        assert t.address == expected and t.address % GRANULE == 0
        self.allocs[id(t.alloc)] = [vnc, expected, 1]
        return t

    @rule(target=tensors, source=tensors, data=st.data())
    def slice(self, source, data):
        if source is None or source.freed:
            return None
        offset = data.draw(st.integers(0, source.size - 1))
        size = data.draw(st.integers(1, source.size - offset))
        cell = nrt.Ref()
        assert self.rt.nrt_tensor_allocate_slice(source, offset, size, "s", cell) == nrt.NRT_SUCCESS
        assert cell.value.address == source.address + offset
        self.allocs[id(source.alloc)][2] += 1
        return cell.value

    @rule(t=consumes(tensors))
    def free(self, t):
        if t is None:
            return
        if t.freed:
            assert self.rt.nrt_tensor_free(nrt.Ref(t)) == nrt.NRT_INVALID
            return
        assert self.rt.nrt_tensor_free(nrt.Ref(t)) == nrt.NRT_SUCCESS
        entry = self.allocs[id(t.alloc)]
        entry[2] -= 1
        if not entry[2]:  # the last handle: the bytes come back (nothing is in flight here)
            stack, address, _ = entry
            del self.model[stack].live[address]
            del self.allocs[id(t.alloc)]

    # -- models ----------------------------------------------------------------------------------------

    @rule(target=models, vnc=st.sampled_from([0, 1]), weights=st.sampled_from([0, 1, 300 * MiB, 3 * GiB]),
          io=st.sampled_from([0, 4 * KiB, 2 * GiB, 5 * GiB]),
          scratchpad=st.sampled_from([0, 1, 100 * MiB, 600 * MiB, 1200 * MiB]))
    def load(self, vnc, weights, io, scratchpad):
        neff = neuronsim.Neff(inputs={}, outputs={}, duration_ns=1, weights_bytes=weights, io_device_bytes=io,
                              scratchpad_bytes=scratchpad)
        cell = nrt.Ref()
        status = self.rt.nrt_load(neff, vnc, -1, cell)
        model = self.model[vnc]
        snapshot = dict(model.live)
        pieces = []
        ok = True
        for size in (weights, io):
            if size:
                address = model.take(size)
                ok = ok and address is not None
                pieces.append(address)
        need = max([scratchpad] + [s for _, s, _ in self.loaded[vnc]])
        pages = []
        while ok and len(self.scratch[vnc]) + len(pages) < up(need, PAGE) // PAGE:
            address = model.take(PAGE, PAGE_ALIGN)
            ok = address is not None
            pages.append(address)
        event(f"load: {'NRT_SUCCESS' if ok else 'NRT_RESOURCE'}")
        if not ok:
            model.live = snapshot
            assert status == nrt.NRT_RESOURCE and cell.value is None
            return None
        assert status == nrt.NRT_SUCCESS
        assert [a for _, a in cell.value.memory] == pieces
        self.scratch[vnc] += pages
        self.loaded[vnc].append((cell.value, scratchpad, pieces))
        return cell.value

    @rule(m=consumes(models))
    def unload(self, m):
        if m is None:
            return
        if m.unloaded:
            assert self.rt.nrt_unload(m) == nrt.NRT_INVALID
            return
        assert self.rt.nrt_unload(m) == nrt.NRT_SUCCESS
        vnc = m.vnc
        entry = next(e for e in self.loaded[vnc] if e[0] is m)
        self.loaded[vnc].remove(entry)
        for address in entry[2]:
            del self.model[vnc].live[address]
        need = max([0] + [s for _, s, _ in self.loaded[vnc]])
        while len(self.scratch[vnc]) > up(need, PAGE) // PAGE:
            del self.model[vnc].live[self.scratch[vnc].pop()]

    @rule()
    def close_and_reopen(self):
        assert self.rt.nrt_close() == nrt.NRT_SUCCESS
        for pool in self.pools:
            assert pool.used_bytes == RESERVED  # every byte back
        self.model = [Model(p.base_address) for p in self.pools]
        self.allocs.clear()
        self.scratch = [[], []]
        self.loaded = [[], []]
        assert self.rt.nrt_init(nrt.NRT_FRAMEWORK_TYPE_NO_FW, "", "") == nrt.NRT_SUCCESS

    # -- invariants ------------------------------------------------------------------------------------

    @invariant()
    def the_pool_is_the_model(self):
        for pool, model in zip(self.pools, self.model):
            assert pool.allocations() == sorted(model.live.items())
            assert pool.used_bytes == model.used() <= pool.capacity_bytes == STACK
            spans = pool.allocations()
            assert all(a + n <= b for (a, n), (b, _) in zip(spans, spans[1:]))  # never overlap
            assert all(pool.base_address <= a and a + n <= pool.base_address + STACK for a, n in spans)


TestDeviceMemory = DeviceMemory.TestCase


# -- frees while requests are in flight ---------------------------------------------------------------------

from hypothesis import given  # noqa: E402 - the second test of this module

ops = st.lists(st.one_of(
    st.tuples(st.just("write"), st.integers(0, 3)),
    st.tuples(st.just("execute"), st.integers(0, 3)),
    st.tuples(st.just("free"), st.integers(0, 3)),
    st.tuples(st.just("run"), st.integers(0, 40_000)),
    st.tuples(st.just("close"), st.integers(0, 1)),
), max_size=30)


@given(ops)
def test_frees_in_flight_complete_every_request_once_and_return_every_byte(program):
    """Writes and executions on two runtimes' tensors, frees at any moment (a freed input of a queued
    execution included), closes: every accepted request completes exactly once with a status, nothing
    raises, and once the simulation is idle every byte is back."""
    sim = neuronsim.Simulator("trn1.2xlarge", record=True)
    pools = [sim.system.devices[0].hbm[s].pool for s in (0, 1)]
    reserved = [p.used_bytes for p in pools]
    neff = neuronsim.Neff(inputs={"x": ((1024,), "float32")}, outputs={"y": ((1024,), "float32")},
                          duration_ns=20_000, kernel=lambda x: {"y": x + 1})
    runtimes, tensors, models, accepted = [], [], [], []
    for vnc in (0, 1):
        rt = sim.runtime(env={"NEURON_RT_VISIBLE_CORES": str(vnc)})
        assert rt.nrt_init(nrt.NRT_FRAMEWORK_TYPE_NO_FW, "", "") == nrt.NRT_SUCCESS
        m = nrt.Ref()
        assert rt.nrt_load(neff, 0, -1, m) == nrt.NRT_SUCCESS
        runtimes.append(rt)
        models.append(m.value)
        for _ in range(2):
            cell = nrt.Ref()
            assert rt.nrt_tensor_allocate(DEV, 0, 4096, "t", cell) == nrt.NRT_SUCCESS
            tensors.append((rt, cell.value))
    for op, k in program:
        rt, t = tensors[k] if op in ("write", "execute", "free") else (None, None)
        if op == "write":
            ret, seq = nrt.Ref(), nrt.Ref()
            if rt.nrta_tensor_write(t, bytes(4096), 0, 4096, 0, 0, ret, seq) == nrt.NRT_SUCCESS:
                accepted.append(ret)
        elif op == "execute":
            vnc = k // 2
            ins, outs = nrt.Ref(), nrt.Ref()
            if rt.nrt_allocate_tensor_set(ins) != nrt.NRT_SUCCESS:
                continue  # closed
            rt.nrt_allocate_tensor_set(outs)
            rt.nrt_add_tensor_to_tensor_set(ins.value, "x", tensors[2 * vnc][1])
            rt.nrt_add_tensor_to_tensor_set(outs.value, "y", tensors[2 * vnc + 1][1])
            ret, seq = nrt.Ref(), nrt.Ref()
            if rt.nrta_execute_schedule(models[vnc], ins.value, outs.value, 0, ret, seq) == nrt.NRT_SUCCESS:
                accepted.append(ret)
        elif op == "free":
            if rt.nrt_tensor_free(nrt.Ref(t)) == nrt.NRT_SUCCESS:
                event("free: deferred" if not t.alloc.released else "free: at once")
        elif op == "run":
            sim.run_for_ns(k)
        else:
            runtimes[k].nrt_close()
    sim.run_until_idle()
    assert neuronsim.check_invariants(sim) == []
    assert all(ret.value == nrt.NRT_SUCCESS for ret in accepted)
    for rt in runtimes:
        rt.nrt_close()
    assert [p.used_bytes for p in pools] == reserved  # every byte back
