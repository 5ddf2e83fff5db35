"""MuseGAN's metrics on bars arrays: values counted by hand on small arrays, NaN cases, and
agreement with the score-level metrics through ``to_bars``."""
from __future__ import annotations

import math

import numpy as np
import pytest

from deepsym import DeepsymError, Score, Track
from deepsym.metrics import multitrack as MT
from deepsym.metrics import rhythm
from deepsym.metrics.summary import summarize
from deepsym.metrics.tonal import tonal_distance, tonal_matrix
from deepsym.representations.bars import to_bars

Z = tonal_matrix()  # Z[:, c]: the tonal centroid of pitch class c alone


def bars(*notes: tuple[int, int, int, int], n_bars: int = 2, tracks: int = 2, steps: int = 16,
         pitches: int = 24) -> np.ndarray:
    """Bars from (track, first step, steps, pitch index) notes, steps counted over the bars."""
    roll = np.zeros((tracks, n_bars * steps, pitches), np.float32)
    for k, start, length, j in notes:
        roll[k, start:start + length, j] = 1.0
    return roll.reshape(tracks, n_bars, steps, pitches).transpose(1, 0, 2, 3)


def nan_equal(a: np.ndarray, b: list[float]) -> bool:
    return np.allclose(a, b, rtol=1e-12, atol=1e-12, equal_nan=True)


def test_empty_bar_rate_by_hand():
    x = bars((0, 3, 2, 5), n_bars=4, tracks=3) + 0.4  # 0.4 is off; track 0 sounds in bar 0
    x[2, 2, 15, 0] = 0.6  # track 2 in bar 2, one step
    assert nan_equal(MT.empty_bar_rate(x), [0.75, 1.0, 0.75])
    assert nan_equal(MT.empty_bar_rate(bars(n_bars=0)), [math.nan, math.nan])
    with pytest.raises(DeepsymError, match="bars have shape"):
        MT.empty_bar_rate(np.zeros((2, 16, 24)))


def test_used_pitch_classes_counts_octaves_once_and_skips_empty_bars():
    x = bars((0, 0, 4, 0), (0, 8, 4, 12), (0, 2, 1, 4),  # bar 0: C1, C2, E1: 2 classes
             (1, 0, 16, 7),  # bar 0: G; bar 1: C, E, G, B
             (1, 16, 1, 0), (1, 20, 1, 4), (1, 24, 1, 7), (1, 28, 4, 11), tracks=3)
    assert nan_equal(MT.used_pitch_classes(x), [2.0, (1 + 4) / 2, math.nan])
    assert nan_equal(MT.used_pitch_classes(x, lowest_pitch=31), [2.0, 2.5, math.nan])


def test_a_note_tied_over_a_bar_line_is_one_qualified_note():
    # Track 0: pitch 0 on steps 14-17 (across the bar line), pitch 2 on step 20 alone.
    x = bars((0, 14, 4, 0), (0, 20, 1, 2))
    assert nan_equal(MT.qualified_note_rate(x), [1.0, math.nan])  # 16 steps: 1 step suffices
    assert nan_equal(MT.qualified_note_rate(x, min_steps=2), [0.5, math.nan])
    assert nan_equal(MT.qualified_note_rate(x, min_steps=4), [0.5, math.nan])  # not 2 + 2
    assert nan_equal(MT.qualified_note_rate(x, min_steps=5), [0.0, math.nan])


def test_qualified_note_rate_runs_are_per_pitch_and_split_by_rests():
    x = bars((0, 0, 2, 3), (0, 2, 2, 3), (0, 5, 3, 3), (0, 0, 1, 4), (1, 0, 32, 23))
    # pitch 3: steps 0-3 (two touching notes merge) and 5-7; pitch 4: step 0.
    assert nan_equal(MT.qualified_note_rate(x, min_steps=3), [2 / 3, 1.0])
    assert nan_equal(MT.qualified_note_rate(x, min_steps=33), [0.0, 0.0])


def test_notes_per_bar_counts_a_tied_note_once_and_touching_notes_as_one():
    x = bars((0, 0, 2, 3), (0, 2, 2, 3), (0, 5, 3, 3), (0, 0, 1, 4), (0, 14, 4, 0),
             (1, 0, 32, 23), tracks=3)
    # track 0: pitch 3 steps 0-3 and 5-7, pitch 4 step 0, pitch 0 steps 14-17: 4 notes
    assert nan_equal(MT.notes_per_bar(x), [2.0, 0.5, 0.0])
    assert nan_equal(MT.notes_per_bar(bars(n_bars=0)), [math.nan, math.nan])


def test_qualified_note_rate_default_is_a_32nd_note():
    x = bars((0, 0, 2, 0), (0, 10, 3, 0), (1, 50, 96, 5), steps=96)  # 3 of 96 steps qualify
    assert nan_equal(MT.qualified_note_rate(x), [0.5, 1.0])
    assert nan_equal(MT.qualified_note_rate(bars((0, 0, 1, 0), steps=48)), [0.0, math.nan])


