"""MuseGAN: the three generators' structure, the critic, binary neurons, the sampler's
options, and a short real training on chorales through the command line."""
from __future__ import annotations

import copy
import csv
import json
import math
import re
import shutil

import mido
import numpy as np
import pytest
import torch
from deepsym_plugins.musegan_model import (
    KINDS,
    MODES,
    Critic,
    Generator,
    MuseGAN,
    MuseGANConfig,
    _edges,
    _resize,
    _up,
    binarize,
    noisy,
    phrase_walk,
    pitches_of,
    probabilities_of,
    with_rest,
)
from deepsym_plugins.musegan_sample import PhraseSampler
from music21_corpus import first_chorales

from deepsym import read_midi
from deepsym.cli import main
from deepsym.data import build_corpus
from deepsym.errors import DeepsymError
from deepsym.sampling.run import load_sampler
from deepsym.training.checkpoint import load_checkpoint, save_checkpoint

pytestmark = pytest.mark.usefixtures("one_torch_thread")

SMALL = {"generator_channels": 16, "critic_channels": 8, "latent": 4}


def small(**fields) -> MuseGANConfig:
    return MuseGANConfig(**{**SMALL, **fields})


def normal(seed: int):
    rng = torch.Generator().manual_seed(seed)
    return lambda shape: torch.randn(shape, generator=rng)


@pytest.mark.parametrize("mode", MODES)
def test_every_mode_makes_phrases_of_the_configured_shape(mode):
    for config in (small(mode=mode),  # JSB's: 4 tracks, 4 bars of 16 steps, 84 pitches
                   small(mode=mode, rule="family", n_tracks=5, steps_per_beat=24),  # LPD-5
                   small(mode=mode, n_bars=1, n_pitches=12),
                   small(mode=mode, refiner_units=2),
                   small(mode=mode, time_upsampling="transposed"),  # the paper's generator
                   small(mode=mode, steps_per_beat=3)):  # resizing by an odd factor
        model = MuseGAN(config)
        z = model.generator.draw(3, normal(0))
        assert {k for k, v in z._asdict().items() if v is not None} == set(KINDS[mode])
        logits = model.generator(z)
        assert logits.shape == (3, config.n_bars, config.n_tracks, config.steps_per_bar,
                                config.n_pitches)
        assert model.critic(torch.sigmoid(logits)).shape == (3,)


def test_a_hybrid_tracks_own_vectors_move_that_track_alone():
    """The shared vectors reach every track, a track's own ones only that track."""
    torch.manual_seed(0)  # some inits of so small a net let no change through a track
    generator = Generator(small(mode="hybrid")).eval()
    z = generator.draw(2, normal(1))
    base = generator(z)
    intra = z.intra.clone()
    intra[:, 2] += 1
    moved = (generator(z._replace(intra=intra)) - base).abs().amax(dim=(0, 1, 3, 4))
    assert moved[2] > 0 and torch.all(moved[[0, 1, 3]] == 0)
    shared = (generator(z._replace(inter=z.inter + 1)) - base).abs().amax(dim=(0, 1, 3, 4))
    assert torch.all(shared > 0)


def test_a_jamming_model_has_no_shared_vector_and_a_composer_no_own_ones():
    assert Generator(small(mode="jamming")).draw(1, normal(0)).inter is None
    composer = Generator(small(mode="composer"))
    assert composer.draw(1, normal(0)).intra is None and len(composer.bar) == 1


def test_the_temporal_generator_gives_each_bar_its_own_vector():
    generator = Generator(small(mode="composer")).eval()
    per_bar = generator.temporal["inter"](torch.randn(5, 4, generator=torch.Generator()
                                                      .manual_seed(0)))
    assert per_bar.shape == (5, 4, 4)
    assert not torch.allclose(per_bar[:, 0], per_bar[:, 1])


def test_a_refiner_sees_its_track_across_bar_lines_and_no_other_track():
    torch.manual_seed(0)
    generator = Generator(small(refiner_units=1)).eval()
    logits = torch.randn(2, 4, 4, 16, 84, generator=torch.Generator().manual_seed(0))
    moved = logits.clone()
    moved[:, 0, 1, 15, 40] += 5  # track 2, last step of bar 1
    change = (generator.refine(moved) - generator.refine(logits)).abs()
    assert change[:, 1, 1, 0, 34:47].amax() > 0  # track 2, first step of bar 2, pitches near
    assert change[:, :, [0, 2, 3]].amax() == 0  # two convolutions of 3 steps: 2 steps on
    assert change[:, 1, 1, 1].amax() > 0 and change[:, 1, 1, 2].amax() == 0
    assert torch.equal(Generator(small()).refine(logits), logits)  # no refiner


