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

import numpy as np

from deepsym._ext.layout import Problem
from deepsym._kernels import smf
from deepsym.errors import MidiError, MidiWarning
from deepsym.fileio import write_atomic
from deepsym.score import SMPTE_FPS, Score, Track

Source = str | os.PathLike | bytes | bytearray | memoryview | IO[bytes]

TEXT, TRACK_NAME, INSTRUMENT, LYRIC, MARKER = 0x01, 0x03, 0x04, 0x05, 0x06
DRUM_CHANNEL = 9
MAX_TICK = 2**31 - 1  # ticks are int32 in the Score
MAX_META_LENGTH = 0x0FFFFFFF  # the largest variable-length quantity (4 bytes)


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
    A gap of 2**28 ticks or more between two events of a track, more than one delta
    time holds, is bridged by filler meta events (``FF 7F 01 7D``, sequencer-specific,
    which readers ignore) every 2**28 - 1 ticks.
    """
    end = score.end_tick
    _check(score, end)
    conductor = _conductor_events(score)
    if len(score.tracks) == 1:
        chunks = [_chunk(conductor + _names(score.tracks[0]), score.tracks[0], end)]
        fmt = 0
    else:
        chunks = [_chunk(conductor, None, end)]
        chunks += [_chunk(_names(t), t, end) for t in score.tracks]
        fmt = 1
    if score.smpte is not None:
        fps, per_frame = score.smpte
        division = ((-fps) & 0xFF) << 8 | per_frame
    else:
        division = score.ticks_per_beat
    data = struct.pack(">4sIHHH", b"MThd", 6, fmt, len(chunks), division) + b"".join(chunks)
    if target is None:
        return data
    if hasattr(target, "write"):
        target.write(data)
    else:
        write_atomic(target, data)
    return data


def _check(score: Score, end: int) -> None:
    """Raise MidiError for anything a Standard MIDI File cannot hold (or deepsym read)."""
    def bad(message: str) -> MidiError:
        return MidiError(f"cannot write: {message}", "<score>")

    if end > MAX_TICK:
        raise bad(f"the score ends at tick {end}, past 2**31 - 1 (the reader's last tick)")
    if score.smpte is not None:
        fps, per_frame = score.smpte
        if fps not in SMPTE_FPS or not 1 <= per_frame <= 255:
            raise bad(f"SMPTE timing {score.smpte} (fps 24, 25, 29 or 30; 1-255 ticks per frame)")
    elif not 1 <= score.ticks_per_beat <= 0x7FFF:
        raise bad(f"ticks_per_beat {score.ticks_per_beat} is outside 1..32767")
    qpm = score.tempos["qpm"]
    if np.any(np.rint(60e6 / qpm) > 0xFFFFFF) or np.any(np.rint(60e6 / qpm) < 1):
        raise bad("tempos must lie between 3.58 and 60,000,000 qpm")
    den = score.time_signatures["denominator"]
    numerator = score.time_signatures["numerator"]
    if np.any((den == 0) | (den & (den - 1) != 0)) or np.any(numerator == 0):
        raise bad("time signature denominators must be powers of two and numerators positive")
    if np.any(np.abs(score.key_signatures["key"]) > 7) or np.any(score.key_signatures["mode"] > 1):
        raise bad("key signatures need -7..7 sharps and mode 0 or 1")
    for i, t in enumerate(score.tracks):
        n = t.notes
        if not 0 <= t.channel <= 15 or not 0 <= t.program <= 127:
            raise bad(f"track {i}: channel must be 0-15 and program 0-127")
        if len(n) and (n["pitch"].max() > 127 or n["velocity"].min() < 1
                       or n["velocity"].max() > 127 or n["start"].min() < 0
                       or n["duration"].min() < 0):
            raise bad(f"track {i}: notes need pitch 0-127, velocity 1-127, start and "
                      "duration >= 0 (velocity 0 would mean note-off)")
        c, b = t.controls, t.pitch_bends
        if (len(c) and max(c["number"].max(), c["value"].max()) > 127) \
                or (len(b) and np.any(np.abs(b["value"] + 0.5) > 8192)):
            raise bad(f"track {i}: controls need 0-127, pitch bends -8192..8191")


def _meta(mtype: int, body: bytes) -> bytes:
    """A meta event: FF, its type, its length as a variable-length quantity, its data."""
    n = len(body)
    if n > MAX_META_LENGTH:
        raise MidiError(f"cannot write: a meta event of {n} bytes (at most 2**28 - 1)",
                        "<score>")
    groups = [n & 0x7F]
    while n > 0x7F:
        n >>= 7
        groups.append(0x80 | (n & 0x7F))
    return bytes([0xFF, mtype, *reversed(groups)]) + body


def _conductor_events(score: Score) -> list[tuple[int, bytes]]:
    events = [(int(t), _meta(0x51, round(60e6 / q).to_bytes(3, "big")))
              for t, q in score.tempos.tolist()]
    events += [(int(t), _meta(0x58, bytes([n, int(d).bit_length() - 1, 24, 8])))
               for t, n, d in score.time_signatures.tolist()]
    events += [(int(t), _meta(0x59, bytes([k & 0xFF, m])))
               for t, k, m in score.key_signatures.tolist()]
    for mtype, items in ((TEXT, score.texts), (LYRIC, score.lyrics), (MARKER, score.markers)):
        events += [(int(t), _meta(mtype, s.encode("utf-8"))) for t, s in items]
    return events


def _names(track: Track) -> list[tuple[int, bytes]]:
    events = []
    if track.name:
        events.append((0, _meta(TRACK_NAME, track.name.encode("utf-8"))))
    if track.instrument:
        events.append((0, _meta(INSTRUMENT, track.instrument.encode("utf-8"))))
    return events


def _channel_events(track: Track) -> tuple[np.ndarray, ...]:
    """(ticks, priorities, sequence numbers, message bytes (m, 3), message lengths).

    At one tick: note-offs, program, controls, bends, then note-ons (a zero-length
    note's off right after its on), so that reading back pairs every note correctly.
    """
    notes, c, b = track.notes, track.controls, track.pitch_bends
    n, nc, nb = len(notes), len(c), len(b)
    m = 2 * n + 1 + nc + nb
    ticks = np.empty(m, np.int64)
    priority = np.empty(m, np.int8)
    sequence = np.empty(m, np.int64)
    message = np.zeros((m, 3), np.uint8)
    lengths = np.full(m, 3, np.int32)
    zero = notes["duration"] == 0
    ons, offs, prog = slice(0, n), slice(n, 2 * n), 2 * n
    ctl, bend = slice(prog + 1, prog + 1 + nc), slice(prog + 1 + nc, m)
    ticks[ons] = notes["start"]
    ticks[offs] = ticks[ons] + notes["duration"]
    priority[ons] = 5
    priority[offs] = np.where(zero, 5, 1)
    sequence[ons] = np.arange(0, 2 * n, 2)
    sequence[offs] = sequence[ons] + zero
    message[: 2 * n, 0] = 0x90 | track.channel
    message[ons, 1] = message[offs, 1] = notes["pitch"]
    message[ons, 2] = notes["velocity"]  # offs: note-on with velocity 0, for running status
    ticks[prog], priority[prog], sequence[prog], lengths[prog] = 0, 2, 0, 2
    message[prog, :2] = 0xC0 | track.channel, track.program
    ticks[ctl], priority[ctl], sequence[ctl] = c["tick"], 3, np.arange(nc)
    message[ctl] = np.stack([np.full(nc, 0xB0 | track.channel), c["number"], c["value"]], 1)
    value = b["value"].astype(np.int64) + 8192
    ticks[bend], priority[bend], sequence[bend] = b["tick"], 4, np.arange(nb)
    message[bend] = np.stack([np.full(nb, 0xE0 | track.channel), value & 0x7F, value >> 7], 1)
    return ticks, priority, sequence, message, lengths


def _chunk(metas: list[tuple[int, bytes]], track: Track | None, end: int) -> bytes:
    """One MTrk chunk: meta events first at their tick, channel messages, End of Track."""
    metas = [*metas, (end, b"\xff\x2f\x00")]
    meta_ticks = np.array([t for t, _ in metas], np.int64)
    meta_bytes = np.frombuffer(b"".join(m for _, m in metas), np.uint8)
    meta_lengths = np.array([len(m) for _, m in metas], np.int32)
    priority = np.where(np.arange(len(metas)) == len(metas) - 1, 9, 0)
    sequence = np.arange(len(metas))
    if track is None:
        ticks, payload, lengths = meta_ticks, meta_bytes, meta_lengths
    else:
        c_ticks, c_prio, c_seq, c_msg, c_len = _channel_events(track)
        ticks = np.concatenate([meta_ticks, c_ticks])
        priority = np.concatenate([priority, c_prio])
        sequence = np.concatenate([sequence, c_seq])
        payload = np.concatenate([meta_bytes, c_msg[np.arange(3) < c_len[:, None]]])
        lengths = np.concatenate([meta_lengths, c_len])
    order = np.lexsort((sequence, priority, ticks))
    starts = np.cumsum(lengths, dtype=np.int64) - lengths
    lengths = lengths[order]
    first = starts[order]
    gather = np.repeat(first - (np.cumsum(lengths, dtype=np.int64) - lengths), lengths) \
        + np.arange(int(lengths.sum()))
    try:
        body = smf.encode_chunk(np.ascontiguousarray(ticks[order]), payload[gather],
                                np.ascontiguousarray(lengths))
    except ValueError as exc:
        raise MidiError(f"cannot write: {exc}", "<score>") from None
    return b"MTrk" + struct.pack(">I", len(body)) + body
