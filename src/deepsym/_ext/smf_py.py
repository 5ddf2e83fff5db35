"""Plain-Python twin of the ``smf`` kernel: same functions, same results, byte by byte.

It is the tests' oracle and is used only when ``DEEPSYM_PUREPYTHON=1`` asks for it.
"""
from __future__ import annotations

from collections import deque

import numpy as np

from deepsym._ext.layout import (
    BEND_DTYPE,
    CONTROL_DTYPE,
    KEY_SIGNATURE_DTYPE,
    NOTE_DTYPE,
    TEMPO_DTYPE,
    TIME_SIGNATURE_DTYPE,
    Problem,
)

MAX_TICK = 2**31 - 1
TEXT, TRACK_NAME, INSTRUMENT, LYRIC, MARKER = 0x01, 0x03, 0x04, 0x05, 0x06
FIXED_META_LENGTHS = {0x00: 2, 0x20: 1, 0x54: 5}  # meta types the reader skips


class _Parser:
    def __init__(self, data: bytes, strict: bool) -> None:
        self.data = data
        self.strict = strict
        self.notes: list[tuple] = []
        self.controls: list[tuple] = []
        self.bends: list[tuple] = []
        self.tracks: list[tuple] = []
        self.tempos: list[tuple] = []
        self.time_signatures: list[tuple] = []
        self.key_signatures: list[tuple] = []
        self.text_rows: list[tuple[int, int, int]] = []  # meta type, tick, length
        self.text_bytes: list[bytes] = []
        self.names: dict[tuple[int, int], str] = {}
        self.chunks: list[tuple] = []
        self.problems: list[tuple] = []
        self.stopped = False

    def report(self, code: Problem, offset: int) -> bool:
        """Record a problem; True when the file must stop being read (strict mode)."""
        self.problems.append((int(code), offset))
        self.stopped = self.strict
        return self.stopped

    def vlq(self, pos: int, end: int) -> tuple[int, int]:
        value = 0
        for _ in range(4):
            if pos >= end:
                raise _Fault(Problem.TRUNCATED_EVENT, pos)
            b = self.data[pos]
            pos += 1
            value = (value << 7) | (b & 0x7F)
            if b < 0x80:
                return value, pos
        raise _Fault(Problem.LONG_VLQ, pos)

    def walk(self, pos: int, fmt: int) -> None:
        data, size = self.data, len(self.data)
        chunk = start = 0
        while pos < size and not self.stopped:
            if size - pos < 8:
                self.report(Problem.TRAILING_BYTES, pos)
                return
            end = pos + 8 + int.from_bytes(data[pos + 4:pos + 8], "big")
            if end > size:
                if self.report(Problem.TRUNCATED_CHUNK, pos):
                    return
                end = size
            ident = data[pos:pos + 4]
            if ident == b"MTrk":
                last = self.track(pos + 8, end, chunk, start)
                self.chunks.append((start, last, pos))
                if fmt == 2:
                    start = last
                chunk += 1
            elif not all(32 <= c < 127 for c in ident):
                self.report(Problem.TRAILING_BYTES, pos)
                return
            pos = end

    def track(self, pos: int, end: int, chunk: int, tick: int) -> int:
        """Parse one MTrk body starting at ``tick``; return the tick of its last event."""
        state = _Track(chunk)
        last = tick
        status = 0
        cancelled = False  # by a meta event or sysex (SMF 1.0)
        data = self.data
        while pos < end:
            try:
                delta, pos = self.vlq(pos, end)
                tick += delta
                if tick > MAX_TICK:
                    raise _Fault(Problem.TICK_OVERFLOW, pos)
                if pos >= end:
                    raise _Fault(Problem.TRUNCATED_EVENT, pos)
                b = data[pos]
                if b in (0xFF, 0xF0, 0xF7):
                    action, pos = self.meta_or_sysex(pos, end, tick, chunk)
                    last = tick
                    if action != _GO_ON:
                        break
                    cancelled = True
                    continue
                if b > 0xF0:
                    if self.report(Problem.SYSTEM_MESSAGE, pos):
                        break
                    pos += 1 + (b in (0xF1, 0xF3)) + 2 * (b == 0xF2)
                    if pos > end:
                        raise _Fault(Problem.TRUNCATED_EVENT, end)
                    last = tick
                    continue
                if b & 0x80:
                    status, cancelled = b, False
                    pos += 1
                elif status == 0:
                    raise _Fault(Problem.NO_STATUS, pos)
                elif cancelled:
                    cancelled = False
                    if self.report(Problem.CANCELLED_RUNNING_STATUS, pos):
                        break
                n_data = 1 if status >> 4 in (0xC, 0xD) else 2
                if pos + n_data > end:
                    raise _Fault(Problem.TRUNCATED_EVENT, pos)
                d1 = data[pos]
                d2 = data[pos + 1] if n_data == 2 else 0
                if (d1 | d2) & 0x80:
                    raise _Fault(Problem.BAD_DATA_BYTE, pos)
                pos += n_data
                last = tick
                state.channel_event(status, d1, d2, tick)
            except _Fault as fault:
                self.report(fault.code, fault.offset)
                break
        else:
            self.report(Problem.NO_END_OF_TRACK, end)
        self.finish(state, last)
        return last

    def meta_or_sysex(self, pos: int, end: int, tick: int, chunk: int) -> tuple[str, int]:
        """Read the meta event or sysex at ``pos``: (_GO_ON, _STOP or _ENDED, next offset).

        Raises _Fault when the event is cut short.
        """
        mtype = -1
        if self.data[pos] == 0xFF:
            if pos + 1 >= end:
                raise _Fault(Problem.TRUNCATED_EVENT, end)
            mtype = self.data[pos + 1]
            pos += 1
        length, pos = self.vlq(pos + 1, end)
        if length > end - pos:
            raise _Fault(Problem.TRUNCATED_EVENT, pos)
        if mtype == 0x2F:
            return self.end_of_track(pos, end, length), pos
        if mtype >= 0:
            problem = self.meta(mtype, pos, length, tick, chunk)
            if problem is not None and self.report(problem, pos):
                return _STOP, pos
        return _GO_ON, pos + length

    def end_of_track(self, at: int, end: int, length: int) -> str:
        """Check an End of Track whose data starts at ``at``: _ENDED, or _STOP if strict."""
        if length and self.report(Problem.META_LENGTH, at):
            return _STOP
        if at + length < end and self.report(Problem.AFTER_END_OF_TRACK, at + length):
            return _STOP
        return _ENDED

    def meta(self, mtype: int, at: int, length: int, tick: int, chunk: int) -> Problem | None:
        """Store one meta event (not End of Track); the problem it has, if any."""
        body = self.data[at:at + length]
        if mtype > 0x7F:
            return Problem.META_TYPE
        if mtype == 0x51:
            usec = int.from_bytes(body, "big")
            if length != 3 or usec == 0:
                return Problem.BAD_META
            self.tempos.append((tick, 60e6 / usec))
        elif mtype == 0x58:
            if length < 2 or body[0] == 0 or body[1] > 15:
                return Problem.BAD_META
            self.time_signatures.append((tick, body[0], 1 << body[1]))
            return Problem.META_LENGTH if length != 4 else None
        elif mtype == 0x59:
            if length < 2:
                return Problem.BAD_META
            sf = body[0] - 256 if body[0] > 127 else body[0]
            if not -7 <= sf <= 7 or body[1] > 1:
                return Problem.BAD_META
            self.key_signatures.append((tick, sf, body[1]))
            return Problem.META_LENGTH if length != 2 else None
        elif FIXED_META_LENGTHS.get(mtype, length) != length:
            return Problem.META_LENGTH
        elif mtype in (TEXT, LYRIC, MARKER):
            self.text_rows.append((mtype, tick, len(body)))
            self.text_bytes.append(bytes(body))
        elif mtype in (TRACK_NAME, INSTRUMENT):
            self.names.setdefault((chunk, mtype), _decode(body))
        return None

    def finish(self, state: _Track, last: int) -> None:
        """Group the chunk's notes, controls and bends into one track per channel."""
        for note in state.notes:
            if note[2] < 0:
                note[2] = last
        for ch in range(16):
            notes = [n for n in state.notes if n[0] == ch]
            if not notes:
                continue
            notes.sort(key=lambda n: (n[1], n[3]))  # stable: ties keep file order
            controls = [c for c in state.controls if c[0] == ch]
            bends = [b for b in state.bends if b[0] == ch]
            self.tracks.append((
                state.chunk, ch, max(state.program[ch], 0),
                len(self.notes), len(notes),
                len(self.controls), len(controls),
                len(self.bends), len(bends),
            ))
            self.notes += [(n[1], n[2] - n[1], n[3], n[4]) for n in notes]
            self.controls += [c[1:] for c in controls]
            self.bends += [b[1:] for b in bends]

    def result(self) -> dict:
        return {
            "notes": np.array(self.notes, dtype=NOTE_DTYPE),
            "controls": np.array(self.controls, dtype=CONTROL_DTYPE),
            "bends": np.array(self.bends, dtype=BEND_DTYPE),
            "tracks": self.tracks,
            "tempos": np.array(self.tempos, dtype=TEMPO_DTYPE),
            "time_signatures": np.array(self.time_signatures, dtype=TIME_SIGNATURE_DTYPE),
            "key_signatures": np.array(self.key_signatures, dtype=KEY_SIGNATURE_DTYPE),
            "texts": (np.array(self.text_rows, np.int64).reshape(-1, 3), b"".join(self.text_bytes)),
            "names": self.names,
            "chunks": self.chunks,
            "end": max((last for _, last, _ in self.chunks), default=0),
            "problems": self.problems,
        }


