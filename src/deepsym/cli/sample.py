"""``deepsym sample RUN -n 4 -o DIR``: new pieces from a trained run, as MIDI files.

Thin: the controls, the model's own options (``--opt NAME=VALUE``) and what the model
follows are checked by the sampling layer (``Controls.check``,
``Sampler.check_controls``, the sampler's ``declared_options``); their DeepsymErrors
become the CLI's one error line. ``--help-model`` prints ``Sampler.describe()``.
"""
from __future__ import annotations

import argparse
import math
import re
import sys
import time
from collections.abc import Callable, Iterator
from functools import partial
from pathlib import Path
from typing import TYPE_CHECKING

from deepsym.errors import DeepsymError

if TYPE_CHECKING:
    from deepsym.sampling import Controls, Sampler
    from deepsym.score import Score

LENGTH = re.compile(r"\s*(\d+(?:\.\d+)?)\s*(s|sec|seconds|tokens|steps)?\s*", re.IGNORECASE)
PROGRESS_EVERY = 5.0  # seconds between "N of M pieces written" lines on stderr


def add_parser(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser(
        "sample", help="generate MIDI files from a trained run",
        description="Generate pieces with a trained run's model and write them as MIDI "
                    "files (sample-01.mid, ...) into DIR, with piano-roll PNGs beside them "
                    "with --plot; each is written as soon as its batch is drawn. A "
                    "conditional model can be steered with --key, --pitch and --density; "
                    "features not given come from the primer, else from the mean of the "
                    "training pieces. A model may have options of its own (--opt "
                    "NAME=VALUE); --help-model lists them and the controls it follows.")
    parser.add_argument("run_dir", type=Path, metavar="RUN",
                        help="the folder 'deepsym train' wrote (or a checkpoint file)")
    parser.add_argument("-n", "--count", type=_positive_int, default=4, metavar="N",
                        help="how many pieces (default: 4)")
    parser.add_argument("--length", type=parse_length, default=("seconds", 30.0),
                        metavar="LENGTH",
                        help="'30s': pieces of 30 seconds (the primer included), or "
                             "'512tokens': 512 new representation steps (default: 30s)")
    parser.add_argument("--temperature", type=float, default=1.0, metavar="T",
                        help="divides the logits; >= 0, 0 is --greedy (default: 1)")
    parser.add_argument("--greedy", action="store_true",
                        help="always take the most likely choice (overrides --temperature)")
    parser.add_argument("--top-k", type=_positive_int, metavar="K",
                        help="draw only among the K most likely choices")
    parser.add_argument("--top-p", type=float, metavar="P",
                        help="draw only among the most likely choices that make up P of the "
                             "probability (0 < P <= 1)")
    parser.add_argument("--max-polyphony", type=_positive_int, metavar="N",
                        help="start no note while N distinct pitches sound (for "
                             "representations with a grammar: events, remi)")
    parser.add_argument("--seed", type=int, default=0, help="random seed (default: 0)")
    parser.add_argument("--key", help="condition on a key, e.g. 'C major', 'F# minor'")
    parser.add_argument("--pitch", help="condition on pitch height: high, low or a MIDI pitch")
    parser.add_argument("--density", type=float, metavar="NOTES_PER_BEAT",
                        help="condition on note density (note onsets per beat)")
    parser.add_argument("--primer", type=Path, metavar="FILE.mid",
                        help="continue this MIDI file (each piece begins with its notes)")
    parser.add_argument("--plot", action="store_true",
                        help="also write a piano-roll PNG per piece (needs matplotlib)")
    parser.add_argument("--opt", action="append", default=[], metavar="NAME=VALUE",
                        help="one of the model's own sampling options (repeatable; "
                             "--help-model lists them)")
    parser.add_argument("--help-model", action="store_true",
                        help="list the model's own options and the controls it follows, "
                             "then exit without sampling")
    parser.add_argument("--refine", metavar="REFINER[,REFINER...]",
                        help="refine each piece, in order: refiners' names or learned "
                             "refiners' run folders (e.g. a 'deepsym train refine-duration' "
                             "run); see deepsym refine")
    parser.add_argument("--device", default=None,
                        help="torch device (default: cuda when available, else cpu)")
    parser.add_argument("-o", "--output", type=Path, metavar="DIR",
                        help="folder for the pieces (created if missing; required unless "
                             "--help-model)")
    parser.set_defaults(run=run)


def run(args: argparse.Namespace) -> int:
    from deepsym.midi import read_midi
    from deepsym.refining import load_refiner, refine
    from deepsym.sampling import Controls
    from deepsym.sampling.conditions import requested

    if args.help_model:
        print(_sampler(args, None, {}).describe())
        return 0
    if args.output is None:
        raise DeepsymError("name the folder for the pieces: -o DIR")
    conditions = requested(args.key, args.pitch, args.density)
    primer = read_midi(args.primer) if args.primer is not None else None
    if args.plot:
        from deepsym.plot import require_matplotlib

        require_matplotlib()
    controls = Controls(0.0 if args.greedy else args.temperature, args.top_k, args.top_p,
                        conditions, args.max_polyphony)
    controls.check()  # before the run is loaded
    sampler = _sampler(args, controls, parse_opts(args.opt))
    sampler.check_controls()  # before anything is drawn or written
    refiners = [] if args.refine is None else \
        [load_refiner(r.strip(), args.device) for r in args.refine.split(",") if r.strip()]
    unit, amount = args.length
    length = {"seconds": amount} if unit == "seconds" else {"steps": int(amount)}
    pieces = sampler.pieces(args.count, primer=primer, with_primer=True, **length)
    short = _write_all((refine(piece, refiners) for piece in pieces), args)
    if unit == "seconds" and short < amount - 0.5:
        print(f"deepsym: warning: the model stopped advancing time; the shortest piece "
              f"lasts {short:.1f} s of the {amount:g} s asked for", file=sys.stderr)
    return 0


def _write_all(pieces: Iterator[Score], args: argparse.Namespace) -> float:
    """Write each piece as soon as it is drawn (and its piano-roll with --plot), print its
    path, and every ``PROGRESS_EVERY`` seconds how many are written; the duration of the
    shortest piece in seconds."""
    from deepsym.midi import write_midi

    shortest, shown = math.inf, time.monotonic()
    for i, score in enumerate(pieces, 1):
        if i == 1:  # only once a piece exists: a failed first draw leaves nothing behind
            _make_folder(args.output)
        path = args.output / f"sample-{i:02d}.mid"
        _write(path, partial(write_midi, score, path))
        if args.plot:
            from deepsym.plot import save_pianoroll

            picture = path.with_suffix(".png")
            _write(picture, partial(save_pianoroll, score, picture, name=path.name))
        shortest = min(shortest, score.duration_seconds)
        if time.monotonic() - shown >= PROGRESS_EVERY:
            shown = time.monotonic()
            print(f"deepsym: {i:,} of {args.count:,} pieces written", file=sys.stderr,
                  flush=True)
    return shortest


def _write(path: Path, write: Callable[[], object]) -> None:
    """``write()`` the file ``path`` and print its path; an OSError (a read-only folder,
    a full disk) becomes one DeepsymError line naming it."""
    try:
        write()
    except OSError as exc:
        raise DeepsymError(f"{path}: cannot write: {exc.strerror or exc}") from None
    print(path, flush=True)


def _sampler(args: argparse.Namespace, controls: Controls | None,
             options: dict[str, str]) -> Sampler:
    """The run's sampler with ``controls`` and the model's own ``options``."""
    from deepsym.sampling.run import load_sampler

    return load_sampler(args.run_dir, controls, seed=args.seed, device=args.device,
                        options=options,
                        warn=lambda text: print(f"deepsym: warning: {text}",
                                                file=sys.stderr))


def parse_opts(items: list[str]) -> dict[str, str]:
    """``["noise_scale=0.5"]`` -> ``{"noise_scale": "0.5"}``: the ``--opt`` values as
    text, for the sampler to parse and check against its declaration."""
    options: dict[str, str] = {}
    for item in items:
        name, equals, value = item.partition("=")
        name = name.strip()
        if not equals or not name:
            raise DeepsymError(f"--opt takes NAME=VALUE, not {item!r}")
        if name in options:
            raise DeepsymError(f"--opt {name} is given twice")
        options[name] = value
    return options


def parse_length(text: str) -> tuple[str, float]:
    """``"30s"`` -> ``("seconds", 30.0)``; ``"512tokens"`` (or ``"512steps"``) ->
    ``("tokens", 512)``."""
    match = LENGTH.fullmatch(text)
    if match is None or not match.group(2):
        raise argparse.ArgumentTypeError(f"length must be like '30s' or '512tokens', "
                                         f"not {text!r}")
    amount, unit = float(match.group(1)), match.group(2).lower()
    if unit in ("tokens", "steps"):
        if amount != int(amount) or amount < 1:
            raise argparse.ArgumentTypeError(f"a length in tokens must be a whole number "
                                             f">= 1, not {match.group(1)}")
        return "tokens", amount
    if not amount > 0:
        raise argparse.ArgumentTypeError(f"a length in seconds must be > 0, not {text!r}")
    return "seconds", amount


def _make_folder(folder: Path) -> None:
    try:
        folder.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise DeepsymError(f"{folder}: cannot create the output folder: "
                           f"{exc.strerror or exc}") from None


def _positive_int(text: str) -> int:
    value = int(text)
    if value < 1:
        raise argparse.ArgumentTypeError(f"must be at least 1, not {value}")
    return value
