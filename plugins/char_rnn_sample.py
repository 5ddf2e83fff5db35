"""Sampling Char-RNN and pianoroll-rnn step by step, the LSTM state carried along."""
from __future__ import annotations

import torch

from deepsym.sampling import CONTROLS, IncrementalSampler, choose, choose_many


class TokenSampler(IncrementalSampler):
    """One token per step, drawn with temperature, top-k and top-p (char-rnn and its
    note-duration variant, whose tokens are combined pitch-duration pairs). No
    model-specific options."""

    def draw(self, logits: torch.Tensor) -> torch.Tensor:
        return choose(logits, self.controls, self.rng)


class PianorollSampler(IncrementalSampler):
    """One many-hot frame per step: each key on with its own probability (temperature,
    top-k: at most k keys at once; top-p has no meaning for independent keys)."""

    follows = frozenset(CONTROLS) - {"top_p"}

    def draw(self, logits: torch.Tensor) -> torch.Tensor:
        return choose_many(logits, self.controls, self.rng)
