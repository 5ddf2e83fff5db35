"""A throwaway plugin registered in the process's plugin manager for one block or test."""
from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

from deepsym.plugins import PluginManager, manager


@contextmanager
def registered(plugin: object, name: str) -> Iterator[PluginManager]:
    """The process's plugin manager with ``plugin`` registered until the block ends."""
    pm = manager()
    pm.register(plugin, name)
    try:
        yield pm
    finally:
        pm.unregister(name)
