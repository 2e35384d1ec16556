"""The ``neuronsim`` command line: ``ls``, ``validate``, ``show`` and ``run``.

The only module that prints. ``main(argv)`` returns the exit status: 0 on success, 2 on usage and
input errors (a bad file names the file, the field and the reason), 1 on simulation errors.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Any, NoReturn

from neuronsim.errors import ConfigError
from neuronsim.extras import install_hint
from neuronsim.text import plural
from neuronsim.topology import load_topology
from neuronsim.topology.neuronls import ls_json, render_ls
from neuronsim.topology.show import render_tree

__all__ = ["main"]


class _UsageError(Exception):
    pass


class _Parser(argparse.ArgumentParser):
    def error(self, message: str) -> NoReturn:  # argparse would print and sys.exit(2)
        raise _UsageError(f"{self.prog}: error: {message}")


def _lnc(text: str) -> int:
    try:
        return int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"LNC must be 1 or 2, not {text!r}") from None


def _parser() -> argparse.ArgumentParser:
    parser = _Parser(prog="neuronsim", description="Simulate AWS Neuron devices and the Neuron Runtime API.")
    from neuronsim import __version__

    parser.add_argument("--version", action="version", version=f"neuronsim {__version__}")
    sub = parser.add_subparsers(dest="command", required=True, parser_class=_Parser)

    ls = sub.add_parser("ls", help="print what neuron-ls prints on an instance (no instance: list the presets)")
    where = ls.add_mutually_exclusive_group()
    where.add_argument("--instance", metavar="NAME", help="a preset, e.g. trn1.32xlarge")
    where.add_argument("--topology-file", metavar="FILE", help="a topology YAML file")
    ls.add_argument("--lnc", type=_lnc, help="logical NeuronCore config (trn2: 1 or 2)")
    ls.add_argument("-j", "--json", "--json-output", dest="json", action="store_true", help="JSON output")
    ls.add_argument("-t", "--topology", action="store_true", help="add the NeuronLink topology diagram")
    ls.add_argument("-w", "--wide", action="store_true", help="the wide table (processes)")

    validate = sub.add_parser("validate", help="validate a topology file or preset")
    validate.add_argument("file", metavar="FILE|PRESET")
    validate.add_argument("--lnc", type=_lnc)

    show = sub.add_parser("show", help="print a topology as a tree")
    show.add_argument("file", metavar="FILE|PRESET")
    show.add_argument("--lnc", type=_lnc)

    from neuronsim.workload.builtin_pipeline import add_run_parser

    add_run_parser(sub)
    from neuronsim.sweep.command import add_sweep_parser

    add_sweep_parser(sub)
    _add_nccom_parser(sub)
    capi = sub.add_parser("capi-config", help="compiler flags for C code linked against neuronsim's libnrt, or an "
                          "/opt/aws/neuron-style tree of its headers and library")
    capi.add_argument("--cflags", action="store_true", help="the include flags (nrt/nrt.h, nrt/nrt_async.h, ...)")
    capi.add_argument("--libs", action="store_true", help="the link flags (builds libnrt.so on first use)")
    capi.add_argument("--libdir", action="store_true", help="the folder of libnrt.so (builds it on first use)")
    capi.add_argument("--prefix", metavar="DIR", help="lay out DIR/include/nrt/*.h and DIR/lib/libnrt.so* (as "
                      "/opt/aws/neuron: use it as NEURON_ROOT); the flags printed then point into DIR")
    capi.add_argument("--api", choices=["3.0", "2.28"], default="3.0",
                      help="the explicit async API generation: 3.0 (SDK >= 2.29, default) or 2.28 (error trackers)")
    capi.set_defaults(handler=_cmd_capi)
    practices = sub.add_parser("best-practices", help="measure the runtime performance best practices")
    practices.add_argument("--instance", default="trn1.32xlarge", help="preset (default trn1.32xlarge)")
    practices.add_argument("--scenario", choices=["a", "b", "c", "all"], default="all",
                           help="(a) async execution, (b) proxy isolation, (c) NUMA placement")
    practices.set_defaults(handler=_cmd_best_practices)
    return parser


def _add_nccom_parser(sub: Any) -> None:
    from neuronsim.collectives.algorithms import ALGORITHMS
    from neuronsim.collectives.nccom import CHECK_MODES, DTYPES, OPS

    nccom = sub.add_parser("nccom-test", help="nccom-test's collective benchmark on a simulated instance",
                           description="nccom-test's flags, defaults and output; see docs/reference/cli.md for "
                           "which flags are accepted but change nothing in simulation.")
    nccom.add_argument("op", choices=list(OPS), metavar="OPERATION",
                       help=f"the collective: {', '.join(OPS)}")
    nccom.add_argument("-r", "--nworkers", dest="ranks", type=_count, required=True,
                       help="total ranks (required), divided equally across the nodes")
    nccom.add_argument("-N", "--nnodes", dest="nodes", type=_count, default=1, help="nodes (instances; default 1)")
    nccom.add_argument("-b", "--minbytes", default="32M", help="smallest size (default 32M)")
    nccom.add_argument("-e", "--maxbytes", default=None, help="largest size (default 32M, or -b if larger)")
    nccom.add_argument("-i", "--stepbytes", default=None, help="size increment (default (max - min) / 10)")
    nccom.add_argument("-f", "--stepfactor", default=None, help="size multiplier, e.g. 2 or 2kb")
    nccom.add_argument("-n", "--iters", type=_count, default=20, help="measured operations (default 20)")
    nccom.add_argument("-w", "--warmup_iters", "--warmup-iters", dest="warmup_iters", type=_count, default=5,
                       help="warm-up operations (default 5)")
    nccom.add_argument("-I", "--neff_iters", "--neff-iters", dest="neff_iters", type=_count, default=None,
                       help="measured runs of the NEFF of -n + -w operations")
    nccom.add_argument("-W", "--neff_warmup_iters", "--neff-warmup-iters", dest="neff_warmup_iters", type=_count,
                       default=None, help="warm-up runs of that NEFF")
    nccom.add_argument("-d", "--datatype", default="uint8", choices=list(DTYPES), metavar="TYPE",
                       help=f"data type (default uint8): {', '.join(DTYPES)}")
    nccom.add_argument("-c", "--check", default="", choices=["", *CHECK_MODES], metavar="MODE",
                       help="verify every rank's output: random (default) or all_ones")
    nccom.add_argument("--seed", type=_count, default=None, help="seed of the random --check data (default 0)")
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
    nccom.add_argument("--data-parallel-dimension", type=_count, default=None,
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
    nccom.add_argument("--lnc", type=_lnc)
    nccom.add_argument("--algorithm", choices=list(ALGORITHMS), help="force an algorithm")
    nccom.add_argument("--fidelity", choices=["step", "analytical"], default="step")
    nccom.add_argument("--launch-overhead", metavar="TIME",
                       help="fixed software cost per collective, e.g. 55us (the runtime's, by default)")
    nccom.set_defaults(handler=_cmd_nccom)


def _count(text: str) -> int:
    """A whole number; ``1e9`` is accepted as 1000000000 (then bounded by the run's limits)."""
    try:
        return int(text)
    except ValueError:
        pass
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a whole number") from None
    if not value.is_integer() or abs(value) > 1e15:
        raise argparse.ArgumentTypeError(f"{text!r} is not a whole number") from None
    return int(value)


def _nccom_argv(argv: list[str]) -> list[str]:
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


def _cmd_capi(args: argparse.Namespace) -> int:
    from neuronsim.capi.build import include_dirs, install_prefix, library_dir

    if not (args.cflags or args.libs or args.libdir or args.prefix):
        raise ConfigError("capi-config", "give --cflags, --libs, --libdir and/or --prefix DIR")
    needs_library = args.libs or args.libdir or args.prefix
    if needs_library:
        try:
            import cffi  # noqa: F401
        except ImportError:
            raise ConfigError("capi-config", f"building libnrt.so needs cffi, {install_hint('capi')}") from None
    folder: Path | None
    if args.prefix:
        try:
            root = install_prefix(Path(args.prefix).resolve(), args.api)
        except OSError as exc:
            raise ConfigError(args.prefix, f"cannot lay out the prefix: {exc}", field="--prefix") from None
        includes, folder = [root / "include"], root / "lib"
    else:
        includes = include_dirs(args.api)
        folder = library_dir(args.api) if needs_library else None
    words = []
    if args.cflags:
        words += [f"-I{d}" for d in includes]
    if args.libs:
        words += [f"-L{folder}", "-lnrt", f"-Wl,-rpath,{folder}"]
    if args.libdir:
        words.append(str(folder))
    if args.prefix and not words:
        words.append(str(root))
    print(" ".join(words))
    return 0


def _cmd_best_practices(args: argparse.Namespace) -> int:
    from neuronsim.workload.best_practices import render

    load_topology(args.instance)  # a bad preset is a usage error (exit 2), before anything runs
    sys.stdout.write(render(args.instance, args.scenario))
    return 0


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


def _cmd_ls(args: argparse.Namespace) -> int:
    if args.instance is None and args.topology_file is None:
        sys.stdout.write(_presets_table())
        return 0
    topo = load_topology(args.instance or args.topology_file, lnc=args.lnc)
    if args.json:
        print(json.dumps(ls_json(topo), indent=4))
    else:
        sys.stdout.write(render_ls(topo, wide=args.wide, topology=args.topology))
    return 0


def _presets_table() -> str:
    """What ``neuronsim ls`` prints without an instance: the presets, one line each."""
    from neuronsim.topology import preset_names

    lines = ["neuronsim ls: there is no local Neuron device to list; pick an instance: neuronsim ls --instance NAME "
             "(or --topology-file FILE). Presets:"]
    for name in preset_names():
        topo = load_topology(name)
        what = f"{topo.num_instances} x {topo.spec.name}" if topo.cluster else topo.spec.chip.name
        lines.append(f"  {name:<22} {what}, {plural(topo.num_devices, 'device')} per instance, "
                     f"{plural(len(topo.logical_cores), 'logical NeuronCore')} at LNC={topo.lnc}")
    return "\n".join(lines) + "\n"


def _cmd_validate(args: argparse.Namespace) -> int:
    topo = load_topology(args.file, lnc=args.lnc)
    what = f"{topo.num_instances} x {topo.spec.name}" if topo.cluster else topo.spec.name
    print(f"{args.file}: valid ({what}: {plural(topo.num_devices, 'device')} per instance, "
          f"{plural(len(topo.logical_cores), 'logical NeuronCore')} at LNC={topo.lnc}, "
          f"{plural(len(topo.links()), 'NeuronLink link')})")
    return 0


def _cmd_show(args: argparse.Namespace) -> int:
    sys.stdout.write(render_tree(load_topology(args.file, lnc=args.lnc)))
    return 0


def main(argv: Sequence[str] | None = None) -> int:
    """Run the command line; returns the exit status instead of exiting."""
    parser = _parser()
    try:
        argv = list(sys.argv[1:] if argv is None else argv)
        if argv[:1] == ["nccom-test"]:
            argv = _nccom_argv(argv)
        args = parser.parse_args(argv)
        handler = {"ls": _cmd_ls, "validate": _cmd_validate, "show": _cmd_show}.get(args.command)
        if handler is None:
            return args.handler(args)
        return handler(args)
    except _UsageError as exc:
        print(exc, file=sys.stderr)
        return 2
    except ConfigError as exc:
        print(f"neuronsim: error: {exc}", file=sys.stderr)
        return 2
    except SystemExit as exc:  # --help / --version
        return int(exc.code or 0)
    except BrokenPipeError:  # the reader left (`neuronsim ls --json | head`): stop quietly, as a Unix tool does
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())  # so the exit's flush does not raise again
        return 1
