"""Performance-RNN events: NOTE_ON, NOTE_OFF, TIME_SHIFT and VELOCITY tokens.

Vocabulary (388 tokens with the defaults)::

    0 .. 127                        NOTE_ON of pitch p              (token p)
    128 .. 255                      NOTE_OFF of pitch p             (token 128 + p)
    256 .. 256 + max_shift - 1      TIME_SHIFT by k steps, k = 1..max_shift
    then velocity_bins tokens       VELOCITY bin b: the next NOTE_ONs play at bin b

Time is a grid of ``resolution`` steps per second (``unit="second"``, the default:
100 steps of 10 ms, shifts up to 1 s, as Performance RNN) or per beat
(``unit="beat"``). All non-drum tracks are merged into one stream; drums are left out.

What a round trip keeps and loses (``from_events(to_events(score))``):

- onsets and releases move to the nearest step (error at most half a step); a note
  lasts at least one step;
- velocities move to the centre of their bin (``bin = v * bins // 128``, decoded as
  ``(2 * bin + 1) * 64 // bins``: error at most ``64 / bins``, 2 for 32 bins);
- events at one step are ordered NOTE_OFF before NOTE_ON, then by pitch; a NOTE_OFF
  ends the earliest sounding note of its pitch, so the onsets and the releases of each
  pitch are exact at the grid, but where one note of a pitch starts and ends inside
  another of the same pitch, the two decoded notes swap their releases;
- tracks, programs and the tempo map: the decoded score has one track, one tick per
  step (``ticks_per_beat = resolution``) and, for ``unit="second"``, 60 qpm, so ticks
  are steps and times in seconds are kept.

Decoding accepts any token sequence (e.g. a model's): a NOTE_OFF with no sounding note
is ignored and a note never released ends at the last step (lasting at least one step).
"""
from __future__ import annotations

import numpy as np

from deepsym.representations.base import Representation, RepresentationSpec
from deepsym.representations.timing import (
    check_choice,
    check_positive,
    checked_tokens,
    group_offsets,
    note_steps,
    pitched_notes,
    split_gaps,
)
from deepsym.score import NOTE_DTYPE, Score, Track, sort_notes

NOTE_ON = 0
NOTE_OFF = 128
TIME_SHIFT = 256
UNITS = ("second", "beat")


def vocab_size(max_shift: int = 100, velocity_bins: int = 32) -> int:
    """Tokens in the vocabulary: 256 note events + ``max_shift`` + ``velocity_bins``."""
    return TIME_SHIFT + max_shift + velocity_bins


def velocity_bin(velocity: np.ndarray, bins: int) -> np.ndarray:
    """The bin of each velocity 0..127: ``velocity * bins // 128``."""
    return np.asarray(velocity, np.int64) * bins // 128


def bin_velocity(b: np.ndarray, bins: int) -> np.ndarray:
    """The velocity a bin decodes to, the centre of its range: ``(2b + 1) * 64 // bins``."""
    return (2 * np.asarray(b, np.int64) + 1) * 64 // bins


def to_events(score: Score, *, unit: str = "second", resolution: int = 100,
              max_shift: int = 100, velocity_bins: int = 32) -> np.ndarray:
    """A score's non-drum notes as Performance-RNN event tokens.

    Parameters
    ----------
    score : Score
    unit : {"second", "beat"}
        What ``resolution`` counts steps per.
    resolution : int
        Steps per second (or per beat).
    max_shift : int
        The longest TIME_SHIFT, in steps; longer silences take several.
    velocity_bins : int
        Velocity bins over 0..127.

    Returns
    -------
    np.ndarray
        Shape ``(tokens,)``, int64, values in ``0 .. vocab_size(max_shift,
        velocity_bins) - 1`` (see the module docstring).
    """
    check_choice("unit", unit, UNITS)
    check_positive(resolution=resolution, max_shift=max_shift, velocity_bins=velocity_bins)
    notes = pitched_notes(score)
    if not len(notes):
        return np.empty(0, np.int64)
    start, end = note_steps(score, notes, unit, resolution)
    n = len(notes)
    pitch = np.tile(notes["pitch"].astype(np.int64), 2)
    step = np.concatenate([end, start])
    is_on = np.repeat([False, True], n)
    vbin = np.concatenate([np.full(n, -1), velocity_bin(notes["velocity"], velocity_bins)])
    order = np.lexsort((pitch, is_on, step))
    pitch, step, is_on, vbin = pitch[order], step[order], is_on[order], vbin[order]

    ons = np.flatnonzero(is_on)
    velocity_change = np.zeros(2 * n, bool)
    velocity_change[ons] = vbin[ons] != np.r_[-1, vbin[ons][:-1]]
    shift_counts, shift_sizes = split_gaps(np.diff(step, prepend=0), max_shift)
    group = shift_counts + velocity_change + 1  # shifts, velocity?, the event
    ends = np.cumsum(group)
    tokens = np.empty(int(ends[-1]), np.int64)
    tokens[ends - 1] = np.where(is_on, NOTE_ON, NOTE_OFF) + pitch
    tokens[ends[velocity_change] - 2] = TIME_SHIFT + max_shift + vbin[velocity_change]
    owner = np.repeat(np.arange(2 * n), shift_counts)
    tokens[(ends - group)[owner] + group_offsets(shift_counts)] = TIME_SHIFT + shift_sizes - 1
    return tokens


