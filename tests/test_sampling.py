"""Sampling: the choice of each step, condition vectors, incremental state, primers,
controls changed mid-stream, and ``deepsym sample`` on a trained run."""
from __future__ import annotations

import numpy as np
import pytest
import torch
from music21_corpus import first_chorales, real_midi_files

from deepsym import read_midi
from deepsym.cli import main
from deepsym.errors import DeepsymError
from deepsym.modeling import from_dict
from deepsym.plugins import manager
from deepsym.representations import pitch_class_histogram
from deepsym.sampling import Controls, choose, choose_many
from deepsym.sampling.conditions import (
    assemble,
    density,
    key_profile,
    parse_key,
    pitch_height,
    requested,
)

TINY = {"hidden": 32, "layers": 2, "embedding": 8}
BEAT_EVENTS = {"unit": "beat", "resolution": 4, "max_shift": 16, "velocity_bins": 4}
FIELDS = {"char-rnn": BEAT_EVENTS, "char-rnn-conditional": BEAT_EVENTS,
          "char-rnn-duration": {"attention_window": 7}, "pianoroll-rnn": {}}
PROBABILITIES = torch.tensor([0.5, 0.3, 0.15, 0.05])


pytestmark = pytest.mark.usefixtures("one_torch_thread")


@pytest.fixture(scope="module")
def chorale():
    return read_midi([p for p in real_midi_files() if p.name.startswith("bach")][3])


def sampler(name: str, controls: Controls | None = None, seed: int = 0, **options):
    spec = manager().models.get(name)
    config = from_dict(spec.config_class(), {**TINY, **FIELDS[name]})
    torch.manual_seed(0)
    model = spec.build(config)
    representation = spec.make_representation(config)
    return spec.sampler_class()(model, representation, controls, seed=seed, name=name,
                                **options)


def frequencies(picks: torch.Tensor, choices: int = 4) -> torch.Tensor:
    return torch.bincount(picks.flatten(), minlength=choices) / picks.numel()


# -- the choice of each step -----------------------------------------------------------------


def test_top_k_one_and_a_tiny_top_p_are_the_argmax():
    logits = torch.randn(500, 50, generator=torch.Generator().manual_seed(0))
    g = torch.Generator().manual_seed(1)
    assert torch.equal(choose(logits, Controls(top_k=1), g), logits.argmax(-1))
    assert torch.equal(choose(logits, Controls(top_p=1e-4), g), logits.argmax(-1))
    assert torch.equal(choose(logits, Controls(temperature=0), g), logits.argmax(-1))


@pytest.mark.parametrize("controls, expected", [
    (Controls(), PROBABILITIES),
    (Controls(temperature=0.5), PROBABILITIES ** 2 / (PROBABILITIES ** 2).sum()),
    (Controls(temperature=2), PROBABILITIES.sqrt() / PROBABILITIES.sqrt().sum()),
    (Controls(top_k=3), torch.tensor([0.5, 0.3, 0.15, 0]) / 0.95),
    (Controls(top_k=2, temperature=0.5), torch.tensor([0.25, 0.09, 0, 0]) / 0.34),
    (Controls(top_p=0.5), torch.tensor([1.0, 0, 0, 0])),  # 0.5 alone reaches p
    (Controls(top_p=0.81), torch.tensor([0.5, 0.3, 0.15, 0]) / 0.95),
], ids=["plain", "cold", "hot", "top-3", "top-2-cold", "top-p-0.5", "top-p-0.81"])
def test_choose_draws_from_the_controlled_distribution(controls, expected):
    logits = PROBABILITIES.log().repeat(20_000, 1)
    picks = choose(logits, controls, torch.Generator().manual_seed(2))
    assert torch.allclose(frequencies(picks), expected, atol=0.012)


