"""Damaged and hostile input: the reader returns a Score or raises MidiError, nothing else.

Real files (the shared suite's valid ones and multi-track files written by deepsym) are
cut at every offset; hand-made files exercise each problem the reader knows (see
``deepsym._ext.layout.Problem``); hypothesis feeds random bytes and random mutations of
valid files. ``MALFORMED`` is shared with ``test_twins.py``, which feeds the same bytes
to both kernels.
"""
from __future__ import annotations

import itertools
import os
import struct
import subprocess
import sys
import warnings
from collections import Counter, deque
from pathlib import Path

import numpy as np
import pytest
from edge_suite_files import ABSENT, SUITE, cases, suite
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import deepsym
from deepsym import MidiError, MidiWarning, Score, Track
from deepsym._ext.layout import Problem
from deepsym._kernels import smf as kernel

MAX_TICK = 2**31 - 1
MAX_DELTA = 0x0FFFFFFF

# -- building files ---------------------------------------------------------------------

EOT = b"\x00\xff\x2f\x00"
C_MAJOR = [60, 62, 64, 65, 67, 69, 71, 72]


def header(fmt: int = 1, n_tracks: int = 1, division: int = 96, length: int = 6,
           extra: bytes = b"") -> bytes:
    return b"MThd" + struct.pack(">IHHH", length, fmt, n_tracks, division) + extra


def chunk(body: bytes, ident: bytes = b"MTrk", length: int | None = None) -> bytes:
    return ident + struct.pack(">I", len(body) if length is None else length) + body


def vlq(value: int) -> bytes:
    groups = [value & 0x7F]
    while value > 0x7F:
        value >>= 7
        groups.append(0x80 | (value & 0x7F))
    return bytes(reversed(groups))


def scale(channel: int = 0, pitches: list[int] = C_MAJOR, step: int = 96) -> bytes:
    """Note-on/note-off pairs, one after another, ``step`` ticks each."""
    on, off = 0x90 | channel, 0x80 | channel
    return b"".join(bytes([0, on, p, 100]) + vlq(step) + bytes([off, p, 0]) for p in pitches)


def smf(*bodies: bytes, fmt: int = 1, division: int = 96) -> bytes:
    return header(fmt, len(bodies), division) + b"".join(chunk(b) for b in bodies)


def riff(data: bytes, before: bytes = b"") -> bytes:
    """``data`` wrapped in a RIFF RMID file, with ``before`` (whole chunks) ahead of it."""
    body = b"RMID" + before + b"data" + struct.pack("<I", len(data)) + data
    return b"RIFF" + struct.pack("<I", len(body)) + body


SCALE = scale() + EOT
GOOD = smf(SCALE)
OVERFLOW = (b"\x00\x90\x3c\x40" + (vlq(MAX_DELTA) + b"\xff\x01\x00") * 8  # tick 2**31 - 8
            + b"\x07\x80\x3c\x00")  # note-off at exactly 2**31 - 1

#: Damaged files: (bytes, the first problem). Each has a valid second track chunk
#: holding an E-major arpeggio on channel 1, which must be read after the damage.
SECOND = scale(1, [64, 68, 71]) + EOT


def interrupted(event: bytes) -> bytes:
    """A C-major scale whose second note-on relies on running status across ``event``
    (a meta event or sysex, which cancel it), then End of Track."""
    return (b"\x00\x90\x3c\x40\x60\x3c\x00" + b"\x00" + event + b"\x00\x3e\x40\x60\x3e\x00"
            + scale(pitches=C_MAJOR[2:]) + EOT)


