"""Training C-RNN-GAN: pretraining of the generator on next-note prediction (the best of
several noise draws at each step, see ``CRNNGANConfig.pretrain_samples``) with a growing
sequence length, then adversarial rounds (a discriminator update, a generator update)
with freezing.

Batches are ``deepsym.data.loaders.collate``'s dicts of ``notes4`` crops: ``x``
``(batch, steps, 4)`` float32 and ``mask`` (real steps). Every update logs named
scalars (``log.csv`` columns ``<step>_<name>``): the discriminator's mean probability
on real and generated sequences (``d_real``, ``d_fake``), each side's ``frozen`` flag
(1: its update was skipped by the Freezer), and the generator's ``adversarial``,
``feature_matching`` and ``mode_seeking`` terms (the last one large when G ignores its
noise: a sign of collapse).

Under data parallelism every process draws the noise of the global batch and keeps its
rows, and every mean (the losses, the feature means, the logged probabilities) is over
the global batch (``Trainer.average``, ``global_mean``), so N processes train exactly as
one process on the combined batch, and the Freezer decides alike on every process.
"""
from __future__ import annotations

import dataclasses
from typing import Any

import torch

from deepsym.training import Phase, Trainer, Update
from deepsym.training.adversarial import (
    Freezer,
    discriminator_loss,
    feature_matching,
    generator_loss,
)
from deepsym.training.options import build_optimizer

LOSS = "non-saturating"  # the paper's log-loss of D and G (section 2)


