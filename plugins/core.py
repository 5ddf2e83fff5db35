"""The core plugin: deepsym's own metrics, registered like any plugin's.

The order of registration is the order ``deepsym metrics --json`` and ``deepsym
evaluate`` list them in; other plugins' metrics follow.
"""
from __future__ import annotations

from functools import partial

from deepsym.hookspecs import Register, hookimpl
from deepsym.metrics import multitrack, pitch, rhythm, tonal
from deepsym.score import Score


def notes(score: Score) -> int:
    """The number of notes of the score, drums included."""
    return score.n_notes


@hookimpl
def register_metrics(register: Register) -> None:
    """deepsym's metrics with their default parameters (repetitions for runs of 2, 3 and
    4 pitches)."""
    register(notes)
    for function in (pitch.pitch_range, pitch.n_pitches_used, pitch.n_pitch_classes_used,
                     pitch.pitch_entropy, pitch.pitch_class_entropy, pitch.scale_consistency):
        register(function)
    for length in (2, 3, 4):
        register(partial(pitch.repetitions, length=length), f"repetitions_{length}")
    for function in (rhythm.polyphony, rhythm.polyphony_rate, rhythm.onset_polyphony,
                     rhythm.empty_beat_rate, rhythm.empty_measure_rate,
                     rhythm.groove_consistency, rhythm.qualified_note_rate,
                     tonal.tonal_distance):
        register(function)
    # MuseGAN's UPC and DP; its EB, QN and TD are empty_measure_rate, qualified_note_rate
    # and tonal_distance above.
    register(multitrack.used_pitch_classes_per_bar, "used_pitch_classes")
    register(rhythm.drum_in_pattern_rate, "drum_pattern_rate")
