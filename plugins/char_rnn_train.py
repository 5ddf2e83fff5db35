"""Training Char-RNN and pianoroll-rnn: one phase of maximum likelihood (teacher forcing).

Batches are ``deepsym.data.loaders.collate``'s dicts: ``x`` (the crops), ``mask``
(real steps) and, for a conditional model, ``condition`` (each piece's vector). The
loss is the mean over real steps: cross-entropy per token (nats) for the token models,
binary cross-entropy per key and frame for pianoroll-rnn.
"""
from __future__ import annotations

from typing import Any

import torch
from torch.nn import functional as F
from torch.utils.checkpoint import checkpoint

from deepsym.errors import DeepsymError
from deepsym.training import Phase, Trainer, Update


class RNNTrainer(Trainer):
    """Teacher forcing: every token predicted from the ones before it, one phase until
    the run's budget ends. The optimizer is the training options' (``learning_rate`` and
    ``batch_size`` default to the config's)."""

    def phases(self) -> list[Phase]:
        return [Phase("mle", None, (Update("mle_step", "model"),))]

    @property
    def network(self) -> torch.nn.Module:
        """The model itself (unwrapped from DistributedDataParallel)."""
        return getattr(self.model, "module", self.model)

    def condition(self, batch: dict[str, Any]) -> torch.Tensor | None:
        """The batch's condition vectors (None for an unconditional model); in training
        mode they are folded into the model's ``condition_mean``."""
        if not self.config.conditions:
            return None
        condition = batch.get("condition")
        if condition is None:
            raise DeepsymError(
                f"a conditional model (conditions {', '.join(self.config.conditions)}) "
                "needs batches with a 'condition': load the data with the representation "
                "of config.make_representation()")
        if self.model.training:
            self.network.core.remember(condition)
        return condition

    def mle_step(self, batch: dict[str, Any]) -> torch.Tensor:
        """Cross-entropy per token over the batch's real tokens."""
        nll = self.model(batch["x"], self.condition(batch))
        mask = batch["mask"].to(nll.dtype)
        return (nll * mask).sum() / mask.sum()


class PianorollRNNTrainer(RNNTrainer):
    """Per-key BCE with truncated backpropagation through time.

    A batch is cut into windows of ``config.tbptt`` frames; the LSTM state goes from one
    window to the next detached, so gradients reach at most ``tbptt`` frames back. The
    windows' losses are summed into one loss (one optimizer update per batch). With
    ``config.gradient_checkpointing`` each window keeps only its input state and its
    loss; its activations are recomputed in the backward pass (the same gradients, in
    less memory, for more time).
    """

    def mle_step(self, batch: dict[str, Any]) -> torch.Tensor:
        """Mean binary cross-entropy per key and real frame."""
        frames = batch["x"].float()
        mask = batch["mask"].to(frames.dtype)
        condition = self.condition(batch)
        inputs = torch.cat([self.network.start(len(frames)), frames[:, :-1]], dim=1)
        total = frames.new_zeros(())
        state = None
        for at in range(0, frames.shape[1], self.config.tbptt):
            window = slice(at, at + self.config.tbptt)
            if state is not None:
                state = tuple(s.detach() for s in state)
            arguments = (inputs[:, window], frames[:, window], mask[:, window], state, condition)
            if self.config.gradient_checkpointing:
                loss, state = checkpoint(self.window_loss, *arguments, use_reentrant=False)
            else:
                loss, state = self.window_loss(*arguments)
            total = total + loss
        return total / (mask.sum() * frames.shape[-1])

    def window_loss(self, inputs: torch.Tensor, targets: torch.Tensor, mask: torch.Tensor,
                    state: Any, condition: torch.Tensor | None) -> tuple[torch.Tensor, Any]:
        """Summed BCE over the window's real frames and keys, and the state after it."""
        logits, state = self.model(inputs, state, condition)
        bce = F.binary_cross_entropy_with_logits(logits, targets, reduction="none")
        return (bce.sum(-1) * mask).sum(), state
