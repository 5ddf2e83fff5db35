"""Model-specific sampling options and the one place that decides the representation.

Options: declared by a sampler, parsed and checked by the sampling layer for the Python
API and ``deepsym sample --opt`` alike, listed by ``--help-model``; C-RNN-GAN's
``noise_scale`` really narrows its noise. Representation: ``ModelSpec.make_representation``
decides it for training and sampling, and sampling never needs the model's Trainer.
"""
from __future__ import annotations

import dataclasses
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np
import pytest
import torch
from deepsym_plugins.c_rnn_gan_model import CRNNGAN, CRNNGANConfig
from deepsym_plugins.c_rnn_gan_sample import SequenceSampler
from deepsym_plugins.char_rnn_model import CharRNNConfig
from music21_corpus import first_chorales
from registered_plugins import registered

from deepsym.cli import main
from deepsym.data import build_corpus
from deepsym.errors import ConfigError, DeepsymError
from deepsym.hookspecs import hookimpl
from deepsym.modeling import ModelSpec, to_dict
from deepsym.plugins import manager
from deepsym.representations.events import Events
from deepsym.representations.notes4 import Notes4
from deepsym.representations.remi import Remi
from deepsym.sampling import Controls, Option, Sampler
from deepsym.sampling.options import parse_options
from deepsym.sampling.run import load_sampler, trained_representation
from deepsym.training import Trainer
from deepsym.training.checkpoint import save_checkpoint
from deepsym.training.engine import Budget, train

GAN = CRNNGANConfig(hidden=16, layers=1, sequence_length=24, batch_size=4, pretrain_steps=2)
SCALE = Option("scale", float, 1.0, "a factor", low=0.0, high=1.0)
WALK = (SCALE, Option("rollouts", int, 16, "rollouts per step", low=1),
        Option("binarize", bool, True, "binarize codes"),
        Option("schedule", str, "linear", "noise schedule", choices=("linear", "ABCAB")))

pytestmark = pytest.mark.usefixtures("one_torch_thread")


@pytest.fixture(scope="module")
def corpus(tmp_path_factory) -> Path:
    path = tmp_path_factory.mktemp("corpus") / "c"
    build_corpus(first_chorales(10), path,
                 workers=1, fractions=(0.8, 0.2, 0.0))
    return path


@pytest.fixture(scope="module")
def runs(corpus, tmp_path_factory) -> dict[str, Path]:
    """A c-rnn-gan run and a char-rnn run, a few steps each."""
    root = tmp_path_factory.mktemp("runs")
    sizes = {"hidden": 16, "layers": 1, "sequence_length": 24, "batch_size": 4,
             "valid_every": 0}
    train("c-rnn-gan", corpus, root / "gan", settings={**sizes, "pretrain_steps": 2},
          budget=Budget(steps=3), tensorboard=False)
    train("char-rnn", corpus, root / "rnn", settings={**sizes, "embedding": 8},
          budget=Budget(steps=2), tensorboard=False)
    return {"c-rnn-gan": root / "gan", "char-rnn": root / "rnn"}


def gan_sampler(seed: int = 0, **options: Any) -> SequenceSampler:
    torch.manual_seed(0)
    return SequenceSampler(CRNNGAN(GAN), Notes4(), seed=seed, options=options,
                           name="c-rnn-gan")


def cli(*argv: str) -> int:
    return main(["sample", *argv])


# -- declaring and checking options ----------------------------------------------------------


def test_values_are_parsed_from_text_or_taken_typed_and_defaults_fill_the_rest():
    assert parse_options(WALK, {}, "m") == {"scale": 1.0, "rollouts": 16, "binarize": True,
                                           "schedule": "linear"}
    given = {"scale": "0.25", "rollouts": "4", "binarize": "no", "schedule": "ABCAB"}
    assert parse_options(WALK, given, "m") == {"scale": 0.25, "rollouts": 4,
                                               "binarize": False, "schedule": "ABCAB"}
    typed = parse_options(WALK, {"scale": 0, "rollouts": 1, "binarize": False}, "m")
    assert typed["scale"] == 0.0 and type(typed["scale"]) is float and typed["rollouts"] == 1


