"""Files written by deepsym, read by other libraries: mido (through ``mido_reference``),
pretty_midi and symusic must all see the notes deepsym wrote; and deepsym reads back
what it wrote.
"""
from __future__ import annotations

import dataclasses
import io
from bisect import bisect_right
from collections import defaultdict

import mido_reference
import numpy as np
import pretty_midi
import pytest
import symusic
from mido_reference import RefScore
from music21_corpus import real_midi_files

import deepsym
from deepsym import Score, Track

REAL_FILES = real_midi_files()
SAMPLE = REAL_FILES[::7]  # about 50, chorales and folk tunes alike


def synthetic_scores() -> dict[str, Score]:
    """Multi-track scores built by hand (and one single-track score, written as format 0)."""
    tempos = [(0, 120.0), (384, 75.0), (960, 100.0), (960, 150.0)]  # last at a tick wins
    ts = [(0, 4, 4), (768, 3, 8), (1200, 7, 16)]
    keys = [(0, -3, 1), (768, 4, 0)]
    piano = Track(name="piano", program=0, channel=0, notes=[
        (0, 192, 60, 100), (0, 192, 64, 90), (0, 192, 67, 80),  # a chord
        (96, 384, 72, 70), (192, 384, 72, 71),  # same pitch overlapping, ends in order
        (480, 96, 48, 1), (960, 480, 36, 127), (1500, 1, 127, 64), (1501, 1, 0, 64),
    ], controls=[(0, 64, 127), (500, 64, 0)], pitch_bends=[(10, -8192), (20, 8191), (30, 0)])
    bass = Track(name="bass", program=33, channel=1, notes=[
        (i * 96, 96, 40 + i % 5, 60 + i) for i in range(20)])  # back to back
    drums = Track(name="kit", program=0, channel=9, is_drum=True, notes=[
        (i * 48, 10, pitch, 100) for i in range(32) for pitch in (36, 42)])
    strings = Track(name="strings", program=48, channel=0, notes=[  # piano's channel too
        (0, 1920, 55, 40), (100, 50, 57, 41), (149, 1, 59, 42)])
    return {
        "quartet": Score(ticks_per_beat=96, tracks=[piano, bass, drums, strings], tempos=tempos,
                         time_signatures=ts, key_signatures=keys),
        "solo": Score(ticks_per_beat=480, tracks=[bass.replace(name="")],
                      tempos=[(0, 60.0), (300, 240.0)], key_signatures=[(0, 7, 1)]),
        "drums_first": Score(ticks_per_beat=1, tracks=[drums, piano.replace(program=127)],
                             time_signatures=[(0, 5, 4)]),
    }


SYNTHETIC = synthetic_scores()


def written(score: Score) -> bytes:
    data = deepsym.write_midi(score)
    assert data[9] == (0 if len(score.tracks) == 1 else 1)  # the format
    return data


@pytest.fixture(scope="session")
def real_scores() -> dict[str, Score]:
    return {p.stem: deepsym.read_midi(p, strict=True) for p in REAL_FILES}


def peer_cases() -> list:
    return [pytest.param(("real", p.stem), id=p.stem) for p in SAMPLE] + \
        [pytest.param(("synthetic", name), id=name) for name in SYNTHETIC]


@pytest.fixture(params=peer_cases())
def case(request, real_scores) -> tuple[Score, bytes]:
    kind, name = request.param
    score = real_scores[name] if kind == "real" else SYNTHETIC[name]
    return score, written(score)


def notes(track: Track) -> list[tuple[int, int, int, int]]:
    return [tuple(n) for n in track.notes.tolist()]


# -- mido ---------------------------------------------------------------------------------

def test_mido_sees_our_notes(case):
    score, data = case
    ref: RefScore = mido_reference.read(data)
    assert [(t.channel, t.program, t.is_drum, t.name) for t in ref.tracks] == \
        [(t.channel, t.program, t.is_drum, t.name) for t in score.tracks]
    for i, (ours, theirs) in enumerate(zip(score.tracks, ref.tracks, strict=True)):
        assert theirs.notes == notes(ours), f"track {i}"
        assert theirs.controls == ours.controls.tolist(), f"track {i}"
        assert theirs.pitch_bends == ours.pitch_bends.tolist(), f"track {i}"
    assert [(tick, 60e6 / usec) for tick, usec in ref.tempos] == \
        [(tick, 60e6 / round(60e6 / qpm)) for tick, qpm in score.tempos.tolist()]
    assert ref.time_signatures == score.time_signatures.tolist()
    assert ref.key_signatures == score.key_signatures.tolist()


# -- pretty_midi ----------------------------------------------------------------------------

