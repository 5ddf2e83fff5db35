"""Plain-numpy twin of the ``roll`` kernel: same functions, same results, note by note.

It is the tests' oracle and is used only when ``DEEPSYM_PUREPYTHON=1`` asks for it.
"""
from __future__ import annotations

import numpy as np

from deepsym._ext.layout import NOTE_DTYPE

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


def fill_beats(out: np.ndarray, records: bytes, counts: list[int], end: np.ndarray | None,
               resolution: int, ticks_per_beat: int, lowest: int, mode: int) -> int:
    """``fill`` for NOTE_DTYPE records in ticks, track by track; see ``roll.fill_beats``."""
    notes, start, stop = _beat_steps(records, end, resolution, ticks_per_beat)
    if len(counts) != out.shape[0] or sum(counts) != len(notes):
        raise ValueError(f"counts must give the notes of each of the {out.shape[0]} track "
                         f"row(s) and add up to the {len(notes)} notes")
    if min(counts, default=0) < 0:
        raise ValueError(f"counts must not be negative, not {min(counts)}")
    track = np.repeat(np.arange(len(counts), dtype=np.int32), counts)
    return fill(out, track, start, stop, notes["pitch"], notes["velocity"], lowest, mode)


def beat_length(records: bytes, end: np.ndarray | None, resolution: int,
                ticks_per_beat: int) -> int:
    """Steps of the roll of ``records``; see ``roll.beat_length``."""
    notes, start, stop = _beat_steps(records, end, resolution, ticks_per_beat)
    return max(int(stop.max()), int(start.max()) + 1, 0) if len(notes) else 0


def _beat_steps(records: bytes, end: np.ndarray | None, resolution: int,
                ticks_per_beat: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """The records as notes, and their start and end steps: floor(tick * resolution /
    ticks_per_beat), exactly."""
    if len(records) % NOTE_DTYPE.itemsize:
        raise ValueError(f"records must be whole NOTE_DTYPE records of {NOTE_DTYPE.itemsize} "
                         f"bytes, not {len(records)} bytes")
    notes = np.frombuffer(records, NOTE_DTYPE)
    if end is not None and len(end) != len(notes):
        raise ValueError(f"end must have one tick per note ({len(notes)}), not {len(end)}")
    if resolution < 1 or ticks_per_beat < 1:
        raise ValueError("resolution and ticks_per_beat must be positive")
    ticks = np.empty((2, len(notes)), np.int64)
    ticks[0] = notes["start"]
    ticks[1] = ticks[0] + notes["duration"] if end is None else end
    if ticks_per_beat % resolution:
        ticks *= resolution
        ticks //= ticks_per_beat
    else:
        ticks //= ticks_per_beat // resolution
    return notes, ticks[0], ticks[1]