@pytest.mark.parametrize("given, message", [
    ({"scale": "1.5"}, "model 'walker': sampling option scale must be float in [0, 1], "
                       "not '1.5'"),
    ({"scale": -0.1}, "sampling option scale must be float in [0, 1], not -0.1"),
    ({"scale": "nan"}, "sampling option scale must be float in [0, 1], not 'nan'"),
    ({"scale": "half"}, "sampling option scale must be float in [0, 1], not 'half'"),
    ({"rollouts": "2.5"}, "sampling option rollouts must be int >= 1, not '2.5'"),
    ({"rollouts": 0}, "sampling option rollouts must be int >= 1, not 0"),
    ({"rollouts": True}, "sampling option rollouts must be int >= 1, not True"),
    ({"binarize": "maybe"}, "sampling option binarize must be bool, not 'maybe'"),
    ({"schedule": "ABA"}, "sampling option schedule must be str: one of linear, ABCAB, "
                          "not 'ABA'"),
    ({"temprature": "1"}, "model 'walker' has no sampling option 'temprature'; its "
                          "options are: scale, rollouts, binarize, schedule"),
], ids=["above", "below", "nan", "not-a-number", "not-whole", "too-few", "bool-for-int",
        "not-bool", "not-a-choice", "unknown"])
def test_bad_values_name_the_option_and_the_model(given, message):
    with pytest.raises(DeepsymError) as error:
        parse_options(WALK, given, "walker")
    assert message in str(error.value)


def test_a_bad_declaration_is_refused_when_it_is_made():
    with pytest.raises(DeepsymError, match=r"default 2\.0 is not float in"):
        Option("scale", float, 2.0, "a factor", low=0.0, high=1.0)
    with pytest.raises(DeepsymError, match="not an identifier"):
        Option("noise-scale", float, 1.0, "a factor")
    with pytest.raises(DeepsymError, match="type must be one of bool, int, float, str"):
        Option("scale", list, [], "a list")
    with pytest.raises(TypeError, match="unknown control 'temprature'"):
        type("Typo", (Sampler,), {"follows": frozenset({"temprature"})})
    with pytest.raises(TypeError, match="a name given twice"):
        type("Twice", (Sampler,), {"declared_options": (SCALE, SCALE)})


def test_the_sampler_checks_options_when_it_is_made():
    assert gan_sampler().options == {"noise_scale": 1.0}
    assert gan_sampler(noise_scale="0.5").options == {"noise_scale": 0.5}
    with pytest.raises(DeepsymError, match="model 'c-rnn-gan': sampling option noise_scale "
                                           r"must be float in \[0, 1\], not 3"):
        gan_sampler(noise_scale=3)
    spec = manager().models.get("char-rnn")
    config = CharRNNConfig(hidden=8, layers=1, embedding=4)
    with pytest.raises(DeepsymError, match="model 'char-rnn' has no sampling option "
                                           "'noise_scale'; its options are: none"):
        spec.sampler_class()(spec.build(config), spec.make_representation(config),
                             options={"noise_scale": 0.5}, name="char-rnn")


# -- c-rnn-gan's noise_scale takes effect ----------------------------------------------------


def test_noise_scale_shrinks_the_same_draws_toward_the_middle():
    full = gan_sampler(seed=5).noise(3, 50)
    half = gan_sampler(seed=5, noise_scale=0.5).noise(3, 50)
    still = gan_sampler(seed=5, noise_scale=0.0).noise(3, 50)
    assert float(full.min()) >= 0 and float(full.max()) < 1 and float(full.std()) > 0.2
    torch.testing.assert_close(half, 0.5 + (full - 0.5) * 0.5)
    assert float(half.min()) >= 0.25 and float(half.max()) < 0.75
    assert bool((still == 0.5).all())


def test_noise_scale_changes_the_notes_and_zero_makes_every_seed_the_same_piece():
    def notes(seed: int, scale: float) -> np.ndarray:
        return next(gan_sampler(seed=seed, noise_scale=scale).chunks(2, 16))

    assert not np.allclose(notes(1, 1.0), notes(2, 1.0))  # the seed matters ...
    assert np.array_equal(notes(1, 0.0), notes(2, 0.0))   # ... not once the noise is fixed
    assert np.array_equal(notes(1, 0.0)[0], notes(1, 0.0)[1])
    assert not np.allclose(notes(1, 0.5), notes(1, 1.0))
    assert not np.allclose(notes(1, 0.5), notes(1, 0.0))


