"""Sampling: the Sampler interface, its steering controls, the choice of each step,
condition vectors from a key, a pitch height and a density (``conditions``), and the
sampler of a trained run (``load_sampler``)."""
from deepsym.sampling.base import Controls, IncrementalSampler, Sampler, choose, choose_many
from deepsym.sampling.run import load_sampler

__all__ = ["Controls", "IncrementalSampler", "Sampler", "choose", "choose_many",
           "load_sampler"]
