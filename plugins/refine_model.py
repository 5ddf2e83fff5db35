"""Refine Net's two networks and their refiners. Duration Net undoes random stretches
of note lengths and rests, and its refiner re-times any piece with it.

The notes of a piece (drums left out, all tracks merged, by start then pitch: ``notes4``'s
order) are read as a sequence of three inputs per note: the time since the previous
note began (its "gap"; 0 inside a chord) and its length, both as ``log2`` of beats
(floored at 1/64 beat), and whether it starts a new onset. A bidirectional LSTM stack
predicts, per note, ``log(original / given)`` of the gap and of the length. Training
(``refine_train``) stretches every gap and every length of real crops by its own
factor, uniform in ``[1 - stretch, 1 + stretch]``, and asks for the originals back.

Refining a piece multiplies each gap and length by the predicted factor and rebuilds the
onsets from the gaps, so chords stay chords, notes keep their order in time, and
pitches, velocities and tracks do not change (``deepsym.refining``'s invariants).

Velocity Net reads the same inputs plus each note's pitch and bar phase (``notes-meter``)
and predicts its velocity; its refiner changes velocities only.
"""
from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from typing import TYPE_CHECKING

import numpy as np
import torch
from torch import nn

from deepsym.errors import DeepsymError
from deepsym.representations.notes4 import TIME_SCALE
from deepsym.score import NOTE_DTYPE, Score

if TYPE_CHECKING:
    from deepsym.training.checkpoint import Trained

FLOOR = 1 / 64  # beats: the shortest gap or length the inputs tell apart
INPUTS = 3  # log2 gap, log2 length, starts an onset


@dataclass(frozen=True)
class NetConfig:
    """What both nets share: the LSTM stack and the training crops (``sequence_length``
    notes each)."""

    hidden: int = 128
    layers: int = 2
    bidirectional: bool = True
    sequence_length: int = 128
    batch_size: int = 32
    learning_rate: float = 1e-3

    def __post_init__(self) -> None:
        for name in ("hidden", "layers", "sequence_length", "batch_size"):
            if getattr(self, name) < 1:
                raise ValueError(f"{name} must be at least 1, not {getattr(self, name)}")
        if not self.learning_rate > 0:
            raise ValueError(f"learning_rate must be positive, not {self.learning_rate}")

    @property
    def outputs(self) -> int:
        """Features per note out of the LSTM stack."""
        return self.hidden * (2 if self.bidirectional else 1)


@dataclass(frozen=True)
class DurationNetConfig(NetConfig):
    """Duration Net: ``stretch`` sets the training distortion's range (0.2: factors in
    80-120 %, the source material's)."""

    stretch: float = 0.2

    def __post_init__(self) -> None:
        super().__post_init__()
        if not 0 < self.stretch < 1:
            raise ValueError(f"stretch must be in (0, 1), not {self.stretch}")


def inputs(gaps: torch.Tensor, lengths: torch.Tensor) -> torch.Tensor:
    """The network's inputs ``(..., notes, 3)`` from gaps and lengths in beats."""
    floor = torch.tensor(FLOOR, dtype=gaps.dtype, device=gaps.device)
    return torch.stack([torch.log2(torch.maximum(gaps, floor)),
                        torch.log2(torch.maximum(lengths, floor)),
                        (gaps > 0).to(gaps.dtype)], dim=-1)


class DurationNet(nn.Module):
    """Bidirectional LSTM stack → ``log(original / given)`` of each note's gap and length."""

    def __init__(self, config: DurationNetConfig) -> None:
        super().__init__()
        self.lstm = nn.LSTM(INPUTS, config.hidden, config.layers, batch_first=True,
                            bidirectional=config.bidirectional)
        self.head = nn.Linear(config.outputs, 2)

    def forward(self, gaps: torch.Tensor, lengths: torch.Tensor) -> torch.Tensor:
        """Log corrections ``(batch, notes, 2)`` (gap, length) for gaps and lengths
        ``(batch, notes)`` in beats."""
        out, _ = self.lstm(inputs(gaps, lengths))
        return self.head(out)


