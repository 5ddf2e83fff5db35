"""The plugin manager and the registries the plugins fill.

Plugins come from the ``deepsym.plugins`` entry-point group: deepsym's own (built-in)
first, then every installed package's. Every call into a plugin (its import and each
call of each of its hooks, the first or a later one) runs inside its own try/except: a
plugin that fails to import, raises in any hook call, or registers a name another
plugin holds is recorded with the reason and skipped whole; deepsym and the other
plugins keep working. Anything a plugin raises counts, ``SystemExit`` included (a
``sys.exit`` in a plugin must not end deepsym), except ``KeyboardInterrupt``: Ctrl-C
still interrupts. Environment:

- ``DEEPSYM_STRICT_PLUGINS=1``: a failing plugin raises PluginError instead.
- ``DEEPSYM_LOAD_PLUGINS=a,b``: load only these third-party plugins (entry-point or
  distribution names; empty: none). Built-ins always load.
"""
from __future__ import annotations

import argparse
import difflib
import functools
import os
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from importlib import metadata
from typing import Any, Generic, TypeVar

import pluggy

from deepsym import hookspecs
from deepsym.errors import PluginError, UnknownPluginError
from deepsym.modeling import ModelSpec
from deepsym.refining import RefinerSpec
from deepsym.representations.base import Representation

ENTRY_POINT_GROUP = "deepsym.plugins"
BUILTIN_DISTRIBUTION = "deepsym"

T = TypeVar("T")


class Registry(Generic[T]):
    """Named things of one kind, each owned by the plugin that registered it."""

    def __init__(self, kind: str, check: Callable[[Any], bool], expected: str) -> None:
        self.kind = kind
        self._check = check
        self._expected = expected
        self._entries: dict[str, tuple[T, str]] = {}

    def add(self, thing: T, plugin: str, name: str | None = None) -> None:
        """File ``thing`` under ``name`` (default: its ``name`` or ``__name__``)."""
        name = name or getattr(thing, "name", None) or getattr(thing, "__name__", None)
        if not isinstance(name, str) or not name or name != name.strip() or " " in name:
            raise PluginError(f"plugin {plugin!r} registered a {self.kind} without a valid "
                              f"name: {name!r}")
        if not self._check(thing):
            raise PluginError(f"plugin {plugin!r} registered {self.kind} {name!r} as "
                              f"{thing!r}, which is not {self._expected}")
        if name in self._entries:
            owner = self._entries[name][1]
            raise PluginError(f"{self.kind} {name!r} is registered by plugin {owner!r}; "
                              f"plugin {plugin!r} registered it again")
        self._entries[name] = (thing, plugin)

    def get(self, name: str) -> T:
        """The thing registered as ``name``; UnknownPluginError suggests close names."""
        if name in self._entries:
            return self._entries[name][0]
        close = difflib.get_close_matches(name, self._entries, n=3)
        hint = f"; did you mean {' or '.join(map(repr, close))}?" if close else ""
        choices = ", ".join(self.names()) or "none"
        raise UnknownPluginError(f"unknown {self.kind} {name!r}{hint} "
                                 f"({self.kind}s: {choices})")

    def plugin_of(self, name: str) -> str:
        self.get(name)
        return self._entries[name][1]

    def names(self, plugin: str | None = None) -> list[str]:
        return sorted(n for n, (_, p) in self._entries.items() if plugin in (None, p))

    def entries(self) -> list[tuple[str, T, str]]:
        """``(name, thing, plugin)`` of every entry, in the order they were registered."""
        return [(name, thing, plugin) for name, (thing, plugin) in self._entries.items()]

    def discard_plugin(self, plugin: str) -> None:
        for name in self.names(plugin):
            del self._entries[name]

    def __contains__(self, name: object) -> bool:
        return name in self._entries

    def __iter__(self) -> Iterator[str]:
        return iter(self.names())

    def __len__(self) -> int:
        return len(self._entries)


@dataclass
class PluginInfo:
    """One plugin as loaded: where it came from and, if it failed, why."""

    name: str
    module: str
    source: str  # "built-in", "package" or "local"
    distribution: str | None = None
    version: str = ""
    error: str | None = None

    @property
    def failed(self) -> bool:
        return self.error is not None


