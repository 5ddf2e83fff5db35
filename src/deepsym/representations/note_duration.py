"""Note-duration tokens: two streams, a pitch (or chord member) and a duration.

Time is a grid of ``steps_per_beat`` steps per beat. The music becomes a sequence of
elements, each a pair of tokens ``(pitch token, duration token)``:

- a note: pitch token ``p`` (0..127) and duration token ``d - 1`` for a note of ``d``
  steps (1..``max_duration``);
- a time shift: pitch token ``SHIFT`` (128) and duration token ``k - 1``: the next
  notes start ``k`` steps later (longer gaps take several shifts).

Notes between two shifts start together: they are a chord, written lowest pitch first.
The pitch vocabulary has 129 tokens, the duration vocabulary ``max_duration``.

``NoteDuration.encode`` returns one token per element, ``pitch * max_duration +
duration`` (``spec.vocab_size = 129 * max_duration``), so that any sequence model reads
it; ``NoteDuration.streams`` splits such tokens back into the two streams for a model
with two heads.

A round trip keeps, for every non-drum note, its onset and length rounded to the nearest
step (a note lasts at least one step) and its pitch. It loses tracks, velocities
(decoded as ``velocity``) and the part of a note longer than ``max_duration`` steps.
The decoded score has one track and one tick per step (``ticks_per_beat =
steps_per_beat``).
"""
from __future__ import annotations

import numpy as np

from deepsym.errors import DeepsymError
from deepsym.representations.base import Representation, RepresentationSpec
from deepsym.representations.timing import (
    check_positive,
    checked_tokens,
    group_offsets,
    note_steps,
    pitched_notes,
    split_gaps,
)
from deepsym.score import NOTE_DTYPE, Score, Track, sort_notes

SHIFT = 128
PITCH_TOKENS = 129


def to_note_duration(score: Score, *, steps_per_beat: int = 4,
                     max_duration: int = 32) -> tuple[np.ndarray, np.ndarray]:
    """A score's non-drum notes as pitch and duration token streams.

    Parameters
    ----------
    score : Score
    steps_per_beat : int
        Grid of onsets and lengths.
    max_duration : int
        The longest note (and time shift), in steps.

    Returns
    -------
    pitches, durations : np.ndarray
        Each shape ``(elements,)``, int64: pitch tokens in 0..128 (128: a time shift)
        and duration tokens in ``0 .. max_duration - 1`` (steps minus one).
    """
    check_positive(steps_per_beat=steps_per_beat, max_duration=max_duration)
    notes = pitched_notes(score)
    if not len(notes):
        return np.empty(0, np.int64), np.empty(0, np.int64)
    start, end = note_steps(score, notes, "beat", steps_per_beat)
    order = np.lexsort((notes["pitch"], start))
    start, end, pitch = start[order], end[order], notes["pitch"][order].astype(np.int64)
    new_onset = np.r_[True, start[1:] != start[:-1]]
    gaps = np.zeros(len(start), np.int64)
    gaps[new_onset] = np.diff(start[new_onset], prepend=0)
    shift_counts, shift_sizes = split_gaps(gaps, max_duration)
    group = shift_counts + 1  # the shifts before a note, then the note
    ends = np.cumsum(group)
    pitches = np.full(int(ends[-1]), SHIFT, np.int64)
    durations = np.empty(int(ends[-1]), np.int64)
    pitches[ends - 1] = pitch
    durations[ends - 1] = np.minimum(end - start, max_duration) - 1
    owner = np.repeat(np.arange(len(start)), shift_counts)
    durations[(ends - group)[owner] + group_offsets(shift_counts)] = shift_sizes - 1
    return pitches, durations


def from_note_duration(pitches: np.ndarray, durations: np.ndarray, *, steps_per_beat: int = 4,
                       max_duration: int = 32, velocity: int = 64) -> Score:
    """A one-track Score from the two token streams of ``to_note_duration``.

    Parameters
    ----------
    pitches, durations : np.ndarray
        Shape ``(elements,)`` each, as ``to_note_duration`` returns.
    steps_per_beat, max_duration
        As given to ``to_note_duration``.
    velocity : int
        Velocity of every note.

    Returns
    -------
    Score
        One track, ``ticks_per_beat = steps_per_beat`` (one tick per step).
    """
    check_positive(steps_per_beat=steps_per_beat, max_duration=max_duration)
    pitches = checked_tokens(pitches, PITCH_TOKENS, "pitch")
    durations = checked_tokens(durations, max_duration, "duration")
    if len(pitches) != len(durations):
        raise DeepsymError(f"the pitch and duration streams differ in length "
                           f"({len(pitches)} and {len(durations)})")
    is_note = pitches < SHIFT
    time = np.cumsum(np.where(is_note, 0, durations + 1))
    notes = np.zeros(int(is_note.sum()), NOTE_DTYPE)
    notes["start"] = time[is_note]
    notes["duration"] = durations[is_note] + 1
    notes["pitch"] = pitches[is_note]
    notes["velocity"] = velocity
    return Score(ticks_per_beat=steps_per_beat, tracks=[Track(notes=sort_notes(notes))])


class NoteDuration(Representation):
    """``to_note_duration`` / ``from_note_duration`` as a representation
    (name ``note-duration``), one combined token ``pitch * max_duration + duration``
    per element."""

    name = "note-duration"

    def __init__(self, steps_per_beat: int = 4, max_duration: int = 32,
                 conditions: tuple[str, ...] = ()) -> None:
        super().__init__(conditions)
        check_positive(steps_per_beat=steps_per_beat, max_duration=max_duration)
        self.steps_per_beat = steps_per_beat
        self.max_duration = max_duration

    @property
    def spec(self) -> RepresentationSpec:
        return RepresentationSpec("discrete", vocab_size=PITCH_TOKENS * self.max_duration,
                                  condition_size=self.condition_size)

    def encode(self, score: Score) -> np.ndarray:
        pitches, durations = to_note_duration(score, steps_per_beat=self.steps_per_beat,
                                              max_duration=self.max_duration)
        return pitches * self.max_duration + durations

    def streams(self, tokens: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Combined tokens, shape ``(elements,)``, split into (pitches, durations)."""
        tokens = checked_tokens(tokens, self.spec.vocab_size, "note-duration")
        return np.divmod(tokens, self.max_duration)

    def decode(self, array: np.ndarray) -> Score:
        return from_note_duration(*self.streams(array), steps_per_beat=self.steps_per_beat,
                                  max_duration=self.max_duration)
