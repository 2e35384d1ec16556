"""Device memory as the runtime manages it (issue #18 items 2-3, #19 item 4): models take HBM at load
and give it back at unload; tensors live at real, disjoint, aligned addresses; nrt_close frees a
process's memory and kills its handles; freeing a tensor a queued request uses defers the release."""

from __future__ import annotations

import logging
from pathlib import Path

import numpy as np
import pytest

import neuronsim
from neuronsim import nrt
from tests.helpers import load, model_with_io, open_runtime, schedule_execute, tensor, tensor_set

DEV = nrt.NRT_TENSOR_PLACEMENT_DEVICE
GiB, MiB, KiB = 2**30, 2**20, 2**10
# an inf2 / trn1 stack: 16 GiB less the firmware's 16 MiB carve-out and the 96 MiB micro-code reservation
INF2_FREE = 16 * GiB - 16 * MiB - 96 * MiB


def big_io_neff(**kwargs):
    """A NEFF with 4 GiB of I/O: 2 GiB in, 2 GiB out."""
    return neuronsim.Neff(inputs={"x": ((GiB // 2,), "float32")}, outputs={"y": ((GiB // 2,), "float32")},
                          duration_ns=1_000, **kwargs)


def open_inf2(**env):
    sim = neuronsim.Simulator("inf2.xlarge", timing_only=True)
    rt = sim.runtime(env={"NEURON_RT_VISIBLE_CORES": "0", **env})
    assert rt.nrt_init(nrt.NRT_FRAMEWORK_TYPE_NO_FW, "", "") == nrt.NRT_SUCCESS
    return sim, rt, sim.system.devices[0].hbm[0].pool


# -- models take device memory ------------------------------------------------------------------------

def test_loads_take_their_io_until_the_core_is_full(caplog):
    sim, rt, pool = open_inf2()
    assert pool.free_bytes == INF2_FREE
    models = []
    for _ in range(3):
        m = nrt.Ref()
        assert rt.nrt_load(big_io_neff(), 0, -1, m) == nrt.NRT_SUCCESS
        models.append(m.value)
    assert pool.free_bytes == INF2_FREE - 12 * GiB
    caplog.set_level(logging.ERROR)
    fourth = nrt.Ref()
    assert rt.nrt_load(big_io_neff(), 0, -1, fourth) == nrt.NRT_RESOURCE
    assert fourth.value is None
    assert caplog.records[0].getMessage() == ("TDRV:log_dev_mem Failed to allocate 4.000GB (alignment: none, "
                                              "usage: model io) on ND 0:NC 0")
    assert caplog.records[1].getMessage().startswith("TDRV:log_dev_mem_usage_table Displaying Current Memory "
                                                     "Utilization:\nND 0 HBM 0 | TOTAL 12.109GB | firmware "
                                                     "16.000MB | model code 96.000MB | model io 12.000GB")
    assert pool.free_bytes == INF2_FREE - 12 * GiB  # a refused load takes nothing
    # loaded models reduce what a tensor can get ...
    assert rt.nrt_tensor_allocate(DEV, 0, 4 * GiB, "big", nrt.Ref()) == nrt.NRT_RESOURCE
    assert rt.nrt_tensor_allocate(DEV, 0, INF2_FREE - 12 * GiB, "rest", nrt.Ref()) == nrt.NRT_SUCCESS
    # ... and an unload gives it back
    for m in models:
        assert rt.nrt_unload(m) == nrt.NRT_SUCCESS
    assert pool.free_bytes == 12 * GiB
    assert rt.nrt_tensor_allocate(DEV, 0, 4 * GiB, "big", nrt.Ref()) == nrt.NRT_SUCCESS


def test_weights_and_io_are_declared_on_the_neff():
    neff = big_io_neff(weights_bytes=3 * GiB, scratchpad_bytes=100 * MiB)
    assert (neff.weights_bytes, neff.io_device_bytes, neff.scratchpad_bytes) == (3 * GiB, 4 * GiB, 100 * MiB)
    assert neff.device_bytes == 7 * GiB
    assert big_io_neff(io_device_bytes=0).device_bytes == 0
    with pytest.raises(ValueError, match=r"weights_bytes\(=-1\) must be an int >= 0"):
        big_io_neff(weights_bytes=-1)
    sim, rt, pool = open_inf2()
    m = load(rt, neff)
    # 3 GiB of constants, 4 GiB of I/O, one 512 MiB scratchpad page
    assert pool.usage["model constants"] == 3 * GiB and pool.usage["model io"] == 4 * GiB
    assert pool.usage["shared scratchpad"] == 512 * MiB
    assert rt.nrt_unload(m) == nrt.NRT_SUCCESS
    assert pool.free_bytes == INF2_FREE


def test_the_shared_scratchpad_grows_and_shrinks_in_pages():
    sim, rt, pool = open_inf2()
    small = neuronsim.Neff(inputs={}, outputs={}, duration_ns=1, scratchpad_bytes=100 * MiB)
    large = neuronsim.Neff(inputs={}, outputs={}, duration_ns=1, scratchpad_bytes=600 * MiB)
    a = load(rt, small)
    assert pool.usage["shared scratchpad"] == 512 * MiB
    b = load(rt, large)  # the largest NEFF's 600 MiB takes two pages
    assert pool.usage["shared scratchpad"] == 1024 * MiB
    pages = [address for address, size in pool.allocations() if size == 512 * MiB]
    assert len(pages) == 2 and all(address % (4 * MiB) == 0 for address in pages)
    assert rt.nrt_unload(b) == nrt.NRT_SUCCESS
    assert pool.usage["shared scratchpad"] == 512 * MiB
    assert rt.nrt_unload(a) == nrt.NRT_SUCCESS
    assert pool.usage["shared scratchpad"] == 0 and pool.free_bytes == INF2_FREE


def test_the_scratchpad_page_size_is_read_at_init():
    sim, rt, pool = open_inf2(NEURON_SCRATCHPAD_PAGE_SIZE="1024")
    load(rt, neuronsim.Neff(inputs={}, outputs={}, duration_ns=1, scratchpad_bytes=600 * MiB))
    assert pool.usage["shared scratchpad"] == 1024 * MiB
    for bad in ("1000", "4096", "0", "big"):
        rt = neuronsim.Simulator("inf2.xlarge").runtime(env={"NEURON_SCRATCHPAD_PAGE_SIZE": bad})
        assert rt.nrt_init(nrt.NRT_FRAMEWORK_TYPE_NO_FW, "", "") == nrt.NRT_INVALID


def test_a_load_that_does_not_fit_takes_nothing():
    sim, rt, pool = open_inf2()
    assert rt.nrt_tensor_allocate(DEV, 0, INF2_FREE - 600 * MiB, "most", nrt.Ref()) == nrt.NRT_SUCCESS
    # its weights fit, its scratchpad page does not: the weights are given back
    neff = neuronsim.Neff(inputs={}, outputs={}, duration_ns=1, weights_bytes=300 * MiB, scratchpad_bytes=MiB)
    before = pool.free_bytes
    assert rt.nrt_load(neff, 0, -1, nrt.Ref()) == nrt.NRT_RESOURCE
    assert pool.free_bytes == before and pool.usage.get("model constants", 0) == 0


# -- device addresses -----------------------------------------------------------------------------------

def addresses(seed: int):
    sim, rt = open_runtime("trn1.32xlarge", seed=seed)
    ts = [tensor(rt, 4 * KiB, name=f"t{i}") for i in range(4)] + [tensor(rt, 100, vnc=1, name="other stack")]
    return rt, ts


def test_live_tensors_have_disjoint_aligned_addresses_stable_for_a_seed():
    rt, ts = addresses(seed=7)
    spans = sorted((t.address, t.address + t.size) for t in ts)
    assert all(end <= start for (_, end), (start, _) in zip(spans, spans[1:]))
    assert all(t.address % (4 * KiB) == 0 for t in ts)
    # after the firmware carve-out and the micro-code reservation, first fit, in allocation order
    assert [t.address for t in ts[:4]] == [112 * MiB + i * 4 * KiB for i in range(4)]
    assert ts[4].address == 0x10_0000_0000 + 112 * MiB  # core 1's stack starts at V2_HBM_1_BASE
    _, again = addresses(seed=7)
    assert [t.address for t in again] == [t.address for t in ts]


def test_addresses_are_what_the_calls_report_and_a_slice_is_its_parent_plus_offset():
    rt, ts = addresses(seed=0)
    base = ts[0]
    piece = nrt.Ref()
    assert rt.nrt_tensor_allocate_slice(base, 1024, 512, "piece", piece) == nrt.NRT_SUCCESS
    assert piece.value.address == base.address + 1024
    info = nrt.Ref()
    assert rt.nrt_tensor_get_device_allocation_info(piece.value, info) == nrt.NRT_SUCCESS
    assert info.value == {"physical_address": base.address + 1024, "size": 512, "hbm_index": 0}
    assert rt.nrt_tensor_get_va(piece.value) == base.address + 1024
    assert rt.nrt_tensor_get_va(object()) is None


def test_a_freed_range_is_reused_first_fit():
    sim, rt = open_runtime("trn1.2xlarge")
    a, b, c = (tensor(rt, 8 * KiB, name=n) for n in "abc")
    address_b = b.address
    rt.nrt_tensor_free(nrt.Ref(b))
    d = tensor(rt, 4 * KiB, name="d")
    e = tensor(rt, 4 * KiB, name="e")
    assert (d.address, e.address) == (address_b, address_b + 4 * KiB)
    assert tensor(rt, 4 * KiB, name="f").address == c.address + 8 * KiB


def test_memory_stats_of_a_core():
    sim, rt, pool = open_inf2()
    tensor(rt, 10 * MiB)
    stats, size = nrt.Ref(), nrt.Ref()
    assert rt.nrt_get_vnc_memory_stats(0, stats, 16, size) == nrt.NRT_SUCCESS
    assert stats.value == {"bytes_used": 10 * MiB, "bytes_limit": INF2_FREE} and size.value == 16
    assert rt.nrt_get_vnc_memory_stats(5, stats, 16, size) == nrt.NRT_INVALID


def test_a_chip_file_with_overlapping_stacks_is_refused(tmp_path):
    from neuronsim.errors import ConfigError
    from neuronsim.topology import load_spec

    chip = (neuronsim.topology.load_spec("trn1.2xlarge").chip.model_dump(mode="json"))
    chip["hbm"]["stack_base_addresses"] = [0, 2**30]
    spec = load_spec("trn1.2xlarge").model_dump(mode="json")
    spec["chip"] = chip
    import yaml
    path = tmp_path / "t.yaml"
    path.write_text(yaml.safe_dump(spec))
    with pytest.raises(ConfigError, match="stack_base_addresses: stacks overlap at 0x40000000"):
        load_spec(str(path))


# -- state that outlives its owner -------------------------------------------------------------------------

def test_nrt_close_frees_the_process_memory_and_kills_its_handles():
    sim, rt, pool = open_inf2()
    old = nrt.Ref()
    assert rt.nrt_tensor_allocate(DEV, 0, 10 * GiB, "first test", old) == nrt.NRT_SUCCESS
    load(rt, big_io_neff())
    assert rt.nrt_close() == nrt.NRT_SUCCESS
    assert pool.free_bytes == INF2_FREE
    assert rt.nrt_init(nrt.NRT_FRAMEWORK_TYPE_NO_FW, "", "") == nrt.NRT_SUCCESS
    assert rt.nrt_tensor_allocate(DEV, 0, 10 * GiB, "second test", nrt.Ref()) == nrt.NRT_SUCCESS
    ret, seq = nrt.Ref(), nrt.Ref()
    buf = bytes(16)
    assert rt.nrta_tensor_write(old.value, buf, 0, 16, 0, 0, ret, seq) == nrt.NRT_INVALID
    assert rt.nrt_tensor_write(old.value, buf, 0, 16) == nrt.NRT_INVALID
    assert rt.nrt_tensor_get_size(old.value) == 0
    assert rt.nrt_tensor_free(old) == nrt.NRT_INVALID


def test_freeing_a_tensor_a_queued_execution_reads_defers_its_release(caplog):
    sim = neuronsim.Simulator("trn1.2xlarge", record=True)
    rt = sim.runtime(env={"NEURON_RT_VISIBLE_CORES": "0", "NEURON_RT_LOG_LEVEL": "WARNING"})  # the line is a warning
    other = sim.runtime(env={"NEURON_RT_VISIBLE_CORES": "1"})
    for r in (rt, other):
        assert r.nrt_init(nrt.NRT_FRAMEWORK_TYPE_NO_FW, "", "") == nrt.NRT_SUCCESS
    neff = neuronsim.Neff(inputs={"x": ((4,), "float32")}, outputs={"y": ((4,), "float32")},
                          duration_ns=50_000, kernel=lambda x: {"y": x * 2})
    model, ins, outs = model_with_io(rt, neff)
    x = nrt.Ref()
    assert rt.nrt_get_tensor_from_tensor_set(ins, "x", x) == nrt.NRT_SUCCESS
    pool = x.value.alloc.pool
    rt.nrt_tensor_write(x.value, np.arange(4, dtype=np.float32).tobytes(), 0, 16)
    status, ret, seq = schedule_execute(rt, model, ins, outs)
    assert status == nrt.NRT_SUCCESS
    used = pool.used_bytes
    caplog.set_level(logging.WARNING)
    assert rt.nrt_tensor_free(x) == nrt.NRT_SUCCESS and x.value is None
    assert "NRT:nrt_tensor_free tensor x is used by 1 accepted request(s)" in caplog.text
    assert pool.used_bytes == used  # held until the execution completes
    # a later call on another runtime runs the simulation through the execution without raising
    t = tensor(other, 64)
    assert other.nrt_tensor_write(t, bytes(64), 0, 64) == nrt.NRT_SUCCESS
    sim.run_until_idle()
    assert ret.value == nrt.NRT_SUCCESS
    assert [r.completions for r in rt.history] == [1, 1]  # the write and the execution, once each
    y = nrt.Ref()
    rt.nrt_get_tensor_from_tensor_set(outs, "y", y)
    out = bytearray(16)
    assert rt.nrt_tensor_read(y.value, out, 0, 16) == nrt.NRT_SUCCESS
    assert np.frombuffer(out, np.float32).tolist() == [0.0, 2.0, 4.0, 6.0]
    assert pool.used_bytes == used - 4 * KiB  # released at its completion
    # the freed tensor is refused as an input from now on
    assert schedule_execute(rt, model, ins, outs)[0] == nrt.NRT_INVALID


def test_100k_get_sequence_polls_with_nothing_in_flight_are_queries_not_a_hang():
    sim, rt = open_runtime("trn1.2xlarge")
    last = nrt.Ref()
    for _ in range(100_000):
        assert rt.nrta_get_sequence(0, nrt.NRTA_XU_COMPUTE, 0, last) == nrt.NRT_SUCCESS
    assert last.value == (1 << 48) | 0
    t = tensor(rt, 64)
    ret, seq = nrt.Ref(), nrt.Ref()
    assert rt.nrta_tensor_write(t, bytes(64), 0, 64, 0, 0, ret, seq) == nrt.NRT_SUCCESS
    sim.run_until_idle()
    for _ in range(100_000):
        assert rt.nrta_get_sequence(0, nrt.NRTA_XU_TENSOR_OP, 0, last) == nrt.NRT_SUCCESS
    assert last.value == seq.value and ret.value == nrt.NRT_SUCCESS


def test_traces_report_the_addresses_a_request_touches():
    from neuronsim.trace.chrome import chrome_trace

    sim, rt = open_runtime("trn1.2xlarge")
    t = tensor(rt, 8 * KiB, name="weights")
    piece = nrt.Ref()
    rt.nrt_tensor_allocate_slice(t, 4 * KiB, 1024, "half", piece)
    ret, seq = nrt.Ref(), nrt.Ref()
    assert rt.nrta_tensor_write(piece.value, bytes(100), 16, 100, 0, 0, ret, seq) == nrt.NRT_SUCCESS
    sim.run_until_idle()
    (span,) = [e for e in chrome_trace(sim)["traceEvents"] if e["ph"] == "X" and e["cat"] != "api"]  # not its call
    start = t.address + 4 * KiB + 16
    assert span["args"]["addresses"] == [f"{start:#x}-{start + 100:#x} half"]


# -- what a compiled NEFF records ------------------------------------------------------------------------

def neff_with_defs(defs: dict[str, dict]) -> bytes:
    """A NEFF from neuronsim's writer with ``sgNN/def.json`` files added to its payload."""
    import gzip
    import io
    import json
    import struct
    import tarfile

    from neuronsim.runtime.neff_file import write_neff

    data = write_neff({"x": ((1024,), "float32")}, {"y": ((1024,), "float32")}, subgraphs=len(defs))
    raw = gzip.decompress(data[1024:])
    out = io.BytesIO()
    with tarfile.open(fileobj=io.BytesIO(raw)) as old, tarfile.open(fileobj=out, mode="w") as new:
        for member in old.getmembers():
            if member.name not in defs:  # the writer's own (empty) def.json files are replaced
                new.addfile(member, old.extractfile(member))
        for name, body in defs.items():
            payload = json.dumps(body).encode()
            info = tarfile.TarInfo(name)
            info.size = len(payload)
            new.addfile(info, io.BytesIO(payload))
    payload = gzip.compress(out.getvalue(), mtime=0)
    header = bytearray(data[:1024])
    struct.pack_into("<Q", header, 16, len(payload))
    return bytes(header) + payload


def test_a_compiled_neff_brings_its_constants_and_scratchpad():
    var = {"spill0": {"type": "virtual", "backing_variable_off": 0, "size": 300 * MiB},
           "spill1": {"type": "virtual", "backing_variable_off": 300 * MiB, "size": 400 * MiB},
           "w": {"type": "file", "size": 3 * GiB, "file_name": "w.npy"},
           "x": {"type": "input", "size": 4096}, "SB": {"type": "state-buffer"}}
    data = neff_with_defs({"sg00/def.json": {"var": var}, "sg01/def.json": {"var": {"w": var["w"]}}})
    sim, rt, pool = open_inf2()
    model = nrt.Ref()
    assert rt.nrt_load(data, 0, -1, model) == nrt.NRT_SUCCESS
    neff = model.value.neff
    # constants: every subgraph's file variables; scratchpad: the largest offset + size (700 MiB)
    assert (neff.weights_bytes, neff.scratchpad_bytes, neff.io_device_bytes) == (6 * GiB, 700 * MiB, 8192)
    assert pool.usage["model constants"] == 6 * GiB and pool.usage["shared scratchpad"] == 1024 * MiB
    bad = neff_with_defs({"sg00/def.json": {"var": {"w": {"type": "file", "size": -1}}}})
    assert rt.nrt_load(bad, 0, -1, nrt.Ref()) == nrt.NRT_INVALID


REAL = Path(__file__).resolve().parents[2] / "shared" / "neffs"


@pytest.mark.skipif(not REAL.is_dir(), reason="../shared/neffs is not present")
def test_the_real_matmul_neff_takes_its_io_constants_and_a_scratchpad_page():
    data = (REAL / "matmul_large.neff").read_bytes()
    sim = neuronsim.Simulator("trn2.48xlarge", timing_only=True)
    rt = sim.runtime(env={"NEURON_RT_VISIBLE_CORES": "0"})
    assert rt.nrt_init(nrt.NRT_FRAMEWORK_TYPE_NO_FW, "", "") == nrt.NRT_SUCCESS
    model = nrt.Ref()
    assert rt.nrt_load(data, 0, -1, model) == nrt.NRT_SUCCESS
    neff = model.value.neff
    # two subgraphs with a 32 KiB constant each; 16 spill variables of 512 KiB: 8 MiB of scratchpad
    assert (neff.weights_bytes, neff.scratchpad_bytes) == (64 * KiB, 8 * MiB)
    assert neff.io_device_bytes == 128 * 32768 * 2 + 32768 * 65536 * 2 + 128 * 65536 * 2
    pool = sim.system.devices[0].hbm[0].pool
    assert pool.usage["shared scratchpad"] == 512 * MiB and pool.usage["model constants"] == 64 * KiB


def test_a_tensor_two_queues_use_is_released_after_both_complete():
    sim = neuronsim.Simulator("trn1.2xlarge", record=True)
    rt = sim.runtime(env={"NEURON_RT_VISIBLE_CORES": "0"})
    assert rt.nrt_init(nrt.NRT_FRAMEWORK_TYPE_NO_FW, "", "") == nrt.NRT_SUCCESS
    neff = neuronsim.Neff(inputs={"x": ((1024,), "float32")}, outputs={"y": ((1024,), "float32")},
                          duration_ns=50_000, kernel=lambda x: {"y": x + 1})
    model, ins, outs = model_with_io(rt, neff)
    x = nrt.Ref()
    rt.nrt_get_tensor_from_tensor_set(ins, "x", x)
    pool, alloc = x.value.alloc.pool, x.value.alloc
    _, exec_ret, _ = schedule_execute(rt, model, ins, outs)  # compute queue
    write_ret, seq = nrt.Ref(), nrt.Ref()
    assert rt.nrta_tensor_write(x.value, bytes(4096), 0, 4096, 0, 0, write_ret, seq) == nrt.NRT_SUCCESS
    used = pool.used_bytes
    assert rt.nrt_tensor_free(x) == nrt.NRT_SUCCESS
    sim.run_for_ns(20_000)  # the write is done, the execution is not
    assert write_ret.value == nrt.NRT_SUCCESS and exec_ret.value is None
    assert not alloc.released and pool.used_bytes == used
    sim.run_until_idle()
    assert exec_ret.value == nrt.NRT_SUCCESS and alloc.released and pool.used_bytes == used - 4 * KiB
