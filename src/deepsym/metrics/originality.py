"""Plagiarism report: what a generated piece shares with each training piece, and where.

Notes become sequences (:func:`note_sequence`): the notes of all non-drum tracks,
merged and read in order of onset; onsets less than ``CHORD_TOLERANCE`` (20 ms) apart,
chained, count as one chord, read from the lowest pitch up. Each note is its MIDI
pitch; its times are its onset and end in seconds, through the tempo map.

For each training piece, with G the generated sequence and T the piece's:

- ``lcs_length`` = LCS(G, T) (notes in order, gaps allowed), ``lcs_ratio`` = lcs / |G|;
- the longest copied run: the longest common substring of G and T (consecutive notes,
  equal pitches), its length in notes, its duration in the generated piece and its
  span in both pieces.

``transpose=True`` finds copies moved to another key: the LCS is maximised over shifts
of the pitches and runs compare intervals between consecutive notes. ``tolerance``
(seconds) makes runs keep their rhythm: inter-onset intervals agree within it. Matches
are ranked by run length, then LCS ratio, then corpus order.

Speed: the ``lcs`` kernel checks pieces in batches, without the GIL, on ``workers``
threads. With ``top`` a piece is skipped once an upper bound of its run falls below
the top-th best run found so far (run <= LCS <= sum over pitches of the smaller count;
pieces are visited in order of that bound).

At corpus scale a deepsym corpus's n-gram index (:mod:`deepsym.data.ngrams`) chooses
the pieces to check: only those holding a stretch of the generated piece's n-grams
can share a run of n notes, and ``stretch + n - 1`` bounds their run, so they are
verified in order of that bound until none can reach the top-th run found. The
report then holds exactly the exhaustive scan's matches with runs of n+ notes.
"""
from __future__ import annotations

import os
import warnings
from collections.abc import Callable, Iterable, Iterator, Mapping
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from deepsym.errors import CorpusError, MidiError, MidiWarning, PlagiarismError
from deepsym.lcs import as_sequence, kernel, transposed_lcs_length
from deepsym.metrics.reading import CHORD_TOLERANCE, reading_order  # noqa: F401 - public here
from deepsym.midi import read_midi
from deepsym.score import NOTE_DTYPE, Score, Track

BATCH = 2048            # pieces per batch between updates of the skipping threshold

Sequence3 = tuple[np.ndarray, np.ndarray, np.ndarray]

__all__ = ["Match", "PlagiarismError", "PlagiarismReport", "Span", "note_sequence",
           "plagiarism"]


@dataclass(frozen=True)
class Span:
    """A stretch of one piece's note sequence: notes [start_note, end_note) and its times."""

    start_note: int
    end_note: int          # exclusive
    start_seconds: float
    end_seconds: float     # onset of the last note + its duration


@dataclass(frozen=True)
class Match:
    piece: str             # the training piece's name (path or Score name)
    lcs_length: int        # LCS of the two note sequences
    lcs_ratio: float       # lcs_length / len(generated sequence)  (0.0 for empty)
    run_notes: int         # longest literal copied run (longest common substring), in notes
    run_seconds: float     # its duration in the generated piece
    generated_span: Span   # where that run sits in the generated piece
    training_span: Span    # and in the training piece


@dataclass(frozen=True)
class PlagiarismReport:
    generated: str
    notes: int             # length of the generated note sequence
    matches: list[Match]   # ranked: longest copied run first, then lcs_ratio
    method: str = "exhaustive"   # or "index": through the corpus's n-gram index
    min_run: int = 0       # index: n; exactly the matches with run_notes >= n are ranked
    fallback: str | None = None  # why an index could not be used (the scan was exhaustive)


def note_sequence(score_or_track: Score | Track) -> Sequence3:
    """(pitches int64, onsets in seconds float64, ends in seconds float64) in reading order.

    A bare Track is timed as in a default Score (480 ticks per beat, 120 qpm).
    """
    if isinstance(score_or_track, Track):
        score_or_track = Score(tracks=[score_or_track])
    if not isinstance(score_or_track, Score):
        raise PlagiarismError(f"need a Score or Track, not {type(score_or_track).__name__}")
    score = score_or_track
    parts = [t.notes for t in score.tracks if not t.is_drum]
    notes = np.concatenate(parts) if parts else np.empty(0, dtype=NOTE_DTYPE)
    start = notes["start"].astype(np.int64)
    onsets = np.asarray(score.to_seconds(start), dtype=np.float64)
    ends = np.asarray(score.to_seconds(start + notes["duration"]), dtype=np.float64)
    order = reading_order(onsets, notes["pitch"])
    return notes["pitch"][order].astype(np.int64), onsets[order], ends[order]


# -- inputs -------------------------------------------------------------------------------

