"""How good and how original a generated set is, next to a corpus.

:func:`evaluate` measures every registered metric, deepsym's and other plugins' (see
:func:`deepsym.metrics.summary.registered_metrics`), on the generated pieces and on the
corpus's held-out split (its test split, or its valid split when the test split is
empty), as mean ± standard deviation over the pieces, and checks each generated piece
for plagiarism against the corpus's train split (the ``top`` matches: longest copied run
first, then LCS ratio; see :mod:`deepsym.metrics.originality`). :func:`markdown` turns
the result into a report. Set-level numbers beside them (:func:`set_metrics`) compare the
sets as wholes, over the pieces' pitch sequences: BLEU-4, self-BLEU-4, repeated 4-grams and
distinct pieces.

:func:`evaluate_run` measures a trained model instead, whatever its kind: a model whose
Trainer declares a validation loss (``validation_target``) by :func:`held_out_loss`, its
loss per step on the held-out pieces, whole (cross-entropy per token, in nats, for the
token models), beside a uniform guess over the representation's vocabulary (ln of its
size); any other (a GAN) by :func:`held_out_distance`, the distance of pieces it samples
to the held-out pieces, metric by metric (:mod:`deepsym.metrics.distance`).
"""
from __future__ import annotations

import dataclasses
import math
import os
import warnings
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from deepsym.data import Corpus, find_midi_files
from deepsym.errors import CorpusError, DeepsymError
from deepsym.fileio import write_atomic
from deepsym.metrics.bleu import corpus_bleu, leave_one_out_bleu, note_tokens, self_bleu
from deepsym.metrics.distance import SetDistance, set_distance
from deepsym.metrics.diversity import distinct_pieces, repeated_ngram_share
from deepsym.metrics.originality import (
    PlagiarismReport,
    Span,
    note_sequence,
    plagiarism,
    through_index,
)
from deepsym.metrics.summary import aggregate, summarize
from deepsym.midi import read_midi
from deepsym.score import Score

#: (mean, standard deviation, pieces where defined) per metric.
Stats = dict[str, tuple[float, float, int]]
#: the n-gram order of the set-level metrics (SeqGAN reports BLEU up to 4-grams)
SET_ORDER = 4
#: Chen & Cherry's method 1 epsilon for a zero n-gram precision (nltk's default)
SMOOTHING = 0.1


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
    seconds: float | None = None     # where the held-out pieces were cut (None: whole)
    #: metrics that raised or gave no number on some piece (NaN there): name -> why
    metric_failures: dict[str, str] = dataclasses.field(default_factory=dict)
    #: set-level metric -> (generated value, held-out value); see :func:`set_metrics`
    set_metrics: dict[str, tuple[float, float]] = dataclasses.field(default_factory=dict)


def evaluate(generated: str | os.PathLike | Iterable[str | os.PathLike],
             corpus: str | os.PathLike | Corpus, *, top: int = 3,
             workers: int | None = None, split: str | None = None,
             seconds: float | None = None, index: bool | None = None) -> Evaluation:
    """Evaluate the MIDI files ``generated`` (a folder, searched recursively, or files)
    against ``corpus`` (a corpus folder built by ``deepsym corpus build``, or an open
    :class:`Corpus`). A generated file that cannot be read is skipped and listed; none
    readable, a corpus without held-out or train pieces, or ``top`` < 1 raise
    :class:`DeepsymError`. The held-out pieces are those of ``split`` (default: test,
    or valid when test is empty), measured over their first ``seconds`` when given (as long
    as the generated pieces: counts such as repetitions grow with length), else whole. A
    metric that fails on a piece is NaN there and listed in ``metric_failures``.
    ``set_metrics`` compares the sets as wholes (see :func:`set_metrics`). ``index``:
    as in :func:`~deepsym.metrics.originality.plagiarism` (None: through the corpus's
    n-gram index when it has one; each report's ``method`` and ``fallback`` say which).
    """
    if top < 1:
        raise DeepsymError(f"top must be at least 1, not {top}")
    _check_sampling(None, seconds, 0)
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
    split, held_out = _chosen_split(corpus, split)
    train = corpus.split("train")
    if not len(train):
        raise CorpusError(f"{corpus.path}: the train split is empty; nothing to check "
                          "plagiarism against")
    reports = _plagiarism(scores, corpus, train, top, workers, index)
    failures: dict[str, str] = {}
    measured = aggregate(summarize(score, failures) for score in scores.values())
    held = [_first(corpus.score(i), seconds) for i in held_out]
    reference = aggregate(summarize(score, failures) for score in held)
    whole_sets = set_metrics([note_tokens(score) for score in scores.values()],
                             [note_tokens(score) for score in held])
    return Evaluation(str(corpus.path), split, measured, reference, list(scores),
                      len(held_out), len(train), reports, skipped, seconds, failures,
                      whole_sets)


