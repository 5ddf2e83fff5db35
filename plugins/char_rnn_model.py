"""Char-RNN, its note-duration variant and pianoroll-rnn: frozen configs and nn.Modules.

Every model reads its events one step at a time through a stacked LSTM and exposes the
two methods ``deepsym.sampling.IncrementalSampler`` needs: ``start(batch)`` (the input
before the first event) and ``step(inputs, state, condition) -> (logits, state)``.
Training predicts every event of a crop from the events before it, the first from the
start input (crops are random windows, so it learns where a window may begin); the
token models' ``forward(tokens, condition)`` gives each token's negative log-likelihood
(through ``forward``, so that DistributedDataParallel sees the training pass).

Conditional models (``conditions`` not empty) concatenate the piece's condition vector
(``deepsym.representations.CONDITIONS``: pitch-class histogram, mean pitch, density)
to the input of every step, and keep the mean condition vector of the training pieces
they saw (``condition_mean``), which sampling uses for features it is not given. The
one-value features are scaled to the training corpus's range (``condition_ranges``,
measured when training starts), and ``char-rnn-conditional`` trains on transposed
pieces, so that the key and the pitch height it hears are the ones its condition says.
"""
from __future__ import annotations

import math
from abc import ABC, abstractmethod
from dataclasses import dataclass, replace
from typing import TYPE_CHECKING, Any, Literal

import torch
from torch import nn
from torch.nn import functional as F

from deepsym.errors import DeepsymError
from deepsym.representations.base import CONDITIONS, Representation
from deepsym.representations.events import Events
from deepsym.representations.note_duration import PITCH_TOKENS, NoteDuration
from deepsym.representations.pianoroll_rep import Pianoroll
from deepsym.representations.remi import Remi

if TYPE_CHECKING:
    from deepsym.data.corpus import Corpus

State = Any  # an LSTM's (h, c), with the attention memory for NoteDurationRNN


@dataclass(frozen=True)
class RNNConfig(ABC):
    """What the three models share: the LSTM stack, conditions and training fields.

    ``conditions``: condition feature names (empty: an unconditional model).
    ``condition_ranges``: ``(feature, low, high)`` scaling each one-value feature to
    0..1 over its range (empty: measured on the train split when training starts,
    ``deepsym.data.fit.condition_ranges``). ``sequence_length`` / ``batch_size``: crops
    per training batch; ``learning_rate``: the optimizer's (these three are the training
    options' defaults for the model; how long it trains is the run's budget).
    """

    embedding: int = 64
    hidden: int = 512
    layers: int = 3
    dropout: float = 0.0
    conditions: tuple[str, ...] = ()
    condition_ranges: tuple[tuple[str, float, float], ...] = ()
    sequence_length: int = 256
    batch_size: int = 32
    learning_rate: float = 2e-3

    def __post_init__(self) -> None:
        for name in ("embedding", "hidden", "layers", "sequence_length", "batch_size"):
            if getattr(self, name) < 1:
                raise ValueError(f"{name} must be at least 1, not {getattr(self, name)}")
        if not 0 <= self.dropout < 1:
            raise ValueError(f"dropout must be in [0, 1), not {self.dropout}")
        if not self.learning_rate > 0:
            raise ValueError(f"learning_rate must be positive, not {self.learning_rate}")
        unknown = [c for c in self.conditions if c not in CONDITIONS]
        if unknown:
            raise ValueError(f"unknown condition {unknown[0]!r}; conditions are: "
                             f"{', '.join(CONDITIONS)}")
        try:
            self.make_representation()  # checks the representation's options
        except DeepsymError as exc:
            raise ValueError(str(exc)) from None

    @abstractmethod
    def make_representation(self) -> Representation:
        """The representation the model reads, with its options and conditions."""

    def scaled(self, representation: Representation) -> Representation:
        """``representation`` scaling its condition features by ``condition_ranges``."""
        return representation.with_condition_ranges(
            {name: (low, high) for name, low, high in self.condition_ranges})

    def for_corpus(self, corpus: Corpus) -> RNNConfig:
        """The config with the condition ranges of ``corpus``'s train split, unless it
        has them (or reads no conditions)."""
        if not self.conditions or self.condition_ranges:
            return self
        from deepsym.data.fit import condition_ranges

        return replace(self, condition_ranges=condition_ranges(corpus, self.conditions))

    @property
    def condition_size(self) -> int:
        return sum(CONDITIONS[c][1] for c in self.conditions)