MALFORMED: dict[str, tuple[bytes, Problem]] = {
    "long-vlq": (smf(scale() + b"\x80\x80\x80\x80\x00\x90\x40\x40" + EOT, SECOND),
                 Problem.LONG_VLQ),
    "no-status": (smf(b"\x00\x3c\x40" + SCALE, SECOND), Problem.NO_STATUS),
    "data-byte-above-127": (smf(scale() + b"\x00\x90\x3c\x80" + EOT, SECOND),
                            Problem.BAD_DATA_BYTE),
    "velocity-above-127": (smf(scale() + b"\x00\x90\x3c\x40\x00\x3e\xff" + EOT, SECOND),
                           Problem.BAD_DATA_BYTE),
    "meta-longer-than-chunk": (smf(scale() + b"\x00\xff\x01\x7f" + b"abc", SECOND),
                               Problem.TRUNCATED_EVENT),
    "sysex-huge-length": (smf(scale() + b"\x00\xf0" + vlq(MAX_DELTA) + b"\x01\xf7", SECOND),
                          Problem.TRUNCATED_EVENT),
    "note-cut-short": (smf(scale() + b"\x00\x90\x3c", SECOND), Problem.TRUNCATED_EVENT),
    "delta-cut-short": (smf(scale() + b"\x81", SECOND), Problem.TRUNCATED_EVENT),
    "system-message": (smf(b"\x00\xf4" + SCALE, SECOND), Problem.SYSTEM_MESSAGE),
    "song-position-cut-short": (smf(scale() + b"\x00\xf2\x01", SECOND), Problem.SYSTEM_MESSAGE),
    "tempo-of-two-bytes": (smf(b"\x00\xff\x51\x02\x07\xa1" + SCALE, SECOND), Problem.BAD_META),
    "tempo-zero": (smf(b"\x00\xff\x51\x03\x00\x00\x00" + SCALE, SECOND), Problem.BAD_META),
    "time-signature-0-beats": (smf(b"\x00\xff\x58\x04\x00\x02\x18\x08" + SCALE, SECOND),
                               Problem.BAD_META),
    "time-signature-2**16": (smf(b"\x00\xff\x58\x04\x04\x10\x18\x08" + SCALE, SECOND),
                             Problem.BAD_META),
    "key-signature-8-sharps": (smf(b"\x00\xff\x59\x02\x08\x00" + SCALE, SECOND),
                               Problem.BAD_META),
    "key-signature-mode-2": (smf(b"\x00\xff\x59\x02\x00\x02" + SCALE, SECOND), Problem.BAD_META),
    "tick-overflow": (smf(OVERFLOW + vlq(MAX_DELTA) + b"\x90\x3e\x40" + EOT, SECOND),
                      Problem.TICK_OVERFLOW),
    "chunk-longer-than-file": (header(1, 2) + chunk(SECOND) + chunk(SCALE, length=1000),
                               Problem.TRUNCATED_CHUNK),
    "chunk-length-2**32-1": (header(1, 2) + chunk(SECOND) + chunk(SCALE, length=0xFFFFFFFF),
                             Problem.TRUNCATED_CHUNK),
    "trailing-garbage": (smf(SCALE, SECOND) + b"\x01\x02\x03", Problem.TRAILING_BYTES),
    "trailing-non-chunk": (smf(SCALE, SECOND) + b"\x00\x00\x00\x00\x00\x00\x00\x00",
                           Problem.TRAILING_BYTES),
    # what SMF 1.0 forbids and the lenient reader reads past (test_strict.py has more)
    "running-status-after-meta": (smf(interrupted(b"\xff\x01\x01x"), SECOND),
                                  Problem.CANCELLED_RUNNING_STATUS),
    "running-status-after-sysex": (smf(interrupted(b"\xf0\x02\x7e\xf7"), SECOND),
                                   Problem.CANCELLED_RUNNING_STATUS),
    "running-status-after-escape": (smf(interrupted(b"\xf7\x01\xf8"), SECOND),
                                    Problem.CANCELLED_RUNNING_STATUS),
    "no-end-of-track": (smf(scale(), SECOND), Problem.NO_END_OF_TRACK),
    "bytes-after-end-of-track": (smf(SCALE + b"\x00\x90\x3c\x40", SECOND),
                                 Problem.AFTER_END_OF_TRACK),
    "end-of-track-of-1-byte": (smf(scale() + b"\x00\xff\x2f\x01\x00", SECOND),
                               Problem.META_LENGTH),
    "time-signature-of-2-bytes": (smf(b"\x00\xff\x58\x02\x03\x02" + SCALE, SECOND),
                                  Problem.META_LENGTH),
    "key-signature-of-3-bytes": (smf(b"\x00\xff\x59\x03\x01\x00\x00" + SCALE, SECOND),
                                 Problem.META_LENGTH),
    "sequence-number-of-0-bytes": (smf(b"\x00\xff\x00\x00" + SCALE, SECOND),
                                   Problem.META_LENGTH),
    "channel-prefix-of-2-bytes": (smf(b"\x00\xff\x20\x02\x00\x00" + SCALE, SECOND),
                                  Problem.META_LENGTH),
    "smpte-offset-of-4-bytes": (smf(b"\x00\xff\x54\x04\x00\x00\x00\x00" + SCALE, SECOND),
                                Problem.META_LENGTH),
    "meta-type-above-127": (smf(b"\x00\xff\x80\x01\x00" + SCALE, SECOND), Problem.META_TYPE),
}
#: The channel 0 pitches read from each damaged file, where not the whole C-major scale.
CHANNEL_0 = {
    "no-status": [],  # the chunk ends before its first note
    "velocity-above-127": [*C_MAJOR, 60],  # the note-on before the bad byte stays open
    "tick-overflow": [60],
}
#: Inputs that are not MIDI at all: (bytes, byte offset the error names).
NOT_MIDI: dict[str, tuple[bytes, int]] = {
    "empty": (b"", 0),
    "text": (b"not a midi file", 0),
    "MThd-only": (b"MThd", 4),
    "header-cut-short": (GOOD[:13], 13),
    "header-length-5": (header(length=5) + chunk(SCALE), 4),
    "header-length-0": (header(length=0) + chunk(SCALE), 4),
    "division-0": (smf(SCALE, division=0), 12),
    "smpte-0-ticks-per-frame": (smf(SCALE, division=0xE700), 12),
    "header-only": (header(), 14),
    "no-MTrk": (header() + chunk(SCALE, ident=b"XTrk"), 14),
    "riff-without-data": (b"RIFF\x0e\x00\x00\x00RMIDLIST\x02\x00\x00\x00ab", 22),
}


