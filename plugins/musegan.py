"""The ``musegan`` plugin: registrations only (torch is named, never imported here).

MuseGAN (Dong et al. 2018) on ``bars``: multi-track phrases from random vectors shared
by the tracks and one per track, the same for every bar and one per bar (temporal
generators); jamming, composer and hybrid models; a 3-D convolutional critic trained
with WGAN-GP; binary neurons optional.
"""
from __future__ import annotations

from deepsym.hookspecs import Register, hookimpl
from deepsym.modeling import ModelSpec


@hookimpl
def register_models(register: Register) -> None:
    register(ModelSpec(
        name="musegan", config="deepsym_plugins.musegan_model:MuseGANConfig",
        module="deepsym_plugins.musegan_model:MuseGAN",
        trainer="deepsym_plugins.musegan_train:MuseGANTrainer",
        sampler="deepsym_plugins.musegan_sample:PhraseSampler",
        representation="bars", extra="musegan",
        description="multi-track bars (tracks x steps x pitches) from shared and per-track "
                    "random vectors, temporal generators across bars; jamming, composer "
                    "or hybrid; 3-D convolutional critic, WGAN-GP"))