def _plagiarism(scores: dict[str, Score], corpus: Corpus, train: np.ndarray, top: int,
                workers: int | None, index: bool | None) -> list[PlagiarismReport]:
    """Each generated piece against the train split: through the n-gram index when
    allowed and present, else by scanning the train pieces (read once for all)."""
    indexed, why = through_index(corpus, index)
    if indexed is not None:
        return [dataclasses.replace(plagiarism(score, corpus, top=top, workers=workers,
                                               index=True), generated=name)
                for name, score in scores.items()]
    sequences = {corpus.pieces[i].path: note_sequence(corpus.score(i)) for i in train}
    return [dataclasses.replace(plagiarism(score, sequences, top=top, workers=workers,
                                           index=False), generated=name, fallback=why)
            for name, score in scores.items()]


def plagiarism_note(evaluation: Evaluation) -> str:
    """How the plagiarism matches were found: through the n-gram index, or scanning."""
    report = evaluation.plagiarism[0] if evaluation.plagiarism else None
    if report is not None and report.method == "index":
        return (f"searched through the corpus's n-gram index: every train piece sharing a "
                f"copied run of {report.min_run}+ notes is ranked, pieces sharing only "
                "shorter runs are not")
    why = report.fallback if report is not None else None
    return "exhaustive scan of every train piece" + (f" ({why})" if why else "")


def set_metrics(generated: Sequence[np.ndarray],
                held_out: Sequence[np.ndarray]) -> dict[str, tuple[float, float]]:
    """Set-level metrics of two sets of token sequences: name -> (generated, held-out).

    ``bleu_4``: :func:`~deepsym.metrics.bleu.corpus_bleu` (n-grams up to ``SET_ORDER``,
    method-1 smoothing ``SMOOTHING``) of the generated pieces against the held-out pieces
    as references; for the held-out pieces, the anchor
    :func:`~deepsym.metrics.bleu.leave_one_out_bleu`, each against the other held-out
    pieces (BLEU grows with the reference set: against the whole train split a held-out
    piece would face far more references than a generated one). ``self_bleu_4``:
    :func:`~deepsym.metrics.bleu.self_bleu`, higher = less diverse.
    ``repeated_4gram_share``: :func:`~deepsym.metrics.diversity.repeated_ngram_share`,
    mean over the pieces. ``distinct_pieces``: different sequences in the set.
    """
    def repeated(pieces: Sequence[np.ndarray]) -> float:
        return float(np.mean([repeated_ngram_share(p, SET_ORDER) for p in pieces])) \
            if len(pieces) else 0.0

    return {
        f"bleu_{SET_ORDER}": (
            corpus_bleu(generated, held_out, max_n=SET_ORDER, smoothing=SMOOTHING),
            leave_one_out_bleu(held_out, max_n=SET_ORDER, smoothing=SMOOTHING)),
        f"self_bleu_{SET_ORDER}": (self_bleu(generated, max_n=SET_ORDER, smoothing=SMOOTHING),
                                   self_bleu(held_out, max_n=SET_ORDER, smoothing=SMOOTHING)),
        f"repeated_{SET_ORDER}gram_share": (repeated(generated), repeated(held_out)),
        "distinct_pieces": (float(distinct_pieces(generated)),
                            float(distinct_pieces(held_out))),
    }


def _first(score: Score, seconds: float | None) -> Score:
    """``score`` cut to its first ``seconds`` (None: whole)."""
    return score if seconds is None else score.slice_seconds(0, seconds)


def _held_out(corpus: Corpus) -> tuple[str, Sequence[int]]:
    for split in ("test", "valid"):
        if split in corpus.split_names and len(indices := corpus.split(split)):
            return split, indices
    raise CorpusError(f"{corpus.path}: the test and valid splits are empty; rebuild the "
                      "corpus with held-out fractions (deepsym corpus build --split ...)")