def test_the_critic_scores_each_sample_alone():
    """No batch norm: a sample's score does not depend on the others (the gradient
    penalty needs that)."""
    critic = Critic(small())
    x = (torch.rand(4, 4, 4, 16, 84, generator=torch.Generator().manual_seed(0)) < 0.1).float()
    scores = critic(x)
    other = x.clone()
    other[1:] = 1 - other[1:]
    assert torch.allclose(critic(other)[0], scores[0])
    assert not torch.allclose(critic(other)[1:], scores[1:])


def test_the_onset_stream_counts_notes_starting_and_ending_across_bar_lines():
    x = torch.zeros(1, 2, 1, 4, 12)  # (batch, bars, tracks, steps, pitches)
    x[0, 0, 0, 2:, 5] = 1  # one note from step 2 of bar 1 to step 1 of bar 2: one note
    x[0, 1, 0, :2, 5] = 1
    x[0, 1, 0, 1, 7] = 1  # a 1-step note in bar 2
    x[0, 0, 0, 0, [0, 4]] = 1  # a 1-step chord at the start of the phrase
    edges = _edges(x.transpose(1, 2))  # (batch, 2 tracks, bars, steps, 1)
    starts, ends = edges[0, 0, :, :, 0], edges[0, 1, :, :, 0]
    assert starts.tolist() == [[2, 0, 1, 0], [0, 1, 0, 0]]
    assert ends.tolist() == [[0, 2, 0, 0], [0, 0, 2, 0]]


@pytest.mark.parametrize("streams", [("roll",), ("chroma",), ("onsets",),
                                     ("roll", "chroma", "onsets")])
def test_each_critic_stream_scores_phrases_and_passes_gradients_to_every_note(streams):
    critic = Critic(small(critic_streams=streams))
    x = (torch.rand(3, 4, 4, 16, 84, generator=torch.Generator().manual_seed(0)) < 0.1
         ).float().requires_grad_()
    critic(x).sum().backward()
    assert x.grad.shape == x.shape and (x.grad != 0).float().mean() > 0.9


@pytest.mark.parametrize("tracks", [4, 5])
def test_a_private_critic_reads_each_tracks_pitches_apart(tracks):
    """With ``critic_private`` the pitch layers' channels of one track see that track
    alone (changing the bass moves its own channels only); without it every channel
    sees every track. The whole critic still scores and passes gradients."""
    x = (torch.rand(2, 4, tracks, 16, 84, generator=torch.Generator().manual_seed(0))
         < 0.1).float()
    changed = x.clone()
    changed[:, :, -1] = 1 - changed[:, :, -1]  # the last track, all its cells flipped
    widths = {}
    for private in (True, False):
        critic = Critic(small(n_tracks=tracks, critic_private=private))
        pitch = critic.stream["roll"][:4]  # the two pitch convolutions and activations
        a, b = (pitch(v.transpose(1, 2)) for v in (x, changed))
        widths[private], per = a.shape[1], a.shape[1] // tracks
        moved = [not torch.equal(a[:, k * per:(k + 1) * per], b[:, k * per:(k + 1) * per])
                 for k in range(tracks)]
        assert moved == ([False] * (tracks - 1) + [True] if private else [True] * tracks)
    assert widths == {True: tracks * math.ceil(8 / tracks), False: 8}  # critic_channels 8
    x.requires_grad_()
    Critic(small(n_tracks=tracks, critic_private=True))(x).sum().backward()
    assert (x.grad != 0).float().mean() > 0.9


def test_the_onset_stream_tells_a_held_note_from_the_same_note_cut_in_steps():
    """What the stream is for: the roll stream's first layer mixes the pitches of a step,
    so a held note and the same note on every other step differ only in the onset
    counts; the onset stream alone already scores them apart."""
    held = torch.zeros(1, 4, 4, 16, 84)
    held[..., 40] = 1
    cut = held.clone()
    cut[:, :, :, 1::2] = 0
    critic = Critic(small(critic_streams=("onsets",)))
    starts = _edges(cut.transpose(1, 2))[0, :4].sum().item()
    assert starts == 4 * 4 * 8 and _edges(held.transpose(1, 2))[0, :4].sum().item() == 4
    assert critic(held).item() != pytest.approx(critic(cut).item())


