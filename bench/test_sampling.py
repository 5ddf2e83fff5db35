"""Sampling speed: incremental state vs recomputing the prefix at every token (issue 6,
part 6), in the same run.

The model: ``char-rnn`` over ``events`` tokens (vocabulary 388) with random weights
(speed does not depend on training), one piece at a time, temperature 1, on one torch
thread. ``incremental`` is deepsym's ``TokenSampler``: the start token once, then one
LSTM step per new token with the state carried. ``recompute`` is the same sampler with
``recompute=True``: every new token runs the whole prefix again from no state, as a
sampler without incremental state must. Both draw the same tokens (checked), so they do
the same sampling work; each timed round is one whole piece. Cases: the default stack
(3 x 512) for 128 tokens, and 2 x 256 for 512 tokens (3 x 512 recomputing 512 tokens
would take minutes per round on a small CPU). tokens/s comes from the mean round time;
``speedup`` is recompute's mean over incremental's (and the same of the minima).

``test_writing_a_sampled_batch`` (issue 17): a batch of 16 pieces of 512 tokens drawn by
the default stack side by side (``sampler.sample``, decoding included), then the same
Scores written with ``write_midi``; reported are both times and their ratio, so that
writing a generated batch is seen never to be the slow step of sampling.
Results: bench/results/sampling.json.
"""
from __future__ import annotations

import os
import platform
import time

import midibench
import numpy as np
import pytest
import torch

import deepsym
from deepsym.modeling import from_dict
from deepsym.plugins import manager

RESULTS_PATH = midibench.BENCH_DIR / "results" / "sampling.json"
CASES = {"3x512, 128 tokens": (3, 512, 128), "2x256, 512 tokens": (2, 256, 512)}
ROUNDS = {"incremental": 5, "recompute": 2}
RESULTS: dict[str, dict[str, dict]] = {}
TOKENS: dict[tuple[str, str], np.ndarray] = {}


@pytest.fixture(scope="module", autouse=True)
def one_thread():
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)
    if RESULTS:
        midibench.write_json_atomic(report(), RESULTS_PATH)


def make_sampler(layers: int, hidden: int, recompute: bool):
    spec = manager().models.get("char-rnn")
    config = from_dict(spec.config_class(), {"layers": layers, "hidden": hidden})
    torch.manual_seed(0)
    model = spec.build(config)
    return spec.sampler_class()(model, config.make_representation(), seed=1,
                                recompute=recompute)


@pytest.mark.parametrize("mode", list(ROUNDS))
@pytest.mark.parametrize("case", list(CASES))
def test_sampling_tokens_per_second(benchmark, case, mode):
    layers, hidden, tokens = CASES[case]
    benchmark.group = f"sampling {case}"

    def setup():
        return (make_sampler(layers, hidden, mode == "recompute"),), {}

    def run(sampler):
        return np.concatenate(list(sampler.generate(1, tokens)))

    drawn = benchmark.pedantic(run, setup=setup, rounds=ROUNDS[mode], iterations=1,
                               warmup_rounds=1 if mode == "incremental" else 0)
    assert drawn.shape == (tokens,)
    TOKENS[case, mode] = drawn
    other = TOKENS.get((case, "incremental" if mode == "recompute" else "recompute"))
    if other is not None:
        assert np.array_equal(drawn, other), "the two modes drew different tokens"
    if benchmark.stats:
        stats = benchmark.stats.stats
        RESULTS.setdefault(case, {})[mode] = {
            "mean_s": stats.mean, "min_s": stats.min, "rounds": stats.rounds,
            "tokens": tokens, "tokens_per_s": tokens / stats.mean}


@pytest.mark.benchmark(group="writing a sampled batch")
def test_writing_a_sampled_batch(benchmark):
    sampler = make_sampler(3, 512, False)
    start = time.perf_counter()
    scores = sampler.sample(16, 512)
    sampled = time.perf_counter() - start
    written = benchmark.pedantic(lambda: [deepsym.write_midi(s) for s in scores], rounds=20,
                                 iterations=1, warmup_rounds=1)
    assert [deepsym.read_midi(w).n_notes for w in written] == [s.n_notes for s in scores]
    if benchmark.stats:
        stats = benchmark.stats.stats
        RESULTS["writing a sampled batch"] = {
            "pieces": len(scores), "tokens_per_piece": 512,
            "notes": sum(s.n_notes for s in scores), "sample_s": sampled,
            "write_mean_s": stats.mean, "write_min_s": stats.min, "rounds": stats.rounds,
            "sample_over_write": sampled / stats.mean}


def report() -> dict:
    for rows in RESULTS.values():
        fast, slow = rows.get("incremental"), rows.get("recompute")
        if fast and slow:
            rows["speedup"] = {stat: slow[stat] / fast[stat] for stat in ("mean_s", "min_s")}
    return {
        "python": platform.python_version(),
        "machine": f"{platform.system()} {platform.machine()}, {os.cpu_count()} CPUs",
        "versions": {d: midibench.version(d) for d in ("deepsym", "torch")},
        "torch_threads": 1,
        "speedup": "recompute time / incremental time for the same tokens (>1: incremental "
                   "faster), of the means and of the minima",
        **RESULTS,
    }
