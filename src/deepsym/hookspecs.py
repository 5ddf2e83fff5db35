"""The plugin API: the hooks a deepsym plugin implements (the plugin author's reference).

A plugin is a module (or any object) with functions marked ``@hookimpl`` and named after
the hooks below, published in the ``deepsym.plugins`` entry-point group::

    [project.entry-points."deepsym.plugins"]
    mine = "my_package.plugin"

Each ``register_<noun>`` hook is called once per plugin with a ``register`` callback and
returns nothing. ``register(thing, name=None)`` files ``thing`` under ``name`` (default:
``thing.name``, or a function's ``__name__``). Names are global per kind: registering a
name another plugin holds fails that plugin, and a plugin that raises (anything, even
``SystemExit``, at import or in any call of any hook) is skipped whole (nothing it
registered stays), while deepsym and every other plugin keep working.
Plugin modules must import without torch; name torch code as ``"module:attribute"``
strings that deepsym imports only when it is used.
"""
from __future__ import annotations

import argparse
from collections.abc import Callable

import pluggy

hookspec = pluggy.HookspecMarker("deepsym")
hookimpl = pluggy.HookimplMarker("deepsym")

Register = Callable[..., None]


@hookspec
def register_models(register: Register) -> None:
    """Register models: ``register(deepsym.modeling.ModelSpec(...))``.

    A spec names the model, its frozen config dataclass, its ``nn.Module`` factory, its
    Trainer and Sampler classes, the representation it consumes and the extra that
    installs its dependencies.
    """


@hookspec
def register_representations(register: Register) -> None:
    """Register representations: ``register(MyRepresentation)``, a subclass of
    ``deepsym.representations.Representation`` whose ``name`` is the registered name."""


@hookspec
def register_metrics(register: Register) -> None:
    """Register metrics: ``register(function)``, where ``function(score) -> float`` is
    filed under its ``__name__`` (or ``register(function, name="...")``)."""


@hookspec
def register_datasets(register: Register) -> None:
    """Register datasets: ``register(function, name="...")``, where ``function(root) ->
    list[pathlib.Path]`` returns the MIDI files of the dataset found under folder ``root``."""


@hookspec
def register_refiners(register: Register) -> None:
    """Register refiners, post-processors of any Score:
    ``register(deepsym.refining.RefinerSpec(...))``. A learned refiner names the model
    (registered by ``register_models``) whose runs it loads; see ``deepsym.refining``."""


@hookspec
def register_commands(cli: argparse._SubParsersAction) -> None:
    """Add ``deepsym`` subcommands: ``parser = cli.add_parser("name", help=...)``, then
    ``parser.set_defaults(run=function)`` where ``function(args) -> int`` is the exit status.

    Called once when plugins load (to learn the command names) and again for every parser
    the CLI builds, so it must only add parsers; a call that raises fails the plugin and
    takes the parsers it added out again.
    """

