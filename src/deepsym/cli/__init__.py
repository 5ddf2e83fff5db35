"""The ``deepsym`` command line: thin wrappers that parse arguments and call the library.

Each command lives in its own module with ``add_parser(subparsers)`` and ``run(args)``.
A DeepsymError becomes one line on stderr and exit status 1; ``--debug`` shows the
traceback instead.
"""
from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence

from deepsym import __version__
from deepsym.cli import info
from deepsym.errors import DeepsymError

COMMANDS = (info,)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="deepsym",
        description="Deep-learning generation of symbolic music (MIDI).",
    )
    parser.add_argument("--version", action="version", version=f"deepsym {__version__}")
    parser.add_argument("--debug", action="store_true", help="show tracebacks of errors")
    subparsers = parser.add_subparsers(dest="command", metavar="COMMAND", required=True)
    for command in COMMANDS:
        command.add_parser(subparsers)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    try:
        return args.run(args)
    except DeepsymError as exc:
        if args.debug:
            raise
        print(f"deepsym: error: {exc}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        print("deepsym: interrupted", file=sys.stderr)
        return 130
