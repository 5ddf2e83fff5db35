"""Randomness on the trainer's device and one GradScaler over several optimizers.

A trainer's ``rng`` lives on its device (a GAN draws its noise there) and resumes
exactly from a checkpoint; with a scaler (forced on here, on the CPU) every update runs
scale, backward, unscale, clip, step and one ``update()`` in that order, a step the
scaler skips is reported without counting as a bad step, and the scaler's state is
checkpointed: a WGAN trained through the engine in two sessions ends as one trained in
one.
"""
from __future__ import annotations

import copy
import dataclasses
import math
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
import torch
from music21_corpus import real_midi_files
from registered_plugins import registered
from torch import nn

from deepsym.data import Corpus, build_corpus
from deepsym.hookspecs import hookimpl
from deepsym.modeling import ModelSpec
from deepsym.representations.base import Representation
from deepsym.training import Phase, Trainer, Update
from deepsym.training.checkpoint import load_checkpoint
from deepsym.training.engine import Budget, train

PLUGIN = "toy-scaled-gans"


@dataclass(frozen=True)
class NoiseConfig:
    n_critic: int = 2  # critic updates per generator update (small, to keep tests fast)
    batch_size: int = 8


class NoiseGAN(nn.Module):
    def __init__(self, config: NoiseConfig) -> None:
        super().__init__()
        self.generator = nn.Linear(1, 1)
        self.critic = nn.Sequential(nn.Linear(1, 8), nn.LeakyReLU(0.2), nn.Linear(8, 1))


class NoiseWGAN(Trainer):
    """A WGAN on numbers around 3 whose noise comes from ``self.rng`` on its device."""

    def configure_optimizers(self) -> dict[str, torch.optim.Optimizer]:
        return {"critic": torch.optim.Adam(self.model.critic.parameters(), 0.01),
                "generator": torch.optim.Adam(self.model.generator.parameters(), 0.05)}

    def phases(self) -> list[Phase]:
        return [Phase("adversarial", None, (
            Update("critic_step", "critic", repeat=self.config.n_critic),
            Update("generator_step", "generator")))]

    @classmethod
    def dataset(cls, config: Any, corpus: Corpus, split: str, representation: Representation,
                seed: int, transpose: tuple[int, int] = (0, 0)) -> tuple[Any, Any]:
        """32 numbers drawn around 3."""
        numbers = 3 + 0.5 * torch.randn(32, 1, generator=torch.Generator().manual_seed(seed))
        return list(numbers), torch.stack

    def noise(self, n: int) -> torch.Tensor:
        return torch.randn(n, 1, generator=self.rng, device=self.device)

    def critic_step(self, real: torch.Tensor) -> torch.Tensor:
        critic = self.model.critic
        return critic(self.model.generator(self.noise(len(real))).detach()).mean() - \
            critic(real).mean()

    def generator_step(self, real: torch.Tensor) -> torch.Tensor:
        return -self.model.critic(self.model.generator(self.noise(len(real)))).mean()

    def exploding_step(self, real: torch.Tensor) -> torch.Tensor:
        """A finite loss whose scaled gradients overflow float32 (the scale is 2**16)."""
        return self.model.generator.weight.sum() * 1e35


class ScaledNoiseWGAN(NoiseWGAN):
    """The same WGAN with the scaler path forced on, as on CUDA (here the CPU's)."""

    validation_target = None

    def configure_scaler(self) -> torch.amp.GradScaler:
        return torch.amp.GradScaler("cpu")


class ToyPlugin:
    @hookimpl
    def register_models(self, register: Any) -> None:
        register(ModelSpec("toy-wgan-scaled", NoiseConfig, NoiseGAN, ScaledNoiseWGAN,
                           "deepsym.sampling:Sampler", "events"))


@pytest.fixture(scope="module", autouse=True)
def toy_plugin() -> Iterator[None]:
    with registered(ToyPlugin(), PLUGIN):
        yield


