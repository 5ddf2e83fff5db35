"""Named scalars per update and declared validation: a WGAN-GP run through the engine logs
each side's scalars (``critic_step_d_real``, ``critic_step_gp``, ...) to ``log.csv``,
validates with what it declares (never its critic step under ``torch.no_grad``), early
stopping and ``best.pt`` follow only a declared target, and the log's header widens
without losing a row, across resumes too.
"""
from __future__ import annotations

import csv
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
from deepsym.training.engine import Budget, RunResult, train
from deepsym.training.monitor import Monitor

PLUGIN = "toy-gans"


@dataclass(frozen=True)
class NumbersConfig:
    n_critic: int = 5  # critic updates per generator update (WGAN-GP's choice)
    pretrain_steps: int = 2
    gradient_penalty: float = 1.0
    batch_size: int = 16


class NumbersGAN(nn.Module):
    def __init__(self, config: NumbersConfig) -> None:
        super().__init__()
        self.generator = nn.Linear(1, 1)
        self.critic = nn.Sequential(nn.Linear(1, 16), nn.LeakyReLU(0.2), nn.Linear(16, 1))


class SilentWGANTrainer(Trainer):
    """WGAN-GP on numbers around 3 that declares no validation of its own; its critic
    step needs gradients (``torch.autograd.grad``) and reports each term."""

    def configure_optimizers(self) -> dict[str, torch.optim.Optimizer]:
        return {"generator": torch.optim.Adam(self.model.generator.parameters(), 0.05,
                                              betas=(0.5, 0.9)),
                "critic": torch.optim.Adam(self.model.critic.parameters(), 0.01,
                                           betas=(0.5, 0.9))}

    def phases(self) -> list[Phase]:
        c = self.config
        return [Phase("pretrain-critic", c.pretrain_steps, (Update("critic_step", "critic"),)),
                Phase("adversarial", None, (
                    Update("critic_step", "critic", repeat=c.n_critic),
                    Update("generator_step", "generator")))]

    @classmethod
    def dataset(cls, config: Any, corpus: Corpus, split: str, representation: Representation,
                seed: int, transpose: tuple[int, int] = (0, 0)
                ) -> tuple[Any, Any]:
        """Numbers drawn around 3: 64 to train on, 16 held out."""
        g = torch.Generator().manual_seed(seed + (split == "valid"))
        numbers = 3 + 0.5 * torch.randn(64 if split == "train" else 16, 1, generator=g)
        return list(numbers), torch.stack

    def fake(self, n: int) -> torch.Tensor:
        return self.model.generator(torch.randn(n, 1, generator=self.rng))

    def critic_step(self, real: torch.Tensor) -> dict[str, torch.Tensor]:
        critic, fake = self.model.critic, self.fake(len(real)).detach()
        mix = torch.rand(len(real), 1, generator=self.rng)
        mixed = (mix * real + (1 - mix) * fake).requires_grad_(True)
        grad, = torch.autograd.grad(critic(mixed).sum(), mixed, create_graph=True)
        penalty = ((grad.norm(dim=1) - 1) ** 2).mean()
        d_real, d_fake = critic(real).mean(), critic(fake).mean()
        return {"loss": d_fake - d_real + self.config.gradient_penalty * penalty,
                "d_real": d_real, "d_fake": d_fake, "gp": penalty}

    def generator_step(self, real: torch.Tensor) -> torch.Tensor:
        return -self.model.critic(self.fake(len(real))).mean()


class WGANTrainer(SilentWGANTrainer):
    """Validation: the critic's Wasserstein estimate and the distance between the means of
    generated and held-out numbers, which early stopping follows."""

    validation_target = "distance"

    def validation(self, batch: torch.Tensor) -> dict[str, torch.Tensor]:
        fake = self.fake(len(batch))
        critic = self.model.critic
        return {"wasserstein": critic(batch).mean() - critic(fake).mean(),
                "distance": (fake.mean() - batch.mean()).abs()}


class UntargetedWGANTrainer(WGANTrainer):
    """Reports validation scalars, but none that early stopping may follow."""

    validation_target = None


class ToyGANPlugin:
    @hookimpl
    def register_models(self, register: Any) -> None:
        for name, trainer in [("toy-wgan", WGANTrainer), ("toy-wgan-silent", SilentWGANTrainer),
                              ("toy-wgan-untargeted", UntargetedWGANTrainer)]:
            register(ModelSpec(name, NumbersConfig, NumbersGAN, trainer,
                               "deepsym.sampling:Sampler", "events"))


@pytest.fixture(scope="module", autouse=True)
def toy_gans() -> Iterator[None]:
    with registered(ToyGANPlugin(), PLUGIN):
        yield


