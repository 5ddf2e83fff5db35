"""Plain-Python twin of the ``smfwrite`` kernel: same function, same bytes, same refusals.

It is the tests' oracle and is used only when ``DEEPSYM_PUREPYTHON=1`` asks for it.
Each chunk's events are (tick, kind, sequence, message) tuples, sorted and encoded one
after another; see ``smfwrite.pyx`` for the order.
"""
from __future__ import annotations

import itertools

import numpy as np

from deepsym._ext.layout import (
    BEND_DTYPE,
    CONTROL_DTYPE,
    KEY_SIGNATURE_DTYPE,
    NOTE_DTYPE,
    TEMPO_DTYPE,
    TIME_SIGNATURE_DTYPE,
    Unwritable,
)

MAX_TICK = 2**31 - 1
MAX_DELTA = 0x0FFFFFFF
MAX_SEQUENCE = 2**28
FILLER = b"\xff\x7f\x01\x7d"  # a sequencer-specific meta event, non-commercial ID
META, NOTE_OFF, PROGRAM, CONTROL, BEND, NOTE_ON, END_OF_TRACK = 0, 1, 2, 3, 4, 5, 9
TEXT_TYPES = (0x01, 0x05, 0x06)  # texts, lyrics, markers: their order at one tick
TRACK_NAME, INSTRUMENT = 0x03, 0x04

Event = tuple[int, int, int, bytes]  # tick, kind, sequence, message


def encode_file(division, tracks, tempos, time_signatures, key_signatures, text_rows,
                text_data, end_of_track) -> bytes:
    """A Standard MIDI File's bytes; see ``smfwrite.encode_file``."""
    tempos = np.ascontiguousarray(tempos, TEMPO_DTYPE)
    time_signatures = np.ascontiguousarray(time_signatures, TIME_SIGNATURE_DTYPE)
    key_signatures = np.ascontiguousarray(key_signatures, KEY_SIGNATURE_DTYPE)
    rows = np.ascontiguousarray(text_rows, np.int64).reshape(-1, 3).tolist()
    tracks = [(np.ascontiguousarray(n, NOTE_DTYPE), np.ascontiguousarray(c, CONTROL_DTYPE),
               np.ascontiguousarray(b, BEND_DTYPE), int(ch), int(p), bytes(name), bytes(inst))
              for n, c, b, ch, p, name, inst in tracks]
    if any(length < 0 for *_, length in rows):
        raise ValueError("a text row of negative length")
    if sum(length for *_, length in rows) != len(text_data):
        raise ValueError("the text rows' lengths do not add up to the text data's")
    offsets = np.cumsum([0] + [length for *_, length in rows]).tolist()
    texts = [_utf8(bytes(text_data[a:b])) for a, b in itertools.pairwise(offsets)]
    refusal = _refusal(tempos, time_signatures, key_signatures, rows, texts, tracks)
    if refusal is not None:
        raise ValueError(refusal[0].message(*refusal[1:]))
    conductor = _conductor(tempos, time_signatures, key_signatures, rows, texts)
    end = max([int(end_of_track), *(tick for tick, *_ in conductor),
               *(tick for track in tracks for tick, *_ in _channel_events(track))])
    if end > MAX_TICK:
        raise ValueError(Unwritable.END.message(0, end))
    names = len(conductor)
    if len(tracks) == 1:
        chunks = [conductor + _names(tracks[0], names) + _channel_events(tracks[0])]
    else:
        chunks = [conductor] + [_names(t, names) + _channel_events(t) for t in tracks]
    header = b"MThd" + (6).to_bytes(4, "big") + (len(tracks) != 1).to_bytes(2, "big") \
        + len(chunks).to_bytes(2, "big") + division.to_bytes(2, "big")
    return header + b"".join(_chunk(events, end) for events in chunks)


def _utf8(text: bytes) -> bytes:
    """A text's bytes as UTF-8: as they are when valid, else read as Latin-1."""
    try:
        text.decode("utf-8")
    except UnicodeDecodeError:
        return text.decode("latin-1").encode("utf-8")
    return text


def _refusal(tempos, time_signatures, key_signatures, rows, texts: list[bytes],
             tracks) -> tuple[Unwritable, int, int] | None:
    """The first refusal (in the kernel's order), its track and value; None when none."""
    with np.errstate(divide="ignore", invalid="ignore"):
        usec = np.rint(60e6 / tempos["qpm"])
    den, numerator = time_signatures["denominator"], time_signatures["numerator"]
    ticks = [tempos["tick"], time_signatures["tick"], key_signatures["tick"],
             np.array([tick for _, tick, _ in rows], np.int64)]
    too_long = [len(text) for text in texts if len(text) > MAX_DELTA]
    if not np.all((usec >= 1) & (usec <= 0xFFFFFF)):
        return Unwritable.TEMPO, 0, 0
    if np.any((den == 0) | (den & (den - 1) != 0) | (numerator == 0)):
        return Unwritable.TIME_SIGNATURE, 0, 0
    if np.any(np.abs(key_signatures["key"].astype(int)) > 7) or np.any(key_signatures["mode"] > 1):
        return Unwritable.KEY_SIGNATURE, 0, 0
    if any(np.any(t < 0) for t in ticks):
        return Unwritable.CONDUCTOR_TICK, 0, 0
    if too_long:
        return Unwritable.META_SIZE, 0, too_long[0]
    if sum(map(len, ticks)) + 2 >= MAX_SEQUENCE:
        return Unwritable.TOO_MANY, 0, 0
    for i, track in enumerate(tracks):
        refusal = _track_refusal(*track)
        if refusal is not None:
            return refusal[0], i, refusal[1]
    return None


