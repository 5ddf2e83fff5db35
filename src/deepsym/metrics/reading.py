"""Note sequences of many corpus pieces at once, read exactly as ``note_sequence`` reads one.

The plagiarism scan and the n-gram index both need, per piece, the notes of its
non-drum tracks in reading order (by onset in seconds; onsets less than
``CHORD_TOLERANCE`` apart, chained, form a chord read from the lowest pitch up). Going
through :meth:`Corpus.score` piece by piece costs a Score per piece; here the
corpus's memory-mapped arrays are gathered and ordered for a whole set of pieces in a
few numpy operations. The arithmetic is the Score's own (same operations in the same
order), so the pitches and times are bit for bit those of
``note_sequence(corpus.score(i))``; only pieces whose tempo map has more than one
segment are timed piece by piece, through a Score.
"""
from __future__ import annotations

from typing import TYPE_CHECKING, NamedTuple

import numpy as np

from deepsym.score import DEFAULT_QPM, SMPTE_FPS, Score

if TYPE_CHECKING:
    from deepsym.data.corpus import Corpus

CHORD_TOLERANCE = 0.02  # seconds: onsets closer than this (chained) form one chord


class Sequences(NamedTuple):
    """Pieces' note sequences laid end to end; piece k is rows [starts[k], stops[k])."""

    pitches: np.ndarray   # int64
    onsets: np.ndarray    # float64 seconds
    ends: np.ndarray      # float64 seconds: onset + duration through the tempo map
    starts: np.ndarray    # int64
    stops: np.ndarray     # int64


def reading_order(onsets: np.ndarray, pitches: np.ndarray,
                  owner: np.ndarray | None = None) -> np.ndarray:
    """The order that reads notes by onset, chords from the lowest pitch up.

    ``owner`` (non-decreasing piece numbers, one per note) reads several pieces at
    once: a chord never spans two pieces and each piece keeps its place.
    """
    order = np.argsort(onsets, kind="stable") if owner is None \
        else np.lexsort((onsets, owner))
    sorted_onsets = onsets[order]
    new_chord = np.diff(sorted_onsets, prepend=sorted_onsets[:1]) >= CHORD_TOLERANCE
    if owner is not None and len(order):
        new_chord[1:] |= owner[order][1:] != owner[order][:-1]
    return order[np.lexsort((pitches[order], np.cumsum(new_chord)))]


def spans(begins: np.ndarray, counts: np.ndarray) -> np.ndarray:
    """The rows [begins[k], begins[k] + counts[k]) of every k, concatenated (int64)."""
    counts = np.asarray(counts, dtype=np.int64)
    total = int(counts.sum())
    firsts = np.cumsum(counts) - counts
    return np.repeat(np.asarray(begins, dtype=np.int64) - firsts, counts) + np.arange(total)


def corpus_sequences(corpus: Corpus, pieces: np.ndarray) -> Sequences:
    """The note sequences of the corpus's ``pieces`` (indices), in that order."""
    pieces = np.asarray(pieces, dtype=np.int64)
    rows = corpus.piece_table[pieces]
    tracks = corpus.track_table[spans(rows["track_begin"], rows["track_count"])]
    owner_of_track = np.repeat(np.arange(len(pieces)), rows["track_count"])
    melodic = ~tracks["is_drum"]
    tracks, owner_of_track = tracks[melodic], owner_of_track[melodic]
    notes = corpus.note_array[spans(tracks["note_begin"], tracks["note_count"])]
    owner = np.repeat(owner_of_track, tracks["note_count"])
    start = notes["start"].astype(np.int64)
    onsets = _seconds(corpus, pieces, owner, start)
    ends = _seconds(corpus, pieces, owner, start + notes["duration"])
    order = reading_order(onsets, notes["pitch"], owner)
    lengths = np.bincount(owner, minlength=len(pieces)).astype(np.int64)
    stops = np.cumsum(lengths)
    return Sequences(notes["pitch"][order].astype(np.int64), onsets[order], ends[order],
                     stops - lengths, stops)


def _seconds(corpus: Corpus, pieces: np.ndarray, owner: np.ndarray,
             ticks: np.ndarray) -> np.ndarray:
    """``Score.to_seconds`` of each note's piece: vectorized for pieces timed in SMPTE
    frames or by one tempo, a Score per piece for the others."""
    ticks = ticks.astype(np.float64)
    rows = corpus.piece_table[pieces]
    count, begin = rows["tempos_count"], rows["tempos_begin"]
    tempos = corpus._events["tempos"]
    last = tempos[np.maximum(begin + count - 1, 0)] if len(tempos) else None
    meta = [corpus.pieces[int(p)] for p in pieces]
    ticks_per_beat = np.array([m.ticks_per_beat for m in meta], dtype=np.int64)
    smpte = np.array([m.smpte is not None for m in meta], dtype=bool)
    # one segment: no tempo event, or all at tick 0 (the last one wins)
    single = (count == 0) | ((last["tick"] == 0) if last is not None else True)
    qpm = np.where(count == 0, DEFAULT_QPM, last["qpm"] if last is not None else DEFAULT_QPM)
    per_tick = 60.0 / (qpm * ticks_per_beat)
    ticks_per_second = np.array([SMPTE_FPS.get(m.smpte[0], float(m.smpte[0])) * m.smpte[1]
                                 if m.smpte is not None else 1.0 for m in meta])
    out = np.where(smpte[owner], ticks / ticks_per_second[owner], ticks * per_tick[owner])
    for k in np.flatnonzero(~single & ~smpte):
        first, stop = np.searchsorted(owner, [k, k + 1])  # owner is non-decreasing
        score = Score(ticks_per_beat=int(ticks_per_beat[k]),
                      tempos=np.array(tempos[begin[k]:begin[k] + count[k]]))
        out[first:stop] = score.to_seconds(ticks[first:stop])
    return out
