"""``deepsym refine``: polish a MIDI file with refiners (see ``deepsym.refining``)."""
from __future__ import annotations

import argparse
from pathlib import Path

from deepsym.errors import DeepsymError
from deepsym.refining import Refiner, load_refiner


def add_parser(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser(
        "refine", help="polish a MIDI file with refiners (timing, dynamics)",
        description="Apply refiners to a MIDI file: --durations first, then --velocities, "
                    "then each --with in order. Refiners never change pitches, note order "
                    "or tracks; 'deepsym plugins' lists them.")
    parser.add_argument("input", type=Path, metavar="IN.mid")
    parser.add_argument("--durations", metavar="RUN",
                        help="a run folder of 'deepsym train refine-duration'")
    parser.add_argument("--velocities", metavar="RUN",
                        help="a run folder of 'deepsym train refine-velocity'")
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

    refiners = chain({"refine-duration": args.durations, "refine-velocity": args.velocities},
                     args.others, args.device)
    score = refine(read_midi(args.input), refiners)
    try:
        write_midi(score, args.output)
    except OSError as exc:
        raise DeepsymError(f"{args.output}: cannot write: {exc.strerror or exc}") from None
    print(args.output)
    return 0


def chain(runs: dict[str, str | None], others: list[str], device: str | None
          ) -> list[Refiner]:
    """The refiners to apply, in order: the runs of the learned refiners named in ``runs``
    (refiner name -> run folder, None: not asked for), then the others."""
    refiners = []
    for name, run in runs.items():
        if run is None:
            continue
        refiner = load_refiner(run, device)
        if refiner.name != name:
            raise DeepsymError(f"{run}: a run for the {refiner.name!r} refiner, not a run "
                               f"of 'deepsym train {name}'")
        refiners.append(refiner)
    refiners += [load_refiner(other, device) for other in others]
    if not refiners:
        raise DeepsymError("name a refiner: --durations RUN, --velocities RUN or --with "
                           "REFINER")
    return refiners