@dataclass(frozen=True)
class CharRNNConfig(RNNConfig):
    """Char-RNN over event tokens; the representations' options are fields here.

    ``vocabulary``: ``events`` (NOTE_ON/OFF, TIME_SHIFT and VELOCITY tokens on a grid of
    ``resolution`` steps per ``unit``: 10 ms by default, for performed music), ``remi``
    (bars, positions and durations in ``steps_per_beat`` steps per beat, bars and notes
    up to ``max_beats`` beats: for notated music) or ``auto``: ``remi`` on the grid of a
    notated corpus, else ``events``, decided when training starts
    (``deepsym.data.fit.notated_grid``; until then ``auto`` reads as ``events``).
    """

    vocabulary: Literal["auto", "events", "remi"] = "auto"
    unit: str = "second"
    resolution: int = 100
    max_shift: int = 100
    velocity_bins: int = 32
    steps_per_beat: int = 4
    max_beats: int = 8

    def make_representation(self) -> Representation:
        if self.vocabulary == "remi":
            return self.scaled(Remi(self.steps_per_beat, self.max_beats, self.velocity_bins,
                                    conditions=self.conditions))
        return self.scaled(Events(self.unit, self.resolution, self.max_shift,
                                  self.velocity_bins, conditions=self.conditions))

    def for_corpus(self, corpus: Corpus) -> CharRNNConfig:
        """``auto`` resolved for ``corpus`` (and the condition ranges measured)."""
        config = super().for_corpus(corpus)
        if config.vocabulary != "auto":
            return config
        from deepsym.data.fit import notated_grid

        grid = notated_grid(corpus)
        return replace(config, vocabulary="events") if grid is None else \
            replace(config, vocabulary="remi", steps_per_beat=grid)


@dataclass(frozen=True)
class ConditionalCharRNNConfig(CharRNNConfig):
    """Char-RNN conditioned on all three condition features by default, trained on
    pieces transposed by -6..+5 semitones (every key, each piece within the voices'
    range; the training option ``transpose``), so that only the condition tells it the
    key and the pitch height."""

    conditions: tuple[str, ...] = ("pitch_classes", "mean_pitch", "density")
    transpose: tuple[int, int] = (-6, 5)


@dataclass(frozen=True)
class NoteDurationRNNConfig(RNNConfig):
    """The note-duration variant: two input streams, an optional attention head over
    the last ``attention_window`` hidden states, two output heads."""

    steps_per_beat: int = 4
    max_duration: int = 32
    duration_embedding: int = 32
    attention: bool = True
    attention_window: int = 64

    def __post_init__(self) -> None:
        super().__post_init__()
        if self.duration_embedding < 1 or self.attention_window < 1:
            raise ValueError("duration_embedding and attention_window must be at least 1")

    def make_representation(self) -> Representation:
        return self.scaled(NoteDuration(self.steps_per_beat, self.max_duration,
                                        conditions=self.conditions))


@dataclass(frozen=True)
class PianorollRNNConfig(RNNConfig):
    """pianoroll-rnn: many-hot frames of pitches ``pitch_low`` .. ``pitch_high - 1``.

    ``tbptt``: frames per window of truncated backpropagation through time;
    ``gradient_checkpointing``: recompute each window's activations in the backward pass
    instead of keeping them (memory for time, for long songs).
    """

    steps_per_beat: int = 4
    pitch_low: int = 21
    pitch_high: int = 109
    sequence_length: int = 512
    batch_size: int = 16
    tbptt: int = 64
    gradient_checkpointing: bool = False

    def __post_init__(self) -> None:
        super().__post_init__()
        if not 0 <= self.pitch_low < self.pitch_high <= 128:
            raise ValueError(f"need 0 <= pitch_low < pitch_high <= 128, got "
                             f"{self.pitch_low}, {self.pitch_high}")
        if self.tbptt < 1:
            raise ValueError(f"tbptt must be at least 1, not {self.tbptt}")

    def make_representation(self) -> Representation:
        return self.scaled(Pianoroll(self.steps_per_beat, (self.pitch_low, self.pitch_high),
                                     conditions=self.conditions))