def from_events(tokens: np.ndarray, *, unit: str = "second", resolution: int = 100,
                max_shift: int = 100, velocity_bins: int = 32, velocity: int = 64) -> Score:
    """A one-track Score from event tokens (the inverse of ``to_events`` at its grid).

    Parameters
    ----------
    tokens : np.ndarray
        Shape ``(tokens,)``, integers in the vocabulary of ``to_events``.
    unit, resolution, max_shift, velocity_bins
        As given to ``to_events``.
    velocity : int
        Velocity of the notes before the first VELOCITY token.

    Returns
    -------
    Score
        One track; ``ticks_per_beat = resolution`` (one tick per step) and, for
        ``unit="second"``, a tempo of 60 qpm.
    """
    check_choice("unit", unit, UNITS)
    check_positive(resolution=resolution, max_shift=max_shift, velocity_bins=velocity_bins)
    first_velocity = TIME_SHIFT + max_shift
    tokens = checked_tokens(tokens, first_velocity + velocity_bins, "events")
    is_shift = (tokens >= TIME_SHIFT) & (tokens < first_velocity)
    step = np.cumsum(np.where(is_shift, tokens - TIME_SHIFT + 1, 0))
    is_velocity = tokens >= first_velocity
    last = np.maximum.accumulate(np.where(is_velocity, np.arange(len(tokens)), -1))
    vbin = np.where(last >= 0, tokens[np.maximum(last, 0)] - first_velocity,
                    velocity_bin(velocity, velocity_bins))

    on = np.flatnonzero(tokens < NOTE_OFF)
    off = np.flatnonzero((tokens >= NOTE_OFF) & (tokens < TIME_SHIFT))
    ends = _release_steps(tokens[on], on, tokens[off] - NOTE_OFF, off, step)
    final = int(step[-1]) if len(step) else 0
    notes = np.zeros(len(on), NOTE_DTYPE)
    notes["start"] = step[on]
    notes["duration"] = np.maximum(np.where(ends < 0, final, ends) - step[on], 1)
    notes["pitch"] = tokens[on]
    notes["velocity"] = bin_velocity(vbin[on], velocity_bins)
    tempos = [(0, 60.0)] if unit == "second" else None
    return Score(ticks_per_beat=resolution, tempos=tempos,
                 tracks=[Track(notes=sort_notes(notes))])


