"""The Trainer interface: training as phases of optimizer updates.

A trainer names its optimizers (``configure_optimizers``) and its schedule
(``phases``): each Phase runs ``steps`` times through its Updates, and each Update runs
``repeat`` times ``loss = trainer.<step>(batch)`` followed by one step of the named
optimizer. That covers the whole family without changes here:

- MLE (Char-RNN): one phase, one update.
- GAN (MuseGAN, WGAN-GP): ``Update("critic_step", "critic", repeat=config.n_critic)``
  then ``Update("generator_step", "generator")``; pretraining is a phase before.
- Policy gradient (SeqGAN): the generator step runs its Monte Carlo rollouts and returns
  ``-(log-probabilities * rewards).sum()``; MLE pretraining phases come first.
- Autoencoder (SeqAE): one update whose loss sums the reconstruction terms.
- Freezing (C-RNN-GAN): a step returns None to skip its optimizer this time.

The trainer owns its random generator (``self.rng``) and its place in the schedule, so
``state_dict()`` / ``load_state_dict()`` resume a run exactly. torch is imported lazily.
"""
from __future__ import annotations

import itertools
from abc import ABC, abstractmethod
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from deepsym.errors import DeepsymError

if TYPE_CHECKING:
    import torch


@dataclass(frozen=True)
class Update:
    """``repeat`` times: ``loss = trainer.<step>(batch)``, backward, ``optimizer`` steps."""

    step: str
    optimizer: str
    repeat: int = 1


@dataclass(frozen=True)
class Phase:
    """A stage of training (e.g. ``pretrain-generator``, ``adversarial``): ``steps``
    rounds, each running ``updates`` in order."""

    name: str
    steps: int
    updates: tuple[Update, ...]


@dataclass(frozen=True)
class UpdateLog:
    """One optimizer update as it happened; ``loss`` is None when the step was skipped."""

    phase: str
    step: int
    update: str
    loss: float | None


class Trainer(ABC):
    """Base class of every trainer: subclasses define the optimizers, the phases and the
    step methods those phases name."""

    def __init__(self, model: torch.nn.Module, config: Any, *, seed: int = 0,
                 device: str = "cpu") -> None:
        import torch

        self.device = torch.device(device)
        self.model = model.to(self.device)
        self.config = config
        self.rng = torch.Generator().manual_seed(seed)
        self.optimizers = self.configure_optimizers()
        self.phase_index = 0
        self.phase_step = 0

    @abstractmethod
    def configure_optimizers(self) -> dict[str, torch.optim.Optimizer]:
        """The optimizers by name, e.g. ``{"generator": ..., "critic": ...}``."""

    @abstractmethod
    def phases(self) -> list[Phase]:
        """The training schedule, in order."""

    def fit(self, data: Iterable[Any], on_update: Callable[[UpdateLog], None] | None = None,
            rounds: int | None = None) -> None:
        """Run the schedule from where it stands; every update draws the next batch
        (``data`` is iterated again when it runs out). With ``rounds``, stop after that
        many rounds (say, to save a checkpoint); ``fit`` again to go on."""
        phases = self.phases()
        self._check(phases)
        batches = _cycle(data)
        budget = itertools.count() if rounds is None else iter(range(rounds))
        self.model.train()
        for phase in phases[self.phase_index:]:
            while self.phase_step < phase.steps:
                if next(budget, None) is None:
                    return
                for update in phase.updates:
                    for _ in range(update.repeat):
                        loss = self.apply(update, _to(next(batches), self.device))
                        if on_update is not None:
                            on_update(UpdateLog(phase.name, self.phase_step, update.step, loss))
                self.phase_step += 1
            self.phase_index += 1
            self.phase_step = 0

    def apply(self, update: Update, batch: Any) -> float | None:
        """One update: zero the optimizer's gradients, compute the loss, step."""
        optimizer = self.optimizers[update.optimizer]
        optimizer.zero_grad(set_to_none=True)
        loss = getattr(self, update.step)(batch)
        if loss is None:
            return None
        loss.backward()
        optimizer.step()
        return float(loss.detach())

    def state_dict(self) -> dict[str, Any]:
        """Everything needed to resume: weights, optimizers, schedule position, rng."""
        return {"model": self.model.state_dict(),
                "optimizers": {k: o.state_dict() for k, o in self.optimizers.items()},
                "phase_index": self.phase_index, "phase_step": self.phase_step,
                "rng": self.rng.get_state()}

    def load_state_dict(self, state: dict[str, Any]) -> None:
        self.model.load_state_dict(state["model"])
        unknown = sorted(set(state["optimizers"]) ^ set(self.optimizers))
        if unknown:
            raise DeepsymError(f"checkpoint optimizers {sorted(state['optimizers'])} do not "
                               f"match this trainer's {sorted(self.optimizers)}")
        for name, optimizer in self.optimizers.items():
            optimizer.load_state_dict(state["optimizers"][name])
        self.phase_index = int(state["phase_index"])
        self.phase_step = int(state["phase_step"])
        self.rng.set_state(state["rng"])

    def _check(self, phases: list[Phase]) -> None:
        for phase in phases:
            if phase.steps < 0 or not phase.updates:
                raise DeepsymError(f"phase {phase.name!r} needs steps >= 0 and an update")
            for update in phase.updates:
                if update.optimizer not in self.optimizers:
                    raise DeepsymError(
                        f"phase {phase.name!r}: unknown optimizer {update.optimizer!r}; "
                        f"optimizers are: {', '.join(self.optimizers)}")
                if not callable(getattr(self, update.step, None)):
                    raise DeepsymError(f"phase {phase.name!r}: {type(self).__name__} has no "
                                       f"step method {update.step!r}")
                if update.repeat < 1:
                    raise DeepsymError(f"phase {phase.name!r}: {update.step} repeat must "
                                       f"be at least 1, not {update.repeat}")


def _cycle(data: Iterable[Any]) -> Iterator[Any]:
    """The batches of ``data`` over and over (re-iterating it, so loaders reshuffle)."""
    for epoch in itertools.count():
        empty = True
        for batch in data:
            empty = False
            yield batch
        if empty:
            raise DeepsymError("no training data: the data yielded no batch"
                               + (f" in epoch {epoch + 1}" if epoch else ""))


def _to(batch: Any, device: torch.device) -> Any:
    """``batch`` with every tensor in it (nested in tuples, lists, dicts) on ``device``."""
    if hasattr(batch, "to") and hasattr(batch, "device"):
        return batch.to(device)
    if isinstance(batch, tuple | list):
        return type(batch)(_to(b, device) for b in batch)
    if isinstance(batch, dict):
        return {k: _to(v, device) for k, v in batch.items()}
    return batch
