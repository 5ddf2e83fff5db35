"""Training SeqGAN: MLE pretraining of the generator (Char-RNN's step), discriminator
pretraining, then adversarial rounds of policy gradient and discriminator updates.

Batches are Char-RNN's: ``collate``'d crops of ``sequence_length + 1`` tokens, ``x`` and
``mask``. The discriminator reads the first ``sequence_length`` tokens of the crops that
are that long. Every update logs named scalars (``log.csv`` columns ``<step>_<name>``):
the discriminator's mean probability of "real" on real and generated sequences
(``d_real``, ``d_fake``) and its accuracy; the policy step's mean ``reward`` and the
negative log-likelihood of its samples (``sample_nll``).

The policy gradient (REINFORCE, the paper's eq. 6-8): for a generated sequence
``y_1..y_T``, the reward of token ``t`` is ``Q_t = mean_k D(y_1..y_t, rollout_k)`` over
``config.rollouts`` completions by the rollout policy (``deepsym.sampling.policy.rollouts``,
batched), and ``Q_T = D(y)``; the loss is ``-mean_{b,t} log G(y_t | y_<t) Q_t`` (the code
sums where we average, a constant factor that Adam ignores). No baseline, as the paper.

Under ``torchrun`` the sequences and the rollouts are drawn for the global batch (each
process keeps its rows) and the losses are global means; the discriminator's dropout
masks are each process's own, so N processes train like one only up to those masks.
"""
from __future__ import annotations

import dataclasses
from typing import Any

import torch
from deepsym_plugins.char_rnn_train import RNNTrainer

from deepsym.errors import DeepsymError
from deepsym.metrics.bleu import corpus_bleu, note_tokens
from deepsym.sampling.policy import draw, log_probs, rollouts
from deepsym.training import Phase, Update
from deepsym.training.adversarial import discriminator_loss
from deepsym.training.options import build_optimizer

LOSS = "non-saturating"  # the paper's discriminator cross-entropy (eq. 5)
SCORED_AT_ONCE = 8192  # rollouts per discriminator pass: bounds the memory of rewards
BLEU_ORDER = 4