def test_choose_many_turns_each_key_on_with_its_own_chance():
    logits = torch.tensor([-2.0, -0.5, 0.0, 1.0, 3.0])
    rows = logits.repeat(20_000, 1)
    g = torch.Generator().manual_seed(3)
    for temperature in (1.0, 2.0):
        on = choose_many(rows, Controls(temperature=temperature), g)
        assert torch.allclose(on.mean(0), torch.sigmoid(logits / temperature), atol=0.012)
    assert choose_many(logits, Controls(temperature=0)).tolist() == [0, 0, 0, 1, 1]
    limited = choose_many(rows, Controls(top_k=2), g)
    assert limited.sum(-1).max() <= 2 and limited[:, :3].sum() == 0
    assert limited[:, 4].mean() > 0.9
    with pytest.raises(DeepsymError, match="top_p does not apply"):
        choose_many(logits, Controls(top_p=0.9))


# -- condition vectors -----------------------------------------------------------------------


def test_keys_map_to_the_documented_vectors():
    major = np.array([2, 0, 1, 0, 2, 1, 0, 2, 0, 1, 0, 1]) / 10
    assert np.allclose(key_profile("C major"), major)
    a_minor = np.zeros(12)
    a_minor[[9, 0, 4]] = 2  # A C E, the tonic triad
    a_minor[[11, 2, 5, 7, 8]] = 1  # B D F G, and G# the leading tone
    assert np.allclose(key_profile("A minor"), a_minor / 11)
    assert np.allclose(key_profile("Eb major"), np.roll(major, 3))
    assert np.allclose(key_profile("d# minor"), key_profile("Eb minor"))
    assert np.allclose(key_profile("F♯ MAJOR"), key_profile("Gb major"))
    assert parse_key(" Bb minor ") == (10, "minor")
    assert key_profile("G major").dtype == np.float32


def test_the_nearest_key_vector_finds_the_key_signature_of_real_chorales():
    names = [f"{tonic} {mode}" for mode in ("major", "minor") for tonic in
             ("C", "C#", "D", "Eb", "E", "F", "F#", "G", "Ab", "A", "Bb", "B")]
    profiles = np.array([key_profile(name) for name in names])
    found = []
    for path in first_chorales(100):
        score = read_midi(path)
        signature = score.key_signatures[0]
        mode = int(signature["mode"])
        tonic = (7 * int(signature["key"]) + 9 * mode) % 12
        nearest = np.abs(profiles - pitch_class_histogram(score)).sum(1).argmin()
        found.append(nearest == 12 * mode + tonic)
    assert np.mean(found) > 0.75


@pytest.mark.parametrize("key, message", [
    ("A mnor", "unknown key 'A mnor'; did you mean 'A minor'"),
    ("H major", "unknown key 'H major'"),
    ("C", "unknown key 'C'"),
])
def test_unknown_keys_are_refused_with_suggestions(key, message):
    with pytest.raises(DeepsymError, match=message):
        key_profile(key)


def test_pitch_and_density_conditions():
    assert pitch_height("high")[0] == pytest.approx(67 / 127)
    assert pitch_height("LOW")[0] == pytest.approx(53 / 127)
    assert pitch_height("72")[0] == pytest.approx(72 / 127)
    assert pitch_height(60)[0] == pytest.approx(60 / 127)
    assert density(2.5).tolist() == [2.5]
    for bad in ("highest", "200", -1):
        with pytest.raises(DeepsymError, match="pitch must be"):
            pitch_height(bad)
    for bad in (0, -1, float("nan")):
        with pytest.raises(DeepsymError, match="density must be a positive"):
            density(bad)


def test_assemble_follows_the_representation_layout():
    given = requested(key="D major", notes_per_beat=3.0)
    default = np.arange(14, dtype=np.float32)
    vector = assemble(("pitch_classes", "mean_pitch", "density"), given, default)
    assert np.allclose(vector[:12], key_profile("D major"))
    assert vector[12] == 12 and vector[13] == 3.0
    assert assemble(("density", "mean_pitch"), {}, np.array([1.5, 0.4])).tolist() == \
        pytest.approx([1.5, 0.4])
    with pytest.raises(DeepsymError, match="does not read condition 'pitch_classes' "
                                           r"\(it reads: no conditions\)"):
        assemble((), given, None)
    with pytest.raises(DeepsymError, match="'mean_pitch' is needed and has no default"):
        assemble(("mean_pitch",), {}, None)


