"""Write what we read: every Score ``read_midi`` returns, ``write_midi`` writes, and the
file reads back strictly, without a warning, as the same Score.

Two kinds of file broke that rule. SMPTE divisions of rates other than 24, 25, 29 and 30
frames per second: SMF 1.0 allows only those four, so the reader now refuses the others
in both modes, with the reason. Events of one written track more than 2**28 - 1 ticks
apart (one delta time holds no more), as format 1 and 2 files and events the Score does
not keep can produce: the writer now bridges such gaps with filler meta events.
``fuzz/`` checks the same rule on a coverage-guided corpus.
"""
from __future__ import annotations

import io
import warnings

import mido
import numpy as np
import pytest
from edge_suite_files import ABSENT, SUITE, cases, suite
from test_malformed import EOT, MALFORMED, SCALE, SECOND, VALID, chunk, header, smf, vlq

import deepsym
import deepsym.audio
from deepsym import MidiError, MidiWarning, Score, Track

MAX_DELTA = 0x0FFFFFFF
FILLER = b"\xff\x7f\x01\x7d"
TEXT = b"\xff\x01\x01x"
NOTE = b"\x90\x3c\x40" + b"\x60\x80\x3c\x00"  # a note-on, then its note-off 96 ticks later


def read_quietly(data: bytes) -> Score | None:
    """The lenient read of ``data``, or None when the reader refuses it."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", MidiWarning)
        try:
            return deepsym.read_midi(data)
        except MidiError:
            return None


def assert_round_trips(score: Score) -> bytes:
    """Write ``score`` and read it back strictly: the same Score, no warning."""
    data = deepsym.write_midi(score)
    with warnings.catch_warnings():
        warnings.simplefilter("error", MidiWarning)
        back = deepsym.read_midi(data, strict=True)
    assert [t.notes.tolist() for t in back.tracks] == [t.notes.tolist() for t in score.tracks]
    assert back == score
    return data


# -- SMPTE rates ------------------------------------------------------------------------

def division(fps: int, per_frame: int = 4) -> int:
    """An SMPTE division: -fps in the high byte, ticks per frame in the low one."""
    return ((-fps) & 0xFF) << 8 | per_frame


@pytest.mark.parametrize("fps", [6, 128, 1, 23, 31, 100])
def test_smpte_rates_smf_does_not_allow_are_refused(fps: int) -> None:
    data = smf(SCALE, division=division(fps))
    for strict in (False, True):
        with pytest.raises(MidiError, match=rf"SMPTE .* {fps} frames per second .*"
                                            r"24, 25, 29 and 30.*\(at byte 12\)"):
            deepsym.read_midi(data, strict=strict)


@pytest.mark.parametrize("fps", [24, 25, 29, 30])
def test_smpte_rates_smf_allows_round_trip(fps: int) -> None:
    score = deepsym.read_midi(smf(SCALE, division=division(fps, 255)), strict=True)
    assert score.smpte == (fps, 255)
    assert_round_trips(score)


# -- gaps one delta time cannot hold ----------------------------------------------------

LONG_GAPS = {
    # the file: two text events at delta 0x0FFFFFFF, then two tracks of notes
    "format-1-texts-past-2**28": header(1, 3) + chunk(
        vlq(MAX_DELTA) + TEXT + vlq(MAX_DELTA) + TEXT + EOT) + chunk(SCALE) + chunk(SECOND),
    # format 2 lays the second sequence after the first, which ends past 2**28
    "format-2-sequence-past-2**28": header(2, 2) + chunk(
        b"\x00" + NOTE + vlq(MAX_DELTA) + TEXT + vlq(MAX_DELTA) + TEXT + EOT) + chunk(SCALE),
    # a sysex, which a Score does not keep, stood between two notes 2**29 ticks apart
    "format-0-gap-over-a-sysex": header(0, 1) + chunk(
        b"\x00" + NOTE + vlq(MAX_DELTA) + b"\xf0\x02\x7e\xf7" + vlq(MAX_DELTA) + NOTE + EOT),
}


@pytest.mark.parametrize("name", sorted(LONG_GAPS))
def test_files_with_long_gaps_are_written(name: str) -> None:
    score = deepsym.read_midi(LONG_GAPS[name], strict=True)
    assert score.end_tick > MAX_DELTA
    data = assert_round_trips(score)
    assert FILLER in data


def test_fillers_are_every_delta_time_apart_and_peers_skip_them() -> None:
    notes = [(0, 1, 60, 1), (3 * MAX_DELTA + 7, 1, 62, 2)]
    data = deepsym.write_midi(Score(tracks=[Track(notes=notes)]))
    assert data.count(vlq(MAX_DELTA) + FILLER) == 3
    heard, tick = [], 0
    for message in mido.MidiFile(file=io.BytesIO(data)).tracks[0]:
        tick += message.time
        if message.type == "note_on" and message.velocity:
            heard.append((tick, message.note))
    assert heard == [(0, 60), (3 * MAX_DELTA + 7, 62)]


def test_render_plays_across_a_long_gap() -> None:
    # At 60,000,000 qpm and 32767 ticks a beat, 2**29 ticks last 16 ms; then 120 qpm.
    gap = 2**29
    score = Score(ticks_per_beat=0x7FFF, tempos=[(0, 6e7), (gap, 120.0)],
                  tracks=[Track(notes=[(0, 1000, 60, 100), (gap, 0x7FFF, 67, 100)])])
    samples = deepsym.audio.render(score, sample_rate=8000)
    assert samples.shape[1] >= int(score.duration_seconds * 8000)
    assert np.abs(samples[:, int(0.1 * 8000):int(0.4 * 8000)]).max() > 0.01  # the G sounds


# -- every accepted file ----------------------------------------------------------------

SUITE_FILES = sorted(p.name for p in SUITE.glob("*") if p.suffix in (".mid", ".syx"))


@pytest.mark.parametrize("name", cases(SUITE_FILES))
def test_every_suite_file_read_is_written_back(name: str) -> None:
    score = read_quietly((suite() / name).read_bytes())
    if score is not None:
        assert_round_trips(score)


@pytest.mark.parametrize("name", sorted(MALFORMED))
def test_every_damaged_file_read_is_written_back(name: str) -> None:
    score = read_quietly(MALFORMED[name][0])
    assert score is not None
    assert_round_trips(score)


@pytest.mark.parametrize("name", cases(sorted(VALID)))
def test_files_cut_short_are_written_back(name: str) -> None:
    if name == ABSENT:
        suite()
    data = VALID[name]
    for cut in range(14, len(data), max(1, len(data) // 60)):
        score = read_quietly(data[:cut])
        if score is not None:
            assert_round_trips(score)
