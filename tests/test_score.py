"""The Score model: time conversion, quantization, merging, slicing, display."""
from __future__ import annotations

import numpy as np
import pytest

import deepsym
from deepsym import Score, Track
from deepsym.score import sort_notes


def notes(*rows: tuple[int, int, int, int]) -> np.ndarray:
    return Track(notes=list(rows)).notes


def two_tempo_score() -> Score:
    return Score(ticks_per_beat=480, tempos=[(0, 120.0), (960, 60.0)],
                 tracks=[Track(notes=notes((0, 480, 60, 90), (960, 480, 64, 90)))])


def test_to_seconds_follows_the_tempo_map():
    score = two_tempo_score()
    # 960 ticks at 120 qpm = 2 beats = 1 s; then 480 ticks at 60 qpm = 1 s.
    np.testing.assert_allclose(score.to_seconds([0, 480, 960, 1440, 1920]),
                               [0.0, 0.5, 1.0, 2.0, 3.0])
    assert score.duration_seconds == pytest.approx(2.0)


def test_to_ticks_inverts_to_seconds():
    score = two_tempo_score()
    ticks = np.array([0, 7, 479, 960, 1000, 5000])
    np.testing.assert_allclose(score.to_ticks(score.to_seconds(ticks)), ticks)


def test_default_tempo_before_the_first_change():
    score = Score(ticks_per_beat=100, tempos=[(200, 60.0)])
    # 200 ticks at the default 120 qpm = 1 s, then 100 ticks at 60 qpm = 1 s.
    np.testing.assert_allclose(score.to_seconds([200, 300]), [1.0, 2.0])
    assert Score(ticks_per_beat=100).to_seconds(100) == pytest.approx(0.5)


def test_last_tempo_at_the_same_tick_wins():
    score = Score(ticks_per_beat=100, tempos=[(0, 120.0), (0, 60.0)])
    assert score.to_seconds(100) == pytest.approx(1.0)


def test_smpte_scores_count_ticks_as_absolute_time():
    score = Score(smpte=(25, 40), tempos=[(0, 30.0)])  # tempo does not apply
    assert score.ticks_per_second == 1000
    np.testing.assert_allclose(score.to_seconds([0, 1000, 2500]), [0.0, 1.0, 2.5])
    assert Score(smpte=(29, 2)).ticks_per_second == pytest.approx(2 * 30000 / 1001)


def test_resample_quantizes_to_the_nearest_step_and_keeps_short_notes():
    track = Track(notes=notes((0, 120, 60, 90), (250, 10, 62, 90), (230, 0, 50, 90),
                              (960, 479, 64, 90)),
                  controls=[(250, 64, 127)])
    score = Score(ticks_per_beat=480, tracks=[track], tempos=[(250, 90.0)])
    out = score.resample(4)  # 120 ticks per step
    assert out.ticks_per_beat == 4
    got = out.tracks[0].notes
    # 230 -> 1.92 steps -> 2 and 250 -> 2.08 -> 2: same start, so sorted by pitch.
    assert got.tolist() == [(0, 1, 60, 90), (2, 0, 50, 90), (2, 1, 62, 90), (8, 4, 64, 90)]
    assert out.tracks[0].controls["tick"].tolist() == [2]
    assert out.tempos["tick"].tolist() == [2]
    assert out.duration_seconds == pytest.approx(score.duration_seconds, abs=0.1)


def test_resample_of_an_smpte_score_keeps_seconds():
    score = Score(smpte=(25, 40), tracks=[Track(notes=notes((1000, 500, 60, 80)))])
    out = score.resample(8)
    assert out.smpte is None
    assert out.tempos.tolist() == [(0, 120.0)]
    np.testing.assert_allclose(out.to_seconds(out.tracks[0].notes["start"]), [1.0])


def test_resample_rejects_zero_resolution():
    with pytest.raises(ValueError, match="steps_per_beat"):
        Score().resample(0)