def _release_steps(on_pitch: np.ndarray, on_at: np.ndarray, off_pitch: np.ndarray,
                   off_at: np.ndarray, step: np.ndarray) -> np.ndarray:
    """The step each NOTE_ON is released at (-1 if never): per pitch, first in first out.

    A NOTE_OFF counts only while a note of its pitch sounds: with ``S`` the running sum
    of +1 (on) / -1 (off) per pitch, the number sounding is ``S - min(0, running min S)``.
    """
    pitch = np.concatenate([on_pitch, off_pitch])
    at = np.concatenate([on_at, off_at])
    delta = np.repeat([1, -1], [len(on_at), len(off_at)])
    order = np.lexsort((at, pitch))
    pitch, at, delta = pitch[order], at[order], delta[order]
    first = np.r_[True, pitch[1:] != pitch[:-1]] if len(pitch) else np.empty(0, bool)
    segment = np.cumsum(first) - 1
    total = np.cumsum(delta)
    running = total - np.repeat(total[first] - delta[first], np.diff(np.r_[
        np.flatnonzero(first), len(pitch)]))
    # running minimum inside each pitch: later pitches shifted below all earlier values
    big = 2 * len(pitch) + 2
    low = np.minimum.accumulate(running - segment * big) + segment * big
    sounding = running - np.minimum(low, 0)
    before = np.where(first, 0, np.r_[0, sounding[:-1]])
    counted_off = (delta < 0) & (before > 0)
    is_on = delta > 0
    rank = _rank_in_segment(is_on, segment)
    off_rank = _rank_in_segment(counted_off, segment)
    key_on = segment[is_on] * big + rank[is_on]
    key_off = segment[counted_off] * big + off_rank[counted_off]
    where = np.searchsorted(key_off, key_on)
    found = where < len(key_off)
    found[found] = key_off[where[found]] == key_on[found]
    released = np.full(int(is_on.sum()), -1, np.int64)
    released[found] = step[at[counted_off][where[found]]]
    out = np.empty(len(on_at), np.int64)
    out[order[is_on]] = released  # back to the order the NOTE_ONs were given in
    return out


def _rank_in_segment(chosen: np.ndarray, segment: np.ndarray) -> np.ndarray:
    """For each element, how many chosen elements of its segment come before it."""
    count = np.cumsum(chosen) - chosen
    first = np.r_[True, segment[1:] != segment[:-1]] if len(segment) else chosen
    base = np.maximum.accumulate(np.where(first, count, 0))
    return count - base


class Events(Representation):
    """``to_events`` / ``from_events`` as a representation (name ``events``)."""

    name = "events"

    def __init__(self, unit: str = "second", resolution: int = 100, max_shift: int = 100,
                 velocity_bins: int = 32, conditions: tuple[str, ...] = ()) -> None:
        super().__init__(conditions)
        check_choice("unit", unit, UNITS)
        check_positive(resolution=resolution, max_shift=max_shift, velocity_bins=velocity_bins)
        self.options = {"unit": unit, "resolution": resolution, "max_shift": max_shift,
                        "velocity_bins": velocity_bins}

    @property
    def spec(self) -> RepresentationSpec:
        return RepresentationSpec("discrete", vocab_size=vocab_size(
            self.options["max_shift"], self.options["velocity_bins"]),
            condition_size=self.condition_size)

    def encode(self, score: Score) -> np.ndarray:
        return to_events(score, **self.options)

    def decode(self, array: np.ndarray) -> Score:
        return from_events(array, **self.options)

    def grammar(self, n: int, max_polyphony: int | None = None) -> EventGrammar:
        return EventGrammar(n, self.spec.vocab_size, max_polyphony)


class EventGrammar:
    """Notes as a sampler may write them: NOTE_ON only for a pitch that is silent (and,
    with ``max_polyphony``, while fewer pitches than that sound) and NOTE_OFF only for
    one that sounds (so no note is left sounding by an off aimed at the wrong pitch);
    TIME_SHIFT and VELOCITY always."""

    def __init__(self, n: int, vocab: int, max_polyphony: int | None = None) -> None:
        self.sounding = np.zeros((n, 128), bool)
        self.vocab = vocab
        self.max_polyphony = max_polyphony

    def allowed(self) -> np.ndarray:
        mask = np.ones((len(self.sounding), self.vocab), bool)
        room = np.ones(len(self.sounding), bool) if self.max_polyphony is None \
            else self.sounding.sum(axis=1) < self.max_polyphony
        mask[:, NOTE_ON:NOTE_OFF] = ~self.sounding & room[:, None]
        mask[:, NOTE_OFF:TIME_SHIFT] = self.sounding
        return mask

    def advance(self, tokens: np.ndarray) -> None:
        tokens = np.asarray(tokens)
        rows = np.arange(len(tokens))
        on, off = tokens < NOTE_OFF, (tokens >= NOTE_OFF) & (tokens < TIME_SHIFT)
        self.sounding[rows[on], tokens[on] - NOTE_ON] = True
        self.sounding[rows[off], tokens[off] - NOTE_OFF] = False
