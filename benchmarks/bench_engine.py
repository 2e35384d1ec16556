"""Engine overhead, measured as a ratio against raw SimPy in the same process.

    python benchmarks/bench_engine.py [--requests N]

Prints raw SimPy timeouts per CPU second, mirror requests per CPU second (tiny executes with
writes and reads in direct mode, the queues kept full), and their ratio, the median of interleaved
pairs. CPU time (``time.process_time``), not wall time, so that time the process spends waiting for a
core on a shared machine counts in neither. The ratio is what to compare across machines; the
absolute rates depend on the machine and its load.
"""

from __future__ import annotations

import argparse
import statistics
import time

import numpy as np
from rawsimpy import engine_build, raw_simpy_timeouts_per_s

import neuronsim
from neuronsim import nrt


def mirror_requests_per_s(n: int) -> tuple[float, int]:
    """Schedule n requests (write, execute, read in turn) keeping the queues full; returns (rate, sim ns)."""
    sim = neuronsim.Simulator("trn1.2xlarge")
    rt = sim.runtime()
    rt.nrt_init(nrt.NRT_FRAMEWORK_TYPE_NO_FW, "", "")
    neff = neuronsim.Neff(inputs={"x": ((16,), "float32")}, outputs={"y": ((16,), "float32")}, duration_ns=3_000)
    model, x, y, ins, outs = nrt.Ref(), nrt.Ref(), nrt.Ref(), nrt.Ref(), nrt.Ref()
    rt.nrt_load(neff, 0, -1, model)
    rt.nrt_tensor_allocate(nrt.NRT_TENSOR_PLACEMENT_DEVICE, 0, 64, "x", x)
    rt.nrt_tensor_allocate(nrt.NRT_TENSOR_PLACEMENT_DEVICE, 0, 64, "y", y)
    rt.nrt_allocate_tensor_set(ins)
    rt.nrt_allocate_tensor_set(outs)
    rt.nrt_add_tensor_to_tensor_set(ins.value, "x", x.value)
    rt.nrt_add_tensor_to_tensor_set(outs.value, "y", y.value)
    host_in = np.ones(64, dtype=np.uint8)
    host_out = np.zeros(64, dtype=np.uint8)
    full = nrt.NRT_QUEUE_FULL
    accepted = 0
    t0_ns = sim.now_ns
    start = time.process_time()
    while accepted < n:
        kind = accepted % 3
        ret, seq = nrt.Ref(), nrt.Ref()
        if kind == 0:
            status = rt.nrta_tensor_write(x.value, host_in, 0, 64, 0, 0, ret, seq)
        elif kind == 1:
            status = rt.nrta_execute_schedule(model.value, ins.value, outs.value, 0, ret, seq)
        else:
            status = rt.nrta_tensor_read(host_out, y.value, 0, 64, 0, 1, ret, seq)
        if status == full:
            sim.run_for_ns(1_000)  # let the device drain a little, then retry
            continue
        accepted += 1
    sim.run_until_idle()
    return n / (time.process_time() - start), sim.now_ns - t0_ns


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--requests", type=int, default=60_000)
    parser.add_argument("--repeats", type=int, default=5, help="interleaved pairs; the median ratio is kept")
    args = parser.parse_args()
    ratios, raws, mirrors = [], [], []
    for _ in range(args.repeats):  # interleaved, so that a noisy neighbour hits both alike
        raw = raw_simpy_timeouts_per_s(args.requests * 4, time.process_time)
        mirror, sim_ns = mirror_requests_per_s(args.requests)
        raws.append(raw)
        mirrors.append(mirror)
        ratios.append(mirror / raw)
    print(f"engine: {engine_build()}")
    print(f"raw SimPy timeouts per CPU s:   {statistics.median(raws):12,.0f}  (median of {args.repeats})")
    print(f"mirror requests per CPU s:      {statistics.median(mirrors):12,.0f}  (median of {args.repeats}; "
          f"{args.requests} requests, {sim_ns / 1e6:.1f} ms simulated)")
    print(f"ratio (mirror / raw):           {statistics.median(ratios):12.3f}  (median of the {args.repeats} "
          f"interleaved pairs; range {min(ratios):.3f}-{max(ratios):.3f})")
    mirror = statistics.median(mirrors)
    # cost must grow linearly with the simulated work: wall time per request at 1x, 2x and 4x the requests
    for factor in (1, 2, 4):
        n = args.requests * factor // 4
        rate = max(mirror_requests_per_s(n)[0] for _ in range(2))
        print(f"  {n:>7} requests: {1e6 / rate:6.2f} us of CPU time per request")


if __name__ == "__main__":
    main()
