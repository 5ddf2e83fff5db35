"""How good and how original a generated set is, next to a corpus.

:func:`evaluate` measures every registered metric, deepsym's and other plugins' (see
:func:`deepsym.metrics.summary.registered_metrics`), on the generated pieces and on the
corpus's held-out split (its test split, or its valid split when the test split is
empty), as mean ± standard deviation over the pieces, and checks each generated piece
for plagiarism against the corpus's train split (the ``top`` matches: longest copied run
first, then LCS ratio; see :mod:`deepsym.metrics.originality`). :func:`markdown` turns
the result into a report.

:func:`held_out_loss` measures a trained model instead: its loss per step on the
held-out pieces, whole (cross-entropy per token, in nats, for the token models), beside
a uniform guess over the representation's vocabulary (ln of its size).
"""
from __future__ import annotations

import dataclasses
import math
import os
import warnings
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

from deepsym.data import Corpus, find_midi_files
from deepsym.errors import CorpusError, DeepsymError
from deepsym.fileio import write_atomic
from deepsym.metrics.originality import PlagiarismReport, Span, note_sequence, plagiarism
from deepsym.metrics.summary import aggregate, summarize
from deepsym.midi import read_midi

#: (mean, standard deviation, pieces where defined) per metric.
Stats = dict[str, tuple[float, float, int]]


@dataclass(frozen=True)
class Evaluation:
    """The metrics of a generated set beside a corpus's held-out split, and plagiarism."""

    corpus: str                      # the corpus folder
    split: str                       # the held-out split measured: "test" or "valid"
    generated: Stats                 # per metric over the generated pieces
    held_out: Stats                  # per metric over the held-out pieces
    pieces: list[str]                # the generated pieces measured (paths)
    held_out_pieces: int
    train_pieces: int
    plagiarism: list[PlagiarismReport]  # one per generated piece, in ``pieces`` order
    skipped: list[tuple[str, str]]   # generated files that could not be read: path, reason
    #: metrics that raised or gave no number on some piece (NaN there): name -> why
    metric_failures: dict[str, str] = dataclasses.field(default_factory=dict)


def evaluate(generated: str | os.PathLike | Iterable[str | os.PathLike],
             corpus: str | os.PathLike | Corpus, *, top: int = 3,
             workers: int | None = None) -> Evaluation:
    """Evaluate the MIDI files ``generated`` (a folder, searched recursively, or files)
    against ``corpus`` (a corpus folder built by ``deepsym corpus build``, or an open
    :class:`Corpus`). A generated file that cannot be read is skipped and listed; none
    readable, a corpus without held-out or train pieces, or ``top`` < 1 raise
    :class:`DeepsymError`. A metric that fails on a piece is NaN there and listed in
    ``metric_failures``.
    """
    if top < 1:
        raise DeepsymError(f"top must be at least 1, not {top}")
    corpus = corpus if isinstance(corpus, Corpus) else Corpus.open(corpus)
    sources = [generated] if isinstance(generated, (str, os.PathLike)) else list(generated)
    files = find_midi_files(sources)
    scores, skipped = {}, []
    for path in files:
        try:
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")  # lenient: a damaged file keeps its notes
                scores[str(path)] = read_midi(path)
        except DeepsymError as exc:
            skipped.append((str(path), str(exc)))
    if not scores:
        raise DeepsymError(f"none of the {len(files)} MIDI files in "
                           f"{', '.join(map(os.fspath, sources))} can be read")
    split, held_out = _held_out(corpus)
    train = corpus.split("train")
    if not len(train):
        raise CorpusError(f"{corpus.path}: the train split is empty; nothing to check "
                          "plagiarism against")
    sequences = {corpus.pieces[i].path: note_sequence(corpus.score(i)) for i in train}
    reports = [dataclasses.replace(plagiarism(score, sequences, top=top, workers=workers),
                                   generated=name) for name, score in scores.items()]
    failures: dict[str, str] = {}
    measured = aggregate(summarize(score, failures) for score in scores.values())
    reference = aggregate(summarize(corpus.score(i), failures) for i in held_out)
    return Evaluation(str(corpus.path), split, measured, reference, list(scores),
                      len(held_out), len(train), reports, skipped, failures)


