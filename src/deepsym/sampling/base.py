"""The Sampler interface: generation apart from the model, steerable while it runs.

A Sampler wraps a trained model and the representation it was trained on. ``stream``
yields the piece one representation step at a time (a token, a piano-roll frame, a
bar), reading ``self.controls`` afresh at every step, so a caller (an interactive
front end, a test) can change the temperature or the conditions mid-piece. ``sample``
collects whole pieces and decodes them into Scores. torch is imported lazily.
"""
from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import numpy as np

from deepsym.errors import DeepsymError
from deepsym.representations.base import Representation
from deepsym.score import Score

if TYPE_CHECKING:
    import torch


@dataclass
class Controls:
    """What steers generation; a sampler reads these at every step.

    ``temperature``: logits are divided by it (0: always the most likely choice).
    ``top_k``: keep only the k most likely choices. ``top_p``: keep the smallest set of
    most likely choices whose probabilities sum to at least p. ``conditions``: condition
    features by name (see ``deepsym.representations.CONDITIONS``) for conditional models.
    """

    temperature: float = 1.0
    top_k: int | None = None
    top_p: float | None = None
    conditions: dict[str, np.ndarray] = field(default_factory=dict)


class Sampler(ABC):
    """Base class of every sampler; subclasses implement ``stream``."""

    def __init__(self, model: torch.nn.Module, representation: Representation,
                 controls: Controls | None = None, *, seed: int = 0,
                 device: str = "cpu") -> None:
        import torch

        self.device = torch.device(device)
        self.model = model.to(self.device).eval()
        self.representation = representation
        self.controls = controls if controls is not None else Controls()
        self.rng = torch.Generator(device=self.device).manual_seed(seed)

    @abstractmethod
    def stream(self, steps: int, primer: Score | None = None) -> Iterator[Any]:
        """Yield ``steps`` new events (representation steps), continuing ``primer``."""

    def sample(self, n: int, steps: int, primer: Score | None = None) -> list[Score]:
        """``n`` pieces of ``steps`` new events each, decoded (the primer not included)."""
        return [self.representation.decode(np.asarray(list(self.stream(steps, primer))))
                for _ in range(n)]


def choose(logits: torch.Tensor, controls: Controls,
           generator: torch.Generator | None = None) -> torch.Tensor:
    """One index per row of ``logits`` (shape ``(..., choices)``), drawn with the
    controls' temperature, top-k and top-p; shape ``logits.shape[:-1]``."""
    import torch

    _check(controls)
    if controls.temperature == 0 or controls.top_k == 1:
        return logits.argmax(dim=-1)
    logits = logits / controls.temperature
    if controls.top_k is not None and controls.top_k < logits.shape[-1]:
        kth = torch.topk(logits, controls.top_k, dim=-1).values[..., -1:]
        logits = logits.masked_fill(logits < kth, float("-inf"))
    if controls.top_p is not None and controls.top_p < 1:
        ordered, order = torch.sort(logits, dim=-1, descending=True)
        shares = torch.softmax(ordered, dim=-1)
        before = torch.cumsum(shares, dim=-1) - shares  # mass of the likelier choices
        drop = torch.zeros_like(logits, dtype=torch.bool).scatter(
            -1, order, before >= controls.top_p)
        logits = logits.masked_fill(drop, float("-inf"))
    probabilities = torch.softmax(logits, dim=-1).reshape(-1, logits.shape[-1])
    picks = torch.multinomial(probabilities, 1, generator=generator)
    return picks.reshape(logits.shape[:-1])


def _check(controls: Controls) -> None:
    if not controls.temperature >= 0:
        raise DeepsymError(f"temperature must be >= 0, not {controls.temperature}")
    if controls.top_k is not None and controls.top_k < 1:
        raise DeepsymError(f"top_k must be at least 1, not {controls.top_k}")
    if controls.top_p is not None and not 0 < controls.top_p <= 1:
        raise DeepsymError(f"top_p must be in (0, 1], not {controls.top_p}")
