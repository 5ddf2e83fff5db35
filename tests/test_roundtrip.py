"""write_midi then read_midi gives back the same Score (hypothesis property tests)."""
from __future__ import annotations

import dataclasses
import os
import stat

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import deepsym
from deepsym import MidiError, Score, Track
from deepsym.score import sort_notes

ticks = st.integers(0, 5000)
text = st.text(st.characters(min_codepoint=32, max_codepoint=0x2FF), max_size=12)


def fifo_consistent(raw: list[tuple[int, int, int, int]]) -> np.ndarray:
    """Notes a MIDI file can hold unambiguously: per pitch, ends never go backwards.

    Overlapping notes of one pitch are paired first in, first out when read back, so a
    later-starting note must not end before an earlier one.
    """
    n = sort_notes(Track(notes=raw).notes)
    n = n[np.lexsort((n["duration"], n["pitch"], n["start"]))]
    for pitch in np.unique(n["pitch"]):
        idx = np.flatnonzero(n["pitch"] == pitch)
        ends = np.maximum.accumulate(n["start"][idx].astype(np.int64) + n["duration"][idx])
        n["duration"][idx] = ends - n["start"][idx]
    return n


@st.composite
def tracks(draw: st.DrawFn, channel: int) -> Track:
    raw = draw(st.lists(st.tuples(ticks, st.integers(0, 2000), st.integers(0, 127),
                                  st.integers(1, 127)), min_size=1, max_size=40))
    controls = sorted(draw(st.lists(st.tuples(ticks, st.integers(0, 127), st.integers(0, 127)),
                                    max_size=8)), key=lambda c: c[0])
    bends = sorted(draw(st.lists(st.tuples(ticks, st.integers(-8192, 8191)), max_size=8)),
                   key=lambda b: b[0])
    return Track(notes=fifo_consistent(raw), program=draw(st.integers(0, 127)),
                 channel=channel, is_drum=channel == 9, name=draw(text),
                 instrument=draw(text), controls=controls, pitch_bends=bends)


def timed(events: list[tuple]) -> list[tuple]:
    return sorted(events, key=lambda e: e[0])


@st.composite
def scores(draw: st.DrawFn) -> Score:
    channels = draw(st.lists(st.integers(0, 15), min_size=1, max_size=4))
    usec = draw(st.lists(st.tuples(ticks, st.integers(1, 0xFFFFFF)), max_size=4))
    return Score(
        ticks_per_beat=draw(st.integers(1, 0x7FFF)),
        tracks=[draw(tracks(ch)) for ch in channels],
        tempos=timed([(t, 60e6 / u) for t, u in usec]),
        time_signatures=timed(draw(st.lists(
            st.tuples(ticks, st.integers(1, 255), st.sampled_from([1, 2, 4, 8, 16, 32])),
            max_size=3))),
        key_signatures=timed(draw(st.lists(
            st.tuples(ticks, st.integers(-7, 7), st.integers(0, 1)), max_size=3))),
        texts=timed(draw(st.lists(st.tuples(ticks, text), max_size=3))),
        lyrics=timed(draw(st.lists(st.tuples(ticks, text), max_size=3))),
        markers=timed(draw(st.lists(st.tuples(ticks, text), max_size=3))),
        smpte=draw(st.none() | st.tuples(st.sampled_from([24, 25, 29, 30]),
                                         st.integers(1, 255))),
    )


def read_back(score: Score) -> Score:
    return deepsym.read_midi(deepsym.write_midi(score))


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(scores())
def test_write_then_read_gives_the_same_score(score: Score):
    back = read_back(score)
    expected = dataclasses.replace(score, end_of_track=score.end_tick)
    if score.smpte is not None:  # the reader derives a nominal beat for SMPTE files
        expected.ticks_per_beat = back.ticks_per_beat
    assert back == expected


def test_zero_length_and_touching_notes_of_one_pitch():
    track = Track(notes=[(0, 10, 60, 1), (10, 0, 60, 2), (10, 5, 60, 3), (15, 0, 60, 4)])
    back = read_back(Score(tracks=[track, Track(notes=[(0, 1, 1, 1)], channel=1)]))
    assert back.tracks[0].notes.tolist() == track.notes.tolist()


def test_single_track_scores_are_format_0_and_others_format_1():
    one = deepsym.write_midi(Score(tracks=[Track(notes=[(0, 1, 60, 1)])]))
    two = deepsym.write_midi(Score(tracks=[Track(notes=[(0, 1, 60, 1)])] * 2))
    assert deepsym.midi.read_header(one)[:2] == (0, 1)
    assert deepsym.midi.read_header(two)[:2] == (1, 3)  # conductor + two tracks