class CRNNGANTrainer(Trainer):
    """Pretraining (``config.pretrain_steps`` rounds), then adversarial rounds until the
    budget ends. Three optimizers of the options' kind (by default the config's Adam
    with L2 weight decay): ``pretrain`` over G at ``learning_rate``, then ``generator``
    at that times ``config.adversarial_learning_rate_factor`` and ``discriminator`` at
    the generator's times ``config.d_learning_rate_factor``."""

    averaged_part = "generator"  # what the ema option averages: the part sampling uses
    validation_target = None
    """Neither validation value means "better" for a GAN: the next-note error rises as
    adversarial training moves the generator off its pretraining, and the score gap
    measures the discriminator as much as the generator; both are logged, neither picks
    ``best.pt``."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.freezer = Freezer(self.config.freeze_ratio)

    def configure_optimizers(self) -> dict[str, torch.optim.Optimizer]:
        net, rate = self.network, self.options.learning_rate
        adversarial = rate * self.config.adversarial_learning_rate_factor
        return {"pretrain": build_optimizer(net.generator.parameters(), self.options),
                "generator": self.optimizer(net.generator, adversarial),
                "discriminator": self.optimizer(
                    net.discriminator, adversarial * self.config.d_learning_rate_factor)}

    def optimizer(self, module: torch.nn.Module, rate: float) -> torch.optim.Optimizer:
        """The options' optimizer over ``module`` at learning rate ``rate``."""
        options = dataclasses.replace(self.options, learning_rate=rate)
        return build_optimizer(module.parameters(), options)

    def phases(self) -> list[Phase]:
        pretrain = (Update("pretrain_step", "pretrain"),)
        return [Phase("pretrain", self.config.pretrain_steps, pretrain),
                Phase("adversarial", None, (Update("discriminator_step", "discriminator"),
                                            Update("generator_step", "generator")))]

    @property
    def network(self) -> torch.nn.Module:
        """The model itself (unwrapped from DistributedDataParallel)."""
        return getattr(self.model, "module", self.model)

    # -- helpers -------------------------------------------------------------------------

    def noise(self, batch: int, steps: int, generator: torch.Generator | None = None,
              size: int | None = None) -> torch.Tensor:
        """U[0, 1) noise ``(batch, steps, size)`` (the paper's), by default the
        generator's noise per step. From the trainer's rng: drawn for the global batch,
        this process's rows (so N processes draw what one process would for the combined
        batch); from ``generator``: ``batch`` rows, drawn where that generator lives."""
        shape = (steps, self.network.generator.noise_size if size is None else size)
        if generator is not None:
            return torch.rand(batch, *shape, generator=generator,
                              device=generator.device).to(self.device)
        rows = batch * self.context.world_size
        return self.local_rows(torch.rand(rows, *shape, generator=self.rng,
                                          device=self.device))

    def curriculum_length(self) -> int:
        """This pretraining round's sequence length: linear from
        ``pretrain_min_length`` at the first round to ``sequence_length`` at the last."""
        low, high = min(self.config.pretrain_min_length, self.config.sequence_length), \
            self.config.sequence_length
        last = max(1, self.config.pretrain_steps - 1)
        return low + round((high - low) * min(self.phase_step, last) / last)

    def crop(self, batch: dict[str, Any], steps: int) -> tuple[torch.Tensor, torch.Tensor]:
        """The batch's notes and mask cut to ``steps`` (at most ``sequence_length``)."""
        steps = min(steps, self.config.sequence_length)
        return batch["x"][:, :steps].float(), batch["mask"][:, :steps]

    def next_note_error(self, notes: torch.Tensor, mask: torch.Tensor,
            generator: torch.Generator | None = None, *, local: bool = False
            ) -> torch.Tensor:
        """Teacher-forced next-note squared error in standardized units, of the best of
        ``config.pretrain_samples`` draws of the head noise at each step (one draw: the
        plain MSE), a mean over real steps and features: of the global batch, or of this
        batch alone with ``local`` (validation, whose batches the processes do not
        share)."""
        g, draws = self.network.generator, self.config.pretrain_samples
        batch, steps = notes.shape[:2]
        noise = self.noise(batch, steps, generator)
        if draws == 1:
            error = ((g.scale(g.teacher(noise, notes)) - g.scale(notes)) ** 2).sum(-1)
        else:
            head = self.noise(batch, steps * draws, generator, size=self.config.head_noise)
            predicted = g.teacher(noise, notes, head.view(batch, steps, draws, -1))
            error = ((g.scale(predicted) - g.scale(notes)[:, :, None]) ** 2).sum(-1)
            error = error.min(dim=2).values
        weight = mask.to(notes.dtype)
        total, count = (error * weight).sum(), weight.sum() * notes.shape[-1]
        return total / count if local else self.global_mean(total, count)

    def generate(self, batch: int, steps: int) -> torch.Tensor:
        return self.network.generator(self.noise(batch, steps))[0]

    def mode_seeking(self, noise: torch.Tensor, fake: torch.Tensor, other_noise: torch.Tensor,
                     other: torch.Tensor) -> torch.Tensor:
        """MSGAN's term: per row, the mean absolute distance between its two noises over
        the one between the two sequences they gave (in standardized units), a mean over
        the global batch; large when different noise gives the same music."""
        scale = self.network.generator.scale
        music = (scale(fake) - scale(other)).abs().mean((1, 2))
        ratio = (noise - other_noise).abs().mean((1, 2)) / (music + 1e-5)
        return self.global_mean(ratio.sum(), float(len(ratio)))

    # -- steps ---------------------------------------------------------------------------

    def pretrain_step(self, batch: dict[str, Any]) -> dict[str, Any]:
        """The next-note error over a crop of the curriculum's length."""
        length = self.curriculum_length()
        notes, mask = self.crop(batch, length)
        return {"loss": self.next_note_error(notes, mask), "length": float(length)}

    def discriminator_step(self, batch: dict[str, Any]) -> dict[str, Any]:
        """Non-saturating loss over every real step and every generated one."""
        real, mask = self.crop(batch, self.config.sequence_length)
        with torch.no_grad():
            fake = self.generate(len(real), real.shape[1])
        real_scores = self.network.discriminator(real)[0][mask]
        fake_scores = self.network.discriminator(fake)[0].flatten()
        loss = discriminator_loss(LOSS, real_scores, fake_scores, mean=self.average)
        # per log term (see generator_step); global, so every process decides alike
        train = self.freezer.decide("discriminator", loss.detach() / 2)
        return {"loss": loss if train else None, "d_loss": loss.detach(),
                "d_real": self.average(torch.sigmoid(real_scores)).detach(),
                "d_fake": self.average(torch.sigmoid(fake_scores)).detach(),
                "frozen": float(not train)}

    def generator_step(self, batch: dict[str, Any]) -> dict[str, Any]:
        """Feature matching on D's last layer (``config.feature_matching``: the squared
        distance between its mean features over every real step and over every generated
        one) or the non-saturating loss. The Freezer compares G's non-saturating loss with D's per
        log term (D's has two, real and fake, G's one): both are about ln 2 while D cannot
        tell, so neither side waits. Comparing D's whole loss (about ln 4) made G wait
        for D: in a 5-minute run on JSB, G was frozen in 101 of 103 adversarial rounds
        and its pieces were nearly alike (276 +- 0.5 notes in 30 s)."""
        real, mask = self.crop(batch, self.config.sequence_length)
        noise = self.noise(len(real), real.shape[1])
        fake = self.network.generator(noise)[0]
        fake_scores, fake_features = self.network.discriminator(fake)
        adversarial = generator_loss(LOSS, fake_scores, mean=self.average)
        with torch.no_grad():
            real_features = self.network.discriminator(real)[1]
        weight = mask.to(real_features.dtype)[..., None]
        real_mean = self.global_mean((real_features * weight).sum((0, 1)), weight.sum())
        fake_mean = self.global_mean(fake_features.sum((0, 1)), fake_features.shape[0]
                                     * fake_features.shape[1])
        matching = feature_matching(real_mean[None], fake_mean[None])
        train = self.freezer.decide("generator", adversarial.detach())  # global: all agree
        loss = matching if self.config.feature_matching else adversarial
        more = {}
        if self.config.mode_seeking:  # a second draw for the same rows
            other_noise = self.noise(len(real), real.shape[1])
            seeking = self.mode_seeking(noise, fake, other_noise,
                                        self.network.generator(other_noise)[0])
            loss = loss + self.config.mode_seeking * seeking
            more["mode_seeking"] = seeking.detach()
        return {"loss": loss if train else None, "adversarial": adversarial.detach(),
                "feature_matching": matching.detach(), **more,
                "d_fake": self.average(torch.sigmoid(fake_scores)).detach(),
                "frozen": float(not train)}

    # -- validation and state ------------------------------------------------------------

    def validation(self, batch: dict[str, Any]) -> dict[str, Any]:
        """The generator's teacher-forced next-note error on held-out windows, and the
        discriminator's mean probability gap between them and generated sequences (the
        noise from a fixed seed, so validation leaves the trainer's rng alone)."""
        rng = torch.Generator().manual_seed(0)
        real, mask = self.crop(batch, self.config.sequence_length)
        fake = self.network.generator(self.noise(len(real), real.shape[1], rng))[0]
        real_p = torch.sigmoid(self.network.discriminator(real)[0][mask]).mean()
        fake_p = torch.sigmoid(self.network.discriminator(fake)[0]).mean()
        return {"next_note_error": self.next_note_error(real, mask, rng, local=True),
                "d_gap": real_p - fake_p}

    def state_dict(self) -> dict[str, Any]:
        return {**super().state_dict(), "freezer": self.freezer.state_dict()}

    def load_state_dict(self, state: dict[str, Any]) -> None:
        super().load_state_dict(state)
        self.freezer.load_state_dict(state["freezer"])
