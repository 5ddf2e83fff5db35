"""Conditions a model cannot ignore: transposition augmentation reached from ``deepsym
train``, condition vectors recomputed after each shift (drums never moved), condition
ranges and the timing vocabulary measured on the corpus, requests scaled like the
training conditions, and the steering measurements of the demo. Real chorales, tiny
models."""
from __future__ import annotations

import dataclasses
import json
from pathlib import Path

import numpy as np
import pytest
import torch
from music21_corpus import real_midi_files

from deepsym import read_midi, write_midi
from deepsym.cli import main
from deepsym.data import Corpus, build_corpus
from deepsym.data.fit import (
    GRIDS,
    condition_ranges,
    notated_grid,
    onsets_on_grid,
    voice_range,
)
from deepsym.data.loaders import transpose_score
from deepsym.data.stats import estimate_key, pitch_class_histogram
from deepsym.errors import DeepsymError
from deepsym.plugins import manager
from deepsym.representations import mean_pitch, note_density
from deepsym.representations.base import CONDITIONS
from deepsym.representations.events import Events
from deepsym.representations.timing import pitched_notes
from deepsym.sampling import Controls
from deepsym.sampling.conditions import key_profile, requested
from deepsym.steering import key_agrees, measure
from deepsym.training import distributed
from deepsym.training.engine import Budget, Session, train

TINY = {"hidden": 16, "layers": 1, "embedding": 8, "batch_size": 4, "sequence_length": 32,
        "valid_every": 0}
ALL = ("pitch_classes", "mean_pitch", "density")


def chorales(count: int) -> list[Path]:
    return [p for p in real_midi_files() if p.name.startswith("bach")][:count]


@pytest.fixture(scope="module")
def corpus(tmp_path_factory) -> Corpus:
    """20 chorales and one more whose bass is a drum track, all to train on."""
    root = tmp_path_factory.mktemp("conditioning")
    files = chorales(21)
    drums = read_midi(files[-1])
    drums.tracks[-1] = drums.tracks[-1].replace(is_drum=True, channel=9)
    write_midi(drums, root / "drums.mid")
    build_corpus([*files[:-1], root / "drums.mid"], root / "corpus", workers=1,
                 fractions=(1, 0, 0))
    return Corpus.open(root / "corpus")


@pytest.fixture(scope="module")
def performed(tmp_path_factory) -> Corpus:
    """Chorales played: every onset moved by up to 30 ms, as a performance would."""
    root = tmp_path_factory.mktemp("performed")
    rng = np.random.default_rng(0)
    for path in chorales(8):
        score = read_midi(path)
        for track in score.tracks:
            track.notes["start"] += rng.integers(60, 600, len(track.notes)).astype(np.int32)
        write_midi(score, root / path.name)
    build_corpus([root], root / "corpus", workers=1, fractions=(1, 0, 0))
    return Corpus.open(root / "corpus")


def prepared(corpus: Corpus, out: Path, model: str, **settings) -> Session:
    """A training session checked and built, not run."""
    session = Session.prepare(model, corpus.path, out, {**TINY, **settings}, None, 0, "cpu",
                              False, distributed.context_from_env())
    distributed.stop(session.context)
    return session


# -- augmentation ------------------------------------------------------------------------


def test_deepsym_train_reaches_the_transposition(corpus, tmp_path, capsys):
    args = [f"{k}={json.dumps(v)}" for k, v in TINY.items()]
    assert main(["train", "char-rnn", "--corpus", str(corpus.path), "--out",
                 str(tmp_path / "run"), "--steps", "2", "-q",
                 *(a for pair in zip(["--set"] * len(args), args, strict=True) for a in pair),
                 "--set", "transpose=[-3, 2]"]) == 0
    record = json.loads((tmp_path / "run" / "config.json").read_text())
    assert record["options"]["transpose"] == [-3, 2]
    session = prepared(corpus, tmp_path / "other", "char-rnn", transpose=[-3, 2])
    assert session.train_data.transpose == (-3, 2)
    assert session.valid_data is None  # no valid split here; it would not be transposed
    with pytest.raises(DeepsymError, match="low <= high"):
        prepared(corpus, tmp_path / "bad", "char-rnn", transpose=[2, -3])


