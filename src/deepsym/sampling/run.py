"""The sampler of a trained run: model, config and representation as it was trained.

``deepsym train`` writes a run folder (see ``deepsym.training.rundir``); its checkpoint
holds the model's name and config, from which the registry rebuilds the model
(``deepsym.training.checkpoint.load_trained``, no code runs while loading). The
representation is the one training read, decided in one place,
``ModelSpec.make_representation(config)``; sampling never needs the model's Trainer.
"""
from __future__ import annotations

import os
from collections.abc import Callable, Mapping
from typing import Any

from deepsym.modeling import ModelSpec
from deepsym.representations.base import Representation
from deepsym.sampling.base import Controls, Sampler


def load_sampler(run: str | os.PathLike, controls: Controls | None = None, *, seed: int = 0,
                 device: str | None = "cpu", options: Mapping[str, Any] | None = None,
                 warn: Callable[[str], None] | None = None) -> Sampler:
    """The model's Sampler for a run folder (its best checkpoint, else its last) or a
    checkpoint file, with ``controls``, ``seed`` and the model's own sampling
    ``options`` (checked against the sampler's ``declared_options``), on ``device``
    (None: CUDA when available); ``warn`` hears why a run's best checkpoint could not be
    used (see ``load_trained``)."""
    from deepsym.training.checkpoint import load_trained

    trained = load_trained(run, device, warn=warn)
    representation = trained_representation(trained.spec, trained.config)
    return trained.spec.sampler_class()(trained.model, representation, controls, seed=seed,
                                        device=str(trained.device), options=options,
                                        name=trained.spec.name)


def trained_representation(spec: ModelSpec, config: object) -> Representation:
    """The representation a model of ``spec`` with ``config`` reads (an alias of
    ``spec.make_representation(config)``)."""
    return spec.make_representation(config)
