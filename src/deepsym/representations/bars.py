"""MuseGAN's bars: a binary piano-roll per track, cut into bars.

``to_bars`` returns ``(bars, tracks, steps_per_bar, pitches)``, time first as every
deepsym representation (MuseGAN's own ``(tracks, bars, steps, pitches)`` is
``array.transpose(1, 0, 2, 3)``). A bar is ``beats_per_bar`` beats of
``steps_per_beat`` steps, counted from tick 0 whatever the time signature (MuseGAN's
fixed 4/4 bars); the last bar is padded with silence. Steps follow
:func:`deepsym.pianoroll` (``unit="beat"``, binary).

Track assignment (the score's tracks to the tensor's ``tracks`` axis):

- ``rule="voice"`` (default, e.g. the four voices of a chorale): the non-drum tracks in
  the order of the score, track ``k`` to slot ``k``; tracks beyond ``n_tracks`` and
  drum tracks are left out.
- ``rule="family"``: MuseGAN's five tracks, by General MIDI program: drums (every drum
  track), piano (programs 0-23: pianos, chromatic percussion, organs), guitar (24-31),
  bass (32-39), strings (40-127: strings, ensembles and every other melodic
  instrument). Tracks of one slot are merged. ``n_tracks`` must be 5.

A round trip keeps exactly what the tensor shows (re-encoding the decoded score gives
the same tensor). It loses velocities, notes outside ``pitch_range``, notes shorter than
a step that cover no step, the boundary between touching notes of one pitch in one slot
(they merge), and track names and programs beyond the slot's (decoded tracks are named
and voiced by slot).
"""
from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from deepsym.errors import DeepsymError
from deepsym.pianoroll import from_pianoroll, pianoroll
from deepsym.representations.base import Representation, RepresentationSpec
from deepsym.representations.timing import check_choice, check_positive
from deepsym.score import NOTE_DTYPE, Score, Track, sort_notes

RULES = ("voice", "family")
#: The ``family`` slots: name, first and last GM program (None: drum tracks).
FAMILIES = (("drums", None, None), ("piano", 0, 23), ("guitar", 24, 31),
            ("bass", 32, 39), ("strings", 40, 127))
THRESHOLD = 0.5


def assign_tracks(score: Score, rule: str = "voice", n_tracks: int = 4) -> list[list[int]]:
    """The indices of ``score.tracks`` that go into each slot (see the module docstring)."""
    check_choice("rule", rule, RULES)
    check_positive(n_tracks=n_tracks)
    if rule == "voice":
        pitched = [i for i, t in enumerate(score.tracks) if not t.is_drum]
        return [[i] for i in pitched[:n_tracks]] + [[] for _ in range(n_tracks - len(pitched))]
    if n_tracks != len(FAMILIES):
        raise DeepsymError(f'rule="family" has {len(FAMILIES)} tracks '
                           f"({', '.join(f[0] for f in FAMILIES)}), not n_tracks={n_tracks}")
    slots: list[list[int]] = [[] for _ in FAMILIES]
    for i, track in enumerate(score.tracks):
        slot = 0 if track.is_drum else next(k for k, (_, low, high) in enumerate(FAMILIES)
                                              if low is not None and low <= track.program <= high)
        slots[slot].append(i)
    return slots


