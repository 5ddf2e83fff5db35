"""Strict means the specification: ``strict=True`` refuses what SMF 1.0 forbids.

Each rule the lenient reader bends gets a file that breaks it and nothing else: lenient
reading warns once, naming the byte, and keeps reading (the C-major scale of track 1 and
the E-major arpeggio of track 2 are all there); strict reading raises MidiError at that
byte. What the specification allows, however rare, strict reading accepts silently.
Every case runs through the compiled kernel and through its twin.

Audited and allowed by SMF 1.0, so strict accepts them: MThd longer than 6 bytes, alien
chunks, meta types it does not define (below 128), sysex sent in packets and F7
escapes, running status between channel messages, note-ons of velocity 0 as note-offs.
Not enforced, since the specification says "should", not "must": tempo and time
signatures outside the first track of a format 1 file, an SMPTE offset after tick 0.
Already refused before: system messages (F1-FE) in a track, unknown formats,
variable-length quantities over 4 bytes, fewer track chunks than the header declares.
"""
from __future__ import annotations

import warnings
from collections.abc import Iterator

import pytest
from test_malformed import C_MAJOR, EOT, SCALE, SECOND, chunk, header, interrupted, scale, smf

import deepsym
import deepsym.midi
from deepsym import MidiError, MidiWarning, Score
from deepsym._ext import smf as compiled
from deepsym._ext import smf_py

FIRST_EVENT = 14 + 8  # where the first track chunk's events begin


def broken_at(before: bytes, after: bytes) -> tuple[bytes, int]:
    """Track 1 is ``before + after`` (the problem at their junction), track 2 SECOND."""
    return smf(before + after, SECOND), FIRST_EVENT + len(before)


def interruption(event: bytes) -> tuple[bytes, int]:
    """Running status relied on across ``event``: the problem is the data byte after it."""
    body = interrupted(event)
    return smf(body, SECOND), FIRST_EVENT + body.index(event) + len(event) + 1


#: What SMF 1.0 forbids: (file, the byte the problem lies at).
FORBIDDEN: dict[str, tuple[bytes, int]] = {
    "running-status-after-meta": interruption(b"\xff\x01\x01x"),
    "running-status-after-sysex": interruption(b"\xf0\x02\x7e\xf7"),
    "running-status-after-escape": interruption(b"\xf7\x01\xf8"),
    "no-end-of-track": broken_at(scale(), b""),
    "bytes-after-end-of-track": broken_at(SCALE, b"\x00\x90\x3c\x40"),
    "end-of-track-of-1-byte": broken_at(scale() + b"\x00\xff\x2f\x01", b"\x00"),
    "time-signature-of-2-bytes": broken_at(b"\x00\xff\x58\x02", b"\x03\x02" + SCALE),
    "time-signature-of-5-bytes": broken_at(b"\x00\xff\x58\x05", b"\x03\x02\x18\x08\x00" + SCALE),
    "key-signature-of-3-bytes": broken_at(b"\x00\xff\x59\x03", b"\x01\x00\x00" + SCALE),
    "sequence-number-of-0-bytes": broken_at(b"\x00\xff\x00\x00", SCALE),
    "channel-prefix-of-2-bytes": broken_at(b"\x00\xff\x20\x02", b"\x00\x00" + SCALE),
    "smpte-offset-of-4-bytes": broken_at(b"\x00\xff\x54\x04", b"\x00" * 4 + SCALE),
    "meta-type-above-127": broken_at(b"\x00\xff\x80\x01", b"\x00" + SCALE),
    "format-0-with-two-track-chunks": (smf(SCALE, SECOND, fmt=0), 14 + 8 + len(SCALE)),
    "more-track-chunks-than-declared": (header(1, 1) + chunk(SCALE) + chunk(SECOND),
                                        14 + 8 + len(SCALE)),
}

#: What SMF 1.0 allows, however rare: each file holds the C-major scale.
ALLOWED: dict[str, bytes] = {
    "meta-type-it-does-not-define": smf(b"\x00\xff\x60\x03abc" + SCALE),
    "sequencer-specific-meta": smf(b"\x00\xff\x7f\x04\x00\x00\x41\x01" + SCALE),
    "deepsym-filler": smf(b"\x00\xff\x7f\x01\x7d" + SCALE),
    "sysex-in-packets": smf(b"\x00\xf0\x03\x43\x12\x00\x10\xf7\x02\x43\xf7" + SCALE),
    "escape": smf(b"\x00\xf7\x01\xf8" + SCALE),
    "running-status-between-channel-messages": smf(
        b"\x00\x90\x3c\x40\x60\x3c\x00" + b"\x00\xb0\x07\x64\x00\x0a\x40"
        + b"\x00\x90\x3e\x40\x60\x3e\x00" + scale(pitches=C_MAJOR[2:]) + EOT),
    "fixed-length-metas": smf(b"\x00\xff\x00\x02\x00\x01\x00\xff\x20\x01\x00"
                              + b"\x00\xff\x54\x05\x60\x00\x00\x00\x00"
                              + b"\x00\xff\x58\x04\x03\x02\x18\x08\x00\xff\x59\x02\xfe\x01"
                              + SCALE),
    "long-header": header(length=10, extra=b"\x00\x00\x00\x00") + chunk(SCALE),
    "alien-chunk": header(1, 1) + chunk(b"\xff\xff", ident=b"XFIH") + chunk(SCALE),
    "format-2": smf(SCALE, fmt=2),
}


@pytest.fixture(params=["compiled", "twin"])
def kernel(request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch) -> Iterator[str]:
    """``read_midi`` through the compiled kernel, then through its Python twin."""
    monkeypatch.setattr(deepsym.midi, "smf", compiled if request.param == "compiled" else smf_py)
    yield request.param


def pitches(score: Score) -> dict[int, list[int]]:
    """The pitches of each channel, in time order."""
    return {t.channel: t.notes["pitch"].tolist() for t in score.tracks}


@pytest.mark.parametrize("name", sorted(FORBIDDEN))
def test_strict_refuses_what_the_specification_forbids(name: str, kernel: str) -> None:
    data, offset = FORBIDDEN[name]
    with pytest.raises(MidiError) as info:
        deepsym.read_midi(data, strict=True)
    assert info.value.offset == offset, str(info.value)
    with pytest.warns(MidiWarning) as record:
        score = deepsym.read_midi(data)
    [message] = [str(w.message) for w in record]
    problem, at = message.split(" at byte ")
    assert int(at.split()[0].rstrip(";")) == offset, message
    assert str(info.value) == f"{problem} (at byte {offset})"  # the same problem, strict
    assert pitches(score) == {0: C_MAJOR, 1: [64, 68, 71]}


@pytest.mark.parametrize("name", sorted(ALLOWED))
def test_strict_accepts_what_the_specification_allows(name: str, kernel: str) -> None:
    with warnings.catch_warnings():
        warnings.simplefilter("error", MidiWarning)
        score = deepsym.read_midi(ALLOWED[name], strict=True)
    assert pitches(score) == {0: C_MAJOR}


def test_what_deepsym_writes_is_strictly_valid(kernel: str) -> None:
    for name in ALLOWED:
        score = deepsym.read_midi(ALLOWED[name], strict=True)
        written = deepsym.write_midi(score)
        assert deepsym.read_midi(written, strict=True) == score, name