# -- incremental state -----------------------------------------------------------------------


class Counting(torch.nn.Module):
    """A model wrapper that counts the input steps the model runs and keeps the
    condition vectors it is given."""

    def __init__(self, model: torch.nn.Module) -> None:
        super().__init__()
        self.model = model
        self.steps = 0
        self.conditions: list[torch.Tensor | None] = []

    def start(self, batch: int) -> torch.Tensor:
        return self.model.start(batch)

    def step(self, inputs, state, condition):
        self.steps += inputs.shape[1]
        self.conditions.append(None if condition is None else condition.clone())
        return self.model.step(inputs, state, condition)

    @property
    def condition_mean(self) -> torch.Tensor:
        return self.model.condition_mean


@pytest.mark.parametrize("name", list(FIELDS))
@pytest.mark.parametrize("primed", [False, True], ids=["no-primer", "primer"])
def test_incremental_sampling_draws_what_recomputing_the_prefix_draws(name, primed, chorale):
    controls = Controls(temperature=1.0, top_k=40) if name == "pianoroll-rnn" else \
        Controls(temperature=1.0, top_p=0.95)
    primer = chorale.slice(0, chorale.ticks_per_beat * 4) if primed else None
    fast = sampler(name, controls, seed=5)
    slow = sampler(name, controls, seed=5, recompute=True)
    fast.model, slow.model = Counting(fast.model), Counting(slow.model)
    a = np.stack(list(fast.generate(3, 40, primer)), axis=1)
    b = np.stack(list(slow.generate(3, 40, primer)), axis=1)
    assert np.array_equal(a, b)
    events = a.reshape(3 * 40, -1)
    assert len(np.unique(events, axis=0)) > 3  # real draws, not one repeated event
    assert not np.array_equal(a[0], a[1])  # the pieces of a batch differ
    prefix = 1 + (len(fast.representation.encode(primer)) if primed else 0)
    assert fast.model.steps == prefix + 39  # one step per new event
    assert slow.model.steps == sum(prefix + i for i in range(40))


def test_the_same_seed_gives_the_same_pieces():
    first = sampler("char-rnn", seed=3).sample(2, 30)
    again = sampler("char-rnn", seed=3).sample(2, 30)
    other = sampler("char-rnn", seed=4).sample(2, 30)
    assert first == again and first != other


def test_controls_changed_mid_stream_take_effect():
    s = sampler("char-rnn", Controls(temperature=1.0), seed=1)
    tokens = []
    for i, token in enumerate(s.stream(40)):
        tokens.append(int(token))
        if i == 14:
            s.controls.temperature = 0  # from now on the most likely token, always
    model = s.model
    with torch.no_grad():
        inputs = torch.cat([model.start(1), torch.tensor([tokens])], dim=1)
        logits, _ = model.step(inputs)
    grammar = s.representation.grammar(1)  # the sampler draws only what it allows
    greedy = []
    for step, token in zip(logits[0, :-1], tokens, strict=True):
        allowed = torch.as_tensor(grammar.allowed()[0])
        greedy.append(int(step.masked_fill(~allowed, float("-inf")).argmax()))
        grammar.advance(np.array([token]))
    assert tokens[15:] == greedy[15:]
    assert tokens[:15] != greedy[:15]  # drawn at temperature 1 before the change


def test_conditions_changed_mid_stream_reach_the_next_step():
    s = sampler("char-rnn-conditional", Controls(conditions=requested(key="C major")))
    s.model = Counting(s.model)
    for i, _ in enumerate(s.stream(8)):
        if i == 3:
            s.controls.conditions = requested(key="F# minor", pitch="high")
    seen = [c[0].numpy() for c in s.model.conditions]
    for vector in seen[:4]:  # the primer pass and the first three steps
        assert np.allclose(vector[:12], key_profile("C major"))
    for vector in seen[4:]:
        assert np.allclose(vector[:12], key_profile("F# minor"))
        assert vector[12] == pytest.approx(67 / 127)
    mean = s.model.condition_mean.numpy()  # not asked for: the training mean
    assert [v[13] for v in seen] == [mean[13]] * len(seen)