# -- reading helpers --------------------------------------------------------------------

def read(data: bytes, strict: bool = False) -> tuple[Score | MidiError, list[str]]:
    """The Score (or the MidiError) and the MidiWarning messages of one read."""
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        try:
            result: Score | MidiError = deepsym.read_midi(data, strict=strict)
        except MidiError as exc:
            result = exc
    return result, [str(w.message) for w in caught if issubclass(w.category, MidiWarning)]


def notes(score: Score) -> Counter[tuple[int, ...]]:
    """Every note as (channel, start, duration, pitch, velocity), counted."""
    return Counter((t.channel, *n) for t in score.tracks for n in t.notes.tolist())


def first_problem(data: bytes, pos: int = 14, fmt: int = 1) -> Problem | None:
    problems = kernel.parse_tracks(data, pos, fmt, False)["problems"]
    return Problem(problems[0][0]) if problems else None


def smf_problems(data: bytes) -> list[tuple[int, int]]:
    return kernel.parse_tracks(data, 14, 1, False)["problems"]


def check_sane(score: Score, size: int) -> None:
    """What any Score read from ``size`` bytes must satisfy, however damaged they were."""
    for track in score.tracks:
        n = track.notes
        assert 0 <= track.channel <= 15 and track.is_drum == (track.channel == 9)
        assert np.all(n["start"] >= 0) and np.all(n["duration"] >= 0)
        assert np.all(n["start"].astype(np.int64) + n["duration"] <= MAX_TICK)
        assert np.all(n["pitch"] <= 127) and np.all((n["velocity"] >= 1) & (n["velocity"] <= 127))
    assert score.n_notes <= size // 3  # a note-on takes at least three bytes


