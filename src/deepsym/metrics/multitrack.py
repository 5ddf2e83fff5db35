"""MuseGAN's metrics (Dong et al., AAAI 2018, tables 1 and 2) on bars arrays, per track.

The array functions take bars shaped like :func:`deepsym.representations.bars.to_bars`'s,
``(bars, tracks, steps, pitches)``, where a value above 0.5 is "on" and pitch index
``j`` is MIDI pitch ``lowest_pitch + j``; they return one value per track (or per pair
of tracks), NaN where undefined. Time runs bar after bar: a run of on-steps of one
pitch is one note, also across a bar line.

Where MuseGAN's own code (``salu133445/musegan``, ``v2/musegan/utils/metrics.py``)
differs: it measures each bar alone (a note tied over a bar line is two notes there),
counts a note qualified from 2 of 96 steps (the paper says 3), matches drums against a
tolerant 16th-note mask, computes the tonal distance per beat, and folds pitches into
chroma by ``reshape(..., 12, -1)``, which groups neighbouring pitches rather than
pitch classes. The definitions below are ours and say so.

:func:`used_pitch_classes_per_bar` is the score-level UPC (registered as
``used_pitch_classes``); the score-level EB, QN, DP and TD are
:func:`~deepsym.metrics.rhythm.empty_measure_rate`,
:func:`~deepsym.metrics.rhythm.qualified_note_rate`,
:func:`~deepsym.metrics.rhythm.drum_in_pattern_rate` and
:func:`~deepsym.metrics.tonal.tonal_distance`.
"""
from __future__ import annotations

import math

import numpy as np

from deepsym.errors import DeepsymError
from deepsym.metrics.notes import Music, bar_ticks, need_score, notes_of
from deepsym.metrics.tonal import tonal_matrix
from deepsym.representations.bars import THRESHOLD

PATTERNS = ("8", "16")


def empty_bar_rate(x: np.ndarray) -> np.ndarray:
    """EB: fraction of bars in which the track has no active step.

    ``EB_k = #{b : x[b, k] has no value > 0.5} / B``. Shape ``(tracks,)``; NaN without bars.
    """
    on = _on(x)
    if not on.shape[0]:
        return np.full(on.shape[1], math.nan)
    return 1.0 - on.any(axis=(2, 3)).mean(axis=0)


def used_pitch_classes(x: np.ndarray, lowest_pitch: int = 24) -> np.ndarray:
    """UPC: mean number of distinct pitch classes per non-empty bar of the track.

    ``UPC_k = sum_{b in N_k} |{(lowest_pitch + j) mod 12 : x[b, k, s, j] on for some s}|
    / |N_k|`` with ``N_k`` the bars where track ``k`` has an active step (a C and the C
    an octave up are one class). Shape ``(tracks,)``; NaN for a track with no active step.
    """
    classes = _chroma(_on(x).any(axis=2), lowest_pitch) > 0  # (bars, tracks, 12)
    counts = classes.sum(axis=2)
    sounding = classes.any(axis=2).sum(axis=0)
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.where(sounding > 0, counts.sum(axis=0) / sounding, math.nan)


def qualified_note_rate(x: np.ndarray, min_steps: int | None = None) -> np.ndarray:
    """QN: fraction of the track's notes that last at least ``min_steps`` steps.

    A note is a maximal run of consecutive on-steps of one pitch in one track, time
    running through the bars in order (a note tied over a bar line is one note: the
    paper does not say whether runs cross bar lines; MuseGAN's code cuts them).
    ``QN_k = #{notes of k with length >= min_steps} / #{notes of k}``. The paper's
    threshold is 3 steps of 96 per bar (a 32nd note); the default scales it to the grid,
    ``max(1, round(3 * steps_per_bar / 96))``: at 16 steps per bar that is 1 step, so on
    that grid every note qualifies. Shape ``(tracks,)``; NaN for a track without notes.
    """
    on = _on(x)
    if min_steps is None:
        min_steps = max(1, round(3 * on.shape[2] / 96))
    track, start, stop = _notes(on)
    tracks = on.shape[1]
    total = np.bincount(track, minlength=tracks)
    qualified = np.bincount(track[stop - start >= min_steps], minlength=tracks)
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.where(total > 0, qualified / total, math.nan)


def notes_per_bar(x: np.ndarray) -> np.ndarray:
    """Notes per bar of each track: ``#{notes of k} / B``, notes as in
    :func:`qualified_note_rate` (a note tied over a bar line counts once, in the bar it
    starts in). A voice cut into many short notes shows here before its density does.
    Shape ``(tracks,)``; NaN without bars."""
    on = _on(x)
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.bincount(_notes(on)[0], minlength=on.shape[1]) / np.float64(len(on))


