"""The data model: a ``Score`` of ``Track`` objects, every event list a numpy structured array.

Times are integer ticks. ``Score.ticks_per_beat`` relates ticks to beats, and the tempo
map relates beats to seconds; all conversions are vectorized over whole arrays.
"""
from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from deepsym._ext.layout import (
    BEND_DTYPE,
    CONTROL_DTYPE,
    KEY_SIGNATURE_DTYPE,
    NOTE_DTYPE,
    TEMPO_DTYPE,
    TIME_SIGNATURE_DTYPE,
)

DEFAULT_QPM = 120.0
SMPTE_FPS = {24: 24.0, 25: 25.0, 29: 30000 / 1001, 30: 30.0}

__all__ = [
    "BEND_DTYPE", "CONTROL_DTYPE", "KEY_SIGNATURE_DTYPE", "NOTE_DTYPE", "TEMPO_DTYPE",
    "TIME_SIGNATURE_DTYPE", "Score", "Track",
]


def _array(values: Any, dtype: np.dtype) -> np.ndarray:
    if type(values) is np.ndarray and values.dtype == dtype and values.ndim == 1:
        return values
    if values is None:
        return np.empty(0, dtype=dtype)
    out = np.asarray(values)
    if out.dtype != dtype:
        out = np.array([tuple(v) for v in values], dtype=dtype) if out.dtype.names is None \
            else out.astype(dtype)
    return out.reshape(-1)


def _by_tick(events: np.ndarray) -> np.ndarray:
    """The events sorted by tick, stable (later events at the same tick stay later)."""
    if len(events) < 2 or not np.any(events["tick"][1:] < events["tick"][:-1]):
        return events
    return events[np.argsort(events["tick"], kind="stable")]


def sort_notes(notes: np.ndarray) -> np.ndarray:
    """Notes sorted by start, then pitch; notes equal on both keep their order."""
    if len(notes) < 2:
        return notes
    return notes[np.lexsort((notes["pitch"], notes["start"]))]


@dataclass(eq=False)
class Track:
    """One instrument part: the notes of one channel of one MIDI track chunk.

    ``notes`` has fields ``start`` and ``duration`` (ticks), ``pitch`` and ``velocity``
    (0-127), sorted by start then pitch. ``controls`` holds control changes (tick,
    number, value) and ``pitch_bends`` (tick, value in -8192..8191).
    """

    notes: np.ndarray = None  # type: ignore[assignment]
    program: int = 0
    channel: int = 0
    is_drum: bool = False
    name: str = ""
    instrument: str = ""
    controls: np.ndarray = None  # type: ignore[assignment]
    pitch_bends: np.ndarray = None  # type: ignore[assignment]

    def __post_init__(self) -> None:
        self.notes = _array(self.notes, NOTE_DTYPE)
        self.controls = _array(self.controls, CONTROL_DTYPE)
        self.pitch_bends = _array(self.pitch_bends, BEND_DTYPE)

    @classmethod
    def from_arrays(cls, notes: np.ndarray, controls: np.ndarray, pitch_bends: np.ndarray,
                    program: int = 0, channel: int = 0, is_drum: bool = False, name: str = "",
                    instrument: str = "") -> Track:
        """A Track around arrays already of the right dtypes, without checks (fast path)."""
        track = object.__new__(cls)
        track.__dict__ = {"notes": notes, "program": program, "channel": channel,
                          "is_drum": is_drum, "name": name, "instrument": instrument,
                          "controls": controls, "pitch_bends": pitch_bends}
        return track

    @property
    def end_tick(self) -> int:
        """The tick after the last note ends (0 for an empty track)."""
        ends = [int((self.notes["start"].astype(np.int64) + self.notes["duration"]).max())
                if len(self.notes) else 0]
        ends += [int(a["tick"].max()) for a in (self.controls, self.pitch_bends) if len(a)]
        return max(ends)

    def replace(self, **changes: Any) -> Track:
        return dataclasses.replace(self, **changes)

    def __eq__(self, other: object) -> bool:
        return isinstance(other, Track) and _fields_equal(self, other)

    def __repr__(self) -> str:
        kind = "drums" if self.is_drum else f"program={self.program}"
        return f"Track({self.name!r}, {kind}, channel={self.channel}, notes={len(self.notes)})"



