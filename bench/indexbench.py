"""The synthetic corpus of the plagiarism-index benchmark, made offline from the real files.

Each synthetic piece strings real pieces (``lcsbench.real_scores``: the music21 chorales
and folk tunes) one after another, each moved by -6..+5 semitones, after a random time
shift of 0-4 beats and a beat's rest between them, until the piece holds at least
``MIN_NOTES`` notes; one track at 480 ticks per beat and 120 qpm (the real tempo maps
are dropped, onsets rescaled to 480 ticks per beat). The same seed gives the same
files. They are written once (on all cores) into ``CACHE`` and reused by later runs.
"""
from __future__ import annotations

import os
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path

import lcsbench
import numpy as np

import deepsym
from deepsym.score import Score, Track

CACHE = Path(os.environ.get("DEEPSYM_BENCH_CACHE",
                            Path.home() / ".cache" / "deepsym-bench")) / "plagiarism-index"
MIN_NOTES = 420        # notes per piece at least: 100,000 pieces hold > 50 M notes
TICKS_PER_BEAT = 480
CHUNK = 1000           # files per task of the writing pool


def _real_notes() -> list[np.ndarray]:
    """The non-drum notes of each real piece, at 480 ticks per beat, from tick 0."""
    out = []
    for score in lcsbench.real_scores():
        notes = lcsbench._notes(score).copy()
        if not len(notes):
            continue
        scale = TICKS_PER_BEAT / score.ticks_per_beat
        start = np.round(notes["start"].astype(np.float64) * scale).astype(np.int64)
        notes["duration"] = np.maximum(np.round(notes["duration"] * scale), 1)
        notes["start"] = start - start.min()
        out.append(notes)
    return out


def piece(rng: np.random.Generator, real: list[np.ndarray]) -> np.ndarray:
    """One synthetic piece's notes (see the module)."""
    parts, total = [], 0
    at = int(rng.integers(0, 4 * TICKS_PER_BEAT))
    while total < MIN_NOTES:
        notes = real[int(rng.integers(len(real)))].copy()
        notes["pitch"] = np.clip(notes["pitch"].astype(np.int64) + int(rng.integers(-6, 6)),
                                 0, 127)
        notes["start"] += at
        at = int((notes["start"].astype(np.int64) + notes["duration"]).max()) + TICKS_PER_BEAT
        parts.append(notes)
        total += len(notes)
    return np.concatenate(parts)


def _write_chunk(folder: str, first: int, stop: int, seed: int) -> int:
    real = _real_notes()
    notes = 0
    for k in range(first, stop):
        rng = np.random.default_rng([seed, k])
        part = piece(rng, real)
        notes += len(part)
        deepsym.write_midi(Score(ticks_per_beat=TICKS_PER_BEAT, tracks=[Track(part)],
                                 tempos=[(0, 120.0)]), Path(folder) / f"{k:06d}.mid")
    return notes


def synthetic_files(count: int, seed: int = 0, workers: int | None = None) -> Path:
    """A folder holding ``count`` synthetic MIDI files (made once, then reused)."""
    folder = CACHE / f"files-{count}-{seed}"
    done = folder / "DONE"
    if done.exists():
        return folder
    folder.mkdir(parents=True, exist_ok=True)
    with ProcessPoolExecutor(workers or os.cpu_count()) as pool:
        jobs = [pool.submit(_write_chunk, str(folder), first, min(first + CHUNK, count), seed)
                for first in range(0, count, CHUNK)]
        notes = sum(job.result() for job in jobs)
    done.write_text(f"{count} files, {notes} notes\n")
    return folder