def test_drum_pattern_rate_grid_positions():
    # 32 steps a bar: the 16-beat grid is every 2 steps, the 8-beat grid every 4.
    x = bars((0, 0, 1, 12), (0, 0, 1, 18), (0, 1, 1, 16), (0, 2, 1, 14), (0, 4, 1, 12),
             (0, 6, 4, 18),  # one onset, at 6
             (0, 30, 4, 12),  # one onset, at 30, held over the bar line
             (0, 33, 1, 14), (1, 1, 1, 0), steps=32)
    # onsets at 0, 0, 1, 2, 4, 6, 30 and 33 (bar 1, step 1)
    assert MT.drum_pattern_rate(x) == pytest.approx(6 / 8)  # 0, 0, 2, 4, 6, 30
    assert MT.drum_pattern_rate(x, pattern="8") == pytest.approx(3 / 8)  # 0, 0, 4
    assert MT.drum_pattern_rate(x, track=1) == 0.0
    assert MT.drum_pattern_rate(x, track=-1) == 0.0
    # 12 steps a bar: 16th-note grid points fall on steps 0, 3, 6, 9.
    assert MT.drum_pattern_rate(bars((0, 0, 1, 0), (0, 2, 1, 1), (0, 3, 1, 2), steps=12)) \
        == pytest.approx(2 / 3)
    assert MT.drum_pattern_rate(bars((0, 5, 1, 0)), pattern="16") == 1.0  # 16 steps: all


def test_drum_pattern_rate_nan_and_bad_arguments():
    assert math.isnan(MT.drum_pattern_rate(bars((1, 0, 1, 0))))
    assert math.isnan(MT.drum_pattern_rate(bars(n_bars=0)))
    with pytest.raises(ValueError, match="choose from 8, 16"):
        MT.drum_pattern_rate(bars(), pattern="32")
    with pytest.raises(DeepsymError, match="track 2 is not one of the 2 tracks"):
        MT.drum_pattern_rate(bars(), track=2)


def test_tonal_distance_of_identical_tracks_is_zero():
    x = bars((0, 0, 16, 0), (0, 0, 8, 4), (0, 20, 4, 19), tracks=2)
    x[:, 1] = x[:, 0]
    assert nan_equal(MT.tonal_distance_pairs(x), [[math.nan, 0.0], [0.0, math.nan]])


def test_tonal_distance_of_c_major_against_f_sharp_major_by_hand():
    # Bar 0: C E G (track 0) against F# A# C# (track 1); bar 1: only track 0 sounds; track 2
    # is silent. Pitch index j is MIDI 24 + j, so index c is pitch class c.
    x = bars(*[(0, 0, 32, c) for c in (0, 4, 7)], *[(1, 0, 16, c) for c in (6, 10, 13)],
             tracks=3)
    d = np.linalg.norm(Z[:, [0, 4, 7]].mean(axis=1) - Z[:, [6, 10, 1]].mean(axis=1))
    assert d > 0
    td = MT.tonal_distance_pairs(x)
    assert nan_equal(td, [[math.nan, d, math.nan], [d, math.nan, math.nan],
                          [math.nan, math.nan, math.nan]])
    # One pitch lower, index c is class c - 1 in both tracks: the same distance.
    assert MT.tonal_distance_pairs(x, lowest_pitch=23)[0, 1] == pytest.approx(d)


def test_tonal_distance_weights_steps_and_takes_windows():
    # Track 0: C in beat 0, E in beats 1 and 2; track 1: C in beat 0, G in beat 1, rests.
    x = bars((0, 0, 4, 0), (0, 4, 8, 4), (1, 0, 4, 0), (1, 4, 4, 7), n_bars=1)
    per_bar = np.linalg.norm((Z[:, 0] + 2 * Z[:, 4]) / 3 - (Z[:, 0] + Z[:, 7]) / 2)
    per_beat = (0.0 + np.linalg.norm(Z[:, 4] - Z[:, 7])) / 2  # beat 2: track 1 rests
    assert MT.tonal_distance_pairs(x)[0, 1] == pytest.approx(per_bar)
    assert MT.tonal_distance_pairs(x, window_steps=4)[1, 0] == pytest.approx(per_beat)
    assert per_bar != pytest.approx(per_beat)
    with pytest.raises(DeepsymError, match="window_steps must divide the bar's 16 steps"):
        MT.tonal_distance_pairs(x, window_steps=5)
    assert nan_equal(MT.tonal_distance_pairs(bars(n_bars=0)), [[math.nan] * 2] * 2)


