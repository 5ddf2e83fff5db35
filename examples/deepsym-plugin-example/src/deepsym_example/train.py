"""Training: batches of token windows and the maximum-likelihood trainer."""
from __future__ import annotations

import numpy as np
import torch
from torch.nn import functional as F

from deepsym.training import Phase, Trainer, Update
from deepsym_example.model import MelodyConfig


def token_windows(pieces: list[np.ndarray], config: MelodyConfig, batches: int,
                  seed: int = 0) -> list[torch.Tensor]:
    """``batches`` tensors ``(batch_size, sequence_length + 1)`` of windows cut at random
    places from the pieces (a piece shorter than a window is padded with rests)."""
    rng = np.random.default_rng(seed)
    width = config.sequence_length + 1
    padded = [np.pad(p, (0, max(0, width - len(p)))) for p in pieces if len(p)]
    if not padded:
        raise ValueError("no melody tokens to train on")

    def window(piece: np.ndarray, fraction: float) -> np.ndarray:
        start = int(fraction * (len(piece) - width + 1))
        return piece[start:start + width]

    out = [np.stack([window(padded[i], f) for i, f in zip(
        rng.integers(len(padded), size=config.batch_size), rng.random(config.batch_size),
        strict=True)]) for _ in range(batches)]
    return [torch.from_numpy(b) for b in out]


class MelodyTrainer(Trainer):
    """Teacher forcing: predict every next token; one phase, one optimizer."""

    def configure_optimizers(self) -> dict[str, torch.optim.Optimizer]:
        return {"model": torch.optim.Adam(self.model.parameters(),
                                          lr=self.config.learning_rate)}

    def phases(self) -> list[Phase]:
        return [Phase("mle", self.config.steps, (Update("mle_step", "model"),))]

    def mle_step(self, batch: torch.Tensor | dict[str, torch.Tensor]) -> torch.Tensor:
        """Mean cross-entropy of every next token. ``batch``: token windows, or the padded
        dict ``deepsym train`` collates (``x`` and ``mask``; padding is not scored)."""
        tokens = batch["x"] if isinstance(batch, dict) else batch
        targets = tokens[:, 1:]
        if isinstance(batch, dict):
            targets = targets.masked_fill(~batch["mask"][:, 1:], -100)  # ignored
        logits, _ = self.model(tokens[:, :-1])
        return F.cross_entropy(logits.reshape(-1, logits.shape[-1]), targets.reshape(-1))