def _track_refusal(notes, controls, bends, channel: int, program: int, name: bytes,
                   instrument: bytes) -> tuple[Unwritable, int] | None:
    """A track's first refusal and its value (a name's size), or None."""
    if not (0 <= channel <= 15 and 0 <= program <= 127):
        return Unwritable.CHANNEL, 0
    if max(len(name), len(instrument)) > MAX_DELTA:
        return Unwritable.META_SIZE, max(len(name), len(instrument))
    if np.any((notes["pitch"] > 127) | (notes["velocity"] < 1) | (notes["velocity"] > 127)
              | (notes["start"] < 0) | (notes["duration"] < 0)):
        return Unwritable.NOTE, 0
    if np.any((controls["number"] > 127) | (controls["value"] > 127)) \
            or np.any((bends["value"] < -8192) | (bends["value"] > 8191)):
        return Unwritable.CONTROL, 0
    if np.any(controls["tick"] < 0) or np.any(bends["tick"] < 0):
        return Unwritable.EVENT_TICK, 0
    if max(len(notes), len(controls), len(bends)) >= MAX_SEQUENCE:
        return Unwritable.TOO_MANY, 0
    return None


def _meta(mtype: int, body: bytes) -> bytes:
    return bytes([0xFF, mtype]) + _vlq(len(body)) + body


def _conductor(tempos, time_signatures, key_signatures, rows, texts: list[bytes]) -> list[Event]:
    """Tempos, time and key signatures, then texts, lyrics and markers: numbered metas."""
    metas = [(t, _meta(0x51, int(np.rint(60e6 / q)).to_bytes(3, "big")))
             for t, q in tempos.tolist()]
    metas += [(t, _meta(0x58, bytes([n, d.bit_length() - 1, 24, 8])))
              for t, n, d in time_signatures.tolist()]
    metas += [(t, _meta(0x59, bytes([k & 0xFF, m]))) for t, k, m in key_signatures.tolist()]
    for mtype in TEXT_TYPES:
        metas += [(tick, _meta(mtype, text))
                  for (kind, tick, _), text in zip(rows, texts, strict=True) if kind == mtype]
    return [(tick, META, s, message) for s, (tick, message) in enumerate(metas)]


def _names(track, first: int) -> list[Event]:
    """The track's name and instrument, numbered after the conductor's metas."""
    *_, name, instrument = track
    return [(0, META, first + i, _meta(mtype, text))
            for i, (mtype, text) in enumerate(((TRACK_NAME, name), (INSTRUMENT, instrument)))
            if text]


def _channel_events(track) -> list[Event]:
    """Note-ons (a zero-length note's off right after), note-offs, program, controls, bends."""
    notes, controls, bends, channel, program, *_ = track
    events = [(0, PROGRAM, 0, bytes([0xC0 | channel, program]))]
    for i, (start, duration, pitch, velocity) in enumerate(notes.tolist()):
        events.append((start, NOTE_ON, 2 * i, bytes([0x90 | channel, pitch, velocity])))
        off = bytes([0x90 | channel, pitch, 0])
        events.append((start, NOTE_ON, 2 * i + 1, off) if duration == 0
                      else (start + duration, NOTE_OFF, i, off))
    events += [(tick, CONTROL, i, bytes([0xB0 | channel, number, value]))
               for i, (tick, number, value) in enumerate(controls.tolist())]
    events += [(tick, BEND, i, bytes([0xE0 | channel, (v + 8192) & 0x7F, (v + 8192) >> 7]))
               for i, (tick, v) in enumerate(bends.tolist())]
    return events


def _vlq(value: int) -> bytes:
    groups = [value & 0x7F]
    value >>= 7
    while value:
        groups.append(0x80 | (value & 0x7F))
        value >>= 7
    return bytes(reversed(groups))


def _chunk(events: list[Event], end: int) -> bytes:
    """One MTrk chunk: the events in order, with running status, then End of Track."""
    out = bytearray()
    prev = running = 0
    for tick, _, _, message in sorted([*events, (end, END_OF_TRACK, 0, b"\xff\x2f\x00")]):
        delta = tick - prev
        prev = tick
        while delta > MAX_DELTA:  # a gap one delta time cannot hold: filler events
            out += _vlq(MAX_DELTA) + FILLER
            delta -= MAX_DELTA
            running = 0
        out += _vlq(delta)
        if message[0] == 0xFF:
            running = 0
        elif message[0] == running:
            message = message[1:]
        else:
            running = message[0]
        out += message
    if len(out) > 0xFFFFFFFF:
        raise ValueError(Unwritable.CHUNK_SIZE.message(0, 0))
    return b"MTrk" + len(out).to_bytes(4, "big") + out
