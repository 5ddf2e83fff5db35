"""``deepsym demo``: JSB chorales -> a conditional Char-RNN trained on the CPU -> six
steered pieces as MIDI, piano-roll pictures and audio, each also re-timed by Refine
Net's Duration Net, with a report of what each was asked and came out as, what the
refiner changed, and an evaluation."""
from __future__ import annotations

import argparse
import math
from pathlib import Path

from deepsym.demo import (
    CONDITIONS,
    DEFAULT_MINUTES,
    DEFAULT_SECONDS,
    MODEL,
    REFINE_MINUTES,
)


def add_parser(subparsers: argparse._SubParsersAction) -> None:
    labels = ", ".join(label for _, label, _ in CONDITIONS)
    parser = subparsers.add_parser(
        "demo", help=f"build the JSB corpus, train Char-RNN for a few minutes, write "
                     f"{len(CONDITIONS)} steered pieces (MIDI, PNG, WAV), refine them, "
                     "and write a report",
        description=f"Build the JSB chorale corpus (offline, from music21), train {MODEL} "
                    f"on the CPU, sample one piece per request ({labels}) as MIDI, "
                    "piano-roll PNG and WAV audio, train Refine Net's Duration Net for "
                    f"{REFINE_MINUTES:g} minute and re-time every piece with it, and write "
                    "a report: each piece's request beside its measured key, pitch and "
                    "density, what the refiner changed, metrics beside the held-out split, "
                    "plagiarism against the train split. Needs pip install 'deepsym[all]'.",
    )
    parser.add_argument("--minutes", type=_positive_float, default=DEFAULT_MINUTES,
                        metavar="M", help=f"minutes of training (default: {DEFAULT_MINUTES:g}; "
                                          "the whole demo takes a few more)")
    parser.add_argument("--steps", type=_positive_int, metavar="N",
                        help="stop each training (the model's, the refiner's) after N steps "
                             "if that comes before its minutes")
    parser.add_argument("--out", type=Path, default=Path("deepsym-demo"), metavar="DIR",
                        help="a new or empty folder for everything (default: deepsym-demo)")
    parser.add_argument("--seed", type=int, default=0, help="random seed (default: 0)")
    parser.add_argument("--seconds", type=_positive_float, default=DEFAULT_SECONDS,
                        metavar="S", help=f"length of each piece (default: {DEFAULT_SECONDS:g})")
    parser.add_argument("--corpus", type=Path, metavar="CORPUS",
                        help="train on this corpus (deepsym corpus build) instead of JSB")
    parser.add_argument("--threads", type=_positive_int, metavar="N",
                        help="torch threads on the CPU (default: the idle cores, so that a "
                             "busy machine does not stall training)")
    parser.add_argument("--set", action="append", default=[], metavar="KEY=VALUE",
                        help="a model setting, as for deepsym train (e.g. hidden=128)")
    parser.set_defaults(run=run)


def run(args: argparse.Namespace) -> int:
    from deepsym.demo import run_demo
    from deepsym.training.options import parse_settings

    result = run_demo(args.out, minutes=args.minutes, steps=args.steps, seed=args.seed,
                      corpus=args.corpus, settings=parse_settings(args.set),
                      seconds=args.seconds, threads=args.threads,
                      say=lambda text: print(text, flush=True))
    print(f"\nthe pieces (MIDI, piano-roll PNG, WAV audio) are in {result.out / 'pieces'}:")
    for piece in result.pieces:
        for label, files in ((piece.label, piece), ("  refined", piece.refined)):
            if files is not None:
                print(f"  {label:<15} {files.midi}  {files.png.name}"
                      + (f"  {files.wav.name}" if files.wav else ""))
    print(f"the report: {result.report}")
    print(f"the trained model: {result.run} (deepsym sample {result.run} -n 4 --key 'D "
          f"major' --refine {result.refiner} -o more)")
    return 0


def _positive_float(text: str) -> float:
    """A positive, finite number (``inf`` minutes would train forever)."""
    value = float(text)
    if not 0 < value < math.inf:
        raise argparse.ArgumentTypeError(f"must be a positive, finite number, not {text}")
    return value


def _positive_int(text: str) -> int:
    value = int(text)
    if value < 1:
        raise argparse.ArgumentTypeError(f"must be at least 1, not {text}")
    return value
