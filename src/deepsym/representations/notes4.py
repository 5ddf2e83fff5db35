"""C-RNN-GAN's notes: four continuous values per note, normalized.

Each non-drum note (all tracks merged, sorted by start then pitch) becomes::

    [ (start - previous start) / TIME_SCALE,   time since the previous note began
      duration / TIME_SCALE,                    the note's length
      pitch / PITCH_SCALE,
      velocity / VELOCITY_SCALE ]

with times in beats (``Score.to_beats``), ``TIME_SCALE = 4`` beats (a 4/4 bar is 1.0)
and ``PITCH_SCALE = VELOCITY_SCALE = 127``, so real music lies in about 0..1. The first
note's time is counted from the start of the piece.

``from_notes4`` is the exact inverse up to float rounding: with the source's
``ticks_per_beat`` it gives back every note exactly (times round to the nearest tick,
each gap separately, so errors never add up; exact for gaps and lengths up to 2**23
ticks). Tracks, programs and the tempo map are not kept: the decoded score has one track.
Decoding clips a model's output to the valid ranges (negative times to 0, pitches and
velocities to 0..127).
"""
from __future__ import annotations

import numpy as np

from deepsym.errors import DeepsymError
from deepsym.representations.base import Representation, RepresentationSpec
from deepsym.representations.timing import check_positive, pitched_notes
from deepsym.score import NOTE_DTYPE, Score, Track, sort_notes

TIME_SCALE = 4.0
PITCH_SCALE = 127.0
VELOCITY_SCALE = 127.0
FEATURES = ("delta_start", "duration", "pitch", "velocity")


def to_notes4(score: Score) -> np.ndarray:
    """A score's non-drum notes as C-RNN-GAN tuples.

    Parameters
    ----------
    score : Score

    Returns
    -------
    np.ndarray
        float32, shape ``(notes, 4)``: time since the previous note's start, length
        (both in beats / ``TIME_SCALE``), pitch / 127 and velocity / 127.
    """
    notes = pitched_notes(score)
    begin = notes["start"].astype(np.int64)
    beats = score.to_beats(np.concatenate([begin, begin + notes["duration"]]))
    start, end = beats[:len(notes)], beats[len(notes):]
    out = np.empty((len(notes), 4), np.float32)
    out[:, 0] = np.diff(start, prepend=0.0) / TIME_SCALE
    out[:, 1] = (end - start) / TIME_SCALE
    out[:, 2] = notes["pitch"] / PITCH_SCALE
    out[:, 3] = notes["velocity"] / VELOCITY_SCALE
    return out


def from_notes4(array: np.ndarray, *, ticks_per_beat: int = 480) -> Score:
    """A one-track Score from C-RNN-GAN tuples (the inverse of ``to_notes4``).

    Parameters
    ----------
    array : np.ndarray
        Shape ``(notes, 4)`` as ``to_notes4`` returns.
    ticks_per_beat : int
        Ticks per beat of the decoded score (the source's for an exact inverse).

    Returns
    -------
    Score
        One track at ``ticks_per_beat``; times rounded to the nearest tick.
    """
    check_positive(ticks_per_beat=ticks_per_beat)
    array = np.asarray(array, np.float64)
    if array.ndim != 2 or array.shape[1] != 4:
        raise DeepsymError(f"notes4 arrays have shape (notes, 4), got {array.shape}")
    if not np.isfinite(array).all():
        raise DeepsymError("notes4 array holds NaN or infinite values")
    ticks = np.rint(np.maximum(array[:, :2], 0.0) * TIME_SCALE * ticks_per_beat)
    if ticks.size and ticks.max() >= 2**31:
        raise DeepsymError("notes4 times too large for int32 ticks")
    notes = np.zeros(len(array), NOTE_DTYPE)
    start = np.cumsum(ticks[:, 0].astype(np.int64))
    if len(start) and start[-1] >= 2**31:
        raise DeepsymError("notes4 piece too long for int32 ticks")
    notes["start"] = start
    notes["duration"] = ticks[:, 1]
    notes["pitch"] = np.clip(np.rint(array[:, 2] * PITCH_SCALE), 0, 127)
    notes["velocity"] = np.clip(np.rint(array[:, 3] * VELOCITY_SCALE), 0, 127)
    return Score(ticks_per_beat=ticks_per_beat, tracks=[Track(notes=sort_notes(notes))])


class Notes4(Representation):
    """``to_notes4`` / ``from_notes4`` as a representation (name ``notes4``); exact only
    at the source's ticks per beat."""

    name = "notes4"
    exact = False

    def __init__(self, ticks_per_beat: int = 480, conditions: tuple[str, ...] = ()) -> None:
        super().__init__(conditions)
        check_positive(ticks_per_beat=ticks_per_beat)
        self.ticks_per_beat = ticks_per_beat

    @property
    def spec(self) -> RepresentationSpec:
        return RepresentationSpec("continuous", feature_shape=(4,),
                                  condition_size=self.condition_size)

    def encode(self, score: Score) -> np.ndarray:
        return to_notes4(score)

    def decode(self, array: np.ndarray) -> Score:
        return from_notes4(array, ticks_per_beat=self.ticks_per_beat)
