"""The plugin system: registries, isolation of failing plugins, plugin commands, the
torch-free listing, config round trips and the Trainer / Sampler interfaces."""
from __future__ import annotations

import json
import re
import subprocess
import sys
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pretty_midi
import pytest
import torch
from music21_corpus import first_chorales, real_midi_files
from registered_plugins import registered
from torch import nn

from deepsym import read_midi
from deepsym.cli import main
from deepsym.errors import ConfigError, DeepsymError, PluginError, UnknownPluginError
from deepsym.hookspecs import hookimpl
from deepsym.modeling import ModelSpec, check_config_class, from_dict, from_json, to_dict
from deepsym.plugins import PluginManager, Registry, manager
from deepsym.representations import (
    Representation,
    RepresentationSpec,
    mean_pitch,
    note_density,
    pitch_class_histogram,
)
from deepsym.sampling import Controls, choose
from deepsym.score import Score, Track
from deepsym.training import Phase, Trainer, Update

ROOT = Path(__file__).resolve().parents[1]
EXAMPLE_SRC = ROOT / "examples" / "deepsym-plugin-example" / "src"


def lowest_pitch(score: Score) -> float:
    """The lowest pitch of the score (a metric for the throwaway plugin)."""
    pitches = [int(t.notes["pitch"].min()) for t in score.tracks if len(t.notes)]
    return float(min(pitches)) if pitches else float("nan")


def files_in(root: Path) -> list[Path]:
    return sorted(Path(root).glob("*.mid"))


class Onsets(Representation):
    """One count of note onsets per beat (a throwaway continuous representation)."""

    name = "throwaway-onsets"

    @property
    def spec(self) -> RepresentationSpec:
        return RepresentationSpec("continuous", feature_shape=(1,),
                                  condition_size=self.condition_size)

    def encode(self, score: Score) -> np.ndarray:
        starts = np.concatenate([t.notes["start"] for t in score.tracks]) // score.ticks_per_beat
        return np.bincount(starts, minlength=1).astype(np.float32)[:, None]

    def decode(self, array: np.ndarray) -> Score:
        """One middle C per onset counted, on its beat (480 ticks per beat)."""
        beats = np.repeat(np.arange(len(array)), array[:, 0].astype(np.int64))
        return Score(tracks=[Track(notes=[(480 * int(b), 480, 60, 64) for b in beats])])


@dataclass(frozen=True)
class TinyConfig:
    width: int = 4
    scale: float = 1.0
    layers: tuple[int, ...] = (8, 8)
    activation: str | None = "relu"


class Throwaway:
    """A plugin registering one of everything (commands included)."""

    def __init__(self, metric_name: str = "lowest_pitch", command: str = "throwaway-hello"):
        self.metric_name = metric_name
        self.command = command

    @hookimpl
    def register_metrics(self, register):
        register(lowest_pitch, self.metric_name)

    @hookimpl
    def register_datasets(self, register):
        register(files_in, "throwaway-folder")

    @hookimpl
    def register_representations(self, register):
        register(Onsets)

    @hookimpl
    def register_models(self, register):
        register(ModelSpec("throwaway-model", TinyConfig, "torch.nn:Identity",
                           "torch.nn:Module", "torch.nn:Module", Onsets.name,
                           extra="throwaway", requires=("deepsym_throwaway_backend",)))

    @hookimpl
    def register_commands(self, cli):
        parser = cli.add_parser(self.command, help="say hello (throwaway plugin)")
        parser.add_argument("--to", default="world")
        parser.set_defaults(run=lambda args: print(f"hello {args.to}") or 0)


class RaisesAfterRegistering:
    @hookimpl
    def register_metrics(self, register):
        register(lowest_pitch, "half_registered")
        raise RuntimeError("metric table corrupt")


class MisspelledHook:
    @hookimpl
    def register_metric(self, register):
        register(lowest_pitch)


@pytest.fixture
def throwaway() -> Iterator[PluginManager]:
    with registered(Throwaway(), "throwaway") as pm:
        yield pm


