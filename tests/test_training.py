"""The training engine on real data (a corpus of real MIDI files, ``events`` tokens):
exact resume after a kill, DDP equivalence under torchrun, the NaN guard, validation and
early stopping, schedules, clipping, logs, checkpoints and device choice.

The model is a tiny LSTM defined here and registered as a throwaway plugin, so these
tests depend only on the Trainer interface. Subprocess runs import this module to get it.
"""
from __future__ import annotations

import csv
import hashlib
import json
import math
import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass, replace
from pathlib import Path

import numpy as np
import pytest
import torch
from music21_corpus import real_midi_files
from torch import nn
from torch.nn import functional as F

from deepsym.cli import main
from deepsym.data import Corpus, build_corpus
from deepsym.data.loaders import SequenceDataset, collate
from deepsym.errors import CheckpointError, ConfigError, DeepsymError
from deepsym.hookspecs import hookimpl
from deepsym.modeling import ModelSpec, check_config_class
from deepsym.plugins import manager
from deepsym.representations.events import vocab_size
from deepsym.training import Phase, Trainer, TrainOptions, Update
from deepsym.training import distributed as dist_tools
from deepsym.training.checkpoint import (
    load_checkpoint,
    load_trained,
    save_checkpoint,
)
from deepsym.training.engine import Budget, choose_device, train
from deepsym.training.options import build_optimizer, options_for

TESTS = Path(__file__).resolve().parent
PLUGIN = "tiny-training"
DELAY = "DEEPSYM_TEST_STEP_DELAY"  # seconds each step sleeps (to kill a run mid-way)


# -- the model under training -------------------------------------------------------------


@dataclass(frozen=True)
class TinyConfig:
    vocab_size: int = vocab_size()
    embedding: int = 16
    hidden: int = 32
    dropout: float = 0.1
    sequence_length: int = 32
    batch_size: int = 4
    learning_rate: float = 0.01
    poison: tuple[int, ...] = ()  # rounds whose input gets a bad value (NaN-guard tests)
    poison_value: str = "nan"  # "nan": the loss is nan; "inf": only the gradient is


class TinyLSTM(nn.Module):
    def __init__(self, config: TinyConfig) -> None:
        super().__init__()
        self.embed = nn.Embedding(config.vocab_size, config.embedding)
        self.lstm = nn.LSTM(config.embedding, config.hidden, batch_first=True)
        self.drop = nn.Dropout(config.dropout)
        self.head = nn.Linear(config.hidden, config.vocab_size)

    def forward(self, tokens: torch.Tensor, poison: str | None = None) -> torch.Tensor:
        x = self.embed(tokens)
        if poison is not None:  # one bad input feature (first sequence, first step)
            x = x.index_put((torch.tensor([0]),) * 3, torch.tensor(float(poison)))
        out, _ = self.lstm(x)
        return self.head(self.drop(out))


class TinyTrainer(Trainer):
    """Next-token cross-entropy over the real steps (padding ignored)."""

    def phases(self) -> list[Phase]:
        return [Phase("mle", None, (Update("mle_step", "model"),))]

    def mle_step(self, batch: dict[str, torch.Tensor]) -> torch.Tensor:
        if os.environ.get(DELAY):
            time.sleep(float(os.environ[DELAY]))
        x = batch["x"]
        targets = x[:, 1:].masked_fill(~batch["mask"][:, 1:], -100)
        poison = self.config.poison_value if self.phase_step in self.config.poison else None
        logits = self.model(x[:, :-1], poison)
        return F.cross_entropy(logits.reshape(-1, logits.shape[-1]), targets.reshape(-1))


class PenalizedTrainer(TinyTrainer):
    """Validation loss rising by 1 per step: early stopping must trigger."""

    def validation_loss(self, batch: dict[str, torch.Tensor]) -> torch.Tensor:
        return self.mle_step(batch) + self.phase_step


class ShortTrainer(TinyTrainer):
    def phases(self) -> list[Phase]:
        return [Phase("mle", 3, (Update("mle_step", "model"),))]


class TinyPlugin:
    @hookimpl
    def register_models(self, register):
        for name, trainer, representation in [("tiny-lstm", TinyTrainer, "events"),
                                              ("tiny-penalized", PenalizedTrainer, "events"),
                                              ("tiny-short", ShortTrainer, "events"),
                                              ("tiny-text", TinyTrainer, "text")]:
            register(ModelSpec(name, TinyConfig, TinyLSTM, trainer,
                               "deepsym.sampling:Sampler", representation))


def register_tiny() -> None:
    if PLUGIN not in manager().plugins:
        manager().register(TinyPlugin(), PLUGIN)


@pytest.fixture(scope="module", autouse=True)
def tiny_plugin() -> Iterator[None]:
    register_tiny()
    try:
        yield
    finally:
        manager().unregister(PLUGIN)


@pytest.fixture(scope="module")
def corpus(tmp_path_factory) -> Path:
    """60 real pieces (Bach chorales and folk tunes), 70/20/10 split."""
    files = real_midi_files()
    path = tmp_path_factory.mktemp("corpus") / "c"
    build_corpus(files[:40] + files[-20:], path, workers=1, fractions=(0.7, 0.2, 0.1))
    return path


RUNNER = """
import sys
sys.path.insert(0, {tests!r})
import torch
torch.set_num_threads(1)
import test_training
test_training.register_tiny()
from deepsym.cli import main
sys.exit(main(sys.argv[1:]))
"""


