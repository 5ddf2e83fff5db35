"""Representations: how a Score becomes the array a model reads, and back."""
from deepsym.representations.base import (
    CONDITIONS,
    Grammar,
    Representation,
    RepresentationSpec,
    mean_pitch,
    note_density,
    pitch_class_histogram,
)

__all__ = [
    "CONDITIONS",
    "Grammar",
    "Representation",
    "RepresentationSpec",
    "mean_pitch",
    "note_density",
    "pitch_class_histogram",
]