@dataclass(eq=False)
class Score:
    """A piece of music: tracks plus the tempo map, time and key signatures, and texts.

    ``smpte`` is ``(frames per second, ticks per frame)`` for files timed in SMPTE
    frames; their ticks are absolute time, the tempo map does not apply, and a beat
    is taken as half a second (120 qpm). ``end_of_track`` is the tick of the latest
    End of Track event, which may lie after the last note (trailing silence).
    """

    ticks_per_beat: int = 480
    tracks: list[Track] = field(default_factory=list)
    tempos: np.ndarray = None  # type: ignore[assignment]
    time_signatures: np.ndarray = None  # type: ignore[assignment]
    key_signatures: np.ndarray = None  # type: ignore[assignment]
    texts: list[tuple[int, str]] = field(default_factory=list)
    lyrics: list[tuple[int, str]] = field(default_factory=list)
    markers: list[tuple[int, str]] = field(default_factory=list)
    smpte: tuple[int, int] | None = None
    end_of_track: int = 0

    def __post_init__(self) -> None:
        self.tempos = _by_tick(_array(self.tempos, TEMPO_DTYPE))
        self.time_signatures = _by_tick(_array(self.time_signatures, TIME_SIGNATURE_DTYPE))
        self.key_signatures = _by_tick(_array(self.key_signatures, KEY_SIGNATURE_DTYPE))

    @classmethod
    def from_arrays(cls, ticks_per_beat: int, tracks: list[Track], tempos: np.ndarray,
                    time_signatures: np.ndarray, key_signatures: np.ndarray,
                    texts: tuple[np.ndarray, bytes], smpte: tuple[int, int] | None,
                    end_of_track: int) -> Score:
        """A Score around event arrays of the right dtypes, in file order (fast path).

        ``texts`` are the text, lyric and marker events undecoded, as the reader kernel
        gives them (rows of meta type, tick and length; their bytes): they are decoded
        into ``texts``, ``lyrics`` and ``markers`` when one of those is first used.
        Only the tempo map and the signatures are sorted by tick; nothing is checked.
        """
        score = object.__new__(cls)
        score.__dict__ = {
            "ticks_per_beat": ticks_per_beat, "tracks": tracks, "tempos": _by_tick(tempos),
            "time_signatures": _by_tick(time_signatures),
            "key_signatures": _by_tick(key_signatures), "smpte": smpte,
            "end_of_track": end_of_track,
        }
        if len(texts[0]):
            score.__dict__[_ENCODED_TEXTS] = texts
        else:
            score.__dict__.update(texts=[], lyrics=[], markers=[])
        return score

    # -- time -------------------------------------------------------------------------

    @property
    def ticks_per_second(self) -> float | None:
        """Ticks per second of an SMPTE-timed score; None when timed in beats."""
        if self.smpte is None:
            return None
        fps, ticks_per_frame = self.smpte
        return SMPTE_FPS.get(fps, float(fps)) * ticks_per_frame

    @property
    def end_tick(self) -> int:
        """The tick where the piece ends: the last note end, event or End of Track."""
        ends = [self.end_of_track] + [t.end_tick for t in self.tracks]
        ends += [int(a["tick"].max()) for a in (self.tempos, self.time_signatures,
                                                self.key_signatures) if len(a)]
        if _ENCODED_TEXTS in self.__dict__:  # not decoded yet: no need to
            ends.append(int(self.__dict__[_ENCODED_TEXTS][0][:, 1].max()))
        ends += [tick for name in _TEXT_FIELDS.values() if name in self.__dict__
                 for tick, _ in self.__dict__[name][-1:]]
        return max(ends)

    @property
    def duration_seconds(self) -> float:
        return float(self.to_seconds(self.end_tick))

    @property
    def n_notes(self) -> int:
        return sum(len(t.notes) for t in self.tracks)

    def _tempo_map(self) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """Tempo segments: first tick, seconds at that tick, seconds per tick."""
        ticks = self.tempos["tick"].astype(np.int64)
        qpm = self.tempos["qpm"]
        if len(ticks) == 0 or ticks[0] > 0:
            ticks = np.concatenate([[0], ticks])
            qpm = np.concatenate([[DEFAULT_QPM], qpm])
        last_at_tick = np.append(ticks[1:] != ticks[:-1], True)  # the last change at a tick wins
        ticks, qpm = ticks[last_at_tick], qpm[last_at_tick]
        per_tick = 60.0 / (qpm * self.ticks_per_beat)
        seconds = np.concatenate([[0.0], np.cumsum(np.diff(ticks) * per_tick[:-1])])
        return ticks, seconds, per_tick

    def to_seconds(self, ticks: Any) -> Any:
        """Seconds from the start at the given tick(s), through the tempo map."""
        ticks = np.asarray(ticks, dtype=np.float64)
        if self.smpte is not None:
            return ticks / self.ticks_per_second
        starts, seconds, per_tick = self._tempo_map()
        i = np.clip(np.searchsorted(starts, ticks, side="right") - 1, 0, None)
        return seconds[i] + (ticks - starts[i]) * per_tick[i]

    def to_ticks(self, seconds: Any) -> Any:
        """Ticks (float) at the given time(s) in seconds; the inverse of ``to_seconds``."""
        seconds = np.asarray(seconds, dtype=np.float64)
        if self.smpte is not None:
            return seconds * self.ticks_per_second
        starts, at, per_tick = self._tempo_map()
        i = np.clip(np.searchsorted(at, seconds, side="right") - 1, 0, None)
        return starts[i] + (seconds - at[i]) / per_tick[i]

    def to_beats(self, ticks: Any) -> Any:
        """Beats from the start at the given tick(s) (half seconds for SMPTE scores)."""
        if self.smpte is not None:
            return self.to_seconds(ticks) * (DEFAULT_QPM / 60.0)
        return np.asarray(ticks, dtype=np.float64) / self.ticks_per_beat

    # -- transformations --------------------------------------------------------------

    def resample(self, steps_per_beat: int) -> Score:
        """The score quantized to ``steps_per_beat`` ticks per beat (nearest step).

        A note that had a duration keeps at least one step. An SMPTE-timed score
        becomes beat-timed at 120 qpm, so its times in seconds are kept.
        """
        if steps_per_beat < 1:
            raise ValueError(f"steps_per_beat must be at least 1, not {steps_per_beat}")

        def q(ticks: np.ndarray) -> np.ndarray:
            return np.floor(self.to_beats(ticks) * steps_per_beat + 0.5).astype(np.int64)

        def retimed(events: np.ndarray) -> np.ndarray:
            out = events.copy()
            out["tick"] = q(events["tick"])
            return out

        tracks = []
        for track in self.tracks:
            notes = track.notes.copy()
            start = q(notes["start"])
            end = q(notes["start"].astype(np.int64) + notes["duration"])
            notes["start"] = start
            notes["duration"] = np.where(notes["duration"] > 0, np.maximum(end - start, 1), 0)
            tracks.append(track.replace(notes=sort_notes(notes), controls=retimed(track.controls),
                                        pitch_bends=retimed(track.pitch_bends)))
        tempos = retimed(self.tempos) if self.smpte is None \
            else np.array([(0, DEFAULT_QPM)], dtype=TEMPO_DTYPE)
        return dataclasses.replace(
            self, ticks_per_beat=steps_per_beat, tracks=tracks, tempos=tempos,
            time_signatures=retimed(self.time_signatures),
            key_signatures=retimed(self.key_signatures),
            texts=_retimed_texts(self.texts, q), lyrics=_retimed_texts(self.lyrics, q),
            markers=_retimed_texts(self.markers, q), smpte=None,
            end_of_track=int(q(np.array([self.end_of_track]))[0]),
        )

    def merge_tracks(self, indices: list[int] | None = None, name: str | None = None) -> Score:
        """Merge the given tracks (default: all) into one, placed where the first was.

        Program, channel and drum flag come from the first merged track.
        """
        indices = sorted(range(len(self.tracks)) if indices is None else set(indices))
        if not indices:
            return dataclasses.replace(self, tracks=list(self.tracks))
        chosen = [self.tracks[i] for i in indices]
        merged = chosen[0].replace(
            name=chosen[0].name if name is None else name,
            notes=sort_notes(np.concatenate([t.notes for t in chosen])),
            controls=_by_tick(np.concatenate([t.controls for t in chosen])),
            pitch_bends=_by_tick(np.concatenate([t.pitch_bends for t in chosen])),
        )
        tracks = [merged if i == indices[0] else t
                  for i, t in enumerate(self.tracks) if i == indices[0] or i not in indices]
        return dataclasses.replace(self, tracks=tracks)

    def slice(self, start: int, end: int) -> Score:
        """The part from tick ``start`` (inclusive) to ``end`` (exclusive), moved to tick 0.

        Notes that begin in the window are kept, cut at ``end``; the tempo, time and
        key signature in force at ``start`` are carried to tick 0.
        """
        if not 0 <= start <= end:
            raise ValueError(f"need 0 <= start <= end, got start={start}, end={end}")
        tracks = []
        for track in self.tracks:
            notes = track.notes
            notes = notes[(notes["start"] >= start) & (notes["start"] < end)].copy()
            stop = np.minimum(notes["start"].astype(np.int64) + notes["duration"], end)
            notes["duration"] = stop - notes["start"]
            notes["start"] -= start
            tracks.append(track.replace(notes=notes,
                                        controls=_window(track.controls, start, end, False),
                                        pitch_bends=_window(track.pitch_bends, start, end, False)))
        return dataclasses.replace(
            self, tracks=tracks,
            tempos=_window(self.tempos, start, end, True),
            time_signatures=_window(self.time_signatures, start, end, True),
            key_signatures=_window(self.key_signatures, start, end, True),
            texts=[(t - start, s) for t, s in self.texts if start <= t < end],
            lyrics=[(t - start, s) for t, s in self.lyrics if start <= t < end],
            markers=[(t - start, s) for t, s in self.markers if start <= t < end],
            end_of_track=max(0, min(self.end_tick, end) - start),
        )

    def slice_seconds(self, start: float, end: float) -> Score:
        """``slice`` with the window given in seconds."""
        first, last = np.ceil(self.to_ticks([start, end])).astype(np.int64)
        return self.slice(int(first), int(last))

    # -- comparison and display -------------------------------------------------------

    def __eq__(self, other: object) -> bool:
        return isinstance(other, Score) and _fields_equal(self, other)

    def __repr__(self) -> str:
        seconds = self.duration_seconds
        parts = [f"tracks={len(self.tracks)}", f"notes={self.n_notes}",
                 f"{int(seconds // 60)}:{seconds % 60:04.1f}"]
        if self.smpte is not None:
            parts.append(f"SMPTE {self.smpte[0]} fps x {self.smpte[1]}")
        else:
            parts.insert(0, f"ticks_per_beat={self.ticks_per_beat}")
        if len(self.tempos):
            parts.append(f"{self.tempos['qpm'][0]:g} qpm")
        if len(self.time_signatures):
            ts = self.time_signatures[0]
            parts.append(f"{ts['numerator']}/{ts['denominator']}")
        return f"Score({', '.join(parts)})"