def test_write_to_a_path_is_atomic(tmp_path):
    path = tmp_path / "out.mid"
    path.write_bytes(b"old contents")
    score = Score(tracks=[Track(notes=[(0, 1, 60, 1)])])
    bad = Score(tracks=[Track(notes=[(0, 1, 60, 0)])])  # velocity 0 cannot be written
    with pytest.raises(MidiError, match="velocity"):
        deepsym.write_midi(bad, path)
    assert path.read_bytes() == b"old contents"
    data = deepsym.write_midi(score, path)
    assert path.read_bytes() == data
    assert [p.name for p in tmp_path.iterdir()] == ["out.mid"]


def test_written_files_get_the_usual_permissions(tmp_path):
    old = os.umask(0o022)
    try:
        deepsym.write_midi(Score(tracks=[Track(notes=[(0, 1, 60, 1)])]), tmp_path / "a.mid")
    finally:
        os.umask(old)
    assert stat.S_IMODE((tmp_path / "a.mid").stat().st_mode) == 0o644


@pytest.mark.parametrize("score, problem", [
    (Score(ticks_per_beat=0), "ticks_per_beat"),
    (Score(ticks_per_beat=40000), "ticks_per_beat"),
    (Score(smpte=(23, 4)), "SMPTE"),
    (Score(tempos=[(0, 1.0)]), "tempos"),
    (Score(time_signatures=[(0, 3, 3)]), "powers of two"),
    (Score(key_signatures=[(0, 8, 0)]), "key signatures"),
    (Score(tracks=[Track(notes=[(0, 1, 60, 1)], channel=16)]), "channel"),
    (Score(tracks=[Track(notes=[(0, 1, 128, 1)])]), "pitch"),
    (Score(tracks=[Track(notes=[(0, -1, 60, 1)])]), "duration"),
    (Score(tracks=[Track(notes=[(0, 1, 60, 1)], controls=[(0, 7, 128)])]), "controls"),
    (Score(tracks=[Track(notes=[(0, 1, 60, 1)], pitch_bends=[(0, 8192)])]), "pitch bends"),
    (Score(tracks=[Track(notes=[(2**31 - 10, 10, 60, 1)])]), "2\\*\\*31"),
])
def test_scores_midi_cannot_hold_are_refused_clearly(score: Score, problem: str):
    with pytest.raises(MidiError, match=problem):
        deepsym.write_midi(score)


@pytest.mark.parametrize("gap", [2**28 - 1, 2**28, 2**29 + 3, 2**31 - 11])
def test_gaps_one_delta_time_cannot_hold_are_bridged(gap: int):
    track = Track(notes=[(0, 1, 60, 1), (gap, 10, 62, 100)], controls=[(gap // 2, 7, 100)])
    score = Score(tracks=[track, Track(notes=[(0, 1, 1, 1)], channel=1)],
                  texts=[(5, "start"), (gap + 5, "end")])
    back = deepsym.read_midi(deepsym.write_midi(score), strict=True)
    assert back == dataclasses.replace(score, end_of_track=gap + 10)


@pytest.mark.parametrize("where", ["texts", "name"])
def test_meta_events_longer_than_a_length_holds_are_refused(where: str):
    long = "\u00e9" * 2**27  # 2**28 bytes in UTF-8, one more than a meta event holds
    score = Score(texts=[(0, long)]) if where == "texts" else Score(tracks=[Track(name=long)])
    with pytest.raises(MidiError, match=r"a meta event of 268435456 bytes \(at most 2\*\*28 - 1\)"):
        deepsym.write_midi(score)


def test_the_bytes_depend_on_the_score_alone():
    """A file's Latin-1 lyric is written as UTF-8 whether or not the score's texts were
    decoded before writing (the reader decodes them on first use)."""
    body = b"\x00\xff\x05\x04caf\xe9" + b"\x00\x90\x3c\x40\x60\x3c\x00" + b"\x00\xff\x2f\x00"
    data = b"MThd\x00\x00\x00\x06\x00\x00\x00\x01\x00\x60MTrk" + len(body).to_bytes(4, "big") \
        + body
    undecoded, decoded = deepsym.read_midi(data), deepsym.read_midi(data)
    assert decoded.lyrics == [(0, "café")]
    written = deepsym.write_midi(undecoded)
    assert written == deepsym.write_midi(decoded)
    assert "café".encode() in written and deepsym.read_midi(written).lyrics == [(0, "café")]