def _held_out(corpus: Corpus) -> tuple[str, Sequence[int]]:
    for split in ("test", "valid"):
        if split in corpus.split_names and len(indices := corpus.split(split)):
            return split, indices
    raise CorpusError(f"{corpus.path}: the test and valid splits are empty; rebuild the "
                      "corpus with held-out fractions (deepsym corpus build --split ...)")


@dataclass(frozen=True)
class HeldOutLoss:
    """A trained model's loss on a held-out split: ``loss`` is the mean over every real
    step of every piece (pieces whole, untransposed), ``uniform`` = ln(vocab_size) for
    a token representation (None otherwise)."""

    run: str
    model: str
    step: int                # the checkpoint's training step
    split: str
    pieces: int
    steps: int               # representation steps (tokens) scored
    loss: float
    vocab_size: int | None
    uniform: float | None


def held_out_loss(run: str | os.PathLike, corpus: str | os.PathLike | Corpus,
                  split: str | None = None, device: str = "cpu") -> HeldOutLoss:
    """The loss of the model of ``run`` (its best checkpoint, else its last) on ``split``
    of ``corpus`` (default: test, or valid when test is empty).

    Each piece is one batch: its whole encoding, as the model's own dataset and collate
    make it with crops longer than any piece, scored by its Trainer's
    ``validation_loss`` (a mean over the piece's real steps, weighted here by their
    number: ``loss = sum over pieces of mean loss x steps / all steps``).
    """
    import dataclasses

    import torch

    from deepsym.sampling.run import trained_representation
    from deepsym.training.base import to_device
    from deepsym.training.checkpoint import load_trained

    corpus = corpus if isinstance(corpus, Corpus) else Corpus.open(corpus)
    split, pieces = (split, corpus.split(split)) if split is not None else _held_out(corpus)
    trained = load_trained(run, device)
    representation = trained_representation(trained.spec, trained.config)
    trainer = trained.spec.trainer_class()(trained.model, trained.config,
                                           device=str(trained.device))
    whole = dataclasses.replace(trained.config, sequence_length=2**31 - 2) \
        if hasattr(trained.config, "sequence_length") else trained.config
    data, collate = trained.spec.trainer_class().dataset(whole, corpus, split, representation,
                                                         0)
    total, steps = 0.0, 0
    trainer.model.eval()
    with torch.no_grad():
        for k in range(len(data)):
            batch = to_device(collate([data[k]]), trainer.device)
            loss = trainer.validation_loss(batch)
            if loss is None:
                raise DeepsymError(f"model {trained.name!r} has no validation loss to measure")
            count = int(batch["mask"].sum())
            total += float(loss) * count
            steps += count
    vocab = representation.spec.vocab_size
    return HeldOutLoss(str(run), trained.name, trained.step, split, len(pieces), steps,
                       total / steps if steps else math.nan, vocab,
                       math.log(vocab) if vocab else None)


# -- the report ----------------------------------------------------------------------------

def metric_rows(evaluation: Evaluation) -> list[tuple[str, str, str]]:
    """(metric, generated "mean ± std", held-out "mean ± std") for every metric measured,
    in the registry's order."""
    return [(name, _stat(stats), _stat(evaluation.held_out[name]))
            for name, stats in evaluation.generated.items()]


