"""SeqGAN (Yu et al., AAAI 2017): its frozen config and its nn.Modules.

The generator is Char-RNN's token model (imported, not copied), pretrained by maximum
likelihood through Char-RNN's training step; the rollout policy is a second copy of it
that follows the generator with a lag. The discriminator is the paper's CNN: token
embeddings, convolutions of several widths and counts, max-over-time pooling, a highway
layer, dropout and one logit ("real").

Sources: "the paper" is Yu, Zhang, Wang and Yu, "SeqGAN: Sequence Generative
Adversarial Nets with Policy Gradient", AAAI 2017 (arXiv:1609.05473); "the code" is
its authors' release (github.com/LantaoYu/SeqGAN: sequence_gan.py, discriminator.py,
rollout.py).
"""
from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Literal

import torch
from deepsym_plugins.char_rnn_model import CharRNN, CharRNNConfig
from torch import nn

from deepsym.representations.base import Representation
from deepsym.representations.note_duration import NoteDuration


@dataclass(frozen=True)
class SeqGANConfig(CharRNNConfig):
    """Char-RNN's fields (the vocabulary, the LSTM) with SeqGAN's defaults, and the
    discriminator, the rollouts and the schedule.

    ``vocabulary`` adds ``note-duration`` to Char-RNN's: one token per note or time
    shift, ``pitch * max_duration + duration`` on a grid of ``steps_per_beat`` (a
    vocabulary of ``129 * max_duration``).

    The schedule: ``pretrain_steps`` rounds of MLE on the generator, then
    ``d_pretrain_steps`` discriminator rounds on real crops against fresh generated
    sequences, then adversarial rounds until the budget ends, each ``g_steps`` policy
    gradient updates (rewards from ``rollouts`` Monte Carlo completions of every prefix
    by the rollout policy, scored by the discriminator) and ``d_steps`` discriminator
    updates on fresh negatives. After every generator update the rollout policy moves
    to ``rollout_update_rate * rollout + (1 - rate) * generator`` (the code's 0.8).
    """

    vocabulary: Literal["auto", "events", "remi", "note-duration"] = "auto"
    max_duration: int = 16  # note-duration: the longest note, in steps
    embedding: int = 32  # the code's emb_dim
    hidden: int = 200  # the default (the code's hidden_dim is 32, for text)
    layers: int = 1  # the code: one LSTM layer
    # tokens per sequence (the code's SEQ_LENGTH is 20). Rewards cost rollouts x batch x
    # length^2 / 2 model steps plus as many discriminator passes: 32 keeps an adversarial
    # round at a few seconds on 2 CPU cores
    sequence_length: int = 32
    batch_size: int = 64  # the code's BATCH_SIZE
    learning_rate: float = 1e-2  # the code's generator Adam rate, pretraining and after
    pretrain_steps: int = 1000
    d_pretrain_steps: int = 300
    g_steps: int = 1  # the code: one generator update per adversarial round
    d_steps: int = 3  # the code: 5 x 3 epochs on 10,000 negatives; ours: fresh batches
    rollouts: int = 16  # the code's rollout_num
    rollout_update_rate: float = 0.8
    d_embedding: int = 64  # the code's dis_embedding_dim
    # the code's widths 1..10, 15, 20 with 100-200 filters each, for 20 tokens. The
    # discriminator scores rollouts x batch x length sequences a round (31,744 at the
    # defaults): with these, measured on one CPU thread, scoring them takes about 4 s
    # and the rollouts about 6 s (twice the filters: 6.7 s of scoring)
    d_widths: tuple[int, ...] = (1, 2, 3, 4, 5, 8, 12, 16)
    d_filters: tuple[int, ...] = (16, 32, 32, 32, 32, 16, 16, 16)
    d_dropout: float = 0.25  # the code's dropout_keep_prob 0.75
    d_learning_rate: float = 1e-4  # the code's discriminator Adam rate
    d_l2: float = 0.2  # the code's l2_reg_lambda on the output layer

    def __post_init__(self) -> None:
        super().__post_init__()
        if self.conditions:
            raise ValueError("seqgan is unconditional: its discriminator reads no "
                             "conditions (use char-rnn-conditional)")
        for name in ("rollouts", "g_steps", "d_steps", "d_embedding"):
            if getattr(self, name) < 1:
                raise ValueError(f"{name} must be at least 1, not {getattr(self, name)}")
        for name in ("pretrain_steps", "d_pretrain_steps"):
            if getattr(self, name) < 0:
                raise ValueError(f"{name} must be >= 0, not {getattr(self, name)}")
        if self.sequence_length < 2:
            raise ValueError("sequence_length must be at least 2 (rewards need prefixes)")
        if not self.d_widths or len(self.d_widths) != len(self.d_filters):
            raise ValueError(f"d_widths {self.d_widths} and d_filters {self.d_filters} "
                             "need one filter count per width")
        if min(self.d_widths) < 1 or min(self.d_filters) < 1:
            raise ValueError("every width and filter count must be at least 1")
        if max(self.d_widths) > self.sequence_length:
            raise ValueError(f"a filter of width {max(self.d_widths)} is longer than the "
                             f"sequences ({self.sequence_length} tokens)")
        if not 0 <= self.rollout_update_rate <= 1:
            raise ValueError(f"rollout_update_rate must be in [0, 1], not "
                             f"{self.rollout_update_rate}")
        if not 0 <= self.d_dropout < 1:
            raise ValueError(f"d_dropout must be in [0, 1), not {self.d_dropout}")
        if not self.d_learning_rate > 0 or self.d_l2 < 0:
            raise ValueError("d_learning_rate must be positive and d_l2 >= 0")

    def make_representation(self) -> Representation:
        if self.vocabulary == "note-duration":
            return NoteDuration(self.steps_per_beat, self.max_duration)
        return super().make_representation()


