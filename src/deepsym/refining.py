"""Refiners: post-processors that polish any Score, whichever model made it.

A plugin registers a :class:`RefinerSpec` (hook ``register_refiners``). Its ``load``
factory gives a :class:`Refiner`, an object with ``refine(score) -> Score``:

- a refiner that learns nothing (say, quantizing to a grid) has ``model=None`` and is
  loaded by its name (``load(None)``);
- a learned one names the registered model it is a run of (``model="refine-duration"``):
  that model trains like any other (``deepsym train refine-duration --corpus C``) and
  the refiner is loaded from the run folder (``load(trained)``, the run's
  ``deepsym.training.checkpoint.Trained``).

:func:`load_refiner` takes a name or a run folder, :func:`refine` applies refiners in
order and holds every refiner to the invariants (:func:`check_refined`): the tracks,
each track's pitches in their order, and its notes' order in time are unchanged; no note
starts before 0 or lasts 0 ticks or less; a piece with no notes comes back unchanged
(the refiners are not called). Nothing here imports torch.
"""
from __future__ import annotations

import os
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol

import numpy as np

from deepsym.errors import DeepsymError, MissingExtraError
from deepsym.modeling import module_available, resolve
from deepsym.score import Score


class Refiner(Protocol):
    """What a refiner is: a name for messages and ``refine(score) -> Score``."""

    name: str

    def refine(self, score: Score) -> Score: ...


@dataclass(frozen=True)
class RefinerSpec:
    """One refiner as a plugin registers it. ``load``: ``factory(trained) -> Refiner``
    (or its ``"module:attribute"`` string), ``trained`` being None for a refiner that
    learns nothing, else the loaded run of the registered model ``model``. ``extra`` /
    ``requires`` as a ModelSpec's (a refiner that learns nothing may require nothing)."""

    name: str
    load: Any
    model: str | None = None
    extra: str | None = None
    requires: tuple[str, ...] = ()
    description: str = ""

    def build(self, trained: Any = None) -> Refiner:
        missing = [name for name in self.requires if not module_available(name)]
        if missing:
            hint = f"pip install 'deepsym[{self.extra}]'" if self.extra else \
                "pip install " + " ".join(missing)
            raise MissingExtraError(f"refiner {self.name!r} needs {', '.join(missing)}: "
                                    f"{hint}")
        return resolve(self.load)(trained)


def load_refiner(name_or_run: str | os.PathLike, device: str | None = "cpu") -> Refiner:
    """The refiner a run folder (or checkpoint) of a refiner model was trained as, or the
    registered refiner of that name that learns nothing."""
    from deepsym.plugins import manager

    refiners = manager().refiners
    path = Path(name_or_run)
    if path.exists():
        from deepsym.training.checkpoint import load_trained

        trained = load_trained(path, device)
        for _, spec, _ in refiners.entries():
            if spec.model == trained.name:
                return spec.build(trained)
        raise DeepsymError(f"{path}: a run of model {trained.name!r}, which no refiner "
                           f"reads (refiners: {', '.join(refiners.names()) or 'none'})")
    if os.sep in str(name_or_run) or "/" in str(name_or_run):
        raise DeepsymError(f"{path}: no such run folder")
    spec = refiners.get(str(name_or_run))
    if spec.model is not None:
        raise DeepsymError(f"refiner {spec.name!r} is learned: give a run folder of "
                           f"'deepsym train {spec.model}', not its name")
    return spec.build(None)


def refine(score: Score, refiners: Sequence[Refiner]) -> Score:
    """``score`` through each refiner in order, each result checked by
    :func:`check_refined`; a piece with no notes is returned as it is."""
    if not score.n_notes:
        return score
    for refiner in refiners:
        refined = refiner.refine(score)
        check_refined(score, refined, refiner.name)
        score = refined
    return score


def check_refined(before: Score, after: Score, name: str) -> None:
    """DeepsymError naming refiner ``name`` and the first invariant ``after`` breaks."""
    def broken(what: str) -> DeepsymError:
        return DeepsymError(f"refiner {name!r} broke an invariant: {what}")

    if len(before.tracks) != len(after.tracks):
        raise broken(f"{len(before.tracks)} tracks became {len(after.tracks)}")
    for k, (old, new) in enumerate(zip(before.tracks, after.tracks, strict=True)):
        if not np.array_equal(old.notes["pitch"], new.notes["pitch"]):
            raise broken(f"track {k}: its pitches or their order changed")
        if len(new.notes) and (new.notes["start"].min() < 0 or new.notes["duration"].min() <= 0):
            raise broken(f"track {k}: a note starts before 0 or lasts no time")
        order = np.lexsort((old.notes["pitch"], old.notes["start"]))
        if (np.diff(new.notes["start"][order].astype(np.int64)) < 0).any():
            raise broken(f"track {k}: its notes changed order in time")


__all__ = ["Refiner", "RefinerSpec", "check_refined", "load_refiner", "refine"]