def drum_pattern_rate(x: np.ndarray, track: int = 0, pattern: str = "16") -> float:
    """DP: fraction of a drum track's onsets on the 8-beat or 16-beat grid of the bar.

    An onset is the first step of a note (as in :func:`qualified_note_rate`); at step
    ``s`` of a bar of ``S`` steps it lies on the ``n``-beat grid (``n`` = 8 or 16, every
    ``S / n`` steps) when ``s n mod S = 0``. ``DP = #{onsets on the grid} / #{onsets}``.
    The paper's "ratio of notes in 8- or 16-beat patterns" is a pattern match with
    tolerance (MuseGAN's code scores onsets against a 16th-note mask that gives 0.1 to
    the steps beside the grid, at the best of six shifts); we count grid positions, as
    muspy's ``drum_in_pattern_rate`` does. The 8-beat grid lies within the 16-beat one.
    Slot 0 holds the drums in ``to_bars(rule="family")``. NaN without onsets.
    """
    if pattern not in PATTERNS:
        raise ValueError(f"unknown pattern {pattern!r}; choose from 8, 16")
    on = _on(x)
    bars, tracks, steps, pitches = on.shape
    if not -tracks <= track < tracks:
        raise DeepsymError(f"track {track} is not one of the {tracks} tracks")
    roll = on[:, track].reshape(bars * steps, pitches)
    onsets = roll & ~np.pad(roll, ((1, 0), (0, 0)))[:-1]
    per_step = onsets.sum(axis=1)
    total = per_step.sum()
    if not total:
        return math.nan
    on_grid = np.arange(bars * steps) % steps * int(pattern) % steps == 0
    return float(per_step[on_grid].sum() / total)


def tonal_distance_pairs(x: np.ndarray, lowest_pitch: int = 24,
                         window_steps: int | None = None) -> np.ndarray:
    """TD: mean distance between the tonal centroids of every two tracks, window by window.

    For each window ``w`` (a bar by default, else ``window_steps`` steps, which must
    divide the bar) and track, the chroma ``c_w`` counts the active steps of each pitch
    class; its tonal centroid is ``z_w = T c_w / |c_w|_1`` with ``T`` the 6 x 12
    :func:`~deepsym.metrics.tonal.tonal_matrix` (Harte et al. 2006).
    ``TD[a, b] = mean_w |z_w(a) - z_w(b)|_2`` over the windows where both tracks sound.
    MuseGAN's code uses beats (``window_steps = steps_per_bar / 4``), and a bar in which
    one track is silent for a beat drops out there. Shape ``(tracks, tracks)``,
    symmetric; NaN on the diagonal and where no window has both tracks sounding.
    """
    on = _on(x)
    bars, tracks, steps, pitches = on.shape
    size = steps if window_steps is None else int(window_steps)
    if size < 1 or steps % size:
        raise DeepsymError(f"window_steps must divide the bar's {steps} steps, "
                           f"not {window_steps}")
    windows = on.reshape(bars, tracks, steps // size, size, pitches).transpose(0, 2, 1, 3, 4)
    chroma = _chroma(windows.sum(axis=3).reshape(-1, tracks, pitches), lowest_pitch)
    with np.errstate(invalid="ignore", divide="ignore"):
        centroids = chroma @ tonal_matrix().T / chroma.sum(axis=2, keepdims=True)
    distances = np.linalg.norm(centroids[:, :, None] - centroids[:, None], axis=3)
    both = ~np.isnan(distances)
    counts = both.sum(axis=0)
    with np.errstate(invalid="ignore", divide="ignore"):
        out = np.where(counts > 0, np.where(both, distances, 0.0).sum(axis=0) / counts,
                       math.nan)
    np.fill_diagonal(out, math.nan)
    return out


def used_pitch_classes_per_bar(music: Music) -> float:
    """UPC of a score: mean number of pitch classes sounding per non-empty bar.

    Bars are ``bar_ticks`` long (one bar of the first time signature, 4/4 without one)
    from tick 0, as :func:`~deepsym.representations.bars.to_bars` cuts them. ``UPC =
    sum_b |{p_i mod 12 : note i of a pitched track overlaps bar b}| / #{such bars b}``;
    a zero-length note sounds in the bar it starts in; drum tracks are left out. NaN
    without pitched notes.
    """
    score = need_score(music, "used_pitch_classes_per_bar")
    notes = notes_of(score)
    if not len(notes):
        return math.nan
    size = bar_ticks(score)
    starts = notes["start"].astype(np.int64)
    first = starts // size
    spans = (starts + np.maximum(notes["duration"], 1) - 1) // size - first + 1
    note = np.repeat(np.arange(len(notes)), spans)
    bar = first[note] + np.arange(len(note)) - np.repeat(np.cumsum(spans) - spans, spans)
    keys = np.unique(bar * 12 + notes["pitch"][note].astype(np.int64) % 12)
    return float(len(keys) / len(np.unique(keys // 12)))


def _on(x: np.ndarray) -> np.ndarray:
    """The active steps of bars ``x`` as a bool array, after checking its shape."""
    x = np.asarray(x)
    if x.ndim != 4:
        raise DeepsymError(f"bars have shape (bars, tracks, steps, pitches), got {x.shape}")
    return x > THRESHOLD


def _notes(on: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """The notes of bars ``on``: each maximal run of active steps of one pitch in one
    track, time running through the bars; ``(track, first step, step after)``."""
    bars, tracks, steps, pitches = on.shape
    # (tracks, pitches, time), padded with silence: +1 where a run starts, -1 after it ends.
    rolls = on.transpose(1, 3, 0, 2).reshape(tracks, pitches, bars * steps)
    edges = np.diff(np.pad(rolls.astype(np.int8), ((0, 0), (0, 0), (1, 1))), axis=2)
    track, _, start = np.nonzero(edges > 0)
    stop = np.nonzero(edges < 0)[2]  # same (track, pitch, time) order: runs pair up
    return track, start, stop


def _chroma(counts: np.ndarray, lowest_pitch: int) -> np.ndarray:
    """``counts[..., j]`` of pitch ``lowest_pitch + j`` summed into 12 pitch classes."""
    fold = (lowest_pitch + np.arange(counts.shape[-1]))[:, None] % 12 == np.arange(12)
    return counts.astype(np.float64) @ fold
