"""Sampling: one token at a time, steered by the sampler's controls."""
from __future__ import annotations

from collections.abc import Iterator

import torch

from deepsym import Score
from deepsym.sampling import Sampler, choose
from deepsym_example.melody import REST


class MelodySampler(Sampler):
    """Continues a primer (or a rest) token by token; reads the controls at every step."""

    @torch.no_grad()
    def stream(self, steps: int, primer: Score | None = None) -> Iterator[int]:
        context = self.representation.encode(primer) if primer is not None else []
        tokens = torch.tensor([list(context) or [REST]], device=self.device)
        logits, state = self.model(tokens)
        for _ in range(steps):
            token = choose(logits[:, -1], self.controls, self.rng)
            yield int(token)
            logits, state = self.model(token[:, None], state)
