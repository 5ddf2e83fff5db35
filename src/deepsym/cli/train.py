"""``deepsym train MODEL --corpus C --out RUN``: train a registered model; ``--list``
shows the models and every setting ``--set`` accepts."""
from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import TYPE_CHECKING

from deepsym.errors import DeepsymError, MissingExtraError

if TYPE_CHECKING:
    from deepsym.training.engine import RunResult


def add_parser(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser(
        "train", help="train a model on a corpus (checkpoints, logs, --resume)",
        description="Train a registered model on a corpus into the run folder RUN "
                    "(config.json, checkpoints/last.pt and best.pt, log.csv, tensorboard/). "
                    "CUDA is used when present. Under torchrun the same command trains "
                    "data-parallel. 'deepsym train --list' shows the models and settings.")
    parser.add_argument("model", nargs="?", metavar="MODEL",
                        help="a registered model (deepsym train --list)")
    parser.add_argument("--corpus", type=Path, metavar="CORPUS",
                        help="a corpus folder (deepsym corpus build)")
    parser.add_argument("--out", type=Path, metavar="RUN", help="the run folder to create")
    budget = parser.add_mutually_exclusive_group()
    budget.add_argument("--steps", type=int, metavar="N", help="train N steps in all")
    budget.add_argument("--epochs", type=int, metavar="N",
                        help="train N passes over the train split")
    budget.add_argument("--minutes", type=float, metavar="M",
                        help="train M minutes in all (over every session of the run)")
    parser.add_argument("--set", action="append", default=[], metavar="KEY=VALUE",
                        help="a model config field or training option (repeatable); "
                             "values are JSON or plain text, e.g. hidden=256 "
                             "schedule=cosine grad_clip=null")
    parser.add_argument("--batch-size", type=int, metavar="N",
                        help="items per batch and process (as --set batch_size=N)")
    parser.add_argument("--valid-every", type=int, metavar="N",
                        help="validation loss every N steps, 0: never "
                             "(as --set valid_every=N)")
    parser.add_argument("--seed", type=int, default=None, help="random seed (default 0)")
    parser.add_argument("--device", default=None, metavar="DEVICE",
                        help="cpu, cuda, cuda:N or mps (default: cuda when available)")
    parser.add_argument("--resume", type=Path, metavar="RUN",
                        help="continue the run in RUN exactly where its newest usable "
                             "checkpoint is (last.pt, else best.pt; it says which)")
    parser.add_argument("--auto-resume", action="store_true",
                        help="with --out RUN: continue RUN from its newest usable "
                             "checkpoint when it already holds this run, else start it; "
                             "for commands that are rerun as they are (torchrun "
                             "--max-restarts, requeued cluster jobs)")
    parser.add_argument("--list", action="store_true",
                        help="show the models, their config fields and the training options")
    parser.add_argument("-q", "--quiet", action="store_true",
                        help="no progress bar (shown only on a terminal anyway)")
    parser.set_defaults(run=run)


def run(args: argparse.Namespace) -> int:
    if args.list:
        print(listing())
        return 0
    from deepsym.training.distributed import context_from_env
    from deepsym.training.engine import Budget, train
    from deepsym.training.options import parse_settings

    settings = parse_settings(args.set)
    for flag, key in (("batch_size", "batch_size"), ("valid_every", "valid_every")):
        if getattr(args, flag) is not None:
            settings[key] = getattr(args, flag)
    if args.resume is not None:
        if args.out is not None and args.out.resolve() != args.resume.resolve():
            raise DeepsymError("--out and --resume name different folders; --resume RUN "
                               "continues RUN (no --out needed)")
        if args.auto_resume:
            raise DeepsymError("--auto-resume goes with --out RUN (it starts RUN or resumes "
                               "it); --resume RUN always resumes")
        out = args.resume
    else:
        if args.model is None:
            raise DeepsymError("name the MODEL to train (deepsym train --list shows them)")
        if args.corpus is None or args.out is None:
            raise DeepsymError("name the corpus and the run folder: --corpus CORPUS --out RUN")
        out = args.out
    result = train(args.model, args.corpus, out, settings=settings,
                   budget=Budget(args.steps, args.epochs, args.minutes), seed=args.seed,
                   device=args.device,
                   resume="auto" if args.auto_resume else args.resume is not None,
                   progress=not args.quiet and sys.stderr.isatty())
    if context_from_env().main:
        print(summary(result))
    return 0


def summary(result: RunResult) -> str:
    """What a finished run did, in one line, and where it is."""
    parts = [f"trained {result.step} steps (stopped: {result.stopped}) in "
             f"{result.elapsed:.1f} s"]
    if result.train_loss is not None:
        parts.append(f"loss {result.train_loss:.4f}")
    if result.valid_loss is not None:
        parts.append(f"validation {result.valid_name} {result.valid_loss:.4f} (best "
                     f"{result.best_valid_loss:.4f})")
    return "; ".join(parts) + f"\nrun folder: {result.out}"


def listing() -> str:
    """Every registered model with its config fields (type, default), then the training
    options every model accepts."""
    from deepsym.plugins import manager
    from deepsym.training.options import OPTION_FIELDS, TrainOptions, describe_fields

    models = manager().models
    lines = ["models (deepsym train MODEL --corpus C --out RUN [--set KEY=VALUE ...]):"]
    if not len(models):
        lines.append("  none registered; install a model plugin (e.g. pip install "
                     "'deepsym[charrnn]')")
    for name in models.names():
        spec = models.get(name)
        about = f" - {spec.description}" if spec.description else ""
        lines.append(f"\n{name}{about}")
        lines.append(f"  representation {spec.representation}; plugin "
                     f"{models.plugin_of(name)}")
        try:
            rows = describe_fields(spec.config_class())
        except MissingExtraError as exc:
            lines.append(f"  needs: {spec.install_hint} ({exc})")
            continue
        shared = [r for r in rows if r[0] in OPTION_FIELDS]
        lines += _table([r for r in rows if r[0] not in OPTION_FIELDS])
        if shared:
            lines.append("  training option defaults: " + ", ".join(
                f"{n}={d}" for n, _, d in shared))
    lines.append("\ntraining options (every model; a model config field of the same name "
                 "sets its default):")
    lines += _table(describe_fields(TrainOptions))
    return "\n".join(lines)


def _table(rows: list[tuple[str, str, str]]) -> list[str]:
    if not rows:
        return []
    width = [max(len(r[i]) for r in rows) for i in range(2)]
    return [f"  {n.ljust(width[0])}  {t.ljust(width[1])}  {d}" for n, t, d in rows]
