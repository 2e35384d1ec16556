"""The ``neuronsim`` command line: ``ls``, ``validate``, ``show`` and ``run``.

The only module that prints. ``main(argv)`` returns the exit status: 0 on success, 2 on usage and
input errors (a bad file names the file, the field and the reason), 1 on simulation errors.
"""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Sequence
from typing import Any

from neuronsim.errors import ConfigError
from neuronsim.topology import load_topology
from neuronsim.topology.neuronls import ls_json, render_ls
from neuronsim.topology.show import render_tree

__all__ = ["main"]


class _UsageError(Exception):
    pass


class _Parser(argparse.ArgumentParser):
    def error(self, message: str) -> None:  # argparse would print and sys.exit(2)
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

    ls = sub.add_parser("ls", help="print what neuron-ls prints on an instance")
    where = ls.add_mutually_exclusive_group(required=True)
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

    from neuronsim.demo import add_run_parser

    add_run_parser(sub)
    from neuronsim.sweep.command import add_sweep_parser

    add_sweep_parser(sub)
    _add_nccom_parser(sub)
    capi = sub.add_parser("capi-config", help="compiler flags for C code linked against neuronsim's libnrt")
    what = capi.add_mutually_exclusive_group(required=True)
    what.add_argument("--cflags", action="store_true", help="the include flags (nrt/nrt.h, nrt/nrt_async.h, ...)")
    what.add_argument("--libs", action="store_true", help="the link flags (builds libnrt.so on first use)")
    what.add_argument("--libdir", action="store_true", help="the folder of libnrt.so (builds it on first use)")
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
    from neuronsim.collectives.nccom import DTYPES, OPS

    nccom = sub.add_parser("nccom-test", help="nccom-test's collective benchmark on a simulated instance")
    nccom.add_argument("op", choices=list(OPS), help="the collective")
    nccom.add_argument("-r", "--nworkers", dest="ranks", type=int, default=2, help="ranks (default 2)")
    nccom.add_argument("-N", "--nnodes", dest="nodes", type=int, default=1, help="instances (default 1)")
    nccom.add_argument("-b", "--minbytes", default="32mb", help="smallest size (default 32mb)")
    nccom.add_argument("-e", "--maxbytes", default=None, help="largest size (default: the smallest)")
    nccom.add_argument("-f", "--stepfactor", type=int, default=2, help="size multiplier (default 2)")
    nccom.add_argument("-d", "--datatype", default="uint8", choices=list(DTYPES))
    nccom.add_argument("-n", "--iters", type=int, default=20, help="measured iterations (default 20)")
    nccom.add_argument("-w", "--warmup-iters", type=int, default=5, help="warm-up iterations (default 5)")
    nccom.add_argument("--show-algorithm", action="store_true")
    nccom.add_argument("--show-input-output-size", action="store_true")
    nccom.add_argument("--stats", action="store_true", help="add p50 / p90 / p99 times")
    nccom.add_argument("--check", action="store_true", help="check every rank's output against numpy")
    nccom.add_argument("--report-to-json-file", metavar="FILE")
    nccom.add_argument("--instance", default="trn1.32xlarge", help="preset (default trn1.32xlarge)")
    nccom.add_argument("--lnc", type=_lnc)
    nccom.add_argument("--algorithm", choices=list(ALGORITHMS), help="force an algorithm")
    nccom.add_argument("--fidelity", choices=["step", "analytical"], default="step")
    nccom.add_argument("--launch-overhead", metavar="TIME",
                       help="fixed software cost per collective, e.g. 55us (the runtime's, by default)")
    nccom.set_defaults(handler=_cmd_nccom)


def _cmd_capi(args: argparse.Namespace) -> int:
    from neuronsim.capi.build import include_dirs, library_dir

    if args.cflags:
        print(" ".join(f"-I{folder}" for folder in include_dirs(args.api)))
        return 0
    try:
        import cffi  # noqa: F401
    except ImportError:
        raise ConfigError("capi-config", 'building libnrt.so needs cffi: pip install "neuronsim[capi]"') from None
    folder = library_dir(args.api)
    print(folder if args.libdir else f"-L{folder} -lnrt -Wl,-rpath,{folder}")
    return 0


def _cmd_best_practices(args: argparse.Namespace) -> int:
    from neuronsim.scenarios import render

    load_topology(args.instance)  # a bad preset is a usage error (exit 2), before anything runs
    sys.stdout.write(render(args.instance, args.scenario))
    return 0


def _cmd_nccom(args: argparse.Namespace) -> int:
    from neuronsim.collectives.nccom import parse_size, render_table, rows_json, run_nccom
    from neuronsim.units import UnitError, parse_time_ns

    low = parse_size(args.minbytes)
    high = parse_size(args.maxbytes) if args.maxbytes else low
    if args.stepfactor < 2 or high < low or args.iters < 1 or args.warmup_iters < 0:
        raise ConfigError("nccom-test", "need -f >= 2, -e >= -b, -n >= 1, -w >= 0")
    sizes = []
    size = low
    while size <= high:
        sizes.append(size)
        size *= args.stepfactor
    try:
        launch = parse_time_ns(args.launch_overhead.replace("us", " us").replace("ms", " ms")) \
            if args.launch_overhead else None
    except UnitError as exc:
        raise ConfigError("nccom-test", str(exc), field="--launch-overhead") from None
    rows = run_nccom(args.op, instance=args.instance, ranks=args.ranks, nodes=args.nodes, sizes=sizes,
                     dtype=args.datatype, iterations=args.iters, warmup=args.warmup_iters, lnc=args.lnc,
                     algorithm=args.algorithm, fidelity=args.fidelity, check=args.check, launch_ns=launch)
    sys.stdout.write(render_table(rows, show_algorithm=args.show_algorithm, show_io=args.show_input_output_size,
                                  stats=args.stats, check=args.check))
    if args.report_to_json_file:
        with open(args.report_to_json_file, "w", encoding="utf-8") as handle:
            handle.write(rows_json(rows))
    return 1 if any(r.check == "FAILED" for r in rows) else 0


def _cmd_ls(args: argparse.Namespace) -> int:
    topo = load_topology(args.instance or args.topology_file, lnc=args.lnc)
    if args.json:
        print(json.dumps(ls_json(topo), indent=4))
    else:
        sys.stdout.write(render_ls(topo, wide=args.wide, topology=args.topology))
    return 0


def _cmd_validate(args: argparse.Namespace) -> int:
    topo = load_topology(args.file, lnc=args.lnc)
    what = f"{topo.num_instances} x {topo.spec.name}" if topo.cluster else topo.spec.name
    print(f"{args.file}: valid ({what}: {topo.num_devices} devices per instance, "
          f"{len(topo.logical_cores)} logical NeuronCores at LNC={topo.lnc}, {len(topo.links())} NeuronLink links)")
    return 0


def _cmd_show(args: argparse.Namespace) -> int:
    sys.stdout.write(render_tree(load_topology(args.file, lnc=args.lnc)))
    return 0


def main(argv: Sequence[str] | None = None) -> int:
    """Run the command line; returns the exit status instead of exiting."""
    parser = _parser()
    try:
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
