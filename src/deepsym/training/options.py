"""How any model trains: optimizer, learning-rate schedule, clipping, batches, validation.

``TrainOptions`` holds the settings the engine needs whatever the model. A model's config
may carry a field of the same name (say ``learning_rate`` or ``grad_clip``): its value is
then the option's default for that model, so the config that travels with the weights
says how they were trained. ``settings`` splits ``key=value`` pairs between the model's
config and the options, with "did you mean" for unknown keys. torch is imported lazily.
"""
from __future__ import annotations

import dataclasses
import difflib
import json
import math
import typing
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Literal

from deepsym.errors import ConfigError, DeepsymError
from deepsym.modeling import from_dict, saved_values, to_dict

if TYPE_CHECKING:
    from collections.abc import Iterable

    import torch

OPTIMIZERS = ("adam", "adamw", "sgd", "rmsprop")
SCHEDULES = ("constant", "cosine", "linear")
SEEDS = 2**64  # seeds are 0 .. 2**64 - 1: torch's generators take 64 bits, numpy's no sign


@dataclass(frozen=True)
class TrainOptions:
    """Training settings shared by every model.

    ``optimizer`` with ``learning_rate``, ``weight_decay``, (adam, adamw) ``betas``, the
    decay rates of the moment estimates, and (sgd, rmsprop) ``momentum``. ``schedule``:
    the learning rate is ``learning_rate * f(step)`` with ``f`` rising linearly over
    ``warmup_steps``, then constant, or falling to ``final_lr_ratio`` at the last step by a
    half cosine or a line. ``grad_clip``: the
    largest global gradient norm (None: no clipping). ``batch_size``: items per process
    and update. Every ``valid_every`` steps (0: never) the loss on up to ``valid_batches``
    batches of the valid split is computed; ``patience`` validations without improvement
    stop the run (0: never). ``checkpoint_every`` steps ``checkpoints/last.pt`` is
    written; ``log_every`` steps a row of means goes to the logs. ``amp``: mixed
    precision (float16 with a gradient scaler) when training on CUDA.
    ``bad_step_limit`` consecutive updates with a non-finite loss or gradient stop the
    run with an error (each one is skipped with a warning). ``num_workers``: data
    loading processes. ``transpose``: ``(low, high)`` semitones; each training piece is
    transposed by a shift drawn from that range (augmentation; its condition vector is
    computed after the shift), ``(0, 0)`` for none. ``ema``: above 0, validation and
    sampling use an exponential moving average of the weights with this decay per round
    (``deepsym.training.averaging``; of the trainer's ``averaged_part``, with batch-norm
    statistics of its own where the trainer gives ``average_inputs``), 0 for the last
    weights.
    """

    optimizer: Literal["adam", "adamw", "sgd", "rmsprop"] = "adam"
    learning_rate: float = 1e-3
    weight_decay: float = 0.0
    momentum: float = 0.9
    betas: tuple[float, float] = (0.9, 0.999)
    schedule: Literal["constant", "cosine", "linear"] = "constant"
    warmup_steps: int = 0
    final_lr_ratio: float = 0.0
    grad_clip: float | None = None
    batch_size: int = 32
    valid_every: int = 200
    valid_batches: int = 16
    patience: int = 0
    checkpoint_every: int = 200
    log_every: int = 10
    amp: bool = True
    bad_step_limit: int = 10
    num_workers: int = 0
    transpose: tuple[int, int] = (0, 0)
    ema: float = 0.0

    def __post_init__(self) -> None:
        positive = ("batch_size", "checkpoint_every", "log_every", "bad_step_limit",
                    "valid_batches")
        at_least_zero = ("warmup_steps", "valid_every", "patience", "num_workers",
                         "weight_decay", "momentum")
        for name in positive:
            if getattr(self, name) < 1:
                raise ValueError(f"{name} must be at least 1, not {getattr(self, name)}")
        for name in at_least_zero:
            if getattr(self, name) < 0:
                raise ValueError(f"{name} must be >= 0, not {getattr(self, name)}")
        if not (self.learning_rate > 0 and math.isfinite(self.learning_rate)):
            raise ValueError(f"learning_rate must be > 0, not {self.learning_rate}")
        if not 0 <= self.final_lr_ratio <= 1:
            raise ValueError(f"final_lr_ratio must be in [0, 1], not {self.final_lr_ratio}")
        if len(self.betas) != 2 or not all(0 <= b < 1 for b in self.betas):
            raise ValueError(f"betas must be two numbers in [0, 1), not {list(self.betas)}")
        if not self.transpose[0] <= self.transpose[1]:
            raise ValueError(f"transpose must be [low, high] with low <= high, not "
                             f"{list(self.transpose)}")
        if not 0 <= self.ema < 1:
            raise ValueError(f"ema must be in [0, 1), not {self.ema}")
        if self.grad_clip is not None and not self.grad_clip > 0:
            raise ValueError(f"grad_clip must be > 0 or None, not {self.grad_clip}")


