"""Musical metrics: hand-computed values on small scores, muspy on real files (with its
quirks pinned down), edge cases, and ``deepsym metrics`` as a user runs it."""
from __future__ import annotations

import json
import math
from math import log2, sqrt

import muspy
import numpy as np
import pytest
from edge_suite_files import suite
from hypothesis import given, settings
from hypothesis import strategies as st
from music21_corpus import real_midi_files

import deepsym
from deepsym import DeepsymError, Score, Track
from deepsym import metrics as M
from deepsym.cli import main
from deepsym.metrics.notes import bar_lines, bar_ticks
from deepsym.metrics.summary import registered_metrics, summarize

SAMPLE = real_midi_files()[::6]  # about 60 files, chorales and folk tunes alike


def track(*notes: tuple[int, int, int], drum: bool = False, name: str = "") -> Track:
    """A track from (start, duration, pitch) triples."""
    return Track(notes=[(s, d, p, 80) for s, d, p in notes], is_drum=drum,
                 channel=9 if drum else 0, name=name)


def score(*tracks: Track, tpb: int = 4, ts: list[tuple[int, int, int]] | None = None) -> Score:
    return Score(ticks_per_beat=tpb, tracks=list(tracks), time_signatures=ts)


def music(*tracks: tuple[list[tuple[int, int, int]], bool], resolution: int = 4) -> muspy.Music:
    """The same by hand for muspy: (notes, is_drum) per track."""
    return muspy.Music(resolution=resolution, tracks=[
        muspy.Track(is_drum=drum, notes=[muspy.Note(time=s, duration=d, pitch=p, velocity=80)
                                         for s, d, p in notes]) for notes, drum in tracks])


def same(a: float, b: float) -> bool:
    return (math.isnan(a) and math.isnan(b)) or a == pytest.approx(b, rel=1e-12, abs=1e-12)


# -- pitch metrics, by hand ----------------------------------------------------------------

def test_pitch_counts_and_entropies_by_hand():
    s = score(track((0, 4, 60), (4, 4, 64), (8, 4, 67)), track((0, 4, 72), (4, 4, 60)),
              track((0, 1, 36), (1, 1, 90), drum=True))  # drums never count as pitches
    assert M.pitch_range(s) == M.tone_span(s) == 12
    assert M.n_pitches_used(s) == 4
    assert M.n_pitch_classes_used(s) == 3
    # pitches 60 x2, 64, 67, 72 of 5 notes; pitch classes C x3, E, G.
    assert M.pitch_entropy(s) == pytest.approx(-(0.4 * log2(0.4) + 3 * 0.2 * log2(0.2)))
    assert M.pitch_class_entropy(s) == pytest.approx(-(0.6 * log2(0.6) + 2 * 0.2 * log2(0.2)))


def test_scale_consistency_takes_the_offset_modulo_12():
    g_major = track(*[(i, 1, p) for i, p in enumerate([67, 69, 71, 72, 74, 76, 78])])
    # C-RNN-GAN's code compares p % 12 - root without mod 12, so for root G it misses
    # C, D, E and F# and reports 6/7 (C major). The whole G major scale fits G major.
    assert M.scale_consistency(g_major) == 1.0
    whole_tone = track(*[(i, 1, 60 + 2 * i) for i in range(6)])  # C D E F# G# A#
    assert M.scale_consistency(whole_tone) == pytest.approx(4 / 6)  # G major: C D E F#


def test_scale_consistency_counts_harmonic_minor_like_c_rnn_gan():
    a_harmonic = track(*[(i, 1, p) for i, p in enumerate([69, 71, 72, 74, 76, 77, 80])])
    assert M.scale_consistency(a_harmonic) == 1.0
    assert M.scale_consistency(a_harmonic, ("major", "natural_minor")) == pytest.approx(6 / 7)
    with pytest.raises(ValueError, match="unknown scale 'dorian'; choose from major"):
        M.scale_consistency(a_harmonic, ("dorian",))


