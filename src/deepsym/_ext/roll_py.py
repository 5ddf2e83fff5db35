"""Plain-numpy twin of the ``roll`` kernel: same function, same results, note by note.

It is the tests' oracle and is used only when ``DEEPSYM_PUREPYTHON=1`` asks for it.
"""
from __future__ import annotations

import numpy as np

BINARY = 0
VELOCITY = 1
ONSET_SUSTAIN = 2


def fill(out: np.ndarray, track: np.ndarray | None, start: np.ndarray, end: np.ndarray,
         pitch: np.ndarray, velocity: np.ndarray, lowest: int, mode: int) -> int:
    """Fill ``out`` (tracks, steps, pitches, channels) with the notes; see ``roll.fill``."""
    n = len(start)
    if len(end) != n or len(pitch) != n or len(velocity) != n or (
            track is not None and len(track) != n):
        raise ValueError("start, end, pitch, velocity (and track) must have the same length")
    if out.shape[3] != (2 if mode == ONSET_SUSTAIN else 1):
        raise ValueError(f"mode {mode} needs {2 if mode == ONSET_SUSTAIN else 1} channel(s), "
                         f"not {out.shape[3]}")
    if mode not in (BINARY, VELOCITY, ONSET_SUSTAIN):
        raise ValueError(f"unknown mode {mode}")
    rows, steps, columns = out.shape[:3]
    for i in range(n):
        row = 0 if track is None else int(track[i])
        if start[i] < 0 or end[i] < start[i] or not 0 <= row < rows:
            return -(i + 1)
    out[...] = 0
    skipped = 0
    for i in range(n):
        s, e = int(start[i]), int(end[i])
        row = 0 if track is None else int(track[i])
        column = int(pitch[i]) - lowest
        if not 0 <= column < columns:
            skipped += 1
            continue
        if s >= steps:
            continue
        cells = out[row, s:e, column]
        if mode == BINARY:
            cells[:, 0] = 1
        elif mode == VELOCITY:
            np.maximum(cells[:, 0], velocity[i], out=cells[:, 0])
        else:
            out[row, s, column, 0] = 1
            cells[:, 1] = 1
    return skipped
