"""Simulated nccom-test against the published tables of reference/hardware.md §8.5.

    python benchmarks/bench_validation.py [--fidelity step|analytical]

For each table: the same command on the attributed instance, the simulated time beside the published
one per point, the error, the median error over the bandwidth-bound points (>= 1 MiB) and the worst
small-message factor. The only per-table parameter is the fixed software cost of one collective
(``collective_launch_ns``, a software-era parameter), fitted to the table's smallest message; every
other number comes from the presets.
"""

from __future__ import annotations

import argparse
import statistics

from neuronsim.collectives.nccom import run_nccom

MiB = 1 << 20
TABLES = {
    # name: (instance, op, ranks, dtype, launch_ns, [(size, published us, published algorithm)])
    "A (trn1, 2 ranks, uint8, 2023)": ("trn1.32xlarge", "allr", 2, "uint8", 55_000, [(33554432, 768, "")]),
    "B (trn1, 2 ranks, fp32, 2023)": ("trn1.32xlarge", "allr", 2, "fp32", 55_000, [
        (1024, 58, ""), (4096, 58, ""), (16384, 58, ""), (65536, 58, ""), (262144, 60, ""), (1048576, 68, ""),
        (4194304, 107, ""), (16777216, 332, ""), (67108864, 1214, ""), (268435456, 4750, ""),
        (1073741824, 18930, "")]),
    "C (trn1, 32 ranks, all-gather, 2023)": ("trn1.32xlarge", "allg", 32, "fp32", 147_400, [
        (1024, 151, ""), (8192, 149, ""), (65536, 150, ""), (524288, 179, "")]),
    "D (trn1, 32 ranks, all-gather, 2025)": ("trn1.32xlarge", "allg", 32, "fp32", 2_600, [
        (1024, 6.16, ""), (8192, 6.48, ""), (65536, 8.17, ""), (524288, 23.16, "")]),
    "F (trn2, 16 ranks, fp32, 2026)": ("trn2.48xlarge", "allr", 16, "fp32", 295_000, [
        (4, 299.91, "mesh"), (32, 299.69, "mesh"), (512, 299.82, "mesh"), (8192, 299.74, "mesh"),
        (131072, 574.15, "mesh"), (2097152, 686.32, "rdh"), (33554432, 2754.15, "kangaring"),
        (536870912, 9689.51, "kangaring")]),
}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--fidelity", choices=["step", "analytical"], default="step")
    args = parser.parse_args()
    for name, (instance, op, ranks, dtype, launch_ns, points) in TABLES.items():
        rows = run_nccom(op, instance=instance, ranks=ranks, sizes=[p[0] for p in points], dtype=dtype,
                         iterations=1, warmup=0, fidelity=args.fidelity, launch_ns=launch_ns)
        print(f"\n{name}: nccom-test -r {ranks} -d {dtype} {op} on {instance}, "
              f"collective_launch_ns={launch_ns}")
        print(f"{'size(B)':>12} {'published(us)':>14} {'simulated(us)':>14} {'error':>8}  algorithm")
        bandwidth_errors, small_factors, labels = [], [], []
        for (size, published, label), row in zip(points, rows, strict=True):
            error = (row.time_avg_us - published) / published
            shown = row.algorithm + (f" (published {label})" if label else "")
            print(f"{size:>12} {published:>14.2f} {row.time_avg_us:>14.2f} {error * 100:>7.1f}%  {shown}")
            if size >= MiB:
                bandwidth_errors.append(abs(error))
            else:
                small_factors.append(max(row.time_avg_us / published, published / row.time_avg_us))
            if label:
                labels.append(label == row.algorithm)
        if bandwidth_errors:
            print(f"median |error| on points >= 1 MiB: {statistics.median(bandwidth_errors) * 100:.1f}%")
        if small_factors:
            print(f"worst small-message factor: {max(small_factors):.2f}x")
        if labels:
            print(f"algorithm labels reproduced: {sum(labels)}/{len(labels)}")


if __name__ == "__main__":
    main()
