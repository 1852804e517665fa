"""The command line, ``costmodel COMMAND ...``: the only place argparse, ``sys.exit``, exit codes
and the printing of errors live.

One module per command group, each with a ``register(subparsers)`` function:
:mod:`~costmodel.cli.report` (``report``, ``zoo``), :mod:`~costmodel.cli.latency` (``calibrate``,
``predict``, ``bench``, ``validate``, ``validate-report``), :mod:`~costmodel.cli.guidelines`
(``guidelines``, ``lint``), :mod:`~costmodel.cli.plot` (``plot``), :mod:`~costmodel.cli.reports`
(``reports``), :mod:`~costmodel.cli.sweep` (``sweep``) and :mod:`~costmodel.cli.arm` (``arm``);
:mod:`~costmodel.cli.common` holds what they share.  A handler returns the exit code.  Errors users can cause (an unknown model, a bad shape, a
failing forward, an unreadable or unwritable file) print one line on stderr and exit with status
2, never a traceback.  Library modules never import this package.
"""
from __future__ import annotations

import argparse
import sys
import warnings

from costmodel import __version__
from costmodel.cli import arm, guidelines, latency, plot, report, reports, sweep
from costmodel.cli.common import MODEL_HELP, CLIError, user_error_message

#: the command groups, in the order ``costmodel --help`` lists them
COMMAND_GROUPS = (report, latency, guidelines, plot, reports, sweep, arm)

__all__ = ["CLIError", "build_parser", "main", "run"]


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="costmodel",
        description="Per-layer params, multiply-adds (madds), memory access cost (MAC, in "
                    "elements) and latency of PyTorch CNNs.",
        epilog="MODEL, wherever a command takes one: " + MODEL_HELP + ".  `costmodel COMMAND "
               "--help` for a command's options.")
    parser.add_argument("--version", action="version", version=f"costmodel {__version__}")
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    for group in COMMAND_GROUPS:
        group.register(sub)
    return parser


def run(argv=None) -> int:
    """Parse ``argv`` (default ``sys.argv[1:]``), run the command, return its exit code."""
    parser = build_parser()
    args = parser.parse_args(argv)
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("once")
            return int(args.func(args) or 0)
    except KeyboardInterrupt:
        print(f"costmodel {args.command}: interrupted", file=sys.stderr)
        return 130
    except Exception as exc:  # noqa: BLE001 - user errors become one line, bugs propagate
        message = user_error_message(exc)
        if message is None:
            raise
        print(f"costmodel {args.command}: error: {message}", file=sys.stderr)
        return 2


def main(argv=None) -> None:
    sys.exit(run(argv))
