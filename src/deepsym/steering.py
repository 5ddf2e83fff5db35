"""Did a piece come out as asked? Its key, pitch height and density measured beside the
request, as ``deepsym demo`` reports them and ``bench/steering.py`` scores them.

- key: the Krumhansl-Schmuckler estimate (``deepsym.data.stats.estimate_key``) of the
  duration-weighted pitch-class histogram of the piece's non-drum notes, with its
  correlation r; it *agrees* with the key asked when it is that key or its relative
  (C major and A minor share their notes, and the estimate cannot tell them apart
  reliably);
- pitch: the mean MIDI pitch of the non-drum notes;
- density: non-drum note onsets per beat (``deepsym.representations.note_density``).
"""
from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from deepsym.data.stats import estimate_key, pitch_class_histogram
from deepsym.representations.base import note_density
from deepsym.representations.timing import pitched_notes
from deepsym.sampling.conditions import parse_key
from deepsym.score import Score

RELATIVE = {"major": (9, "minor"), "minor": (3, "major")}  # tonic step to the relative key


@dataclass(frozen=True)
class Measured:
    """What a piece is: its estimated key and that estimate's r (None without notes),
    mean pitch (NaN without notes) and onsets per beat."""

    key: str | None
    key_r: float
    mean_pitch: float
    density: float


@dataclass(frozen=True)
class Request:
    """What a piece was asked to be; None where nothing was asked. ``pitch``: a MIDI
    pitch; ``density``: onsets per beat."""

    key: str | None = None
    pitch: float | None = None
    density: float | None = None


def measure(score: Score) -> Measured:
    """The key, mean pitch and density of ``score`` (see the module docstring)."""
    notes = pitched_notes(score)
    found = estimate_key(pitch_class_histogram(notes)) if len(notes) else None
    key, r = found if found is not None else (None, math.nan)
    mean = float(notes["pitch"].mean()) if len(notes) else math.nan
    return Measured(key, r, mean, float(note_density(score)[0]))


def key_agrees(asked: str, found: str | None) -> bool:
    """Whether the key ``found`` is ``asked`` or its relative major or minor."""
    if found is None:
        return False
    tonic, mode = parse_key(asked)
    step, other = RELATIVE[mode]
    return parse_key(found) in ((tonic, mode), ((tonic + step) % 12, other))


def markdown_table(labels: Sequence[str], requests: Sequence[Request],
                   measured: Sequence[Measured]) -> str:
    """One row per piece: what was asked beside what was measured."""
    lines = ["| piece | key asked | key measured (r) | agrees | pitch asked | mean pitch "
             "| density asked | density (onsets/beat) |", "|---|---|---|---|---:|---:|---:|---:|"]
    for label, asked, got in zip(labels, requests, measured, strict=True):
        agrees = "-" if asked.key is None else ("yes" if key_agrees(asked.key, got.key)
                                                 else "no")
        found = "-" if got.key is None else f"{got.key} ({got.key_r:.2f})"
        lines.append(f"| {label} | {asked.key or '-'} | {found} | {agrees} | "
                     f"{_number(asked.pitch)} | {_number(got.mean_pitch)} | "
                     f"{_number(asked.density, 2)} | {_number(got.density, 2)} |")
    return "\n".join(lines)


def _number(value: float | None, digits: int = 1) -> str:
    return "-" if value is None or not np.isfinite(value) else f"{value:.{digits}f}"


__all__ = ["Measured", "Request", "key_agrees", "markdown_table", "measure"]
