"""C-RNN-GAN on real chorales: shapes, the pretraining curriculum lowering the next-note
error, adversarial rounds with freezing and their per-side log columns, validation, and
sampling whole sequences to MIDI. (Config round trip, a short training run, exact resume
and sampling also run in test_every_model.py, through the registration.)"""
from __future__ import annotations

import csv
import dataclasses
from pathlib import Path

import mido
import numpy as np
import pytest
import torch
from deepsym_plugins.c_rnn_gan_model import CRNNGAN, CRNNGANConfig
from deepsym_plugins.c_rnn_gan_sample import SequenceSampler
from deepsym_plugins.c_rnn_gan_train import CRNNGANTrainer
from music21_corpus import first_chorales

from deepsym import read_midi, write_midi
from deepsym.cli import main
from deepsym.data import build_corpus
from deepsym.errors import DeepsymError
from deepsym.plugins import manager
from deepsym.representations.notes4 import Notes4
from deepsym.sampling import Controls
from deepsym.sampling.run import load_sampler
from deepsym.training.engine import Budget, train

TINY = CRNNGANConfig(hidden=16, layers=1, sequence_length=24, batch_size=4,
                     pretrain_steps=4, pretrain_min_length=4)


pytestmark = pytest.mark.usefixtures("one_torch_thread")


@pytest.fixture(scope="module")
def chorales() -> list[Path]:
    return first_chorales(8)


@pytest.fixture(scope="module")
def windows(chorales) -> dict[str, torch.Tensor]:
    """One batch of ``collate``'s form: the first 24 notes of eight chorales."""
    rows = [Notes4().encode(read_midi(p))[:24] for p in chorales]
    x = np.zeros((len(rows), 24, 4), np.float32)
    mask = np.zeros((len(rows), 24), bool)
    for i, row in enumerate(rows):
        x[i, :len(row)], mask[i, :len(row)] = row, True
    return {"x": torch.from_numpy(x), "mask": torch.from_numpy(mask)}


@pytest.fixture(scope="module")
def corpus(tmp_path_factory) -> Path:
    """Twenty chorales: enough for a valid split."""
    path = tmp_path_factory.mktemp("corpus") / "c"
    build_corpus(first_chorales(20), path,
                 workers=1, fractions=(0.7, 0.2, 0.1))
    return path


@pytest.fixture(scope="module")
def run(corpus, tmp_path_factory) -> Path:
    """Two pretraining rounds, then four adversarial ones, with a row of log a round."""
    out = tmp_path_factory.mktemp("run") / "gan"
    settings = {"hidden": 16, "layers": 1, "sequence_length": 24, "batch_size": 4,
                "pretrain_steps": 2, "log_every": 1, "valid_every": 3, "valid_batches": 1,
                "checkpoint_every": 6}
    result = train("c-rnn-gan", corpus, out, settings=settings, budget=Budget(steps=6),
                   seed=0, tensorboard=False)
    assert result.step == 6
    return out


def trainer(config: CRNNGANConfig = TINY, seed: int = 0) -> CRNNGANTrainer:
    torch.manual_seed(seed)
    return CRNNGANTrainer(CRNNGAN(config), config, seed=seed)


def test_registered_on_notes4_with_its_extra():
    spec = manager().models.get("c-rnn-gan")
    assert (spec.representation, spec.extra) == ("notes4", "crnngan")
    assert spec.config_class() is CRNNGANConfig


def test_defaults_are_the_papers_but_the_optimizer():
    config = CRNNGANConfig()
    assert (config.hidden, config.layers, config.noise) == (350, 2, 4)
    assert config.freeze_ratio == 0.7 and config.d_learning_rate_factor == 0.5
    assert (config.optimizer, config.learning_rate) == ("adam", 1e-3)  # see the config
    assert config.feature_matching and config.weight_decay > 0
    with pytest.raises(ValueError, match="freeze_ratio"):
        CRNNGANConfig(freeze_ratio=1.5)
    with pytest.raises(ValueError, match="feature_std"):
        CRNNGANConfig(feature_mean=(0.0,) * 4, feature_std=(1.0, 1.0, 0.0, 1.0))


def test_the_moments_are_measured_on_the_train_split_and_kept(corpus):
    from deepsym.data import Corpus
    from deepsym.data.fit import sample_pieces

    measured = TINY.for_corpus(Corpus.open(corpus))
    opened = Corpus.open(corpus)
    notes = np.concatenate([Notes4().encode(opened.score(int(i)))
                            for i in sample_pieces(opened)]).astype(np.float64)
    np.testing.assert_allclose(measured.feature_mean, notes.mean(0), atol=1e-5)
    std = notes.std(0)
    std[std == 0] = 1.0  # the chorales' one velocity
    np.testing.assert_allclose(measured.feature_std, std, atol=1e-5)
    assert measured.for_corpus(opened) is measured
    model = CRNNGAN(measured)
    x = torch.as_tensor(notes[:50], dtype=torch.float32)[None]
    standardized = model.discriminator.scale(x)
    assert abs(float(standardized[..., 2].mean())) < 1.5  # pitch about its mean, in stds
    torch.testing.assert_close(model.generator.scale.inverse(standardized), x)


