"""Sampling: the Sampler interface, its steering controls, model-specific sampling options
(``options``), the choice of each step, condition vectors from a key, a pitch height and
a density (``conditions``), and the sampler of a trained run (``load_sampler``)."""
from deepsym.sampling.base import (
    CONTROLS,
    Controls,
    IncrementalSampler,
    Sampler,
    choose,
    choose_many,
)
from deepsym.sampling.options import Option
from deepsym.sampling.run import load_sampler

__all__ = ["CONTROLS", "Controls", "IncrementalSampler", "Option", "Sampler", "choose",
           "choose_many", "load_sampler"]
