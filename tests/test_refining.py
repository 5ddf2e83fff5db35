"""Refiners (``deepsym.refining``): the invariants every refiner is held to, loading by
name or run folder, and Duration Net: a short real run that lowers the duration error of
stretched chorales, through ``deepsym refine`` and ``deepsym sample --refine``."""
from __future__ import annotations

import dataclasses

import numpy as np
import pytest
from deepsym_plugins.refine_features import NotesMeter, bar_phase
from deepsym_plugins.refine_model import (
    DurationRefiner,
    VelocityRefiner,
    possible,
    rule_velocities,
    snap,
    stretch_score,
)
from music21_corpus import first_chorales, real_midi_files

from deepsym import read_midi, write_midi
from deepsym.cli import main
from deepsym.data import Corpus, build_corpus
from deepsym.data.fit import onsets_on_grid
from deepsym.errors import DeepsymError, UnknownPluginError
from deepsym.plugins import manager
from deepsym.refining import check_refined, load_refiner, refine
from deepsym.score import NOTE_DTYPE, Score, Track

pytestmark = pytest.mark.usefixtures("one_torch_thread")


def score(*tracks: list[tuple[int, int, int]]) -> Score:
    """A score of tracks of (start, duration, pitch) notes, 4 ticks per beat."""
    def notes(rows):
        out = np.zeros(len(rows), NOTE_DTYPE)
        for i, (start, duration, pitch) in enumerate(rows):
            out[i]["start"], out[i]["duration"], out[i]["pitch"] = start, duration, pitch
            out[i]["velocity"] = 80
        return out
    return Score(ticks_per_beat=4, tracks=[Track(notes=notes(t)) for t in tracks])


def with_notes(s: Score, track: int, **fields) -> Score:
    notes = s.tracks[track].notes.copy()
    for name, values in fields.items():
        notes[name] = values
    tracks = list(s.tracks)
    tracks[track] = tracks[track].replace(notes=notes)
    return dataclasses.replace(s, tracks=tracks)


class Fixed:
    """A refiner returning a fixed score (or raising if called)."""

    name = "fixed"

    def __init__(self, result: Score | None) -> None:
        self.result = result

    def refine(self, score: Score) -> Score:
        if self.result is None:
            raise AssertionError("called on a piece without notes")
        return self.result


BEFORE = score([(0, 4, 60), (4, 4, 62), (4, 2, 67)], [(0, 8, 48)])


@pytest.mark.parametrize("after, broken", [
    (with_notes(BEFORE, 0, pitch=[60, 62, 68]), "pitches or their order"),
    (with_notes(BEFORE, 0, pitch=[62, 60, 67]), "pitches or their order"),
    (with_notes(BEFORE, 0, duration=[4, 0, 2]), "lasts no time"),
    (with_notes(BEFORE, 1, start=[-1]), "starts before 0"),
    (with_notes(BEFORE, 0, start=[5, 4, 4]), "order in time"),
    (dataclasses.replace(BEFORE, tracks=BEFORE.tracks[:1]), "2 tracks became 1"),
])
def test_every_invariant_is_checked(after, broken):
    with pytest.raises(DeepsymError, match=broken):
        check_refined(BEFORE, after, "fixed")
    with pytest.raises(DeepsymError, match="refiner 'fixed' broke an invariant"):
        refine(BEFORE, [Fixed(after)])


def test_retiming_that_keeps_the_invariants_passes_and_an_empty_piece_is_left_alone():
    slower = with_notes(BEFORE, 0, start=[0, 6, 6], duration=[6, 6, 3])
    assert refine(BEFORE, [Fixed(slower)]) is slower
    empty = score([], [])
    assert refine(empty, [Fixed(None)]) is empty


def test_loading_by_name_or_run_says_what_is_wrong(tmp_path):
    assert "refine-duration" in manager().refiners
    with pytest.raises(UnknownPluginError, match="unknown refiner"):
        load_refiner("no-such-refiner")
    with pytest.raises(DeepsymError, match="is learned: give a run folder"):
        load_refiner("refine-duration")
    with pytest.raises(DeepsymError, match="no such run folder"):
        load_refiner(tmp_path / "missing")


def test_stretching_keeps_pitches_and_order_and_moves_every_length():
    chorale = read_midi(next(p for p in real_midi_files() if p.name.startswith("bach")))
    stretched = stretch_score(chorale, 0.2, seed=1)
    check_refined(chorale, stretched, "stretch")
    for old, new in zip(chorale.tracks, stretched.tracks, strict=True):
        ratio = new.notes["duration"] / old.notes["duration"]
        assert ratio.min() >= 0.75 and ratio.max() <= 1.25 and ratio.std() > 0.05


# -- a real run ----------------------------------------------------------------------------