def pretty_midi_ends(track: Track) -> np.ndarray:
    """Note ends in ticks as pretty_midi reads them.

    pretty_midi's convention differs from deepsym's for notes of one pitch that overlap:
    a note-off ends *every* open note of its pitch that began before it, not the
    earliest one. So a note ends at the first end, among the notes of its pitch, that
    lies after its start. (It also drops zero-length notes; there are none here.)
    """
    n = track.notes
    ends = n["start"].astype(np.int64) + n["duration"]
    by_pitch: dict[int, list[int]] = defaultdict(list)
    for pitch, end in zip(n["pitch"].tolist(), ends.tolist(), strict=True):
        by_pitch[pitch].append(end)
    for values in by_pitch.values():
        values.sort()
    out = []
    for start, pitch in zip(n["start"].tolist(), n["pitch"].tolist(), strict=True):
        candidates = by_pitch[pitch]
        out.append(candidates[bisect_right(candidates, start)])
    return np.array(out, dtype=np.int64)


def test_pretty_midi_sees_our_notes(case):
    score, data = case
    assert not any(np.any(t.notes["duration"] == 0) for t in score.tracks)
    pm = pretty_midi.PrettyMIDI(io.BytesIO(data))
    # pretty_midi makes one instrument per (program, channel, track chunk) in the order
    # their first notes end; deepsym writes one chunk per track with one program, so
    # its instruments come in deepsym's track order.
    assert [(i.program, i.is_drum, i.name) for i in pm.instruments] == \
        [(t.program, t.is_drum, t.name) for t in score.tracks]
    for k, (track, inst) in enumerate(zip(score.tracks, pm.instruments, strict=True)):
        n = track.notes
        want = np.stack([score.to_seconds(n["start"]), score.to_seconds(pretty_midi_ends(track)),
                         n["pitch"], n["velocity"]], axis=1)
        got = np.array([(x.start, x.end, x.pitch, x.velocity) for x in inst.notes])
        want = want[np.lexsort(want.T[::-1])]
        got = got[np.lexsort(got.T[::-1])]
        assert got.shape == want.shape, f"track {k}"
        np.testing.assert_array_equal(got[:, 2:], want[:, 2:], err_msg=f"track {k}")
        np.testing.assert_allclose(got[:, :2], want[:, :2], rtol=0, atol=1e-6,
                                   err_msg=f"track {k}")


# -- symusic --------------------------------------------------------------------------------

def test_symusic_sees_our_notes(case):
    score, data = case
    sm = symusic.Score.from_midi(data)
    assert sm.ticks_per_quarter == score.ticks_per_beat
    # symusic keeps lyrics in tracks, so the conductor chunk (where deepsym writes
    # lyrics) becomes a track without notes; every deepsym track has notes.
    theirs_tracks = [t for t in sm.tracks if len(t.notes)]
    assert [(t.program, t.is_drum, t.name) for t in theirs_tracks] == \
        [(t.program, t.is_drum, t.name) for t in score.tracks]
    for k, (track, theirs) in enumerate(zip(score.tracks, theirs_tracks, strict=True)):
        got = sorted((n.time, n.duration, n.pitch, n.velocity) for n in theirs.notes)
        assert got == sorted(notes(track)), f"track {k}"
    assert [(t.time, t.mspq) for t in sm.tempos] == \
        [(tick, round(60e6 / qpm)) for tick, qpm in score.tempos.tolist()]
    assert [(t.time, t.numerator, t.denominator) for t in sm.time_signatures] == \
        score.time_signatures.tolist()
    assert [(k.time, k.key, k.tonality) for k in sm.key_signatures] == \
        score.key_signatures.tolist()


# -- round trip ---------------------------------------------------------------------------

def assert_same_music(back: Score, score: Score) -> None:
    assert back.ticks_per_beat == score.ticks_per_beat
    assert [(t.channel, t.program, t.is_drum, t.name) for t in back.tracks] == \
        [(t.channel, t.program, t.is_drum, t.name) for t in score.tracks]
    for k, (b, s) in enumerate(zip(back.tracks, score.tracks, strict=True)):
        np.testing.assert_array_equal(b.notes, s.notes, err_msg=f"track {k}")
    np.testing.assert_array_equal(back.tempos, score.tempos)
    np.testing.assert_array_equal(back.time_signatures, score.time_signatures)
    np.testing.assert_array_equal(back.key_signatures, score.key_signatures)


@pytest.mark.parametrize("stem", [p.stem for p in REAL_FILES])
def test_real_file_round_trips(stem, real_scores):
    score = real_scores[stem]
    back = deepsym.read_midi(written(score), strict=True)
    assert_same_music(back, score)
    assert back == score  # texts, controls and the End of Track tick come back too


@pytest.mark.parametrize("name", SYNTHETIC)
def test_synthetic_score_round_trips(name):
    score = SYNTHETIC[name]
    back = deepsym.read_midi(written(score), strict=True)
    # tempos come back as 60e6 / whole microseconds; these were chosen to be exact
    assert_same_music(back, score)
    assert back == dataclasses.replace(score, end_of_track=score.end_tick)