class PluginManager:
    """pluggy's manager plus one Registry per kind and a record of every plugin."""

    def __init__(self, strict: bool = False) -> None:
        self.strict = strict
        self.hooks = pluggy.PluginManager("deepsym")
        self.hooks.add_hookspecs(hookspecs)
        self.models: Registry[ModelSpec] = Registry(
            "model", lambda x: isinstance(x, ModelSpec), "a deepsym.modeling.ModelSpec")
        self.representations: Registry[type[Representation]] = Registry(
            "representation", lambda x: isinstance(x, type) and issubclass(x, Representation),
            "a Representation subclass")
        self.metrics: Registry[Callable[..., float]] = Registry("metric", callable, "callable")
        self.datasets: Registry[Callable[..., Any]] = Registry("dataset", callable, "callable")
        self.refiners: Registry[RefinerSpec] = Registry(
            "refiner", lambda x: isinstance(x, RefinerSpec), "a deepsym.refining.RefinerSpec")
        self.commands: Registry[str] = Registry("command", lambda x: isinstance(x, str), "text")
        self.plugins: dict[str, PluginInfo] = {}

    def registries(self) -> dict[str, Registry[Any]]:
        return {"models": self.models, "representations": self.representations,
                "metrics": self.metrics, "datasets": self.datasets,
                "refiners": self.refiners, "commands": self.commands}

    # -- loading ------------------------------------------------------------------------

    def load_entry_points(self, allow: set[str] | None = None) -> None:
        """Load deepsym's plugins, then every package's (only ``allow``ed ones if given)."""
        for ep in _plugin_entry_points():
            dist = ep.dist.metadata["Name"] if ep.dist else None
            builtin = dist == BUILTIN_DISTRIBUTION
            if not builtin and allow is not None and not {ep.name, dist} & allow:
                continue
            name = ep.name if ep.name not in self.plugins else f"{dist}:{ep.name}"
            info = PluginInfo(name, ep.value, "built-in" if builtin else "package", dist,
                              ep.dist.version if ep.dist else "")
            self.plugins[name] = info
            plugin = self._guarded(info, "import failed", ep.load)
            if not info.failed:
                self._add(plugin, info)

    def register(self, plugin: object, name: str) -> PluginInfo:
        """Register a plugin object (a module, class or instance with hook functions)."""
        if name in self.plugins:
            raise PluginError(f"a plugin named {name!r} is already registered")
        module = getattr(plugin, "__name__", None) or \
            f"{type(plugin).__module__}.{type(plugin).__qualname__}"
        return self._add(plugin, PluginInfo(name, module, "local", version="-"))

    def unregister(self, name: str) -> None:
        """Remove a plugin and everything it registered."""
        for registry in self.registries().values():
            registry.discard_plugin(name)
        if self.hooks.has_plugin(name):
            self.hooks.unregister(name=name)
        self.plugins.pop(name, None)

    def failures(self) -> list[PluginInfo]:
        return [info for info in self.plugins.values() if info.failed]

    def _add(self, plugin: object, info: PluginInfo) -> PluginInfo:
        self.plugins[info.name] = info
        hook_in = functools.partial(self._hook_in, plugin, info.name)
        self._guarded(info, "registering failed", hook_in)
        return info

    def _hook_in(self, plugin: object, name: str) -> None:
        """Register the plugin's hooks and run them into the registries."""
        self.hooks.register(plugin, name=name)
        self._check_hook_names(name)
        self._collect(name)

    def _guarded(self, info: PluginInfo, stage: str, call: Callable[[], T]) -> T | None:
        """``call()``, a call into plugin ``info``; if it raises anything but
        KeyboardInterrupt, the plugin is failed (see :meth:`_fail`) and None returned."""
        try:
            return call()
        except KeyboardInterrupt:
            raise
        except BaseException as exc:  # SystemExit too: a plugin must not end deepsym
            self._fail(info, stage, exc)
            return None

    def _check_hook_names(self, name: str) -> None:
        for caller in self.hooks.get_hookcallers(self.hooks.get_plugin(name)) or []:
            if caller.spec is None:
                close = difflib.get_close_matches(caller.name, _hook_names(), n=1)
                hint = f" (did you mean {close[0]!r}?)" if close else ""
                raise PluginError(f"unknown hook {caller.name!r}{hint}; hooks are: "
                                  f"{', '.join(_hook_names())}")

    def _collect(self, name: str) -> None:
        """Run the plugin's hooks into the registries (commands into a scratch parser)."""
        for kind, registry in self.registries().items():
            if kind == "commands":
                continue
            for impl in self._impls(f"register_{kind}", name):
                _call(impl, register=functools.partial(_register, registry, name))
        scratch = argparse.ArgumentParser(prog="deepsym").add_subparsers()
        for impl in self._impls("register_commands", name):
            _call(impl, cli=scratch)
        for command, parser in scratch.choices.items():
            self.commands.add(parser.description or "", name, command)

    def _impls(self, hook: str, plugin: str) -> list[Any]:
        return [impl for impl in getattr(self.hooks.hook, hook).get_hookimpls()
                if impl.plugin_name == plugin]

    def _fail(self, info: PluginInfo, stage: str, exc: BaseException) -> None:
        """Record why the plugin failed and remove everything it registered; in strict
        mode, raise PluginError."""
        reason = str(exc)
        info.error = f"{stage}: {type(exc).__name__}" + (f": {reason}" if reason else "")
        for registry in self.registries().values():
            registry.discard_plugin(info.name)
        if self.hooks.has_plugin(info.name):
            self.hooks.unregister(name=info.name)
        if self.strict:
            raise PluginError(f"plugin {info.name!r}: {info.error}") from exc

    # -- the command line -----------------------------------------------------------------

    def add_commands(self, subparsers: argparse._SubParsersAction) -> None:
        """Let every loaded plugin add its subcommands to the ``deepsym`` parser.

        Called for every parser the CLI builds. A plugin whose command names a core
        command, or whose hook fails in this call, is recorded as failed and skipped;
        the parsers it added in this call are taken out again.
        """
        for info in list(self.plugins.values()):
            impls = [] if info.failed else self._impls("register_commands", info.name)
            if not impls:
                continue
            clash = sorted(set(self.commands.names(info.name)) & set(subparsers.choices))
            if clash:
                self._fail(info, "registering failed", PluginError(
                    f"command {clash[0]!r} is a deepsym core command"))
                continue
            self._guarded(info, "registering failed",
                          functools.partial(_add_parsers, impls, subparsers))


