"""``deepsym refine``: polish a MIDI file with refiners (see ``deepsym.refining``)."""
from __future__ import annotations

import argparse
from pathlib import Path

from deepsym.errors import DeepsymError
from deepsym.refining import Refiner, load_refiner


def add_parser(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser(
        "refine", help="polish a MIDI file with refiners (re-timing)",
        description="Apply refiners to a MIDI file: --durations first, then each --with in "
                    "order. Refiners never change pitches, note order or tracks; "
                    "'deepsym plugins' lists them.")
    parser.add_argument("input", type=Path, metavar="IN.mid")
    parser.add_argument("--durations", metavar="RUN",
                        help="a run folder of 'deepsym train refine-duration'")
    parser.add_argument("--with", dest="others", action="append", default=[],
                        metavar="REFINER", help="a refiner's name or a learned refiner's "
                        "run folder (repeatable)")
    parser.add_argument("--device", default="cpu",
                        help="torch device of learned refiners (default: cpu)")
    parser.add_argument("-o", "--output", type=Path, required=True, metavar="OUT.mid")
    parser.set_defaults(run=run)


def run(args: argparse.Namespace) -> int:
    from deepsym.midi import read_midi, write_midi
    from deepsym.refining import refine

    refiners = chain(args.durations, args.others, args.device)
    score = refine(read_midi(args.input), refiners)
    try:
        write_midi(score, args.output)
    except OSError as exc:
        raise DeepsymError(f"{args.output}: cannot write: {exc.strerror or exc}") from None
    print(args.output)
    return 0


def chain(durations: str | None, others: list[str], device: str | None) -> list[Refiner]:
    """The refiners to apply, in order: the Duration Net run, then the others."""
    refiners = []
    if durations is not None:
        refiner = load_refiner(durations, device)
        if refiner.name != "refine-duration":
            raise DeepsymError(f"--durations {durations}: a {refiner.name!r} refiner, not a "
                               "run of 'deepsym train refine-duration'")
        refiners.append(refiner)
    refiners += [load_refiner(other, device) for other in others]
    if not refiners:
        raise DeepsymError("name a refiner: --durations RUN or --with REFINER")
    return refiners
