"""Piano-rolls: the kernel against its twin, rolls against a plain-Python reference and
against pretty_midi and pypianoroll on real files, round trips, pedal, limits, bad input.

Every real file is music21's corpus (``music21_corpus.real_midi_files``) plus the
shared edge-case suite's readable files. Where a peer's convention differs from
deepsym's, the difference is written down in ``deepsym.pianoroll``'s docstring and
checked here to be exactly that difference.
"""
from __future__ import annotations

import io
import sys
import tracemalloc
import warnings
from functools import cache
from pathlib import Path

import numpy as np
import pytest
from edge_suite_files import SUITE, suite
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from music21_corpus import real_midi_files

import deepsym
from deepsym import DeepsymError, Score, Track, from_pianoroll, pianoroll, read_midi, write_midi
from deepsym._ext import roll, roll_py
from deepsym._ext.layout import CONTROL_DTYPE, NOTE_DTYPE, TEMPO_DTYPE
from deepsym.pianoroll import MAX_CELLS, PIANO_RANGE, PianorollError, PianorollWarning

PIANOROLL_MODULE = sys.modules["deepsym.pianoroll"]  # deepsym.pianoroll is the function
MODES = ("binary", "velocity", "onset_sustain")
# corpus() reads about 350 of music21's files, and 70 of the suite's where it is
READ = 400 if SUITE.is_dir() else 340
FUZZ = settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.too_slow])


@cache
def corpus() -> tuple[tuple[str, Path, Score], ...]:
    """(name, path, score) of every real file deepsym reads: music21's, and the suite's
    where it is."""
    out = []
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        for path in list(real_midi_files()) + sorted(SUITE.glob("*.mid")):
            try:
                out.append((path.name, path, read_midi(path)))
            except DeepsymError:
                continue  # the suite's deliberately unreadable files
    assert len(out) > READ
    return tuple(out)


def notes(*rows: tuple[int, int, int, int]) -> np.ndarray:
    return np.array(list(rows), dtype=NOTE_DTYPE)


def with_kernel(kernel, function, *args, **kwargs):
    """Call ``function`` with deepsym.pianoroll using ``kernel`` (the compiled one or its twin)."""
    saved = PIANOROLL_MODULE._kernel
    PIANOROLL_MODULE._kernel = kernel
    try:
        return function(*args, **kwargs)
    finally:
        PIANOROLL_MODULE._kernel = saved


# -- a plain-Python reference, note by note with Python integers ------------------------------

def reference_roll(score: Score, resolution: int, mode: str, low: int = 0, high: int = 128,
                   stack: bool = False) -> np.ndarray:
    """The documented conventions, written the slow obvious way (beat unit, no pedal)."""
    def step(tick: int) -> int:
        return tick * resolution // score.ticks_per_beat

    spans = [[(step(int(n["start"])), step(int(n["start"]) + int(n["duration"])), int(n["pitch"]),
               int(n["velocity"])) for n in t.notes] for t in score.tracks]
    length = max((max(e, s + 1) for track in spans for s, e, _, _ in track), default=0)
    rows = len(spans) if stack else 1
    out = np.zeros((rows, length, high - low, 2), np.uint8)
    for row, track in enumerate(spans):
        for s, e, pitch, velocity in track:
            if not low <= pitch < high:
                continue
            cells = out[row if stack else 0, :, pitch - low]
            if mode == "binary":
                cells[s:e, 0] = 1
            elif mode == "velocity":
                cells[s:e, 0] = np.maximum(cells[s:e, 0], velocity)
            else:
                cells[s, 0] = 1
                cells[s:e, 1] = 1
    out = out if mode == "onset_sustain" else out[..., 0]
    out = out.astype(np.uint8 if mode == "velocity" else bool)
    return out if stack else out[0]


# -- the kernel and its twin --------------------------------------------------------------------

@st.composite
def kernel_case(draw):
    mode = draw(st.sampled_from([roll.BINARY, roll.VELOCITY, roll.ONSET_SUSTAIN]))
    rows = draw(st.integers(1, 3))
    steps = draw(st.integers(0, 40))
    columns = draw(st.integers(1, 20))
    lowest = draw(st.integers(0, 100))
    n = draw(st.integers(0, 60))
    start = draw(st.lists(st.integers(-2, 45), min_size=n, max_size=n))
    length = draw(st.lists(st.integers(-1, 12), min_size=n, max_size=n))
    pitch = draw(st.lists(st.integers(0, 255), min_size=n, max_size=n))
    velocity = draw(st.lists(st.integers(0, 127), min_size=n, max_size=n))
    track = draw(st.none() | st.lists(st.integers(0, rows), min_size=n, max_size=n))
    arrays = (None if track is None else np.array(track, np.int32),
              np.array(start, np.int64), np.array(start, np.int64) + np.array(length, np.int64),
              np.array(pitch, np.uint8), np.array(velocity, np.uint8))
    channels = 2 if mode == roll.ONSET_SUSTAIN else 1
    return (rows, steps, columns, channels), arrays, lowest, mode