@pytest.mark.parametrize("kind", ["deterministic", "stochastic"])
def test_binary_neurons_give_notes_forward_and_pass_gradients_straight_through(kind):
    p = torch.tensor([0.2, 0.6, 0.9], requires_grad=True)
    uniform = torch.tensor([0.1, 0.7, 0.5])
    out = binarize(p, kind, uniform)
    expected = [0.0, 1.0, 1.0] if kind == "deterministic" else [1.0, 0.0, 1.0]
    assert out.tolist() == expected
    (out * torch.tensor([1.0, 2.0, 3.0])).sum().backward()
    assert p.grad.tolist() == [1.0, 2.0, 3.0]
    assert binarize(p, "none") is p


def test_logit_noise_makes_a_deterministic_neuron_sound_with_p_sigmoid_logit_over_scale():
    uniform = torch.rand(200_000, generator=torch.Generator().manual_seed(0))
    for logit, scale in ((0.15, 0.15), (-0.3, 0.15), (0.5, 1.0)):
        logits = torch.full((200_000,), logit, requires_grad=True)
        out = binarize(torch.sigmoid(noisy(logits, scale, uniform)), "deterministic")
        expected = torch.sigmoid(torch.tensor(logit / scale)).item()
        assert out.mean().item() == pytest.approx(expected, abs=0.005)
        out.sum().backward()  # straight through the noise to the logits
        assert (logits.grad > 0).all()
    assert torch.equal(noisy(logits, 0.0, uniform), logits)


@pytest.mark.parametrize("kind", ["deterministic", "stochastic"])
def test_a_voice_sounds_one_pitch_or_rests_and_passes_gradients_straight_through(kind):
    """output="voice": a softmax over the pitches and a rest of logit 0; one cell of each
    step sounds, the likeliest or the one a uniform draw lands in."""
    logits = torch.tensor([[2.0, 0.0, 1.0], [-1.0, -2.0, -3.0]], requires_grad=True)
    extended = with_rest(logits, "voice")
    assert extended[:, -1].tolist() == [0.0, 0.0] and with_rest(logits, "notes") is logits
    p = probabilities_of(extended, "voice")
    assert torch.allclose(p.sum(-1), torch.ones(2))
    # cumulative p: .61 .69 .92 1 and .24 .32 .36 1
    uniform = torch.tensor([[0.85] * 4, [0.05] * 4])
    out = binarize(p, kind, uniform, "voice")
    expected = ([[1, 0, 0, 0], [0, 0, 0, 1]] if kind == "deterministic"
                else [[0, 0, 1, 0], [1, 0, 0, 0]])
    assert out.tolist() == expected
    assert pitches_of(out, "voice").tolist() == [row[:3] for row in expected]
    (pitches_of(out, "voice") * torch.tensor([1.0, 2.0, 3.0])).sum().backward()
    softmax = torch.softmax(extended.detach(), -1)[:, :3]  # d/dlogits of sum(w p)
    weights = torch.tensor([1.0, 2.0, 3.0])
    expected_grad = softmax * (weights - (softmax * weights).sum(-1, keepdim=True))
    assert torch.allclose(logits.grad, expected_grad)


def test_gumbel_noise_makes_a_voice_pick_with_p_softmax_logits_over_scale():
    uniform = torch.rand(100_000, 4, generator=torch.Generator().manual_seed(0))
    logits = with_rest(torch.tensor([0.3, -0.1, 0.2]).expand(100_000, 3), "voice")
    for scale in (0.1, 1.0):
        noisy_logits = noisy(logits, scale, uniform, "voice")
        out = binarize(probabilities_of(noisy_logits, "voice"), "deterministic", None, "voice")
        expected = torch.softmax(logits[0] / scale, -1)
        assert torch.allclose(out.mean(0), expected, atol=0.005)