def test_conditions_are_recomputed_after_each_shift_and_drums_never_move(corpus, tmp_path):
    """char-rnn-conditional trains on pieces shifted by -6..+5: each item's condition
    vector is that of the shifted piece (key rolled, mean pitch moved, density kept),
    scaled by the train split's ranges; the drum track stays, and stays out."""
    session = prepared(corpus, tmp_path / "run", "char-rnn-conditional")
    data, representation = session.train_data, session.train_data.representation
    assert session.options.transpose == (-6, 5) and data.transpose == (-6, 5)
    assert set(representation.condition_ranges) == {"mean_pitch", "density"}
    drums = next(i for i, p in enumerate(corpus.pieces) if p.path.endswith("drums.mid"))
    shifts = set()
    for epoch in range(12):
        data.set_epoch(epoch)
        for index in range(len(data)):
            item = data[index]
            original = corpus.score(item["piece"])
            moved = transpose_score(original, item["shift"])
            shifts.add(item["shift"])
            assert np.allclose(item["condition"], representation.condition_vector(moved))
            assert np.allclose(item["condition"][:12], np.roll(
                CONDITIONS["pitch_classes"][0](original), item["shift"]), atol=1e-6)
            (low, high), (dlow, dhigh) = (representation.condition_ranges[n]
                                          for n in ("mean_pitch", "density"))
            pitch = float(pitched_notes(original)["pitch"].mean()) + item["shift"]
            assert item["condition"][12] == pytest.approx((pitch / 127 - low) / (high - low),
                                                          abs=1e-5)
            assert item["condition"][13] == pytest.approx(
                (float(note_density(original)[0]) - dlow) / (dhigh - dlow), abs=1e-5)
            if item["piece"] == drums:
                assert np.array_equal(moved.tracks[-1].notes, original.tracks[-1].notes)
    assert shifts == set(range(-6, 6))


def test_the_voices_range_bounds_every_shift(corpus):
    train = corpus.split("train")
    pitches = np.concatenate([pitched_notes(corpus.score(int(i)))["pitch"] for i in train])
    assert voice_range(corpus, train) == (int(pitches.min()), int(pitches.max()))
    assert voice_range(corpus, np.array([], np.int64)) == (0, 127)


# -- what a config measures on its corpus -------------------------------------------------


def test_the_vocabulary_is_chosen_per_corpus(corpus, performed, tmp_path):
    assert notated_grid(corpus) == 4 and 4 in GRIDS  # chorales: written in sixteenths
    assert notated_grid(performed) is None
    notated = prepared(corpus, tmp_path / "a", "char-rnn")
    assert (notated.config.vocabulary, notated.config.steps_per_beat) == ("remi", 4)
    assert notated.record["representation"] == "remi"
    assert notated.train_data.representation.spec.vocab_size == 257
    played = prepared(performed, tmp_path / "b", "char-rnn", batch_size=2)
    assert (played.config.vocabulary, played.record["representation"]) == ("events", "events")
    assert played.config.for_corpus(corpus) == played.config  # resolved: kept as it is
    chosen = prepared(corpus, tmp_path / "c", "char-rnn", vocabulary="events")
    assert chosen.config.vocabulary == "events"


def test_onsets_on_the_grid_are_counted_over_every_track():
    """Ticks at 480 per beat: 0 and 120 are sixteenths, 130 is not (10 ticks off, over 5 %
    of a 120-tick step), 125 is (5 ticks), in either track; no notes: 1."""
    chorale = read_midi(real_midi_files()[0])
    tracks = chorale.tracks[:2]
    starts = ([0, 130], [125, 240])
    notes = [t.notes[:2].copy() for t in tracks]
    for n, s in zip(notes, starts, strict=True):
        n["start"] = s
    score = dataclasses.replace(chorale, ticks_per_beat=480, tracks=[
        t.replace(notes=n) for t, n in zip(tracks, notes, strict=True)])
    assert onsets_on_grid(score, 4) == 0.75 and onsets_on_grid(score, 1) == 0.25
    assert onsets_on_grid(dataclasses.replace(score, tracks=[]), 4) == 1.0


def test_condition_ranges_are_the_middle_of_the_train_split(corpus):
    scores = [corpus.score(int(i)) for i in corpus.split("train")]
    ranges = {name: (low, high) for name, low, high in condition_ranges(corpus, ALL)}
    assert set(ranges) == {"mean_pitch", "density"}  # shares need no scaling
    for name, function in (("mean_pitch", mean_pitch), ("density", note_density)):
        values = [float(function(s)[0]) for s in scores]
        assert ranges[name] == pytest.approx(tuple(np.percentile(values, (5, 95))), abs=1e-5)
    density = [float(note_density(s)[0]) for s in scores]
    beats = [s.end_tick / s.ticks_per_beat for s in scores]
    assert density == pytest.approx([len(pitched_notes(s)) / b  # onsets per beat, no drums
                                     for s, b in zip(scores, beats, strict=True)])