@dataclass(frozen=True)
class HeldOutLoss:
    """A trained model's loss on a held-out split: ``loss`` is the mean of its Trainer's
    ``validation_target`` over every real step of every piece (pieces whole,
    untransposed), ``uniform`` = ln(vocab_size) for a token representation (None
    otherwise)."""

    run: str
    model: str
    step: int                # the checkpoint's training step
    split: str
    pieces: int
    steps: int               # representation steps (tokens) scored
    loss: float
    vocab_size: int | None
    uniform: float | None
    target: str = "loss"     # the validation scalar measured


@dataclass(frozen=True)
class HeldOutDistance:
    """How far pieces sampled from a trained model lie from a held-out split, metric by
    metric (see :mod:`deepsym.metrics.distance`): both sets measured over their first
    ``seconds``."""

    run: str
    model: str
    step: int                # the checkpoint's training step
    split: str
    held_out_pieces: int
    pieces: int              # pieces sampled
    seconds: float           # the length of every sampled piece, and where held-out ones are cut
    seed: int
    distance: SetDistance
    #: metrics that raised or gave no number on some piece (NaN there): name -> why
    metric_failures: dict[str, str] = dataclasses.field(default_factory=dict)


#: what ``evaluate_run`` can measure; "auto": the loss when the model declares one
MEASURES = ("auto", "loss", "distance")
#: sampled pieces at most by default: enough for a mean and a histogram, quick to draw
MAX_PIECES = 32
#: default length cap in seconds: the per-piece metrics need a few phrases, not a whole
#: symphony, and sampling time grows with the length
MAX_SECONDS = 60.0


def evaluate_run(run: str | os.PathLike, corpus: str | os.PathLike | Corpus,
                 split: str | None = None, *, measure: str = "auto",
                 pieces: int | None = None, seconds: float | None = None, seed: int = 0,
                 device: str = "cpu") -> HeldOutLoss | HeldOutDistance:
    """The model of ``run`` against ``split`` of ``corpus`` (default: test, or valid when
    test is empty), by ``measure``: "loss" (:func:`held_out_loss`), "distance"
    (:func:`held_out_distance`; ``pieces``, ``seconds`` and ``seed`` are its), or "auto":
    the loss when the model's Trainer names a ``validation_target`` (a likelihood model,
    say Char-RNN), else the distance (a GAN, say C-RNN-GAN, whose validation values mean
    nothing as a loss)."""
    from deepsym.training.checkpoint import load_trained

    if measure not in MEASURES:
        raise DeepsymError(f"unknown measure {measure!r}; choose one of {', '.join(MEASURES)}")
    _check_sampling(pieces, seconds, seed)
    corpus = corpus if isinstance(corpus, Corpus) else Corpus.open(corpus)
    split, indices = _chosen_split(corpus, split)
    trained = load_trained(run, device)
    if measure == "auto":
        measure = "distance" if trained.spec.trainer_class().validation_target is None \
            else "loss"
    if measure == "loss":
        return _loss(trained, run, corpus, split, indices)
    return _distance(trained, run, corpus, split, indices, pieces, seconds, seed, device)


def held_out_loss(run: str | os.PathLike, corpus: str | os.PathLike | Corpus,
                  split: str | None = None, device: str = "cpu") -> HeldOutLoss:
    """The loss of the model of ``run`` (its best checkpoint, else its last) on ``split``
    of ``corpus`` (default: test, or valid when test is empty).

    Each piece is one batch: its whole encoding, as the model's own dataset and collate
    make it with crops longer than any piece, scored by its Trainer's ``validation``
    scalar named ``validation_target`` (a mean over the piece's real steps, weighted
    here by their number, ``batch["mask"]``'s count, or 1 for a batch without a mask:
    ``loss = sum over pieces of mean loss x steps / all steps``). A model without a
    ``validation_target`` has no loss to measure: DeepsymError (see
    :func:`held_out_distance`).
    """
    from deepsym.training.checkpoint import load_trained

    corpus = corpus if isinstance(corpus, Corpus) else Corpus.open(corpus)
    split, indices = _chosen_split(corpus, split)
    return _loss(load_trained(run, device), run, corpus, split, indices)


