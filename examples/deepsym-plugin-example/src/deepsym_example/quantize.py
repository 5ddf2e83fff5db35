"""A refiner that learns nothing: every note's start and length snapped to a sixteenth-note
grid (a length of at least one step). Snapping is monotone, so notes keep their order."""
from __future__ import annotations

import dataclasses

import numpy as np

from deepsym.score import Score

STEPS_PER_BEAT = 4


class Quantize:
    """Snap starts and lengths to ``STEPS_PER_BEAT`` steps per beat."""

    name = "example-quantize"

    def __init__(self, trained: object = None) -> None:
        del trained  # a refiner that learns nothing is loaded without a run

    def refine(self, score: Score) -> Score:
        step = score.ticks_per_beat / STEPS_PER_BEAT
        tracks = []
        for track in score.tracks:
            notes = track.notes.copy()
            notes["start"] = np.rint(np.rint(notes["start"] / step) * step)
            notes["duration"] = np.rint(np.maximum(np.rint(notes["duration"] / step), 1) * step)
            tracks.append(track.replace(notes=notes))
        return dataclasses.replace(score, tracks=tracks)
