"""What a model plugin registers: a ``ModelSpec`` and a frozen, JSON-serializable config.

The config travels with the weights: a checkpoint holds the model's name, ``to_dict(config)``
and the state, and loading rebuilds the model through the registry with ``from_dict``.
Nothing here imports torch; the spec's module factory, Trainer and Sampler may be given as
``"module:attribute"`` strings, imported only when used.
"""
from __future__ import annotations

import dataclasses
import importlib
import importlib.util
import json
import types
import typing
from collections.abc import Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, TypeVar, Union

from deepsym.errors import ConfigError, DeepsymError, MissingExtraError

if TYPE_CHECKING:
    from deepsym.representations.base import Representation

C = TypeVar("C")

JSON_SCALARS = (bool, int, float, str, type(None))


@dataclass(frozen=True)
class ModelSpec:
    """One model as a plugin registers it.

    ``config``: a frozen dataclass of JSON values (architecture and training fields alike,
    e.g. critic steps per generator step). A config may leave choices to the data with a
    method ``for_corpus(corpus) -> config``: training calls it before anything is built
    and keeps the config it returns (with, say, the notated grid or the condition ranges
    measured by ``deepsym.data.fit``), so the choices travel with the weights; it must
    return a resolved config unchanged. ``module``: ``factory(config) -> nn.Module``
    (usually the module class). ``trainer`` / ``sampler``: subclasses of
    ``deepsym.training.Trainer`` / ``deepsym.sampling.Sampler``; ``sampler=None``: the
    model generates nothing (a refiner's network, see ``deepsym.refining``). Each of these
    four may be a ``"module:attribute"`` string. ``representation``: the registered name of the
    representation the model consumes. ``extra``: the deepsym extra that installs
    ``requires`` (module names), shown as ``pip install 'deepsym[extra]'``.

    ``make_representation(config)`` is the one place that decides the representation a
    model reads, for training, sampling and evaluation alike: the registered class with
    its defaults, unless the config customizes it with a method
    ``make_representation() -> Representation`` (options from config fields, condition
    features, another registered class such as REMI for a notated corpus).
    """

    name: str
    config: type | str
    module: Any
    trainer: type | str
    sampler: type | str | None
    representation: str
    extra: str | None = None
    requires: tuple[str, ...] = ("torch",)
    description: str = ""

    def missing(self) -> list[str]:
        """The modules in ``requires`` that cannot be found."""
        return [name for name in self.requires if not module_available(name)]

    @property
    def install_hint(self) -> str:
        return f"pip install 'deepsym[{self.extra}]'" if self.extra else \
            "pip install " + " ".join(self.requires)

    def _load(self, field: str) -> Any:
        missing = self.missing()
        if missing:
            raise MissingExtraError(f"model {self.name!r} needs {', '.join(missing)}: "
                                    f"{self.install_hint}")
        return resolve(getattr(self, field))

    def config_class(self) -> type:
        cls = self._load("config")
        check_config_class(cls)
        return cls

    def build(self, config: Any = None) -> Any:
        """The ``nn.Module`` for ``config`` (default: the config class's defaults)."""
        cls = self.config_class()
        config = cls() if config is None else config
        if not isinstance(config, cls):
            raise ConfigError(f"model {self.name!r} takes a {cls.__name__}, "
                              f"not a {type(config).__name__}")
        return self._load("module")(config)

    def make_representation(self, config: Any = None) -> Representation:
        """The representation a model of this spec with ``config`` (default: the config
        class's defaults) reads: ``config.make_representation()`` when the config has
        that method, else the registered ``representation`` class with its defaults."""
        from deepsym.plugins import manager
        from deepsym.representations.base import Representation

        config = self.config_class()() if config is None else config
        hook = getattr(config, "make_representation", None)
        made = hook() if hook is not None else \
            manager().representations.get(self.representation)()
        if not isinstance(made, Representation):
            raise ConfigError(f"model {self.name!r}: {type(config).__name__}."
                              f"make_representation() returned {type(made).__name__}, "
                              "not a Representation")
        return made

    def trainer_class(self) -> type:
        return self._load("trainer")

    def sampler_class(self) -> type:
        if self.sampler is None:
            raise DeepsymError(f"model {self.name!r} generates nothing (it has no sampler); "
                               "see deepsym refine")
        return self._load("sampler")


def module_available(name: str) -> bool:
    """Whether ``import name`` can find the module (without importing it)."""
    try:
        return importlib.util.find_spec(name) is not None
    except (ImportError, ValueError):
        return False


def resolve(target: Any) -> Any:
    """``"package.module:attribute"`` imported; anything else returned as is."""
    if not isinstance(target, str):
        return target
    module, _, attribute = target.partition(":")
    if not attribute:
        raise ConfigError(f"{target!r} is not of the form 'package.module:attribute'")
    value: Any = importlib.import_module(module)
    for part in attribute.split("."):
        value = getattr(value, part)
    return value


# -- configs ----------------------------------------------------------------------------