@pytest.fixture(scope="module")
def chorales() -> list[Score]:
    return [read_midi(p) for p in real_midi_files() if p.name.startswith("bach")][:6]


# -- registries ---------------------------------------------------------------------------


def test_registry_refuses_a_second_plugin_with_the_same_name_naming_both():
    registry: Registry = Registry("metric", callable, "callable")
    registry.add(lowest_pitch, "first")
    with pytest.raises(PluginError, match="'lowest_pitch' is registered by plugin 'first'; "
                                          "plugin 'second' registered it again"):
        registry.add(files_in, "second", "lowest_pitch")
    assert registry.get("lowest_pitch") is lowest_pitch
    assert registry.plugin_of("lowest_pitch") == "first"


def test_unknown_name_suggests_close_names_and_lists_all(throwaway):
    with pytest.raises(UnknownPluginError) as caught:
        throwaway.metrics.get("lowest_pich")
    message = str(caught.value)
    assert message.startswith("unknown metric 'lowest_pich'; did you mean 'lowest_pitch'?")
    assert all(name in message for name in throwaway.metrics.names())
    assert isinstance(caught.value, KeyError) and isinstance(caught.value, DeepsymError)
    with pytest.raises(UnknownPluginError, match=r"unknown model 'zzz' \(models: .*"
                                                 r"throwaway-model"):
        throwaway.models.get("zzz")


def test_registry_refuses_things_of_the_wrong_kind():
    registry: Registry = Registry("model", lambda x: isinstance(x, ModelSpec), "a ModelSpec")
    with pytest.raises(PluginError, match="registered model 'x' as 3, which is not a ModelSpec"):
        registry.add(3, "p", "x")
    with pytest.raises(PluginError, match="without a valid name"):
        registry.add(ModelSpec("", TinyConfig, "", "", "", ""), "p")


def test_throwaway_plugin_registers_everything_and_unregisters_cleanly():
    pm = manager()
    before = {kind: r.names() for kind, r in pm.registries().items()}
    with registered(Throwaway(), "throwaway"):
        assert pm.metrics.get("lowest_pitch") is lowest_pitch
        assert pm.datasets.get("throwaway-folder") is files_in
        assert pm.representations.get("throwaway-onsets") is Onsets
        onsets = Onsets().encode(Score(tracks=[Track(notes=[(0, 1, 60, 1), (960, 1, 62, 1)])]))
        assert Onsets().encode(Onsets().decode(onsets)).tolist() == onsets.tolist()
        assert pm.models.get("throwaway-model").config is TinyConfig
        assert pm.commands.plugin_of("throwaway-hello") == "throwaway"
        assert not pm.plugins["throwaway"].failed
    assert {kind: r.names() for kind, r in pm.registries().items()} == before
    assert "throwaway" not in pm.plugins


def test_registered_metrics_and_datasets_work_on_real_files(throwaway, chorales):
    folder = real_midi_files()[0].parent
    assert throwaway.datasets.get("throwaway-folder")(folder) == files_in(folder)
    for score in chorales:
        lowest = min(int(n["pitch"]) for t in score.tracks for n in t.notes)
        assert throwaway.metrics.get("lowest_pitch")(score) == lowest


def test_core_plugin_registers_the_builtin_metrics_and_each_gives_a_number(chorales):
    pm = manager()
    assert pm.plugins["core"].source == "built-in" and not pm.plugins["core"].failed
    names = pm.metrics.names("core")
    assert names, "the core plugin registered no metric"
    for name in names:
        values = [pm.metrics.get(name)(score) for score in chorales]
        assert all(isinstance(v, int | float) for v in values), name


# -- isolation --------------------------------------------------------------------------


def test_a_plugin_that_raises_is_skipped_whole_and_the_rest_keeps_working(throwaway):
    with registered(RaisesAfterRegistering(), "raises") as pm:
        info = pm.plugins["raises"]
        assert info.failed
        assert info.error == "registering failed: RuntimeError: metric table corrupt"
        assert "half_registered" not in pm.metrics  # nothing it registered stays
        assert pm.metrics.get("lowest_pitch") is lowest_pitch
        assert pm.failures() == [info]