def test_repetitions_count_every_non_overlapping_pair():
    s = track(*[(i, 1, p) for i, p in enumerate([60, 62] * 3)])
    # Runs of 2: (60,62) at 0, 2, 4 give pairs (0,2) (0,4) (2,4); (62,60) at 1, 3 gives (1,3).
    # C-RNN-GAN's loop bounds stop early and find only (0,2) and (1,3).
    assert M.repetitions(s, 2) == 4
    assert M.repetitions(s, 3) == 0  # (60,62,60) at 0 and 2 overlap
    assert M.repetitions(s, 1) == 3 + 3  # three 60s and three 62s: 3 pairs each
    with pytest.raises(ValueError, match="length must be at least 1"):
        M.repetitions(s, 0)


@settings(max_examples=200, deadline=None)
@given(st.lists(st.integers(60, 63), max_size=40), st.integers(1, 5))
def test_repetitions_match_a_brute_force_count(pitches, length):
    s = track(*[(i, 1, p) for i, p in enumerate(pitches)])
    expected = sum(pitches[i:i + length] == pitches[j:j + length]
                   for i in range(len(pitches) - length + 1)
                   for j in range(i + length, len(pitches) - length + 1))
    assert M.repetitions(s, length) == expected


def test_reading_order_merges_tracks_by_start_then_pitch():
    s = score(track((4, 1, 65), (0, 1, 67)), track((0, 1, 60), (2, 1, 62)))
    assert M.repetitions(s, 1) == 0
    assert M.note_tokens(s).tolist() == [60, 67, 62, 65]


# -- polyphony, by hand --------------------------------------------------------------------

def test_polyphony_and_rate_by_hand():
    s = score(track((0, 8, 60), (0, 4, 64), (4, 4, 67), (12, 4, 72)),
              track((0, 16, 38), drum=True))
    # Ticks 0-7 sound two pitches, 8-11 none, 12-15 one; the piece is 16 ticks long.
    assert M.polyphony(s) == pytest.approx((8 * 2 + 4 * 1) / 12)
    assert M.polyphony_rate(s) == pytest.approx(8 / 16)
    assert M.polyphony_rate(s, min_pitches=1) == pytest.approx(12 / 16)
    assert M.polyphony_rate(s, min_pitches=3) == 0.0


def test_a_pitch_doubled_in_two_tracks_sounds_once():
    s = score(track((0, 4, 60)), track((0, 4, 60), (2, 4, 64)))
    assert M.polyphony(s) == pytest.approx((2 * 1 + 2 * 2 + 2 * 1) / 6)
    assert M.onset_polyphony(s) == 0.0  # 60 starts twice at 0: one tone; 64 alone at 2


def test_onset_polyphony_by_hand():
    s = score(track((0, 4, 60), (0, 4, 64), (0, 4, 67), (4, 4, 62), (8, 2, 65), (8, 2, 69)))
    assert M.onset_polyphony(s) == pytest.approx(2 / 3)  # onsets 0 and 8 of 0, 4, 8


# -- beats, bars, groove, note lengths, by hand --------------------------------------------

def test_empty_beat_rate_by_hand_and_muspys_inclusive_end():
    notes = [(0, 4, 60), (8, 4, 62)]  # beats 0 and 2 of 3 sound
    assert M.empty_beat_rate(score(track(*notes))) == pytest.approx(1 / 3)
    # muspy counts the end tick as sounding: the first note fills beats 0 and 1, the
    # second beats 2 and 3 of its 12 // 4 + 1 = 4 beats.
    assert muspy.empty_beat_rate(music((notes, False))) == 0.0
    assert M.empty_beat_rate(score(track(*notes, (4, 0, 61)))) == 0.0  # zero length: its beat


def test_empty_measure_rate_follows_the_time_signatures():
    s = score(track((0, 4, 60), (30, 2, 60)), ts=[(0, 3, 4)])  # bars of 12 ticks
    assert M.empty_measure_rate(s) == pytest.approx(1 / 3)
    assert M.empty_measure_rate(s, measure_ticks=16) == pytest.approx(0.0)  # bars 0-15, 16-31
    changing = score(track((0, 1, 60), (40, 1, 60)), ts=[(0, 4, 4), (16, 2, 4)])
    assert bar_lines(changing, 41).tolist() == [0, 16, 24, 32, 40]
    assert M.empty_measure_rate(changing) == pytest.approx(3 / 5)


