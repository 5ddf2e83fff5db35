"""``deepsym evaluate DIR --corpus C``: generated pieces beside the held-out split, and
what each copies from the train split; ``--run RUN``: a trained model against the
held-out split, by its loss or, for a model without one (a GAN), by the metric distance
of pieces it samples."""
from __future__ import annotations

import argparse
import sys
from pathlib import Path

from deepsym.cli.options import WORKERS_HELP, check_workers
from deepsym.cli.plagiarism import fallback_line, table
from deepsym.errors import DeepsymError
from deepsym.evaluation import (
    MAX_PIECES,
    MAX_SECONDS,
    MEASURES,
    SET_ORDER,
    SMOOTHING,
    Evaluation,
    HeldOutDistance,
    HeldOutLoss,
    evaluate,
    held_out_cut,
    metric_rows,
    plagiarism_note,
    set_rows,
    stat_text,
    write_report,
)
from deepsym.metrics.distance import BINS


def add_parser(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser(
        "evaluate", help="metrics of generated pieces beside a corpus's held-out split, "
                         "and their plagiarism matches",
        description="Measure the generated MIDI files (a folder, searched recursively) "
                    "and the corpus's held-out split (test, or valid when test is empty) "
                    "with every musical metric (mean ± std), and find for each generated "
                    "piece the training pieces it copies most. A file that cannot be read "
                    "gets a warning; the exit status is then 1. With --run, measure a "
                    "trained model on the held-out pieces instead (or too): a model whose "
                    "trainer declares a validation loss by its loss per step (per token, "
                    "beside a uniform guess); any other (a GAN) by the distance of pieces "
                    "it samples, metric by metric: SMD = |mean_generated - mean_held_out| / "
                    "std_held_out (the pooled std where the held-out values are all equal) "
                    f"and non-overlap = 1 - OA, OA = sum_k min(p_k, q_k), the overlapping "
                    f"area of the two histograms over {BINS} bins (Yang & Lerch 2020); "
                    "overall: their means over the metrics. The output names the measure "
                    "used; --measure chooses it.",
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
    parser.add_argument("--exhaustive", action="store_true",
                        help="check plagiarism by scanning every train piece even when the "
                             "corpus has an n-gram index")
    parser.add_argument("--run", type=Path, metavar="RUN", dest="run_dir",
                        help="a run folder of deepsym train (or a checkpoint): measure its "
                             "model on the held-out pieces")
    parser.add_argument("--measure", choices=MEASURES, default="auto",
                        help="for --run: loss, distance, or auto (default): the loss when "
                             "the model declares one, else the distance")
    parser.add_argument("--pieces", type=int, metavar="N",
                        help="for the distance: pieces to sample (default: as many as the "
                             f"split has, at most {MAX_PIECES})")
    parser.add_argument("--seconds", type=float, metavar="S",
                        help="where the held-out pieces are cut: for DIR, to the length of "
                             "the generated pieces (default: whole); for the distance, also "
                             "the length of the sampled pieces (default: the held-out "
                             f"pieces' median duration, at most {MAX_SECONDS:g})")
    parser.add_argument("--seed", type=int, default=0,
                        help="for the distance: the sampler's seed (default 0)")
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
        from deepsym.evaluation import evaluate_run

        measured = evaluate_run(args.run_dir, args.corpus, args.split, measure=args.measure,
                                pieces=args.pieces, seconds=args.seconds, seed=args.seed,
                                device=args.device)
        if isinstance(measured, HeldOutLoss):
            why = " (auto: the model declares one)" if args.measure == "auto" else ""
            print(f"measure: held-out loss, the trainer's validation target "
                  f"{measured.target!r}{why}")
            print(loss_line(measured))
        else:
            for problem in measured.metric_failures.values():
                print(f"deepsym: warning: {problem}", file=sys.stderr)
            print("\n".join(distance_lines(measured, args.measure == "auto")))
    if args.generated is None:
        return 0
    result = evaluate(args.generated, args.corpus, top=args.top, workers=args.workers,
                      seconds=args.seconds, index=False if args.exhaustive else None)
    for path, reason in result.skipped:
        print(f"deepsym: warning: skipped {path}: {reason}", file=sys.stderr)
    for problem in result.metric_failures.values():
        print(f"deepsym: warning: {problem}", file=sys.stderr)
    if result.plagiarism and result.plagiarism[0].fallback:
        print(f"deepsym: {fallback_line(result.plagiarism[0].fallback)}", file=sys.stderr)
    print("\n".join(text(result)))
    if args.report:
        print(f"\nreport: {write_report(result, args.report)}")
    return 1 if result.skipped else 0


def text(result: Evaluation) -> list[str]:
    """The metric table, the set-level table, then the plagiarism table of each generated
    piece."""
    head = ("metric", f"generated ({len(result.pieces)})",
            f"{result.split} ({result.held_out_pieces}{held_out_cut(result)})")
    lines = [f"{result.corpus}: generated pieces vs the held-out {result.split} split "
             "(mean ± std)", *_aligned([head, *metric_rows(result)])]
    if result.set_metrics:
        lines += [f"\nset-level, over pitch tokens (MIDI pitches in reading order): BLEU and "
                  f"self-BLEU up to {SET_ORDER}-grams (method-1 smoothing, epsilon "
                  f"{SMOOTHING:g}); BLEU's references: the held-out pieces for the "
                  "generated ones, the other held-out pieces for each held-out one",
                  *_aligned([head, *set_rows(result)])]
    lines.append(f"\nplagiarism against the train split ({result.train_pieces} pieces; "
                 f"{plagiarism_note(result)}):")
    for report in result.plagiarism:
        lines += ["", *table(report)]
    return lines


def _aligned(rows: list[tuple[str, str, str]]) -> list[str]:
    """Rows of three columns, the first left-aligned, the others right-aligned."""
    widths = [max(len(r[c]) for r in rows) for c in range(3)]
    return ["  ".join([r[0].ljust(widths[0]), r[1].rjust(widths[1]), r[2].rjust(widths[2])])
            for r in rows]


def loss_line(result: HeldOutLoss) -> str:
    """The held-out loss in one line, with the uniform guess beside it."""
    unit = "nats" if result.vocab_size else result.target
    line = (f"{result.run} ({result.model}, step {result.step}): {result.loss:.4f} {unit} per "
            f"step on the {result.split} split ({result.pieces} pieces, {result.steps:,} steps)")
    if result.uniform is not None:
        line += (f"; uniform guess over {result.vocab_size} tokens: ln {result.vocab_size} = "
                 f"{result.uniform:.4f}")
    return line


def distance_lines(result: HeldOutDistance, chosen: bool = False) -> list[str]:
    """What was measured (``chosen``: said to be the automatic choice), then per metric
    both sets' mean ± std and the two distances, then the overall means."""
    d = result.distance
    rows = [("metric", f"sampled ({result.pieces})",
             f"{result.split} ({result.held_out_pieces})", "SMD", "non-overlap")]
    rows += [(name, stat_text(m.generated), stat_text(m.reference), _distance(m.smd),
              _distance(m.non_overlap)) for name, m in d.metrics.items()]
    rows.append(("overall (mean)", "", "", _distance(d.smd), _distance(d.non_overlap)))
    widths = [max(len(r[c]) for r in rows) for c in range(5)]
    why = f" (auto: {result.model} declares no validation loss)" if chosen else ""
    return [f"measure: metric distance to the held-out split{why}",
            f"{result.run} ({result.model}, step {result.step}): {result.pieces} pieces of "
            f"{result.seconds:.1f} s sampled with seed {result.seed}, against the "
            f"{result.split} split cut to {result.seconds:.1f} s (SMD: |mean difference| / "
            "held-out std; non-overlap: 1 - overlapping area of the histograms)",
            *("  ".join([r[0].ljust(widths[0]), *(r[c].rjust(widths[c]) for c in range(1, 5))])
              for r in rows)]


def _distance(x: float) -> str:
    return "-" if x != x else f"{x:.3f}"