@pytest.fixture(scope="module")
def runner(tmp_path_factory) -> Path:
    """A script running ``deepsym`` with the tiny models registered."""
    path = tmp_path_factory.mktemp("runner") / "run_deepsym.py"
    path.write_text(RUNNER.format(tests=str(TESTS)))
    return path


def deepsym(runner: Path, *args: str, env: dict[str, str] | None = None,
            **popen) -> subprocess.Popen:
    return subprocess.Popen([sys.executable, str(runner), *map(str, args)],
                            env={**os.environ, **(env or {})}, stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True, **popen)


def weights(run: Path) -> dict[str, torch.Tensor]:
    return load_checkpoint(run / "checkpoints" / "last.pt")["trainer"]["model"]


def read_log(run: Path) -> list[dict[str, str]]:
    with (run / "log.csv").open(newline="") as f:
        return list(csv.DictReader(f))


def quiet_train(model: str, corpus: Path, out: Path, **kwargs) -> object:
    kwargs.setdefault("tensorboard", False)
    return train(model, corpus, out, **kwargs)


# -- resume and DDP (subprocesses) --------------------------------------------------------


def test_a_killed_run_resumes_to_the_same_weights_as_an_uninterrupted_one(corpus, runner,
                                                                          tmp_path):
    args = ["train", "tiny-lstm", "--corpus", corpus, "--steps", 30, "--batch-size", 4,
            "--valid-every", 5, "--seed", 3, "--set", "checkpoint_every=5",
            "--set", "log_every=5"]
    straight = deepsym(runner, *args, "--out", tmp_path / "straight")
    killed = deepsym(runner, *args, "--out", tmp_path / "killed", env={DELAY: "0.1"})
    last = tmp_path / "killed" / "checkpoints" / "last.pt"
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline and killed.poll() is None:
        if last.is_file() and load_checkpoint(last)["step"] >= 10:
            break
        time.sleep(0.05)
    killed.send_signal(signal.SIGKILL)
    killed.wait()
    assert killed.returncode == -signal.SIGKILL, killed.stderr.read()
    at_kill = load_checkpoint(last)["step"]
    assert 10 <= at_kill < 30, at_kill  # killed mid-way
    resumed = deepsym(runner, "train", "--resume", tmp_path / "killed")
    assert resumed.wait(timeout=300) == 0, resumed.stderr.read()
    assert straight.wait(timeout=300) == 0, straight.stderr.read()
    assert "trained 30 steps (stopped: steps)" in resumed.stdout.read()

    a, b = weights(tmp_path / "straight"), weights(tmp_path / "killed")
    assert a.keys() == b.keys()
    for name in a:
        assert torch.equal(a[name], b[name]), name
    first = load_checkpoint(tmp_path / "straight" / "checkpoints" / "last.pt")
    again = load_checkpoint(last)
    assert first["step"] == again["step"] == 30
    adam_a, adam_b = (c["trainer"]["optimizers"]["model"]["state"] for c in (first, again))
    for key in adam_a:
        for field in ("exp_avg", "exp_avg_sq", "step"):
            assert torch.equal(adam_a[key][field], adam_b[key][field])
    # the resumed log continues the killed one: every step once, same numbers
    rows_a, rows_b = read_log(tmp_path / "straight"), read_log(tmp_path / "killed")
    assert [r["step"] for r in rows_b] == [str(s) for s in range(5, 31, 5)]
    for ra, rb in zip(rows_a, rows_b, strict=True):
        assert ra["mle_step_loss"] == rb["mle_step_loss"]
        assert ra["valid_loss"] == rb["valid_loss"]
    assert first["early_stopping"] == again["early_stopping"]


def test_two_gloo_processes_match_one_process_with_the_combined_batch(corpus, runner,
                                                                      tmp_path):
    common = ["--corpus", corpus, "--steps", 6, "--valid-every", 3, "--seed", 1,
              "--set", "dropout=0", "--set", "optimizer=sgd", "--set", "learning_rate=0.5",
              "--set", "log_every=1"]
    env = {"OMP_NUM_THREADS": "1"}
    ddp = subprocess.run(
        [sys.executable, "-m", "torch.distributed.run", "--nproc_per_node=2", "--standalone",
         str(runner), "train", "tiny-lstm", *map(str, common), "--batch-size", "4",
         "--out", str(tmp_path / "ddp")],
        env={**os.environ, **env}, capture_output=True, text=True, timeout=240, check=False)
    assert ddp.returncode == 0, ddp.stderr[-3000:]
    assert ddp.stdout.count("trained 6 steps") == 1  # only rank 0 reports
    one = deepsym(runner, "train", "tiny-lstm", *common, "--batch-size", 8, "--out",
                  tmp_path / "one", env=env)
    assert one.wait(timeout=240) == 0, one.stderr.read()

    a, b = weights(tmp_path / "ddp"), weights(tmp_path / "one")
    for name in a:
        # the same math; only the order of summing the gradients differs (two partial
        # means averaged by all-reduce vs one mean over 8 sequences), so float32
        # rounding may differ in the last bits
        assert torch.allclose(a[name], b[name], rtol=1e-5, atol=1e-6), name
    ddp_log, one_log = read_log(tmp_path / "ddp"), read_log(tmp_path / "one")
    assert [r["step"] for r in ddp_log] == [str(s) for s in range(1, 7)]
    for ra, rb in zip(ddp_log, one_log, strict=True):
        assert float(ra["mle_step_loss"]) == pytest.approx(float(rb["mle_step_loss"]),
                                                           rel=1e-5)
        if rb["valid_loss"]:
            assert float(ra["valid_loss"]) == pytest.approx(float(rb["valid_loss"]),
                                                            rel=1e-5)
    assert [r["valid_loss"] != "" for r in ddp_log] == [False, False, True] * 2