def test_strict_mode_raises_the_failure():
    strict = PluginManager(strict=True)
    with pytest.raises(PluginError, match=r"plugin 'raises': .*metric table corrupt"):
        strict.register(RaisesAfterRegistering(), "raises")


def test_a_misspelled_hook_fails_the_plugin_with_a_suggestion():
    with registered(MisspelledHook(), "typo") as pm:
        assert "unknown hook 'register_metric' (did you mean 'register_metrics'?)" \
            in pm.plugins["typo"].error


def test_a_name_clash_fails_the_second_plugin_naming_both(throwaway):
    with registered(Throwaway(command="throwaway-two"), "second") as pm:
        error = pm.plugins["second"].error
        assert "model 'throwaway-model' is registered by plugin 'throwaway'; " \
               "plugin 'second' registered it again" in error
        assert pm.metrics.plugin_of("lowest_pitch") == "throwaway"
        assert "throwaway-two" not in pm.commands


# -- the command line -------------------------------------------------------------------


def test_plugin_commands_show_in_help_and_run(throwaway, capsys):
    with pytest.raises(SystemExit):
        main(["--help"])
    help_text = capsys.readouterr().out
    assert "throwaway-hello" in help_text and "say hello (throwaway plugin)" in help_text
    assert main(["throwaway-hello", "--to", "Bach"]) == 0
    assert capsys.readouterr().out == "hello Bach\n"


def test_a_plugin_command_named_like_a_core_command_fails_that_plugin(capsys):
    with registered(Throwaway(metric_name="clash_metric", command="info"), "clash") as pm:
        assert main(["plugins"]) == 0
        assert "command 'info' is a deepsym core command" in pm.plugins["clash"].error
        assert "clash_metric" not in pm.metrics
        out = capsys.readouterr().out
        assert "clash - (local)\n  FAILED registering failed: PluginError: command 'info'" in out


def test_deepsym_plugins_lists_what_each_plugin_registers(throwaway, capsys):
    assert main(["plugins"]) == 0
    out = capsys.readouterr().out
    assert "core 0.1.0 (built-in)\n  metrics: " in out
    assert ("throwaway - (local)\n"
            "  models: throwaway-model (needs: pip install 'deepsym[throwaway]')\n"
            "  representations: throwaway-onsets\n"
            "  metrics: lowest_pitch\n"
            "  datasets: throwaway-folder\n"
            "  commands: throwaway-hello") in out
    assert main(["plugins", "--json"]) == 0
    listed = {p["name"]: p for p in json.loads(capsys.readouterr().out)}
    model = listed["throwaway"]["registers"]["models"][0]
    assert model == {"name": "throwaway-model", "representation": "throwaway-onsets",
                     "extra": "throwaway", "requires": ["deepsym_throwaway_backend"],
                     "installed": False, "install": "pip install 'deepsym[throwaway]'"}
    assert listed["core"]["status"] == "ok"


def test_failed_plugins_get_one_warning_line_on_other_commands(capsys):
    with registered(RaisesAfterRegistering(), "raises"):
        assert main(["info", str(real_midi_files()[0])]) == 0
    err = capsys.readouterr().err
    assert err == ("deepsym: warning: plugin 'raises' skipped (registering failed: "
                   "RuntimeError: metric table corrupt); see 'deepsym plugins'\n")


# -- torch is optional ------------------------------------------------------------------

NO_TORCH = """
import sys
class NoTorch:
    def find_spec(self, name, path=None, target=None):
        if name == "torch" or name.startswith("torch."):
            raise ModuleNotFoundError("No module named 'torch' (blocked)", name=name)
sys.meta_path.insert(0, NoTorch())
sys.path.insert(0, {src!r})
"""