def test_a_voice_model_samples_at_most_one_pitch_per_track_and_step():
    config = small(output="voice")
    torch.manual_seed(0)
    model = MuseGAN(config)
    for binarize_option in ("threshold", "bernoulli"):
        s = PhraseSampler(model, config.make_representation(), seed=0,
                          options={"binarize": binarize_option})
        for score in s.sample(3, 4):
            roll = s.representation.encode(score)  # (bars, tracks, steps, pitches)
            per_step = roll.sum(-1)
            assert per_step.max() == 1 and per_step.mean() > 0.2
    with pytest.raises(DeepsymError, match=r"output=voice.*a threshold does not apply"):
        PhraseSampler(model, config.make_representation(), options={"threshold": 0.4})


def test_the_phrase_walk_keeps_unit_variance():
    rng = torch.Generator().manual_seed(0)
    a, b = torch.randn(100_000, generator=rng), torch.randn(100_000, generator=rng)
    assert phrase_walk(a, b, 0.5).std().item() == pytest.approx(1.0, abs=0.01)
    assert torch.equal(phrase_walk(a, b, 0.0), a) and torch.equal(phrase_walk(a, b, 1.0), b)


def test_resize_upsampling_lets_a_beat_reach_the_steps_around_it_and_each_step_differ():
    """A transposed convolution makes each beat's steps from that beat alone; resizing
    repeats the beat, then convolves over 5 steps, so 2 steps of either neighbour move
    with it, and the 4 steps of a beat still come out different."""
    torch.manual_seed(0)
    beats = torch.randn(1, 6, 4, 1)  # (batch, channels, beats, pitch)
    moved = beats.clone()
    moved[:, :, 1] += 1
    for layers, reach in ((_up(6, 6, (4, 1)), range(4, 8)), (_resize(6, 6, 4), range(2, 10))):
        net = torch.nn.Sequential(*layers[:-2])  # up to the batch norm
        out = net(beats)[0, :, :, 0]
        changed = (net(moved)[0, :, :, 0] - out).abs().amax(0) > 0
        assert changed.nonzero()[:, 0].tolist() == list(reach)
        steps = out[:, 4:8].T  # beat 1's steps
        assert len({tuple(step.tolist()) for step in steps}) == 4


def test_config_checks():
    with pytest.raises(ValueError, match="multiple of 12"):
        MuseGANConfig(n_pitches=80)
    with pytest.raises(ValueError, match='rule="family" needs n_tracks=5'):
        MuseGANConfig(rule="family")
    with pytest.raises(ValueError, match="within MIDI"):
        MuseGANConfig(lowest_pitch=60)
    for streams in ((), ("roll", "roll"), ("onset",)):
        with pytest.raises(ValueError, match="critic_streams must be distinct names"):
            MuseGANConfig(critic_streams=streams)
    with pytest.raises(ValueError, match='time_upsampling must be "transposed" or'):
        MuseGANConfig(time_upsampling="nearest")
    with pytest.raises(ValueError, match='output must be "auto", "notes" or "voice"'):
        MuseGANConfig(output="chords")
    assert MuseGANConfig().output == "voice"  # "auto": one line per track under rule="voice"
    assert MuseGANConfig(rule="family", n_tracks=5).output == "notes"  # pianos' chords
    assert MuseGANConfig(output="notes").output == "notes"
    with pytest.raises(ValueError, match=r"logit_noise must be >= 0, not -0\.1"):
        MuseGANConfig(logit_noise=-0.1)


# -- sampling ------------------------------------------------------------------------------


def test_train_list_shows_output_auto_and_what_it_becomes(capsys):
    assert main(["train", "--list"]) == 0
    assert re.search(r'\n  output +auto\|notes\|voice +"auto" \("voice" with the other '
                     r"defaults\)\n", capsys.readouterr().out)


def sampler(mode: str = "hybrid", seed: int = 0, **options) -> PhraseSampler:
    """An untrained small model's sampler; a sigmoid per pitch, so ``threshold`` applies."""
    config = small(mode=mode, output="notes")
    torch.manual_seed(0)
    model = MuseGAN(config)
    return PhraseSampler(model, config.make_representation(), seed=seed, options=options)