def test_the_equivalence_rests_on_batches_of_full_windows(corpus):
    """Per-process means average to the combined mean only if every sequence has the
    same number of real steps; the DDP test's data satisfies that."""
    data = SequenceDataset(corpus, "events", "train", TinyConfig().sequence_length + 1)
    assert all(len(data[i]["x"]) == TinyConfig().sequence_length + 1
               for i in range(len(data)))


def test_shards_of_all_ranks_make_the_combined_batches():
    order = dist_tools.epoch_order(seed=5, epoch=2, n=23)
    assert sorted(order.tolist()) == list(range(23))
    one = dist_tools.shard(order, 6, dist_tools.Context(0, 1))
    parts = [dist_tools.shard(order, 3, dist_tools.Context(r, 2)) for r in range(2)]
    assert len(one) == 3 and all(len(p) == 3 for p in parts)  # 23 // 6, last part dropped
    for i, batch in enumerate(one):
        assert batch == parts[0][i] + parts[1][i]
    assert not np.array_equal(order, dist_tools.epoch_order(seed=5, epoch=3, n=23))


# -- the NaN guard -------------------------------------------------------------------------


def batches(corpus: Path, config: TinyConfig, seed: int = 0) -> Iterator[dict]:
    data = SequenceDataset(corpus, "events", "train", config.sequence_length + 1, seed=seed)
    while True:
        for i in range(0, len(data) - config.batch_size + 1, config.batch_size):
            yield collate([data[j] for j in range(i, i + config.batch_size)])


def tiny_trainer(config: TinyConfig, cls: type[Trainer] = TinyTrainer, **options
                 ) -> Trainer:
    torch.manual_seed(0)
    return cls(TinyLSTM(config), config, options=options_for(config, options))


def snapshot(trainer: Trainer) -> dict[str, torch.Tensor]:
    return {k: v.clone() for k, v in trainer.model.state_dict().items()}


def test_a_non_finite_step_is_skipped_with_a_warning_and_changes_nothing(corpus):
    config = TinyConfig(poison=(2,))
    trainer = tiny_trainer(config)
    warned: list[str] = []
    trainer.warn = warned.append
    phases, data = trainer.phases(), batches(corpus, config)
    for i in range(4):
        before = snapshot(trainer)
        steps_before = {id(p): s["step"].item() for p, s in
                        trainer.optimizers["model"].state.items()}
        [log] = trainer.run_round(phases, data.__next__)
        after = snapshot(trainer)
        unchanged = all(torch.equal(before[k], after[k]) for k in before)
        if i == 2:
            assert not log.finite and math.isnan(log.loss)
            assert unchanged
            assert {id(p): s["step"].item() for p, s in
                    trainer.optimizers["model"].state.items()} == steps_before
        else:
            assert log.finite and math.isfinite(log.loss) and not unchanged
    assert warned == ["step 3 of phase 'mle' (mle_step): loss is nan; update skipped, "
                      "weights unchanged"]
    assert trainer.bad_steps == 0  # the streak ended with the next good step


def test_repeated_non_finite_steps_stop_the_run_with_a_clear_error(corpus, tmp_path, capsys):
    # an inf in the input: the loss stays finite here, the gradient does not
    with pytest.raises(DeepsymError, match=r"training stopped: 4 updates in a row had a "
                                           r"non-finite loss or gradient \(the last at "
                                           r"step 7 of phase 'mle' \(mle_step\): gradient norm "
                                           r"is nan\)"):
        quiet_train("tiny-lstm", corpus, tmp_path / "run", budget=Budget(steps=20),
                    settings={"poison": list(range(3, 20)), "poison_value": "inf",
                              "bad_step_limit": 4, "checkpoint_every": 2, "valid_every": 0})
    warnings = [line for line in capsys.readouterr().err.splitlines() if "warning" in line]
    assert len(warnings) == 3
    assert warnings[0] == ("deepsym: warning: step 4 of phase 'mle' (mle_step): gradient "
                           "norm is nan; update skipped, weights unchanged")
    # the checkpoint of step 6 holds the weights of step 3: the bad steps changed nothing
    assert load_checkpoint(tmp_path / "run" / "checkpoints" / "last.pt")["step"] == 6
    quiet_train("tiny-lstm", corpus, tmp_path / "clean", budget=Budget(steps=3),
                settings={"valid_every": 0})
    clean, bad = weights(tmp_path / "clean"), weights(tmp_path / "run")
    assert all(torch.equal(clean[k], bad[k]) for k in clean)


# -- schedule, clipping, validation, logs ----------------------------------------------------


@pytest.mark.parametrize("schedule", ["cosine", "linear"])
def test_learning_rate_follows_warmup_then_the_schedule(corpus, schedule):
    config = TinyConfig(dropout=0)
    trainer = tiny_trainer(config, schedule=schedule, warmup_steps=3, final_lr_ratio=0.1)
    trainer.total_steps = 10
    phases, data = trainer.phases(), batches(corpus, config)
    seen = []
    for _ in range(12):
        seen.append(trainer.optimizers["model"].param_groups[0]["lr"])
        trainer.run_round(phases, data.__next__)

    def expected(k: int) -> float:
        if k < 3:
            return 0.01 * (k + 1) / 3
        t = min(1.0, (k - 3) / 7)
        fall = (1 + math.cos(math.pi * t)) / 2 if schedule == "cosine" else 1 - t
        return 0.01 * (0.1 + 0.9 * fall)

    assert seen == pytest.approx([expected(k) for k in range(12)], rel=1e-12)
    assert seen[-1] == pytest.approx(0.001)


