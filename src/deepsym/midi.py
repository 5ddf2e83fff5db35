"""Read and write Standard MIDI Files (formats 0, 1 and 2; RIFF RMID wrappers too).

The byte-level work is done by the ``smf`` kernel; this module reads the header,
turns the kernel's arrays into a :class:`~deepsym.score.Score` and back, and reports
problems with the file name and byte offset.

Note rules (what the reader promises): one Track per (track chunk, channel) that holds
a note, ordered by chunk then channel; channel 10 (9 from zero) is drums; a track's
program is the first program change of its channel in its chunk (0 when none); a
note-on with velocity 0 is a note-off; a note-off ends the earliest-started open note
of its chunk, channel and pitch; notes still open end at their chunk's last event;
zero-length notes are kept; notes are sorted by start, then pitch. Format 2 sequences
are laid one after another.

Strict means the SMF 1.0 specification: ``strict=True`` refuses everything it forbids
that the lenient reader tolerates with a warning (running status relied on after a meta
event or sysex, which cancel it; a track chunk without End of Track or with bytes after
it; meta events of a type above 127 or of a length their type does not have; a format 0
file with several track chunks; more track chunks than the header declares). An SMPTE
division whose rate is not 24, 25, 29 or 30 frames per second is refused in both modes.

Every Score the reader returns can be written: ``write_midi`` then ``read_midi`` gives
the same notes. Gaps longer than one delta time can hold are bridged on writing.
"""
from __future__ import annotations

import os
import struct
import warnings
from pathlib import Path
from typing import IO, NamedTuple

from deepsym._ext.layout import Problem
from deepsym._kernels import smf, smfwrite
from deepsym.errors import MidiError, MidiWarning
from deepsym.fileio import write_atomic
from deepsym.score import SMPTE_FPS, Score, Track, encoded_texts

Source = str | os.PathLike | bytes | bytearray | memoryview | IO[bytes]

TEXT, TRACK_NAME, INSTRUMENT, LYRIC, MARKER = 0x01, 0x03, 0x04, 0x05, 0x06
DRUM_CHANNEL = 9
MAX_TICK = 2**31 - 1  # ticks are int32 in the Score


# -- reading ----------------------------------------------------------------------------

class Header(NamedTuple):
    """What a Standard MIDI File's MThd chunk says, and where its first chunk starts.

    ``base`` is where the SMF begins in the file (after a RIFF RMID wrapper, else 0);
    ``offset``, the first chunk after MThd, counts from the start of the file too.
    """

    format: int
    n_tracks: int
    division: int
    offset: int
    base: int = 0


def read_midi(source: Source, *, strict: bool = False, name: str | None = None) -> Score:
    """Read a Standard MIDI File from a path, bytes or a binary file object.

    By default damaged files are read leniently, like real players do: what can be
    read is kept and a :class:`MidiWarning` says what was wrong. With ``strict=True``
    any problem raises :class:`MidiError`. Input that is not MIDI at all always raises
    :class:`MidiError`, naming the source (``name`` overrides it) and the byte offset.
    """
    data, source_name = _load(source)
    name = name or source_name
    data, (fmt, n_tracks, division, offset, base) = _unwrap(data, name, strict)
    raw = smf.parse_tracks(data[base:] if base else data, offset - base, fmt, strict)
    chunks = len(raw["chunks"])
    if raw["problems"] or chunks != n_tracks or (fmt == 0 and chunks > 1):
        problems = [(Problem(code).message, base + at) for code, at in raw["problems"]]
        problems += _chunk_problems(raw["chunks"], fmt, n_tracks, base, len(data))
        if problems:
            _report(problems, name, strict)
    if chunks == 0:
        raise MidiError("no MTrk track chunk", name, min(offset, len(data)))
    return _score(raw, division)