def _fields_equal(a: Any, b: Any) -> bool:
    for f in dataclasses.fields(a):
        x, y = getattr(a, f.name), getattr(b, f.name)
        same = np.array_equal(x, y) if isinstance(x, np.ndarray) else x == y
        if not same:
            return False
    return True


def _window(events: np.ndarray, start: int, end: int, carry: bool) -> np.ndarray:
    """Events in [start, end) moved by -start; with ``carry`` the one in force at start too."""
    ticks = events["tick"]
    inside = events[(ticks >= start) & (ticks < end)].copy()
    inside["tick"] -= start
    before = events[ticks < start]
    if carry and len(before) and (len(inside) == 0 or inside["tick"][0] > 0):
        held = before[-1:].copy()
        held["tick"] = 0
        inside = np.concatenate([held, inside])
    return inside


_ENCODED_TEXTS = "_encoded_texts"
_NO_TEXT_ROWS = np.empty((0, 3), np.int64)
_NO_TEXT_ROWS.flags.writeable = False
_TEXT_FIELDS = {0x01: "texts", 0x05: "lyrics", 0x06: "markers"}  # by meta event type


class _DecodedOnUse:
    """``Score.texts``, ``lyrics`` and ``markers`` of a score read from a file: decoded
    from the file's bytes the first time one of them is used (most uses of a parsed
    score never look at its lyrics). A value already set on the score is kept."""

    def __init__(self, name: str) -> None:
        self.name = name

    def __get__(self, score: Score | None, owner: type | None = None) -> Any:
        if score is None:
            return self
        if _ENCODED_TEXTS not in score.__dict__:
            raise AttributeError(self.name)
        for name, events in decode_texts(*score.__dict__.pop(_ENCODED_TEXTS)).items():
            score.__dict__.setdefault(name, events)
        return score.__dict__[self.name]