def read_any(data: bytes, strict: bool) -> tuple[Score | MidiError, list[str]]:
    """A Score or a MidiError naming a byte; any other exception fails the test."""
    result, messages = read(data, strict)
    if isinstance(result, MidiError):
        assert result.offset is not None and "at byte" in str(result), str(result)
    else:
        check_sane(result, len(data))
        assert not (strict and messages), messages
        assert len(messages) <= 2, messages  # the problems, and an unknown format
    return result, messages


# -- a reference walk of valid files ----------------------------------------------------

def chunk_bounds(data: bytes) -> list[int]:
    """Offsets where the chunks of a valid file begin, and the file's end."""
    pos = 8 + int.from_bytes(data[4:8], "big")
    bounds = [pos]
    while pos < len(data):
        pos += 8 + int.from_bytes(data[pos + 4:pos + 8], "big")
        bounds.append(pos)
    return bounds


def read_vlq(data: bytes, pos: int) -> tuple[int, int]:
    value = 0
    while True:
        b = data[pos]
        pos += 1
        value = value << 7 | (b & 0x7F)
        if b < 0x80:
            return value, pos


def completed_notes(data: bytes) -> list[tuple[int, tuple[int, ...]]]:
    """(offset just after its note-off, (channel, start, duration, pitch, velocity)) of
    every note of a valid file that a note-off ends; an independent walk of the events."""
    fmt = int.from_bytes(data[8:10], "big")
    bounds = chunk_bounds(data)
    done, start = [], 0
    for pos, end in itertools.pairwise(bounds):
        if data[pos:pos + 4] != b"MTrk":
            continue
        pos += 8
        tick, status = start, 0
        held: dict[tuple[int, int], deque[tuple[int, int]]] = {}
        while pos < end:
            delta, pos = read_vlq(data, pos)
            tick += delta
            b = data[pos]
            if b in (0xFF, 0xF0, 0xF7):
                is_eot = data[pos:pos + 2] == b"\xff\x2f"
                length, pos = read_vlq(data, pos + (2 if b == 0xFF else 1))
                pos += length
                if is_eot:
                    break
                continue
            if b & 0x80:
                status, pos = b, pos + 1
            size = 1 if status >> 4 in (0xC, 0xD) else 2
            d1, d2 = data[pos], data[pos + size - 1]
            pos += size
            kind, key = status >> 4, (status & 0x0F, d1)
            if kind == 0x9 and d2 > 0:
                held.setdefault(key, deque()).append((tick, d2))
            elif kind in (0x8, 0x9) and held.get(key):
                on, velocity = held[key].popleft()
                done.append((pos, (key[0], on, tick - on, d1, velocity)))
        if fmt == 2:
            start = tick  # the next sequence starts where this one's last event is
    return done


# -- the files cut short ----------------------------------------------------------------

def built_files() -> dict[str, bytes]:
    """Multi-track files written by deepsym: drums, overlaps, tempo changes, texts."""
    rng = np.random.default_rng(7)

    def random_notes(n: int, span: int) -> list[tuple[int, int, int, int]]:
        return [(int(s), int(d), int(p), int(v)) for s, d, p, v in zip(
            rng.integers(0, span, n), rng.integers(0, 400, n), rng.integers(30, 90, n),
            rng.integers(1, 128, n), strict=True)]

    tracks = [Track(notes=random_notes(40, 4000), program=p, channel=c, is_drum=c == 9,
                    name=f"part {c}")
              for c, p in ((0, 0), (3, 40), (9, 0), (15, 127))]
    score = Score(ticks_per_beat=480, tracks=tracks, tempos=[(0, 120.0), (1920, 75.0)],
                  texts=[(0, "built by deepsym"), (960, "verse")])
    solo = Score(ticks_per_beat=96, tracks=[Track(notes=random_notes(30, 2000), channel=2)])
    return {"built-format-1": deepsym.write_midi(score), "built-format-0": deepsym.write_midi(solo)}


