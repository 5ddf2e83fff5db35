"""Built-in representations on real music: round trips exact at each one's resolution,
the losses bounded as their docstrings say, checked against pretty_midi, music21 and
plain formulas written out here."""
from __future__ import annotations

import re
import warnings
from functools import cache
from pathlib import Path

import mido
import numpy as np
import pretty_midi
import pytest
from music21_corpus import real_midi_files

from deepsym import Score, Track, pianoroll, read_midi, write_midi
from deepsym.errors import DeepsymError
from deepsym.metrics.notes import bar_lines
from deepsym.plugins import manager
from deepsym.representations.bars import FAMILIES, Bars, assign_tracks, from_bars, to_bars
from deepsym.representations.events import (
    NOTE_OFF,
    TIME_SHIFT,
    Events,
    from_events,
    to_events,
    vocab_size,
)
from deepsym.representations.note_duration import (
    SHIFT,
    NoteDuration,
    from_note_duration,
    to_note_duration,
)
from deepsym.representations.notes4 import TIME_SCALE, from_notes4, to_notes4
from deepsym.representations.pianoroll_rep import from_pianoroll_frames, to_pianoroll
from deepsym.representations.remi import DURATION, Layout, Remi, from_remi, to_remi
from deepsym.representations.text import (
    OTHER,
    REPLACEMENT,
    Text,
    abc_to_score,
    from_text,
    to_text,
)
from deepsym.representations.timing import pitched_notes

BUILT_IN = ("bars", "events", "note-duration", "notes4", "pianoroll", "remi", "text")
N_TUNES = 12


@cache
def midi_fixtures() -> tuple[Path, ...]:
    """Six chorales (four or five voices) and four folk tunes."""
    files = real_midi_files()
    bach = [p for p in files if p.name.startswith("bach")]
    folk = [p for p in files if p.name.startswith("folk")]
    return tuple(bach[:6:] + folk[:4])


