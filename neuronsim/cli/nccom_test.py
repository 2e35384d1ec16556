"""``neuronsim nccom-test``: nccom-test's collective benchmark, its flags, defaults and output
(:mod:`neuronsim.collectives.nccom` runs it)."""

from __future__ import annotations

import argparse
import re
import sys
from typing import Any

from neuronsim.cli.args import lnc, whole_number
from neuronsim.errors import ConfigError

__all__ = ["add_nccom_test_parser", "nccom_argv"]


def add_nccom_test_parser(sub: Any) -> None:
    from neuronsim.collectives.algorithms import ALGORITHMS
    from neuronsim.collectives.nccom import CHECK_MODES, DTYPES, OPS

    nccom = sub.add_parser("nccom-test", help="nccom-test's collective benchmark on a simulated instance",
                           description="nccom-test's flags, defaults and output; see docs/reference/cli.md for "
                           "which flags are accepted but change nothing in simulation.")
    nccom.add_argument("op", choices=list(OPS), metavar="OPERATION",
                       help=f"the collective: {', '.join(OPS)}")
    nccom.add_argument("-r", "--nworkers", dest="ranks", type=whole_number, required=True,
                       help="total ranks (required), divided equally across the nodes")
    nccom.add_argument("-N", "--nnodes", dest="nodes", type=whole_number, default=1, help="nodes (instances; default 1)")
    nccom.add_argument("-b", "--minbytes", default="32M", help="smallest size (default 32M)")
    nccom.add_argument("-e", "--maxbytes", default=None, help="largest size (default 32M, or -b if larger)")
    nccom.add_argument("-i", "--stepbytes", default=None, help="size increment (default (max - min) / 10)")
    nccom.add_argument("-f", "--stepfactor", default=None, help="size multiplier, e.g. 2 or 2kb")
    nccom.add_argument("-n", "--iters", type=whole_number, default=20, help="measured operations (default 20)")
    nccom.add_argument("-w", "--warmup_iters", "--warmup-iters", dest="warmup_iters", type=whole_number, default=5,
                       help="warm-up operations (default 5)")
    nccom.add_argument("-I", "--neff_iters", "--neff-iters", dest="neff_iters", type=whole_number, default=None,
                       help="measured runs of the NEFF of -n + -w operations")
    nccom.add_argument("-W", "--neff_warmup_iters", "--neff-warmup-iters", dest="neff_warmup_iters", type=whole_number,
                       default=None, help="warm-up runs of that NEFF")
    nccom.add_argument("-d", "--datatype", default="uint8", choices=list(DTYPES), metavar="TYPE",
                       help=f"data type (default uint8): {', '.join(DTYPES)}")
    nccom.add_argument("-c", "--check", default="", choices=["", *CHECK_MODES], metavar="MODE",
                       help="verify every rank's output: random (default) or all_ones")
    nccom.add_argument("--seed", type=whole_number, default=None, help="seed of the random --check data (default 0)")
    nccom.add_argument("--unique-buff", action="store_true", help="accepted; no effect in simulation")
    nccom.add_argument("--coalesced-cc-size-ratio", default=None, help="accepted; no effect in simulation")
    nccom.add_argument("--shared-output-buff", action="store_true", help="accepted; no effect in simulation")
    nccom.add_argument("--variable-size-op-metadata", metavar="FILE", help="counts and displacements (allgv, alltoallv)")
    nccom.add_argument("-s", "--hosts", nargs="+", default=None, help="the nodes' hosts (checked against -N)")
    nccom.add_argument("--hosts-file", metavar="FILE", help="hosts, one a line (checked against -N)")
    nccom.add_argument("--mpi-log-dir", metavar="DIR", help="accepted; no effect in simulation")
    nccom.add_argument("-S", "--slurm-mode", action="store_true", help="accepted; no effect in simulation")
    nccom.add_argument("-u", "--slurm-vcpus-per-node", default=None, help="accepted; no effect in simulation")
    nccom.add_argument("--slurm-setup-script", default=None, help="accepted; no effect in simulation")
    nccom.add_argument("--slurm-job-id", default=None, help="accepted; no effect in simulation")
    nccom.add_argument("--slurm-use-head-node-neuron-bench", action="store_true",
                       help="accepted; no effect in simulation")
    nccom.add_argument("--non-interactive", action="store_true", help="accepted; neuronsim shows no animation")
    nccom.add_argument("--report-to-json-file", metavar="FILE", help="write the results as JSON")
    nccom.add_argument("-t", "--stats", nargs="+", default=["avg"], metavar="STAT",
                       help="time columns: avg and percentiles such as p50 p99 (default avg)")
    nccom.add_argument("--show-algorithm", action="store_true", help="add the algorithm column")
    nccom.add_argument("--show-input-output-size", action="store_true", help="add per-rank input and output bytes")
    nccom.add_argument("--debug", action="store_true", help="accepted; no effect in simulation")
    nccom.add_argument("--sb2sb", action="store_true", help="accepted; no effect in simulation")
    nccom.add_argument("--input-shape", default=None, help="accepted; no effect in simulation")
    nccom.add_argument("--output-shape", default=None, help="accepted; no effect in simulation")
    nccom.add_argument("--cc-dim", default=None, help="accepted; no effect in simulation")
    nccom.add_argument("--data-parallel-dimension", type=whole_number, default=None,
                       help="run the operation in parallel groups of this many ranks")
    nccom.add_argument("--custom-replica-groups", metavar="FILE", help="replica groups (JSON)")
    nccom.add_argument("--custom-src-target-pairs", metavar="FILE", help="permute's source-target pairs (JSON)")
    nccom.add_argument("--streams-json", metavar="FILE", help="one operation per stream, run side by side (JSON)")
    nccom.add_argument("--vcpu-pin-mode", action="store_true", help="accepted; no effect in simulation")
    nccom.add_argument("--data-collector-port", default=None, help="accepted; no effect in simulation")
    nccom.add_argument("--data-collector-host", default=None, help="accepted; no effect in simulation")
    # neuronsim's own
    nccom.add_argument("--instance", default=None,
                       help="preset to simulate (default: trn1.32xlarge, or trn2.48xlarge where trn1 cannot run it)")
    nccom.add_argument("--lnc", type=lnc)
    nccom.add_argument("--algorithm", choices=list(ALGORITHMS), help="force an algorithm")
    nccom.add_argument("--fidelity", choices=["step", "analytical"], default="step")
    nccom.add_argument("--launch-overhead", metavar="TIME",
                       help="fixed software cost per collective, e.g. 55us (the runtime's, by default)")
    nccom.set_defaults(handler=_cmd_nccom)


