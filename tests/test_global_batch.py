"""Data-parallel steps that are not a mean over equal slices (a GAN's noise, feature
matching, masked means, skip decisions) give with two gloo processes exactly the
one-process update on the combined batch, through the Trainer's global-batch helpers;
so do WGAN-GP's critic steps (two models, two Adam optimizers, several critic updates
per generator update, the gradient penalty's mixing weights drawn for the global
batch)."""
from __future__ import annotations

import gc
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
import torch
import torch.distributed as dist
import torch.multiprocessing as mp
from torch import nn

from deepsym.errors import DeepsymError
from deepsym.training import distributed
from deepsym.training.adversarial import discriminator_loss, generator_loss, gradient_penalty
from deepsym.training.base import Phase, Trainer, Update, UpdateLog
from deepsym.training.distributed import Context
from deepsym.training.options import build_optimizer

B, T, Z, D, F = 3, 5, 4, 6, 7  # local batch, time steps, noise, data and feature widths
WORLD, ROUNDS = 2, 6
UNEVEN = (2, 3)  # rows each process keeps (a step's filtered items)
N_CRITIC = 3  # critic updates per generator update (WGAN-GP's paper: 5)
GAP_LIMIT = 0.3  # the feature step updates while its global gap is below this


@dataclass(frozen=True)
class ToyConfig:
    optimizer: str = "sgd"
    learning_rate: float = 0.2
    amp: bool = False


class ToyGAN(nn.Module):
    def __init__(self) -> None:
        super().__init__()
        self.generator = nn.Linear(Z, D)
        self.features = nn.Sequential(nn.Linear(D, F), nn.Tanh())


class ToyTrainer(Trainer):
    """A generator trained by feature matching and a masked MSE; a feature network that
    widens the masked feature gap, skipping its update once the global gap is wide."""

    validation_target = None

    def configure_optimizers(self) -> dict[str, torch.optim.Optimizer]:
        return {"generator": build_optimizer(self.model.generator.parameters(), self.options),
                "features": build_optimizer(self.model.features.parameters(), self.options)}

    def phases(self) -> list[Phase]:
        return [Phase("toy", None, (Update("generator_step", "generator"),
                                    Update("features_step", "features")))]

    def fake(self, real: torch.Tensor) -> torch.Tensor:
        noise = self.local_rows(torch.rand(len(real) * self.context.world_size, T, Z,
                                           generator=self.rng, device=self.device))
        return self.model.generator(noise)

    def masked_feature_mean(self, x: torch.Tensor, weight: torch.Tensor) -> torch.Tensor:
        return self.global_mean((self.model.features(x) * weight).sum((0, 1)), weight.sum())

    def generator_step(self, batch: dict[str, torch.Tensor]) -> dict[str, Any]:
        real, weight = batch["x"], batch["mask"].float()[..., None]
        fake = self.fake(real)
        matching = (self.masked_feature_mean(real, weight)
                    - self.masked_feature_mean(fake, weight)).pow(2).sum()
        mse = self.global_mean(((fake - real).pow(2) * weight).sum(), weight.sum() * D)
        spread = fake.pow(2).mean()  # a plain mean over equal slices needs no helper
        return {"loss": matching + mse + 0.1 * spread, "mse": mse.detach()}

    def features_step(self, batch: dict[str, torch.Tensor]) -> dict[str, Any]:
        real, weight = batch["x"], batch["mask"].float()[..., None]
        fake = self.fake(real).detach()
        gap = (self.masked_feature_mean(real, weight)
               - self.masked_feature_mean(fake, weight)).pow(2).sum()
        train = float(gap.detach()) < GAP_LIMIT  # the same global value on every process
        return {"loss": -gap if train else None, "gap": gap.detach()}


class SplitDecision(ToyTrainer):
    """Decides to skip from a local value: rank 0 updates, rank 1 does not."""

    def features_step(self, batch: dict[str, torch.Tensor]) -> dict[str, Any]:
        loss = self.model.features(batch["x"]).pow(2).mean()
        return {"loss": loss if self.context.rank == 0 else None}


