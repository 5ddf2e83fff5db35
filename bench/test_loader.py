"""Loader throughput against what a Char-RNN eats, in the same run (issue 5, part 6).

``deepsym loader`` times one epoch of ``make_loader(corpus, "events", length=256,
batch_size=32, transpose=(-5, 5))`` over the training split of the real test corpus
(about 280 pieces: read from the memory-mapped cache, transposed, encoded, cropped,
padded), in this process (``num_workers=0``) and with 2 workers. ``char-rnn step``
times a forward and backward pass of Char-RNN's network on one batch of those same
sequences: one-hot tokens into ``torch.nn.LSTM(388, 512, num_layers=3)``, a linear
head and cross-entropy, on the CPU. Both are sequences per second; the loader must
feed at least 10 times what the network consumes. Results: bench/results/loader.json.
"""
from __future__ import annotations

import os
import platform
import shutil
import tempfile
from pathlib import Path

import midibench
import pytest
import torch
from music21_corpus import real_midi_files

from deepsym.data import build_corpus
from deepsym.data.loaders import make_loader

RESULTS_PATH = midibench.BENCH_DIR / "results" / "loader.json"
RESULTS: dict[str, dict] = {}
LENGTH, BATCH = 256, 32
MIN_RATIO = 10


@pytest.fixture(scope="module")
def corpus() -> Path:
    folder = Path(tempfile.mkdtemp(prefix="deepsym-bench-loader-"))
    build_corpus(sorted(set(real_midi_files())), folder / "corpus", workers=2)
    yield folder / "corpus"
    if RESULTS:
        midibench.write_json_atomic(
            {"python": platform.python_version(), "torch": torch.__version__,
             "machine": f"{platform.system()} {platform.machine()}, {os.cpu_count()} CPUs",
             "torch_threads": torch.get_num_threads(), "length": LENGTH, "batch": BATCH,
             "results": RESULTS}, RESULTS_PATH)
    shutil.rmtree(folder, ignore_errors=True)


def record(name: str, benchmark, sequences: int) -> None:
    if benchmark.stats is None:  # --benchmark-disable
        return
    stats = benchmark.stats.stats
    RESULTS[name] = {"mean_s": stats.mean, "min_s": stats.min, "rounds": stats.rounds,
                     "sequences": sequences, "sequences_per_s": sequences / stats.mean}
    benchmark.extra_info.update(RESULTS[name])


@pytest.mark.benchmark(group="loader vs char-rnn")
@pytest.mark.parametrize("workers", [0, 2])
def test_loader_epoch(benchmark, corpus, workers):
    loader = make_loader(corpus, "events", length=LENGTH, batch_size=BATCH, transpose=(-5, 5),
                         num_workers=workers)
    epochs = iter(range(10**6))

    def epoch() -> int:
        loader.dataset.set_epoch(next(epochs))
        return sum(len(batch["x"]) for batch in loader)

    sequences = benchmark.pedantic(epoch, rounds=5, iterations=1, warmup_rounds=1)
    assert sequences == len(loader.dataset) > 200
    record(f"deepsym loader, {workers} workers", benchmark, sequences)


@pytest.mark.benchmark(group="loader vs char-rnn")
def test_char_rnn_step(benchmark, corpus):
    loader = make_loader(corpus, "events", length=LENGTH + 1, batch_size=BATCH)
    vocab = loader.dataset.representation.spec.vocab_size
    batch = next(iter(loader))
    tokens = batch["x"]
    torch.manual_seed(0)
    lstm = torch.nn.LSTM(vocab, 512, num_layers=3, batch_first=True)
    head = torch.nn.Linear(512, vocab)
    inputs = torch.nn.functional.one_hot(tokens[:, :-1], vocab).float()

    def step() -> float:
        lstm.zero_grad()
        head.zero_grad()
        hidden, _ = lstm(inputs)
        loss = torch.nn.functional.cross_entropy(head(hidden).transpose(1, 2), tokens[:, 1:])
        loss.backward()
        return float(loss.detach())

    benchmark.pedantic(step, rounds=3, iterations=1, warmup_rounds=0)
    record("char-rnn 3x512 LSTM forward+backward", benchmark, len(tokens))
    loaders = [v["sequences_per_s"] for k, v in RESULTS.items() if k.startswith("deepsym")]
    if loaders and "char-rnn 3x512 LSTM forward+backward" in RESULTS:
        consumed = RESULTS["char-rnn 3x512 LSTM forward+backward"]["sequences_per_s"]
        RESULTS["ratio"] = {"loader_over_char_rnn": min(loaders) / consumed}
        assert min(loaders) >= MIN_RATIO * consumed, RESULTS