def decode_texts(rows: np.ndarray, data: bytes) -> dict[str, list[tuple[int, str]]]:
    """Text meta events ``rows`` (meta type, tick, byte length; their bytes one after
    another in ``data``) as (tick, text) lists by field name, each sorted by tick
    (stably); a text is UTF-8 when valid, else Latin-1 (what old files use)."""
    ends = np.cumsum(rows[:, 2])
    starts = ends - rows[:, 2]
    out: dict[str, list[tuple[int, str]]] = {name: [] for name in _TEXT_FIELDS.values()}
    for i in np.lexsort((np.arange(len(rows)), rows[:, 1])).tolist():
        raw = data[starts[i]:ends[i]]
        try:
            text = raw.decode("utf-8")
        except UnicodeDecodeError:
            text = raw.decode("latin-1")
        out[_TEXT_FIELDS[int(rows[i, 0])]].append((int(rows[i, 1]), text))
    return out


def encoded_texts(score: Score) -> tuple[np.ndarray, bytes]:
    """The inverse of :func:`decode_texts`: ``score``'s texts, lyrics and markers as rows
    (meta type, tick, byte length; int64) and their bytes one after another.

    A score read from a file whose texts are still undecoded gives the file's own rows and
    bytes, UTF-8 or Latin-1 (the writing kernel turns Latin-1 into UTF-8, as decoding
    and encoding them would).
    """
    raw = score.__dict__.get(_ENCODED_TEXTS)
    if raw is not None:
        return raw
    items = [(mtype, tick, text.encode("utf-8")) for mtype, name in _TEXT_FIELDS.items()
             for tick, text in getattr(score, name)]
    if not items:
        return _NO_TEXT_ROWS, b""
    rows = np.array([(mtype, tick, len(data)) for mtype, tick, data in items], np.int64)
    return rows.reshape(-1, 3), b"".join(data for *_, data in items)


for _name in _TEXT_FIELDS.values():  # after @dataclass, which leaves these names free
    setattr(Score, _name, _DecodedOnUse(_name))


def _retimed_texts(texts: list[tuple[int, str]], q: Any) -> list[tuple[int, str]]:
    if not texts:
        return []
    ticks = q(np.array([t for t, _ in texts]))
    return [(int(t), s) for t, (_, s) in zip(ticks, texts, strict=True)]
