"""The core plugin: deepsym's own metrics, registered like any plugin's."""
from __future__ import annotations

import inspect
from collections.abc import Callable

from deepsym.hookspecs import Register, hookimpl

SCORE_PARAMETERS = ("music", "score")
NUMBERS = ("float", "int", float, int)


@hookimpl
def register_metrics(register: Register) -> None:
    for name, function in _metric_functions().items():
        register(function, name)


def _metric_functions() -> dict[str, Callable[..., float]]:
    """``deepsym.metrics.METRICS`` if it exists, else the functions in its ``__all__``
    that take a score first, have defaults for everything else and return a number."""
    try:
        import deepsym.metrics as metrics
    except ModuleNotFoundError as exc:
        if exc.name != "deepsym.metrics":
            raise
        return {}
    if hasattr(metrics, "METRICS"):
        return dict(metrics.METRICS)
    found = {}
    for name in getattr(metrics, "__all__", ()):
        function = getattr(metrics, name)
        if inspect.isfunction(function) and _takes_only_a_score(function):
            found[name] = function
    return found


def _takes_only_a_score(function: Callable[..., object]) -> bool:
    signature = inspect.signature(function)
    parameters = list(signature.parameters.values())
    return (bool(parameters) and parameters[0].name in SCORE_PARAMETERS
            and all(p.default is not inspect.Parameter.empty for p in parameters[1:])
            and signature.return_annotation in NUMBERS)