def nccom_argv(argv: list[str]) -> list[str]:
    """nccom-test's command line as argparse can take it: the operation first (``--stats``/``--hosts``
    take a list and would swallow it), ``-c``/``--check`` with its optional mode made explicit."""
    from neuronsim.collectives.nccom import CHECK_MODES, OPS

    head, rest = argv[:1], list(argv[1:])
    op_at = next((i for i, token in enumerate(rest) if token in OPS and (i == 0 or rest[i - 1] not in
                                                                          ("--instance", "--algorithm"))), None)
    if op_at is not None:
        rest.insert(0, rest.pop(op_at))
    out = []
    i = 0
    while i < len(rest):
        token = rest[i]
        if token in ("-c", "--check"):
            mode = rest[i + 1] if i + 1 < len(rest) and rest[i + 1] in CHECK_MODES else "random"
            out.append(f"--check={mode}")
            i += 2 if i + 1 < len(rest) and rest[i + 1] in CHECK_MODES else 1
            continue
        out.append(token)
        i += 1
    return head + out


def _cmd_nccom(args: argparse.Namespace) -> int:
    from neuronsim.collectives import nccom
    from neuronsim.units import UnitError, parse_time_ns

    where = "nccom-test"
    for stat in args.stats:
        if stat != "avg" and not re.fullmatch(r"p(100|[0-9]{1,2}(\.[0-9]+)?)", stat):
            raise ConfigError(where, f"{stat!r} is not a statistic (avg, or a percentile such as p50)", field="--stats")
    hosts = list(args.hosts or [])
    if args.hosts_file:
        try:
            with open(args.hosts_file, encoding="utf-8") as handle:
                hosts += [line.strip() for line in handle if line.strip()]
        except (OSError, UnicodeDecodeError) as exc:
            raise ConfigError(args.hosts_file, f"cannot read the hosts file: {exc}") from None
    if hosts and len(hosts) != args.nodes:
        raise ConfigError(where, f"-N {args.nodes} needs {args.nodes} hosts, {len(hosts)} given "
                          f"({' '.join(hosts[:4])}{' ...' if len(hosts) > 4 else ''})", field="--hosts")
    low = nccom.parse_size(args.minbytes, "-b")
    high = nccom.parse_size(args.maxbytes, "-e") if args.maxbytes else max(low, nccom.parse_size("32M"))
    factor = nccom.parse_size(args.stepfactor, "-f") if args.stepfactor is not None else None
    step = nccom.parse_size(args.stepbytes, "-i") if args.stepbytes is not None else None
    sizes = nccom.sizes_for(low, high, factor, step)
    try:
        launch = parse_time_ns(args.launch_overhead.replace("us", " us").replace("ms", " ms")) \
            if args.launch_overhead else None
    except UnitError as exc:
        raise ConfigError(where, str(exc), field="--launch-overhead") from None
    operation = nccom.OPS[args.op]
    groups = None
    if args.custom_replica_groups:
        groups = nccom.load_replica_groups(args.custom_replica_groups, args.ranks)
    elif args.data_parallel_dimension:
        groups = nccom.data_parallel_groups(args.data_parallel_dimension, args.ranks)
    n = len(groups[0]) if groups else args.ranks
    pairs = nccom.load_pairs(args.custom_src_target_pairs, n) if args.custom_src_target_pairs else None
    metadata = None
    if operation in ("allgatherv", "alltoallv"):
        if not args.variable_size_op_metadata:
            raise ConfigError(where, f"{args.op} needs --variable-size-op-metadata FILE",
                              field="--variable-size-op-metadata")
        metadata = nccom.load_metadata(args.variable_size_op_metadata, operation, n)
    if args.streams_json:
        defaults = {"operation": args.op, "datatype": args.datatype, "minbytes": args.minbytes,
                    "maxbytes": args.maxbytes, "stepfactor": args.stepfactor, "stepbytes": args.stepbytes,
                    "custom_replica_groups": args.custom_replica_groups,
                    "custom_src_target_pairs": args.custom_src_target_pairs,
                    "variable_size_op_metadata": args.variable_size_op_metadata,
                    "data_parallel_dimension": args.data_parallel_dimension}
        benches = nccom.load_streams(args.streams_json, defaults, args.ranks)
    else:
        benches = [nccom.Bench(args.op, args.datatype, sizes, groups, pairs, metadata)]
    if args.report_to_json_file:  # before anything runs
        from neuronsim.workload.command import check_output

        check_output(args.report_to_json_file, where, "--report-to-json-file")
    instance = args.instance or nccom.default_instance(benches[0].op, args.ranks, args.nodes)
    chosen = "" if args.instance else " (no --instance given: the default for this command)"
    streams = nccom.run_benches(benches, instance=instance, ranks=args.ranks, nodes=args.nodes, iterations=args.iters,
                                warmup=args.warmup_iters, neff_iters=args.neff_iters,
                                neff_warmup=args.neff_warmup_iters, lnc=args.lnc, algorithm=args.algorithm,
                                fidelity=args.fidelity, check=args.check, launch_ns=launch, seed=args.seed or 0,
                                announce=lambda what: print(f"nccom-test: simulating {what}{chosen}", file=sys.stderr,
                                                            flush=True))
    for rows in streams:
        sys.stdout.write(nccom.render_table(rows, show_algorithm=args.show_algorithm,
                                            show_io=args.show_input_output_size, stats=args.stats))
    if args.report_to_json_file:
        try:
            with open(args.report_to_json_file, "w", encoding="utf-8") as handle:
                handle.write(nccom.rows_json(streams, show_algorithm=args.show_algorithm,
                                             show_io=args.show_input_output_size, stats=args.stats))
        except OSError as exc:
            raise ConfigError(args.report_to_json_file, f"cannot write the JSON report: {exc}") from None
    return 1 if any(row.error for rows in streams for row in rows) else 0
