"""Checkpoints: everything a run needs to go on exactly, saved atomically, loaded as data.

A checkpoint is one ``torch.save`` file of plain containers and tensors, so it loads with
``torch.load(weights_only=True)`` (no code runs). It holds the model's registered name,
its config and the training options (as JSON dicts), the trainer's state (weights,
optimizers, schedulers, gradient scaler, schedule position, its generators on its
device and the CPU), the global random states (Python, numpy, torch, CUDA), the step,
the data position (epoch and the next batch's index in the epoch's seeded order), the
early-stopping state and the training time so far. Files are replaced atomically: a
reader (or a killed writer) leaves the previous checkpoint or the new one, never a part;
a write that fails (a full disk, a read-only folder) is a CheckpointError naming the
file.
"""
from __future__ import annotations

import random
import warnings
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from deepsym.errors import CheckpointError, ConfigError
from deepsym.fileio import write_atomic
from deepsym.modeling import from_dict, saved_values
from deepsym.training.devices import choose_device
from deepsym.training.rundir import field_differences

if TYPE_CHECKING:
    import torch

FORMAT = "deepsym-checkpoint"
VERSION = 1
LAST, BEST = "last.pt", "best.pt"


def save_checkpoint(path: str | Path, state: dict[str, Any]) -> Path:
    """Write ``state`` to ``path`` atomically; if that fails, the old file stays and a
    CheckpointError names ``path`` and the reason."""
    import torch

    try:
        return write_atomic(path, lambda out: torch.save(
            {"format": FORMAT, "version": VERSION, **state}, out))
    except OSError as exc:
        raise CheckpointError(f"{path}: cannot write: {exc.strerror or exc}") from None
    except RuntimeError as exc:  # torch's zip writer: "... inline_container.cc ... pos"
        raise CheckpointError(f"{path}: cannot write: {_first_line(exc)} (is the disk "
                              "full?)") from None


def load_checkpoint(path: str | Path) -> dict[str, Any]:
    """A checkpoint's contents, loaded without executing code (tensors on the CPU)."""
    import torch

    path = Path(path)
    if path.is_dir():
        raise CheckpointError(f"{path}: a folder, not a checkpoint file")
    if not path.is_file():
        raise CheckpointError(f"{path}: no such checkpoint file")
    try:
        state = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as exc:  # unpickling errors come in many types
        raise CheckpointError(f"{path}: not a readable checkpoint ({_first_line(exc)})") \
            from None
    if not isinstance(state, dict) or state.get("format") != FORMAT:
        raise CheckpointError(f"{path}: not a deepsym checkpoint")
    if state.get("version") != VERSION:
        raise CheckpointError(f"{path}: checkpoint format version {state.get('version')}, "
                              f"this deepsym reads version {VERSION}")
    return state


def check_checkpoint(state: dict[str, Any], path: str | Path, model: str,
                     config: dict[str, Any], options: dict[str, Any] | None = None,
                     defaults: dict[str, dict[str, Any]] | None = None) -> None:
    """CheckpointError naming ``path`` and each difference unless the checkpoint is of
    ``model`` with ``config`` (and ``options``, when given); a field the checkpoint
    lacks counts as its value in ``defaults["config"]`` or ``defaults["options"]``."""
    if state["model"] != model:
        raise CheckpointError(f"{path}: a checkpoint of model {state['model']!r}, "
                              f"not {model!r}")
    defaults = defaults or {}
    differences = field_differences("config", state["config"], config,
                                    defaults.get("config"))
    if options is not None:
        differences += field_differences("option", state["options"], options,
                                         defaults.get("options"))
    if differences:
        shown = "; ".join(differences[:5]) + ("; ..." if len(differences) > 5 else "")
        raise CheckpointError(f"{path}: a checkpoint of model {model!r} with another "
                              f"config: {shown}")


def _first_line(exc: BaseException) -> str:
    """The first line of an exception's message (its type when it has none), cut short."""
    text = str(exc).strip()
    return (text.splitlines()[0] if text else type(exc).__name__)[:200]


# -- random states ---------------------------------------------------------------------------


