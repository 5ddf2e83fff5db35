"""An exponential moving average of a module's weights, which validation and sampling use
in place of the last weights when ``TrainOptions.ema`` is above 0.

Adversarial training circles around its equilibrium rather than settling in it; the
average of the generator's recent weights lies nearer the middle of that circle, and
its samples are cleaner than those of any one step (Yazici et al., "The unusual
effectiveness of averaging in GAN training", ICLR 2019). After ``n`` updates the next
one keeps ``min(decay, (1 + n) / (10 + n))`` of the average, so early rounds, far from
the later weights, fade fast. Only parameters are averaged: buffers (batch-norm
statistics) are the module's own.
"""
from __future__ import annotations

import contextlib
from collections.abc import Iterator
from typing import Any

import torch

from deepsym.errors import CheckpointError


class WeightAverage:
    """The average of ``module``'s parameters, ``part`` naming the module within the
    model (``""``: the whole model) for the checkpoint."""

    def __init__(self, module: torch.nn.Module, decay: float, part: str = "") -> None:
        self.module, self.decay, self.part = module, decay, part
        self.updates = 0
        self.weights = {name: p.detach().clone() for name, p in module.named_parameters()}

    def rate(self) -> float:
        """The share of the average the next update keeps."""
        return min(self.decay, (1 + self.updates) / (10 + self.updates))

    @torch.no_grad()
    def update(self) -> None:
        """Move the average towards the module's present parameters."""
        kept = self.rate()
        for name, p in self.module.named_parameters():
            self.weights[name].lerp_(p, 1 - kept)
        self.updates += 1

    @contextlib.contextmanager
    def applied(self) -> Iterator[None]:
        """Within the block the module holds the averaged parameters, its own after."""
        params = dict(self.module.named_parameters())
        own = {name: p.detach().clone() for name, p in params.items()}
        with torch.no_grad():
            for name, p in params.items():
                p.copy_(self.weights[name])
        try:
            yield
        finally:
            with torch.no_grad():
                for name, p in params.items():
                    p.copy_(own[name])

    def state_dict(self) -> dict[str, Any]:
        return {"part": self.part, "decay": self.decay, "updates": self.updates,
                "weights": dict(self.weights)}

    def load_state_dict(self, state: dict[str, Any]) -> None:
        if state["part"] != self.part or state["weights"].keys() != self.weights.keys():
            raise CheckpointError(f"the checkpoint's weight average is of "
                                  f"{_named(state['part'])}, this trainer's of "
                                  f"{_named(self.part)}")
        self.updates = int(state["updates"])
        for name, value in state["weights"].items():
            self.weights[name].copy_(value)


def _named(part: str) -> str:
    return f"module {part!r}" if part else "the whole model"


def averaged_weights(trainer_state: dict[str, Any]) -> dict[str, Any]:
    """The model's weights as validation and sampling use them: those of a checkpoint's
    trainer state, the averaged parameters in place of the last ones where training kept
    an average."""
    weights = trainer_state["model"]
    average = trainer_state.get("ema")
    if average is None:
        return weights
    prefix = f"{average['part']}." if average["part"] else ""
    return {**weights, **{prefix + name: value for name, value in average["weights"].items()}}