def suite_files() -> dict[str, bytes]:
    """The suite's files that read cleanly (no warning, no error)."""
    found = {}
    for path in sorted(SUITE.glob("*.mid")):
        data = path.read_bytes()
        result, messages = read(data, strict=True)
        if isinstance(result, Score) and not messages:
            found[path.name] = data
    return found


VALID = {**suite_files(), **built_files()}
SMALL_VALID = {name: data for name, data in VALID.items() if len(data) < 2000}


def cuts(data: bytes) -> list[int]:
    """Every offset of a short file; a stride plus the chunk boundaries of a long one."""
    if len(data) <= 2500:
        return list(range(len(data)))
    stride = len(data) // 300 + 1
    near = {b + d for b in chunk_bounds(data) for d in (-2, -1, 0, 1, 2)}
    return sorted({*range(0, len(data), stride), *near, *range(len(data) - 40, len(data))}
                  & set(range(len(data))))


@pytest.mark.parametrize("name", cases(sorted(VALID)))
def test_truncated_files(name: str) -> None:
    if name == ABSENT:
        suite()
    data = VALID[name]
    full = notes(deepsym.read_midi(data, strict=True))
    completed = completed_notes(data)
    assert Counter(note for _, note in completed) == full  # the reference walk agrees
    boundaries = set(chunk_bounds(data))
    for cut in cuts(data):
        part = data[:cut]
        lenient, messages = read_any(part, strict=False)
        strict, _ = read_any(part, strict=True)
        if cut < 14:
            assert isinstance(lenient, MidiError) and isinstance(strict, MidiError), cut
        if cut in boundaries:
            continue  # whole chunks lost: see test_file_cut_between_chunks_warns
        assert isinstance(strict, MidiError), f"strict read of {cut} bytes succeeded"
        if isinstance(lenient, Score):
            assert messages, f"{cut} bytes: lost bytes but no MidiWarning"
            kept = Counter(note for end, note in completed if end <= cut)
            missing = kept - notes(lenient)
            assert not missing, f"{cut} bytes: notes read before the cut are lost: {missing}"


def test_truncation_keeps_whole_prefix_of_a_scale() -> None:
    """Cut anywhere in a scale: exactly the notes whose note-off was read, plus at most
    one open note closed at the last event read."""
    for cut in range(23, len(GOOD)):
        score, messages = read(GOOD[:cut])
        assert isinstance(score, Score) and messages
        pitches = [int(p) for t in score.tracks for p in t.notes["pitch"]]
        assert pitches == C_MAJOR[:len(pitches)]
        done = [e for e, _ in completed_notes(GOOD) if e <= cut]
        assert len(done) <= len(pitches) <= len(done) + 1


def test_file_cut_between_chunks_warns() -> None:
    data = smf(SCALE, SECOND)
    cut = data[:chunk_bounds(data)[1]]
    score, messages = read(cut)
    assert isinstance(score, Score)
    assert messages, "a file cut between chunks (header: 2 tracks, file: 1) reads silently"


# -- hand-made damage -------------------------------------------------------------------

@pytest.mark.parametrize("name", sorted(MALFORMED))
def test_damage_ends_the_chunk_or_is_skipped(name: str) -> None:
    data, problem = MALFORMED[name]
    assert first_problem(data) == problem
    score, messages = read(data)
    assert isinstance(score, Score), score
    assert len(messages) == 1 and "<bytes>" in messages[0] and "at byte" in messages[0]
    got = notes(score)
    intact = notes(deepsym.read_midi(smf(SECOND)))
    assert intact <= got, "the other, intact chunk must still be read"
    first = [pitch for channel, _, _, pitch, _ in sorted(got.elements()) if channel == 0]
    assert first == CHANNEL_0.get(name, C_MAJOR)  # what was read before (or past) the damage
    with pytest.raises(MidiError, match="at byte"):
        deepsym.read_midi(data, strict=True)