def test_gradient_clipping_bounds_the_global_norm(corpus):
    config = TinyConfig(dropout=0)
    trainer = tiny_trainer(config, grad_clip=0.05)
    phases, data = trainer.phases(), batches(corpus, config)
    for _ in range(3):
        [log] = trainer.run_round(phases, data.__next__)
        grads = [p.grad for p in trainer.model.parameters()]
        clipped = torch.linalg.vector_norm(torch.stack([g.norm() for g in grads]))
        assert log.grad_norm > 0.05  # clipping was needed ...
        assert float(clipped) == pytest.approx(0.05, rel=1e-4)  # ... and done
    free = tiny_trainer(config)
    [log] = free.run_round(free.phases(), batches(corpus, config).__next__)
    norm = torch.linalg.vector_norm(torch.stack([p.grad.norm()
                                                 for p in free.model.parameters()]))
    assert float(norm) == pytest.approx(log.grad_norm, rel=1e-5) and log.grad_norm > 0.05


def test_validation_loss_early_stopping_and_the_best_checkpoint(corpus, tmp_path):
    result = quiet_train("tiny-penalized", corpus, tmp_path / "run", budget=Budget(steps=50),
                         settings={"valid_every": 2, "patience": 2, "dropout": 0,
                                   "valid_batches": 2})
    assert (result.step, result.stopped) == (6, "early stopping")
    rows = {int(r["step"]): r for r in read_log(tmp_path / "run")}
    valid = {s: float(r["valid_loss"]) for s, r in rows.items() if r["valid_loss"]}
    assert sorted(valid) == [2, 4, 6]
    assert valid[2] < valid[4] < valid[6]
    best = load_checkpoint(tmp_path / "run" / "checkpoints" / "best.pt")
    assert best["step"] == 2 and best["early_stopping"]["best"] == pytest.approx(valid[2])
    assert result.best_valid_loss == pytest.approx(valid[2], rel=1e-6)
    # the validation loss recomputed by hand from the best weights: the first two batches
    # of 4 valid pieces, read from their starts, mean over the items (+ 2, the penalty)
    trained = load_trained(tmp_path / "run")
    assert trained.step == 2 and trained.path.name == "best.pt"
    data = SequenceDataset(corpus, "events", "valid", 33, random_crop=False)
    losses = []
    with torch.no_grad():
        for i in (0, 4):
            batch = collate([data[j] for j in range(i, i + 4)])
            x = batch["x"]
            logits = trained.model(x[:, :-1])
            losses.append(F.cross_entropy(logits.reshape(-1, logits.shape[-1]),
                                          x[:, 1:].reshape(-1)).item())
    assert valid[2] == pytest.approx(np.mean(losses) + 2, rel=1e-5)


def test_the_log_has_a_row_every_log_every_steps_and_at_validations(corpus, tmp_path):
    result = quiet_train("tiny-lstm", corpus, tmp_path / "run", budget=Budget(steps=12),
                         settings={"log_every": 5, "valid_every": 4, "dropout": 0})
    assert result.stopped == "steps" and result.step == 12
    with (tmp_path / "run" / "log.csv").open() as f:
        header = f.readline().strip()
    assert header == ("step,epoch,phase,elapsed_s,steps_per_s,mle_step_loss,model_lr,"
                      "grad_norm,valid_loss,skipped")
    rows = read_log(tmp_path / "run")
    assert [int(r["step"]) for r in rows] == [4, 5, 8, 10, 12]
    assert [bool(r["valid_loss"]) for r in rows] == [True, False, True, False, True]
    batches_per_epoch = len(SequenceDataset(corpus, "events", "train")) // 4
    for r in rows:
        assert float(r["epoch"]) == pytest.approx(int(r["step"]) / batches_per_epoch, abs=1e-4)
        assert float(r["steps_per_s"]) > 0 and float(r["grad_norm"]) > 0
        assert float(r["model_lr"]) == 0.01 and r["skipped"] == "0" and r["phase"] == "mle"
        assert 0 < float(r["mle_step_loss"]) < math.log(vocab_size()) + 0.5
    assert float(rows[-1]["mle_step_loss"]) < float(rows[0]["mle_step_loss"])  # it learns
    assert result.train_loss == pytest.approx(float(rows[-1]["mle_step_loss"]), rel=1e-5)


def test_tensorboard_gets_the_scalars_or_a_note_when_missing(corpus, tmp_path, monkeypatch,
                                                             capsys):
    quiet_train("tiny-lstm", corpus, tmp_path / "tb", budget=Budget(steps=2),
                settings={"log_every": 1, "valid_every": 0}, tensorboard=True)
    assert list((tmp_path / "tb" / "tensorboard").glob("events.out.tfevents.*"))
    monkeypatch.setitem(sys.modules, "torch.utils.tensorboard", None)
    quiet_train("tiny-lstm", corpus, tmp_path / "none", budget=Budget(steps=2),
                settings={"log_every": 1, "valid_every": 0}, tensorboard=True)
    assert "TensorBoard logging is off (pip install tensorboard)" in capsys.readouterr().err
    assert not (tmp_path / "none" / "tensorboard").exists()
    assert len(read_log(tmp_path / "none")) == 2