def markdown(evaluation: Evaluation, *, title: str = "Evaluation", intro: str = "",
             links: Mapping[str, Sequence[tuple[str, str]]] | None = None,
             base: str | os.PathLike | None = None) -> str:
    """The evaluation as a Markdown report: the metric table, then per generated piece its
    top plagiarism matches. ``links`` maps a piece's path to (label, target) pairs listed
    under its name (a target ending in .png is shown as a picture); targets and piece
    paths are written relative to ``base`` when given."""
    links = links or {}
    gen = f"generated ({len(evaluation.pieces)} pieces)"
    held = f"held-out {evaluation.split} split ({evaluation.held_out_pieces} pieces)"
    lines = [f"# {title}", ""]
    if intro:
        lines += [intro, ""]
    lines += [f"Corpus: `{evaluation.corpus}`. Metrics: mean ± standard deviation over the "
              "pieces where each is defined (see `deepsym.metrics`).", "",
              f"| metric | {gen} | {held} |", "|---|---:|---:|"]
    lines += [f"| {name} | {g} | {h} |" for name, g, h in metric_rows(evaluation)]
    lines += ["", "## Originality", "",
              f"Each piece against the {evaluation.train_pieces} pieces of the train split: "
              "LCS = longest common subsequence of the note sequences (ratio: over the "
              "generated piece's notes); run = longest literally copied run of notes, with "
              "where it sits in both pieces (notes [start:end), m:ss.s).", ""]
    for report in evaluation.plagiarism:
        lines += [f"### {_relative(report.generated, base)}", ""]
        for label, target in links.get(report.generated, ()):
            target = _relative(target, base)
            lines += [f"![{label}]({target})", ""] if target.lower().endswith(".png") \
                else [f"- {label}: [{target}]({target})"]
        if lines[-1]:
            lines.append("")
        lines += [f"{report.notes} notes; top matches:", "",
                  "| # | training piece | LCS | ratio | run (notes) | run (s) | "
                  "generated span | training span |", "|---:|---|---:|---:|---:|---:|---|---|"]
        lines += [f"| {k} | {Path(m.piece).name} | {m.lcs_length} | {m.lcs_ratio:.3f} | "
                  f"{m.run_notes} | {m.run_seconds:.1f} | {_span(m.generated_span)} | "
                  f"{_span(m.training_span)} |" for k, m in enumerate(report.matches, 1)]
        lines.append("")
    if evaluation.metric_failures:
        lines += ["## Failed metrics", "", "Left out of the mean for the pieces they failed "
                  "on (- where they failed on all).", ""]
        lines += [f"- {problem}" for problem in evaluation.metric_failures.values()] + [""]
    if evaluation.skipped:
        lines += ["## Skipped", ""] + [f"- `{path}`: {reason}"
                                       for path, reason in evaluation.skipped] + [""]
    return "\n".join(lines)


def write_report(evaluation: Evaluation, path: str | os.PathLike, **options) -> Path:
    """Write :func:`markdown` (``options`` passed on; ``base`` defaults to the report's
    folder) to ``path`` atomically."""
    path = Path(path)
    options.setdefault("base", path.parent)
    return write_atomic(path, markdown(evaluation, **options).encode("utf-8"))


def _stat(value: tuple[float, float, int]) -> str:
    mean, std, _ = value
    return "-" if math.isnan(mean) else f"{_number(mean)} ± {_number(std)}"


def _number(x: float) -> str:
    """Three significant figures, without exponents for usual magnitudes."""
    return f"{x:.0f}" if abs(x) >= 100 else f"{x:.3g}"


def _span(span: Span) -> str:
    return (f"{span.start_note}:{span.end_note} "
            f"{_clock(span.start_seconds)}-{_clock(span.end_seconds)}")


def _clock(seconds: float) -> str:
    return f"{int(seconds // 60)}:{seconds % 60:04.1f}"


def _relative(target: str | os.PathLike, base: str | os.PathLike | None) -> str:
    if base is None:
        return os.fspath(target)
    return os.path.relpath(Path(target).resolve(), Path(base).resolve())


__all__ = ["Evaluation", "HeldOutLoss", "evaluate", "held_out_loss", "markdown", "metric_rows",
           "write_report"]
