"""The ``neuronsim`` command line: ``ls``, ``validate``, ``show`` and ``run``.

The only module that prints. ``main(argv)`` returns the exit status: 0 on success, 2 on usage and
input errors (a bad file names the file, the field and the reason), 1 on simulation errors.
"""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Sequence

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
    return parser


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
