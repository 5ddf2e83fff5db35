"""REMI tokens: notated time in bars, positions and durations, fractions of a beat.

For music written on a grid (chorales, lead sheets, anything notated): time is counted in
``steps_per_beat`` steps per beat (a beat is a quarter note), and the piece is read bar by
bar, as REMI does (Huang & Yang, "Pop Music Transformer", 2020)::

    METER 16  POSITION 0  VELOCITY 22  PITCH 67 DURATION 4  PITCH 60 DURATION 4  ...
    POSITION 4  PITCH 69 DURATION 2  ...  BAR  POSITION 0  ...

Vocabulary (with ``P = max_beats * steps_per_beat``; 257 tokens with the defaults)::

    0 .. 127                PITCH p: a note of pitch p starts at the current position
    128 .. 128 + P - 1      DURATION of d steps, d = 1..P (follows its PITCH)
    then P tokens           POSITION k, k = 0..P-1: the next notes start k steps into the bar
    then 1 token            BAR: the next bar begins
    then P tokens           METER of L steps, L = 1..P: the current bar (and those after
                            it, until the next METER) lasts L steps
    then velocity_bins      VELOCITY bin b: the next notes play at bin b

The piece begins inside bar 0 (at step 0) and every BAR moves to the next bar, which
starts where the previous one ends. A METER comes first in the piece and right after a
BAR whose bar is longer or shorter than the one before (4/4 is ``METER 4 * steps_per_beat``;
before any METER bars are 4 beats long). Bars follow the score's time signatures (4/4
before the first); a time signature that begins mid-bar cuts that bar short (its METER
says how short). A pickup written at step 0 (as music21 writes chorales) is read as the
start of a full bar. All non-drum tracks are merged; drums are left out.

What a round trip keeps and loses (``from_remi(to_remi(score))``):

- onsets move to the nearest step and durations are whole steps of at least 1 and at
  most ``P`` (longer notes are cut to ``P`` steps); pitches are exact;
- velocities move to the centre of their bin, as in ``events``; VELOCITY tokens appear
  only where the bin changes;
- a bar longer than ``max_beats`` beats becomes bars of ``P`` steps;
- tracks, programs and the tempo map: the decoded score has one track, one tick per step
  (``ticks_per_beat = steps_per_beat``), the default tempo (120 qpm) and a time signature
  at every bar whose length changes (those a MIDI file can hold: power-of-two
  denominators).

Decoding accepts any token sequence: a PITCH without a DURATION after it lasts one step,
a DURATION after anything but a PITCH is ignored, and positions may go back in time.
"""
from __future__ import annotations

from fractions import Fraction

import numpy as np

from deepsym.representations.base import Representation, RepresentationSpec
from deepsym.representations.events import bin_velocity, velocity_bin
from deepsym.representations.timing import (
    check_positive,
    checked_tokens,
    group_offsets,
    note_steps,
    pitched_notes,
)
from deepsym.score import NOTE_DTYPE, TIME_SIGNATURE_DTYPE, Score, Track, sort_notes

PITCHES = 128
DURATION = 128
BEATS_PER_BAR = 4  # bars before the first time signature or METER: 4/4


class Layout:
    """Where each kind of token starts in the vocabulary of ``steps_per_beat``,
    ``max_beats`` and ``velocity_bins`` (see the module docstring)."""

    def __init__(self, steps_per_beat: int, max_beats: int, velocity_bins: int) -> None:
        check_positive(steps_per_beat=steps_per_beat, max_beats=max_beats,
                       velocity_bins=velocity_bins)
        self.steps_per_beat = steps_per_beat
        self.steps = max_beats * steps_per_beat  # P: positions, durations and meters
        self.position = DURATION + self.steps
        self.bar = self.position + self.steps
        self.meter = self.bar + 1
        self.velocity = self.meter + self.steps
        self.size = self.velocity + velocity_bins
        self.default_meter = min(BEATS_PER_BAR * steps_per_beat, self.steps)

    def kinds(self, tokens: np.ndarray) -> dict[str, np.ndarray]:
        """Boolean masks of the tokens of each kind."""
        return {"pitch": tokens < DURATION,
                "duration": (tokens >= DURATION) & (tokens < self.position),
                "position": (tokens >= self.position) & (tokens < self.bar),
                "bar": tokens == self.bar,
                "meter": (tokens >= self.meter) & (tokens < self.velocity),
                "velocity": tokens >= self.velocity}

    def writable_meters(self) -> np.ndarray:
        """Bool ``(P,)``: which bar lengths ``L = 1..P`` a MIDI time signature can state."""
        return np.array([_time_signature(L, self.steps_per_beat) is not None
                         for L in range(1, self.steps + 1)])