def test_shapes():
    model = CRNNGAN(TINY)
    noise = torch.rand(3, 7, model.generator.noise_size)
    notes, (h, _) = model.generator(noise)
    assert notes.shape == (3, 7, 4) and h.shape == (1, 3, 16)
    assert model.generator.teacher(noise, notes).shape == (3, 7, 4)
    scores, features = model.discriminator(notes)
    assert scores.shape == (3, 7) and features.shape == (3, 7, 32)  # both directions


def test_each_generated_step_reads_the_previous_output():
    """Free running equals stepping with each output fed back as the next input."""
    model = CRNNGAN(TINY).generator
    noise = torch.rand(2, 5, model.noise_size)
    whole, _ = model(noise)
    previous, state, parts = torch.zeros(2, 1, 4), None, []
    for t in range(5):
        previous, state = model.step(noise[:, t:t + 1], previous, state)
        parts.append(previous)
    torch.testing.assert_close(whole, torch.cat(parts, dim=1))


def test_the_curriculum_grows_the_sequence_length_over_pretraining():
    t = trainer()
    lengths = []
    for step in range(TINY.pretrain_steps):
        t.phase_step = step
        lengths.append(t.curriculum_length())
    assert lengths[0] == TINY.pretrain_min_length and lengths[-1] == TINY.sequence_length
    assert lengths == sorted(lengths)


def test_pretraining_lowers_the_next_note_error_on_real_chorales(windows):
    config = dataclasses.replace(TINY, pretrain_steps=60)
    t = trainer(config)
    check = torch.Generator().manual_seed(1)
    with torch.no_grad():
        before = float(t.next_note_error(windows["x"], windows["mask"], check))
    logs = []
    t.fit([windows], logs.append, rounds=60)
    with torch.no_grad():
        after = float(t.next_note_error(windows["x"], windows["mask"],
                                        torch.Generator().manual_seed(1)))
    assert {log.phase for log in logs} == {"pretrain"}
    assert [log.scalars["length"] for log in logs][::59] == [4.0, 24.0]
    assert after < 0.5 * before, (before, after)


def test_pretraining_error_is_the_best_draw_of_each_step(windows):
    """The pretraining loss by hand: per step, the smallest squared error (standardized
    units, summed over features) of the draws of the head noise; one draw: the MSE."""
    t = trainer()
    notes, mask = windows["x"], windows["mask"]
    g, draws, (batch, steps) = t.network.generator, TINY.pretrain_samples, notes.shape[:2]
    with torch.no_grad():
        got = t.next_note_error(notes, mask, torch.Generator().manual_seed(5), local=True)
        rng = torch.Generator().manual_seed(5)
        noise = torch.rand(batch, steps, g.noise_size, generator=rng)
        head = torch.rand(batch, steps * draws, TINY.head_noise, generator=rng)
        errors = []
        for k in range(draws):
            z = torch.cat([noise[..., :TINY.noise],
                           head.view(batch, steps, draws, -1)[:, :, k]], dim=-1)
            errors.append(((g.scale(g.teacher(z, notes)) - g.scale(notes)) ** 2).sum(-1))
        best = torch.stack(errors).min(0).values
        by_hand = best[mask].sum() / (mask.sum() * 4)
        plain = trainer(dataclasses.replace(TINY, pretrain_samples=1))
        mse = plain.next_note_error(notes, mask, torch.Generator().manual_seed(5),
                                    local=True)
        z = torch.rand(batch, steps, g.noise_size, generator=torch.Generator().manual_seed(5))
        predicted = plain.network.generator.teacher(z, notes)
        scale = plain.network.generator.scale
        plain_by_hand = ((scale(predicted) - scale(notes)) ** 2)[mask].mean()
    assert float(got) == pytest.approx(float(by_hand), rel=1e-5)
    assert float(mse) == pytest.approx(float(plain_by_hand), rel=1e-5)
    with pytest.raises(ValueError, match="head_noise"):
        CRNNGANConfig(head_noise=0, pretrain_samples=4)


