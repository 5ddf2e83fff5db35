"""Sampling C-RNN-GAN: whole sequences from noise, made playable, decoded by ``notes4``."""
from __future__ import annotations

import math
from collections.abc import Iterator

import numpy as np
import torch

from deepsym.representations.notes4 import PITCH_SCALE, TIME_SCALE, VELOCITY_SCALE
from deepsym.sampling import Option, Sampler
from deepsym.score import Score

# the step cap of a piece in seconds: a step is a note, and 32 a second is a dense run
NOTES_PER_SECOND = 32


class SequenceSampler(Sampler):
    """All ``steps`` notes of ``n`` pieces in one draw (one chunk): the generator runs
    free from U[0, 1) noise drawn from the sampler's seed. A primer's notes are read
    first (teacher forcing) and the pieces continue from the state after them. The
    noise is the generator's only randomness: it follows none of the generic controls
    (temperature, top-k, ...; asking for one is an error, not a silent no-op), and its
    one option, ``noise_scale``, narrows the noise."""

    follows = frozenset()
    declared_options = (
        Option("noise_scale", float, 1.0, "shrinks the U[0,1) noise toward 0.5 by this "
               "factor, much as a temperature below 1: 1 = the noise trained on, lower = "
               "pieces nearer each other and the likeliest notes, 0 = always the middle "
               "(one piece per primer, whatever the seed)", low=0.0, high=1.0),
    )

    def chunks(self, n: int, steps: int, primer: Score | None = None
               ) -> Iterator[np.ndarray]:
        generator = self.model.generator
        with torch.no_grad():
            events = self.primer_events(primer)
            previous, state = None, None
            if events is not None and len(events):
                notes = torch.as_tensor(events, dtype=torch.float32, device=self.device)
                read = torch.cat([notes.new_zeros(1, 4), notes]).expand(n, -1, -1)
                out, state = generator.step(self.noise(n, read.shape[1]), read)
                previous = out[:, -1]
            notes, _ = generator(self.noise(n, steps), previous, state)
        yield self.playable(notes.cpu().numpy())

    def noise(self, n: int, steps: int) -> torch.Tensor:
        """U[0, 1) noise ``(n, steps, noise size)`` from the seed, shrunk toward 0.5 by
        the ``noise_scale`` option (the draws are the same whatever the scale)."""
        noise = torch.rand(n, steps, self.model.generator.noise_size, generator=self.rng,
                           device=self.device)
        scale = self.options["noise_scale"]
        return noise if scale == 1 else 0.5 + (noise - 0.5) * scale

    def playable(self, notes: np.ndarray) -> np.ndarray:
        """``notes`` ``(n, steps, 4)`` within what a MIDI note can be: times not negative,
        lengths of at least one tick, pitches 0..127, velocities 1..127 (a velocity of 0
        is a note-off in MIDI)."""
        tick = 1.0 / (TIME_SCALE * getattr(self.representation, "ticks_per_beat", 480))
        out = notes.astype(np.float32, copy=True)
        out[..., 0] = np.maximum(out[..., 0], 0.0)
        out[..., 1] = np.maximum(out[..., 1], tick)
        out[..., 2] = np.clip(out[..., 2], 0.0, 127 / PITCH_SCALE)
        out[..., 3] = np.clip(out[..., 3], 1 / VELOCITY_SCALE, 127 / VELOCITY_SCALE)
        return out

    def step_cap(self, seconds: float) -> int:
        return max(64, math.ceil(seconds * NOTES_PER_SECOND))