def errors(a: Score, b: Score) -> tuple[float, float]:
    """Mean |length difference| and |onset difference| in beats over the notes of two
    scores of the same notes."""
    first, second = (np.concatenate([t.notes for t in s.tracks]) for s in (a, b))
    return tuple(float(np.mean(np.abs(first[f].astype(float) - second[f]))) / a.ticks_per_beat
                 for f in ("duration", "start"))


@pytest.fixture(scope="module")
def corpus(tmp_path_factory):
    root = tmp_path_factory.mktemp("refine")
    chorales = first_chorales(40)
    build_corpus(chorales, root / "corpus", workers=1, fractions=(0.8, 0.1, 0.1))
    return root / "corpus"


@pytest.fixture(scope="module")
def run(corpus):
    out = corpus.parent / "run"
    settings = {"hidden": 32, "layers": 1, "sequence_length": 64, "batch_size": 16,
                "learning_rate": 0.003, "valid_every": 0}
    args = ["train", "refine-duration", "--corpus", str(corpus), "--out", str(out),
            "--steps", "600", "-q"]
    assert main(args + [a for k, v in settings.items() for a in ("--set", f"{k}={v}")]) == 0
    return out


def test_a_short_run_puts_stretched_held_out_chorales_back_on_the_grid(run, corpus):
    """Lengths and onsets nearer the real ones, and every onset back on the grid (the
    stretched pieces have few there)."""
    opened = Corpus.open(corpus)
    refiner = load_refiner(run)
    assert isinstance(refiner, DurationRefiner)
    before, after, grid = np.zeros(2), np.zeros(2), []
    for i in opened.split("test"):
        real = opened.score(int(i))
        stretched = stretch_score(real, 0.2, seed=int(i))
        refined = refine(stretched, [refiner])  # the invariants are checked here
        before += errors(stretched, real)
        after += errors(refined, real)
        grid.append([onsets_on_grid(s, 4) for s in (real, stretched, refined)])
    print(f"length, onset error {before} -> {after} beats (sum over pieces); on the grid "
          f"(real, stretched, refined) {np.mean(grid, axis=0)}")
    assert after[0] < 0.6 * before[0] and after[1] < 0.5 * before[1], (before, after)
    real, stretched, refined = np.mean(grid, axis=0)
    assert real > 0.99 and refined == 1.0 and stretched < 0.5


def test_a_pickup_keeps_its_place_against_the_bars(run, corpus):
    """A piece whose first note comes 2.5 beats in keeps it there: a gap on the grid
    keeps its step (the net alone reads 2.5 beats as the likelier 3)."""
    real = Corpus.open(corpus).score(0)
    shift = int(2.5 * real.ticks_per_beat)
    late = dataclasses.replace(real, tracks=[t.replace(notes=_shifted(t.notes, shift))
                                             for t in real.tracks])
    refined = refine(late, [load_refiner(run)])
    assert min(int(t.notes["start"].min()) for t in refined.tracks) == shift


def _shifted(notes: np.ndarray, ticks: int) -> np.ndarray:
    out = notes.copy()
    out["start"] += ticks
    return out


def test_the_net_chooses_among_the_originals_a_stretch_allows():
    """A gap of 2.5 beats stretched by 80-120 % was 2.08 to 3.13 beats: 9 to 12 of 16ths;
    one of 0.1 beat, no whole step: the nearest, 1."""
    allowed = possible(np.array([2.5, 0.1, 1.0]), grid=4, max_steps=32, stretch=0.2)
    assert allowed.shape == (3, 32)
    assert [list(np.flatnonzero(row) + 1) for row in allowed] == [[9, 10, 11, 12], [1],
                                                                   [4, 5]]


def test_snapping_keeps_chords_and_rounds_what_the_net_cannot_reach():
    """Gaps and lengths of 1/2 step to 32 steps off the grid take the net's answer; on
    the grid (within 5 % of a step) they keep their step; a gap under half a step joins
    the previous onset (a chord), a length under it is one step."""
    given = np.array([[0.0, 0.3], [0.6, 12.1], [9.0, 1.1], [0.1, 0.1], [2.5, 0.76]])
    steps = np.array([[3, 1], [2, 32], [32, 4], [1, 2], [12, 4]])  # what the net says
    np.testing.assert_allclose(snap(given, steps, grid=4, max_steps=32),
                               [[0.0, 0.25], [0.5, 12.0], [9.0, 1.0], [0.0, 0.25],
                                [2.5, 0.75]])