def test_without_torch_plugins_list_models_with_what_to_install():
    code = NO_TORCH.format(src=str(EXAMPLE_SRC)) + """
from deepsym.cli import main
from deepsym.plugins import manager
import deepsym.training, deepsym.sampling, deepsym_example.plugin
manager().register(deepsym_example.plugin, "example")
status = main(["plugins"])
try:
    manager().models.get("tiny-melody").build()
except ImportError as exc:
    print("build:", type(exc).__name__, exc)
try:
    import torch
except ImportError:
    print("torch blocked")
print("torch imported:", "torch" in sys.modules)
sys.exit(status)
"""
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                            cwd="/", check=False)
    assert result.returncode == 0, result.stderr
    out = result.stdout
    assert "core 0.1.0 (built-in)" in out
    assert "models: tiny-melody (needs: pip install 'deepsym[torch]')" in out
    assert "representations: melody-tokens" in out
    assert ("build: MissingExtraError model 'tiny-melody' needs torch: "
            "pip install 'deepsym[torch]'") in out
    assert "torch blocked" in out and "torch imported: False" in out


# -- configs ----------------------------------------------------------------------------


def test_config_round_trips_through_json():
    config = TinyConfig(width=7, scale=0.5, layers=(3, 2, 1), activation=None)
    data = to_dict(config)
    assert data == {"width": 7, "scale": 0.5, "layers": [3, 2, 1], "activation": None}
    assert from_dict(TinyConfig, json.loads(json.dumps(data))) == config
    assert from_json(TinyConfig, '{"scale": 2}') == TinyConfig(scale=2.0)


@pytest.mark.parametrize(("data", "message"), [
    ({"widht": 3}, "TinyConfig: unknown field 'widht'; fields are: width, scale, layers"),
    ({"width": "3"}, "TinyConfig.width: '3' is not int"),
    ({"width": True}, "TinyConfig.width: True is not int"),
    ({"layers": [1, "x"]}, "TinyConfig.layers[1]: 'x' is not int"),
    ({"activation": 3}, "TinyConfig.activation: 3 is not"),
    ([1, 2], "TinyConfig: expected an object of fields"),
], ids=["unknown field", "string for int", "bool for int", "tuple item", "optional", "list"])
def test_config_from_dict_names_the_bad_field(data, message):
    with pytest.raises(ConfigError, match=re.escape(message)):
        from_dict(TinyConfig, data)


def test_config_classes_must_be_frozen_dataclasses_of_json_values():
    @dataclass
    class Mutable:
        x: int = 1

    @dataclass(frozen=True)
    class WithArray:
        x: np.ndarray = None  # type: ignore[assignment]

    @dataclass(frozen=True)
    class Needs:
        x: int

    with pytest.raises(ConfigError, match="must be frozen"):
        check_config_class(Mutable)
    with pytest.raises(ConfigError, match=r"WithArray\.x: .* is not a JSON type"):
        check_config_class(WithArray)
    with pytest.raises(ConfigError, match="missing field 'x'"):
        from_dict(Needs, {})


# -- representations --------------------------------------------------------------------


def test_condition_features_match_pretty_midi_and_definitions(chorales):
    for path in first_chorales(6):
        score = read_midi(path)
        ours = pitch_class_histogram(score)
        peer = pretty_midi.PrettyMIDI(str(path)).get_pitch_class_histogram(
            use_duration=True, normalize=True)
        assert np.allclose(ours, peer, atol=1e-3), path.name
        notes = np.concatenate([t.notes for t in score.tracks])
        assert mean_pitch(score)[0] == pytest.approx(notes["pitch"].mean() / 127)
        beats = score.end_tick / score.ticks_per_beat
        assert note_density(score)[0] == pytest.approx(len(notes) / beats)
    rep = Onsets(conditions=("mean_pitch", "pitch_classes", "density"))
    vector = rep.condition_vector(chorales[0])
    assert vector.shape == (14,) == (rep.spec.condition_size,)
    assert vector[0] == mean_pitch(chorales[0])[0]
    empty = Score()
    assert pitch_class_histogram(empty).sum() == 0 and note_density(empty)[0] == 0