def test_best_of_draws_pretraining_makes_both_of_two_next_notes():
    """Every pitch is -1 or +1 at random. The MSE teaches their mean, 0, whatever the
    noise; the best of 16 draws teaches the noise to spread the pitches to both sides
    (in 200 rounds not yet two sharp peaks: IMLE moves only the draw nearest a note)."""
    pitch = np.random.default_rng(0).choice([-1.0, 1.0], size=(32, 24))
    x = np.zeros((32, 24, 4), np.float32)
    x[..., 2] = pitch
    batch = {"x": torch.from_numpy(x), "mask": torch.ones(32, 24, dtype=torch.bool)}
    pitches = {}
    for draws in (1, 16):
        config = dataclasses.replace(TINY, hidden=32, pretrain_samples=draws,
                                     pretrain_steps=200, pretrain_min_length=24,
                                     learning_rate=3e-3)
        t = trainer(config)
        t.fit([batch], lambda log: None, rounds=200)
        with torch.no_grad():
            notes = t.network.generator(t.noise(64, 24, torch.Generator().manual_seed(2)))[0]
        pitches[draws] = notes[..., 2].flatten()
    mse, best = pitches[1], pitches[16]
    assert float(mse.std()) < 0.2 and float(mse.abs().median()) < 0.2, mse
    assert float(best.std()) > 0.5 and float(best.abs().median()) > 0.4, best
    assert 0.3 < float((best > 0).float().mean()) < 0.7, best


def test_adversarial_rounds_update_both_sides_and_report_scalars(windows):
    t = trainer(dataclasses.replace(TINY, pretrain_steps=0))
    d_before = [p.clone() for p in t.model.discriminator.parameters()]
    logs = []
    t.fit([windows], logs.append, rounds=1)
    assert [log.update for log in logs] == ["discriminator_step", "generator_step"]
    d, g = logs
    assert {"d_real", "d_fake", "frozen", "d_loss"} <= d.scalars.keys()
    assert {"adversarial", "feature_matching", "d_fake", "frozen"} <= g.scalars.keys()
    assert 0 < d.scalars["d_real"] < 1 and d.loss is not None  # D reports first: it trains
    # the paper's rule on the losses per log term: D's two (real, fake) against G's one
    frozen = g.scalars["adversarial"] < 0.7 * d.scalars["d_loss"] / 2
    assert g.scalars["frozen"] == float(frozen) and (g.loss is None) == frozen
    assert any(not torch.equal(a, b) for a, b in
               zip(d_before, t.model.discriminator.parameters(), strict=True))


def test_a_side_far_ahead_is_frozen_and_not_updated(windows):
    t = trainer(dataclasses.replace(TINY, pretrain_steps=0))
    t.freezer.losses["generator"] = 100.0  # D's loss is far below 70% of G's
    d_before = [p.clone() for p in t.model.discriminator.parameters()]
    d = t.discriminator_step(windows)
    assert d["loss"] is None and d["frozen"] == 1.0
    update = t.phases()[1].updates[0]
    assert t.apply(update, windows)[0] is None
    assert all(torch.equal(a, b) for a, b in
               zip(d_before, t.model.discriminator.parameters(), strict=True))


def test_an_unfrozen_generator_minimizes_feature_matching_plus_mode_seeking(windows):
    t = trainer(dataclasses.replace(TINY, pretrain_steps=0, mode_seeking=0.5))
    t.freezer.losses["discriminator"] = 0.01
    g_before = [p.clone() for p in t.model.generator.parameters()]
    loss, _, finite, scalars = t.apply(t.phases()[1].updates[1], windows)
    assert finite and scalars["frozen"] == 0.0
    assert loss == pytest.approx(scalars["feature_matching"] + 0.5 * scalars["mode_seeking"])
    assert any(not torch.equal(a, b) for a, b in
               zip(g_before, t.model.generator.parameters(), strict=True))


@pytest.mark.parametrize("feature_matching", [True, False])
def test_without_mode_seeking_the_generator_minimizes_the_paper_loss(windows,
                                                                     feature_matching):
    assert TINY.mode_seeking == 0  # off by default
    t = trainer(dataclasses.replace(TINY, pretrain_steps=0, feature_matching=feature_matching))
    t.freezer.losses["discriminator"] = 0.01
    g = t.generator_step(windows)
    assert g["loss"] is not None
    paper = g["feature_matching"] if feature_matching else g["adversarial"]
    assert float(g["loss"].detach()) == pytest.approx(float(paper))