def check_config_class(cls: type) -> None:
    """Raise ConfigError unless ``cls`` is a frozen dataclass whose fields hold JSON values
    (bool, int, float, str, None, tuples of those, nested config dataclasses) and whose
    ``former_defaults`` name fields of it."""
    if not (isinstance(cls, type) and dataclasses.is_dataclass(cls)):
        raise ConfigError(f"{cls!r} is not a dataclass")
    if not cls.__dataclass_params__.frozen:  # type: ignore[attr-defined]
        raise ConfigError(f"{cls.__name__} must be frozen: @dataclass(frozen=True)")
    hints = _hints(cls)
    for name, hint in hints.items():
        if not _json_type(hint):
            raise ConfigError(f"{cls.__name__}.{name}: {hint!r} is not a JSON type "
                              "(bool, int, float, str, None, tuple[...] or a config)")
    unknown = set(former_defaults(cls)) - set(hints)
    if unknown:
        raise ConfigError(f"{cls.__name__}.former_defaults names no field of it: "
                          f"{', '.join(sorted(unknown))}")


def former_defaults(cls: type) -> dict[str, Any]:
    """The values that runs saved before a field of config class ``cls`` existed had for
    it, where they differ from its default now: the class's ``former_defaults`` (a
    ``ClassVar`` mapping field names to values, empty when absent; ``check_config_class``
    checks that it names fields)."""
    return dict(getattr(cls, "former_defaults", None) or {})


def saved_values(cls: type, saved: Mapping[str, Any]) -> dict[str, Any]:
    """A config of ``cls`` as a run saved it, each field it lacks (added to deepsym since)
    at its former default; ``from_dict`` gives the others their defaults."""
    return {**former_defaults(cls), **saved}


def to_dict(config: Any) -> dict[str, Any]:
    """The config as a dict of JSON values (tuples become lists)."""
    return json.loads(to_json(config))


def to_json(config: Any) -> str:
    check_config_class(type(config))
    return json.dumps(dataclasses.asdict(config), sort_keys=True)


def from_json(cls: type[C], text: str) -> C:
    try:
        data = json.loads(text)
    except json.JSONDecodeError as exc:
        raise ConfigError(f"{cls.__name__}: not JSON: {exc}") from None
    return from_dict(cls, data)


def from_dict(cls: type[C], data: Any) -> C:
    """``cls`` built from ``data``, checked: unknown, missing and mistyped fields are
    errors naming the field; absent fields with defaults take them."""
    check_config_class(cls)
    return _convert(data, cls, cls.__name__)


def _hints(cls: type) -> dict[str, Any]:
    hints = typing.get_type_hints(cls)
    return {f.name: hints[f.name] for f in dataclasses.fields(cls) if f.init}


def _json_type(hint: Any) -> bool:
    origin, args = typing.get_origin(hint), typing.get_args(hint)
    if hint in JSON_SCALARS or hint is type(None):
        return True
    if dataclasses.is_dataclass(hint):
        return True
    if origin is tuple:
        return all(_json_type(a) for a in args if a is not Ellipsis)
    if origin is typing.Literal:
        return all(isinstance(a, JSON_SCALARS) for a in args)
    if origin in (Union, types.UnionType):
        return all(_json_type(a) for a in args)
    return False


def _convert(value: Any, hint: Any, where: str) -> Any:
    origin, args = typing.get_origin(hint), typing.get_args(hint)
    if dataclasses.is_dataclass(hint):
        return _convert_config(value, hint, where)
    if origin in (Union, types.UnionType):
        for option in args:
            try:
                return _convert(value, option, where)
            except ConfigError:
                continue
        raise ConfigError(f"{where}: {value!r} is not {_describe(hint)}")
    if origin is typing.Literal:
        if value in args:
            return value
        raise ConfigError(f"{where}: {value!r} is not one of {', '.join(map(repr, args))}")
    if origin is tuple:
        return _convert_tuple(value, args, where)
    if hint is float and type(value) is int:
        return float(value)
    if type(value) is not hint:
        raise ConfigError(f"{where}: {value!r} is not {_describe(hint)}")
    return value


def _convert_tuple(value: Any, args: tuple[Any, ...], where: str) -> tuple[Any, ...]:
    if not isinstance(value, list | tuple):
        raise ConfigError(f"{where}: {value!r} is not a list")
    if len(args) == 2 and args[1] is Ellipsis:
        args = (args[0],) * len(value)
    elif len(args) != len(value):
        raise ConfigError(f"{where}: needs {len(args)} values, got {len(value)}")
    return tuple(_convert(v, a, f"{where}[{i}]")
                 for i, (v, a) in enumerate(zip(value, args, strict=True)))


def _convert_config(data: Any, cls: type, where: str) -> Any:
    if not isinstance(data, dict):
        raise ConfigError(f"{where}: expected an object of fields, got {data!r}")
    hints = _hints(cls)
    unknown = sorted(set(data) - set(hints))
    if unknown:
        raise ConfigError(f"{where}: unknown field {unknown[0]!r}; "
                          f"fields are: {', '.join(hints)}")
    required = [f.name for f in dataclasses.fields(cls) if f.init and
                f.default is dataclasses.MISSING and f.default_factory is dataclasses.MISSING]
    absent = [name for name in required if name not in data]
    if absent:
        raise ConfigError(f"{where}: missing field {absent[0]!r}")
    values = {name: _convert(v, hints[name], f"{where}.{name}") for name, v in data.items()}
    try:
        return cls(**values)
    except (TypeError, ValueError) as exc:  # a config's own __post_init__ checks
        raise ConfigError(f"{where}: {exc}") from None


def _describe(hint: Any) -> str:
    return getattr(hint, "__name__", None) or str(hint).replace("typing.", "")