def vocab_size(steps_per_beat: int = 4, max_beats: int = 8, velocity_bins: int = 32) -> int:
    """Tokens in the vocabulary: 128 pitches, ``3 P + 1`` for time, the velocity bins."""
    return Layout(steps_per_beat, max_beats, velocity_bins).size


def bar_grid(score: Score, steps_per_beat: int, longest: int, until: int
             ) -> tuple[np.ndarray, np.ndarray]:
    """Start step and length in steps of every bar that starts before step ``until``.

    Bars follow the time signatures (4/4 before the first; the last one at a tick wins),
    each at most ``longest`` steps; a signature that begins mid-bar ends that bar there.
    """
    ts = score.time_signatures
    steps = np.floor(score.to_beats(ts["tick"].astype(np.int64)) * steps_per_beat + 0.5)
    lengths = np.floor(4.0 * ts["numerator"] / np.maximum(ts["denominator"], 1)
                       * steps_per_beat + 0.5)
    starts = np.concatenate([[0], steps]).astype(np.int64)
    sizes = np.clip(np.concatenate([[BEATS_PER_BAR * steps_per_beat], lengths]), 1,
                    longest).astype(np.int64)
    keep = np.append(starts[1:] != starts[:-1], True)
    starts, sizes = starts[keep], sizes[keep]
    stops = np.append(starts[1:], max(until, int(starts[-1]) + 1))
    counts = np.maximum(-(-(stops - starts) // sizes), 0)
    bar_start = np.repeat(starts, counts) + group_offsets(counts) * np.repeat(sizes, counts)
    bar_stop = np.minimum(bar_start + np.repeat(sizes, counts), np.repeat(stops, counts))
    bar_stop[-1:] = bar_start[-1:] + np.repeat(sizes, counts)[-1:]  # the last bar: whole
    inside = bar_start < until
    return bar_start[inside], (bar_stop - bar_start)[inside]


def to_remi(score: Score, *, steps_per_beat: int = 4, max_beats: int = 8,
            velocity_bins: int = 32) -> np.ndarray:
    """A score's non-drum notes as REMI tokens.

    Parameters
    ----------
    score : Score
    steps_per_beat : int
        Steps per beat (quarter note) of positions and durations.
    max_beats : int
        The longest bar and the longest note, in beats.
    velocity_bins : int
        Velocity bins over 0..127.

    Returns
    -------
    np.ndarray
        Shape ``(tokens,)``, int64, values in ``0 .. vocab_size(steps_per_beat,
        max_beats, velocity_bins) - 1`` (see the module docstring).
    """
    layout = Layout(steps_per_beat, max_beats, velocity_bins)
    notes = pitched_notes(score)
    if not len(notes):
        return np.empty(0, np.int64)
    start, end = note_steps(score, notes, "beat", steps_per_beat)
    duration = np.minimum(end - start, layout.steps)
    order = np.lexsort((duration, notes["pitch"], start))
    start, duration, notes = start[order], duration[order], notes[order]
    bar_start, bar_length = bar_grid(score, steps_per_beat, layout.steps, int(start[-1]) + 1)
    bar = np.searchsorted(bar_start, start, side="right") - 1
    onset = np.r_[True, start[1:] != start[:-1]]
    vbin = velocity_bin(notes["velocity"], velocity_bins)
    changed = np.r_[True, vbin[1:] != vbin[:-1]]
    meter = np.r_[True, bar_length[1:] != bar_length[:-1]]
    pitch = notes["pitch"].astype(np.int64)
    n = len(start)
    parts = [  # (time, kind, rank, token): sorted by time, then kind, then rank
        (bar_start[1:], 0, 0, np.full(len(bar_start) - 1, layout.bar)),
        (bar_start[meter], 1, 0, layout.meter + bar_length[meter] - 1),
        (start[onset], 2, 0, layout.position + start[onset] - bar_start[bar[onset]]),
        (start[changed], 3, 3 * np.flatnonzero(changed), layout.velocity + vbin[changed]),
        (start, 3, 3 * np.arange(n) + 1, pitch),
        (start, 3, 3 * np.arange(n) + 2, DURATION + duration - 1),
    ]
    time, kind, rank, tokens = (np.concatenate([np.broadcast_to(part[i], part[3].shape)
                                                for part in parts]) for i in range(4))
    return tokens[np.lexsort((rank, kind, time))].astype(np.int64)


def from_remi(tokens: np.ndarray, *, steps_per_beat: int = 4, max_beats: int = 8,
              velocity_bins: int = 32, velocity: int = 64) -> Score:
    """A one-track Score from REMI tokens (the inverse of ``to_remi`` at its grid).

    Parameters
    ----------
    tokens : np.ndarray
        Shape ``(tokens,)``, integers in the vocabulary of ``to_remi``.
    steps_per_beat, max_beats, velocity_bins
        As given to ``to_remi``.
    velocity : int
        Velocity of the notes before the first VELOCITY token.

    Returns
    -------
    Score
        One track, ``ticks_per_beat = steps_per_beat`` (one tick per step), a time
        signature wherever the bar length changes, and ``end_of_track`` at the last
        position or bar reached.
    """
    layout = Layout(steps_per_beat, max_beats, velocity_bins)
    tokens = checked_tokens(tokens, layout.size, "remi")
    if not len(tokens):
        return Score(ticks_per_beat=steps_per_beat, tracks=[Track()])
    kind = layout.kinds(tokens)
    meter = _last(tokens, kind["meter"], layout.meter - 1, layout.default_meter)
    bars = np.flatnonzero(kind["bar"])
    # bar j + 1 starts where bar j ends; bar j lasts the meter in force before BAR j + 1
    length = np.where(bars > 0, meter[np.maximum(bars - 1, 0)], layout.default_meter)
    bar_start = np.concatenate([[0], np.cumsum(length)])
    current = bar_start[np.cumsum(kind["bar"])]
    at = np.where(kind["position"], current + tokens - layout.position, current)
    time = _last(at, kind["bar"] | kind["position"], 0, 0)
    followed = np.r_[kind["duration"][1:], False]
    lasts = np.where(followed, np.r_[tokens[1:], 0] - DURATION + 1, 1)
    vbin = _last(tokens, kind["velocity"], layout.velocity,
                 int(velocity_bin(velocity, velocity_bins)))
    on = kind["pitch"]
    notes = np.zeros(int(on.sum()), NOTE_DTYPE)
    notes["start"], notes["duration"] = time[on], lasts[on]
    notes["pitch"], notes["velocity"] = tokens[on], bin_velocity(vbin[on], velocity_bins)
    signatures = _signatures(bar_start, np.r_[length, meter[-1]], steps_per_beat)
    return Score(ticks_per_beat=steps_per_beat, tracks=[Track(notes=sort_notes(notes))],
                 time_signatures=signatures, end_of_track=int(time[-1]))


def _last(values: np.ndarray, chosen: np.ndarray, offset: int, default: int) -> np.ndarray:
    """For each position: ``values - offset`` at the latest chosen position up to it,
    ``default`` before the first."""
    latest = np.maximum.accumulate(np.where(chosen, np.arange(len(values)), -1))
    return np.where(latest >= 0, values[np.maximum(latest, 0)] - offset, default)


def _signatures(bar_start: np.ndarray, length: np.ndarray, steps_per_beat: int) -> np.ndarray:
    """A time signature at each bar whose length differs from the bar before's (the
    first bar's always), where a MIDI file can state it."""
    changed = np.r_[True, length[1:] != length[:-1]]
    rows = [(int(tick), *signature) for tick, size in zip(bar_start[changed], length[changed],
                                                          strict=True)
            if (signature := _time_signature(int(size), steps_per_beat)) is not None]
    return np.array(rows, dtype=TIME_SIGNATURE_DTYPE)


def _time_signature(steps: int, steps_per_beat: int) -> tuple[int, int] | None:
    """``(numerator, denominator)`` of a bar of ``steps`` steps (denominator at least 4),
    None when no power-of-two denominator states it."""
    whole = Fraction(steps, 4 * steps_per_beat)  # the bar in whole notes
    scale = max(1, 4 // whole.denominator)
    numerator, denominator = whole.numerator * scale, whole.denominator * scale
    if denominator & (denominator - 1):
        return None
    return numerator, denominator


class Remi(Representation):
    """``to_remi`` / ``from_remi`` as a representation (name ``remi``)."""

    name = "remi"

    def __init__(self, steps_per_beat: int = 4, max_beats: int = 8, velocity_bins: int = 32,
                 conditions: tuple[str, ...] = ()) -> None:
        super().__init__(conditions)
        self.layout = Layout(steps_per_beat, max_beats, velocity_bins)
        self.options = {"steps_per_beat": steps_per_beat, "max_beats": max_beats,
                        "velocity_bins": velocity_bins}

    @property
    def spec(self) -> RepresentationSpec:
        return RepresentationSpec("discrete", vocab_size=self.layout.size,
                                  condition_size=self.condition_size)

    def encode(self, score: Score) -> np.ndarray:
        return to_remi(score, **self.options)

    def decode(self, array: np.ndarray) -> Score:
        return from_remi(array, **self.options)

    def grammar(self, n: int, max_polyphony: int | None = None) -> RemiGrammar:
        return RemiGrammar(n, self.layout, max_polyphony)


class RemiGrammar:
    """REMI as a sampler may write it, so that every token means what it says:

    - a PITCH is followed by its DURATION, and a DURATION follows only a PITCH;
    - a METER comes only first or right after a BAR, and states a length a MIDI time
      signature can hold; a VELOCITY is followed by a PITCH;
    - positions rise within a bar and stay inside it; notes start only at a POSITION
      given since the last BAR;
    - with ``max_polyphony``, a PITCH only for a pitch already sounding or while fewer
      distinct pitches than that sound.
    """

    def __init__(self, n: int, layout: Layout, max_polyphony: int | None = None) -> None:
        self.layout = layout
        self.max_polyphony = max_polyphony
        self.previous = np.full(n, -1, np.int64)
        self.meter = np.full(n, layout.default_meter, np.int64)
        self.bar_start = np.zeros(n, np.int64)
        self.position = np.full(n, -1, np.int64)  # -1: no POSITION since the last BAR
        self.ends = np.zeros((n, PITCHES), np.int64)  # where each pitch stops sounding
        self.meters = layout.writable_meters()

    @property
    def time(self) -> np.ndarray:
        return self.bar_start + np.maximum(self.position, 0)

    def allowed(self) -> np.ndarray:
        layout, n = self.layout, len(self.previous)
        kind = layout.kinds(self.previous)
        mask = np.zeros((n, layout.size), bool)
        pitches = self._pitches()
        between = ~(kind["pitch"] | kind["velocity"])  # no note half written
        mask[:, :PITCHES] = pitches & ~kind["pitch"][:, None]
        mask[kind["pitch"], DURATION:layout.position] = True
        steps = np.arange(layout.steps)
        mask[:, layout.position:layout.bar] = between[:, None] & (
            steps > self.position[:, None]) & (steps < self.meter[:, None])
        mask[:, layout.bar] = between
        first = (self.previous == -1) | kind["bar"]
        mask[:, layout.meter:layout.velocity] = first[:, None] & self.meters
        mask[:, layout.velocity:] = (between & pitches.any(axis=1))[:, None]
        return mask

    def _pitches(self) -> np.ndarray:
        """Bool ``(n, 128)``: the pitches a note may start on now (whatever the token
        before)."""
        sounding = self.ends > self.time[:, None]
        ok = np.broadcast_to((self.position >= 0)[:, None], sounding.shape)
        if self.max_polyphony is not None:
            ok = ok & (sounding | (sounding.sum(axis=1) < self.max_polyphony)[:, None])
        return ok

    def advance(self, tokens: np.ndarray) -> None:
        layout = self.layout
        tokens = np.asarray(tokens, np.int64)
        kind = layout.kinds(tokens)
        rows = np.arange(len(tokens))
        bar = kind["bar"]
        self.bar_start[bar] += self.meter[bar]
        self.position[bar] = -1
        self.meter[kind["meter"]] = tokens[kind["meter"]] - layout.meter + 1
        self.position[kind["position"]] = tokens[kind["position"]] - layout.position
        pitch = kind["pitch"]
        self.ends[rows[pitch], tokens[pitch]] = np.maximum(
            self.ends[rows[pitch], tokens[pitch]], self.time[pitch] + 1)
        held = kind["duration"] & (self.previous >= 0) & (self.previous < DURATION)
        self.ends[rows[held], self.previous[held]] = np.maximum(
            self.ends[rows[held], self.previous[held]],
            self.time[held] + tokens[held] - DURATION + 1)
        self.previous = tokens