class WGANTrainer(Trainer):
    """WGAN-GP as MuseGAN trains (its critic without batch norm): ``N_CRITIC`` critic
    updates, then one generator update, each side with its own Adam."""

    validation_target = None

    def configure_optimizers(self) -> dict[str, torch.optim.Optimizer]:
        adam = {"lr": 0.01, "betas": (0.5, 0.9)}
        return {"critic": torch.optim.Adam(self.model.features.parameters(), **adam),
                "generator": torch.optim.Adam(self.model.generator.parameters(), **adam)}

    def phases(self) -> list[Phase]:
        return [Phase("wgan", None, (Update("critic_step", "critic", repeat=N_CRITIC),
                                     Update("generator_step", "generator")))]

    def fake(self, real: torch.Tensor) -> torch.Tensor:
        noise = self.local_rows(torch.randn(len(real) * self.context.world_size, T, Z,
                                            generator=self.rng, device=self.device))
        return self.model.generator(noise)

    def critic(self, x: torch.Tensor) -> torch.Tensor:
        return self.model.features(x).sum((1, 2))

    def critic_step(self, batch: dict[str, torch.Tensor]) -> dict[str, Any]:
        real = batch["x"]
        fake = self.fake(real).detach()
        loss = discriminator_loss("wasserstein", self.critic(real), self.critic(fake),
                                  mean=self.average)
        weights = self.local_rows(torch.rand(len(real) * self.context.world_size,
                                             generator=self.rng, device=self.device))
        gp = self.average(gradient_penalty(self.critic, real, fake, weights=weights)[None])
        return {"loss": loss + 10 * gp, "gp": gp.detach()}

    def generator_step(self, batch: dict[str, torch.Tensor]) -> torch.Tensor:
        return generator_loss("wasserstein", self.critic(self.fake(batch["x"])),
                              mean=self.average)


def global_batches() -> list[dict[str, torch.Tensor]]:
    """One global batch per update, real lengths drawn per item (so the ranks' counts of
    real steps differ)."""
    g = torch.Generator().manual_seed(3)
    batches = []
    for _ in range(2 * ROUNDS):
        lengths = torch.randint(1, T + 1, (B * WORLD,), generator=g)
        batches.append({"x": torch.randn(B * WORLD, T, D, generator=g),
                        "mask": torch.arange(T) < lengths[:, None]})
    return batches


def rank_slice(batch: dict[str, torch.Tensor], rank: int) -> dict[str, torch.Tensor]:
    return {k: v[rank * B:(rank + 1) * B] for k, v in batch.items()}


def toy_trainer(context: Context, cls: type[Trainer] = ToyTrainer) -> Trainer:
    torch.manual_seed(0)  # the same initial weights on every process
    trainer = cls(ToyGAN(), ToyConfig(), seed=7)
    trainer.context = context
    return trainer


def run(trainer: Trainer, data: list[dict[str, torch.Tensor]]) -> dict[str, Any]:
    logs: list[UpdateLog] = []
    trainer.fit(data, logs.append, rounds=ROUNDS)
    return {"params": {k: v.detach().clone() for k, v in trainer.model.state_dict().items()},
            "losses": [log.loss for log in logs]}


def worker(rank: int, folder: str) -> None:
    torch.set_num_threads(1)
    dist.init_process_group("gloo", init_method=f"file://{folder}/rendezvous", rank=rank,
                            world_size=WORLD, timeout=timedelta(seconds=30))
    try:
        context = Context(rank, WORLD)
        trainer = toy_trainer(context)
        trainer.sync_gradients = distributed.average_gradients
        result = run(trainer, [rank_slice(b, rank) for b in global_batches()])
        wgan = toy_trainer(context, WGANTrainer)
        wgan.sync_gradients = distributed.average_gradients
        result["wgan"] = run(wgan, [rank_slice(b, rank) for b in global_batches()])
        result["rows"] = trainer.global_rows(rank_slice(global_batches()[0], rank)["x"])
        uneven = torch.Generator().manual_seed(5)
        result["uneven"] = trainer.draw_rows(
            lambda n: torch.rand(n, 2, generator=uneven), UNEVEN[rank])
        split = toy_trainer(context, SplitDecision)
        split.sync_gradients = distributed.average_gradients
        try:
            split.apply(Update("features_step", "features"), rank_slice(global_batches()[0],
                                                                          rank))
        except DeepsymError as error:
            result["split_error"] = str(error)
        torch.save(result, Path(folder) / f"rank{rank}.pt")
    finally:
        dist.destroy_process_group()
        gc.collect()  # as distributed.stop: a group left to the interpreter's exit can abort


@pytest.fixture(scope="module")
def two_processes(tmp_path_factory: pytest.TempPathFactory) -> list[dict[str, Any]]:
    folder = tmp_path_factory.mktemp("gloo")
    mp.spawn(worker, args=(str(folder),), nprocs=WORLD, join=True)
    return [torch.load(folder / f"rank{r}.pt") for r in range(WORLD)]


