"""Every registered model, by being registered: config round trip, a short training on
real chorales, exact resume, and sampling to a MIDI file that mido reads back (for a
generator: also through the learned refiners; a refiner's own network generates nothing).

The models are ``manager().models.names()`` when this module is collected, one test id
per name, so a new model plugin gets these tests without being named here.

Tiny configs, by one rule for every model: each integer size field the config class
has among ``TINY`` (embedding, hidden, layers, sequence length, batch size, ...) is
lowered to ``TINY``'s value (never raised: ``min(default, TINY[field])``) with
``dataclasses.replace``; every other field keeps its default. A plugin whose config
names its sizes otherwise still runs, only slower; keep to these names to stay fast.
"""
from __future__ import annotations

import dataclasses
import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import mido
import pytest
import torch
from music21_corpus import first_chorales

from deepsym import write_midi
from deepsym.data import build_corpus
from deepsym.errors import DeepsymError
from deepsym.modeling import from_dict, from_json, to_dict, to_json
from deepsym.plugins import manager
from deepsym.refining import load_refiner, refine
from deepsym.sampling.run import load_sampler
from deepsym.training.averaging import averaged_weights
from deepsym.training.checkpoint import load_checkpoint, load_trained
from deepsym.training.engine import Budget, train

TESTS = Path(__file__).resolve().parent
EXAMPLE_SRC = TESTS.parent / "examples" / "deepsym-plugin-example" / "src"
MODELS = manager().models.names()
GENERATORS = [name for name in MODELS if manager().models.get(name).sampler is not None]
TINY = {"embedding": 8, "hidden": 16, "layers": 1, "sequence_length": 32, "batch_size": 2,
        "duration_embedding": 8, "attention_window": 8, "tbptt": 16}
STEPS = 4  # the uninterrupted run; the interrupted one stops at STEPS // 2
OPTIONS = {"valid_every": 0, "log_every": 1, "checkpoint_every": 1}


def tiny_config(name: str) -> Any:
    """The model's default config with its size fields lowered to ``TINY``."""
    cls = manager().models.get(name).config_class()
    config = cls()
    lowered = {f.name: min(getattr(config, f.name), TINY[f.name])
               for f in dataclasses.fields(cls)
               if f.name in TINY and type(getattr(config, f.name)) is int}
    return dataclasses.replace(config, **lowered)


def settings(name: str) -> dict[str, Any]:
    """The tiny config's fields that differ from the defaults, with the run options."""
    default = to_dict(manager().models.get(name).config_class()())
    tiny = to_dict(tiny_config(name))
    return {**{k: v for k, v in tiny.items() if v != default[k]}, **OPTIONS}


pytestmark = pytest.mark.usefixtures("one_torch_thread")


@pytest.fixture(scope="module")
def corpus(tmp_path_factory) -> Path:
    """Ten real chorales."""
    chorales = first_chorales(10)
    path = tmp_path_factory.mktemp("corpus") / "c"
    build_corpus(chorales, path, workers=1)
    return path


@pytest.fixture(scope="module", params=MODELS)
def model(request) -> str:
    return request.param


@pytest.fixture(scope="module")
def straight(model, corpus, tmp_path_factory) -> Path:
    """``STEPS`` steps of ``model`` in one go (trained once per model)."""
    out = tmp_path_factory.mktemp(model) / "straight"
    result = train(model, corpus, out, settings=settings(model), budget=Budget(steps=STEPS),
                   seed=0, tensorboard=False)
    assert (result.step, result.stopped) == (STEPS, "steps")
    return out


def trainer_state(run: Path) -> dict[str, Any]:
    state = load_checkpoint(run / "checkpoints" / "last.pt")
    return {"step": state["step"], "trainer": state["trainer"]}


def assert_same(a: Any, b: Any, where: str = "") -> None:
    """Nested dicts, lists and tensors equal exactly."""
    if isinstance(a, torch.Tensor):
        assert isinstance(b, torch.Tensor) and torch.equal(a, b), where
    elif isinstance(a, dict):
        assert isinstance(b, dict) and a.keys() == b.keys(), where
        for key in a:
            assert_same(a[key], b[key], f"{where}.{key}")
    elif isinstance(a, list | tuple):
        assert len(a) == len(b), where
        for i, (x, y) in enumerate(zip(a, b, strict=True)):
            assert_same(x, y, f"{where}[{i}]")
    else:
        assert a == b, where


def test_every_plugin_loaded_so_no_model_lost_its_tests():
    """A plugin that failed to load registers nothing, so its tests would vanish."""
    assert MODELS
    assert [info.name for info in manager().failures()] == []


REGISTER_EXAMPLE = f"""
import sys
sys.path.insert(0, {str(EXAMPLE_SRC)!r})
import deepsym_example.plugin
from deepsym.plugins import manager
manager().register(deepsym_example.plugin, "example")
"""