@FUZZ
@given(kernel_case())
def test_kernel_matches_twin_on_random_notes(case) -> None:
    shape, (track, start, end, pitch, velocity), lowest, mode = case
    before = np.random.default_rng(len(start)).integers(0, 256, shape, np.uint8)
    out, twin_out = before.copy(), before.copy()  # every cell must be written
    result = roll.fill(out, track, start, end, pitch, velocity, lowest, mode)
    twin = roll_py.fill(twin_out, track, start, end, pitch, velocity, lowest, mode)
    assert result == twin
    assert np.array_equal(out, twin_out)
    if result < 0:  # an invalid note: nothing written
        assert np.array_equal(out, before)
        i = -result - 1
        row = 0 if track is None else track[i]
        assert start[i] < 0 or end[i] < start[i] or row >= shape[0]


@st.composite
def beat_case(draw: st.DrawFn) -> tuple:
    """Notes as NOTE_DTYPE records in ticks, split into track rows, with optional pedal
    ends, for ``fill_beats`` and ``beat_length``."""
    counts = draw(st.lists(st.integers(0, 6), min_size=1, max_size=3))
    n = sum(counts)
    notes = np.zeros(n, NOTE_DTYPE)
    notes["start"] = draw(st.lists(st.integers(-50, 4000), min_size=n, max_size=n))
    notes["duration"] = draw(st.lists(st.integers(-5, 3000), min_size=n, max_size=n))
    notes["pitch"] = draw(st.lists(st.integers(0, 127), min_size=n, max_size=n))
    notes["velocity"] = draw(st.lists(st.integers(1, 127), min_size=n, max_size=n))
    end = None
    if draw(st.booleans()):
        end = notes["start"].astype(np.int64) + np.array(draw(st.lists(
            st.integers(-5, 5000), min_size=n, max_size=n)), np.int64)
    resolution = draw(st.sampled_from([1, 4, 7, 24, 96]))
    tpb = draw(st.sampled_from([24, 96, 100, 480, 10080]))
    mode = draw(st.sampled_from([roll.BINARY, roll.VELOCITY, roll.ONSET_SUSTAIN]))
    return notes.tobytes(), counts, end, resolution, tpb, draw(st.integers(0, 60)), mode


@FUZZ
@given(beat_case())
def test_beat_kernels_match_their_twins_on_random_notes(case) -> None:
    records, counts, end, resolution, tpb, lowest, mode = case
    length = roll.beat_length(records, end, resolution, tpb)
    assert length == roll_py.beat_length(records, end, resolution, tpb)
    shape = (len(counts), min(length, 400), 128 - lowest, 2 if mode == roll.ONSET_SUSTAIN else 1)
    out = np.full(shape, 7, np.uint8)
    twin_out = out.copy()
    result = roll.fill_beats(out, records, counts, end, resolution, tpb, lowest, mode)
    assert result == roll_py.fill_beats(twin_out, records, counts, end, resolution, tpb,
                                        lowest, mode)
    assert np.array_equal(out, twin_out)


def test_kernel_rejects_mismatched_arrays() -> None:
    one, two = np.zeros(1, np.int64), np.zeros(2, np.int64)
    p = np.zeros(1, np.uint8)
    for fill in (roll.fill, roll_py.fill):
        with pytest.raises(ValueError, match="same length"):
            fill(np.zeros((1, 4, 4, 1), np.uint8), None, one, two, p, p, 0, roll.BINARY)
        with pytest.raises(ValueError, match="channel"):
            fill(np.zeros((1, 4, 4, 1), np.uint8), None, one, one, p, p, 0, roll.ONSET_SUSTAIN)


@pytest.mark.parametrize("mode", MODES)
def test_kernel_matches_twin_on_every_real_file(mode: str) -> None:
    for name, _, score in corpus():
        for kwargs in ({"resolution": 12, "stack": True}, {"resolution": 50, "unit": "second"},
                       {"resolution": 4, "pitch_range": PIANO_RANGE, "pedal": True,
                        "out_of_range": "ignore"}):
            compiled = pianoroll(score, mode=mode, **kwargs)
            twin = with_kernel(roll_py, pianoroll, score, mode=mode, **kwargs)
            assert compiled.dtype == twin.dtype and np.array_equal(compiled, twin), (name, kwargs)


# -- the documented conventions, against the reference ----------------------------------------

@pytest.mark.parametrize("mode", MODES)
def test_every_real_file_matches_the_reference(mode: str) -> None:
    for name, _, score in corpus():
        for resolution, stack, (low, high) in ((24, False, (0, 128)), (5, True, PIANO_RANGE)):
            ours = pianoroll(score, resolution, mode=mode, stack=stack, pitch_range=(low, high),
                             out_of_range="ignore")
            expected = reference_roll(score, resolution, mode, low, high, stack)
            assert ours.dtype == expected.dtype, name
            assert np.array_equal(ours, expected), (name, resolution, stack)


@st.composite
def random_score(draw, grid: int = 1, max_tracks: int = 3):
    """A score of random notes on a grid of ``grid`` ticks, at a random resolution."""
    tpb = draw(st.sampled_from([1, 3, 4, 96, 100, 480])) * grid
    tracks = []
    for _ in range(draw(st.integers(0, max_tracks))):
        n = draw(st.integers(0, 25))
        rows = [(draw(st.integers(0, 40)) * grid, draw(st.integers(0, 12)) * grid,
                 draw(st.integers(0, 127)), draw(st.integers(1, 127))) for _ in range(n)]
        tracks.append(Track(notes=np.sort(notes(*rows), order=["start", "pitch"])))
    return Score(ticks_per_beat=tpb, tracks=tracks)


