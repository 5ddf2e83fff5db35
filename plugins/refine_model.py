"""Refine Net's two networks and their refiners. Duration Net undoes random stretches
of note lengths and rests, and its refiner re-times any piece with it.

The notes of a piece (drums left out, all tracks merged, by start then pitch: ``notes4``'s
order) are read as a sequence of three inputs per note: the time since the previous
note began (its "gap"; 0 inside a chord) and its length, both as ``log2`` of beats
(floored at 1/64 beat), and whether it starts a new onset. A bidirectional LSTM stack
gives, per note, the odds of each original gap and each original length as a whole
number of grid steps (``grid`` steps per beat, 1 to ``max_steps`` of them). Training
(``refine_train``) stretches every gap and every length of real crops by its own
factor, uniform in ``[1 - stretch, 1 + stretch]``, and asks for the originals back.

Refining a piece gives each gap and length its likeliest number of steps among those a
stretch could have come from (``possible``) and rebuilds the onsets from the gaps, so
every onset and length lands on the grid (the meter's subdivisions: on the beat grid
from the piece's start), chords stay chords, notes keep their order in time, and
pitches, velocities and tracks do not change (``deepsym.refining``'s invariants). A gap
or length outside the net's range (longer than ``max_steps``, shorter than half a step)
is rounded to the grid. The first Duration Net regressed a free stretch factor
instead; on held-out chorales stretched in 80-120 % it left length errors of 0.022
beats (the classes: 0.0044) and 12 % of onsets on the 1/16 grid, each gap's small error
adding up along the piece.
"""
from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from typing import TYPE_CHECKING

import numpy as np
import torch
from torch import nn

from deepsym.data.fit import TOLERANCE
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
    80-120 %, the source material's); gaps and lengths are predicted in steps of
    1/``grid`` beat (4: sixteenth notes), at most ``max_steps`` of them."""

    stretch: float = 0.2
    grid: int = 4
    max_steps: int = 32  # 8 beats at 4 steps per beat

    def __post_init__(self) -> None:
        super().__post_init__()
        if not 0 < self.stretch < 1:
            raise ValueError(f"stretch must be in (0, 1), not {self.stretch}")
        for name in ("grid", "max_steps"):
            if getattr(self, name) < 1:
                raise ValueError(f"{name} must be at least 1, not {getattr(self, name)}")


def inputs(gaps: torch.Tensor, lengths: torch.Tensor) -> torch.Tensor:
    """The network's inputs ``(..., notes, 3)`` from gaps and lengths in beats."""
    floor = torch.tensor(FLOOR, dtype=gaps.dtype, device=gaps.device)
    return torch.stack([torch.log2(torch.maximum(gaps, floor)),
                        torch.log2(torch.maximum(lengths, floor)),
                        (gaps > 0).to(gaps.dtype)], dim=-1)


class DurationNet(nn.Module):
    """Bidirectional LSTM stack → for each note, logits of its original gap and length
    being 1, 2, .. ``max_steps`` grid steps."""

    def __init__(self, config: DurationNetConfig) -> None:
        super().__init__()
        self.max_steps = config.max_steps
        self.lstm = nn.LSTM(INPUTS, config.hidden, config.layers, batch_first=True,
                            bidirectional=config.bidirectional)
        self.head = nn.Linear(config.outputs, 2 * config.max_steps)

    def forward(self, gaps: torch.Tensor, lengths: torch.Tensor) -> torch.Tensor:
        """Logits ``(batch, notes, 2, max_steps)`` (gap, length; class ``k``: ``k + 1``
        steps) for gaps and lengths ``(batch, notes)`` in beats."""
        out, _ = self.lstm(inputs(gaps, lengths))
        return self.head(out).unflatten(-1, (2, self.max_steps))


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
        self.model, self.config, self.device = trained.model, trained.config, trained.device


class DurationRefiner(NetRefiner):
    """Duration Net re-timing every pitched note's gap and length on its grid."""

    name = "refine-duration"

    def refine(self, score: Score) -> Score:
        return _retimed(score, self.factors)

    def factors(self, gaps: np.ndarray, lengths: np.ndarray) -> np.ndarray:
        """The factors ``(notes, 2)`` that take gaps and lengths in beats to the
        likeliest grid values the stretch allows (``possible``, ``snap``)."""
        def tensor(values: np.ndarray) -> torch.Tensor:
            return torch.as_tensor(values[None], dtype=torch.float32, device=self.device)

        with torch.no_grad():
            logits = self.model(tensor(gaps), tensor(lengths))[0].double().cpu().numpy()
        given = np.stack([gaps, lengths], axis=-1)
        c = self.config
        logits[~possible(given, c.grid, c.max_steps, c.stretch)] = -np.inf
        wanted = snap(given, logits.argmax(-1) + 1, c.grid, c.max_steps)
        return np.divide(wanted, given, out=np.ones_like(given), where=given > 0)


def possible(given: np.ndarray, grid: int, max_steps: int, stretch: float) -> np.ndarray:
    """Which step counts ``1..max_steps`` (last axis) each of ``given`` (beats, any
    shape) may have been before a stretch by a factor in ``[1 - stretch, 1 + stretch]``,
    the nearest step count always included. The net's odds are read among these only:
    it learned from such stretches alone, and a rare value (a rest of 2.5 beats, which
    chorales seldom have between onsets) could otherwise come back as a common one
    (half a beat), moving every later onset."""
    steps = np.arange(1, max_steps + 1)
    scaled = given[..., None] * grid
    nearest = np.clip(np.rint(scaled), 1, max_steps)
    return ((steps >= scaled / (1 + stretch) - 1e-6) & (steps <= scaled / (1 - stretch) + 1e-6)
            | (steps == nearest))


def snap(given: np.ndarray, steps: np.ndarray, grid: int, max_steps: int) -> np.ndarray:
    """Gaps and lengths ``given`` in beats ``(notes, 2)`` set to the net's ``steps``
    (grid steps, same shape). A value already on the grid (within ``TOLERANCE`` of a
    step, as corpus fitting counts it) keeps its step: a piece in time stays in time,
    whatever the net would find likelier (it learned from stretched values, which are
    almost never on the grid; a generated rest of 2.5 beats came back as 3, moving every
    later onset off its place against the bars). A value outside the net's range is
    rounded to the grid too: over ``max_steps`` steps, or under half a step (a gap: 0,
    the previous note's onset, so near-simultaneous notes become a chord; a length: 1
    step)."""
    scaled = given * grid
    rounded = np.rint(scaled)
    kept = (scaled > max_steps + 0.5) | (scaled < 0.5) | (np.abs(scaled - rounded) <= TOLERANCE)
    rounded[:, 1] = np.maximum(rounded[:, 1], 1)
    return np.where(kept, rounded, steps) / grid


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
