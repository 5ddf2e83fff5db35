"""The piano-roll representation: one frame of pitches per step, an optional onset channel.

Built on :func:`deepsym.pianoroll` (``unit="beat"``): a note from tick ``a`` to ``b``
covers steps ``floor(beats(a) * steps_per_beat)`` up to ``floor(beats(b) *
steps_per_beat)``, end excluded. All non-drum tracks are drawn into one roll; drums are
left out.

A round trip (decoding thresholds at 0.5, so a model's probabilities decode too) keeps
exactly what the roll shows: re-encoding the decoded score gives the same roll. It loses
tracks, velocities (decoded as ``velocity``), notes outside ``pitch_range``, notes
shorter than a step that cover no step (with ``onsets`` they keep their onset as a
zero-length note), and the boundary between notes of one pitch that touch or overlap:
without ``onsets`` they merge into one note; with ``onsets`` only overlapping ones do.
The decoded score has one track and one tick per step.
"""
from __future__ import annotations

import numpy as np

from deepsym.errors import DeepsymError
from deepsym.pianoroll import from_pianoroll, pianoroll
from deepsym.representations.base import Representation, RepresentationSpec
from deepsym.representations.timing import check_positive, without_drums
from deepsym.score import Score

THRESHOLD = 0.5


def to_pianoroll(score: Score, *, steps_per_beat: int = 4, pitch_range: tuple[int, int] = (0, 128),
                 onsets: bool = False) -> np.ndarray:
    """A score's non-drum notes as a piano-roll of 0.0 / 1.0.

    Parameters
    ----------
    score : Score
    steps_per_beat : int
    pitch_range : (low, high)
        The pitches of the columns, high excluded; notes outside are left out.
    onsets : bool
        Add a channel that marks each note's first step.

    Returns
    -------
    np.ndarray
        float32, shape ``(steps, high - low)``, or ``(steps, high - low, 2)`` with
        onsets (``[..., 0]`` onset, ``[..., 1]`` sounding). Column ``j`` is pitch
        ``low + j``.
    """
    check_positive(steps_per_beat=steps_per_beat)
    roll = pianoroll(without_drums(score), steps_per_beat, unit="beat",
                     mode="onset_sustain" if onsets else "binary", pitch_range=pitch_range,
                     out_of_range="ignore")
    return roll.astype(np.float32)


def from_pianoroll_frames(roll: np.ndarray, *, steps_per_beat: int = 4,
                          pitch_range: tuple[int, int] = (0, 128), onsets: bool = False,
                          velocity: int = 64) -> Score:
    """A one-track Score from a roll shaped like ``to_pianoroll``'s (values > 0.5 sound).

    Parameters
    ----------
    roll : np.ndarray
        ``(steps, pitches)`` or, with ``onsets``, ``(steps, pitches, 2)``.
    steps_per_beat, pitch_range, onsets
        As given to ``to_pianoroll``.
    velocity : int
        Velocity of every note.

    Returns
    -------
    Score
        One track, ``ticks_per_beat = steps_per_beat`` (one tick per step).
    """
    roll = np.asarray(roll)
    if roll.ndim != (3 if onsets else 2):
        raise DeepsymError(f"a piano-roll{' with onsets' if onsets else ''} has "
                           f"{3 if onsets else 2} axes, got shape {roll.shape}")
    track = from_pianoroll(roll > THRESHOLD, "onset_sustain" if onsets else "binary",
                           resolution=steps_per_beat, pitch_range=pitch_range,
                           velocity=velocity)
    return Score(ticks_per_beat=steps_per_beat, tracks=[track])


class Pianoroll(Representation):
    """``to_pianoroll`` / ``from_pianoroll_frames`` as a representation (name
    ``pianoroll``)."""

    name = "pianoroll"

    def __init__(self, steps_per_beat: int = 4, pitch_range: tuple[int, int] = (0, 128),
                 onsets: bool = False, conditions: tuple[str, ...] = ()) -> None:
        super().__init__(conditions)
        check_positive(steps_per_beat=steps_per_beat)
        self.options = {"steps_per_beat": steps_per_beat,
                        "pitch_range": (int(pitch_range[0]), int(pitch_range[1])),
                        "onsets": onsets}

    @property
    def spec(self) -> RepresentationSpec:
        low, high = self.options["pitch_range"]
        shape = (high - low, 2) if self.options["onsets"] else (high - low,)
        return RepresentationSpec("continuous", feature_shape=shape,
                                  condition_size=self.condition_size)

    def encode(self, score: Score) -> np.ndarray:
        return to_pianoroll(score, **self.options)

    def decode(self, array: np.ndarray) -> Score:
        return from_pianoroll_frames(array, **self.options)