@FUZZ
@given(random_score(), st.integers(1, 48), st.sampled_from(MODES), st.booleans())
def test_random_scores_match_the_reference(score, resolution, mode, stack) -> None:
    assert np.array_equal(pianoroll(score, resolution, mode=mode, stack=stack),
                          reference_roll(score, resolution, mode, stack=stack))


def test_conventions_on_a_small_example() -> None:
    track = Track(notes=notes((0, 4, 60, 100), (4, 4, 60, 90), (2, 4, 60, 120), (9, 0, 62, 70),
                              (3, 1, 64, 10)))
    binary = pianoroll(track, 2, ticks_per_beat=2, pitch_range=(60, 65))
    assert binary.shape == (10, 5) and binary.dtype == bool
    assert binary[:, 0].tolist() == [True] * 8 + [False] * 2
    assert not binary[:, 2].any()  # the zero-length note covers nothing
    assert binary[:, 4].tolist() == [False] * 3 + [True] + [False] * 6
    velocity = pianoroll(track, 2, ticks_per_beat=2, pitch_range=(60, 65), mode="velocity")
    assert velocity[:, 0].tolist() == [100, 100, 120, 120, 120, 120, 90, 90, 0, 0]  # the max
    both = pianoroll(track, 2, ticks_per_beat=2, pitch_range=(60, 65), mode="onset_sustain")
    assert both.shape == (10, 5, 2)
    assert np.flatnonzero(both[:, 0, 0]).tolist() == [0, 2, 4]
    assert np.array_equal(both[..., 1], binary)
    assert np.flatnonzero(both[:, 2, 0]).tolist() == [9]  # the zero-length note's onset
    # floor(tick * resolution / ticks_per_beat): a note shorter than a step may vanish
    short = Track(notes=notes((1, 2, 60, 90)))  # steps floor(1/4) = 0 to floor(3/4) = 0
    coarse = pianoroll(short, 1, ticks_per_beat=4, mode="onset_sustain")
    assert coarse.shape == (1, 128, 2) and coarse[0, 60, 0] and not coarse[..., 1].any()


def test_stacked_rolls_combine_to_the_merged_roll() -> None:
    for name, _, score in corpus()[::7]:
        for mode, combine in (("binary", np.any), ("velocity", np.max)):
            stacked = pianoroll(score, 8, mode=mode, stack=True)
            merged = pianoroll(score, 8, mode=mode)
            assert stacked.shape == (len(score.tracks), *merged.shape), name
            if len(score.tracks):
                assert np.array_equal(combine(stacked, axis=0), merged), name


def test_length_pads_and_cuts() -> None:
    track = Track(notes=notes((0, 8, 60, 100), (6, 4, 62, 100)))
    full = pianoroll(track, 1, ticks_per_beat=1)
    assert full.shape == (10, 128)
    assert np.array_equal(pianoroll(track, 1, ticks_per_beat=1, length=14)[:10], full)
    assert not pianoroll(track, 1, ticks_per_beat=1, length=14)[10:].any()
    assert np.array_equal(pianoroll(track, 1, ticks_per_beat=1, length=7), full[:7])
    cut = pianoroll(track, 1, ticks_per_beat=1, length=6, mode="onset_sustain")
    assert not cut[..., 62, :].any()  # the note starting at the cut is left out


def test_smpte_scores_count_half_seconds_as_beats() -> None:
    score = Score(ticks_per_beat=96, smpte=(25, 40),  # 1000 ticks per second
                  tracks=[Track(notes=notes((500, 1000, 60, 90)))])
    assert np.flatnonzero(pianoroll(score, 2)[:, 60]).tolist() == [2, 3, 4, 5]
    assert np.flatnonzero(pianoroll(score, 10, unit="second")[:, 60]).tolist() == list(
        range(5, 15))


def test_seconds_follow_the_tempo_map() -> None:
    tempos = np.array([(0, 120.0), (960, 60.0)], dtype=TEMPO_DTYPE)  # beat 0.5 s, then 1 s
    score = Score(ticks_per_beat=480, tempos=tempos,
                  tracks=[Track(notes=notes((480, 960, 60, 90)))])  # 0.5 s to 2 s
    assert np.flatnonzero(pianoroll(score, 4, unit="second")[:, 60]).tolist() == [2, 3, 4, 5,
                                                                                   6, 7]
    assert np.flatnonzero(pianoroll(score, 2)[:, 60]).tolist() == [2, 3, 4, 5]


# -- pretty_midi --------------------------------------------------------------------------------

def pretty_with_our_notes(source: Path | io.BytesIO, score: Score):
    """pretty_midi's object of a file (its own tempo map) holding deepsym's notes and CCs.

    pretty_midi pairs note-ons and note-offs differently on overlapping notes of one
    pitch (a note-off ends them all) and drops notes never ended, so it is given
    deepsym's notes; their times come from pretty_midi's own tick-to-time map.
    """
    import pretty_midi

    pm = pretty_midi.PrettyMIDI(source if isinstance(source, io.BytesIO) else str(source))
    pm.instruments = []
    for track in score.tracks:
        instrument = pretty_midi.Instrument(track.program, track.is_drum, track.name)
        for start, duration, pitch, velocity in track.notes.tolist():
            instrument.notes.append(pretty_midi.Note(
                velocity, pitch, pm.tick_to_time(start), pm.tick_to_time(start + duration)))
        for tick, number, value in track.controls.tolist():
            instrument.control_changes.append(
                pretty_midi.ControlChange(number, value, pm.tick_to_time(tick)))
        pm.instruments.append(instrument)
    return pm