def test_used_pitch_classes_per_bar_by_hand():
    track = Track(notes=[(0, 4, 60, 80), (8, 4, 72, 80), (14, 4, 64, 80), (40, 0, 67, 80)])
    drums = Track(notes=[(20, 4, 37, 80)], is_drum=True, channel=9)
    # bar 0: C, E; bar 1: E (held over the bar line); bar 2: G (zero length); drums left out
    score = Score(ticks_per_beat=4, tracks=[track, drums])
    assert MT.used_pitch_classes_per_bar(score) == pytest.approx((2 + 1 + 1) / 3)
    waltz = Score(ticks_per_beat=4, tracks=[track], time_signatures=[(0, 3, 4)])
    # bars of 12 ticks: bar 0: C, C; bar 1: E; bar 3: G
    assert MT.used_pitch_classes_per_bar(waltz) == pytest.approx((1 + 1 + 1) / 3)
    assert math.isnan(MT.used_pitch_classes_per_bar(Score(ticks_per_beat=4, tracks=[drums])))
    with pytest.raises(DeepsymError, match="needs a Score"):
        MT.used_pitch_classes_per_bar(track)


# -- arrays and scores agree --------------------------------------------------------------

def melody() -> Track:
    """Bars 0, 1 and 3 of 4/4 at 4 ticks a beat; the G is held over the bar line at 16."""
    return Track(notes=[(0, 4, 60, 80), (4, 1, 64, 80), (6, 2, 76, 80), (14, 4, 67, 80),
                        (20, 2, 62, 80), (48, 16, 72, 80)])


def bass() -> Track:
    return Track(notes=[(0, 8, 36, 80), (8, 8, 43, 80), (16, 16, 41, 80), (48, 12, 48, 80)],
                 program=33)


def test_bars_and_score_metrics_agree():
    score = Score(ticks_per_beat=4, tracks=[melody(), bass()])
    x = to_bars(score, n_tracks=2)
    assert x.shape == (4, 2, 16, 84)
    alone = [Score(ticks_per_beat=4, tracks=[t]) for t in score.tracks]
    eb = MT.empty_bar_rate(x)
    assert eb.tolist() == [rhythm.empty_measure_rate(s) for s in alone] == [0.25, 0.25]
    upc = MT.used_pitch_classes(x)
    assert upc.tolist() == pytest.approx([MT.used_pitch_classes_per_bar(s) for s in alone])
    assert upc.tolist() == pytest.approx([(3 + 2 + 1) / 3, (2 + 1 + 1) / 3])
    merged = MT.used_pitch_classes(x.max(axis=1, keepdims=True))
    assert merged[0] == pytest.approx(MT.used_pitch_classes_per_bar(score))
    qn = MT.qualified_note_rate(x, min_steps=2)  # 2 steps of 4 a beat, 8 ticks of 16
    assert qn.tolist() == pytest.approx(
        [rhythm.qualified_note_rate(s, min_steps=2, steps_per_beat=4) for s in alone])
    assert qn[0] == pytest.approx(5 / 6)  # the held G is one note of 4 steps
    td = MT.tonal_distance_pairs(x)
    assert td[0, 1] == pytest.approx(tonal_distance(score, (0, 1), window="bar"))
    assert MT.tonal_distance_pairs(x, window_steps=4)[0, 1] == \
        pytest.approx(tonal_distance(score, (0, 1), window="beat"))


def test_drum_pattern_rate_agrees_with_the_score_level_metric():
    kit = Track(notes=[(0, 1, 36, 90), (1, 1, 42, 90), (2, 1, 38, 90), (4, 1, 36, 90),
                       (6, 1, 42, 90), (13, 1, 38, 90)], is_drum=True, channel=9)
    score = Score(ticks_per_beat=8, tracks=[kit, Track(notes=[(0, 8, 60, 80)])])
    x = to_bars(score, rule="family", n_tracks=5, steps_per_beat=8)  # 32 steps a bar
    assert MT.drum_pattern_rate(x, track=0) == pytest.approx(4 / 6)
    assert MT.drum_pattern_rate(x, track=0) == pytest.approx(rhythm.drum_in_pattern_rate(score))
    assert MT.drum_pattern_rate(x, track=0, pattern="8") == pytest.approx(2 / 6)  # 0, 4
    assert MT.drum_pattern_rate(x, track=1) == 1.0  # the piano's one onset, at step 0
    assert math.isnan(MT.drum_pattern_rate(x, track=2))  # no guitar


def test_deepsym_metrics_measures_upc_and_dp():
    kit = Track(notes=[(0, 1, 36, 90), (1, 1, 42, 90)], is_drum=True, channel=9)
    score = Score(ticks_per_beat=4, tracks=[melody(), bass(), kit])
    values = summarize(score)
    assert values["used_pitch_classes"] == MT.used_pitch_classes_per_bar(score)
    assert values["drum_pattern_rate"] == rhythm.drum_in_pattern_rate(score) == 1.0
    for name in ("empty_measure_rate", "qualified_note_rate", "tonal_distance"):
        assert name in values  # MuseGAN's EB, QN and TD at the score level