def test_open_notes_close_at_the_last_event() -> None:
    body = b"\x00\x90\x3c\x40" + b"\x60\x90\x40\x40" + b"\x30\xb0\x07\x64" + b"\x10\x90\x3e"
    score, messages = read(smf(body))
    assert messages and "an event runs past the end" in messages[0]
    [track] = score.tracks
    # both notes were still sounding: they end at tick 144, the controller's tick
    assert track.notes.tolist() == [(0, 144, 60, 64), (96, 48, 64, 64)]


def test_tick_overflow_boundary() -> None:
    score, messages = read(smf(OVERFLOW + EOT))
    assert not messages
    assert score.tracks[0].notes.tolist() == [(0, MAX_TICK, 60, 64)]
    data, _ = MALFORMED["tick-overflow"]
    score, messages = read(data)
    assert score.tracks[0].notes.tolist() == [(0, MAX_TICK, 60, 64)]  # the later note is lost
    assert "beyond tick 2**31 - 1" in messages[0]


@pytest.mark.parametrize("name", sorted(NOT_MIDI))
def test_not_midi(name: str, tmp_path: Path) -> None:
    data, offset = NOT_MIDI[name]
    path = tmp_path / f"{name}.mid"
    path.write_bytes(data)
    for strict in (False, True):
        result, _ = read(data, strict)
        assert isinstance(result, MidiError)
        assert result.offset == offset and f"(at byte {offset})" in str(result)
        for source in (path, str(path)):
            with pytest.raises(MidiError, match=rf"{name}\.mid: .*\(at byte {offset}\)"):
                deepsym.read_midi(source, strict=strict)
        with path.open("rb") as f, pytest.raises(MidiError, match=rf"{name}\.mid: "):
            deepsym.read_midi(f, strict=strict)


def test_problem_offsets_lie_within_the_file() -> None:
    data = smf(b"\x00\xff")
    _, messages = read(data)
    [(_, offset)] = [p for p in smf_problems(data) if p[0] == Problem.TRUNCATED_EVENT]
    assert offset <= len(data), f"{messages[0]} (the file has {len(data)} bytes)"


def test_huge_header_length_names_a_byte_in_the_file() -> None:
    data = header(length=0xFFFFFFFF) + chunk(SCALE)
    result, _ = read(data)
    assert isinstance(result, MidiError)
    assert result.offset is not None and result.offset <= len(data), str(result)


def test_huge_header_length_is_an_error() -> None:
    for strict in (False, True):
        result, _ = read(header(length=0xFFFFFFFF) + chunk(SCALE), strict)
        assert isinstance(result, MidiError) and "at byte" in str(result)


def test_longer_header_is_honoured() -> None:
    data = header(length=10, extra=b"\x7f\x90\x3c\x40") + chunk(SCALE)
    score, messages = read(data)
    assert not messages and score == deepsym.read_midi(GOOD)


def test_unknown_chunks_are_skipped() -> None:
    data = header(1, 1) + chunk(b"\x90\x3c\x40\x00", ident=b"XFIH") + chunk(SCALE) \
        + chunk(b"", ident=b"XFKM")
    score, messages = read(data, strict=True)
    assert not messages and score == deepsym.read_midi(GOOD)


def riff_chunk(ident: bytes, body: bytes) -> bytes:
    """A RIFF chunk: little-endian size, padded to an even length."""
    return ident + struct.pack("<I", len(body)) + body + b"\x00" * (len(body) & 1)


@pytest.mark.parametrize("before", [b"", riff_chunk(b"LIST", b"abc"),
                                    riff_chunk(b"LIST", b"INFO") + riff_chunk(b"DISP", b"x")],
                         ids=["data-only", "odd-chunk-first", "two-chunks-first"])
