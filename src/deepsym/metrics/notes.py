"""Which notes a metric sees, and the arrays metrics are computed from.

Conventions shared by every metric: a metric takes a :class:`~deepsym.score.Score` or a
single :class:`~deepsym.score.Track`; pitch metrics ignore drum tracks (their note numbers
name instruments, not pitches); a note sounds during the half-open interval
``[start, start + duration)``; the piece lasts until the last note ends, a note of zero
duration counting as one tick there.
"""
from __future__ import annotations

import numpy as np

from deepsym.errors import DeepsymError
from deepsym.score import NOTE_DTYPE, Score, Track

Music = Score | Track


def tracks_of(music: Music) -> list[Track]:
    """The tracks of a Score, or the one Track given."""
    if isinstance(music, Score):
        return music.tracks
    if isinstance(music, Track):
        return [music]
    raise DeepsymError(f"metrics take a Score or a Track, not {type(music).__name__}")


def notes_of(music: Music, drums: bool | None = False) -> np.ndarray:
    """The notes of the pitched tracks (``drums=False``), the drum tracks (True) or all (None).

    Sorted by start, then pitch (reading order).
    """
    parts = [t.notes for t in tracks_of(music) if drums is None or t.is_drum == drums]
    if len(parts) < 2:
        return parts[0] if parts else np.empty(0, dtype=NOTE_DTYPE)
    notes = np.concatenate(parts)
    return notes[np.lexsort((notes["pitch"], notes["start"]))]


def ends(notes: np.ndarray) -> np.ndarray:
    """Note ends in ticks (int64)."""
    return notes["start"].astype(np.int64) + notes["duration"]


def length(music: Music) -> int:
    """Ticks from 0 to the end of the last note of any track (zero-length notes: one tick)."""
    notes = notes_of(music, drums=None)
    if not len(notes):
        return 0
    return int((notes["start"].astype(np.int64) + np.maximum(notes["duration"], 1)).max())


def need_score(music: Music, metric: str) -> Score:
    """The Score, for metrics measured in beats or bars (a Track has no ticks per beat)."""
    if isinstance(music, Score):
        return music
    tracks_of(music)  # the type check
    raise DeepsymError(f"{metric} counts beats, so it needs a Score, not a Track: "
                       "use Score(ticks_per_beat=..., tracks=[track])")


def bar_ticks(score: Score) -> int:
    """Ticks per bar of the first time signature (4/4 when there is none)."""
    ts = score.time_signatures
    numerator, denominator = (int(ts["numerator"][0]), int(ts["denominator"][0])) \
        if len(ts) else (4, 4)
    return max(1, round(score.ticks_per_beat * 4 * numerator / denominator))


def bar_lines(score: Score, end: int) -> np.ndarray:
    """Ticks where bars begin, from 0 up to ``end`` (exclusive), following the time
    signature map (4/4 before the first one)."""
    ts = score.time_signatures
    starts = np.concatenate([[0], ts["tick"].astype(np.int64)])
    lengths = np.concatenate([[4.0], 4.0 * ts["numerator"] / np.maximum(ts["denominator"], 1)])
    keep = np.append(starts[1:] != starts[:-1], True)  # the last signature at a tick wins
    starts, lengths = starts[keep], lengths[keep] * score.ticks_per_beat
    stops = np.append(starts[1:], max(end, 0))
    lines = [np.arange(a, b, max(step, 1.0)) for a, b, step in
             zip(starts, stops, lengths, strict=True) if b > a]
    out = np.concatenate(lines) if lines else np.empty(0)
    return np.floor(out + 0.5).astype(np.int64)


def pitch_sequence(music: Music) -> np.ndarray:
    """Pitches of the pitched notes in reading order (start, then pitch), as int64."""
    return notes_of(music)["pitch"].astype(np.int64)


def merged_intervals(starts: np.ndarray, stops: np.ndarray,
                     groups: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """The union of intervals ``[start, stop)`` within each group, as disjoint intervals.

    Empty intervals vanish. Returns the merged starts and stops (not grouped any more).
    """
    keep = stops > starts
    starts, stops, groups = (a[keep].astype(np.int64) for a in (starts, stops, groups))
    if not len(starts):
        return starts, stops
    order = np.lexsort((starts, groups))
    starts, stops, groups = starts[order], stops[order], groups[order]
    # Offsetting each group keeps groups apart, so one running maximum serves all of them.
    span = int(stops.max() - min(starts.min(), 0)) + 1
    offset = (groups - groups.min()) * span
    reach = np.maximum.accumulate(stops + offset)
    new = np.ones(len(starts), dtype=bool)
    new[1:] = starts[1:] + offset[1:] > reach[:-1]
    first = np.flatnonzero(new)
    last = np.append(first[1:], len(starts)) - 1
    return starts[first], reach[last] - offset[last]


def sounding_profile(notes: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """How many distinct pitches sound, piece by piece over time.

    Returns ``(lengths, counts)``: consecutive stretches of ticks and the number of
    distinct pitches sounding during each (a pitch doubled by two notes counts once).
    """
    starts, stops = merged_intervals(notes["start"], ends(notes), notes["pitch"])
    if not len(starts):
        return np.empty(0, np.int64), np.empty(0, np.int64)
    ticks = np.concatenate([starts, stops])
    steps = np.concatenate([np.ones(len(starts), np.int64), -np.ones(len(stops), np.int64)])
    order = np.argsort(ticks, kind="stable")
    ticks, counts = ticks[order], np.cumsum(steps[order])
    return np.diff(ticks), counts[:-1]