def test_a_plugin_registered_before_collection_gets_every_test(tmp_path):
    """The example third-party plugin, registered by a pytest plugin before this module
    is collected: its model ``tiny-melody`` gets (and passes) the six model tests."""
    (tmp_path / "register_example.py").write_text(REGISTER_EXAMPLE)
    result = subprocess.run(
        [sys.executable, "-m", "pytest", "-p", "register_example", "-p", "no:cacheprovider",
         "-q", "-k", "tiny-melody", "--basetemp", str(tmp_path / "base"), __file__],
        cwd=TESTS.parent, env={**os.environ, "PYTHONPATH": os.pathsep.join(
            filter(None, [str(tmp_path), os.environ.get("PYTHONPATH")]))},
        capture_output=True, text=True, timeout=240, check=False)
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-2000:]
    assert "6 passed" in result.stdout


def test_tiny_configs_shrink_only_size_fields(model):
    cls = manager().models.get(model).config_class()
    tiny, default = to_dict(tiny_config(model)), to_dict(cls())
    changed = {k for k in tiny if tiny[k] != default[k]}
    assert changed <= TINY.keys()
    assert all(tiny[k] <= default[k] for k in changed)


def test_the_config_saves_and_loads_equal(model):
    cls = manager().models.get(model).config_class()
    for config in (cls(), tiny_config(model)):
        text = to_json(config)
        assert from_json(cls, text) == config
        assert from_dict(cls, json.loads(text)) == config
        assert to_json(from_json(cls, text)) == text


def test_a_few_steps_train_and_save_a_checkpoint_that_rebuilds_the_model(model, straight):
    record = json.loads((straight / "config.json").read_text())
    assert record["model"] == model
    trained = load_trained(straight)
    assert trained.name == model and trained.step == STEPS
    cls = manager().models.get(model).config_class()
    assert from_dict(cls, record["config"]) == trained.config
    assert to_dict(trained.config) == record["config"]
    saved = load_checkpoint(straight / "checkpoints" / "last.pt")["trainer"]
    assert_same(trained.model.state_dict(), averaged_weights(saved))  # options.ema's
    assert (straight / "log.csv").read_text().count("\n") == STEPS + 1  # header, a row a step


def test_a_resumed_run_equals_an_uninterrupted_one(model, straight, corpus, tmp_path):
    out = tmp_path / "resumed"
    half = train(model, corpus, out, settings=settings(model),
                 budget=Budget(steps=STEPS // 2), seed=0, tensorboard=False)
    assert half.step == STEPS // 2
    with pytest.raises(AssertionError):  # the halves differ: the comparison can fail
        assert_same(trainer_state(straight)["trainer"]["model"],
                    trainer_state(out)["trainer"]["model"])
    resumed = train(None, None, out, resume=True, budget=Budget(steps=STEPS),
                    tensorboard=False)
    assert (resumed.step, resumed.stopped) == (STEPS, "steps")
    assert_same(trainer_state(straight), trainer_state(out))


def test_a_sample_writes_midi_that_mido_reads_back(model, straight, tmp_path):
    """A generator's sample; a model that generates nothing (a refiner's network) says so."""
    if manager().models.get(model).sampler is None:
        with pytest.raises(DeepsymError, match="generates nothing"):
            load_sampler(straight)
        return
    [score] = load_sampler(straight, seed=1).sample(1, 48)
    assert score.n_notes > 0  # 48 steps of a barely trained model still sound
    path = tmp_path / "sample.mid"
    write_midi(score, path)
    midi = mido.MidiFile(path)
    pitches = [m.note for track in midi.tracks for m in track
               if m.type == "note_on" and m.velocity > 0]
    assert sorted(pitches) == sorted(int(p) for t in score.tracks for p in t.notes["pitch"])
    assert midi.length > 0


@pytest.mark.parametrize("model", GENERATORS, indirect=True)
def test_a_sample_goes_through_the_refiners(model, straight, refiners):
    """``deepsym sample --refine`` for every generator: the learned refiners take its
    pieces, and the invariants hold (``refine`` checks them)."""
    [score] = load_sampler(straight, seed=1).sample(1, 48)
    refined = refine(score, refiners)
    assert refined.n_notes == score.n_notes


@pytest.fixture(scope="module")
def refiners(corpus, tmp_path_factory) -> list:
    """Duration Net and Velocity Net after a few steps on the chorales."""
    runs = []
    for name in ("refine-duration", "refine-velocity"):
        out = tmp_path_factory.mktemp(name) / "run"
        train(name, corpus, out, settings=settings(name), budget=Budget(steps=STEPS),
              seed=0, tensorboard=False)
        runs.append(load_refiner(out))
    return runs