def test_riff_rmid(before: bytes) -> None:
    data = smf(SCALE, SECOND)
    score, messages = read(riff(data, before), strict=True)
    assert not messages and score == deepsym.read_midi(data)


def test_riff_problem_offsets_count_from_the_file_start() -> None:
    inner = smf(scale() + b"\x00\x90\x3c\x80" + EOT)  # data byte above 127
    [(_, bare_offset)] = smf_problems(inner)
    wrapped = riff(inner)
    _, messages = read(wrapped)
    assert f"at byte {bare_offset + wrapped.index(inner)}" in messages[0], messages


def test_smpte_division() -> None:
    # -25 frames per second, 40 ticks per frame: 1000 ticks a second; tempo is ignored
    body = b"\x00\xff\x51\x03\x01\x00\x00" + vlq(1000) + b"\x90\x3c\x40" + vlq(500) \
        + b"\x80\x3c\x00" + EOT
    score, messages = read(smf(body, division=0xE728), strict=True)
    assert not messages
    assert score.smpte == (25, 40)
    assert score.tracks[0].notes.tolist() == [(1000, 500, 60, 64)]
    assert score.to_seconds([0, 1000, 1500, 25]).tolist() == pytest.approx([0, 1, 1.5, 0.025])
    assert score.duration_seconds == pytest.approx(1.5)


def test_unknown_format() -> None:
    data = header(fmt=5) + chunk(SCALE)
    score, messages = read(data)
    assert isinstance(score, Score) and len(messages) == 1 and "format 5" in messages[0]
    assert notes(score) == notes(deepsym.read_midi(GOOD))
    result, _ = read(data, strict=True)
    assert isinstance(result, MidiError) and "format 5" in str(result)


def test_lenient_running_status_survives_meta_and_sysex() -> None:
    body = b"\x00\x90\x3c\x40" + b"\x00\xff\x01\x01x" + b"\x00\x3e\x40" \
        + b"\x00\xf0\x02\x7e\xf7" + b"\x00\x40\x40" + b"\x60\x3c\x00\x00\x3e\x00\x00\x40\x00" + EOT
    score, messages = read(smf(body))
    assert len(messages) == 1 and "cancels" in messages[0] and "at byte 32 " in messages[0]
    assert "(and 1 more problems)" in messages[0]  # the second interruption
    assert score.tracks[0].notes.tolist() == [(0, 96, p, 64) for p in (60, 62, 64)]
    result, _ = read(smf(body), strict=True)
    assert isinstance(result, MidiError) and result.offset == 32


def test_format_2_lays_chunks_end_to_end() -> None:
    score = deepsym.read_midi(smf(SCALE, SECOND, fmt=2), strict=True)
    first, second = score.tracks
    assert second.notes["start"][0] == first.notes["start"][-1] + first.notes["duration"][-1]


# -- random input -----------------------------------------------------------------------

FUZZ = settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])


@st.composite
def mutated(draw: st.DrawFn) -> bytes:
    """A valid file with a few bytes flipped, inserted or deleted."""
    data = bytearray(draw(st.sampled_from(sorted(SMALL_VALID.values()))))
    for _ in range(draw(st.integers(1, 6))):
        at = draw(st.integers(0, len(data)))
        kind = draw(st.sampled_from(["flip", "insert", "delete", "set"]))
        value = draw(st.integers(0, 255))
        if kind == "insert":
            data[at:at] = bytes([value])
        elif at < len(data) and kind == "delete":
            del data[at]
        elif at < len(data):
            data[at] = data[at] ^ (1 << (value & 7)) if kind == "flip" else value
    return bytes(data)


def random_track(body: bytes) -> bytes:
    return header() + chunk(body)


