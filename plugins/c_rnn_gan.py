"""The ``c-rnn-gan`` plugin: registrations only (torch is named, never imported here).

C-RNN-GAN (Mogren 2016) on ``notes4``: an LSTM generator reading noise and its previous
output, a bidirectional LSTM discriminator scoring every step, next-note pretraining
(the best of several noise draws per step) with a growing sequence length, feature
matching, freezing at 70% and L2 weight decay.
"""
from __future__ import annotations

from deepsym.hookspecs import Register, hookimpl
from deepsym.modeling import ModelSpec


@hookimpl
def register_models(register: Register) -> None:
    register(ModelSpec(
        name="c-rnn-gan", config="deepsym_plugins.c_rnn_gan_model:CRNNGANConfig",
        module="deepsym_plugins.c_rnn_gan_model:CRNNGAN",
        trainer="deepsym_plugins.c_rnn_gan_train:CRNNGANTrainer",
        sampler="deepsym_plugins.c_rnn_gan_sample:SequenceSampler",
        representation="notes4", extra="crnngan",
        description="LSTM generator (noise + previous note) vs bidirectional LSTM "
                    "discriminator over continuous notes; best-of-draws next-note "
                    "pretraining, feature matching, freezing"))
