"""The compiled kernels, or their plain-Python twins when ``DEEPSYM_PUREPYTHON=1`` asks.

There is no silent fallback: a missing compiled module is an ImportError saying how to
rebuild it, never a quiet 100x slowdown.
"""
from __future__ import annotations

import importlib
import os
from types import ModuleType

PURE_PYTHON = os.environ.get("DEEPSYM_PUREPYTHON") == "1"


def load(name: str) -> ModuleType:
    """The kernel ``deepsym._ext.<name>``, or its twin ``<name>_py`` under DEEPSYM_PUREPYTHON=1."""
    if PURE_PYTHON:
        return importlib.import_module(f"deepsym._ext.{name}_py")
    try:
        return importlib.import_module(f"deepsym._ext.{name}")
    except ImportError as exc:  # pragma: no cover - depends on how the package was built
        raise ImportError(
            f"deepsym's compiled kernels (deepsym._ext.{name}) are missing or do not load "
            f"({exc}). Rebuild them: `pip install .` (or `pip install -e .`, or "
            "`python setup.py build_ext --inplace` in a checkout). To run the slow "
            "plain-Python reference instead, set DEEPSYM_PUREPYTHON=1."
        ) from exc


smf = load("smf")
smfwrite = load("smfwrite")

__all__ = ["PURE_PYTHON", "load", "smf", "smfwrite"]