def _sequence_of(item: Any, name: str) -> Sequence3:
    """The note sequence of a MIDI path, Score, Track or (pitches, onsets, ends) arrays."""
    if isinstance(item, (str, os.PathLike)):
        return note_sequence(read_midi(item, name=name))
    if isinstance(item, (Score, Track)):
        return note_sequence(item)
    if isinstance(item, tuple) and len(item) == 3:
        pitches = as_sequence(item[0], f"{name}: pitches")
        times = [np.asarray(x, dtype=np.float64) for x in item[1:]]
        if any(t.shape != pitches.shape for t in times):
            raise PlagiarismError(f"{name}: pitches, onsets and ends differ in shape")
        return pitches, times[0], times[1]
    raise PlagiarismError(f"{name}: not a MIDI path, Score, Track or (pitches, onsets, ends) "
                          f"arrays but {type(item).__name__}")


def _items(corpus: Any) -> Iterator[tuple[str, Any]]:
    """(name, item) for each training piece of a corpus given in any accepted form."""
    from deepsym.data import Corpus, find_midi_files
    from deepsym.data.corpus import CURRENT

    if isinstance(corpus, (str, os.PathLike)):
        path = Path(corpus)
        if (path / CURRENT).is_file():
            corpus = Corpus.open(path)
        else:
            yield from ((str(p), p) for p in find_midi_files([path]))
            return
    if isinstance(corpus, Corpus):
        yield from ((corpus.pieces[i].path, corpus.score(i)) for i in corpus.split("train"))
    elif isinstance(corpus, Mapping):
        yield from ((str(name), item) for name, item in corpus.items())
    elif isinstance(corpus, Iterable):
        for k, item in enumerate(corpus):
            yield (str(item), item) if isinstance(item, (str, os.PathLike)) \
                else (f"piece {k}", item)
    else:
        raise CorpusError(f"not a corpus: {type(corpus).__name__} (give a folder, a deepsym "
                          "corpus, paths, Scores or a mapping of names to them)")


@dataclass
class _Pieces:
    """All training sequences laid end to end; piece p is [starts[p], stops[p])."""

    names: list[str]
    pitches: np.ndarray
    onsets: np.ndarray
    ends: np.ndarray
    starts: np.ndarray
    stops: np.ndarray


def _load(corpus: Any, workers: int) -> _Pieces:
    def load(entry: tuple[str, Any]) -> tuple[str, Sequence3 | None]:
        name, item = entry
        try:
            return name, _sequence_of(item, name)
        except MidiError as exc:
            warnings.warn(f"skipped {name}: {exc}", MidiWarning, stacklevel=1)
            return name, None

    with ThreadPoolExecutor(workers) as pool:
        loaded = [(name, seq) for name, seq in pool.map(load, _items(corpus)) if seq]
    if not loaded:
        raise CorpusError("the corpus holds no readable pieces")
    lengths = np.array([len(seq[0]) for _, seq in loaded], dtype=np.int64)
    stops = np.cumsum(lengths)
    columns = [np.concatenate([seq[k] for _, seq in loaded]) for k in range(3)]
    return _Pieces([name for name, _ in loaded], np.ascontiguousarray(columns[0]),
                   *map(np.ascontiguousarray, columns[1:]), stops - lengths, stops)


# -- the scan -----------------------------------------------------------------------------

def _in_parallel(work: Callable[[np.ndarray], np.ndarray], chosen: np.ndarray,
                 pieces: _Pieces, pool: ThreadPoolExecutor, workers: int) -> np.ndarray:
    """``work`` on parts of ``chosen`` holding about equal numbers of notes, concatenated."""
    notes = np.cumsum(pieces.stops[chosen] - pieces.starts[chosen])
    cuts = np.searchsorted(notes, notes[-1] * np.arange(1, workers) / workers) \
        if len(chosen) else []
    return np.concatenate(list(pool.map(work, np.split(chosen, cuts))))


def _bounds(gen: np.ndarray, pieces: _Pieces, transpose: bool) -> np.ndarray:
    """Per piece an upper bound of its LCS (and so of its run)."""
    lengths = pieces.stops - pieces.starts
    if transpose or not len(gen):
        return np.minimum(lengths, len(gen))
    symbols, gen_counts = np.unique(gen, return_counts=True)
    code = np.minimum(np.searchsorted(symbols, pieces.pitches), len(symbols) - 1)
    shared = symbols[code] == pieces.pitches
    piece_of = np.repeat(np.arange(len(lengths)), lengths)
    counts = np.bincount(piece_of[shared] * len(symbols) + code[shared],
                         minlength=len(lengths) * len(symbols))
    return np.minimum(counts.reshape(len(lengths), -1), gen_counts).sum(axis=1)