class ConditionedLSTM(nn.Module):
    """An LSTM stack whose every step reads its input concatenated with the condition
    vector, and whose every output gets a projection of the condition added (a path
    around the recurrence, so that the heads can follow the condition from the first
    updates: a key is a bias on the pitches, before it is a way of moving); keeps the
    running mean of the condition vectors it was trained on."""

    def __init__(self, input_size: int, config: RNNConfig) -> None:
        super().__init__()
        self.condition_size = config.condition_size
        self.lstm = nn.LSTM(input_size + self.condition_size, config.hidden, config.layers,
                            batch_first=True, dropout=config.dropout if config.layers > 1 else 0)
        self.around = nn.Linear(self.condition_size, config.hidden) \
            if self.condition_size else None
        self.register_buffer("condition_mean", torch.zeros(self.condition_size))
        self.register_buffer("conditions_seen", torch.zeros((), dtype=torch.int64))

    def forward(self, x: torch.Tensor, state: State | None,
                condition: torch.Tensor | None) -> tuple[torch.Tensor, State]:
        """``x`` ``(batch, steps, input_size)``, ``condition`` ``(batch, condition_size)``
        (None for an unconditional model); the outputs ``(batch, steps, hidden)``."""
        if self.condition_size:
            if condition is None or condition.shape[-1] != self.condition_size:
                got = "none" if condition is None else f"{condition.shape[-1]} values"
                raise ValueError(f"the model needs a condition vector of "
                                 f"{self.condition_size} values, got {got}")
            condition = condition.to(x.dtype)
            x = torch.cat([x, condition[:, None].expand(-1, x.shape[1], -1)], dim=-1)
        out, state = self.lstm(x, state)
        if self.around is not None:
            out = out + self.around(condition)[:, None]
        return out, state

    @torch.no_grad()
    def remember(self, condition: torch.Tensor) -> None:
        """Fold a batch of condition vectors ``(batch, condition_size)`` into the mean."""
        total = self.conditions_seen + len(condition)
        self.condition_mean += (condition.sum(0) - len(condition) * self.condition_mean) / total
        self.conditions_seen.copy_(total)


class CharRNN(nn.Module):
    """Token embedding (plus a start token), conditioned LSTM stack, linear head."""

    def __init__(self, config: CharRNNConfig) -> None:
        super().__init__()
        self.vocab_size = config.make_representation().spec.vocab_size
        self.embed = nn.Embedding(self.vocab_size + 1, config.embedding)
        self.core = ConditionedLSTM(config.embedding, config)
        self.head = nn.Linear(config.hidden, self.vocab_size)

    @property
    def condition_mean(self) -> torch.Tensor:
        return self.core.condition_mean

    def start(self, batch: int) -> torch.Tensor:
        """The start token (index ``vocab_size``), ``(batch, 1)``."""
        return torch.full((batch, 1), self.vocab_size, device=self.head.weight.device)

    def step(self, tokens: torch.Tensor, state: State | None = None,
             condition: torch.Tensor | None = None) -> tuple[torch.Tensor, State]:
        """Next-token logits ``(batch, steps, vocab_size)`` for tokens ``(batch, steps)``."""
        out, state = self.core(self.embed(tokens), state, condition)
        return self.head(out), state

    def forward(self, tokens: torch.Tensor, condition: torch.Tensor | None = None
                ) -> torch.Tensor:
        """``-log p(token | the tokens before it)`` for every token, ``(batch, steps)``."""
        logits, _ = self.step(_after_start(self.start(len(tokens)), tokens), None, condition)
        return F.cross_entropy(logits.transpose(1, 2), tokens, reduction="none")


class WindowAttention(nn.Module):
    """Scaled dot-product attention of each hidden state over the last ``window``
    hidden states (itself included); the memory of earlier states is the state."""

    def __init__(self, hidden: int, window: int) -> None:
        super().__init__()
        self.window = window
        self.query = nn.Linear(hidden, hidden)
        self.key = nn.Linear(hidden, hidden)
        self.value = nn.Linear(hidden, hidden)

    def forward(self, out: torch.Tensor, memory: torch.Tensor | None
                ) -> tuple[torch.Tensor, torch.Tensor]:
        """Contexts ``(batch, steps, hidden)`` for ``out`` ``(batch, steps, hidden)``,
        and the memory to keep (the last ``window - 1`` states)."""
        past = out if memory is None else torch.cat([memory, out], dim=1)
        kept = len(past[0]) - len(out[0])
        scores = self.query(out) @ self.key(past).transpose(1, 2) / math.sqrt(out.shape[-1])
        at = torch.arange(len(out[0]), device=out.device)[:, None] + kept
        to = torch.arange(len(past[0]), device=out.device)[None]
        scores = scores.masked_fill((to > at) | (to <= at - self.window), float("-inf"))
        context = torch.softmax(scores, dim=-1) @ self.value(past)
        return context, past[:, max(0, len(past[0]) - (self.window - 1)):]