class SeqGANTrainer(RNNTrainer):
    """The schedule of ``SeqGANConfig``; optimizers: ``generator`` (the training options',
    by default Adam at the config's ``learning_rate``) and ``discriminator`` (the same
    kind at ``d_learning_rate``)."""

    averaged_part = "generator"  # what the ema option averages: the part sampling uses
    validation_target = None
    """The validation values are logged, none picks ``best.pt``: the generator's
    held-out NLL rises as the policy gradient moves it off maximum likelihood, which is
    its purpose, and BLEU on a small sample is noisy."""

    def configure_optimizers(self) -> dict[str, torch.optim.Optimizer]:
        net = self.network
        discriminator = dataclasses.replace(self.options,
                                            learning_rate=self.config.d_learning_rate)
        return {"generator": build_optimizer(net.generator.parameters(), self.options),
                "discriminator": build_optimizer(net.discriminator.parameters(),
                                                 discriminator)}

    def phases(self) -> list[Phase]:
        config = self.config
        return [
            Phase("pretrain-generator", config.pretrain_steps,
                  (Update("mle_step", "generator"),)),
            Phase("pretrain-discriminator", config.d_pretrain_steps,
                  (Update("discriminator_step", "discriminator"),)),
            Phase("adversarial", None,
                  (Update("policy_step", "generator", repeat=config.g_steps),
                   Update("discriminator_step", "discriminator", repeat=config.d_steps))),
        ]

    # -- helpers -------------------------------------------------------------------------

    def uniforms(self, rows: int, *shape: int) -> torch.Tensor:
        """U[0, 1) ``(rows, *shape)`` from the trainer's rng, drawn for the global batch
        (``rows`` per process), this process's rows."""
        return self.local_rows(torch.rand(rows * self.context.world_size, *shape,
                                          generator=self.rng, device=self.device))

    def dropout(self, shape: tuple[int, ...]) -> torch.Tensor:
        """U[0, 1) ``shape`` for the discriminator's dropout, from the trainer's rng, its
        rows drawn for the global batch (the processes keep different numbers of real
        crops)."""
        return self.draw_rows(lambda rows: torch.rand(rows, *shape[1:], generator=self.rng,
                                                      device=self.device), shape[0])

    def fakes(self, count: int) -> torch.Tensor:
        """``count`` generated sequences of ``sequence_length`` tokens, no gradients."""
        length = self.config.sequence_length
        return draw(self.network.generator, count, length,
                    uniforms=self.uniforms(count, length))

    def real(self, batch: dict[str, Any]) -> torch.Tensor:
        """The batch's crops that hold ``sequence_length`` tokens, cut to that length."""
        length = self.config.sequence_length
        full = batch["mask"][:, :length].all(1) & (batch["mask"].shape[1] >= length)
        if not full.any():
            raise DeepsymError(f"no training crop holds {length} tokens: the pieces are "
                               "shorter; lower sequence_length")
        return batch["x"][full, :length]

    def score(self, tokens: torch.Tensor) -> torch.Tensor:
        """The discriminator's probability of "real" for sequences ``(..., T)``, in
        passes of ``SCORED_AT_ONCE``, without dropout or gradients; shape ``(...)``."""
        flat = tokens.reshape(-1, tokens.shape[-1])
        with torch.no_grad():
            logits = torch.cat([self.network.discriminator(part)
                                for part in flat.split(SCORED_AT_ONCE)])
        return torch.sigmoid(logits.float()).reshape(tokens.shape[:-1])

    def rewards(self, tokens: torch.Tensor) -> torch.Tensor:
        """``Q`` ``(batch, T)``: each prefix's mean score over its rollouts, the whole
        sequence's own score last."""
        size, length = tokens.shape
        n = self.config.rollouts
        uniforms = self.uniforms(size, length - 1, n, length).permute(1, 2, 0, 3)
        completions = rollouts(self.network.rollout, tokens, n, uniforms=uniforms)
        prefixes = self.score(completions).mean(1)  # (T - 1, batch)
        return torch.cat([prefixes.T, self.score(tokens)[:, None]], dim=1)

    # -- steps ---------------------------------------------------------------------------

    def policy_step(self, batch: dict[str, Any]) -> dict[str, Any]:
        """REINFORCE on a fresh generated batch, rewarded by rollouts; the rollout policy
        first follows the generator's last update."""
        net = self.network
        net.follow(self.config.rollout_update_rate)
        tokens = self.fakes(len(batch["x"]))
        rewards = self.rewards(tokens)
        logp = log_probs(net.generator, tokens)
        return {"loss": -self.average(logp * rewards),
                "reward": self.average(rewards).detach(),
                "sample_nll": -self.average(logp).detach()}

    def discriminator_step(self, batch: dict[str, Any]) -> dict[str, Any]:
        """Cross-entropy of real crops against as many fresh generated sequences, plus
        the L2 penalty ``d_l2 * |W_out|^2 / 2`` of the output layer (the code's)."""
        real = self.real(batch)
        fake = self.fakes(len(batch["x"]))
        discriminator = self.network.discriminator
        real_logits, fake_logits = discriminator(real, self.dropout), discriminator(fake,
                                                                                 self.dropout)
        out = discriminator.out
        l2 = (out.weight.square().sum() + out.bias.square().sum()) / 2
        loss = discriminator_loss(LOSS, real_logits, fake_logits, mean=self.average)
        right = torch.cat([real_logits > 0, fake_logits <= 0]).float()
        return {"loss": loss + self.config.d_l2 * l2,
                "d_real": self.average(torch.sigmoid(real_logits)).detach(),
                "d_fake": self.average(torch.sigmoid(fake_logits)).detach(),
                "accuracy": self.average(right)}

    # -- validation ----------------------------------------------------------------------

    def validation(self, batch: dict[str, Any]) -> dict[str, Any]:
        """On a valid batch: the generator's NLL per token (``nll``); BLEU-4 of as many
        sequences sampled from a fixed seed against the batch's crops, over the notes'
        pitches in reading order (``bleu``: corpus BLEU, smoothing method 1 with epsilon
        0.1, every crop a reference for every sample); and the discriminator's mean
        probability gap between the crops and the samples (``d_gap``)."""
        length = self.config.sequence_length
        real = self.real(batch)
        rng = torch.Generator(device=self.device).manual_seed(0)
        fake = draw(self.network.generator, len(real), length, generator=rng)
        representation = self.config.make_representation()

        def pitches(rows: torch.Tensor) -> list:
            return [note_tokens(representation.decode(row)) for row in rows.cpu().numpy()]

        return {"nll": self.loss(batch, local=True),
                "bleu": corpus_bleu(pitches(fake), pitches(real), max_n=BLEU_ORDER),
                "d_gap": self.score(real).mean() - self.score(fake).mean()}