def _chunk_problems(chunks: list[tuple[int, int, int]], fmt: int, n_tracks: int, base: int,
                    size: int) -> list[tuple[str, int]]:
    """Where the track chunks disagree with the header: (message, byte offset) pairs."""
    problems = []
    if fmt == 0 and len(chunks) > 1:
        problems.append((f"a format 0 file holds {len(chunks)} track chunks (one only); "
                         "read as format 1", base + chunks[1][2]))
    if len(chunks) > n_tracks:
        problems.append((f"the header declares {n_tracks} track chunks but the file holds "
                         f"{len(chunks)}; read them all", base + chunks[n_tracks][2]))
    elif 0 < len(chunks) < n_tracks:
        problems.append((f"the header declares {n_tracks} track chunks but the file "
                         f"holds {len(chunks)}", size))
    return problems


def _report(problems: list[tuple[str, int]], name: str, strict: bool) -> None:
    """Raise the first problem in the file (strict) or warn once about them all."""
    message, offset = min(problems, key=lambda problem: problem[1])
    if strict:
        raise MidiError(message, name, offset)
    more = f" (and {len(problems) - 1} more problems)" if len(problems) > 1 else ""
    warnings.warn(f"{name}: {message} at byte {offset}{more}; kept what could be read",
                  MidiWarning, stacklevel=3)


def read_header(data: bytes, name: str = "<bytes>", strict: bool = False) -> Header:
    """The header of a Standard MIDI File (or RIFF RMID file) given as bytes."""
    return _unwrap(data, name, strict)[1]


def _load(source: Source) -> tuple[bytes, str]:
    if isinstance(source, (bytes, bytearray, memoryview)):
        return bytes(source), "<bytes>"
    if hasattr(source, "read"):
        data = source.read()
        if not isinstance(data, (bytes, bytearray)):
            raise MidiError("file object must be opened in binary mode",
                            str(getattr(source, "name", "<file>")))
        return bytes(data), str(getattr(source, "name", "<file>"))
    path = Path(source)
    try:
        return path.read_bytes(), str(path)
    except OSError as exc:
        raise MidiError(f"cannot read: {exc.strerror or exc}", str(path)) from None


def _unwrap(data: bytes, name: str, strict: bool) -> tuple[bytes, Header]:
    """Check a RIFF RMID wrapper and MThd; return the file's bytes and the SMF header.

    The bytes are cut at the end of a RIFF ``data`` chunk; offsets count from the file start.
    """
    base = 0
    if data[:4] == b"RIFF" and data[8:12] == b"RMID":
        base, size = _riff_data(data, name)
        data = data[:base + size]
    smf_data = data[base:]
    if len(smf_data) == 0:
        raise MidiError("empty file, not a Standard MIDI File", name, 0)
    if smf_data[:4] != b"MThd":
        raise MidiError("not a Standard MIDI File (no MThd header)", name, base)
    if len(smf_data) < 14:
        raise MidiError("the MThd header is cut short", name, len(data))
    length, fmt, n_tracks, division = struct.unpack(">IHHH", smf_data[4:14])
    if not 6 <= length <= len(smf_data) - 8:
        raise MidiError(f"the MThd header declares {length} bytes (at least 6, at most the "
                        "rest of the file)", name, base + 4)
    if fmt > 2:
        if strict:
            raise MidiError(f"unknown format {fmt}", name, 8)
        warnings.warn(f"{name}: unknown format {fmt}, read as format 1", MidiWarning, stacklevel=3)
        fmt = 1
    _check_division(division, name, base + 12)
    return data, Header(fmt, n_tracks, division, base + 8 + length, base)


def _check_division(division: int, name: str, offset: int) -> None:
    """Refuse a time division of 0 or an SMPTE rate other than 24, 25, 29 or 30 fps.

    SMF 1.0 allows only those four rates; the Score could not be written back with
    another one, so both modes refuse it.
    """
    if division & 0x7FFF == 0 or (division & 0x8000 and division & 0xFF == 0):
        raise MidiError("time division is 0", name, offset)
    fps = 256 - (division >> 8)
    if division & 0x8000 and fps not in SMPTE_FPS:
        raise MidiError(f"SMPTE time division of {fps} frames per second (SMF allows 24, "
                        "25, 29 and 30)", name, offset)