class Highway(nn.Module):
    """``y = t * relu(W x) + (1 - t) * x`` with the gate ``t = sigmoid(W_t x + b_t)``."""

    def __init__(self, size: int) -> None:
        super().__init__()
        self.transform = nn.Linear(size, size)
        self.gate = nn.Linear(size, size)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        gate = torch.sigmoid(self.gate(x))
        return gate * torch.relu(self.transform(x)) + (1 - gate) * x


class Discriminator(nn.Module):
    """The paper's CNN: one logit ("real") per token sequence ``(batch, T)``."""

    def __init__(self, config: SeqGANConfig, vocab_size: int) -> None:
        super().__init__()
        self.embed = nn.Embedding(vocab_size, config.d_embedding)
        self.convolutions = nn.ModuleList(
            nn.Conv1d(config.d_embedding, count, width)
            for width, count in zip(config.d_widths, config.d_filters, strict=True))
        features = sum(config.d_filters)
        self.highway = Highway(features)
        self.out = nn.Linear(features, 1)
        self.dropout = config.d_dropout

    def forward(self, tokens: torch.Tensor,
                uniform: Callable[[tuple[int, ...]], torch.Tensor] | None = None
                ) -> torch.Tensor:
        """Logits ``(batch,)``. ``uniform(shape)``: U[0, 1) draws for dropout (training;
        None: no dropout), from the trainer's generator, so that a resumed run repeats
        them."""
        x = self.embed(tokens).transpose(1, 2)  # (batch, embedding, T)
        pooled = torch.cat([torch.relu(conv(x)).amax(-1) for conv in self.convolutions], -1)
        features = self.highway(pooled)
        if uniform is not None and self.dropout:
            keep = uniform(tuple(features.shape)).to(features.device)
            features = features * (keep >= self.dropout) / (1 - self.dropout)
        return self.out(features)[:, 0]


class SeqGAN(nn.Module):
    """The generator, its lagging rollout copy and the discriminator; sampling reads the
    generator (``start`` and ``step``, as Char-RNN)."""

    state_batch_dim = 1

    def __init__(self, config: SeqGANConfig) -> None:
        super().__init__()
        self.generator = CharRNN(config)
        self.rollout = CharRNN(config).requires_grad_(False)
        self.discriminator = Discriminator(config, self.generator.vocab_size)
        # whether the rollout policy has been set to the generator (the first
        # adversarial round does it); a buffer, so checkpoints keep it
        self.register_buffer("rollout_ready", torch.zeros((), dtype=torch.bool))

    def start(self, batch: int) -> torch.Tensor:
        return self.generator.start(batch)

    def step(self, tokens: torch.Tensor, state: tuple | None = None,
             condition: torch.Tensor | None = None) -> tuple[torch.Tensor, tuple]:
        return self.generator.step(tokens, state, condition)

    def forward(self, tokens: torch.Tensor, condition: torch.Tensor | None = None
                ) -> torch.Tensor:
        """The generator's ``-log p`` per token (Char-RNN's training pass)."""
        return self.generator(tokens, condition)

    @torch.no_grad()
    def follow(self, rate: float) -> None:
        """Move the rollout policy toward the generator: ``rate * rollout + (1 - rate) *
        generator`` per weight (copied outright the first time)."""
        if not self.rollout_ready:
            self.rollout.load_state_dict(self.generator.state_dict())
            self.rollout_ready.fill_(True)
            return
        for mine, theirs in zip(self.rollout.parameters(), self.generator.parameters(),
                                strict=True):
            mine.mul_(rate).add_(theirs, alpha=1 - rate)
