"""``deepsym metrics FILE_OR_DIR...``: the registered metrics, one row a file or a folder's
mean ± std."""
from __future__ import annotations

import argparse
import json
import math
import sys
import warnings
from pathlib import Path

from deepsym.data.scan import find_midi_files
from deepsym.errors import DeepsymError
from deepsym.metrics.summary import aggregate, registered_metrics, summarize
from deepsym.midi import read_midi

#: A table row: a file and its metrics, or a folder, its (mean, std, count)s and file count.
Row = tuple[str, dict, int | None]

#: How the table shows deepsym's own metrics (name, header, digits after the point); the
#: rest of them are in --json only. Every other plugin's metric gets a column of its own.
COLUMNS = (
    ("notes", "notes", 0),
    ("pitch_range", "range", 0),
    ("n_pitches_used", "pitches", 0),
    ("n_pitch_classes_used", "classes", 0),
    ("pitch_class_entropy", "pc-entropy", 2),
    ("scale_consistency", "scale", 3),
    ("polyphony", "polyphony", 2),
    ("onset_polyphony", "onset-poly", 2),
    ("repetitions_4", "reps-4", 0),
    ("empty_beat_rate", "empty-beats", 3),
    ("groove_consistency", "groove", 3),
    # MuseGAN's (Dong et al. 2018): EB, UPC, QN, DP, TD
    ("empty_measure_rate", "EB", 3),
    ("used_pitch_classes", "UPC", 2),
    ("qualified_note_rate", "QN", 3),
    ("drum_pattern_rate", "DP", 3),
    ("tonal_distance", "TD", 2),
)


def add_parser(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser(
        "metrics", help="musical metrics of MIDI files (mean ± std over a folder)",
        description="Print musical metrics: one row per file, or for a folder the mean ± "
                    "standard deviation over its MIDI files (searched recursively). A file "
                    "that cannot be read gets one error line; the others are still measured; "
                    "the exit status is 1 if any failed.",
    )
    parser.add_argument("paths", nargs="+", type=Path, metavar="FILE_OR_DIR")
    parser.add_argument("--json", action="store_true",
                        help="print every metric as JSON (NaN as null) instead of a table")
    parser.set_defaults(run=run)


def run(args: argparse.Namespace) -> int:
    rows: list[Row] = []
    failed = False
    failures: dict[str, str] = {}
    for path in args.paths:
        if path.is_dir():
            try:
                files = find_midi_files([path])
            except DeepsymError as exc:
                _error(str(exc))
                failed = True
                continue
            summaries = [s for s in (_measure(f, failures) for f in files) if s is not None]
            failed |= len(summaries) < len(files)
            rows.append((str(path), aggregate(summaries), len(summaries)))
        else:
            summary = _measure(path, failures)
            failed |= summary is None
            if summary is not None:
                rows.append((str(path), summary, None))
    for problem in failures.values():
        print(f"deepsym: warning: {problem}", file=sys.stderr, flush=True)
    if rows:
        print(_json(rows) if args.json else _table(rows), flush=True)
    return 1 if failed else 0


def _measure(path: Path, failures: dict[str, str]) -> dict[str, float] | None:
    """The metrics of one file (a metric's failure recorded in ``failures``); None (after
    one error line) if it cannot be read."""
    try:
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            score = read_midi(path)
        for w in caught:
            print(f"deepsym: warning: {w.message}", file=sys.stderr, flush=True)
        return summarize(score, failures)
    except DeepsymError as exc:
        _error(str(exc))
        return None


def _error(message: str) -> None:
    print(f"deepsym: error: {message}", file=sys.stderr, flush=True)


def _cell(value: float | tuple[float, float, int], digits: int) -> str:
    if isinstance(value, tuple):
        mean, std, _ = value
        return "-" if math.isnan(mean) else f"{mean:.{max(digits, 1)}f}±{std:.{max(digits, 1)}f}"
    return "-" if math.isnan(value) else f"{value:.{digits}f}"


def _columns() -> list[tuple[str, str, int]]:
    """The table's columns: :data:`COLUMNS` of the registered metrics, then every metric
    of a plugin not deepsym's own, headed by its name, with 3 digits."""
    metrics = registered_metrics()
    names = {metric.name for metric in metrics}
    return [column for column in COLUMNS if column[0] in names] + \
        [(metric.name, metric.name, 3) for metric in metrics if not metric.builtin]


def _table(rows: list[Row]) -> str:
    columns = _columns()
    header = ["file"] + [title for _, title, _ in columns]
    body = [[name if files is None else f"{name} ({files} files, mean±std)"]
            + [_cell(values[key], digits) for key, _, digits in columns]
            for name, values, files in rows]
    widths = [max(len(r[c]) for r in [header, *body]) for c in range(len(header))]
    return "\n".join(
        "  ".join(cell.ljust(w) if c == 0 else cell.rjust(w)
                  for c, (cell, w) in enumerate(zip(line, widths, strict=True))).rstrip()
        for line in [header, *body])


def _json(rows: list[Row]) -> str:
    def clean(x: float) -> float | None:
        return None if math.isnan(x) else x

    out: list[dict] = []
    for name, values, files in rows:
        if files is None:
            out.append({"file": name, "metrics": {k: clean(v) for k, v in values.items()}})
        else:
            out.append({"folder": name, "files": files,
                        "mean": {k: clean(v[0]) for k, v in values.items()},
                        "std": {k: clean(v[1]) for k, v in values.items()}})
    return json.dumps(out, indent=2)
