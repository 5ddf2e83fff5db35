"""The compiled kernels, or their plain-Python twins when ``DEEPSYM_PUREPYTHON=1`` asks.

There is no silent fallback: a missing compiled module is an ImportError saying how to
rebuild it, never a quiet 100x slowdown.
"""
from __future__ import annotations

import os

PURE_PYTHON = os.environ.get("DEEPSYM_PUREPYTHON") == "1"

if PURE_PYTHON:
    from deepsym._ext import smf_py as smf
else:
    try:
        from deepsym._ext import smf
    except ImportError as exc:  # pragma: no cover - depends on how the package was built
        raise ImportError(
            "deepsym's compiled kernels (deepsym._ext.smf) are missing or do not load "
            f"({exc}). Rebuild them: `pip install .` (or `pip install -e .`, or "
            "`python setup.py build_ext --inplace` in a checkout). To run the slow "
            "plain-Python reference instead, set DEEPSYM_PUREPYTHON=1."
        ) from exc

__all__ = ["PURE_PYTHON", "smf"]