def test_load_sampler_passes_options_through(runs):
    sampler = load_sampler(runs["c-rnn-gan"], seed=1, options={"noise_scale": "0"})
    assert isinstance(sampler, SequenceSampler) and sampler.options == {"noise_scale": 0.0}
    other = load_sampler(runs["c-rnn-gan"], seed=2, options={"noise_scale": 0.0})
    assert np.array_equal(next(sampler.chunks(1, 12)), next(other.chunks(1, 12)))
    with pytest.raises(DeepsymError, match="model 'c-rnn-gan' has no sampling option 'x'"):
        load_sampler(runs["c-rnn-gan"], options={"x": 1})


def test_opt_on_the_command_line_reaches_the_sampler(runs, tmp_path):
    written = []
    for seed in ("1", "2"):
        out = tmp_path / seed
        assert cli(str(runs["c-rnn-gan"]), "-n", "1", "--length", "12tokens", "--seed", seed,
                   "--opt", "noise_scale=0", "-o", str(out)) == 0
        written.append((out / "sample-01.mid").read_bytes())
    assert written[0] == written[1]  # no noise left for the seed to vary
    out = tmp_path / "free"
    assert cli(str(runs["c-rnn-gan"]), "-n", "1", "--length", "12tokens", "--seed", "2",
               "--opt", "noise_scale=1", "-o", str(out)) == 0
    assert (out / "sample-01.mid").read_bytes() != written[1]


@pytest.mark.parametrize("opts, message", [
    (["--opt", "noise_scale=2"], "model 'c-rnn-gan': sampling option noise_scale must be "
                                 "float in [0, 1], not '2'"),
    (["--opt", "noise_scale=loud"], "sampling option noise_scale must be float in [0, 1], "
                                    "not 'loud'"),
    (["--opt", "noise=0.5"], "model 'c-rnn-gan' has no sampling option 'noise'; its options "
                             "are: noise_scale"),
    (["--opt", "noise_scale"], "--opt takes NAME=VALUE, not 'noise_scale'"),
    (["--opt", "noise_scale=0", "--opt", "noise_scale=1"], "--opt noise_scale is given twice"),
    (["--temperature", "0.5"], "model 'c-rnn-gan' cannot follow temperature; it follows "
                               "none of the generic controls"),
], ids=["out-of-range", "not-a-number", "unknown", "no-value", "twice", "generic-control"])
def test_a_bad_option_is_one_line_and_writes_nothing(runs, tmp_path, capsys, opts, message):
    out = tmp_path / "out"
    assert cli(str(runs["c-rnn-gan"]), "-n", "1", *opts, "-o", str(out)) == 1
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and err.startswith("deepsym: error: ") and message in err, err
    assert "Traceback" not in err and not out.exists()


@pytest.mark.parametrize("controls, flags", [
    (Controls(top_p=1.5), ["--top-p", "1.5"]),
    (Controls(temperature=-2.0), ["--temperature", "-2"]),
    (Controls(temperature=float("inf")), ["--temperature", "inf"]),
], ids=["top-p", "temperature", "endless"])
def test_the_command_line_reports_the_librarys_own_check(runs, tmp_path, capsys, controls,
                                                          flags):
    with pytest.raises(DeepsymError) as error:
        controls.check()
    assert cli(str(runs["char-rnn"]), *flags, "-o", str(tmp_path / "out")) == 1
    assert capsys.readouterr().err == f"deepsym: error: {error.value}\n"


# -- --help-model ------------------------------------------------------------------------------


def test_help_model_lists_the_options_and_exits_without_sampling(runs, tmp_path, capsys):
    assert cli(str(runs["c-rnn-gan"]), "--help-model") == 0
    shown = capsys.readouterr().out
    assert "model 'c-rnn-gan' (sampler SequenceSampler)" in shown
    assert "generic controls: none" in shown
    assert "noise_scale (float in [0, 1], default 1.0)" in shown
    assert "shrinks the U[0,1) noise toward 0.5" in shown
    assert not list(tmp_path.iterdir())


