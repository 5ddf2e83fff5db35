"""Sampling: the Sampler interface, its steering controls and the choice of each step."""
from deepsym.sampling.base import Controls, Sampler, choose

__all__ = ["Controls", "Sampler", "choose"]
