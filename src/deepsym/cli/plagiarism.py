"""``deepsym plagiarism GEN.mid --corpus DIR_OR_CORPUS``: the training pieces a piece copies."""
from __future__ import annotations

import argparse
import sys
import warnings
from pathlib import Path

from deepsym.cli.options import WORKERS_HELP, check_workers
from deepsym.metrics.originality import Match, PlagiarismReport, Span, plagiarism


def add_parser(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser(
        "plagiarism", help="find the training pieces a generated piece copies from",
        description="Compare a generated MIDI file with every training piece: LCS of the "
                    "note sequences and the longest copied run, with where it sits in both "
                    "pieces. Prints the top matches, longest run first.",
    )
    parser.add_argument("generated", type=Path, metavar="GEN.mid")
    parser.add_argument("--corpus", required=True, type=Path, metavar="DIR_OR_CORPUS",
                        help="a folder of MIDI files (searched recursively) or a deepsym "
                             "corpus (its train split)")
    parser.add_argument("--top", type=int, default=10, help="matches to show (default 10)")
    parser.add_argument("--transpose", action="store_true",
                        help="also find copies moved to another key")
    parser.add_argument("--tolerance", type=float, metavar="SECONDS",
                        help="runs must keep their rhythm: inter-onset intervals within this")
    parser.add_argument("--workers", type=int, help=f"threads {WORKERS_HELP}")
    parser.add_argument("--exhaustive", action="store_true",
                        help="scan every piece even when the corpus has an n-gram index "
                             "(which finds every run of n+ notes; n = 8 by default), e.g. "
                             "to rank pieces sharing shorter runs too")
    parser.set_defaults(run=run)


def run(args: argparse.Namespace) -> int:
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        report = plagiarism(args.generated, args.corpus, top=args.top,
                            transpose=args.transpose, tolerance=args.tolerance,
                            workers=check_workers(args.workers),
                            index=False if args.exhaustive else None)
    for w in caught:
        print(f"deepsym: warning: {w.message}", file=sys.stderr)
    if report.fallback:
        print(f"deepsym: {fallback_line(report.fallback)}", file=sys.stderr)
    print("\n".join(table(report)))
    return 0


def fallback_line(why: str) -> str:
    """The line saying the search scanned every piece, and why."""
    return f"exhaustive scan of every piece ({why})"


def _clock(seconds: float) -> str:
    return f"{int(seconds // 60)}:{seconds % 60:04.1f}"


def _span(span: Span) -> str:
    return (f"{span.start_note}:{span.end_note} "
            f"{_clock(span.start_seconds)}-{_clock(span.end_seconds)}")


def _row(rank: int, m: Match) -> tuple[str, ...]:
    return (str(rank), m.piece, str(m.lcs_length), f"{m.lcs_ratio:.3f}", str(m.run_notes),
            f"{m.run_seconds:.1f}", _span(m.generated_span), _span(m.training_span))


def table(report: PlagiarismReport) -> list[str]:
    """The report as text: a title line, then one row a match (spans: notes [start:end)
    and times m:ss.s)."""
    head = ("#", "piece", "LCS", "ratio", "run", "seconds", "generated span",
            "training span")
    rows = [head] + [_row(k, m) for k, m in enumerate(report.matches, 1)]
    widths = [max(len(r[c]) for r in rows) for c in range(len(head))]
    right = {0, 2, 3, 4, 5}
    found = f"top {len(report.matches)} matches"
    if report.method == "index":
        found = (f"{found} with a copied run of {report.min_run}+ notes (n-gram index; "
                 "pieces sharing only shorter runs are not ranked)" if report.matches else
                 f"no train piece shares a copied run of {report.min_run} notes (n-gram index)")
    lines = [f"{report.generated}: {report.notes} notes; {found}"]
    for r in rows:
        cells = [cell.rjust(w) if c in right else cell.ljust(w)
                 for c, (cell, w) in enumerate(zip(r, widths, strict=True))]
        lines.append("  ".join(cells).rstrip())
    return lines