def test_ranks_count_different_real_steps():
    """The data makes masked means over a rank's slice differ from the global ones."""
    for batch in global_batches():
        counts = [int(rank_slice(batch, r)["mask"].sum()) for r in range(WORLD)]
        assert counts[0] != counts[1]


def test_two_gloo_processes_match_one_process_with_the_combined_batch(two_processes):
    one = run(toy_trainer(Context()), global_batches())
    skipped = [loss is None for loss in one["losses"]]
    assert len(set(skipped[1::2])) == 2  # the feature step's decision goes both ways
    for result in two_processes:
        assert [loss is None for loss in result["losses"]] == skipped
        for a, b in zip(result["losses"], one["losses"], strict=True):
            assert a == b or a == pytest.approx(b, rel=1e-5, abs=1e-6)
        for name, value in one["params"].items():
            assert torch.allclose(result["params"][name], value, rtol=1e-5, atol=1e-6), name
    assert not torch.equal(one["params"]["generator.weight"],
                           toy_trainer(Context()).model.generator.weight)  # it trained


def test_wgan_gp_critic_steps_match_one_process_with_the_combined_batch(two_processes):
    one = run(toy_trainer(Context(), WGANTrainer), global_batches())
    assert len(one["losses"]) == ROUNDS * (N_CRITIC + 1)
    start = toy_trainer(Context(), WGANTrainer).model.state_dict()
    assert all(not torch.equal(start[name], value) for name, value in one["params"].items())
    for result in two_processes:
        wgan = result["wgan"]
        assert wgan["losses"] == pytest.approx(one["losses"], rel=1e-5, abs=1e-6)
        for name, value in one["params"].items():
            # float32 sums in another order (two halves all-reduced): the last bits differ
            assert torch.allclose(wgan["params"][name], value, rtol=1e-5, atol=1e-6), name
    assert torch.equal(two_processes[0]["wgan"]["params"]["features.0.weight"],
                       two_processes[1]["wgan"]["params"]["features.0.weight"])


def test_global_rows_are_the_combined_batch_on_every_process(two_processes):
    for result in two_processes:
        assert torch.equal(result["rows"], global_batches()[0]["x"])


def test_draws_for_uneven_rows_are_the_combined_batchs_draw(two_processes):
    one = toy_trainer(Context()).draw_rows(
        lambda n: torch.rand(n, 2, generator=torch.Generator().manual_seed(5)), sum(UNEVEN))
    assert one.shape == (sum(UNEVEN), 2)
    assert torch.equal(torch.cat([r["uneven"] for r in two_processes]), one)


def test_processes_that_disagree_on_skipping_raise_instead_of_deadlocking(two_processes):
    for result in two_processes:
        assert "features_step returned a loss on 1 of 2 processes" in result["split_error"]


def test_with_one_process_the_helpers_are_identities():
    trainer = toy_trainer(Context())
    x = torch.randn(4, 3, requires_grad=True)
    assert trainer.global_sum(x) is x
    assert distributed.global_sum(x) is x  # no process group
    assert trainer.local_rows(x) is x
    assert trainer.global_rows(x) is x
    total, count = x.sum(0), torch.tensor(4)
    assert torch.equal(trainer.global_mean(total, count), total / 4)
    assert torch.equal(trainer.global_mean(total, 4), total / 4)
    trainer.global_mean(total, count).sum().backward()
    assert torch.equal(x.grad, torch.full((4, 3), 0.25))


def test_local_rows_are_the_ranks_items_of_the_global_batch():
    rows = torch.arange(12).reshape(6, 2)
    parts = [distributed.local_rows(rows, Context(r, 3)) for r in range(3)]
    assert torch.equal(torch.cat(parts), rows)
    assert torch.equal(parts[1], rows[2:4])
    with pytest.raises(DeepsymError, match="not a multiple of the 4 processes"):
        distributed.local_rows(rows, Context(0, 4))
    with pytest.raises(DeepsymError, match="not a multiple"):
        distributed.local_rows(torch.tensor(1.0), Context())


def test_global_mean_keeps_float32_counts_under_low_precision():
    trainer = toy_trainer(Context())
    total = torch.tensor([256.0], dtype=torch.bfloat16)
    mean = trainer.global_mean(total, 257)  # 257 is 256 in bfloat16
    assert mean.dtype == torch.float32 and mean.item() == pytest.approx(256 / 257, rel=1e-7)