def test_refine_and_sample_refine_from_the_command_line(run, corpus, tmp_path, capsys):
    piece = next(p for p in real_midi_files() if p.name.startswith("bach"))
    out = tmp_path / "refined.mid"
    assert main(["refine", str(piece), "--durations", str(run), "-o", str(out)]) == 0
    check_refined(read_midi(piece), read_midi(out), "refine-duration")
    assert main(["refine", str(piece), "-o", str(out)]) == 1
    assert "name a refiner" in capsys.readouterr().err
    generator = tmp_path / "char"
    assert main(["train", "char-rnn", "--corpus", str(corpus), "--out", str(generator),
                 "--steps", "2", "-q", "--set", "hidden=16", "--set", "layers=1",
                 "--set", "batch_size=2", "--set", "sequence_length=32"]) == 0
    assert main(["sample", str(generator), "-n", "2", "--length", "64tokens", "--refine",
                 str(run), "-o", str(tmp_path / "pieces")]) == 0
    assert len(list((tmp_path / "pieces").glob("*.mid"))) == 2
    bad = tmp_path / "bad.mid"
    bad.write_bytes(b"MThd garbage")
    assert main(["refine", str(bad), "--durations", str(run), "-o", str(out)]) == 1
    assert str(bad) in capsys.readouterr().err


# -- Velocity Net --------------------------------------------------------------------------


def test_bar_phases_follow_the_time_signatures():
    three_four = np.array([(16, 3, 4)], dtype=BEFORE.time_signatures.dtype)
    s = dataclasses.replace(score([(0, 1, 60), (6, 1, 62), (16, 1, 64), (22, 1, 65)]),
                            time_signatures=three_four)
    # 4/4 before tick 16 (16 ticks a bar at 4 per beat), 3/4 (12 ticks) from there
    assert bar_phase(s, np.array([0, 6, 16, 22, 28])).tolist() == [0, 6 / 16, 0, 0.5, 0]
    assert NotesMeter().encode(s)[:, 4].tolist() == [0, 6 / 16, 0, 0.5]


def test_the_velocity_rule_is_beat_strength_and_contour():
    s = rule_velocities(score([(0, 4, 60), (4, 4, 64), (6, 2, 62)]))
    assert s.tracks[0].notes["velocity"].tolist() == [40 + 40 + 20 - 2, 40 + 20 + 2, 40 + 0]


@pytest.fixture(scope="module")
def velocity_run(tmp_path_factory):
    """Velocity Net on 40 chorales whose velocities follow ``rule_velocities``."""
    root = tmp_path_factory.mktemp("velocity")
    (root / "midi").mkdir()
    for path in first_chorales(40):
        write_midi(rule_velocities(read_midi(path)), root / "midi" / path.name)
    build_corpus([root / "midi"], root / "corpus", workers=1, fractions=(0.8, 0.1, 0.1))
    settings = {"hidden": 32, "layers": 1, "sequence_length": 64, "batch_size": 16,
                "learning_rate": 0.003, "valid_every": 0}
    args = ["train", "refine-velocity", "--corpus", str(root / "corpus"), "--out",
            str(root / "run"), "--steps", "300", "-q"]
    assert main(args + [a for k, v in settings.items() for a in ("--set", f"{k}={v}")]) == 0
    return root / "run", root / "corpus"


def test_velocity_net_recovers_the_rule_far_better_than_a_constant(velocity_run):
    run, corpus = velocity_run
    refiner = load_refiner(run)
    assert isinstance(refiner, VelocityRefiner)
    opened = Corpus.open(corpus)
    refined_error = constant_error = 0.0
    for i in opened.split("test"):
        real = opened.score(int(i))
        flat = real  # every velocity 64: the net must not read them
        for k in range(len(real.tracks)):
            flat = with_notes(flat, k, velocity=64)
        refined = refine(flat, [refiner])
        truth = np.concatenate([t.notes["velocity"] for t in real.tracks]).astype(float)
        got = np.concatenate([t.notes["velocity"] for t in refined.tracks]).astype(float)
        assert [t.notes["start"].tolist() for t in refined.tracks] == \
            [t.notes["start"].tolist() for t in real.tracks]
        refined_error += np.abs(got - truth).mean()
        constant_error += np.abs(truth - truth.mean()).mean()
    print(f"velocity error {refined_error:.2f}, constant (the piece's mean) {constant_error:.2f}")
    assert refined_error < 0.5 * constant_error


def test_durations_then_velocities_from_the_command_line(run, velocity_run, tmp_path,
                                                        capsys):
    piece = next(p for p in real_midi_files() if p.name.startswith("bach"))
    out = tmp_path / "refined.mid"
    assert main(["refine", str(piece), "--durations", str(run), "--velocities",
                 str(velocity_run[0]), "-o", str(out)]) == 0
    check_refined(read_midi(piece), read_midi(out), "both")
    assert len({int(v) for t in read_midi(out).tracks for v in t.notes["velocity"]}) > 5
    assert main(["refine", str(piece), "--durations", str(velocity_run[0]), "-o",
                 str(out)]) == 1
    assert "not a run of 'deepsym train refine-duration'" in capsys.readouterr().err