def _riff_data(data: bytes, name: str) -> tuple[int, int]:
    """Where the SMF inside a RIFF RMID file's ``data`` chunk starts, and its size."""
    pos = 12
    while pos + 8 <= len(data):
        ident = data[pos:pos + 4]
        (size,) = struct.unpack("<I", data[pos + 4:pos + 8])
        if ident == b"data":
            return pos + 8, size
        pos += 8 + size + (size & 1)
    raise MidiError("RIFF RMID file without a data chunk", name, min(pos, len(data)))


def _score(raw: dict, division: int) -> Score:
    names = raw["names"]
    notes, controls, bends = raw["notes"], raw["controls"], raw["bends"]
    no_controls, no_bends = controls[:0], bends[:0]
    tracks = [
        Track.from_arrays(notes[nb:nb + nn],
                          controls[cb:cb + cn] if cn else no_controls,
                          bends[bb:bb + bn] if bn else no_bends,
                          program, channel, channel == DRUM_CHANNEL,
                          names.get((chunk, TRACK_NAME), ""), names.get((chunk, INSTRUMENT), ""))
        for chunk, channel, program, nb, nn, cb, cn, bb, bn in raw["tracks"]
    ]
    smpte = None
    ticks_per_beat = division
    if division & 0x8000:
        smpte = (256 - (division >> 8), division & 0xFF)
        ticks_per_beat = max(1, round(SMPTE_FPS[smpte[0]] * smpte[1] / 2))
    return Score.from_arrays(ticks_per_beat, tracks, raw["tempos"], raw["time_signatures"],
                             raw["key_signatures"], raw["texts"], smpte, raw["end"])


# -- writing ----------------------------------------------------------------------------

def write_midi(score: Score, target: str | os.PathLike | IO[bytes] | None = None) -> bytes:
    """Write ``score`` as a Standard MIDI File and return its bytes.

    Format 0 for a single track, else format 1 with a first track holding tempos,
    signatures and texts. ``target`` may be a path (written atomically: a temporary
    file renamed into place) or a binary file object. Notes of one track and pitch
    that overlap with out-of-order ends cannot be told apart in MIDI; every other
    score reads back with the same notes, every score ``read_midi`` returns included.
    The bytes depend on the score alone. A gap of 2**28 ticks or more between two
    events of a track, more than one delta time holds, is bridged by filler meta events
    (``FF 7F 01 7D``, sequencer-specific, which readers ignore) every 2**28 - 1 ticks.
    """
    tracks = [(t.notes, t.controls, t.pitch_bends, t.channel, t.program,
               t.name.encode("utf-8"), t.instrument.encode("utf-8")) for t in score.tracks]
    rows, texts = encoded_texts(score)
    try:
        data = smfwrite.encode_file(_division(score), tracks, score.tempos,
                                    score.time_signatures, score.key_signatures, rows, texts,
                                    score.end_of_track)
    except ValueError as exc:
        raise MidiError(f"cannot write: {exc}", "<score>") from None
    if target is None:
        return data
    if hasattr(target, "write"):
        target.write(data)
    else:
        write_atomic(target, data)
    return data


def _division(score: Score) -> int:
    """The header's time division: ticks per beat, or SMPTE frames and ticks per frame."""
    if score.smpte is None:
        if not 1 <= score.ticks_per_beat <= 0x7FFF:
            raise MidiError(f"cannot write: ticks_per_beat {score.ticks_per_beat} is outside "
                            "1..32767", "<score>")
        return score.ticks_per_beat
    fps, per_frame = score.smpte
    if fps not in SMPTE_FPS or not 1 <= per_frame <= 255:
        raise MidiError(f"cannot write: SMPTE timing {score.smpte} (fps 24, 25, 29 or 30; "
                        "1-255 ticks per frame)", "<score>")
    return ((-fps) & 0xFF) << 8 | per_frame