def held_out_distance(run: str | os.PathLike, corpus: str | os.PathLike | Corpus,
                      split: str | None = None, *, pieces: int | None = None,
                      seconds: float | None = None, seed: int = 0,
                      device: str = "cpu") -> HeldOutDistance:
    """The distance of pieces sampled from the model of ``run`` to ``split`` of ``corpus``
    (default: test, or valid when test is empty), for any model.

    ``pieces`` (default: as many as the split has, at most ``MAX_PIECES``) are drawn with
    ``seed`` by the run's own Sampler, each ``seconds`` long (default: the split's median
    duration, at most ``MAX_SECONDS``); every held-out piece is cut to the same
    ``seconds``, so both sets are measured over the same span. Every registered metric
    is measured on both, and :func:`deepsym.metrics.distance.set_distance` compares them:
    per metric the standardized mean difference ``|mean_gen - mean_held| / std_held``
    and the histogram non-overlap ``1 - OA`` (Yang & Lerch 2020), and their means over
    the metrics.
    """
    from deepsym.training.checkpoint import load_trained

    _check_sampling(pieces, seconds, seed)
    corpus = corpus if isinstance(corpus, Corpus) else Corpus.open(corpus)
    split, indices = _chosen_split(corpus, split)
    return _distance(load_trained(run, device), run, corpus, split, indices, pieces,
                     seconds, seed, device)


def _check_sampling(pieces: int | None, seconds: float | None, seed: int) -> None:
    """DeepsymError for a sampling option out of range, before anything is loaded."""
    from deepsym.training.options import check_seed

    check_seed(seed)
    if pieces is not None and pieces < 1:
        raise DeepsymError(f"pieces must be at least 1, not {pieces}")
    if seconds is not None and not (seconds > 0 and math.isfinite(seconds)):
        raise DeepsymError(f"a length in seconds must be positive and finite, not {seconds}")


def _chosen_split(corpus: Corpus, split: str | None) -> tuple[str, Sequence[int]]:
    """``split`` and its pieces (CorpusError when it is empty), or the held-out split."""
    if split is None:
        return _held_out(corpus)
    indices = corpus.split(split)
    if not len(indices):
        raise CorpusError(f"{corpus.path}: the {split} split is empty")
    return split, indices


def _loss(trained: Any, run: str | os.PathLike, corpus: Corpus, split: str,
          indices: Sequence[int]) -> HeldOutLoss:
    """``held_out_loss`` of a loaded model."""
    import torch

    from deepsym.sampling.run import trained_representation
    from deepsym.training.base import to_device

    trainer_class = trained.spec.trainer_class()
    target = trainer_class.validation_target
    if target is None:
        raise DeepsymError(f"model {trained.name!r} declares no validation loss (its "
                           "trainer's validation_target is None); measure its distance to "
                           "the held-out pieces instead")
    representation = trained_representation(trained.spec, trained.config)
    trainer = trainer_class(trained.model, trained.config, device=str(trained.device))
    whole = dataclasses.replace(trained.config, sequence_length=2**31 - 2) \
        if hasattr(trained.config, "sequence_length") else trained.config
    data, collate = trainer_class.dataset(whole, corpus, split, representation, 0)
    total, steps = 0.0, 0
    trainer.model.eval()
    with torch.no_grad():
        for k in range(len(data)):
            batch = to_device(collate([data[k]]), trainer.device)
            values = trainer.validation(batch) or {}
            if target not in values:
                raise DeepsymError(f"model {trained.name!r}: its validation gives no "
                                   f"{target!r} (it gives: {', '.join(values) or 'nothing'})")
            count = int(batch["mask"].sum()) if isinstance(batch, Mapping) and \
                "mask" in batch else 1
            total += float(values[target]) * count
            steps += count
    vocab = representation.spec.vocab_size
    return HeldOutLoss(str(run), trained.name, trained.step, split, len(indices), steps,
                       total / steps if steps else math.nan, vocab,
                       math.log(vocab) if vocab else None, target)


def _distance(trained: Any, run: str | os.PathLike, corpus: Corpus, split: str,
              indices: Sequence[int], pieces: int | None, seconds: float | None, seed: int,
              device: str) -> HeldOutDistance:
    """``held_out_distance`` of a loaded model (the sampler loads the run again)."""
    from deepsym.sampling.run import load_sampler

    count = min(len(indices), MAX_PIECES) if pieces is None else pieces
    if seconds is None:
        seconds = min(float(np.median([corpus.pieces[i].duration for i in indices])),
                      MAX_SECONDS)
        if not seconds > 0:
            raise CorpusError(f"{corpus.path}: the pieces of the {split} split last 0 "
                              "seconds (median); give the length to sample")
    # load_trained has already warned about an unreadable best checkpoint, if any
    sampler = load_sampler(run, seed=seed, device=device, warn=lambda _: None)
    failures: dict[str, str] = {}
    generated = [summarize(score, failures)
                 for score in sampler.pieces(count, seconds=seconds)]
    reference = [summarize(_first(corpus.score(i), seconds), failures) for i in indices]
    return HeldOutDistance(str(run), trained.name, trained.step, split, len(indices), count,
                           seconds, seed, set_distance(generated, reference), failures)


