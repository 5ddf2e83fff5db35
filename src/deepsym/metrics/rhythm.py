"""Metrics over time: how many pitches sound together, empty beats and bars, groove.

Times are ticks; a note sounds during ``[start, start + duration)``; ``L`` is the length
of the piece (the end of its last note, any track, a zero-length note counting one tick).
Polyphony and note lengths look at pitched tracks only; empty beats, empty bars and
groove look at every track, drums included (as muspy does).

Differences from muspy, on purpose: muspy treats a note's end tick as sounding
(``range(start, end + 1)``) and counts ``L // unit + 1`` beats or bars, so a one-beat
note fills two beats and a piece ending on a barline gains an empty bar; here intervals
are half-open and there are ``ceil(L / unit)`` units. (Shortening every note by one
tick in muspy gives the same values; the tests check exactly that.)
"""
from __future__ import annotations

import math

import numpy as np

from deepsym.metrics.notes import (
    Music,
    bar_lines,
    bar_ticks,
    length,
    need_score,
    notes_of,
    sounding_profile,
)
from deepsym.score import Score


def polyphony(music: Music) -> float:
    """Average number of distinct pitches sounding, over the ticks where any sounds.

    ``sum_t n(t) / #{t : n(t) > 0}`` with ``n(t)`` the number of distinct pitches
    sounding at tick ``t`` (muspy's ``polyphony``). NaN when nothing sounds.
    """
    lengths, counts = sounding_profile(notes_of(music))
    sounding = lengths[counts > 0].sum()
    return float((lengths * counts).sum() / sounding) if sounding else math.nan


def polyphony_rate(music: Music, min_pitches: int = 2) -> float:
    """Fraction of the piece's ticks where at least ``min_pitches`` distinct pitches sound.

    ``#{t < L : n(t) >= min_pitches} / L`` (MuseGAN's *polyphonicity*). muspy's
    ``polyphony_rate(music, threshold=2)`` counts ``n(t) > 2``, i.e. three or more
    pitches; that is ``min_pitches=3`` here. NaN for an empty piece.
    """
    total = length(music)
    if total == 0:
        return math.nan
    lengths, counts = sounding_profile(notes_of(music))
    return float(lengths[counts >= min_pitches].sum() / total)


def onset_polyphony(music: Music) -> float:
    """Fraction of onset times where two or more distinct pitches start together.

    ``#{t in T : |{p_i : start_i = t}| >= 2} / |T|`` with ``T`` the set of note start
    ticks (C-RNN-GAN's *polyphony*: "how often two tones are played simultaneously,
    their start times the same"). NaN without notes.
    """
    notes = notes_of(music)
    if not len(notes):
        return math.nan
    starts = np.unique(notes["start"].astype(np.int64) * 128 + notes["pitch"]) // 128
    per_onset = np.unique(starts, return_counts=True)[1]
    return float(np.count_nonzero(per_onset >= 2) / len(per_onset))


def empty_beat_rate(music: Music) -> float:
    """Fraction of beats (quarter notes, ``ticks_per_beat``) in which no note sounds.

    ``#{b < ceil(L / tpb) : no note overlaps [b tpb, (b + 1) tpb)} / ceil(L / tpb)``;
    a zero-length note fills the beat it starts in. NaN for an empty piece.
    """
    score = need_score(music, "empty_beat_rate")
    total = length(score)
    return _empty_rate(score, np.arange(0, total, score.ticks_per_beat))


def empty_measure_rate(music: Music, measure_ticks: int | None = None) -> float:
    """Fraction of bars in which no note sounds (MuseGAN's *empty bar rate*).

    Bars are ``measure_ticks`` long if given (muspy's ``measure_resolution``), else
    follow the score's time signatures (4/4 before the first). Formula as
    :func:`empty_beat_rate` with bars for beats. NaN for an empty piece.
    """
    score = need_score(music, "empty_measure_rate")
    total = length(score)
    bars = bar_lines(score, total) if measure_ticks is None \
        else np.arange(0, total, _positive(measure_ticks, "measure_ticks"))
    return _empty_rate(score, bars)