INPUTS = st.one_of(
    st.binary(max_size=300),
    st.binary(max_size=300).map(lambda b: b"MThd" + b),
    st.binary(max_size=300).map(random_track),
    st.binary(max_size=300).map(lambda b: header() + b),
    mutated(),
)


@FUZZ
@given(data=INPUTS, strict=st.booleans())
def test_random_input_reads_or_raises_midi_error(data: bytes, strict: bool) -> None:
    result, messages = read_any(data, strict)
    if isinstance(result, Score) and not strict:
        strict_result, _ = read_any(data, strict=True)
        assert isinstance(strict_result, MidiError) == bool(messages)


@FUZZ
@given(data=mutated())
def test_strict_reading_of_mutated_files_fails_or_agrees(data: bytes) -> None:
    lenient, messages = read(data)
    strict, _ = read(data, strict=True)
    if isinstance(strict, Score):  # strict found no problem: the lenient read is the same
        assert not messages and isinstance(lenient, Score) and lenient == strict
    elif isinstance(lenient, Score):
        assert messages


# -- memory -----------------------------------------------------------------------------

HOSTILE = {
    "mtrk-2**32-1": header() + chunk(SCALE, length=0xFFFFFFFF),
    "meta-2**28-1": header() + chunk(b"\x00\xff\x01" + vlq(MAX_DELTA) + b"x" * 300),
    "sysex-2**28-1": header() + chunk(b"\x00\xf0" + vlq(MAX_DELTA) + b"x" * 300),
    "mthd-2**32-1": header(length=0xFFFFFFFF) + chunk(SCALE),
    "riff-2**32-1": b"RIFF\xff\xff\xff\xffRMIDdata\xff\xff\xff\xff" + GOOD,
    "many-chunks": header(1, 0xFFFF) + chunk(b"", length=0xFFFFFFF0) * 30,
    "notes": header() + chunk(b"\x00\x90\x3c\x40" + b"\x00\x3c\x40" * 100, length=0xFFFFFFFF),
}

MEMORY_SCRIPT = """
import resource, sys, warnings
import deepsym
from deepsym._ext import smf, smf_py
warnings.simplefilter("ignore")
files = [bytes.fromhex(h) for h in sys.argv[1:]]
def rss(): return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
for data in files:  # warm up: first calls may allocate caches
    for strict in (False, True):
        try: deepsym.read_midi(data, strict=strict)
        except deepsym.MidiError: pass
try:  # even reserving memory (untouched, invisible to ru_maxrss) fails past 256 MiB more
    with open("/proc/self/status") as status:
        vm = [int(l.split()[1]) * 1024 for l in status if l.startswith("VmSize:")][0]
    hard = resource.getrlimit(resource.RLIMIT_AS)[1]
    limit = vm + 2**28 if hard == resource.RLIM_INFINITY else min(vm + 2**28, hard)
    resource.setrlimit(resource.RLIMIT_AS, (limit, hard))
except OSError:
    pass
before = rss()
for _ in range(20):
    for data in files:
        for strict in (False, True):
            try: score = deepsym.read_midi(data, strict=strict)
            except deepsym.MidiError: pass
            for kernel in (smf, smf_py):
                kernel.parse_tracks(data, 14, 1, strict)
print(rss() - before)
"""


def test_huge_declared_lengths_allocate_nothing_big() -> None:
    for name, data in HOSTILE.items():
        for strict in (False, True):
            result, _ = read_any(data, strict)
            if isinstance(result, Score):
                assert result.n_notes <= 101, name
    env = {**os.environ, "DEEPSYM_PUREPYTHON": ""}
    run = subprocess.run([sys.executable, "-c", MEMORY_SCRIPT,
                          *(d.hex() for d in HOSTILE.values())],
                         capture_output=True, text=True, env=env, timeout=120, check=True)
    grown_kib = int(run.stdout.split()[-1])
    assert grown_kib < 8 * 1024, f"peak memory grew by {grown_kib} KiB on files under 1 KiB"
