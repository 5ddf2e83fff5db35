"""Training Duration Net: real ``notes4`` crops, each gap and length stretched by its own
random factor, the network asked for the log of each stretch's inverse.

The factors ``1 + stretch * (2u - 1)`` come from the trainer's rng, drawn for the global
batch (each process keeps its rows), so a resumed run and N processes draw what one
uninterrupted process would. The loss is the mean squared error of the log corrections
over the real notes' lengths and over the gaps that are not 0 (inside a chord the gap
is 0 whatever the stretch); it is also the validation loss (on held-out crops stretched
from a fixed seed), which early stopping and ``best.pt`` follow.
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
        """The batch's gaps and lengths stretched, the log corrections that undo the
        stretches ``(batch, notes, 2)``, and the weights of the notes that count."""
        gaps, lengths = beats_of(batch["x"].float())
        shape = (*gaps.shape, 2)
        if generator is None:
            draws = self.local_rows(torch.rand(shape[0] * self.context.world_size,
                                               *shape[1:], generator=self.rng,
                                               device=self.device))
        else:
            draws = torch.rand(shape, generator=generator, device=generator.device)
        factors = 1 + self.config.stretch * (2 * draws.to(self.device) - 1)
        real = batch["mask"].to(gaps.dtype)
        weights = torch.stack([real * (gaps > 0), real], dim=-1)
        return gaps * factors[..., 0], lengths * factors[..., 1], -torch.log(factors), weights

    def loss(self, batch: dict[str, Any], generator: torch.Generator | None = None, *,
             local: bool = False) -> torch.Tensor:
        gaps, lengths, target, weights = self.stretched(batch, generator)
        error = ((self.model(gaps, lengths) - target) ** 2 * weights).sum()
        return error / weights.sum() if local else self.global_mean(error, weights.sum())

    def stretch_step(self, batch: dict[str, Any]) -> torch.Tensor:
        """Mean squared error of the predicted log corrections."""
        return self.loss(batch)

    def validation(self, batch: dict[str, Any]) -> dict[str, Any]:
        """The same loss on held-out crops, stretched from a fixed seed."""
        return {"loss": self.loss(batch, torch.Generator(device=self.device).manual_seed(0),
                                  local=True)}


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
