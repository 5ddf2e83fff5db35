"""Helpers the token representations share: pitched notes, time grids, shift tokens."""
from __future__ import annotations

import dataclasses

import numpy as np

from deepsym.errors import DeepsymError
from deepsym.score import NOTE_DTYPE, Score, sort_notes

UNITS = ("second", "beat")


def pitched_notes(score: Score) -> np.ndarray:
    """The notes of every non-drum track in one array, sorted by start then pitch."""
    parts = [t.notes for t in score.tracks if not t.is_drum]
    return sort_notes(np.concatenate(parts)) if parts else np.empty(0, NOTE_DTYPE)


def without_drums(score: Score) -> Score:
    """The score with its drum tracks left out (tempo map and signatures kept)."""
    return dataclasses.replace(score, tracks=[t for t in score.tracks if not t.is_drum])


def check_choice(name: str, value: str, choices: tuple[str, ...]) -> None:
    if value not in choices:
        raise DeepsymError(f"{name} must be one of {', '.join(map(repr, choices))}, "
                           f"not {value!r}")


def check_positive(**values: int) -> None:
    for name, value in values.items():
        if not isinstance(value, (int, np.integer)) or isinstance(value, bool) or value < 1:
            raise DeepsymError(f"{name} must be a positive integer, not {value!r}")


def note_steps(score: Score, notes: np.ndarray, unit: str,
               resolution: int) -> tuple[np.ndarray, np.ndarray]:
    """Start and end step of each note on a grid of ``resolution`` steps per second or
    per beat: ``floor(t * resolution + 1/2)`` (nearest step), every note at least one step.
    """
    check_choice("unit", unit, UNITS)
    at = score.to_seconds if unit == "second" else score.to_beats
    begin = notes["start"].astype(np.int64)
    times = at(np.concatenate([begin, begin + notes["duration"]])) * resolution
    steps = np.floor(times + 0.5).astype(np.int64)
    start, end = steps[:len(notes)], steps[len(notes):]
    return start, np.maximum(end, start + 1)


def split_gaps(gaps: np.ndarray, limit: int) -> tuple[np.ndarray, np.ndarray]:
    """Gaps (steps >= 0) as runs of shifts of at most ``limit`` steps.

    Returns ``counts`` (shifts per gap, shape ``(gaps,)``) and ``sizes`` (every shift's
    steps, gap after gap: ``limit`` repeated, then the remainder if any).
    """
    full, rest = np.divmod(gaps, limit)
    counts = full + (rest > 0)
    sizes = np.full(int(counts.sum()), limit, np.int64)
    last = np.cumsum(counts) - 1
    has_rest = rest > 0
    sizes[last[has_rest]] = rest[has_rest]
    return counts, sizes


def group_offsets(counts: np.ndarray) -> np.ndarray:
    """For items grouped ``counts[i]`` at a time: each item's place inside its group."""
    total = int(counts.sum())
    return np.arange(total) - np.repeat(np.cumsum(counts) - counts, counts)


def checked_tokens(tokens: np.ndarray, vocab_size: int, what: str) -> np.ndarray:
    """``tokens`` as a 1-D int64 array, refusing values outside ``0 .. vocab_size - 1``."""
    tokens = np.asarray(tokens)
    if tokens.ndim != 1 or (tokens.size and tokens.dtype.kind not in "iu"):
        raise DeepsymError(f"{what} tokens must be a 1-D integer array, got shape "
                           f"{tokens.shape} of {tokens.dtype}")
    tokens = tokens.astype(np.int64, copy=False)
    bad = np.flatnonzero((tokens < 0) | (tokens >= vocab_size))
    if len(bad):
        raise DeepsymError(f"{what} token {tokens[bad[0]]} at position {bad[0]} is outside "
                           f"the vocabulary 0..{vocab_size - 1}")
    return tokens
