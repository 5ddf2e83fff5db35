"""C-RNN-GAN through the command line in subprocesses: two gloo processes under torchrun
train exactly as one process on the combined batch (noise, masked means, feature
matching and the Freezer's decisions are all global), and a run killed with SIGKILL
resumes to the weights, optimizer states and log of an uninterrupted one."""
from __future__ import annotations

import csv
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest
import torch

from deepsym.data import Corpus
from deepsym.representations.notes4 import Notes4
from deepsym.training.checkpoint import load_checkpoint

# small enough for seconds of CPU, with crops longer than some folk tunes, so that the
# two processes' batches hold different numbers of real steps
SETTINGS = {"hidden": 16, "layers": 1, "sequence_length": 40, "pretrain_steps": 3,
            "pretrain_min_length": 8, "log_every": 1}
DELAY = "DEEPSYM_TEST_GAN_DELAY"  # seconds each generator step sleeps (to kill mid-way)

RUNNER = f"""
import os, sys, time
import torch
torch.set_num_threads(1)
from deepsym_plugins.c_rnn_gan_train import CRNNGANTrainer
step = CRNNGANTrainer.generator_step
def slow(self, batch):
    time.sleep(float(os.environ.get({DELAY!r}, "0")))
    return step(self, batch)
CRNNGANTrainer.generator_step = slow
from deepsym.cli import main
sys.exit(main(sys.argv[1:]))
"""


@pytest.fixture(scope="module")
def runner(tmp_path_factory) -> Path:
    path = tmp_path_factory.mktemp("runner") / "run_deepsym.py"
    path.write_text(RUNNER)
    return path


def settings(**more: object) -> list[str]:
    pairs = {**SETTINGS, **more}
    return [arg for key, value in pairs.items() for arg in ("--set", f"{key}={value}")]


def start(runner: Path, *args: object, env: dict[str, str] | None = None
          ) -> subprocess.Popen:
    return subprocess.Popen([sys.executable, str(runner), *map(str, args)],
                            env={**os.environ, "OMP_NUM_THREADS": "1", **(env or {})},
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)


def read_log(run: Path) -> list[dict[str, str]]:
    with (run / "log.csv").open(newline="") as f:
        return list(csv.DictReader(f))


def checkpoint(run: Path) -> dict:
    return load_checkpoint(run / "checkpoints" / "last.pt")


def test_some_crops_are_shorter_than_the_sequence_length(chorales_and_folk):
    opened = Corpus.open(chorales_and_folk)
    lengths = [len(Notes4().encode(opened.score(int(i)))) for i in opened.split("train")]
    assert min(lengths) < SETTINGS["sequence_length"] < max(lengths)


def test_two_gloo_processes_match_one_process_with_the_combined_batch(chorales_and_folk, runner,
                                                                      tmp_path):
    common = ["train", "c-rnn-gan", "--corpus", chorales_and_folk, "--steps", 8, "--seed", 1,
              "--valid-every", 4, *settings()]
    ddp = subprocess.run(
        [sys.executable, "-m", "torch.distributed.run", "--nproc_per_node=2", "--standalone",
         str(runner), *map(str, common), "--batch-size", "3", "--out", str(tmp_path / "ddp")],
        env={**os.environ, "OMP_NUM_THREADS": "1"}, capture_output=True, text=True,
        timeout=300, check=False)
    assert ddp.returncode == 0, ddp.stderr[-3000:]
    one = start(runner, *common, "--batch-size", 6, "--out", tmp_path / "one")
    assert one.wait(timeout=300) == 0, one.stderr.read()

    a, b = checkpoint(tmp_path / "ddp"), checkpoint(tmp_path / "one")
    for name, tensor in a["trainer"]["model"].items():
        assert torch.allclose(tensor, b["trainer"]["model"][name], rtol=1e-4, atol=1e-6), name
    assert a["trainer"]["freezer"]["losses"] == pytest.approx(b["trainer"]["freezer"]["losses"],
                                                              rel=1e-5)
    rows_a, rows_b = read_log(tmp_path / "ddp"), read_log(tmp_path / "one")
    assert [r["step"] for r in rows_a] == [r["step"] for r in rows_b] == \
        [str(s) for s in range(1, 9)]
    columns = [c for c in rows_b[0] if c.startswith(("pretrain_step_", "discriminator_step_",
                                                     "generator_step_"))]
    assert {"discriminator_step_d_real", "generator_step_frozen",
            "generator_step_feature_matching"} <= set(columns)
    for ra, rb in zip(rows_a, rows_b, strict=True):
        for column in columns:
            if rb[column]:
                assert float(ra[column]) == pytest.approx(float(rb[column]), rel=1e-4,
                                                          abs=1e-6), column


def test_a_killed_run_resumes_to_the_same_weights_as_an_uninterrupted_one(chorales_and_folk, runner,
                                                                          tmp_path):
    args = ["train", "c-rnn-gan", "--corpus", chorales_and_folk, "--steps", 16, "--batch-size", 4,
            "--valid-every", 4, "--seed", 2, *settings(checkpoint_every=2)]
    straight = start(runner, *args, "--out", tmp_path / "straight")
    killed = start(runner, *args, "--out", tmp_path / "killed", env={DELAY: "0.2"})
    last = tmp_path / "killed" / "checkpoints" / "last.pt"
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline and killed.poll() is None:
        if last.is_file() and load_checkpoint(last)["step"] >= 6:  # in the adversarial phase
            break
        time.sleep(0.05)
    killed.send_signal(signal.SIGKILL)
    killed.wait()
    assert killed.returncode == -signal.SIGKILL, killed.stderr.read()
    assert 6 <= load_checkpoint(last)["step"] < 16
    resumed = start(runner, "train", "--resume", tmp_path / "killed")
    assert resumed.wait(timeout=300) == 0, resumed.stderr.read()
    assert straight.wait(timeout=300) == 0, straight.stderr.read()

    a, b = checkpoint(tmp_path / "straight"), checkpoint(tmp_path / "killed")
    assert a["step"] == b["step"] == 16
    for name, tensor in a["trainer"]["model"].items():
        assert torch.equal(tensor, b["trainer"]["model"][name]), name
    assert a["trainer"]["freezer"] == b["trainer"]["freezer"]
    for side in ("generator", "discriminator"):
        states = [c["trainer"]["optimizers"][side]["state"] for c in (a, b)]
        for key in states[0]:
            for field in ("exp_avg", "exp_avg_sq"):
                assert torch.equal(states[0][key][field], states[1][key][field])
    rows_a, rows_b = read_log(tmp_path / "straight"), read_log(tmp_path / "killed")
    assert [r["step"] for r in rows_b] == [str(s) for s in range(1, 17)]
    for ra, rb in zip(rows_a, rows_b, strict=True):
        for column in ra:
            if column.endswith(("_loss", "_d_real", "_d_fake", "_frozen", "valid_next_note_error")):
                assert ra[column] == rb[column], column
    frozen = np.array([float(r["generator_step_frozen"] or "nan") for r in rows_a])
    assert np.isfinite(frozen).any()  # the adversarial phase ran
