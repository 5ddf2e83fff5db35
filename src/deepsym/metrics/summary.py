"""Every metric of one score at once, and their mean and spread over many scores."""
from __future__ import annotations

import math
from collections.abc import Callable, Iterable

import numpy as np

from deepsym.metrics.pitch import (
    n_pitch_classes_used,
    n_pitches_used,
    pitch_class_entropy,
    pitch_entropy,
    pitch_range,
    repetitions,
    scale_consistency,
)
from deepsym.metrics.rhythm import (
    empty_beat_rate,
    empty_measure_rate,
    groove_consistency,
    onset_polyphony,
    polyphony,
    polyphony_rate,
    qualified_note_rate,
)
from deepsym.metrics.tonal import tonal_distance
from deepsym.score import Score

#: The metrics ``summarize`` computes, by name, with their default parameters.
METRICS: dict[str, Callable[[Score], float]] = {
    "notes": lambda s: s.n_notes,
    "pitch_range": pitch_range,
    "n_pitches_used": n_pitches_used,
    "n_pitch_classes_used": n_pitch_classes_used,
    "pitch_entropy": pitch_entropy,
    "pitch_class_entropy": pitch_class_entropy,
    "scale_consistency": scale_consistency,
    "repetitions_2": lambda s: repetitions(s, 2),
    "repetitions_3": lambda s: repetitions(s, 3),
    "repetitions_4": lambda s: repetitions(s, 4),
    "polyphony": polyphony,
    "polyphony_rate": polyphony_rate,
    "onset_polyphony": onset_polyphony,
    "empty_beat_rate": empty_beat_rate,
    "empty_measure_rate": empty_measure_rate,
    "groove_consistency": groove_consistency,
    "qualified_note_rate": qualified_note_rate,
    "tonal_distance": tonal_distance,
}


def summarize(score: Score) -> dict[str, float]:
    """Every metric in :data:`METRICS` for one score: counts as int, the rest as float
    (NaN where undefined)."""
    values = {name: metric(score) for name, metric in METRICS.items()}
    return {k: v if isinstance(v, int) else float(v) for k, v in values.items()}


def aggregate(summaries: Iterable[dict[str, float]]) -> dict[str, tuple[float, float, int]]:
    """Per metric: mean, standard deviation and count over the summaries where it is
    defined (NaN values left out); NaN, NaN, 0 where it is defined for none."""
    rows = list(summaries)
    out = {}
    for name in METRICS:
        values = np.array([row[name] for row in rows], dtype=np.float64)
        values = values[~np.isnan(values)]
        out[name] = (float(values.mean()), float(values.std()), len(values)) if len(values) \
            else (math.nan, math.nan, 0)
    return out
