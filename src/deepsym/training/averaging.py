"""An exponential moving average of a module's weights, which validation and sampling use
in place of the last weights when ``TrainOptions.ema`` is above 0.

Adversarial training circles around its equilibrium rather than settling in it; the
average of the generator's recent weights lies nearer the middle of that circle, and
its samples are cleaner than those of any one step (Yazici et al., "The unusual
effectiveness of averaging in GAN training", ICLR 2019). After ``n`` updates the next
one keeps ``min(decay, (1 + n) / (10 + n))`` of the average, so early rounds, far from
the later weights, fade fast. Only parameters are averaged. Batch-norm statistics
measured under the last weights do not fit the averaged ones, so ``calibrate`` measures
the average's own by running it on batches of inputs (as torch's ``update_bn`` does for
stochastic weight averaging); until then the average uses the module's.
"""
from __future__ import annotations

import contextlib
from collections.abc import Callable, Iterator
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
        self.buffers: dict[str, torch.Tensor] = {}  # the average's batch-norm statistics
        self.measured_at: int | None = None  # the ``updates`` they were measured at

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
        """Within the block the module holds the averaged parameters (and the average's
        batch-norm statistics, once calibrated), its own after."""
        tensors = {**dict(self.module.named_parameters()), **_norm_buffers(self.module)}
        average = {**self.weights, **self.buffers}
        own = {name: tensors[name].detach().clone() for name in average}
        with torch.no_grad():
            for name, value in average.items():
                tensors[name].copy_(value)
        try:
            yield
        finally:
            with torch.no_grad():
                for name, value in own.items():
                    tensors[name].copy_(value)

    @torch.no_grad()
    def calibrate(self, inputs: Callable[[int], Any], batches: int = 32) -> None:
        """Measure the average's batch-norm statistics: the module, holding the average,
        runs in training mode on ``inputs(i)`` for ``i < batches``, each batch counting
        alike. The module's own statistics, momentum and mode are left as they were."""
        norms = [m for _, m in _norms(self.module)]
        if not norms:
            return
        momenta, training = [m.momentum for m in norms], self.module.training
        # start from copies of the module's own: applied() swaps them in, the own back out
        self.buffers = {name: b.detach().clone()
                        for name, b in _norm_buffers(self.module).items()}
        with self.applied():
            try:
                for m in norms:
                    m.reset_running_stats()
                    m.momentum = None  # a cumulative mean over the batches
                self.module.train()
                for i in range(batches):
                    self.module(inputs(i))
                measured = {name: b.detach().clone()
                            for name, b in _norm_buffers(self.module).items()}
            finally:
                for m, momentum in zip(norms, momenta, strict=True):
                    m.momentum = momentum
                self.module.train(training)
        self.buffers, self.measured_at = measured, self.updates

    def state_dict(self) -> dict[str, Any]:
        return {"part": self.part, "decay": self.decay, "updates": self.updates,
                "weights": dict(self.weights), "buffers": dict(self.buffers)}

    def load_state_dict(self, state: dict[str, Any]) -> None:
        if state["part"] != self.part or state["weights"].keys() != self.weights.keys():
            raise CheckpointError(f"the checkpoint's weight average is of "
                                  f"{_named(state['part'])}, this trainer's of "
                                  f"{_named(self.part)}")
        self.updates = int(state["updates"])
        for name, value in state["weights"].items():
            self.weights[name].copy_(value)
        own = _norm_buffers(self.module)  # none saved before calibration existed
        self.buffers = {name: value.to(own[name].device)
                        for name, value in state.get("buffers", {}).items()}
        self.measured_at = self.updates if self.buffers else None


def _norms(module: torch.nn.Module) -> list[tuple[str, torch.nn.Module]]:
    """The batch-norm layers of ``module``, with their names."""
    return [(name, m) for name, m in module.named_modules()
            if isinstance(m, torch.nn.modules.batchnorm._BatchNorm)]


def _norm_buffers(module: torch.nn.Module) -> dict[str, torch.Tensor]:
    """The batch-norm layers' running statistics of ``module``, by name."""
    return {f"{name}.{key}" if name else key: b for name, m in _norms(module)
            for key, b in m.named_buffers(recurse=False)}


def _named(part: str) -> str:
    return f"module {part!r}" if part else "the whole model"


def averaged_weights(trainer_state: dict[str, Any]) -> dict[str, Any]:
    """The model's weights as validation and sampling use them: those of a checkpoint's
    trainer state, the averaged parameters (and the average's batch-norm statistics,
    where measured) in place of the last ones where training kept an average."""
    weights = trainer_state["model"]
    average = trainer_state.get("ema")
    if average is None:
        return weights
    prefix = f"{average['part']}." if average["part"] else ""
    averaged = {**average["weights"], **average.get("buffers", {})}
    return {**weights, **{prefix + name: value for name, value in averaged.items()}}
