"""Host memory of a timing-only simulation holding 1.4 TiB of device tensors on trn2.48xlarge.

    python benchmarks/bench_memory.py

Allocates 22.4 GiB on each of the 64 logical NeuronCores (1.4 TiB in all), writes and reads 1 GiB
of each, and prints the process's peak resident memory, which must stay under 300 MB.
"""

from __future__ import annotations

import resource
import sys

import neuronsim
from neuronsim import nrt

GiB = 2**30


def main() -> None:
    sim = neuronsim.Simulator("trn2.48xlarge", timing_only=True)
    rt = sim.runtime()
    assert rt.nrt_init(nrt.NRT_FRAMEWORK_TYPE_NO_FW, "", "") == nrt.NRT_SUCCESS
    per_core = int(22.4 * GiB)
    total = 0
    tensors = []
    for vnc in range(64):
        cell = nrt.Ref()
        status = rt.nrt_tensor_allocate(nrt.NRT_TENSOR_PLACEMENT_DEVICE, vnc, per_core, f"w{vnc}", cell)
        assert status == nrt.NRT_SUCCESS, status
        total += per_core
        tensors.append(cell.value)
    for vnc, t in enumerate(tensors):
        for call in (rt.nrta_tensor_write, rt.nrta_tensor_read):
            ret, seq = nrt.Ref(), nrt.Ref()
            args = (t, None) if call is rt.nrta_tensor_write else (None, t)
            while call(*args, 0, GiB, vnc, 0, ret, seq) == nrt.NRT_QUEUE_FULL:
                sim.run_for_ns(10_000)
    sim.run_until_idle()
    peak_kib = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    peak_mb = peak_kib * 1024 / 1e6 if sys.platform != "darwin" else peak_kib / 1e6
    print(f"device tensors allocated:   {total / 2**40:.2f} TiB on 64 logical cores (timing-only)")
    print(f"simulated time:             {sim.now_ns / 1e6:.1f} ms (64 x 1 GiB written and read)")
    print(f"peak resident memory:       {peak_mb:.0f} MB (limit 300 MB)")
    if peak_mb >= 300:
        raise SystemExit("over the 300 MB limit")


if __name__ == "__main__":
    main()
