"""Model-specific sampling options: what a Sampler declares beyond the generic controls.

A Sampler subclass lists its options in ``declared_options`` (a noise scale, a walk's
reset chance, a rollout count, a binarization threshold), each an ``Option`` with a
name, a type, a default, a range and a line of help. The sampling layer parses and
checks the values a caller gives (``Sampler(..., options={...})``, ``load_sampler(...,
options=...)``, ``deepsym sample --opt NAME=VALUE``) against the declaration, so every
caller gets the same errors; a value may be given typed or as text (the command line's).
"""
from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from deepsym.errors import DeepsymError

TYPES: dict[type, str] = {bool: "bool", int: "int", float: "float", str: "str"}
TRUE, FALSE = ("true", "yes", "on", "1"), ("false", "no", "off", "0")


@dataclass(frozen=True)
class Option:
    """One sampling option: ``name`` (a Python identifier), ``type`` (bool, int, float
    or str), ``default``, ``help`` (one line), and for numbers an inclusive range
    ``low`` .. ``high`` (None: unbounded), for text the allowed ``choices`` (empty:
    any)."""

    name: str
    type: type
    default: Any
    help: str
    low: float | None = None
    high: float | None = None
    choices: tuple[str, ...] = ()

    def __post_init__(self) -> None:
        if not self.name.isidentifier():
            raise DeepsymError(f"sampling option name {self.name!r} is not an identifier")
        if self.type not in TYPES:
            raise DeepsymError(f"sampling option {self.name!r}: type must be one of "
                               f"{', '.join(TYPES.values())}, not {self.type!r}")
        if not self._fits(_typed(self.default, self.type)):
            raise DeepsymError(f"sampling option {self.name!r}: the default "
                               f"{self.default!r} is not {self.kind}")

    @property
    def kind(self) -> str:
        """The type and its allowed values, as ``--help-model`` shows them."""
        if self.choices:
            return f"{TYPES[self.type]}: one of {', '.join(self.choices)}"
        if self.low is None and self.high is None:
            return TYPES[self.type]
        if self.high is None:
            return f"{TYPES[self.type]} >= {self.low:g}"
        if self.low is None:
            return f"{TYPES[self.type]} <= {self.high:g}"
        return f"{TYPES[self.type]} in [{self.low:g}, {self.high:g}]"

    def parse(self, value: Any, model: str) -> Any:
        """``value`` (typed, or text) as this option's type, checked against its range;
        DeepsymError naming the option and ``model`` otherwise."""
        typed = _typed(value, self.type)
        if not self._fits(typed):
            raise DeepsymError(f"model {model!r}: sampling option {self.name} must be "
                               f"{self.kind}, not {value!r}")
        return typed

    def _fits(self, typed: Any) -> bool:
        """Whether a typed value (None: not of the type) is allowed."""
        return typed is not None and not (self.choices and typed not in self.choices) \
            and (self.low is None or typed >= self.low) \
            and (self.high is None or typed <= self.high)


def parse_options(declared: tuple[Option, ...], given: Mapping[str, Any] | None,
                  model: str) -> dict[str, Any]:
    """Every declared option's value: ``given``'s, parsed and checked, else the default.
    DeepsymError for a name not declared, listing those that are."""
    by_name = {option.name: option for option in declared}
    for name in given or {}:
        if name not in by_name:
            known = ", ".join(by_name) or "none"
            raise DeepsymError(f"model {model!r} has no sampling option {name!r}; its "
                               f"options are: {known}")
    return {name: option.parse((given or {}).get(name, option.default), model)
            for name, option in by_name.items()}


def _typed(value: Any, kind: type) -> Any:
    """``value`` as ``kind`` (None when it is not one): text is parsed, a number is kept
    only as its own type (an int as a float too), a float must be finite."""
    if isinstance(value, str) and kind is not str:
        return _from_text(value.strip(), kind)
    if kind is float and type(value) in (int, float):
        return float(value) if math.isfinite(value) else None
    return value if type(value) is kind else None


def _from_text(text: str, kind: type) -> Any:
    if kind is bool:
        lowered = text.lower()
        if lowered in TRUE or lowered in FALSE:
            return lowered in TRUE
        return None
    try:
        value = kind(text)
    except ValueError:
        return None
    return value if kind is int or math.isfinite(value) else None
