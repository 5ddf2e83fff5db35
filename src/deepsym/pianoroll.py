"""Piano-rolls: notes to a (time, pitch) grid, and the grid back to notes.

Conventions (what ``pianoroll`` promises):

- **Steps.** With ``unit="beat"`` a note from tick ``a`` to tick ``b`` covers steps
  ``floor(a * resolution / ticks_per_beat)`` up to ``floor(b * resolution /
  ticks_per_beat)``, end excluded (exact integer arithmetic; an SMPTE-timed score
  counts a beat as half a second, as ``Score.to_beats`` does). With ``unit="second"``
  it covers frames ``floor(seconds(a) * resolution)`` up to ``floor(seconds(b) *
  resolution)``, seconds through the score's tempo map: pretty_midi's
  ``get_piano_roll(fs)`` convention. Both ends are floored, so a note shorter than a
  step may cover no step at all.
- **Modes.** ``"binary"``: bool, True where a note sounds. ``"velocity"``: uint8, the
  largest velocity of the notes sounding there (a velocity-0 note leaves 0).
  ``"onset_sustain"``: bool with a last axis of two channels, ``[..., 0]`` True at
  each note's first step, ``[..., 1]`` True where a note sounds, so repeated notes stay
  distinct. A note that covers no step (zero length, or shorter than a step) leaves
  nothing in binary, velocity and sustain, and still marks its onset step.
- **Shape.** ``(steps, pitches)`` (``(steps, pitches, 2)`` for onset+sustain); with
  ``stack=True`` one roll per track, ``(tracks, steps, pitches[, 2])``, all the same
  length; otherwise all tracks are drawn into one roll (drums included). ``steps`` is
  ``length`` when given (later notes are cut), else the end step of the latest note,
  at least one past the latest onset step; an empty score gives 0 steps.
  Column ``j`` is pitch ``pitch_range[0] + j``.
- **Pitch range.** ``pitch_range=(low, high)``, high excluded; ``PIANO_RANGE`` is
  the 88 keys. Notes outside it are left out, with a :class:`PianorollWarning`
  (``out_of_range="warn"``, the default), a :class:`PianorollError`
  (``"raise"``) or silently (``"ignore"``).
- **Sustain pedal** (``pedal=True``): a note released while its track's CC64 is down
  (value >= 64, pressed strictly before the release) sounds until the pedal is
  released or the same pitch is struck again in the track (the next onset at or
  after the note's release), whichever comes first. A pedal still down at the
  track's end is released there. Worked out in ticks, before steps.
- **Size limit.** A roll of more than ``max_cells`` cells (default ``MAX_CELLS``,
  2**31: 2 GiB of uint8) is refused with a :class:`PianorollError` giving the shape,
  before anything is allocated; pass a larger ``max_cells`` to allow it.

``from_pianoroll`` inverts it: each run of consecutive sounding steps of a pitch is
one note; an onset (onset+sustain) or a change of value (velocity) starts a new note;
an onset over a silent step is a zero-length note.

Known differences from peers (tested in ``tests/test_pianoroll.py``): pretty_midi
sums the velocities of overlapping notes (deepsym keeps the largest), has no roll for
drums, shifts rows under pitch bends (deepsym ignores bends), lets an unreleased pedal
extend nothing, applies the pedal on whole frames, and ends its roll at the last event
of any kind; its seconds are floats, and so are deepsym's, computed the same way (a
note exactly on a frame boundary may fall one frame early in both; the beat unit is
exact). pypianoroll rounds onsets (deepsym floors them: equal on the grid), clears
the step before an onset that follows a sounding step of the same pitch, may lose a
note's last step (float offsets), and ends its roll on a whole beat.
"""
from __future__ import annotations

import math
import warnings
from numbers import Integral, Real
from typing import Literal

import numpy as np

from deepsym._ext.layout import NOTE_DTYPE
from deepsym._kernels import load
from deepsym.errors import PianorollError, PianorollWarning
from deepsym.score import Score, Track, sort_notes

_kernel = load("roll")