def test_budgets_epochs_and_the_end_of_the_schedule(corpus, tmp_path):
    per_epoch = len(SequenceDataset(corpus, "events", "train")) // 4
    result = quiet_train("tiny-lstm", corpus, tmp_path / "epochs", budget=Budget(epochs=2),
                         settings={"valid_every": 0})
    assert (result.step, result.stopped) == (2 * per_epoch, "epochs")
    state = load_checkpoint(tmp_path / "epochs" / "checkpoints" / "last.pt")
    assert (state["epoch"], state["batch"]) == (1, per_epoch)
    short = quiet_train("tiny-short", corpus, tmp_path / "short", budget=Budget(steps=10),
                        settings={"valid_every": 0})
    assert (short.step, short.stopped) == (3, "schedule")
    with pytest.raises(DeepsymError, match="trains until told to stop: give --steps, "
                                           "--epochs or --minutes"):
        quiet_train("tiny-lstm", corpus, tmp_path / "endless")
    with pytest.raises(DeepsymError, match="schedule 'cosine' needs the number of steps"):
        quiet_train("tiny-lstm", corpus, tmp_path / "cos", budget=Budget(minutes=1),
                    settings={"schedule": "cosine"})
    assert not (tmp_path / "endless").exists() and not (tmp_path / "cos").exists()


# -- checkpoints ---------------------------------------------------------------------------


def test_an_interrupted_checkpoint_save_leaves_the_old_one(tmp_path, monkeypatch):
    path = tmp_path / "last.pt"
    save_checkpoint(path, {"model": "m", "step": 1, "weights": torch.arange(4.0)})
    old = path.read_bytes()

    def dies_half_way(obj, f, *args, **kwargs):
        f.write(b"PK\x03\x04 half a zip")
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(torch, "save", dies_half_way)
    with pytest.raises(CheckpointError, match=rf"{path}: cannot write: No space left"):
        save_checkpoint(path, {"model": "m", "step": 2, "weights": torch.zeros(4)})
    assert path.read_bytes() == old
    assert [p.name for p in tmp_path.iterdir()] == ["last.pt"]  # no temporary file left
    assert load_checkpoint(path)["step"] == 1


def test_checkpoints_of_other_models_or_configs_and_foreign_files_are_refused(corpus,
                                                                              tmp_path):
    for name, hidden in (("a", 32), ("b", 16)):
        quiet_train("tiny-lstm", corpus, tmp_path / name, budget=Budget(steps=2),
                    settings={"hidden": hidden, "valid_every": 0})
    other = tmp_path / "b" / "checkpoints" / "last.pt"
    other.write_bytes((tmp_path / "a" / "checkpoints" / "last.pt").read_bytes())
    with pytest.raises(CheckpointError, match=rf"{other}: a checkpoint of model 'tiny-lstm' "
                                              r"with another config: config hidden is 32 "
                                              r"there, 16 here"):
        quiet_train(None, None, tmp_path / "b", resume=True, budget=Budget(steps=4))

    state = load_checkpoint(tmp_path / "a" / "checkpoints" / "last.pt")
    save_checkpoint(other, {**state, "model": "tiny-penalized"})
    with pytest.raises(CheckpointError, match="a checkpoint of model 'tiny-penalized', not "
                                              "'tiny-lstm'"):
        quiet_train(None, None, tmp_path / "b", resume=True, budget=Budget(steps=4))

    garbage = tmp_path / "garbage.pt"
    garbage.write_bytes(b"not a checkpoint at all")
    with pytest.raises(CheckpointError, match=rf"{garbage}: not a readable checkpoint"):
        load_trained(garbage)
    code = tmp_path / "code.pt"
    torch.save({"format": "deepsym-checkpoint", "hook": Budget(steps=1)}, code)
    with pytest.raises(CheckpointError, match="not a readable checkpoint"):  # no code runs
        load_checkpoint(code)
    plain = tmp_path / "plain.pt"
    torch.save({"weights": torch.zeros(2)}, plain)
    with pytest.raises(CheckpointError, match="not a deepsym checkpoint"):
        load_checkpoint(plain)
    shrunk = tmp_path / "shrunk.pt"
    state["trainer"]["model"].pop("head.bias")
    save_checkpoint(shrunk, state)
    with pytest.raises(CheckpointError, match=r"the weights do not fit the model .*head\.bias"):
        load_trained(shrunk)


def test_load_trained_rebuilds_the_model_from_its_checkpoint(corpus, tmp_path):
    quiet_train("tiny-lstm", corpus, tmp_path / "run", budget=Budget(steps=3),
                settings={"hidden": 24, "valid_every": 0})
    trained = load_trained(tmp_path / "run")
    assert trained.name == "tiny-lstm" and trained.config == TinyConfig(hidden=24)
    assert trained.step == 3 and not trained.model.training
    for key, value in weights(tmp_path / "run").items():
        assert torch.equal(trained.model.state_dict()[key], value)