def test_mode_seeking_is_noise_distance_over_music_distance(windows):
    """MSGAN's ratio per row of two noise draws, by hand; large for a generator that
    ignores its noise."""
    t = trainer(dataclasses.replace(TINY, pretrain_steps=0))
    draw = torch.Generator().manual_seed(3)
    size = t.network.generator.noise_size
    noise, other_noise = (torch.rand(4, 6, size, generator=draw) for _ in range(2))
    with torch.no_grad():
        fake, other = (t.network.generator(z)[0] for z in (noise, other_noise))
        scale = t.network.generator.scale
        by_hand = torch.stack([(noise[i] - other_noise[i]).abs().mean()
                               / ((scale(fake[i]) - scale(other[i])).abs().mean() + 1e-5)
                               for i in range(4)]).mean()
        ratio = t.mode_seeking(noise, fake, other_noise, other)
        alike = t.mode_seeking(noise, fake, other_noise, fake)  # the noise made no difference
    assert float(ratio) == pytest.approx(float(by_hand), rel=1e-5)
    assert float(alike) > 100 * float(by_hand)


def test_validation_reports_the_next_note_error_and_score_gap_and_leaves_the_rng_alone(windows):
    t = trainer()
    state = t.rng.get_state()
    with torch.no_grad():
        values = t.validation(windows)
    assert set(values) == {"next_note_error", "d_gap"} and float(values["next_note_error"]) > 0
    assert -1 < float(values["d_gap"]) < 1 and torch.equal(t.rng.get_state(), state)
    assert CRNNGANTrainer.validation_target is None


def test_the_freezer_state_resumes(windows):
    t = trainer(dataclasses.replace(TINY, pretrain_steps=0))
    t.fit([windows], rounds=1)
    u = trainer(dataclasses.replace(TINY, pretrain_steps=0), seed=5)
    u.load_state_dict(t.state_dict())
    assert u.freezer.losses == t.freezer.losses and None not in u.freezer.losses.values()


def test_the_log_has_per_side_columns_and_validation(run):
    with (run / "log.csv").open() as f:
        rows = list(csv.DictReader(f))
    columns = rows[0].keys()
    for name in ("pretrain_step_loss", "pretrain_step_length", "discriminator_step_d_real",
                 "discriminator_step_d_fake", "discriminator_step_frozen",
                 "generator_step_frozen", "generator_step_feature_matching",
                 "generator_step_adversarial", "valid_next_note_error", "valid_d_gap"):
        assert name in columns, name
    adversarial = [r for r in rows if r["discriminator_step_d_real"]]
    assert len(adversarial) == 4
    assert all(r["generator_step_frozen"] in ("0.0", "1.0", "0", "1") for r in adversarial)


def test_sampling_writes_whole_sequences_as_midi_that_mido_reads_back(run, tmp_path):
    sampler = load_sampler(run, seed=3)
    assert isinstance(sampler, SequenceSampler)
    [chunk] = list(sampler.chunks(2, 40))  # the whole sequence in one draw
    assert chunk.shape == (2, 40, 4) and (chunk[..., 3] > 0).all()
    [score] = sampler.sample(1, 40)
    assert score.n_notes == 40
    path = tmp_path / "gan.mid"
    write_midi(score, path)
    midi = mido.MidiFile(path)
    pitches = [m.note for track in midi.tracks for m in track
               if m.type == "note_on" and m.velocity > 0]
    assert sorted(pitches) == sorted(int(p) for t in score.tracks for p in t.notes["pitch"])


def test_seeds_vary_the_output_and_a_seed_repeats_it(run):
    def draw(seed: int) -> np.ndarray:
        return next(load_sampler(run, seed=seed).chunks(1, 32))

    assert np.array_equal(draw(1), draw(1))
    assert not np.allclose(draw(1), draw(2))


def test_a_primer_is_continued(run, chorales):
    sampler = load_sampler(run, seed=0)
    primer = read_midi(chorales[0])
    [score] = sampler.sample(1, 16, primer, with_primer=True)
    assert score.n_notes == primer.n_notes + 16


def test_pieces_in_seconds_are_cut_from_one_whole_draw(run):
    sampler = load_sampler(run, seed=4)
    assert sampler.step_cap(2.0) == 64
    [score] = sampler.sample_seconds(1, 2.0)
    assert score.n_notes > 0 and score.duration_seconds <= 2.0 + 1e-6


def test_token_controls_are_refused_by_name(run):
    sampler = load_sampler(run, Controls(temperature=0.5, top_k=3), seed=0)
    with pytest.raises(DeepsymError, match="temperature, top-k"):
        sampler.sample(1, 8)


def test_a_refused_control_on_the_command_line_is_one_line_and_makes_no_folder(run, tmp_path,
                                                                             capsys):
    out = tmp_path / "pieces"
    assert main(["sample", str(run), "-n", "1", "--top-k", "5", "-o", str(out)]) == 1
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "cannot follow top-k" in err
    assert not out.exists()
