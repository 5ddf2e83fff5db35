"""An independent reading of MIDI files built on mido: the oracle for the differential tests.

It applies the note rules that ``deepsym.read_midi`` promises (see ``deepsym.midi``) to
the messages mido decodes, one message at a time, in plain Python. It imports nothing
from deepsym, so the two readers share no code.

The rules, as implemented here:

- one track per (track chunk, channel) holding at least one note, ordered by chunk
  then channel; a track is drums when its channel is 9;
- its program is the first program change of that channel in that chunk, even one
  after the notes (0 when there is none); its name is the chunk's first track name;
- a note-on with velocity 0 is a note-off; a note-off ends the earliest-started open
  note of its chunk, channel and pitch; a note-off with nothing open is ignored;
- notes still open at the end of a chunk end at the chunk's last event (End of Track
  included); zero-length notes are kept; notes are sorted by start, then pitch, and
  notes equal on both stay in the order their note-ons came;
- format 2 chunks are played one after another: each starts at the previous one's end;
- texts are UTF-8 where they decode as such, else Latin-1 (mido decodes all as Latin-1).

One thing mido reads differently from the rules: its reader takes a sysex event as
the running status, so a file using running status right after a sysex cannot be read
by this oracle. mido never writes such files (it repeats the status byte after any
meta or sysex event).
"""
from __future__ import annotations

import io
from collections import defaultdict, deque
from dataclasses import dataclass, field
from pathlib import Path

import mido

DRUM_CHANNEL = 9

#: mido's key names to (sharps, mode): sharps > 0, flats < 0; mode 0 major, 1 minor.
KEYS: dict[str, tuple[int, int]] = {
    **{name: (sharps, 0) for sharps, name in enumerate(
        ["Cb", "Gb", "Db", "Ab", "Eb", "Bb", "F", "C", "G", "D", "A", "E", "B", "F#", "C#"],
        start=-7)},
    **{name: (sharps, 1) for sharps, name in enumerate(
        ["Abm", "Ebm", "Bbm", "Fm", "Cm", "Gm", "Dm", "Am", "Em", "Bm", "F#m", "C#m", "G#m",
         "D#m", "A#m"], start=-7)},
}

Note = tuple[int, int, int, int]  # start, duration, pitch, velocity


@dataclass
class RefTrack:
    """The notes and controls of one channel of one track chunk."""

    chunk: int
    channel: int
    program: int
    is_drum: bool
    name: str
    notes: list[Note]
    controls: list[tuple[int, int, int]]  # tick, number, value
    pitch_bends: list[tuple[int, int]]  # tick, value in -8192..8191


@dataclass
class RefScore:
    """What the reference reads from a file; times are absolute ticks."""

    ticks_per_beat: int
    tracks: list[RefTrack] = field(default_factory=list)
    tempos: list[tuple[int, int]] = field(default_factory=list)  # tick, microseconds per beat
    time_signatures: list[tuple[int, int, int]] = field(default_factory=list)
    key_signatures: list[tuple[int, int, int]] = field(default_factory=list)  # tick, key, mode
    texts: list[tuple[int, str]] = field(default_factory=list)
    lyrics: list[tuple[int, str]] = field(default_factory=list)
    markers: list[tuple[int, str]] = field(default_factory=list)
    end_tick: int = 0  # the latest last event of any chunk


def read(source: str | Path | bytes) -> RefScore:
    """Read a MIDI file (a path or its bytes) with mido and apply the note rules."""
    if isinstance(source, bytes):
        return reference(mido.MidiFile(file=io.BytesIO(source)))
    return reference(mido.MidiFile(source))


def reference(mid: mido.MidiFile) -> RefScore:
    """Apply the note rules to a mido ``MidiFile``."""
    score = RefScore(ticks_per_beat=mid.ticks_per_beat)
    offset = 0
    for chunk, track in enumerate(mid.tracks):
        last = _read_chunk(score, chunk, track, offset)
        score.end_tick = max(score.end_tick, last)
        if mid.type == 2:
            offset = last
    for events in (score.tempos, score.time_signatures, score.key_signatures,
                   score.texts, score.lyrics, score.markers):
        events.sort(key=lambda event: event[0])  # stable: chunk order within a tick
    return score


def _read_chunk(score: RefScore, chunk: int, track: mido.MidiTrack, tick: int) -> int:
    """Add one chunk's tracks and meta events to ``score``; return its last event tick."""
    open_notes: dict[tuple[int, int], deque[tuple[int, int, int]]] = defaultdict(deque)
    notes: dict[int, list[tuple[int, int, int, int, int]]] = defaultdict(list)
    programs: dict[int, int] = {}
    controls: dict[int, list[tuple[int, int, int]]] = defaultdict(list)
    bends: dict[int, list[tuple[int, int]]] = defaultdict(list)
    name = None
    order = 0  # counts note-ons, to keep equal notes in file order
    for msg in track:
        tick += msg.time
        kind = msg.type
        if kind == "note_on" and msg.velocity > 0:
            open_notes[msg.channel, msg.note].append((tick, msg.velocity, order))
            order += 1
        elif kind in ("note_on", "note_off"):
            pending = open_notes[msg.channel, msg.note]
            if pending:
                start, velocity, seq = pending.popleft()
                notes[msg.channel].append((start, tick - start, msg.note, velocity, seq))
        elif kind == "program_change":
            programs.setdefault(msg.channel, msg.program)
        elif kind == "control_change":
            controls[msg.channel].append((tick, msg.control, msg.value))
        elif kind == "pitchwheel":
            bends[msg.channel].append((tick, msg.pitch))
        elif kind == "track_name" and name is None:
            name = _decode(msg.name)
        elif kind == "set_tempo":
            score.tempos.append((tick, msg.tempo))
        elif kind == "time_signature":
            score.time_signatures.append((tick, msg.numerator, msg.denominator))
        elif kind == "key_signature":
            score.key_signatures.append((tick, *KEYS[msg.key]))
        elif kind == "text":
            score.texts.append((tick, _decode(msg.text)))
        elif kind == "lyrics":
            score.lyrics.append((tick, _decode(msg.text)))
        elif kind == "marker":
            score.markers.append((tick, _decode(msg.text)))
    for (channel, pitch), pending in open_notes.items():
        for start, velocity, seq in pending:
            notes[channel].append((start, tick - start, pitch, velocity, seq))
    for channel in sorted(notes):
        ordered = sorted(notes[channel], key=lambda n: (n[0], n[2], n[4]))
        score.tracks.append(RefTrack(
            chunk=chunk, channel=channel, program=programs.get(channel, 0),
            is_drum=channel == DRUM_CHANNEL, name=name or "",
            notes=[(start, duration, pitch, velocity)
                   for start, duration, pitch, velocity, _ in ordered],
            controls=controls[channel], pitch_bends=bends[channel]))
    return tick


def _decode(text: str) -> str:
    """Text that mido decoded as Latin-1, read as UTF-8 where its bytes are UTF-8."""
    raw = text.encode("latin-1")
    try:
        return raw.decode("utf-8")
    except UnicodeDecodeError:
        return text
