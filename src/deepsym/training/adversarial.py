"""Adversarial building blocks every GAN plugin shares: losses over the discriminator's
scores (logits), the WGAN-GP gradient penalty (correct under AMP), feature matching,
freezing, label smoothing and noise, and a history buffer of old fakes.

Random draws come from a ``torch.Generator`` the caller owns (the trainer's ``rng``):
they are made on the generator's device and moved to the tensors' device, so a CPU
generator serves CUDA tensors and a seed gives the same draws on every device.
"""
from __future__ import annotations

from collections.abc import Callable
from typing import Any

import torch
from torch.nn import functional as F

from deepsym.errors import ConfigError

LOSSES = ("non-saturating", "wasserstein", "least-squares", "hinge")
SIDES = ("discriminator", "generator")
# losses whose discriminator fits targets (1 real, 0 fake), so smoothing and noise apply
_TARGETED = ("non-saturating", "least-squares")

Mean = Callable[[torch.Tensor], torch.Tensor]


def discriminator_loss(kind: str, real_scores: torch.Tensor, fake_scores: torch.Tensor, *,
                       smoothing: float = 0.0, noise: float = 0.0,
                       generator: torch.Generator | None = None,
                       mean: Mean = torch.mean) -> torch.Tensor:
    """The discriminator's (critic's) loss, a mean over the scores r (real) and f (fake).

    - ``non-saturating`` (Goodfellow et al. 2014): BCE(r, 1) + BCE(f, 0), with
      BCE(x, t) = softplus(x) - t x on logits;
    - ``wasserstein`` (Arjovsky et al. 2017): E[f] - E[r] (add ``gradient_penalty``);
    - ``least-squares`` (Mao et al. 2017, a=0, b=1): E[(r - 1)^2] / 2 + E[f^2] / 2;
    - ``hinge`` (Lim & Ye 2017; Miyato et al. 2018): E[relu(1 - r)] + E[relu(1 + f)].

    ``smoothing`` and ``noise`` change the targets 1 and 0 as ``smooth_labels`` does; they
    exist only for the two losses with targets. ``mean`` averages the per-score terms
    (under data parallelism, ``Trainer.average``: the mean over every process's scores).
    """
    _check_kind(kind)
    real_scores, fake_scores = _wide(real_scores), _wide(fake_scores)
    if kind not in _TARGETED:
        if smoothing or noise:
            raise ConfigError(f"label smoothing and noise need targets; the {kind!r} loss "
                              f"has none (use one of: {', '.join(_TARGETED)})")
        if kind == "wasserstein":
            return mean(fake_scores) - mean(real_scores)
        return mean(F.relu(1 - real_scores)) + mean(F.relu(1 + fake_scores))
    real_target = smooth_labels(torch.ones_like(real_scores), smoothing, noise, generator)
    fake_target = smooth_labels(torch.zeros_like(fake_scores), smoothing, noise, generator)
    if kind == "non-saturating":
        bce = F.binary_cross_entropy_with_logits
        return (mean(bce(real_scores, real_target, reduction="none"))
                + mean(bce(fake_scores, fake_target, reduction="none")))
    return (mean((real_scores - real_target) ** 2) + mean((fake_scores - fake_target) ** 2)) / 2


def generator_loss(kind: str, fake_scores: torch.Tensor, *, mean: Mean = torch.mean
                   ) -> torch.Tensor:
    """The generator's loss, a mean (``mean``, as in ``discriminator_loss``) over the
    scores f of its fakes.

    ``non-saturating``: BCE(f, 1) = softplus(-f) (Goodfellow et al. 2014, section 3);
    ``wasserstein`` and ``hinge``: -E[f]; ``least-squares``: E[(f - 1)^2] / 2 (c=1).
    """
    _check_kind(kind)
    fake_scores = _wide(fake_scores)
    if kind == "non-saturating":
        return mean(F.softplus(-fake_scores))
    if kind == "least-squares":
        return mean((fake_scores - 1) ** 2) / 2
    return -mean(fake_scores)


def gradient_penalty(critic: Callable[[torch.Tensor], torch.Tensor], real: torch.Tensor,
                     fake: torch.Tensor, *, generator: torch.Generator | None = None,
                     scaler: torch.amp.GradScaler | None = None, target: float = 1.0,
                     weights: torch.Tensor | None = None) -> torch.Tensor:
    """WGAN-GP's penalty (Gulrajani et al. 2017), mean_i (||grad f(x_i)||_2 - target)^2 at
    x_i = eps_i real_i + (1 - eps_i) fake_i, eps_i ~ U[0, 1) per sample from ``generator``
    (or ``weights``, shape ``(batch,)``: the eps_i drawn by the caller, e.g. for the global
    batch under data parallelism, ``Trainer.local_rows``).

    The critic must score samples independently (no batch norm; the paper uses layer norm);
    a sample's several scores are summed. The graph is kept, so the penalty trains the
    critic; multiply it by lambda (10 in the paper). Under AMP pass the GradScaler that
    scales the loss: the gradient of the scaled scores is divided by the scale before the
    norm, as PyTorch's AMP gradient-penalty recipe does.
    """
    real, fake = real.detach(), fake.detach()
    shape = (real.shape[0],) + (1,) * (real.dim() - 1)
    eps = (_uniform(shape, generator, real.device) if weights is None
           else weights.reshape(shape)).to(real.dtype)
    mixed = (eps * real + (1 - eps) * fake).requires_grad_(True)
    scores = critic(mixed).sum()
    if scaler is not None:
        scores = scaler.scale(scores)
    (grad,) = torch.autograd.grad(scores, mixed, create_graph=True)
    grad = grad.float()
    if scaler is not None:
        grad = grad / scaler.get_scale()
    return ((grad.flatten(1).norm(dim=1) - target) ** 2).mean()