OPTION_FIELDS = tuple(f.name for f in dataclasses.fields(TrainOptions))


def check_seed(seed: int) -> int:
    """``seed``, or a DeepsymError unless it is a whole number from 0 to 2**64 - 1 (the
    seeds every generator that training and sampling use accepts)."""
    if isinstance(seed, bool) or not isinstance(seed, int) or not 0 <= seed < SEEDS:
        raise DeepsymError(f"--seed must be a whole number from 0 to {SEEDS - 1}, not "
                           f"{seed!r}")
    return seed


def options_for(config: Any, overrides: Mapping[str, Any] | None = None) -> TrainOptions:
    """The options for a model config: ``overrides``, else the config's field of the same
    name, else the default."""
    values = {name: getattr(config, name) for name in OPTION_FIELDS if hasattr(config, name)}
    values.update(overrides or {})
    return from_dict(TrainOptions, values)


def parse_settings(pairs: Iterable[str]) -> dict[str, Any]:
    """``["key=value", ...]`` as a dict; values are read as JSON (``64``, ``0.5``,
    ``true``, ``null``, ``[1, 2]``), anything else is a string (``cosine``)."""
    settings: dict[str, Any] = {}
    for pair in pairs:
        key, sep, text = pair.partition("=")
        if not sep or not key.strip():
            raise ConfigError(f"--set needs key=value, not {pair!r}")
        try:
            value = json.loads(text)
        except json.JSONDecodeError:
            value = text
        settings[key.strip()] = value
    return settings


def apply_settings(config_class: type, settings: Mapping[str, Any], *,
                   base: Mapping[str, Any] | None = None,
                   option_base: Mapping[str, Any] | None = None, model: str = "the model"
                   ) -> tuple[Any, TrainOptions]:
    """The model config (``base`` dict or the defaults, with ``settings`` for its fields)
    and the options (``option_base`` or the config's fields and defaults, with
    ``settings`` for the others). ``base`` and ``option_base`` are a saved run's: a field
    they lack takes its former default (``modeling.saved_values``). An unknown key is
    a ConfigError that suggests close names and lists them all."""
    config_fields = [f.name for f in dataclasses.fields(config_class) if f.init]
    known = config_fields + [n for n in OPTION_FIELDS if n not in config_fields]
    for key in settings:
        if key not in known:
            close = difflib.get_close_matches(key, known, n=2)
            hint = f"; did you mean {' or '.join(map(repr, close))}?" if close else ""
            raise ConfigError(f"unknown setting {key!r} for {model}{hint} "
                              f"(settings: {', '.join(known)})")
    config_values = saved_values(config_class, base) if base is not None else {}
    config_values.update({k: v for k, v in settings.items() if k in config_fields})
    config = from_dict(config_class, config_values)
    saved = saved_values(TrainOptions, option_base) if option_base is not None else {}
    overrides = {k: v for k, v in {**saved, **settings}.items() if k not in config_fields}
    return config, options_for(config, overrides)