def beats_of(notes4: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """Gaps and lengths in beats of ``notes4`` features ``(..., 4)``."""
    return notes4[..., 0] * TIME_SCALE, notes4[..., 1] * TIME_SCALE


def stretch_score(score: Score, stretch: float, seed: int = 0) -> Score:
    """``score`` distorted as Duration Net's training distorts crops: in ``notes4``'s
    order, every gap and every length times its own factor, uniform in
    ``[1 - stretch, 1 + stretch]`` (numpy, from ``seed``); drums untouched."""
    return _retimed(score, lambda gaps, lengths: np.random.default_rng(seed).uniform(
        1 - stretch, 1 + stretch, (len(gaps), 2)))


@dataclass(frozen=True)
class Merged:
    """The pitched notes of a score merged in ``notes4``'s order: ``notes`` (by onset, then
    pitch); note ``i`` of it is note ``index[i]`` of track ``owner[i]``."""

    notes: np.ndarray
    owner: np.ndarray
    index: np.ndarray

    @classmethod
    def of(cls, score: Score) -> Merged:
        tracks = [k for k, t in enumerate(score.tracks) if not t.is_drum]
        sizes = [len(score.tracks[k].notes) for k in tracks]
        owner = np.repeat(np.array(tracks, np.int64), sizes)
        index = np.concatenate([np.arange(n) for n in sizes]) if sizes else owner
        notes = np.concatenate([score.tracks[k].notes for k in tracks]) if tracks else \
            np.empty(0, NOTE_DTYPE)
        order = np.lexsort((notes["pitch"], notes["start"]))
        return cls(notes[order], owner[order], index[order])

    def written(self, score: Score, **fields: np.ndarray) -> Score:
        """``score`` with the given note fields replaced (values in this order)."""
        out = [t.notes.copy() for t in score.tracks]
        for k in np.unique(self.owner):
            mine = self.owner == k
            for name, values in fields.items():
                out[k][name][self.index[mine]] = values[mine]
        return dataclasses.replace(score, tracks=[t.replace(notes=n) for t, n in
                                                  zip(score.tracks, out, strict=True)])


def _retimed(score: Score, factors) -> Score:
    """``score`` with the gaps and lengths of its pitched notes (in ``notes4``'s order, in
    beats) multiplied by ``factors(gaps, lengths) -> (notes, 2)``; onsets rebuilt from the
    gaps, times rounded to ticks, lengths at least one tick."""
    if score.smpte is not None:
        raise DeepsymError("refine-duration re-times in beats; an SMPTE-timed score has "
                           "none (score.resample(steps) gives it beats)")
    merged = Merged.of(score)
    if not len(merged.notes):
        return score
    tpb = score.ticks_per_beat
    gaps = np.diff(merged.notes["start"].astype(np.float64) / tpb, prepend=0.0)
    lengths = merged.notes["duration"].astype(np.float64) / tpb
    factor = factors(gaps, lengths)
    return merged.written(
        score, start=np.rint(np.cumsum(gaps * factor[:, 0]) * tpb).astype(np.int64),
        duration=np.maximum(np.rint(lengths * factor[:, 1] * tpb), 1).astype(np.int64))


def rule_velocities(score: Score) -> Score:
    """``score`` with velocities set by a known rule of beat strength and melody contour,
    the synthetic check Velocity Net must recover: ``40 + 40 [on a bar line] + 20 [on a
    beat] + (pitch - the piece's mean pitch)``, clipped to 1..127 (a beat: a multiple of
    ``ticks_per_beat`` from the start)."""
    from deepsym_plugins.refine_features import bar_phase

    merged = Merged.of(score)
    start = merged.notes["start"].astype(np.int64)
    pitch = merged.notes["pitch"].astype(np.float64)
    on_bar = np.isclose(bar_phase(score, start), 0)
    on_beat = start % score.ticks_per_beat == 0
    velocity = 40 + 40 * on_bar + 20 * on_beat + (pitch - pitch.mean() if len(pitch) else 0)
    return merged.written(score, velocity=np.clip(np.rint(velocity), 1, 127).astype(np.int64))


class NetRefiner:
    """A trained net (a run's ``Trained``) as a refiner (``deepsym.refining``)."""

    name: str

    def __init__(self, trained: Trained) -> None:
        self.model = trained.model
        self.device = trained.device


class DurationRefiner(NetRefiner):
    """Duration Net re-timing every pitched note's gap and length."""

    name = "refine-duration"

    def refine(self, score: Score) -> Score:
        return _retimed(score, self.factors)

    def factors(self, gaps: np.ndarray, lengths: np.ndarray) -> np.ndarray:
        """The predicted factors ``(notes, 2)`` for gaps and lengths in beats."""
        def tensor(values: np.ndarray) -> torch.Tensor:
            return torch.as_tensor(values[None], dtype=torch.float32, device=self.device)

        with torch.no_grad():
            correction = self.model(tensor(gaps), tensor(lengths))[0]
        return np.exp(correction.double().cpu().numpy())


# -- Velocity Net ----------------------------------------------------------------------------


@dataclass(frozen=True)
class VelocityNetConfig(NetConfig):
    """Velocity Net, on ``notes-meter`` crops (notes and bar phases)."""


class VelocityNet(nn.Module):
    """Bidirectional LSTM stack → each note's velocity / 127, from its gap and length
    (``inputs``), its pitch and its bar phase (as a point on the circle)."""

    def __init__(self, config: VelocityNetConfig) -> None:
        super().__init__()
        self.lstm = nn.LSTM(INPUTS + 3, config.hidden, config.layers, batch_first=True,
                            bidirectional=config.bidirectional)
        self.head = nn.Linear(config.outputs, 1)

    def forward(self, features: torch.Tensor) -> torch.Tensor:
        """Velocities / 127 ``(batch, notes)`` for ``notes-meter`` features
        ``(batch, notes, 5)`` (their velocity column is not read)."""
        gaps, lengths = beats_of(features)
        angle = 2 * torch.pi * features[..., 4]
        x = torch.cat([inputs(gaps, lengths), features[..., 2:3], torch.cos(angle)[..., None],
                       torch.sin(angle)[..., None]], dim=-1)
        out, _ = self.lstm(x)
        return torch.sigmoid(self.head(out)[..., 0])


class VelocityRefiner(NetRefiner):
    """Velocity Net: every pitched note gets the velocity it predicts (1..127); nothing
    else changes."""

    name = "refine-velocity"

    def refine(self, score: Score) -> Score:
        from deepsym_plugins.refine_features import NotesMeter

        merged = Merged.of(score)
        if not len(merged.notes):
            return score
        features = torch.as_tensor(NotesMeter().encode(score)[None], device=self.device)
        with torch.no_grad():
            predicted = self.model(features)[0].double().cpu().numpy()
        velocity = np.clip(np.rint(predicted * 127), 1, 127).astype(np.int64)
        return merged.written(score, velocity=velocity)
