"""Training throughput through deepsym's engine vs a minimal hand-written PyTorch loop
(issue 6, part 6), in the same run.

The model: token embedding (64), ``torch.nn.LSTM(64, 256, num_layers=2)``, a linear head
and next-token cross-entropy, on batches of 16 windows of 128 + 1 ``events`` tokens of the
real test corpus. ``deepsym engine`` runs ``deepsym.training.engine.train`` (everything
on: the seeded batch order, NaN guard with its gradient norm, LR scheduler, a CSV row every
2 steps; no validation, no checkpoint but the final one, no TensorBoard, no progress bar).
``hand-written`` is the loop a user would write: the same model initialisation (same
seed), the same batches (same dataset, same order, a plain DataLoader), the same Adam;
``zero_grad``, loss, ``backward``, ``step``, ``loss.item()``. Both end with the same
weights (checked bit for bit), so they do the same work.

Both run on one torch thread (two threads on a shared 2-core machine mostly time the
neighbours) and call the same loss function, which records a timestamp; steps/s is measured
between consecutive steps of a run (setup and the final checkpoint excluded), so what
differs is only what the engine does between steps. One benchmark round trains one run
of each (alternating which goes first; a warm-up round comes first and is not counted);
``overhead`` compares the medians (and the best intervals) of the per-step times.
``bench-lstm-tiny`` (1x8 LSTM, 4 x 16 tokens, 60 steps) measures the engine's own
per-step cost in milliseconds, which on a shared, loaded machine is steadier than the
percentage on the large model.
Results: bench/results/training.json.
"""
from __future__ import annotations

import os
import platform
import shutil
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

import midibench
import numpy as np
import pytest
import torch
from music21_corpus import real_midi_files
from torch import nn
from torch.nn import functional as F

from deepsym.data import build_corpus
from deepsym.data.loaders import SequenceDataset, collate
from deepsym.hookspecs import hookimpl
from deepsym.modeling import ModelSpec, to_dict
from deepsym.plugins import manager
from deepsym.training import Phase, Trainer, Update
from deepsym.training.checkpoint import load_checkpoint
from deepsym.training.distributed import Context, epoch_order, shard
from deepsym.training.engine import Budget, train

RESULTS_PATH = midibench.BENCH_DIR / "results" / "training.json"
ROUNDS, SEED = 4, 0  # an even number: each side goes first equally often
STAMPS: list[float] = []  # perf_counter at every loss computation of the current run
RESULTS: dict[str, dict] = {}


@dataclass(frozen=True)
class BenchConfig:
    vocab_size: int = 388
    embedding: int = 64
    hidden: int = 256
    layers: int = 2
    sequence_length: int = 128
    batch_size: int = 16
    learning_rate: float = 1e-3


@dataclass(frozen=True)
class TinyBenchConfig(BenchConfig):
    """A model so small that the step is mostly the engine's own work between steps."""

    embedding: int = 8
    hidden: int = 8
    layers: int = 1
    sequence_length: int = 16
    batch_size: int = 4


MODELS = {"bench-lstm": (BenchConfig, 6), "bench-lstm-tiny": (TinyBenchConfig, 60)}  # steps


class BenchLSTM(nn.Module):
    def __init__(self, config: BenchConfig) -> None:
        super().__init__()
        self.embed = nn.Embedding(config.vocab_size, config.embedding)
        self.lstm = nn.LSTM(config.embedding, config.hidden, config.layers, batch_first=True)
        self.head = nn.Linear(config.hidden, config.vocab_size)

    def forward(self, tokens: torch.Tensor) -> torch.Tensor:
        out, _ = self.lstm(self.embed(tokens))
        return self.head(out)


def next_token_loss(model: nn.Module, batch: dict[str, torch.Tensor]) -> torch.Tensor:
    STAMPS.append(time.perf_counter())
    x = batch["x"]
    targets = x[:, 1:].masked_fill(~batch["mask"][:, 1:], -100)
    logits = model(x[:, :-1])
    return F.cross_entropy(logits.reshape(-1, logits.shape[-1]), targets.reshape(-1))


class BenchTrainer(Trainer):
    def phases(self) -> list[Phase]:
        return [Phase("mle", None, (Update("mle_step", "model"),))]

    def mle_step(self, batch: dict[str, torch.Tensor]) -> torch.Tensor:
        return next_token_loss(self.model, batch)


class BenchPlugin:
    @hookimpl
    def register_models(self, register):
        for name, (config, _) in MODELS.items():
            register(ModelSpec(name, config, BenchLSTM, BenchTrainer,
                               "deepsym.sampling:Sampler", "events"))