def test_a_primer_sets_the_default_conditions(chorale):
    s = sampler("char-rnn-conditional", Controls(conditions=requested(pitch="low")))
    s.model = Counting(s.model)
    list(s.stream(2, chorale))
    expected = s.representation.condition_vector(chorale)
    expected[12] = 53 / 127
    assert np.allclose(s.model.conditions[0][0].numpy(), expected)


def test_unconditional_models_refuse_conditions():
    s = sampler("char-rnn", Controls(conditions=requested(key="C major")))
    with pytest.raises(DeepsymError, match="model 'char-rnn' was trained without "
                                           "conditions, so pitch_classes cannot steer it"):
        list(s.stream(2))


def test_a_conditional_model_refuses_the_features_it_does_not_read():
    spec = manager().models.get("char-rnn-conditional")
    config = from_dict(spec.config_class(), {**TINY, **BEAT_EVENTS,
                                             "conditions": ["mean_pitch"]})
    s = spec.sampler_class()(spec.build(config), spec.make_representation(config),
                             Controls(conditions=requested(key="C major", pitch="low")),
                             name=spec.name)
    with pytest.raises(DeepsymError, match="model 'char-rnn-conditional' reads only the "
                                           "conditions mean_pitch; pitch_classes cannot"):
        s.sample(1, 2)


@pytest.mark.parametrize("name", ["char-rnn", "char-rnn-duration", "pianoroll-rnn"])
def test_pieces_begin_with_the_primer_notes(name, chorale):
    s = sampler(name, seed=2)
    primer = chorale.slice(0, chorale.ticks_per_beat * 8)
    reference = s.representation.decode(s.representation.encode(primer)).tracks[0].notes
    end = reference["start"].max()  # the primer's last onset (new notes may join it)
    reference = reference[reference["start"] < end]
    pieces = s.sample(2, 60, primer, with_primer=True)
    for piece in pieces:
        notes = piece.tracks[0].notes
        early = notes[notes["start"] < end]
        assert sorted(zip(early["start"], early["pitch"], strict=True)) == \
            sorted(zip(reference["start"], reference["pitch"], strict=True))
        assert len(notes) > len(early) or name == "pianoroll-rnn"
    alone = s.sample(1, 60, primer)[0].tracks[0].notes  # without: only the new events
    assert len(alone) < len(pieces[0].tracks[0].notes)


@pytest.mark.parametrize("name", ["char-rnn", "pianoroll-rnn"])
def test_pieces_of_a_length_in_seconds(name):
    pieces = sampler(name, seed=4).sample_seconds(3, 6.0, check_every=16)
    assert [p.duration_seconds for p in pieces] == pytest.approx([6.0] * 3, abs=0.3)
    assert all(p.n_notes for p in pieces)
    with pytest.raises(DeepsymError, match="must be positive"):
        sampler(name).sample_seconds(1, 0)


# -- deepsym sample ----------------------------------------------------------------------------


@pytest.fixture(scope="module")
def runs(tmp_path_factory) -> dict:
    """Two real runs trained for a few steps by the engine: unconditional, conditional."""
    from deepsym.data import build_corpus
    from deepsym.training.engine import Budget, train

    root = tmp_path_factory.mktemp("runs")
    files = first_chorales(12)
    build_corpus(files, root / "corpus", workers=2, fractions=(0.75, 0.25, 0))
    settings = {**TINY, **BEAT_EVENTS, "sequence_length": 32, "batch_size": 4, "layers": 1}
    out = {}
    for name in ("char-rnn", "char-rnn-conditional"):
        train(name, root / "corpus", root / name, settings=settings, budget=Budget(steps=6),
              tensorboard=False)
        out[name] = root / name
    return out


def sample_cli(tmp_path, run, *options: str):
    out = tmp_path / "out"
    return main(["sample", str(run), "-o", str(out), *options]), out