def describe_fields(cls: type) -> list[tuple[str, str, str]]:
    """``(name, type, default)`` for each field of a config dataclass, as text; a
    declared default that the config resolves (``"auto"``) shows what it becomes with
    the other defaults too."""
    defaults = to_dict(cls()) if _has_defaults(cls) else {}
    hints = typing.get_type_hints(cls)
    rows = []
    for f in dataclasses.fields(cls):
        if not f.init:
            continue
        default = json.dumps(defaults[f.name]) if f.name in defaults else "(required)"
        declared = None if f.default is dataclasses.MISSING else json.dumps(f.default)
        if f.name in defaults and declared not in (None, default):
            default = f"{declared} ({default} with the other defaults)"
        rows.append((f.name, _type_name(hints[f.name]), default))
    return rows


def _type_name(hint: Any) -> str:
    """``int``, ``float | None``, ``tuple[str, ...]``; a Literal as its choices."""
    if typing.get_origin(hint) is typing.Literal:
        return "|".join(map(str, typing.get_args(hint)))
    if isinstance(hint, type):
        return hint.__name__
    return str(hint).replace("typing.", "")


def _has_defaults(cls: type) -> bool:
    return all(f.default is not dataclasses.MISSING or
               f.default_factory is not dataclasses.MISSING
               for f in dataclasses.fields(cls) if f.init)


# -- building the optimizer and its schedule -------------------------------------------------


def build_optimizer(parameters: Iterable[torch.nn.Parameter],
                    options: TrainOptions) -> torch.optim.Optimizer:
    """The optimizer ``options.optimizer`` over ``parameters``."""
    import torch

    lr, decay = options.learning_rate, options.weight_decay
    if options.optimizer == "adam":
        return torch.optim.Adam(parameters, lr=lr, betas=options.betas, weight_decay=decay)
    if options.optimizer == "adamw":
        return torch.optim.AdamW(parameters, lr=lr, betas=options.betas, weight_decay=decay)
    if options.optimizer == "sgd":
        return torch.optim.SGD(parameters, lr=lr, momentum=options.momentum,
                               weight_decay=decay)
    return torch.optim.RMSprop(parameters, lr=lr, momentum=options.momentum,
                               weight_decay=decay)


class LearningRateFactor:
    """``f(step)`` of the schedule: warmup ``min(1, (step + 1) / warmup)``, then 1, or a
    fall from 1 to ``final`` over the remaining steps (``(1 + cos(pi * t)) / 2`` or
    ``1 - t`` of progress ``t``). ``total_steps`` may be a function, asked when needed
    (the engine learns the run's length after building the trainer)."""

    def __init__(self, options: TrainOptions,
                 total_steps: int | Callable[[], int | None] | None) -> None:
        self.schedule = options.schedule
        self.warmup = options.warmup_steps
        self.final = options.final_lr_ratio
        self.total_steps = total_steps if callable(total_steps) else lambda: total_steps

    def __call__(self, step: int) -> float:
        if step < self.warmup:
            return (step + 1) / self.warmup
        if self.schedule == "constant" or step == self.warmup:
            return 1.0
        total = self.total_steps()
        if total is None:
            raise DeepsymError(f"schedule {self.schedule!r} needs the number of steps: "
                               "give --steps or --epochs (or use schedule=constant)")
        t = min(1.0, (step - self.warmup) / max(1, total - self.warmup))
        fall = (1 + math.cos(math.pi * t)) / 2 if self.schedule == "cosine" else 1 - t
        return self.final + (1 - self.final) * fall


def build_scheduler(optimizer: torch.optim.Optimizer, options: TrainOptions,
                    total_steps: int | Callable[[], int | None] | None
                    ) -> torch.optim.lr_scheduler.LRScheduler:
    """The schedule of ``options`` for ``optimizer``, stepped once per training step.

    The factor is wrapped in a function so that the scheduler's state holds only its
    position: the schedule itself always comes from the options (and budget) in force.
    """
    import torch

    factor = LearningRateFactor(options, total_steps)
    return torch.optim.lr_scheduler.LambdaLR(optimizer, lambda step: factor(step))


__all__ = ["OPTIMIZERS", "OPTION_FIELDS", "SCHEDULES", "SEEDS", "LearningRateFactor",
           "TrainOptions", "apply_settings", "build_optimizer", "build_scheduler",
           "check_seed", "describe_fields", "options_for", "parse_settings"]
