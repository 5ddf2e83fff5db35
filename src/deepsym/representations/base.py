"""The Representation interface: a Score to a model's array and back, plus conditions.

A representation is a pair of pure functions wrapped in a small class: ``encode`` gives
the array a model reads (time along axis 0) and ``decode`` turns such an array (for
instance one a model generated) back into a Score. ``spec`` says what one time step
holds, so a model can size its layers without seeing data. Condition features summarise
a whole score as a fixed-size vector (key, pitch height, density) that a conditional
model reads next to every step.
"""
from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import ClassVar, Literal, Protocol

import numpy as np

from deepsym.errors import DeepsymError
from deepsym.score import NOTE_DTYPE, Score


@dataclass(frozen=True)
class RepresentationSpec:
    """What a model sees at one time step.

    ``discrete``: one integer token in ``0 .. vocab_size - 1`` per step (array shape
    ``(steps,)``). ``continuous``: ``feature_shape`` floats per step (array shape
    ``(steps, *feature_shape)``). ``condition_size``: length of the condition vector
    (0 for an unconditional representation).
    """

    kind: Literal["discrete", "continuous"]
    vocab_size: int | None = None
    feature_shape: tuple[int, ...] = ()
    condition_size: int = 0

    def __post_init__(self) -> None:
        if self.kind not in ("discrete", "continuous"):
            raise ValueError(f"kind must be 'discrete' or 'continuous', not {self.kind!r}")
        if self.kind == "discrete" and not (self.vocab_size or 0) > 0:
            raise ValueError("a discrete representation needs vocab_size > 0")
        if self.kind == "continuous" and not self.feature_shape:
            raise ValueError("a continuous representation needs a feature_shape")


def _pitched_notes(score: Score) -> np.ndarray:
    """The notes of every non-drum track, in one array."""
    parts = [t.notes for t in score.tracks if not t.is_drum]
    return np.concatenate(parts) if parts else np.empty(0, dtype=NOTE_DTYPE)


def pitch_class_histogram(score: Score) -> np.ndarray:
    """Share of sounding time per pitch class C..B, shape ``(12,)``, summing to 1.

    ``h[c] = sum(duration of non-drum notes with pitch % 12 == c) / sum(durations)``
    (each note counts at least one tick); all zeros for a score without pitched notes.
    """
    notes = _pitched_notes(score)
    weight = np.maximum(notes["duration"], 1).astype(np.float64)
    hist = np.bincount(notes["pitch"] % 12, weights=weight, minlength=12)
    total = hist.sum()
    return (hist / total if total else hist).astype(np.float32)


def mean_pitch(score: Score) -> np.ndarray:
    """Pitch height, shape ``(1,)``: mean MIDI pitch of the non-drum notes / 127 (0 if none)."""
    notes = _pitched_notes(score)
    value = notes["pitch"].mean() / 127.0 if len(notes) else 0.0
    return np.array([value], dtype=np.float32)


def note_density(score: Score) -> np.ndarray:
    """Density, shape ``(1,)``: the mean number of non-drum note onsets per beat over
    the score's length (``notes / (end_tick / ticks_per_beat)``; 0 for an empty score).
    A conditional model reads it scaled to its corpus's range (``condition_ranges``)."""
    notes = _pitched_notes(score)
    beats = score.to_beats(score.end_tick) if score.end_tick else 0.0
    return np.array([len(notes) / beats if beats else 0.0], dtype=np.float32)


#: Condition features by name: the function and the length of its vector.
CONDITIONS: dict[str, tuple[Callable[[Score], np.ndarray], int]] = {
    "pitch_classes": (pitch_class_histogram, 12),
    "mean_pitch": (mean_pitch, 1),
    "density": (note_density, 1),
}


class Grammar(Protocol):
    """The rules of ``n`` token sequences being generated, followed token by token."""

    def allowed(self) -> np.ndarray:
        """Which tokens may come next in each sequence: bool ``(n, vocab_size)``."""

    def advance(self, tokens: np.ndarray) -> None:
        """Take the next token of each sequence, ``(n,)`` ints."""