def groove_consistency(music: Music, steps_per_beat: int | None = 12,
                       measure_steps: int | None = None) -> float:
    """One minus the mean Hamming distance between onset patterns of consecutive bars.

    ``1 - sum_{k=1}^{M-1} |G_k xor G_{k+1}| / (m (M - 1))``: ``G_k`` is the set of
    onset positions (0..m-1) in bar ``k`` of ``m`` steps, ``M = ceil(L / m)`` bars
    (Wu & Yang's Jazz Transformer; muspy's ``groove_consistency``). Onsets are first
    quantized to ``steps_per_beat`` (``None``: raw ticks, as muspy); ``m`` is
    ``measure_steps`` or one bar of the first time signature. NaN below two bars.
    """
    score = need_score(music, "groove_consistency")
    if steps_per_beat is not None:
        score = score.resample(_positive(steps_per_beat, "steps_per_beat"))
    m = bar_ticks(score) if measure_steps is None else _positive(measure_steps, "measure_steps")
    n_bars = -(-length(score) // m)
    if n_bars < 2:
        return math.nan
    keys = np.unique(notes_of(score, drums=None)["start"].astype(np.int64))
    per_bar = np.bincount(keys // m, minlength=n_bars)
    shared = np.count_nonzero(np.isin(keys + m, keys))  # same position in the next bar
    hamming = 2 * per_bar.sum() - per_bar[0] - per_bar[-1] - 2 * shared
    return float(1.0 - hamming / (m * (n_bars - 1)))


def qualified_note_rate(music: Music, min_steps: int = 3, steps_per_beat: int = 24) -> float:
    """Fraction of pitched notes at least ``min_steps`` steps of ``1/steps_per_beat`` beat.

    ``#{i : d_i >= min_steps tpb / steps_per_beat} / N`` with ``d_i`` in ticks. The
    default is MuseGAN's: 3 steps of 96 per 4/4 bar, i.e. a 32nd note. NaN without notes.
    """
    score = need_score(music, "qualified_note_rate")
    durations = notes_of(score)["duration"].astype(np.int64)
    if not len(durations):
        return math.nan
    threshold = min_steps * score.ticks_per_beat
    return float(np.count_nonzero(durations * steps_per_beat >= threshold) / len(durations))


def drum_in_pattern_rate(music: Music, meter: str = "duple") -> float:
    """Fraction of drum notes starting on the meter's grid within the beat (muspy's).

    ``#{i drum : (start_i mod tpb) mod g = 0} / N_drum`` with grid ``g = tpb/4`` for
    ``duple`` (``tpb/2`` or ``tpb`` when not divisible) and ``g = tpb/3`` for
    ``triple`` (``tpb`` when not divisible). NaN without drum notes.
    """
    score = need_score(music, "drum_in_pattern_rate")
    tpb = score.ticks_per_beat
    divisors = {"duple": (4, 2), "triple": (3,)}
    if meter not in divisors:
        raise ValueError(f"unknown meter {meter!r}; choose from duple, triple")
    grid = next((tpb // d for d in divisors[meter] if tpb % d == 0), tpb)
    starts = notes_of(score, drums=True)["start"]
    if not len(starts):
        return math.nan
    return float(np.count_nonzero(starts % tpb % grid == 0) / len(starts))


def _empty_rate(score: Score, units: np.ndarray) -> float:
    """Fraction of the units (their start ticks, ascending from 0) that no note touches."""
    if not len(units):
        return math.nan
    notes = notes_of(score, drums=None)
    starts = notes["start"].astype(np.int64)
    last_tick = starts + np.maximum(notes["duration"], 1) - 1
    first = np.searchsorted(units, starts, side="right") - 1
    last = np.searchsorted(units, last_tick, side="right") - 1
    cover = np.zeros(len(units) + 1, dtype=np.int64)
    np.add.at(cover, first, 1)
    np.add.at(cover, last + 1, -1)
    return float(np.count_nonzero(np.cumsum(cover[:-1]) == 0) / len(units))


def _positive(value: int, name: str) -> int:
    if value < 1:
        raise ValueError(f"{name} must be a positive number of ticks or steps, not {value}")
    return int(value)
