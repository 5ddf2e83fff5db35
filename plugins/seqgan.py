"""The ``seqgan`` plugin: registrations only (torch is named, never imported here).

SeqGAN (Yu et al. 2017) on event tokens (REMI for a notated corpus, as Char-RNN): a
Char-RNN generator pretrained by maximum likelihood, then trained by policy gradient
with rewards from a CNN discriminator over Monte Carlo rollouts of every prefix
(batched, ``deepsym.sampling.policy``). Sampling is Char-RNN's.
"""
from __future__ import annotations

from deepsym.hookspecs import Register, hookimpl
from deepsym.modeling import ModelSpec


@hookimpl
def register_models(register: Register) -> None:
    register(ModelSpec(
        name="seqgan", config="deepsym_plugins.seqgan_model:SeqGANConfig",
        module="deepsym_plugins.seqgan_model:SeqGAN",
        trainer="deepsym_plugins.seqgan_train:SeqGANTrainer",
        sampler="deepsym_plugins.char_rnn_sample:TokenSampler",
        representation="events", extra="seqgan",
        description="LSTM generator pretrained by MLE, then policy gradient with rewards "
                    "from a highway CNN discriminator over batched Monte Carlo rollouts"))
