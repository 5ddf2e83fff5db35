"""The char-rnn plugin: configs, the three models, conditions, TBPTT, gradient checkpointing
and short real trainings on Bach chorales (tiny models on the CPU)."""
from __future__ import annotations

import dataclasses
import json
import subprocess
import sys

import numpy as np
import pytest
import torch
from deepsym_plugins.char_rnn_model import (
    CharRNNConfig,
    ConditionalCharRNNConfig,
    NoteDurationRNNConfig,
    PianorollRNNConfig,
)
from music21_corpus import first_chorales

from deepsym.data import Corpus, build_corpus
from deepsym.data.loaders import make_loader
from deepsym.errors import ConfigError
from deepsym.modeling import from_dict, from_json, to_json
from deepsym.plugins import manager
from deepsym.representations.note_duration import PITCH_TOKENS

TINY = {"hidden": 32, "layers": 1, "embedding": 8}
BEAT_EVENTS = {"unit": "beat", "resolution": 4, "max_shift": 16, "velocity_bins": 1}
MODELS = ("char-rnn", "char-rnn-conditional", "char-rnn-duration", "pianoroll-rnn")


def build(name: str, **fields):
    spec = manager().models.get(name)
    config = from_dict(spec.config_class(), {**TINY, **fields})
    torch.manual_seed(0)
    return spec, config, spec.build(config)


pytestmark = pytest.mark.usefixtures("one_torch_thread")


@pytest.fixture(scope="module")
def corpus(tmp_path_factory) -> Corpus:
    """40 real chorales: 32 to train on, 8 held out."""
    files = first_chorales(40)
    root = tmp_path_factory.mktemp("chorales") / "corpus"
    build_corpus(files, root, workers=2, fractions=(0.8, 0.2, 0))
    return Corpus.open(root)


# -- registration and configs ------------------------------------------------------------


def test_models_are_registered_with_their_extra_and_representation():
    models = manager().models
    assert {name: (models.get(name).representation, models.get(name).extra)
            for name in MODELS} == {
        "char-rnn": ("events", "charrnn"), "char-rnn-conditional": ("events", "charrnn"),
        "char-rnn-duration": ("note-duration", "charrnn"),
        "pianoroll-rnn": ("pianoroll", "charrnn")}
    assert manager().plugins["char-rnn"].source == "built-in"


def test_the_plugin_module_imports_no_torch():
    code = ("import sys, deepsym_plugins.char_rnn; from deepsym.plugins import manager; "
            "manager().models.get('char-rnn'); print('torch' in sys.modules)")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         check=True)
    assert out.stdout.strip() == "False"


@pytest.mark.parametrize("cls, changes", [
    (CharRNNConfig, {"hidden": 48, "layers": 2, "dropout": 0.25, "unit": "beat",
                     "resolution": 8, "conditions": ("density",)}),
    (ConditionalCharRNNConfig, {"max_shift": 50, "learning_rate": 0.01, "batch_size": 4}),
    (NoteDurationRNNConfig, {"attention": False, "attention_window": 9, "max_duration": 16}),
    (PianorollRNNConfig, {"tbptt": 17, "gradient_checkpointing": True, "pitch_low": 36,
                          "pitch_high": 84, "conditions": ("pitch_classes", "mean_pitch")}),
], ids=lambda v: getattr(v, "__name__", ""))
def test_configs_save_and_load_equal(cls, changes):
    config = dataclasses.replace(cls(), **changes)
    text = to_json(config)
    assert from_json(cls, text) == config
    assert from_dict(cls, json.loads(text)) == config
    assert config != cls()


def test_defaults_and_bad_configs():
    assert (CharRNNConfig().layers, CharRNNConfig().hidden) == (3, 512)
    assert CharRNNConfig().conditions == ()
    assert ConditionalCharRNNConfig().conditions == ("pitch_classes", "mean_pitch", "density")
    with pytest.raises(ConfigError, match="unknown condition 'key'"):
        from_dict(CharRNNConfig, {"conditions": ["key"]})
    with pytest.raises(ConfigError, match="layers must be at least 1"):
        from_dict(PianorollRNNConfig, {"layers": 0})
    with pytest.raises(ConfigError, match="pitch_low < pitch_high"):
        from_dict(PianorollRNNConfig, {"pitch_low": 90, "pitch_high": 60})
    with pytest.raises(ConfigError, match="unit must be one of"):
        from_dict(CharRNNConfig, {"unit": "bar"})


def test_model_sizes_follow_the_config_and_representation():
    _, config, model = build("char-rnn", **BEAT_EVENTS, layers=2, hidden=40)
    assert model.head.out_features == 256 + 16 + 1 == config.make_representation().spec.vocab_size
    assert (model.core.lstm.num_layers, model.core.lstm.hidden_size) == (2, 40)
    _, config, model = build("pianoroll-rnn", pitch_low=48, pitch_high=72)
    assert model.head.out_features == 24
    _, config, model = build("char-rnn-conditional")
    assert model.core.lstm.input_size == 8 + 14


# -- the models ----------------------------------------------------------------------------


