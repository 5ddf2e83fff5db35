"""The model: a frozen config and the nn.Module it builds, nothing else."""
from __future__ import annotations

from dataclasses import dataclass

import torch
from torch import nn


@dataclass(frozen=True)
class MelodyConfig:
    """Architecture and training fields; saved with every checkpoint."""

    vocab_size: int = 130
    embedding: int = 32
    hidden: int = 64
    layers: int = 1
    sequence_length: int = 32
    batch_size: int = 8
    learning_rate: float = 3e-3
    steps: int = 60


class MelodyLSTM(nn.Module):
    """Next-token logits over melody tokens: embedding, LSTM, linear head."""

    def __init__(self, config: MelodyConfig) -> None:
        super().__init__()
        self.embed = nn.Embedding(config.vocab_size, config.embedding)
        self.lstm = nn.LSTM(config.embedding, config.hidden, config.layers, batch_first=True)
        self.head = nn.Linear(config.hidden, config.vocab_size)

    def forward(self, tokens: torch.Tensor,
                state: tuple[torch.Tensor, torch.Tensor] | None = None
                ) -> tuple[torch.Tensor, tuple[torch.Tensor, torch.Tensor]]:
        """Logits ``(batch, steps, vocab)`` for tokens ``(batch, steps)``, and the state."""
        out, state = self.lstm(self.embed(tokens), state)
        return self.head(out), state
