"""Training Duration Net: real ``notes4`` crops, each gap and length stretched by its own
random factor, the network asked for the original ones in grid steps.

The factors ``1 + stretch * (2u - 1)`` come from the trainer's rng, drawn for the global
batch (each process keeps its rows), so a resumed run and N processes draw what one
uninterrupted process would. The loss is the cross-entropy of the original number of
steps (rounded to the grid, at least 1) over the real notes' lengths and over the gaps
that are not 0 (inside a chord the gap is 0 whatever the stretch), values beyond
``max_steps`` left out; it is also the validation loss (on held-out crops stretched
from a fixed seed), which early stopping and ``best.pt`` follow, with the share of
values predicted exactly (``accuracy``).
"""
from __future__ import annotations

from typing import Any

import torch
from deepsym_plugins.refine_model import beats_of

from deepsym.training import Phase, Trainer, Update


class DurationTrainer(Trainer):
    """One phase of ``stretch_step`` until the budget ends."""

    def phases(self) -> list[Phase]:
        return [Phase("train", None, (Update("stretch_step", "model"),))]

    def stretched(self, batch: dict[str, Any], generator: torch.Generator | None = None
                  ) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor, torch.Tensor]:
        """The batch's gaps and lengths stretched, the original ones as classes (grid
        steps - 1) ``(batch, notes, 2)``, and the weights of the values that count."""
        gaps, lengths = beats_of(batch["x"].float())
        shape = (*gaps.shape, 2)
        if generator is None:
            draws = self.local_rows(torch.rand(shape[0] * self.context.world_size,
                                               *shape[1:], generator=self.rng,
                                               device=self.device))
        else:
            draws = torch.rand(shape, generator=generator, device=generator.device)
        factors = 1 + self.config.stretch * (2 * draws.to(self.device) - 1)
        steps = torch.round(torch.stack([gaps, lengths], dim=-1) * self.config.grid)
        steps = steps.clamp(min=1).long()
        real = batch["mask"].to(gaps.dtype)
        weights = torch.stack([real * (gaps > 0), real], dim=-1) \
            * (steps <= self.config.max_steps)
        classes = (steps.clamp(max=self.config.max_steps) - 1)
        return gaps * factors[..., 0], lengths * factors[..., 1], classes, weights

    def errors(self, batch: dict[str, Any], generator: torch.Generator | None = None
               ) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        """Summed cross-entropy and exact predictions over the values that count, and
        their number."""
        gaps, lengths, classes, weights = self.stretched(batch, generator)
        logits = self.model(gaps, lengths)
        entropy = torch.nn.functional.cross_entropy(logits.flatten(0, -2), classes.flatten(),
                                                    reduction="none").view_as(weights)
        right = (logits.argmax(-1) == classes).to(weights.dtype)
        return (entropy * weights).sum(), (right * weights).sum(), weights.sum()

    def stretch_step(self, batch: dict[str, Any]) -> torch.Tensor:
        """Cross-entropy of the original gaps and lengths in grid steps."""
        entropy, _, count = self.errors(batch)
        return self.global_mean(entropy, count)

    def validation(self, batch: dict[str, Any]) -> dict[str, Any]:
        """The same loss on held-out crops, stretched from a fixed seed, and the share
        of values predicted exactly."""
        entropy, right, count = self.errors(
            batch, torch.Generator(device=self.device).manual_seed(0))
        return {"loss": entropy / count, "accuracy": right / count}


class VelocityTrainer(Trainer):
    """One phase of ``velocity_step``: the mean squared error of the predicted velocities
    (/ 127) over the real notes of ``notes-meter`` crops; also the validation loss."""

    def phases(self) -> list[Phase]:
        return [Phase("train", None, (Update("velocity_step", "model"),))]

    def loss(self, batch: dict[str, Any], *, local: bool = False) -> torch.Tensor:
        features = batch["x"].float()
        real = batch["mask"].to(features.dtype)
        error = ((self.model(features) - features[..., 3]) ** 2 * real).sum()
        return error / real.sum() if local else self.global_mean(error, real.sum())

    def velocity_step(self, batch: dict[str, Any]) -> torch.Tensor:
        return self.loss(batch)

    def validation(self, batch: dict[str, Any]) -> dict[str, Any]:
        return {"loss": self.loss(batch, local=True)}