@pytest.mark.parametrize("name", MODELS)
def test_stepping_one_event_at_a_time_equals_one_pass(name):
    window = {"attention_window": 5} if name == "char-rnn-duration" else {}
    _, config, model = build(name, **window)  # a window shorter than the 12 steps
    model.eval()
    events = inputs_for(model, config, 12)
    condition = torch.rand(2, config.condition_size) if config.condition_size else None
    whole, _ = model.step(events, None, condition)
    state, parts = None, []
    for t in range(events.shape[1]):
        logits, state = model.step(events[:, t:t + 1], state, condition)
        parts.append(logits)
    assert torch.allclose(torch.cat(parts, dim=1), whole, atol=1e-5)


def inputs_for(model, config, steps: int) -> torch.Tensor:
    g = torch.Generator().manual_seed(1)
    if hasattr(model, "keys"):
        return (torch.rand(2, steps, model.keys, generator=g) < 0.1).float()
    return torch.randint(0, config.make_representation().spec.vocab_size, (2, steps),
                         generator=g)


@pytest.mark.parametrize("name", ["char-rnn", "char-rnn-duration"])
def test_token_nll_is_the_cross_entropy_of_the_step_logits(name):
    _, config, model = build(name)
    tokens = inputs_for(model, config, 10)
    nll = model(tokens)
    logits, _ = model.step(torch.cat([model.start(2), tokens[:, :-1]], dim=1))
    log_p = torch.log_softmax(logits, dim=-1).gather(-1, tokens[..., None])[..., 0]
    assert torch.allclose(nll, -log_p, atol=1e-5)


def test_note_duration_heads_give_a_joint_distribution():
    _, config, model = build("char-rnn-duration", max_duration=8)
    tokens = inputs_for(model, config, 6)
    joint, _ = model.step(tokens)
    assert joint.shape == (2, 6, PITCH_TOKENS * 8)
    assert torch.allclose(torch.logsumexp(joint, dim=-1), torch.zeros(2, 6), atol=1e-5)
    pitch = joint.reshape(2, 6, PITCH_TOKENS, 8).logsumexp(-1)  # the pitch head's marginal
    features, _ = model.features(tokens, None, None)
    assert torch.allclose(pitch, torch.log_softmax(model.pitch_head(features), -1), atol=1e-5)


def test_attention_sees_only_its_window():
    model = build("char-rnn-duration", attention_window=3)[2]
    out = torch.randn(1, 8, 32, requires_grad=True)
    context, memory = model.attention(out, None)
    assert memory.shape == (1, 2, 32)
    context[0, 6].sum().backward()  # step 6 attends to steps 4, 5 and 6
    touched = out.grad[0].abs().sum(-1) > 0
    assert touched.tolist() == [False] * 4 + [True] * 3 + [False]


@pytest.mark.parametrize("name", ["char-rnn-conditional", "char-rnn-duration",
                                  "pianoroll-rnn"])
def test_the_condition_reaches_every_step(name):
    _, config, model = build(name, conditions=("pitch_classes", "mean_pitch", "density"))
    model.eval()
    events = inputs_for(model, config, 9)
    condition = torch.rand(2, 14, requires_grad=True)
    logits, _ = model.step(events, None, condition)
    for t in range(9):
        grad, = torch.autograd.grad(logits[:, t].sum(), condition, retain_graph=True)
        assert grad.abs().sum() > 0, t
    other, _ = model.step(events, None, torch.rand(2, 14))
    assert ((logits - other).abs().amax(dim=-1) > 1e-4).all()
    with pytest.raises(ValueError, match="needs a condition vector of 14 values"):
        model.step(events, None, None)


def test_condition_mean_is_the_mean_of_every_vector_seen():
    model = build("char-rnn-conditional")[2]
    batches = [torch.rand(n, 14) for n in (3, 5, 1)]
    for batch in batches:
        model.core.remember(batch)
    assert torch.allclose(model.condition_mean, torch.cat(batches).mean(0), atol=1e-6)
    assert int(model.core.conditions_seen) == 9
    assert "core.condition_mean" in model.state_dict()


# -- pianoroll-rnn: truncated BPTT and gradient checkpointing --------------------------------


def pianoroll_trainer(**fields):
    spec, config, model = build("pianoroll-rnn", pitch_low=48, pitch_high=72, **fields)
    return spec.trainer_class()(model, config, seed=0)