def test_groove_consistency_by_hand():
    s = score(track(*[(t, 2, 60) for t in (0, 4, 8, 12, 16, 20, 24, 28, 32, 40)]))
    # 4/4 bars of 16 ticks; onset patterns {0,4,8,12}, {0,4,8,12}, {0,8}.
    assert M.groove_consistency(s, steps_per_beat=None) == pytest.approx(1 - 2 / (16 * 2))
    # Quantized to 2 steps per beat (8 per bar) the patterns are {0,2,4,6} twice, {0,4}.
    assert M.groove_consistency(s, steps_per_beat=2) == pytest.approx(1 - 2 / (8 * 2))
    assert math.isnan(M.groove_consistency(score(track((0, 16, 60))), steps_per_beat=None))


def test_qualified_note_rate_by_hand():
    s = score(track((0, 2, 60), (2, 3, 62), (5, 24, 64)), tpb=24)
    assert M.qualified_note_rate(s) == pytest.approx(2 / 3)  # at least 3 of 24 steps a beat
    long = score(track((0, 59, 60), (59, 60, 62)), tpb=480)  # a 32nd note is 60 ticks
    assert M.qualified_note_rate(long) == pytest.approx(1 / 2)
    assert M.qualified_note_rate(long, min_steps=1, steps_per_beat=8) == pytest.approx(1 / 2)


def test_drum_in_pattern_rate_by_hand():
    kit = track((0, 1, 36), (1, 1, 42), (2, 1, 38), (3, 1, 42), (4, 1, 36), drum=True)
    s = score(kit, track((1, 1, 60)), tpb=12)
    assert M.drum_in_pattern_rate(s) == pytest.approx(2 / 5)  # 16th grid: ticks 0, 3
    assert M.drum_in_pattern_rate(s, "triple") == pytest.approx(2 / 5)  # 0 and 4
    muspy_kit = music(([(s_, d, p) for s_, d, p, _ in kit.notes.tolist()], True),
                      resolution=12)
    assert muspy.drum_in_pattern_rate(muspy_kit, "duple") == pytest.approx(2 / 5)
    with pytest.raises(ValueError, match="choose from duple, triple"):
        M.drum_in_pattern_rate(s, "waltz")


# -- tonal distance ------------------------------------------------------------------------

def test_tonal_distance_of_c_against_g_by_hand():
    s = score(track((0, 4, 60)), track((0, 4, 67)))
    # Centroids (sin, cos of 7/6 pi k; of 3/2 pi k; 0.5 x of 2/3 pi k) for C (k=0), G (k=7).
    c = np.array([0, 1, 0, 1, 0, 0.5])
    g = np.array([0.5, sqrt(3) / 2, 1, 0, sqrt(3) / 4, -0.25])
    assert M.tonal_distance(s) == pytest.approx(np.linalg.norm(c - g))


def test_tonal_distance_weights_by_time_and_skips_silent_windows():
    # Track a: C for a whole beat, then nothing; track b: C for 3 ticks + E for 1 tick,
    # then G alone in beat 1 (a silent there: beat 1 does not count).
    s = score(track((0, 4, 60)), track((0, 3, 48), (3, 1, 64), (4, 4, 67)))
    z = M.tonal.tonal_matrix()
    expected = np.linalg.norm(z[:, 0] - (0.75 * z[:, 0] + 0.25 * z[:, 4]))
    assert M.tonal_distance(s) == pytest.approx(expected)
    assert M.tonal_distance(s, (1, 0)) == pytest.approx(expected)
    assert M.tonal_distance(score(track((0, 8, 60)), track((0, 8, 48)))) == 0.0  # octaves