@pytest.fixture(scope="module")
def corpus() -> Path:
    folder = Path(tempfile.mkdtemp(prefix="deepsym-bench-training-"))
    build_corpus(sorted(set(real_midi_files())), folder / "corpus", workers=2)
    manager().register(BenchPlugin(), "bench-training")
    threads = torch.get_num_threads()
    torch.set_num_threads(1)  # on a shared 2-core machine two threads time the neighbours
    try:
        yield folder / "corpus"
    finally:
        torch.set_num_threads(threads)
        manager().unregister("bench-training")
        shutil.rmtree(folder, ignore_errors=True)
    if RESULTS:
        midibench.write_json_atomic(
            {"python": platform.python_version(), "torch": torch.__version__,
             "machine": f"{platform.system()} {platform.machine()}, {os.cpu_count()} CPUs",
             "torch_threads": 1, "rounds": ROUNDS,
             "models": {name: {**to_dict(config()), "steps_per_run": steps}
                        for name, (config, steps) in MODELS.items()},
             "results": RESULTS}, RESULTS_PATH)


def engine_run(corpus: Path, out: Path, model: str) -> dict[str, torch.Tensor]:
    train(model, corpus, out, budget=Budget(steps=MODELS[model][1]), seed=SEED,
          settings={"valid_every": 0, "checkpoint_every": 10**6, "log_every": 2}, tensorboard=False)
    return load_checkpoint(out / "checkpoints" / "last.pt")["trainer"]["model"]


def hand_run(corpus: Path, model_name: str) -> dict[str, torch.Tensor]:
    config_class, steps = MODELS[model_name]
    config = config_class()
    torch.manual_seed(SEED)
    model = BenchLSTM(config)
    optimizer = torch.optim.Adam(model.parameters(), lr=config.learning_rate)
    data = SequenceDataset(corpus, "events", "train", config.sequence_length + 1, seed=SEED)
    batches = shard(epoch_order(SEED, 0, len(data)), config.batch_size, Context())[:steps]
    loader = torch.utils.data.DataLoader(data, batch_sampler=batches, collate_fn=collate)
    model.train()
    for batch in loader:
        optimizer.zero_grad(set_to_none=True)
        loss = next_token_loss(model, batch)
        loss.backward()
        optimizer.step()
        loss.item()
    return model.state_dict()


def step_times() -> list[float]:
    """Seconds between consecutive steps of the run just finished."""
    times = np.diff(STAMPS).tolist()
    STAMPS.clear()
    return times


@pytest.mark.benchmark(group="training steps/s")
@pytest.mark.parametrize("model", list(MODELS))
def test_engine_vs_hand_written_loop(benchmark, corpus, model):
    times: dict[str, list[float]] = {"deepsym engine": [], "hand-written": []}
    results: dict[str, dict[str, torch.Tensor]] = {}
    rounds = iter(range(-1, ROUNDS))  # round -1 warms up (first calls, allocator)
    scratch = Path(tempfile.mkdtemp(prefix="deepsym-bench-runs-"))

    def one_round() -> None:
        r = next(rounds)
        for name in (("hand-written", "deepsym engine") if r % 2 else
                     ("deepsym engine", "hand-written")):
            STAMPS.clear()
            if name == "hand-written":
                weights = hand_run(corpus, model)
            else:
                weights = engine_run(corpus, scratch / f"run{r}", model)
            if r >= 0:
                times[name].extend(step_times())
            results.setdefault(name, weights)

    try:
        benchmark.pedantic(one_round, rounds=ROUNDS, iterations=1, warmup_rounds=1)
    finally:
        shutil.rmtree(scratch, ignore_errors=True)
    engine, hand = results["deepsym engine"], results["hand-written"]
    assert all(torch.equal(engine[k], hand[k]) for k in hand)  # the same training
    median = {name: float(np.median(t)) for name, t in times.items()}
    best = {name: float(np.min(t)) for name, t in times.items()}
    report: dict[str, dict] = {
        name: {"steps_per_s_median": 1 / median[name], "steps_per_s_best": 1 / best[name],
               "intervals": len(t)} for name, t in times.items()}
    report["overhead"] = {
        "ms_per_step_median": 1e3 * (median["deepsym engine"] - median["hand-written"]),
        "median_percent": 100 * (median["deepsym engine"] / median["hand-written"] - 1),
        "best_percent": 100 * (best["deepsym engine"] / best["hand-written"] - 1),
        "target_percent": 5}
    benchmark.extra_info.update(report)
    RESULTS[model] = report
