"""The ``char-rnn`` plugin: registrations only (torch is named, never imported here).

- ``char-rnn``: stacked LSTM (3 x 512 by default) over event tokens: ``remi`` (bars,
  positions, durations in fractions of a beat) for a notated corpus, ``events``
  (10 ms time shifts) for a performed one (``vocabulary``, chosen per corpus).
- ``char-rnn-conditional``: the same model and config fields, with ``conditions``
  defaulting to all three condition features (pitch-class histogram, mean pitch,
  density), concatenated to every step's input, and trained on transposed pieces.
  ``char-rnn --set conditions=... --set transpose=...`` is the same thing; the separate
  name gives the results table and the demo a model to name.
- ``char-rnn-duration``: the note-duration variant: pitch and duration streams in,
  an attention head over recent hidden states, two output heads.
- ``pianoroll-rnn``: many-hot next-frame prediction, per-key BCE, truncated BPTT and
  optional gradient checkpointing.
"""
from __future__ import annotations

from deepsym.hookspecs import Register, hookimpl
from deepsym.modeling import ModelSpec

MODEL = "deepsym_plugins.char_rnn_model"
TRAIN = "deepsym_plugins.char_rnn_train"
SAMPLE = "deepsym_plugins.char_rnn_sample"


@hookimpl
def register_models(register: Register) -> None:
    for name, config, module, trainer, sampler, representation, description in (
        ("char-rnn", "CharRNNConfig", "CharRNN", "RNNTrainer", "TokenSampler", "events",
         "stacked LSTM over event tokens (REMI for notated corpora, performance events "
         "otherwise)"),
        ("char-rnn-conditional", "ConditionalCharRNNConfig", "CharRNN", "RNNTrainer",
         "TokenSampler", "events", "char-rnn reading a condition vector (key histogram, "
         "mean pitch, density) at every step, trained on transposed pieces"),
        ("char-rnn-duration", "NoteDurationRNNConfig", "NoteDurationRNN", "RNNTrainer",
         "TokenSampler", "note-duration", "stacked LSTM over pitch and duration streams, "
         "attention head, pitch and duration outputs"),
        ("pianoroll-rnn", "PianorollRNNConfig", "PianorollRNN", "PianorollRNNTrainer",
         "PianorollSampler", "pianoroll", "LSTM predicting many-hot piano-roll frames "
         "(per-key BCE, truncated BPTT, gradient checkpointing)"),
    ):
        register(ModelSpec(name=name, config=f"{MODEL}:{config}", module=f"{MODEL}:{module}",
                           trainer=f"{TRAIN}:{trainer}", sampler=f"{SAMPLE}:{sampler}",
                           representation=representation, extra="charrnn",
                           description=description))
