"""Tonal distance between tracks: how far apart their harmonies sit, beat by beat."""
from __future__ import annotations

import itertools
import math

import numpy as np

from deepsym.errors import DeepsymError
from deepsym.metrics.notes import Music, bar_ticks, ends, length, need_score
from deepsym.score import Score

#: Radii of the circles of fifths, minor thirds and major thirds (Harte et al. 2006).
RADII = (1.0, 1.0, 0.5)


def tonal_matrix(radii: tuple[float, float, float] = RADII) -> np.ndarray:
    """The 6 x 12 matrix taking a chroma vector to Harte's tonal centroid space."""
    c = np.arange(12)
    rows = []
    for radius, angle in zip(radii, (7 * np.pi / 6, 3 * np.pi / 2, 2 * np.pi / 3), strict=True):
        rows += [radius * np.sin(c * angle), radius * np.cos(c * angle)]
    return np.array(rows)


def tonal_distance(music: Music, tracks: tuple[int, int] | None = None, *,
                   window: str = "beat") -> float:
    """Mean distance between two tracks' tonal centroids (Harte et al. 2006, as MuseGAN).

    For each window ``w`` (a beat, or a bar of the first time signature) and track,
    the chroma ``c_w`` holds how many ticks each pitch class sounds in the window;
    its tonal centroid is ``z_w = T c_w / |c_w|_1`` with ``T`` the 6 x 12
    :func:`tonal_matrix`. The distance is ``mean_w |z_w(a) - z_w(b)|_2`` over the
    windows where both tracks sound. ``tracks`` names two track indices; ``None``
    averages over every pair of pitched tracks. NaN when no window has both sounding.
    """
    score = need_score(music, "tonal_distance")
    size = {"beat": score.ticks_per_beat, "bar": bar_ticks(score)}.get(window)
    if size is None:
        raise ValueError(f"unknown window {window!r}; choose from beat, bar")
    pairs = _pairs(score, tracks)
    n_windows = -(-length(score) // size)
    centroids = {i: _centroids(score.tracks[i].notes, size, n_windows)
                 for i in {i for pair in pairs for i in pair}}
    distances = []
    for a, b in pairs:
        both = ~np.isnan(centroids[a][:, 0]) & ~np.isnan(centroids[b][:, 0])
        if both.any():
            distances.append(np.linalg.norm(centroids[a][both] - centroids[b][both], axis=1))
    return float(np.concatenate(distances).mean()) if distances else math.nan


def _pairs(score: Score, tracks: tuple[int, int] | None) -> list[tuple[int, int]]:
    if tracks is None:
        pitched = [i for i, t in enumerate(score.tracks) if not t.is_drum and len(t.notes)]
        return list(itertools.combinations(pitched, 2))
    if len(tracks) != 2 or not all(-len(score.tracks) <= i < len(score.tracks) for i in tracks):
        raise DeepsymError(f"tracks must be two indices among the score's "
                           f"{len(score.tracks)} tracks, not {tracks!r}")
    drums = [i for i in tracks if score.tracks[i].is_drum]
    if drums:
        raise DeepsymError(f"track {drums[0]} is a drum track and has no pitches")
    return [tuple(i % len(score.tracks) for i in tracks)]  # type: ignore[list-item]


def _centroids(notes: np.ndarray, size: int, n_windows: int) -> np.ndarray:
    """Tonal centroids per window (n_windows x 6); NaN rows where the track is silent."""
    notes = notes[notes["duration"] > 0]
    starts, stops = notes["start"].astype(np.int64), ends(notes)
    first, last = starts // size, (stops - 1) // size
    spans = last - first + 1
    note = np.repeat(np.arange(len(notes)), spans)
    window = first[note] + np.arange(len(note)) - np.repeat(np.cumsum(spans) - spans, spans)
    overlap = np.minimum(stops[note], (window + 1) * size) - np.maximum(starts[note],
                                                                        window * size)
    chroma = np.bincount(window * 12 + notes["pitch"][note] % 12, weights=overlap,
                         minlength=n_windows * 12).reshape(n_windows, 12)
    with np.errstate(invalid="ignore", divide="ignore"):
        chroma = chroma / chroma.sum(axis=1, keepdims=True)
    return chroma @ tonal_matrix().T
