"""Every registered metric of one score at once, and their mean and spread over many scores.

The metrics are the plugin manager's metrics registry (deepsym's own come from the
built-in ``core`` plugin, registered like any plugin's): one list for ``deepsym
metrics``, ``deepsym evaluate`` and its report. A metric that raises or returns
something other than a number is NaN for that score, and the reason is recorded.
"""
from __future__ import annotations

import math
import numbers
from collections.abc import Callable, Iterable
from typing import NamedTuple

import numpy as np

from deepsym.score import Score


class Metric(NamedTuple):
    """A registered metric: its name, its function and the plugin that registered it."""

    name: str
    function: Callable[[Score], float]
    plugin: str
    builtin: bool  # registered by one of deepsym's own plugins


def registered_metrics() -> list[Metric]:
    """The metrics of the registry in the order they were registered: plugins in load
    order (deepsym's own first), each plugin's metrics in its own order."""
    from deepsym.plugins import manager

    pm = manager()
    return [Metric(name, function, plugin, pm.plugins[plugin].source == "built-in")
            for name, function, plugin in pm.metrics.entries()]


def summarize(score: Score, failures: dict[str, str] | None = None) -> dict[str, float]:
    """Every registered metric for one score: counts as int, the rest as float (NaN where
    undefined). A metric that raises or gives no number is NaN; when ``failures`` is
    given, it maps such a metric's name to one line naming the plugin and the reason
    (the first reason seen is kept)."""
    values: dict[str, float] = {}
    for metric in registered_metrics():
        value, problem = _measure(metric, score)
        values[metric.name] = value
        if problem is not None and failures is not None:
            failures.setdefault(metric.name, problem)
    return values


def _measure(metric: Metric, score: Score) -> tuple[float, str | None]:
    """``metric`` of ``score`` and None, or NaN and why it failed."""
    where = f"metric {metric.name!r} of plugin {metric.plugin!r}"
    try:
        value = metric.function(score)
    except (Exception, SystemExit) as exc:  # a plugin's bug must not end the command
        reason = str(exc)
        return math.nan, f"{where} failed: {type(exc).__name__}" + (f": {reason}" if reason
                                                                      else "")
    if isinstance(value, bool) or not isinstance(value, numbers.Real):
        return math.nan, f"{where} returned {type(value).__name__}, not a number"
    return (value if isinstance(value, int) else float(value)), None


def aggregate(summaries: Iterable[dict[str, float]]) -> dict[str, tuple[float, float, int]]:
    """Per registered metric: mean, standard deviation and count over the summaries where
    it is defined (NaN values left out); NaN, NaN, 0 where it is defined for none."""
    rows = list(summaries)
    out = {}
    for metric in registered_metrics():
        values = np.array([row.get(metric.name, math.nan) for row in rows], dtype=np.float64)
        values = values[~np.isnan(values)]
        out[metric.name] = (float(values.mean()), float(values.std()), len(values)) \
            if len(values) else (math.nan, math.nan, 0)
    return out