def to_bars(score: Score, *, rule: str = "voice", n_tracks: int = 4, steps_per_beat: int = 4,
            beats_per_bar: int = 4, pitch_range: tuple[int, int] = (24, 108)) -> np.ndarray:
    """A score as MuseGAN bars.

    Parameters
    ----------
    score : Score
    rule : {"voice", "family"}
        How tracks are assigned to slots.
    n_tracks : int
        Slots (5 for ``rule="family"``).
    steps_per_beat, beats_per_bar : int
        The grid: a bar has ``steps_per_beat * beats_per_bar`` steps.
    pitch_range : (low, high)
        The pitches kept, high excluded (default C1..B6, MuseGAN's 84).

    Returns
    -------
    np.ndarray
        float32 0.0 / 1.0, shape ``(bars, n_tracks, steps_per_bar, high - low)``;
        ``[b, k, s, j]`` is 1 where slot ``k`` sounds pitch ``low + j`` at step ``s`` of
        bar ``b``.
    """
    check_positive(steps_per_beat=steps_per_beat, beats_per_bar=beats_per_bar)
    slots = assign_tracks(score, rule, n_tracks)
    merged = Score(ticks_per_beat=score.ticks_per_beat, tempos=score.tempos, smpte=score.smpte,
                   tracks=[Track(notes=_notes_of(score, slot)) for slot in slots])
    roll = pianoroll(merged, steps_per_beat, unit="beat", pitch_range=pitch_range, stack=True,
                     out_of_range="ignore")
    steps_per_bar = steps_per_beat * beats_per_bar
    bars = -(-roll.shape[1] // steps_per_bar)
    padded = np.zeros((n_tracks, bars * steps_per_bar, roll.shape[2]), np.float32)
    padded[:, :roll.shape[1]] = roll
    return padded.reshape(n_tracks, bars, steps_per_bar, roll.shape[2]).transpose(1, 0, 2, 3).copy()


def from_bars(array: np.ndarray, *, rule: str = "voice", steps_per_beat: int = 4,
              beats_per_bar: int = 4, pitch_range: tuple[int, int] = (24, 108),
              velocity: int = 64, programs: Sequence[int] | None = None) -> Score:
    """A Score from bars shaped like ``to_bars``'s (values > 0.5 sound).

    Parameters
    ----------
    array : np.ndarray
        Shape ``(bars, tracks, steps_per_bar, pitches)``.
    rule, steps_per_beat, beats_per_bar, pitch_range
        As given to ``to_bars``.
    velocity : int
        Velocity of every note.
    programs : sequence of int, optional
        The General MIDI program of each slot (a drum slot ignores it); default: the
        family's first program, or 0 (piano) for ``rule="voice"``.

    Returns
    -------
    Score
        One track per slot (``voice 1`` .. or the family names, drums on channel 9),
        ``ticks_per_beat = steps_per_beat``.
    """
    check_choice("rule", rule, RULES)
    array = np.asarray(array)
    steps_per_bar = steps_per_beat * beats_per_bar
    if array.ndim != 4 or array.shape[2] != steps_per_bar:
        raise DeepsymError(f"bars have shape (bars, tracks, {steps_per_bar}, pitches), "
                           f"got {array.shape}")
    bars, n_tracks = array.shape[:2]
    rolls = array.transpose(1, 0, 2, 3).reshape(n_tracks, bars * steps_per_bar, -1)
    if rule == "family" and n_tracks != len(FAMILIES):
        raise DeepsymError(f'rule="family" bars have {len(FAMILIES)} tracks, got {n_tracks}')
    programs = _programs(rule, n_tracks, programs)
    tracks = from_pianoroll(rolls > THRESHOLD, "binary", resolution=steps_per_beat,
                            pitch_range=pitch_range, velocity=velocity)
    if rule == "family":
        tracks = [t.replace(name=name, program=program, is_drum=low is None,
                            channel=9 if low is None else k)
                  for k, (t, (name, low, _), program)
                  in enumerate(zip(tracks, FAMILIES, programs, strict=True))]
    else:
        tracks = [t.replace(name=f"voice {k + 1}", program=program, channel=k)
                  for k, (t, program) in enumerate(zip(tracks, programs, strict=True))]
    return Score(ticks_per_beat=steps_per_beat, tracks=tracks)


def _programs(rule: str, n_tracks: int, programs: Sequence[int] | None) -> list[int]:
    """One General MIDI program per slot: ``programs`` checked, or the defaults."""
    if programs is None:
        return [low or 0 for _, low, _ in FAMILIES] if rule == "family" else [0] * n_tracks
    programs = [int(p) for p in programs]
    if len(programs) != n_tracks or not all(0 <= p <= 127 for p in programs):
        raise DeepsymError(f"programs must be {n_tracks} numbers from 0 to 127 (one per "
                           f"track), not {programs}")
    return programs


def _notes_of(score: Score, indices: list[int]) -> np.ndarray:
    parts = [score.tracks[i].notes for i in indices]
    return sort_notes(np.concatenate(parts)) if parts else np.empty(0, NOTE_DTYPE)


class Bars(Representation):
    """``to_bars`` / ``from_bars`` as a representation (name ``bars``); ``programs``: the
    General MIDI program of each decoded slot (see ``from_bars``)."""

    name = "bars"

    def __init__(self, rule: str = "voice", n_tracks: int = 4, steps_per_beat: int = 4,
                 beats_per_bar: int = 4, pitch_range: tuple[int, int] = (24, 108),
                 programs: Sequence[int] | None = None, conditions: tuple[str, ...] = ()
                 ) -> None:
        super().__init__(conditions)
        check_choice("rule", rule, RULES)
        check_positive(n_tracks=n_tracks, steps_per_beat=steps_per_beat,
                       beats_per_bar=beats_per_bar)
        if rule == "family" and n_tracks != len(FAMILIES):
            raise DeepsymError(f'rule="family" has {len(FAMILIES)} tracks, not {n_tracks}')
        self.n_tracks = n_tracks
        self.programs = None if programs is None else _programs(rule, n_tracks, programs)
        self.options = {"rule": rule, "steps_per_beat": steps_per_beat,
                        "beats_per_bar": beats_per_bar,
                        "pitch_range": (int(pitch_range[0]), int(pitch_range[1]))}

    @property
    def spec(self) -> RepresentationSpec:
        low, high = self.options["pitch_range"]
        steps = self.options["steps_per_beat"] * self.options["beats_per_bar"]
        return RepresentationSpec("continuous", feature_shape=(self.n_tracks, steps, high - low),
                                  condition_size=self.condition_size)

    def encode(self, score: Score) -> np.ndarray:
        return to_bars(score, n_tracks=self.n_tracks, **self.options)

    def decode(self, array: np.ndarray) -> Score:
        return from_bars(array, programs=self.programs, **self.options)