def test_sample_writes_n_midi_files(runs, tmp_path, capsys):
    code, out = sample_cli(tmp_path, runs["char-rnn"], "-n", "3", "--length", "64tokens",
                           "--seed", "7", "--top-k", "20")
    assert code == 0
    files = sorted(out.glob("*.mid"))
    assert [f.name for f in files] == ["sample-01.mid", "sample-02.mid", "sample-03.mid"]
    assert capsys.readouterr().out.split() == [str(f) for f in files]
    scores = [read_midi(f, strict=True) for f in files]
    assert all(s.n_notes > 0 for s in scores)
    again, out2 = sample_cli(tmp_path / "again", runs["char-rnn"], "-n", "3", "--length",
                             "64tokens", "--seed", "7", "--top-k", "20")
    assert again == 0  # the same seed: the same files
    assert [f.read_bytes() for f in files] == [f.read_bytes() for f in sorted(out2.glob("*"))]


def test_sample_with_conditions_primer_seconds_and_plot(runs, tmp_path, chorale):
    primer = tmp_path / "primer.mid"
    from deepsym import write_midi

    write_midi(chorale.slice(0, chorale.ticks_per_beat * 4), primer)
    code, out = sample_cli(tmp_path, runs["char-rnn-conditional"], "-n", "2", "--length",
                           "5s", "--key", "A minor", "--pitch", "low", "--density", "2",
                           "--primer", str(primer), "--plot")
    assert code == 0
    pieces = [read_midi(f) for f in sorted(out.glob("*.mid"))]
    assert len(pieces) == 2
    assert [p.duration_seconds for p in pieces] == pytest.approx([5.0, 5.0], abs=0.3)
    first = sorted(chorale.merge_tracks().tracks[0].notes["pitch"][:4].tolist())
    for piece in pieces:
        assert sorted(piece.tracks[0].notes["pitch"][:4].tolist()) == first
    for png in sorted(out.glob("*.png")):
        assert png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert len(list(out.glob("*.png"))) == 2


@pytest.mark.parametrize("options, message", [
    (["--temperature", "-1"], "temperature must be >= 0 and finite, not -1.0"),
    (["--top-p", "0"], "top_p must be in (0, 1], not 0.0"),
    (["--key", "H major"], "unknown key 'H major'"),
    (["--key", "A mnor"], "did you mean 'A minor'"),
    (["--pitch", "loud"], "pitch must be 'high', 'low' or a MIDI pitch"),
    (["--primer", "PYPROJECT"], "not a Standard MIDI File"),
    (["--primer", "MISSING"], "cannot read"),
    (["--key", "C major"], "trained without conditions"),
], ids=["temperature-negative", "top-p", "key", "key-typo", "pitch",
        "primer-not-midi", "primer-missing", "unconditional"])
def test_bad_input_is_one_line_and_writes_nothing(runs, tmp_path, capsys, options, message):
    options = [{"PYPROJECT": str(tmp_path / "notes.txt"),
                "MISSING": str(tmp_path / "missing.mid")}.get(o, o) for o in options]
    (tmp_path / "notes.txt").write_text("not music\n")
    code, out = sample_cli(tmp_path, runs["char-rnn"], *options)
    err = capsys.readouterr().err
    assert code == 1 and message in err and len(err.strip().splitlines()) == 1, err
    assert not out.exists()


def test_temperature_zero_is_greedy_on_the_command_line_as_in_the_library(runs, tmp_path):
    zero, out = sample_cli(tmp_path / "zero", runs["char-rnn"], "-n", "2", "--length",
                           "16tokens", "--temperature", "0", "--seed", "1")
    greedy, out2 = sample_cli(tmp_path / "greedy", runs["char-rnn"], "-n", "2", "--length",
                              "16tokens", "--greedy", "--seed", "2")
    assert zero == greedy == 0
    assert [f.read_bytes() for f in sorted(out.glob("*.mid"))] == \
        [f.read_bytes() for f in sorted(out2.glob("*.mid"))]