def test_with_ema_validation_and_sampling_use_the_averaged_weights(corpus, tmp_path):
    run = tmp_path / "run"
    settings = {"ema": 0.9, "valid_every": 4, "valid_batches": 2, "dropout": 0}
    quiet_train("tiny-lstm", corpus, run, budget=Budget(steps=4), settings=settings)
    state = load_checkpoint(run / "checkpoints" / "best.pt")["trainer"]
    assert (state["ema"]["part"], state["ema"]["updates"]) == ("", 4)
    trained = load_trained(run)
    assert trained.path.name == "best.pt" and trained.step == 4
    for name, value in trained.model.named_parameters():
        assert torch.equal(value, state["ema"]["weights"][name])
    assert not torch.equal(state["ema"]["weights"]["head.weight"], state["model"]["head.weight"])
    # the logged validation loss, recomputed from the averaged weights sampling loads
    valid = float(read_log(run)[-1]["valid_loss"])
    data = SequenceDataset(corpus, "events", "valid", 33, random_crop=False)
    losses = []
    with torch.no_grad():
        for i in (0, 4):
            x = collate([data[j] for j in range(i, i + 4)])["x"]
            logits = trained.model(x[:, :-1])
            losses.append(F.cross_entropy(logits.reshape(-1, logits.shape[-1]),
                                          x[:, 1:].reshape(-1)).item())
    assert valid == pytest.approx(np.mean(losses), rel=1e-5)
    # resumed halfway, the average comes out as in one go
    half = tmp_path / "half"
    quiet_train("tiny-lstm", corpus, half, budget=Budget(steps=2), settings=settings)
    quiet_train(None, None, half, resume=True, budget=Budget(steps=4))
    last = load_checkpoint(run / "checkpoints" / "last.pt")["trainer"]["ema"]
    resumed = load_checkpoint(half / "checkpoints" / "last.pt")["trainer"]["ema"]
    assert resumed["updates"] == last["updates"] == 4
    for name, value in last["weights"].items():
        assert torch.equal(resumed["weights"][name], value)


def test_a_checkpoint_without_an_average_starts_one_from_its_weights(corpus, tmp_path):
    quiet_train("tiny-lstm", corpus, tmp_path / "run", budget=Budget(steps=2),
                settings={"valid_every": 0})
    state = load_checkpoint(tmp_path / "run" / "checkpoints" / "last.pt")["trainer"]
    assert state["ema"] is None
    config = TinyConfig()
    trainer = TinyTrainer(TinyLSTM(config), config, options=TrainOptions(ema=0.99))
    trainer.load_state_dict(state)
    assert trainer.ema.updates == 0
    for name, value in trainer.ema.weights.items():
        assert torch.equal(value, state["model"][name])


# -- devices -------------------------------------------------------------------------------


def test_cuda_is_chosen_when_available_and_cpu_otherwise(monkeypatch):
    monkeypatch.setattr(torch.cuda, "is_available", lambda: False)
    assert choose_device() == torch.device("cpu")
    with pytest.raises(DeepsymError, match="CUDA is not available here"):
        choose_device("cuda")
    monkeypatch.setattr(torch.cuda, "is_available", lambda: True)
    monkeypatch.setattr(torch.cuda, "device_count", lambda: 2)
    assert choose_device() == torch.device("cuda", 0)
    assert choose_device(None, dist_tools.Context(3, 4, 1)) == torch.device("cuda", 1)
    assert choose_device("cuda:1") == torch.device("cuda", 1)
    assert choose_device("cpu") == torch.device("cpu")
    with pytest.raises(DeepsymError, match="cuda:2 does not exist"):
        choose_device("cuda:2")
    with pytest.raises(DeepsymError, match="unknown device 'gpu'; use cpu, cuda"):
        choose_device("gpu")


def test_mixed_precision_only_on_cuda():
    config = TinyConfig()
    trainer = tiny_trainer(config)
    assert trainer.options.amp and trainer.scaler is None  # the CPU: full precision
    assert trainer.autocast().__class__.__name__ == "nullcontext"


def test_options_come_from_the_config_then_from_settings():
    options = options_for(TinyConfig(learning_rate=0.2), {"grad_clip": 1.5})
    assert (options.learning_rate, options.batch_size, options.grad_clip) == (0.2, 4, 1.5)
    assert replace(options, schedule="cosine").schedule == "cosine"
    with pytest.raises(ValueError, match="batch_size must be at least 1"):
        TrainOptions(batch_size=0)


@pytest.mark.parametrize("kind", ["adam", "adamw"])
def test_adams_betas_are_an_option(kind):
    """MuseGAN's Adam runs at betas (0.5, 0.9); torch's default is (0.9, 0.999)."""
    weight = torch.nn.Parameter(torch.zeros(2))
    assert build_optimizer([weight], TrainOptions(optimizer=kind)).defaults["betas"] == \
        (0.9, 0.999)
    chosen = build_optimizer([weight], TrainOptions(optimizer=kind, betas=(0.5, 0.9)))
    assert chosen.defaults["betas"] == (0.5, 0.9)
    for bad in ((0.5,), (0.5, 1.0), (-0.1, 0.9)):
        with pytest.raises(ValueError, match="betas must be two numbers"):
            TrainOptions(betas=bad)


# -- the command line ----------------------------------------------------------------------


def files_of(folder: Path) -> dict[str, tuple[bytes, int]]:
    return {str(p.relative_to(folder)): (p.read_bytes(), p.stat().st_mtime_ns)
            for p in sorted(folder.rglob("*")) if p.is_file()}


def test_train_list_shows_every_model_with_its_fields_and_the_options(capsys):
    assert main(["train", "--list"]) == 0
    out = capsys.readouterr().out
    assert "\ntiny-lstm\n  representation events; plugin tiny-training\n" in out
    assert "  hidden           int              32\n" in out
    assert "  poison           tuple[int, ...]  []\n" in out
    assert "  training option defaults: batch_size=4, learning_rate=0.01\n" in out
    assert "  optimizer         adam|adamw|sgd|rmsprop  \"adam\"\n" in out
    assert "  grad_clip         float | None            null\n" in out


