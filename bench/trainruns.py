"""What the model-results scripts (``musegan.py``, ``versus_charrnn.py``) share: running
``deepsym`` commands, training several runs side by side, writing sampled pieces."""
from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Iterable
from pathlib import Path

from deepsym.midi import write_midi


def deepsym(*args: object, env: dict[str, str] | None = None) -> subprocess.Popen:
    """``python -m deepsym ARGS``: waited for (SystemExit if it fails) unless ``env`` is
    given, then returned running with ``env`` added to the environment."""
    command = [sys.executable, "-m", "deepsym", *map(str, args)]
    process = subprocess.Popen(command, env={**os.environ, **(env or {})})
    if env is None and process.wait() != 0:
        raise SystemExit(f"failed: {' '.join(command)}")
    return process


def train_side_by_side(jobs: Iterable[tuple[str, Path, Path, tuple]], *, threads: int,
                       seed: int) -> None:
    """``deepsym train MODEL --corpus CORPUS --out RUN MORE...`` for every job at once, each
    with ``threads`` torch threads; SystemExit if one fails."""
    env = {"OMP_NUM_THREADS": str(threads)}
    processes = [deepsym("train", model, "--corpus", corpus, "--out", run, "--seed", seed,
                         "-q", *more, env=env) for model, corpus, run, more in jobs]
    if any(p.wait() != 0 for p in processes):
        raise SystemExit("a training run failed")


def write_pieces(pieces: Iterable, folder: Path, prefix: str = "sample") -> Path:
    """Each score as ``folder/<prefix>-NNN.mid``; the folder."""
    folder.mkdir(parents=True, exist_ok=True)
    for i, score in enumerate(pieces, 1):
        write_midi(score, folder / f"{prefix}-{i:03d}.mid")
    return folder
