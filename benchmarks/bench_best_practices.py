"""The seed's best practices measured on trn1.32xlarge and trn2.48xlarge (same as `neuronsim best-practices`).

    python benchmarks/bench_best_practices.py
"""

from neuronsim.workload.best_practices import render

if __name__ == "__main__":
    for instance in ("trn1.32xlarge", "trn2.48xlarge"):
        print(render(instance))
