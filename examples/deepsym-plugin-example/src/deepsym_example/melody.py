"""Melody tokens: the top line of a score, one token per time step, and a metric on it."""
from __future__ import annotations

import numpy as np

from deepsym import Score, Track
from deepsym.representations import Representation, RepresentationSpec
from deepsym.score import NOTE_DTYPE

REST, HOLD, FIRST_PITCH = 0, 1, 2


def top_line(score: Score) -> np.ndarray:
    """The highest non-drum note starting at each onset tick, sorted by start."""
    parts = [t.notes for t in score.tracks if not t.is_drum]
    if not parts:
        return np.empty(0, dtype=NOTE_DTYPE)
    notes = np.concatenate(parts)
    notes = notes[np.lexsort((-notes["pitch"].astype(np.int16), notes["start"]))]
    first = np.r_[True, notes["start"][1:] != notes["start"][:-1]]
    return notes[first]


def to_melody_tokens(score: Score, steps_per_beat: int = 4) -> np.ndarray:
    """The top line as tokens, shape ``(steps,)``, int64, one per ``1/steps_per_beat`` beat.

    ``0``: rest; ``1``: the note sounding at the previous step holds; ``2 + p``: a note of
    MIDI pitch ``p`` starts. A note lasts at least one step and ends where the next starts.
    """
    notes = top_line(score)
    start = np.floor(score.to_beats(notes["start"]) * steps_per_beat + 0.5).astype(np.int64)
    ticks_end = notes["start"].astype(np.int64) + notes["duration"]
    end = np.floor(score.to_beats(ticks_end) * steps_per_beat + 0.5).astype(np.int64)
    start, keep = np.unique(start, return_index=True)  # of notes on one step, the first
    end = np.minimum(np.maximum(end[keep], start + 1), np.r_[start[1:], np.iinfo(np.int64).max])
    tokens = np.full(int(end.max()) if len(end) else 0, REST, dtype=np.int64)
    sounding = np.zeros(len(tokens) + 1, dtype=np.int64)
    np.add.at(sounding, start, 1)
    np.add.at(sounding, end, -1)
    tokens[np.cumsum(sounding)[:-1] > 0] = HOLD
    tokens[start] = FIRST_PITCH + notes["pitch"][keep]
    return tokens


def from_melody_tokens(tokens: np.ndarray, steps_per_beat: int = 4,
                       velocity: int = 80) -> Score:
    """A one-track Score (``ticks_per_beat = steps_per_beat``) from melody tokens;
    a hold after a rest is silence."""
    tokens = np.asarray(tokens, dtype=np.int64)
    onsets = np.flatnonzero(tokens >= FIRST_PITCH)
    boundaries = np.r_[np.flatnonzero(tokens != HOLD), len(tokens)]
    ends = boundaries[np.searchsorted(boundaries, onsets, side="right")]
    notes = np.zeros(len(onsets), dtype=NOTE_DTYPE)
    notes["start"], notes["duration"] = onsets, ends - onsets
    notes["pitch"], notes["velocity"] = tokens[onsets] - FIRST_PITCH, velocity
    return Score(ticks_per_beat=steps_per_beat, tracks=[Track(notes=notes, name="melody")])


def conjunct_motion(score: Score) -> float:
    """Share of the top line's melodic intervals that are steps:
    ``mean(|p[i+1] - p[i]| <= 2)`` over consecutive top-line notes; NaN for fewer than 2."""
    pitches = top_line(score)["pitch"].astype(np.int64)
    if len(pitches) < 2:
        return float("nan")
    return float(np.mean(np.abs(np.diff(pitches)) <= 2))


class MelodyTokens(Representation):
    """``to_melody_tokens`` / ``from_melody_tokens`` as a registered representation."""

    name = "melody-tokens"
    FIRST_PITCH = FIRST_PITCH

    def __init__(self, steps_per_beat: int = 4, conditions: tuple[str, ...] = ()) -> None:
        super().__init__(conditions)
        self.steps_per_beat = steps_per_beat

    @property
    def spec(self) -> RepresentationSpec:
        return RepresentationSpec("discrete", vocab_size=FIRST_PITCH + 128,
                                  condition_size=self.condition_size)

    def encode(self, score: Score) -> np.ndarray:
        return to_melody_tokens(score, self.steps_per_beat)

    def decode(self, array: np.ndarray) -> Score:
        return from_melody_tokens(array, self.steps_per_beat)