def test_phrases_chain_into_longer_pieces_with_the_temporal_vectors_walking():
    """Two phrases: at walk 0 the second repeats the first, at 1 it is new; only the
    temporal vectors move (the threshold: the untrained model's 90th percentile, so a
    tenth of the cells sound)."""
    first = sampler()
    z = first.latents(2)
    with torch.no_grad():
        threshold = float(torch.sigmoid(first.model.generator(z)).quantile(0.9))
    walked = first.walked(z)
    assert torch.equal(walked.inter, z.inter) and torch.equal(walked.intra, z.intra)
    assert not torch.equal(walked.intra_temporal, z.intra_temporal)
    for walk, repeats in ((0.0, True), (1.0, False)):
        for score in sampler(walk=walk, threshold=threshold).sample(2, 8):
            roll = first.representation.encode(score)
            assert roll.shape[0] == 8 and 0 < roll.mean() < 1
            assert np.array_equal(roll[:4], roll[4:]) == repeats


def test_fixed_shared_vectors_and_interpolation():
    s = sampler(shared="fixed")
    z = s.latents(3)
    assert torch.equal(z.inter[0], z.inter[2]) and torch.equal(z.inter_temporal[0],
                                                                z.inter_temporal[1])
    assert not torch.equal(z.intra[0], z.intra[1])
    line = sampler(interpolate=True).latents(5)
    ends = sampler(interpolate=True)
    first, last = (ends.model.generator.draw(5, ends.normal) for _ in range(2))
    assert torch.allclose(line.intra[0], first.intra[0], atol=1e-5)
    assert torch.allclose(line.intra[-1], last.intra[-1], atol=1e-5)
    unit = line.inter / line.inter.norm(dim=-1, keepdim=True)
    angles = torch.arccos((unit[1:] * unit[:-1]).sum(-1))
    assert torch.allclose(angles, angles.mean().expand_as(angles), rtol=1e-3)  # even steps
    with pytest.raises(DeepsymError, match="no shared vector"):
        sampler("jamming", shared="fixed")


def test_bernoulli_binarization_draws_from_the_seed():
    a = sampler(binarize="bernoulli", seed=3).sample(1, 4)[0]
    b = sampler(binarize="bernoulli", seed=3).sample(1, 4)[0]
    c = sampler(binarize="bernoulli", seed=4).sample(1, 4)[0]
    assert a.n_notes > 0 and [t.notes.tolist() for t in a.tracks] == \
        [t.notes.tolist() for t in b.tracks] != [t.notes.tolist() for t in c.tracks]


def test_programs_voice_the_tracks_and_a_primer_is_refused():
    score = sampler(programs="52,40,41,42").sample(1, 4)[0]
    assert [t.program for t in score.tracks] == [52, 40, 41, 42]
    with pytest.raises(DeepsymError, match="programs must be 4 numbers"):
        sampler(programs="1,2")
    with pytest.raises(DeepsymError, match="whole numbers"):
        sampler(programs="piano")
    with pytest.raises(DeepsymError, match="cannot continue a primer"):
        sampler().sample(1, 4, primer=score)


# -- a real run ----------------------------------------------------------------------------


@pytest.fixture(scope="module")
def corpus(tmp_path_factory):
    """12 real chorales."""
    root = tmp_path_factory.mktemp("chorales")
    build_corpus(first_chorales(12), root, workers=1, fractions=(0.7, 0.3, 0.0))
    return root


def train(corpus, out, **fields) -> None:
    """A few rounds of a small model through the command line."""
    settings = {**SMALL, "batch_size": 4, "n_critic": 2, "valid_every": 2, "log_every": 1,
                **fields}
    args = ["train", "musegan", "--corpus", str(corpus), "--out", str(out), "--steps", "3",
            "-q"]
    assert main(args + [a for k, v in settings.items() for a in ("--set", f"{k}={v}")]) == 0


@pytest.fixture(scope="module")
def run(corpus, tmp_path_factory):
    """A few rounds on 12 real chorales, with a weight average."""
    out = tmp_path_factory.mktemp("musegan") / "run"
    train(corpus, out, ema=0.99)
    return out


def test_a_short_run_logs_both_sides(run):
    rows = list(csv.DictReader((run / "log.csv").open()))
    assert len(rows) >= 3
    for column in ("critic_step_wasserstein", "critic_step_gp", "generator_step_fake_score",
                   "valid_wasserstein"):
        assert any(row.get(column) not in (None, "") for row in rows), column
    assert all(float(r["critic_step_gp"]) >= 0 for r in rows if r["critic_step_gp"])


