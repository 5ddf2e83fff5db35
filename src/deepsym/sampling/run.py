"""The sampler of a trained run: model, config and representation as it was trained.

``deepsym train`` writes a run folder (see ``deepsym.training.rundir``); its checkpoint
holds the model's name and config, from which the registry rebuilds the model
(``deepsym.training.checkpoint.load_trained``, no code runs while loading). The
representation is the one the model's Trainer trained it on (``Trainer.representation``:
its options and condition features come from the config).
"""
from __future__ import annotations

import os
from collections.abc import Callable

from deepsym.modeling import ModelSpec
from deepsym.representations.base import Representation
from deepsym.sampling.base import Controls, Sampler


def load_sampler(run: str | os.PathLike, controls: Controls | None = None, *, seed: int = 0,
                 device: str | None = "cpu", warn: Callable[[str], None] | None = None
                 ) -> Sampler:
    """The model's Sampler for a run folder (its best checkpoint, else its last) or a
    checkpoint file, with ``controls`` and ``seed``, on ``device`` (None: CUDA when
    available); ``warn`` hears why a run's best checkpoint could not be used (see
    ``load_trained``)."""
    from deepsym.training.checkpoint import load_trained

    trained = load_trained(run, device, warn=warn)
    representation = trained_representation(trained.spec, trained.config)
    return trained.spec.sampler_class()(trained.model, representation, controls, seed=seed,
                                        device=str(trained.device))


def trained_representation(spec: ModelSpec, config: object) -> Representation:
    """The representation a model of ``spec`` with ``config`` reads."""
    from deepsym.plugins import manager

    registered = manager().representations.get(spec.representation)
    return spec.trainer_class().representation(config, registered)
