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
        mode those of the global batch are folded into the model's ``condition_mean``."""
        if not self.config.conditions:
            return None
        condition = batch.get("condition")
        if condition is None:
            raise DeepsymError(
                f"a conditional model (conditions {', '.join(self.config.conditions)}) "
                "needs batches with a 'condition': load the data with the representation "
                "of config.make_representation()")
        if self.model.training:
            self.network.core.remember(self.global_rows(condition))
        return condition

    def mle_step(self, batch: dict[str, Any]) -> torch.Tensor:
        """The loss over the global batch (under data parallelism, every process's)."""
        return self.loss(batch)

    def validation_loss(self, batch: dict[str, Any]) -> torch.Tensor:
        return self.loss(batch, local=True)

    def loss(self, batch: dict[str, Any], *, local: bool = False) -> torch.Tensor:
        """Cross-entropy per token, a mean over the real tokens of the global batch (the
        processes' crops hold different numbers of them), or of this batch alone with
        ``local`` (validation, whose batches the processes do not share)."""
        nll = self.model(batch["x"], self.condition(batch))
        mask = batch["mask"].to(nll.dtype)
        total, count = (nll * mask).sum(), mask.sum()
        return total / count if local else self.global_mean(total, count)


class PianorollRNNTrainer(RNNTrainer):
    """Per-key BCE with truncated backpropagation through time.

    A batch is cut into windows of ``config.tbptt`` frames; the LSTM state goes from one
    window to the next detached, so gradients reach at most ``tbptt`` frames back. The
    windows' losses are summed into one loss (one optimizer update per batch). With
    ``config.gradient_checkpointing`` each window keeps only its input state and its
    loss; its activations are recomputed in the backward pass (the same gradients, in
    less memory, for more time).
    """

    def loss(self, batch: dict[str, Any], *, local: bool = False) -> torch.Tensor:
        """Binary cross-entropy per key and real frame, a mean over the global batch (or
        this batch alone with ``local``)."""
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
        count = mask.sum() * frames.shape[-1]
        return total / count if local else self.global_mean(total, count)

    def window_loss(self, inputs: torch.Tensor, targets: torch.Tensor, mask: torch.Tensor,
                    state: Any, condition: torch.Tensor | None) -> tuple[torch.Tensor, Any]:
        """Summed BCE over the window's real frames and keys, and the state after it."""
        logits, state = self.model(inputs, state, condition)
        bce = F.binary_cross_entropy_with_logits(logits, targets, reduction="none")
        return (bce.sum(-1) * mask).sum(), state