def test_merge_tracks_combines_and_sorts_notes():
    a = Track(notes=notes((0, 10, 60, 1), (20, 10, 60, 1)), program=5, name="a",
              controls=[(5, 7, 100)])
    b = Track(notes=notes((10, 10, 50, 2), (0, 5, 40, 2)), program=9, name="b",
              controls=[(1, 7, 90)])
    c = Track(notes=notes((0, 1, 70, 3)), name="c")
    out = Score(tracks=[a, c, b]).merge_tracks([0, 2], name="ab")
    assert [t.name for t in out.tracks] == ["ab", "c"]
    merged = out.tracks[0]
    assert merged.program == 5
    assert merged.notes[["start", "pitch"]].tolist() == [(0, 40), (0, 60), (10, 50), (20, 60)]
    assert merged.controls["tick"].tolist() == [1, 5]
    assert Score(tracks=[a, b]).merge_tracks().tracks[0].name == "a"


def test_slice_keeps_notes_starting_in_the_window_and_carries_the_tempo():
    score = Score(
        ticks_per_beat=100,
        tempos=[(0, 100.0), (150, 50.0), (500, 200.0)],
        time_signatures=[(0, 3, 4)],
        tracks=[Track(notes=notes((50, 100, 60, 1), (100, 50, 62, 1), (180, 100, 64, 1),
                                  (300, 10, 65, 1)))],
        markers=[(120, "A"), (400, "B")],
    )
    part = score.slice(100, 250)
    assert part.tracks[0].notes.tolist() == [(0, 50, 62, 1), (80, 70, 64, 1)]
    assert part.tempos.tolist() == [(0, 100.0), (50, 50.0)]
    assert part.time_signatures.tolist() == [(0, 3, 4)]
    assert part.markers == [(20, "A")]
    assert part.end_tick == 150
    with pytest.raises(ValueError):
        score.slice(10, 5)


def test_slice_seconds_uses_the_tempo_map():
    score = two_tempo_score()  # tick 960 = 1 s, tick 1440 = 2 s
    part = score.slice_seconds(1.0, 2.0)
    assert part.tracks[0].notes.tolist() == [(0, 480, 64, 90)]


def test_sort_notes_orders_by_start_then_pitch_and_is_stable():
    n = notes((10, 1, 60, 1), (0, 5, 64, 2), (0, 9, 64, 3), (0, 1, 50, 4))
    assert sort_notes(n)["velocity"].tolist() == [4, 2, 3, 1]


def test_equality_and_repr():
    a, b = two_tempo_score(), two_tempo_score()
    assert a == b
    b.tracks[0].notes["velocity"][0] = 1
    assert a != b
    text = repr(a)
    assert text.startswith("Score(ticks_per_beat=480, tracks=1, notes=2, 0:02.0")
    assert repr(a.tracks[0]) == "Track('', program=0, channel=0, notes=2)"


def test_empty_score_is_well_defined():
    score = Score()
    assert score.end_tick == 0
    assert score.duration_seconds == 0.0
    assert score.n_notes == 0
    assert score.resample(4).n_notes == 0
    assert score.merge_tracks().tracks == []


def test_texts_of_a_read_file_are_decoded_on_first_use(tmp_path):
    import pickle

    score = Score(ticks_per_beat=480, tracks=[Track(notes=[(0, 480, 60, 90)])],
                  texts=[(0, "title"), (960, "verse")], lyrics=[(0, "Ky"), (480, "ri\u00e9")],
                  markers=[(1920, "end")])
    data = deepsym.write_midi(score)
    read = deepsym.read_midi(data)
    assert "texts" not in read.__dict__  # not decoded yet
    assert read.end_tick == 1920  # the texts' ticks count without decoding them
    assert "texts" not in read.__dict__
    again = pickle.loads(pickle.dumps(read))
    assert read.lyrics == [(0, "Ky"), (480, "ri\u00e9")]
    assert (read.texts, read.markers) == ([(0, "title"), (960, "verse")], [(1920, "end")])
    assert again == read
    mine = deepsym.read_midi(data)
    mine.lyrics = [(0, "mine")]  # set before any text was decoded: kept
    assert mine.texts == [(0, "title"), (960, "verse")] and mine.lyrics == [(0, "mine")]