def rng_state() -> dict[str, Any]:
    """The global random states: Python's, numpy's, torch's and each CUDA device's."""
    import torch

    kind, keys, pos, has_gauss, gauss = np.random.get_state()
    cuda = torch.cuda.get_rng_state_all() if torch.cuda.is_initialized() else []
    return {"python": random.getstate(),
            "numpy": {"kind": kind, "keys": torch.from_numpy(keys.astype(np.int64)),
                      "pos": int(pos), "has_gauss": int(has_gauss), "gauss": float(gauss)},
            "torch": torch.get_rng_state(), "cuda": cuda}


def set_rng_state(state: dict[str, Any]) -> None:
    """Restore what ``rng_state`` captured (CUDA states only where CUDA is in use)."""
    import torch

    version, internal, gauss_next = state["python"]
    random.setstate((version, tuple(internal), gauss_next))
    numpy = state["numpy"]
    np.random.set_state((numpy["kind"], numpy["keys"].numpy().astype(np.uint32), numpy["pos"],
                         numpy["has_gauss"], numpy["gauss"]))
    torch.set_rng_state(state["torch"])
    if state["cuda"] and torch.cuda.is_available():
        torch.cuda.set_rng_state_all(state["cuda"])


# -- trained models --------------------------------------------------------------------------


@dataclass
class Trained:
    """A trained model rebuilt from a checkpoint: its registered name, spec, config,
    module (in eval mode, on ``device``), the step it was saved at and its file."""

    name: str
    spec: Any
    config: Any
    model: torch.nn.Module
    step: int
    path: Path
    device: torch.device


def load_trained(run_or_file: str | Path, device: str | None = "cpu", *,
                 warn: Callable[[str], None] | None = None) -> Trained:
    """The model of a run folder (its best checkpoint, else its last) or a checkpoint
    file, rebuilt through the plugin registry from the config it was trained with, with
    the averaged weights where training kept an average (``options.ema``), on ``device``
    (checked by ``choose_device``; None: CUDA when available). When a run's ``best.pt``
    cannot be read, its ``last.pt`` is used and ``warn`` (default: ``warnings.warn``) is
    told why."""
    from deepsym.plugins import manager
    from deepsym.training.averaging import averaged_weights

    torch_device = choose_device(device)
    path, state = _run_checkpoint(Path(run_or_file), warn or warnings.warn)
    spec = manager().models.get(state["model"])
    try:
        cls = spec.config_class()
        config = from_dict(cls, saved_values(cls, state["config"]))
    except ConfigError as exc:
        raise CheckpointError(f"{path}: its config does not fit model {spec.name!r} as "
                              f"installed now ({exc})") from None
    model = spec.build(config)
    load_weights(model, averaged_weights(state["trainer"]), path)
    return Trained(spec.name, spec, config, model.to(torch_device).eval(), int(state["step"]),
                   path, torch_device)


def _run_checkpoint(path: Path, warn: Callable[[str], None]) -> tuple[Path, dict[str, Any]]:
    """A checkpoint file's path and contents; for a run folder, those of its best
    checkpoint, or of its last one (and a warning) when the best cannot be read."""
    if not path.is_dir():
        return path, load_checkpoint(path)
    best, last = path / "checkpoints" / BEST, path / "checkpoints" / LAST
    if not (best.exists() or last.exists()):
        raise CheckpointError(f"{path}: no checkpoints/{LAST} (is it a deepsym train run?)")
    if not best.exists():
        return last, load_checkpoint(last)
    try:
        return best, load_checkpoint(best)
    except CheckpointError as exc:
        if not last.exists():
            raise
        try:
            state = load_checkpoint(last)
        except CheckpointError as also:
            raise CheckpointError(f"{exc}; {also}") from None
        warn(f"{exc}; using {LAST} (step {state['step']}) instead")
        return last, state


def load_weights(model: torch.nn.Module, weights: dict[str, Any], path: str | Path) -> None:
    """``model.load_state_dict(weights)``, or CheckpointError naming what does not fit."""
    try:
        model.load_state_dict(weights)
    except RuntimeError as exc:
        detail = " ".join(str(exc).split())
        raise CheckpointError(f"{path}: the weights do not fit the model "
                              f"({detail[:300]})") from None


__all__ = ["BEST", "LAST", "Trained", "check_checkpoint", "load_checkpoint", "load_trained",
           "load_weights", "rng_state", "save_checkpoint", "set_rng_state"]
