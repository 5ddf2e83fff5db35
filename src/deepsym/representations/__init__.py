"""Representations: how a Score becomes the array a model reads, and back."""
from deepsym.representations.base import (
    CONDITIONS,
    Representation,
    RepresentationSpec,
    mean_pitch,
    note_density,
    pitch_class_histogram,
)

__all__ = [
    "CONDITIONS",
    "Representation",
    "RepresentationSpec",
    "mean_pitch",
    "note_density",
    "pitch_class_histogram",
]