def feature_matching(real_features: torch.Tensor, fake_features: torch.Tensor) -> torch.Tensor:
    """||E[phi(real)] - E[phi(fake)]||_2^2 over the batch (dimension 0) of the
    discriminator's features phi (Salimans et al. 2016, section 3.1); the real features are
    the generator's target, so no gradient flows through them."""
    diff = _wide(real_features.detach()).mean(0) - _wide(fake_features).mean(0)
    return (diff ** 2).sum()


def smooth_labels(target: torch.Tensor, smoothing: float = 0.0, noise: float = 0.0,
                  generator: torch.Generator | None = None) -> torch.Tensor:
    """Targets of 1 (real) and 0 (fake), each flipped with probability ``noise`` (label
    noise, Chintala et al.'s "ganhacks", tip 6), then the 1s lowered to 1 - ``smoothing``
    (one-sided smoothing, Salimans et al. 2016, section 3.4: the 0s stay 0)."""
    for name, value in (("smoothing", smoothing), ("noise", noise)):
        if not 0 <= value < 1:
            raise ConfigError(f"label {name} must be in [0, 1), got {value}")
    if noise:
        flip = _uniform(target.shape, generator, target.device) < noise
        target = torch.where(flip, 1 - target, target)
    return target * (1 - smoothing) if smoothing else target


class Freezer:
    """Freezing (Mogren 2016, C-RNN-GAN): a side skips its update while its loss is below
    ``ratio`` times the other side's latest loss.

    ``ratio=0.7`` is the paper's. The losses compared must be non-negative
    (non-saturating, least squares, feature matching); both sides train until each has
    reported a loss.
    """

    def __init__(self, ratio: float = 0.7) -> None:
        if not 0 <= ratio <= 1:
            raise ConfigError(f"the freezing ratio must be in [0, 1], got {ratio}")
        self.ratio = ratio
        self.losses: dict[str, float | None] = dict.fromkeys(SIDES)

    def decide(self, side: str, loss: float | torch.Tensor) -> bool:
        """Record ``side``'s loss of this update; True when that side should train."""
        if side not in SIDES:
            raise ConfigError(f"unknown side {side!r}; choose one of: {', '.join(SIDES)}")
        value = float(loss)
        if value < 0:
            raise ConfigError(f"freezing compares non-negative losses; the {side}'s is "
                              f"{value} (use it with the non-saturating or least-squares "
                              "loss)")
        self.losses[side] = value
        other = self.losses[SIDES[1 - SIDES.index(side)]]
        return other is None or value >= self.ratio * other

    def state_dict(self) -> dict[str, Any]:
        """The latest loss of each side (the ratio is configuration)."""
        return {"losses": dict(self.losses)}

    def load_state_dict(self, state: dict[str, Any]) -> None:
        """Resume from ``state_dict()``'s output."""
        self.losses = dict(state["losses"])


class HistoryBuffer:
    """Old fakes shown to the discriminator again (Shrivastava et al. 2017, section 2.3).

    ``capacity`` counts fakes (rows). While filling, ``query`` stores the fakes and
    returns them. Once ``capacity`` fakes are stored, half the batch (rounded down, the
    paper's b/2) is swapped: those fresh fakes go into the buffer in place of as many old
    ones, drawn without replacement from ``generator``, which fill their places in the
    batch. Everything is detached.
    """

    def __init__(self, capacity: int, generator: torch.Generator) -> None:
        if capacity < 1:
            raise ConfigError(f"the history buffer's capacity must be positive, got {capacity}")
        self.capacity = capacity
        self.generator = generator
        self.items: torch.Tensor | None = None

    def query(self, fakes: torch.Tensor) -> torch.Tensor:
        """A batch like ``fakes``: its first ``len - len // 2`` rows, then old fakes."""
        fakes = fakes.detach()
        if self.items is None:
            self.items = fakes[:self.capacity].clone()
            return fakes
        self.items = self.items.to(fakes.device)
        room = self.capacity - len(self.items)
        if room > 0:
            self.items = torch.cat([self.items, fakes[:room]])
            return fakes
        keep = len(fakes) - min(len(fakes) // 2, self.capacity)
        slots = torch.randperm(self.capacity, generator=self.generator,
                               device=self.generator.device)[:len(fakes) - keep]
        slots = slots.to(fakes.device)
        old = self.items[slots]
        self.items[slots] = fakes[keep:]
        return torch.cat([fakes[:keep], old])

    def state_dict(self) -> dict[str, Any]:
        """The stored fakes and the generator's state (a copy)."""
        return {"items": None if self.items is None else self.items.clone(),
                "generator": self.generator.get_state()}

    def load_state_dict(self, state: dict[str, Any]) -> None:
        """Resume from ``state_dict()``'s output: the same future draws and batches."""
        self.items = None if state["items"] is None else state["items"].clone()
        self.generator.set_state(state["generator"])


def _check_kind(kind: str) -> None:
    if kind not in LOSSES:
        raise ConfigError(f"unknown adversarial loss {kind!r}; choose one of: "
                          f"{', '.join(LOSSES)}")


def _wide(x: torch.Tensor) -> torch.Tensor:
    """``x`` in at least float32 (losses of float16 scores would overflow)."""
    return x.to(torch.promote_types(x.dtype, torch.float32))


def _uniform(shape: tuple[int, ...] | torch.Size, generator: torch.Generator | None,
             device: torch.device) -> torch.Tensor:
    """U[0, 1) draws from ``generator`` on its device (the default one on ``device``)."""
    where = device if generator is None else generator.device
    return torch.rand(shape, generator=generator, device=where).to(device)