class NoteDurationRNN(nn.Module):
    """Two token streams in (pitch, duration), an optional attention head, two heads out.

    Reads and returns combined note-duration tokens ``pitch * max_duration + duration``.
    ``p(pitch, duration | past) = p(pitch | past) * p(duration | pitch, past)``: the
    pitch head reads the features; the duration head reads them too, plus a learned
    bias per pitch (a time shift and a note have different durations).
    """

    def __init__(self, config: NoteDurationRNNConfig) -> None:
        super().__init__()
        self.max_duration = config.max_duration
        self.start_token = PITCH_TOKENS * config.max_duration
        self.pitch_embed = nn.Embedding(PITCH_TOKENS + 1, config.embedding)
        self.duration_embed = nn.Embedding(config.max_duration + 1, config.duration_embedding)
        self.core = ConditionedLSTM(config.embedding + config.duration_embedding, config)
        self.attention = WindowAttention(config.hidden, config.attention_window) \
            if config.attention else None
        features = config.hidden * (2 if config.attention else 1)
        self.pitch_head = nn.Linear(features, PITCH_TOKENS)
        self.duration_head = nn.Linear(features, config.max_duration)
        self.duration_given_pitch = nn.Embedding(PITCH_TOKENS, config.max_duration)
        nn.init.zeros_(self.duration_given_pitch.weight)  # biases start neutral

    @property
    def condition_mean(self) -> torch.Tensor:
        return self.core.condition_mean

    def start(self, batch: int) -> torch.Tensor:
        """The start token (pitch 129, duration ``max_duration``), ``(batch, 1)``."""
        return torch.full((batch, 1), self.start_token, device=self.pitch_head.weight.device)

    def features(self, tokens: torch.Tensor, state: State | None,
                 condition: torch.Tensor | None) -> tuple[torch.Tensor, State]:
        """What the heads read, ``(batch, steps, features)``, and the state."""
        pitch, duration = tokens // self.max_duration, tokens % self.max_duration
        duration = torch.where(tokens == self.start_token, self.max_duration, duration)
        x = torch.cat([self.pitch_embed(pitch), self.duration_embed(duration)], dim=-1)
        lstm_state, memory = state if state is not None else (None, None)
        out, lstm_state = self.core(x, lstm_state, condition)
        if self.attention is None:
            return out, (lstm_state, None)
        context, memory = self.attention(out, memory)
        return torch.cat([out, context], dim=-1), (lstm_state, memory)

    def step(self, tokens: torch.Tensor, state: State | None = None,
             condition: torch.Tensor | None = None) -> tuple[torch.Tensor, State]:
        """Log-probabilities of every next combined token, ``(batch, steps, 129 *
        max_duration)``, for combined tokens ``(batch, steps)``."""
        features, state = self.features(tokens, state, condition)
        pitch = torch.log_softmax(self.pitch_head(features), dim=-1)
        duration = self.duration_head(features)[..., None, :] + self.duration_given_pitch.weight
        joint = pitch[..., None] + torch.log_softmax(duration, dim=-1)
        return joint.flatten(-2), state

    def forward(self, tokens: torch.Tensor, condition: torch.Tensor | None = None
                ) -> torch.Tensor:
        """``-log p(pitch) - log p(duration | pitch)`` of every element, ``(batch, steps)``
        (the cross-entropy of the combined token)."""
        features, _ = self.features(_after_start(self.start(len(tokens)), tokens), None,
                                    condition)
        pitch, duration = tokens // self.max_duration, tokens % self.max_duration
        pitch_loss = F.cross_entropy(self.pitch_head(features).transpose(1, 2), pitch,
                                     reduction="none")
        duration_logits = self.duration_head(features) + self.duration_given_pitch(pitch)
        return pitch_loss + F.cross_entropy(duration_logits.transpose(1, 2), duration,
                                            reduction="none")


class PianorollRNN(nn.Module):
    """Many-hot frames in, one logit per key out (trained with per-key BCE)."""

    def __init__(self, config: PianorollRNNConfig) -> None:
        super().__init__()
        self.keys = config.pitch_high - config.pitch_low
        self.project = nn.Linear(self.keys, config.embedding)
        self.core = ConditionedLSTM(config.embedding, config)
        self.head = nn.Linear(config.hidden, self.keys)

    @property
    def condition_mean(self) -> torch.Tensor:
        return self.core.condition_mean

    def start(self, batch: int) -> torch.Tensor:
        """A silent frame, ``(batch, 1, keys)``: what comes before the first frame."""
        return torch.zeros(batch, 1, self.keys, device=self.head.weight.device)

    def forward(self, frames: torch.Tensor, state: State | None = None,
                condition: torch.Tensor | None = None) -> tuple[torch.Tensor, State]:
        """Next-frame logits ``(batch, steps, keys)`` for frames ``(batch, steps, keys)``."""
        out, state = self.core(self.project(frames), state, condition)
        return self.head(out), state

    step = forward


def _after_start(start: torch.Tensor, events: torch.Tensor) -> torch.Tensor:
    """The model's inputs for predicting ``events``: the start, then all but the last."""
    return torch.cat([start.to(events.dtype), events[:, :-1]], dim=1)
