"""``neuronsim ls``, ``neuronsim validate`` and ``neuronsim show``: a topology listed as neuron-ls lists it,
checked, or printed as a tree."""

from __future__ import annotations

import argparse
import json
import sys
from typing import Any

from neuronsim.cli.args import lnc
from neuronsim.text import plural
from neuronsim.topology import load_topology
from neuronsim.topology.neuronls import ls_json, render_ls
from neuronsim.topology.show import render_tree

__all__ = ["add_topology_parsers"]


def add_topology_parsers(sub: Any) -> None:
    ls = sub.add_parser("ls", help="print what neuron-ls prints on an instance (no instance: list the presets)")
    where = ls.add_mutually_exclusive_group()
    where.add_argument("--instance", metavar="NAME", help="a preset, e.g. trn1.32xlarge")
    where.add_argument("--topology-file", metavar="FILE", help="a topology YAML file")
    ls.add_argument("--lnc", type=lnc, help="logical NeuronCore config (trn2: 1 or 2)")
    ls.add_argument("-j", "--json", "--json-output", dest="json", action="store_true", help="JSON output")
    ls.add_argument("-t", "--topology", action="store_true", help="add the NeuronLink topology diagram")
    ls.add_argument("-w", "--wide", action="store_true", help="the wide table (processes)")

    validate = sub.add_parser("validate", help="validate a topology file or preset")
    validate.add_argument("file", metavar="FILE|PRESET")
    validate.add_argument("--lnc", type=lnc)

    show = sub.add_parser("show", help="print a topology as a tree")
    show.add_argument("file", metavar="FILE|PRESET")
    show.add_argument("--lnc", type=lnc)

    ls.set_defaults(handler=_cmd_ls)
    validate.set_defaults(handler=_cmd_validate)
    show.set_defaults(handler=_cmd_show)


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
