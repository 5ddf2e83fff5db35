"""``notes-meter``: C-RNN-GAN's ``notes4`` plus where each note falls in its bar, the
input Velocity Net reads (no torch here: the plugin registers it).

Each non-drum note (``notes4``'s order) becomes ``notes4``'s four values and its bar
phase: the note's offset from the last bar line before it, over the bar's length, in
[0, 1). Bars follow the score's time signatures (4/4 before the first); a bar of
``n / d`` lasts ``n * 4 / d`` beats. Decoding drops the phase (``from_notes4``).
"""
from __future__ import annotations

import numpy as np

from deepsym.representations.base import RepresentationSpec
from deepsym.representations.notes4 import Notes4, to_notes4
from deepsym.representations.timing import pitched_notes
from deepsym.score import Score


def bar_phase(score: Score, ticks: np.ndarray) -> np.ndarray:
    """The phase in its bar, in [0, 1), of each tick of ``ticks``."""
    signatures = score.time_signatures
    if not len(signatures) or signatures["tick"][0] > 0:
        first = np.array([(0, 4, 4)], dtype=signatures.dtype)
        signatures = np.concatenate([first, signatures[signatures["tick"] > 0]])
    which = np.searchsorted(signatures["tick"], ticks, side="right") - 1
    bar = (signatures["numerator"].astype(np.float64) * 4 / signatures["denominator"]
           * score.ticks_per_beat)[which]
    return np.mod(ticks - signatures["tick"][which], bar) / bar


class NotesMeter(Notes4):
    """``notes4`` and each note's bar phase (name ``notes-meter``), 5 values per note;
    decoding keeps no time signature (4/4 is assumed), so it is not exact."""

    name = "notes-meter"

    @property
    def spec(self) -> RepresentationSpec:
        return RepresentationSpec("continuous", feature_shape=(5,),
                                  condition_size=self.condition_size)

    def encode(self, score: Score) -> np.ndarray:
        phase = bar_phase(score, pitched_notes(score)["start"].astype(np.int64))
        return np.concatenate([to_notes4(score), phase[:, None].astype(np.float32)], axis=1)

    def decode(self, array: np.ndarray) -> Score:
        return super().decode(np.asarray(array)[:, :4])