@cache
def abc_tunes() -> tuple[tuple[str, str], ...]:
    """(name, text) of real folk tunes in music21's corpus: Essen and O'Neill tunes."""
    from music21 import corpus

    tunes = []
    for name in ("essenFolksong/altdeu10.abc", "oneills1850/0001-0050.abc"):
        text = Path(corpus.getWork(name)).read_text(encoding="utf-8")
        found = re.finditer(r"^X:.*?(?=\n[ \t]*\n|\nX:|\Z)", text, re.MULTILINE | re.DOTALL)
        tunes += [(f"{Path(name).stem}-{i}", m.group(0) + "\n")
                  for i, m in zip(range(N_TUNES // 2), found, strict=False)]
    return tuple(tunes)


@cache
def score_of(path: Path) -> Score:
    return read_midi(path)


def sources(name: str) -> list:
    if name == "text":
        return [pytest.param(text, id=f"text-{tune}") for tune, text in abc_tunes()]
    return [pytest.param(path, id=f"{name}-{path.stem}") for path in midi_fixtures()]


CASES = [case for name in manager().representations.names() for case in
         [pytest.param(name, *p.values, id=p.id) for p in sources(name)]]


def test_the_built_ins_are_registered_by_their_plugin():
    pm = manager()
    assert set(BUILT_IN) <= set(pm.representations.names())
    assert {pm.representations.plugin_of(n) for n in BUILT_IN} == {"representations"}
    assert {"jsb", "folk"} <= set(pm.datasets.names())


@pytest.mark.parametrize(("name", "source"), CASES)
def test_encode_decode_is_stable_and_fits_the_spec(name, source):
    """Exact at the resolution: what decode gives back encodes to the same array."""
    rep = manager().representations.get(name)()
    data = source if isinstance(source, str) else score_of(source)
    encoded = rep.encode(data)
    spec = rep.spec
    assert len(encoded) > 0
    if spec.kind == "discrete":
        assert encoded.ndim == 1 and encoded.dtype == np.int64
        assert encoded.min() >= 0 and encoded.max() < spec.vocab_size
    else:
        assert encoded.shape[1:] == spec.feature_shape and encoded.dtype == np.float32
    decoded = rep.decode(encoded)
    assert isinstance(decoded, Score) and decoded.n_notes > 0
    if name == "text":
        assert np.array_equal(rep.encode(rep.decode_text(encoded)), encoded)
        return
    again = rep.encode(decoded)
    assert np.array_equal(rep.encode(rep.decode(again)), again)
    if rep.exact:  # notes4 is not: exact only at the source's ticks per beat (below)
        assert np.array_equal(again, encoded)


# -- events ---------------------------------------------------------------------------


def nearest_steps(seconds: np.ndarray, per_second: int) -> np.ndarray:
    return np.floor(seconds * per_second + 0.5).astype(np.int64)


@pytest.mark.parametrize("path", midi_fixtures(), ids=lambda p: p.stem)
def test_events_match_pretty_midi_at_10_ms(path):
    """Onsets and releases of each pitch exact at the grid (pretty_midi's seconds as
    the oracle), every time within half a step, velocities within half a bin."""
    midi = pretty_midi.PrettyMIDI(str(path))
    notes = [n for i in midi.instruments if not i.is_drum for n in i.notes]
    start = nearest_steps(np.array([n.start for n in notes]), 100)
    end = np.maximum(nearest_steps(np.array([n.end for n in notes]), 100), start + 1)
    pitch = np.array([n.pitch for n in notes])
    velocity = np.array([n.velocity for n in notes])

    tokens = to_events(score_of(path))
    assert vocab_size() == 388 and tokens.max() < 388
    decoded = from_events(tokens)
    got = decoded.tracks[0].notes
    assert decoded.ticks_per_beat == 100 and decoded.tempos["qpm"].tolist() == [60.0]
    got_start = got["start"].astype(np.int64)
    got_end = got_start + got["duration"]
    assert sorted(zip(pitch, start, velocity // 4, strict=True)) == \
        sorted(zip(got["pitch"], got_start, got["velocity"] // 4, strict=True))
    assert sorted(zip(pitch, end, strict=True)) == sorted(zip(got["pitch"], got_end, strict=True))
    assert np.all(np.abs(got["velocity"] - (got["velocity"] // 4 * 4 + 2)) == 0)
    # bounds, note by note: both sides paired by (pitch, onset), then by (pitch, release)
    seconds = np.array([n.start for n in notes])
    theirs, ours = np.lexsort((seconds, pitch)), np.lexsort((got_start, got["pitch"]))
    assert np.all(np.abs(got_start[ours] / 100 - seconds[theirs]) <= 0.005 + 1e-9)
    assert np.all(np.abs(got["velocity"][ours].astype(int) - velocity[theirs]) <= 2)
    releases = np.array([n.end for n in notes])
    theirs, ours = np.lexsort((releases, end, pitch)), np.lexsort((got_end, got["pitch"]))
    kept = (end - start > 1)[theirs]  # a note shorter than a step is lengthened to one
    assert kept.mean() > 0.9
    assert np.all(np.abs(got_end[ours][kept] / 100 - releases[theirs][kept]) <= 0.005 + 1e-9)


def test_events_token_layout_and_coarse_grids():
    score = Score(ticks_per_beat=4, tempos=[(0, 120.0)], tracks=[
        Track(notes=[(0, 4, 60, 100), (0, 2, 64, 20), (250, 4, 67, 100)]),
        Track(notes=[(1, 1, 36, 100)], is_drum=True)])
    tokens = to_events(score, unit="beat", resolution=4, max_shift=100)
    velocity = TIME_SHIFT + 100
    assert tokens.tolist() == [
        velocity + 100 * 32 // 128, 60, velocity + 20 * 32 // 128, 64,  # step 0: ons
        TIME_SHIFT + 1, NOTE_OFF + 64,  # 2 steps later
        TIME_SHIFT + 1, NOTE_OFF + 60,  # step 4
        TIME_SHIFT + 99, TIME_SHIFT + 99, TIME_SHIFT + 45,  # 246 steps: 100 + 100 + 46
        velocity + 100 * 32 // 128, 67, TIME_SHIFT + 3, NOTE_OFF + 67]
    back = from_events(tokens, unit="beat", resolution=4, max_shift=100)
    assert back.tracks[0].notes[["start", "duration", "pitch"]].tolist() == [
        (0, 4, 60), (0, 2, 64), (250, 4, 67)]  # drums left out
    assert to_events(Score()).tolist() == []


def test_events_decode_any_token_sequence():
    """A model's tokens: stray NOTE_OFFs are ignored, unreleased notes run to the end,
    the k-th NOTE_OFF of a pitch ends its k-th sounding NOTE_ON."""
    s = TIME_SHIFT
    tokens = [NOTE_OFF + 60, 60, s + 1, 60, s + 0, NOTE_OFF + 60, NOTE_OFF + 60,
              NOTE_OFF + 60, 72, s + 4]
    notes = from_events(np.array(tokens)).tracks[0].notes
    assert notes[["start", "duration", "pitch", "velocity"]].tolist() == [
        (0, 3, 60, 66), (2, 1, 60, 66), (3, 5, 72, 66)]
    rng = np.random.default_rng(0)
    for _ in range(20):
        noise = rng.integers(0, vocab_size(), 500)
        decoded = from_events(noise)
        assert decoded.n_notes == int((noise < NOTE_OFF).sum())
        assert np.all(decoded.tracks[0].notes["duration"] >= 1)
    with pytest.raises(DeepsymError, match="token 388 at position 1 is outside"):
        from_events(np.array([1, 388]))
    with pytest.raises(DeepsymError, match="unit must be one of 'second', 'beat'"):
        Events(unit="bar")


# -- note-duration --------------------------------------------------------------------


@pytest.mark.parametrize("path", midi_fixtures(), ids=lambda p: p.stem)
def test_note_duration_is_exact_against_resample(path):
    """Decoded notes == the score resampled to 4 steps per beat (its nearest-step rule),
    tracks merged, lengths clipped at max_duration."""
    score = score_of(path)
    resampled = score.resample(4)
    expected = np.concatenate([t.notes for t in resampled.tracks if not t.is_drum])
    expected["duration"] = np.minimum(expected["duration"], 16)
    pitches, durations = to_note_duration(score, max_duration=16)
    assert set(np.unique(pitches)) <= set(range(129)) and durations.max() < 16
    got = from_note_duration(pitches, durations, max_duration=16).tracks[0].notes
    fields = ["start", "duration", "pitch"]
    assert sorted(got[fields].tolist()) == sorted(expected[fields].tolist())
    # chords: the notes between two shifts start together, lowest pitch first
    is_note = pitches < SHIFT
    group = np.cumsum(~is_note)[is_note]
    same = group[1:] == group[:-1]
    assert np.all(np.diff(pitches[is_note])[same] >= 0)
    rep = NoteDuration(max_duration=16)
    assert rep.spec.vocab_size == 129 * 16
    assert [a.tolist() for a in rep.streams(rep.encode(score))] == \
        [pitches.tolist(), durations.tolist()]


# -- remi ---------------------------------------------------------------------------------


@pytest.mark.parametrize("path", midi_fixtures(), ids=lambda p: p.stem)
def test_remi_is_exact_against_resample_and_the_bar_lines(path):
    """Decoded notes == the score resampled to 4 steps per beat (tracks merged, lengths
    cut at 8 beats, velocities at their bin's centre); every POSITION is its onset's
    distance from the bar line before it (deepsym.metrics' bar lines of the time
    signatures, a bar of over 8 beats cut every 8), with one BAR per bar line up to
    the last onset."""
    score = score_of(path)
    resampled = score.resample(4)
    expected = np.concatenate([t.notes for t in resampled.tracks if not t.is_drum])
    expected["duration"] = np.minimum(expected["duration"], 32)
    expected["velocity"] = (2 * (expected["velocity"] // 4) + 1) * 2
    tokens = to_remi(score)
    got = from_remi(tokens).tracks[0].notes
    fields = ["start", "duration", "pitch", "velocity"]
    assert sorted(got[fields].tolist()) == sorted(expected[fields].tolist())
    layout = Layout(4, 8, 32)
    kind = layout.kinds(tokens)
    lines = bar_lines(resampled, resampled.end_tick)  # bars over 8 beats: cut every 8
    lines = np.concatenate([np.arange(a, b, 32) for a, b in
                            zip(lines, np.r_[lines[1:], resampled.end_tick], strict=True)])
    onsets = np.unique(expected["start"].astype(np.int64))
    bar = np.searchsorted(lines, onsets, side="right") - 1
    assert (tokens[kind["position"]] - layout.position).tolist() == \
        (onsets - lines[bar]).tolist()
    assert int(kind["bar"].sum()) == bar[-1]
    assert np.all(np.r_[kind["duration"][1:], False] == kind["pitch"])  # each note whole


def test_remi_token_layout_meters_and_long_notes():
    """3/4, then a 4/4 that begins mid-bar (cutting that bar to 2 beats), a note longer
    than 8 beats, drums left out; VELOCITY only where the bin changes."""
    score = Score(ticks_per_beat=4, time_signatures=[(0, 3, 4), (20, 4, 4)], tracks=[
        Track(notes=[(0, 4, 60, 100), (0, 2, 64, 20), (13, 40, 67, 100), (21, 1, 72, 100)]),
        Track(notes=[(1, 1, 36, 100)], is_drum=True)])
    rep = Remi()
    lay = rep.layout
    assert rep.spec.vocab_size == lay.size == 128 + 32 + 32 + 1 + 32 + 32
    pos, dur, vel = lay.position, DURATION - 1, lay.velocity
    assert rep.encode(score).tolist() == [
        lay.meter + 11, pos + 0, vel + 25, 60, dur + 4, vel + 5, 64, dur + 2,  # bar 0: 3/4
        lay.bar, lay.meter + 7, pos + 1, vel + 25, 67, dur + 32,  # bar 1, cut at step 20
        lay.bar, lay.meter + 15, pos + 1, 72, dur + 1]  # bar 2: 4/4 from step 20
    back = rep.decode(rep.encode(score))
    assert back.ticks_per_beat == 4 and back.tracks[0].notes[
        ["start", "duration", "pitch"]].tolist() == [(0, 4, 60), (0, 2, 64), (13, 32, 67),
                                                     (21, 1, 72)]
    assert back.time_signatures.tolist() == [(0, 3, 4), (12, 2, 4), (20, 4, 4)]
    assert to_remi(Score()).tolist() == []


def test_remi_decodes_any_token_sequence():
    """A model's tokens: a PITCH without its DURATION lasts one step, a stray DURATION is
    ignored, a BAR moves on by the meter in force, positions may go back."""
    lay = Layout(4, 8, 32)
    tokens = [DURATION + 3, lay.position + 2, 60, 62, DURATION + 1, lay.bar,
              lay.meter + 11, lay.position + 5, 64, DURATION, lay.bar, lay.position + 0, 65]
    notes = from_remi(np.array(tokens)).tracks[0].notes
    assert notes[["start", "duration", "pitch"]].tolist() == [
        (2, 1, 60), (2, 2, 62), (21, 1, 64), (28, 1, 65)]
    rng = np.random.default_rng(0)
    for _ in range(20):
        noise = rng.integers(0, lay.size, 500)
        decoded = from_remi(noise)
        assert decoded.n_notes == int((noise < 128).sum())
        assert np.all(decoded.tracks[0].notes["duration"] >= 1)
    with pytest.raises(DeepsymError, match="token 257 at position 0 is outside"):
        from_remi(np.array([257]))


def sample_under(grammar, vocab: int, steps: int, seed: int = 0) -> np.ndarray:
    """Tokens drawn uniformly among those the grammar allows, ``(n, steps)``."""
    rng = np.random.default_rng(seed)
    drawn = []
    for _ in range(steps):
        allowed = grammar.allowed()
        assert allowed.shape[1] == vocab and allowed.any(axis=1).all()  # never stuck
        picks = np.array([rng.choice(np.flatnonzero(row)) for row in allowed])
        grammar.advance(picks)
        drawn.append(picks)
    return np.stack(drawn, axis=1)


def most_sounding(notes: np.ndarray) -> int:
    """The most distinct pitches sounding at any onset."""
    start, end = notes["start"].astype(np.int64), notes["start"] + notes["duration"]
    return max(len(np.unique(notes["pitch"][(start <= t) & (end > t)])) for t in start)


@pytest.mark.parametrize("path", midi_fixtures(), ids=lambda p: p.stem)
def test_remi_grammar_allows_real_music(path):
    rep = Remi()
    grammar = rep.grammar(1)
    for token in rep.encode(score_of(path)):
        assert grammar.allowed()[0, token]
        grammar.advance(np.array([token]))


def test_remi_grammar_keeps_notes_whole_bars_in_order_and_the_polyphony_limit(tmp_path):
    rep = Remi()
    lay = rep.layout
    drawn = sample_under(rep.grammar(3, max_polyphony=3), lay.size, 600)
    for k, tokens in enumerate(drawn):
        kind = lay.kinds(tokens)
        assert np.array_equal(kind["duration"][1:], kind["pitch"][:-1])  # notes whole
        assert np.all(kind["pitch"][1:][kind["velocity"][:-1]])  # VELOCITY then a PITCH
        previous = np.r_[-1, tokens[:-1]]
        assert np.all((previous[kind["meter"]] == -1) | (previous[kind["meter"]] == lay.bar))
        bar = np.cumsum(kind["bar"])[kind["position"]]
        position = tokens[kind["position"]] - lay.position
        assert np.all(np.diff(position)[np.diff(bar) == 0] > 0)  # rising inside a bar
        score = rep.decode(tokens)
        assert score.n_notes > 50 and most_sounding(score.tracks[0].notes) <= 3
        write_midi(score, tmp_path / f"{k}.mid")  # every meter it wrote is a MIDI one


def test_event_grammar_polyphony_limit():
    rep = Events()
    drawn = sample_under(rep.grammar(2, max_polyphony=2), rep.spec.vocab_size, 800)
    for tokens in drawn:
        notes = rep.decode(tokens).tracks[0].notes
        assert len(notes) > 5 and most_sounding(notes) <= 2


# -- pianoroll --------------------------------------------------------------------------


@pytest.mark.parametrize("path", midi_fixtures(), ids=lambda p: p.stem)
def test_pianoroll_keeps_every_onset_with_the_onset_channel(path):
    score = score_of(path)
    roll = to_pianoroll(score, steps_per_beat=4, onsets=True)
    assert roll.shape[1:] == (128, 2)
    notes = pitched_notes(score)
    onset_steps = notes["start"].astype(np.int64) * 4 // score.ticks_per_beat
    expected = set(zip(onset_steps.tolist(), notes["pitch"].tolist(), strict=True))
    decoded = from_pianoroll_frames(roll, onsets=True).tracks[0].notes
    assert set(zip(decoded["start"].tolist(), decoded["pitch"].tolist(), strict=True)) == expected
    assert np.array_equal(to_pianoroll(score), pianoroll(score, 4).astype(np.float32))
    noisy = roll * 0.9 + 0.05  # a model's probabilities decode by threshold 0.5
    assert from_pianoroll_frames(noisy, onsets=True) == from_pianoroll_frames(roll, onsets=True)


# -- notes4 -----------------------------------------------------------------------------


@pytest.mark.parametrize("path", midi_fixtures(), ids=lambda p: p.stem)
def test_notes4_inverse_is_exact_at_the_source_resolution(path):
    score = score_of(path)
    array = to_notes4(score)
    notes = pitched_notes(score)
    assert array.shape == (len(notes), 4) and array.dtype == np.float32
    assert np.allclose(array[:, 2], notes["pitch"] / 127)
    assert np.allclose(array[:, 1], notes["duration"] / score.ticks_per_beat / TIME_SCALE)
    assert array.min() >= 0 and array[:, 2:].max() <= 1
    decoded = from_notes4(array, ticks_per_beat=score.ticks_per_beat).tracks[0].notes
    assert np.array_equal(decoded, notes)


# -- bars -------------------------------------------------------------------------------


@pytest.mark.parametrize("path", midi_fixtures()[:6], ids=lambda p: p.stem)
def test_bars_assign_voices_by_track_order(path):
    score = score_of(path)
    bars = to_bars(score)
    n_bars = bars.shape[0]
    assert bars.shape[1:] == (4, 16, 84)
    for k, track in enumerate(score.tracks[:4]):
        roll = pianoroll(track, 4, ticks_per_beat=score.ticks_per_beat,
                         pitch_range=(24, 108), length=n_bars * 16)
        assert np.array_equal(bars[:, k].reshape(-1, 84), roll), k
    assert n_bars == -(-len(pianoroll(score, 4)) // 16)
    decoded = from_bars(bars)
    assert [t.name for t in decoded.tracks] == ["voice 1", "voice 2", "voice 3", "voice 4"]
    assert np.array_equal(to_bars(decoded), bars)


def test_bars_family_rule_by_program():
    chorale = score_of(midi_fixtures()[1])
    programs = [(0, False), (25, False), (33, False), (41, False), (0, True), (70, False)]
    tracks = [chorale.tracks[i % len(chorale.tracks)].replace(program=p, is_drum=d)
              for i, (p, d) in enumerate(programs)]
    score = Score(ticks_per_beat=chorale.ticks_per_beat, tracks=tracks)
    assert assign_tracks(score, "family", 5) == [[4], [0], [1], [2], [3, 5]]
    bars = to_bars(score, rule="family", n_tracks=5)
    length = bars.shape[0] * 16
    merged = Track(notes=np.concatenate([tracks[3].notes, tracks[5].notes]))
    roll = pianoroll(merged, 4, ticks_per_beat=score.ticks_per_beat, pitch_range=(24, 108),
                     length=length)
    assert np.array_equal(bars[:, 4].reshape(-1, 84), roll)
    decoded = from_bars(bars, rule="family")
    assert [(t.name, t.program, t.is_drum) for t in decoded.tracks] == [
        (name, low or 0, low is None) for name, low, _ in FAMILIES]
    assert assign_tracks(score, "voice", 4) == [[0], [1], [2], [3]]  # drums left out
    with pytest.raises(DeepsymError, match='rule="family" has 5 tracks'):
        assign_tracks(score, "family", 4)


def test_bars_of_a_score_without_notes_are_none_and_decode_to_silent_tracks(tmp_path):
    """A generated phrase can be silent; it encodes to no bars, and a file of silent
    tracks reads back the same."""
    silent = from_bars(np.zeros((4, 4, 16, 84), np.float32))
    assert [len(t.notes) for t in silent.tracks] == [0, 0, 0, 0]
    write_midi(silent, tmp_path / "silent.mid")
    for score in (silent, read_midi(tmp_path / "silent.mid"), Score(ticks_per_beat=480)):
        assert to_bars(score).shape == (0, 4, 16, 84)


def test_bars_decode_with_a_program_per_track(tmp_path):
    """``programs`` voices each decoded slot; the MIDI file carries them (read by mido)."""
    bars = to_bars(score_of(midi_fixtures()[1]))
    decoded = Bars(programs=(52, 40, 41, 42)).decode(bars)
    assert [t.program for t in decoded.tracks] == [52, 40, 41, 42]
    assert [t.program for t in from_bars(bars).tracks] == [0, 0, 0, 0]
    write_midi(decoded, tmp_path / "voiced.mid")
    changes = [m.program for track in mido.MidiFile(tmp_path / "voiced.mid").tracks
               for m in track if m.type == "program_change"]
    assert changes == [52, 40, 41, 42]
    for bad in ((1, 2, 3), (0, 0, 0, 128)):
        with pytest.raises(DeepsymError, match="programs must be 4 numbers from 0 to 127"):
            Bars(programs=bad)


# -- text -------------------------------------------------------------------------------


@pytest.mark.parametrize(("tune", "abc"), abc_tunes(), ids=[t for t, _ in abc_tunes()])
def test_text_round_trip_and_music21_oracle(tune, abc):
    from music21 import converter

    tokens = to_text(abc)
    assert len(tokens) == len(abc) and tokens.max() < Text().spec.vocab_size == 97
    ascii_only = all(c == "\n" or " " <= c <= "~" for c in abc)
    expected = abc if ascii_only else "".join(
        c if c == "\n" or " " <= c <= "~" else REPLACEMENT for c in abc)
    assert from_text(tokens) == expected
    assert (tokens == OTHER).sum() == sum(c != e for c, e in zip(abc, expected, strict=True))
    score = Text().decode(tokens)
    if ascii_only:
        assert score == abc_to_score(abc)
    if tune.startswith("altdeu"):  # plain Essen melodies: every note music21 reads
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            parsed = converter.parse(abc, format="abc").stripTies()
        theirs = sorted(p.midi for n in parsed.flatten().notes for p in n.pitches)
        assert sorted(score.tracks[0].notes["pitch"].tolist()) == theirs


def test_text_refuses_scores_and_other_characters_are_marked():
    assert from_text(to_text("K:G\tÄ\n")) == f"K:G{REPLACEMENT}{REPLACEMENT}\n"
    with pytest.raises(DeepsymError, match="encodes ABC text"):
        Text().encode(Score())
    with pytest.raises(DeepsymError, match="music21 cannot read"):
        Text().decode(to_text("X:1\nL:0/0\nK:G\nabc\n"))
    assert Text().decode(to_text("")) == Score()
