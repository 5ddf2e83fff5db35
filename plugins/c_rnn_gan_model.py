"""C-RNN-GAN (Mogren 2016): its frozen config and its two nn.Modules.

The generator is an LSTM stack whose every step reads uniform noise concatenated with
its own previous output (the real previous note under teacher forcing, in pretraining)
and emits the next note's four continuous ``notes4`` features (Δt from the previous
start, length, pitch, velocity). The discriminator is a bidirectional LSTM stack that
scores every step; a sequence's score is the mean of its steps' scores.

Sources: "the paper" is Mogren, "C-RNN-GAN: Continuous recurrent neural networks with
adversarial training", NIPS 2016 workshop (arXiv:1611.09904); "the code" is the
author's rnn_gan.py (github.com/olofmogren/c-rnn-gan).
"""
from __future__ import annotations

from dataclasses import dataclass, replace
from typing import TYPE_CHECKING, Literal

import torch
from torch import nn

from deepsym.representations.notes4 import Notes4
from deepsym.training.recurrent import lstm_step

if TYPE_CHECKING:
    from deepsym.data.corpus import Corpus

FEATURES = 4  # notes4: delta_start, duration, pitch, velocity

State = tuple[torch.Tensor, torch.Tensor]


@dataclass(frozen=True)
class CRNNGANConfig:
    """Sizes, the schedule and the optimizers' settings of C-RNN-GAN.

    ``pretrain_steps`` rounds of next-note prediction come first, their crops growing
    linearly from ``pretrain_min_length`` to ``sequence_length`` notes (the curriculum);
    then the adversarial phase runs until the budget ends, one discriminator update
    and one generator update a round, each side frozen while its loss is below
    ``freeze_ratio`` times the other's. ``feature_matching``: the generator minimizes the
    squared distance between the mean last-layer features of the discriminator on real
    and on generated sequences instead of the non-saturating loss; ``mode_seeking``
    weighs a term added to it that keeps different noise from giving the same music.
    """

    hidden: int = 350  # LSTM units in G and in D (the paper, section 3)
    layers: int = 2  # LSTM layers in G and in D (the paper, section 3)
    # uniform noise values per step: "the number of features per tone", 4 (the paper)
    noise: int = 4
    # uniform noise values per step read by the output layer, a two-layer MLP (ours; 0:
    # the paper's linear output layer). With pretraining's ``pretrain_samples`` it lets
    # the generator say "one of these next notes" instead of their mean: see there
    head_noise: int = 8
    sequence_length: int = 200  # notes per training sequence (the code's songlength)
    batch_size: int = 10  # sequences per batch (the code's SmallConfig.batch_size)
    # MLE rounds: the paper pretrains G for 6 epochs, which on JSB's 311 train chorales
    # in batches of 10 are about 190 rounds
    pretrain_steps: int = 200
    # the curriculum's first length: the paper starts from short sequences and grows
    # them over pretraining without saying how short (ours)
    pretrain_min_length: int = 8
    # Draws of the head noise per step in pretraining, whose loss is the smallest of
    # their squared errors (conditional implicit maximum likelihood, Li & Malik 2018;
    # ours, 1: the paper's MSE). The MSE's best answer is the mean next note whatever
    # the noise, so the MSE-pretrained generator ignored its noise: 16 pieces after
    # 200 rounds were one piece (self-BLEU-4 0.971, the test split's 0.70) in a pitch
    # range of 25 semitones (35) -- the mean of a chord's pitches, not its notes
    pretrain_samples: int = 16
    # The paper trains with plain SGD at 0.1 on raw features. On standardized features
    # that diverged here (pretraining MSE 0.54 -> 0.73 in 100 rounds) and left D at
    # D(real) = D(fake) = 0.50 for 200 rounds, while Adam at 1e-3 pretrains (0.54 ->
    # 0.35) and D separates them within 10 rounds: Adam is ours.
    optimizer: Literal["adam", "adamw", "sgd", "rmsprop"] = "adam"
    momentum: float = 0.0  # for optimizer="sgd": plain SGD (the code's GradientDescentOptimizer)
    learning_rate: float = 1e-3  # G's pretraining rate (the paper's 0.1 is for its plain SGD)
    # G's rate in the adversarial phase, as a factor of learning_rate (ours; 1 is the
    # paper's one rate). Measured on JSB, 5 minutes on 2 CPU cores: at 1, 145 adversarial
    # rounds turned the pretrained SATB-like chords into one repeated pitch with time
    # stopped; at 0.1 the chords and the time steps survive (pieces differ only a little)
    adversarial_learning_rate_factor: float = 0.1
    d_learning_rate_factor: float = 0.5  # D's rate is this times G's (the code's d_lr_factor)
    # L2 on G's and D's weights (the paper applies it; its scale is not stated: ours)
    weight_decay: float = 1e-4
    grad_clip: float = 5.0  # global gradient norm cap (the code's max_grad_norm = 5)
    feature_matching: bool = True  # the paper's best results use it (section 3)
    # Weight of the mode-seeking term in G's adversarial loss (Mao et al. 2019, MSGAN):
    # the distance between two noises over the distance between the sequences they give,
    # so that G cannot ignore its noise (ours; 0: off, one generator pass less). Made for
    # the MSE-pretrained generator, which ignored its noise: with it, after 303
    # adversarial rounds on JSB, self-BLEU-4 0.815 instead of 0.986. The best-of-draws
    # pretraining cures that from the start, and then the term only pushes G further
    # apart: 5 minutes on JSB gave 60 notes in 30 s (the chorales: 245) and BLEU-4 0.04
    # against the test split with it, 254 notes and 0.23 without. Off by default.
    mode_seeking: float = 0.0
    freeze_ratio: float = 0.7  # freeze a side whose loss is < 70% of the other's (the paper)
    # each feature's mean and standard deviation over the train split's notes (measured
    # by ``for_corpus``; None: 0 and 1): G and D work in standardized units
    feature_mean: tuple[float, ...] | None = None
    feature_std: tuple[float, ...] | None = None

    def __post_init__(self) -> None:
        for name in ("hidden", "layers", "noise", "sequence_length", "batch_size",
                     "pretrain_min_length", "pretrain_samples"):
            if getattr(self, name) < 1:
                raise ValueError(f"{name} must be at least 1, not {getattr(self, name)}")
        if self.head_noise < 0:
            raise ValueError(f"head_noise must be >= 0, not {self.head_noise}")
        if self.pretrain_samples > 1 and not self.head_noise:
            raise ValueError("pretrain_samples > 1 needs head_noise > 0 (without it every "
                             "draw of a step gives the same note); with head_noise=0, set "
                             "pretrain_samples=1")
        if self.pretrain_steps < 0:
            raise ValueError(f"pretrain_steps must be >= 0, not {self.pretrain_steps}")
        for name in ("learning_rate", "adversarial_learning_rate_factor",
                     "d_learning_rate_factor"):
            if not getattr(self, name) > 0:
                raise ValueError(f"{name} must be positive, not {getattr(self, name)}")
        for name in ("weight_decay", "mode_seeking"):
            if getattr(self, name) < 0:
                raise ValueError(f"{name} must be >= 0, not {getattr(self, name)}")
        if not 0 <= self.freeze_ratio <= 1:
            raise ValueError(f"freeze_ratio must be in [0, 1], not {self.freeze_ratio}")
        for name in ("feature_mean", "feature_std"):
            value = getattr(self, name)
            if value is not None and len(value) != FEATURES:
                raise ValueError(f"{name} needs {FEATURES} values, not {len(value)}")
        if self.feature_std is not None and not all(v > 0 for v in self.feature_std):
            raise ValueError(f"feature_std must be positive, not {self.feature_std}")

    def for_corpus(self, corpus: Corpus) -> CRNNGANConfig:
        """The config with the feature moments of ``corpus``'s train split, unless set."""
        if self.feature_mean is not None and self.feature_std is not None:
            return self
        from deepsym.data.fit import feature_moments

        mean, std = feature_moments(corpus, Notes4())
        return replace(self, feature_mean=mean, feature_std=std)