@pytest.fixture(scope="module")
def corpus(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("corpus") / "c"
    build_corpus(real_midi_files()[:6], path, workers=1, fractions=(0.7, 0.3, 0.0))
    return path


def trainer(kind: type[Trainer] = NoiseWGAN, seed: int = 0, **settings: Any) -> Trainer:
    made = kind(NoiseGAN(NoiseConfig()), NoiseConfig(), seed=seed)
    made.options = dataclasses.replace(made.options, **settings)
    return made


def batches() -> list[torch.Tensor]:
    return [3 + torch.randn(8, 1, generator=torch.Generator().manual_seed(i))
            for i in range(4)]


# -- the generator ---------------------------------------------------------------------------


def test_the_generator_is_on_the_trainers_device_and_in_its_checkpoint_state() -> None:
    t = trainer()
    assert t.rng.device == t.device and t.cpu_rng.device.type == "cpu"
    state = t.state_dict()
    assert state["rng_device"] == t.device.type
    assert torch.equal(state["rng"], t.rng.get_state())
    assert torch.equal(state["cpu_rng"], t.cpu_rng.get_state())
    assert not torch.equal(t.noise(4), torch.randn(4, 1, generator=t.cpu_rng))


def test_a_resumed_trainer_draws_the_same_noise_as_the_uninterrupted_one() -> None:
    going = trainer(seed=7)
    going.fit(batches(), rounds=2)
    state = copy.deepcopy(going.state_dict())
    resumed = trainer(seed=99)
    resumed.load_state_dict(state)
    assert torch.equal(resumed.noise(16), going.noise(16))
    assert torch.equal(torch.rand(3, generator=resumed.cpu_rng),
                       torch.rand(3, generator=going.cpu_rng))


def test_an_older_checkpoint_with_only_a_cpu_generator_still_resumes() -> None:
    going = trainer(seed=7)
    state = going.state_dict()
    del state["rng_device"], state["cpu_rng"]
    resumed = trainer(seed=99)
    resumed.load_state_dict(state)
    assert torch.equal(resumed.noise(8), going.noise(8))


def test_another_devices_generator_state_is_refused_with_a_warning() -> None:
    state = trainer(seed=7).state_dict()
    state["rng_device"] = "cuda"
    resumed, said = trainer(seed=99), []
    resumed.warn = said.append
    resumed.load_state_dict(state)
    assert said == ["the checkpoint's generator is a cuda one, this trainer's is on cpu: "
                    "its random draws will not repeat the interrupted run's"]
    assert torch.equal(resumed.noise(4), trainer(seed=99).noise(4))  # still seeded


# -- the scaler ------------------------------------------------------------------------------


def test_without_a_forced_scaler_the_cpu_trains_in_full_precision() -> None:
    assert trainer().scaler is None and trainer().state_dict()["scaler"] is None


def test_one_scaler_scales_unscales_clips_steps_and_updates_each_update_in_order(
        monkeypatch: pytest.MonkeyPatch) -> None:
    t = trainer(ScaledNoiseWGAN, grad_clip=1.0)
    names = {id(o): name for name, o in t.optimizers.items()}
    calls: list[str] = []

    def spy(owner: Any, method: str, show: Any) -> None:
        real = getattr(owner, method)

        def recorded(*args: Any, **kwargs: Any) -> Any:
            calls.append(show(*args))
            return real(*args, **kwargs)
        monkeypatch.setattr(owner, method, recorded)

    spy(t.scaler, "scale", lambda loss: "scale")
    spy(t.scaler, "unscale_", lambda o: f"unscale_ {names[id(o)]}")
    spy(t.scaler, "step", lambda o, *_: f"step {names[id(o)]}")
    spy(t.scaler, "update", lambda *_: "update")
    spy(torch.nn.utils, "clip_grad_norm_", lambda *_: "clip")
    t.fit(batches(), rounds=2)
    one = ["scale", "unscale_ {0}", "clip", "step {0}", "update"]
    round_ = [c.format("critic") for c in one] * 2 + [c.format("generator") for c in one]
    assert calls == round_ * 2


def test_a_step_the_scaler_skips_is_reported_and_is_no_bad_step() -> None:
    t = trainer(ScaledNoiseWGAN, bad_step_limit=1)
    phases = [Phase("explode", 3, (Update("exploding_step", "generator"),))]
    before = t.model.generator.weight.detach().clone()
    scale = t.scaler.get_scale()
    logs = [log for _ in range(3) for log in t.run_round(phases, batches()[0].clone)]
    assert all(log.overflow and not log.finite for log in logs)
    assert all(log.loss is not None and math.isfinite(log.loss) for log in logs)
    assert t.scaler.get_scale() == scale / 8 and t.bad_steps == 0
    assert torch.equal(t.model.generator.weight, before)


def test_the_scalers_state_is_checkpointed_and_restored() -> None:
    going = trainer(ScaledNoiseWGAN)
    going.fit(batches(), rounds=1)
    going.scaler.update(new_scale=512.0)
    resumed = trainer(ScaledNoiseWGAN)
    resumed.load_state_dict(copy.deepcopy(going.state_dict()))
    assert resumed.scaler.state_dict() == going.scaler.state_dict()
    assert resumed.scaler.get_scale() == 512.0


def test_a_scaled_wgan_trains_through_the_engine_and_resumes_exactly(corpus: Path,
                                                                      tmp_path: Path) -> None:
    settings = {"log_every": 2, "checkpoint_every": 2, "valid_every": 0, "grad_clip": 5.0}
    straight = train("toy-wgan-scaled", corpus, tmp_path / "straight", settings=settings,
                     budget=Budget(steps=6), tensorboard=False)
    train("toy-wgan-scaled", corpus, tmp_path / "split", settings=settings,
          budget=Budget(steps=3), tensorboard=False)
    split = train(None, None, tmp_path / "split", budget=Budget(steps=6), resume=True,
                  tensorboard=False)
    assert straight.step == split.step == 6 and straight.train_loss == split.train_loss
    one, two = (load_checkpoint(tmp_path / run / "checkpoints" / "last.pt")["trainer"]
                for run in ("straight", "split"))
    assert one["scaler"] is not None and one["scaler"] == two["scaler"]
    assert torch.equal(one["rng"], two["rng"])
    for name, weight in one["model"].items():
        assert torch.equal(weight, two["model"][name]), name