def test_a_representation_scales_its_features_and_refuses_bad_ranges():
    score = read_midi(chorales(1)[0])
    rep = Events(conditions=ALL).with_condition_ranges({"density": (2.0, 6.0)})
    vector = rep.condition_vector(score)
    assert vector[13] == pytest.approx((float(note_density(score)[0]) - 2) / 4)
    assert vector[12] == pytest.approx(float(mean_pitch(score)[0]))  # no range: as it is
    with pytest.raises(DeepsymError, match="low < high"):
        Events(conditions=ALL).with_condition_ranges({"density": (3.0, 3.0)})
    with pytest.raises(DeepsymError, match="does not read"):
        Events(conditions=("density",)).with_condition_ranges({"mean_pitch": (0.4, 0.5)})


# -- sampling and measuring ----------------------------------------------------------------


def test_requests_are_scaled_as_the_training_conditions_were(tmp_path):
    spec = manager().models.get("char-rnn-conditional")
    config = spec.config_class()(**{k: v for k, v in TINY.items() if k != "valid_every"},
                                 vocabulary="remi", condition_ranges=(
                                     ("mean_pitch", 0.4, 0.6), ("density", 2.0, 6.0)))
    model = spec.build(config)
    seen = []
    step = model.step
    model.step = lambda tokens, state, condition: (seen.append(condition), step(
        tokens, state, condition))[1]
    sampler = spec.sampler_class()(model, config.make_representation(), Controls(
        1.0, conditions=requested("A minor", 63.5, 3.0), max_polyphony=2))
    sampler.sample(1, 3)
    vector = seen[0][0].numpy()
    assert np.allclose(vector[:12], key_profile("A minor"))
    assert vector[12] == pytest.approx((63.5 / 127 - 0.4) / 0.2, abs=1e-6)
    assert vector[13] == pytest.approx(0.25)
    sampler.controls = Controls(max_polyphony=0)
    with pytest.raises(DeepsymError, match="max_polyphony must be at least 1"):
        sampler.sample(1, 3)


def test_the_condition_also_goes_around_the_recurrence():
    """A conditional model's outputs follow its condition even where the LSTM passes
    nothing on (all its weights zero): a key can bias the pitches from the first update."""
    spec = manager().models.get("char-rnn-conditional")
    config = spec.config_class()(hidden=16, layers=1, embedding=8)
    model = spec.build(config)
    with torch.no_grad():
        for parameter in model.core.lstm.parameters():
            parameter.zero_()
    tokens = torch.zeros(1, 3, dtype=torch.int64)
    first, _ = model.step(tokens, None, torch.zeros(1, 14))
    second, _ = model.step(tokens, None, torch.ones(1, 14))
    assert (first - second).abs().amax() > 1e-3
    plain = manager().models.get("char-rnn")
    assert plain.build(plain.config_class()(hidden=16, layers=1, embedding=8)).core.around \
        is None


def test_deepsym_sample_keeps_the_polyphony_limit(corpus, tmp_path, capsys):
    train("char-rnn-conditional", corpus.path, tmp_path / "run", settings=dict(TINY),
          budget=Budget(steps=3), device="cpu", tensorboard=False)
    assert main(["sample", str(tmp_path / "run"), "-n", "2", "--length", "300tokens",
                 "--key", "D major", "--density", "3", "--max-polyphony", "3",
                 "-o", str(tmp_path / "out")]) == 0
    for path in sorted((tmp_path / "out").glob("*.mid")):
        notes = pitched_notes(read_midi(path))
        start, end = notes["start"].astype(np.int64), notes["start"] + notes["duration"]
        assert len(notes) and max(len(np.unique(notes["pitch"][(start <= t) & (end > t)]))
                                  for t in start) <= 3
    with pytest.raises(SystemExit):
        main(["sample", str(tmp_path / "run"), "--max-polyphony", "0", "-o",
              str(tmp_path / "x")])
    assert "--max-polyphony: must be at least 1" in capsys.readouterr().err


def test_steering_measures_key_pitch_and_density():
    score = read_midi(chorales(2)[1])
    got = measure(score)
    notes = pitched_notes(score)
    assert (got.key, got.key_r) == estimate_key(pitch_class_histogram(notes))
    assert got.mean_pitch == pytest.approx(float(notes["pitch"].mean()))
    assert got.density == pytest.approx(float(note_density(score)[0]))
    assert key_agrees("C major", "A minor") and key_agrees("A minor", "C major")
    assert key_agrees("Eb major", "Eb major") and key_agrees("F# minor", "A major")
    assert not key_agrees("C major", "G major") and not key_agrees("C major", None)
    assert not key_agrees("A minor", "A major")
