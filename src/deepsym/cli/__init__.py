"""The ``deepsym`` command line: thin wrappers that parse arguments and call the library.

Each command lives in its own module with ``add_parser(subparsers)`` and ``run(args)``;
plugins add theirs through the ``register_commands`` hook. A plugin that failed to load
gets one warning line on stderr (``deepsym plugins`` shows it in full).
A DeepsymError becomes one line on stderr and exit status 1 (a plugin failing in strict
mode, ``DEEPSYM_STRICT_PLUGINS=1``, too); ``--debug`` shows the traceback instead.
"""
from __future__ import annotations

import argparse
import os
import sys
from collections.abc import Sequence

from deepsym import __version__
from deepsym.cli import (
    corpus,
    demo,
    evaluate,
    info,
    metrics,
    plagiarism,
    plot,
    plugins,
    refine,
    render,
    sample,
    train,
)
from deepsym.errors import DeepsymError
from deepsym.plugins import manager

COMMANDS = (info, corpus, plugins, metrics, plot, plagiarism, evaluate, render, sample, refine,
            train, demo)


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
    manager().add_commands(subparsers)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else list(argv)
    try:
        parser = build_parser()
    except DeepsymError as exc:  # a failing plugin in strict mode
        if "--debug" in argv:
            raise
        return _error(exc)
    args = parser.parse_args(argv)
    if args.command != "plugins":
        for failed in manager().failures():
            print(f"deepsym: warning: plugin {failed.name!r} skipped ({failed.error}); "
                  "see 'deepsym plugins'", file=sys.stderr)
    try:
        return args.run(args)
    except DeepsymError as exc:
        if args.debug:
            raise
        return _error(exc)
    except KeyboardInterrupt:
        print("deepsym: interrupted", file=sys.stderr)
        return 130
    except BrokenPipeError:  # the reader went away (``deepsym info *.mid | head``)
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return 141


def _error(exc: DeepsymError) -> int:
    """Print ``exc`` as the one error line on stderr; the exit status."""
    print(f"deepsym: error: {exc}", file=sys.stderr)
    return 1