def _decode(raw: bytes) -> str:
    try:
        return raw.decode("utf-8")
    except UnicodeDecodeError:
        return raw.decode("latin-1")


_GO_ON, _STOP, _ENDED = "go on", "stop", "ended"  # what a meta event or sysex tells


class _Fault(Exception):
    def __init__(self, code: Problem, offset: int) -> None:
        super().__init__(code, offset)
        self.code = code
        self.offset = offset


class _Track:
    """Per-chunk scratch: raw notes [channel, start, end, pitch, velocity], open-note queues."""

    def __init__(self, chunk: int) -> None:
        self.chunk = chunk
        self.notes: list[list[int]] = []
        self.controls: list[tuple] = []
        self.bends: list[tuple] = []
        self.program = [-1] * 16
        self.open: dict[int, deque[list[int]]] = {}

    def channel_event(self, status: int, d1: int, d2: int, tick: int) -> None:
        kind, ch = status >> 4, status & 0x0F
        if kind == 0x9 and d2 > 0:
            note = [ch, tick, -1, d1, d2]
            self.notes.append(note)
            self.open.setdefault(ch * 128 + d1, deque()).append(note)
        elif kind in (0x8, 0x9):
            queue = self.open.get(ch * 128 + d1)
            if queue:
                queue.popleft()[2] = tick
        elif kind == 0xB:
            self.controls.append((ch, tick, d1, d2))
        elif kind == 0xE:
            self.bends.append((ch, tick, ((d2 << 7) | d1) - 8192))
        elif kind == 0xC and self.program[ch] < 0:
            self.program[ch] = d1


def parse_tracks(data, pos: int, fmt: int, strict: bool) -> dict:
    """Parse every chunk of ``data`` from byte ``pos``; see ``smf.parse_tracks``."""
    if not 0 <= pos <= len(data):
        raise ValueError(f"pos {pos} lies outside the {len(data)} bytes of data")
    parser = _Parser(bytes(data), strict)
    parser.walk(pos, fmt)
    return parser.result()
