"""``deepsym evaluate DIR --corpus C``: generated pieces beside the held-out split, and
what each copies from the train split; ``--run RUN``: a trained model's held-out loss."""
from __future__ import annotations

import argparse
import sys
from pathlib import Path

from deepsym.cli.options import WORKERS_HELP, check_workers
from deepsym.cli.plagiarism import table
from deepsym.errors import DeepsymError
from deepsym.evaluation import Evaluation, HeldOutLoss, evaluate, metric_rows, write_report


def add_parser(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser(
        "evaluate", help="metrics of generated pieces beside a corpus's held-out split, "
                         "and their plagiarism matches",
        description="Measure the generated MIDI files (a folder, searched recursively) "
                    "and the corpus's held-out split (test, or valid when test is empty) "
                    "with every musical metric (mean ± std), and find for each generated "
                    "piece the training pieces it copies most. A file that cannot be read "
                    "gets a warning; the exit status is then 1. With --run, measure a "
                    "trained model's loss per token on the held-out pieces instead (or too).",
    )
    parser.add_argument("generated", type=Path, nargs="?", metavar="DIR",
                        help="the generated MIDI files")
    parser.add_argument("--corpus", required=True, type=Path, metavar="CORPUS",
                        help="a corpus built by `deepsym corpus build`")
    parser.add_argument("--top", type=int, default=3,
                        help="plagiarism matches to show per piece (default 3)")
    parser.add_argument("--report", type=Path, metavar="REPORT.md",
                        help="also write the evaluation as a Markdown report")
    parser.add_argument("--workers", type=int, help=f"threads {WORKERS_HELP}")
    parser.add_argument("--run", type=Path, metavar="RUN", dest="run_dir",
                        help="a run folder of deepsym train: print its model's loss per "
                             "token on the held-out pieces, beside a uniform guess")
    parser.add_argument("--split", choices=("train", "valid", "test"),
                        help="the split --run is measured on (default: test, or valid "
                             "when test is empty)")
    parser.add_argument("--device", default="cpu", help="torch device for --run (default: cpu)")
    parser.set_defaults(run=run)


def run(args: argparse.Namespace) -> int:
    if args.generated is None and args.run_dir is None:
        raise DeepsymError("name the generated pieces (DIR) or a trained run (--run RUN)")
    check_workers(args.workers)
    if args.run_dir is not None:
        from deepsym.evaluation import held_out_loss

        print(loss_line(held_out_loss(args.run_dir, args.corpus, args.split, args.device)))
    if args.generated is None:
        return 0
    result = evaluate(args.generated, args.corpus, top=args.top, workers=args.workers)
    for path, reason in result.skipped:
        print(f"deepsym: warning: skipped {path}: {reason}", file=sys.stderr)
    for problem in result.metric_failures.values():
        print(f"deepsym: warning: {problem}", file=sys.stderr)
    print("\n".join(text(result)))
    if args.report:
        print(f"\nreport: {write_report(result, args.report)}")
    return 1 if result.skipped else 0


def text(result: Evaluation) -> list[str]:
    """The metric table, then the plagiarism table of each generated piece."""
    rows = [("metric", f"generated ({len(result.pieces)})",
             f"{result.split} ({result.held_out_pieces})"), *metric_rows(result)]
    widths = [max(len(r[c]) for r in rows) for c in range(3)]
    lines = [f"{result.corpus}: generated pieces vs the held-out {result.split} split "
             "(mean ± std)"]
    lines += ["  ".join([r[0].ljust(widths[0]), r[1].rjust(widths[1]),
                         r[2].rjust(widths[2])]) for r in rows]
    lines.append(f"\nplagiarism against the train split ({result.train_pieces} pieces):")
    for report in result.plagiarism:
        lines += ["", *table(report)]
    return lines


def loss_line(result: HeldOutLoss) -> str:
    """The held-out loss in one line, with the uniform guess beside it."""
    line = (f"{result.run} ({result.model}, step {result.step}): {result.loss:.4f} nats per "
            f"step on the {result.split} split ({result.pieces} pieces, {result.steps:,} steps)")
    if result.uniform is not None:
        line += (f"; uniform guess over {result.vocab_size} tokens: ln {result.vocab_size} = "
                 f"{result.uniform:.4f}")
    return line
