"""The ``neuronsim`` command line; one module of this package per subcommand (or family):

* :mod:`~neuronsim.cli.topology`: ``ls``, ``validate``, ``show``;
* :mod:`~neuronsim.cli.run`: ``run``;
* :mod:`~neuronsim.cli.sweep`: ``sweep``;
* :mod:`~neuronsim.cli.nccom_test`: ``nccom-test``;
* :mod:`~neuronsim.cli.capi_config`: ``capi-config``;
* :mod:`~neuronsim.cli.best_practices`: ``best-practices``.

The only package that prints. ``main(argv)`` returns the exit status: 0 on success, 2 on usage and
input errors (a bad file names the file, the field and the reason), 1 on simulation errors.
"""

from __future__ import annotations

import argparse
import os
import sys
from collections.abc import Sequence
from typing import NoReturn

from neuronsim.cli.best_practices import add_best_practices_parser
from neuronsim.cli.capi_config import add_capi_config_parser
from neuronsim.cli.nccom_test import add_nccom_test_parser, nccom_argv
from neuronsim.cli.run import add_run_parser
from neuronsim.cli.sweep import add_sweep_parser
from neuronsim.cli.topology import add_topology_parsers
from neuronsim.errors import ConfigError

__all__ = ["main"]


class _UsageError(Exception):
    pass


class _Parser(argparse.ArgumentParser):
    def error(self, message: str) -> NoReturn:  # argparse would print and sys.exit(2)
        raise _UsageError(f"{self.prog}: error: {message}")


def _parser() -> argparse.ArgumentParser:
    parser = _Parser(prog="neuronsim", description="Simulate AWS Neuron devices and the Neuron Runtime API.")
    from neuronsim import __version__

    parser.add_argument("--version", action="version", version=f"neuronsim {__version__}")
    sub = parser.add_subparsers(dest="command", required=True, parser_class=_Parser)

    add_topology_parsers(sub)
    add_run_parser(sub)
    add_sweep_parser(sub)
    add_nccom_test_parser(sub)
    add_capi_config_parser(sub)
    add_best_practices_parser(sub)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Run the command line; returns the exit status instead of exiting."""
    parser = _parser()
    try:
        argv = list(sys.argv[1:] if argv is None else argv)
        if argv[:1] == ["nccom-test"]:
            argv = nccom_argv(argv)
        args = parser.parse_args(argv)
        return args.handler(args)
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