def test_cli_trains_writes_the_run_config_and_extends_a_run(corpus, tmp_path, capsys):
    run = tmp_path / "run"
    assert main(["train", "tiny-lstm", "--corpus", str(corpus), "--out", str(run),
                 "--steps", "3", "--valid-every", "0", "--set", "hidden=24", "-q"]) == 0
    assert capsys.readouterr().out.startswith("trained 3 steps (stopped: steps) in ")
    record = json.loads((run / "config.json").read_text())
    index = Corpus.open(corpus).folder / "index.json"
    assert record["model"] == "tiny-lstm" and record["config"]["hidden"] == 24
    assert record["options"]["valid_every"] == 0 and record["seed"] == 0
    assert record["corpus"] == {"path": str(corpus.resolve()),
                                "identity": hashlib.sha1(index.read_bytes()).hexdigest()}
    assert record["budget"] == {"steps": 3, "epochs": None, "minutes": None}
    assert main(["train", "--resume", str(run), "--steps", "5"]) == 0
    assert "trained 5 steps" in capsys.readouterr().out
    assert json.loads((run / "config.json").read_text())["budget"]["steps"] == 5
    assert load_checkpoint(run / "checkpoints" / "last.pt")["step"] == 5


def test_auto_resume_starts_a_run_then_continues_it_as_resume_would(corpus, tmp_path,
                                                                      capsys):
    """The command a cluster reruns as it is (torchrun --max-restarts, a requeued job)."""
    args = ["train", "tiny-lstm", "--corpus", str(corpus), "--valid-every", "0", "--seed", "4",
            "--set", "checkpoint_every=2", "-q"]
    auto, straight = tmp_path / "auto", tmp_path / "straight"
    assert main([*args, "--out", str(auto), "--steps", "3", "--auto-resume"]) == 0
    assert capsys.readouterr().out.startswith("trained 3 steps (stopped: steps)")
    assert main([*args, "--out", str(auto), "--steps", "5", "--auto-resume"]) == 0
    out, err = capsys.readouterr()
    assert out.startswith("trained 5 steps (stopped: steps)")
    assert f"resuming {auto} at step 3 from last.pt" in err
    assert main([*args, "--out", str(straight), "--steps", "5"]) == 0
    a, b = weights(auto), weights(straight)
    assert all(torch.equal(a[name], b[name]) for name in a)
    assert main(["train", "--resume", str(auto), "--auto-resume"]) == 1
    assert "--auto-resume goes with --out RUN" in capsys.readouterr().err


@pytest.mark.parametrize(("args", "message"), [
    (["tiny-lstn"], "unknown model 'tiny-lstn'; did you mean 'tiny-lstm'"),
    (["tiny-lstm", "--set", "hiden=3"], "unknown setting 'hiden' for model 'tiny-lstm'; "
                                        "did you mean 'hidden'?"),
    (["tiny-lstm", "--set", "hidden=abc"], "TinyConfig.hidden: 'abc' is not int"),
    (["tiny-lstm", "--set", "schedule=cosin"], "TrainOptions.schedule: 'cosin' is not one "
                                               "of 'constant', 'cosine', 'linear'"),
    (["tiny-lstm", "--set", "hidden"], "--set needs key=value, not 'hidden'"),
    (["tiny-lstm", "--set", "grad_clip=-1"], "grad_clip must be > 0 or None, not -1"),
    (["tiny-lstm", "--batch-size", "1000"], "training pieces, fewer than one batch (1000); "
                                            "lower --batch-size or add pieces"),
    (["tiny-text"], "cannot read the ABC text of piece"),
    (["tiny-lstm", "--device", "tpu"], "unknown device 'tpu'"),
    (["tiny-lstm", "--steps", "0"], "--steps must be positive, not 0"),
], ids=["model", "setting", "value", "choice", "pair", "range", "batch", "data", "device",
        "budget"])
def test_cli_bad_requests_fail_in_one_line_and_write_nothing(corpus, tmp_path, capsys, args,
                                                              message):
    run = tmp_path / "run"
    assert main(["train", *args, "--corpus", str(corpus), "--out", str(run)]) == 1
    err = capsys.readouterr().err
    assert err.startswith("deepsym: error: ") and err.count("\n") == 1, err
    assert message in err
    assert not run.exists()


def test_cli_needs_a_model_a_corpus_and_a_real_corpus(corpus, tmp_path, capsys):
    assert main(["train", "--out", str(tmp_path / "r")]) == 1
    assert "name the MODEL to train (deepsym train --list shows them)" in \
        capsys.readouterr().err
    assert main(["train", "tiny-lstm", "--out", str(tmp_path / "r")]) == 1
    assert "--corpus CORPUS --out RUN" in capsys.readouterr().err
    assert main(["train", "tiny-lstm", "--corpus", str(tmp_path), "--out",
                 str(tmp_path / "r")]) == 1
    assert f"{tmp_path} is not a deepsym corpus" in capsys.readouterr().err
    assert not (tmp_path / "r").exists()


