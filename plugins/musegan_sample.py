"""Sampling MuseGAN: phrases of bars from random vectors, binarized, as multi-track MIDI.

One draw of the generator is one phrase (``config.n_bars`` bars) of ``n`` pieces side
by side. A longer piece chains phrases: the vectors that hold for every bar (the
song's character) stay, and the temporal generators' inputs walk on
(``phrase_walk``), so each phrase follows from the one before.
"""
from __future__ import annotations

import math
from collections.abc import Iterator
from typing import Any

import torch
from deepsym_plugins.musegan_model import (
    Latents,
    binarize,
    phrase_walk,
    pitches_of,
    probabilities_of,
    slerp,
    with_rest,
)

from deepsym.errors import DeepsymError
from deepsym.representations.bars import Bars
from deepsym.sampling import Option, Sampler
from deepsym.score import Score

# the tempo of decoded bars: a MIDI file without a tempo event plays at 120 quarters a minute
SECONDS_PER_BEAT = 0.5


class PhraseSampler(Sampler):
    """Bars of ``n`` pieces, a phrase per draw. It follows none of the generic controls
    (they steer token choices; here the vectors and the binarization do)."""

    follows = frozenset()
    declared_options = (
        Option("binarize", str, "threshold", "how probabilities become notes: by "
               "'threshold', or a 'bernoulli' draw per step and pitch",
               choices=("threshold", "bernoulli")),
        Option("threshold", float, 0.5, "binarize=threshold: a step sounds where the "
               "probability exceeds this (a model of output=voice, the default under "
               "rule=voice, sounds the likeliest of each track's pitches and rest, and "
               "refuses a threshold)", low=0.0, high=1.0),
        Option("shared", str, "vary", "'fixed': every piece gets the same shared vectors "
               "(one song, its tracks varied by their own vectors); 'vary': new ones per "
               "piece (composer and hybrid models: jamming has no shared vector)",
               choices=("vary", "fixed")),
        Option("interpolate", bool, False, "the n pieces lie evenly on the path between two "
               "drawn sets of vectors (spherical interpolation), first to last"),
        Option("walk", float, 0.5, "for pieces longer than a phrase: how far the temporal "
               "vectors move from one phrase to the next (0: repeat, 1: a new phrase)",
               low=0.0, high=1.0),
        Option("programs", str, "", "the General MIDI program of each track, comma "
               "separated (e.g. 52,52,52,52: choir); default: the trained config's"),
    )

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        generator = self.model.generator
        if self.options["shared"] == "fixed" and "inter" not in generator.kinds:
            raise DeepsymError(f"model {self.name!r} ({generator.mode}) has no shared vector: "
                               "shared=fixed needs a composer or hybrid model")
        if "threshold" in (kwargs.get("options") or {}) and self.model.config.output == "voice":
            raise DeepsymError(f"model {self.name!r} sings one pitch or a rest per track and "
                               "step (output=voice): it sounds the likeliest, so a threshold "
                               "does not apply (binarize=bernoulli draws one instead)")
        if self.options["programs"]:
            self.representation = _voiced(self.representation, self.options["programs"],
                                          self.name)

    def chunks(self, n: int, steps: int, primer: Score | None = None
               ) -> Iterator[Any]:
        if primer is not None:
            raise DeepsymError(f"model {self.name!r} makes whole phrases from random "
                               "vectors; it cannot continue a primer")
        generator = self.model.generator
        with torch.no_grad():
            z = self.latents(n)
            for phrase in range(math.ceil(steps / generator.bars)):
                if phrase:
                    z = self.walked(z)
                yield self.notes(generator(z)).cpu().numpy()

    def normal(self, shape: tuple[int, ...]) -> torch.Tensor:
        return torch.randn(shape, generator=self.rng, device=self.device)

    def latents(self, n: int) -> Latents:
        """The first phrase's vectors of ``n`` pieces, as the options ask."""
        generator = self.model.generator
        z = generator.draw(n, self.normal)
        if self.options["interpolate"]:
            end = generator.draw(n, self.normal)
            t = torch.linspace(0, 1, n, device=self.device)
            z = Latents(*(None if a is None else slerp(a[:1].expand_as(a), b[-1:].expand_as(b), t)
                          for a, b in zip(z, end, strict=True)))
        if self.options["shared"] == "fixed":
            z = z._replace(**{k: getattr(z, k)[:1].expand_as(getattr(z, k)).contiguous()
                              for k in ("inter", "inter_temporal") if getattr(z, k) is not None})
        return z

    def walked(self, z: Latents) -> Latents:
        """The next phrase's vectors: the temporal inputs walk, the rest stay (a fixed
        shared temporal vector walks alike for every piece)."""
        walk = self.options["walk"]
        moved = {}
        for kind in ("inter_temporal", "intra_temporal"):
            value = getattr(z, kind)
            if value is None:
                continue
            fresh = self.normal(tuple(value.shape))
            if kind == "inter_temporal" and self.options["shared"] == "fixed":
                fresh = fresh[:1].expand_as(fresh)
            moved[kind] = phrase_walk(value, fresh, walk)
        return z._replace(**moved)

    def notes(self, logits: torch.Tensor) -> torch.Tensor:
        """0/1 notes ``(n, bars, tracks, steps, pitches)`` of the generator's logits by the
        binarize option (a model of ``output="voice"``: the likeliest of each track's
        pitches and rest, or one drawn)."""
        output = self.model.config.output
        probabilities = probabilities_of(with_rest(logits, output), output)
        if self.options["binarize"] == "bernoulli":
            uniform = torch.rand(probabilities.shape, generator=self.rng, device=self.device)
            return pitches_of(binarize(probabilities, "stochastic", uniform, output), output)
        if output == "voice":
            return pitches_of(binarize(probabilities, "deterministic", None, output), output)
        return (probabilities > self.options["threshold"]).float()

    def step_cap(self, seconds: float) -> int:
        """Bars enough for ``seconds`` at 120 quarters a minute, a whole phrase at least."""
        options = self.representation.options
        bar = options["beats_per_bar"] * SECONDS_PER_BEAT
        return max(self.model.generator.bars, math.ceil(seconds / bar))


def _voiced(representation: Bars, text: str, model: str) -> Bars:
    """``representation`` decoding with the programs of ``text`` ("52,40,41,42")."""
    try:
        programs = [int(p) for p in text.split(",")]
    except ValueError:
        raise DeepsymError(f"model {model!r}: sampling option programs must be whole "
                           f"numbers separated by commas, not {text!r}") from None
    options = representation.options
    return Bars(rule=options["rule"], n_tracks=representation.n_tracks,
                steps_per_beat=options["steps_per_beat"],
                beats_per_bar=options["beats_per_bar"], pitch_range=options["pitch_range"],
                programs=programs, conditions=representation.conditions)