def test_tonal_distance_over_pairs_and_bad_tracks():
    s = score(track((0, 4, 60)), track((0, 4, 67)), track((0, 4, 60)),
              track((0, 4, 36), drum=True))
    d = M.tonal_distance(s, (0, 1))
    assert M.tonal_distance(s) == pytest.approx((d + d + 0.0) / 3)  # pairs 01, 02, 12
    with pytest.raises(DeepsymError, match="track 3 is a drum track"):
        M.tonal_distance(s, (0, 3))
    with pytest.raises(DeepsymError, match="two indices among the score's 4 tracks"):
        M.tonal_distance(s, (0, 7))
    with pytest.raises(ValueError, match="choose from beat, bar"):
        M.tonal_distance(s, window="bars")
    assert math.isnan(M.tonal_distance(score(track((0, 4, 60)))))


def test_tonal_distance_matches_a_dense_pianoroll_computation():
    """MuseGAN's way: binary piano-roll per track, chroma summed per beat, normalized."""
    z = M.tonal.tonal_matrix()
    for path in SAMPLE[:12]:
        s = deepsym.read_midi(path).resample(4)
        pitched = [t for t in s.tracks if len(t.notes)]
        steps = max(int((t.notes["start"] + t.notes["duration"]).max()) for t in s.tracks)
        steps = -(-steps // 4) * 4
        centroids = []
        for t in pitched:
            roll = np.zeros((steps, 128))
            for start, duration, pitch, _ in t.notes.tolist():
                roll[start:start + duration, pitch] = 1
            chroma = roll.reshape(steps // 4, 4, 128).sum(1)
            chroma = np.stack([chroma[:, c::12].sum(1) for c in range(12)], axis=1)
            with np.errstate(invalid="ignore"):
                centroids.append((chroma / chroma.sum(1, keepdims=True)) @ z.T)
        dists = [np.linalg.norm(a - b, axis=1) for i, a in enumerate(centroids)
                 for b in centroids[i + 1:]]
        expected = np.nanmean(np.concatenate(dists)) if dists else math.nan
        assert same(M.tonal_distance(s), expected), path.name


# -- muspy on real files -------------------------------------------------------------------

@pytest.fixture(scope="module")
def pairs() -> dict[str, tuple[Score, muspy.Music]]:
    """Each sample file as read by deepsym and by muspy (both parse the same bytes)."""
    return {p.name: (deepsym.read_midi(p), muspy.read_midi(p)) for p in SAMPLE}


SAME_AS_MUSPY = {
    "pitch_range": (M.pitch_range, muspy.pitch_range),
    "n_pitches_used": (M.n_pitches_used, muspy.n_pitches_used),
    "n_pitch_classes_used": (M.n_pitch_classes_used, muspy.n_pitch_classes_used),
    "pitch_entropy": (M.pitch_entropy, muspy.pitch_entropy),
    "pitch_class_entropy": (M.pitch_class_entropy, muspy.pitch_class_entropy),
    "scale_consistency (major, minor)": (
        lambda s: M.scale_consistency(s, ("major", "natural_minor")), muspy.scale_consistency),
}


@pytest.mark.parametrize("metric", SAME_AS_MUSPY)
def test_same_value_as_muspy_on_real_files(pairs, metric):
    ours, theirs = SAME_AS_MUSPY[metric]
    for name, (s, m) in pairs.items():
        assert same(ours(s), theirs(m)), name


PIANOROLL_METRICS = {
    "polyphony": (M.polyphony, muspy.polyphony),
    "polyphony_rate: ours min_pitches=3 is muspy's default threshold=2": (
        lambda s: M.polyphony_rate(s, min_pitches=3), muspy.polyphony_rate),
    "polyphony_rate: our default min_pitches=2 is muspy's threshold=1": (
        M.polyphony_rate, lambda m: muspy.polyphony_rate(m, threshold=1)),
}


@pytest.mark.parametrize("metric", PIANOROLL_METRICS)
def test_polyphony_same_as_muspy_on_real_files(pairs, metric):
    ours, theirs = PIANOROLL_METRICS[metric]
    for name, (s, m) in pairs.items():
        assert same(ours(s), theirs(m)), name


def shortened(m: muspy.Music) -> muspy.Music:
    """muspy's Music with every note one tick shorter (zero-length notes stay zero)."""
    m = m.deepcopy()
    for t in m.tracks:
        for note in t.notes:
            note.duration = max(note.duration, 1) - 1
    return m


BEAT_METRICS = {
    "empty_beat_rate": (M.empty_beat_rate, muspy.empty_beat_rate),
    "empty_measure_rate": (lambda s: M.empty_measure_rate(s, bar_ticks(s)),
                           lambda m, s: muspy.empty_measure_rate(m, bar_ticks(s))),
    "groove_consistency": (lambda s: M.groove_consistency(s, steps_per_beat=None),
                           lambda m, s: muspy.groove_consistency(m, bar_ticks(s))),
}


@pytest.mark.parametrize("metric", BEAT_METRICS)
def test_beat_metrics_equal_muspy_on_notes_one_tick_shorter(pairs, metric):
    """muspy's inclusive note ends are the only difference: undo them and values agree."""
    ours, theirs = BEAT_METRICS[metric]
    for name, (s, m) in pairs.items():
        value = theirs(shortened(m)) if metric == "empty_beat_rate" \
            else theirs(shortened(m), s)
        assert same(ours(s), value), name


def test_empty_beat_rate_differs_from_muspy_as_documented(pairs):
    """On the files as they are, muspy fills the beat after each note end, so it finds
    at most as many empty beats; on real chorales and tunes it finds fewer in many."""
    lower = 0
    for name, (s, m) in pairs.items():
        ours, theirs = M.empty_beat_rate(s), muspy.empty_beat_rate(m)
        assert theirs <= ours, name
        lower += theirs < ours
    assert lower >= len(pairs) // 10


def test_groove_differs_from_muspy_by_the_extra_bar(pairs):
    """A piece ending on a barline gets one more (empty) bar in muspy: its last real bar's
    onsets are added to the Hamming distance and one more bar pair to the mean."""
    extra_bar = 0
    for name, (s, m) in pairs.items():
        bar = bar_ticks(s)
        ours, theirs = M.groove_consistency(s, None), muspy.groove_consistency(m, bar)
        end = max(int((t.notes["start"] + t.notes["duration"]).max()) for t in s.tracks)
        if end % bar:
            assert same(ours, theirs), name
            continue
        extra_bar += 1
        n_bars = end // bar
        starts = np.concatenate([t.notes["start"] for t in s.tracks])
        last = len(np.unique(starts[starts >= end - bar]))
        hamming = (1 - ours) * bar * (n_bars - 1) + last
        assert theirs == pytest.approx(1 - hamming / (bar * n_bars), abs=1e-12), name
    assert extra_bar >= len(pairs) // 2  # most chorales end on a barline


def test_pitch_range_of_drums_only_is_zero_where_muspy_says_minus_127():
    drums = [(0, 1, 36), (1, 1, 42)]
    assert muspy.pitch_range(music((drums, True))) == -127
    assert M.pitch_range(score(track(*drums, drum=True))) == 0
    both = (music((drums, True), ([(0, 4, 50), (0, 4, 65)], False)),
            score(track(*drums, drum=True), track((0, 4, 50), (0, 4, 65))))
    assert muspy.pitch_range(both[0]) == M.pitch_range(both[1]) == 15


# -- empty input, single notes, types ------------------------------------------------------

COUNTS = {"notes", "pitch_range", "n_pitches_used", "n_pitch_classes_used",
          "repetitions_2", "repetitions_3", "repetitions_4"}


def test_every_metric_is_defined_on_an_empty_score():
    for empty in (Score(), score(track()), score(track(), track())):
        values = summarize(empty)
        assert {k for k, v in values.items() if v == 0} == COUNTS
        assert all(math.isnan(v) for k, v in values.items() if k not in COUNTS)


def test_every_metric_is_defined_on_a_single_note():
    values = summarize(score(track((0, 4, 60))))
    assert values == pytest.approx({
        "notes": 1, "pitch_range": 0, "n_pitches_used": 1, "n_pitch_classes_used": 1,
        "pitch_entropy": 0.0, "pitch_class_entropy": 0.0, "scale_consistency": 1.0,
        "repetitions_2": 0, "repetitions_3": 0, "repetitions_4": 0, "polyphony": 1.0,
        "polyphony_rate": 0.0, "onset_polyphony": 0.0, "empty_beat_rate": 0.0,
        "empty_measure_rate": 0.0, "groove_consistency": math.nan,
        "qualified_note_rate": 1.0, "tonal_distance": math.nan, "used_pitch_classes": 1.0,
        "drum_pattern_rate": math.nan}, nan_ok=True)
    assert list(values) == [metric.name for metric in registered_metrics()]


def test_tracks_work_where_no_beats_are_needed():
    t = track((0, 4, 60), (0, 4, 64), (4, 4, 67))
    assert M.pitch_range(t) == 7 and M.polyphony(t) == pytest.approx(1.5)
    assert M.scale_consistency(t) == 1.0
    assert M.pitch_range(track((0, 1, 36), (0, 1, 50), drum=True)) == 0  # a drum track
    with pytest.raises(DeepsymError, match="empty_beat_rate counts beats, so it needs a Score"):
        M.empty_beat_rate(t)
    with pytest.raises(DeepsymError, match="metrics take a Score or a Track, not list"):
        M.pitch_range([60, 62])


# -- deepsym metrics -----------------------------------------------------------------------

def test_cli_prints_one_row_per_file(capsys):
    files = [str(p) for p in SAMPLE[:2]]
    assert main(["metrics", *files]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert lines[0].split()[:4] == ["file", "notes", "range", "pitches"]
    assert lines[0].split()[-5:] == ["EB", "UPC", "QN", "DP", "TD"]  # MuseGAN's five
    assert [line.split()[0] for line in lines[1:]] == files
    s = deepsym.read_midi(files[0])
    assert lines[1].split()[1:3] == [str(s.n_notes), str(M.pitch_range(s))]


def test_cli_folder_gives_mean_and_std_and_json_agrees(tmp_path, capsys):
    for p in SAMPLE[:4]:
        (tmp_path / p.name).write_bytes(p.read_bytes())
    (tmp_path / "broken.mid").write_bytes(b"MThd\x00\x00\x00\x06\x00\x01")
    assert main(["metrics", str(tmp_path)]) == 1
    captured = capsys.readouterr()
    assert captured.err.count("\n") == 1 and "broken.mid" in captured.err
    row = captured.out.splitlines()[1]
    assert row.startswith(f"{tmp_path} (4 files, mean±std)")
    assert main(["metrics", "--json", str(tmp_path), str(SAMPLE[0])]) == 1
    folder, single = json.loads(capsys.readouterr().out)
    values = [summarize(deepsym.read_midi(p)) for p in SAMPLE[:4]]
    assert folder["files"] == 4
    assert folder["mean"]["pitch_range"] == pytest.approx(np.mean([v["pitch_range"]
                                                                   for v in values]))
    assert folder["std"]["polyphony"] == pytest.approx(np.std([v["polyphony"] for v in values]))
    assert single["file"] == str(SAMPLE[0])
    assert single["metrics"] == {k: None if math.isnan(v) else pytest.approx(v)
                                 for k, v in values[0].items()}


def test_cli_bad_and_missing_files_get_one_line_each(tmp_path, capsys):
    missing = tmp_path / "missing.mid"
    empty_dir = tmp_path / "nothing"
    empty_dir.mkdir()
    assert main(["metrics", str(missing), str(empty_dir), str(SAMPLE[0])]) == 1
    captured = capsys.readouterr()
    assert captured.err.splitlines() == [
        f"deepsym: error: {missing}: cannot read: No such file or directory",
        f"deepsym: error: no MIDI files (.mid, .midi) found in {empty_dir}"]
    assert str(SAMPLE[0]) in captured.out


def test_cli_reports_damage_as_a_warning_and_still_measures(capsys):
    damaged = suite() / "test-corrupt-file-missing-byte.mid"
    assert main(["metrics", str(damaged)]) == 0
    captured = capsys.readouterr()
    assert captured.err.startswith(f"deepsym: warning: {damaged}: ")
    assert captured.err.count("\n") == 1
    assert captured.out.splitlines()[1].startswith(str(damaged))