def test_a_run_folder_is_never_reused_for_another_run_and_never_touched(corpus, tmp_path,
                                                                      capsys):
    run = tmp_path / "run"
    base = ["train", "tiny-lstm", "--corpus", str(corpus), "--out", str(run), "--steps", "2",
            "--valid-every", "0"]
    assert main(base) == 0
    before = files_of(run)
    capsys.readouterr()
    assert main([*base, "--set", "hidden=16"]) == 1
    assert capsys.readouterr().err == (
        f"deepsym: error: {run} holds a different run (config hidden is 32 there, 16 here); "
        "choose another --out\n")
    assert main(base) == 1
    assert capsys.readouterr().err == (
        f"deepsym: error: {run} already holds this run; continue it with --resume {run} "
        "(or --auto-resume, which starts it or continues it), or choose another --out\n")
    assert main([*base, "--auto-resume", "--set", "hidden=16"]) == 1
    assert capsys.readouterr().err == (
        f"deepsym: error: cannot resume {run}: it holds a different run (config hidden is 32 "
        "there, 16 here)\n")
    assert main(["train", "char-rnn", *base[2:], "--auto-resume"]) == 1
    assert capsys.readouterr().err == (
        f"deepsym: error: cannot resume {run}: it holds a different run (model is 'tiny-lstm' "
        "there, 'char-rnn' here)\n")
    assert main(["train", "--resume", str(run), "--seed", "9", "--set", "hidden=16"]) == 1
    assert capsys.readouterr().err == (
        f"deepsym: error: cannot resume {run}: it holds a different run (config hidden is 32 "
        "there, 16 here; seed is 0 there, 9 here)\n")
    assert files_of(run) == before

    bigger = tmp_path / "bigger"
    build_corpus([*real_midi_files()[:40], *real_midi_files()[-21:]], bigger, workers=1,
                 fractions=(0.7, 0.2, 0.1))
    assert main(["train", "--resume", str(run), "--corpus", str(bigger)]) == 1
    assert "it holds a different run (the corpus differs" in capsys.readouterr().err
    assert files_of(run) == before

    other = tmp_path / "other"
    other.mkdir()
    (other / "notes.txt").write_text("mine")
    assert main(["train", "tiny-lstm", "--corpus", str(corpus), "--out", str(other)]) == 1
    assert f"{other} exists and is not a deepsym run" in capsys.readouterr().err
    assert main(["train", "--resume", str(tmp_path / "nothing")]) == 1
    assert "is not a deepsym run (no config.json); start one with --out" in \
        capsys.readouterr().err
    assert [p.name for p in other.iterdir()] == ["notes.txt"]


def test_a_run_saved_before_a_field_existed_resumes_with_the_fields_default(corpus,
                                                                            tmp_path,
                                                                            capsys):
    """A config field or training option added to deepsym after a run was saved (absent
    from its config.json and checkpoint) counts as its default, the value the run had:
    the run resumes where it stopped. Set to another value, it makes another run."""
    run = tmp_path / "run"
    assert main(["train", "tiny-lstm", "--corpus", str(corpus), "--out", str(run), "--steps",
                 "2", "--valid-every", "0"]) == 0
    record = json.loads((run / "config.json").read_text())
    last = run / "checkpoints" / "last.pt"
    state = load_checkpoint(last)
    for saved in (record, state):
        del saved["config"]["dropout"], saved["options"]["ema"]
    (run / "config.json").write_text(json.dumps(record))
    save_checkpoint(last, state)
    capsys.readouterr()
    assert main(["train", "--resume", str(run), "--steps", "4", "--set", "dropout=0.5"]) == 1
    assert capsys.readouterr().err == (
        f"deepsym: error: cannot resume {run}: it holds a different run (config dropout is "
        "0.1 there, 0.5 here)\n")
    assert main(["train", "--resume", str(run), "--steps", "4"]) == 0
    assert f"resuming {run} at step 2 from last.pt" in capsys.readouterr().err
    assert load_checkpoint(last)["step"] == 4
    assert sorted(p.name for p in last.parent.iterdir()) == ["last.pt"]  # none set aside


def test_a_field_whose_default_changed_keeps_its_former_value_in_older_runs(corpus, tmp_path,
                                                                             capsys,
                                                                             monkeypatch):
    """A config class's ``former_defaults`` holds what runs saved before a field existed
    had for it, where the field's default has changed since: such a run resumes and
    loads with that value, not the new default, and asking for the new default makes
    another run. New runs take the default."""
    monkeypatch.setattr(TinyConfig, "former_defaults", {"dropout": 0.3}, raising=False)
    run, fresh = tmp_path / "run", tmp_path / "fresh"
    for out in (run, fresh):
        assert main(["train", "tiny-lstm", "--corpus", str(corpus), "--out", str(out),
                     "--steps", "2", "--valid-every", "0"]) == 0
    assert load_trained(fresh).config.dropout == 0.1
    record = json.loads((run / "config.json").read_text())
    last = run / "checkpoints" / "last.pt"
    state = load_checkpoint(last)
    for saved in (record, state):
        del saved["config"]["dropout"]
    (run / "config.json").write_text(json.dumps(record))
    save_checkpoint(last, state)
    assert load_trained(run).config.dropout == 0.3
    capsys.readouterr()
    assert main(["train", "--resume", str(run), "--steps", "4", "--set", "dropout=0.1"]) == 1
    assert "(config dropout is 0.3 there, 0.1 here)" in capsys.readouterr().err
    assert main(["train", "--resume", str(run), "--steps", "4"]) == 0
    assert load_checkpoint(last)["config"]["dropout"] == 0.3
    assert json.loads((run / "config.json").read_text())["config"]["dropout"] == 0.3


def test_former_defaults_must_name_fields(monkeypatch):
    monkeypatch.setattr(TinyConfig, "former_defaults", {"droput": 0.3}, raising=False)
    with pytest.raises(ConfigError, match=r"TinyConfig\.former_defaults names no field of "
                                          r"it: droput"):
        check_config_class(TinyConfig)