def test_sampling_uses_the_generators_average_and_the_last_critic(run):
    trainer = load_checkpoint(run / "checkpoints" / "last.pt")["trainer"]
    average, live = trainer["ema"], trainer["model"]
    assert (average["part"], average["decay"], average["updates"]) == ("generator", 0.99, 3)
    model = load_sampler(run).model
    for name, value in model.generator.named_parameters():
        assert torch.equal(value, average["weights"][name])
    assert any(not torch.equal(v, live[f"generator.{k}"]) for k, v in average["weights"].items())
    for name, value in model.critic.state_dict().items():
        assert torch.equal(value, live[f"critic.{name}"])
    # batch norm with the average's own statistics: measured on 32 batches of latents
    # through the averaged generator, not those the last weights left behind
    norms = {name: value for name, value in model.generator.named_buffers()
             if name.endswith(("running_mean", "running_var"))}
    assert norms and average["buffers"].keys() >= norms.keys()
    for name, value in norms.items():
        assert torch.equal(value, average["buffers"][name])
    assert all(not torch.equal(v, live[f"generator.{k}"]) for k, v in norms.items())
    generator = copy.deepcopy(model.generator)
    for m in generator.modules():
        if isinstance(m, torch.nn.modules.batchnorm._BatchNorm):
            m.reset_running_stats()
            m.momentum = None
    rng = torch.Generator().manual_seed(0)
    with torch.no_grad():
        for _ in range(32):  # batches of the run's batch_size, 4
            generator.train()(generator.draw(4, lambda shape: torch.randn(shape, generator=rng)))
    for name, value in norms.items():
        assert torch.allclose(generator.get_buffer(name), value)


def test_sample_writes_four_track_midi_that_mido_reads(run, tmp_path, capsys):
    out = tmp_path / "out"
    assert main(["sample", str(run), "-n", "2", "-o", str(out), "--length", "8tokens",
                 "--opt", "programs=52,52,52,52"]) == 0
    files = sorted(out.glob("*.mid"))
    assert len(files) == 2
    for path in files:
        midi = mido.MidiFile(path)
        tracks = [t for t in midi.tracks if any(m.type == "note_on" for m in t)]
        programs = {m.program for t in midi.tracks for m in t if m.type == "program_change"}
        score = read_midi(path)
        assert len(score.tracks) == 4 and programs == {52}
        notes = sum(1 for t in tracks for m in t if m.type == "note_on" and m.velocity)
        assert notes == score.n_notes
    assert isinstance(load_sampler(run), PhraseSampler)


def test_a_run_saved_before_output_existed_loads_and_resumes_as_notes(run, tmp_path):
    """Runs saved before ``output`` existed had a sigmoid per pitch: they keep it, though
    the default is now "voice"."""
    old = tmp_path / "old"
    shutil.copytree(run, old)
    record = json.loads((old / "config.json").read_text())
    del record["config"]["output"]
    (old / "config.json").write_text(json.dumps(record))
    for path in (old / "checkpoints").glob("*.pt"):
        state = load_checkpoint(path)
        del state["config"]["output"]
        save_checkpoint(path, state)
    assert load_sampler(old).model.config.output == "notes"
    assert main(["train", "--resume", str(old), "--steps", "4", "-q"]) == 0
    assert load_checkpoint(old / "checkpoints" / "last.pt")["config"]["output"] == "notes"


def test_a_default_run_sings_one_pitch_at_a_time_in_every_track_and_a_notes_run_may_not(
        run, corpus, tmp_path):
    """The default run (rule="voice", so output="voice") writes MIDI in which no track
    sounds two notes at once; the same run with output="notes" does."""
    notes_run = tmp_path / "notes"
    train(corpus, notes_run, ema=0.99, output="notes")
    for folder, output, one_line in ((run, "voice", True), (notes_run, "notes", False)):
        assert load_checkpoint(folder / "checkpoints" / "last.pt")["config"]["output"] == output
        out = tmp_path / f"out-{output}"
        assert main(["sample", str(folder), "-n", "2", "-o", str(out), "--length",
                     "8tokens"]) == 0
        lines = []
        for path in sorted(out.glob("*.mid")):
            for track in read_midi(path).tracks:
                start = track.notes["start"].astype(np.int64)  # notes sorted by start
                end = start + track.notes["duration"]
                assert len(start), path
                lines.append(bool(np.all(start[1:] >= end[:-1])))  # no two at once
        assert all(lines) if one_line else not all(lines), output