class Representation(ABC):
    """Base class of every representation; subclasses set ``name`` and implement
    ``spec``, ``encode`` and ``decode``.

    ``conditions`` chooses condition features from ``CONDITIONS`` (none by default);
    ``condition_vector(score)`` concatenates them in the order given, each scaled to its
    range when ``with_condition_ranges`` gave it one. ``exact``: what ``decode`` gives
    back encodes to the same array (False where decoding loses something the encoding
    reads, such as the source's ticks per beat or its meter); either way a second round
    trip is stable.
    """

    name: ClassVar[str]
    exact: ClassVar[bool] = True

    def __init__(self, conditions: Sequence[str] = ()) -> None:
        unknown = [c for c in conditions if c not in CONDITIONS]
        if unknown:
            raise DeepsymError(f"unknown condition feature {unknown[0]!r}; "
                               f"choose from: {', '.join(CONDITIONS)}")
        self.conditions = tuple(conditions)
        self.condition_ranges: dict[str, tuple[float, float]] = {}

    def with_condition_ranges(self, ranges: Mapping[str, tuple[float, float]]
                              ) -> Representation:
        """Scale each named feature from its ``(low, high)`` range to 0..1:
        ``(value - low) / (high - low)`` (values outside the range go beyond 0..1), so
        that a feature counted in its own unit (onsets per beat) sits beside the others
        on one scale. Returns the representation itself."""
        for name, (low, high) in ranges.items():
            if name not in self.conditions:
                raise DeepsymError(f"a range for condition {name!r}, which the "
                                   f"representation does not read ({', '.join(self.conditions)})")
            if not low < high:
                raise DeepsymError(f"the range of condition {name!r} must have low < high, "
                                   f"not ({low}, {high})")
        self.condition_ranges = {name: (float(low), float(high))
                                 for name, (low, high) in ranges.items()}
        return self

    def scale_conditions(self, features: Mapping[str, np.ndarray]) -> dict[str, np.ndarray]:
        """Feature values as ``CONDITIONS`` computes them (say a density asked for in
        onsets per beat), scaled as ``condition_vector`` scales them."""
        scaled = {}
        for name, value in features.items():
            value = np.asarray(value, np.float32)
            if name in self.condition_ranges:
                low, high = self.condition_ranges[name]
                value = ((value - low) / (high - low)).astype(np.float32)
            scaled[name] = value
        return scaled

    @property
    def condition_size(self) -> int:
        return sum(CONDITIONS[c][1] for c in self.conditions)

    @property
    @abstractmethod
    def spec(self) -> RepresentationSpec:
        """What one time step holds (its ``condition_size`` is ``self.condition_size``)."""

    @abstractmethod
    def encode(self, score: Score) -> np.ndarray:
        """The score as the model's array, time along axis 0 (shape as ``spec`` says)."""

    @abstractmethod
    def decode(self, array: np.ndarray) -> Score:
        """A Score from an array shaped like ``encode``'s output."""

    def grammar(self, n: int, max_polyphony: int | None = None) -> Grammar | None:
        """For discrete representations whose token sequences have rules (a note can only
        end while it sounds): a Grammar over ``n`` sequences that a sampler asks which
        tokens may come next; with ``max_polyphony``, it also lets no note start while
        that many distinct pitches sound. Default: None, every token always may."""
        return None

    def condition_vector(self, score: Score) -> np.ndarray:
        """The chosen condition features of ``score``, shape ``(condition_size,)``."""
        raw = {c: CONDITIONS[c][0](score) for c in self.conditions}
        parts = list(self.scale_conditions(raw).values())
        return np.concatenate(parts) if parts else np.empty(0, dtype=np.float32)

    def __repr__(self) -> str:
        extra = f", conditions={list(self.conditions)}" if self.conditions else ""
        return f"{type(self).__name__}({self.name!r}{extra})"