def test_representation_spec_and_condition_names_are_checked():
    with pytest.raises(ValueError, match="needs vocab_size"):
        RepresentationSpec("discrete")
    with pytest.raises(ValueError, match="kind must be"):
        RepresentationSpec("tokens", vocab_size=3)
    with pytest.raises(DeepsymError, match="unknown condition feature 'key'; choose from: "
                                           "pitch_classes, mean_pitch, density"):
        Onsets(conditions=("key",))


# -- trainers ---------------------------------------------------------------------------


@dataclass(frozen=True)
class ToyGANConfig:
    n_critic: int = 5
    pretrain_steps: int = 10
    adversarial_steps: int = 150
    gradient_penalty: float = 1.0


class ToyGAN(nn.Module):
    def __init__(self, config: ToyGANConfig) -> None:
        super().__init__()
        self.generator = nn.Linear(1, 1)
        self.critic = nn.Sequential(nn.Linear(1, 32), nn.LeakyReLU(0.2), nn.Linear(32, 1))


class ToyWGANTrainer(Trainer):
    """WGAN-GP on numbers: the generator should learn to draw around 3."""

    def configure_optimizers(self):
        return {"generator": torch.optim.Adam(self.model.generator.parameters(), 0.05,
                                              betas=(0.5, 0.9)),
                "critic": torch.optim.Adam(self.model.critic.parameters(), 0.01,
                                           betas=(0.5, 0.9))}

    def phases(self):
        c = self.config
        return [Phase("pretrain-critic", c.pretrain_steps, (Update("critic_step", "critic"),)),
                Phase("adversarial", c.adversarial_steps, (
                    Update("critic_step", "critic", repeat=c.n_critic),
                    Update("generator_step", "generator")))]

    def fake(self, n: int) -> torch.Tensor:
        return self.model.generator(torch.randn(n, 1, generator=self.rng))

    def critic_step(self, real: torch.Tensor) -> torch.Tensor:
        critic, fake = self.model.critic, self.fake(len(real)).detach()
        mix = torch.rand(len(real), 1, generator=self.rng)
        mixed = (mix * real + (1 - mix) * fake).requires_grad_(True)
        grad, = torch.autograd.grad(critic(mixed).sum(), mixed, create_graph=True)
        penalty = ((grad.norm(dim=1) - 1) ** 2).mean()
        return critic(fake).mean() - critic(real).mean() + \
            self.config.gradient_penalty * penalty

    def generator_step(self, real: torch.Tensor) -> torch.Tensor:
        return -self.model.critic(self.fake(len(real))).mean()


def real_numbers(batches: int = 16) -> list[torch.Tensor]:
    g = torch.Generator().manual_seed(1)
    return [3 + 0.5 * torch.randn(64, 1, generator=g) for _ in range(batches)]


def adam_steps(optimizer: torch.optim.Optimizer) -> int:
    return int(next(iter(optimizer.state.values()))["step"])


def test_gan_trainer_runs_critic_steps_per_generator_step_and_learns():
    torch.manual_seed(0)
    config = ToyGANConfig()
    trainer = ToyWGANTrainer(ToyGAN(config), config, seed=0)
    with torch.no_grad():
        start = float(trainer.fake(4096).mean())
    log = []
    trainer.fit(real_numbers(), on_update=log.append)
    counts = Counter((entry.phase, entry.update) for entry in log)
    assert counts == {("pretrain-critic", "critic_step"): 10,
                      ("adversarial", "critic_step"): 150 * 5,
                      ("adversarial", "generator_step"): 150}
    assert [e.update for e in log[10:16]] == ["critic_step"] * 5 + ["generator_step"]
    assert adam_steps(trainer.optimizers["critic"]) == 10 + 150 * 5
    assert adam_steps(trainer.optimizers["generator"]) == 150
    with torch.no_grad():
        end = float(trainer.fake(4096).mean())
    assert abs(end - 3) < 0.3 < abs(start - 3), (start, end)