def common(ours: np.ndarray, theirs: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Both rolls over their common steps, after checking the rest of each is silent."""
    n = min(len(ours), len(theirs))
    assert not ours[n:].any() and not theirs[n:].any()
    return ours[:n], theirs[:n]


@cache
def pretty_files() -> tuple[tuple[str, Path, Score], ...]:
    """Real files pretty_midi reads, with no drums (pretty_midi has no roll for drums)."""
    import pretty_midi

    out = []
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        for name, path, score in corpus():
            if score.smpte is not None or any(t.is_drum for t in score.tracks):
                continue
            try:
                pretty_midi.PrettyMIDI(str(path))
            except Exception:  # a few damaged suite files
                continue
            out.append((name, path, score))
    return tuple(out)


def test_seconds_mode_matches_pretty_midi_on_real_files() -> None:
    """Binary equal everywhere; velocity equal where one note sounds, pretty_midi's sum
    where several notes of a pitch overlap (deepsym keeps the largest)."""
    checked, overlaps = 0, 0
    for name, path, score in pretty_files():
        pm = pretty_with_our_notes(path, score)
        for fs in (100, 37.5):
            theirs = pm.get_piano_roll(fs=fs, pedal_threshold=None).T
            for instrument in pm.instruments:
                for note in instrument.notes:
                    note.velocity = 1
            count = pm.get_piano_roll(fs=fs, pedal_threshold=None).T
            for instrument, track in zip(pm.instruments, score.tracks, strict=True):
                for note, velocity in zip(instrument.notes, track.notes["velocity"].tolist(),
                                          strict=True):
                    note.velocity = velocity
            binary, their_binary = common(pianoroll(score, fs, unit="second"), theirs > 0)
            assert np.array_equal(binary, their_binary), (name, fs)
            velocity, theirs = common(pianoroll(score, fs, unit="second", mode="velocity"),
                                      theirs)
            count = count[:len(theirs)]
            alone = count <= 1
            assert np.array_equal(velocity[alone], theirs[alone]), (name, fs)
            several = ~alone
            assert np.all(velocity[several] > 0) and np.all(velocity[several] <= theirs[several])
            overlaps += int(several.sum())
            checked += 1
    assert checked > 2 * READ and overlaps > 0  # the sum-vs-max difference does occur


def test_seconds_mode_matches_pretty_midi_reading_the_file_itself() -> None:
    """Without note replacement, on every file where both readers find the same notes
    and that bends no pitch (pretty_midi shifts the rows under a bend; deepsym's
    roll ignores bends)."""
    import pretty_midi

    same = 0
    for name, path, score in pretty_files():
        pm = pretty_midi.PrettyMIDI(str(path))
        if any(b.pitch for i in pm.instruments for b in i.pitch_bends):
            continue
        theirs_notes = sorted((n.pitch, n.start, n.end) for i in pm.instruments
                              for n in i.notes)
        ours_notes = sorted((p, pm.tick_to_time(s), pm.tick_to_time(s + d))
                            for t in score.tracks for s, d, p, _ in t.notes.tolist())
        if theirs_notes != ours_notes:
            continue
        same += 1
        ours, theirs = common(pianoroll(score, 100, unit="second"),
                              pm.get_piano_roll(fs=100, pedal_threshold=None).T > 0)
        assert np.array_equal(ours, theirs), name
    assert same > READ - 50


def test_pedal_matches_pretty_midi_on_the_damper_file() -> None:
    import pretty_midi

    path = suite() / "test-control-40-damper.mid"
    score = read_midi(path)
    assert (score.tracks[0].controls["number"] == 64).any()
    pm = pretty_midi.PrettyMIDI(str(path))
    for fs in (100, 16):
        pedalled, theirs = common(pianoroll(score, fs, unit="second", pedal=True),
                                  pm.get_piano_roll(fs=fs, pedal_threshold=64).T > 0)
        assert np.array_equal(pedalled, theirs)
        plain = pianoroll(score, fs, unit="second")
        assert pedalled.sum() > plain[:len(pedalled)].sum()  # the pedal did something


@st.composite
def pedalled_track(draw):
    """Notes and a pedal that is released at the end, on a grid of 64 ticks."""
    rows = [(draw(st.integers(0, 30)) * 64, draw(st.integers(1, 6)) * 64,
             draw(st.integers(58, 62)), draw(st.integers(1, 127)))
            for _ in range(draw(st.integers(1, 20)))]
    ticks = sorted(draw(st.lists(st.integers(0, 40), min_size=1, max_size=8)))
    values = [draw(st.integers(0, 127)) for _ in ticks[:-1]] + [0]
    controls = np.array([(t * 64, 64, v) for t, v in zip(ticks, values, strict=True)],
                        CONTROL_DTYPE)
    return Track(notes=np.sort(notes(*rows), order=["start", "pitch"]), controls=controls)


@FUZZ
@given(pedalled_track())
def test_pedal_matches_pretty_midi_on_random_tracks(track) -> None:
    """On a grid of whole frames, exact in binary floating point (120 qpm, 512 ticks per
    beat: 64 ticks are 1/16 s), so that pretty_midi's frames of pedal events and note
    ends keep their order."""
    score = Score(ticks_per_beat=512, tracks=[track])
    pm = pretty_with_our_notes(io.BytesIO(write_midi(score)), score)
    ours, theirs = common(pianoroll(score, 16, unit="second", pedal=True),
                          pm.get_piano_roll(fs=16, pedal_threshold=64).T > 0)
    assert np.array_equal(ours, theirs)


def test_pedal_rules() -> None:
    pedal = np.array([(2, 64, 100), (10, 64, 0)], CONTROL_DTYPE)
    track = Track(notes=notes((0, 3, 60, 90), (5, 1, 60, 80), (1, 1, 62, 70), (0, 2, 64, 60),
                              (4, 12, 65, 50)), controls=pedal)
    rolled = pianoroll(track, 1, ticks_per_beat=1, pedal=True, mode="onset_sustain")
    sounding = {p: np.flatnonzero(rolled[:, p, 1]).tolist() for p in (60, 62, 64, 65)}
    assert sounding[60] == list(range(10))  # held to the next onset, then to the release
    assert np.flatnonzero(rolled[:, 60, 0]).tolist() == [0, 5]  # still two notes
    assert sounding[62] == [1]  # released before the pedal went down
    assert sounding[64] == [0, 1]  # released at the same tick as the press: not held
    assert sounding[65] == list(range(4, 16))  # released after the pedal: unchanged


def test_pedal_never_released_lasts_to_the_track_end() -> None:
    """pretty_midi ignores a pedal that is never released; deepsym releases it at the end."""
    import pretty_midi

    track = Track(notes=notes((0, 480, 60, 90), (480, 1920, 64, 90)),
                  controls=np.array([(240, 64, 127)], CONTROL_DTYPE))
    score = Score(ticks_per_beat=480, tracks=[track])
    ours = pianoroll(score, 4, unit="second", pedal=True)
    assert np.flatnonzero(ours[:, 60]).tolist() == list(range(10))  # to the end, 2.5 s
    pm = pretty_midi.PrettyMIDI(io.BytesIO(write_midi(score)))
    theirs = pm.get_piano_roll(fs=4, pedal_threshold=64).T
    assert np.flatnonzero(theirs[:, 60]).tolist() == [0, 1]


def test_pretty_midi_has_no_roll_for_drums() -> None:
    import pretty_midi

    path = suite() / "test-all-gm-percussion.mid"
    score = read_midi(path)
    assert all(t.is_drum for t in score.tracks) and score.n_notes
    assert not pretty_midi.PrettyMIDI(str(path)).get_piano_roll(fs=10).any()
    assert pianoroll(score, 10, unit="second").any()


# -- pypianoroll --------------------------------------------------------------------------------

def test_beat_mode_matches_pypianoroll_on_real_files() -> None:
    """Velocity rolls at 24 steps per beat against ``from_pretty_midi(mode="sum")``
    (which, despite the name, keeps the largest velocity), on every file where
    pretty_midi's beats are the score's beats (it counts repeated time signatures).

    Two documented differences, and only these: pypianoroll clears the step before an
    onset that follows a sounding step of the same pitch, and it sometimes loses a
    note's last step (it floors the offset computed in seconds, and shortens a note
    whose end step is taken).
    """
    import pypianoroll

    checked = lost = cells = 0
    for name, path, score in pretty_files():
        pm = pretty_with_our_notes(path, score)
        if not pm.time_signature_changes:
            continue
        first = {}
        for ts in pm.time_signature_changes:
            first.setdefault(ts.time, ts)
        pm.time_signature_changes = list(first.values())
        beats = pm.get_beats(pm.time_signature_changes[0].time)
        if not np.allclose(beats, score.to_seconds(np.arange(len(beats)) * score.ticks_per_beat),
                           rtol=0, atol=1e-9):
            continue
        theirs = np.stack([t.pianoroll for t in
                           pypianoroll.from_pretty_midi(pm, resolution=24, mode="sum").tracks])
        ours = pianoroll(score, 24, mode="velocity", stack=True)
        both = pianoroll(score, 24, mode="onset_sustain", stack=True)
        onset_next = np.zeros_like(both[..., 0])
        onset_next[:, :-1] = both[:, 1:, :, 0]
        sounding_next = np.zeros_like(onset_next)
        sounding_next[:, :-1] = both[:, 1:, :, 1]
        expected = np.where(onset_next & both[..., 1], 0, ours)
        last_step = both[..., 1] & (~sounding_next | onset_next)
        ours, theirs = common(expected.swapaxes(0, 1), theirs.swapaxes(0, 1))
        last_step = last_step.swapaxes(0, 1)[:len(ours)]
        sounding = theirs > 0
        assert np.array_equal(ours[sounding], theirs[sounding]), name
        missing = (ours > 0) & ~sounding
        assert not (missing & ~last_step).any(), name
        checked += 1
        lost += int(missing.sum())
        cells += int((ours > 0).sum())
    assert checked > 200
    assert lost < 0.02 * cells


def test_pypianoroll_rounds_onsets_where_deepsym_floors() -> None:
    import pretty_midi
    import pypianoroll

    # 120 qpm, 480 ticks per beat; at 4 steps per beat a step is 120 ticks
    track = Track(notes=notes((72, 600, 60, 90)))  # starts 0.6 of a step in
    score = Score(ticks_per_beat=480, tracks=[track])
    pm = pretty_midi.PrettyMIDI(io.BytesIO(write_midi(score)))
    theirs = pypianoroll.from_pretty_midi(pm, resolution=4, algorithm="custom",
                                          first_beat_time=0.0).tracks[0].pianoroll
    assert np.flatnonzero(theirs[:, 60]).tolist() == [1, 2, 3, 4]  # round(0.6), floor(5.6)
    assert np.flatnonzero(pianoroll(score, 4)[:, 60]).tolist() == [0, 1, 2, 3, 4]  # both floor


# -- from_pianoroll and round trips ----------------------------------------------------------

def test_from_pianoroll_splits_and_merges() -> None:
    roll = np.zeros((8, 3), np.uint8)
    roll[0:3, 0] = 80
    roll[3:5, 0] = 80  # same velocity, touching: one note
    roll[5:7, 0] = 90  # a change of value: a new note
    roll[2:4, 2] = 1
    track = from_pianoroll(roll, "velocity", pitch_range=(60, 63))
    assert track.notes.tolist() == [(0, 5, 60, 80), (2, 2, 62, 1), (5, 2, 60, 90)]
    binary = from_pianoroll(roll > 0, pitch_range=(60, 63), velocity=100)
    assert binary.notes.tolist() == [(0, 7, 60, 100), (2, 2, 62, 100)]
    both = np.zeros((8, 3, 2), bool)
    both[0:4, 1, 1] = True
    both[[0, 2], 1, 0] = True  # an onset inside a run splits it
    both[6, 0, 0] = True  # an onset on a silent step: a zero-length note
    split = from_pianoroll(both, "onset_sustain", pitch_range=(60, 63), velocity=50)
    assert split.notes.tolist() == [(0, 2, 61, 50), (2, 2, 61, 50), (6, 0, 60, 50)]


def test_from_pianoroll_steps_to_ticks() -> None:
    roll = np.zeros((6, 1), bool)
    roll[1:4, 0] = True
    assert from_pianoroll(roll, resolution=4, ticks_per_beat=480,
                          pitch_range=(60, 61)).notes.tolist() == [(120, 360, 60, 64)]
    # 3 steps per beat in 10 ticks: step k starts at tick ceil(10 k / 3)
    assert from_pianoroll(roll, resolution=3, ticks_per_beat=10,
                          pitch_range=(60, 61)).notes.tolist() == [(4, 10, 60, 64)]
    stacked = from_pianoroll(np.stack([roll, ~roll]), pitch_range=(60, 61))
    assert [t.notes.tolist() for t in stacked] == [[(1, 3, 60, 64)],
                                                   [(0, 1, 60, 64), (4, 2, 60, 64)]]


@st.composite
def any_roll(draw):
    mode = draw(st.sampled_from(MODES))
    steps, pitches = draw(st.integers(0, 30)), draw(st.integers(1, 12))
    shape = (steps, pitches, 2) if mode == "onset_sustain" else (steps, pitches)
    size = int(np.prod(shape))
    if mode == "velocity":
        cells = draw(st.lists(st.sampled_from([0, 0, 0, 1, 64, 127]), min_size=size,
                              max_size=size))
        return mode, np.array(cells, np.uint8).reshape(shape)
    roll = np.array(draw(st.lists(st.booleans(), min_size=size, max_size=size)),
                    bool).reshape(shape)
    if mode == "onset_sustain":  # a run of sounding steps begins with an onset
        sounding = roll[..., 1]
        before = np.zeros_like(sounding)
        before[1:] = sounding[:-1]
        roll[..., 0] |= sounding & ~before
    return mode, roll


@FUZZ
@given(any_roll(), st.sampled_from([(1, 1), (4, 4), (4, 480), (3, 10), (24, 25)]),
       st.integers(0, 100))
def test_roll_to_notes_to_roll_is_exact(case, timing, low) -> None:
    mode, roll = case
    resolution, tpb = timing
    high = low + roll.shape[1]
    if high > 128:
        return
    track = from_pianoroll(roll, mode, resolution=resolution, ticks_per_beat=tpb,
                           pitch_range=(low, high))
    again = pianoroll(track, resolution, ticks_per_beat=tpb, mode=mode, pitch_range=(low, high),
                      length=roll.shape[0])
    assert again.dtype == (np.uint8 if mode == "velocity" else bool)
    assert np.array_equal(again, roll)


@st.composite
def grid_notes(draw, mode: str):
    """Notes on a grid of steps that a roll keeps apart: no overlaps in a pitch, and no
    touching notes where they would merge (binary: any; velocity: of equal velocity)."""
    min_gap = 1 if mode == "binary" else 0
    min_length = 0 if mode == "onset_sustain" else 1
    out = []
    for pitch in draw(st.sets(st.integers(0, 127), max_size=6)):
        step, previous = draw(st.integers(0, 4)), None
        for _ in range(draw(st.integers(0, 5))):
            length = draw(st.integers(min_length, 5))
            velocity = draw(st.integers(1, 127)) if mode == "velocity" else 64
            if mode == "velocity" and previous == (step, velocity):
                velocity = velocity % 127 + 1
            out.append((step, length, pitch, velocity))
            previous = (step + length, velocity)
            step += max(length, 1) + draw(st.integers(min_gap, 3))
    return out


@FUZZ
@given(st.sampled_from(MODES).flatmap(lambda m: st.tuples(st.just(m), grid_notes(m))),
       st.sampled_from([(1, 1), (4, 480), (3, 10)]))
def test_notes_to_roll_to_notes_is_exact(case, timing) -> None:
    mode, rows = case
    resolution, tpb = timing
    from_pianoroll_ticks = PIANOROLL_MODULE.ceil_ticks
    ticked = [(int(from_pianoroll_ticks(s, tpb, resolution)),
               int(from_pianoroll_ticks(s + d, tpb, resolution) -
                   from_pianoroll_ticks(s, tpb, resolution)), p, v) for s, d, p, v in rows]
    track = Track(notes=np.sort(notes(*ticked), order=["start", "pitch"]) if ticked else None)
    back = from_pianoroll(pianoroll(track, resolution, ticks_per_beat=tpb, mode=mode), mode,
                          resolution=resolution, ticks_per_beat=tpb)
    assert back == track


def test_real_files_round_trip_through_rolls() -> None:
    for name, _, score in corpus():
        for mode in MODES:
            rolled = pianoroll(score, 12, mode=mode, stack=True)
            tracks = from_pianoroll(rolled, mode, resolution=12, ticks_per_beat=480)
            again = pianoroll(Score(ticks_per_beat=480, tracks=tracks), 12, mode=mode, stack=True,
                              length=rolled.shape[1])
            assert np.array_equal(again, rolled), (name, mode)


# -- the size limit -------------------------------------------------------------------------------

def test_a_huge_tick_span_is_refused_before_allocating() -> None:
    """A note 2**28 ticks out (the deltas of a real file in the wild), read from bytes."""
    score = Score(ticks_per_beat=96, tracks=[Track(notes=notes((0, 96, 60, 90),
                                                              (2**28 - 1, 96, 62, 90)))])
    score = read_midi(write_midi(score))
    steps = (2**28 - 1 + 96) * 24 // 96
    tracemalloc.start()
    try:
        with pytest.raises(PianorollError, match=rf"shape \({steps}, 128\).*max_cells") as info:
            pianoroll(score, 24)
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert peak < 1_000_000  # no roll was allocated, not even in part
    assert isinstance(info.value, DeepsymError) and isinstance(info.value, ValueError)
    assert pianoroll(score, 24, length=100).shape == (100, 128)  # a window of it is fine


def test_max_cells_is_the_limit_and_can_be_raised() -> None:
    track = Track(notes=notes((0, 10, 60, 90)))
    cells = 10 * 128 * 2
    assert pianoroll(track, 1, ticks_per_beat=1, mode="onset_sustain", max_cells=cells).shape \
        == (10, 128, 2)
    with pytest.raises(PianorollError, match=r"\(10, 128, 2\)"):
        pianoroll(track, 1, ticks_per_beat=1, mode="onset_sustain", max_cells=cells - 1)
    with pytest.raises(PianorollError, match=r"\(1, 10, 128\)"):
        pianoroll(Score(tracks=[track]), 480, stack=True, max_cells=10 * 128 - 1)
    assert MAX_CELLS == 2**31


# -- bad and edge input ---------------------------------------------------------------------------

def test_empty_scores_give_empty_rolls() -> None:
    assert pianoroll(Score(), 4).shape == (0, 128)
    assert pianoroll(Score(), 4, stack=True).shape == (0, 0, 128)
    assert pianoroll(Score(tracks=[Track(), Track()]), 4, stack=True, mode="onset_sustain",
                     pitch_range=PIANO_RANGE).shape == (2, 0, 88, 2)
    assert pianoroll(Score(tracks=[Track()]), 4, length=5).shape == (5, 128)
    assert from_pianoroll(np.zeros((0, 128), bool)) == Track()
    empty = read_midi(suite() / "test-empty.mid")
    assert pianoroll(empty, 100, unit="second", pedal=True).shape == (0, 128)


def test_a_single_note() -> None:
    score = Score(ticks_per_beat=4, tracks=[Track(notes=notes((4, 2, 69, 100)))])
    rolled = pianoroll(score, 4, pitch_range=PIANO_RANGE, mode="velocity")
    assert rolled.shape == (6, 88)
    assert np.argwhere(rolled).tolist() == [[4, 48], [5, 48]] and rolled[4, 48] == 100
    assert from_pianoroll(rolled, "velocity", resolution=4, ticks_per_beat=4,
                          pitch_range=PIANO_RANGE) == score.tracks[0]


def test_notes_outside_the_pitch_range() -> None:
    track = Track(notes=notes((0, 2, 10, 90), (0, 2, 60, 90), (1, 2, 120, 90)))
    with pytest.warns(PianorollWarning, match=r"2 note\(s\) lie outside pitch_range \(21, 109\)"):
        rolled = pianoroll(track, 1, ticks_per_beat=1, pitch_range=PIANO_RANGE)
    assert np.argwhere(rolled).tolist() == [[0, 39], [1, 39]]
    assert rolled.shape == (3, 88)  # the length still counts every note
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        assert np.array_equal(pianoroll(track, 1, ticks_per_beat=1, pitch_range=PIANO_RANGE,
                                        out_of_range="ignore"), rolled)
    with pytest.raises(PianorollError, match="outside pitch_range"):
        pianoroll(track, 1, ticks_per_beat=1, pitch_range=PIANO_RANGE, out_of_range="raise")
    weird = Track(notes=notes((0, 1, 200, 90)))  # a pitch byte no MIDI file holds
    with pytest.warns(PianorollWarning):
        assert not pianoroll(weird, 1, ticks_per_beat=1).any()


BAD_OPTIONS = [
    ({"resolution": 0}, "resolution"),
    ({"resolution": -4}, "resolution"),
    ({"resolution": 2.5}, "resolution"),
    ({"resolution": True}, "resolution"),
    ({"resolution": 2**40}, "resolution"),
    ({"resolution": 0, "unit": "second"}, "frames per second"),
    ({"resolution": float("nan"), "unit": "second"}, "frames per second"),
    ({"resolution": float("inf"), "unit": "second"}, "frames per second"),
    ({"resolution": "24"}, "resolution"),
    ({"mode": "piano"}, "mode must be one of 'binary', 'velocity', 'onset_sustain'"),
    ({"unit": "bar"}, "unit must be one of"),
    ({"out_of_range": "clip"}, "out_of_range must be one of"),
    ({"pitch_range": (60, 60)}, "pitch_range"),
    ({"pitch_range": (-1, 100)}, "pitch_range"),
    ({"pitch_range": (0, 129)}, "pitch_range"),
    ({"pitch_range": 88}, "pitch_range"),
    ({"pitch_range": (0, 64, 128)}, "pitch_range"),
    ({"length": -1}, "length"),
    ({"max_cells": -5}, "max_cells"),
    ({"ticks_per_beat": 480}, "only for a Track"),
]


@pytest.mark.parametrize(("options", "message"), BAD_OPTIONS,
                         ids=[f"{k}={v!r}" for o, _ in BAD_OPTIONS for k, v in list(o.items())[:1]])
def test_bad_options_are_clear_errors(options: dict, message: str) -> None:
    score = Score(tracks=[Track(notes=notes((0, 480, 60, 90)))])
    options = {"resolution": 24, **options}
    with pytest.raises(PianorollError, match=message) as info:
        pianoroll(score, options.pop("resolution"), **options)
    assert isinstance(info.value, DeepsymError) and isinstance(info.value, ValueError)


def test_bad_sources_are_clear_errors() -> None:
    track = Track(notes=notes((0, 480, 60, 90)))
    with pytest.raises(PianorollError, match="pass ticks_per_beat"):
        pianoroll(track, 24)
    with pytest.raises(PianorollError, match="needs the tempo map"):
        pianoroll(track, 100, unit="second", ticks_per_beat=480)
    with pytest.raises(PianorollError, match="ticks_per_beat must be"):
        pianoroll(track, 24, ticks_per_beat=0)
    with pytest.raises(PianorollError, match="a Score or a Track, not ndarray"):
        pianoroll(track.notes, 24)


@pytest.mark.parametrize("bad", [(-10, 5, 60, 90), (10, -5, 60, 90)])
def test_notes_before_zero_or_of_negative_length_are_errors(bad: tuple) -> None:
    score = Score(ticks_per_beat=1, tracks=[Track(notes=notes((0, 1, 60, 90))),
                                            Track(notes=notes((0, 1, 62, 90), bad))])
    for kernel in (roll, roll_py):
        with pytest.raises(PianorollError, match=r"track 1, note 1: start -?10, duration -?5"):
            with_kernel(kernel, pianoroll, score, 1, stack=True)


BAD_ROLLS = [
    (np.zeros((2, 4, 128, 2), bool), "binary", {}, r"shape \(\[tracks,\] steps, pitches\)"),
    (np.zeros(128, bool), "binary", {}, "shape"),
    (np.zeros((4, 128), bool), "onset_sustain", {}, "shape"),
    (np.zeros((4, 128, 3), bool), "onset_sustain", {}, "shape"),
    (np.zeros((4, 100), bool), "binary", {}, "100 pitch columns but pitch_range spans 128"),
    (np.zeros((4, 128), bool), "binary", {"pitch_range": PIANO_RANGE}, "spans 88"),
    (np.full((4, 128), 0.5), "velocity", {}, "integers"),
    (np.full((4, 128), 200), "velocity", {}, "0-127"),
    (np.full((4, 128), -1), "velocity", {}, "0-127"),
    (np.full((4, 128), "x"), "binary", {}, "booleans or numbers"),
    (np.zeros((4, 128), bool), "binary", {"resolution": 0}, "resolution"),
    (np.zeros((4, 128), bool), "binary", {"resolution": 480, "ticks_per_beat": 96},
     "at least the resolution"),
    (np.zeros((4, 128), bool), "binary", {"velocity": 0}, "velocity"),
    (np.zeros((4, 128), bool), "binary", {"velocity": 128}, "velocity must be 1-127"),
    (np.zeros((4, 128), bool), "chords", {}, "mode must be one of"),
    (np.zeros((1024, 1), bool), "binary", {"ticks_per_beat": 2**22, "resolution": 1,
                                           "pitch_range": (0, 1)}, "int32 ticks"),
]


@pytest.mark.parametrize(("roll", "mode", "options", "message"), BAD_ROLLS,
                         ids=[f"{m}-{r.shape}-{r.dtype}-{sorted(o)}" for r, m, o, _ in BAD_ROLLS])
def test_bad_rolls_are_clear_errors(roll, mode, options, message) -> None:
    with pytest.raises(PianorollError, match=message):
        from_pianoroll(roll, mode, **options)


def test_public_names() -> None:
    assert deepsym.pianoroll is pianoroll and deepsym.from_pianoroll is from_pianoroll
    assert {"pianoroll", "from_pianoroll"} <= set(deepsym.__all__)
    assert issubclass(PianorollError, DeepsymError) and issubclass(PianorollError, ValueError)
