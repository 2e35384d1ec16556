"""``neuronsim best-practices``: the runtime performance best practices measured
(:mod:`neuronsim.workload.best_practices`)."""

from __future__ import annotations

import argparse
import sys
from typing import Any

from neuronsim.topology import load_topology

__all__ = ["add_best_practices_parser"]


def add_best_practices_parser(sub: Any) -> None:
    practices = sub.add_parser("best-practices", help="measure the runtime performance best practices")
    practices.add_argument("--instance", default="trn1.32xlarge", help="preset (default trn1.32xlarge)")
    practices.add_argument("--scenario", choices=["a", "b", "c", "all"], default="all",
                           help="(a) async execution, (b) proxy isolation, (c) NUMA placement")
    practices.set_defaults(handler=_cmd_best_practices)


def _cmd_best_practices(args: argparse.Namespace) -> int:
    from neuronsim.workload.best_practices import render

    load_topology(args.instance)  # a bad preset is a usage error (exit 2), before anything runs
    sys.stdout.write(render(args.instance, args.scenario))
    return 0
