"""Training MuseGAN: WGAN-GP, ``config.n_critic`` critic updates per generator update.

Batches are phrases of ``config.n_bars`` bars: ``x`` ``(batch, bars, tracks, steps,
pitches)`` float32 0/1 (a piece shorter than a phrase is padded with silent bars).
Every update logs named scalars (``log.csv`` columns ``<step>_<name>``): the critic's
``wasserstein`` estimate E[f(real)] - E[f(fake)] and its gradient penalty ``gp``; the
generator's ``fake_score`` E[f(fake)]. With ``config.binary`` the generator's outputs
pass through binary neurons in training too (straight-through gradients), after
logistic noise of ``config.logit_noise`` on their logits.

Under data parallelism the latents, the noise, the binary neurons' draws and the
gradient penalty's mixing weights are drawn for the global batch (``local_rows``), and the
losses are means over it (``average``). The generator's batch norm, though, normalizes
each process's rows alone, so N processes train close to, not exactly as, one process.
"""
from __future__ import annotations

from typing import Any

import torch
from deepsym_plugins.musegan_model import (
    Latents,
    binarize,
    noisy,
    pitches_of,
    probabilities_of,
    with_rest,
)

from deepsym.training import Phase, Trainer, Update
from deepsym.training.adversarial import discriminator_loss, generator_loss, gradient_penalty

LOSS = "wasserstein"


class MuseGANTrainer(Trainer):
    """One phase, until the budget ends: ``n_critic`` critic updates, one generator
    update. Two Adam optimizers at the options' learning rate and betas (the config's:
    the paper's 1e-3 and (0.5, 0.9))."""

    averaged_part = "generator"  # what the ema option averages: the part sampling uses
    validation_target = None
    """The critic's Wasserstein estimate on held-out phrases is logged, but it measures
    the critic as much as the generator, so it picks no ``best.pt``."""

    @classmethod
    def dataset(cls, config: Any, corpus: Any, split: str, representation: Any, seed: int,
                transpose: tuple[int, int] = (0, 0)) -> tuple[Any, Any]:
        """Phrases of ``config.n_bars`` bars (random windows for "train"), silent bars
        after a shorter piece's end."""
        from functools import partial

        from deepsym.data.loaders import SequenceDataset

        data = SequenceDataset(corpus, representation, split, config.n_bars, seed=seed,
                               random_crop=split == "train", transpose=transpose)
        return data, partial(collate_phrases, bars=config.n_bars)

    def configure_optimizers(self) -> dict[str, torch.optim.Optimizer]:
        from deepsym.training.options import build_optimizer

        net = self.network
        return {"critic": build_optimizer(net.critic.parameters(), self.options),
                "generator": build_optimizer(net.generator.parameters(), self.options)}

    def phases(self) -> list[Phase]:
        return [Phase("adversarial", None, (
            Update("critic_step", "critic", repeat=self.config.n_critic),
            Update("generator_step", "generator")))]

    @property
    def network(self) -> torch.nn.Module:
        """The model itself (unwrapped from DistributedDataParallel)."""
        return getattr(self.model, "module", self.model)

    # -- helpers -------------------------------------------------------------------------

    def average_inputs(self, generator: torch.Generator) -> Latents:
        """A batch of latents from ``generator``: the averaged generator's batch-norm
        statistics are measured on its own phrases, not the last weights'."""
        return self.latents(self.config.batch_size, generator)

    def latents(self, batch: int, generator: torch.Generator | None = None) -> Latents:
        """N(0, 1) latents of ``batch`` rows: from the trainer's rng drawn for the global
        batch, this process's rows; from ``generator``, ``batch`` rows."""
        if generator is not None:
            return self.network.generator.draw(batch, lambda shape: torch.randn(
                shape, generator=generator, device=generator.device).to(self.device))
        world = self.context.world_size
        return self.network.generator.draw(batch, lambda shape: self.local_rows(torch.randn(
            (shape[0] * world, *shape[1:]), generator=self.rng, device=self.device)))

    def fake(self, batch: int, generator: torch.Generator | None = None) -> torch.Tensor:
        """``batch`` generated phrases: probabilities (``config.output``'s), their logits
        under the noise of ``config.logit_noise``, through the binary neurons of
        ``config.binary``."""
        output = self.config.output
        logits = with_rest(self.network.generator(self.latents(batch, generator)), output)
        if self.config.logit_noise:
            logits = noisy(logits, self.config.logit_noise, self.uniform(logits), output)
        probabilities = probabilities_of(logits, output)
        uniform = self.uniform(probabilities) if self.config.binary == "stochastic" else None
        return pitches_of(binarize(probabilities, self.config.binary, uniform, output), output)

    def uniform(self, like: torch.Tensor) -> torch.Tensor:
        """U(0, 1) draws of ``like``'s shape from the trainer's rng, drawn for the global
        batch: this process's rows."""
        shape = (len(like) * self.context.world_size, *like.shape[1:])
        return self.local_rows(torch.rand(shape, generator=self.rng, device=self.device))

    # -- steps ---------------------------------------------------------------------------

    def critic_step(self, batch: dict[str, Any]) -> dict[str, Any]:
        """E[f(fake)] - E[f(real)] + lambda GP."""
        real = batch["x"].float()
        with torch.no_grad():
            fake = self.fake(len(real))
        critic = self.network.critic
        real_scores, fake_scores = critic(real), critic(fake)
        loss = discriminator_loss(LOSS, real_scores, fake_scores, mean=self.average)
        weights = self.local_rows(torch.rand(len(real) * self.context.world_size,
                                             generator=self.rng, device=self.device))
        gp = gradient_penalty(critic, real, fake, scaler=self.scaler, weights=weights)
        gp = self.average(gp[None])  # a mean over equal slices: the global batch's
        return {"loss": loss + self.config.gp_weight * gp, "wasserstein": -loss.detach(),
                "gp": gp.detach()}

    def generator_step(self, batch: dict[str, Any]) -> dict[str, Any]:
        """-E[f(fake)]."""
        scores = self.network.critic(self.fake(len(batch["x"])))
        loss = generator_loss(LOSS, scores, mean=self.average)
        return {"loss": loss, "fake_score": -loss.detach()}

    # -- validation ----------------------------------------------------------------------

    def validation(self, batch: dict[str, Any]) -> dict[str, Any]:
        """The critic's Wasserstein estimate between held-out phrases and generated ones
        (latents from a fixed seed: validation leaves the trainer's rng alone)."""
        rng = torch.Generator().manual_seed(0)
        real = batch["x"].float()
        output = self.config.output
        logits = with_rest(self.network.generator(self.latents(len(real), rng)), output)
        kind = "none" if self.config.binary == "none" else "deterministic"
        fake = pitches_of(binarize(probabilities_of(logits, output), kind, None, output), output)
        critic = self.network.critic
        return {"wasserstein": critic(real).mean() - critic(fake).mean()}


def collate_phrases(items: list[dict[str, Any]], bars: int) -> dict[str, Any]:
    """``loaders.collate``'s batch with ``x`` padded by silent bars to ``bars`` bars."""
    from deepsym.data.loaders import collate

    batch = collate(items)
    short = bars - batch["x"].shape[1]
    if short > 0:
        x = batch["x"]
        batch["x"] = torch.cat([x, x.new_zeros(len(x), short, *x.shape[2:])], 1)
        batch["mask"] = torch.cat([batch["mask"], batch["mask"].new_zeros(len(x), short)], 1)
    return batch