class Standardizer(nn.Module):
    """``notes4`` features to standardized units and back, by the config's moments.

    The features are small numbers of very different spreads (a pitch varies by about
    0.06, a time gap by 0.1); standardized, an LSTM's inputs and a regression's errors
    weigh each feature alike."""

    def __init__(self, config: CRNNGANConfig) -> None:
        super().__init__()
        mean = config.feature_mean or (0.0,) * FEATURES
        std = config.feature_std or (1.0,) * FEATURES
        self.register_buffer("mean", torch.tensor(mean, dtype=torch.float32))
        self.register_buffer("std", torch.tensor(std, dtype=torch.float32))

    def forward(self, notes: torch.Tensor) -> torch.Tensor:
        return (notes - self.mean) / self.std

    def inverse(self, standardized: torch.Tensor) -> torch.Tensor:
        return standardized * self.std + self.mean


class Generator(nn.Module):
    """Noise ⊕ previous output → ReLU input layer (as the code's) → LSTM stack → output
    layer reading the LSTM's output ⊕ more noise (``head_noise``) → 4 features (read and
    written in ``notes4`` units, standardized inside). A step's noise is ``noise_size``
    values: the input layer's ``config.noise`` first, then the head's."""

    def __init__(self, config: CRNNGANConfig) -> None:
        super().__init__()
        self.input_noise, self.noise_size = config.noise, config.noise + config.head_noise
        self.scale = Standardizer(config)
        self.project = nn.Linear(config.noise + FEATURES, config.hidden)
        self.lstm = nn.LSTM(config.hidden, config.hidden, config.layers, batch_first=True)
        self.head: nn.Module = nn.Linear(config.hidden, FEATURES) if not config.head_noise \
            else nn.Sequential(nn.Linear(config.hidden + config.head_noise, config.hidden),
                               nn.ReLU(), nn.Linear(config.hidden, FEATURES))

    def states(self, noise: torch.Tensor, previous: torch.Tensor, state: State | None = None
               ) -> tuple[torch.Tensor, State]:
        """The LSTM's outputs ``(batch, steps, hidden)`` for noise ``(batch, steps,
        noise_size)`` (its input part is read) and the previous notes ``(batch, steps,
        4)``, and the state after the last step."""
        noise = noise[..., :self.input_noise]
        x = torch.relu(self.project(torch.cat([noise, self.scale(previous)], dim=-1)))
        return lstm_step(self.lstm, x, state) if x.shape[1] == 1 else self.lstm(x, state)

    def emit(self, out: torch.Tensor, head_noise: torch.Tensor) -> torch.Tensor:
        """Notes ``(..., 4)`` from LSTM outputs ``(..., hidden)`` and the head's noise
        ``(..., head_noise)`` (leading dimensions alike)."""
        return self.scale.inverse(self.head(torch.cat([out, head_noise], dim=-1)))

    def step(self, noise: torch.Tensor, previous: torch.Tensor, state: State | None = None
             ) -> tuple[torch.Tensor, State]:
        """Outputs ``(batch, steps, 4)`` for noise ``(batch, steps, noise_size)`` and the
        previous notes ``(batch, steps, 4)``, and the state after the last step."""
        out, state = self.states(noise, previous, state)
        return self.emit(out, noise[..., self.input_noise:]), state

    def teacher(self, noise: torch.Tensor, notes: torch.Tensor,
                head_noise: torch.Tensor | None = None) -> torch.Tensor:
        """Each note of ``notes`` ``(batch, steps, 4)`` predicted from the real notes
        before it (zeros before the first), in one pass: ``(batch, steps, 4)``, or
        ``(batch, steps, draws, 4)`` with ``head_noise`` ``(batch, steps, draws, n)``
        standing in for ``noise``'s head part (one LSTM pass for every draw)."""
        previous = torch.cat([torch.zeros_like(notes[:, :1]), notes[:, :-1]], dim=1)
        if head_noise is None:
            return self.step(noise, previous)[0]
        out = self.states(noise, previous)[0]
        return self.emit(out[:, :, None].expand(-1, -1, head_noise.shape[2], -1), head_noise)

    def forward(self, noise: torch.Tensor, previous: torch.Tensor | None = None,
                state: State | None = None) -> tuple[torch.Tensor, State]:
        """Free-running: ``noise.shape[1]`` notes ``(batch, steps, 4)``, each step reading
        the one before (``previous``: ``(batch, 4)`` before the first, default zeros)."""
        if previous is None:
            previous = noise.new_zeros(len(noise), FEATURES)
        outputs = []
        for t in range(noise.shape[1]):
            out, state = self.step(noise[:, t:t + 1], previous[:, None], state)
            previous = out[:, 0]
            outputs.append(out)
        return torch.cat(outputs, dim=1), state  # type: ignore[return-value]


class Discriminator(nn.Module):
    """Bidirectional LSTM stack over standardized notes, a logit per step from the last
    layer's outputs."""

    def __init__(self, config: CRNNGANConfig) -> None:
        super().__init__()
        self.scale = Standardizer(config)
        self.lstm = nn.LSTM(FEATURES, config.hidden, config.layers, batch_first=True,
                            bidirectional=True)
        self.head = nn.Linear(2 * config.hidden, 1)

    def forward(self, notes: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """Per-step logits ``(batch, steps)`` and the last layer's features
        ``(batch, steps, 2 * hidden)`` for ``notes`` ``(batch, steps, 4)``."""
        features, _ = self.lstm(self.scale(notes))
        return self.head(features)[..., 0], features


class CRNNGAN(nn.Module):
    """The pair, as one module so that a checkpoint holds both."""

    def __init__(self, config: CRNNGANConfig) -> None:
        super().__init__()
        self.generator = Generator(config)
        self.discriminator = Discriminator(config)
