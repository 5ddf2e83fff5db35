"""``deepsym plot FILE -o roll.png``: the piano-roll picture, with copied spans shaded."""
from __future__ import annotations

import argparse
from pathlib import Path

from deepsym.midi import read_midi


def add_parser(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser(
        "plot", help="draw the piano-roll of a MIDI file as a PNG",
        description="Draw the piano-roll of a MIDI file: tracks in distinct colours, bar and "
                    "beat lines, pitch names. With --against, shade the runs of notes copied "
                    "from the given training pieces (the plagiarism report's matches). "
                    "Needs matplotlib: pip install 'deepsym[plot]'.",
    )
    parser.add_argument("file", type=Path, metavar="FILE")
    parser.add_argument("-o", "--output", type=Path, metavar="PNG",
                        help="where to write the picture (default: FILE's name with .png, "
                             "in the current folder)")
    parser.add_argument("--against", nargs="+", metavar="TRAIN",
                        help="training MIDI files or folders to look for copied runs in")
    parser.add_argument("--min-run", type=_positive, default=4, metavar="N",
                        help="shade copied runs of at least N notes (default: 4)")
    parser.add_argument("--transpose", action="store_true",
                        help="also find runs copied in another key")
    parser.add_argument("--size", type=_positive_float, nargs=2, default=(12.0, 5.0),
                        metavar=("WIDTH", "HEIGHT"), help="in inches (default: 12 5)")
    parser.add_argument("--dpi", type=_positive, default=100, help="pixels per inch (default: 100)")
    parser.set_defaults(run=run)


def run(args: argparse.Namespace) -> int:
    from deepsym.plot import require_matplotlib, save_pianoroll

    require_matplotlib()  # before any work, so a missing extra is said at once
    score = read_midi(args.file)
    report = None
    if args.against:
        from deepsym.data.scan import find_midi_files
        from deepsym.metrics.originality import plagiarism

        report = plagiarism(score, find_midi_files(args.against), top=None,
                            transpose=args.transpose)
    output = args.output or Path(args.file.with_suffix(".png").name)
    save_pianoroll(score, output, report, name=args.file.name, min_run=args.min_run,
                   figsize=tuple(args.size), dpi=args.dpi)
    print(output)
    if report is not None:
        for match in report.matches:
            if match.run_notes >= args.min_run:
                g, t = match.generated_span, match.training_span
                print(f"  copied {match.run_notes} notes at {g.start_seconds:.1f}-"
                      f"{g.end_seconds:.1f} s from {match.piece} at "
                      f"{t.start_seconds:.1f}-{t.end_seconds:.1f} s")
    return 0


def _positive(text: str) -> int:
    value = int(text)
    if value < 1:
        raise argparse.ArgumentTypeError(f"must be at least 1, not {value}")
    return value


def _positive_float(text: str) -> float:
    value = float(text)
    if not value > 0:
        raise argparse.ArgumentTypeError(f"must be positive, not {text}")
    return value