def roll_batch(steps: int, seed: int = 0) -> dict:
    g = torch.Generator().manual_seed(seed)
    x = (torch.rand(3, steps, 24, generator=g) < 0.15).float()
    mask = torch.ones(3, steps, dtype=torch.bool)
    mask[2, steps - steps // 3:] = False  # a shorter piece, padded
    return {"x": x * mask[..., None], "mask": mask}


def gradients(trainer, batch) -> list[torch.Tensor]:
    trainer.model.zero_grad()
    trainer.mle_step(batch).backward()
    return [p.grad.clone() for p in trainer.model.parameters()]


def test_tbptt_equals_windows_trained_one_by_one_on_detached_states():
    trainer = pianoroll_trainer(tbptt=10)
    batch = roll_batch(35)
    ours = gradients(trainer, batch)
    model, x, mask = trainer.model, batch["x"], batch["mask"].float()
    inputs = torch.cat([model.start(3), x[:, :-1]], dim=1)
    model.zero_grad()
    state = None
    for at in range(0, 35, 10):  # by hand: 4 windows, each backward on its own
        logits, state = model(inputs[:, at:at + 10], state)
        bce = torch.nn.functional.binary_cross_entropy_with_logits(
            logits, x[:, at:at + 10], reduction="none").sum(-1)
        ((bce * mask[:, at:at + 10]).sum() / (mask.sum() * 24)).backward()
        state = tuple(s.detach() for s in state)
    for a, p in zip(ours, model.parameters(), strict=True):
        assert torch.allclose(a, p.grad, atol=1e-6)
    full = gradients(pianoroll_trainer(tbptt=35), batch)  # no truncation: other gradients
    assert not all(torch.allclose(a, b, atol=1e-6) for a, b in zip(ours, full, strict=True))
    with torch.no_grad():  # the loss itself is not truncated
        assert float(trainer.mle_step(batch)) == pytest.approx(
            float(pianoroll_trainer(tbptt=35).mle_step(batch)), abs=1e-6)


def test_gradient_checkpointing_gives_the_same_gradients_over_a_long_song():
    batch = roll_batch(1500, seed=3)
    plain = pianoroll_trainer(tbptt=100)
    checkpointed = pianoroll_trainer(tbptt=100, gradient_checkpointing=True)
    with torch.no_grad():
        assert float(plain.mle_step(batch)) == pytest.approx(
            float(checkpointed.mle_step(batch)))
    for a, b in zip(gradients(plain, batch), gradients(checkpointed, batch), strict=True):
        assert torch.allclose(a, b, atol=1e-6)


# -- real training on chorales -------------------------------------------------------------


def train(name: str, corpus: Corpus, steps: int, transpose=(0, 0), **fields):
    torch.manual_seed(0)
    spec, config, model = build(name, hidden=64, embedding=16, sequence_length=64,
                                batch_size=8, learning_rate=1e-2, **fields)
    trainer_class = spec.trainer_class()
    representation = spec.make_representation(config)
    loader = make_loader(corpus, representation, "train", length=65, batch_size=8, seed=0,
                         transpose=transpose)
    trainer = trainer_class(model, config, seed=0)
    held_out = make_loader(corpus, representation, "valid", length=65, batch_size=8)
    before = mean_loss(trainer, held_out)
    logs = []
    trainer.fit(Counting(loader), on_update=logs.append, rounds=steps)
    return trainer, representation, loader, before, mean_loss(trainer, held_out), logs


class Counting:
    """A loader that counts the items of the batches drawn from it."""

    items = 0

    def __init__(self, loader) -> None:
        self.loader = loader

    def __iter__(self):
        for batch in self.loader:
            Counting.items += len(batch["x"])
            yield batch


def mean_loss(trainer, loader) -> float:
    trainer.model.eval()
    with torch.no_grad():
        losses = [float(trainer.mle_step(batch)) for batch in loader]
    trainer.model.train()
    return float(np.mean(losses))


@pytest.mark.parametrize("name, fields", [
    ("char-rnn", BEAT_EVENTS), ("char-rnn-duration", {}), ("pianoroll-rnn", {})])
def test_fifty_steps_on_real_chorales_lower_the_loss(corpus, name, fields):
    _, representation, _, before, after, logs = train(name, corpus, 50, **fields)
    assert len(logs) == 50
    first = np.mean([entry.loss for entry in logs[:5]])
    last = np.mean([entry.loss for entry in logs[-5:]])
    assert last < 0.8 * first, (first, last)
    assert after < before - 0.2, (before, after)  # on the held-out chorales too
    if name != "pianoroll-rnn":  # cross-entropy per token starts near ln(vocabulary)
        assert logs[0].loss == pytest.approx(np.log(representation.spec.vocab_size), abs=0.3)


def test_a_conditional_model_learns_to_read_its_condition(corpus):
    """Trained for real, the model explains each training crop better with that piece's
    own condition vector than with another piece's."""
    Counting.items = 0
    trainer, _, loader, _, _, _ = train("char-rnn-conditional", corpus, 150,
                                        transpose=(-6, 6), **BEAT_EVENTS)
    assert int(trainer.model.core.conditions_seen) == Counting.items > 150 * 7
    own, swapped = [], []
    trainer.model.eval()
    with torch.no_grad():
        for batch, _ in zip(loader, range(6), strict=False):
            mask = batch["mask"].float()
            for condition, out in ((batch["condition"], own),
                                   (batch["condition"].roll(1, dims=0), swapped)):
                nll = trainer.model(batch["x"], condition)
                out.append(float((nll * mask).sum() / mask.sum()))
    assert np.mean(own) < np.mean(swapped) - 0.1, (np.mean(own), np.mean(swapped))
    assert 0.3 < float(trainer.model.condition_mean[12]) < 0.6  # mean pitch / 127