def test_a_folder_that_is_not_a_run_is_refused(tmp_path, capsys):
    (tmp_path / "run").mkdir()
    code, out = sample_cli(tmp_path, tmp_path / "run")
    assert code == 1 and "is it a deepsym train run?" in capsys.readouterr().err
    assert not out.exists()


def test_event_grammar_only_ends_sounding_notes_and_starts_silent_ones():
    from deepsym.representations.events import NOTE_OFF, TIME_SHIFT, Events

    grammar = Events().grammar(2)
    grammar.advance(np.array([60, 64]))            # piece 0: C4 on; piece 1: E4 on
    grammar.advance(np.array([NOTE_OFF + 60, TIME_SHIFT]))
    allowed = grammar.allowed()
    assert allowed[0, 60] and not allowed[0, NOTE_OFF + 60]      # C4 ended: may start again
    assert not allowed[1, 64] and allowed[1, NOTE_OFF + 64]      # E4 sounds: may only end
    assert allowed[:, NOTE_OFF:TIME_SHIFT].sum(axis=1).tolist() == [0, 1]
    assert allowed[:, TIME_SHIFT:].all()


def test_sampled_events_never_end_a_silent_note(chorale):
    """An untrained model draws NOTE_OFFs everywhere; the grammar keeps only real ones."""
    from deepsym.representations.events import NOTE_OFF, TIME_SHIFT

    s = sampler("char-rnn", Controls(temperature=1.5), seed=2)
    primer = chorale.slice(0, chorale.ticks_per_beat)
    drawn = np.stack(list(s.generate(4, 400, primer)), 1)
    offs = 0
    for piece in drawn:
        sounding = np.zeros(128, bool)
        for token in np.concatenate([s.representation.encode(primer), piece]):
            if NOTE_OFF <= token < TIME_SHIFT:
                assert sounding[token - NOTE_OFF]
                sounding[token - NOTE_OFF] = False
                offs += 1
            elif token < NOTE_OFF:
                assert not sounding[token]
                sounding[token] = True
    assert offs > 20


# -- bad values, unreadable checkpoints, unwritable outputs, any number of pieces -------------


@pytest.mark.parametrize("options, message", [
    (["--temperature", "inf"], "temperature must be >= 0 and finite, not inf"),
    (["--temperature", "nan"], "temperature must be >= 0 and finite, not nan"),
    (["--device", "potato"], "unknown device 'potato'; use cpu, cuda, cuda:N or mps"),
    (["--device", "cuda"], "device 'cuda': CUDA is not available here"),
    (["--seed", "-1"], f"--seed must be a whole number from 0 to {2**64 - 1}, not -1"),
    (["--seed", str(2**64)], f"--seed must be a whole number from 0 to {2**64 - 1}"),
], ids=["temperature-inf", "temperature-nan", "device", "no-cuda", "seed-negative",
        "seed-65-bits"])
def test_bad_values_are_one_line_and_write_nothing(runs, tmp_path, capsys, monkeypatch,
                                                   options, message):
    monkeypatch.setattr(torch.cuda, "is_available", lambda: False)
    code, out = sample_cli(tmp_path, runs["char-rnn"], *options)
    err = capsys.readouterr().err
    assert code == 1 and message in err and len(err.strip().splitlines()) == 1, err
    assert not out.exists()


def test_the_library_refuses_an_endless_temperature():
    with pytest.raises(DeepsymError, match="temperature must be >= 0 and finite, not inf"):
        choose(torch.zeros(2, 3), Controls(temperature=float("inf")))


def test_an_unreadable_best_pt_falls_back_to_last_pt_with_one_warning(runs, tmp_path, capsys):
    import shutil

    run = tmp_path / "run"
    shutil.copytree(runs["char-rnn"], run)
    best = run / "checkpoints" / "best.pt"
    best.write_bytes(b"PK\x03\x04 cut short")
    code, out = sample_cli(tmp_path, run, "-n", "1", "--length", "8tokens")
    err = capsys.readouterr().err.splitlines()
    assert code == 0 and [f.name for f in out.iterdir()] == ["sample-01.mid"]
    assert len(err) == 1 and err[0].startswith(f"deepsym: warning: {best}: not a readable "
                                               "checkpoint"), err
    assert err[0].endswith("; using last.pt (step 6) instead")


