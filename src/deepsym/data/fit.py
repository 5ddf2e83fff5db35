"""What a model measures on its corpus before it trains: the notated grid, condition
ranges, the voices' range and the moments of continuous features.

A model config may leave choices to the data (a config's ``for_corpus(corpus)``, see
``deepsym.modeling``): whether the music is notated and on which grid (so that a model
of chorales counts time in sixteenths, not in 10 ms steps), and the range of each
condition feature (so that onsets per beat sit beside shares in 0..1). Each function
reads at most ``SAMPLE`` pieces spread evenly over a split, so a Lakh-sized corpus costs
what a small one does.
"""
from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from deepsym.data.corpus import Corpus
from deepsym.representations.base import CONDITIONS, Representation
from deepsym.score import Score

SAMPLE = 500  # pieces read per measurement, evenly spaced over the split
GRIDS = (1, 2, 3, 4, 6, 8, 12, 16, 24)  # steps per beat tried, coarsest first
ON_GRID = 0.99  # share of onsets a grid must hold for the music to count as notated
TOLERANCE = 0.05  # how far from a grid line (in steps) an onset may lie and be on it
PERCENTILES = (5.0, 95.0)  # a feature's range: the middle 90% of the pieces' values


def sample_pieces(corpus: Corpus, split: str = "train", limit: int = SAMPLE) -> np.ndarray:
    """Up to ``limit`` piece indices of ``split``, evenly spaced (all when fewer)."""
    pieces = corpus.split(split)
    if len(pieces) <= limit:
        return pieces
    return pieces[np.linspace(0, len(pieces) - 1, limit).round().astype(np.int64)]


def notated_grid(corpus: Corpus, split: str = "train") -> int | None:
    """The coarsest grid of ``GRIDS`` (steps per beat) that at least ``ON_GRID`` of the
    split's non-drum onsets lie on (within ``TOLERANCE`` of a step): 4 for music written
    in sixteenths, 12 with triplets too; None for performed music, which no grid holds."""
    beats = []
    for i in sample_pieces(corpus, split):
        score = corpus.score(int(i))
        starts = [t.notes["start"] for t in score.tracks if not t.is_drum and len(t.notes)]
        if starts:
            beats.append(score.to_beats(np.concatenate(starts).astype(np.int64)))
    if not beats:
        return None
    onsets = np.concatenate(beats)
    return next((grid for grid in GRIDS if grid_share(onsets, grid) >= ON_GRID), None)


def grid_share(beats: np.ndarray, steps_per_beat: int, tolerance: float = TOLERANCE) -> float:
    """The share of onsets (in beats) within ``tolerance`` steps of a grid line of
    ``steps_per_beat`` steps per beat (1.0 for none)."""
    steps = np.asarray(beats, np.float64) * steps_per_beat
    return float(np.mean(np.abs(steps - np.round(steps)) <= tolerance)) if len(steps) else 1.0


def onsets_on_grid(score: Score, steps_per_beat: int) -> float:
    """The share of ``score``'s notes (every track) that start on a grid of
    ``steps_per_beat`` steps per beat (``grid_share``)."""
    starts = np.concatenate([t.notes["start"] for t in score.tracks]).astype(np.int64) \
        if score.tracks else np.empty(0, np.int64)
    return grid_share(score.to_beats(starts), steps_per_beat)


def condition_ranges(corpus: Corpus, names: Sequence[str], split: str = "train"
                     ) -> tuple[tuple[str, float, float], ...]:
    """``(name, low, high)`` for each one-value feature of ``names`` (mean pitch,
    density): the ``PERCENTILES`` of its values over the split's pieces as they are
    (untransposed). A feature whose pieces all agree gets no range."""
    scalar = [name for name in names if CONDITIONS[name][1] == 1]
    if not scalar:
        return ()
    scores = [corpus.score(int(i)) for i in sample_pieces(corpus, split)]
    ranges = []
    for name in scalar:
        values = np.array([CONDITIONS[name][0](score)[0] for score in scores], np.float64)
        if not len(values):
            continue
        low, high = np.percentile(values, PERCENTILES)
        if high > low:
            ranges.append((name, round(float(low), 6), round(float(high), 6)))
    return tuple(ranges)


def voice_range(corpus: Corpus, pieces: np.ndarray) -> tuple[int, int]:
    """The lowest and highest pitch of the non-drum notes of ``pieces``; (0, 127) when
    they have none. Reads the pitch column of the corpus once."""
    tracks = corpus.track_table
    chosen = np.isin(tracks["piece"], pieces) & ~tracks["is_drum"] & (tracks["note_count"] > 0)
    if not chosen.any():
        return 0, 127
    begin = tracks["note_begin"][chosen].astype(np.int64)
    bounds = np.ravel(np.column_stack([begin, begin + tracks["note_count"][chosen]]))
    pitch = np.append(np.asarray(corpus.note_array["pitch"]), 0)  # an end may be the last
    low = np.minimum.reduceat(pitch, bounds)[::2].min()
    high = np.maximum.reduceat(pitch, bounds)[::2].max()
    return int(low), int(high)


def feature_moments(corpus: Corpus, representation: Representation, split: str = "train"
                    ) -> tuple[tuple[float, ...], tuple[float, ...]]:
    """The mean and standard deviation of each feature (last axis) of a continuous
    representation's encodings over the split's steps, so a model can work in
    standardized units (``(x - mean) / std``). A feature that never varies gets a
    standard deviation of 1; a split without steps gives means 0 and deviations 1."""
    rows = [np.asarray(representation.encode(corpus.score(int(i))), np.float64)
            for i in sample_pieces(corpus, split)]
    rows = [row.reshape(len(row), -1) for row in rows if len(row)]
    if not rows:
        width = int(np.prod(representation.spec.feature_shape))
        return (0.0,) * width, (1.0,) * width
    values = np.concatenate(rows)
    std = values.std(axis=0)
    std[std <= 1e-8] = 1.0
    return (tuple(round(float(v), 6) for v in values.mean(axis=0)),
            tuple(round(float(v), 6) for v in std))


__all__ = ["GRIDS", "SAMPLE", "condition_ranges", "feature_moments", "notated_grid",
           "sample_pieces", "voice_range"]