#: Default limit on the cells of one roll (its bytes for uint8 and bool rolls).
MAX_CELLS = 2**31
#: The 88 keys of a piano, A0 (21) to C8 (108), as a ``pitch_range``.
PIANO_RANGE = (21, 109)
MODES = ("binary", "velocity", "onset_sustain")
UNITS = ("beat", "second")
OUT_OF_RANGE = ("warn", "raise", "ignore")
SUSTAIN_PEDAL = 64
MAX_STEPS_PER_BEAT = 2**31  # keeps tick * resolution within int64
_KERNEL_MODE = {"binary": _kernel.BINARY, "velocity": _kernel.VELOCITY,
                "onset_sustain": _kernel.ONSET_SUSTAIN}

Mode = Literal["binary", "velocity", "onset_sustain"]

__all__ = ["MAX_CELLS", "PIANO_RANGE", "PianorollError", "PianorollWarning", "from_pianoroll",
           "pianoroll"]


def pianoroll(source: Score | Track, resolution: float = 24, *, unit: str = "beat",
              mode: Mode = "binary", pitch_range: tuple[int, int] = (0, 128),
              stack: bool = False, pedal: bool = False, length: int | None = None,
              ticks_per_beat: int | None = None, out_of_range: str = "warn",
              max_cells: int = MAX_CELLS) -> np.ndarray:
    """The piano-roll of a Score (or of one Track, given ``ticks_per_beat``).

    Parameters
    ----------
    source : Score or Track
        The notes. A Track has no tempo map: it needs ``ticks_per_beat`` and
        ``unit="beat"``.
    resolution : int or float
        Steps per beat (``unit="beat"``, a positive int) or frames per second
        (``unit="second"``, a positive number).
    mode : {"binary", "velocity", "onset_sustain"}
    pitch_range : (low, high)
        The pitches of the columns, high excluded: (0, 128) or ``PIANO_RANGE``.
    stack : bool
        One roll per track (a leading tracks axis) instead of all tracks in one.
    pedal : bool
        Extend notes held by the sustain pedal (CC64).
    length : int, optional
        Steps of the roll; default: up to the end of the latest note.
    out_of_range : {"warn", "raise", "ignore"}
        What to do about notes outside ``pitch_range`` (they are always left out).
    max_cells : int
        Refuse a roll with more cells than this (default ``MAX_CELLS``).

    Returns
    -------
    np.ndarray
        ``[tracks,] steps, pitches[, 2]``: bool, or uint8 velocities for
        ``mode="velocity"``. See the module docstring for the conventions.
    """
    _choice("mode", mode, MODES)
    _choice("unit", unit, UNITS)
    _choice("out_of_range", out_of_range, OUT_OF_RANGE)
    low, high = _pitch_range(pitch_range)
    _resolution(resolution, unit)
    if length is not None:
        _positive_int("length", length, minimum=0)
    _positive_int("max_cells", max_cells, minimum=0)
    score, tracks = _timing(source, unit, ticks_per_beat)
    records = b"".join([t.notes.tobytes() for t in tracks])  # NOTE_DTYPE, track after track
    end = np.concatenate([_pedal_ends(t) for t in tracks]) if pedal and tracks else None
    exact = unit == "beat" and score.smpte is None  # whole steps of whole ticks: the kernel's
    steps = None if exact else _time_steps(score, records, end, unit, resolution)
    if length is None:
        length = (_kernel.beat_length(records, end, resolution, score.ticks_per_beat) if exact
                  else _length(steps))

    channels = 2 if mode == "onset_sustain" else 1
    rows = len(tracks) if stack else 1
    shape = (rows, length, high - low, channels)
    cells = math.prod(shape)
    if cells > max_cells:
        final = shape[0 if stack else 1:3 if channels == 1 else 4]
        raise PianorollError(
            f"the piano-roll would have shape {final} ({cells:,} cells), more than "
            f"max_cells={max_cells:,}; pass a larger max_cells to allow it, or choose a "
            "lower resolution, a shorter length or a narrower pitch_range")
    out = np.empty(shape, np.uint8 if mode == "velocity" else np.bool_)  # the kernel clears it
    as_bytes = out if mode == "velocity" else out.view(np.uint8)
    counts = [len(t.notes) for t in tracks] if stack else [len(records) // NOTE_DTYPE.itemsize]
    if exact:
        result = _kernel.fill_beats(as_bytes, records, counts, end, resolution,
                                    score.ticks_per_beat, low, _KERNEL_MODE[mode])
    else:
        notes = np.frombuffer(records, NOTE_DTYPE)
        result = _kernel.fill(as_bytes, _track_rows(counts) if rows > 1 else None, steps[0],
                              steps[1], notes["pitch"], notes["velocity"], low,
                              _KERNEL_MODE[mode])
    if result < 0:
        raise PianorollError(_bad_note(tracks, -result - 1))
    if result and out_of_range != "ignore":
        message = (f"{result} note(s) lie outside pitch_range ({low}, {high}) and were left "
                   "out of the piano-roll")
        if out_of_range == "raise":
            raise PianorollError(message)
        warnings.warn(message, PianorollWarning, stacklevel=2)
    out = out if channels == 2 else out[..., 0]
    return out if stack else out[0]


def from_pianoroll(roll: np.ndarray, mode: Mode = "binary", *, resolution: int = 24,
                   ticks_per_beat: int | None = None, pitch_range: tuple[int, int] = (0, 128),
                   velocity: int = 64) -> Track | list[Track]:
    """Notes from a piano-roll made the way ``pianoroll(..., unit="beat")`` makes them.

    Parameters
    ----------
    roll : np.ndarray
        ``[tracks,] steps, pitches[, 2]`` as ``pianoroll`` returns for ``mode``
        (binary and onset+sustain: any nonzero value counts as True; velocity:
        integers 0-127).
    mode : {"binary", "velocity", "onset_sustain"}
    resolution : int
        Steps per beat of the roll.
    ticks_per_beat : int, optional
        Ticks per beat of the notes (default ``resolution``, one tick per step); at
        least ``resolution``. Step ``k`` becomes tick ``ceil(k * ticks_per_beat /
        resolution)``, the first tick that ``pianoroll`` puts in step ``k``.
    pitch_range : (low, high)
        The pitches of the roll's columns.
    velocity : int
        Velocity of the notes of a binary or onset+sustain roll.

    Returns
    -------
    Track, or a list of Tracks for a stacked roll
        A run of consecutive sounding steps of one pitch is one note; an onset
        (``[..., 0]``) or a change of velocity starts the next note; an onset on a
        silent step is a zero-length note.
    """
    _choice("mode", mode, MODES)
    low, high = _pitch_range(pitch_range)
    _positive_int("resolution", resolution)
    ticks_per_beat = resolution if ticks_per_beat is None else ticks_per_beat
    _positive_int("ticks_per_beat", ticks_per_beat)
    if ticks_per_beat < resolution:
        raise PianorollError(f"ticks_per_beat ({ticks_per_beat}) must be at least the "
                             f"resolution ({resolution}), or steps would share a tick")
    _positive_int("velocity", velocity)
    if velocity > 127:
        raise PianorollError(f"velocity must be 1-127, not {velocity}")
    roll = _checked_roll(roll, mode, high - low)
    if ceil_ticks(roll.shape[-2 if mode != "onset_sustain" else -3], ticks_per_beat,
                  resolution) > np.iinfo(np.int32).max:
        raise PianorollError("the roll is too long for int32 ticks at this ticks_per_beat")
    single = roll.ndim == (3 if mode == "onset_sustain" else 2)
    tracks = [_roll_track(r, mode, resolution, ticks_per_beat, low, velocity)
              for r in ([roll] if single else roll)]
    return tracks[0] if single else tracks


def ceil_ticks(steps: np.ndarray | int, ticks_per_beat: int, resolution: int) -> np.ndarray:
    """The first tick of each step: ``ceil(steps * ticks_per_beat / resolution)``."""
    return -((-np.asarray(steps, np.int64) * ticks_per_beat) // resolution)


# -- pianoroll's parts ----------------------------------------------------------------------

def _timing(source: Score | Track, unit: str,
            ticks_per_beat: int | None) -> tuple[Score, list[Track]]:
    """The score whose time map applies, and the tracks to draw."""
    if isinstance(source, Score):
        if ticks_per_beat is not None:
            raise PianorollError("ticks_per_beat is only for a Track; a Score has its own")
        return source, source.tracks
    if isinstance(source, Track):
        if unit == "second":
            raise PianorollError('unit="second" needs the tempo map: pass the Score')
        if ticks_per_beat is None:
            raise PianorollError("a Track has no ticks_per_beat: pass ticks_per_beat=... "
                                 "(or the Score)")
        _positive_int("ticks_per_beat", ticks_per_beat)
        return Score(ticks_per_beat=ticks_per_beat), [source]
    raise PianorollError(f"pianoroll needs a Score or a Track, not {type(source).__name__}")


def _pedal_ends(track: Track) -> np.ndarray:
    """End ticks of the track's notes, extended by its sustain pedal (CC64)."""
    notes = track.notes
    begin = notes["start"].astype(np.int64)
    end = begin + notes["duration"]
    pedal = track.controls[track.controls["number"] == SUSTAIN_PEDAL]
    if not len(pedal) or not len(notes):
        return end
    pedal = pedal[np.argsort(pedal["tick"], kind="stable")]
    down = pedal["value"] >= 64
    was_down = np.concatenate([[False], down[:-1]])
    pressed = pedal["tick"][down & ~was_down].astype(np.int64)
    released = pedal["tick"][~down & was_down].astype(np.int64)
    if not len(pressed):
        return end
    if len(released) < len(pressed):
        released = np.append(released, track.end_tick)
    window = np.searchsorted(pressed, end, side="left") - 1  # the last press before the end
    release = released[np.maximum(window, 0)]
    held = (window >= 0) & (end < release)
    if not held.any():
        return end
    # the next onset of the same pitch at or after the release: the smallest such key
    pitch = notes["pitch"].astype(np.int64) << 33
    keys = np.sort(pitch | (begin + 2**31))
    later = np.searchsorted(keys, pitch | (end + 2**31), side="left")
    following = keys[np.minimum(later, len(keys) - 1)]
    same_pitch = (later < len(keys)) & (following >> 33 == pitch >> 33)
    next_onset = np.where(same_pitch, (following & (2**33 - 1)) - 2**31, np.iinfo(np.int64).max)
    return np.where(held, np.maximum(end, np.minimum(release, next_onset)), end)


def _time_steps(score: Score, records: bytes, end: np.ndarray | None, unit: str,
                resolution: float) -> np.ndarray:
    """Start and end steps of the notes (two rows) through the score's tempo map: seconds,
    or beats of an SMPTE-timed score, floored."""
    notes = np.frombuffer(records, NOTE_DTYPE)
    ticks = np.empty((2, len(notes)), np.int64)
    ticks[0] = notes["start"]
    ticks[1] = ticks[0] + notes["duration"] if end is None else end
    at = score.to_seconds if unit == "second" else score.to_beats
    steps = at(ticks) * resolution
    if steps.size and not steps.max() < 2.0**62:
        raise PianorollError(f"notes reach step {steps.max():g}: no piano-roll can be that long")
    return np.floor(steps).astype(np.int64)


def _length(steps: np.ndarray) -> int:
    """Steps of a roll: the latest end step, at least one past the latest start step."""
    if not steps.shape[1]:
        return 0
    last = steps.max(axis=1)
    return max(int(last[1]), int(last[0]) + 1, 0)


def _track_rows(counts: list[int]) -> np.ndarray:
    return np.repeat(np.arange(len(counts), dtype=np.int32), counts)


def _bad_note(tracks: list[Track], index: int) -> str:
    for t, track in enumerate(tracks):
        if index < len(track.notes):
            start, duration = track.notes[index][["start", "duration"]]
            return (f"track {t}, note {index}: start {start}, duration {duration}; notes must "
                    "start at tick 0 or later and have a duration of 0 or more")
        index -= len(track.notes)
    raise AssertionError("note index beyond the notes")  # pragma: no cover


# -- from_pianoroll's parts -----------------------------------------------------------------

def _checked_roll(roll: np.ndarray, mode: str, pitches: int) -> np.ndarray:
    roll = np.asarray(roll)
    channels = mode == "onset_sustain"
    expect = "[tracks,] steps, pitches" + (", 2" if channels else "")
    if roll.ndim not in ((3, 4) if channels else (2, 3)) or (channels and roll.shape[-1] != 2):
        raise PianorollError(f"a {mode} roll has shape ({expect}), not {roll.shape}")
    if roll.shape[-1 - channels] != pitches:
        raise PianorollError(f"the roll has {roll.shape[-1 - channels]} pitch columns but "
                             f"pitch_range spans {pitches}")
    if mode == "velocity":
        if roll.dtype.kind not in "biu":
            raise PianorollError(f"a velocity roll holds integers, not {roll.dtype}")
        if roll.size and (roll.min() < 0 or roll.max() > 127):
            raise PianorollError("a velocity roll holds values 0-127")
        return roll.astype(np.uint8, copy=False)
    if roll.dtype.kind not in "biuf":
        raise PianorollError(f"a {mode} roll holds booleans or numbers, not {roll.dtype}")
    return roll != 0


def _roll_track(roll: np.ndarray, mode: str, resolution: int, ticks_per_beat: int, low: int,
                velocity: int) -> Track:
    """One roll's notes, found per pitch row in a (pitches, steps + 1) layout."""
    sounding = roll[..., 1] if mode == "onset_sustain" else roll
    steps, pitches = sounding.shape
    width = steps + 1  # a silent step after each pitch row keeps runs within their row

    def flat(cells: np.ndarray) -> np.ndarray:
        padded = np.zeros((pitches, width), cells.dtype)
        padded[:, :steps] = cells.T
        return padded.ravel()

    value = flat(sounding)
    before = np.zeros_like(value)
    before[1:] = value[:-1]
    first = (value != 0) & (value != before)
    if mode == "onset_sustain":
        onset = flat(roll[..., 0])
        first |= onset & value
    after = np.append(first[1:], True)
    last = (value != 0) & ((np.append(value[1:], 0) == 0) | after)
    starts = np.flatnonzero(first)
    ends = np.flatnonzero(last) + 1
    velocities = value[starts] if mode == "velocity" else np.full(len(starts), velocity)
    if mode == "onset_sustain":  # onsets over silent steps: zero-length notes
        alone = np.flatnonzero(onset & ~value)
        starts, ends = np.concatenate([starts, alone]), np.concatenate([ends, alone])
        velocities = np.full(len(starts), velocity)
    notes = np.empty(len(starts), NOTE_DTYPE)
    begin = ceil_ticks(starts % width, ticks_per_beat, resolution)
    notes["start"] = begin
    notes["duration"] = ceil_ticks(starts % width + (ends - starts), ticks_per_beat,
                                   resolution) - begin
    notes["pitch"] = starts // width + low
    notes["velocity"] = velocities
    return Track(notes=sort_notes(notes))


# -- validation -------------------------------------------------------------------------------

def _choice(name: str, value: str, choices: tuple[str, ...]) -> None:
    if value not in choices:
        raise PianorollError(f"{name} must be one of {', '.join(map(repr, choices))}, "
                             f"not {value!r}")


def _positive_int(name: str, value: object, minimum: int = 1) -> None:
    if not _is_int(value) or value < minimum:
        raise PianorollError(f"{name} must be an integer >= {minimum}, not {value!r}")


def _resolution(resolution: object, unit: str) -> None:
    if unit == "beat":
        _positive_int("resolution (steps per beat)", resolution)
        if resolution > MAX_STEPS_PER_BEAT:
            raise PianorollError(f"resolution (steps per beat) must be at most "
                                 f"{MAX_STEPS_PER_BEAT}, not {resolution}")
    elif (not isinstance(resolution, Real) or isinstance(resolution, bool)
          or not 0 < resolution < math.inf):
        raise PianorollError(f"resolution (frames per second) must be a positive number, "
                             f"not {resolution!r}")


def _is_int(value: object) -> bool:
    """An integer (numpy's too), not a bool; plain ints take the fast way."""
    return type(value) is int or (isinstance(value, Integral) and not isinstance(value, bool))


def _pitch_range(pitch_range: tuple[int, int]) -> tuple[int, int]:
    try:
        low, high = pitch_range
    except (TypeError, ValueError):
        low = high = None
    if not (_is_int(low) and _is_int(high) and 0 <= low < high <= 128):
        raise PianorollError(f"pitch_range must be (low, high) with 0 <= low < high <= 128, "
                             f"not {pitch_range!r}")
    return int(low), int(high)
