"""``deepsym info FILE...``: what a MIDI file holds, one block per file."""
from __future__ import annotations

import argparse
import sys
import warnings
from pathlib import Path

from deepsym.errors import MidiError
from deepsym.gm import PROGRAM_NAMES
from deepsym.midi import read_header, read_midi
from deepsym.score import Score

MAX_LISTED = 4


def add_parser(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser(
        "info", help="show format, tracks, duration, tempos and time signatures of MIDI files",
        description="Show what each MIDI file holds. A file that cannot be read gets one "
                    "error line; the others are still shown; the exit status is 1 if any failed.",
    )
    parser.add_argument("files", nargs="+", type=Path, metavar="FILE")
    parser.add_argument("--strict", action="store_true",
                        help="fail on damaged files instead of keeping what can be read")
    parser.set_defaults(run=run)


def run(args: argparse.Namespace) -> int:
    failed = shown = 0
    for path in args.files:
        try:
            text = describe(path, strict=args.strict)
        except MidiError as exc:
            print(f"deepsym: error: {exc}", file=sys.stderr, flush=True)
            failed += 1
            continue
        print(("\n" if shown else "") + text, flush=True)
        shown += 1
    return 1 if failed else 0


def describe(path: Path, strict: bool = False) -> str:
    """A readable summary of one MIDI file (warnings about damage included)."""
    try:
        data = path.read_bytes()
    except OSError as exc:
        raise MidiError(f"cannot read: {exc.strerror or exc}", str(path)) from None
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        header = read_header(data, str(path), strict)
        score = read_midi(data, strict=strict, name=str(path))
    lines = [str(path)]
    lines += [f"  warning: {w.message}" for w in caught]
    timing = (f"SMPTE {score.smpte[0]} fps x {score.smpte[1]} ticks" if score.smpte
              else f"{score.ticks_per_beat} ticks per beat")
    lines.append(f"  format {header.format}, {timing}, {_clock(score.duration_seconds)}, "
                 f"{_count(score.n_notes, 'note')} in {_count(len(score.tracks), 'track')}")
    lines.append(f"  tempos: {_tempos(score)}")
    lines.append(f"  time signatures: {_time_signatures(score)}")
    lines += _tracks(score)
    return "\n".join(lines)


def _count(n: int, noun: str) -> str:
    return f"{n} {noun}{'' if n == 1 else 's'}"


def _clock(seconds: float) -> str:
    return f"{int(seconds // 60)}:{seconds % 60:04.1f}"


def _listed(items: list[str]) -> str:
    if not items:
        return "none"
    more = f" (+{len(items) - MAX_LISTED} more)" if len(items) > MAX_LISTED else ""
    return ", ".join(items[:MAX_LISTED]) + more


def _tempos(score: Score) -> str:
    if not len(score.tempos):
        return "none (120 qpm assumed)"
    at = score.to_seconds(score.tempos["tick"])
    return _listed([f"{q:g} qpm at {_clock(s)}" for q, s in zip(score.tempos["qpm"], at,
                                                                 strict=True)])


def _time_signatures(score: Score) -> str:
    ts = score.time_signatures
    at = score.to_seconds(ts["tick"])
    return _listed([f"{n}/{d} at {_clock(s)}" for n, d, s in zip(ts["numerator"],
                                                                   ts["denominator"], at,
                                                                   strict=True)])


def _tracks(score: Score) -> list[str]:
    if not score.tracks:
        return ["  tracks: none with notes"]
    rows = [("#", "name", "program", "channel", "notes")]
    for i, t in enumerate(score.tracks):
        program = "drums" if t.is_drum else f"{t.program} {PROGRAM_NAMES[t.program]}"
        rows.append((str(i), t.name or "-", program, str(t.channel + 1), str(len(t.notes))))
    widths = [min(max(len(r[c]) for r in rows), 32) for c in range(5)]
    return ["  tracks:"] + ["    " + "  ".join(cell[:w].ljust(w) for cell, w in
                                                zip(r, widths, strict=True)).rstrip()
                            for r in rows]
