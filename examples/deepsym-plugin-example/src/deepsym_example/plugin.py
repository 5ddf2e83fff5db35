"""The plugin module named by the entry point: hook implementations only, no torch.

The model's torch code is named by ``"module:attribute"`` strings, so ``deepsym plugins``
lists the model (marked with what to install) even where torch is missing.
"""
from __future__ import annotations

import argparse

from deepsym.hookspecs import Register, hookimpl
from deepsym.modeling import ModelSpec
from deepsym.refining import RefinerSpec
from deepsym_example.melody import MelodyTokens, conjunct_motion


@hookimpl
def register_representations(register: Register) -> None:
    register(MelodyTokens)


@hookimpl
def register_metrics(register: Register) -> None:
    register(conjunct_motion)


@hookimpl
def register_models(register: Register) -> None:
    register(ModelSpec(
        name="tiny-melody",
        config="deepsym_example.model:MelodyConfig",
        module="deepsym_example.model:MelodyLSTM",
        trainer="deepsym_example.train:MelodyTrainer",
        sampler="deepsym_example.sample:MelodySampler",
        representation=MelodyTokens.name,
        extra="torch",
        description="a one-layer LSTM over melody tokens",
    ))


@hookimpl
def register_refiners(register: Register) -> None:
    register(RefinerSpec(name="example-quantize", load="deepsym_example.quantize:Quantize",
                         description="(example plugin) snap notes to a sixteenth grid"))


@hookimpl
def register_commands(cli: argparse._SubParsersAction) -> None:
    from deepsym_example import command

    parser = cli.add_parser("example-melody", help="(example plugin) the top melody of "
                            "MIDI files: notes and conjunct motion",
                            description="Print the top melody's note count and its share "
                                        "of steps (intervals of at most 2 semitones).")
    parser.add_argument("files", nargs="+", metavar="FILE")
    parser.set_defaults(run=command.run)