@pytest.fixture(scope="module")
def corpus(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """10 real pieces with a valid split (the toy GANs read their own numbers)."""
    path = tmp_path_factory.mktemp("corpus") / "c"
    build_corpus(real_midi_files()[:10], path, workers=1, fractions=(0.6, 0.3, 0.1))
    return path


def run(model: str, corpus: Path, out: Path, steps: int, resume: bool = False,
        **settings: Any) -> RunResult:
    settings = {"valid_every": 4, "log_every": 4, "checkpoint_every": 4, **settings}
    return train(None if resume else model, None if resume else corpus, out,
                 settings={} if resume else settings, budget=Budget(steps=steps),
                 resume=resume, tensorboard=False)


def read_log(path: Path) -> tuple[list[str], list[dict[str, str]]]:
    with path.open(newline="") as f:
        reader = csv.DictReader(f)
        return list(reader.fieldnames or []), list(reader)


def test_a_gan_logs_each_sides_scalars_and_validates_with_what_it_declares(corpus, tmp_path):
    result = run("toy-wgan", corpus, tmp_path / "run", 12, patience=0)
    header, rows = read_log(tmp_path / "run" / "log.csv")
    assert header == ["step", "epoch", "phase", "elapsed_s", "steps_per_s",
                      "critic_step_loss", "critic_step_d_real", "critic_step_d_fake",
                      "critic_step_gp", "generator_step_loss", "generator_lr", "critic_lr",
                      "grad_norm", "valid_wasserstein", "valid_distance", "skipped"]
    assert [int(r["step"]) for r in rows] == [4, 8, 12]
    for r in rows:
        assert all(r[name] for name in header), r
        assert float(r["critic_step_gp"]) >= 0 and float(r["valid_distance"]) >= 0
    distances = [float(r["valid_distance"]) for r in rows]
    best = load_checkpoint(tmp_path / "run" / "checkpoints" / "best.pt")
    assert best["early_stopping"]["best"] == pytest.approx(min(distances), rel=1e-5)
    assert result.valid_loss == pytest.approx(distances[-1], rel=1e-5)
    assert result.best_valid_loss == pytest.approx(min(distances), rel=1e-5)


def test_a_gan_without_its_own_validation_is_not_validated_and_does_not_crash(
        corpus, tmp_path, capsys):
    result = run("toy-wgan-silent", corpus, tmp_path / "run", 8, patience=1)
    assert "model 'toy-wgan-silent' reports nothing on validation; validation is off" in \
        capsys.readouterr().err
    header, rows = read_log(tmp_path / "run" / "log.csv")
    assert [int(r["step"]) for r in rows] == [4, 8]
    assert not any(r["valid_loss"] for r in rows) and "valid_wasserstein" not in header
    assert (result.stopped, result.valid_loss, result.best_valid_loss) == ("steps", None, None)
    assert not (tmp_path / "run" / "checkpoints" / "best.pt").exists()


def test_without_a_validation_target_no_early_stopping_and_no_best_pt(corpus, tmp_path,
                                                                        capsys):
    result = run("toy-wgan-untargeted", corpus, tmp_path / "run", 16, patience=1)
    assert "declares no validation target: no early stopping, and validation writes no " \
           "best.pt" in capsys.readouterr().err
    header, rows = read_log(tmp_path / "run" / "log.csv")
    assert all(r["valid_wasserstein"] and r["valid_distance"] for r in rows)
    assert "valid_loss" not in header
    assert (result.step, result.stopped, result.best_valid_loss) == (16, "steps", None)
    assert not (tmp_path / "run" / "checkpoints" / "best.pt").exists()


def test_a_resumed_gan_run_keeps_every_row_and_matches_a_straight_one(corpus, tmp_path):
    run("toy-wgan", corpus, tmp_path / "straight", 12, patience=0)
    run("toy-wgan", corpus, tmp_path / "resumed", 8, patience=0)
    run("toy-wgan", corpus, tmp_path / "resumed", 12, resume=True)
    straight_header, straight = read_log(tmp_path / "straight" / "log.csv")
    header, resumed = read_log(tmp_path / "resumed" / "log.csv")
    assert header == straight_header and [r["step"] for r in resumed] == ["4", "8", "12"]
    scalars = [name for name in header if name.startswith(("critic_step", "valid_"))]
    for a, b in zip(straight, resumed, strict=True):
        for name in scalars:
            assert float(a[name]) == pytest.approx(float(b[name]), rel=1e-4, abs=1e-6), name


def test_the_log_header_widens_without_losing_a_row_and_keeps_it_on_resume(tmp_path):
    def monitor(start_step: int) -> Monitor:
        return Monitor(tmp_path, ["step", "loss"], start_step=start_step, total=None,
                       progress=False, tensorboard=False)

    first = monitor(0)
    first.row({"step": 1, "loss": 1.5})
    first.row({"step": 2, "loss": 1.25, "d_real": 0.5, "skipped": 0})
    first.row({"step": 3, "gp": 2.0, "loss": 1.0, "d_real": 0.25})
    first.close()
    header, rows = read_log(tmp_path / "log.csv")
    assert header == ["step", "gp", "loss", "d_real", "skipped"]
    assert rows == [{"step": "1", "gp": "", "loss": "1.5", "d_real": "", "skipped": ""},
                    {"step": "2", "gp": "", "loss": "1.25", "d_real": "0.5", "skipped": "0"},
                    {"step": "3", "gp": "2", "loss": "1", "d_real": "0.25", "skipped": ""}]
    monitor(2).close()  # a resume at step 2 declaring fewer columns: none is dropped
    assert read_log(tmp_path / "log.csv") == (header, rows[:2])
    assert read_log(tmp_path / "log-superseded.csv") == (header, rows[2:])


def test_an_update_without_a_loss_reports_its_scalars_and_leaves_the_weights():
    class Frozen(SilentWGANTrainer):
        def generator_step(self, real: torch.Tensor) -> dict[str, float]:
            return {"frozen": 1.0}

    config = NumbersConfig(pretrain_steps=0, n_critic=1)
    trainer = Frozen(NumbersGAN(config), config, seed=0)
    before = [p.clone() for p in trainer.model.generator.parameters()]
    logs = []
    trainer.fit([3 + torch.randn(8, 1)], on_update=logs.append, rounds=2)
    generator = [log for log in logs if log.update == "generator_step"]
    assert [(log.loss, log.scalars) for log in generator] == [(None, {"frozen": 1.0})] * 2
    critic = [log for log in logs if log.update == "critic_step"]
    assert all(set(log.scalars) == {"d_real", "d_fake", "gp"} for log in critic)
    assert all(torch.equal(a, b) for a, b in
               zip(before, trainer.model.generator.parameters(), strict=True))