def _scan(gen: Sequence3, pieces: _Pieces, top: int | None, transpose: bool,
          tolerance: float | None, workers: int,
          threshold: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """LCS lengths and runs (length, start in gen, start in piece); -1 where skipped
    (a piece whose run cannot reach ``threshold`` or, with ``top``, the top-th run)."""
    pitches, onsets = gen[0], gen[1]
    timed = (onsets, pieces.onsets, tolerance) if tolerance is not None else (None, None, 0.0)

    def lcs_of(chosen: np.ndarray) -> np.ndarray:
        if transpose:
            return np.array([transposed_lcs_length(
                pitches, pieces.pitches[pieces.starts[p]:pieces.stops[p]])[0] for p in chosen],
                dtype=np.int64)
        return kernel.lcs_lengths(pitches, pieces.pitches, pieces.starts[chosen],
                                  pieces.stops[chosen])

    def runs_of(chosen: np.ndarray) -> np.ndarray:
        return kernel.common_runs(pitches, pieces.pitches, pieces.starts[chosen],
                                  pieces.stops[chosen], transpose, *timed)

    count = len(pieces.names)
    lcs = np.full(count, -1, dtype=np.int64)
    runs = np.full((count, 3), -1, dtype=np.int64)
    bound = _bounds(pitches, pieces, transpose)
    order = np.argsort(-bound, kind="stable")
    with ThreadPoolExecutor(workers) as pool:
        for first in range(0, count, BATCH):
            chosen = order[first:first + BATCH]
            chosen = chosen[bound[chosen] >= threshold]
            if not len(chosen):
                break
            lcs[chosen] = _in_parallel(lcs_of, chosen, pieces, pool, workers)
            chosen = chosen[lcs[chosen] >= threshold]
            runs[chosen] = _in_parallel(runs_of, chosen, pieces, pool, workers).reshape(-1, 3)
            found = runs[:, 0][runs[:, 0] >= 0]
            if top is not None and len(found) >= top:
                threshold = max(threshold, int(np.partition(found, -top)[-top]))
    return lcs, runs


def _span(onsets: np.ndarray, ends: np.ndarray, start: int, length: int) -> Span:
    if length == 0:
        return Span(0, 0, 0.0, 0.0)
    return Span(start, start + length, float(onsets[start]), float(ends[start + length - 1]))


def plagiarism(generated: Score | Track | str | os.PathLike, corpus: Any, *,
               top: int | None = 10, transpose: bool = False, tolerance: float | None = None,
               workers: int | None = None, index: bool | None = None) -> PlagiarismReport:
    """Check a generated piece against every training piece; the ``top`` matches, ranked.

    ``generated``: a Score, Track or MIDI path. ``corpus``: a folder of MIDI files
    (searched recursively; unreadable files are skipped with a MidiWarning), a deepsym
    corpus folder or :class:`~deepsym.data.Corpus` (its train split), an iterable of
    paths, Scores or (pitches, onsets, ends) arrays, or a mapping of names to them.
    ``top=None`` reports every piece. ``transpose``, ``tolerance``: see the module.

    ``index``: None (default) searches through the corpus's n-gram index when it has one
    (``report.method == "index"``), else scans every piece (``report.fallback`` says
    why); True requires the index; False always scans. Through the index the report
    holds exactly the matches of the exhaustive scan whose run has at least n notes
    (``report.min_run``; n = 8 by default), same order, same numbers; pieces sharing
    no run of n notes are not reported.
    """
    if top is not None and top < 1:
        raise PlagiarismError(f"top must be at least 1 (or None for all), not {top}")
    if tolerance is not None and not (np.isfinite(tolerance) and tolerance >= 0):
        raise PlagiarismError(f"tolerance must be a number of seconds >= 0, not {tolerance!r}")
    workers = workers or os.cpu_count() or 1
    name = os.fspath(generated) if isinstance(generated, (str, os.PathLike)) else "<score>"
    gen = _sequence_of(generated, name)
    indexed, fallback = through_index(corpus, index)
    if indexed is not None:
        opened, ngram = indexed
        pieces, lcs, runs = _search(gen, opened, ngram, top, transpose, tolerance, workers)
        return PlagiarismReport(name, len(gen[0]), _ranked(gen, pieces, lcs, runs, top),
                                "index", ngram.n)
    pieces = _load(corpus, workers)
    lcs, runs = _scan(gen, pieces, top, transpose, tolerance, workers)
    return PlagiarismReport(name, len(gen[0]), _ranked(gen, pieces, lcs, runs, top),
                            fallback=fallback)


def _ranked(gen: Sequence3, pieces: _Pieces, lcs: np.ndarray, runs: np.ndarray,
            top: int | None) -> list[Match]:
    """The pieces scanned (run >= 0), ranked by run, LCS and order: the first ``top``."""
    done = np.flatnonzero(runs[:, 0] >= 0)
    ranked = done[np.lexsort((done, -lcs[done], -runs[done, 0]))][:top]
    matches = []
    for p in ranked:
        length, i, j = (int(x) for x in runs[p])
        s, e = pieces.starts[p], pieces.stops[p]
        gen_span = _span(gen[1], gen[2], i, length)
        matches.append(Match(
            piece=pieces.names[p], lcs_length=int(lcs[p]),
            lcs_ratio=float(lcs[p] / len(gen[0])) if len(gen[0]) else 0.0,
            run_notes=length, run_seconds=gen_span.end_seconds - gen_span.start_seconds,
            generated_span=gen_span,
            training_span=_span(pieces.onsets[s:e], pieces.ends[s:e], j, length)))
    return matches


# -- through the n-gram index ------------------------------------------------------------

def through_index(corpus: Any, index: bool | None
                  ) -> tuple[tuple[Any, Any] | None, str | None]:
    """(the opened corpus, its NgramIndex) to search through, or None and why not (None
    too when ``index`` is False); CorpusError when ``index`` is True and there is none."""
    from deepsym.data import Corpus
    from deepsym.data.corpus import CURRENT

    if index is False:
        return None, None
    if isinstance(corpus, (str, os.PathLike)) and (Path(corpus) / CURRENT).is_file():
        corpus = Corpus.open(corpus)
    if isinstance(corpus, Corpus):
        ngram = corpus.ngrams
        if ngram is not None:
            return (corpus, ngram), None
        why = (f"{corpus.path}: the corpus has no n-gram index (built by an older deepsym; "
               "`deepsym corpus build` again adds one)")
    elif isinstance(corpus, (str, os.PathLike)):
        why = f"{os.fspath(corpus)}: a folder of MIDI files has no n-gram index"
    else:
        why = "pieces given in memory have no n-gram index"
    if index:
        raise CorpusError(f"{why}; build a corpus with `deepsym corpus build`")
    return None, why


def _search(gen: Sequence3, corpus: Any, ngram: Any, top: int | None, transpose: bool,
            tolerance: float | None, workers: int) -> tuple[_Pieces, np.ndarray, np.ndarray]:
    """The train pieces with a run of at least n notes, verified by the exact scan.

    Candidates are the pieces holding a stretch of the generated piece's n-grams, taken
    in order of their bound (stretch + n - 1 >= run) and verified batch by batch until
    no bound reaches the ``top``-th run found. Returns them in corpus order.
    """
    from deepsym.metrics.reading import corpus_sequences

    stretch = ngram.stretches(gen[0], transpose)
    train = corpus.split("train")
    candidates = train[stretch[train] > 0]
    bound = stretch[candidates].astype(np.int64) + ngram.n - 1
    order = np.argsort(-bound, kind="stable")
    candidates, bound = candidates[order], bound[order]
    threshold, kept, found = ngram.n, [], np.zeros(0, dtype=np.int64)
    for first in range(0, len(candidates), BATCH):
        batch = candidates[first:first + BATCH][bound[first:first + BATCH] >= threshold]
        if not len(batch):
            break
        seq = corpus_sequences(corpus, batch)
        pieces = _Pieces([corpus.pieces[p].path for p in batch], *seq)
        lcs, runs = _scan(gen, pieces, top, transpose, tolerance, workers, threshold)
        good = np.flatnonzero(runs[:, 0] >= ngram.n)
        kept += [(int(batch[k]), pieces, k, int(lcs[k]), runs[k]) for k in good]
        found = np.concatenate([found, runs[good, 0]])
        if top is not None and len(found) >= top:
            threshold = max(threshold, int(np.partition(found, -top)[-top]))
    kept.sort(key=lambda row: row[0])
    return _gathered([(pieces, k) for _, pieces, k, _, _ in kept]), \
        np.array([row[3] for row in kept], dtype=np.int64), \
        np.array([row[4] for row in kept], dtype=np.int64).reshape(-1, 3)


def _gathered(rows: list[tuple[_Pieces, int]]) -> _Pieces:
    """Piece k of each batch, laid end to end in a new _Pieces."""
    parts = [(p.names[k], slice(p.starts[k], p.stops[k]), p) for p, k in rows]
    lengths = np.array([s.stop - s.start for _, s, _ in parts], dtype=np.int64)
    stops = np.cumsum(lengths)
    columns = [np.concatenate([getattr(p, c)[s] for _, s, p in parts]) if parts
               else np.zeros(0, dtype=np.int64 if c == "pitches" else np.float64)
               for c in ("pitches", "onsets", "ends")]
    return _Pieces([name for name, _, _ in parts], *columns, stops - lengths, stops)
