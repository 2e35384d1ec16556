"""What device-memory bookkeeping costs: allocate + free pairs on trn2.48xlarge with all 64 cores open.

    python benchmarks/bench_device_memory.py

Prints the wall time per ``nrt_tensor_allocate`` + ``nrt_tensor_free`` pair (first-fit allocation in
4 KiB granules, A70) with nothing in flight, and with an execution in flight, when a free must look
for accepted requests that still use the memory (A72), and the cost of a load and unload of a NEFF
with weights, I/O and a scratchpad (A71).
"""

from __future__ import annotations

import time

import neuronsim
from neuronsim import nrt

N = 20_000


def pairs(rt: neuronsim.simulator.RuntimeBase) -> float:
    start = time.perf_counter()
    for k in range(N):
        cell = nrt.Ref()
        rt.nrt_tensor_allocate(nrt.NRT_TENSOR_PLACEMENT_DEVICE, k % 64, 4096 * (1 + k % 7), "t", cell)
        rt.nrt_tensor_free(cell)
    return (time.perf_counter() - start) / N * 1e6


def main() -> None:
    sim = neuronsim.Simulator("trn2.48xlarge", timing_only=True)
    rt = sim.runtime()
    assert rt.nrt_init(nrt.NRT_FRAMEWORK_TYPE_NO_FW, "", "") == nrt.NRT_SUCCESS
    for k in range(200):  # some live allocations, so first fit has ranges to pass
        rt.nrt_tensor_allocate(nrt.NRT_TENSOR_PLACEMENT_DEVICE, k % 64, 1 << 20, "keep", nrt.Ref())
    print(f"allocate + free, nothing in flight:   {pairs(rt):6.1f} us per pair")
    neff = neuronsim.Neff(inputs={"x": ((1024,), "float32")}, outputs={"y": ((1024,), "float32")},
                          duration_ns=10**12, weights_bytes=1 << 30, scratchpad_bytes=600 << 20)
    model, x, y, ins, outs = nrt.Ref(), nrt.Ref(), nrt.Ref(), nrt.Ref(), nrt.Ref()
    rt.nrt_load(neff, 0, -1, model)
    rt.nrt_tensor_allocate(nrt.NRT_TENSOR_PLACEMENT_DEVICE, 0, 4096, "x", x)
    rt.nrt_tensor_allocate(nrt.NRT_TENSOR_PLACEMENT_DEVICE, 0, 4096, "y", y)
    rt.nrt_allocate_tensor_set(ins)
    rt.nrt_allocate_tensor_set(outs)
    rt.nrt_add_tensor_to_tensor_set(ins.value, "x", x.value)
    rt.nrt_add_tensor_to_tensor_set(outs.value, "y", y.value)
    rt.nrta_execute_schedule(model.value, ins.value, outs.value, 0, nrt.Ref(), nrt.Ref())  # 1000 s long
    print(f"allocate + free, an execution in flight: {pairs(rt):6.1f} us per pair")
    start = time.perf_counter()
    for _ in range(2_000):
        m = nrt.Ref()
        rt.nrt_load(neff, 1, -1, m)
        rt.nrt_unload(m.value)
    print(f"load + unload (1 GiB weights, 2 scratchpad pages): {(time.perf_counter() - start) / 2_000 * 1e6:6.1f} us")


if __name__ == "__main__":
    main()