def _add_parsers(impls: list[Any], subparsers: argparse._SubParsersAction) -> None:
    """Call register_commands implementations into ``subparsers``; if one raises, the
    parsers added so far are removed (from the choices and from the help) first."""
    choices, listed = dict(subparsers.choices), len(subparsers._choices_actions)
    try:
        for impl in impls:
            _call(impl, cli=subparsers)
    except BaseException:
        subparsers.choices.clear()
        subparsers.choices.update(choices)
        del subparsers._choices_actions[listed:]
        raise


def _register(registry: Registry[Any], plugin: str, thing: Any, name: str | None = None) -> None:
    registry.add(thing, plugin, name)


def _call(impl: Any, **arguments: Any) -> None:
    """Call one hook implementation with the arguments it declares (pluggy allows fewer)."""
    impl.function(**{name: arguments[name] for name in impl.argnames})


def _hook_names() -> list[str]:
    return sorted(n for n in vars(hookspecs) if n.startswith("register_"))


def _plugin_entry_points() -> list[metadata.EntryPoint]:
    """The group's entry points: deepsym's own first, then by distribution and name."""
    def key(ep: metadata.EntryPoint) -> tuple[bool, str, str]:
        dist = ep.dist.metadata["Name"] if ep.dist else ""
        return dist != BUILTIN_DISTRIBUTION, dist.lower(), ep.name
    return sorted(metadata.entry_points(group=ENTRY_POINT_GROUP), key=key)


@functools.cache
def manager() -> PluginManager:
    """The process's plugin manager, loaded on first use (``manager.cache_clear()`` to
    reload, e.g. after installing a plugin)."""
    allow = os.environ.get("DEEPSYM_LOAD_PLUGINS")
    pm = PluginManager(strict=os.environ.get("DEEPSYM_STRICT_PLUGINS") == "1")
    pm.load_entry_points(None if allow is None else
                         {n.strip() for n in allow.split(",") if n.strip()})
    return pm


__all__ = ["ENTRY_POINT_GROUP", "PluginInfo", "PluginManager", "Registry", "manager"]
