"""Option values shared by the commands: one kind of value, one rule and one meaning in
every command that takes it."""
from __future__ import annotations

from deepsym.errors import DeepsymError

WORKERS_HELP = "(default: all cores; at least 1; 1: one at a time)"


def check_workers(workers: int | None) -> int | None:
    """``--workers N`` as every command reads it: N processes or threads side by side,
    at least 1 (1: one at a time); None (no option): all cores. 0 and negative counts
    are refused in one line, as ``deepsym corpus build`` refuses them."""
    if workers is not None and workers < 1:
        raise DeepsymError(f"workers must be at least 1, not {workers}")
    return workers
