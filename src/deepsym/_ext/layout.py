"""Array layouts and problem codes shared by the compiled kernels and their Python twins.

A problem is something the Standard MIDI File 1.0 specification forbids, or something
the Score model cannot hold (``TICK_OVERFLOW``): the lenient reader keeps what it can
read and warns; ``strict=True`` raises at the first.
"""
from __future__ import annotations

from enum import IntEnum

import numpy as np

NOTE_DTYPE = np.dtype([("start", "i4"), ("duration", "i4"), ("pitch", "u1"), ("velocity", "u1")])
CONTROL_DTYPE = np.dtype([("tick", "i4"), ("number", "u1"), ("value", "u1")])
BEND_DTYPE = np.dtype([("tick", "i4"), ("value", "i2")])
#: Tempo changes: the tick they take effect and the tempo in quarter notes per minute.
TEMPO_DTYPE = np.dtype([("tick", "i4"), ("qpm", "f8")])
#: Time signatures: tick, numerator and denominator (a power of two, e.g. 4 for x/4).
TIME_SIGNATURE_DTYPE = np.dtype([("tick", "i4"), ("numerator", "u1"), ("denominator", "u2")])
#: Key signatures: tick, key as sharps (> 0) or flats (< 0), mode (0 major, 1 minor).
KEY_SIGNATURE_DTYPE = np.dtype([("tick", "i4"), ("key", "i1"), ("mode", "u1")])

#: Columns of the ``tracks`` table returned by ``parse_tracks``: one row per
#: (chunk, channel) holding at least one note, with slices into the grouped arrays.
TRACK_COLUMNS = (
    "chunk", "channel", "program",
    "note_begin", "note_count",
    "control_begin", "control_count",
    "bend_begin", "bend_count",
)


class Problem(IntEnum):
    """What went wrong at a byte offset; the lenient reader keeps what it read before."""

    TRUNCATED_EVENT = 1
    TRUNCATED_CHUNK = 2
    LONG_VLQ = 3
    NO_STATUS = 4
    BAD_DATA_BYTE = 5
    SYSTEM_MESSAGE = 6
    BAD_META = 7
    TRAILING_BYTES = 8
    TICK_OVERFLOW = 9
    CANCELLED_RUNNING_STATUS = 10
    NO_END_OF_TRACK = 11
    AFTER_END_OF_TRACK = 12
    META_LENGTH = 13
    META_TYPE = 14

    @property
    def message(self) -> str:
        return _MESSAGES[self]


_MESSAGES = {
    Problem.TRUNCATED_EVENT: "an event runs past the end of its track chunk",
    Problem.TRUNCATED_CHUNK: "a chunk declares more bytes than the file holds",
    Problem.LONG_VLQ: "a variable-length quantity is longer than 4 bytes",
    Problem.NO_STATUS: "a data byte comes with no running status",
    Problem.BAD_DATA_BYTE: "a channel message has a data byte above 127",
    Problem.SYSTEM_MESSAGE: "a system message (F1-FE) stands inside a track; skipped",
    Problem.BAD_META: "a malformed tempo, time or key signature event; skipped",
    Problem.TRAILING_BYTES: "bytes after the last chunk are not a chunk",
    Problem.TICK_OVERFLOW: "an event lies beyond tick 2**31 - 1",
    Problem.CANCELLED_RUNNING_STATUS: "a data byte relies on running status, which the meta "
                                      "event or sysex before it cancels; read with the "
                                      "status before them",
    Problem.NO_END_OF_TRACK: "a track chunk ends without an End of Track event",
    Problem.AFTER_END_OF_TRACK: "bytes follow the End of Track event inside its chunk; ignored",
    Problem.META_LENGTH: "a meta event's length is not the one its type has (sequence "
                         "number 2, channel prefix 1, End of Track 0, SMPTE offset 5, time "
                         "signature 4, key signature 2); read as far as it goes",
    Problem.META_TYPE: "a meta event's type is above 127; skipped",
}


class Unwritable(IntEnum):
    """What a Score holds that a Standard MIDI File cannot (the writer's refusals)."""

    TEMPO = 1
    TIME_SIGNATURE = 2
    KEY_SIGNATURE = 3
    CONDUCTOR_TICK = 4
    CHANNEL = 5
    NOTE = 6
    CONTROL = 7
    EVENT_TICK = 8
    TOO_MANY = 9
    END = 10
    CHUNK_SIZE = 11
    META_SIZE = 12

    def message(self, track: int, value: int) -> str:
        """The refusal's text: ``track`` is the track's index; ``value`` the score's end
        (END) or the meta event's size (META_SIZE)."""
        return _UNWRITABLE[self].format(track=track, value=value)


_UNWRITABLE = {
    Unwritable.TEMPO: "tempos must lie between 3.58 and 60,000,000 qpm",
    Unwritable.TIME_SIGNATURE: "time signature denominators must be powers of two and "
                               "numerators positive",
    Unwritable.KEY_SIGNATURE: "key signatures need -7..7 sharps and mode 0 or 1",
    Unwritable.CONDUCTOR_TICK: "tempos, signatures and texts need ticks >= 0",
    Unwritable.CHANNEL: "track {track}: channel must be 0-15 and program 0-127",
    Unwritable.NOTE: "track {track}: notes need pitch 0-127, velocity 1-127, start and "
                     "duration >= 0 (velocity 0 would mean note-off)",
    Unwritable.CONTROL: "track {track}: controls need 0-127, pitch bends -8192..8191",
    Unwritable.EVENT_TICK: "track {track}: controls and pitch bends need ticks >= 0",
    Unwritable.TOO_MANY: "2**28 or more notes, controls, pitch bends or meta events in "
                         "one track",
    Unwritable.END: "the score ends at tick {value}, past 2**31 - 1 (the reader's last tick)",
    Unwritable.CHUNK_SIZE: "a track chunk of 2**32 bytes or more",
    Unwritable.META_SIZE: "a meta event of {value} bytes (at most 2**28 - 1)",
}