def test_help_model_of_a_model_without_options(runs, capsys):
    assert cli(str(runs["char-rnn"]), "--help-model", "--opt", "ignored=1") == 0
    shown = capsys.readouterr().out.splitlines()
    assert shown == ["model 'char-rnn' (sampler TokenSampler)",
                     "generic controls: temperature, top-k, top-p, max-polyphony",
                     "no model-specific options"]


def test_help_model_shows_the_conditions_a_model_reads():
    spec = manager().models.get("char-rnn-conditional")
    config = spec.config_class()(hidden=8, layers=1, embedding=4, vocabulary="events")
    sampler = spec.sampler_class()(spec.build(config), spec.make_representation(config),
                                   name=spec.name)
    assert "conditions (pitch_classes, mean_pitch, density)" in sampler.describe()
    roll = manager().models.get("pianoroll-rnn")
    config = roll.config_class()(hidden=8, layers=1)
    sampler = roll.sampler_class()(roll.build(config), roll.make_representation(config))
    assert sampler.followed_controls() == ["temperature", "top_k"]  # no grammar, no top-p


def test_without_help_model_the_output_folder_is_required(runs, capsys):
    assert cli(str(runs["char-rnn"])) == 1
    assert capsys.readouterr().err == "deepsym: error: name the folder for the pieces: -o DIR\n"


# -- one place decides the representation -----------------------------------------------------


def test_the_spec_decides_the_representation_through_the_configs_hook():
    spec = manager().models.get("char-rnn")
    assert not hasattr(Trainer, "representation")
    remi = spec.make_representation(CharRNNConfig(vocabulary="remi", steps_per_beat=8))
    assert isinstance(remi, Remi) and remi.options["steps_per_beat"] == 8
    events = spec.make_representation(CharRNNConfig(vocabulary="events", resolution=50))
    assert isinstance(events, Events) and events.options["resolution"] == 50
    assert type(spec.make_representation()) is Events  # the config class's defaults
    gan = manager().models.get("c-rnn-gan")
    assert not hasattr(CRNNGANConfig, "make_representation")
    assert type(gan.make_representation(GAN)) is Notes4  # the registered class


@dataclasses.dataclass(frozen=True)
class WrongHook:
    size: int = 1

    def make_representation(self) -> object:
        return "events"


class Plugins:
    """A model whose trainer cannot be imported, and one whose config's hook is wrong."""

    @hookimpl
    def register_models(self, register: Any) -> None:
        register(ModelSpec(
            name="trainerless-gan", config=CRNNGANConfig, module=CRNNGAN,
            trainer="deepsym_no_such_module:Trainer",
            sampler="deepsym_plugins.c_rnn_gan_sample:SequenceSampler",
            representation="notes4"))
        register(ModelSpec(name="wrong-hook", config=WrongHook, module=CRNNGAN,
                           trainer="deepsym_no_such_module:Trainer",
                           sampler="deepsym_plugins.c_rnn_gan_sample:SequenceSampler",
                           representation="notes4"))


@pytest.fixture
def plugins() -> Iterator[None]:
    with registered(Plugins(), "sampling-options-test"):
        yield


def test_sampling_never_needs_the_trainer(plugins, tmp_path):
    spec = manager().models.get("trainerless-gan")
    with pytest.raises(ModuleNotFoundError, match="deepsym_no_such_module"):
        spec.trainer_class()
    assert type(trained_representation(spec, GAN)) is Notes4
    torch.manual_seed(0)
    model = CRNNGAN(GAN)
    path = save_checkpoint(tmp_path / "model.pt", {
        "model": spec.name, "config": to_dict(GAN), "step": 0,
        "trainer": {"model": model.state_dict()}})
    sampler = load_sampler(path, seed=3, options={"noise_scale": 0.5})
    assert sampler.name == "trainerless-gan" and isinstance(sampler.representation, Notes4)
    [score] = sampler.sample(1, 10)
    assert score.n_notes == 10
    assert main(["sample", str(path), "-n", "1", "--length", "10tokens", "-o",
                 str(tmp_path / "out")]) == 0
    assert (tmp_path / "out" / "sample-01.mid").is_file()


def test_a_hook_that_returns_no_representation_is_a_config_error(plugins):
    spec = manager().models.get("wrong-hook")
    with pytest.raises(ConfigError, match=r"model 'wrong-hook': WrongHook"
                                          r"\.make_representation\(\) returned str"):
        spec.make_representation(WrongHook())