# -- the report ----------------------------------------------------------------------------

def metric_rows(evaluation: Evaluation) -> list[tuple[str, str, str]]:
    """(metric, generated "mean ± std", held-out "mean ± std") for every metric measured,
    in the registry's order."""
    return [(name, stat_text(stats), stat_text(evaluation.held_out[name]))
            for name, stats in evaluation.generated.items()]


def set_rows(evaluation: Evaluation) -> list[tuple[str, str, str]]:
    """(metric, generated value, held-out value) for every set-level metric."""
    def text(name: str, value: float) -> str:
        return f"{value:.0f}" if name == "distinct_pieces" else f"{value:.3f}"

    return [(name, text(name, g), text(name, h))
            for name, (g, h) in evaluation.set_metrics.items()]


def set_note(evaluation: Evaluation) -> str:
    """What the set-level metrics measure, against what, in a paragraph."""
    n = SET_ORDER
    return (f"Over each piece's pitch tokens (MIDI pitches in reading order; the held-out "
            f"pieces cut as above). bleu_{n}: corpus BLEU over n-grams of order 1 to {n} "
            f"(uniform weights; a zero precision smoothed by Chen & Cherry's method 1, "
            f"epsilon {SMOOTHING:g}) of the generated pieces against the held-out pieces as "
            f"references, and, as an anchor, of the held-out pieces each against the other "
            f"held-out pieces (as many references, less one); self_bleu_{n}: mean BLEU-{n} "
            f"of each piece against the rest of its set (Zhu et al. 2018; higher = less "
            f"diverse); repeated_{n}gram_share: share of a piece's {n}-grams that occur "
            "earlier in it, mean over the pieces; distinct_pieces: different pitch sequences. "
            "BLEU and self-BLEU grow with the number of references: compare sets of similar "
            "size.")


def markdown(evaluation: Evaluation, *, title: str = "Evaluation", intro: str = "",
             links: Mapping[str, Sequence[tuple[str, str]]] | None = None,
             base: str | os.PathLike | None = None) -> str:
    """The evaluation as a Markdown report: the metric table, then per generated piece its
    top plagiarism matches. ``links`` maps a piece's path to (label, target) pairs listed
    under its name (a target ending in .png is shown as a picture); targets and piece
    paths are written relative to ``base`` when given."""
    links = links or {}
    gen = f"generated ({len(evaluation.pieces)} pieces)"
    held = (f"held-out {evaluation.split} split ({evaluation.held_out_pieces} pieces"
            f"{held_out_cut(evaluation)})")
    lines = [f"# {title}", ""]
    if intro:
        lines += [intro, ""]
    lines += [f"Corpus: `{evaluation.corpus}`. Metrics: mean ± standard deviation over the "
              "pieces where each is defined (see `deepsym.metrics`).", "",
              f"| metric | {gen} | {held} |", "|---|---:|---:|"]
    lines += [f"| {name} | {g} | {h} |" for name, g, h in metric_rows(evaluation)]
    if evaluation.set_metrics:
        lines += ["", "## Set-level: BLEU and diversity", "", set_note(evaluation), "",
                  f"| metric | {gen} | {held} |", "|---|---:|---:|"]
        lines += [f"| {name} | {g} | {h} |" for name, g, h in set_rows(evaluation)]
    lines += ["", "## Originality", "",
              f"Each piece against the {evaluation.train_pieces} pieces of the train split: "
              "LCS = longest common subsequence of the note sequences (ratio: over the "
              "generated piece's notes); run = longest literally copied run of notes, with "
              "where it sits in both pieces (notes [start:end), m:ss.s). Search: "
              f"{plagiarism_note(evaluation)}.", ""]
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


def held_out_cut(evaluation: Evaluation) -> str:
    """How much of each held-out piece was measured, for a table heading."""
    return "" if evaluation.seconds is None else f", first {evaluation.seconds:g} s"


def stat_text(value: tuple[float, float, int]) -> str:
    """``mean ± std`` to three significant figures; "-" where undefined."""
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


__all__ = ["MEASURES", "Evaluation", "HeldOutDistance", "HeldOutLoss", "evaluate",
           "evaluate_run", "held_out_cut", "held_out_distance", "held_out_loss", "markdown",
           "metric_rows", "set_metrics", "set_note", "set_rows", "stat_text",
           "write_report"]