def full_disk_for(suffix: str, monkeypatch) -> None:
    """Temporary files for targets ending in ``suffix`` are ``/dev/full`` (ENOSPC)."""
    import os
    import tempfile
    from pathlib import Path

    real = tempfile.mkstemp

    def mkstemp(*args, **kwargs):
        if kwargs.get("prefix", "").endswith(f"{suffix}."):
            return os.open("/dev/full", os.O_WRONLY), str(Path(kwargs["dir"]) / ".full.tmp")
        return real(*args, **kwargs)

    monkeypatch.setattr(tempfile, "mkstemp", mkstemp)


@pytest.mark.parametrize("suffix", [".mid", ".png"])
def test_a_full_disk_is_one_line_naming_the_file(runs, tmp_path, capsys, monkeypatch,
                                                  suffix):
    full_disk_for(suffix, monkeypatch)
    code, out = sample_cli(tmp_path, runs["char-rnn"], "-n", "2", "--length", "8tokens",
                           "--plot")
    err = capsys.readouterr().err
    assert code == 1 and len(err.strip().splitlines()) == 1, err
    assert f"deepsym: error: {out / ('sample-01' + suffix)}: cannot write: No space left on " \
           "device" in err


def test_a_read_only_output_is_one_line(runs, tmp_path, capsys, monkeypatch):
    import errno
    import os

    def read_only(src, dst):
        raise OSError(errno.EROFS, os.strerror(errno.EROFS))

    monkeypatch.setattr(os, "replace", read_only)
    code, out = sample_cli(tmp_path, runs["char-rnn"], "-n", "1", "--length", "8tokens")
    err = capsys.readouterr().err
    assert code == 1 and err == f"deepsym: error: {out / 'sample-01.mid'}: cannot write: " \
                                "Read-only file system\n"
    assert list(out.iterdir()) == []  # no temporary file left


def test_pieces_are_drawn_a_batch_at_a_time_and_not_kept():
    import gc
    import weakref

    s = sampler("char-rnn", seed=5)
    alive: list[weakref.ref] = []
    most = 0
    for score in s.pieces(10, steps=8, batch=3):
        alive.append(weakref.ref(score))
        del score
        gc.collect()
        most = max(most, sum(ref() is not None for ref in alive))
    assert len(alive) == 10 and most <= 3
    first = [p.tracks[0].notes.tobytes() if p.tracks else b"" for p in
             sampler("char-rnn", seed=5).pieces(3, steps=8, batch=3)]
    again = [p.tracks[0].notes.tobytes() if p.tracks else b"" for p in
             sampler("char-rnn", seed=5).sample(3, 8)]
    assert first == again  # one batch: what sample draws


def test_sample_writes_each_piece_before_drawing_the_next_batch(runs, tmp_path, capsys,
                                                                 monkeypatch):
    from deepsym import midi
    from deepsym.cli import sample as sample_command
    from deepsym.sampling import base

    events: list[str] = []
    draw, write = base.Sampler.sample, midi.write_midi

    def drawing(self, n, *args, **kwargs):
        events.append(f"draw {n}")
        return draw(self, n, *args, **kwargs)

    def writing(score, path):
        events.append("write")
        return write(score, path)

    monkeypatch.setattr(base, "BATCH", 2)
    monkeypatch.setattr(base.Sampler, "sample", drawing)
    monkeypatch.setattr(midi, "write_midi", writing)
    monkeypatch.setattr(sample_command, "PROGRESS_EVERY", 0.0)
    code, out = sample_cli(tmp_path, runs["char-rnn"], "-n", "5", "--length", "8tokens")
    assert code == 0
    assert events == ["draw 2", "write", "write", "draw 2", "write", "write", "draw 1",
                      "write"]
    assert len(list(out.glob("*.mid"))) == 5
    err = capsys.readouterr().err.splitlines()
    assert err == [f"deepsym: {i} of 5 pieces written" for i in range(1, 6)]