def test_trainer_resumes_exactly_from_its_state_dict():
    config = ToyGANConfig(pretrain_steps=3, adversarial_steps=6, n_critic=2)
    data = real_numbers(1)  # one batch: a resumed run sees the same batches

    def fresh() -> ToyWGANTrainer:
        torch.manual_seed(0)
        return ToyWGANTrainer(ToyGAN(config), config, seed=7)

    straight = fresh()
    straight.fit(data)
    first = fresh()
    first.fit(data, rounds=5)  # the 3 pretraining rounds and 2 adversarial ones
    assert (first.phase_index, first.phase_step) == (1, 2)
    resumed = fresh()
    resumed.load_state_dict(first.state_dict())
    resumed.fit(data)
    assert (resumed.phase_index, resumed.phase_step) == (2, 0)
    for a, b in zip(straight.model.parameters(), resumed.model.parameters(), strict=True):
        assert torch.equal(a, b)
    assert not all(torch.equal(a, b) for a, b in zip(
        first.model.parameters(), resumed.model.parameters(), strict=True))


class Freezing(ToyWGANTrainer):
    """C-RNN-GAN style: the critic sits out every other round."""

    def critic_step(self, real):
        return None if self.phase_step % 2 else super().critic_step(real)


def test_a_step_returning_none_skips_its_optimizer():
    config = ToyGANConfig(pretrain_steps=0, adversarial_steps=8, n_critic=1)
    trainer = Freezing(ToyGAN(config), config)
    log = []
    trainer.fit(real_numbers(), on_update=log.append)
    assert adam_steps(trainer.optimizers["critic"]) == 4
    assert [e.loss is None for e in log if e.update == "critic_step"] == [False, True] * 4


def test_trainer_schedule_mistakes_are_clear_errors():
    class Typo(ToyWGANTrainer):
        def phases(self):
            return [Phase("p", 1, (Update("critic_step", "critc"),))]

    class NoStep(ToyWGANTrainer):
        def phases(self):
            return [Phase("p", 1, (Update("critic_stp", "critic"),))]

    config = ToyGANConfig()
    with pytest.raises(DeepsymError, match="unknown optimizer 'critc'; optimizers are: "
                                           "generator, critic"):
        Typo(ToyGAN(config), config).fit(real_numbers())
    with pytest.raises(DeepsymError, match="has no step method 'critic_stp'"):
        NoStep(ToyGAN(config), config).fit(real_numbers())
    with pytest.raises(DeepsymError, match="no training data"):
        ToyWGANTrainer(ToyGAN(config), config).fit([])


# -- sampling -----------------------------------------------------------------------------


def test_choose_follows_temperature_top_k_and_top_p():
    g = torch.Generator().manual_seed(0)
    logits = torch.log(torch.tensor([[0.5, 0.3, 0.15, 0.05]])).repeat(4000, 1)
    greedy = choose(logits, Controls(temperature=0), g)
    assert torch.equal(greedy, torch.zeros(4000, dtype=torch.long))
    free = torch.bincount(choose(logits, Controls(), g), minlength=4) / 4000
    assert torch.allclose(free, torch.tensor([0.5, 0.3, 0.15, 0.05]), atol=0.03)
    top2 = torch.bincount(choose(logits, Controls(top_k=2), g), minlength=4) / 4000
    assert top2[2:].sum() == 0 and abs(float(top2[0]) - 0.5 / 0.8) < 0.03
    nucleus = torch.bincount(choose(logits, Controls(top_p=0.85), g), minlength=4)
    assert nucleus[3] == 0 and nucleus[2] > 0  # 0.5+0.3 < 0.85: the third is kept
    hot = torch.bincount(choose(logits, Controls(temperature=100), g), minlength=4) / 4000
    assert float(hot.min()) > 0.2
    with pytest.raises(DeepsymError, match="top_p must be in"):
        choose(logits, Controls(top_p=0), g)
