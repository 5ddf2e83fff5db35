"""Evaluation: musical metrics on a Score or Track, BLEU over note n-grams, plagiarism.

Every metric is a plain function with its formula in the docstring and a defined
result for empty input (0 for counts, NaN for ratios and averages).
"""
from deepsym.metrics.bleu import bleu, corpus_bleu, note_tokens
from deepsym.metrics.originality import plagiarism
from deepsym.metrics.pitch import (
    n_pitch_classes_used,
    n_pitches_used,
    pitch_class_entropy,
    pitch_entropy,
    pitch_range,
    repetitions,
    scale_consistency,
    tone_span,
)
from deepsym.metrics.rhythm import (
    drum_in_pattern_rate,
    empty_beat_rate,
    empty_measure_rate,
    groove_consistency,
    onset_polyphony,
    polyphony,
    polyphony_rate,
    qualified_note_rate,
)
from deepsym.metrics.summary import summarize
from deepsym.metrics.tonal import tonal_distance

__all__ = [
    "bleu",
    "corpus_bleu",
    "drum_in_pattern_rate",
    "empty_beat_rate",
    "empty_measure_rate",
    "groove_consistency",
    "n_pitch_classes_used",
    "n_pitches_used",
    "note_tokens",
    "onset_polyphony",
    "pitch_class_entropy",
    "pitch_entropy",
    "pitch_range",
    "plagiarism",
    "polyphony",
    "polyphony_rate",
    "qualified_note_rate",
    "repetitions",
    "scale_consistency",
    "summarize",
    "tonal_distance",
    "tone_span",
]
